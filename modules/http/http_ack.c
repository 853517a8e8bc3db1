/* The acknowledgement link an alert carries: /ack/<token>, the token
 * signed by the alarms module with [kernel] secret_key (events.h). Opening
 * it shows one "I'm on my way" button; only pressing it (a POST to the
 * same address) acknowledges the alarm. A GET never does: link
 * previewers, chat apps and mail scanners fetch links, and a false
 * acknowledgement would stop the escalation to the next person. No login
 * and no CSRF token: the token is the capability, and what it allows
 * (saying "on my way" for one alarm) is what the recipient was sent it
 * for. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <keryu/events.h>

#include "http_tags_alarms.h"

#define ACK_PREFIX "/ack/"
/* Bad or expired tokens per client address and hour before it gets 429:
 * a token carries a 256-bit MAC, so this is about load, not guessing. */
#define ACK_FAIL_WINDOW_S 3600
#define ACK_FAIL_MAX 30

bool http_ack_path(const char *path, char *token, size_t size)
{
	size_t pl = strlen(ACK_PREFIX), n;

	if (!path || strncmp(path, ACK_PREFIX, pl) != 0)
		return false;
	path += pl;
	if (strchr(path, '/'))
		return false;
	n = strlen(path);
	if (n >= size)
		n = size - 1; /* cut: still ours, answered "not valid" */
	memcpy(token, path, n);
	token[n] = '\0';
	return true;
}

static void fail_key(struct http_ctx *ctx, const struct http_request *req,
		     char key[HTTP_BLOCK_KEY])
{
	char hash[KERYU_HASH_HEX];

	/* the address becomes a key only as an HMAC under the secret key */
	http_hmac_hex(ctx, req->client_ip ? req->client_ip : "", hash);
	snprintf(key, HTTP_BLOCK_KEY, "ackfail:ip:%s", hash);
}

static void too_many(struct http_response *r, int retry_after)
{
	http_page_error(r, 429, "Too many attempts",
			"Please wait a while before trying again.");
	r->no_store = true;
	r->retry_after = retry_after > 0 ? retry_after : 1;
}

/* Counts one failure of the client's address. True when it is over the
 * limit (then blocked until the window ends, and r is a 429 page). A
 * service error counts nothing: the request has failed anyway. */
static bool count_failure(struct http_ctx *ctx, const char *key,
			  struct http_response *r)
{
	const struct keryu_accounts *a = ctx->accounts;
	long long now = (long long)time(NULL);
	bool allowed = true;
	int rc;

	if (!a || !a->rate_hit)
		return false;
	/* the n-th failure is the last one answered with its own page */
	rc = a->rate_hit(a->self, key, ACK_FAIL_WINDOW_S, ACK_FAIL_MAX - 1,
			 &allowed);
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.rate_limit",
			       "what=ackfail kind=ip error=\"%s\"",
			       keryu_strerror(rc));
		return false;
	}
	if (allowed)
		return false;
	ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.rate_limited",
		       "what=ackfail kind=ip");
	http_block_set(ctx, key,
		       now - now % ACK_FAIL_WINDOW_S + ACK_FAIL_WINDOW_S);
	too_many(r, ACK_FAIL_WINDOW_S - (int)(now % ACK_FAIL_WINDOW_S));
	return true;
}

static void unavailable(struct http_response *r)
{
	http_page_error(r, 503, "Temporarily unavailable",
			"This link cannot be used right now. Please try again "
			"in a minute; if someone needs help now, call your "
			"local emergency services.");
	r->no_store = true;
}

/* scheme://host[:port] of url, lower-cased, into out; "" when url has
 * none. */
static void origin_of(const char *url, char *out, size_t size)
{
	const char *p = url ? strstr(url, "://") : NULL;
	size_t n, i;

	out[0] = '\0';
	if (!p)
		return;
	n = (size_t)(p - url) + 3;
	n += strcspn(p + 3, "/?#");
	if (n >= size)
		return;
	for (i = 0; i < n; i++)
		out[i] = (char)((url[i] >= 'A' && url[i] <= 'Z') ? url[i] + 32
								  : url[i]);
	out[n] = '\0';
}

/* http_module.h; shared with the finder's posts (http_finder.c). */
bool http_origin_ok(const struct http_ctx *ctx,
		    const struct http_request *req)
{
	char ours[512], theirs[512];
	const char *host = req->host;

	if (!req->origin || !*req->origin ||
	    strcmp(req->origin, "null") == 0)
		return true;
	origin_of(req->origin, theirs, sizeof(theirs));
	if (!theirs[0])
		return false;
	origin_of(ctx->host->config(ctx->m, "public_url"), ours, sizeof(ours));
	if (ours[0] && strcmp(ours, theirs) == 0)
		return true;
	/* the address the request came to, as seen behind no proxy */
	if (host && *host) {
		const char *h = strstr(theirs, "://") + 3;

		if (strcasecmp(h, host) == 0)
			return true;
	}
	return false;
}

static void confirm_page(const char *token, struct http_response *r)
{
	struct html *h = &r->body;
	char action[sizeof(ACK_PREFIX) + KERYU_ACK_TOKEN_LEN];

	snprintf(action, sizeof(action), "%s%s", ACK_PREFIX, token);
	r->status = 200;
	http_page_begin(h, "ok");
	html_raw(h, "<h1>Acknowledge this alert?</h1>\n"
		    "<p>Press the button if you are going to help. Everyone "
		    "who follows this alarm will see that you are on your "
		    "way, and the alert will not be passed on to the next "
		    "person.</p>\n"
		    "<form method=\"post\" action=\"");
	html_attr(h, action);
	html_raw(h, "\">\n<p><button type=\"submit\" style=\"font:inherit;"
		    "font-size:1.4rem;font-weight:700;width:100%;padding:1rem;"
		    "border:0;border-radius:.5rem;background:#0a7d32;"
		    "color:#fff;cursor:pointer\">I&#39;m on my way</button>"
		    "</p>\n</form>\n"
		    "<p class=\"small\">If you cannot help, do not press it: the "
		    "alert then goes on to the next person.</p>\n");
	http_page_end(h);
}

static void done_page(const struct keryu_ack_result *res,
		      struct http_response *r)
{
	struct html *h = &r->body;
	const char *who = res->subject_first_name[0] ? res->subject_first_name
						     : "the person";

	r->status = 200;
	http_page_begin(h, "ok");
	if (res->already) {
		html_raw(h, "<h1>Already acknowledged</h1>\n<p>");
		html_textf(h, "Someone already said they are on their way to "
			      "%s. The alert is not being passed on to anyone "
			      "else.", who);
		html_raw(h, "</p>\n");
	} else {
		html_raw(h, "<h1>Thank you</h1>\n<p>");
		html_textf(h, "Everyone who follows %s's alarm can now see "
			      "that you are on your way. The alert will not be "
			      "passed on to anyone else.", who);
		html_raw(h, "</p>\n");
	}
	html_raw(h, "<p class=\"small\">If the person needs urgent help, call "
		    "your local emergency services.</p>\n");
	http_page_end(h);
}

static bool storage_can_ack(const struct keryu_storage *st)
{
	return st &&
	       st->struct_size >=
		       offsetof(struct keryu_storage, alarm_acknowledge) +
			       sizeof(st->alarm_acknowledge) &&
	       st->alarm_acknowledge;
}

static void acknowledge(struct http_ctx *ctx, const char *nid,
			struct http_response *r)
{
	const struct keryu_storage *st = ctx->storage;
	struct keryu_ack_result res;
	int rc;

	if (!storage_can_ack(st)) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.ack",
			       "status=503 error=\"storage lacks "
			       "alarm_acknowledge\"");
		unavailable(r);
		return;
	}
	memset(&res, 0, sizeof(res));
	rc = st->alarm_acknowledge(st->self, nid, &res);
	if (rc == KERYU_ENOTFOUND) {
		/* a real signature for no alarm (a code's notification) */
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.ack",
			       "notification=%s status=404 reason=no_alarm",
			       nid);
		http_page_error(r, 404, "Link not valid",
				"This link does not belong to an alert.");
		r->no_store = true;
		return;
	}
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.ack",
			       "notification=%s status=503 error=\"%s\"", nid,
			       keryu_strerror(rc));
		unavailable(r);
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.ack",
		       "notification=%s alarm=%s result=%s", nid, res.alarm_id,
		       res.already ? "already" : "acknowledged");
	if (!res.already && keryu_uuid_valid(res.alarm_id))
		http_alarm_event_publish(ctx, res.alarm_id, "",
					 "acknowledged");
	done_page(&res, r);
	r->no_store = true;
}

void http_ack(struct http_ctx *ctx, const struct http_request *req,
	      const char *token, struct http_response *r)
{
	const char *secret = ctx->host->global(ctx->m, "kernel", "secret_key");
	bool post = req->method && strcmp(req->method, "POST") == 0;
	bool get = req->method && (strcmp(req->method, "GET") == 0 ||
				   strcmp(req->method, "HEAD") == 0);
	char key[HTTP_BLOCK_KEY], nid[KERYU_UUID_LEN];
	int rc, left;

	if (!post && !get) {
		http_page_error(r, 405, "Method not allowed",
				"This address does not answer that method.");
		r->allow = "GET, HEAD, POST";
		return;
	}
	r->no_store = true;
	if (post && !http_origin_ok(ctx, req)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.ack",
			       "status=403 reason=origin");
		http_page_error(r, 403, "Not accepted",
				"Please open the link from your message and "
				"press the button there.");
		r->no_store = true;
		return;
	}
	fail_key(ctx, req, key);
	left = http_blocked(ctx, key);
	if (left) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.rate_limited",
			       "what=ackfail kind=ip");
		too_many(r, left);
		return;
	}
	if (!secret || !*secret) {
		/* the alarms module cannot have signed any link either */
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.ack",
			       "status=503 error=\"no [kernel] secret_key\"");
		unavailable(r);
		return;
	}
	/* the token is never logged: it is the capability itself */
	rc = keryu_ack_token_check(secret, token, (long long)time(NULL), nid);
	if (rc == KERYU_ETIMEDOUT) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.ack",
			       "status=410 reason=expired");
		if (count_failure(ctx, key, r))
			return;
		http_page_error(r, 410, "This link has expired",
				"Links in alerts work for a limited time. If "
				"the person still needs help, call them or your "
				"local emergency services.");
		r->no_store = true;
		return;
	}
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.ack",
			       "status=404 reason=bad_token");
		if (count_failure(ctx, key, r))
			return;
		http_page_error(r, 404, "Link not valid",
				"This link is not valid. Please check that you "
				"opened the whole link from your message.");
		r->no_store = true;
		return;
	}
	if (get) {
		confirm_page(token, r);
		return;
	}
	acknowledge(ctx, nid, r);
}
