/* Riding out a database outage without losing the message in hand, and
 * without holding the bus thread so long that the broker drops us: the
 * budget is wall-clock time, and a storage call can itself block for
 * seconds (a reconnect waits out the connect timeout). */
#include <string.h>
#include <time.h>

#include "alarms_module.h"

int64_t alarms_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t alarms_deadline(const struct alarms_ctx *ctx)
{
	return alarms_now_ms() + ctx->retry_total_ms;
}

/* Sleeps ms in short slices so stop is noticed promptly. Returns false
 * when stop was requested. */
static bool nap(struct alarms_ctx *ctx, int64_t ms)
{
	int64_t until = alarms_now_ms() + ms, left;

	while (!atomic_load(&ctx->stopping) &&
	       (left = until - alarms_now_ms()) > 0) {
		int64_t slice = left < 50 ? left : 50;
		struct timespec ts = {0, (long)slice * 1000000L};

		nanosleep(&ts, NULL);
	}
	return !atomic_load(&ctx->stopping);
}

int alarms_retry(struct alarms_ctx *ctx, int64_t deadline_ms, const char *what,
		 int (*op)(void *arg), void *arg)
{
	int64_t start = alarms_now_ms(), t0 = start, now, longest = 0, room;
	int delay = ctx->retry_first_ms, tries = 1;
	int rc;

	while ((rc = op(arg)) == KERYU_EIO) {
		now = alarms_now_ms();
		if (now - t0 > longest)
			longest = now - t0;
		/* the next try must fit, sleep and call, before the deadline */
		room = deadline_ms - now - longest;
		if (room <= 0 || atomic_load(&ctx->stopping))
			break;
		if (tries == 1)
			ctx->host->log(ctx->m, KERYU_LOG_WARN,
				       "alarms.storage.retrying",
				       "op=%s error=\"%s\"", what,
				       keryu_strerror(rc));
		if (!nap(ctx, delay < room ? delay : room))
			break;
		tries++;
		delay = delay > ctx->retry_max_ms / 2 ? ctx->retry_max_ms
						     : delay * 2;
		t0 = alarms_now_ms();
	}
	if (rc == KERYU_EIO)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.storage.gave_up",
			       "op=%s tries=%d waited_ms=%lld", what, tries,
			       (long long)(alarms_now_ms() - start));
	else if (tries > 1)
		ctx->host->log(ctx->m, KERYU_LOG_INFO,
			       "alarms.storage.recovered", "op=%s tries=%d",
			       what, tries);
	return rc;
}

bool alarms_topic_tail_is(const char *topic, const char *id)
{
	const char *slash = topic ? strrchr(topic, '/') : NULL;

	return slash && id && *id && strcmp(slash + 1, id) == 0;
}
