/* whatsapp: delivers notification requests through the Meta WhatsApp Cloud
 * API. Requests arrive on keryu/v1/notify/whatsapp (shared subscription, so
 * several workers split them); each attempt's result is published on
 * keryu/v1/delivery/<notification_id>.
 *
 * This file is the provider half only: the request body
 * (whatsapp_request.c) and the reading of Meta's answers
 * (whatsapp_response.c). Queueing, concurrency, the send rate, retries and
 * duplicates are the channel engine's (modules/channel). One engine per
 * module instance, i.e. per phone_number_id, whose rate Meta limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "channel.h"
#include "whatsapp_request.h"
#include "whatsapp_response.h"

struct wa_state {
	keryu_mod *m;
	const struct keryu_host *host;
	struct channel *engine;
	bool ack_button; /* read-only after init */
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
	{"app_secret", KERYU_OPT_STR, NULL,
	 "Meta app secret; the http module checks status webhooks' "
	 "X-Hub-Signature-256 with it (not used for sending)",
	 KERYU_OPT_SECRET, 0, 0},
	{"verify_token", KERYU_OPT_STR, NULL,
	 "token Meta echoes when verifying the webhook URL (checked by the "
	 "http module)",
	 KERYU_OPT_SECRET, 0, 0},
	CHANNEL_OPT_TIMEOUT_MS,
	CHANNEL_OPT_CONNECT_TIMEOUT_MS,
	CHANNEL_OPT_MAX_IN_FLIGHT("64",
				  "requests on the wire at once per worker"),
	CHANNEL_OPT_QUEUE_MAX,
	CHANNEL_OPT_RETRY_BASE_MS("first retry waits up to this long (full "
				  "jitter), doubling per attempt"),
	CHANNEL_OPT_MAX_ATTEMPTS(
		"attempts per notification in total, retries included"),
	CHANNEL_OPT_RATE_PER_S("messages per second at most for this phone "
			       "number id (0: no limit)"),
	{"ack_button", KERYU_OPT_BOOL, "false",
	 "the template has a URL button {public_url}/ack/{{1}}: fill it with "
	 "the acknowledgement token",
	 0, 0, 0},
	CHANNEL_OPT_GROUP("whatsapp"),
	{0},
};

/* Worker thread. A request without a template would fail the same way on
 * every attempt: refused here, it is settled "failed" without a round
 * trip. (The decoder already refused a recipient that is not E.164.) */
static int wa_build(void *arg, const struct keryu_notify_event *req,
		    struct channel_request *out)
{
	const struct wa_state *st = arg;

	if (!req->template_name[0] || !req->language[0])
		return KERYU_EINVAL;
	return whatsapp_request_body(req, st->ack_button, &out->body);
}

/* Worker thread. */
static void wa_parse(void *arg, const struct keryu_notify_event *req,
		     long http_status, const char *body, size_t len,
		     struct channel_answer *out)
{
	(void)arg;
	whatsapp_response_answer(http_status, body, len, req->attempt, out);
}

static void wa_cleanup(void *state)
{
	struct wa_state *st = state;

	if (!st)
		return;
	channel_free(st->engine);
	free(st);
}

static void wipe(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static int wa_init(keryu_mod *m, const struct keryu_host *host, void **state)
{
	struct wa_state *st = calloc(1, sizeof(*st));
	struct channel_config cfg = {0};
	struct channel_provider prov = {0};
	const char *headers[2] = {NULL, NULL};
	const char *group = host->config(m, "group");
	char *url = NULL, *auth = NULL;
	int rc;

	*state = NULL;
	if (!st)
		return KERYU_ENOMEM;
	st->m = m;
	st->host = host;
	st->ack_button = host->config_bool(m, "ack_button");
	rc = whatsapp_request_url(host->config(m, "api_base"),
				  host->config(m, "api_version"),
				  host->config(m, "phone_number_id"), &url);
	if (rc) {
		host->log(m, KERYU_LOG_ERROR, "whatsapp.config",
			  "error=%s keys=api_base,api_version,phone_number_id",
			  keryu_strerror(rc));
		goto fail;
	}
	if (!keryu_topic_level_valid(group)) {
		host->log(m, KERYU_LOG_ERROR, "whatsapp.config",
			  "key=group error=\"must be 1-63 characters without / + #\"");
		rc = KERYU_EINVAL;
		goto fail;
	}
	if (!host->config(m, "token") || !*host->config(m, "token") ||
	    asprintf(&auth, "Authorization: Bearer %s",
		     host->config(m, "token")) < 0) {
		auth = NULL;
		rc = host->config(m, "token") && *host->config(m, "token")
			     ? KERYU_ENOMEM
			     : KERYU_EINVAL;
		host->log(m, KERYU_LOG_ERROR, "whatsapp.config",
			  "key=token error=%s", keryu_strerror(rc));
		goto fail;
	}
	headers[0] = auth;
	channel_config_read(host, m, &cfg);
	cfg.name = "whatsapp";
	cfg.url = url;
	cfg.content_type = "application/json";
	cfg.headers = headers;
	prov.build = wa_build;
	prov.parse = wa_parse;
	prov.arg = st;
	rc = channel_new(&cfg, &prov, &st->engine);
	wipe(auth); /* the engine keeps its own copy */
	if (rc) {
		host->log(m, KERYU_LOG_ERROR, "whatsapp.config",
			  "error=%s keys=timeout_ms,connect_timeout_ms,"
			  "max_in_flight,retry_base_ms,max_attempts,rate_per_s",
			  keryu_strerror(rc));
		goto fail;
	}
	rc = channel_subscribe(st->engine, group, "whatsapp");
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
	int rc = channel_start(st->engine);

	if (rc)
		st->host->log(st->m, KERYU_LOG_ERROR, "whatsapp.start_failed",
			      "error=%s", keryu_strerror(rc));
	return rc;
}

static void wa_stop(void *state, int deadline_ms)
{
	struct wa_state *st = state;

	channel_stop(st->engine, deadline_ms);
}

static const char *const no_services[] = {NULL};

KERYU_MODULE_DEFINE(.name = "whatsapp",
		    .description = "delivers notifications through the Meta "
				   "WhatsApp Cloud API",
		    .requires = no_services, .provides = no_services,
		    .options = options, .init = wa_init, .start = wa_start,
		    .stop = wa_stop, .cleanup = wa_cleanup);
