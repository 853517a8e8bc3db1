/* The timer thread; see timer.h.
 *
 * Timers live in one unsorted list and the thread looks for the earliest
 * due one each time it wakes: a handful of timers per module makes a heap
 * not worth its code. Times are CLOCK_MONOTONIC milliseconds so that a
 * wall-clock jump neither fires nor stalls timers. */
#include "timer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

struct keryu_timer {
	const void *owner;
	uint64_t due_ms;
	uint64_t period_ms;
	keryu_timer_fn fn;
	void *arg;
	bool armed;     /* false once a one-shot timer fired */
	bool cancelled; /* cancelled from its own callback */
	struct keryu_timer *next;
};

struct timers {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the list changed, or quit */
	pthread_cond_t idle; /* a callback returned */
	pthread_t thread;
	keryu_timer *list;
	keryu_timer *running; /* whose callback runs now, or NULL */
	bool quit;
};

static void unlink_timer(struct timers *ts, keryu_timer *t)
{
	for (keryu_timer **p = &ts->list; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			return;
		}
	}
}

static keryu_timer *earliest(struct timers *ts)
{
	keryu_timer *best = NULL;

	for (keryu_timer *t = ts->list; t; t = t->next) {
		if (t->armed && (!best || t->due_ms < best->due_ms))
			best = t;
	}
	return best;
}

static void wait_until(struct timers *ts, uint64_t due_ms)
{
	struct timespec abs = {.tv_sec = (time_t)(due_ms / 1000u),
			       .tv_nsec = (long)(due_ms % 1000u) * 1000000L};

	pthread_cond_timedwait(&ts->wake, &ts->lock, &abs);
}

static void *timer_thread(void *arg)
{
	struct timers *ts = arg;

	pthread_mutex_lock(&ts->lock);
	while (!ts->quit) {
		keryu_timer *t = earliest(ts);
		uint64_t now = now_ms();

		if (!t) {
			pthread_cond_wait(&ts->wake, &ts->lock);
			continue;
		}
		if (t->due_ms > now) {
			wait_until(ts, t->due_ms);
			continue;
		}
		ts->running = t;
		pthread_mutex_unlock(&ts->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&ts->lock);
		ts->running = NULL;
		if (t->cancelled) {
			unlink_timer(ts, t);
			free(t);
		} else if (t->period_ms) {
			/* Keep the rhythm, but do not burst to catch up after a
			 * callback that ran longer than the period. */
			t->due_ms += t->period_ms;
			if (t->due_ms <= now_ms())
				t->due_ms = now_ms() + t->period_ms;
		} else {
			t->armed = false;
		}
		pthread_cond_broadcast(&ts->idle);
	}
	pthread_mutex_unlock(&ts->lock);
	return NULL;
}

struct timers *timers_new(void)
{
	struct timers *ts = calloc(1, sizeof(*ts));
	pthread_condattr_t attr;

	if (!ts)
		return NULL;
	pthread_mutex_init(&ts->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ts->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&ts->idle, NULL);
	if (pthread_create(&ts->thread, NULL, timer_thread, ts) != 0) {
		pthread_cond_destroy(&ts->idle);
		pthread_cond_destroy(&ts->wake);
		pthread_mutex_destroy(&ts->lock);
		free(ts);
		return NULL;
	}
	return ts;
}

void timers_free(struct timers *ts)
{
	if (!ts)
		return;
	pthread_mutex_lock(&ts->lock);
	ts->quit = true;
	pthread_cond_broadcast(&ts->wake);
	pthread_mutex_unlock(&ts->lock);
	pthread_join(ts->thread, NULL);
	while (ts->list) {
		keryu_timer *t = ts->list;

		ts->list = t->next;
		free(t);
	}
	pthread_cond_destroy(&ts->idle);
	pthread_cond_destroy(&ts->wake);
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}

keryu_timer *timers_start(struct timers *ts, const void *owner,
			  uint64_t delay_ms, uint64_t period_ms,
			  keryu_timer_fn fn, void *arg)
{
	keryu_timer *t;

	if (!fn)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->owner = owner;
	t->due_ms = now_ms() + delay_ms;
	t->period_ms = period_ms;
	t->fn = fn;
	t->arg = arg;
	t->armed = true;
	pthread_mutex_lock(&ts->lock);
	t->next = ts->list;
	ts->list = t;
	pthread_cond_broadcast(&ts->wake);
	pthread_mutex_unlock(&ts->lock);
	return t;
}

/* Called with the lock held. Returns false if t is running on the timer
 * thread itself, where waiting would deadlock: the thread frees it. */
static bool cancel_locked(struct timers *ts, keryu_timer *t)
{
	if (ts->running == t && pthread_equal(pthread_self(), ts->thread)) {
		t->cancelled = true;
		return false;
	}
	while (ts->running == t)
		pthread_cond_wait(&ts->idle, &ts->lock);
	unlink_timer(ts, t);
	return true;
}

void timers_cancel(struct timers *ts, keryu_timer *t)
{
	bool freed;

	if (!t)
		return;
	pthread_mutex_lock(&ts->lock);
	freed = cancel_locked(ts, t);
	pthread_cond_broadcast(&ts->wake);
	pthread_mutex_unlock(&ts->lock);
	if (freed)
		free(t);
}

size_t timers_drop_owner(struct timers *ts, const void *owner)
{
	size_t armed = 0;
	keryu_timer *t;

	pthread_mutex_lock(&ts->lock);
	for (;;) {
		for (t = ts->list; t && (t->owner != owner || t->cancelled);
		     t = t->next)
			;
		if (!t)
			break;
		if (t->armed)
			armed++;
		if (cancel_locked(ts, t))
			free(t);
	}
	pthread_mutex_unlock(&ts->lock);
	return armed;
}
