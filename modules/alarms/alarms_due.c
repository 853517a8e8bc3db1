/* The work that falls due later: escalation to the next recipient,
 * fallback channels, re-driving requests whose lease ran out (a worker
 * died, or a channel never answered), and retention; each round first
 * reads what staff changed (alarms_live.c). All of it is decided by
 * storage's notify_due, which keeps the due times in PostgreSQL and claims
 * rows with SKIP LOCKED, so any number of alarms instances share it and a
 * restart loses nothing; this thread only asks every tick_ms and
 * publishes. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "alarms_module.h"

#define JOBS_PER_CALL 64
#define PURGE_EVERY_MS (24LL * 3600 * 1000)
#define PURGE_BATCH 1000

/* Deletes admin's kind of row older than days in batches, so no one
 * statement holds locks on a large backlog; the round stops between
 * batches when keryud stops. Returns 0 or the failing call's code. */
static int purge_rows(struct alarms_ctx *ctx, int what, int days, long *total)
{
	const struct keryu_admin *ad = ctx->admin;
	long rows;
	int rc;

	*total = 0;
	do {
		rows = 0;
		rc = ad->purge(ad->self, what, days, PURGE_BATCH, &rows);
		if (rc)
			return rc;
		*total += rows;
	} while (rows >= PURGE_BATCH && !atomic_load(&ctx->stopping));
	return 0;
}

/* Retention: once a day (and once soon after start), the finder data of
 * alarms older than finder_days is cleared, alarms older than alarm_days
 * and audit entries older than audit_days deleted (the stored settings
 * over keryu.conf; 0 keeps). Every alarms instance may do it; it is
 * idempotent. A failure is tried again next round. */
static void purge(struct alarms_ctx *ctx)
{
	const struct keryu_storage *st = ctx->storage;
	struct alarms_settings s;
	int64_t now = alarms_now_ms();
	long finder = 0, alarms = 0, audit = 0;
	int rc = 0;

	alarms_live_settings(ctx, &s);
	if ((s.finder_days <= 0 && s.alarm_days <= 0 && s.audit_days <= 0) ||
	    (ctx->last_purge_ms && now - ctx->last_purge_ms < PURGE_EVERY_MS))
		return;
	if (s.finder_days > 0)
		rc = st->purge_finder_data(st->self, s.finder_days, &finder);
	if (!rc && s.alarm_days > 0)
		rc = purge_rows(ctx, KERYU_PURGE_ALARMS, s.alarm_days, &alarms);
	if (!rc && s.audit_days > 0)
		rc = purge_rows(ctx, KERYU_PURGE_AUDIT, s.audit_days, &audit);
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.purge.failed",
			       "error=\"%s\"", keryu_strerror(rc));
		return;
	}
	ctx->last_purge_ms = now;
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.purge",
		       "days=%d alarms=%ld alarm_days=%d deleted=%ld "
		       "audit_days=%d audit_deleted=%ld",
		       s.finder_days, finder, s.alarm_days, alarms,
		       s.audit_days, audit);
}

int alarms_due_run(struct alarms_ctx *ctx)
{
	const struct keryu_storage *st = ctx->storage;
	struct keryu_notify_job jobs[JOBS_PER_CALL];
	struct alarms_policy pol;
	size_t n, i;
	int published = 0, rc;

	/* first: what staff changed applies to this round already */
	alarms_live_refresh(ctx);
	alarms_live_policy(ctx, &pol);
	purge(ctx);
	do {
		n = 0;
		rc = st->notify_due(st->self, &pol.p, jobs, JOBS_PER_CALL, &n);
		if (rc) {
			ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.due.failed",
				       "error=\"%s\"", keryu_strerror(rc));
			return rc;
		}
		for (i = 0; i < n; i++) {
			const struct keryu_notify_job *j = &jobs[i];

			/* claimed and leased by storage: a publish that fails
			 * is simply claimed again when the lease runs out */
			rc = alarms_publish_job(ctx, j);
			ctx->host->log(ctx->m,
				       rc ? KERYU_LOG_ERROR : KERYU_LOG_INFO,
				       rc ? "alarms.due.publish_failed"
					  : "alarms.due.notify",
				       "notification=%s alarm=%s channel=%s "
				       "attempt=%d step=%d error=\"%s\"",
				       j->notification_id, j->alarm_id,
				       j->channel, j->attempt, j->step,
				       keryu_strerror(rc));
			if (!rc)
				published++;
		}
	} while (n == JOBS_PER_CALL && !atomic_load(&ctx->stopping));
	return published;
}

static void *due_main(void *arg)
{
	struct alarms_ctx *ctx = arg;
	struct timespec until;

	/* the first round comes one tick after start: the scans the broker
	 * queued while we were away are handled first, which publishes
	 * their notifications sooner than a re-drive would */
	pthread_mutex_lock(&ctx->due_lock);
	while (!atomic_load(&ctx->stopping)) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ctx->tick_ms / 1000;
		until.tv_nsec += (long)(ctx->tick_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!atomic_load(&ctx->stopping) &&
		       pthread_cond_timedwait(&ctx->due_wake, &ctx->due_lock,
					      &until) != ETIMEDOUT)
			;
		if (atomic_load(&ctx->stopping))
			break;
		pthread_mutex_unlock(&ctx->due_lock);
		alarms_due_run(ctx);
		pthread_mutex_lock(&ctx->due_lock);
	}
	pthread_mutex_unlock(&ctx->due_lock);
	return NULL;
}

int alarms_due_start(struct alarms_ctx *ctx)
{
	if (pthread_create(&ctx->due_thread, NULL, due_main, ctx) != 0)
		return KERYU_ERR;
	ctx->due_running = true;
	return 0;
}

void alarms_due_stop(struct alarms_ctx *ctx)
{
	if (!ctx->due_running)
		return;
	pthread_mutex_lock(&ctx->due_lock);
	atomic_store(&ctx->stopping, true);
	pthread_cond_signal(&ctx->due_wake);
	pthread_mutex_unlock(&ctx->due_lock);
	pthread_join(ctx->due_thread, NULL);
	ctx->due_running = false;
}
