/* Private to the http module: provider webhooks (Meta WhatsApp, Twilio).
 * The signature checks are pure functions so unit tests can feed them the
 * providers' published test vectors. */
#ifndef KERYU_HTTP_WEBHOOKS_H
#define KERYU_HTTP_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
