/* testchan: a test-only delivery channel. It exists to prove that a new
 * channel is just a module that subscribes keryu/v1/notify/<channel> and
 * publishes keryu_delivery_publish results: the alarms module routes to it
 * by the contact's channel name with no change of its own.
 *
 * Options ([testchan] or KERYU_TESTCHAN_*):
 *   channel  the channel name it serves (default "testchan")
 *   group    shared subscription group (default "testchan")
 *   record   file to append every request to, one JSON line each
 *            ({"event_id","notification_id","attempt","channel","to",
 *              "template","language","params":[...],"ack_url"}); "" = none
 *   outcome  what every attempt reports:
 *            delivered      "sent" then "delivered" (default)
 *            sent           "sent" only
 *            silent         nothing at all (a lost worker)
 *            failed:<code>  "failed" (final) with that error code
 *            error:<code>   "error" with retry_in_ms -1 (no retry here)
 *
 * All work happens on the module's bus thread, one request at a time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <keryu/events.h>
#include <keryu/module.h>

enum testchan_outcome {
	OUT_DELIVERED,
	OUT_SENT,
	OUT_SILENT,
	OUT_FAILED,
	OUT_ERROR,
};

struct testchan_state {
	keryu_mod *m;
	const struct keryu_host *host;
	enum testchan_outcome outcome;
	char code[32]; /* for failed / error */
	FILE *record;  /* NULL when not recording */
};

static const struct keryu_option options[] = {
	{"channel", KERYU_OPT_STR, "testchan",
	 "channel name served: requests on keryu/v1/notify/<channel>", 0, 0, 0},
	{"group", KERYU_OPT_STR, "testchan",
	 "shared subscription group that splits requests between workers", 0,
	 0, 0},
	{"record", KERYU_OPT_STR, "",
	 "file that gets one JSON line per request (tests read it)", 0, 0, 0},
	{"outcome", KERYU_OPT_STR, "delivered",
	 "delivered | sent | silent | failed:<code> | error:<code>", 0, 0, 0},
	{0},
};

/* Parses the outcome option into st. Returns 0 or KERYU_EINVAL. */
static int parse_outcome(struct testchan_state *st, const char *s)
{
	const char *code = NULL;

	if (strcmp(s, "delivered") == 0)
		st->outcome = OUT_DELIVERED;
	else if (strcmp(s, "sent") == 0)
		st->outcome = OUT_SENT;
	else if (strcmp(s, "silent") == 0)
		st->outcome = OUT_SILENT;
	else if (strncmp(s, "failed:", 7) == 0)
		st->outcome = OUT_FAILED, code = s + 7;
	else if (strncmp(s, "error:", 6) == 0)
		st->outcome = OUT_ERROR, code = s + 6;
	else
		return KERYU_EINVAL;
	if (code) {
		if (!*code || strlen(code) >= sizeof(st->code) ||
		    strspn(code, "0123456789") != strlen(code))
			return KERYU_EINVAL;
		snprintf(st->code, sizeof(st->code), "%s", code);
	}
	return 0;
}

static void record_request(struct testchan_state *st,
			   const struct keryu_notify_event *req)
{
	cJSON *o = cJSON_CreateObject(), *params;
	char *line;
	int i;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "event_id", req->event_id);
	cJSON_AddStringToObject(o, "notification_id", req->notification_id);
	cJSON_AddNumberToObject(o, "attempt", req->attempt);
	cJSON_AddStringToObject(o, "channel", req->channel);
	cJSON_AddStringToObject(o, "to", req->to);
	cJSON_AddStringToObject(o, "template", req->template_name);
	cJSON_AddStringToObject(o, "language", req->language);
	params = cJSON_AddArrayToObject(o, "params");
	for (i = 0; i < req->param_count && i < KERYU_NOTIFY_MAX_PARAMS; i++)
		cJSON_AddItemToArray(params, cJSON_CreateString(req->params[i]));
	cJSON_AddStringToObject(o, "ack_url", req->ack_url);
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line) {
		st->host->log(st->m, KERYU_LOG_ERROR, "testchan.record_failed",
			      "notification=%s err=nomem", req->notification_id);
		return;
	}
	if (fprintf(st->record, "%s\n", line) < 0 || fflush(st->record) != 0)
		st->host->log(st->m, KERYU_LOG_ERROR, "testchan.record_failed",
			      "notification=%s errno=%d", req->notification_id,
			      errno);
	free(line);
}

/* Publishes one result for req. */
static void report(struct testchan_state *st,
		   const struct keryu_notify_event *req, const char *status,
		   const char *code)
{
	struct keryu_delivery_event ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.status, sizeof(ev.status), "%s", status);
	ev.retry_in_ms = -1;
	if (code) {
		snprintf(ev.error_code, sizeof(ev.error_code), "%s", code);
		snprintf(ev.error_text, sizeof(ev.error_text),
			 "testchan %s (configured outcome)", status);
	} else {
		snprintf(ev.provider_message_id,
			 sizeof(ev.provider_message_id), "testchan-%s-%d",
			 req->notification_id, req->attempt);
	}
	rc = keryu_delivery_publish(st->host, st->m, req, &ev);
	if (rc)
		st->host->log(st->m, KERYU_LOG_ERROR, "testchan.publish_failed",
			      "notification=%s attempt=%d status=%s err=%s",
			      req->notification_id, req->attempt, status,
			      keryu_strerror(rc));
}

static void on_notify(void *arg, const char *topic, const void *payload,
		      size_t len)
{
	struct testchan_state *st = arg;
	struct keryu_notify_event req;

	if (keryu_notify_event_decode(payload, len, &req) != 0) {
		st->host->log(st->m, KERYU_LOG_WARN, "testchan.malformed",
			      "topic=%s bytes=%zu", topic, len);
		return;
	}
	/* never the recipient or the parameters: they are personal data */
	st->host->log(st->m, KERYU_LOG_INFO, "testchan.deliver",
		      "notification=%s attempt=%d", req.notification_id,
		      req.attempt);
	if (st->record)
		record_request(st, &req);
	switch (st->outcome) {
	case OUT_DELIVERED:
		report(st, &req, "sent", NULL);
		report(st, &req, "delivered", NULL);
		break;
	case OUT_SENT:
		report(st, &req, "sent", NULL);
		break;
	case OUT_FAILED:
		report(st, &req, "failed", st->code);
		break;
	case OUT_ERROR:
		report(st, &req, "error", st->code);
		break;
	case OUT_SILENT:
		break;
	}
}

static int config_error(keryu_mod *m, const struct keryu_host *host,
			const char *key, const char *why)
{
	host->log(m, KERYU_LOG_ERROR, "testchan.config", "key=%s error=\"%s\"",
		  key, why);
	return KERYU_EINVAL;
}

static int testchan_init(keryu_mod *m, const struct keryu_host *host,
			 void **state)
{
	const char *channel = host->config(m, "channel");
	const char *group = host->config(m, "group");
	const char *path = host->config(m, "record");
	struct testchan_state *st;
	char filter[160];
	int rc;

	*state = NULL;
	if (!keryu_topic_level_valid(channel))
		return config_error(m, host, "channel",
				    "must be 1-63 characters without / + #");
	if (!keryu_topic_level_valid(group))
		return config_error(m, host, "group",
				    "must be 1-63 characters without / + #");
	st = calloc(1, sizeof(*st));
	if (!st)
		return KERYU_ENOMEM;
	st->m = m;
	st->host = host;
	if (parse_outcome(st, host->config(m, "outcome")) != 0) {
		free(st);
		return config_error(m, host, "outcome",
				    "delivered, sent, silent, failed:<code> "
				    "or error:<code>");
	}
	if (*path && !(st->record = fopen(path, "a"))) {
		host->log(m, KERYU_LOG_ERROR, "testchan.config",
			  "key=record errno=%d", errno);
		free(st);
		return KERYU_EIO;
	}
	snprintf(filter, sizeof(filter), "$share/%s/%s%s", group,
		 KERYU_TOPIC_NOTIFY, channel);
	rc = host->subscribe(m, filter, 1, on_notify, st);
	if (rc) {
		if (st->record)
			fclose(st->record);
		free(st);
		return rc;
	}
	*state = st;
	return 0;
}

static int testchan_start(void *state)
{
	(void)state;
	return 0;
}

static void testchan_stop(void *state, int deadline_ms)
{
	/* requests are handled synchronously on the bus thread */
	(void)state;
	(void)deadline_ms;
}

static void testchan_cleanup(void *state)
{
	struct testchan_state *st = state;

	if (!st)
		return;
	if (st->record)
		fclose(st->record);
	free(st);
}

static const char *const no_services[] = {NULL};

KERYU_MODULE_DEFINE(.name = "testchan",
		    .description = "test-only delivery channel: records "
				   "requests, answers a configured outcome",
		    .requires = no_services, .provides = no_services,
		    .options = options, .init = testchan_init,
		    .start = testchan_start, .stop = testchan_stop,
		    .cleanup = testchan_cleanup);
