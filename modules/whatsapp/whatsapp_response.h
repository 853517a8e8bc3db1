/* Reading a Cloud API answer into a delivery result, and deciding which
 * provider errors are worth another attempt (providers.md). Pure functions. */
#ifndef WHATSAPP_RESPONSE_H
#define WHATSAPP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/events.h>

#include "channel.h"

/* What to do after an attempt that did not end in "sent". The published
 * status follows from it (whatsapp_verdict_status): the classes that are
 * not final publish "error", the final ones "failed". */
enum whatsapp_verdict {
	WHATSAPP_PERMANENT = 0, /* another attempt cannot succeed */
	WHATSAPP_RETRY = 1,     /* may succeed later, on the engine's backoff */
	WHATSAPP_PAIR_LIMIT,    /* 131056: this recipient too often; retry it
				 * after whatsapp_pair_backoff_ms, others are
				 * unaffected */
	WHATSAPP_SPAM_LIMIT,    /* 131048: stop; final, since every retry
				 * would deepen the block */
	WHATSAPP_OPERATOR,      /* permanent until the operator fixes the token
				 * or permissions: alert them */
	WHATSAPP_UNKNOWN,       /* the message may have gone out: do not resend
				 * blindly, let the status webhook settle it */
};

/* Decides on the provider's error.code (not on the HTTP status, as Meta
 * asks), from one table of code ranges; http_status only settles codes the
 * table does not know: 429 and 5xx retry, anything else (unknown 4xx
 * codes included) is permanent. */
enum whatsapp_verdict whatsapp_classify(long code, long http_status);

/* An HTTP answer without a usable error object: 429 and 5xx retry, a 2xx we
 * could not read is WHATSAPP_UNKNOWN (Meta may have accepted the message),
 * anything else is permanent. */
enum whatsapp_verdict whatsapp_classify_http(long http_status);

/* An attempt without an HTTP answer, by the code whatsapp_response_transport
 * got: "timeout" (after the request was sent) and "bad_response" (an
 * answer we would not read) are WHATSAPP_UNKNOWN; "network", "internal"
 * and anything else (nothing reached Meta) retry. NULL retries. */
enum whatsapp_verdict whatsapp_classify_transport(const char *code);

/* "error" for the verdicts that may still send (RETRY, PAIR_LIMIT, UNKNOWN),
 * "failed" for the final ones. Never NULL. */
const char *whatsapp_verdict_status(enum whatsapp_verdict v);

/* True for the codes an operator must fix (bad token, missing permission,
 * policy block, locked account): every message will fail until then, so
 * they are logged as errors. Same as whatsapp_classify(code, 0) ==
 * WHATSAPP_OPERATOR. */
bool whatsapp_code_needs_operator(long code);

/* The longest wait whatsapp_pair_backoff_ms returns: one hour, in ms. The
 * usual retries use the channel engine's channel_backoff_ms. */
#define WHATSAPP_BACKOFF_CAP_MS CHANNEL_BACKOFF_CAP_MS

/* Wait before retrying a recipient that hit the pair rate limit (131056):
 * 4^attempt seconds, in ms (4000, 16000, 64000...), capped at
 * WHATSAPP_BACKOFF_CAP_MS. attempt < 1 counts as 1. */
unsigned whatsapp_pair_backoff_ms(int attempt);

/* Fills out->status, provider_message_id, error_code and error_text from an
 * HTTP answer (the caller fills the envelope, ids, attempt and channel):
 *   2xx with messages[0].id        -> "sent", the wamid
 *   an error object with a code    -> whatsapp_verdict_status of
 *                                     whatsapp_classify(code); error_code
 *                                     is the code as text, error_text the
 *                                     message and error_data.details, with
 *                                     numbers redacted (see below)
 *   anything else                  -> whatsapp_verdict_status of
 *                                     whatsapp_classify_http(status) ("error"
 *                                     for 2xx, 429, 5xx, else "failed"),
 *                                     error_code "http_<status>" or
 *                                     "bad_response" for a 2xx
 * Texts too long for their buffers are truncated.
 * Returns 0 when the answer was understood (sent or a provider error), and
 * KERYU_EINVAL when it was not (out then holds the result above). */
int whatsapp_response_parse(long http_status, const char *body, size_t len,
			    struct keryu_delivery_event *out);

/* Fills out for an attempt that got no HTTP answer: status "error" (no
 * whatsapp_classify_transport verdict is final), error_code code
 * ("network", "timeout"...), error_text text (may be NULL, numbers
 * redacted as below). */
void whatsapp_response_transport(const char *code, const char *text,
				 struct keryu_delivery_event *out);

/* Copies src (NULL: "") into dst, of size bytes with the NUL (truncating),
 * with every number of 6 or more digits replaced by "[number]": provider
 * texts can quote the recipient's phone, and results are published where
 * watchers may read them. A number may start with '+' and hold single
 * spaces, dashes, dots or parentheses between its digits ("+1 (650)
 * 555-1234"); "#131026", Graph's way of quoting an error code, is kept. */
void whatsapp_redact_numbers(const char *src, char *dst, size_t size);

/* The channel engine's parse hook: whatsapp_response_parse's result, and
 * the verdict that goes with it: "sent" -> CHANNEL_SENT; WHATSAPP_RETRY ->
 * CHANNEL_RETRY; WHATSAPP_PAIR_LIMIT -> CHANNEL_RETRY_AFTER for
 * whatsapp_pair_backoff_ms(attempt); WHATSAPP_UNKNOWN -> CHANNEL_UNKNOWN;
 * WHATSAPP_OPERATOR -> CHANNEL_OPERATOR; WHATSAPP_SPAM_LIMIT and
 * WHATSAPP_PERMANENT -> CHANNEL_PERMANENT. Fills every field of out it
 * uses (result.status included, which the engine overwrites). */
void whatsapp_response_answer(long http_status, const char *body, size_t len,
			      int attempt, struct channel_answer *out);

#endif
