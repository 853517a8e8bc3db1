/* Private to the http module: provider webhooks (Meta WhatsApp, Twilio).
 * The signature checks are pure functions so unit tests can feed them the
 * providers' published test vectors. */
#ifndef KERYU_HTTP_WEBHOOKS_H
#define KERYU_HTTP_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/events.h>

#include "http_module.h"

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
/* GET /webhooks/whatsapp: Meta's hub verification. 200 with the challenge
 * as a text/plain body when hub.mode is "subscribe", hub.verify_token
 * equals the whatsapp_verify_token option (constant time) and
 * hub.challenge is 1..64 digits; 403 otherwise, and always when the
 * option is empty. */
void http_webhook_whatsapp_verify(struct http_ctx *ctx,
				  const struct http_request *req,
				  struct http_response *r);

/* True for the one route whose body is read raw (not as a form): POST
 * /webhooks/whatsapp, whose signature covers the exact bytes. */
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
 * whatsapp_app_secret), 400 for malformed JSON, each publishing nothing;
 * else each status is published with qos 1 on
 * keryu/v1/delivery/<notification_id> and the answer is 200 "ok". */
void http_webhook_whatsapp_post(struct http_ctx *ctx, const char *signature,
				const char *body, size_t len,
				struct http_response *r);

#endif
