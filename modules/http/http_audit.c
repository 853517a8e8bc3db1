/* The audit log's one door in the http module: every staff action, API
 * write, template or setting change, login and failed login goes through
 * http_audit, which stores the entry (the admin service) and then
 * announces it on keryu/v1/audit with ids only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/admin.h>
#include <keryu/events.h>

#include "http_module.h"

int http_audit(struct http_ctx *ctx, const struct http_request *req,
	       const char *source, const struct keryu_custodian *actor,
	       const char *actor_email, const char *action,
	       const char *target_type, const char *target_id,
	       const char *summary_fmt, ...)
{
	struct keryu_audit_entry e;
	struct keryu_audit_event ev;
	va_list ap;
	char *json;
	int rc;

	if (!ctx->admin)
		return KERYU_EIO;
	memset(&e, 0, sizeof(e));
	snprintf(e.source, sizeof(e.source), "%s", source);
	snprintf(e.action, sizeof(e.action), "%s", action);
	if (actor) {
		snprintf(e.actor_id, sizeof(e.actor_id), "%s", actor->id);
		keryu_utf8_copy(e.actor_email, sizeof(e.actor_email),
				actor->email);
	} else if (actor_email) {
		keryu_utf8_copy(e.actor_email, sizeof(e.actor_email),
				actor_email);
	}
	if (target_type)
		snprintf(e.target_type, sizeof(e.target_type), "%s",
			 target_type);
	if (target_id)
		keryu_utf8_copy(e.target_id, sizeof(e.target_id), target_id);
	if (summary_fmt) {
		char buf[sizeof(e.summary)];

		va_start(ap, summary_fmt);
		vsnprintf(buf, sizeof(buf), summary_fmt, ap);
		va_end(ap);
		keryu_utf8_copy(e.summary, sizeof(e.summary), buf);
	}
	http_ip_hash(ctx, req, e.ip_hash);

	rc = ctx->admin->audit_append(ctx->admin->self, &e);
	if (rc) {
		/* the action itself happened: say so where an operator looks */
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.audit",
			       "action=%s error=\"%s\"", e.action,
			       keryu_strerror(rc));
		return rc;
	}

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	snprintf(ev.at, sizeof(ev.at), "%s", e.at);
	if (!keryu_time_valid(ev.at))
		keryu_now_iso(ev.at);
	memcpy(ev.action, e.action, sizeof(ev.action));
	memcpy(ev.source, e.source, sizeof(ev.source));
	memcpy(ev.actor_id, e.actor_id, sizeof(ev.actor_id));
	memcpy(ev.target_type, e.target_type, sizeof(ev.target_type));
	memcpy(ev.target_id, e.target_id, sizeof(ev.target_id));
	json = keryu_audit_event_encode(&ev);
	if (!json)
		return KERYU_ENOMEM;
	/* qos 1, not waited for: the database row is the record; the bus
	 * copy is a feed for monitors */
	rc = ctx->host->publish(ctx->m, KERYU_TOPIC_AUDIT, json, strlen(json),
				1, false);
	free(json);
	if (rc)
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.audit_publish",
			       "action=%s error=\"%s\"", ev.action,
			       keryu_strerror(rc));
	return 0;
}
