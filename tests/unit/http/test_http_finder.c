/* The finder's endpoints through http_route(), against the fake host and
 * fake services: posts bound by the finder token (good, missing, bad,
 * foreign, expired), strict parsing, replays, JSON and HTML answers, the
 * status JSON, the scan rate limits per address and per tag, the address
 * hash, and the custodian's lost-mode toggle. */
#include <ctype.h>
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
#include "fake_subjects.h"
#include "http_finder.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define SECRET "unit-test-secret"
#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define QR2 "1c8f4d2f-0b63-4d2e-9f4a-3b7cad1e2f30"
#define EVENT "dddddddd-1111-4222-8333-444444444444"
#define ALARM "cccccccc-2222-4000-8000-000000000001"
#define CSRF_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static struct http_ctx *ctx;
static struct http_response resp;
static const char *origin;
static const char *cookie;
static const char *client_ip;
static const char *limit_ip, *limit_tag; /* options set before init */

static int setup(void **st)
{
	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	snprintf(fake_storage_state.finder_event,
		 sizeof(fake_storage_state.finder_event), "%s", EVENT);
	snprintf(fake_storage_state.finder_alarm,
		 sizeof(fake_storage_state.finder_alarm), "%s", ALARM);
	http_test_offer_services();
	fake_subjects_reset();
	fake_host_add_service(KERYU_SERVICE_SUBJECTS, &fake_subjects);
	fake_host_set_global("kernel", "secret_key", SECRET);
	fake_host_set("public_url", "https://keryu.example/");
	fake_host_set("photo_dir", "/tmp");
	if (limit_ip)
		fake_host_set("scan_limit_per_ip", limit_ip);
	if (limit_tag)
		fake_host_set("scan_limit_per_tag", limit_tag);
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	origin = NULL;
	cookie = NULL;
	client_ip = "203.0.113.7";
	return 0;
}

static int setup_limits(void **st)
{
	int rc;

	limit_ip = "2";
	limit_tag = "3";
	rc = setup(st);
	limit_ip = limit_tag = NULL;
	return rc;
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

static void token(const char *event, const char *qr, long long expires,
		  char out[KERYU_ACK_TOKEN_LEN])
{
	assert_int_equal(keryu_finder_token_make(SECRET, event, qr, expires,
						 out),
			 0);
}

static void good_token(char out[KERYU_ACK_TOKEN_LEN])
{
	token(EVENT, QR, (long long)time(NULL) + 600, out);
}

/* Sends method to url ("?query" allowed) with fields as a urlencoded
 * body (POST only). */
static void send(const char *method, const char *url, const char *fields)
{
	struct http_test_url u;
	struct http_request req;

	http_test_request(&u, &req, method, url, fields);
	req.host = "keryu.example";
	req.user_agent = "TestAgent/1.0";
	req.client_ip = client_ip;
	req.origin = origin;
	req.cookie = cookie;
	http_test_route(ctx, &req, &resp);
	http_test_url_free(&u);
}

static void post_location(const char *tok, const char *rest)
{
	char f[512];

	snprintf(f, sizeof(f), "t=%s&%s", tok, rest);
	send("POST", "/subjects/qr/" QR "/scan/location", f);
}

static void post_report(const char *tok, const char *rest)
{
	char f[2048];

	snprintf(f, sizeof(f), "t=%s&%s", tok, rest);
	send("POST", "/subjects/qr/" QR "/scan/report", f);
}

/* ---- posts ---- */

static void location_html_then_replay(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], topic[128];
	const struct fake_pub *pub;
	struct keryu_report_event ev;

	(void)st;
	good_token(tok);
	post_location(tok, "lat=-34.6037&lng=-58.3816&accuracy=12.5");
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_non_null(strstr(resp.content_type, "text/html"));
	assert_non_null(strstr(body(), "Location sent"));
	/* the answer must not send the finder back to the scan page: that
	 * would raise another alarm */
	assert_null(strstr(body(), "/scan/\""));
	assert_int_equal(fake_storage_state.attaches, 1);
	assert_int_equal(fake_storage_state.last_post.kind,
			 KERYU_FINDER_LOCATION);
	assert_string_equal(fake_storage_state.last_post.scan_event_id, EVENT);
	assert_string_equal(fake_storage_state.last_post.qr_uuid, QR);
	assert_true(fake_storage_state.last_post.lat < -34.6 &&
		    fake_storage_state.last_post.lat > -34.61);
	assert_true(fake_storage_state.last_post.accuracy_m == 12.5);

	assert_int_equal(fake_host_pub_count(), 1);
	pub = fake_host_pub(0);
	snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_REPORT, ALARM);
	assert_string_equal(pub->topic, topic);
	assert_true(pub->waited || pub->qos == 1);
	assert_int_equal(keryu_report_event_decode(pub->payload, pub->len, &ev),
			 0);
	assert_string_equal(ev.alarm_id, ALARM);
	assert_string_equal(ev.kind, "location");

	/* the same post again changes nothing */
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 409);
	assert_int_equal(fake_host_pub_count(), 1);
	/* the token is never logged */
	assert_false(fake_host_log_contains(tok));
}

static void report_json(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	good_token(tok);
	post_report(tok, "situation=test&text=just+trying+%C3%A1&format=json");
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(body(), "{\"ok\":true}");
	assert_string_equal(fake_storage_state.last_post.situation, "test");
	assert_string_equal(fake_storage_state.last_post.text,
			    "just trying \xc3\xa1");
	assert_int_equal(fake_host_pub_count(), 1);

	/* JSON asked in the query string works too; replay is 409 JSON */
	send("POST",
	     "/subjects/qr/" QR "/scan/report?format=json",
	     NULL);
	assert_int_equal(resp.status, 403); /* no token in the body */
	assert_string_equal(resp.content_type, "application/json");
	assert_non_null(strstr(body(), "{\"error\":\""));
	post_report(tok, "situation=lost&format=json");
	assert_int_equal(resp.status, 409);
	assert_non_null(strstr(body(), "\"error\""));
	assert_int_equal(fake_host_pub_count(), 1);
}

static void tokens_refused(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];
	long long now = (long long)time(NULL);

	(void)st;
	/* none */
	send("POST", "/subjects/qr/" QR "/scan/location",
	     "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 403);
	/* garbage */
	post_location("abc.123.xyz", "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 403);
	/* a good token of another tag, on this tag's URL */
	token(EVENT, QR2, now + 600, tok);
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 403);
	/* signed with another secret */
	assert_int_equal(keryu_finder_token_make("other-secret", EVENT, QR,
						 now + 600, tok),
			 0);
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 403);
	/* tampered: one character of the mac changed */
	good_token(tok);
	tok[strlen(tok) - 1] = tok[strlen(tok) - 1] == 'A' ? 'B' : 'A';
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 403);
	/* expired */
	token(EVENT, QR, now - 1, tok);
	post_report(tok, "situation=lost");
	assert_int_equal(resp.status, 410);
	/* status with a bad token */
	send("GET", "/subjects/qr/" QR "/scan/status?t=nope", NULL);
	assert_int_equal(resp.status, 403);
	assert_string_equal(resp.content_type, "application/json");

	assert_int_equal(fake_storage_state.attaches, 0);
	assert_int_equal(fake_storage_state.statuses, 0);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void malformed_refused(void **st)
{
	static const char *const bad_loc[] = {
		"lat=91&lng=0&accuracy=1",
		"lat=-90.0001&lng=0&accuracy=1",
		"lat=0&lng=180.5&accuracy=1",
		"lat=nan&lng=0&accuracy=1",
		"lat=inf&lng=0&accuracy=1",
		"lat=0x10&lng=0&accuracy=1",
		"lat=+1e999&lng=0&accuracy=1",
		"lat=1&lng=0&accuracy=-1",
		"lat=1&lng=0",
		"lat=&lng=0&accuracy=1",
		"lat=%201&lng=0&accuracy=1",
		"lat=1abc&lng=0&accuracy=1",
	};
	static const char *const bad_rep[] = {
		"situation=",
		"situation=panic",
		"situation=INJURED",
		"text=hello",
		"situation=lost&text=%FF%FE",
		"situation=lost&text=a%01b",
	};
	char tok[KERYU_ACK_TOKEN_LEN], f[1024];
	size_t i;

	(void)st;
	good_token(tok);
	for (i = 0; i < sizeof(bad_loc) / sizeof(bad_loc[0]); i++) {
		post_location(tok, bad_loc[i]);
		assert_int_equal(resp.status, 400);
	}
	for (i = 0; i < sizeof(bad_rep) / sizeof(bad_rep[0]); i++) {
		post_report(tok, bad_rep[i]);
		assert_int_equal(resp.status, 400);
	}
	/* 501 bytes is too long; 500 is fine */
	memset(f, 'x', 501);
	f[501] = '\0';
	{
		char rest[1100];

		snprintf(rest, sizeof(rest), "situation=lost&text=%s", f);
		post_report(tok, rest);
		assert_int_equal(resp.status, 400);
		assert_non_null(strstr(body(), "500"));
		assert_int_equal(fake_storage_state.attaches, 0);
		f[500] = '\0';
		snprintf(rest, sizeof(rest), "situation=lost&text=%s", f);
		post_report(tok, rest);
		assert_int_equal(resp.status, 200);
	}
	assert_int_equal(fake_storage_state.attaches, 1);
	assert_int_equal(fake_host_pub_count(), 1);
}

static void storage_errors(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	/* a token for a scan the storage does not know (yet) */
	token("eeeeeeee-1111-4222-8333-444444444444", QR,
	      (long long)time(NULL) + 600, tok);
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 404);
	good_token(tok);
	fake_storage_state.attach_rc = KERYU_EIO;
	post_location(tok, "lat=1&lng=2&accuracy=3&format=json");
	assert_int_equal(resp.status, 503);
	assert_string_equal(resp.content_type, "application/json");
	fake_storage_state.attach_rc = KERYU_EINVAL;
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 400);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void origin_and_methods(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN];

	(void)st;
	good_token(tok);
	origin = "https://evil.example";
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 403);
	assert_int_equal(fake_storage_state.attaches, 0);
	origin = "https://keryu.example";
	post_location(tok, "lat=1&lng=2&accuracy=3");
	assert_int_equal(resp.status, 200);

	send("GET", "/subjects/qr/" QR "/scan/location", NULL);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.allow, "POST");
	send("POST", "/subjects/qr/" QR "/scan/status", "t=x");
	assert_int_equal(resp.status, 405);
	send("POST", "/subjects/qr/not-a-uuid/scan/report", "t=x");
	assert_int_equal(resp.status, 404);
	assert_true(http_route_takes_post("/subjects/qr/" QR "/scan/report"));
	assert_true(http_route_takes_post("/subjects/qr/" QR "/scan/location"));
	assert_false(http_route_needs_login("/subjects/qr/" QR "/scan/report"));
}

/* ---- status ---- */

static void status_json(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], url[512];

	(void)st;
	good_token(tok);
	snprintf(url, sizeof(url), "/subjects/qr/%s/scan/status?t=%s", QR, tok);

	fake_storage_state.status_rc = KERYU_ENOTFOUND;
	send("GET", url, NULL);
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_string_equal(resp.content_type, "application/json");
	assert_non_null(strstr(body(), "\"status\":\"pending\""));

	fake_storage_state.status_rc = 0;
	snprintf(fake_storage_state.finder.status,
		 sizeof(fake_storage_state.finder.status), "DELIVERED");
	fake_storage_state.finder.has_location = true;
	snprintf(fake_storage_state.finder.acknowledged_at,
		 sizeof(fake_storage_state.finder.acknowledged_at),
		 "2026-02-01T09:00:00.000Z");
	send("GET", url, NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(body(),
			    "{\"status\":\"delivered\",\"acknowledged\":true,"
			    "\"has_location\":true,\"has_report\":false,"
			    "\"is_test\":false}");
	assert_string_equal(fake_storage_state.last_status_event, EVENT);

	fake_storage_state.finder.status[0] = '\0';
	fake_storage_state.finder.acknowledged_at[0] = '\0';
	fake_storage_state.finder.is_test = true;
	send("GET", url, NULL);
	assert_non_null(strstr(body(), "\"status\":\"none\""));
	assert_non_null(strstr(body(), "\"is_test\":true"));
	assert_non_null(strstr(body(), "\"acknowledged\":false"));

	fake_storage_state.status_rc = KERYU_EIO;
	send("GET", url, NULL);
	assert_int_equal(resp.status, 503);

	/* no token */
	send("GET", "/subjects/qr/" QR "/scan/status", NULL);
	assert_int_equal(resp.status, 403);
	/* expired */
	token(EVENT, QR, (long long)time(NULL) - 5, tok);
	snprintf(url, sizeof(url), "/subjects/qr/%s/scan/status?t=%s", QR, tok);
	send("GET", url, NULL);
	assert_int_equal(resp.status, 410);
}

/* ---- token, hash, limits ---- */

static void finder_token_round_trip(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], ev[KERYU_UUID_LEN];
	long long now = (long long)time(NULL);

	(void)st;
	http_finder_token(ctx, EVENT, QR, tok);
	assert_true(tok[0]);
	assert_int_equal(keryu_finder_token_check(SECRET, tok, QR, now, ev), 0);
	assert_string_equal(ev, EVENT);
	assert_int_not_equal(keryu_finder_token_check(SECRET, tok, QR2, now,
						      ev),
			     0);
	/* default ttl 3600: alive in 59 minutes, dead in 61 */
	assert_int_equal(keryu_finder_token_check(SECRET, tok, QR,
						  now + 3540, ev),
			 0);
	assert_int_equal(keryu_finder_token_check(SECRET, tok, QR, now + 3660,
						  ev),
			 KERYU_ETIMEDOUT);
}

static void ip_hash_stable_not_ip(void **st)
{
	struct http_request req;
	char a[65], b[65], c[65];
	size_t i;

	(void)st;
	memset(&req, 0, sizeof(req));
	req.client_ip = "203.0.113.7";
	http_ip_hash(ctx, &req, a);
	http_ip_hash(ctx, &req, b);
	assert_int_equal(strlen(a), 64);
	for (i = 0; i < 64; i++)
		assert_true(isxdigit((unsigned char)a[i]) &&
			    !isupper((unsigned char)a[i]));
	assert_string_equal(a, b);
	assert_null(strstr(a, "203"));
	req.client_ip = "203.0.113.8";
	http_ip_hash(ctx, &req, c);
	assert_string_not_equal(a, c);
	req.client_ip = NULL;
	http_ip_hash(ctx, &req, c);
	assert_string_equal(c, "");
}

static bool scan_ok(const char *ip, const char *qr)
{
	struct http_request req;
	bool ok;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.client_ip = ip;
	http_response_free(&resp);
	http_response_init(&resp);
	ok = http_scan_allowed(ctx, &req, qr, "en", &resp);
	if (!ok) {
		assert_int_equal(resp.status, 429);
		assert_true(resp.retry_after > 0 && resp.retry_after <= 60);
		assert_true(resp.no_store);
	}
	return ok;
}

static void limit_per_ip(void **st)
{
	int hits;

	(void)st;
	fake_accounts_state.rate_count = true;
	assert_true(scan_ok("198.51.100.1", QR));
	assert_true(scan_ok("198.51.100.1", QR2));
	assert_false(scan_ok("198.51.100.1", QR)); /* third from that IP */
	/* blocked: refused again without asking the service */
	hits = fake_accounts_state.rate_hits;
	assert_false(scan_ok("198.51.100.1", QR2));
	assert_int_equal(fake_accounts_state.rate_hits, hits);
	/* another address is not affected */
	assert_true(scan_ok("198.51.100.2", QR2));
	assert_true(fake_host_log_contains("what=scan kind=ip"));
	assert_false(fake_host_log_contains("198.51.100.1"));
}

static void limit_per_tag(void **st)
{
	(void)st;
	fake_accounts_state.rate_count = true;
	assert_true(scan_ok("198.51.100.1", QR));
	assert_true(scan_ok("198.51.100.2", QR));
	assert_true(scan_ok("198.51.100.3", QR));
	assert_false(scan_ok("198.51.100.4", QR)); /* fourth of the tag */
	assert_true(fake_host_log_contains("what=scan kind=tag"));
	assert_true(scan_ok("198.51.100.4", QR2)); /* another tag */
}

/* The scan limits are counted in the process's memory: no database
 * round trip per scan, and a database outage changes nothing. */
static void limits_cost_no_database(void **st)
{
	(void)st;
	fake_accounts_state.rc = KERYU_EIO;
	fake_accounts_state.rate_allowed = false;
	assert_true(scan_ok("198.51.100.1", QR));
	assert_true(scan_ok("198.51.100.1", QR2));
	assert_false(scan_ok("198.51.100.1", QR));
	assert_int_equal(fake_accounts_state.rate_hits, 0);
}

/* ---- lost mode ---- */

static struct keryu_custodian *custodian(const char *email)
{
	struct keryu_custodian *c =
		&fake_accounts_state.custodians[fake_accounts_state.n_custodians++];

	memset(c, 0, sizeof(*c));
	keryu_uuid_new(c->id);
	snprintf(c->email, sizeof(c->email), "%s", email);
	snprintf(c->name, sizeof(c->name), "Ana A");
	snprintf(c->phone, sizeof(c->phone), "+16505551234");
	c->phone_verified = true;
	c->is_active = true;
	return c;
}

static void lost_mode_toggle(void **st)
{
	struct keryu_custodian *a = custodian("a@example.org");
	struct keryu_custodian *b = custodian("b@example.org");
	struct keryu_subject *mine, *theirs;
	char hash[KERYU_HASH_HEX], url[256], view[256], f[256];

	(void)st;
	http_hmac_hex(ctx, "token-a", hash);
	assert_int_equal(fake_accounts.session_create(NULL, hash, a->id,
						      CSRF_A, 3600),
			 0);
	mine = fake_subjects_add(a->id, "Ana Doe");
	theirs = fake_subjects_add(b->id, "Bea Doe");
	cookie = "keryu_session=token-a";

	snprintf(view, sizeof(view), "/subjects/%s/", mine->id);
	send("GET", view, NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "Mark as missing"));
	assert_null(strstr(body(), "Marked as missing"));

	/* without the CSRF token: refused, nothing changed */
	snprintf(url, sizeof(url), "/subjects/%s/missing", mine->id);
	send("POST", url, "missing=1");
	assert_int_equal(resp.status, 403);
	assert_false(mine->missing);

	snprintf(f, sizeof(f), "csrf=%s&missing=1", CSRF_A);
	send("POST", url, f);
	assert_int_equal(resp.status, 303);
	assert_true(mine->missing);
	send("GET", view, NULL);
	assert_non_null(strstr(body(), "Marked as missing"));
	assert_non_null(strstr(body(), "end lost mode"));

	snprintf(f, sizeof(f), "csrf=%s&missing=0", CSRF_A);
	send("POST", url, f);
	assert_int_equal(resp.status, 303);
	assert_false(mine->missing);

	/* a bad value */
	snprintf(f, sizeof(f), "csrf=%s&missing=yes", CSRF_A);
	send("POST", url, f);
	assert_int_equal(resp.status, 400);

	/* another custodian's subject looks like none */
	snprintf(url, sizeof(url), "/subjects/%s/missing", theirs->id);
	snprintf(f, sizeof(f), "csrf=%s&missing=1", CSRF_A);
	send("POST", url, f);
	assert_int_equal(resp.status, 404);
	assert_false(theirs->missing);
	assert_int_equal(fake_subjects_state.missing_sets, 2);

	/* a visitor is sent to log in */
	cookie = NULL;
	snprintf(url, sizeof(url), "/subjects/%s/missing", mine->id);
	send("POST", url, "missing=1");
	assert_int_not_equal(resp.status, 200);
	assert_false(mine->missing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(location_html_then_replay,
						setup, teardown),
		cmocka_unit_test_setup_teardown(report_json, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(malformed_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(storage_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(origin_and_methods, setup,
						teardown),
		cmocka_unit_test_setup_teardown(status_json, setup, teardown),
		cmocka_unit_test_setup_teardown(finder_token_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(ip_hash_stable_not_ip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(limit_per_ip, setup_limits,
						teardown),
		cmocka_unit_test_setup_teardown(limit_per_tag, setup_limits,
						teardown),
		cmocka_unit_test_setup_teardown(
			limits_cost_no_database, setup_limits,
			teardown),
		cmocka_unit_test_setup_teardown(lost_mode_toggle, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
