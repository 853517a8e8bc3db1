/* The statistics page and its CSV without a socket: http_route() against
 * the fake host and fake accounts/subjects services; custodian A, and
 * staff S who sees everyone's alarms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "fake_subjects.h"
#include "http_module.h"
#include "http_stats.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"

static struct http_ctx *ctx;
static struct http_response resp;
static struct keryu_custodian *A, *S;
static const char *who; /* "A", "S" or NULL (a visitor) */

static struct keryu_custodian *custodian(const char *email, bool staff)
{
	struct keryu_custodian *c =
		&fake_accounts_state.custodians[fake_accounts_state.n_custodians++];

	memset(c, 0, sizeof(*c));
	keryu_uuid_new(c->id);
	snprintf(c->email, sizeof(c->email), "%s", email);
	snprintf(c->name, sizeof(c->name), "Someone");
	snprintf(c->phone, sizeof(c->phone), "+16505551234");
	c->phone_verified = true;
	c->is_active = true;
	c->is_staff = staff;
	return c;
}

static void session(const char *token, const char *custodian_id)
{
	char hash[KERYU_HASH_HEX];

	http_hmac_hex(ctx, token, hash);
	assert_int_equal(fake_accounts.session_create(
				 NULL, hash, custodian_id,
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaaaaa",
				 3600),
			 0);
}

static int setup(void **st)
{
	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	http_test_offer_services();
	fake_subjects_reset();
	fake_host_add_service(KERYU_SERVICE_SUBJECTS, &fake_subjects);
	fake_host_set_global("kernel", "secret_key", "unit-test-secret");
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	A = custodian("a@example.org", false);
	S = custodian("s@example.org", true);
	session("token-a", A->id);
	session("token-s", S->id);
	who = "A";
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static void get(const char *url)
{
	struct http_test_url u;
	struct http_request req;

	http_test_request(&u, &req, "GET", url, NULL);
	req.user_agent = "TestAgent/1.0";
	req.cookie = !who ? NULL
		     : strcmp(who, "A") == 0 ? "keryu_session=token-a"
					     : "keryu_session=token-s";
	req.client_ip = "192.0.2.7";
	http_test_route(ctx, &req, &resp);
	http_test_url_free(&u);
}

static const char *body(void)
{
	return resp.body.buf ? resp.body.buf : "";
}

static void figures(void)
{
	struct keryu_stats *st = &fake_subjects_state.stats;
	int i;

	snprintf(st->first_day, sizeof(st->first_day), "2026-10-27");
	for (i = 0; i < 30; i++)
		st->per_day[i] = i % 3;
	st->alarms = 29;
	st->delivered_n = 5;
	st->delivered_median_s = 12.5;
	st->delivered_p90_s = 95;
	st->acknowledged_n = 2;
	st->acknowledged_median_s = 300;
	st->acknowledged_p90_s = 4000;
	st->n_channels = 2;
	snprintf(st->channel[0].channel, 32, "sms");
	st->channel[0].final = 4;
	st->channel[0].delivered = 3;
	snprintf(st->channel[1].channel, 32, "<b>x</b>");
	st->channel[1].final = 1;
}

static void page_needs_login(void **st)
{
	(void)st;
	who = NULL;
	get("/stats/");
	assert_int_equal(resp.status, 303);
	get("/stats/alarms.csv?days=7");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_state.stats_calls, 0);
}

static void custodian_sees_own_figures(void **st)
{
	(void)st;
	figures();
	get("/stats/?days=30");
	assert_int_equal(resp.status, 200);
	assert_false(fake_subjects_state.stats_all);
	assert_string_equal(fake_subjects_state.last_custodian, A->id);
	assert_int_equal(fake_subjects_state.stats_days, 30);
	assert_null(strstr(body(), "<script"));
	assert_non_null(strstr(body(), "<svg"));
	/* 30 day bars, the empty ones too, across the month's end */
	assert_non_null(strstr(body(), "data-day=\"2026-10-27\" "
					"data-count=\"0\""));
	assert_non_null(strstr(body(), "data-day=\"2026-11-01\""));
	assert_non_null(strstr(body(), "data-day=\"2026-11-25\" "
					"data-count=\"2\""));
	assert_null(strstr(body(), "data-day=\"2026-11-26\""));
	assert_non_null(strstr(body(), "<td data-seconds=\"12.5\">13 s</td>"));
	assert_non_null(strstr(body(), "1 min 35 s"));
	assert_non_null(strstr(body(), "1 h 6 min"));
	assert_non_null(strstr(body(), "<td>3</td><td>4</td><td>75%</td>"));
	assert_non_null(strstr(body(), "&lt;b&gt;x&lt;/b&gt;"));
	assert_null(strstr(body(), "<b>x</b>"));
	assert_null(strstr(body(), "Every custodian"));
	assert_non_null(strstr(body(), "/stats/alarms.csv?days=30"));
}

static void staff_sees_everyone(void **st)
{
	(void)st;
	who = "S";
	get("/stats/?days=90");
	assert_int_equal(resp.status, 200);
	assert_true(fake_subjects_state.stats_all);
	assert_int_equal(fake_subjects_state.stats_days, 90);
	assert_non_null(strstr(body(), "Every custodian"));
	/* nothing measured: no numbers made up */
	assert_non_null(strstr(body(), "<td class=\"n\">0</td><td>-</td>"));
}

static void bad_period_is_400(void **st)
{
	(void)st;
	get("/stats/?days=8");
	assert_int_equal(resp.status, 400);
	get("/stats/alarms.csv?days=-1");
	assert_int_equal(resp.status, 400);
	assert_int_equal(fake_subjects_state.stats_calls, 0);
	get("/stats/");
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_subjects_state.stats_days, 30);
}

static void service_failure_is_503(void **st)
{
	(void)st;
	fake_subjects_state.rc = KERYU_EIO;
	get("/stats/?days=7");
	assert_int_equal(resp.status, 503);
	get("/stats/alarms.csv?days=7");
	assert_int_equal(resp.status, 503);
	assert_null(strstr(body(), "scanned_at"));
}

static void csv_quotes_and_pages(void **st)
{
	struct fake_subjects_state *f = &fake_subjects_state;
	size_t i;
	const char *b, *line;
	int lines = 0;

	(void)st;
	f->n_stats_rows = 1100; /* more than one page of the service */
	for (i = 0; i < f->n_stats_rows; i++) {
		struct keryu_stats_row *r = &f->stats_rows[i];

		keryu_uuid_new(r->id);
		snprintf(r->scanned_at, sizeof(r->scanned_at),
			 "2026-11-25T10:00:00.000Z");
		snprintf(r->subject_name, sizeof(r->subject_name), "Ana");
		snprintf(r->notification_status,
			 sizeof(r->notification_status), "DELIVERED");
	}
	snprintf(f->stats_rows[0].subject_name, 101, "=HYPERLINK(\"x\")");
	snprintf(f->stats_rows[1].subject_name, 101, "a, \"b\"\nc");
	snprintf(f->stats_rows[2].subject_name, 101, "@sum");
	snprintf(f->stats_rows[3].subject_name, 101, "-1+1");
	get("/stats/alarms.csv?days=7");
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/csv; charset=utf-8");
	assert_string_equal(resp.disposition,
			    "attachment; filename=\"keryu-alarms-7d.csv\"");
	b = body();
	assert_true(strncmp(b, "id,scanned_at,subject,notification_status,"
			       "acknowledged_at,resolved_at\r\n",
			    70) == 0);
	assert_non_null(strstr(b, ",\"'=HYPERLINK(\"\"x\"\")\","));
	assert_non_null(strstr(b, ",\"a, \"\"b\"\"\nc\","));
	assert_non_null(strstr(b, ",\"'@sum\","));
	assert_non_null(strstr(b, ",\"'-1+1\","));
	assert_non_null(strstr(b, f->stats_rows[1099].id));
	for (line = b; (line = strstr(line, "\r\n")); line += 2)
		lines++;
	assert_int_equal(lines, 1101);
	assert_false(f->stats_all);
}

static void cell_escaping(void **st)
{
	struct html h;
	char t[32];

	(void)st;
	html_init(&h);
	http_csv_cell(&h, "+1");
	http_csv_cell(&h, "");
	http_csv_cell(&h, "<a>");
	assert_string_equal(h.buf, "\"'+1\"\"\"\"<a>\"");
	html_free(&h);
	assert_int_equal(http_stats_days("7"), 7);
	assert_int_equal(http_stats_days("07"), 0);
	assert_int_equal(http_stats_days(NULL), 30);
	http_stats_duration(-3, t, sizeof(t));
	assert_string_equal(t, "0 s");
	http_stats_duration(59.6, t, sizeof(t));
	assert_string_equal(t, "1 min 0 s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(page_needs_login, setup,
						teardown),
		cmocka_unit_test_setup_teardown(custodian_sees_own_figures,
						setup, teardown),
		cmocka_unit_test_setup_teardown(staff_sees_everyone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bad_period_is_400, setup,
						teardown),
		cmocka_unit_test_setup_teardown(service_failure_is_503, setup,
						teardown),
		cmocka_unit_test_setup_teardown(csv_quotes_and_pages, setup,
						teardown),
		cmocka_unit_test(cell_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
