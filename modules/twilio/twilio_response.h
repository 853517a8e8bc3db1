/* Reading a Twilio Messaging answer into a delivery result, and deciding
 * which errors are worth another attempt (providers.md). Pure functions. */
#ifndef TWILIO_RESPONSE_H
#define TWILIO_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/events.h>

/* What to do after an attempt that did not end in "sent". The published
 * status follows from it (twilio_verdict_status). */
enum twilio_verdict {
	TWILIO_PERMANENT = 0, /* another attempt cannot succeed */
	TWILIO_RETRY = 1,     /* may succeed later, after a backoff */
	TWILIO_OPERATOR,      /* permanent until the operator fixes the
			       * account SID or auth token: alert them */
	TWILIO_UNKNOWN,       /* the message may have gone out: do not resend
			       * blindly, let the status callback settle it */
};

/* Decides on Twilio's error code first (providers.md's table: 20003
 * operator; 21211, 21610, 63016 permanent; 20429 retry); a code the table
 * does not know is decided by http_status: 429 and 5xx retry, anything
 * else permanent. */
enum twilio_verdict twilio_classify(long code, long http_status);

/* An HTTP answer without a usable error object: 429 and 5xx retry, 401
 * is the operator's, a 2xx we could not read is TWILIO_UNKNOWN (Twilio may
 * have queued the message), anything else is permanent. */
enum twilio_verdict twilio_classify_http(long http_status);

/* "error" for the verdicts that may still send (RETRY, UNKNOWN), "failed"
 * for the final ones. Never NULL. */
const char *twilio_verdict_status(enum twilio_verdict v);

/* True for the codes an operator must fix (twilio_classify(code, 0) ==
 * TWILIO_OPERATOR): every message fails until then, so they are logged
 * as errors. */
bool twilio_code_needs_operator(long code);

/* Fills out->status, provider_message_id, error_code and error_text from
 * an HTTP answer and returns the verdict through *verdict (may be NULL;
 * for "sent" it is TWILIO_PERMANENT and means nothing). The caller fills
 * the envelope, ids, attempt, channel and retry_in_ms.
 *   2xx with a "sid" and error_code null -> "sent", the SM sid
 *   a JSON "code" (error object), or a
 *   2xx whose error_code is set          -> twilio_verdict_status of
 *                                           twilio_classify(code, status);
 *                                           error_code the code as text,
 *                                           error_text the message with
 *                                           numbers redacted
 *   anything else                        -> twilio_classify_http(status):
 *                                           error_code "http_<status>", or
 *                                           "bad_response" for a 2xx
 * Returns 0 when the answer was understood (sent or a Twilio error), and
 * KERYU_EINVAL when it was not (out then holds the result above). */
int twilio_response_parse(long http_status, const char *body, size_t len,
			  struct keryu_delivery_event *out,
			  enum twilio_verdict *verdict);

#endif
