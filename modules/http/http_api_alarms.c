/* /api/v1/alarms: the caller's alarms (staff: everyone's), one alarm
 * with its delivery timeline, acknowledging and resolving. The list is
 * the benchmarked endpoint: one query after the token's custodian. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_api.h"
#include "http_tags_alarms.h"

#define LIST_MAX 100
#define TIMELINE_MAX 100

static const struct keryu_subjects *service(struct http_api_call *c)
{
	if (!c->ctx->subjects)
		http_api_unavailable(c);
	return c->ctx->subjects;
}

static void summary_add(cJSON *o, const struct keryu_alarm_summary *s,
			const char *owner)
{
	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "custodian_id", owner);
	cJSON_AddStringToObject(o, "subject_id", s->subject_id);
	cJSON_AddStringToObject(o, "subject_name", s->subject_name);
	cJSON_AddStringToObject(o, "scanned_at", s->scanned_at);
	http_api_add_str(o, "notification_status", s->notification_status);
	cJSON_AddBoolToObject(o, "resolved", s->resolved);
	cJSON_AddBoolToObject(o, "has_location", s->has_location);
}

static cJSON *summary_json(const struct keryu_alarm_summary *s,
			   const char *owner)
{
	cJSON *o = cJSON_CreateObject();

	if (o)
		summary_add(o, s, owner);
	return o;
}

/* The list's query into f; false after a 400. */
static bool filter_read(struct http_api_call *c, struct keryu_alarm_filter *f)
{
	static const char *const states[] = {"open", "resolved", NULL};
	const struct http_form *q = c->req->query;
	const char *v;
	struct http_api_errors e = {0};
	int i;

	memset(f, 0, sizeof(*f));
	http_api_query_int(q, "offset", 0, 0, 1000000000, &f->offset, &e);
	http_api_query_int(q, "limit", 20, 1, LIST_MAX, &f->limit, &e);
	v = http_form_get(q, "subject_id");
	if (v && !keryu_uuid_valid(v))
		http_api_error_add(&e, "subject_id", "must be a UUID");
	else if (v)
		memcpy(f->subject_id, v, KERYU_UUID_LEN);
	v = http_form_get(q, "state");
	for (i = 0; v && states[i] && strcmp(v, states[i]) != 0; i++)
		;
	if (v && !states[i])
		http_api_error_add(&e, "state", "must be open or resolved");
	else if (v)
		snprintf(f->state, sizeof(f->state), "%s", v);
	v = http_form_get(q, "from");
	if (v && http_date_check(v) != HTTP_DATE_OK)
		http_api_error_add(&e, "from", "must be a date as YYYY-MM-DD");
	else if (v)
		memcpy(f->from, v, sizeof(f->from));
	v = http_form_get(q, "to");
	if (v && http_date_check(v) != HTTP_DATE_OK)
		http_api_error_add(&e, "to", "must be a date as YYYY-MM-DD");
	else if (v)
		memcpy(f->to, v, sizeof(f->to));
	if (!e.n && f->from[0] && f->to[0] && strcmp(f->from, f->to) > 0)
		http_api_error_add(&e, "to", "must not be before from");
	if (e.n) {
		http_api_invalid(c->r, &e);
		return false;
	}
	return true;
}

void http_api_alarms_list(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	const struct keryu_admin *a = c->ctx->admin;
	struct keryu_alarm_filter f;
	cJSON *items;
	size_t n = 0, i;
	int total = 0, rc;

	if (!sv || !filter_read(c, &f))
		return;
	items = cJSON_CreateArray();
	if (c->who.is_staff) {
		struct keryu_admin_alarm *rows;

		if (!a) {
			cJSON_Delete(items);
			http_api_unavailable(c);
			return;
		}
		rows = calloc((size_t)f.limit, sizeof(*rows));
		rc = rows ? a->alarms_all(a->self, &f, rows, (size_t)f.limit,
					  &n, &total)
			  : KERYU_ENOMEM;
		for (i = 0; !rc && items && i < n; i++)
			cJSON_AddItemToArray(items,
					     summary_json(&rows[i].s,
							  rows[i].custodian_id));
		free(rows);
	} else {
		struct keryu_alarm_summary *rows =
			calloc((size_t)f.limit, sizeof(*rows));

		rc = rows ? sv->alarm_list(sv->self, c->who.id, &f, rows,
					   (size_t)f.limit, &n, &total)
			  : KERYU_ENOMEM;
		for (i = 0; !rc && items && i < n; i++)
			cJSON_AddItemToArray(items,
					     summary_json(&rows[i], c->who.id));
		free(rows);
	}
	http_api_list_reply(c, "http.api_alarms", rc, items, total, f.offset, f.limit);
}

static cJSON *number_or_null(bool have, double v)
{
	return have ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *timeline_json(const struct keryu_timeline_entry *t, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		cJSON_AddStringToObject(o, "at", t[i].at);
		http_api_add_str(o, "notification_id", t[i].notification_id);
		/* null for an alarm-level step (no notification) */
		http_api_add_str(o, "channel", t[i].channel);
		http_api_add_str(o, "recipient_hint", t[i].recipient_hint);
		cJSON_AddStringToObject(o, "status", t[i].status);
		cJSON_AddNumberToObject(o, "attempt", t[i].attempt);
		http_api_add_str(o, "provider_message_id",
				 t[i].provider_message_id);
		http_api_add_str(o, "error_code", t[i].error_code);
		http_api_add_str(o, "error_text", t[i].error_text);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* Answers the alarm arg[0] of owner in full (200); subject (may be
 * NULL) gets its subject's id, "" when it could not be read. */
static void alarm_reply(struct http_api_call *c, const char *owner,
			char subject[KERYU_UUID_LEN])
{
	const struct keryu_subjects *sv = c->ctx->subjects;
	struct keryu_alarm_detail *d = calloc(1, sizeof(*d));
	struct keryu_timeline_entry *t = calloc(TIMELINE_MAX, sizeof(*t));
	size_t n = 0;
	cJSON *o;
	int rc;

	if (subject)
		subject[0] = '\0';
	rc = d && t ? sv->alarm_get(sv->self, owner, c->arg[0], d)
		    : KERYU_ENOMEM;
	if (!rc)
		rc = sv->alarm_timeline(sv->self, owner, c->arg[0], t,
					TIMELINE_MAX, &n);
	if (rc) {
		http_api_fail(c, "http.api_alarm", rc, NULL);
		goto out;
	}
	if (subject)
		memcpy(subject, d->s.subject_id, KERYU_UUID_LEN);
	o = cJSON_CreateObject();
	if (o) {
		bool loc = d->s.has_location;

		summary_add(o, &d->s, owner);
		http_api_add_str(o, "qr_uuid", d->qr_uuid);
		http_api_add_str(o, "location", d->location);
		cJSON_AddItemToObject(o, "latitude",
				      number_or_null(loc, d->latitude));
		cJSON_AddItemToObject(o, "longitude",
				      number_or_null(loc, d->longitude));
		cJSON_AddItemToObject(o, "accuracy_m",
				      number_or_null(loc, d->accuracy_m));
		http_api_add_str(o, "resolved_at", d->resolved_at);
		http_api_add_str(o, "resolution_notes", d->resolution_notes);
		http_api_add_str(o, "acknowledged_at", d->acknowledged_at);
		http_api_add_str(o, "joined_alarm_id", d->joined_alarm_id);
		cJSON_AddItemToObject(o, "timeline", timeline_json(t, n));
	}
	http_api_reply(c, 200, o);
out:
	free(d);
	free(t);
}

void http_api_alarm_get(struct http_api_call *c)
{
	char owner[KERYU_UUID_LEN];

	if (service(c) &&
	    http_api_scope(c, KERYU_OWNED_ALARM, c->arg[0], owner))
		alarm_reply(c, owner, NULL);
}

void http_api_alarm_acknowledge(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	struct http_api_errors e = {0};
	char owner[KERYU_UUID_LEN], subject[KERYU_UUID_LEN];
	int rc;

	if (!sv)
		return;
	if (!http_api_json_read(c->body, NULL, 0, NULL, &e, NULL)) {
		http_api_invalid(c->r, &e);
		return;
	}
	if (!http_api_scope(c, KERYU_OWNED_ALARM, c->arg[0], owner))
		return;
	rc = sv->alarm_acknowledge(sv->self, owner, c->arg[0]);
	if (rc) {
		http_api_fail(c, "http.api_alarm_ack", rc,
			      "The alarm is already acknowledged.");
		return;
	}
	http_api_audit(c, "alarm.acknowledge", "alarm", c->arg[0], NULL);
	alarm_reply(c, owner, subject);
	/* announced like the alarm page's button does */
	http_alarm_event_publish(c->ctx, c->arg[0], subject, "acknowledged");
}

struct resolve_body {
	char notes[KERYU_TEXT_MAX];
};

static const struct http_api_field resolve_fields[] = {
	{.name = "notes", .type = HTTP_API_TEXT, .nullable = true,
	 .multiline = true, .max = 2000,
	 .off = offsetof(struct resolve_body, notes),
	 .size = sizeof(((struct resolve_body *)0)->notes)},
};

void http_api_alarm_resolve(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	struct http_api_errors e = {0};
	struct resolve_body *b;
	char owner[KERYU_UUID_LEN];
	int rc;

	if (!sv)
		return;
	b = calloc(1, sizeof(*b));
	if (!b) {
		http_api_unavailable(c);
		return;
	}
	if (!http_api_json_read(c->body, resolve_fields, 1, b, &e, NULL)) {
		http_api_invalid(c->r, &e);
		goto out;
	}
	if (!http_api_scope(c, KERYU_OWNED_ALARM, c->arg[0], owner))
		goto out;
	rc = sv->alarm_resolve(sv->self, owner, c->arg[0], b->notes);
	if (rc) {
		http_api_fail(c, "http.api_alarm_resolve", rc,
			      "The alarm is already resolved.");
		goto out;
	}
	http_api_audit(c, "alarm.resolve", "alarm", c->arg[0], NULL);
	alarm_reply(c, owner, NULL);
out:
	free(b);
}
