/* Scan events become alarms, each with one notification to send. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* The ISO-8601 UTC form every Keryu payload uses. */
#define ISO_UTC(col)                                                           \
	"to_char(" col " AT TIME ZONE 'UTC', "                                 \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

struct scan {
	const struct keryu_scan_event *ev;
	const char *channel;
	struct keryu_alarm_created out; /* copied out on success only */
};

struct tag_row {
	char subject_id[KERYU_UUID_LEN];
	char custodian_id[KERYU_UUID_LEN];
	char subject_name[101];
	char phone[32];
	int notify; /* the custodian is to be notified on this channel */
};

/* Any tag ever issued, active or not: a tag deactivated after it was
 * scanned still has its scan recorded. */
static int read_tag(struct storage_pool *p, PGconn *c, const struct scan *s,
		    struct tag_row *t)
{
	const char *v[] = {s->ev->qr_uuid, s->channel};
	PGresult *r;
	int rc;

	/* WhatsApp opt-out covers the channels that send WhatsApp messages;
	 * an inactive custodian is told nothing at all, nor one whose phone
	 * was never verified (the number could be anyone's). */
	rc = storage_db_exec(
		p, c, "alarm.tag",
		"SELECT q.subject_id::text, c.id::text, s.name, c.phone_e164, "
		"c.is_active AND c.phone_verified_at IS NOT NULL "
		"AND (c.whatsapp_opt_in "
		"  OR $2::text NOT IN ('whatsapp', 'twilio')) "
		"FROM subject_qr_codes q "
		"JOIN subjects s ON s.id = q.subject_id "
		"JOIN custodians c ON c.id = s.custodian_id "
		"WHERE q.uuid = $1::uuid",
		2, v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return KERYU_ENOTFOUND;
	}
	storage_copy_text(t->subject_id, sizeof(t->subject_id),
			  PQgetvalue(r, 0, 0));
	storage_copy_text(t->custodian_id, sizeof(t->custodian_id),
			  PQgetvalue(r, 0, 1));
	storage_copy_text(t->subject_name, sizeof(t->subject_name),
			  PQgetvalue(r, 0, 2));
	storage_copy_text(t->phone, sizeof(t->phone), PQgetvalue(r, 0, 3));
	t->notify = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	PQclear(r);
	return 0;
}

/* Fills s->out from the alarm an earlier delivery of this event made. Its
 * notification counts as pending only on the channel asked for: a PENDING
 * one of another channel is not this caller's to send. */
static int read_existing(struct storage_pool *p, PGconn *c, struct scan *s)
{
	const char *v[] = {s->ev->event_id, s->channel};
	PGresult *r;
	int rc;

	rc = storage_db_exec(
		p, c, "alarm.existing",
		"SELECT a.id::text, a.subject_id::text, "
		ISO_UTC("a.scanned_at") ", s.name, "
		"coalesce(n.id::text, ''), coalesce(n.recipient, ''), "
		"coalesce(n.status = 'PENDING' AND n.channel = $2::text, false) "
		"FROM alarms a JOIN subjects s ON s.id = a.subject_id "
		"LEFT JOIN LATERAL (SELECT id, recipient, status, channel "
		"  FROM notifications "
		"  WHERE alarm_id = a.id "
		"  ORDER BY channel = $2::text DESC, created_at LIMIT 1) n "
		"  ON true "
		"WHERE a.event_id = $1::uuid",
		2, v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return KERYU_ENOTFOUND;
	}
	s->out.created = false;
	storage_copy_text(s->out.alarm_id, sizeof(s->out.alarm_id),
			  PQgetvalue(r, 0, 0));
	storage_copy_text(s->out.subject_id, sizeof(s->out.subject_id),
			  PQgetvalue(r, 0, 1));
	storage_copy_text(s->out.scanned_at, sizeof(s->out.scanned_at),
			  PQgetvalue(r, 0, 2));
	storage_copy_text(s->out.subject_name, sizeof(s->out.subject_name),
			  PQgetvalue(r, 0, 3));
	storage_copy_text(s->out.notification_id,
			  sizeof(s->out.notification_id), PQgetvalue(r, 0, 4));
	storage_copy_text(s->out.recipient, sizeof(s->out.recipient),
			  PQgetvalue(r, 0, 5));
	s->out.notification_pending = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
	PQclear(r);
	return 0;
}

/* Inserts the alarm; *inserted is 0 when the event_id was already there. */
static int insert_alarm(struct storage_pool *p, PGconn *c, struct scan *s,
			const struct tag_row *t, int *inserted)
{
	const struct keryu_scan_event *ev = s->ev;
	char lat[32], lng[32], acc[32], loc[100];
	const char *v[10];
	PGresult *r;
	int rc;

	snprintf(lat, sizeof(lat), "%.9g", ev->lat);
	snprintf(lng, sizeof(lng), "%.9g", ev->lng);
	snprintf(acc, sizeof(acc), "%.9g", ev->accuracy_m);
	snprintf(loc, sizeof(loc), "%.6f,%.6f", ev->lat, ev->lng);
	v[0] = ev->event_id;
	v[1] = t->subject_id;
	v[2] = ev->qr_uuid;
	v[3] = ev->at;
	v[4] = ev->user_agent[0] ? ev->user_agent : NULL;
	v[5] = ev->ip_hash[0] ? ev->ip_hash : NULL;
	v[6] = ev->has_location ? lat : NULL;
	v[7] = ev->has_location ? lng : NULL;
	/* a negative accuracy is how some clients say "unknown" */
	v[8] = ev->has_location && ev->accuracy_m >= 0 ? acc : NULL;
	v[9] = ev->has_location ? loc : NULL;
	rc = storage_db_exec(
		p, c, "alarm.insert",
		"INSERT INTO alarms (event_id, subject_id, qr_uuid, scanned_at, "
		"user_agent, ip_hash, latitude, longitude, accuracy_m, location) "
		"VALUES ($1::uuid, $2::uuid, $3::uuid, $4::timestamptz, $5, $6, "
		"$7::float8, $8::float8, $9::float8, $10) "
		"ON CONFLICT (event_id) DO NOTHING "
		"RETURNING id::text, " ISO_UTC("scanned_at"),
		10, v, &r);
	if (rc)
		return rc;
	*inserted = PQntuples(r) == 1;
	if (*inserted) {
		s->out.created = true;
		storage_copy_text(s->out.alarm_id, sizeof(s->out.alarm_id),
				  PQgetvalue(r, 0, 0));
		storage_copy_text(s->out.scanned_at, sizeof(s->out.scanned_at),
				  PQgetvalue(r, 0, 1));
		storage_copy_text(s->out.subject_id, sizeof(s->out.subject_id),
				  t->subject_id);
		storage_copy_text(s->out.subject_name,
				  sizeof(s->out.subject_name), t->subject_name);
	}
	PQclear(r);
	return 0;
}

static int touch_tag(struct storage_pool *p, PGconn *c, const struct scan *s)
{
	const char *v[] = {s->ev->qr_uuid, s->ev->at};

	/* greatest() skips NULL, and keeps a replayed old scan from moving
	 * last_used backwards */
	return storage_db_exec(p, c, "alarm.touch_tag",
			       "UPDATE subject_qr_codes "
			       "SET last_used = greatest(last_used, "
			       "$2::timestamptz) "
			       "WHERE uuid = $1::uuid",
			       2, v, NULL);
}

static int insert_notification(struct storage_pool *p, PGconn *c,
			       struct scan *s, const struct tag_row *t)
{
	const char *v[] = {s->out.alarm_id, t->custodian_id, s->channel,
			   t->phone};
	PGresult *r;
	int rc;

	rc = storage_db_exec(p, c, "alarm.notification",
			     "INSERT INTO notifications "
			     "(alarm_id, custodian_id, channel, recipient) "
			     "VALUES ($1::uuid, $2::uuid, $3, $4) "
			     "ON CONFLICT (alarm_id, custodian_id, channel) "
			     "DO NOTHING RETURNING id::text",
			     4, v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		storage_copy_text(s->out.notification_id,
				  sizeof(s->out.notification_id),
				  PQgetvalue(r, 0, 0));
		storage_copy_text(s->out.recipient, sizeof(s->out.recipient),
				  t->phone);
		s->out.notification_pending = true; /* born PENDING */
	}
	PQclear(r);
	return 0;
}

static int scan_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct scan *s = arg;
	struct tag_row t;
	int rc, inserted = 0;

	memset(&s->out, 0, sizeof(s->out));
	memset(&t, 0, sizeof(t));
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = read_tag(p, c, s, &t);
	if (!rc)
		rc = insert_alarm(p, c, s, &t, &inserted);
	if (!rc && !inserted)
		rc = read_existing(p, c, s);
	if (!rc && inserted)
		rc = touch_tag(p, c, s);
	if (!rc && inserted && t.notify)
		rc = insert_notification(p, c, s, &t);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

static bool channel_valid(const char *ch)
{
	size_t n = ch ? strlen(ch) : 0;

	return n > 0 && n < 32 &&
	       strspn(ch, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int storage_alarm_from_scan(void *self, const struct keryu_scan_event *ev,
			    const char *channel,
			    struct keryu_alarm_created *out)
{
	struct storage_pool *p = self;
	struct scan s;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!ev || !keryu_uuid_valid(ev->event_id) ||
	    !keryu_uuid_valid(ev->qr_uuid) || !ev->at[0] ||
	    !channel_valid(channel))
		return KERYU_EINVAL;
	if (ev->has_location &&
	    (!isfinite(ev->lat) || !isfinite(ev->lng) ||
	     !isfinite(ev->accuracy_m) || fabs(ev->lat) > 90 ||
	     fabs(ev->lng) > 180))
		return KERYU_EINVAL;
	memset(&s, 0, sizeof(s));
	s.ev = ev;
	s.channel = channel;
	rc = storage_pool_run(p, "alarm_from_scan", scan_work, &s);
	if (rc)
		return rc;
	*out = s.out;
	if (s.out.created)
		storage_pool_host(p)->log(
			storage_pool_mod(p), KERYU_LOG_INFO,
			"storage.alarm_created",
			"alarm_id=%s event_id=%s notification_id=%s channel=%s",
			out->alarm_id, ev->event_id,
			out->notification_id[0] ? out->notification_id : "none",
			channel);
	return 0;
}
