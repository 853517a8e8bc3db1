/* log: a delivery channel that only writes a log line, so a machine without
 * provider credentials still runs the whole scan -> alarm -> notification
 * flow. It answers every request with status "delivered". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/events.h>
#include <keryu/module.h>

struct log_state {
	keryu_mod *m;
	const struct keryu_host *host;
};

static const struct keryu_option options[] = {
	{"group", KERYU_OPT_STR, "log",
	 "shared subscription group that splits requests between workers", 0,
	 0, 0},
	{0},
};

/* Template names are plain identifiers; anything else would break the
 * key=value log format, so it is replaced. */
static void safe_name(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i]; i++)
		dst[i] = (strchr(" \t\r\n\"=", src[i]) ||
			  (unsigned char)src[i] < 0x20)
				 ? '_'
				 : src[i];
	dst[i] = '\0';
}

static void on_notify(void *arg, const char *topic, const void *payload,
		      size_t len)
{
	struct log_state *st = arg;
	struct keryu_notify_event req;
	struct keryu_delivery_event ev;
	char name[sizeof(req.template_name)];
	int rc;

	if (keryu_notify_event_decode(payload, len, &req) != 0) {
		st->host->log(st->m, KERYU_LOG_WARN, "log.malformed",
			      "topic=%s bytes=%zu", topic, len);
		return;
	}
	/* The parameters (subject name, time) are personal data: only their
	 * count is logged, never their text, and never the recipient. */
	safe_name(name, sizeof(name), req.template_name);
	st->host->log(st->m, KERYU_LOG_INFO, "log.deliver",
		      "notification=%s attempt=%d template=%s params=%d",
		      req.notification_id, req.attempt, name, req.param_count);

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.status, sizeof(ev.status), "delivered");
	snprintf(ev.provider_message_id, sizeof(ev.provider_message_id),
		 "log-%s", req.notification_id);
	rc = keryu_delivery_publish(st->host, st->m, &req, &ev);
	if (rc)
		st->host->log(st->m, KERYU_LOG_ERROR, "log.publish_failed",
			      "notification=%s attempt=%d err=%s",
			      req.notification_id, req.attempt,
			      keryu_strerror(rc));
}

static int log_init(keryu_mod *m, const struct keryu_host *host, void **state)
{
	struct log_state *st;
	const char *group = host->config(m, "group");
	char filter[128];
	int rc;

	*state = NULL;
	if (!keryu_topic_level_valid(group)) {
		host->log(m, KERYU_LOG_ERROR, "log.config",
			  "key=group error=\"must be 1-63 characters without / + #\"");
		return KERYU_EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return KERYU_ENOMEM;
	st->m = m;
	st->host = host;
	snprintf(filter, sizeof(filter), "$share/%s/%slog", group,
		 KERYU_TOPIC_NOTIFY);
	rc = host->subscribe(m, filter, 1, on_notify, st);
	if (rc) {
		free(st);
		return rc;
	}
	*state = st;
	return 0;
}

static int log_start(void *state)
{
	(void)state;
	return 0;
}

static void log_stop(void *state, int deadline_ms)
{
	/* Work is done synchronously on the bus thread: nothing in flight. */
	(void)state;
	(void)deadline_ms;
}

static void log_cleanup(void *state)
{
	free(state);
}

static const char *const no_services[] = {NULL};

KERYU_MODULE_DEFINE(.name = "log",
		    .description = "delivers notifications to the log only "
				   "(no provider account needed)",
		    .requires = no_services, .provides = no_services,
		    .options = options, .init = log_init, .start = log_start,
		    .stop = log_stop, .cleanup = log_cleanup);
