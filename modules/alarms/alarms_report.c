/* The finder shared a location or sent a report (the http module stored
 * it and published keryu/v1/report/<alarm_id>): everyone already alerted
 * about that alarm gets a follow-up message. Storage makes the follow-ups
 * once per recipient and kind, so a redelivered report event sends
 * nothing twice; they are leased like alerts, so a lost publish is sent
 * again by the due-work thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms_module.h"

#define FOLLOWUPS_MAX 32

static const struct {
	const char *key, *text;
} situations[] = {
	{"injured", "is injured"},
	{"lost", "is lost"},
	{"contact", "asks you to get in touch"},
	{"test", "TEST: the finder says this is only a test"},
};

int alarms_map_link(double lat, double lng, char *out, size_t size)
{
	if (!isfinite(lat) || !isfinite(lng) || fabs(lat) > 90 ||
	    fabs(lng) > 180)
		return KERYU_EINVAL;
	snprintf(out, size,
		 "https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f"
		 "#map=17/%.6f/%.6f",
		 lat, lng, lat, lng);
	return 0;
}

/* "<lat>,<lng>[,<accuracy>]" -> an OpenStreetMap link. */
static int map_link(const char *detail, char *out, size_t size)
{
	double lat, lng;
	char *end;

	lat = strtod(detail, &end);
	if (end == detail || *end != ',')
		return KERYU_EINVAL;
	detail = end + 1;
	lng = strtod(detail, &end);
	if (end == detail || (*end != ',' && *end != '\0'))
		return KERYU_EINVAL;
	return alarms_map_link(lat, lng, out, size);
}

/* "<situation>[: <words>]" -> the situation's text and the words ("-"
 * when none: a template parameter may not be empty). */
static int report_values(const char *detail, const char **situation,
			 char *words, size_t size)
{
	const char *colon = strchr(detail, ':');
	size_t klen = colon ? (size_t)(colon - detail) : strlen(detail);
	const char *w = colon ? colon + 1 : "";
	size_t i;

	while (*w == ' ')
		w++;
	for (i = 0; i < sizeof(situations) / sizeof(situations[0]); i++)
		if (strlen(situations[i].key) == klen &&
		    strncmp(situations[i].key, detail, klen) == 0)
			break;
	if (i == sizeof(situations) / sizeof(situations[0]))
		return KERYU_EINVAL;
	*situation = situations[i].text;
	snprintf(words, size, "%s", *w ? w : "-");
	return 0;
}

int alarms_followup_params(struct alarms_ctx *ctx,
			   const struct keryu_notify_job *job,
			   struct keryu_notify_event *n)
{
	struct keryu_template t;
	const char *situation = "";
	char map[512], words[512];
	bool stored;

	if (strcmp(job->kind, "location") == 0) {
		const struct alarms_var vars[] = {
			{"name", job->subject_name},
			{"map", map},
		};

		if (map_link(job->detail, map, sizeof(map)))
			return KERYU_EINVAL;
		stored = alarms_live_template(ctx, "location", job->channel, &t);
		alarms_template_fill(ctx, "location", stored ? &t : NULL,
				     ctx->location_template, "name,map", vars,
				     sizeof(vars) / sizeof(vars[0]), n);
		return 0;
	}
	if (strcmp(job->kind, "report") == 0) {
		if (report_values(job->detail, &situation, words,
				  sizeof(words)))
			return KERYU_EINVAL;
		const struct alarms_var vars[] = {
			{"name", job->subject_name},
			{"situation", situation},
			{"words", words},
		};

		stored = alarms_live_template(ctx, "report", job->channel, &t);
		alarms_template_fill(ctx, "report", stored ? &t : NULL,
				     ctx->report_template,
				     "name,situation,words", vars,
				     sizeof(vars) / sizeof(vars[0]), n);
		return 0;
	}
	return KERYU_EINVAL;
}

struct followup_call {
	struct alarms_ctx *ctx;
	const struct keryu_report_event *ev;
	struct keryu_notify_job *jobs;
	size_t n;
};

static int call_followups(void *arg)
{
	struct followup_call *c = arg;
	const struct keryu_storage *st = c->ctx->storage;

	c->n = 0;
	return st->followups(st->self, c->ev->alarm_id, c->ev->kind,
			     c->ctx->lease_s, c->jobs, FOLLOWUPS_MAX,
			     &c->n);
}

void alarms_on_report(void *arg, const char *topic, const void *payload,
		      size_t len)
{
	struct alarms_ctx *ctx = arg;
	struct keryu_report_event ev;
	struct keryu_notify_job jobs[FOLLOWUPS_MAX];
	struct followup_call call = {ctx, &ev, jobs, 0};
	size_t i;
	int rc;

	if (keryu_report_event_decode(payload, len, &ev) != 0) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.report.malformed",
			       "len=%zu", len);
		return;
	}
	if (!alarms_topic_tail_is(topic, ev.alarm_id)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "alarms.report.topic_mismatch",
			       "event=%s alarm=%s", ev.event_id, ev.alarm_id);
		return;
	}
	rc = alarms_retry(ctx, alarms_deadline(ctx), "followups",
			  call_followups, &call);
	if (rc) {
		ctx->host->log(ctx->m,
			       rc == KERYU_ENOTFOUND ? KERYU_LOG_WARN
						     : KERYU_LOG_ERROR,
			       "alarms.report.failed",
			       "event=%s alarm=%s kind=%s error=\"%s\"",
			       ev.event_id, ev.alarm_id, ev.kind,
			       keryu_strerror(rc));
		return;
	}
	for (i = 0; i < call.n; i++) {
		/* leased by storage: a failed publish is re-driven */
		rc = alarms_publish_job(ctx, &jobs[i]);
		ctx->host->log(ctx->m, rc ? KERYU_LOG_ERROR : KERYU_LOG_INFO,
			       rc ? "alarms.followup.publish_failed"
				  : "alarms.followup",
			       "notification=%s alarm=%s kind=%s channel=%s "
			       "error=\"%s\"",
			       jobs[i].notification_id, ev.alarm_id, ev.kind,
			       jobs[i].channel, keryu_strerror(rc));
	}
	if (!call.n)
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.report",
			       "event=%s alarm=%s kind=%s followups=0",
			       ev.event_id, ev.alarm_id, ev.kind);
}
