/* Changing the password (logged in) and resetting it with a code sent to
 * the verified phone (logged out). A reset never tells whether an email
 * has an account: the page after asking is the same either way. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "http_account.h"

#define CODE_WINDOW_S 900
#define RESET_WINDOW_S 3600

/* ---- change (logged in) ---- */

static void change_form(struct http_page *p, const struct html_errors *e,
			unsigned status)
{
	struct html *h = &p->r->body;

	if (!http_form_page(p, "Change your password", status))
		return;
	html_error_summary(h, e);
	html_form_begin(h, "/account/password", p->s->row.csrf);
	html_input(h, &(struct html_field){
			      .name = "current", .label = "Current password",
			      .type = "password",
			      .error = html_errors_for(e, "current"),
			      .autocomplete = "current-password"});
	html_input(h, &(struct html_field){
			      .name = "password", .label = "New password",
			      .type = "password",
			      .error = html_errors_for(e, "password"),
			      .hint = "10 to 128 characters.",
			      .autocomplete = "new-password"});
	html_input(h, &(struct html_field){
			      .name = "password2", .label = "New password again",
			      .type = "password",
			      .error = html_errors_for(e, "password2"),
			      .autocomplete = "new-password"});
	html_form_end(h, "Change password");
	html_raw(h, "<p class=\"small\">Your other sessions (other browsers "
		    "and devices) will be logged out.</p>\n");
	http_layout_end(h);
}

/* Checks the new password twice; adds errors to e. */
static void check_new(const struct http_page *p, struct html_errors *e)
{
	const char *pw = http_field(p, "password"), *why;

	if ((why = http_password_problem(pw)))
		html_errors_add(e, "password", why);
	else if (strcmp(pw, http_field(p, "password2")) != 0)
		html_errors_add(e, "password2", "The two passwords differ.");
}

void http_password_change(struct http_page *p)
{
	struct http_ctx *ctx = p->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	struct html_errors e = {0};
	char hash[128];
	int rc;

	if (!http_is_post(p)) {
		change_form(p, &e, 200);
		return;
	}
	/* guessing the current password is a login attempt */
	if (!http_rate_ok(ctx, "login", "acct", p->s->who.email, 900, 5, p->r))
		return;
	check_new(p, &e);
	if (!http_pwhash_verify(ctx, p->s->who.password_hash,
				http_field(p, "current")))
		html_errors_add(&e, "current", "The current password is wrong.");
	if (e.n) {
		change_form(p, &e, 400);
		return;
	}
	if (http_pwhash(ctx, http_field(p, "password"), hash) != 0) {
		http_unavailable(p);
		return;
	}
	rc = a->custodian_set_password(a->self, p->s->who.id, hash,
				       p->s->token_hash);
	sodium_memzero(hash, sizeof(hash));
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.password",
			       "custodian=%s error=\"%s\"", p->s->who.id,
			       keryu_strerror(rc));
		http_unavailable(p);
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.password",
		       "custodian=%s result=changed", p->s->who.id);
	http_audit(ctx, p->req, "web", &p->s->who, NULL, "password.change",
		   "custodian", p->s->who.id, "other sessions ended");
	http_redirect(p->r, "/account/?notice=password");
}

/* ---- reset (logged out) ---- */

static void confirm_form(struct http_page *p, const struct html_errors *e,
			 const char *email, bool asked, unsigned status)
{
	struct html *h = &p->r->body;

	if (!http_form_page(p, "Choose a new password", status))
		return;
	if (asked)
		http_notice(h, "If an account with a verified phone uses this "
			       "email, we have sent a 6-digit code to that "
			       "phone by WhatsApp.");
	html_error_summary(h, e);
	html_form_begin(h, "/account/reset/confirm", p->s->row.csrf);
	html_input(h, &(struct html_field){
			      .name = "email", .label = "Email", .type = "email",
			      .value = email,
			      .error = html_errors_for(e, "email"),
			      .autocomplete = "username"});
	html_input(h, &(struct html_field){
			      .name = "code", .label = "Code",
			      .error = html_errors_for(e, "code"),
			      .autocomplete = "one-time-code",
			      .inputmode = "numeric"});
	html_input(h, &(struct html_field){
			      .name = "password", .label = "New password",
			      .type = "password",
			      .error = html_errors_for(e, "password"),
			      .hint = "10 to 128 characters.",
			      .autocomplete = "new-password"});
	html_input(h, &(struct html_field){
			      .name = "password2", .label = "New password again",
			      .type = "password",
			      .error = html_errors_for(e, "password2"),
			      .autocomplete = "new-password"});
	html_form_end(h, "Set new password");
	http_layout_end(h);
}

static void reset_form(struct http_page *p, const struct html_errors *e,
		       unsigned status)
{
	struct html *h = &p->r->body;

	if (!http_form_page(p, "Reset your password", status))
		return;
	html_raw(h, "<p>We send a code by WhatsApp to the verified phone of "
		    "your account.</p>\n");
	html_error_summary(h, e);
	html_form_begin(h, "/account/reset", p->s->row.csrf);
	html_input(h, &(struct html_field){
			      .name = "email", .label = "Email", .type = "email",
			      .value = http_field(p, "email"),
			      .error = html_errors_for(e, "email"),
			      .autocomplete = "username"});
	html_form_end(h, "Send code");
	html_raw(h, "<p class=\"small\">Already have a code? <a "
		    "href=\"/account/reset/confirm\">Enter it</a>.</p>\n");
	http_layout_end(h);
}

void http_reset(struct http_page *p)
{
	struct http_ctx *ctx = p->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	struct html_errors e = {0};
	struct keryu_custodian c;
	char email[255];
	const char *why;
	int rc;

	if (!http_is_post(p)) {
		reset_form(p, &e, 200);
		return;
	}
	if (!http_rate_ok(ctx, "reset", "ip", p->req->client_ip,
			  RESET_WINDOW_S, 10, p->r))
		return;
	if ((why = http_email_normalise(http_field(p, "email"), email))) {
		html_errors_add(&e, "email", why);
		reset_form(p, &e, 400);
		return;
	}
	memset(&c, 0, sizeof(c));
	rc = a->custodian_by_email(a->self, email, &c);
	if (rc && rc != KERYU_ENOTFOUND) {
		http_unavailable(p);
		return;
	}
	if (rc == 0 && c.is_active && c.phone_verified)
		(void)http_code_send(ctx, c.id, KERYU_CODE_RESET);
	/* the same answer either way */
	confirm_form(p, &e, email, true, 200);
}

#define RESET_CODE_BAD                                                        \
	"That code is not right, or it has expired. Ask for a new one."

void http_reset_confirm(struct http_page *p)
{
	struct http_ctx *ctx = p->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	enum keryu_code_check res = KERYU_CODE_WRONG;
	struct html_errors e = {0};
	struct keryu_custodian c;
	char email[255], code[8], hash[KERYU_HASH_HEX], pwhash[128];
	const char *why;
	int rc;

	if (!http_is_post(p)) {
		confirm_form(p, &e, "", false, 200);
		return;
	}
	if (!http_rate_ok(ctx, "code", "ip", p->req->client_ip, CODE_WINDOW_S,
			  30, p->r))
		return;
	if ((why = http_email_normalise(http_field(p, "email"), email))) {
		html_errors_add(&e, "email", why);
		email[0] = '\0';
	}
	if (!http_rate_ok(ctx, "code", "acct", email, CODE_WINDOW_S, 10, p->r))
		return;
	(void)http_code_read(p, code, &e);
	check_new(p, &e);
	if (e.n) { /* no try of the code is spent on a typo elsewhere */
		confirm_form(p, &e, http_field(p, "email"), false, 400);
		return;
	}
	/* hashed before the code is checked: a right check spends the code,
	 * and a hash failing after it would have wasted it */
	if (http_pwhash(ctx, http_field(p, "password"), pwhash) != 0) {
		sodium_memzero(code, sizeof(code));
		http_unavailable(p);
		return;
	}
	memset(&c, 0, sizeof(c));
	rc = a->custodian_by_email(a->self, email, &c);
	if (rc == 0) {
		http_code_hash(ctx, code, hash);
		rc = a->code_check(a->self, c.id, KERYU_CODE_RESET, NULL, hash,
				   &res);
	} else if (rc == KERYU_ENOTFOUND) {
		rc = 0; /* told like any bad code: no account enumeration */
		res = KERYU_CODE_WRONG;
	}
	sodium_memzero(code, sizeof(code));
	if (rc || res != KERYU_CODE_OK)
		sodium_memzero(pwhash, sizeof(pwhash));
	if (rc) {
		http_unavailable(p);
		return;
	}
	if (res != KERYU_CODE_OK) {
		/* one answer for a wrong, spent or used-up code and an
		 * unknown email: which one it was would tell who has an
		 * account */
		html_errors_add(&e, "code", RESET_CODE_BAD);
		confirm_form(p, &e, http_field(p, "email"), false, 400);
		return;
	}
	rc = a->custodian_set_password(a->self, c.id, pwhash, NULL);
	sodium_memzero(pwhash, sizeof(pwhash));
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.reset",
			       "custodian=%s error=\"%s\"", c.id,
			       keryu_strerror(rc));
		http_unavailable(p);
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.reset",
		       "custodian=%s result=changed", c.id);
	/* the code sent to their phone proved who is acting */
	http_audit(ctx, p->req, "web", &c, NULL, "password.reset",
		   "custodian", c.id, "with a code; every session ended");
	http_redirect(p->r, "/account/login?notice=reset");
}
