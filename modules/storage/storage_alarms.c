/* Scan events become alarms: each alerts its first recipient (or joins an
 * open alarm of the same subject within the cooldown), and an alarm is
 * acknowledged through the signed link of one of its notifications. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

struct scan {
	const struct keryu_scan_event *ev;
	const struct keryu_alarm_policy *pol;
	char lease[16], cooldown[16];
	struct keryu_alarm_created out; /* copied out on success only */
};

struct tag_row {
	char subject_id[KERYU_UUID_LEN];
	char subject_name[101];
	bool missing; /* lost mode: every scan alerts */
};

/* Any tag ever issued, active or not: a tag deactivated after it was
 * scanned still has its scan recorded. Then locks the subject's row, so
 * that scans of one subject take turns: two at once cannot both miss the
 * other's alarm and both alert everyone (the cooldown), nor both insert
 * one event. FOR NO KEY UPDATE does not block rows that merely reference
 * the subject. */
static int read_tag(struct storage_pool *p, PGconn *c, const struct scan *s,
		    struct tag_row *t)
{
	const char *v[] = {s->ev->qr_uuid};
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "alarm.tag",
			    "SELECT s.id::text, s.name, s.missing "
			    "FROM subject_qr_codes q "
			    "JOIN subjects s ON s.id = q.subject_id "
			    "WHERE q.uuid = $1::uuid "
			    "FOR NO KEY UPDATE OF s",
			    1, v, &r);
	if (rc)
		return rc;
	storage_copy_text(t->subject_id, sizeof(t->subject_id),
			  PQgetvalue(r, 0, 0));
	storage_copy_text(t->subject_name, sizeof(t->subject_name),
			  PQgetvalue(r, 0, 1));
	t->missing = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	return 0;
}

/* Fills s->out from the alarm an earlier delivery of this event made, with
 * its first recipient's (step 0) notification. *found is false when the
 * event is new. */
static int read_existing(struct storage_pool *p, PGconn *c, struct scan *s,
			 bool *found)
{
	const char *v[] = {s->ev->event_id};
	PGresult *r;
	int rc;

	rc = storage_db_exec(
		p, c, "alarm.existing",
		"SELECT a.id::text, a.subject_id::text, "
		STORAGE_ISO_UTC("a.scanned_at") ", s.name, "
		"coalesce(a.joined_alarm_id::text, ''), "
		"coalesce(n.id::text, ''), coalesce(n.recipient, ''), "
		"coalesce(n.channel, ''), coalesce(n.status = 'PENDING', false) "
		"FROM alarms a JOIN subjects s ON s.id = a.subject_id "
		"LEFT JOIN LATERAL (SELECT id, recipient, status, channel "
		"  FROM notifications WHERE alarm_id = a.id AND kind = 'alert' "
		"  ORDER BY step, created_at, id LIMIT 1) n ON true "
		"WHERE a.event_id = $1::uuid",
		1, v, &r);
	if (rc)
		return rc;
	*found = PQntuples(r) == 1;
	if (!*found) {
		PQclear(r);
		return 0;
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
	storage_copy_text(s->out.joined_alarm_id,
			  sizeof(s->out.joined_alarm_id), PQgetvalue(r, 0, 4));
	s->out.joined = s->out.joined_alarm_id[0] != '\0';
	storage_copy_text(s->out.notification_id,
			  sizeof(s->out.notification_id), PQgetvalue(r, 0, 5));
	storage_copy_text(s->out.recipient, sizeof(s->out.recipient),
			  PQgetvalue(r, 0, 6));
	storage_copy_text(s->out.channel, sizeof(s->out.channel),
			  PQgetvalue(r, 0, 7));
	s->out.notification_pending = strcmp(PQgetvalue(r, 0, 8), "t") == 0;
	PQclear(r);
	return 0;
}

/* The subject's newest open alarm that is not itself a joined scan and
 * was scanned within the cooldown of this scan (either side: a replayed
 * older scan joins too). joined is "" when there is none, and always for
 * a subject reported missing: then every scan alerts. */
static int find_open(struct storage_pool *p, PGconn *c, struct scan *s,
		     const struct tag_row *t, char joined[KERYU_UUID_LEN])
{
	const char *v[] = {t->subject_id, s->ev->at, s->cooldown};
	PGresult *r;
	int rc;

	joined[0] = '\0';
	if (s->pol->cooldown_s <= 0 || t->missing)
		return 0;
	rc = storage_db_exec(
		p, c, "alarm.open",
		"SELECT id::text FROM alarms "
		"WHERE subject_id = $1::uuid AND resolved_at IS NULL "
		"AND joined_alarm_id IS NULL "
		"AND scanned_at > $2::timestamptz - $3::int * interval '1 second' "
		"AND scanned_at < $2::timestamptz + $3::int * interval '1 second' "
		"ORDER BY scanned_at DESC, created_at DESC LIMIT 1",
		3, v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1)
		storage_copy_text(joined, KERYU_UUID_LEN, PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* Inserts the alarm; *inserted is 0 when the event_id was already there
 * (the subject lock makes that a corner case, not the rule). */
static int insert_alarm(struct storage_pool *p, PGconn *c, struct scan *s,
			const struct tag_row *t, const char *joined,
			int *inserted)
{
	const struct keryu_scan_event *ev = s->ev;
	char lat[32], lng[32], acc[32], loc[100];
	const char *v[11];
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
	v[10] = joined[0] ? joined : NULL;
	/* A joined scan never escalates: its alarm does. The escalation
	 * deadlines of a new alarm run from now, when its first recipient's
	 * step begins. */
	rc = storage_db_exec(
		p, c, "alarm.insert",
		"INSERT INTO alarms (event_id, subject_id, qr_uuid, scanned_at, "
		"user_agent, ip_hash, latitude, longitude, accuracy_m, location, "
		"joined_alarm_id, escalation_done, step_started_at) "
		"VALUES ($1::uuid, $2::uuid, $3::uuid, $4::timestamptz, $5, $6, "
		"$7::float8, $8::float8, $9::float8, $10, $11::uuid, "
		"$11::uuid IS NOT NULL, "
		"CASE WHEN $11::uuid IS NULL THEN now() END) "
		"ON CONFLICT (event_id) DO NOTHING "
		"RETURNING id::text, " STORAGE_ISO_UTC("scanned_at"),
		11, v, &r);
	if (rc)
		return rc;
	*inserted = PQntuples(r) == 1;
	if (*inserted) {
		s->out.created = true;
		s->out.joined = joined[0] != '\0';
		storage_copy_text(s->out.joined_alarm_id,
				  sizeof(s->out.joined_alarm_id), joined);
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

/* The step-0 notification, born PENDING with a lease: the caller publishes
 * it at once, and notify_due sends it only if that never happened. With
 * nobody to alert, the alarm is exhausted from the start. */
static int first_notification(struct storage_pool *p, PGconn *c,
			      struct scan *s)
{
	struct storage_recipient to;
	const char *v[7];
	bool found = false;
	PGresult *r;
	int rc;

	rc = storage_next_recipient(p, c, s->out.alarm_id, s->pol->channel,
				    &to, &found);
	if (rc)
		return rc;
	if (!found) {
		const char *va[] = {s->out.alarm_id};

		rc = storage_db_exec(p, c, "alarm.nobody",
				     "UPDATE alarms SET escalation_done = true "
				     "WHERE id = $1::uuid",
				     1, va, NULL);
		if (!rc)
			rc = storage_alarm_event(p, c, s->out.alarm_id,
						 "EXHAUSTED", NULL,
						 "nobody to notify");
		return rc;
	}
	v[0] = s->out.alarm_id;
	v[1] = to.custodian_id;
	v[2] = to.contact_id[0] ? to.contact_id : NULL;
	v[3] = to.channel;
	v[4] = to.phone;
	v[5] = s->lease;
	rc = storage_db_exec(p, c, "alarm.notification",
			     "INSERT INTO notifications "
			     "(alarm_id, custodian_id, contact_id, channel, "
			     "recipient, step, lease_until) "
			     "VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, 0, "
			     "now() + $6::int * interval '1 second') "
			     "RETURNING id::text",
			     6, v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		storage_copy_text(s->out.notification_id,
				  sizeof(s->out.notification_id),
				  PQgetvalue(r, 0, 0));
		storage_copy_text(s->out.recipient, sizeof(s->out.recipient),
				  to.phone);
		storage_copy_text(s->out.channel, sizeof(s->out.channel),
				  to.channel);
		s->out.notification_pending = true; /* born PENDING */
	}
	PQclear(r);
	return 0;
}

static int scan_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct scan *s = arg;
	char joined[KERYU_UUID_LEN] = "";
	struct tag_row t;
	int rc, inserted = 0;
	bool seen = false;

	memset(&s->out, 0, sizeof(s->out));
	memset(&t, 0, sizeof(t));
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = read_tag(p, c, s, &t);
	if (!rc)
		rc = read_existing(p, c, s, &seen);
	if (!rc && !seen)
		rc = find_open(p, c, s, &t, joined);
	if (!rc && !seen)
		rc = insert_alarm(p, c, s, &t, joined, &inserted);
	if (!rc && !seen && !inserted)
		rc = read_existing(p, c, s, &seen);
	if (!rc && inserted)
		rc = touch_tag(p, c, s);
	if (!rc && inserted && !joined[0])
		rc = first_notification(p, c, s);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

bool storage_channel_valid(const char *ch)
{
	size_t n = ch ? strlen(ch) : 0;

	return n > 0 && n < 32 &&
	       strspn(ch, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

bool storage_policy_valid(const struct keryu_alarm_policy *pol)
{
	return pol && storage_channel_valid(pol->channel) &&
	       (!pol->fallback_channel || !pol->fallback_channel[0] ||
		storage_channel_valid(pol->fallback_channel)) &&
	       pol->escalate_after_s >= 0 && pol->ack_timeout_s >= 0 &&
	       pol->cooldown_s >= 0 && pol->lease_s >= 1 &&
	       pol->max_redrives >= 0;
}

int storage_alarm_from_scan(void *self, const struct keryu_scan_event *ev,
			    const struct keryu_alarm_policy *pol,
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
	    !storage_policy_valid(pol))
		return KERYU_EINVAL;
	if (ev->has_location &&
	    (!isfinite(ev->lat) || !isfinite(ev->lng) ||
	     !isfinite(ev->accuracy_m) || fabs(ev->lat) > 90 ||
	     fabs(ev->lng) > 180))
		return KERYU_EINVAL;
	memset(&s, 0, sizeof(s));
	s.ev = ev;
	s.pol = pol;
	snprintf(s.lease, sizeof(s.lease), "%d", pol->lease_s);
	snprintf(s.cooldown, sizeof(s.cooldown), "%d", pol->cooldown_s);
	rc = storage_pool_run(p, "alarm_from_scan", scan_work, &s);
	if (rc)
		return rc;
	*out = s.out;
	if (s.out.created)
		storage_pool_host(p)->log(
			storage_pool_mod(p), KERYU_LOG_INFO,
			"storage.alarm_created",
			"alarm_id=%s event_id=%s notification_id=%s channel=%s "
			"joined=%s",
			out->alarm_id, ev->event_id,
			out->notification_id[0] ? out->notification_id : "none",
			out->channel[0] ? out->channel : "none",
			out->joined ? out->joined_alarm_id : "no");
	return 0;
}

/* ---- acknowledgement by link ---- */

struct ack {
	const char *nid;
	struct keryu_ack_result out;
};

static int ack_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct ack *a = arg;
	const char *v[] = {a->nid};
	PGresult *r;
	int rc;

	memset(&a->out, 0, sizeof(a->out));
	rc = storage_db_begin(p, c);
	if (rc)
		return rc;
	/* the alarm row is locked first, as everywhere that changes it */
	rc = storage_db_row(
		p, c, "alarm.ack_lock",
		"SELECT a.id::text, "
		"coalesce(substring(s.name from '^\\s*(\\S+)'), ''), "
		"a.acknowledged_at IS NOT NULL, "
		"coalesce(" STORAGE_ISO_UTC("a.acknowledged_at") ", '') "
		"FROM notifications n JOIN alarms a ON a.id = n.alarm_id "
		"JOIN subjects s ON s.id = a.subject_id "
		"WHERE n.id = $1::uuid FOR NO KEY UPDATE OF a",
		1, v, &r);
	if (rc)
		goto fail;
	storage_copy_text(a->out.alarm_id, sizeof(a->out.alarm_id),
			  PQgetvalue(r, 0, 0));
	storage_copy_text(a->out.subject_first_name,
			  sizeof(a->out.subject_first_name),
			  PQgetvalue(r, 0, 1));
	a->out.already = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	storage_copy_text(a->out.acknowledged_at,
			  sizeof(a->out.acknowledged_at), PQgetvalue(r, 0, 3));
	PQclear(r);
	if (!a->out.already) {
		const char *va[] = {a->out.alarm_id};

		rc = storage_db_exec(
			p, c, "alarm.ack",
			"UPDATE alarms SET acknowledged_at = now(), "
			"acknowledged_via = 'link' WHERE id = $1::uuid "
			"RETURNING " STORAGE_ISO_UTC("acknowledged_at"),
			1, va, &r);
		if (rc)
			goto fail;
		storage_copy_text(a->out.acknowledged_at,
				  sizeof(a->out.acknowledged_at),
				  PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
		PQclear(r);
		rc = storage_alarm_event(p, c, a->out.alarm_id, "ACKNOWLEDGED",
					 a->nid, "link");
		if (rc)
			goto fail;
	}
	rc = storage_db_commit(p, c);
	if (!rc)
		return 0;
fail:
	storage_db_rollback(p, c);
	return rc;
}

int storage_alarm_acknowledge(void *self, const char *notification_id,
			      struct keryu_ack_result *out)
{
	struct storage_pool *p = self;
	struct ack a;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(notification_id))
		return KERYU_EINVAL;
	memset(&a, 0, sizeof(a));
	a.nid = notification_id;
	rc = storage_pool_run(p, "alarm_acknowledge", ack_work, &a);
	if (rc)
		return rc;
	*out = a.out;
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.alarm_acknowledged",
				  "alarm_id=%s notification_id=%s via=link "
				  "already=%s",
				  out->alarm_id, notification_id,
				  out->already ? "yes" : "no");
	return 0;
}
