/* Shared by the account pages (http_account.c, http_account_password.c). */
#ifndef KERYU_HTTP_ACCOUNT_H
#define KERYU_HTTP_ACCOUNT_H

#include "html_form.h"
#include "http_module.h"

bool http_is_post(const struct http_page *p);
/* A POST field or query value; "" when absent (never NULL). */
const char *http_field(const struct http_page *p, const char *name);
const char *http_query(const struct http_page *p, const char *name);
/* r becomes a 503 page. */
void http_unavailable(struct http_page *p);
/* Starts a page with a form: makes sure a session (and so a CSRF token)
 * exists, sets status and no-store, writes the layout's head. False (with
 * a 503 page) when no session could be made. */
bool http_form_page(struct http_page *p, const char *title, unsigned status);
void http_notice(struct html *h, const char *text);
/* Trims and lower-cases an email into out. NULL when it is acceptable,
 * else the message to show. */
const char *http_email_normalise(const char *in, char out[255]);
/* Copies s without leading and trailing white space into out. False
 * when it does not fit (out is then unchanged). */
bool http_trim_copy(const char *s, char *out, size_t size);
/* Reads a phone as people type it ("+1 (650) 555-1234") into E.164 in
 * out. NULL when it is acceptable, else the message to show. */
const char *http_phone_normalise(const char *in, char out[32]);
/* NULL for a password of 10..128 bytes, else the message to show. */
const char *http_password_problem(const char *pw);
/* The message for a refused code (NULL for KERYU_CODE_OK). */
const char *http_code_message(enum keryu_code_check res);
/* Reads the form's "code" as 6 digits into code; false after adding an
 * error for field "code". */
bool http_code_read(const struct http_page *p, char code[8],
		    struct html_errors *e);

#endif
