/* The acknowledgement link /ack/<token> through http_route(), against the
 * fake host and a fake storage service: a GET only shows the button, a
 * POST acknowledges once, expired and tampered tokens get their pages,
 * another site's form post is refused, and failures are rate-limited per
 * client address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define SECRET "unit-test-secret"
#define PUBLIC "https://keryu.example"
#define N1 "11111111-2222-4333-8444-555555555555"
#define N2 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define ALARM "cccccccc-2222-4000-8000-000000000001"
#define EVIL "<b>Ana</b>&\""

static struct http_ctx *ctx;
static struct http_response resp;
static const char *origin;
static const char *client_ip = "203.0.113.7";

static int setup_with(const char *secret)
{
	fake_host_reset(&keryu_module);
	fake_storage_reset("0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f", "x");
	snprintf(fake_storage_state.ack_nid, sizeof(fake_storage_state.ack_nid),
		 "%s", N1);
	snprintf(fake_storage_state.ack.alarm_id,
		 sizeof(fake_storage_state.ack.alarm_id), "%s", ALARM);
	snprintf(fake_storage_state.ack.subject_first_name,
		 sizeof(fake_storage_state.ack.subject_first_name), "%s",
		 "Ana");
	snprintf(fake_storage_state.ack.acknowledged_at,
		 sizeof(fake_storage_state.ack.acknowledged_at), "%s",
		 "2026-02-01T09:00:00.000Z");
	http_test_offer_services();
	if (secret)
		fake_host_set_global("kernel", "secret_key", secret);
	fake_host_set("public_url", PUBLIC "/");
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	origin = NULL;
	client_ip = "203.0.113.7";
	return 0;
}

static int setup(void **st)
{
	(void)st;
	return setup_with(SECRET);
}

static int setup_no_secret(void **st)
{
	(void)st;
	return setup_with(NULL);
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static const char *body(void)
{
	return resp.body.buf ? resp.body.buf : "";
}

static void token_for(const char *nid, long long expires, char *out)
{
	assert_int_equal(keryu_ack_token_make(SECRET, nid, expires, out), 0);
}

static void valid_token(char *out)
{
	token_for(N1, (long long)time(NULL) + 3600, out);
}

static void send(const char *method, const char *token)
{
	struct http_form form;
	struct http_request req;
	char path[256];

	snprintf(path, sizeof(path), "/ack/%s", token);
	http_form_init(&form);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.host = "keryu.example";
	req.user_agent = "TestAgent/1.0";
	req.client_ip = client_ip;
	req.origin = origin;
	req.form = strcmp(method, "POST") == 0 ? &form : NULL;
	http_response_free(&resp);
	http_response_init(&resp);
	http_route(ctx, &req, &resp);
	http_form_free(&form);
}

static void get_shows_button_changes_nothing(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], action[256];

	(void)st;
	valid_token(tok);
	send("GET", tok);
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_non_null(strstr(body(), "Acknowledge this alert?"));
	snprintf(action, sizeof(action),
		 "<form method=\"post\" action=\"/ack/%s\">", tok);
	assert_non_null(strstr(body(), action));
	assert_non_null(strstr(body(), "I&#39;m on my way</button>"));
	/* one button, no other form */
	assert_null(strstr(strstr(body(), "</form>") + 1, "<form"));
	send("HEAD", tok);
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_storage_state.acks, 0);
	assert_int_equal(fake_host_pub_count(), 0);
	/* the token never reaches a log line */
	assert_false(fake_host_log_contains(tok + 37));
}

static void post_acknowledges_once(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];
	struct keryu_alarm_event ev;
	const struct fake_pub *p;

	(void)st;
	valid_token(tok);
	send("POST", tok);
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_int_equal(fake_storage_state.acks, 1);
	assert_string_equal(fake_storage_state.last_ack, N1);
	assert_non_null(strstr(body(), "Thank you"));
	assert_non_null(strstr(body(), "Ana&#39;s alarm"));
	assert_non_null(strstr(body(), "on your way"));
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, KERYU_TOPIC_ALARM ALARM);
	assert_int_equal(p->qos, 1);
	assert_int_equal(keryu_alarm_event_decode(p->payload, p->len, &ev), 0);
	assert_string_equal(ev.alarm_id, ALARM);
	assert_string_equal(ev.state, "acknowledged");
	assert_string_equal(ev.subject_id, "");
	assert_true(fake_host_log_contains("http.ack"));
	assert_false(fake_host_log_contains(tok + 37));

	/* the second press (or another recipient's) changes nothing */
	send("POST", tok);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "Already acknowledged"));
	assert_int_equal(fake_host_pub_count(), 1);
}

static void name_is_escaped(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	snprintf(fake_storage_state.ack.subject_first_name,
		 sizeof(fake_storage_state.ack.subject_first_name), "%s",
		 EVIL);
	valid_token(tok);
	send("POST", tok);
	assert_int_equal(resp.status, 200);
	assert_null(strstr(body(), "<b>"));
	assert_non_null(strstr(body(), "&lt;b&gt;Ana&lt;/b&gt;&amp;&quot;"));
}

static void expired_410(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	token_for(N1, (long long)time(NULL) - 10, tok);
	send("GET", tok);
	assert_int_equal(resp.status, 410);
	assert_non_null(strstr(body(), "expired"));
	send("POST", tok);
	assert_int_equal(resp.status, 410);
	assert_int_equal(fake_storage_state.acks, 0);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void tampered_404(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], other[KERYU_ACK_TOKEN_LEN];
	size_t n;

	(void)st;
	valid_token(tok);
	n = strlen(tok);
	tok[n - 1] = tok[n - 1] == 'A' ? 'B' : 'A'; /* the mac */
	send("GET", tok);
	assert_int_equal(resp.status, 404);
	send("POST", tok);
	assert_int_equal(resp.status, 404);
	/* another notification's id with this mac */
	valid_token(tok);
	token_for(N2, (long long)time(NULL) + 3600, other);
	memcpy(other + 37, tok + 37, strlen(tok + 37) + 1);
	send("POST", other);
	assert_int_equal(resp.status, 404);
	/* a later expiry with the old mac */
	valid_token(tok);
	tok[37] = tok[37] == '9' ? '8' : (char)(tok[37] + 1);
	send("POST", tok);
	assert_int_equal(resp.status, 404);
	/* signed with another secret */
	assert_int_equal(keryu_ack_token_make("other-secret", N1,
					      (long long)time(NULL) + 60, tok),
			 0);
	send("POST", tok);
	assert_int_equal(resp.status, 404);
	send("GET", "");
	assert_int_equal(resp.status, 404);
	send("GET", "garbage");
	assert_int_equal(resp.status, 404);
	assert_int_equal(fake_storage_state.acks, 0);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void unknown_notification_404(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	token_for(N2, (long long)time(NULL) + 3600, tok);
	send("GET", tok); /* the page cannot know: it only shows the button */
	assert_int_equal(resp.status, 200);
	send("POST", tok);
	assert_int_equal(resp.status, 404);
	assert_int_equal(fake_storage_state.acks, 1);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void storage_error_503(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	fake_storage_state.ack_rc = KERYU_EIO;
	valid_token(tok);
	send("POST", tok);
	assert_int_equal(resp.status, 503);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void cross_site_post_refused(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	valid_token(tok);
	origin = "https://evil.example";
	send("POST", tok);
	assert_int_equal(resp.status, 403);
	origin = "https://keryu.example.evil.example";
	send("POST", tok);
	assert_int_equal(resp.status, 403);
	origin = "http://keryu.example:8443"; /* another origin of the name */
	send("POST", tok);
	assert_int_equal(resp.status, 403);
	origin = "garbage";
	send("POST", tok);
	assert_int_equal(resp.status, 403);
	assert_int_equal(fake_storage_state.acks, 0);
	/* a GET shows the page whatever the Origin */
	origin = "https://evil.example";
	send("GET", tok);
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void own_origins_accepted(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	valid_token(tok);
	origin = "HTTPS://Keryu.Example"; /* public_url's */
	send("POST", tok);
	assert_int_equal(resp.status, 200);
	origin = "null"; /* our own page: Referrer-Policy no-referrer */
	send("POST", tok);
	assert_int_equal(resp.status, 200);
	origin = "http://keryu.example"; /* the Host it came to */
	send("POST", tok);
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_storage_state.acks, 3);
}

static void failures_rate_limited(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];
	int i;

	(void)st;
	fake_accounts_state.rate_count = true;
	for (i = 0; i < 29; i++) {
		send("GET", "nope");
		assert_int_equal(resp.status, 404);
	}
	send("GET", "nope");
	assert_int_equal(resp.status, 429);
	assert_true(resp.retry_after > 0);
	assert_true(fake_host_log_contains("what=ackfail"));
	/* blocked now: even a good token waits, and nothing is counted */
	valid_token(tok);
	i = fake_accounts_state.rate_hits;
	send("POST", tok);
	assert_int_equal(resp.status, 429);
	assert_int_equal(fake_accounts_state.rate_hits, i);
	assert_int_equal(fake_storage_state.acks, 0);
	/* another address is not */
	client_ip = "198.51.100.9";
	send("POST", tok);
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_storage_state.acks, 1);
	/* the address is keyed by HMAC, never in the clear */
	assert_null(strstr(fake_accounts_state.last_rate_key, "203.0.113"));
}

static void good_tokens_not_counted(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	valid_token(tok);
	send("GET", tok);
	send("POST", tok);
	assert_int_equal(fake_accounts_state.rate_hits, 0);
}

static void no_secret_503(void **st)
{
	(void)st;
	send("GET", "x");
	assert_int_equal(resp.status, 503);
	send("POST", "x");
	assert_int_equal(resp.status, 503);
	assert_int_equal(fake_storage_state.acks, 0);
}

static void other_methods_405(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	valid_token(tok);
	send("PUT", tok);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.allow, "GET, HEAD, POST");
	send("DELETE", tok);
	assert_int_equal(resp.status, 405);
	assert_int_equal(fake_storage_state.acks, 0);
}

static void paths(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	assert_true(http_ack_path("/ack/abc.1.x", tok, sizeof(tok)));
	assert_string_equal(tok, "abc.1.x");
	assert_true(http_ack_path("/ack/", tok, sizeof(tok)));
	assert_string_equal(tok, "");
	assert_false(http_ack_path("/ack", tok, sizeof(tok)));
	assert_false(http_ack_path("/ack/a/", tok, sizeof(tok)));
	assert_false(http_ack_path("/ack/a/b", tok, sizeof(tok)));
	assert_false(http_ack_path("/acknowledge/a", tok, sizeof(tok)));
	assert_true(http_ack_path("/ack/0123456789", tok, 4));
	assert_string_equal(tok, "012");
	/* the POST body is read (a small form), no login needed */
	assert_true(http_route_takes_post("/ack/abc"));
	assert_false(http_route_needs_login("/ack/abc"));
}

static void long_token_404(void **st)
{
	char tok[600];

	(void)st;
	memset(tok, 'a', sizeof(tok) - 1);
	tok[sizeof(tok) - 1] = '\0';
	send("GET", tok);
	assert_int_equal(resp.status, 404);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(get_shows_button_changes_nothing),
		T(post_acknowledges_once),
		T(name_is_escaped),
		T(expired_410),
		T(tampered_404),
		T(unknown_notification_404),
		T(storage_error_503),
		T(cross_site_post_refused),
		T(own_origins_accepted),
		T(failures_rate_limited),
		T(good_tokens_not_counted),
		cmocka_unit_test_setup_teardown(no_secret_503, setup_no_secret,
						teardown),
		T(other_methods_405),
		cmocka_unit_test(paths),
		T(long_token_404),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
