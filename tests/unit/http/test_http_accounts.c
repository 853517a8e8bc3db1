/* Account pages without a socket: http_route() against the fake host and
 * fake storage/accounts services, with a one-cookie "browser". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define EVIL "<script>alert(1)</script>&\"'"
#define EVIL_ESCAPED                                                           \
	"&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"
#define PW "correct horse battery"
#define IP "192.0.2.7"

static struct http_ctx *ctx;
static struct http_response resp;
static char cookie[256]; /* "keryu_session=..." or "" */
static const char *client_ip = IP; /* what send() claims to come from */

static int setup_with(const char *public_url)
{
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	http_test_offer_services();
	fake_host_set_global("kernel", "secret_key", "unit-test-secret");
	if (public_url)
		fake_host_set("public_url", public_url);
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	cookie[0] = '\0';
	return 0;
}

static int setup(void **st)
{
	(void)st;
	return setup_with(NULL);
}

static int setup_https(void **st)
{
	(void)st;
	return setup_with("https://keryu.example");
}

static int teardown(void **st)
{
	(void)st;
	client_ip = IP;
	http_test_stop(&ctx, &resp);
	return 0;
}

/* Sends one request as the browser: path may carry "?query"; form is a
 * urlencoded body for POST. Keeps the cookie the server sets. */
static void send(const char *method, const char *url, const char *form_qs)
{
	struct http_test_url u;
	struct http_request req;

	http_test_request(&u, &req, method, url, form_qs);
	req.user_agent = "TestAgent/1.0";
	req.cookie = cookie[0] ? cookie : NULL;
	req.client_ip = client_ip;

	http_test_route(ctx, &req, &resp);
	assert_non_null(resp.body.buf);
	http_test_url_free(&u);

	if (resp.set_cookie[0]) {
		if (strstr(resp.set_cookie, "Max-Age=0"))
			cookie[0] = '\0';
		else
			snprintf(cookie, sizeof(cookie), "%.*s",
				 (int)strcspn(resp.set_cookie, ";"),
				 resp.set_cookie);
	}
}

static const char *body(void)
{
	return resp.body.buf;
}

/* The csrf value of the last page's first form. */
static const char *csrf(void)
{
	static char v[80];
	const char *p = strstr(body(), "name=\"csrf\" value=\"");

	assert_non_null(p);
	p += strlen("name=\"csrf\" value=\"");
	snprintf(v, sizeof(v), "%.*s", (int)strcspn(p, "\""), p);
	assert_int_equal(strlen(v), 64);
	return v;
}

/* GETs url, then POSTs fields (urlencoded, without csrf) to post_url with
 * the page's csrf. */
static void submit(const char *url, const char *post_url, const char *fields)
{
	char form[4096]; /* csrf + fields of up to 2048 */

	send("GET", url, NULL);
	assert_int_equal(resp.status, 200);
	snprintf(form, sizeof(form), "csrf=%s%s%s", csrf(),
		 fields && *fields ? "&" : "", fields ? fields : "");
	send("POST", post_url, form);
}

/* The code of the last delivery request published. */
static const char *last_code(void)
{
	static struct keryu_notify_event ev;
	const struct fake_pub *p = fake_host_pub(fake_host_pub_count() - 1);

	assert_non_null(p);
	assert_int_equal(keryu_notify_event_decode(p->payload, p->len, &ev), 0);
	assert_int_equal(ev.param_count, 1);
	return ev.params[0];
}

static void login_as(const char *email, const char *pw)
{
	char form[2048];

	snprintf(form, sizeof(form), "email=%s&password=%s", email, pw);
	submit("/account/login", "/account/login", form);
	assert_int_equal(resp.status, 303);
}

/* ---- plain data ---- */

static void cookie_parsing(void **st)
{
	char v[64];

	(void)st;
	assert_true(http_cookie_get("keryu_session=abc", "keryu_session", v,
				    sizeof(v)));
	assert_string_equal(v, "abc");
	assert_true(http_cookie_get("a=1; keryu_session=x-y_z ;b=2",
				    "keryu_session", v, sizeof(v)));
	assert_string_equal(v, "x-y_z");
	assert_true(http_cookie_get("keryu_session=\"q\"", "keryu_session", v,
				    sizeof(v)));
	assert_string_equal(v, "q");
	assert_false(http_cookie_get("xkeryu_session=1; keryu_sessionx=2",
				     "keryu_session", v, sizeof(v)));
	assert_false(http_cookie_get("keryu_session=", "keryu_session", v,
				     sizeof(v)));
	assert_false(http_cookie_get(NULL, "keryu_session", v, sizeof(v)));
	assert_false(http_cookie_get("keryu_session=0123456789", "keryu_session",
				     v, 5)); /* too long is absent */
}

static void query_and_url_encoding(void **st)
{
	struct http_form f;
	char out[64];

	(void)st;
	http_form_init(&f);
	assert_int_equal(http_form_parse_query(&f, "a=1&b=x+y%21&a=2&c&=z"), 0);
	assert_string_equal(http_form_get(&f, "a"), "1"); /* the first */
	assert_string_equal(http_form_get(&f, "b"), "x y!");
	assert_string_equal(http_form_get(&f, "c"), "");
	assert_null(http_form_get(&f, "d"));
	http_form_free(&f);
	assert_int_equal(http_form_parse_query(&f, "a=%2"), KERYU_EINVAL);
	http_form_free(&f);
	assert_int_equal(http_form_parse_query(&f, "a=%00"), KERYU_EINVAL);
	http_form_free(&f);

	assert_true(http_url_encode("/account/?x=1&y", out, sizeof(out)));
	assert_string_equal(out, "/account/%3Fx%3D1%26y");
	assert_false(http_url_encode("/aaaaaaaaaa", out, 5));
}

static void redirect_targets(void **st)
{
	(void)st;
	assert_true(http_next_valid("/"));
	assert_true(http_next_valid("/account/password"));
	assert_false(http_next_valid("//evil.com"));
	assert_false(http_next_valid("/\\evil.com"));
	assert_false(http_next_valid("https://evil.com"));
	assert_false(http_next_valid("evil.com"));
	assert_false(http_next_valid("/a\r\nSet-Cookie: x"));
	assert_false(http_next_valid(""));
	assert_false(http_next_valid(NULL));
}

/* ---- sessions and CSRF ---- */

static void visitor_gets_session_for_form(void **st)
{
	(void)st;
	send("GET", "/account/signup", NULL);
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_non_null(strstr(resp.set_cookie, "keryu_session="));
	assert_non_null(strstr(resp.set_cookie, "; Path=/"));
	assert_non_null(strstr(resp.set_cookie, "; HttpOnly"));
	assert_non_null(strstr(resp.set_cookie, "; SameSite=Lax"));
	assert_null(strstr(resp.set_cookie, "Secure"));
	/* an anonymous session lasts no longer than it may sit idle */
	assert_non_null(strstr(resp.set_cookie, "; Max-Age=86400;"));
	assert_int_equal(fake_accounts_state.session_creates, 1);
	assert_string_equal(fake_accounts_state.sessions[0].csrf, csrf());
	assert_string_equal(fake_accounts_state.sessions[0].custodian_id, "");
	/* the token is 32 bytes of base64url; only its HMAC is stored */
	assert_int_equal(strlen(cookie), strlen("keryu_session=") + 43);
	assert_null(strstr(cookie, fake_accounts_state.sessions[0].token_hash));

	/* the same session on the next visit */
	send("GET", "/account/login", NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.set_cookie, "");
	assert_int_equal(fake_accounts_state.session_creates, 1);
}

static void secure_cookie_over_https(void **st)
{
	(void)st;
	send("GET", "/account/login", NULL);
	assert_non_null(strstr(resp.set_cookie, "; Secure"));
}

static void csrf_missing_or_wrong_is_403(void **st)
{
	const char *fields = "name=Ana&email=ana%40example.org&phone=%2B16505551234"
			     "&password=" "abcdefghijkl&password2=abcdefghijkl";
	char form[2048];
	int sessions;

	(void)st;
	/* no session at all */
	send("POST", "/account/signup", fields);
	assert_int_equal(resp.status, 403);
	/* a session, but no token in the form */
	send("GET", "/account/signup", NULL);
	sessions = fake_accounts_state.session_creates;
	send("POST", "/account/signup", fields);
	assert_int_equal(resp.status, 403);
	/* a wrong token of the right length */
	snprintf(form, sizeof(form), "csrf=%064d&%s", 0, fields);
	send("POST", "/account/signup", form);
	assert_int_equal(resp.status, 403);
	/* a prefix of the right one */
	send("GET", "/account/signup", NULL);
	snprintf(form, sizeof(form), "csrf=%.32s&%s", csrf(), fields);
	send("POST", "/account/signup", form);
	assert_int_equal(resp.status, 403);
	send("POST", "/account/logout", "csrf=");
	assert_int_equal(resp.status, 403);

	assert_int_equal(fake_accounts_state.creates, 0);
	assert_int_equal(fake_accounts_state.rate_hits, 0);
	assert_int_equal(fake_accounts_state.session_creates, sessions);
	assert_int_equal(fake_accounts_state.session_deletes, 0);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("http.csrf"));
}

/* ---- sign up ---- */

static void signup_errors_per_field(void **st)
{
	(void)st;
	submit("/account/signup", "/account/signup",
	       "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E%26%22%27"
	       "&email=%3Cb%3Enot-an-email&phone=650+555+1234"
	       "&password=short-pw&password2=short-pw");
	assert_int_equal(resp.status, 400);
	/* refilled, escaped */
	assert_non_null(strstr(body(), "value=\"" EVIL_ESCAPED "\""));
	assert_non_null(strstr(body(), "value=\"&lt;b&gt;not-an-email\""));
	assert_non_null(strstr(body(), "value=\"650 555 1234\""));
	assert_null(strstr(body(), "<script>"));
	assert_null(strstr(body(), "<b>"));
	/* no password comes back */
	assert_null(strstr(body(), "short-pw"));
	/* each error next to its field and in the summary */
	assert_non_null(strstr(body(), "id=\"f-email-error\""));
	assert_non_null(strstr(body(), "id=\"f-phone-error\""));
	assert_non_null(strstr(body(), "id=\"f-password-error\""));
	assert_null(strstr(body(), "id=\"f-name-error\""));
	assert_non_null(strstr(body(), "Start the number with +"));
	assert_non_null(strstr(body(), "at least 10 characters"));
	assert_non_null(strstr(body(), "class=\"summary\""));
	assert_int_equal(fake_accounts_state.creates, 0);

	submit("/account/signup", "/account/signup",
	       "name=&email=a%40b%40c&phone=%2B0123&password=abcdefghijk"
	       "&password2=abcdefghijkX");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "id=\"f-name-error\""));
	assert_non_null(strstr(body(), "Enter an email address like"));
	assert_non_null(strstr(body(), "not a valid phone number"));
	assert_non_null(strstr(body(), "id=\"f-password2-error\""));
	assert_non_null(strstr(body(), "The two passwords differ."));
	assert_null(strstr(body(), "abcdefghijk"));
	assert_int_equal(fake_accounts_state.creates, 0);
}

static void signup_then_verify(void **st)
{
	const struct fake_pub *pub;
	struct keryu_notify_event ev;
	struct keryu_custodian *c;
	char old_cookie[256], code[8], wrong[8], form[128];

	(void)st;
	submit("/account/signup", "/account/signup",
	       "name=+Ana+Mar%C3%ADa+&email=+Ana%40Example.ORG+"
	       "&phone=%2B1+(650)+555-1234&password=" "correct+horse+battery"
	       "&password2=correct+horse+battery");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/verify?sent=1");
	assert_int_equal(fake_accounts_state.creates, 1);
	c = &fake_accounts_state.custodians[0];
	assert_string_equal(c->email, "ana@example.org");
	assert_string_equal(c->name, "Ana Mar\xc3\xad" "a");
	assert_string_equal(c->phone, "+16505551234");
	assert_true(strncmp(c->password_hash, "$argon2id$", 10) == 0);
	/* rotated: the anonymous session is gone, a logged-in one exists */
	assert_int_equal(fake_accounts_state.session_deletes, 1);
	assert_int_equal(fake_accounts_sessions(""), 0);
	assert_int_equal(fake_accounts_sessions(c->id), 1);

	/* the code went out on the verify channel, and was marked queued */
	assert_int_equal(fake_host_pub_count(), 1);
	pub = fake_host_pub(0);
	assert_string_equal(pub->topic, "keryu/v1/notify/log");
	assert_int_equal(pub->qos, 1);
	assert_int_equal(keryu_notify_event_decode(pub->payload, pub->len, &ev),
			 0);
	assert_string_equal(ev.to, "+16505551234");
	assert_string_equal(ev.template_name, "keryu_verify_code");
	assert_string_equal(ev.language, "en_US");
	assert_string_equal(ev.channel, "log");
	assert_int_equal(ev.attempt, 1);
	assert_int_equal(strlen(ev.params[0]), 6);
	assert_int_equal(strspn(ev.params[0], "0123456789"), 6);
	assert_int_equal(fake_storage_state.queued, 1);
	assert_int_equal(fake_storage_state.queued_attempt, 1);
	assert_int_equal(fake_storage_state.queued_lease, 300);
	assert_string_equal(fake_storage_state.last_queued, ev.notification_id);
	memcpy(code, ev.params[0], 7);
	/* never in a log line */
	assert_false(fake_host_log_contains(code));
	assert_false(fake_host_log_contains("6505551234"));
	assert_false(fake_host_log_contains("example.org"));
	assert_false(fake_host_log_contains(IP));

	snprintf(old_cookie, sizeof(old_cookie), "%s", cookie);
	send("GET", "/account/verify?sent=1", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "+16505551234"));
	assert_non_null(strstr(body(), "We sent you a code"));

	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	snprintf(form, sizeof(form), "csrf=%s&code=%s", csrf(), wrong);
	send("POST", "/account/verify", form);
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "That code is not right"));
	assert_false(c->phone_verified);

	snprintf(form, sizeof(form), "csrf=%s&code=12345", csrf());
	send("POST", "/account/verify", form);
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "Enter the 6 digits"));

	snprintf(form, sizeof(form), "csrf=%s&code=%.3s+%s", csrf(), code,
		 code + 3);
	send("POST", "/account/verify", form);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/?notice=verified");
	assert_true(c->phone_verified);
	assert_string_equal(cookie, old_cookie);

	send("GET", "/account/?notice=verified", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "ana@example.org"));
	assert_non_null(strstr(body(), "Yes"));
	/* the nav: log out is a POST form with the token */
	assert_non_null(strstr(body(), "action=\"/account/logout\""));
}

static void signup_email_taken(void **st)
{
	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	submit("/account/signup", "/account/signup",
	       "name=Ana&email=ANA%40example.org&phone=%2B16505551234"
	       "&password=abcdefghijkl&password2=abcdefghijkl");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "already exists"));
	assert_int_equal(fake_host_pub_count(), 0);
}

static void resend_too_soon(void **st)
{
	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, false);
	login_as("ana%40example.org", "correct+horse+battery");
	fake_accounts_state.code_issue_rc = KERYU_ECONFLICT;
	submit("/account/verify", "/account/verify/resend", "");
	assert_int_equal(resp.status, 429);
	assert_non_null(strstr(body(), "wait a minute"));
	assert_int_equal(resp.retry_after, 60);
	assert_int_equal(fake_host_pub_count(), 0);

	fake_accounts_state.code_issue_rc = 0;
	submit("/account/verify", "/account/verify/resend", "");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_host_pub_count(), 1);
}

/* ---- log in, log out ---- */

static void login_failure_is_generic(void **st)
{
	char unknown[8192], wrong[8192];
	char *u, *w;

	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	submit("/account/login", "/account/login",
	       "email=bob%40example.org&password=correct+horse+battery");
	assert_int_equal(resp.status, 400);
	snprintf(unknown, sizeof(unknown), "%s", body());
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=wrong+horse+battery");
	assert_int_equal(resp.status, 400);
	snprintf(wrong, sizeof(wrong), "%s", body());
	assert_non_null(strstr(wrong, "The email or password is wrong."));
	/* the same page but for the email refilled */
	u = strstr(unknown, "<div class=\"summary\"");
	w = strstr(wrong, "<div class=\"summary\"");
	assert_non_null(u);
	assert_non_null(w);
	assert_memory_equal(u, w, strstr(w, "</div>") - w);
	assert_null(strstr(wrong, "wrong+horse"));
	assert_null(strstr(wrong, "wrong horse"));
	assert_int_equal(fake_accounts_sessions(fake_accounts_state
							.custodians[0].id),
			 0);
}

static void login_rotates_session(void **st)
{
	char before[256];
	struct keryu_custodian *c;

	(void)st;
	c = fake_accounts_add("ana@example.org", "Ana", PW, true);
	send("GET", "/account/login", NULL);
	snprintf(before, sizeof(before), "%s", cookie);
	login_as("ANA%40example.org", "correct+horse+battery");
	assert_string_equal(resp.location, "/dashboard/");
	assert_non_null(strstr(resp.set_cookie, "; Max-Age=2592000;"));
	assert_string_not_equal(cookie, before);
	assert_int_equal(fake_accounts_sessions(""), 0); /* old one gone */
	assert_int_equal(fake_accounts_sessions(c->id), 1);

	/* the old cookie opens nothing */
	snprintf(cookie, sizeof(cookie), "%s", before);
	send("GET", "/account/", NULL);
	assert_int_equal(resp.status, 303);
}

static void login_next_is_validated(void **st)
{
	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	send("GET", "/account/login?next=//evil.com", NULL);
	assert_null(strstr(body(), "evil.com"));
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=correct+horse+battery"
	       "&next=%2F%2Fevil.com");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/dashboard/");

	submit("/account/login?next=/account/password", "/account/login",
	       "email=ana%40example.org&password=correct+horse+battery"
	       "&next=%2Faccount%2Fpassword");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/password");
}

static void login_required(void **st)
{
	(void)st;
	send("GET", "/account/", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/login?next=/account/");
	send("GET", "/account/password", NULL);
	assert_string_equal(resp.location,
			    "/account/login?next=/account/password");
	send("GET", "/", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "href=\"/account/signup\""));
	send("GET", "/account", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/");
	send("GET", "/account/logout", NULL);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.allow, "POST");
	send("DELETE", "/account/login", NULL);
	assert_int_equal(resp.status, 405);
}

static void logout_clears_cookie(void **st)
{
	struct keryu_custodian *c;

	(void)st;
	c = fake_accounts_add("ana@example.org", "Ana", PW, true);
	login_as("ana%40example.org", "correct+horse+battery");
	submit("/account/", "/account/logout", "");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/login?notice=logged_out");
	assert_non_null(strstr(resp.set_cookie, "Max-Age=0"));
	assert_int_equal(fake_accounts_sessions(c->id), 0);
	send("GET", "/", NULL);
	assert_int_equal(resp.status, 200);
}

static void rate_limited_is_429(void **st)
{
	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	send("GET", "/account/login", NULL);
	/* a failure that reaches a limit blocks the next try */
	fake_accounts_state.rate_allowed = false;
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=wrong+password+here");
	assert_int_equal(resp.status, 429);
	assert_true(strncmp(fake_accounts_state.last_rate_key, "loginfail:", 10)
		    == 0);
	assert_null(strstr(fake_accounts_state.last_rate_key, IP));
	assert_null(strstr(fake_accounts_state.last_rate_key, "ana@"));
	fake_accounts_state.rate_allowed = true;
	fake_accounts_state.by_email = 0;
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=correct+horse+battery");
	assert_int_equal(resp.status, 429);
	assert_true(resp.retry_after > 0 && resp.retry_after <= 900);
	assert_int_equal(fake_accounts_state.by_email, 0);
	assert_int_equal(fake_accounts_sessions(""), 1); /* not rotated */

	fake_accounts_state.rate_allowed = false;
	submit("/account/signup", "/account/signup",
	       "name=Bob&email=bob%40example.org&phone=%2B16505551234"
	       "&password=abcdefghijkl&password2=abcdefghijkl");
	assert_int_equal(resp.status, 429);
	assert_true(resp.retry_after > 0 && resp.retry_after <= 3600);
	assert_int_equal(fake_accounts_state.creates, 0);
}

static void wrong_login(const char *ip)
{
	client_ip = ip;
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=wrong+password+here");
}

static void right_login(const char *ip)
{
	client_ip = ip;
	cookie[0] = '\0'; /* another browser */
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=correct+horse+battery");
}

/* Wrong passwords from one address do not lock the owner out elsewhere,
 * and a correct login counts nothing. */
static void login_failures_do_not_lock_owner_out(void **st)
{
	int i;

	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	fake_accounts_state.rate_count = true;
	for (i = 0; i < 4; i++) {
		wrong_login("198.51.100.1");
		assert_int_equal(resp.status, 400);
	}
	/* under the per-account+IP limit a correct password works, also
	 * from the same address, and is not counted as a failure */
	for (i = 0; i < 6; i++) {
		right_login("198.51.100.1");
		assert_int_equal(resp.status, 303);
	}
	wrong_login("198.51.100.1"); /* the fifth failure */
	assert_int_equal(resp.status, 429);
	right_login("198.51.100.1");
	assert_int_equal(resp.status, 429);
	/* the owner, from another address */
	right_login("203.0.113.9");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/dashboard/");
	right_login("2001:db8::1");
	assert_int_equal(resp.status, 303);
}

/* Past the account-wide ceiling (failures from many addresses) even the
 * owner waits. */
static void login_account_ceiling(void **st)
{
	char ip[32];
	int i;

	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	fake_accounts_state.rate_count = true;
	for (i = 0; i < 50; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		cookie[0] = '\0';
		wrong_login(ip);
		assert_int_equal(resp.status, i < 49 ? 400 : 429);
	}
	right_login("203.0.113.9");
	assert_int_equal(resp.status, 429);
}

/* With both argon2 slots held, a login is answered 503 after the short
 * wait instead of blocking its MHD thread, and counts as no failure. */
static void login_busy_is_503(void **st)
{
	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	fake_accounts_state.rate_count = true;
	send("GET", "/account/login", NULL);
	ctx->pwhash_wait_ms = 200;
	assert_int_equal(sem_wait(&ctx->pwhash_slots), 0);
	assert_int_equal(sem_wait(&ctx->pwhash_slots), 0);
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=correct+horse+battery");
	assert_int_equal(resp.status, 503);
	assert_true(resp.retry_after > 0);
	assert_int_equal(fake_accounts_sessions(""), 1); /* not rotated */
	submit("/account/signup", "/account/signup",
	       "name=Bob&email=bob%40example.org&phone=%2B16505551234"
	       "&password=abcdefghijkl&password2=abcdefghijkl");
	assert_int_equal(resp.status, 503);
	assert_int_equal(fake_accounts_state.creates, 0);
	sem_post(&ctx->pwhash_slots);
	sem_post(&ctx->pwhash_slots);
	submit("/account/login", "/account/login",
	       "email=ana%40example.org&password=correct+horse+battery");
	assert_int_equal(resp.status, 303);
}

/* ---- password ---- */

static void password_change_ends_other_sessions(void **st)
{
	char other[256], mine[256];
	struct keryu_custodian *c;
	char form[2048];

	(void)st;
	c = fake_accounts_add("ana@example.org", "Ana", PW, true);
	login_as("ana%40example.org", "correct+horse+battery");
	snprintf(other, sizeof(other), "%s", cookie);
	cookie[0] = '\0';
	login_as("ana%40example.org", "correct+horse+battery");
	snprintf(mine, sizeof(mine), "%s", cookie);
	assert_int_equal(fake_accounts_sessions(c->id), 2);

	send("GET", "/account/password", NULL);
	snprintf(form, sizeof(form),
		 "csrf=%s&current=wrong-password-x&password=new+password+123"
		 "&password2=new+password+123",
		 csrf());
	send("POST", "/account/password", form);
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "current password is wrong"));
	assert_int_equal(fake_accounts_state.set_passwords, 0);

	send("GET", "/account/password", NULL);
	snprintf(form, sizeof(form),
		 "csrf=%s&current=correct+horse+battery&password=new+password+123"
		 "&password2=new+password+123",
		 csrf());
	send("POST", "/account/password", form);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/?notice=password");
	assert_int_equal(fake_accounts_state.set_passwords, 1);
	assert_false(fake_accounts_state.last_keep_null);
	assert_int_equal(fake_accounts_sessions(c->id), 1);
	send("GET", "/account/", NULL);
	assert_int_equal(resp.status, 200); /* this one still works */
	snprintf(cookie, sizeof(cookie), "%s", other);
	send("GET", "/account/", NULL);
	assert_int_equal(resp.status, 303); /* the other does not */

	cookie[0] = '\0';
	login_as("ana%40example.org", "new+password+123");
	(void)mine;
}

static void reset_flow(void **st)
{
	struct keryu_custodian *c;
	char form[2048], page_known[8192];
	char *a, *b;

	(void)st;
	c = fake_accounts_add("ana@example.org", "Ana", PW, true);
	fake_accounts_add("bob@example.org", "Bob", PW, false); /* unverified */

	submit("/account/reset", "/account/reset", "email=nobody%40example.org");
	assert_int_equal(resp.status, 200);
	a = strstr(body(), "<p class=\"notice\"");
	assert_non_null(a);
	snprintf(page_known, sizeof(page_known), "%s", a);
	submit("/account/reset", "/account/reset", "email=bob%40example.org");
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_host_pub_count(), 0);
	submit("/account/reset", "/account/reset", "email=Ana%40example.org");
	assert_int_equal(resp.status, 200);
	b = strstr(body(), "<p class=\"notice\"");
	assert_non_null(b);
	assert_memory_equal(page_known, b, strstr(b, "</p>") - b);
	assert_int_equal(fake_host_pub_count(), 1);
	assert_int_equal(fake_accounts_state.codes[0].purpose, KERYU_CODE_RESET);

	/* a mismatched new password spends no try */
	snprintf(form, sizeof(form),
		 "csrf=%s&email=ana%%40example.org&code=%s"
		 "&password=brand+new+pass&password2=brand+new+pasS",
		 csrf(), last_code());
	send("POST", "/account/reset/confirm", form);
	assert_int_equal(resp.status, 400);
	assert_int_equal(fake_accounts_state.code_checks, 0);

	/* unknown email: told like a wrong code */
	snprintf(form, sizeof(form),
		 "csrf=%s&email=nobody%%40example.org&code=%s"
		 "&password=brand+new+pass&password2=brand+new+pass",
		 csrf(), last_code());
	send("POST", "/account/reset/confirm", form);
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "That code is not right"));

	snprintf(form, sizeof(form),
		 "csrf=%s&email=ana%%40example.org&code=%s"
		 "&password=brand+new+pass&password2=brand+new+pass",
		 csrf(), last_code());
	send("POST", "/account/reset/confirm", form);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/login?notice=reset");
	assert_int_equal(fake_accounts_state.set_passwords, 1);
	assert_true(fake_accounts_state.last_keep_null);
	send("GET", resp.location, NULL);
	assert_non_null(strstr(body(), "Log in with the new one"));
	login_as("ana%40example.org", "brand+new+pass");
	assert_int_equal(fake_accounts_sessions(c->id), 1);
}

/* The body with every email replaced, so two answers can be compared. */
static void body_without(const char *email, char *out, size_t size)
{
	const char *b = body(), *hit;
	size_t n = 0, len = strlen(email);

	while ((hit = strstr(b, email)) != NULL && n < size - 1) {
		n += (size_t)snprintf(out + n, size - n, "%.*s@",
				      (int)(hit - b), b);
		b = hit + len;
	}
	if (n < size - 1)
		snprintf(out + n, size - n, "%s", b);
}

/* An unknown email and an account without a live code get the very same
 * answer: a different one would tell who has an account. */
static void reset_confirm_same_answer_for_unknown_email(void **st)
{
	static char unknown[16384], known[16384];
	char form[1024];
	unsigned status;

	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	send("GET", "/account/reset/confirm", NULL);
	snprintf(form, sizeof(form),
		 "csrf=%s&email=nobody%%40example.org&code=123456"
		 "&password=brand+new+pass&password2=brand+new+pass",
		 csrf());
	send("POST", "/account/reset/confirm", form);
	status = resp.status;
	assert_non_null(strstr(body(), "That code is not right, or it has "
				       "expired. Ask for a new one."));
	body_without("nobody@example.org", unknown, sizeof(unknown));
	snprintf(form, sizeof(form),
		 "csrf=%s&email=ana%%40example.org&code=123456"
		 "&password=brand+new+pass&password2=brand+new+pass",
		 csrf());
	send("POST", "/account/reset/confirm", form);
	assert_int_equal(fake_accounts_state.code_checks, 1);
	assert_int_equal(resp.status, status);
	body_without("ana@example.org", known, sizeof(known));
	assert_string_equal(known, unknown);
	assert_int_equal(fake_accounts_state.set_passwords, 0);
}

/* The new password is hashed before the code is checked: when hashing
 * fails (argon2 busy) the code is not spent and works next time. */
static void reset_confirm_hash_failure_keeps_code(void **st)
{
	char form[1024];

	(void)st;
	fake_accounts_add("ana@example.org", "Ana", PW, true);
	submit("/account/reset", "/account/reset", "email=ana%40example.org");
	assert_int_equal(fake_host_pub_count(), 1);
	snprintf(form, sizeof(form),
		 "csrf=%s&email=ana%%40example.org&code=%s"
		 "&password=brand+new+pass&password2=brand+new+pass",
		 csrf(), last_code());
	ctx->pwhash_wait_ms = 200;
	assert_int_equal(sem_wait(&ctx->pwhash_slots), 0);
	assert_int_equal(sem_wait(&ctx->pwhash_slots), 0);
	send("POST", "/account/reset/confirm", form);
	assert_int_equal(resp.status, 503);
	assert_int_equal(fake_accounts_state.code_checks, 0);
	assert_int_equal(fake_accounts_state.set_passwords, 0);
	sem_post(&ctx->pwhash_slots);
	sem_post(&ctx->pwhash_slots);
	send("POST", "/account/reset/confirm", form);
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_accounts_state.set_passwords, 1);
}

static void storage_down_is_503(void **st)
{
	(void)st;
	send("GET", "/account/login", NULL);
	fake_accounts_state.rc = KERYU_EIO;
	send("GET", "/account/login", NULL);
	assert_int_equal(resp.status, 503);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cookie_parsing),
		cmocka_unit_test(query_and_url_encoding),
		cmocka_unit_test(redirect_targets),
		T(visitor_gets_session_for_form),
		cmocka_unit_test_setup_teardown(secure_cookie_over_https,
						setup_https, teardown),
		T(csrf_missing_or_wrong_is_403),
		T(signup_errors_per_field),
		T(signup_then_verify),
		T(signup_email_taken),
		T(resend_too_soon),
		T(login_failure_is_generic),
		T(login_rotates_session),
		T(login_next_is_validated),
		T(login_required),
		T(logout_clears_cookie),
		T(rate_limited_is_429),
		T(login_failures_do_not_lock_owner_out),
		T(login_account_ceiling),
		T(login_busy_is_503),
		T(reset_confirm_same_answer_for_unknown_email),
		T(reset_confirm_hash_failure_keeps_code),
		T(password_change_ends_other_sessions),
		T(reset_flow),
		T(storage_down_is_503),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
