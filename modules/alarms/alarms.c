/* The alarms module: descriptor, options and subscriptions. Scans are
 * handled in alarms_scan.c, delivery results in alarms_delivery.c, and the
 * work that falls due later (escalation, fallbacks, re-drives) in
 * alarms_due.c. The module holds no list of channels: a channel is
 * whatever module subscribes to keryu/v1/notify/<name>. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alarms_module.h"

static const char *const requires_list[] = {
	KERYU_SERVICE_STORAGE, KERYU_SERVICE_ADMIN, KERYU_SERVICE_SUBJECTS, NULL};

static const struct keryu_option options[] = {
	{.key = "channel", .type = KERYU_OPT_STR, .def = "log",
	 .help = "the custodian's channel (contacts name their own): requests "
		 "go to keryu/v1/notify/<channel>; the default_channel setting "
		 "overrides it"},
	{.key = "fallback_channel", .type = KERYU_OPT_STR, .def = "",
	 .help = "channel tried when a recipient's channel fails for good and "
		 "the contact names no fallback of its own; empty: none (a stored "
		 "setting overrides it)"},
	{.key = "escalate_after_s", .type = KERYU_OPT_INT, .def = "120",
	 .help = "alert the next contact when the alert is not delivered this "
		 "many seconds after it was sent; 0: never (a stored setting "
		 "overrides it)",
	 .min = 0, .max = 86400},
	{.key = "ack_timeout_s", .type = KERYU_OPT_INT, .def = "600",
	 .help = "alert the next contact when nobody acknowledged the alarm "
		 "this many seconds after the current contact was alerted; "
		 "0: never (a stored setting overrides it)",
	 .min = 0, .max = 604800},
	{.key = "cooldown_s", .type = KERYU_OPT_INT, .def = "60",
	 .help = "a scan this many seconds or less after an open alarm of the "
		 "same person joins it instead of alerting again; 0: off (a "
		 "stored setting overrides it)",
	 .min = 0, .max = 86400},
	{.key = "lease_s", .type = KERYU_OPT_INT, .def = "60",
	 .help = "seconds a delivery request may stay unanswered (beyond the "
		 "channel's announced retry) before it is sent again",
	 .min = 1, .max = 86400},
	{.key = "max_redrives", .type = KERYU_OPT_INT, .def = "5",
	 .help = "times one notification is sent again after its lease ran "
		 "out before it is FAILED (no channel answered)",
	 .min = 0, .max = 1000},
	{.key = "tick_ms", .type = KERYU_OPT_INT, .def = "1000",
	 .help = "how often due work (escalation, re-drives) is looked for and "
		 "the settings and templates stored by staff are read again",
	 .min = 10, .max = 600000},
	{.key = "location_template", .type = KERYU_OPT_STR,
	 .def = "qr_location_update",
	 .help = "template of the follow-up when the finder shares a "
		 "location; parameters: name, map link. An approved template "
		 "stored by staff (event location) takes its place"},
	{.key = "report_template", .type = KERYU_OPT_STR,
	 .def = "qr_finder_report",
	 .help = "template of the follow-up when the finder sends a report; "
		 "parameters: name, situation, the finder's words (or -). An "
		 "approved template stored by staff (event report) takes its "
		 "place"},
	{.key = "finder_retention_days", .type = KERYU_OPT_INT, .def = "30",
	 .help = "days a finder's location, address hash, browser and words "
		 "are kept with an alarm; 0: kept for good (a stored setting "
		 "overrides it)",
	 .min = 0, .max = 36500},
	{.key = "alarm_retention_days", .type = KERYU_OPT_INT, .def = "0",
	 .help = "days an alarm is kept, with its notifications and timeline, "
		 "after its scan; 0: kept for good (a stored setting overrides "
		 "it)",
	 .min = 0, .max = 36500},
	{.key = "audit_retention_days", .type = KERYU_OPT_INT, .def = "365",
	 .help = "days an audit log entry is kept; 0: kept for good (a stored "
		 "setting overrides it)",
	 .min = 0, .max = 36500},
	{.key = "ack_link_ttl_s", .type = KERYU_OPT_INT, .def = "86400",
	 .help = "lifetime of the acknowledgement link in each alert (needs "
		 "[http] public_url and [kernel] secret_key)",
	 .min = 60, .max = 2592000},
	{.key = "template", .type = KERYU_OPT_STR, .def = "qr_template_on_m",
	 .help = "message template named in alerts; parameters: name, scan "
		 "time. An approved template stored by staff (event alert) "
		 "takes its place"},
	{.key = "language", .type = KERYU_OPT_STR, .def = "en_US",
	 .help = "language of the configured templates (a stored template "
		 "names its own)"},
	{.key = "group", .type = KERYU_OPT_STR, .def = "",
	 .help = "shared-subscription group; empty (the default) means a "
		 "plain subscription: every alarms instance sees every scan "
		 "and the database's unique event id lets one act. Plain "
		 "subscriptions survive a broker restart (mosquitto 2.0 does "
		 "not restore shared ones), so nothing published meanwhile "
		 "is lost"},
	{0},
};

/* A storage call can block ~10 s on its own (a reconnect waits out the
 * storage connect timeout), and the bus thread sends no keepalive while a
 * callback runs: the broker cuts a client after 1.5 x keepalive (30 s by
 * default) of silence. 15 s of wall-clock time per message, calls
 * included, leaves room for one call overrunning it. */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 2000
#define RETRY_TOTAL_MS 15000

/* Copies the option into dst; it must be non-empty, fit, and (for topic
 * levels) hold no MQTT separator or wildcard. */
static int load(struct alarms_ctx *ctx, const char *key, char *dst,
		size_t size, bool topic_level)
{
	const char *v = ctx->host->config(ctx->m, key);
	const char *why = NULL;

	if (!v || !*v)
		why = "must not be empty";
	else if (strlen(v) >= size)
		why = "too long";
	else if (topic_level && strpbrk(v, "/+#"))
		why = "must not contain / + or #";
	if (why) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.config",
			       "key=%s error=\"%s\"", key, why);
		return KERYU_EINVAL;
	}
	snprintf(dst, size, "%s", v);
	return 0;
}

/* Storage refuses a policy whose channels are not what a contact's channel
 * may be (lower-case letters, digits, '_' and '-'): every scan would then
 * fail, unrecorded. Said at init instead. "" (no fallback) is fine. */
static int check_channel(struct alarms_ctx *ctx, const char *key,
			 const char *ch)
{
	size_t n = strlen(ch);

	if (strspn(ch, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n)
		return 0;
	ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.config",
		       "key=%s error=\"only a-z, 0-9, _ and - are allowed\"",
		       key);
	return KERYU_EINVAL;
}

static int load_policy(struct alarms_ctx *ctx)
{
	const struct keryu_host *h = ctx->host;
	const char *pub = h->global(ctx->m, "http", "public_url");
	const char *secret = h->global(ctx->m, "kernel", "secret_key");
	size_t n = pub ? strlen(pub) : 0;
	struct alarms_settings *c = &ctx->conf;

	c->escalate_after_s = (int)h->config_int(ctx->m, "escalate_after_s");
	c->ack_timeout_s = (int)h->config_int(ctx->m, "ack_timeout_s");
	c->cooldown_s = (int)h->config_int(ctx->m, "cooldown_s");
	c->finder_days = (int)h->config_int(ctx->m, "finder_retention_days");
	c->alarm_days = (int)h->config_int(ctx->m, "alarm_retention_days");
	c->audit_days = (int)h->config_int(ctx->m, "audit_retention_days");
	ctx->live = *c; /* until the first due round reads the database */
	ctx->lease_s = (int)h->config_int(ctx->m, "lease_s");
	ctx->max_redrives = (int)h->config_int(ctx->m, "max_redrives");
	ctx->tick_ms = (int)h->config_int(ctx->m, "tick_ms");
	ctx->ack_link_ttl_s = (int)h->config_int(ctx->m, "ack_link_ttl_s");

	/* without both, alerts simply carry no acknowledgement link */
	while (n > 0 && pub[n - 1] == '/')
		n--;
	if (n > 0 && secret && *secret &&
	    n + sizeof("/ack/") < sizeof(ctx->ack_base) &&
	    strlen(secret) < sizeof(ctx->secret)) {
		snprintf(ctx->ack_base, sizeof(ctx->ack_base), "%.*s/ack/",
			 (int)n, pub);
		snprintf(ctx->secret, sizeof(ctx->secret), "%s", secret);
	} else {
		h->log(ctx->m, KERYU_LOG_WARN, "alarms.ack_links_off",
		       "reason=\"[http] public_url or [kernel] secret_key "
		       "unset\"");
	}
	return 0;
}

static int subscribe(struct alarms_ctx *ctx, const char *base,
		     keryu_bus_fn fn)
{
	char filter[256];

	if (*ctx->group)
		snprintf(filter, sizeof(filter), "$share/%s/%s+", ctx->group,
			 base);
	else
		snprintf(filter, sizeof(filter), "%s+", base);
	return ctx->host->subscribe(ctx->m, filter, 1, fn, ctx);
}

/* The due-work thread sleeps on a monotonic clock: a wall-clock jump must
 * not stall escalation. */
static int init_wakeup(struct alarms_ctx *ctx)
{
	pthread_condattr_t a;
	int rc;

	if (pthread_condattr_init(&a))
		return KERYU_ERR;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) ||
	     pthread_cond_init(&ctx->due_wake, &a);
	pthread_condattr_destroy(&a);
	if (rc)
		return KERYU_ERR;
	if (pthread_mutex_init(&ctx->due_lock, NULL)) {
		pthread_cond_destroy(&ctx->due_wake);
		return KERYU_ERR;
	}
	if (pthread_mutex_init(&ctx->live_lock, NULL)) {
		pthread_mutex_destroy(&ctx->due_lock);
		pthread_cond_destroy(&ctx->due_wake);
		return KERYU_ERR;
	}
	return 0;
}

static void free_ctx(struct alarms_ctx *ctx)
{
	pthread_cond_destroy(&ctx->due_wake);
	pthread_mutex_destroy(&ctx->due_lock);
	pthread_mutex_destroy(&ctx->live_lock);
	free(ctx);
}

static int alarms_init(keryu_mod *m, const struct keryu_host *host,
		       void **state)
{
	struct alarms_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	if (!ctx)
		return KERYU_ENOMEM;
	ctx->m = m;
	ctx->host = host;
	ctx->retry_first_ms = RETRY_FIRST_MS;
	ctx->retry_max_ms = RETRY_MAX_MS;
	ctx->retry_total_ms = RETRY_TOTAL_MS;
	atomic_init(&ctx->stopping, false);
	if (init_wakeup(ctx)) {
		free(ctx);
		return KERYU_ERR;
	}
	ctx->storage = host->service(m, KERYU_SERVICE_STORAGE);
	if (!ctx->storage ||
	    ctx->storage->struct_size <
		    offsetof(struct keryu_storage, reserved) ||
	    !ctx->storage->notify_due || !ctx->storage->followups ||
	    !ctx->storage->purge_finder_data) {
		host->log(m, KERYU_LOG_ERROR, "alarms.init",
			  "error=\"storage service missing or too old\"");
		free_ctx(ctx);
		return KERYU_ENOTFOUND;
	}
	ctx->admin = host->service(m, KERYU_SERVICE_ADMIN);
	ctx->subjects = host->service(m, KERYU_SERVICE_SUBJECTS);
	if (!ctx->admin ||
	    ctx->admin->struct_size < offsetof(struct keryu_admin, reserved) ||
	    !ctx->admin->setting_list || !ctx->admin->template_list ||
	    !ctx->admin->purge || !ctx->admin->owner_of || !ctx->subjects ||
	    ctx->subjects->struct_size <
		    offsetof(struct keryu_subjects, alarm_get) +
			    sizeof(ctx->subjects->alarm_get) ||
	    !ctx->subjects->alarm_get) {
		host->log(m, KERYU_LOG_ERROR, "alarms.init",
			  "error=\"admin or subjects service missing or too "
			  "old\"");
		free_ctx(ctx);
		return KERYU_ENOTFOUND;
	}
	rc = load(ctx, "channel", ctx->conf.channel, sizeof(ctx->conf.channel),
		  true);
	if (!rc)
		rc = load(ctx, "template", ctx->template_name,
			  sizeof(ctx->template_name), false);
	if (!rc)
		rc = load(ctx, "language", ctx->language, sizeof(ctx->language),
			  false);
	if (!rc && *host->config(m, "group"))
		rc = load(ctx, "group", ctx->group, sizeof(ctx->group), true);
	if (!rc && *host->config(m, "fallback_channel"))
		rc = load(ctx, "fallback_channel", ctx->conf.fallback_channel,
			  sizeof(ctx->conf.fallback_channel), true);
	if (!rc)
		rc = check_channel(ctx, "channel", ctx->conf.channel);
	if (!rc)
		rc = check_channel(ctx, "fallback_channel",
				   ctx->conf.fallback_channel);
	if (!rc)
		rc = load(ctx, "location_template", ctx->location_template,
			  sizeof(ctx->location_template), false);
	if (!rc)
		rc = load(ctx, "report_template", ctx->report_template,
			  sizeof(ctx->report_template), false);
	if (!rc)
		rc = load_policy(ctx);
	if (!rc)
		rc = subscribe(ctx, KERYU_TOPIC_SCAN, alarms_on_scan);
	if (!rc)
		rc = subscribe(ctx, KERYU_TOPIC_DELIVERY, alarms_on_delivery);
	if (!rc)
		rc = subscribe(ctx, KERYU_TOPIC_REPORT, alarms_on_report);
	if (rc) {
		free_ctx(ctx);
		return rc;
	}
	*state = ctx;
	return 0;
}

static int alarms_start(void *state)
{
	struct alarms_ctx *ctx = state;
	struct alarms_settings s;
	int rc;

	/* what staff stored applies from the first scan, not the first
	 * tick; the due thread does not run yet */
	alarms_live_refresh(ctx);
	alarms_live_settings(ctx, &s);
	rc = alarms_due_start(ctx);

	ctx->host->log(ctx->m, rc ? KERYU_LOG_ERROR : KERYU_LOG_INFO,
		       rc ? "alarms.start_failed" : "alarms.started",
		       "channel=%s group=%s escalate_after_s=%d "
		       "ack_timeout_s=%d lease_s=%d",
		       s.channel, ctx->group, s.escalate_after_s,
		       s.ack_timeout_s, ctx->lease_s);
	return rc;
}

static void alarms_stop(void *state, int deadline_ms)
{
	struct alarms_ctx *ctx = state;

	/* a callback riding out a database outage gives up within ~50 ms;
	 * the due thread finishes the storage call it is in */
	(void)deadline_ms;
	atomic_store(&ctx->stopping, true);
	alarms_due_stop(ctx);
}

static void alarms_cleanup(void *state)
{
	struct alarms_ctx *ctx = state;

	alarms_due_stop(ctx);
	free_ctx(ctx);
}

KERYU_MODULE_DEFINE(.name = "alarms",
		    .description = "turns scans into alarms and delivery "
				   "requests; records delivery results; "
				   "escalates and re-drives",
		    .requires = requires_list, .options = options,
		    .init = alarms_init, .start = alarms_start,
		    .stop = alarms_stop, .cleanup = alarms_cleanup);
