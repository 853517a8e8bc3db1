/* whatsapp: delivers notification requests through the Meta WhatsApp Cloud
 * API. Requests arrive on keryu/v1/notify/whatsapp (shared subscription, so
 * several workers split them); each attempt's result is published on
 * keryu/v1/delivery/<notification_id>. Retries are the alarms module's job:
 * this module makes exactly one HTTP attempt per request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "whatsapp_request.h"
#include "whatsapp_response.h"
#include "whatsapp_sender.h"

/* Recent request event ids, to honour "a delivery request seen twice sends
 * one message" for broker redeliveries, which come soon after the first. */
#define SEEN_MAX 1024

struct wa_state {
	keryu_mod *m;
	const struct keryu_host *host;
	struct whatsapp_sender *sender;
	int submit_wait_ms;
	/* bus thread only */
	char seen[SEEN_MAX][KERYU_UUID_LEN];
	size_t seen_next;
};

static const struct keryu_option options[] = {
	{"api_base", KERYU_OPT_URL, "https://graph.facebook.com",
	 "Cloud API base URL (a fake one in tests)", 0, 0, 0},
	{"api_version", KERYU_OPT_STR, "v23.0",
	 "Graph API version in the request path", 0, 0, 0},
	{"phone_number_id", KERYU_OPT_STR, NULL,
	 "WhatsApp Business phone number id that sends", KERYU_OPT_REQUIRED,
	 0, 0},
	{"token", KERYU_OPT_STR, NULL, "Cloud API access token",
	 KERYU_OPT_REQUIRED | KERYU_OPT_SECRET, 0, 0},
	{"timeout_ms", KERYU_OPT_INT, "10000",
	 "total time allowed for one HTTP request", 0, 100, 600000},
	{"connect_timeout_ms", KERYU_OPT_INT, "3000",
	 "time allowed to connect to the API", 0, 10, 600000},
	{"max_in_flight", KERYU_OPT_INT, "64",
	 "requests on the wire at once per worker", 0, 1, 4096},
	{"group", KERYU_OPT_STR, "whatsapp",
	 "shared subscription group that splits requests between workers", 0,
	 0, 0},
	{0},
};

static bool seen_before(const struct wa_state *st, const char *event_id)
{
	size_t i;

	for (i = 0; i < SEEN_MAX; i++)
		if (st->seen[i][0] == event_id[0] &&
		    strcmp(st->seen[i], event_id) == 0)
			return true;
	return false;
}

/* Only requests that were taken on are remembered: one dropped (queue
 * full, stopping) must still be sent when it is delivered again. */
static void remember(struct wa_state *st, const char *event_id)
{
	memcpy(st->seen[st->seen_next], event_id, KERYU_UUID_LEN);
	st->seen_next = (st->seen_next + 1) % SEEN_MAX;
}

static void publish_result(struct wa_state *st,
			   const struct keryu_notify_event *req,
			   const struct keryu_delivery_event *res)
{
	struct keryu_delivery_event ev = *res;
	int rc = keryu_delivery_publish(st->host, st->m, req, &ev);

	if (rc)
		st->host->log(st->m, KERYU_LOG_ERROR, "whatsapp.publish_failed",
			      "notification=%s attempt=%d status=%s err=%s",
			      req->notification_id, req->attempt, ev.status,
			      keryu_strerror(rc));
}

/* Worker thread: one finished attempt. */
static void on_result(void *arg, const struct keryu_notify_event *req,
		      const struct keryu_delivery_event *res, long http_status,
		      long latency_ms)
{
	struct wa_state *st = arg;

	if (strcmp(res->status, "sent") == 0) {
		st->host->log(st->m, KERYU_LOG_INFO, "whatsapp.sent",
			      "notification=%s attempt=%d ms=%ld",
			      req->notification_id, req->attempt, latency_ms);
	} else {
		long code = strtol(res->error_code, NULL, 10);
		bool numeric = res->error_code[0] >= '0' &&
			       res->error_code[0] <= '9';
		/* Provider texts are not logged: some quote the recipient. */
		st->host->log(st->m,
			      numeric && whatsapp_code_needs_operator(code)
				      ? KERYU_LOG_ERROR
				      : KERYU_LOG_WARN,
			      strcmp(res->status, "failed") == 0
				      ? "whatsapp.failed"
				      : "whatsapp.error",
			      "notification=%s attempt=%d code=%s http=%ld ms=%ld",
			      req->notification_id, req->attempt,
			      res->error_code, http_status, latency_ms);
	}
	publish_result(st, req, res);
}

/* Bus thread: one delivery request. */
static void on_notify(void *arg, const char *topic, const void *payload,
		      size_t len)
{
	struct wa_state *st = arg;
	struct keryu_notify_event req;
	struct keryu_delivery_event res;
	char *body = NULL;
	int rc;

	if (keryu_notify_event_decode(payload, len, &req) != 0) {
		st->host->log(st->m, KERYU_LOG_WARN, "whatsapp.malformed",
			      "topic=%s bytes=%zu", topic, len);
		return;
	}
	if (seen_before(st, req.event_id)) {
		st->host->log(st->m, KERYU_LOG_DEBUG, "whatsapp.duplicate",
			      "notification=%s event=%s", req.notification_id,
			      req.event_id);
		return;
	}
	/* The decoder already refused a recipient that is not E.164. A request
	 * without a template would fail the same way on every attempt: settle
	 * it now, without a round trip. */
	if (!req.template_name[0] || !req.language[0]) {
		memset(&res, 0, sizeof(res));
		snprintf(res.status, sizeof(res.status), "failed");
		snprintf(res.error_code, sizeof(res.error_code), "invalid_request");
		snprintf(res.error_text, sizeof(res.error_text),
			 "template name and language are required");
		st->host->log(st->m, KERYU_LOG_WARN, "whatsapp.failed",
			      "notification=%s attempt=%d code=%s",
			      req.notification_id, req.attempt, res.error_code);
		publish_result(st, &req, &res);
		remember(st, req.event_id);
		return;
	}
	rc = whatsapp_request_body(&req, &body);
	if (rc == 0)
		rc = whatsapp_sender_submit(st->sender, &req, body,
					    st->submit_wait_ms);
	if (rc == 0)
		remember(st, req.event_id);
	/* Not published, and not remembered: the notification stays QUEUED
	 * with nothing sent; only a redelivery of this request sends it
	 * (nothing in the system re-drives it today). */
	if (rc)
		st->host->log(st->m, KERYU_LOG_WARN, "whatsapp.dropped",
			      "notification=%s attempt=%d reason=%s",
			      req.notification_id, req.attempt,
			      rc == KERYU_ECONFLICT	? "stopping"
			      : rc == KERYU_ETIMEDOUT ? "queue_full"
						       : keryu_strerror(rc));
}

static void wa_cleanup(void *state)
{
	struct wa_state *st = state;

	if (!st)
		return;
	whatsapp_sender_free(st->sender);
	free(st);
}

static int wa_init(keryu_mod *m, const struct keryu_host *host, void **state)
{
	struct wa_state *st = calloc(1, sizeof(*st));
	struct whatsapp_sender_config cfg = {0};
	const char *group = host->config(m, "group");
	char filter[128];
	char *url = NULL;
	int rc;

	*state = NULL;
	if (!st)
		return KERYU_ENOMEM;
	st->m = m;
	st->host = host;
	rc = whatsapp_request_url(host->config(m, "api_base"),
				  host->config(m, "api_version"),
				  host->config(m, "phone_number_id"), &url);
	if (rc) {
		host->log(m, KERYU_LOG_ERROR, "whatsapp.config",
			  "error=%s keys=api_base,api_version,phone_number_id",
			  keryu_strerror(rc));
		goto fail;
	}
	cfg.url = url;
	cfg.token = host->config(m, "token");
	cfg.timeout_ms = (long)host->config_int(m, "timeout_ms");
	cfg.connect_timeout_ms = (long)host->config_int(m, "connect_timeout_ms");
	cfg.max_in_flight = (int)host->config_int(m, "max_in_flight");
	st->submit_wait_ms = (int)cfg.timeout_ms;
	if (!keryu_topic_level_valid(group)) {
		host->log(m, KERYU_LOG_ERROR, "whatsapp.config",
			  "key=group error=\"must be 1-63 characters without / + #\"");
		rc = KERYU_EINVAL;
		goto fail;
	}
	rc = whatsapp_sender_new(&cfg, on_result, st, &st->sender);
	if (rc) {
		host->log(m, KERYU_LOG_ERROR, "whatsapp.config",
			  "error=%s keys=token,timeout_ms,connect_timeout_ms,"
			  "max_in_flight",
			  keryu_strerror(rc));
		goto fail;
	}
	snprintf(filter, sizeof(filter), "$share/%s/%swhatsapp", group,
		 KERYU_TOPIC_NOTIFY);
	rc = host->subscribe(m, filter, 1, on_notify, st);
	if (rc)
		goto fail;
	free(url);
	*state = st;
	return 0;
fail:
	free(url);
	wa_cleanup(st);
	return rc;
}

static int wa_start(void *state)
{
	struct wa_state *st = state;
	int rc = whatsapp_sender_start(st->sender);

	if (rc)
		st->host->log(st->m, KERYU_LOG_ERROR, "whatsapp.start_failed",
			      "error=%s", keryu_strerror(rc));
	return rc;
}

static void wa_stop(void *state, int deadline_ms)
{
	struct wa_state *st = state;

	whatsapp_sender_stop(st->sender, deadline_ms);
}

static const char *const no_services[] = {NULL};

KERYU_MODULE_DEFINE(.name = "whatsapp",
		    .description = "delivers notifications through the Meta "
				   "WhatsApp Cloud API",
		    .requires = no_services, .provides = no_services,
		    .options = options, .init = wa_init, .start = wa_start,
		    .stop = wa_stop, .cleanup = wa_cleanup);
