/* Riding out a database outage without losing the message in hand. */
#include <string.h>
#include <time.h>

#include "alarms_module.h"

/* Sleeps ms in short slices so stop is noticed promptly. Returns false
 * when stop was requested. */
static bool nap(struct alarms_ctx *ctx, int ms)
{
	while (ms > 0 && !atomic_load(&ctx->stopping)) {
		int slice = ms < 50 ? ms : 50;
		struct timespec ts = {slice / 1000, (long)(slice % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return !atomic_load(&ctx->stopping);
}

int alarms_retry(struct alarms_ctx *ctx, const char *what,
		 int (*op)(void *arg), void *arg)
{
	int delay = ctx->retry_first_ms, waited = 0, tries = 1;
	int rc;

	while ((rc = op(arg)) == KERYU_EIO) {
		if (waited >= ctx->retry_total_ms || atomic_load(&ctx->stopping))
			break;
		if (tries == 1)
			ctx->host->log(ctx->m, KERYU_LOG_WARN,
				       "alarms.storage.retrying",
				       "op=%s error=\"%s\"", what,
				       keryu_strerror(rc));
		if (delay > ctx->retry_total_ms - waited)
			delay = ctx->retry_total_ms - waited;
		if (!nap(ctx, delay))
			break;
		waited += delay;
		tries++;
		delay = delay > ctx->retry_max_ms / 2 ? ctx->retry_max_ms
						     : delay * 2;
	}
	if (rc == KERYU_EIO)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.storage.gave_up",
			       "op=%s tries=%d waited_ms=%d", what, tries,
			       waited);
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
