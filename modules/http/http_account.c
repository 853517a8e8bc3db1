/* The custodian's account pages: landing, sign up, phone verification,
 * log in, log out and the account overview. The router has already
 * loaded the session, checked the CSRF token of every POST and sent
 * visitors of login-only pages to the login form. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http_account.h"

#define CODE_WINDOW_S 900
#define SIGNUP_WINDOW_S 3600

bool http_is_post(const struct http_page *p)
{
	return p->req->method && strcmp(p->req->method, "POST") == 0;
}

const char *http_field(const struct http_page *p, const char *name)
{
	const char *v = http_form_get(p->req->form, name);

	return v ? v : "";
}

const char *http_query(const struct http_page *p, const char *name)
{
	const char *v = http_form_get(p->req->query, name);

	return v ? v : "";
}

void http_unavailable(struct http_page *p)
{
	http_page_error(p->r, 503, "Temporarily unavailable",
			"This page cannot be used right now. Please try again "
			"in a few minutes.");
	p->r->no_store = true;
}

/* Every password-hashing slot stayed taken: 503 at once rather than
 * queue on an MHD thread. */
static void http_busy(struct http_page *p)
{
	http_page_error(p->r, 503, "Busy",
			"The server is busy. Please try again in a moment.");
	p->r->no_store = true;
	p->r->retry_after = 2;
}

bool http_form_page(struct http_page *p, const char *title, unsigned status)
{
	if (http_session_ensure(p->ctx, p->s, p->r) != 0) {
		http_unavailable(p);
		return false;
	}
	p->r->status = status;
	p->r->no_store = true;
	http_layout_begin(&p->r->body, title, p->s);
	return true;
}

void http_notice(struct html *h, const char *text)
{
	html_raw(h, "<p class=\"notice\" role=\"status\">");
	html_text(h, text);
	html_raw(h, "</p>\n");
}

bool http_trim_copy(const char *s, char *out, size_t size)
{
	size_t n;

	while (*s && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= size)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

const char *http_email_normalise(const char *in, char out[255])
{
	const char *at;
	size_t i;

	if (!http_trim_copy(in, out, 255))
		return "The email address is too long.";
	if (!out[0])
		return "Enter your email address.";
	for (i = 0; out[i]; i++) {
		unsigned char c = (unsigned char)out[i];

		if (c <= 0x20 || c == 0x7f)
			return "The email address cannot contain spaces.";
		out[i] = (char)tolower(c);
	}
	at = strchr(out, '@');
	if (!at || at == out || !at[1] || strchr(at + 1, '@'))
		return "Enter an email address like name@example.org.";
	return NULL;
}

const char *http_password_problem(const char *pw)
{
	size_t n = strlen(pw);

	if (n == 0)
		return "Enter a password.";
	if (n < 10)
		return "The password must be at least 10 characters long.";
	if (n > 128)
		return "The password must be at most 128 characters long.";
	return NULL;
}

const char *http_phone_normalise(const char *in, char out[32])
{
	size_t o = 0;

	for (; *in; in++) {
		if (strchr(" -.()\t", *in))
			continue;
		if (o + 1 >= 32)
			return "This is not a valid phone number.";
		out[o++] = *in;
	}
	out[o] = '\0';
	if (!o)
		return "Enter your WhatsApp phone number.";
	if (out[0] != '+')
		return "Start the number with + and the country code.";
	if (!keryu_e164_valid(out))
		return "This is not a valid phone number.";
	return NULL;
}

static const char *name_problem(const char *name)
{
	char copy[128];
	const unsigned char *c;

	if (!name[0])
		return "Enter your name.";
	if (strlen(name) > 100)
		return "The name must be at most 100 characters long.";
	keryu_utf8_copy(copy, sizeof(copy), name);
	if (strcmp(copy, name) != 0)
		return "The name contains characters that are not allowed.";
	for (c = (const unsigned char *)name; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return "The name contains characters that are not "
			       "allowed.";
	return NULL;
}

/* ---- landing ---- */

void http_landing(struct http_page *p)
{
	struct html *h = &p->r->body;

	if (p->s->logged_in) {
		http_redirect(p->r, "/dashboard/");
		return;
	}
	p->r->status = 200;
	p->r->no_store = true;
	http_layout_begin(h, "Keryu", p->s);
	html_raw(h, "<p>Keryu tells you at once when someone scans the QR tag "
		    "of a person you look after.</p>\n"
		    "<p><a href=\"/account/login\">Log in</a> or "
		    "<a href=\"/account/signup\">create an account</a>.</p>\n");
	http_layout_end(h);
}

/* ---- sign up ---- */

static void signup_form(struct http_page *p, const struct html_errors *e,
			unsigned status)
{
	struct html *h = &p->r->body;

	if (!http_form_page(p, "Create your account", status))
		return;
	html_error_summary(h, e);
	html_form_begin(h, "/account/signup", p->s->row.csrf);
	html_input(h, &(struct html_field){
			      .name = "name", .label = "Your name",
			      .value = http_field(p, "name"),
			      .error = html_errors_for(e, "name"),
			      .autocomplete = "name"});
	html_input(h, &(struct html_field){
			      .name = "email", .label = "Email", .type = "email",
			      .value = http_field(p, "email"),
			      .error = html_errors_for(e, "email"),
			      .autocomplete = "email"});
	html_input(h, &(struct html_field){
			      .name = "phone", .label = "WhatsApp phone number",
			      .type = "tel", .value = http_field(p, "phone"),
			      .error = html_errors_for(e, "phone"),
			      .hint = "With the country code, e.g. +1 650 555 "
				      "1234. Alerts go to this number.",
			      .autocomplete = "tel"});
	html_input(h, &(struct html_field){
			      .name = "password", .label = "Password",
			      .type = "password",
			      .error = html_errors_for(e, "password"),
			      .hint = "10 to 128 characters.",
			      .autocomplete = "new-password"});
	html_input(h, &(struct html_field){
			      .name = "password2", .label = "Password again",
			      .type = "password",
			      .error = html_errors_for(e, "password2"),
			      .autocomplete = "new-password"});
	html_form_end(h, "Create account");
	html_raw(h, "<p class=\"small\">Already have an account? "
		    "<a href=\"/account/login\">Log in</a>.</p>\n");
	http_layout_end(h);
}

void http_signup(struct http_page *p)
{
	struct http_ctx *ctx = p->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	struct html_errors e = {0};
	char name[128], email[255], phone[32], hash[128];
	const char *pw = http_field(p, "password"), *why;
	struct keryu_custodian c;
	int rc;

	if (!http_is_post(p)) {
		if (p->s->logged_in) {
			http_redirect(p->r, "/account/");
			return;
		}
		signup_form(p, &e, 200);
		return;
	}
	if (!http_rate_ok(ctx, "signup", "ip", p->req->client_ip,
			  SIGNUP_WINDOW_S, 10, p->r))
		return;

	if (!http_trim_copy(http_field(p, "name"), name, sizeof(name)))
		html_errors_add(&e, "name", "The name must be at most 100 "
					    "characters long.");
	else if ((why = name_problem(name)) != NULL)
		html_errors_add(&e, "name", why);
	if ((why = http_email_normalise(http_field(p, "email"), email)))
		html_errors_add(&e, "email", why);
	if ((why = http_phone_normalise(http_field(p, "phone"), phone)))
		html_errors_add(&e, "phone", why);
	if ((why = http_password_problem(pw)))
		html_errors_add(&e, "password", why);
	else if (strcmp(pw, http_field(p, "password2")) != 0)
		html_errors_add(&e, "password2", "The two passwords differ.");
	if (e.n) {
		signup_form(p, &e, 400);
		return;
	}

	if ((rc = http_pwhash(ctx, pw, hash)) != 0) {
		if (rc == KERYU_ETIMEDOUT)
			http_busy(p);
		else
			http_unavailable(p);
		return;
	}
	memset(&c, 0, sizeof(c));
	rc = a->custodian_create(a->self, email, name, phone, hash, &c);
	sodium_memzero(hash, sizeof(hash));
	if (rc == KERYU_ECONFLICT) {
		html_errors_add(&e, "email", "An account with this email "
					     "already exists. Log in instead.");
		signup_form(p, &e, 400);
		return;
	}
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.signup",
			       "error=\"%s\"", keryu_strerror(rc));
		if (rc == KERYU_EINVAL) {
			html_errors_add(&e, NULL, "These details were not "
						  "accepted. Please check "
						  "them.");
			signup_form(p, &e, 400);
		} else {
			http_unavailable(p);
		}
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.signup", "custodian=%s",
		       c.id);
	if (http_session_start(ctx, p->s, &c, p->r) != 0) {
		http_redirect(p->r, "/account/login");
		return;
	}
	rc = http_code_send(ctx, c.id, KERYU_CODE_PHONE);
	http_redirect(p->r, rc == 0 ? "/account/verify?sent=1"
				    : "/account/verify?sent=0");
}

/* ---- phone verification ---- */

static void verify_form(struct http_page *p, const struct html_errors *e,
			const char *notice, unsigned status)
{
	struct html *h = &p->r->body;

	if (!http_form_page(p, "Verify your phone", status))
		return;
	if (p->s->who.phone_verified) {
		http_notice(h, "Your phone number is verified.");
		html_raw(h, "<p><a href=\"/account/\">Back to your account"
			    "</a></p>\n");
		http_layout_end(h);
		return;
	}
	if (notice)
		http_notice(h, notice);
	html_error_summary(h, e);
	html_raw(h, "<p>We send a 6-digit code by WhatsApp to ");
	html_text(h, p->s->who.phone);
	html_raw(h, ". Enter it here to confirm the number is yours.</p>\n");
	html_form_begin(h, "/account/verify", p->s->row.csrf);
	html_input(h, &(struct html_field){
			      .name = "code", .label = "Code",
			      .error = html_errors_for(e, "code"),
			      .autocomplete = "one-time-code",
			      .inputmode = "numeric"});
	html_form_end(h, "Verify");
	html_form_begin(h, "/account/verify/resend", p->s->row.csrf);
	html_raw(h, "<p class=\"small\">No code, or did it expire?</p>\n");
	html_form_end(h, "Send a new code");
	http_layout_end(h);
}

/* "123 456" -> "123456"; false unless exactly 6 digits remain. */
static bool code_normalise(const char *in, char out[8])
{
	size_t o = 0;

	for (; *in; in++) {
		if (*in == ' ' || *in == '-')
			continue;
		if (*in < '0' || *in > '9' || o == 6)
			return false;
		out[o++] = *in;
	}
	out[o] = '\0';
	return o == 6;
}

const char *http_code_message(enum keryu_code_check res)
{
	switch (res) {
	case KERYU_CODE_OK: return NULL;
	case KERYU_CODE_WRONG:
		return "That code is not right. Check the message and try "
		       "again.";
	case KERYU_CODE_EXPIRED:
		return "That code has expired or was already used. Ask for a "
		       "new one.";
	case KERYU_CODE_TOO_MANY:
		return "Too many wrong tries: that code no longer works. Ask "
		       "for a new one.";
	}
	return "That code is not right.";
}

bool http_code_read(const struct http_page *p, char code[8],
		    struct html_errors *e)
{
	if (code_normalise(http_field(p, "code"), code))
		return true;
	html_errors_add(e, "code", "Enter the 6 digits of the code.");
	return false;
}

void http_verify(struct http_page *p)
{
	struct http_ctx *ctx = p->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	struct html_errors e = {0};
	enum keryu_code_check res = KERYU_CODE_WRONG;
	char code[8], hash[KERYU_HASH_HEX];
	const char *sent = http_query(p, "sent");
	int rc;

	if (!http_is_post(p)) {
		verify_form(p, &e,
			    strcmp(sent, "1") == 0
				    ? "We sent you a code by WhatsApp."
			    : strcmp(sent, "0") == 0
				    ? "We could not send a code just now. "
				      "Please ask for a new one in a minute."
				    : NULL,
			    200);
		return;
	}
	if (p->s->who.phone_verified) {
		http_redirect(p->r, "/account/");
		return;
	}
	if (!http_rate_ok(ctx, "code", "ip", p->req->client_ip, CODE_WINDOW_S,
			  30, p->r) ||
	    !http_rate_ok(ctx, "code", "acct", p->s->who.email, CODE_WINDOW_S,
			  10, p->r))
		return;
	if (!http_code_read(p, code, &e)) {
		verify_form(p, &e, NULL, 400);
		return;
	}
	http_code_hash(ctx, code, hash);
	sodium_memzero(code, sizeof(code));
	rc = a->code_check(a->self, p->s->who.id, KERYU_CODE_PHONE, NULL, hash,
			   &res);
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.verify",
			       "custodian=%s error=\"%s\"", p->s->who.id,
			       keryu_strerror(rc));
		http_unavailable(p);
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.verify",
		       "custodian=%s result=%d", p->s->who.id, (int)res);
	if (res == KERYU_CODE_OK) {
		http_redirect(p->r, "/account/?notice=verified");
		return;
	}
	html_errors_add(&e, "code", http_code_message(res));
	verify_form(p, &e, NULL, 400);
}

void http_verify_resend(struct http_page *p)
{
	struct html_errors e = {0};
	int rc;

	if (p->s->who.phone_verified) {
		http_redirect(p->r, "/account/");
		return;
	}
	rc = http_code_send(p->ctx, p->s->who.id, KERYU_CODE_PHONE);
	if (rc == 0) {
		http_redirect(p->r, "/account/verify?sent=1");
		return;
	}
	html_errors_add(&e, NULL,
			rc == KERYU_ECONFLICT
				? "A code was sent less than a minute ago. "
				  "Please wait a minute before asking for "
				  "another."
				: "We could not send a code just now. Please "
				  "try again in a minute.");
	verify_form(p, &e, NULL, rc == KERYU_ECONFLICT ? 429 : 503);
	if (rc == KERYU_ECONFLICT)
		p->r->retry_after = 60;
}

/* ---- log in, log out ---- */

static void login_form(struct http_page *p, const struct html_errors *e,
		       const char *email, unsigned status)
{
	struct html *h = &p->r->body;
	const char *notice = http_query(p, "notice");
	const char *next = http_is_post(p) ? http_field(p, "next")
					   : http_query(p, "next");

	if (!http_form_page(p, "Log in", status))
		return;
	if (strcmp(notice, "logged_out") == 0)
		http_notice(h, "You are logged out.");
	else if (strcmp(notice, "reset") == 0)
		http_notice(h, "Your password was changed. Log in with the "
			       "new one.");
	html_error_summary(h, e);
	html_form_begin(h, "/account/login", p->s->row.csrf);
	if (http_next_valid(next))
		html_hidden(h, "next", next);
	html_input(h, &(struct html_field){
			      .name = "email", .label = "Email", .type = "email",
			      .value = email, .autocomplete = "username"});
	html_input(h, &(struct html_field){
			      .name = "password", .label = "Password",
			      .type = "password",
			      .autocomplete = "current-password"});
	html_form_end(h, "Log in");
	html_raw(h, "<p class=\"small\"><a href=\"/account/reset\">Forgot your "
		    "password?</a> &middot; <a href=\"/account/signup\">Create "
		    "an account</a></p>\n");
	http_layout_end(h);
}

/* Failures allowed per login window (http_account.h says why only
 * failures): 5 per email and client address, 50 per email from anywhere,
 * 30 per client address. */
#define LOGIN_FAIL_ACCT_IP 5
#define LOGIN_FAIL_ACCT 50
#define LOGIN_FAIL_IP 30

static void login_key_make(struct http_ctx *ctx, struct http_login_key *k,
			   const char *kind, int max, const char *subject)
{
	char hash[KERYU_HASH_HEX];

	/* IPs and emails become keys only as HMACs under the secret key */
	http_hmac_hex(ctx, subject, hash);
	k->kind = kind;
	k->max = max;
	snprintf(k->key, sizeof(k->key), "loginfail:%s:%s", kind, hash);
}

void http_login_keys(struct http_ctx *ctx, const char *email, const char *ip,
		     struct http_login_key keys[HTTP_LOGIN_KEYS])
{
	char acct_ip[320];

	snprintf(acct_ip, sizeof(acct_ip), "%s\n%s", email, ip);
	login_key_make(ctx, &keys[0], "ip", LOGIN_FAIL_IP, ip);
	login_key_make(ctx, &keys[1], "acctip", LOGIN_FAIL_ACCT_IP, acct_ip);
	login_key_make(ctx, &keys[2], "acct", LOGIN_FAIL_ACCT, email);
}

int http_login_blocked(struct http_ctx *ctx,
		       const struct http_login_key keys[HTTP_LOGIN_KEYS],
		       const char *source)
{
	size_t i;

	for (i = 0; i < HTTP_LOGIN_KEYS; i++) {
		int left = http_blocked(ctx, keys[i].key);

		if (left) {
			ctx->host->log(ctx->m, KERYU_LOG_WARN,
				       "http.rate_limited",
				       "what=loginfail kind=%s source=%s",
				       keys[i].kind, source);
			return left;
		}
	}
	return 0;
}

int http_login_retry_after(void)
{
	return HTTP_LOGIN_WINDOW_S -
	       (int)(time(NULL) % HTTP_LOGIN_WINDOW_S);
}

/* Seconds until key's block ends, 0 when it is not blocked. */
int http_blocked(struct http_ctx *ctx, const char *key)
{
	long long now = (long long)time(NULL);
	int left = 0;
	size_t i;

	pthread_mutex_lock(&ctx->block_lock);
	for (i = 0; i < HTTP_BLOCKS_MAX; i++) {
		struct http_block *b = &ctx->blocks[i];

		if (b->until > now && strcmp(b->key, key) == 0) {
			left = (int)(b->until - now);
			break;
		}
	}
	pthread_mutex_unlock(&ctx->block_lock);
	return left;
}

void http_block_set(struct http_ctx *ctx, const char *key, long long until)
{
	long long now = (long long)time(NULL);
	struct http_block *slot = NULL;
	size_t i;

	pthread_mutex_lock(&ctx->block_lock);
	for (i = 0; i < HTTP_BLOCKS_MAX; i++) {
		struct http_block *b = &ctx->blocks[i];

		if (b->until > now && strcmp(b->key, key) == 0) {
			slot = b;
			break;
		}
		/* a free or expired slot, else the one ending soonest */
		if (!slot || (slot->until > now && b->until < slot->until))
			slot = b;
	}
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->until = until;
	pthread_mutex_unlock(&ctx->block_lock);
}

static void login_limited(struct http_page *p, int retry_after)
{
	http_page_error(p->r, 429, "Too many attempts",
			"Please wait a while before trying again.");
	p->r->no_store = true;
	p->r->retry_after = retry_after > 0 ? retry_after : 1;
}

bool http_login_failed(struct http_ctx *ctx,
		       const struct http_login_key keys[HTTP_LOGIN_KEYS])
{
	const struct keryu_accounts *a = ctx->accounts;
	long long now = (long long)time(NULL);
	long long until = now - now % HTTP_LOGIN_WINDOW_S + HTTP_LOGIN_WINDOW_S;
	bool limited = false;
	size_t i;

	for (i = 0; i < HTTP_LOGIN_KEYS; i++) {
		bool allowed = true;
		/* the n-th failure is the last one allowed */
		int rc = a->rate_hit(a->self, keys[i].key, HTTP_LOGIN_WINDOW_S,
				     keys[i].max - 1, &allowed);

		if (rc) {
			ctx->host->log(ctx->m, KERYU_LOG_ERROR,
				       "http.rate_limit",
				       "what=loginfail kind=%s error=\"%s\"",
				       keys[i].kind, keryu_strerror(rc));
			continue;
		}
		if (!allowed) {
			ctx->host->log(ctx->m, KERYU_LOG_WARN,
				       "http.rate_limited",
				       "what=loginfail kind=%s", keys[i].kind);
			http_block_set(ctx, keys[i].key, until);
			limited = true;
		}
	}
	return limited;
}

/* The audit entry of a refused login: no actor (nobody logged in), the
 * address as typed (lower-cased; a malformed one too, cut to fit), the
 * account when there is one, and why, for the staff who read the log;
 * never the password. */
static void login_failed_audit(struct http_page *p, const char *email,
			       const struct keryu_custodian *c,
			       const char *why)
{
	char typed[255];
	size_t i;

	if (!email) {
		keryu_utf8_copy(typed, sizeof(typed), http_field(p, "email"));
		for (i = 0; typed[i]; i++)
			typed[i] = (char)tolower((unsigned char)typed[i]);
		email = typed;
	}
	http_audit(p->ctx, p->req, "web", NULL, email, "login.failed",
		   c ? "custodian" : NULL, c ? c->id : NULL, "%s", why);
}

void http_login(struct http_page *p)
{
	struct http_ctx *ctx = p->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	struct html_errors e = {0};
	struct keryu_custodian c;
	struct http_login_key keys[HTTP_LOGIN_KEYS];
	char email[255];
	const char *pw = http_field(p, "password");
	const char *next = http_field(p, "next");
	const char *ip = p->req->client_ip ? p->req->client_ip : "";
	bool email_ok, found = false, ok;
	int rc, left;

	if (!http_is_post(p)) {
		login_form(p, &e, "", 200);
		return;
	}
	email_ok = http_email_normalise(http_field(p, "email"), email) == NULL;
	if (!email_ok)
		email[0] = '\0';
	http_login_keys(ctx, email, ip, keys);
	left = http_login_blocked(ctx, keys, "web");
	if (left) {
		login_limited(p, left);
		return;
	}
	memset(&c, 0, sizeof(c));
	if (email_ok) {
		rc = a->custodian_by_email(a->self, email, &c);
		if (rc && rc != KERYU_ENOTFOUND) {
			http_unavailable(p);
			return;
		}
		found = rc == 0;
	}
	/* the same work whether or not the account exists */
	if (http_pwhash_check(ctx, found ? c.password_hash : NULL, pw, &ok)) {
		http_busy(p); /* not a failure: nothing was checked */
		return;
	}
	if (!(ok && found && c.is_active)) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.login",
			       "result=refused");
		login_failed_audit(p, email_ok ? email : NULL,
				   found ? &c : NULL,
				   !found ? "unknown email"
				   : !ok  ? "wrong password"
					  : "inactive account");
		if (http_login_failed(ctx, keys)) {
			login_limited(p, http_login_retry_after());
			return;
		}
		html_errors_add(&e, NULL, "The email or password is wrong.");
		login_form(p, &e, http_field(p, "email"), 400);
		return;
	}
	if (http_session_start(ctx, p->s, &c, p->r) != 0) {
		http_unavailable(p);
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.login",
		       "result=ok custodian=%s", c.id);
	http_audit(ctx, p->req, "web", &c, NULL, "login", "custodian", c.id,
		   NULL);
	http_redirect(p->r, http_next_valid(next) ? next : "/dashboard/");
}

void http_logout(struct http_page *p)
{
	if (p->s->logged_in) {
		p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.logout",
				  "custodian=%s", p->s->who.id);
		http_audit(p->ctx, p->req, "web", &p->s->who, NULL, "logout",
			   "custodian", p->s->who.id, NULL);
	}
	if (http_session_end(p->ctx, p->s, p->r) != 0) {
		http_unavailable(p);
		p->r->set_cookie[0] = '\0';
		return;
	}
	http_redirect(p->r, "/account/login?notice=logged_out");
}

/* ---- the account overview ---- */

static void row(struct html *h, const char *term, const char *value)
{
	html_raw(h, "<dt>");
	html_text(h, term);
	html_raw(h, "</dt><dd>");
	html_text(h, value);
	html_raw(h, "</dd>\n");
}

void http_account_home(struct http_page *p)
{
	const struct keryu_custodian *c = &p->s->who;
	const char *notice = http_query(p, "notice");
	struct html *h = &p->r->body;

	if (!http_form_page(p, "Your account", 200))
		return;
	if (strcmp(notice, "verified") == 0)
		http_notice(h, "Your phone number is verified.");
	else if (strcmp(notice, "password") == 0)
		http_notice(h, "Your password was changed.");
	html_raw(h, "<dl>\n");
	row(h, "Name", c->name);
	row(h, "Email", c->email);
	row(h, "WhatsApp phone", c->phone);
	row(h, "Phone verified", c->phone_verified ? "Yes" : "Not yet");
	html_raw(h, "</dl>\n<ul>\n");
	if (!c->phone_verified)
		html_raw(h, "<li><a href=\"/account/verify\">Verify your "
			    "phone</a></li>\n");
	html_raw(h, "<li><a href=\"/account/password\">Change your "
		    "password</a></li>\n</ul>\n");
	http_layout_end(h);
}
