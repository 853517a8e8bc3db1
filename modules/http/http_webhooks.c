/* Provider webhooks. Meta's hub verification: Meta proves the callback
 * URL is ours by sending back the verify token we gave it, and expects its
 * challenge echoed as the raw body. Then Meta's and Twilio's signed status
 * posts, turned into delivery events on the bus for the alarms module.
 * The keys are [whatsapp] app_secret, verify_token and [twilio]
 * auth_token, read through host->global(): the channel modules that send
 * may run in another process, the webhooks arrive here. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include <keryu/events.h>

#include "http_tags_alarms.h"
#include "http_webhooks.h"

#define CHALLENGE_MAX 64

/* A global key, "" when unset. */
static const char *key(struct http_ctx *ctx, const char *section,
		       const char *name)
{
	const char *v = ctx->host->global(ctx->m, section, name);

	return v ? v : "";
}

void http_webhooks_log_config(struct http_ctx *ctx)
{
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.webhooks",
		       "whatsapp_verify=%s whatsapp_status=%s twilio_status=%s",
		       *key(ctx, "whatsapp", "verify_token") ? "on" : "off",
		       *key(ctx, "whatsapp", "app_secret") ? "on" : "off",
		       *key(ctx, "twilio", "auth_token") ? "on" : "off");
}

static bool challenge_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n < 1 || n > CHALLENGE_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Hashing both sides first makes the comparison constant time whatever
 * their lengths, so the token's length does not leak either. */
static bool token_equal(const char *ours, const char *theirs)
{
	unsigned char a[32], b[32];

	crypto_generichash(a, sizeof(a), (const unsigned char *)ours,
			   strlen(ours), NULL, 0);
	crypto_generichash(b, sizeof(b), (const unsigned char *)theirs,
			   strlen(theirs), NULL, 0);
	return sodium_memcmp(a, b, sizeof(a)) == 0;
}

void http_webhook_whatsapp_verify(struct http_ctx *ctx,
				  const struct http_request *req,
				  struct http_response *r)
{
	const char *mode = http_form_get(req->query, "hub.mode");
	const char *challenge = http_form_get(req->query, "hub.challenge");
	const char *token = http_form_get(req->query, "hub.verify_token");
	const char *ours = key(ctx, "whatsapp", "verify_token");
	const char *why = NULL;

	if (!ours[0])
		why = "verify_token not configured";
	else if (!mode || strcmp(mode, "subscribe") != 0)
		why = "bad hub.mode";
	else if (!challenge_ok(challenge))
		why = "bad hub.challenge";
	else if (!token || !token_equal(ours, token))
		why = "verify_token mismatch";

	r->no_store = true;
	r->content_type = "text/plain; charset=utf-8";
	if (why) {
		/* neither token is logged: one is ours, one a guess */
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "http.webhook_verify_refused",
			       "provider=whatsapp status=403 error=\"%s\"", why);
		r->status = 403;
		html_raw(&r->body, "Forbidden\n");
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.webhook_verified",
		       "provider=whatsapp");
	r->status = 200;
	/* only digits, checked above */
	html_bytes(&r->body, challenge, strlen(challenge));
}

/* ---- POST /webhooks/whatsapp: status notifications ---- */

bool http_webhook_takes_raw(const char *method, const char *path)
{
	return method && path && strcmp(method, "POST") == 0 &&
	       (strcmp(path, HTTP_WEBHOOK_WHATSAPP) == 0 ||
		strcmp(path, HTTP_WEBHOOK_TWILIO) == 0);
}

/* Meta redelivers a webhook for up to 7 days: the same (message, status)
 * must give the same event_id so the alarms module can drop the copy.
 * SHA-256 of "<wamid>|<status>", first 16 bytes, version nibble 5 and the
 * RFC 4122 variant bits, written as a lower-case UUID. */
void http_whatsapp_event_id(const char *wamid, const char *status,
			    char out[KERYU_UUID_LEN])
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)wamid,
				  strlen(wamid));
	crypto_hash_sha256_update(&st, (const unsigned char *)"|", 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)status,
				  strlen(status));
	crypto_hash_sha256_final(&st, h);
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, KERYU_UUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9],
		 h[10], h[11], h[12], h[13], h[14], h[15]);
}

static bool known_status(const char *s)
{
	return strcmp(s, "sent") == 0 || strcmp(s, "delivered") == 0 ||
	       strcmp(s, "read") == 0 || strcmp(s, "failed") == 0;
}

static const char *str_item(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* copies s into dst, truncated, lower-cased when lower */
static void copy_str(char *dst, size_t size, const char *s, bool lower)
{
	size_t i;

	snprintf(dst, size, "%s", s);
	if (lower)
		for (i = 0; dst[i]; i++)
			dst[i] = (char)tolower((unsigned char)dst[i]);
}

/* One status object into ev; false when it is not ours to publish. */
static bool status_event(const cJSON *st, struct keryu_delivery_event *ev)
{
	const char *id = str_item(st, "id");
	const char *status = str_item(st, "status");
	const char *nid = str_item(st, "biz_opaque_callback_data");
	const cJSON *errs, *e0, *code;

	if (!id || !id[0] || strlen(id) >= sizeof(ev->provider_message_id) ||
	    !status || !known_status(status) || !nid || !keryu_uuid_valid(nid))
		return false;
	memset(ev, 0, sizeof(*ev));
	http_whatsapp_event_id(id, status, ev->event_id);
	keryu_now_iso(ev->at);
	copy_str(ev->notification_id, sizeof(ev->notification_id), nid, true);
	ev->attempt = 0;
	ev->retry_in_ms = -1;
	copy_str(ev->channel, sizeof(ev->channel), "whatsapp", false);
	copy_str(ev->status, sizeof(ev->status), status, false);
	copy_str(ev->provider_message_id, sizeof(ev->provider_message_id), id,
		 false);
	if (strcmp(status, "failed") == 0) {
		errs = cJSON_GetObjectItemCaseSensitive(st, "errors");
		e0 = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
		code = e0 ? cJSON_GetObjectItemCaseSensitive(e0, "code") : NULL;
		if (cJSON_IsNumber(code))
			snprintf(ev->error_code, sizeof(ev->error_code), "%.0f",
				 code->valuedouble);
		else if (cJSON_IsString(code) && code->valuestring)
			copy_str(ev->error_code, sizeof(ev->error_code),
				 code->valuestring, false);
		if (e0 && str_item(e0, "title"))
			copy_str(ev->error_text, sizeof(ev->error_text),
				 str_item(e0, "title"), false);
	}
	return true;
}

int http_whatsapp_statuses(const char *body, size_t len,
			   http_whatsapp_status_fn fn, void *arg)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *entry, *change, *st, *value, *statuses;
	struct keryu_delivery_event ev;
	int n = 0;

	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return KERYU_EINVAL;
	}
	/* anything not shaped like a status batch is someone else's news
	 * (messages, template updates): skipped, not refused */
	cJSON_ArrayForEach(entry,
			   cJSON_GetObjectItemCaseSensitive(root, "entry"))
	{
		cJSON_ArrayForEach(
			change,
			cJSON_GetObjectItemCaseSensitive(entry, "changes"))
		{
			value = cJSON_GetObjectItemCaseSensitive(change,
								 "value");
			statuses = cJSON_GetObjectItemCaseSensitive(value,
								    "statuses");
			if (!cJSON_IsArray(statuses))
				continue;
			cJSON_ArrayForEach(st, statuses)
			{
				if (!cJSON_IsObject(st) ||
				    !status_event(st, &ev))
					continue;
				fn(&ev, arg);
				n++;
			}
		}
	}
	cJSON_Delete(root);
	return n;
}

/* Publishes ev on keryu/v1/delivery/<notification_id> with qos 1.
 * Returns 0 or the error (logged). */
static int publish_event(struct http_ctx *ctx, const char *provider,
			 const struct keryu_delivery_event *ev)
{
	char topic[sizeof(KERYU_TOPIC_DELIVERY) + KERYU_UUID_LEN];
	char *json = keryu_delivery_event_encode(ev);
	int rc;

	if (!json) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR,
			       "http.webhook.publish_failed",
			       "provider=%s error=ENOMEM", provider);
		return KERYU_ENOMEM;
	}
	snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_DELIVERY,
		 ev->notification_id);
	rc = ctx->host->publish(ctx->m, topic, json, strlen(json), 1, false);
	if (rc != 0)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR,
			       "http.webhook.publish_failed",
			       "provider=%s notification_id=%s status=%s rc=%d",
			       provider, ev->notification_id, ev->status, rc);
	free(json);
	return rc;
}

struct publish_count {
	struct http_ctx *ctx;
	int failed;
};

static void publish_status(const struct keryu_delivery_event *ev, void *arg)
{
	struct publish_count *pc = arg;

	if (publish_event(pc->ctx, "whatsapp", ev) != 0)
		pc->failed++;
}

static void answer_text(struct http_response *r, unsigned status,
			const char *text)
{
	r->status = status;
	html_raw(&r->body, text);
}

void http_webhook_whatsapp_post(struct http_ctx *ctx, const char *signature,
				const char *body, size_t len,
				struct http_response *r)
{
	struct publish_count pc = {.ctx = ctx, .failed = 0};
	int n;

	r->no_store = true;
	r->content_type = "text/plain; charset=utf-8";
	if (!http_meta_signature_ok(key(ctx, "whatsapp", "app_secret"), body,
				    len, signature)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "http.webhook.bad_signature",
			       "provider=whatsapp status=401 signature=%s "
			       "bytes=%zu",
			       signature ? "wrong" : "missing", len);
		answer_text(r, 401, "Unauthorized\n");
		return;
	}
	n = http_whatsapp_statuses(body, len, publish_status, &pc);
	if (n < 0) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.webhook.malformed",
			       "provider=whatsapp status=400 bytes=%zu", len);
		answer_text(r, 400, "Bad request\n");
		return;
	}
	if (pc.failed) {
		/* Meta retries a post it did not get 200 for; the event ids
		 * are deterministic, so what did get out is a duplicate */
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.webhook.statuses",
			       "provider=whatsapp published=%d failed=%d "
			       "status=503",
			       n - pc.failed, pc.failed);
		answer_text(r, 503, "Try again later\n");
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.webhook.statuses",
		       "provider=whatsapp published=%d", n);
	answer_text(r, 200, "ok");
}

/* ---- POST /webhooks/twilio/status: status callbacks ---- */

const char *http_twilio_status_map(const char *message_status)
{
	static const struct {
		const char *twilio, *ours;
	} map[] = {
		{"sent", "sent"},	  {"delivered", "delivered"},
		{"read", "read"},	  {"undelivered", "failed"},
		{"failed", "failed"},
	};
	size_t i;

	for (i = 0; message_status && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(message_status, map[i].twilio) == 0)
			return map[i].ours;
	return NULL;
}

bool http_twilio_url(const struct http_ctx *ctx, const struct http_form *query,
		     char *out, size_t size)
{
	char enc[1024];
	size_t i, o;

	http_public_base(ctx, out, size);
	o = strlen(out);
	if (o + sizeof(HTTP_WEBHOOK_TWILIO) > size)
		return false;
	memcpy(out + o, HTTP_WEBHOOK_TWILIO, sizeof(HTTP_WEBHOOK_TWILIO));
	o += sizeof(HTTP_WEBHOOK_TWILIO) - 1;
	for (i = 0; query && i < query->n_fields; i++) {
		const struct http_field *f = &query->fields[i];
		char name[256];
		int n;

		if (!http_url_encode(f->name, name, sizeof(name)) ||
		    !http_url_encode(f->value, enc, sizeof(enc)))
			return false;
		n = snprintf(out + o, size - o, "%c%s=%s", i ? '&' : '?', name,
			     enc);
		if (n < 0 || (size_t)n >= size - o)
			return false;
		o += (size_t)n;
	}
	return true;
}

static bool is_whatsapp_address(const char *s)
{
	return s && strncmp(s, "whatsapp:", 9) == 0;
}

/* Parses len bytes of a form-encoded body into form. The bytes are copied
 * so that exactly len of them are read, whatever follows in the caller's
 * buffer. Returns 0, KERYU_EINVAL (a NUL or a bad %-escape), or
 * KERYU_ENOMEM. */
static int parse_form(const char *body, size_t len, struct http_form *form)
{
	char *copy;
	int rc;

	if (!body)
		len = 0;
	if (len && memchr(body, 0, len))
		return KERYU_EINVAL;
	copy = malloc(len + 1);
	if (!copy)
		return KERYU_ENOMEM;
	if (len)
		memcpy(copy, body, len);
	copy[len] = '\0';
	rc = http_form_parse_query(form, copy);
	free(copy);
	return rc;
}

void http_webhook_twilio_status(struct http_ctx *ctx,
				const struct http_form *query,
				const char *signature, const char *body,
				size_t len, struct http_response *r)
{
	struct keryu_delivery_event ev;
	struct http_form form;
	const char *nid, *sid, *status, *ours, *code, *from, *to;
	char url[2048];
	bool signed_ok;
	int rc;

	r->no_store = true;
	r->content_type = "text/plain; charset=utf-8";
	http_form_init(&form);
	rc = parse_form(body, len, &form);
	if (rc == KERYU_ENOMEM) {
		http_form_free(&form);
		answer_text(r, 500, "Server error\n");
		return;
	}
	/* Twilio signs the URL it was given ({public_url} + path + query),
	 * rebuilt here from the decoded query: ours only ever holds
	 * n=<uuid>, which %-encodes to the same bytes; anything else fails
	 * the check, which is the safe way to fail */
	signed_ok = rc == 0 && http_twilio_url(ctx, query, url, sizeof(url)) &&
		    http_twilio_signature_ok(key(ctx, "twilio", "auth_token"),
					     url, &form, signature);
	if (!signed_ok) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "http.webhook.bad_signature",
			       "provider=twilio status=403 signature=%s "
			       "bytes=%zu",
			       !signature ? "missing"
			       : rc	  ? "unreadable_body"
					  : "wrong",
			       len);
		http_form_free(&form);
		/* 403 as the admin guide says: Twilio does not retry it */
		answer_text(r, 403, "Forbidden\n");
		return;
	}
	nid = http_form_get(query, "n");
	sid = http_form_get(&form, "MessageSid");
	status = http_form_get(&form, "MessageStatus");
	if (!nid || !keryu_uuid_valid(nid) || !sid || !sid[0] ||
	    strlen(sid) >= sizeof(ev.provider_message_id) || !status) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.webhook.malformed",
			       "provider=twilio status=400 reason=%s",
			       !nid || !keryu_uuid_valid(nid) ? "n"
			       : !status			 ? "MessageStatus"
								 : "MessageSid");
		http_form_free(&form);
		answer_text(r, 400, "Bad request\n");
		return;
	}
	ours = http_twilio_status_map(status);
	if (!ours) {
		/* queued, accepted, sending...: nothing the alarms module
		 * does not know already */
		ctx->host->log(ctx->m, KERYU_LOG_DEBUG, "http.webhook.statuses",
			       "provider=twilio published=0 reason=status");
		http_form_free(&form);
		answer_text(r, 200, "ok");
		return;
	}
	memset(&ev, 0, sizeof(ev));
	/* the same (message, status) from a callback Twilio sends again is
	 * the same event: "undelivered" and "failed" are one */
	http_whatsapp_event_id(sid, ours, ev.event_id);
	keryu_now_iso(ev.at);
	copy_str(ev.notification_id, sizeof(ev.notification_id), nid, true);
	ev.attempt = 0;
	from = http_form_get(&form, "From");
	to = http_form_get(&form, "To");
	copy_str(ev.channel, sizeof(ev.channel),
		 is_whatsapp_address(from) || is_whatsapp_address(to)
			 ? "twilio"
			 : "sms",
		 false);
	copy_str(ev.status, sizeof(ev.status), ours, false);
	copy_str(ev.provider_message_id, sizeof(ev.provider_message_id), sid,
		 false);
	ev.retry_in_ms = -1;
	if (strcmp(ours, "failed") == 0) {
		code = http_form_get(&form, "ErrorCode");
		if (code)
			copy_str(ev.error_code, sizeof(ev.error_code), code,
				 false);
		copy_str(ev.error_text, sizeof(ev.error_text),
			 strcmp(status, "undelivered") == 0 ? "undelivered"
							    : "failed",
			 false);
	}
	http_form_free(&form);
	if (publish_event(ctx, "twilio", &ev) != 0) {
		/* Twilio retries on 5xx only when asked to; the id is
		 * deterministic, so a retry is safe either way */
		answer_text(r, 503, "Try again later\n");
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.webhook.statuses",
		       "provider=twilio published=1 notification_id=%s "
		       "status=%s",
		       ev.notification_id, ev.status);
	answer_text(r, 200, "ok");
}
