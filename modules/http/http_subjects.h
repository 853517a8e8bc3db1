/* Shared by the subjects pages (http_subjects.c, http_subject_form.c,
 * http_photo.c, http_contacts.c). Every call to the subjects service
 * passes the session's custodian id: what is not theirs is a 404. */
#ifndef KERYU_HTTP_SUBJECTS_H
#define KERYU_HTTP_SUBJECTS_H

#include <stdbool.h>

#include "html_form.h"
#include "http_account.h"
#include "http_module.h"

#define HTTP_SUBJECTS_PER_PAGE 50

/* ---- http_subjects.c ---- */
/* True when the subjects service is there; otherwise r is a 503 page. */
bool http_subjects_ready(struct http_page *p);
/* r becomes the 404 page (also for a foreign id: the two look alike). */
void http_subject_not_found(struct http_page *p);
/* Answers a failed service call: 404 for KERYU_ENOTFOUND, 503 for the
 * rest (logged under event with the error, nothing personal). */
void http_subject_fail(struct http_page *p, const char *event, int rc);
/* Loads the custodian's subject named by p->arg[0]. False after making r
 * the answer (404 for an id that is not a UUID or not theirs, 503). */
bool http_subject_load(struct http_page *p, struct keryu_subject *out);
/* "/subjects/<id>/<rest>" into out. */
void http_subject_path(char out[128], const char *id, const char *rest);
/* <dt>term</dt><dd>value</dd>, "Not given" for ""; multi-line text keeps
 * its line breaks. */
void http_dl_row(struct html *h, const char *term, const char *value);
/* The dl rows of a subject's details as the custodian entered them (date
 * of birth, gender, care, medical and doctor's fields), one http_dl_row
 * each; the caller writes <dl> around them. The staff subject page
 * (http_admin_records.c) shows the same rows. */
void http_subject_fields(struct html *h, const struct keryu_subject *s);
/* One <li> per contact: the name, escaped, and "(not verified yet)" when
 * so; the caller writes the list around them. */
void http_contact_items(struct html *h, const struct keryu_contact *list,
			size_t n);

/* ---- http_subject_form.c ---- */
/* Messages made for one form (html_errors keeps pointers, not copies). */
struct http_msgs {
	char m[HTML_ERRORS_MAX][200];
	int n;
};

enum http_text_problem {
	HTTP_TEXT_OK = 0,
	HTTP_TEXT_EMPTY, /* required and blank */
	HTTP_TEXT_LONG,  /* over max bytes */
	HTTP_TEXT_LINES, /* a line break in a one-line field */
	HTTP_TEXT_CHARS, /* control characters or malformed UTF-8 */
};

/* Reads and checks every field of the subject form into s (fields the
 * form has not are left as they are). False after adding one error per
 * bad field (messages kept in msgs); s is then not to be saved. */
bool http_subject_read(const struct http_page *p, struct keryu_subject *s,
		       struct html_errors *e, struct http_msgs *msgs);
/* The subject form posting to action: values from the POST when
 * from_post (so what was typed is refilled, escaped), else from s. */
void http_subject_form(struct http_page *p, const char *action,
		       const struct keryu_subject *s, bool from_post,
		       const struct html_errors *e, const char *submit);
/* Copies in into out (size bytes) without leading and trailing white
 * space, at most max bytes; when multiline "\r\n" and "\r" become "\n",
 * otherwise a line break is refused and a tab becomes a space. out is ""
 * unless the result is HTTP_TEXT_OK. */
enum http_text_problem http_text_read(const char *in, char *out,
				      size_t size, size_t max, bool multiline,
				      bool required);
/* The message for a problem with the field labelled label, kept in b;
 * NULL for HTTP_TEXT_OK. */
const char *http_text_message(struct http_msgs *b,
			      enum http_text_problem why, const char *label,
			      size_t max);

/* One <select>: options are value/label pairs ending with NULL. */
struct http_select {
	const char *name, *label, *hint, *value, *error;
	const char *const *options; /* value, label, value, label, ..., NULL */
};
void http_select(struct html *h, const struct http_select *s);
/* A labelled checkbox sending name=1 when ticked; error NULL when fine. */
void http_checkbox(struct html *h, const char *name, const char *label,
		   const char *hint, bool checked, const char *error);

/* ---- http_photo.c ---- */
/* True for a stored photo name: 32 lower-case hex digits, ".jpg" or
 * ".png". Nothing else is ever opened or removed. */
bool http_photo_name_valid(const char *name);
/* Answers r with the photo file name from the photo folder (its type
 * from the name, never cached). Returns 0, KERYU_ENOTFOUND (no such valid
 * name or file), KERYU_ENOMEM or KERYU_EIO (r untouched then). */
int http_photo_read(struct http_ctx *ctx, const char *name,
		    struct http_response *r);
/* Removes the stored photo name (a valid one; "" does nothing). Logs a
 * failure other than "already gone". */
void http_photo_remove(struct http_ctx *ctx, const char *name);
/* "image/jpeg", "image/png" or NULL when the bytes are neither. */
const char *http_photo_type(const unsigned char *data, size_t len);

#endif
