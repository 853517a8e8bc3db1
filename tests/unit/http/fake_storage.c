#include "fake_storage.h"

#include <stdio.h>
#include <string.h>

struct fake_storage_state fake_storage_state;

static int fs_ping(void *self)
{
	(void)self;
	fake_storage_state.pings++;
	return fake_storage_state.ping_rc;
}

static int fs_tag_lookup(void *self, const char *qr_uuid,
			 struct keryu_tag_info *out)
{
	struct fake_storage_state *s = &fake_storage_state;

	(void)self;
	s->lookups++;
	snprintf(s->last_lookup, sizeof(s->last_lookup), "%s", qr_uuid);
	if (s->lookup_rc)
		return s->lookup_rc;
	if (strcmp(qr_uuid, s->tag.qr_uuid) != 0)
		return KERYU_ENOTFOUND;
	*out = s->tag;
	return 0;
}

static int fs_tag_public(void *self, const char *qr_uuid,
			 struct keryu_public_subject *out)
{
	struct fake_storage_state *s = &fake_storage_state;

	(void)self;
	s->lookups++;
	snprintf(s->last_lookup, sizeof(s->last_lookup), "%s", qr_uuid);
	if (s->lookup_rc)
		return s->lookup_rc;
	if (strcmp(qr_uuid, s->tag.qr_uuid) != 0)
		return KERYU_ENOTFOUND;
	if (s->pub_set) {
		*out = s->pub;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->qr_uuid, s->tag.qr_uuid, sizeof(out->qr_uuid));
	memcpy(out->subject_id, s->tag.subject_id, sizeof(out->subject_id));
	memcpy(out->first_name, s->tag.first_name, sizeof(out->first_name));
	out->public_fields = KERYU_PUB_FIRST_NAME;
	return 0;
}

static int fs_queued(void *self, const char *id, int attempt, int lease_s)
{
	struct fake_storage_state *s = &fake_storage_state;

	(void)self;
	s->queued++;
	s->queued_attempt = attempt;
	s->queued_lease = lease_s;
	snprintf(s->last_queued, sizeof(s->last_queued), "%s", id);
	return 0;
}

static int fs_ack(void *self, const char *id, struct keryu_ack_result *out)
{
	struct fake_storage_state *s = &fake_storage_state;

	(void)self;
	s->acks++;
	snprintf(s->last_ack, sizeof(s->last_ack), "%s", id);
	if (s->ack_rc)
		return s->ack_rc;
	if (!s->ack_nid[0] || strcmp(id, s->ack_nid) != 0)
		return KERYU_ENOTFOUND;
	*out = s->ack;
	out->already = s->acked;
	s->acked = true;
	return 0;
}

static int fs_attach(void *self, const struct keryu_finder_post *post,
		     char alarm_id[KERYU_UUID_LEN])
{
	struct fake_storage_state *s = &fake_storage_state;
	int kind = post->kind == KERYU_FINDER_LOCATION ? 1 : 2;

	(void)self;
	s->attaches++;
	s->last_post = *post;
	if (s->attach_rc)
		return s->attach_rc;
	if (!s->finder_event[0] ||
	    strcmp(post->scan_event_id, s->finder_event) != 0 ||
	    strcmp(post->qr_uuid, s->tag.qr_uuid) != 0)
		return KERYU_ENOTFOUND;
	if (s->attached[kind])
		return KERYU_ECONFLICT;
	s->attached[kind] = true;
	memcpy(alarm_id, s->finder_alarm, KERYU_UUID_LEN);
	return 0;
}

static int fs_status(void *self, const char *event_id, const char *qr_uuid,
		     struct keryu_finder_status *out)
{
	struct fake_storage_state *s = &fake_storage_state;

	(void)self;
	(void)qr_uuid;
	s->statuses++;
	snprintf(s->last_status_event, sizeof(s->last_status_event), "%s",
		 event_id);
	if (s->status_rc)
		return s->status_rc;
	*out = s->finder;
	return 0;
}

static int fs_metrics(void *self, struct keryu_storage_metrics *out)
{
	struct fake_storage_state *s = &fake_storage_state;

	(void)self;
	s->metrics_calls++;
	*out = s->metrics;
	return s->metrics_rc;
}

const struct keryu_storage fake_storage = {
	.struct_size = sizeof(struct keryu_storage),
	.ping = fs_ping,
	.tag_lookup = fs_tag_lookup,
	.notification_queued = fs_queued,
	.alarm_acknowledge = fs_ack,
	.finder_attach = fs_attach,
	.finder_status = fs_status,
	.tag_public = fs_tag_public,
	.metrics = fs_metrics,
};

void fake_storage_reset(const char *qr_uuid, const char *first_name)
{
	struct fake_storage_state *s = &fake_storage_state;

	memset(s, 0, sizeof(*s));
	snprintf(s->tag.qr_uuid, sizeof(s->tag.qr_uuid), "%s", qr_uuid);
	snprintf(s->tag.subject_id, sizeof(s->tag.subject_id), "%s",
		 "11111111-2222-4333-8444-555555555555");
	snprintf(s->tag.first_name, sizeof(s->tag.first_name), "%s",
		 first_name);
	snprintf(s->tag.subject_name, sizeof(s->tag.subject_name), "%s Doe",
		 first_name);
}
