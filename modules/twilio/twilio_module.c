/* twilio: delivers notification requests through Twilio Messaging, as two
 * channels from one module: WhatsApp (Content API templates, "whatsapp:"
 * addresses) on keryu/v1/notify/<whatsapp_channel>, and SMS (a text body)
 * on keryu/v1/notify/<sms_channel>. Each channel is its own delivery
 * engine (modules/channel): its own queue, rate, retries and
 * subscription; this file only says how a Twilio request is built and an
 * answer read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "channel.h"
#include "twilio_request.h"
#include "twilio_response.h"

/* One channel: the request settings its provider callbacks read (fixed
 * after init, so the worker thread may read them without a lock). */
struct tw_channel {
	struct twilio_request_cfg req;
	struct channel *engine;
};

struct tw_state {
	keryu_mod *m;
	const struct keryu_host *host;
	struct tw_channel wa, sms;
};

static const struct keryu_option options[] = {
	{"whatsapp_channel", KERYU_OPT_STR, "twilio",
	 "channel name of Twilio WhatsApp (keryu/v1/notify/<name>); empty "
	 "disables it",
	 0, 0, 0},
	{"sms_channel", KERYU_OPT_STR, "sms",
	 "channel name of Twilio SMS; empty disables it", 0, 0, 0},
	{"api_base", KERYU_OPT_URL, "https://api.twilio.com",
	 "Twilio API base URL (a fake one in tests)", 0, 0, 0},
	{"account_sid", KERYU_OPT_STR, NULL,
	 "Twilio account SID (AC...), the Basic auth user", KERYU_OPT_REQUIRED,
	 0, 0},
	{"auth_token", KERYU_OPT_STR, NULL,
	 "Twilio auth token: Basic auth password, and the key of status "
	 "callback signatures",
	 KERYU_OPT_REQUIRED | KERYU_OPT_SECRET, 0, 0},
	{"from", KERYU_OPT_STR, NULL,
	 "WhatsApp sender number, E.164 (+15551234567)", 0, 0, 0},
	{"sms_from", KERYU_OPT_STR, NULL,
	 "SMS sender number, E.164; empty uses from", 0, 0, 0},
	{"content_sid", KERYU_OPT_STR, NULL,
	 "Content template SID (HX...) of WhatsApp alerts; a request whose "
	 "template name is itself an HX SID uses that",
	 0, 0, 0},
	{"sms_text", KERYU_OPT_STR, "Keryu alert: {{1}} was scanned at {{2}}.",
	 "SMS text; {{1}}, {{2}}... are the notification's parameters; the "
	 "acknowledgement link is added on a line of its own",
	 0, 0, 0},
	{"sms_code_template", KERYU_OPT_STR, "keryu_verify_code",
	 "SMS: requests naming this template carry a one-time code (it is "
	 "[http] verify_template) and get sms_code_text", 0, 0, 0},
	{"sms_code_text", KERYU_OPT_STR,
	 "Your Keryu code is {{1}}. Do not share it.",
	 "SMS text of one-time codes; {{1}} is the code", 0, 0, 0},
	{"ack_variable", KERYU_OPT_BOOL, "false",
	 "WhatsApp: pass the acknowledgement link as the template variable "
	 "after the parameters ({{3}} for alerts)",
	 0, 0, 0},
	CHANNEL_OPT_QUEUE_MAX,
	CHANNEL_OPT_RETRY_BASE_MS("ceiling of the first retry's wait "
				  "(full-jitter exponential backoff)"),
	CHANNEL_OPT_MAX_ATTEMPTS(
		"attempts per notification in total, the first included"),
	CHANNEL_OPT_RATE_PER_S("sends per second per channel; 0 = no limit"),
	CHANNEL_OPT_MAX_IN_FLIGHT("32",
				  "requests on the wire at once per channel"),
	CHANNEL_OPT_TIMEOUT_MS,
	CHANNEL_OPT_CONNECT_TIMEOUT_MS,
	CHANNEL_OPT_GROUP("twilio"),
	{0},
};

/* Worker thread. */
static int tw_build(void *arg, const struct keryu_notify_event *req,
		    struct channel_request *out)
{
	const struct tw_channel *ch = arg;

	/* url, content type and credentials are the engine's defaults */
	return twilio_request_body(&ch->req, req, &out->body);
}

/* Worker thread. */
static void tw_parse(void *arg, const struct keryu_notify_event *req,
		     long http_status, const char *body, size_t len,
		     struct channel_answer *out)
{
	enum twilio_verdict v;
	struct keryu_delivery_event *r = &out->result;

	(void)arg;
	(void)req;
	twilio_response_parse(http_status, body, len, r, &v);
	if (strcmp(r->status, "sent") == 0) {
		out->verdict = CHANNEL_SENT;
		return;
	}
	switch (v) {
	case TWILIO_RETRY:
		out->verdict = CHANNEL_RETRY;
		break;
	case TWILIO_OPERATOR:
		out->verdict = CHANNEL_OPERATOR;
		break;
	case TWILIO_UNKNOWN:
		out->verdict = CHANNEL_UNKNOWN;
		break;
	case TWILIO_PERMANENT:
	default:
		out->verdict = CHANNEL_PERMANENT;
		break;
	}
}

static void tw_cleanup(void *state)
{
	struct tw_state *st = state;

	if (!st)
		return;
	channel_free(st->wa.engine);
	channel_free(st->sms.engine);
	free(st);
}

static int config_error(struct tw_state *st, const char *key,
			const char *why)
{
	st->host->log(st->m, KERYU_LOG_ERROR, "twilio.config",
		      "key=%s error=\"%s\"", key, why);
	return KERYU_EINVAL;
}

/* Makes ch's engine for channel name and subscribes it. */
static int open_channel(struct tw_state *st, struct tw_channel *ch,
			const char *name, const char *log_name,
			const char *url, const char *userpwd)
{
	const struct keryu_host *h = st->host;
	keryu_mod *m = st->m;
	struct channel_config cfg = {
		.name = log_name,
		.url = url,
		.content_type = "application/x-www-form-urlencoded",
		.userpwd = userpwd,
	};
	struct channel_provider p = {tw_build, tw_parse, ch};
	int rc;

	channel_config_read(h, m, &cfg);
	rc = channel_new(&cfg, &p, &ch->engine);
	if (rc == 0)
		rc = channel_subscribe(ch->engine, h->config(m, "group"), name);
	if (rc)
		h->log(m, KERYU_LOG_ERROR, "twilio.config",
		       "channel=%s error=%s", log_name, keryu_strerror(rc));
	return rc;
}

static int tw_init(keryu_mod *m, const struct keryu_host *host, void **state)
{
	struct tw_state *st = calloc(1, sizeof(*st));
	const char *wa_name = host->config(m, "whatsapp_channel");
	const char *sms_name = host->config(m, "sms_channel");
	const char *from = host->config(m, "from");
	const char *sms_from = host->config(m, "sms_from");
	const char *content_sid = host->config(m, "content_sid");
	const char *public_url = host->global(m, "http", "public_url");
	char *url = NULL, *userpwd = NULL;
	int rc;

	*state = NULL;
	if (!st)
		return KERYU_ENOMEM;
	st->m = m;
	st->host = host;
	if (!*sms_from)
		sms_from = from;
	if (!public_url || !*public_url) {
		/* Sends still work; only the status callbacks are lost. */
		host->log(m, KERYU_LOG_WARN, "twilio.no_status_callback",
			  "reason=\"[http] public_url is empty\"");
		public_url = NULL;
	}
	if (!keryu_topic_level_valid(host->config(m, "group"))) {
		rc = config_error(st, "group",
				  "must be 1-63 characters without / + #");
		goto fail;
	}
	if (!*wa_name && !*sms_name) {
		rc = config_error(st, "whatsapp_channel,sms_channel",
				  "both channels are disabled");
		goto fail;
	}
	if ((*wa_name && !keryu_topic_level_valid(wa_name)) ||
	    (*sms_name && !keryu_topic_level_valid(sms_name)) ||
	    (*wa_name && strcmp(wa_name, sms_name) == 0)) {
		rc = config_error(st, "whatsapp_channel,sms_channel",
				  "must be two different topic levels");
		goto fail;
	}
	if (*wa_name && !keryu_e164_valid(from)) {
		rc = config_error(st, "from",
				  "the WhatsApp sender must be E.164 (+ and "
				  "8-15 digits)");
		goto fail;
	}
	if (*sms_name && !keryu_e164_valid(sms_from)) {
		rc = config_error(st, "sms_from",
				  "the SMS sender (sms_from, or from) must be "
				  "E.164");
		goto fail;
	}
	if (*content_sid && !twilio_content_sid_valid(content_sid)) {
		rc = config_error(st, "content_sid",
				  "must be HX and 32 hex digits");
		goto fail;
	}
	if (*wa_name && !*content_sid)
		host->log(m, KERYU_LOG_WARN, "twilio.no_content_sid",
			  "reason=\"only requests naming an HX template can "
			  "be sent\"");
	if (*sms_name && !*host->config(m, "sms_text")) {
		rc = config_error(st, "sms_text", "must not be empty");
		goto fail;
	}
	rc = twilio_request_url(host->config(m, "api_base"),
				host->config(m, "account_sid"), &url);
	if (rc) {
		rc = config_error(st, "api_base,account_sid",
				  "no usable Messages URL");
		goto fail;
	}
	if (strchr(host->config(m, "account_sid"), ':')) {
		rc = config_error(st, "account_sid", "must not hold ':'");
		goto fail;
	}
	if (!*host->config(m, "auth_token")) {
		rc = config_error(st, "auth_token", "must not be empty");
		goto fail;
	}
	if (asprintf(&userpwd, "%s:%s", host->config(m, "account_sid"),
		     host->config(m, "auth_token")) < 0) {
		userpwd = NULL;
		rc = KERYU_ENOMEM;
		goto fail;
	}
	st->wa.req = (struct twilio_request_cfg){
		.kind = TWILIO_WHATSAPP,
		.from = from,
		.content_sid = content_sid,
		.ack_variable = host->config_bool(m, "ack_variable"),
		.public_url = public_url,
	};
	st->sms.req = (struct twilio_request_cfg){
		.kind = TWILIO_SMS,
		.from = sms_from,
		.sms_text = host->config(m, "sms_text"),
		.code_template = host->config(m, "sms_code_template"),
		.code_text = host->config(m, "sms_code_text"),
		.public_url = public_url,
	};
	if (*wa_name &&
	    (rc = open_channel(st, &st->wa, wa_name, "twilio", url, userpwd)))
		goto fail;
	if (*sms_name && (rc = open_channel(st, &st->sms, sms_name,
					    "twilio_sms", url, userpwd)))
		goto fail;
	free(url);
	memset(userpwd, 0, strlen(userpwd));
	free(userpwd);
	*state = st;
	return 0;
fail:
	free(url);
	if (userpwd) {
		memset(userpwd, 0, strlen(userpwd));
		free(userpwd);
	}
	tw_cleanup(st);
	return rc;
}

static int tw_start(void *state)
{
	struct tw_state *st = state;
	int rc = 0;

	if (st->wa.engine)
		rc = channel_start(st->wa.engine);
	if (rc == 0 && st->sms.engine)
		rc = channel_start(st->sms.engine);
	if (rc) {
		st->host->log(st->m, KERYU_LOG_ERROR, "twilio.start_failed",
			      "error=%s", keryu_strerror(rc));
		/* start failed: stop is not called, cleanup joins */
		if (st->wa.engine)
			channel_stop(st->wa.engine, 0);
		if (st->sms.engine)
			channel_stop(st->sms.engine, 0);
	}
	return rc;
}

static void tw_stop(void *state, int deadline_ms)
{
	struct tw_state *st = state;

	/* one after the other, each within the same deadline */
	if (st->wa.engine)
		channel_stop(st->wa.engine, deadline_ms / 2);
	if (st->sms.engine)
		channel_stop(st->sms.engine, deadline_ms / 2);
}

static const char *const no_services[] = {NULL};

KERYU_MODULE_DEFINE(.name = "twilio",
		    .description = "delivers notifications through Twilio "
				   "Messaging: WhatsApp and SMS channels",
		    .requires = no_services, .provides = no_services,
		    .options = options, .init = tw_init, .start = tw_start,
		    .stop = tw_stop, .cleanup = tw_cleanup);
