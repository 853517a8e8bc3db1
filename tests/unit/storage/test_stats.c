/* integration.storage_stats: subjects->stats (the statistics page) on a
 * real PostgreSQL: alarms per UTC day with empty days, scan to delivered
 * and to acknowledged percentiles, delivery success by channel, one
 * custodian's alarms or everyone's, and the CSV rows paged by id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "storage_fixture.h"

static struct fx_world w1, w2;
static char a_today1[KERYU_UUID_LEN], a_today2[KERYU_UUID_LEN];

/* "<UTC day ago days>T<hms>Z" */
static void day_at(int ago, const char *hms, char out[KERYU_TIME_LEN])
{
	time_t t = time(NULL) - (time_t)ago * 86400;
	struct tm tm;
	char day[16];

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	/* bounded: gcc -O2 checks the worst case fits */
	snprintf(out, KERYU_TIME_LEN, "%.10sT%.8sZ", day, hms);
}

/* A scan ago days back on channel, its notification left in status
 * (delivered_at seconds after the scan when delivered_s >= 0) and the
 * alarm acknowledged ack_s after it when ack_s >= 0. */
static void alarm(const struct fx_world *w, int ago, const char *hms,
		  const char *channel, const char *status, int delivered_s,
		  int ack_s, char id_out[KERYU_UUID_LEN])
{
	struct keryu_alarm_created c;
	char at[KERYU_TIME_LEN], ds[16], as[16];
	const char *v[4];
	PGresult *r;

	day_at(ago, hms, at);
	fx_scan_at(w, fx_pol(channel), at, &c);
	snprintf(ds, sizeof(ds), "%d", delivered_s);
	snprintf(as, sizeof(as), "%d", ack_s);
	v[0] = c.notification_id;
	v[1] = status;
	v[2] = ds;
	r = fx_sqlv("UPDATE notifications n SET status = $2, delivered_at = "
		    "CASE WHEN $3::int >= 0 THEN a.scanned_at + "
		    "make_interval(secs => $3::int) END "
		    "FROM alarms a WHERE a.id = n.alarm_id AND n.id = $1::uuid",
		    3, v);
	PQclear(r);
	v[0] = c.alarm_id;
	v[1] = as;
	r = fx_sqlv("UPDATE alarms SET acknowledged_via = 'page', "
		    "acknowledged_at = scanned_at + make_interval(secs => "
		    "$2::int) WHERE id = $1::uuid AND $2::int >= 0",
		    2, v);
	PQclear(r);
	if (id_out)
		snprintf(id_out, KERYU_UUID_LEN, "%s", c.alarm_id);
}

static void test_seed(void **unused)
{
	(void)unused;
	assert_int_equal(fx_start("3"), 0);
	fx_seed(&w1, true, 0, 0);
	fx_seed(&w2, true, 0, 0);
	alarm(&w1, 0, "00:00:05", "whatsapp", "DELIVERED", 10, 60, a_today1);
	alarm(&w1, 0, "00:00:06", "sms", "READ", 30, -1, a_today2);
	alarm(&w1, 1, "12:00:00", "whatsapp", "FAILED", -1, -1, NULL);
	alarm(&w1, 2, "12:00:00", "whatsapp", "DELIVERED", 50, 120, NULL);
	alarm(&w1, 3, "12:00:00", "whatsapp", "QUEUED", -1, -1, NULL);
	alarm(&w1, 10, "12:00:00", "whatsapp", "FAILED", -1, -1, NULL);
	alarm(&w1, 40, "12:00:00", "whatsapp", "DELIVERED", 5, -1, NULL);
	alarm(&w2, 0, "00:00:07", "whatsapp", "DELIVERED", 1000, 2000, NULL);
}

static const struct keryu_stats_channel *
channel(const struct keryu_stats *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n_channels; i++)
		if (strcmp(st->channel[i].channel, name) == 0)
			return &st->channel[i];
	return NULL;
}

static void test_week_of_one_custodian(void **unused)
{
	struct keryu_stats st;
	char first[KERYU_TIME_LEN];
	const struct keryu_stats_channel *wa, *sms;

	(void)unused;
	assert_int_equal(fx.sj->stats(fx.sj->self, w1.custodian, 7, &st,
				      NULL, NULL, 0, NULL),
			 0);
	assert_int_equal(st.days, 7);
	day_at(6, "00:00:00", first);
	assert_memory_equal(st.first_day, first, 10);
	assert_int_equal(st.per_day[6], 2);
	assert_int_equal(st.per_day[5], 1);
	assert_int_equal(st.per_day[4], 1);
	assert_int_equal(st.per_day[3], 1);
	assert_int_equal(st.per_day[0] + st.per_day[1] + st.per_day[2], 0);
	assert_int_equal(st.alarms, 5);
	/* delivered after 10, 30 and 50 s */
	assert_int_equal(st.delivered_n, 3);
	assert_true(st.delivered_median_s > 29.9 &&
		    st.delivered_median_s < 30.1);
	assert_true(st.delivered_p90_s > 45.9 && st.delivered_p90_s < 46.1);
	/* acknowledged after 60 and 120 s */
	assert_int_equal(st.acknowledged_n, 2);
	assert_true(st.acknowledged_median_s > 89.9 &&
		    st.acknowledged_median_s < 90.1);
	assert_true(st.acknowledged_p90_s > 113.9 &&
		    st.acknowledged_p90_s < 114.1);
	/* the QUEUED one is not final */
	assert_int_equal(st.n_channels, 2);
	assert_string_equal(st.channel[0].channel, "sms");
	sms = channel(&st, "sms");
	wa = channel(&st, "whatsapp");
	assert_non_null(sms);
	assert_non_null(wa);
	assert_int_equal(sms->final, 1);
	assert_int_equal(sms->delivered, 1);
	assert_int_equal(wa->final, 3);
	assert_int_equal(wa->delivered, 2);
}

static void test_periods_and_scope(void **unused)
{
	struct keryu_stats st;

	(void)unused;
	assert_int_equal(fx.sj->stats(fx.sj->self, w1.custodian, 30, &st,
				      NULL, NULL, 0, NULL),
			 0);
	assert_int_equal(st.alarms, 6);
	assert_int_equal(st.per_day[29], 2);
	assert_int_equal(st.per_day[19], 1);
	assert_int_equal(fx.sj->stats(fx.sj->self, w1.custodian, 90, &st,
				      NULL, NULL, 0, NULL),
			 0);
	assert_int_equal(st.alarms, 7);
	/* the other custodian sees only theirs */
	assert_int_equal(fx.sj->stats(fx.sj->self, w2.custodian, 7, &st,
				      NULL, NULL, 0, NULL),
			 0);
	assert_int_equal(st.alarms, 1);
	assert_int_equal(st.delivered_n, 1);
	assert_true(st.delivered_median_s > 999.9 &&
		    st.delivered_median_s < 1000.1);
	/* everyone's (staff) */
	assert_int_equal(fx.sj->stats(fx.sj->self, NULL, 7, &st, NULL, NULL,
				      0, NULL),
			 0);
	assert_int_equal(st.alarms, 6);
	assert_int_equal(st.per_day[6], 3);
	assert_int_equal(st.delivered_n, 4);
	/* bad input */
	assert_int_equal(fx.sj->stats(fx.sj->self, NULL, 8, &st, NULL, NULL,
				      0, NULL),
			 KERYU_EINVAL);
	assert_int_equal(fx.sj->stats(fx.sj->self, "nope", 7, &st, NULL,
				      NULL, 0, NULL),
			 KERYU_EINVAL);
	assert_int_equal(fx.sj->stats(fx.sj->self, NULL, 7, NULL, NULL, NULL,
				      0, NULL),
			 KERYU_EINVAL);
}

static void test_rows(void **unused)
{
	struct keryu_stats_row rows[4];
	size_t n = 99;

	(void)unused;
	assert_int_equal(fx.sj->stats(fx.sj->self, w1.custodian, 7, NULL,
				      NULL, rows, 3, &n),
			 0);
	assert_int_equal(n, 3);
	/* oldest first */
	assert_true(strcmp(rows[0].scanned_at, rows[1].scanned_at) < 0);
	/* the alarm's own summary: the seed set notifications by hand */
	assert_string_equal(rows[0].notification_status, "PENDING");
	assert_string_equal(rows[0].acknowledged_at, "");
	assert_string_not_equal(rows[0].subject_name, "");
	assert_int_equal(fx.sj->stats(fx.sj->self, w1.custodian, 7, NULL,
				      rows[2].id, rows, 3, &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].id, a_today1);
	assert_string_not_equal(rows[0].acknowledged_at, "");
	assert_string_equal(rows[1].id, a_today2);
	/* another custodian's alarm is no place to page from */
	assert_int_equal(fx.sj->stats(fx.sj->self, w2.custodian, 7, NULL,
				      a_today1, rows, 3, &n),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx.sj->stats(fx.sj->self, NULL, 7, NULL, a_today1,
				      rows, 4, &n),
			 0);
	assert_int_equal(n, 2); /* a_today2 and w2's */
	fx_assert_logs_clean(w1.phone, w2.phone, NULL);
	fx_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_week_of_one_custodian),
		cmocka_unit_test(test_periods_and_scope),
		cmocka_unit_test(test_rows),
	};
	fx.phone_prefix = "+1555071";
	return fx_run("integration.storage_stats", "keryu_stats", "UTC", tests,
		      sizeof(tests) / sizeof(tests[0]));
}
