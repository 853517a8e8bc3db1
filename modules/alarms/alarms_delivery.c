/* Delivery results (channel modules, provider webhooks) recorded through
 * storage, which keeps statuses moving forward only, ignores repeats and
 * leases a failed attempt until the channel's own retry is due. */
#include <string.h>

#include "alarms_module.h"

struct result_call {
	struct alarms_ctx *ctx;
	const struct keryu_delivery_event *ev;
};

static int call_notification_result(void *arg)
{
	struct result_call *c = arg;
	const struct keryu_storage *st = c->ctx->storage;

	return st->notification_result(st->self, c->ev,
				       c->ctx->lease_s);
}

int alarms_record_result(struct alarms_ctx *ctx, int64_t deadline_ms,
			 const struct keryu_delivery_event *ev)
{
	struct result_call call = {ctx, ev};

	return alarms_retry(ctx, deadline_ms, "notification_result",
			    call_notification_result, &call);
}

void alarms_on_delivery(void *arg, const char *topic, const void *payload,
			size_t len)
{
	struct alarms_ctx *ctx = arg;
	struct keryu_delivery_event ev;
	int rc;

	if (keryu_delivery_event_decode(payload, len, &ev) != 0) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "alarms.delivery.malformed", "len=%zu", len);
		return;
	}
	if (!alarms_topic_tail_is(topic, ev.notification_id)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "alarms.delivery.topic_mismatch",
			       "event=%s notification=%s", ev.event_id,
			       ev.notification_id);
		return;
	}
	rc = alarms_record_result(ctx, alarms_deadline(ctx), &ev);
	if (rc == KERYU_ENOTFOUND) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.delivery.unknown",
			       "notification=%s status=%s", ev.notification_id,
			       ev.status);
		return;
	}
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "alarms.delivery.failed",
			       "notification=%s status=%s error=\"%s\"",
			       ev.notification_id, ev.status,
			       keryu_strerror(rc));
		return;
	}
	/* only validated fields: error_text can quote the recipient back,
	 * and free text would let a payload forge log lines */
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.delivery",
		       "notification=%s status=%s attempt=%d",
		       ev.notification_id, ev.status, ev.attempt);
}
