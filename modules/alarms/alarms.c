/* The alarms module: descriptor, options and subscriptions. Scans are
 * handled in alarms_scan.c, delivery results in alarms_delivery.c. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms_module.h"

static const char *const requires_list[] = {KERYU_SERVICE_STORAGE, NULL};

static const struct keryu_option options[] = {
	{.key = "channel", .type = KERYU_OPT_STR, .def = "log",
	 .help = "delivery channel: requests go to keryu/v1/notify/<channel>"},
	{.key = "template", .type = KERYU_OPT_STR, .def = "qr_template_on_m",
	 .help = "message template named in delivery requests"},
	{.key = "language", .type = KERYU_OPT_STR, .def = "en_US",
	 .help = "template language"},
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
	ctx->storage = host->service(m, KERYU_SERVICE_STORAGE);
	if (!ctx->storage || ctx->storage->struct_size <
				     offsetof(struct keryu_storage, reserved)) {
		host->log(m, KERYU_LOG_ERROR, "alarms.init",
			  "error=\"storage service missing or too old\"");
		free(ctx);
		return KERYU_ENOTFOUND;
	}
	rc = load(ctx, "channel", ctx->channel, sizeof(ctx->channel), true);
	if (!rc)
		rc = load(ctx, "template", ctx->template_name,
			  sizeof(ctx->template_name), false);
	if (!rc)
		rc = load(ctx, "language", ctx->language, sizeof(ctx->language),
			  false);
	if (!rc && *host->config(m, "group"))
		rc = load(ctx, "group", ctx->group, sizeof(ctx->group), true);
	if (!rc)
		rc = subscribe(ctx, KERYU_TOPIC_SCAN, alarms_on_scan);
	if (!rc)
		rc = subscribe(ctx, KERYU_TOPIC_DELIVERY, alarms_on_delivery);
	if (rc) {
		free(ctx);
		return rc;
	}
	*state = ctx;
	return 0;
}

static int alarms_start(void *state)
{
	struct alarms_ctx *ctx = state;

	ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.started",
		       "channel=%s group=%s", ctx->channel, ctx->group);
	return 0;
}

static void alarms_stop(void *state, int deadline_ms)
{
	struct alarms_ctx *ctx = state;

	/* a callback riding out a database outage gives up within ~50 ms */
	(void)deadline_ms;
	atomic_store(&ctx->stopping, true);
}

static void alarms_cleanup(void *state)
{
	free(state);
}

KERYU_MODULE_DEFINE(.name = "alarms",
		    .description = "turns scans into alarms and delivery "
				   "requests; records delivery results",
		    .requires = requires_list, .options = options,
		    .init = alarms_init, .start = alarms_start,
		    .stop = alarms_stop, .cleanup = alarms_cleanup);
