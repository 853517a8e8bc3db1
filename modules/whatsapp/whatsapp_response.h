/* Reading a Cloud API answer into a delivery result, and deciding which
 * provider errors are worth another attempt (providers.md). Pure functions. */
#ifndef WHATSAPP_RESPONSE_H
#define WHATSAPP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/events.h>

enum whatsapp_verdict {
	WHATSAPP_PERMANENT = 0, /* another attempt cannot succeed */
	WHATSAPP_RETRY = 1,     /* may succeed later, with backoff */
};

/* Decides on the provider's error.code (not on the HTTP status, as Meta
 * asks); http_status only settles codes the table does not know: 429 and
 * 5xx retry, anything else is permanent. */
enum whatsapp_verdict whatsapp_classify(long code, long http_status);

/* True for the codes an operator must fix (bad token, missing permission):
 * every message will fail until then, so they are logged as errors. */
bool whatsapp_code_needs_operator(long code);

/* Fills out->status, provider_message_id, error_code and error_text from an
 * HTTP answer (the caller fills the envelope, ids, attempt and channel):
 *   2xx with messages[0].id        -> "sent", the wamid
 *   an error object with a code    -> "failed" when the code is permanent,
 *                                     "error" when worth retrying; error_code
 *                                     is the code as text, error_text the
 *                                     message and error_data.details, with
 *                                     numbers redacted (see below)
 *   anything else                  -> "error", error_code "http_<status>"
 *                                     or "bad_response" for a 2xx
 * Texts too long for their buffers are truncated.
 * Returns 0 when the answer was understood (sent or a provider error), and
 * KERYU_EINVAL when it was not (out then holds the "error" result). */
int whatsapp_response_parse(long http_status, const char *body, size_t len,
			    struct keryu_delivery_event *out);

/* Fills out for an attempt that got no HTTP answer: status "error",
 * error_code code ("network", "timeout"...), error_text text (may be NULL,
 * numbers redacted as below). */
void whatsapp_response_transport(const char *code, const char *text,
				 struct keryu_delivery_event *out);

/* Copies src (NULL: "") into dst, of size bytes with the NUL (truncating),
 * with every number of 6 or more digits replaced by "[number]": provider
 * texts can quote the recipient's phone, and results are published where
 * watchers may read them. A number may start with '+' and hold single
 * spaces, dashes, dots or parentheses between its digits ("+1 (650)
 * 555-1234"); "#131026", Graph's way of quoting an error code, is kept. */
void whatsapp_redact_numbers(const char *src, char *dst, size_t size);

#endif
