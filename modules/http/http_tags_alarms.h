/* Private to the http module: the custodian's QR tag, alarm and dashboard
 * pages (http_tags.c, http_alarms.c, http_dashboard.c) and the public
 * short-code redirect (http_short.c). Every call to the subjects service
 * passes the session's custodian id: a row of anyone else's is answered
 * with the same 404 page as a row that does not exist, by GET and POST
 * alike, and changes nothing. */
#ifndef KERYU_HTTP_TAGS_ALARMS_H
#define KERYU_HTTP_TAGS_ALARMS_H

#include <stdbool.h>

#include <keryu/subjects.h>

#include "html.h"
#include "html_form.h"
#include "http_module.h"

/* ---- http_tags.c ---- */
/* /subjects/<subject>/tags/... : arg[0] is the subject, arg[1] the tag. */
void http_tags_list(struct http_page *p);     /* GET  .../tags/ */
void http_tag_new(struct http_page *p);       /* POST .../tags/new */
void http_tag_activate(struct http_page *p);  /* POST .../tags/<t>/activate */
void http_tag_deactivate(struct http_page *p); /* POST .../deactivate */
void http_tag_png(struct http_page *p);       /* GET  .../tags/<t>/qr.png */
void http_tag_svg(struct http_page *p);       /* GET  .../tags/<t>/qr.svg */
void http_tag_print(struct http_page *p);     /* GET  .../tags/<t>/print */

/* ---- http_short.c ---- */
/* True when s is a short code: KERYU_SHORT_CODE_LEN - 1 characters of
 * KERYU_SHORT_CODE_ALPHABET in any case; out gets it upper-cased. */
bool http_short_code_parse(const char *s, char out[KERYU_SHORT_CODE_LEN]);
/* Draws a new short code from the alphabet (libsodium's uniform RNG). */
void http_short_code_new(char out[KERYU_SHORT_CODE_LEN]);
/* GET /t/<code>: 303 to the tag's scan page; 404 for an unknown or
 * malformed code. Needs no session. */
void http_short(struct http_ctx *ctx, const struct http_request *req,
		const char *code, struct http_response *r);
/* The public base URL without a trailing "/" (the [http] public_url). */
void http_public_base(const struct http_ctx *ctx, char *out, size_t size);

/* ---- http_alarms.c ---- */
void http_alarms_list(struct http_page *p);   /* GET  /alarms/ */
void http_alarm_detail(struct http_page *p);  /* GET  /alarms/<a>/ */
void http_alarm_resolve(struct http_page *p); /* POST /alarms/<a>/resolve */
/* POST /alarms/<a>/acknowledge: "I'm on my way" from the alarm page. */
void http_alarm_acknowledge(struct http_page *p);
/* Publishes an alarm event with state ("acknowledged", ...) on
 * keryu/v1/alarm/<alarm_id>, qos 1; subject_id may be "" (then left out).
 * Returns 0 or the error (logged: the change is already stored, only
 * listeners miss it). */
int http_alarm_event_publish(struct http_ctx *ctx, const char *alarm_id,
			     const char *subject_id, const char *state);
/* Also used by the staff alarm pages and lists (http_admin*.c), so the
 * two ask and show the same things the same way: */
/* <a href="href">text</a>, both escaped. */
void http_link(struct html *h, const char *href, const char *text);
/* Reads ?page= into *page (1 when absent). False, *page 1, after adding
 * "That page does not exist." to e for anything but a number from 1 to
 * the last page (page_size rows each) whose offset fits an int. */
bool http_page_arg(const struct http_page *p, int page_size, int *page,
		   struct html_errors *e);
/* Reads ?from= and ?to= (YYYY-MM-DD, a real day; "" no bound) into from
 * and to. Adds an error of field "from" or "to" for a bad one (left "")
 * and of "to" for an end before the start. */
void http_date_range(const struct http_page *p, char from[11], char to[11],
		     struct html_errors *e);
/* The two date inputs (from, to) of a filter form, refilled from the
 * query, escaped, with their errors from e. */
void http_date_inputs(struct http_page *p, const struct html_errors *e);
/* <option value="value">text</option>, escaped; selected when asked. */
void http_option(struct html *h, const char *value, const char *text,
		 bool selected);
/* The "State" select of an alarm filter (any, open, resolved) with state
 * chosen; error, when not NULL, shown next to it. */
void http_alarm_state_select(struct html *h, const char *state,
			     const char *error);
/* The Scanned and State rows (<dt>/<dd>) of an alarm's details. */
void http_alarm_state_rows(struct html *h,
			   const struct keryu_alarm_detail *a);
/* "Notifications" with the alarm's timeline, oldest first, as the list
 * #timeline: alarm-level steps (ESCALATED, FALLBACK, EXHAUSTED,
 * ACKNOWLEDGED, RETRIED) in plain words, delivery attempts with their
 * channel, the recipient's last digits and the provider's id and error.
 * Escaped. */
void http_alarm_timeline(struct html *h, const struct keryu_timeline_entry *tl,
			 size_t n);
/* "Resolve": a form posting to action with the session's CSRF token and
 * the notes textarea, refilled with notes and showing e's "notes"
 * error. */
void http_alarm_resolve_form(struct http_page *p, const char *action,
			     const char *notes, const struct html_errors *e);
/* NULL when resolution notes are acceptable (at most KERYU_TEXT_MAX - 1
 * bytes, valid UTF-8, no control characters but line breaks and tabs),
 * else the message for the form. clean is notes after keryu_utf8_copy
 * into a buffer as long: it differs when notes are not valid UTF-8. */
const char *http_alarm_notes_problem(const char *notes, const char *clean);

/* ---- http_dashboard.c ---- */
void http_dashboard(struct http_page *p);     /* GET  /dashboard/ */

/* ---- shared by the four (http_dashboard.c) ---- */
/* The 404 page every foreign or unknown id gets. */
void http_not_found(struct http_page *p);
/* A 503 page after logging the service error under event. */
void http_service_failed(struct http_page *p, const char *event, int rc);
/* True when s is a UUID; out gets it lower-cased. */
bool http_uuid_arg(const char *s, char out[KERYU_UUID_LEN]);
/* Writes an ISO time ("2026-11-25T12:34:56.789Z") as <time> with
 * "2026-11-25 12:34 UTC"; "" writes empty_text. Escaped. */
void http_time(struct html *h, const char *iso, const char *empty_text);
/* The subjects service, or NULL after making r a 503 page. */
const struct keryu_subjects *http_subjects(struct http_page *p);
/* True when have (a call of the service is there); otherwise makes r a
 * 503 page: a storage module older than the page lacks some calls. */
bool http_service_has(struct http_page *p, bool have);

#endif
