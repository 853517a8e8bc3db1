/* Private to the http module: provider webhooks (Meta WhatsApp, Twilio).
 * The signature checks are pure functions so unit tests can feed them the
 * providers' published test vectors. */
#ifndef KERYU_HTTP_WEBHOOKS_H
#define KERYU_HTTP_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/events.h>

#include "http_module.h"

#define HTTP_WEBHOOK_WHATSAPP "/webhooks/whatsapp"
#define HTTP_WEBHOOK_TWILIO "/webhooks/twilio/status"

/* ---- http_webhook_sig.c ---- */
/* True when header ("X-Hub-Signature-256") is "sha256=" followed by the
 * 64 hex digits (either case) of HMAC-SHA256(app_secret, body[0..len)),
 * compared in constant time. False for an empty or NULL secret, a NULL
 * header, or any other shape. body may be NULL when len is 0. */
bool http_meta_signature_ok(const char *app_secret, const void *body,
			    size_t len, const char *header);
/* True when header ("X-Twilio-Signature") is the base64 HMAC-SHA1, keyed
 * with auth_token, of url followed by every field of form as name then
 * value, sorted by name in byte order (then by value, so repeated names
 * sort the same whatever their order), with no separators; compared in
 * constant time. url is the full public URL with its query string. False
 * for an empty or NULL token, NULL url or header, or out of memory. form
 * may be NULL (no fields). */
bool http_twilio_signature_ok(const char *auth_token, const char *url,
			      const struct http_form *form, const char *header);

/* ---- http_webhooks.c ---- */
/* Logs once which webhooks have their keys set (never the keys). */
void http_webhooks_log_config(struct http_ctx *ctx);

/* GET /webhooks/whatsapp: Meta's hub verification. 200 with the challenge
 * as a text/plain body when hub.mode is "subscribe", hub.verify_token
 * equals [whatsapp] verify_token (constant time) and hub.challenge is
 * 1..64 digits; 403 otherwise, and always when the key is empty. */
void http_webhook_whatsapp_verify(struct http_ctx *ctx,
				  const struct http_request *req,
				  struct http_response *r);

/* True for the routes whose body is read raw (not as a form), up to
 * webhook_max_bytes: POST /webhooks/whatsapp, whose signature covers the
 * exact bytes, and POST /webhooks/twilio/status, whose signature covers
 * every field, known or not. */
bool http_webhook_takes_raw(const char *method, const char *path);

/* The deterministic event_id of a WhatsApp status: SHA-256 of
 * "<wamid>|<status>", its first 16 bytes formatted as a lower-case UUID
 * with version nibble 5 and the RFC 4122 variant, so a webhook Meta
 * delivers again yields the same event_id and is dropped as a duplicate. */
void http_whatsapp_event_id(const char *wamid, const char *status,
			    char out[KERYU_UUID_LEN]);

typedef void (*http_whatsapp_status_fn)(const struct keryu_delivery_event *ev,
					void *arg);
/* Parses a Meta webhook body (entry[].changes[].value.statuses[]) and
 * calls fn once per status that has a message id, a status in
 * sent/delivered/read/failed and a UUID in biz_opaque_callback_data; the
 * rest (unknown fields, other changes, "played", no callback data) is
 * skipped. ev is filled as the delivery event to publish (attempt 0,
 * channel "whatsapp", errors[0].code/title for failed) and lives only
 * for the call. Returns how many statuses fn got, or KERYU_EINVAL when
 * body is not a JSON object (fn is then never called). */
int http_whatsapp_statuses(const char *body, size_t len,
			   http_whatsapp_status_fn fn, void *arg);

/* POST /webhooks/whatsapp with its raw body and X-Hub-Signature-256
 * header (NULL when absent). 401 for a missing or wrong signature (or no
 * [whatsapp] app_secret), 400 for malformed JSON, each publishing
 * nothing; else each status is published with qos 1 on
 * keryu/v1/delivery/<notification_id> and the answer is 200 "ok", or 503
 * when a publish failed (Meta then sends it all again: duplicates). */
void http_webhook_whatsapp_post(struct http_ctx *ctx, const char *signature,
				const char *body, size_t len,
				struct http_response *r);

/* Twilio's MessageStatus as a delivery status: sent, delivered, read;
 * undelivered and failed are "failed". NULL for the rest (queued,
 * accepted, sending, anything new): nothing to publish. */
const char *http_twilio_status_map(const char *message_status);
/* The URL Twilio signed: {public_url without trailing "/"}
 * /webhooks/twilio/status, then "?" and query's fields %-encoded, in
 * order. False when it does not fit out. */
bool http_twilio_url(const struct http_ctx *ctx, const struct http_form *query,
		     char *out, size_t size);
/* POST /webhooks/twilio/status?n=<notification id>, with its raw
 * form-encoded body and X-Twilio-Signature header (NULL when absent).
 * 403 for a missing or wrong signature (or no [twilio] auth_token, or a
 * body that is not a form), 400 when n is not a UUID or MessageSid or
 * MessageStatus is missing, each publishing nothing. A status
 * http_twilio_status_map() knows is published as a delivery event
 * (attempt 0, channel "twilio" when From or To is a "whatsapp:" address,
 * else "sms", ErrorCode as error_code for failed; event_id
 * http_whatsapp_event_id(MessageSid, mapped status), so a callback sent
 * again is a duplicate) with qos 1 on keryu/v1/delivery/<n>: 200 "ok", or
 * 503 when the publish failed. Other statuses: 200, nothing published.
 * Unknown fields are ignored (but signed). */
void http_webhook_twilio_status(struct http_ctx *ctx,
				const struct http_form *query,
				const char *signature, const char *body,
				size_t len, struct http_response *r);

#endif
