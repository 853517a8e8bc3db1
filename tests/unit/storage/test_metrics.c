/* integration.storage_metrics: keryu/storage.h's metrics (what /metrics
 * reads) on a real PostgreSQL: notifications by channel and status,
 * retries, queue depth, and the pool's connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "storage_fixture.h"

enum { PENDING, QUEUED, ERROR, SENT, DELIVERED, READ, FAILED };

static const struct keryu_storage_channel_count *
channel(const struct keryu_storage_metrics *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_channels; i++)
		if (strcmp(m->channels[i].channel, name) == 0)
			return &m->channels[i];
	return NULL;
}

static void test_empty(void **unused)
{
	struct keryu_storage_metrics m;

	(void)unused;
	assert_int_equal(fx_start("3"), 0);
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(fx.st->metrics(fx.st->self, &m), 0);
	assert_int_equal(m.n_channels, 0);
	assert_int_equal(m.retries, 0);
	assert_int_equal(m.queue_depth, 0);
	/* the query's own connection is not counted as busy */
	assert_int_equal(m.pool_busy, 0);
	assert_int_equal(m.pool_idle, 3);
}

static void test_counts(void **unused)
{
	struct keryu_alarm_policy pol = fx_policy();
	struct keryu_alarm_created a, b, c;
	struct fx_world w1, w2, w3;
	struct keryu_storage_metrics m;
	const struct keryu_storage_channel_count *wa, *lg;

	(void)unused;
	fx_seed(&w1, true, 0, 0);
	fx_seed(&w2, true, 0, 0);
	fx_seed(&w3, true, 0, 0);
	fx_scan(&w1, &pol, &a); /* PENDING */
	fx_scan(&w2, &pol, &b);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						     b.notification_id, 3, 60),
			 0);
	fx_result(b.notification_id, "delivered", 3, -1, NULL, NULL);
	fx_scan(&w3, fx_pol("log"), &c);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						     c.notification_id, 2, 60),
			 0);

	assert_int_equal(fx.st->metrics(fx.st->self, &m), 0);
	assert_int_equal(m.n_channels, 2);
	/* ordered by name */
	assert_string_equal(m.channels[0].channel, "log");
	assert_string_equal(m.channels[1].channel, "whatsapp");
	wa = channel(&m, "whatsapp");
	lg = channel(&m, "log");
	assert_non_null(wa);
	assert_non_null(lg);
	assert_int_equal(wa->status[PENDING], 1);
	assert_int_equal(wa->status[DELIVERED], 1);
	assert_int_equal(wa->status[FAILED], 0);
	assert_int_equal(lg->status[QUEUED], 1);
	/* attempts 3 and 2 (the PENDING one has 0): 2 + 1 */
	assert_string_equal(fx_nfield(b.notification_id, "attempts"), "3");
	assert_int_equal(m.retries, 3);
	assert_int_equal(m.queue_depth, 2);
	fx_assert_logs_clean(w1.phone, w2.phone, w3.phone, NULL);
}

static void test_database_gone(void **unused)
{
	struct keryu_storage_metrics m;

	(void)unused;
	fx_stop();
	/* a pool on a database that refuses: EIO, pool figures still set */
	assert_int_equal(fx_start("2"), 0);
	fx_sql1("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		"WHERE datname = current_database() AND pid <> "
		"pg_backend_pid()",
		NULL);
	fx_sql1("ALTER TABLE notifications RENAME TO notifications_away",
		NULL);
	assert_int_equal(fx.st->metrics(fx.st->self, &m), KERYU_EIO);
	assert_int_equal(m.pool_busy + m.pool_idle, 2);
	fx_sql1("ALTER TABLE notifications_away RENAME TO notifications",
		NULL);
	assert_int_equal(fx.st->metrics(fx.st->self, &m), 0);
	fx_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_database_gone),
	};
	fx.phone_prefix = "+1555061";
	return fx_run("integration.storage_metrics", "keryu_metrics", "UTC",
		      tests, sizeof(tests) / sizeof(tests[0]));
}
