/* Private to the alarms module: its state and the pieces its files share. */
#ifndef KERYU_ALARMS_MODULE_H
#define KERYU_ALARMS_MODULE_H

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
	char template_name[128];
	char language[16];
	char group[64];

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

/* ---- alarms_delivery.c ---- */
/* storage->notification_result with alarms_retry until deadline_ms;
 * returns its result. */
int alarms_record_result(struct alarms_ctx *ctx, int64_t deadline_ms,
			 const struct keryu_delivery_event *ev);
/* Bus callback for keryu/v1/delivery/+ ; arg is the alarms_ctx. */
void alarms_on_delivery(void *arg, const char *topic, const void *payload,
			size_t len);

#endif
