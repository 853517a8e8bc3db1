/* JSON codecs for the v1 bus payloads (see events.h and docs/bus.md).
 *
 * Each event is described once, as a table of fields; the same table drives
 * encoding and decoding, so the two cannot drift apart. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <keryu/events.h>
#include <keryu/module.h>

enum ftype {
	F_STR,   /* string; too long for its buffer is malformed */
	F_HINT,  /* string from a client (user agent): truncated and made
		    valid UTF-8, not refused */
	F_UUID,
	F_INT,   /* whole number, 0..1000000 */
};

struct field {
	const char *name;
	enum ftype type;
	size_t off;
	size_t size;     /* buffer size for strings */
	bool optional;   /* may be absent on decode; omitted when empty */
};

#define STR(s, f, opt) {#f, F_STR, offsetof(s, f), sizeof(((s *)0)->f), opt}
#define UUID(s, f, opt) {#f, F_UUID, offsetof(s, f), KERYU_UUID_LEN, opt}
#define INT(s, f) {#f, F_INT, offsetof(s, f), 0, false}

static const struct field scan_fields[] = {
	UUID(struct keryu_scan_event, qr_uuid, false),
	{"user_agent", F_HINT, offsetof(struct keryu_scan_event, user_agent),
	 sizeof(((struct keryu_scan_event *)0)->user_agent), true},
	STR(struct keryu_scan_event, ip_hash, true),
};

static const struct field alarm_fields[] = {
	UUID(struct keryu_alarm_event, alarm_id, false),
	UUID(struct keryu_alarm_event, subject_id, true),
	STR(struct keryu_alarm_event, state, false),
};

static const struct field report_fields[] = {
	UUID(struct keryu_report_event, alarm_id, false),
	STR(struct keryu_report_event, kind, false),
};

static const struct field audit_fields[] = {
	STR(struct keryu_audit_event, action, false),
	STR(struct keryu_audit_event, source, false),
	UUID(struct keryu_audit_event, actor_id, true),
	STR(struct keryu_audit_event, target_type, true),
	STR(struct keryu_audit_event, target_id, true),
};

static const struct field notify_fields[] = {
	UUID(struct keryu_notify_event, notification_id, false),
	INT(struct keryu_notify_event, attempt),
	STR(struct keryu_notify_event, channel, false),
	STR(struct keryu_notify_event, to, false),
	{"template", F_STR, offsetof(struct keryu_notify_event, template_name),
	 sizeof(((struct keryu_notify_event *)0)->template_name), false},
	STR(struct keryu_notify_event, language, false),
	STR(struct keryu_notify_event, ack_url, true),
};

static const struct field delivery_fields[] = {
	UUID(struct keryu_delivery_event, notification_id, false),
	INT(struct keryu_delivery_event, attempt),
	STR(struct keryu_delivery_event, channel, false),
	STR(struct keryu_delivery_event, status, false),
	STR(struct keryu_delivery_event, provider_message_id, true),
	STR(struct keryu_delivery_event, error_code, true),
	STR(struct keryu_delivery_event, error_text, true),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The envelope every event shares: v, event_id, at. event_id and at are the
 * first two members of every event struct. */
struct envelope {
	char event_id[KERYU_UUID_LEN];
	char at[KERYU_TIME_LEN];
};

static cJSON *encode_fields(const void *e, const struct field *f, size_t n)
{
	const struct envelope *env = e;
	cJSON *o = cJSON_CreateObject();
	size_t i;

	if (!o || !cJSON_AddNumberToObject(o, "v", 1) ||
	    !cJSON_AddStringToObject(o, "event_id", env->event_id) ||
	    !cJSON_AddStringToObject(o, "at", env->at))
		goto fail;
	for (i = 0; i < n; i++) {
		const char *p = (const char *)e + f[i].off;

		switch (f[i].type) {
		case F_STR:
		case F_HINT:
		case F_UUID:
			if (f[i].optional && !*p)
				break;
			if (!cJSON_AddStringToObject(o, f[i].name, p))
				goto fail;
			break;
		case F_INT:
			if (!cJSON_AddNumberToObject(o, f[i].name,
						     *(const int *)(const void *)p))
				goto fail;
			break;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int copy_str(char *dst, size_t size, const cJSON *item)
{
	size_t n;

	if (!cJSON_IsString(item))
		return KERYU_EINVAL;
	n = strlen(item->valuestring);
	if (n >= size)
		return KERYU_EINVAL;
	memcpy(dst, item->valuestring, n + 1);
	return 0;
}

static int decode_fields(const cJSON *o, void *e, const struct field *f,
			 size_t n)
{
	struct envelope *env = e;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "v");
	size_t i;

	if (!cJSON_IsObject(o) || !cJSON_IsNumber(v) || v->valuedouble != 1)
		return KERYU_EINVAL;
	if (copy_str(env->event_id, sizeof(env->event_id),
		     cJSON_GetObjectItemCaseSensitive(o, "event_id")) ||
	    !keryu_uuid_valid(env->event_id) ||
	    copy_str(env->at, sizeof(env->at),
		     cJSON_GetObjectItemCaseSensitive(o, "at")) ||
	    !keryu_time_valid(env->at))
		return KERYU_EINVAL;
	for (i = 0; i < n; i++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, f[i].name);
		char *p = (char *)e + f[i].off;

		if (!it && f[i].optional)
			continue;
		switch (f[i].type) {
		case F_STR:
			if (copy_str(p, f[i].size, it))
				return KERYU_EINVAL;
			break;
		case F_HINT:
			/* never worth refusing a scan over; made valid UTF-8
			 * because PostgreSQL refuses anything else as text */
			if (!cJSON_IsString(it))
				return KERYU_EINVAL;
			keryu_utf8_copy(p, f[i].size, it->valuestring);
			break;
		case F_UUID:
			if (copy_str(p, f[i].size, it) || !keryu_uuid_valid(p))
				return KERYU_EINVAL;
			break;
		case F_INT:
			if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
			    it->valuedouble > 1000000 ||
			    it->valuedouble != (double)(int)it->valuedouble)
				return KERYU_EINVAL;
			*(int *)(void *)p = (int)it->valuedouble;
			break;
		}
	}
	return 0;
}

static char *print_and_free(cJSON *o)
{
	char *s;

	if (!o)
		return NULL;
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static cJSON *parse(const char *json, size_t len)
{
	if (!json || len == 0 || len > 1u << 20)
		return NULL;
	return cJSON_ParseWithLength(json, len);
}

char *keryu_scan_event_encode(const struct keryu_scan_event *e)
{
	cJSON *o = encode_fields(e, scan_fields, N(scan_fields));
	cJSON *loc;

	if (o && e->has_location) {
		loc = cJSON_AddObjectToObject(o, "location");
		if (!loc || !cJSON_AddNumberToObject(loc, "lat", e->lat) ||
		    !cJSON_AddNumberToObject(loc, "lng", e->lng) ||
		    !cJSON_AddNumberToObject(loc, "accuracy_m", e->accuracy_m)) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return print_and_free(o);
}

static int decode_location(const cJSON *o, struct keryu_scan_event *out)
{
	const cJSON *loc = cJSON_GetObjectItemCaseSensitive(o, "location");
	const cJSON *lat, *lng, *acc;

	if (!loc)
		return 0;
	lat = cJSON_GetObjectItemCaseSensitive(loc, "lat");
	lng = cJSON_GetObjectItemCaseSensitive(loc, "lng");
	acc = cJSON_GetObjectItemCaseSensitive(loc, "accuracy_m");
	if (!cJSON_IsNumber(lat) || !cJSON_IsNumber(lng) ||
	    lat->valuedouble < -90 || lat->valuedouble > 90 ||
	    lng->valuedouble < -180 || lng->valuedouble > 180 ||
	    (acc && (!cJSON_IsNumber(acc) || acc->valuedouble < 0)))
		return KERYU_EINVAL;
	out->has_location = true;
	out->lat = lat->valuedouble;
	out->lng = lng->valuedouble;
	out->accuracy_m = acc ? acc->valuedouble : 0;
	return 0;
}

int keryu_scan_event_decode(const char *json, size_t len,
			    struct keryu_scan_event *out)
{
	cJSON *o = parse(json, len);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o)
		return KERYU_EINVAL;
	rc = decode_fields(o, out, scan_fields, N(scan_fields));
	if (rc == 0)
		rc = decode_location(o, out);
	cJSON_Delete(o);
	return rc;
}

char *keryu_alarm_event_encode(const struct keryu_alarm_event *e)
{
	return print_and_free(encode_fields(e, alarm_fields, N(alarm_fields)));
}

int keryu_alarm_event_decode(const char *json, size_t len,
			     struct keryu_alarm_event *out)
{
	cJSON *o = parse(json, len);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o)
		return KERYU_EINVAL;
	rc = decode_fields(o, out, alarm_fields, N(alarm_fields));
	cJSON_Delete(o);
	return rc;
}

char *keryu_report_event_encode(const struct keryu_report_event *e)
{
	return print_and_free(encode_fields(e, report_fields, N(report_fields)));
}

int keryu_report_event_decode(const char *json, size_t len,
			      struct keryu_report_event *out)
{
	cJSON *o = parse(json, len);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o)
		return KERYU_EINVAL;
	rc = decode_fields(o, out, report_fields, N(report_fields));
	if (rc == 0 && strcmp(out->kind, "location") != 0 &&
	    strcmp(out->kind, "report") != 0)
		rc = KERYU_EINVAL;
	cJSON_Delete(o);
	return rc;
}

char *keryu_audit_event_encode(const struct keryu_audit_event *e)
{
	return print_and_free(encode_fields(e, audit_fields, N(audit_fields)));
}

int keryu_audit_event_decode(const char *json, size_t len,
			     struct keryu_audit_event *out)
{
	cJSON *o = parse(json, len);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o)
		return KERYU_EINVAL;
	rc = decode_fields(o, out, audit_fields, N(audit_fields));
	if (rc == 0 && !*out->action)
		rc = KERYU_EINVAL;
	cJSON_Delete(o);
	return rc;
}

char *keryu_notify_event_encode(const struct keryu_notify_event *e)
{
	cJSON *o = encode_fields(e, notify_fields, N(notify_fields));
	cJSON *params;
	int i;

	if (!o)
		return NULL;
	params = cJSON_AddArrayToObject(o, "params");
	if (!params || e->param_count < 0 ||
	    e->param_count > KERYU_NOTIFY_MAX_PARAMS)
		goto fail;
	for (i = 0; i < e->param_count; i++) {
		cJSON *s = cJSON_CreateString(e->params[i]);

		if (!s || !cJSON_AddItemToArray(params, s)) {
			cJSON_Delete(s);
			goto fail;
		}
	}
	return print_and_free(o);
fail:
	cJSON_Delete(o);
	return NULL;
}

int keryu_notify_event_decode(const char *json, size_t len,
			      struct keryu_notify_event *out)
{
	cJSON *o = parse(json, len);
	const cJSON *params, *p;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o)
		return KERYU_EINVAL;
	rc = decode_fields(o, out, notify_fields, N(notify_fields));
	params = cJSON_GetObjectItemCaseSensitive(o, "params");
	if (rc == 0 && !cJSON_IsArray(params))
		rc = KERYU_EINVAL;
	if (rc == 0 && cJSON_GetArraySize(params) > KERYU_NOTIFY_MAX_PARAMS)
		rc = KERYU_EINVAL;
	if (rc == 0) {
		cJSON_ArrayForEach(p, params) {
			if (copy_str(out->params[out->param_count],
				     sizeof(out->params[0]), p)) {
				rc = KERYU_EINVAL;
				break;
			}
			out->param_count++;
		}
	}
	if (rc == 0 && (out->attempt < 1 || !keryu_e164_valid(out->to)))
		rc = KERYU_EINVAL;
	cJSON_Delete(o);
	return rc;
}

static bool delivery_status_valid(const char *s)
{
	static const char *const ok[] = {"sent", "delivered", "read", "failed",
					 "error"};
	size_t i;

	for (i = 0; i < N(ok); i++)
		if (strcmp(s, ok[i]) == 0)
			return true;
	return false;
}

/* Longest retry hint a delivery event may carry: a day. */
#define RETRY_IN_MS_MAX 86400000

char *keryu_delivery_event_encode(const struct keryu_delivery_event *e)
{
	cJSON *o = encode_fields(e, delivery_fields, N(delivery_fields));

	/* the hint means something only for "error" (see events.h) */
	if (o && strcmp(e->status, "error") == 0 && e->retry_in_ms >= 0 &&
	    !cJSON_AddNumberToObject(o, "retry_in_ms",
				     e->retry_in_ms > RETRY_IN_MS_MAX
					     ? RETRY_IN_MS_MAX
					     : e->retry_in_ms)) {
		cJSON_Delete(o);
		return NULL;
	}
	return print_and_free(o);
}

/* "retry_in_ms": absent is -1; otherwise a whole number of ms. */
static int decode_retry(const cJSON *o, struct keryu_delivery_event *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "retry_in_ms");

	out->retry_in_ms = -1;
	if (!it)
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble < -1 ||
	    it->valuedouble > RETRY_IN_MS_MAX ||
	    it->valuedouble != (double)(int)it->valuedouble)
		return KERYU_EINVAL;
	if (strcmp(out->status, "error") == 0)
		out->retry_in_ms = (int)it->valuedouble;
	return 0;
}

int keryu_delivery_event_decode(const char *json, size_t len,
				struct keryu_delivery_event *out)
{
	cJSON *o = parse(json, len);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o)
		return KERYU_EINVAL;
	rc = decode_fields(o, out, delivery_fields, N(delivery_fields));
	if (rc == 0 && !delivery_status_valid(out->status))
		rc = KERYU_EINVAL;
	if (rc == 0)
		rc = decode_retry(o, out);
	cJSON_Delete(o);
	return rc;
}

int keryu_delivery_publish(const struct keryu_host *host, keryu_mod *m,
			   const struct keryu_notify_event *req,
			   struct keryu_delivery_event *ev)
{
	char topic[sizeof(KERYU_TOPIC_DELIVERY) + KERYU_UUID_LEN];
	char *json;
	int rc;

	keryu_uuid_new(ev->event_id);
	keryu_now_iso(ev->at);
	memcpy(ev->notification_id, req->notification_id, KERYU_UUID_LEN);
	ev->attempt = req->attempt;
	snprintf(ev->channel, sizeof(ev->channel), "%s", req->channel);
	snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_DELIVERY,
		 req->notification_id);
	json = keryu_delivery_event_encode(ev);
	if (!json)
		return KERYU_ENOMEM;
	rc = host->publish(m, topic, json, strlen(json), 1, false);
	free(json);
	return rc;
}

bool keryu_topic_level_valid(const char *s)
{
	return s && *s && strlen(s) < 64 && !strpbrk(s, "/+#");
}
