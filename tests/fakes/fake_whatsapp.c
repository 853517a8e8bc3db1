/* fake_whatsapp: a stand-in for the Meta WhatsApp Cloud API "send message"
 * endpoint and its status webhooks (see /work/shared/providers.md), for
 * unit tests, integration tests and benchmarks.
 *
 *   fake_whatsapp [--port N] [--record FILE] [--mode MODE] [--delay-ms N]
 *                 [--token T] [--timeout-hold-ms N]
 *                 [--webhook-url URL --app-secret S]
 *                 [--webhook-statuses sent,delivered[,read]]
 *                 [--webhook-delay-ms N]
 *
 * --port N      listen on 127.0.0.1:N; 0 (default) picks a free port.
 *               "listening <port>" is printed on stdout once ready.
 * --record FILE append each request (except /_control/ ones) as one JSON
 *               line once it is answered:
 *               {"method","path","headers":{lower-case name: value},
 *                "body":<raw body>,"at":<ms since the epoch, arrival>}
 *               and, for message requests, also
 *               {"notification_id": biz_opaque_callback_data or null,
 *                "to", "template": name or null,
 *                "ack_param": text of the first parameter of the first
 *                             "button" component, or null,
 *                "outcome": "ok" | "error:<code>" | "http:<status>" |
 *                           "drop" | "timeout",
 *                "sent": true when the message "went out" (ok, timeout),
 *                "wamid": the message id given, or null,
 *                "answered_at": ms since the epoch}
 *               A timeout request is written after its hold.
 * --mode MODE   one step, or "seq:<step>,<step>,..." where a step is
 *               ok (default) | error:<code> (HTTP status and error object
 *               of providers.md's table) | http:<status> (empty body) |
 *               drop (close the connection without answering; nothing
 *               sent) | timeout (hold the request --timeout-hold-ms, then
 *               treat it as sent: wamid, record, webhooks).
 *               Each notification (biz_opaque_callback_data; requests
 *               without one share a cursor) walks the sequence on its own;
 *               after the last step the last step repeats.
 * --delay-ms N  answer message requests after N ms
 * --token T     answer 401 / code 190 unless "Authorization: Bearer T"
 * --timeout-hold-ms N  how long a "timeout" step holds (default 3000)
 * --webhook-url URL, --app-secret S: after each send that went out, POST
 *               one Meta status webhook per status of --webhook-statuses
 *               (default sent,delivered), in order, each
 *               --webhook-delay-ms (default 0) after the previous one (the
 *               first after the answer), signed X-Hub-Signature-256 with S.
 *               Each POST is retried every 250 ms until a 2xx, for up to
 *               60 s (keryud may be restarting); after that the remaining
 *               statuses of that message are given up.
 *
 * Only POST /{version}/{phone_number_id}/messages is a message; anything
 * else is a 404 JSON error, except the control endpoints:
 *   POST /_control/mode     body "error:131026", "seq:..." etc. switches the
 *                           mode and restarts every notification's cursor
 *   GET  /_control/count    the number of message requests received, text
 *   GET  /_control/webhooks {"queued":n,"posted":n,"given_up":n,
 *                           "failed_posts":n} (queued = statuses not yet
 *                           accepted by the receiver nor given up)
 *   POST /_control/webhook  {"wamid":"...","status":"delivered"
 *                           [,"error_code":131026][,"notification_id":""]}
 *                           queues one status webhook for a wamid this fake
 *                           gave (or for any wamid when notification_id is
 *                           given): duplicates, out-of-order, failed.
 *
 * One thread per connection (libmicrohttpd's thread-per-connection mode
 * with poll): a delayed or held answer only sleeps its own connection's
 * thread, so 1,000 requests/s with a 100 ms delay is ~100 sleeping
 * threads. Webhooks go out from a few sender threads of their own.
 * SIGINT or SIGTERM stops it. */
#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <sodium.h>

#include "fake_common.h"

#define MAX_BODY (4u << 20)
#define MAX_STATUSES 4
#define HOOK_WORKERS 4
#define HOOK_RETRY_MS 250
#define HOOK_GIVE_UP_MS 60000

/* What a message request was answered with, for the record. */
struct outcome {
	const char *nid, *to, *tpl, *ack; /* NULL when absent */
	char text[32];                    /* "ok", "error:131000", ... */
	char wamid[128];                  /* "" when none */
	bool sent;
	long long at;
};

/* A message that went out: enough to send a status for it later. */
struct sent {
	struct sent *next;
	char wamid[128];
	char *nid, *recipient, *phone_id;
};

/* Statuses still to be posted for one message, in order. */
struct hook {
	struct hook *next;
	char *nid, *wamid, *recipient, *phone_id;
	char statuses[MAX_STATUSES][16];
	int n, idx;
	long error_code;       /* for "failed" */
	long long due;         /* monotonic ms */
	long long first_try;   /* monotonic ms of the current status's 1st try */
};

static struct {
	pthread_mutex_t mu;
	unsigned long long serial; /* wamid / fbtrace source */
	struct sent *sent; /* newest first */
	const char *token;

	/* webhooks */
	const char *hook_url, *app_secret;
	char hook_statuses[MAX_STATUSES][16];
	int hook_n;
	long hook_delay_ms;
	pthread_cond_t hook_cv; /* CLOCK_MONOTONIC */
	struct hook *hooks;
	unsigned long long hooks_queued, hooks_posted, hooks_given_up,
		hooks_failed_posts;
	pthread_t workers[HOOK_WORKERS];
	int nworkers;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* providers.md's error table: code -> HTTP status and title. */
static const struct {
	long code;
	unsigned http;
	const char *title;
} errors[] = {
	{190, 401, "Error validating access token: Session has expired"},
	{0, 401, "AuthException: unable to authenticate the app user"},
	{10, 403, "Application does not have permission for this action"},
	{200, 403, "Permissions error"},
	{4, 400, "Application request limit reached"},
	{80007, 400, "Rate limit issues"},
	{130429, 400, "Rate limit hit"},
	{131056, 400, "(Business Account, Consumer Account) pair rate limit hit"},
	{131048, 400, "Spam rate limit hit"},
	{131000, 500, "Something went wrong"},
	{131016, 500, "Service unavailable"},
	{131057, 500, "Account in maintenance mode"},
	{2, 503, "Service temporarily unavailable"},
	{100, 400, "Invalid parameter"},
	{131026, 400, "Message undeliverable"},
	{131047, 400, "Re-engagement message"},
	{132000, 400, "Number of parameters does not match the expected number of params"},
	{132001, 404, "Template name does not exist in the translation"},
	{132015, 400, "Template is paused"},
	{132016, 400, "Template is disabled"},
	{368, 403, "Temporarily blocked for policies violations"},
	{131031, 403, "Business Account locked"},
};

static const char *title_of(long code, unsigned *http)
{
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code) {
			*http = errors[i].http;
			return errors[i].title;
		}
	if (code > 200 && code <= 299) {
		*http = 403;
		return "Permissions error";
	}
	*http = 400;
	return "Unknown error";
}

/* The Graph API's error object. */
static enum MHD_Result answer_error(struct MHD_Connection *c, long code,
				    unsigned http, const char *title)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON *d;
	char msg[512], trace[64];
	unsigned long long n;

	pthread_mutex_lock(&G.mu);
	n = ++G.serial;
	pthread_mutex_unlock(&G.mu);
	snprintf(msg, sizeof(msg), "(#%ld) %s", code, title);
	snprintf(trace, sizeof(trace), "AFakeTrace%llx", n);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "type", "OAuthException");
	cJSON_AddNumberToObject(e, "code", (double)code);
	d = cJSON_AddObjectToObject(e, "error_data");
	cJSON_AddStringToObject(d, "messaging_product", "whatsapp");
	cJSON_AddStringToObject(d, "details", title);
	cJSON_AddStringToObject(e, "fbtrace_id", trace);
	return fake_answer_json(c, http, o);
}

static enum MHD_Result answer_code(struct MHD_Connection *c, long code)
{
	unsigned http;
	const char *title = title_of(code, &http);

	return answer_error(c, code, http, title);
}

/* "wamid." + URL-safe base64 of a per-process serial: unique per answer. */
static void make_wamid(char *out, size_t size, unsigned long long n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char raw[40];
	size_t len, i, o = 0;

	len = (size_t)snprintf(raw, sizeof(raw), "keryu-fake:%016llx:%d", n,
			       (int)getpid());
	o = (size_t)snprintf(out, size, "wamid.");
	for (i = 0; i < len && o + 5 < size; i += 3) {
		unsigned v = (unsigned char)raw[i] << 16;

		if (i + 1 < len)
			v |= (unsigned char)raw[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)raw[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The text (or payload) of the first parameter of the first "button"
 * component: where a channel puts the acknowledgement link's token. */
static const char *ack_param(const cJSON *in)
{
	const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(in, "template");
	const cJSON *comps = cJSON_GetObjectItemCaseSensitive(tpl, "components");
	const cJSON *comp, *p;
	const char *t;

	cJSON_ArrayForEach(comp, comps)
	{
		t = jstr(comp, "type");
		if (!t || strcmp(t, "button") != 0)
			continue;
		p = cJSON_GetArrayItem(
			cJSON_GetObjectItemCaseSensitive(comp, "parameters"), 0);
		if (jstr(p, "text"))
			return jstr(p, "text");
		return jstr(p, "payload");
	}
	return NULL;
}

/* A request Meta would accept as a template message. */
static bool well_formed(const cJSON *in)
{
	const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(in, "template");
	const cJSON *lang = cJSON_GetObjectItemCaseSensitive(tpl, "language");
	const char *to = jstr(in, "to"), *mp = jstr(in, "messaging_product");

	return cJSON_IsObject(in) && to && *to && mp &&
	       strcmp(mp, "whatsapp") == 0 && jstr(in, "type") &&
	       jstr(tpl, "name") && jstr(lang, "code");
}

/* The success body providers.md shows. */
static enum MHD_Result answer_sent(struct MHD_Connection *c, const char *to,
				   const char *wamid)
{
	cJSON *o, *contacts, *contact, *msgs, *msg;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "messaging_product", "whatsapp");
	contacts = cJSON_AddArrayToObject(o, "contacts");
	contact = cJSON_CreateObject();
	cJSON_AddItemToArray(contacts, contact);
	cJSON_AddStringToObject(contact, "input", to);
	cJSON_AddStringToObject(contact, "wa_id", to[0] == '+' ? to + 1 : to);
	msgs = cJSON_AddArrayToObject(o, "messages");
	msg = cJSON_CreateObject();
	cJSON_AddItemToArray(msgs, msg);
	cJSON_AddStringToObject(msg, "id", wamid);
	return fake_answer_json(c, 200, o);
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	cJSON *headers = cls;
	char name[256];
	size_t i;

	(void)kind;
	for (i = 0; key[i] && i + 1 < sizeof(name); i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	name[i] = '\0';
	cJSON_DeleteItemFromObjectCaseSensitive(headers, name);
	cJSON_AddStringToObject(headers, name, value ? value : "");
	return MHD_YES;
}

/* One line per request; out is NULL for requests that are not messages. */
static void record(struct MHD_Connection *c, const char *method,
		   const char *path, const struct fake_request *q,
		   const struct outcome *out, long long at)
{
	cJSON *o;
	char *body;

	if (!fake_record_file())
		return;
	body = malloc(q->len + 1);
	if (!body)
		return;
	if (q->len)
		memcpy(body, q->body, q->len);
	body[q->len] = '\0';
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddStringToObject(o, "path", path);
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header,
				  cJSON_AddObjectToObject(o, "headers"));
	cJSON_AddStringToObject(o, "body", body);
	cJSON_AddNumberToObject(o, "at", (double)at);
	if (out) {
		fake_json_str(o, "notification_id", out->nid);
		fake_json_str(o, "to", out->to);
		fake_json_str(o, "template", out->tpl);
		fake_json_str(o, "ack_param", out->ack);
		cJSON_AddStringToObject(o, "outcome", out->text);
		cJSON_AddBoolToObject(o, "sent", out->sent);
		fake_json_str(o, "wamid", out->wamid[0] ? out->wamid : NULL);
		cJSON_AddNumberToObject(o, "answered_at", (double)fake_now_ms());
	}
	fake_write_json(fake_record_file(), o);
	cJSON_Delete(o);
	free(body);
}

/* /{version}/{phone_number_id}/messages, each segment non-empty; copies
 * the phone number id into phone_id. */
static bool is_message_path(const char *p, char *phone_id, size_t size)
{
	const char *a, *b;

	if (*p++ != '/' || !(a = strchr(p, '/')) || a == p)
		return false;
	if (!(b = strchr(a + 1, '/')) || b == a + 1)
		return false;
	if (strcmp(b + 1, "messages") != 0)
		return false;
	snprintf(phone_id, size, "%.*s", (int)(b - a - 1), a + 1);
	return true;
}

/* ---- status webhooks ---- */

/* Queues statuses for a message, the first due after delay_ms. */
static void hook_queue(const char *nid, const char *wamid,
		       const char *recipient, const char *phone_id,
		       char (*statuses)[16], int n, long error_code)
{
	struct hook *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->nid = fake_strdup(nid);
	h->wamid = fake_strdup(wamid);
	h->recipient = fake_strdup(recipient);
	h->phone_id = fake_strdup(phone_id);
	memcpy(h->statuses, statuses, sizeof(h->statuses[0]) * (size_t)n);
	h->n = n;
	h->error_code = error_code;
	h->due = fake_mono_ms() + G.hook_delay_ms;
	pthread_mutex_lock(&G.mu);
	h->next = G.hooks;
	G.hooks = h;
	G.hooks_queued += (unsigned long long)n;
	pthread_cond_broadcast(&G.hook_cv);
	pthread_mutex_unlock(&G.mu);
}

static void hook_free(struct hook *h)
{
	free(h->nid);
	free(h->wamid);
	free(h->recipient);
	free(h->phone_id);
	free(h);
}

/* Meta's status webhook for one status of h. Returns a malloc'd string. */
static char *hook_body(const struct hook *h)
{
	const char *status = h->statuses[h->idx];
	cJSON *o = cJSON_CreateObject(), *entry, *change, *value, *meta, *st,
	      *arr;
	char ts[32];
	char *s;

	cJSON_AddStringToObject(o, "object", "whatsapp_business_account");
	entry = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "entry"), entry);
	cJSON_AddStringToObject(entry, "id", "102290129340398");
	change = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(entry, "changes"), change);
	cJSON_AddStringToObject(change, "field", "messages");
	value = cJSON_AddObjectToObject(change, "value");
	cJSON_AddStringToObject(value, "messaging_product", "whatsapp");
	meta = cJSON_AddObjectToObject(value, "metadata");
	cJSON_AddStringToObject(meta, "display_phone_number", "15550783881");
	cJSON_AddStringToObject(meta, "phone_number_id", h->phone_id);
	st = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(value, "statuses"), st);
	snprintf(ts, sizeof(ts), "%lld", fake_now_ms() / 1000);
	cJSON_AddStringToObject(st, "id", h->wamid);
	cJSON_AddStringToObject(st, "status", status);
	cJSON_AddStringToObject(st, "timestamp", ts);
	cJSON_AddStringToObject(st, "recipient_id", h->recipient[0] == '+'
							    ? h->recipient + 1
							    : h->recipient);
	if (h->nid[0])
		cJSON_AddStringToObject(st, "biz_opaque_callback_data", h->nid);
	if (strcmp(status, "failed") == 0) {
		cJSON *e = cJSON_CreateObject(), *d;
		unsigned http;
		const char *title = title_of(h->error_code, &http);

		arr = cJSON_AddArrayToObject(st, "errors");
		cJSON_AddItemToArray(arr, e);
		cJSON_AddNumberToObject(e, "code", (double)h->error_code);
		cJSON_AddStringToObject(e, "title", title);
		cJSON_AddStringToObject(e, "message", title);
		d = cJSON_AddObjectToObject(e, "error_data");
		cJSON_AddStringToObject(d, "details", title);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* POSTs body signed with the app secret. Returns the HTTP status, 0 when
 * there was no answer. */
static long hook_post(CURL *curl, const char *body)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * sizeof(mac) + 1], sig[sizeof(hex) + 32];
	crypto_auth_hmacsha256_state hs;
	struct curl_slist *hdr = NULL;
	long code;

	crypto_auth_hmacsha256_init(&hs, (const unsigned char *)G.app_secret,
				    strlen(G.app_secret));
	crypto_auth_hmacsha256_update(&hs, (const unsigned char *)body,
				      strlen(body));
	crypto_auth_hmacsha256_final(&hs, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, sig);
	hdr = curl_slist_append(hdr, "Expect:");
	code = fake_post(curl, G.hook_url, hdr, body);
	curl_slist_free_all(hdr);
	return code;
}

/* Takes the earliest due hook off the list, waiting for one. Returns NULL
 * once stopping. Called and returns with G.mu held. */
static struct hook *hook_take(void)
{
	struct hook **pp, **best;
	struct timespec ts;
	long long due;

	while (!fake_stopping()) {
		best = NULL;
		for (pp = &G.hooks; *pp; pp = &(*pp)->next)
			if (!best || (*pp)->due < (*best)->due)
				best = pp;
		if (!best) {
			pthread_cond_wait(&G.hook_cv, &G.mu);
			continue;
		}
		due = (*best)->due;
		if (due <= fake_mono_ms()) {
			struct hook *h = *best;

			*best = h->next;
			h->next = NULL;
			return h;
		}
		ts.tv_sec = (time_t)(due / 1000);
		ts.tv_nsec = (long)(due % 1000) * 1000000L;
		pthread_cond_timedwait(&G.hook_cv, &G.mu, &ts);
	}
	return NULL;
}

/* Sender thread: one status at a time per message, so each message's
 * statuses arrive in order; different messages go out in parallel. */
static void *hook_worker(void *arg)
{
	CURL *curl = fake_curl("facebookexternalua", 1000L, 2000L);
	struct hook *h;
	char *body;
	long code;

	(void)arg;
	if (!curl)
		abort();
	pthread_mutex_lock(&G.mu);
	while ((h = hook_take()) != NULL) {
		pthread_mutex_unlock(&G.mu);
		if (!h->first_try)
			h->first_try = fake_mono_ms();
		body = hook_body(h);
		code = body ? hook_post(curl, body) : 0;
		free(body);
		pthread_mutex_lock(&G.mu);
		if (code >= 200 && code < 300) {
			G.hooks_posted++;
			G.hooks_queued--;
			h->first_try = 0;
			h->due = fake_mono_ms() + G.hook_delay_ms;
			if (++h->idx == h->n) {
				hook_free(h);
				continue;
			}
		} else {
			G.hooks_failed_posts++;
			if (fake_mono_ms() - h->first_try >= HOOK_GIVE_UP_MS) {
				unsigned long long left =
					(unsigned long long)(h->n - h->idx);

				G.hooks_given_up += left;
				G.hooks_queued -= left;
				hook_free(h);
				continue;
			}
			h->due = fake_mono_ms() + HOOK_RETRY_MS;
		}
		h->next = G.hooks;
		G.hooks = h;
	}
	pthread_mutex_unlock(&G.mu);
	curl_easy_cleanup(curl);
	return NULL;
}

static void remember_sent(const char *wamid, const char *nid, const char *to,
			  const char *phone_id)
{
	struct sent *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	snprintf(s->wamid, sizeof(s->wamid), "%s", wamid);
	s->nid = fake_strdup(nid);
	s->recipient = fake_strdup(to);
	s->phone_id = fake_strdup(phone_id);
	pthread_mutex_lock(&G.mu);
	s->next = G.sent;
	G.sent = s;
	pthread_mutex_unlock(&G.mu);
}

static bool valid_status(const char *s)
{
	static const char *const ok[] = {"sent", "delivered", "read",
					 "failed", "played"};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(s, ok[i]) == 0)
			return true;
	return false;
}

/* POST /_control/webhook: one status for a wamid. */
static enum MHD_Result control_webhook(struct MHD_Connection *c,
				       const struct fake_request *q)
{
	cJSON *in = cJSON_ParseWithLength(q->body ? q->body : "", q->len);
	const char *wamid = jstr(in, "wamid"), *status = jstr(in, "status");
	const char *nid = jstr(in, "notification_id");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(in, "error_code");
	char st[MAX_STATUSES][16] = {{0}};
	char *snid = NULL, *rcpt = NULL, *phone = NULL;
	struct sent *s;
	enum MHD_Result rc;

	if (!G.hook_url) {
		cJSON_Delete(in);
		return fake_answer(c, 400, "text/plain", "no --webhook-url\n");
	}
	if (!wamid || !*wamid || !status || !valid_status(status) ||
	    (code && !cJSON_IsNumber(code))) {
		cJSON_Delete(in);
		return fake_answer(c, 400, "text/plain", "bad webhook request\n");
	}
	pthread_mutex_lock(&G.mu);
	for (s = G.sent; s && strcmp(s->wamid, wamid) != 0; s = s->next)
		;
	if (s) {
		snid = fake_strdup(s->nid);
		rcpt = fake_strdup(s->recipient);
		phone = fake_strdup(s->phone_id);
	}
	pthread_mutex_unlock(&G.mu);
	if (!s && !nid) {
		cJSON_Delete(in);
		return fake_answer(c, 404, "text/plain", "unknown wamid\n");
	}
	snprintf(st[0], sizeof(st[0]), "%s", status);
	hook_queue(nid ? nid : snid, wamid, rcpt ? rcpt : "16505551234",
		   phone ? phone : "106540352242922", st, 1,
		   code ? (long)code->valuedouble : 131026);
	free(snid);
	free(rcpt);
	free(phone);
	cJSON_Delete(in);
	rc = fake_answer(c, 200, "text/plain", "ok\n");
	return rc;
}

static enum MHD_Result control(struct MHD_Connection *c, const char *method,
			       const char *path, const struct fake_request *q)
{
	char buf[1024];
	enum MHD_Result rc;

	if (fake_control(c, method, path, q, &rc))
		return rc;
	if (strcmp(path, "/_control/webhooks") == 0 &&
	    strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&G.mu);
		snprintf(buf, sizeof(buf),
			 "{\"queued\":%llu,\"posted\":%llu,\"given_up\":%llu,"
			 "\"failed_posts\":%llu}\n",
			 G.hooks_queued, G.hooks_posted, G.hooks_given_up,
			 G.hooks_failed_posts);
		pthread_mutex_unlock(&G.mu);
		return fake_answer(c, 200, "application/json", buf);
	}
	if (strcmp(path, "/_control/webhook") == 0 &&
	    strcmp(method, "POST") == 0)
		return control_webhook(c, q);
	return answer_error(c, 100, 404, "Unknown control path");
}

static enum MHD_Result message(struct MHD_Connection *c, const char *method,
			       const char *url, const struct fake_request *q,
			       const char *phone_id, long long at)
{
	cJSON *in = cJSON_ParseWithLength(q->body ? q->body : "", q->len);
	struct outcome out = {.at = at};
	const char *auth;
	char want[512];
	struct fake_step m;
	enum MHD_Result rc;

	if (cJSON_IsObject(in)) {
		const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(in,
								    "template");

		out.nid = jstr(in, "biz_opaque_callback_data");
		out.to = jstr(in, "to");
		out.tpl = jstr(tpl, "name");
		out.ack = ack_param(in);
	}
	fake_count_message();
	m = fake_next_step(out.nid);
	/* only this connection's thread sleeps */
	if (m.kind == FAKE_TIMEOUT)
		fake_sleep_ms(fake_hold_ms());
	else if (fake_delay_ms() > 0)
		fake_sleep_ms(fake_delay_ms());
	if (m.kind == FAKE_DROP) {
		fake_step_text(&m, out.text, sizeof(out.text));
		record(c, method, url, q, &out, at);
		cJSON_Delete(in);
		return MHD_NO; /* closes the connection without an answer */
	}
	if (G.token) {
		auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						   MHD_HTTP_HEADER_AUTHORIZATION);
		snprintf(want, sizeof(want), "Bearer %s", G.token);
		if (!auth || strcmp(auth, want) != 0)
			m = (struct fake_step){FAKE_ERROR, 190};
	}
	if ((m.kind == FAKE_OK || m.kind == FAKE_TIMEOUT) && !well_formed(in))
		m = (struct fake_step){FAKE_ERROR, 100};
	fake_step_text(&m, out.text, sizeof(out.text));
	switch (m.kind) {
	case FAKE_ERROR:
		record(c, method, url, q, &out, at);
		rc = answer_code(c, m.arg);
		break;
	case FAKE_HTTP:
		record(c, method, url, q, &out, at);
		rc = fake_answer(c, (unsigned)m.arg, "text/plain", "");
		break;
	default: {
		unsigned long long n;

		pthread_mutex_lock(&G.mu);
		n = ++G.serial;
		pthread_mutex_unlock(&G.mu);
		make_wamid(out.wamid, sizeof(out.wamid), n);
		out.sent = true;
		remember_sent(out.wamid, out.nid, out.to, phone_id);
		if (G.hook_url && G.hook_n > 0)
			hook_queue(out.nid ? out.nid : "", out.wamid, out.to,
				   phone_id, G.hook_statuses, G.hook_n, 131026);
		record(c, method, url, q, &out, at);
		/* after a timeout the client is gone: this answer is lost,
		 * as Meta's would be */
		rc = answer_sent(c, out.to, out.wamid);
		break;
	}
	}
	cJSON_Delete(in);
	return rc;
}

static enum MHD_Result on_request(struct MHD_Connection *c,
				  const char *method, const char *url,
				  const struct fake_request *q)
{
	char phone_id[128];
	long long at = fake_now_ms();

	if (strncmp(url, "/_control/", 10) == 0)
		return q->too_big ? fake_answer(c, 413, "text/plain", "too big\n")
				  : control(c, method, url, q);
	if (q->too_big) {
		record(c, method, url, q, NULL, at);
		return answer_error(c, 100, 413, "Request body too large");
	}
	if (strcmp(method, "POST") == 0 &&
	    is_message_path(url, phone_id, sizeof(phone_id)))
		return message(c, method, url, q, phone_id, at);
	record(c, method, url, q, NULL, at);
	return answer_error(c, 100, 404, "Unknown path");
}

_Noreturn static void usage(void)
{
	fprintf(stderr,
		"usage: fake_whatsapp [--port N] [--record FILE]\n"
		"  [--mode STEP|seq:STEP,STEP,...] (STEP: ok|error:<code>|"
		"http:<status>|drop|timeout)\n"
		"  [--delay-ms N] [--token T] [--timeout-hold-ms N]\n"
		"  [--webhook-url URL --app-secret S] "
		"[--webhook-statuses sent,delivered[,read]]\n"
		"  [--webhook-delay-ms N]\n");
	exit(2);
}

static void parse_statuses(const char *s)
{
	const char *p = s, *comma;
	size_t len;

	G.hook_n = 0;
	if (!*s)
		return;
	for (;; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (G.hook_n == MAX_STATUSES || len == 0 ||
		    len >= sizeof(G.hook_statuses[0]))
			usage();
		memcpy(G.hook_statuses[G.hook_n], p, len);
		G.hook_statuses[G.hook_n][len] = '\0';
		if (!valid_status(G.hook_statuses[G.hook_n++]))
			usage();
		if (!comma)
			return;
	}
}

int main(int argc, char **argv)
{
	pthread_condattr_t ca;
	int i, rc;

	fake_init("fake_whatsapp", usage);
	parse_statuses("sent,delivered");
	for (i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (fake_option(argv[i], v)) {
			continue;
		} else if (strcmp(argv[i], "--token") == 0) {
			G.token = v;
		} else if (strcmp(argv[i], "--webhook-url") == 0) {
			G.hook_url = v;
		} else if (strcmp(argv[i], "--app-secret") == 0) {
			G.app_secret = v;
		} else if (strcmp(argv[i], "--webhook-statuses") == 0) {
			parse_statuses(v);
		} else if (strcmp(argv[i], "--webhook-delay-ms") == 0) {
			G.hook_delay_ms = fake_number(v, 0, 600000);
		} else {
			usage();
		}
	}
	if (G.hook_url && !G.app_secret) {
		fprintf(stderr, "fake_whatsapp: --webhook-url needs --app-secret\n");
		return 2;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "fake_whatsapp: library init failed\n");
		return 1;
	}

	/* before the sender threads, so that they inherit the mask */
	fake_block_signals();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&G.hook_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (G.hook_url)
		for (; G.nworkers < HOOK_WORKERS; G.nworkers++)
			if (pthread_create(&G.workers[G.nworkers], NULL,
					   hook_worker, NULL) != 0) {
				fprintf(stderr, "fake_whatsapp: no threads\n");
				return 1;
			}

	rc = fake_serve(MAX_BODY, on_request);
	if (rc)
		return rc;
	pthread_mutex_lock(&G.mu);
	pthread_cond_broadcast(&G.hook_cv);
	pthread_mutex_unlock(&G.mu);
	for (i = 0; i < G.nworkers; i++)
		pthread_join(G.workers[i], NULL);
	while (G.hooks) {
		struct hook *h = G.hooks;

		G.hooks = h->next;
		hook_free(h);
	}
	while (G.sent) {
		struct sent *s = G.sent;

		G.sent = s->next;
		free(s->nid);
		free(s->recipient);
		free(s->phone_id);
		free(s);
	}
	fake_cleanup();
	curl_global_cleanup();
	return 0;
}
