/* The finder's side of a scan (issue 5): the token the scan page carries,
 * the scan page's rate limits (on the in-memory counters the API's limits
 * share), the hashed client address of a scan, and
 * the endpoints the page posts to (location, report) and polls (status).
 *
 * No login and no CSRF session here: a finder is a stranger. The finder
 * token (events.h) is the capability: it binds a post to one scan event
 * of one tag, for finder_token_ttl_s, so nobody can post to an alarm they
 * did not raise. storage->finder_attach takes each kind once per alarm,
 * so a replayed post changes nothing (409). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <keryu/events.h>

#include "http_finder.h"
#include "http_i18n.h"
#include "http_subjects.h"

#define SCAN_PREFIX "/subjects/qr/"
#define TEXT_MAX 500 /* a report's description, bytes */

/* ---- options ---- */

static const char *secret_key(struct http_ctx *ctx)
{
	const char *s = ctx->host->global(ctx->m, "kernel", "secret_key");

	return s && *s ? s : NULL;
}

/* ---- the token and the address hash ---- */

void http_finder_token(struct http_ctx *ctx, const char *event_id,
		       const char *qr, char out[KERYU_ACK_TOKEN_LEN])
{
	const char *secret = secret_key(ctx);
	int ttl = ctx->finder_token_ttl_s;

	out[0] = '\0';
	if (!secret || !event_id || !qr)
		return;
	if (keryu_finder_token_make(secret, event_id, qr,
				    (long long)time(NULL) + ttl, out) != 0)
		out[0] = '\0';
}

void http_ip_hash(struct http_ctx *ctx, const struct http_request *req,
		  char out[65])
{
	static const char label[] = "ip-hash.v1";
	unsigned char salt[EVP_MAX_MD_SIZE], md[EVP_MAX_MD_SIZE];
	unsigned int salt_len = 0, md_len = 0;
	const char *ip = req ? req->client_ip : NULL;
	EVP_MD_CTX *c;
	bool ok;

	out[0] = '\0';
	if (!ip || !*ip)
		return;
	/* the salt is derived, not the secret itself: the hash can sit in
	 * the database without exposing anything that signs */
	if (!HMAC(EVP_sha256(), ctx->secret, (int)ctx->secret_len,
		  (const unsigned char *)label, strlen(label), salt,
		  &salt_len))
		return;
	c = EVP_MD_CTX_new();
	ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(c, salt, salt_len) == 1 &&
	     EVP_DigestUpdate(c, ip, strlen(ip)) == 1 &&
	     EVP_DigestFinal_ex(c, md, &md_len) == 1 && md_len == 32;
	EVP_MD_CTX_free(c);
	sodium_memzero(salt, sizeof(salt));
	if (ok)
		sodium_bin2hex(out, 65, md, md_len);
}

/* ---- the in-memory counters (the scan page's limits and the API's) ---- */

static uint64_t key_hash(const char *kind, const char *key)
{
	uint64_t h = 14695981039346656037ull;
	const char *p;

	for (p = kind; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0xffu) * 1099511628211ull; /* separator */
	for (p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h ? h : 1; /* 0 marks a free slot */
}

/* A full table forgets the slot it probed first: a key may then get a
 * few more hits, never fewer. */
bool http_count_hit(struct http_ctx *ctx, const char *kind, const char *key,
		    int max, int window_s, int *retry_after)
{
	long long now = (long long)time(NULL), start;
	struct http_count *c = NULL;
	uint64_t h;
	size_t i, at;
	bool allowed;

	if (max <= 0 || window_s <= 0 || !key || !*key)
		return true;
	h = key_hash(kind, key);
	start = now - now % window_s;
	at = (size_t)(h % HTTP_COUNTS_MAX);
	pthread_mutex_lock(&ctx->count_lock);
	for (i = 0; i < 8 && !c; i++) {
		struct http_count *s = &ctx->counts[(at + i) % HTTP_COUNTS_MAX];

		if (s->key == h || s->key == 0 || s->window < start)
			c = s;
	}
	if (!c)
		c = &ctx->counts[at];
	if (c->key != h || c->window != start) {
		c->key = h;
		c->window = start;
		c->hits = 0;
	}
	allowed = c->hits < max;
	if (allowed)
		c->hits++;
	pthread_mutex_unlock(&ctx->count_lock);
	if (!allowed)
		*retry_after = (int)(start + window_s - now);
	return allowed;
}

/* ---- the scan page's rate limits ---- */

static void too_many(struct http_ctx *ctx, struct http_response *r,
		     const char *lang, int retry)
{
	http_page_error(r, 429, http_tr(ctx, lang, "Too many scans"),
			http_tr(ctx, lang,
				"This tag was scanned too many times in a "
				"short time. Please wait a minute and reload "
				"the page. If someone needs help now, call "
				"your local emergency services."));
	r->no_store = true;
	r->retry_after = retry > 0 ? retry : 1;
}

/* Counts one scan of subject (an address or a tag) under kind, keyed by
 * its HMAC so nobody can aim keys at one slot of the table. */
static bool scan_hit(struct http_ctx *ctx, const char *kind,
		     const char *subject, int max, int window, int *retry)
{
	char hash[KERYU_HASH_HEX];

	if (!subject || !*subject)
		return true;
	http_hmac_hex(ctx, subject, hash);
	return http_count_hit(ctx, kind, hash, max, window, retry);
}

bool http_scan_allowed(struct http_ctx *ctx, const struct http_request *req,
		       const char *qr, const char *lang,
		       struct http_response *r)
{
	int window = ctx->scan_limit_window_s;
	int retry = 0;
	const char *kind = NULL;

	if (!scan_hit(ctx, "scan:ip", req ? req->client_ip : NULL,
		      ctx->scan_limit_ip, window, &retry))
		kind = "ip";
	else if (!scan_hit(ctx, "scan:tag", qr, ctx->scan_limit_tag, window,
			   &retry))
		kind = "tag";
	if (!kind)
		return true;
	ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.rate_limited",
		       "what=scan kind=%s qr=%s", kind, qr ? qr : "-");
	too_many(ctx, r, lang, retry);
	return false;
}

/* ---- paths ---- */

enum http_finder_route http_finder_path(const char *path, char *seg,
					size_t size)
{
	static const struct {
		const char *suffix;
		enum http_finder_route which;
	} ends[] = {
		{"/scan/location", HTTP_FINDER_LOCATION},
		{"/scan/report", HTTP_FINDER_REPORT},
		{"/scan/status", HTTP_FINDER_STATUS},
		{"/scan/photo", HTTP_FINDER_PHOTO},
	};
	size_t pl = strlen(SCAN_PREFIX), n, i, mid;

	if (!path || strncmp(path, SCAN_PREFIX, pl) != 0)
		return HTTP_FINDER_NONE;
	n = strlen(path);
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		size_t sl = strlen(ends[i].suffix);

		if (n < pl + sl + 1 || strcmp(path + n - sl, ends[i].suffix))
			continue;
		mid = n - pl - sl;
		if (memchr(path + pl, '/', mid))
			return HTTP_FINDER_NONE;
		if (mid >= size)
			mid = size - 1;
		memcpy(seg, path + pl, mid);
		seg[mid] = '\0';
		return ends[i].which;
	}
	return HTTP_FINDER_NONE;
}

/* ---- answers ---- */

struct answer {
	struct http_ctx *ctx;
	const struct http_request *req;
	struct http_response *r;
	bool json;
	const char *what; /* "location", "report", "status": for logs */
	char qr[KERYU_UUID_LEN];
};

static const char *field(const struct http_request *req, const char *name)
{
	const char *v = http_form_get(req->form, name);

	return v ? v : http_form_get(req->query, name);
}

/* The page's fetch asks for JSON with format=json (query or form): the
 * request struct carries no Accept header. */
static bool wants_json(const struct http_request *req)
{
	const char *f = field(req, "format");

	return f && strcmp(f, "json") == 0;
}

/* msg is one of ours: ASCII without quotes or backslashes. */
static void fail(struct answer *a, unsigned status, const char *heading,
		 const char *msg)
{
	struct http_response *r = a->r;

	if (a->json) {
		html_free(&r->body);
		html_init(&r->body);
		r->status = status;
		r->content_type = "application/json";
		html_raw(&r->body, "{\"error\":\"");
		html_raw(&r->body, msg);
		html_raw(&r->body, "\"}");
	} else {
		http_page_error(r, status, heading, msg);
	}
	r->no_store = true;
}

static void sent_page(struct answer *a, const char *heading,
		      const char *text)
{
	struct html *h = &a->r->body;

	a->r->status = 200;
	a->r->no_store = true;
	if (a->json) {
		a->r->content_type = "application/json";
		html_raw(h, "{\"ok\":true}");
		return;
	}
	http_page_begin(h, "ok");
	html_raw(h, "<h1>");
	html_text(h, heading);
	html_raw(h, "</h1>\n<p>");
	html_text(h, text);
	html_raw(h, "</p>\n<p class=\"small\">You can close this page. If the "
		    "person needs urgent help, call your local emergency "
		    "services.</p>\n");
	http_page_end(h);
}

/* Checks the token "t" against the tag of the URL; fills event_id. False
 * after answering 403/410/503. The token is never logged. */
static bool token_ok(struct answer *a, char event_id[KERYU_UUID_LEN])
{
	struct http_ctx *ctx = a->ctx;
	const char *secret = secret_key(ctx);
	const char *t = field(a->req, "t");
	int rc;

	if (!secret) {
		/* no page could have carried a token either */
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.finder",
			       "what=%s status=503 error=\"no [kernel] "
			       "secret_key\"", a->what);
		fail(a, 503, "Temporarily unavailable",
		     "This cannot be sent right now. If someone needs help "
		     "now, call your local emergency services.");
		return false;
	}
	if (!t || !*t) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.finder",
			       "what=%s qr=%s status=403 reason=no_token",
			       a->what, a->qr);
		fail(a, 403, "Not accepted",
		     "This was not sent from the page of a scan. Please scan "
		     "the tag again.");
		return false;
	}
	rc = keryu_finder_token_check(secret, t, a->qr, (long long)time(NULL),
				      event_id);
	if (rc == KERYU_ETIMEDOUT) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.finder",
			       "what=%s qr=%s status=410 reason=expired",
			       a->what, a->qr);
		fail(a, 410, "This page has expired",
		     "This page is too old to send anything. Please scan the "
		     "tag again.");
		return false;
	}
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.finder",
			       "what=%s qr=%s status=403 reason=bad_token",
			       a->what, a->qr);
		fail(a, 403, "Not accepted",
		     "This was not sent from the page of a scan of this tag. "
		     "Please scan the tag again.");
		return false;
	}
	return true;
}

/* A decimal number in [lo, hi]: digits, one sign, a point, an exponent;
 * no "nan", "inf", hex or spaces that strtod would take. */
static bool number_in(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s || strlen(s) > 32 ||
	    strspn(s, "0123456789+-.eE") != strlen(s))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool storage_has_finder(const struct keryu_storage *st)
{
	return st &&
	       st->struct_size >= offsetof(struct keryu_storage,
					   finder_status) +
					  sizeof(st->finder_status) &&
	       st->finder_attach && st->finder_status;
}

/* Reads the post into p. False after answering 400. */
static bool read_post(struct answer *a, enum http_finder_route which,
		      struct keryu_finder_post *p)
{
	static const char *const situations[] = {"injured", "lost", "contact",
						 "test"};
	const struct http_request *req = a->req;
	const char *msg = NULL;
	size_t i;

	if (which == HTTP_FINDER_LOCATION) {
		p->kind = KERYU_FINDER_LOCATION;
		if (!number_in(http_form_get(req->form, "lat"), -90, 90,
			       &p->lat))
			msg = "lat must be a number from -90 to 90.";
		else if (!number_in(http_form_get(req->form, "lng"), -180, 180,
				    &p->lng))
			msg = "lng must be a number from -180 to 180.";
		else if (!number_in(http_form_get(req->form, "accuracy"), 0,
				    1e7, &p->accuracy_m))
			msg = "accuracy must be a number of metres from 0 to "
			      "10000000.";
	} else {
		const char *s = http_form_get(req->form, "situation");
		const char *text = http_form_get(req->form, "text");
		char check[TEXT_MAX + 1];

		p->kind = KERYU_FINDER_REPORT;
		for (i = 0; s && i < sizeof(situations) / sizeof(situations[0]);
		     i++)
			if (strcmp(s, situations[i]) == 0)
				snprintf(p->situation, sizeof(p->situation),
					 "%s", s);
		if (!p->situation[0])
			msg = "situation must be injured, lost, contact or "
			      "test.";
		else if (text && strlen(text) > TEXT_MAX)
			msg = "The description must be at most 500 characters.";
		else if (text) {
			for (i = 0; text[i]; i++) {
				unsigned char c = (unsigned char)text[i];

				if (c < 0x20 && c != '\n' && c != '\r' &&
				    c != '\t')
					break;
			}
			keryu_utf8_copy(check, sizeof(check), text);
			if (text[i] || strcmp(check, text) != 0)
				msg = "The description has characters that "
				      "cannot be sent.";
			else
				snprintf(p->text, sizeof(p->text), "%s", text);
		}
	}
	if (!msg)
		return true;
	a->ctx->host->log(a->ctx->m, KERYU_LOG_INFO, "http.finder",
			  "what=%s qr=%s status=400 reason=malformed", a->what,
			  a->qr);
	fail(a, 400, "Not sent", msg);
	return false;
}

static void publish_report(struct answer *a, const char *alarm_id)
{
	struct http_ctx *ctx = a->ctx;
	struct keryu_report_event ev;
	char topic[128], *json;
	int rc;

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	snprintf(ev.alarm_id, sizeof(ev.alarm_id), "%s", alarm_id);
	snprintf(ev.kind, sizeof(ev.kind), "%s", a->what);
	json = keryu_report_event_encode(&ev);
	if (!json) {
		rc = KERYU_ENOMEM;
	} else {
		snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_REPORT,
			 alarm_id);
		rc = ctx->host->publish_wait(ctx->m, topic, json, strlen(json),
					     ctx->scan_ack_timeout_ms);
		free(json);
	}
	/* the post is stored (the alarm page shows it) whatever happens
	 * here; only the follow-up message may be late or missing */
	if (rc)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.finder",
			       "what=%s qr=%s alarm=%s event=%s "
			       "reason=publish error=\"%s\"",
			       a->what, a->qr, alarm_id, ev.event_id,
			       keryu_strerror(rc));
}

static void finder_post(struct answer *a, enum http_finder_route which)
{
	struct http_ctx *ctx = a->ctx;
	const struct keryu_storage *st = ctx->storage;
	struct keryu_finder_post post;
	char event_id[KERYU_UUID_LEN], alarm_id[KERYU_UUID_LEN] = "";
	int rc;

	if (!http_origin_ok(ctx, a->req)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.finder",
			       "what=%s qr=%s status=403 reason=origin",
			       a->what, a->qr);
		fail(a, 403, "Not accepted",
		     "Please send this from the page of the scan.");
		return;
	}
	memset(&post, 0, sizeof(post));
	if (!token_ok(a, event_id) || !read_post(a, which, &post))
		return;
	memcpy(post.scan_event_id, event_id, sizeof(post.scan_event_id));
	memcpy(post.qr_uuid, a->qr, sizeof(post.qr_uuid));
	rc = storage_has_finder(st)
		     ? st->finder_attach(st->self, &post, alarm_id)
		     : KERYU_EIO;
	if (rc == KERYU_ECONFLICT) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.finder",
			       "what=%s qr=%s event=%s status=409 "
			       "reason=already",
			       a->what, a->qr, event_id);
		fail(a, 409, "Already sent",
		     which == HTTP_FINDER_LOCATION
			     ? "The location of this scan was already sent."
			     : "A report for this scan was already sent.");
		return;
	}
	if (rc == KERYU_ENOTFOUND) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.finder",
			       "what=%s qr=%s event=%s status=404 "
			       "reason=no_scan",
			       a->what, a->qr, event_id);
		fail(a, 404, "Not recorded yet",
		     "The alert for this scan is not recorded yet. Please try "
		     "again in a few seconds.");
		return;
	}
	if (rc == KERYU_EINVAL) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.finder",
			       "what=%s qr=%s event=%s status=400 "
			       "reason=refused",
			       a->what, a->qr, event_id);
		fail(a, 400, "Not sent", "This could not be accepted.");
		return;
	}
	if (rc || !keryu_uuid_valid(alarm_id)) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.finder",
			       "what=%s qr=%s event=%s status=503 error=\"%s\"",
			       a->what, a->qr, event_id,
			       keryu_strerror(rc ? rc : KERYU_EIO));
		fail(a, 503, "Temporarily unavailable",
		     "This cannot be sent right now. Please try again in a "
		     "minute; if someone needs help now, call your local "
		     "emergency services.");
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.finder",
		       "what=%s qr=%s event=%s alarm=%s status=200", a->what,
		       a->qr, event_id, alarm_id);
	publish_report(a, alarm_id);
	if (which == HTTP_FINDER_LOCATION)
		sent_page(a, "Location sent",
			  "Thank you. The family now has your location.");
	else
		sent_page(a, "Report sent",
			  "Thank you. The family has been sent your report.");
}

const char *http_finder_status_word(const char *s)
{
	static const char *const map[][2] = {
		{"SENT", "sent"},	    {"DELIVERED", "delivered"},
		{"READ", "read"},	    {"QUEUED", "queued"},
		{"ERROR", "queued"}, /* being tried again */
		{"PENDING", "pending"}, {"FAILED", "failed"},
	};
	size_t i;

	if (!s || !*s)
		return "none";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(s, map[i][0]) == 0)
			return map[i][1];
	return "pending";
}

static void finder_status(struct answer *a)
{
	struct http_ctx *ctx = a->ctx;
	const struct keryu_storage *st = ctx->storage;
	struct keryu_finder_status s;
	char event_id[KERYU_UUID_LEN], json[192];
	struct html *h = &a->r->body;
	int rc;

	a->json = true; /* polled by the page's script only */
	if (!token_ok(a, event_id))
		return;
	memset(&s, 0, sizeof(s));
	rc = storage_has_finder(st)
		     ? st->finder_status(st->self, event_id, a->qr, &s)
		     : KERYU_EIO;
	if (rc && rc != KERYU_ENOTFOUND) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.finder",
			       "what=status qr=%s event=%s status=503 "
			       "error=\"%s\"",
			       a->qr, event_id, keryu_strerror(rc));
		fail(a, 503, "Temporarily unavailable",
		     "The state of the alert cannot be read right now.");
		return;
	}
	a->r->status = 200;
	a->r->no_store = true;
	a->r->content_type = "application/json";
	if (rc == KERYU_ENOTFOUND) {
		/* the alarm is written a few ms after the page */
		html_raw(h, "{\"status\":\"pending\",\"acknowledged\":false,"
			    "\"has_location\":false,\"has_report\":false,"
			    "\"is_test\":false}");
		return;
	}
	/* raw, not html_textf: every part is one of ours */
	snprintf(json, sizeof(json),
		 "{\"status\":\"%s\",\"acknowledged\":%s,\"has_location\":%s,"
		 "\"has_report\":%s,\"is_test\":%s}",
		 http_finder_status_word(s.status), s.acknowledged_at[0] ? "true" : "false",
		 s.has_location ? "true" : "false",
		 s.has_report ? "true" : "false", s.is_test ? "true" : "false");
	html_raw(h, json);
}

/* The subject's photo for the finder who scanned the tag: only with a
 * good token for this tag, and only when the custodian made it public. */
static void finder_photo(struct answer *a)
{
	struct http_ctx *ctx = a->ctx;
	const struct keryu_storage *st = ctx->storage;
	struct keryu_public_subject *pub;
	char event_id[KERYU_UUID_LEN];
	int rc;

	if (!token_ok(a, event_id))
		return;
	pub = calloc(1, sizeof(*pub));
	if (!pub) {
		fail(a, 503, "Temporarily unavailable",
		     "The photo cannot be shown right now.");
		return;
	}
	rc = st && st->tag_public ? st->tag_public(st->self, a->qr, pub)
				  : KERYU_EIO;
	if (rc == 0 && !(pub->public_fields & KERYU_PUB_PHOTO))
		rc = KERYU_ENOTFOUND;
	if (rc == 0)
		rc = http_photo_read(ctx, pub->photo, a->r);
	free(pub);
	if (rc == KERYU_ENOTFOUND)
		fail(a, 404, "Page not found", "There is no photo to show.");
	else if (rc)
		fail(a, 503, "Temporarily unavailable",
		     "The photo cannot be shown right now.");
}

void http_finder(struct http_ctx *ctx, const struct http_request *req,
		 enum http_finder_route which, const char *seg,
		 struct http_response *r)
{
	struct answer a = {.ctx = ctx, .req = req, .r = r};
	bool post = req->method && strcmp(req->method, "POST") == 0;
	bool get = req->method && (strcmp(req->method, "GET") == 0 ||
				   strcmp(req->method, "HEAD") == 0);
	bool reads = which == HTTP_FINDER_STATUS || which == HTTP_FINDER_PHOTO;
	size_t i;

	a.json = wants_json(req);
	a.what = which == HTTP_FINDER_LOCATION ? "location"
		 : which == HTTP_FINDER_REPORT ? "report"
		 : which == HTTP_FINDER_PHOTO  ? "photo"
					       : "status";
	if ((reads && !get) || (!reads && !post)) {
		http_page_error(r, 405, "Method not allowed",
				"This address does not answer that method.");
		r->allow = reads ? "GET, HEAD" : "POST";
		return;
	}
	if (!seg || !keryu_uuid_valid(seg)) {
		if (which == HTTP_FINDER_STATUS)
			a.json = true;
		fail(&a, 404, "Page not found",
		     "There is nothing at this address.");
		return;
	}
	for (i = 0; i + 1 < sizeof(a.qr) && seg[i]; i++)
		a.qr[i] = (char)tolower((unsigned char)seg[i]);
	a.qr[i] = '\0';
	if (which == HTTP_FINDER_STATUS)
		finder_status(&a);
	else if (which == HTTP_FINDER_PHOTO)
		finder_photo(&a);
	else
		finder_post(&a, which);
}
