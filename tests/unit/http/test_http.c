/* http module, without a socket: the router and handlers driven through
 * http_route() against the fake host and a fake storage service. */
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
#include "html.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define QR_UPPER "0B7F3C1E-9A52-4C1D-8F3E-2A6B9C0D1E2F"
#define SCAN(u) "/subjects/qr/" u "/scan/"
#define EVIL "<script>alert(1)</script>&\"'"
#define EVIL_ESCAPED                                                           \
	"&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"

static struct http_ctx *ctx;
static struct http_response resp;

static int setup_with(const char *allowed_hosts)
{
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, EVIL);
	http_test_offer_services();
	if (allowed_hosts)
		fake_host_set("allowed_hosts", allowed_hosts);
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	return 0;
}

static int setup(void **st)
{
	(void)st;
	return setup_with(NULL);
}

static int setup_hosts(void **st)
{
	(void)st;
	return setup_with("keryu.example, Other.Example:8443, [::1]");
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static void get(const char *method, const char *path, const char *host)
{
	struct http_request req = {.method = method,
				   .path = path,
				   .host = host,
				   .user_agent = "TestAgent/1.0"};

	http_test_route(ctx, &req, &resp);
	assert_non_null(resp.body.buf);
}

static const char *body(void)
{
	return resp.body.buf;
}

/* ---- html writer ---- */

static void html_escapes_by_default(void **st)
{
	struct html h;
	size_t len = 0;
	char *s;

	(void)st;
	html_init(&h);
	html_text(&h, EVIL);
	html_raw(&h, "|");
	html_attr(&h, "a\"b\n<");
	html_raw(&h, "|");
	html_textf(&h, "%s-%d", "<b>", 7);
	s = html_take(&h, &len);
	assert_non_null(s);
	assert_string_equal(s, EVIL_ESCAPED "|a&quot;b&#10;&lt;|&lt;b&gt;-7");
	assert_int_equal(len, strlen(s));
	free(s);

	html_init(&h); /* empty still yields a buffer */
	s = html_take(&h, &len);
	assert_non_null(s);
	assert_int_equal(len, 0);
	free(s);
}

/* ---- scan ---- */

static void scan_active_tag(void **st)
{
	const struct fake_pub *p;
	struct keryu_scan_event ev;

	(void)st;
	get("GET", SCAN(QR), "localhost:8000");
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_string_equal(resp.content_type, "text/html; charset=utf-8");
	assert_non_null(strstr(body(), EVIL_ESCAPED));
	assert_null(strstr(body(), "<script>alert")); /* the page's own
							 script only */
	assert_non_null(strstr(body(), "The family has been alerted"));
	assert_null(strstr(body(), "Doe")); /* first name only */
	assert_string_equal(fake_storage_state.last_lookup, QR);

	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/scan/" QR);
	assert_true(p->waited);
	assert_int_equal(p->qos, 1);
	assert_int_equal(keryu_scan_event_decode(p->payload, p->len, &ev), 0);
	assert_string_equal(ev.qr_uuid, QR);
	assert_string_equal(ev.user_agent, "TestAgent/1.0");
	assert_string_equal(ev.ip_hash, "");
	assert_true(keryu_uuid_valid(ev.event_id));
	assert_int_equal(strlen(ev.at), 24);

	assert_true(fake_host_log_contains("info http.scan qr=" QR " event="));
	assert_true(fake_host_log_contains("status=200"));
	assert_false(fake_host_log_contains("script")); /* no names logged */
}

static void scan_uppercase_is_normalised(void **st)
{
	const struct fake_pub *p;
	struct keryu_scan_event ev;

	(void)st;
	get("GET", SCAN(QR_UPPER), NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(fake_storage_state.last_lookup, QR);
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/scan/" QR);
	assert_int_equal(keryu_scan_event_decode(p->payload, p->len, &ev), 0);
	assert_string_equal(ev.qr_uuid, QR);
}

/* HEAD answers exactly what GET does when the alert goes out, and
 * publishes nothing: a HEAD is not a person scanning the tag. */
static void scan_head_like_get_without_alarm(void **st)
{
	char *get_body;

	(void)st;
	fake_host_set_global("kernel", "secret_key", "test-secret-key");
	get("GET", SCAN(QR), NULL);
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_host_pub_count(), 1);
	get_body = strdup(body());
	assert_non_null(get_body);

	get("HEAD", SCAN(QR), NULL);
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_string_equal(resp.content_type, "text/html; charset=utf-8");
	/* the same page but for the finder token: a HEAD has no scan to
	 * post to */
	assert_non_null(strstr(body(), "The family has been alerted"));
	assert_non_null(strstr(body(), "data-t=\"\""));
	assert_null(strstr(get_body, "data-t=\"\""));
	assert_int_equal(fake_host_pub_count(), 1); /* still only GET's */
	assert_true(fake_host_log_contains("status=200 method=HEAD"));
	free(get_body);

	/* and the same 404 for an inactive tag */
	fake_storage_state.lookup_rc = KERYU_ENOTFOUND;
	get("HEAD", SCAN(QR), NULL);
	assert_int_equal(resp.status, 404);
	assert_int_equal(fake_host_pub_count(), 1);
}

/* A User-Agent is bytes, not necessarily UTF-8: the event must carry
 * valid UTF-8 or PostgreSQL refuses the alarm (SQLSTATE 22021). */
static void scan_non_utf8_user_agent(void **st)
{
	struct http_request req = {.method = "GET", .path = SCAN(QR),
				   .user_agent = "Caf\xe9 \xc3\xa9t\xc3"};
	struct keryu_scan_event ev;
	const struct fake_pub *p;

	(void)st;
	http_route(ctx, &req, &resp);
	assert_int_equal(resp.status, 200);
	p = fake_host_pub(0);
	assert_non_null(p);
	assert_null(memchr(p->payload, 0xe9, p->len));
	assert_int_equal(keryu_scan_event_decode(p->payload, p->len, &ev), 0);
	assert_string_equal(ev.user_agent, "Caf? \xc3\xa9t?");
}

static void scan_user_agent_truncated(void **st)
{
	char ua[600];
	struct http_request req = {.method = "GET", .path = SCAN(QR)};
	struct keryu_scan_event ev;
	const struct fake_pub *p;
	size_t i;

	(void)st;
	/* "é" is two bytes: a cut must not split it */
	for (i = 0; i + 2 < sizeof(ua); i += 2)
		memcpy(ua + i, "\xc3\xa9", 2);
	ua[i] = '\0';
	req.user_agent = ua;
	http_route(ctx, &req, &resp);
	assert_int_equal(resp.status, 200);
	p = fake_host_pub(0);
	assert_non_null(p);
	assert_int_equal(keryu_scan_event_decode(p->payload, p->len, &ev), 0);
	assert_true(strlen(ev.user_agent) < sizeof(ev.user_agent));
	assert_true(strlen(ev.user_agent) > 200);
	assert_int_equal((unsigned char)ev.user_agent[strlen(ev.user_agent) - 1],
			 0xa9);
}

static void scan_unknown_or_malformed_is_404(void **st)
{
	static const char *const paths[] = {
		SCAN("5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d"), /* unknown */
		SCAN(QR "x"),                                 /* trailing junk */
		SCAN("0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2"),  /* too short */
		SCAN("0b7f3c1e9a524c1d8f3e2a6b9c0d1e2f"),     /* no dashes */
		SCAN("0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2g"), /* not hex */
		SCAN("{0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f}"),
		SCAN("%3Cscript%3E"),
		SCAN(""),
		"/subjects/qr/" QR "/scan",     /* no trailing slash */
		"/subjects/qr/" QR "/scan/x",   /* junk after */
		"/subjects/qr/" QR "/x/scan/",  /* extra segment */
		"/subjects/qr/../" QR "/scan/", /* traversal-ish */
		"/nothing-here",
		"/subjects", /* the list is /subjects/ (login only) */
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		get("GET", paths[i], NULL);
		assert_int_equal(resp.status, 404);
		assert_null(strstr(body(), "script>"));
	}
	assert_int_equal(fake_host_pub_count(), 0);
	/* a malformed uuid never reaches storage */
	assert_int_equal(fake_storage_state.lookups, 1);
	assert_null(strstr(body(), EVIL_ESCAPED));
}

static void scan_inactive_is_404_without_data(void **st)
{
	(void)st;
	fake_storage_state.lookup_rc = KERYU_ENOTFOUND;
	get("GET", SCAN(QR), NULL);
	assert_int_equal(resp.status, 404);
	assert_non_null(strstr(body(), "This tag is not active"));
	assert_null(strstr(body(), "&lt;script"));
	assert_null(strstr(body(), "notified"));
	assert_int_equal(fake_host_pub_count(), 0);
}

static void scan_storage_down_is_503(void **st)
{
	(void)st;
	fake_storage_state.lookup_rc = KERYU_EIO;
	get("GET", SCAN(QR), NULL);
	assert_int_equal(resp.status, 503);
	assert_true(resp.no_store);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_null(strstr(body(), "notified now"));
}

/* A publish that failed outright: the finder is told to call for help. */
static void scan_publish_failure_is_503(void **st)
{
	(void)st;
	fake_host_set_publish_result(KERYU_EIO);
	get("GET", SCAN(QR), NULL);
	assert_int_equal(resp.status, 503);
	assert_true(resp.no_store);
	assert_non_null(strstr(body(), "could not be sent"));
	assert_non_null(strstr(body(), "emergency services"));
	assert_null(strstr(body(), "notified now"));
	assert_null(strstr(body(), "queued"));
	assert_null(strstr(body(), "&lt;script"));
	assert_true(fake_host_log_contains("error http.scan qr=" QR));
	assert_true(fake_host_log_contains("status=503 reason=publish"));
}

/* No PUBACK in time: the bus client still holds the QoS 1 message and
 * sends it when the broker is back, so the page must not say it failed. */
static void scan_publish_timeout_is_queued(void **st)
{
	(void)st;
	fake_host_set_publish_result(KERYU_ETIMEDOUT);
	get("GET", SCAN(QR), NULL);
	assert_int_equal(resp.status, 503);
	assert_true(resp.no_store);
	assert_non_null(strstr(body(), "queued"));
	assert_non_null(strstr(body(), "not yet confirmed"));
	assert_non_null(strstr(body(), "emergency services"));
	assert_null(strstr(body(), "could not be sent"));
	assert_null(strstr(body(), "notified now"));
	assert_null(strstr(body(), "&lt;script")); /* no subject data */
	assert_true(fake_host_log_contains("warn http.scan qr=" QR));
	assert_true(fake_host_log_contains("status=503 reason=unconfirmed"));
	assert_false(fake_host_log_contains("reason=publish"));
}

/* ---- healthz ---- */

static void healthz_ok(void **st)
{
	(void)st;
	get("GET", "/healthz", NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(
		body(),
		"{\"status\":\"ok\",\"database\":\"ok\",\"bus\":\"ok\"}\n");
}

static void healthz_degraded(void **st)
{
	(void)st;
	fake_storage_state.ping_rc = KERYU_EIO;
	get("GET", "/healthz", NULL);
	assert_int_equal(resp.status, 503);
	assert_string_equal(
		body(),
		"{\"status\":\"degraded\",\"database\":\"down\",\"bus\":\"ok\"}\n");

	fake_storage_state.ping_rc = 0;
	fake_host_set_connected(false);
	get("GET", "/healthz", NULL);
	assert_int_equal(resp.status, 503);
	assert_string_equal(
		body(),
		"{\"status\":\"degraded\",\"database\":\"ok\",\"bus\":\"down\"}\n");
}

/* ---- methods and hosts ---- */

static void other_methods_are_405(void **st)
{
	static const char *const methods[] = {"POST", "PUT", "DELETE",
					      "PATCH", "OPTIONS"};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		get(methods[i], SCAN(QR), NULL);
		assert_int_equal(resp.status, 405);
		assert_string_equal(resp.allow, "GET, HEAD");
		get(methods[i], "/healthz", NULL);
		assert_int_equal(resp.status, 405);
		assert_string_equal(resp.allow, "GET, HEAD");
	}
	get("POST", "/nowhere", NULL);
	assert_int_equal(resp.status, 404);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void host_not_allowed_is_400(void **st)
{
	static const char *const bad[] = {NULL,
					  "",
					  "evil.example",
					  "keryu.example.evil",
					  "keryu.exampl",
					  "evil.example:8000",
					  "::1",
					  "[::1",
					  "[::2]:80"};
	static const char *const good[] = {"keryu.example",
					   "KERYU.example:8000",
					   "other.example",
					   "other.example:1",
					   "[::1]:8000",
					   "[::1]"};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		get("GET", SCAN(QR), bad[i]);
		assert_int_equal(resp.status, 400);
		get("GET", "/healthz", bad[i]);
		assert_int_equal(resp.status, 400);
	}
	assert_int_equal(fake_host_pub_count(), 0);
	assert_int_equal(fake_storage_state.lookups, 0);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		get("GET", "/healthz", good[i]);
		assert_int_equal(resp.status, 200);
	}
	get("GET", SCAN(QR), "keryu.example:8000");
	assert_int_equal(resp.status, 200);
}

static void bad_config_refused(void **st)
{
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	http_test_offer_services();
	fake_host_set("allowed_hosts", "a.example,[::1");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 KERYU_EINVAL);

	/* contact_channels: names that can be a topic level, at least one,
	 * none twice; the error names the key */
	{
		static const char *const bad[] = {
			"whatsapp,Email!", "sms,a/b",	 "", " , ",
			"sms,sms",	   "log,sms+text", "whatsapp,SMS",
			"x,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			fake_host_reset(&keryu_module);
			fake_host_add_service(KERYU_SERVICE_STORAGE,
					      &fake_storage);
			fake_host_add_service(KERYU_SERVICE_ACCOUNTS,
					      &fake_accounts);
			fake_host_set("contact_channels", bad[i]);
			assert_int_equal(keryu_module.init(fake_mod(),
							   fake_host(), &state),
					 KERYU_EINVAL);
			assert_true(fake_host_log_contains(
				"key=contact_channels"));
		}
	}

	fake_host_reset(&keryu_module); /* no storage service */
	assert_int_not_equal(
		keryu_module.init(fake_mod(), fake_host(), &state), 0);
	fake_host_reset(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(html_escapes_by_default),
		cmocka_unit_test_setup_teardown(scan_active_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(scan_uppercase_is_normalised,
						setup, teardown),
		cmocka_unit_test_setup_teardown(scan_head_like_get_without_alarm,
						setup, teardown),
		cmocka_unit_test_setup_teardown(scan_non_utf8_user_agent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(scan_user_agent_truncated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(scan_unknown_or_malformed_is_404,
						setup, teardown),
		cmocka_unit_test_setup_teardown(scan_inactive_is_404_without_data,
						setup, teardown),
		cmocka_unit_test_setup_teardown(scan_storage_down_is_503, setup,
						teardown),
		cmocka_unit_test_setup_teardown(scan_publish_failure_is_503,
						setup, teardown),
		cmocka_unit_test_setup_teardown(scan_publish_timeout_is_queued,
						setup, teardown),
		cmocka_unit_test_setup_teardown(healthz_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(healthz_degraded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(other_methods_are_405, setup,
						teardown),
		cmocka_unit_test_setup_teardown(host_not_allowed_is_400,
						setup_hosts, teardown),
		cmocka_unit_test(bad_config_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
