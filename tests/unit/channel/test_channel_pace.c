/* channel_backoff_ms and the token bucket: the retry schedule and the rate
 * the engine holds, with fixed clocks and fixed random numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "channel.h"

static void backoff_bounds(void **ctx)
{
	static const unsigned bases[] = {1, 10, 1000, 60000,
					 CHANNEL_BACKOFF_CAP_MS, 4000000000u};
	size_t b;
	int a;

	(void)ctx;
	for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		for (a = 1; a <= 20; a++) {
			uint64_t want = (uint64_t)bases[b] << (a - 1);
			unsigned mid;

			if (want > CHANNEL_BACKOFF_CAP_MS)
				want = CHANNEL_BACKOFF_CAP_MS;
			assert_int_equal(channel_backoff_ms(bases[b], a, 0), 0);
			assert_int_equal(
				channel_backoff_ms(bases[b], a, UINT32_MAX),
				want);
			mid = channel_backoff_ms(bases[b], a, 0x80000000u);
			assert_true(mid <= want);
			assert_true(mid + 1 >= want / 2);
		}
	}
}

/* The default schedule from 60 s: the ceiling doubles per attempt (60,
 * 120, 240 s...) up to the hour; full jitter picks anywhere below it. */
static void backoff_schedule(void **ctx)
{
	(void)ctx;
	assert_int_equal(channel_backoff_ms(60000, 1, UINT32_MAX), 60000);
	assert_int_equal(channel_backoff_ms(60000, 2, UINT32_MAX), 120000);
	assert_int_equal(channel_backoff_ms(60000, 3, UINT32_MAX), 240000);
	assert_int_equal(channel_backoff_ms(60000, 6, UINT32_MAX), 1920000);
	assert_int_equal(channel_backoff_ms(60000, 7, UINT32_MAX),
			 CHANNEL_BACKOFF_CAP_MS);
	assert_int_equal(channel_backoff_ms(60000, 1000000, UINT32_MAX),
			 CHANNEL_BACKOFF_CAP_MS);
	assert_int_equal(channel_backoff_ms(60000, 1, 0x40000000u), 15000);
	assert_int_equal(channel_backoff_ms(60000, 2, 0x80000000u), 60000);
	/* attempts below 1 count as 1; a zero base never waits */
	assert_int_equal(channel_backoff_ms(60000, 0, UINT32_MAX), 60000);
	assert_int_equal(channel_backoff_ms(60000, -5, UINT32_MAX), 60000);
	assert_int_equal(channel_backoff_ms(0, 20, UINT32_MAX), 0);
}

static void bucket_holds_rate(void **ctx)
{
	struct channel_bucket b;
	uint64_t t = 1000000;
	unsigned sent = 0, w;

	(void)ctx;
	/* 80/s with a burst of 8: 8 at once, then one every 12.5 ms */
	channel_bucket_init(&b, 80, 8, t);
	while (channel_bucket_take(&b, t) == 0)
		sent++;
	assert_int_equal(sent, 8);
	w = channel_bucket_take(&b, t);
	assert_int_equal(w, 13); /* 12.5 ms, rounded up */
	assert_int_equal(channel_bucket_take(&b, t + 12), 1);
	assert_int_equal(channel_bucket_take(&b, t + 13), 0);
	/* over ten simulated seconds, sending whenever allowed */
	channel_bucket_init(&b, 80, 8, t);
	sent = 0;
	for (uint64_t now = t; now < t + 10000; now++)
		while (channel_bucket_take(&b, now) == 0)
			sent++;
	assert_true(sent >= 800 && sent <= 808);
	/* idle time refills only up to the burst */
	assert_int_equal(channel_bucket_take(&b, t + 60000), 0);
	for (sent = 1; channel_bucket_take(&b, t + 60000) == 0; sent++)
		;
	assert_int_equal(sent, 8);
}

static void bucket_edges(void **ctx)
{
	struct channel_bucket b;
	int i;

	(void)ctx;
	/* no rate: never limits */
	channel_bucket_init(&b, 0, 0, 5);
	for (i = 0; i < 100000; i++)
		assert_int_equal(channel_bucket_take(&b, 5), 0);
	/* burst below 1 counts as 1; slow rates wait long */
	channel_bucket_init(&b, 0.5, 0, 5);
	assert_int_equal(channel_bucket_take(&b, 5), 0);
	assert_int_equal(channel_bucket_take(&b, 5), 2000);
	/* a clock that goes back counts as no time passed */
	assert_int_equal(channel_bucket_take(&b, 1), 2000);
	assert_int_equal(channel_bucket_take(&b, 2005), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_bounds),
		cmocka_unit_test(backoff_schedule),
		cmocka_unit_test(bucket_holds_rate),
		cmocka_unit_test(bucket_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
