/* A scan event becomes an alarm, a pending notification for its first
 * recipient (storage routes it: the custodian, else the first verified
 * contact) and a delivery request. A scan within the cooldown of an open
 * alarm joins it and alerts nobody again. Storage makes this idempotent by
 * event_id: a scan delivered twice comes back with created false and
 * nothing is published again, unless its notification is still PENDING.
 * That means no delivery request for it ever reached the bus (we died
 * between storage's commit and the publish, and the broker redelivers the
 * scan): it is sent then. Escalation, fallbacks and re-drives happen in
 * alarms_due.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alarms_module.h"

struct scan_call {
	struct alarms_ctx *ctx;
	const struct keryu_scan_event *ev;
	struct keryu_alarm_created *out;
	struct alarms_policy pol; /* what applies when the scan came */
};

static int call_alarm_from_scan(void *arg)
{
	struct scan_call *c = arg;
	const struct keryu_storage *st = c->ctx->storage;

	memset(c->out, 0, sizeof(*c->out));
	return st->alarm_from_scan(st->self, c->ev, &c->pol.p, c->out);
}

struct queued_call {
	struct alarms_ctx *ctx;
	const char *notification_id;
};

static int call_notification_queued(void *arg)
{
	struct queued_call *c = arg;
	const struct keryu_storage *st = c->ctx->storage;

	return st->notification_queued(st->self, c->notification_id, 1,
				       c->ctx->lease_s);
}

void alarms_format_time(const char *iso, char *out, size_t size)
{
	int y, mo, d, h, mi;

	if (iso && sscanf(iso, "%4d-%2d-%2dT%2d:%2d", &y, &mo, &d, &h, &mi) == 5 &&
	    y >= 0 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 &&
	    h >= 0 && h <= 23 && mi >= 0 && mi <= 59)
		snprintf(out, size, "%04d-%02d-%02d %02d:%02d UTC", y, mo, d, h,
			 mi);
	else
		snprintf(out, size, "%s", iso ? iso : "");
}

static int publish_json(struct alarms_ctx *ctx, const char *topic, char *json)
{
	int rc;

	if (!json)
		return KERYU_ENOMEM;
	rc = ctx->host->publish(ctx->m, topic, json, strlen(json), 1, false);
	free(json);
	return rc;
}

static void publish_alarm(struct alarms_ctx *ctx,
			  const struct keryu_alarm_created *a)
{
	struct keryu_alarm_event ev;
	char topic[128];
	int rc;

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	memcpy(ev.alarm_id, a->alarm_id, sizeof(ev.alarm_id));
	memcpy(ev.subject_id, a->subject_id, sizeof(ev.subject_id));
	snprintf(ev.state, sizeof(ev.state), "%s",
		 a->joined ? "joined" : "created");
	snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_ALARM, a->alarm_id);
	rc = publish_json(ctx, topic, keryu_alarm_event_encode(&ev));
	if (rc)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.publish_failed",
			       "topic=alarm alarm=%s error=\"%s\"", a->alarm_id,
			       keryu_strerror(rc));
}

/* A recipient storage should never have accepted: record the notification
 * as FAILED rather than leave it PENDING for a re-drive to trip on. */
static void reject_recipient(struct alarms_ctx *ctx, int64_t deadline_ms,
			     const struct keryu_notify_job *job)
{
	struct keryu_delivery_event d;

	memset(&d, 0, sizeof(d));
	keryu_uuid_new(d.event_id);
	keryu_now_iso(d.at);
	memcpy(d.notification_id, job->notification_id,
	       sizeof(d.notification_id));
	d.attempt = job->attempt;
	d.retry_in_ms = -1;
	snprintf(d.channel, sizeof(d.channel), "%s", job->channel);
	snprintf(d.status, sizeof(d.status), "failed");
	snprintf(d.error_code, sizeof(d.error_code), "bad_recipient");
	snprintf(d.error_text, sizeof(d.error_text),
		 "the recipient is not an E.164 phone number");
	ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.notify.bad_recipient",
		       "notification=%s alarm=%s", job->notification_id,
		       job->alarm_id);
	alarms_record_result(ctx, deadline_ms, &d);
}

/* The link's token names the notification, so the acknowledgement shows
 * who answered; "" when links are off or the token cannot be made. */
static void ack_url(struct alarms_ctx *ctx, const char *notification_id,
		    char *out, size_t size)
{
	char token[KERYU_ACK_TOKEN_LEN];
	long long exp = (long long)time(NULL) + ctx->ack_link_ttl_s;
	size_t nb, nt;

	out[0] = '\0';
	if (!ctx->ack_base[0] || !ctx->secret[0] ||
	    keryu_ack_token_make(ctx->secret, notification_id, exp, token))
		return;
	nb = strlen(ctx->ack_base);
	nt = strlen(token);
	if (nb + nt >= size)
		return; /* a public_url too long to leave room for the token */
	memcpy(out, ctx->ack_base, nb);
	memcpy(out + nb, token, nt + 1);
}

/* The alert's "place": a map link of the alarm's location when one is
 * known (the scan carried it, or the finder has shared it by the time of
 * an escalation or a re-drive), else "-" (a template parameter may not be
 * empty). Costs two queries, so it is looked up only for a template that
 * names it. */
static void place(struct alarms_ctx *ctx, const char *alarm_id, char *out,
		  size_t size)
{
	const struct keryu_admin *ad = ctx->admin;
	const struct keryu_subjects *sj = ctx->subjects;
	char owner[KERYU_UUID_LEN];
	struct keryu_alarm_detail *d = malloc(sizeof(*d));
	int rc = d ? ad->owner_of(ad->self, KERYU_OWNED_ALARM, alarm_id, owner)
		   : KERYU_ENOMEM;

	if (!rc)
		rc = sj->alarm_get(sj->self, owner, alarm_id, d);
	if (rc || !d->s.has_location ||
	    alarms_map_link(d->latitude, d->longitude, out, size)) {
		if (rc)
			ctx->host->log(ctx->m, KERYU_LOG_WARN,
				       "alarms.place.failed",
				       "alarm=%s error=\"%s\"", alarm_id,
				       keryu_strerror(rc));
		snprintf(out, size, "-");
	}
	free(d);
}

/* The alert's variables (admin.h); keryu.conf's template takes the name
 * and the time, the link going in the request's ack_url either way. */
static void alert_params(struct alarms_ctx *ctx,
			 const struct keryu_notify_job *job,
			 struct keryu_notify_event *n)
{
	struct keryu_template t;
	bool stored = alarms_live_template(ctx, "alert", job->channel, &t);
	char when[64], where[256];
	struct alarms_var vars[] = {
		{"name", job->subject_name},
		{"time", when},
		{"place", where},
		{"link", "-"},
	};

	alarms_format_time(job->scanned_at, when, sizeof(when));
	ack_url(ctx, job->notification_id, n->ack_url, sizeof(n->ack_url));
	if (n->ack_url[0])
		vars[3].value = n->ack_url;
	if (stored && alarms_params_name(t.parameters, "place"))
		place(ctx, job->alarm_id, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "-");
	alarms_template_fill(ctx, "alert", stored ? &t : NULL,
			     ctx->template_name, "name,time", vars,
			     sizeof(vars) / sizeof(vars[0]), n);
}

int alarms_publish_job(struct alarms_ctx *ctx,
		       const struct keryu_notify_job *job)
{
	struct keryu_notify_event n;
	char topic[128];

	if (!keryu_e164_valid(job->recipient))
		return KERYU_EINVAL;
	memset(&n, 0, sizeof(n));
	keryu_uuid_new(n.event_id);
	keryu_now_iso(n.at);
	memcpy(n.notification_id, job->notification_id,
	       sizeof(n.notification_id));
	n.attempt = job->attempt;
	snprintf(n.channel, sizeof(n.channel), "%s", job->channel);
	snprintf(n.to, sizeof(n.to), "%s", job->recipient);
	if (job->kind[0] && strcmp(job->kind, "alert") != 0) {
		/* a follow-up: the alert before it carried the link */
		if (alarms_followup_params(ctx, job, &n))
			return KERYU_EINVAL;
	} else {
		alert_params(ctx, job, &n);
	}

	snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_NOTIFY, job->channel);
	return publish_json(ctx, topic, keryu_notify_event_encode(&n));
}

static void publish_notify(struct alarms_ctx *ctx, int64_t deadline_ms,
			   const struct keryu_alarm_created *a)
{
	struct keryu_notify_job job;
	struct queued_call call = {ctx, a->notification_id};
	int rc;

	memset(&job, 0, sizeof(job));
	memcpy(job.notification_id, a->notification_id,
	       sizeof(job.notification_id));
	memcpy(job.alarm_id, a->alarm_id, sizeof(job.alarm_id));
	snprintf(job.channel, sizeof(job.channel), "%s", a->channel);
	snprintf(job.recipient, sizeof(job.recipient), "%s", a->recipient);
	job.attempt = 1;
	snprintf(job.subject_name, sizeof(job.subject_name), "%s",
		 a->subject_name);
	snprintf(job.scanned_at, sizeof(job.scanned_at), "%s", a->scanned_at);
	rc = alarms_publish_job(ctx, &job);
	if (rc == KERYU_EINVAL) {
		reject_recipient(ctx, deadline_ms, &job);
		return;
	}
	if (rc) {
		/* stays PENDING: its lease runs out and the due-work thread
		 * publishes it (or a redelivered scan does, sooner) */
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.publish_failed",
			       "topic=notify notification=%s error=\"%s\"",
			       a->notification_id, keryu_strerror(rc));
		return;
	}
	rc = alarms_retry(ctx, deadline_ms, "notification_queued",
			  call_notification_queued, &call);
	if (rc)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.queued_failed",
			       "notification=%s error=\"%s\"",
			       a->notification_id, keryu_strerror(rc));
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.notify",
		       "notification=%s alarm=%s channel=%s attempt=1",
		       a->notification_id, a->alarm_id, job.channel);
}

void alarms_on_scan(void *arg, const char *topic, const void *payload,
		    size_t len)
{
	struct alarms_ctx *ctx = arg;
	struct keryu_scan_event ev;
	struct keryu_alarm_created out;
	struct scan_call call = {.ctx = ctx, .ev = &ev, .out = &out};
	int64_t deadline = alarms_deadline(ctx);
	int rc;

	if (keryu_scan_event_decode(payload, len, &ev) != 0) {
		/* neither topic nor payload is echoed: both are untrusted */
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.scan.malformed",
			       "len=%zu", len);
		return;
	}
	if (!alarms_topic_tail_is(topic, ev.qr_uuid)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "alarms.scan.topic_mismatch", "event=%s qr=%s",
			       ev.event_id, ev.qr_uuid);
		return;
	}

	/* one spelling of a tag everywhere after this point */
	for (char *c = ev.qr_uuid; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	alarms_live_policy(ctx, &call.pol);
	rc = alarms_retry(ctx, deadline, "alarm_from_scan", call_alarm_from_scan,
			  &call);
	switch (rc) {
	case 0:
		break;
	case KERYU_ENOTFOUND:
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.scan.unknown_tag",
			       "event=%s qr=%s", ev.event_id, ev.qr_uuid);
		return;
	default:
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.scan.failed",
			       "event=%s qr=%s error=\"%s\"", ev.event_id,
			       ev.qr_uuid, keryu_strerror(rc));
		return;
	}
	if (!out.created && out.notification_pending &&
	    out.notification_id[0]) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.scan.republish",
			       "event=%s alarm=%s notification=%s", ev.event_id,
			       out.alarm_id, out.notification_id);
		publish_notify(ctx, deadline, &out);
		return;
	}
	if (!out.created) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.scan.duplicate",
			       "event=%s alarm=%s", ev.event_id, out.alarm_id);
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.scan",
		       "event=%s qr=%s alarm=%s notification=%s joined=%s",
		       ev.event_id, ev.qr_uuid, out.alarm_id,
		       out.notification_id[0] ? out.notification_id : "-",
		       out.joined ? out.joined_alarm_id : "-");
	publish_alarm(ctx, &out);
	if (out.notification_id[0])
		publish_notify(ctx, deadline, &out);
}
