/* Private to the alarms module: its state and the pieces its files share. */
#ifndef KERYU_ALARMS_MODULE_H
#define KERYU_ALARMS_MODULE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/admin.h>
#include <keryu/events.h>
#include <keryu/module.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

/* What staff may change at run time (admin.h's settings): keryu.conf's
 * values, with the database's rows over them. */
struct alarms_settings {
	char channel[32]; /* fits keryu_notify_event.channel */
	char fallback_channel[32]; /* "" none */
	int cooldown_s, escalate_after_s, ack_timeout_s;
	int finder_days, alarm_days, audit_days; /* retention; 0 keeps */
};

/* A routing policy that owns its channel names: p points into them, so
 * fill it in place (alarms_live_policy) and never copy it by value. */
struct alarms_policy {
	struct keryu_alarm_policy p;
	char channel[32];
	char fallback_channel[32];
};

struct alarms_ctx {
	keryu_mod *m;
	const struct keryu_host *host;
	const struct keryu_storage *storage;
	const struct keryu_admin *admin;
	const struct keryu_subjects *subjects; /* the alert's place */

	/* keryu.conf, fixed at init */
	struct alarms_settings conf;
	char template_name[128];
	char location_template[128]; /* follow-ups to a finder's post */
	char report_template[128];
	char language[16];
	char group[64];
	int lease_s, max_redrives;

	/* What applies now: conf with the stored settings over it, and the
	 * stored templates. The due thread refreshes them every round; the
	 * bus thread reads them too, so both only under live_lock, and
	 * readers take a copy of what they need. */
	pthread_mutex_t live_lock;
	struct alarms_settings live;
	struct keryu_template templates[KERYU_TEMPLATES_MAX];
	size_t n_templates;
	/* due thread only: what was logged, so a lasting fault is said once */
	bool settings_failing, templates_failing;
	unsigned bad_settings; /* a bit per KERYU_SETTING_KEYS index */

	/* acknowledgement links: "" secret or base turns them off */
	char ack_base[512]; /* "<public_url>/ack/" */
	char secret[256];
	int ack_link_ttl_s;

	/* the due-work thread (alarms_due.c) */
	int tick_ms;
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

/* ---- alarms_live.c ---- */
/* Sets out to conf with every valid stored row over it. A row whose key
 * is unknown or whose value breaks admin.h's rules is left out and its
 * bit (the key's index in KERYU_SETTING_KEYS; bit 31 for an unknown key)
 * set in the returned mask; 0 when every row applied. */
unsigned alarms_settings_overlay(const struct alarms_settings *conf,
				 const struct keryu_setting *rows, size_t n,
				 struct alarms_settings *out);
/* The stored template that applies to event on channel: the (event,
 * channel) row, else the (event, "") row, as admin's template_get picks
 * it; NULL when that row is missing or not approved (the configured
 * default applies). Points into rows. */
const struct keryu_template *
alarms_template_pick(const struct keryu_template *rows, size_t n,
		     const char *event, const char *channel);
/* One value a template may name. */
struct alarms_var {
	const char *name;
	const char *value;
};
/* Fills n->params and n->param_count with the values of the variables
 * list names (comma-separated, in that order). Returns KERYU_EINVAL, and
 * leaves n's params alone, for a name not in vars, a name given twice,
 * an empty item or more than KERYU_NOTIFY_MAX_PARAMS names. */
int alarms_params_assemble(const char *list, const struct alarms_var *vars,
			   size_t nvars, struct keryu_notify_event *n);
/* True when list (as above) names var. */
bool alarms_params_name(const char *list, const char *var);
/* Reads the settings and templates from the admin service into live (the
 * due thread, or start before it runs). A failing call keeps the last
 * good values and is logged once until it succeeds again. */
void alarms_live_refresh(struct alarms_ctx *ctx);
/* Copies of what applies now, taken under live_lock (any thread). */
void alarms_live_settings(struct alarms_ctx *ctx, struct alarms_settings *out);
void alarms_live_policy(struct alarms_ctx *ctx, struct alarms_policy *out);
/* Copies the template for event on channel into out; false when none
 * applies (the configured default does). */
bool alarms_live_template(struct alarms_ctx *ctx, const char *event,
			  const char *channel, struct keryu_template *out);
/* Fills n's template name, language and parameters: from t (a stored
 * template, or NULL) when its list can be filled from vars, else from
 * conf_name, [alarms] language and conf_list (the built-in order, which
 * must name only variables in vars). A stored list that cannot be filled
 * is logged. */
void alarms_template_fill(struct alarms_ctx *ctx, const char *event,
			  const struct keryu_template *t, const char *conf_name,
			  const char *conf_list, const struct alarms_var *vars,
			  size_t nvars, struct keryu_notify_event *n);

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
/* An OpenStreetMap link to lat,lng; KERYU_EINVAL (out untouched) for
 * coordinates out of range. */
int alarms_map_link(double lat, double lng, char *out, size_t size);
/* Fills n's template and parameters for a follow-up job (kind "location"
 * or "report"). Returns KERYU_EINVAL for a detail it cannot read. */
int alarms_followup_params(struct alarms_ctx *ctx,
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
