/* The timer thread: delays, periods, order, and cancel semantics. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "timer.h"

static struct timers *ts;
static const int owner_a = 1, owner_b = 2; /* any distinct addresses */

static int setup(void **unused)
{
	(void)unused;
	ts = timers_new();
	assert_non_null(ts);
	return 0;
}

static int teardown(void **unused)
{
	(void)unused;
	timers_free(ts);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec t = {.tv_sec = ms / 1000,
			     .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

static void count(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* Polls rather than sleeping a fixed time, so that a loaded machine makes
 * the test slower, not flaky. Returns the last value seen. */
static int wait_count(atomic_int *n, int want, int timeout_ms)
{
	for (int waited = 0; atomic_load(n) < want && waited < timeout_ms;
	     waited += 5)
		sleep_ms(5);
	return atomic_load(n);
}

static void test_one_shot(void **unused)
{
	atomic_int n = 0;
	keryu_timer *t;

	(void)unused;
	t = timers_start(ts, &owner_a, 100, 0, count, &n);
	assert_non_null(t);
	sleep_ms(30);
	assert_int_equal(atomic_load(&n), 0); /* not before its time */
	assert_int_equal(wait_count(&n, 1, 2000), 1);
	sleep_ms(150);
	assert_int_equal(atomic_load(&n), 1); /* once */
	timers_cancel(ts, t); /* a fired one-shot can still be cancelled */
}

static void test_periodic(void **unused)
{
	atomic_int n = 0;
	keryu_timer *t;
	int seen;

	(void)unused;
	t = timers_start(ts, &owner_a, 0, 20, count, &n);
	sleep_ms(210);
	timers_cancel(ts, t);
	seen = atomic_load(&n);
	/* about 11; never a burst, and more than one */
	assert_true(seen >= 3);
	assert_true(seen <= 13);
	sleep_ms(80);
	assert_int_equal(atomic_load(&n), seen); /* nothing after cancel */
}

static void test_cancel_before_due(void **unused)
{
	atomic_int n = 0;

	(void)unused;
	timers_cancel(ts, timers_start(ts, &owner_a, 50, 0, count, &n));
	sleep_ms(120);
	assert_int_equal(atomic_load(&n), 0);
}

struct order {
	pthread_mutex_t lock;
	char seen[16];
};

struct mark {
	struct order *o;
	char c;
};

static void record(void *arg)
{
	struct mark *m = arg;

	pthread_mutex_lock(&m->o->lock);
	m->o->seen[strlen(m->o->seen)] = m->c;
	pthread_mutex_unlock(&m->o->lock);
}

static size_t seen_count(struct order *o)
{
	size_t n;

	pthread_mutex_lock(&o->lock);
	n = strlen(o->seen);
	pthread_mutex_unlock(&o->lock);
	return n;
}

static void test_due_order(void **unused)
{
	struct order o = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct mark c = {&o, 'c'}, a = {&o, 'a'}, b = {&o, 'b'};
	keryu_timer *t[3];

	(void)unused;
	t[0] = timers_start(ts, &owner_a, 90, 0, record, &c);
	t[1] = timers_start(ts, &owner_a, 30, 0, record, &a);
	t[2] = timers_start(ts, &owner_a, 60, 0, record, &b);
	for (int waited = 0; waited < 2000 && seen_count(&o) < 3; waited += 10)
		sleep_ms(10);
	for (int i = 0; i < 3; i++)
		timers_cancel(ts, t[i]); /* also orders the reads below */
	assert_string_equal(o.seen, "abc");
}

struct slow {
	atomic_int started;
	atomic_int finished;
};

static void slow_callback(void *arg)
{
	struct slow *s = arg;

	atomic_store(&s->started, 1);
	sleep_ms(200);
	atomic_store(&s->finished, 1);
}

static void test_cancel_waits_for_callback(void **unused)
{
	struct slow s = {0};
	keryu_timer *t;

	(void)unused;
	t = timers_start(ts, &owner_a, 0, 0, slow_callback, &s);
	while (!atomic_load(&s.started))
		sleep_ms(1);
	timers_cancel(ts, t);
	/* after cancel returns, the callback's arg may be freed: so it must
	 * have finished */
	assert_int_equal(atomic_load(&s.finished), 1);
}

struct self_cancel {
	struct timers *ts;
	_Atomic(keryu_timer *) t; /* set after timers_start returns */
	atomic_int n;
};

static void cancel_self(void *arg)
{
	struct self_cancel *s = arg;

	if (atomic_fetch_add(&s->n, 1) + 1 == 3)
		timers_cancel(s->ts, atomic_load(&s->t)); /* no deadlock */
}

static void test_cancel_from_callback(void **unused)
{
	struct self_cancel s = {.ts = ts};

	(void)unused;
	atomic_store(&s.t, timers_start(ts, &owner_a, 50, 10, cancel_self, &s));
	assert_int_equal(wait_count(&s.n, 3, 2000), 3);
	sleep_ms(100);
	assert_int_equal(atomic_load(&s.n), 3);
}

static void test_drop_owner(void **unused)
{
	atomic_int n = 0;

	(void)unused;
	timers_start(ts, &owner_a, 10000, 0, count, &n);
	timers_start(ts, &owner_a, 0, 0, count, &n); /* fires, then kept */
	timers_start(ts, &owner_b, 300, 0, count, &n);
	assert_int_equal(wait_count(&n, 1, 2000), 1);
	/* one of owner_a's two timers was still armed */
	assert_int_equal(timers_drop_owner(ts, &owner_a), 1);
	assert_int_equal(timers_drop_owner(ts, &owner_a), 0);
	/* owner_b's was left alone */
	assert_int_equal(wait_count(&n, 2, 2000), 2);
	assert_int_equal(timers_drop_owner(ts, &owner_b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_one_shot),
		T(test_periodic),
		T(test_cancel_before_due),
		T(test_due_order),
		T(test_cancel_waits_for_callback),
		T(test_cancel_from_callback),
		T(test_drop_owner),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
