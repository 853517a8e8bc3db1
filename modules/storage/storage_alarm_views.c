/* The "subjects" service's alarms and dashboard (keryu/subjects.h): what
 * the custodian's pages read about alarms, and marking one resolved or
 * acknowledged.
 * Alarms are made by scans (storage_alarms.c); scoping is by a join to
 * subjects on the custodian. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

#define LIMIT_MAX 100

void storage_alarm_fill_summary(PGresult *r, int row,
				struct keryu_alarm_summary *s)
{
	memset(s, 0, sizeof(*s));
	storage_copy_text(s->id, sizeof(s->id), PQgetvalue(r, row, 0));
	storage_copy_text(s->subject_id, sizeof(s->subject_id),
			  PQgetvalue(r, row, 1));
	storage_copy_text(s->subject_name, sizeof(s->subject_name),
			  PQgetvalue(r, row, 2));
	storage_copy_text(s->scanned_at, sizeof(s->scanned_at),
			  PQgetvalue(r, row, 3));
	storage_copy_text(s->notification_status,
			  sizeof(s->notification_status), PQgetvalue(r, row, 4));
	s->resolved = strcmp(PQgetvalue(r, row, 5), "t") == 0;
	s->has_location = strcmp(PQgetvalue(r, row, 6), "t") == 0;
}

/* ---- list ---- */

void storage_alarm_query_init(struct storage_alarm_query *q,
			      const char *custodian_id,
			      const struct keryu_alarm_filter *f, size_t max)
{
	memset(q, 0, sizeof(*q));
	storage_page_args(q->off, q->lim, f->offset, (size_t)f->limit, max);
	q->v[0] = custodian_id;
	q->v[1] = f->subject_id[0] ? f->subject_id : NULL;
	q->v[2] = f->state;
	q->v[3] = f->from[0] ? f->from : NULL;
	q->v[4] = f->to[0] ? f->to : NULL;
	q->v[5] = q->off;
	q->v[6] = q->lim;
}

int storage_alarm_query_page(struct storage_pool *p, PGconn *c,
			     const char *what_count, const char *what,
			     const char *sql, struct storage_alarm_query *q,
			     PGresult **res)
{
	int rc;

	*res = NULL;
	rc = storage_db_count(p, c, what_count,
			      "SELECT count(*) " STORAGE_ALARM_FILTER_SQL, 5,
			      q->v, &q->total);
	if (rc)
		return rc;
	return storage_db_exec(p, c, what, sql, 7, q->v, res);
}

struct list_call {
	struct storage_alarm_query q;
	struct keryu_alarm_summary *out;
	size_t n;
};

static int list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	rc = storage_alarm_query_page(p, c, "alarm.count", "alarm.list",
				      "SELECT " STORAGE_ALARM_SUMMARY_COLS
				      " " STORAGE_ALARM_FILTER_SQL
				      "ORDER BY a.scanned_at DESC, a.id DESC "
				      "OFFSET $6::int LIMIT $7::int",
				      &lc->q, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++)
		storage_alarm_fill_summary(r, i, &lc->out[i]);
	lc->n = (size_t)rows;
	PQclear(r);
	return 0;
}

bool storage_alarm_filter_valid(const struct keryu_alarm_filter *f)
{
	return memchr(f->subject_id, '\0', sizeof(f->subject_id)) &&
	       memchr(f->state, '\0', sizeof(f->state)) &&
	       memchr(f->from, '\0', sizeof(f->from)) &&
	       memchr(f->to, '\0', sizeof(f->to)) &&
	       (!f->subject_id[0] || keryu_uuid_valid(f->subject_id)) &&
	       (!f->state[0] || strcmp(f->state, "open") == 0 ||
		strcmp(f->state, "resolved") == 0) &&
	       (!f->from[0] || storage_date_valid(f->from)) &&
	       (!f->to[0] || storage_date_valid(f->to)) && f->offset >= 0 &&
	       f->limit >= 1 && f->limit <= LIMIT_MAX;
}

int storage_alarm_list(void *self, const char *custodian_id,
		       const struct keryu_alarm_filter *f,
		       struct keryu_alarm_summary *out, size_t max, size_t *n,
		       int *total)
{
	struct list_call lc;
	int rc;

	if (!storage_list_begin(n, total, out, max) || !f ||
	    !keryu_uuid_valid(custodian_id) ||
	    !storage_alarm_filter_valid(f))
		return KERYU_EINVAL;
	memset(&lc, 0, sizeof(lc));
	storage_alarm_query_init(&lc.q, custodian_id, f, max);
	lc.out = out;
	rc = storage_pool_run(self, "alarm_list", list_work, &lc);
	if (rc)
		return rc;
	*n = lc.n;
	*total = lc.q.total;
	return 0;
}

/* ---- get ---- */

struct get_call {
	const char *v[2]; /* custodian, alarm */
	struct keryu_alarm_detail *out;
};

static int get_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct get_call *gc = arg;
	struct keryu_alarm_detail *d = gc->out;
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "alarm.get",
			    "SELECT " STORAGE_ALARM_SUMMARY_COLS ", "
			    "coalesce(a.qr_uuid::text, ''), "
			    "coalesce(a.location, ''), "
			    "coalesce(a.latitude, 0), coalesce(a.longitude, 0), "
			    "coalesce(a.accuracy_m, 0), "
			    "coalesce(" STORAGE_ISO_UTC("a.resolved_at") ", ''), "
			    "coalesce(a.resolution_notes, ''), "
			    "coalesce(" STORAGE_ISO_UTC("a.acknowledged_at")
			    ", ''), coalesce(a.joined_alarm_id::text, '') "
			    "FROM alarms a JOIN subjects s "
			    "ON s.id = a.subject_id "
			    "WHERE s.custodian_id = $1::uuid "
			    "AND a.id = $2::uuid",
			    2, gc->v, &r);
	if (rc)
		return rc;
	memset(d, 0, sizeof(*d));
	storage_alarm_fill_summary(r, 0, &d->s);
	storage_copy_text(d->qr_uuid, sizeof(d->qr_uuid), PQgetvalue(r, 0, 7));
	storage_copy_text(d->location, sizeof(d->location),
			  PQgetvalue(r, 0, 8));
	d->latitude = strtod(PQgetvalue(r, 0, 9), NULL);
	d->longitude = strtod(PQgetvalue(r, 0, 10), NULL);
	d->accuracy_m = strtod(PQgetvalue(r, 0, 11), NULL);
	storage_copy_text(d->resolved_at, sizeof(d->resolved_at),
			  PQgetvalue(r, 0, 12));
	storage_copy_text(d->resolution_notes, sizeof(d->resolution_notes),
			  PQgetvalue(r, 0, 13));
	storage_copy_text(d->acknowledged_at, sizeof(d->acknowledged_at),
			  PQgetvalue(r, 0, 14));
	storage_copy_text(d->joined_alarm_id, sizeof(d->joined_alarm_id),
			  PQgetvalue(r, 0, 15));
	PQclear(r);
	return 0;
}

int storage_alarm_get(void *self, const char *custodian_id, const char *id,
		      struct keryu_alarm_detail *out)
{
	struct get_call gc = {{custodian_id, id}, out};

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id))
		return KERYU_EINVAL;
	return storage_pool_run(self, "alarm_get", get_work, &gc);
}

/* ---- timeline ---- */

struct timeline_call {
	const char *v[3]; /* custodian, alarm, limit */
	struct keryu_timeline_entry *out;
	size_t n;
};

static int timeline_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct timeline_call *tc = arg;
	PGresult *r;
	int rc, i, rows;

	/* The alarm row comes first (LEFT JOINs), so that an alarm without
	 * steps is an empty timeline and another custodian's is no row.
	 * Notification events and alarm-level steps (ESCALATED, FALLBACK,
	 * EXHAUSTED, ACKNOWLEDGED, RETRIED: status is the kind, error_text
	 * the detail) are merged by time; at one instant an alarm-level step
	 * comes first, as it caused what follows. Only the last four digits
	 * of the recipient leave the database. */
	rc = storage_db_exec(
		p, c, "alarm.timeline",
		"SELECT " STORAGE_ISO_UTC("e.at") ", coalesce(n.id::text, ''), "
		"coalesce(n.channel, ''), "
		"coalesce(right(regexp_replace(n.recipient, '[^0-9]', '', 'g'), "
		"4), ''), e.status, e.attempt, "
		"coalesce(e.provider_message_id, ''), "
		"coalesce(e.error_code, ''), coalesce(e.error_text, '') "
		"FROM alarms a JOIN subjects s ON s.id = a.subject_id "
		"LEFT JOIN LATERAL (SELECT * FROM ("
		"  SELECT e.at, 1 AS src, e.id, e.notification_id AS nid, "
		"  e.status, e.attempt, e.provider_message_id, e.error_code, "
		"  e.error_text "
		"  FROM notifications n JOIN notification_events e "
		"  ON e.notification_id = n.id WHERE n.alarm_id = a.id "
		"  UNION ALL "
		"  SELECT x.at, 0, x.id, x.notification_id, x.kind, 0, NULL, "
		"  NULL, x.detail FROM alarm_events x WHERE x.alarm_id = a.id"
		"  ) u ORDER BY u.at, u.src, u.id LIMIT $3::int) e ON true "
		"LEFT JOIN notifications n ON n.id = e.nid "
		"WHERE s.custodian_id = $1::uuid AND a.id = $2::uuid "
		"ORDER BY e.at, e.src, e.id",
		3, tc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		return KERYU_ENOTFOUND;
	}
	tc->n = 0;
	for (i = 0; i < rows; i++) {
		struct keryu_timeline_entry *t = &tc->out[tc->n];

		if (PQgetisnull(r, i, 0))
			continue; /* the alarm alone: no steps yet */
		memset(t, 0, sizeof(*t));
		storage_copy_text(t->at, sizeof(t->at), PQgetvalue(r, i, 0));
		storage_copy_text(t->notification_id, sizeof(t->notification_id),
				  PQgetvalue(r, i, 1));
		storage_copy_text(t->channel, sizeof(t->channel),
				  PQgetvalue(r, i, 2));
		storage_copy_text(t->recipient_hint, sizeof(t->recipient_hint),
				  PQgetvalue(r, i, 3));
		storage_copy_text(t->status, sizeof(t->status),
				  PQgetvalue(r, i, 4));
		t->attempt = atoi(PQgetvalue(r, i, 5));
		storage_copy_text(t->provider_message_id,
				  sizeof(t->provider_message_id),
				  PQgetvalue(r, i, 6));
		storage_copy_text(t->error_code, sizeof(t->error_code),
				  PQgetvalue(r, i, 7));
		storage_copy_text(t->error_text, sizeof(t->error_text),
				  PQgetvalue(r, i, 8));
		tc->n++;
	}
	PQclear(r);
	return 0;
}

int storage_alarm_timeline(void *self, const char *custodian_id,
			   const char *alarm_id,
			   struct keryu_timeline_entry *out, size_t max,
			   size_t *n)
{
	struct timeline_call tc;
	char lim[16];
	int rc;

	if (n)
		*n = 0;
	if (!n || (max && !out) || !keryu_uuid_valid(custodian_id) ||
	    !keryu_uuid_valid(alarm_id))
		return KERYU_EINVAL;
	snprintf(lim, sizeof(lim), "%d", max > INT_MAX ? INT_MAX : (int)max);
	memset(&tc, 0, sizeof(tc));
	tc.v[0] = custodian_id;
	tc.v[1] = alarm_id;
	tc.v[2] = lim;
	tc.out = out;
	rc = storage_pool_run(self, "alarm_timeline", timeline_work, &tc);
	if (!rc)
		*n = tc.n;
	return rc;
}

/* ---- resolve ---- */

static int resolve_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* custodian, alarm, notes */
	PGresult *r;
	int rc, rows;

	rc = storage_db_exec(p, c, "alarm.resolve",
			     "UPDATE alarms a SET resolved_at = now(), "
			     "resolution_notes = nullif($3, '') "
			     "FROM subjects s WHERE s.id = a.subject_id "
			     "AND s.custodian_id = $1::uuid AND a.id = $2::uuid "
			     "AND a.resolved_at IS NULL RETURNING 1",
			     3, v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	PQclear(r);
	if (rows == 1)
		return 0;
	/* nothing updated: not the custodian's, or already resolved */
	rc = storage_db_exec(p, c, "alarm.resolved",
			     "SELECT 1 FROM alarms a JOIN subjects s "
			     "ON s.id = a.subject_id "
			     "WHERE s.custodian_id = $1::uuid "
			     "AND a.id = $2::uuid",
			     2, v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	PQclear(r);
	return rows == 1 ? KERYU_ECONFLICT : KERYU_ENOTFOUND;
}

int storage_alarm_resolve(void *self, const char *custodian_id,
			  const char *id, const char *notes)
{
	struct storage_pool *p = self;
	const char *v[] = {custodian_id, id, notes ? notes : ""};
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id) ||
	    !storage_text_valid(notes, KERYU_TEXT_MAX - 1))
		return KERYU_EINVAL;
	rc = storage_pool_run(p, "alarm_resolve", resolve_work, (void *)v);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.alarm_resolved",
					  "custodian_id=%s alarm_id=%s",
					  custodian_id, id);
	return rc;
}

/* ---- acknowledge from the alarm page ---- */

static int ack_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* custodian, alarm */
	PGresult *r;
	int rc, rows, i;

	rc = storage_db_begin(p, c);
	if (rc)
		return rc;
	/* A joined scan's page offers the button too, but its alarm never
	 * escalates: the open alarm it joined does. Both are acknowledged,
	 * or escalation would go on after "I'm on my way". */
	rc = storage_db_exec(p, c, "alarm.ack_page",
			     "UPDATE alarms a SET acknowledged_at = now(), "
			     "acknowledged_via = 'page' "
			     "FROM alarms t JOIN subjects s "
			     "ON s.id = t.subject_id "
			     "WHERE s.custodian_id = $1::uuid "
			     "AND t.id = $2::uuid "
			     "AND a.id IN (t.id, t.joined_alarm_id) "
			     "AND a.acknowledged_at IS NULL "
			     "RETURNING a.id::text",
			     2, v, &r);
	if (rc)
		goto fail;
	rows = PQntuples(r);
	for (i = 0; i < rows && !rc; i++)
		rc = storage_alarm_event(p, c, PQgetvalue(r, i, 0),
					 "ACKNOWLEDGED", NULL, "page");
	PQclear(r);
	if (rc)
		goto fail;
	if (rows > 0) {
		rc = storage_db_commit(p, c);
		if (rc)
			goto fail;
		return 0;
	}
	/* nothing updated: not the custodian's, or already acknowledged */
	rc = storage_db_exec(p, c, "alarm.acked",
			     "SELECT 1 FROM alarms a JOIN subjects s "
			     "ON s.id = a.subject_id "
			     "WHERE s.custodian_id = $1::uuid "
			     "AND a.id = $2::uuid",
			     2, v, &r);
	if (rc)
		goto fail;
	rows = PQntuples(r);
	PQclear(r);
	rc = rows == 1 ? KERYU_ECONFLICT : KERYU_ENOTFOUND;
fail:
	storage_db_rollback(p, c);
	return rc;
}

int storage_alarm_acknowledge_page(void *self, const char *custodian_id,
				   const char *id)
{
	struct storage_pool *p = self;
	const char *v[] = {custodian_id, id};
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id))
		return KERYU_EINVAL;
	rc = storage_pool_run(p, "alarm_acknowledge", ack_work, (void *)v);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.alarm_acknowledged",
					  "custodian_id=%s alarm_id=%s via=page "
					  "already=no",
					  custodian_id, id);
	return rc;
}

/* ---- dashboard ---- */

struct dashboard_call {
	const char *v[1]; /* custodian */
	struct keryu_dashboard out;
};

static int dashboard_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct dashboard_call *dc = arg;
	PGresult *r;
	int rc;

	/* active tags are those a scan would find: the tag and its subject
	 * both active (as storage_tag_lookup) */
	rc = storage_db_exec(p, c, "dashboard",
			     "SELECT "
			     "(SELECT count(*) FROM subjects "
			     "  WHERE custodian_id = $1::uuid), "
			     "(SELECT count(*) FROM subject_qr_codes q "
			     "  JOIN subjects s ON s.id = q.subject_id "
			     "  WHERE s.custodian_id = $1::uuid "
			     "  AND q.is_active AND s.is_active), "
			     "(SELECT count(*) FROM alarms a "
			     "  JOIN subjects s ON s.id = a.subject_id "
			     "  WHERE s.custodian_id = $1::uuid "
			     "  AND a.resolved_at IS NULL)",
			     1, dc->v, &r);
	if (rc)
		return rc;
	dc->out.subjects = atoi(PQgetvalue(r, 0, 0));
	dc->out.active_tags = atoi(PQgetvalue(r, 0, 1));
	dc->out.open_alarms = atoi(PQgetvalue(r, 0, 2));
	PQclear(r);
	return 0;
}

int storage_dashboard(void *self, const char *custodian_id,
		      struct keryu_dashboard *out)
{
	struct dashboard_call dc;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(custodian_id))
		return KERYU_EINVAL;
	memset(&dc, 0, sizeof(dc));
	dc.v[0] = custodian_id;
	rc = storage_pool_run(self, "dashboard", dashboard_work, &dc);
	if (!rc)
		*out = dc.out;
	return rc;
}

/* ---- staff export (the keryu CLI) ---- */

#define EXPORT_MAX 1000

struct export_call {
	const char *v[4]; /* since, until, after id, limit */
	struct keryu_alarm_export *out;
	size_t n;
};

static int export_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct export_call *ec = arg;
	PGresult *r;
	int rc, i, rows;

	/* Keyset paging on (scanned_at, id): pages neither skip nor repeat
	 * rows when alarms arrive meanwhile, and each costs one index range
	 * scan however deep the export is. */
	if (ec->v[2]) {
		rc = storage_db_one(p, c, "alarms.export_after",
				    "SELECT 1 FROM alarms WHERE id = $1::uuid",
				    1, &ec->v[2]);
		if (rc)
			return rc;
	}
	rc = storage_db_exec(
		p, c, "alarms.export",
		"SELECT a.id::text, " STORAGE_ISO_UTC("a.scanned_at") ", "
		"a.subject_id::text, a.notification_status, "
		"coalesce(" STORAGE_ISO_UTC("a.acknowledged_at") ", ''), "
		"coalesce(" STORAGE_ISO_UTC("a.resolved_at") ", ''), "
		"coalesce(a.joined_alarm_id::text, '') "
		"FROM alarms a "
		"WHERE ($1::date IS NULL "
		"  OR a.scanned_at >= $1::date::timestamp AT TIME ZONE 'UTC') "
		"AND ($2::date IS NULL "
		"  OR a.scanned_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC') "
		"AND ($3::uuid IS NULL OR (a.scanned_at, a.id) > "
		"  (SELECT b.scanned_at, b.id FROM alarms b WHERE b.id = $3::uuid)) "
		"ORDER BY a.scanned_at, a.id LIMIT $4::int",
		4, ec->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		struct keryu_alarm_export *o = &ec->out[i];

		memset(o, 0, sizeof(*o));
		storage_copy_text(o->id, sizeof(o->id), PQgetvalue(r, i, 0));
		storage_copy_text(o->scanned_at, sizeof(o->scanned_at),
				  PQgetvalue(r, i, 1));
		storage_copy_text(o->subject_id, sizeof(o->subject_id),
				  PQgetvalue(r, i, 2));
		storage_copy_text(o->notification_status,
				  sizeof(o->notification_status),
				  PQgetvalue(r, i, 3));
		storage_copy_text(o->acknowledged_at,
				  sizeof(o->acknowledged_at),
				  PQgetvalue(r, i, 4));
		storage_copy_text(o->resolved_at, sizeof(o->resolved_at),
				  PQgetvalue(r, i, 5));
		storage_copy_text(o->joined_alarm_id,
				  sizeof(o->joined_alarm_id),
				  PQgetvalue(r, i, 6));
	}
	ec->n = (size_t)rows;
	PQclear(r);
	return 0;
}

int storage_alarms_export(void *self, const char *since, const char *until,
			  const char *after_id, struct keryu_alarm_export *out,
			  size_t max, size_t *n)
{
	struct export_call ec;
	char lim[16];
	int rc;

	if (!n)
		return KERYU_EINVAL;
	*n = 0;
	if (since && !*since)
		since = NULL;
	if (until && !*until)
		until = NULL;
	if (after_id && !*after_id)
		after_id = NULL;
	if (!out || max == 0 || (since && !storage_date_valid(since)) ||
	    (until && !storage_date_valid(until)) ||
	    (after_id && !keryu_uuid_valid(after_id)))
		return KERYU_EINVAL;
	snprintf(lim, sizeof(lim), "%zu", max < EXPORT_MAX ? max : EXPORT_MAX);
	memset(&ec, 0, sizeof(ec));
	ec.v[0] = since;
	ec.v[1] = until;
	ec.v[2] = after_id;
	ec.v[3] = lim;
	ec.out = out;
	rc = storage_pool_run(self, "alarms_export", export_work, &ec);
	if (!rc)
		*n = ec.n;
	return rc;
}
