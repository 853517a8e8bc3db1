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

/* Login limits count failed logins only, so that nobody can lock an
 * owner out by typing wrong passwords for their email: per client
 * address, per email and address, per email, in windows of
 * HTTP_LOGIN_WINDOW_S. The login page and the API's /auth/token share
 * the keys, so a client blocked on one is blocked on both. A key that
 * reached its limit is kept in ctx->blocks until its window ends (the
 * accounts service counts hits but cannot peek), and a login whose keys
 * are blocked is refused before any hashing. */
#define HTTP_LOGIN_WINDOW_S 900
#define HTTP_LOGIN_KEYS 3

struct http_login_key {
	const char *kind; /* "ip", "acctip", "acct" (static) */
	int max;          /* failures allowed per window */
	char key[HTTP_BLOCK_KEY]; /* "loginfail:<kind>:<HMAC(subject)>" */
};

/* The keys of a login by email (normalised; "" when malformed) from the
 * client address ip ("" when unknown). */
void http_login_keys(struct http_ctx *ctx, const char *email, const char *ip,
		     struct http_login_key keys[HTTP_LOGIN_KEYS]);
/* Seconds until the block of the first blocked key ends (logged with
 * source, "web" or "api"), 0 when none is blocked. */
int http_login_blocked(struct http_ctx *ctx,
		       const struct http_login_key keys[HTTP_LOGIN_KEYS],
		       const char *source);
/* Counts one failed login on each key; true when one reached its limit
 * (then blocked until its window ends). A service error is logged and
 * counts nothing: the login has failed anyway. */
bool http_login_failed(struct http_ctx *ctx,
		       const struct http_login_key keys[HTTP_LOGIN_KEYS]);
/* Seconds left in the current login window (the Retry-After of a
 * login refused for its limit). */
int http_login_retry_after(void);

#endif
