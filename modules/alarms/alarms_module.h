/* Private to the alarms module: its state and the pieces its files share. */
#ifndef KERYU_ALARMS_MODULE_H
#define KERYU_ALARMS_MODULE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/events.h>
#include <keryu/module.h>
#include <keryu/storage.h>

struct alarms_ctx {
	keryu_mod *m;
	const struct keryu_host *host;
	const struct keryu_storage *storage;

	char channel[32]; /* fits keryu_notify_event.channel */
	char fallback_channel[32];
	char template_name[128];
	char location_template[128]; /* follow-ups to a finder's post */
	char report_template[128];
	char language[16];
	char group[64];
	struct keryu_alarm_policy policy; /* points into the strings above */

	/* acknowledgement links: "" secret or base turns them off */
	char ack_base[512]; /* "<public_url>/ack/" */
	char secret[256];
	int ack_link_ttl_s;

	/* the due-work thread (alarms_due.c) */
	int tick_ms;
	int retention_days;     /* 0: finder data kept */
	int64_t last_purge_ms;  /* due thread only; 0: never */
	pthread_t due_thread;
	bool due_running;
	pthread_mutex_t due_lock;
	pthread_cond_t due_wake;

	/* storage retry while the database is unreachable: first delay,
	 * cap of one delay, and the wall-clock time one bus message may
	 * spend on storage, calls included, before giving up (ms) */
	int retry_first_ms, retry_max_ms, retry_total_ms;
	atomic_bool stopping; /* set by stop: cut retries short */
};

/* ---- alarms_retry.c ---- */
/* CLOCK_MONOTONIC in milliseconds. */
int64_t alarms_now_ms(void);
/* The deadline for one bus message's storage work: now + retry_total_ms. */
int64_t alarms_deadline(const struct alarms_ctx *ctx);
/* Calls op(arg) until it returns anything but KERYU_EIO, sleeping with a
 * doubling, capped delay between tries, until stop or deadline_ms
 * (alarms_now_ms() time). The time op itself takes counts: a try is not
 * started when the longest try so far would end past the deadline. Runs on
 * the bus thread, which sends no keepalive meanwhile: the deadline keeps
 * the client connected. Returns op's last result. what names the
 * operation in logs. */
int alarms_retry(struct alarms_ctx *ctx, int64_t deadline_ms, const char *what,
		 int (*op)(void *arg), void *arg);
/* True when the last level of topic equals id exactly. */
bool alarms_topic_tail_is(const char *topic, const char *id);

/* ---- alarms_scan.c ---- */
/* Bus callback for keryu/v1/scan/+ ; arg is the alarms_ctx. */
void alarms_on_scan(void *arg, const char *topic, const void *payload,
		    size_t len);
/* "2026-11-25T12:34:56.789Z" -> "2026-11-25 12:34 UTC"; anything it cannot
 * read is copied as is (truncated to size). */
void alarms_format_time(const char *iso, char *out, size_t size);

/* Publishes the delivery request for job on keryu/v1/notify/<channel>:
 * an alert with the template, its parameters and a signed acknowledgement
 * link, or a follow-up (job->kind "location", "report") with its own
 * template. Returns host->publish's result, or KERYU_EINVAL for a
 * recipient that is not E.164 or a follow-up detail that cannot be read
 * (neither ever reaches a channel). */
int alarms_publish_job(struct alarms_ctx *ctx,
		       const struct keryu_notify_job *job);

/* ---- alarms_due.c ---- */
/* Starts / stops the thread that runs storage->notify_due every tick_ms
 * and publishes what it returns. Start returns 0 or KERYU_ERR; stop joins
 * and is safe to call when start was not. */
int alarms_due_start(struct alarms_ctx *ctx);
void alarms_due_stop(struct alarms_ctx *ctx);
/* One round of due work, synchronously (the thread's body; tests call it),
 * the daily retention purge included.
 * Returns the jobs published, or a negative KERYU_E* from storage. */
int alarms_due_run(struct alarms_ctx *ctx);

/* ---- alarms_report.c ---- */
/* Bus callback for keryu/v1/report/+ : a finder shared a location or sent
 * a report; everyone already alerted gets a follow-up. */
void alarms_on_report(void *arg, const char *topic, const void *payload,
		      size_t len);
/* Fills n's template and parameters for a follow-up job (kind "location"
 * or "report"). Returns KERYU_EINVAL for a detail it cannot read. */
int alarms_followup_params(const struct alarms_ctx *ctx,
			   const struct keryu_notify_job *job,
			   struct keryu_notify_event *n);

/* ---- alarms_delivery.c ---- */
/* storage->notification_result with alarms_retry until deadline_ms;
 * returns its result. */
int alarms_record_result(struct alarms_ctx *ctx, int64_t deadline_ms,
			 const struct keryu_delivery_event *ev);
/* Bus callback for keryu/v1/delivery/+ ; arg is the alarms_ctx. */
void alarms_on_delivery(void *arg, const char *topic, const void *payload,
			size_t len);

#endif
