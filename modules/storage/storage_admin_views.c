/* The "admin" service's staff-wide views (keryu/admin.h): every
 * custodian's subjects, tags and alarms, who owns a row, the failed
 * deliveries and "retry now", and the staff flag and phone verification of
 * a custodian. Nothing here is scoped to a custodian: the caller checked
 * that the session is staff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

#define LIMIT_MAX 100

/* The last four digits of a phone: all that leaves the database of it. */
#define PHONE_HINT(col)                                                        \
	"right(regexp_replace(" col ", '[^0-9]', '', 'g'), 4)"

/* "" or a search text: one line, at most 254 bytes (an email's length). */
static bool search_valid(const char *s)
{
	return !s || !s[0] || storage_line_valid(s, 254);
}

/* ---- custodians ---- */

static int staff_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* id, staff */

	return storage_db_one(p, c, "custodian.set_staff",
			      "UPDATE custodians SET is_staff = $2::bool, "
			      "updated_at = now() "
			      "WHERE id = $1::uuid RETURNING 1",
			      2, v);
}

int storage_custodian_set_staff(void *self, const char *id, bool staff)
{
	struct storage_pool *p = self;
	const char *v[] = {id, staff ? "true" : "false"};
	int rc;

	if (!keryu_uuid_valid(id))
		return KERYU_EINVAL;
	rc = storage_pool_run(p, "custodian_set_staff", staff_work, (void *)v);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.custodian_staff",
					  "custodian_id=%s staff=%d", id, staff);
	return rc;
}

static int reset_phone_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* id */
	int rc;

	rc = storage_db_one(p, c, "custodian.reset_phone",
			    "UPDATE custodians SET phone_verified_at = NULL, "
			    "updated_at = now() "
			    "WHERE id = $1::uuid RETURNING 1",
			    1, v);
	if (rc)
		return rc;
	/* "verify again" means with a new code: one sent before the reset
	 * would otherwise undo it */
	return storage_db_exec(p, c, "custodian.reset_phone_codes",
			       "UPDATE one_time_codes SET consumed_at = now() "
			       "WHERE custodian_id = $1::uuid AND purpose = 1 "
			       "AND consumed_at IS NULL",
			       1, v, NULL);
}

int storage_custodian_reset_phone(void *self, const char *id)
{
	struct storage_pool *p = self;
	const char *v[] = {id};
	int rc;

	if (!keryu_uuid_valid(id))
		return KERYU_EINVAL;
	rc = storage_pool_run_tx(p, "custodian_reset_phone", reset_phone_work,
				 (void *)v);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.custodian_phone_reset",
					  "custodian_id=%s", id);
	return rc;
}

/* ---- owner_of ---- */

struct owner_call {
	const char *sql;
	const char *v[1];
	char custodian_id[KERYU_UUID_LEN];
};

static int owner_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct owner_call *oc = arg;
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "owner_of", oc->sql, 1, oc->v, &r);
	if (rc)
		return rc;
	storage_copy_text(oc->custodian_id, sizeof(oc->custodian_id),
			  PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int storage_owner_of(void *self, enum keryu_owned kind, const char *id,
		     char custodian_id[KERYU_UUID_LEN])
{
	struct owner_call oc;
	int rc;

	if (custodian_id)
		custodian_id[0] = '\0';
	if (!custodian_id || !keryu_uuid_valid(id))
		return KERYU_EINVAL;
	memset(&oc, 0, sizeof(oc));
	switch (kind) {
	case KERYU_OWNED_SUBJECT:
		oc.sql = "SELECT custodian_id::text FROM subjects "
			 "WHERE id = $1::uuid";
		break;
	case KERYU_OWNED_TAG:
		oc.sql = "SELECT s.custodian_id::text FROM subject_qr_codes q "
			 "JOIN subjects s ON s.id = q.subject_id "
			 "WHERE q.uuid = $1::uuid";
		break;
	case KERYU_OWNED_ALARM:
		oc.sql = "SELECT s.custodian_id::text FROM alarms a "
			 "JOIN subjects s ON s.id = a.subject_id "
			 "WHERE a.id = $1::uuid";
		break;
	case KERYU_OWNED_CONTACT:
		oc.sql = "SELECT s.custodian_id::text FROM contacts k "
			 "JOIN subjects s ON s.id = k.subject_id "
			 "WHERE k.id = $1::uuid";
		break;
	default:
		return KERYU_EINVAL;
	}
	oc.v[0] = id;
	rc = storage_pool_run(self, "owner_of", owner_work, &oc);
	if (!rc)
		storage_copy_text(custodian_id, KERYU_UUID_LEN, oc.custodian_id);
	return rc;
}

/* ---- subjects_all, tags_all ---- */

/* Fills the idx-th element of out from row of a page. */
typedef void (*fill_fn)(PGresult *r, int row, void *out, size_t idx);

struct all_call {
	const char *what, *sql; /* page_work's statement */
	fill_fn fill;
	const char *v[3]; /* search, offset, limit */
	void *out;
	size_t n;
	int total;
};

/* One statement: the count and the page see the same rows; an empty page
 * still returns the count (the LEFT JOIN's one row, column 1 NULL). */
static int page_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct all_call *ac = arg;
	PGresult *r;
	int rc, i, rows;

	rc = storage_db_exec(p, c, ac->what, ac->sql, 3, ac->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	ac->total = rows > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	for (i = 0; i < rows; i++) {
		if (PQgetisnull(r, i, 1))
			continue; /* the empty page's one row */
		ac->fill(r, i, ac->out, ac->n++);
	}
	PQclear(r);
	return 0;
}

/* What subjects_all, tags_all and deliveries_failed share: the checks,
 * the parameters ($1 search, $2 offset, $3 limit) and the call. ac has
 * the work's own fields set. */
static int run_all(void *self, const char *what, storage_work_fn fn,
		   struct all_call *ac, const char *search, int offset,
		   void *out, size_t max, size_t *n, int *total)
{
	char off[16], lim[16];
	int rc;

	if (!storage_list_begin(n, total, out, max) || offset < 0 ||
	    !search_valid(search))
		return KERYU_EINVAL;
	storage_page_args(off, lim, offset, LIMIT_MAX, max);
	ac->v[0] = search ? search : "";
	ac->v[1] = off;
	ac->v[2] = lim;
	ac->out = out;
	rc = storage_pool_run(self, what, fn, ac);
	if (rc)
		return rc;
	*n = ac->n;
	*total = ac->total;
	return 0;
}

static void fill_subject(PGresult *r, int row, void *out, size_t idx)
{
	struct keryu_admin_subject *o = (struct keryu_admin_subject *)out + idx;

	memset(o, 0, sizeof(*o));
	storage_subject_fill_summary(r, row, &o->s);
	storage_copy_text(o->custodian_id, sizeof(o->custodian_id),
			  PQgetvalue(r, row, 8));
	storage_copy_text(o->custodian_email, sizeof(o->custodian_email),
			  PQgetvalue(r, row, 9));
}

int storage_subjects_all(void *self, const char *search, int offset,
			 struct keryu_admin_subject *out, size_t max, size_t *n,
			 int *total)
{
	struct all_call ac = {
		.what = "subjects_all",
		.sql = "WITH m AS (SELECT s.id, s.name, s.is_active, s.photo, "
		       "  s.created_at, k.id AS cid, k.email FROM subjects s "
		       "  JOIN custodians k ON k.id = s.custodian_id "
		       "  WHERE $1::text = '' "
		       "  OR strpos(lower(s.name), lower($1::text)) > 0 "
		       "  OR strpos(lower(k.email), lower($1::text)) > 0), "
		       "pg AS (SELECT * FROM m ORDER BY created_at DESC, id DESC "
		       "  OFFSET $2::int LIMIT $3::int) "
		       "SELECT (SELECT count(*) FROM m), pg.id::text, pg.name, "
		       "pg.is_active, coalesce(pg.photo, '') <> '', "
		       "(SELECT count(*) FROM subject_qr_codes q "
		       "  WHERE q.subject_id = pg.id AND q.is_active), "
		       "(SELECT count(*) FROM alarms a WHERE a.subject_id = pg.id "
		       "  AND a.resolved_at IS NULL), "
		       "coalesce((SELECT " STORAGE_ISO_UTC("max(a.scanned_at)") " "
		       "  FROM alarms a WHERE a.subject_id = pg.id), ''), "
		       "pg.cid::text, pg.email "
		       "FROM (SELECT 1) one LEFT JOIN pg ON true "
		       "ORDER BY pg.created_at DESC, pg.id DESC",
		.fill = fill_subject,
	};

	return run_all(self, "subjects_all", page_work, &ac, search, offset,
		       out, max, n, total);
}

static void fill_tag(PGresult *r, int row, void *out, size_t idx)
{
	struct keryu_admin_tag *o = (struct keryu_admin_tag *)out + idx;

	memset(o, 0, sizeof(*o));
	storage_tag_fill(r, row, 1, &o->t);
	storage_copy_text(o->subject_name, sizeof(o->subject_name),
			  PQgetvalue(r, row, 8));
	storage_copy_text(o->custodian_id, sizeof(o->custodian_id),
			  PQgetvalue(r, row, 9));
	storage_copy_text(o->custodian_email, sizeof(o->custodian_email),
			  PQgetvalue(r, row, 10));
}

int storage_tags_all(void *self, const char *search, int offset,
		     struct keryu_admin_tag *out, size_t max, size_t *n,
		     int *total)
{
	struct all_call ac = {
		.what = "tags_all",
		.sql = "WITH m AS (SELECT q.*, s.name AS sname, k.id AS cid, "
		       "  k.email FROM subject_qr_codes q "
		       "  JOIN subjects s ON s.id = q.subject_id "
		       "  JOIN custodians k ON k.id = s.custodian_id "
		       "  WHERE $1::text = '' "
		       "  OR strpos(q.short_code::text, upper($1::text)) > 0 "
		       "  OR strpos(lower(s.name), lower($1::text)) > 0 "
		       "  OR strpos(lower(k.email), lower($1::text)) > 0), "
		       "pg AS (SELECT * FROM m ORDER BY created_at DESC, uuid DESC "
		       "  OFFSET $2::int LIMIT $3::int) "
		       "SELECT (SELECT count(*) FROM m), " STORAGE_TAG_COLS("pg")
		       ", pg.sname, pg.cid::text, pg.email "
		       "FROM (SELECT 1) one LEFT JOIN pg ON true "
		       "ORDER BY pg.created_at DESC, pg.uuid DESC",
		.fill = fill_tag,
	};

	return run_all(self, "tags_all", page_work, &ac, search, offset, out,
		       max, n, total);
}

/* ---- alarms_all ---- */

struct alarms_call {
	struct storage_alarm_query q; /* for every custodian */
	struct keryu_admin_alarm *out;
	size_t n;
};

static int alarms_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct alarms_call *ac = arg;
	PGresult *r;
	int rc, i, rows;

	rc = storage_alarm_query_page(
		p, c, "alarms_all.count", "alarms_all",
		"SELECT " STORAGE_ALARM_SUMMARY_COLS ", s.custodian_id::text, "
		"(SELECT k.email FROM custodians k "
		"  WHERE k.id = s.custodian_id) " STORAGE_ALARM_FILTER_SQL
		"ORDER BY a.scanned_at DESC, a.id DESC "
		"OFFSET $6::int LIMIT $7::int",
		&ac->q, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		struct keryu_admin_alarm *o = &ac->out[i];

		memset(o, 0, sizeof(*o));
		storage_alarm_fill_summary(r, i, &o->s);
		storage_copy_text(o->custodian_id, sizeof(o->custodian_id),
				  PQgetvalue(r, i, 7));
		storage_copy_text(o->custodian_email,
				  sizeof(o->custodian_email),
				  PQgetvalue(r, i, 8));
	}
	ac->n = (size_t)rows;
	PQclear(r);
	return 0;
}

int storage_alarms_all(void *self, const struct keryu_alarm_filter *f,
		       struct keryu_admin_alarm *out, size_t max, size_t *n,
		       int *total)
{
	struct alarms_call ac;
	int rc;

	if (!storage_list_begin(n, total, out, max) || !f ||
	    !storage_alarm_filter_valid(f))
		return KERYU_EINVAL;
	memset(&ac, 0, sizeof(ac));
	storage_alarm_query_init(&ac.q, NULL, f, max);
	ac.out = out;
	rc = storage_pool_run(self, "alarms_all", alarms_work, &ac);
	if (rc)
		return rc;
	*n = ac.n;
	*total = ac.q.total;
	return 0;
}

/* ---- deliveries_failed ---- */

/* Failed for good: FAILED, or an ERROR after which the channel said it
 * will not try again (no retry hint). */
#define FAILED_WHERE                                                           \
	"(n.status = 'FAILED' "                                                \
	"OR (n.status = 'ERROR' AND NOT coalesce(n.retry_hint, false)))"

static int failed_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct all_call *ac = arg;
	struct keryu_failed_delivery *out = ac->out;
	PGresult *r;
	int rc, i, rows;

	rc = storage_db_count(p, c, "deliveries_failed.count",
			      "SELECT count(*) FROM notifications n "
			      "WHERE " FAILED_WHERE,
			      0, NULL, &ac->total);
	if (rc)
		return rc;
	rc = storage_db_exec(
		p, c, "deliveries_failed",
		"SELECT n.id::text, coalesce(n.alarm_id::text, ''), "
		"coalesce(s.name, ''), k.email, "
		"CASE WHEN n.purpose = 'code' THEN 'code' ELSE n.kind END, "
		"n.channel, " PHONE_HINT("n.recipient") ", n.status, "
		"n.attempts, coalesce(n.last_error_code, ''), "
		"coalesce(n.last_error, ''), " STORAGE_ISO_UTC("n.updated_at")
		", coalesce(n.retried_as::text, '') "
		"FROM notifications n JOIN custodians k ON k.id = n.custodian_id "
		"LEFT JOIN alarms a ON a.id = n.alarm_id "
		"LEFT JOIN subjects s ON s.id = a.subject_id "
		"WHERE " FAILED_WHERE " "
		"ORDER BY n.updated_at DESC, n.id DESC "
		"OFFSET $1::int LIMIT $2::int",
		2, &ac->v[1], &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		struct keryu_failed_delivery *o = &out[i];

		memset(o, 0, sizeof(*o));
		storage_copy_text(o->notification_id,
				  sizeof(o->notification_id),
				  PQgetvalue(r, i, 0));
		storage_copy_text(o->alarm_id, sizeof(o->alarm_id),
				  PQgetvalue(r, i, 1));
		storage_copy_text(o->subject_name, sizeof(o->subject_name),
				  PQgetvalue(r, i, 2));
		storage_copy_text(o->custodian_email,
				  sizeof(o->custodian_email),
				  PQgetvalue(r, i, 3));
		storage_copy_text(o->kind, sizeof(o->kind), PQgetvalue(r, i, 4));
		storage_copy_text(o->channel, sizeof(o->channel),
				  PQgetvalue(r, i, 5));
		storage_copy_text(o->recipient_hint, sizeof(o->recipient_hint),
				  PQgetvalue(r, i, 6));
		storage_copy_text(o->status, sizeof(o->status),
				  PQgetvalue(r, i, 7));
		o->attempt = atoi(PQgetvalue(r, i, 8));
		storage_copy_text(o->error_code, sizeof(o->error_code),
				  PQgetvalue(r, i, 9));
		storage_copy_text(o->error_text, sizeof(o->error_text),
				  PQgetvalue(r, i, 10));
		storage_copy_text(o->updated_at, sizeof(o->updated_at),
				  PQgetvalue(r, i, 11));
		storage_copy_text(o->retried_as, sizeof(o->retried_as),
				  PQgetvalue(r, i, 12));
	}
	ac->n = (size_t)rows;
	PQclear(r);
	return 0;
}

int storage_deliveries_failed(void *self, int offset,
			      struct keryu_failed_delivery *out, size_t max,
			      size_t *n, int *total)
{
	struct all_call ac;

	memset(&ac, 0, sizeof(ac));
	return run_all(self, "deliveries_failed", failed_work, &ac, NULL,
		       offset, out, max, n, total);
}

/* ---- notification_retry ---- */

struct retry_call {
	const char *id;
	char alarm_id[KERYU_UUID_LEN];
	char new_id[KERYU_UUID_LEN];
};

/* Locks the failed row (its alarm first, the order every writer of
 * notifications keeps) and says whether it may be retried. */
static int retry_lock(struct storage_pool *p, PGconn *c,
		      struct retry_call *rt, char detail[160])
{
	const char *v[] = {rt->id};
	PGresult *r;
	int rc;
	bool ok;

	rc = storage_notification_lock_alarm(p, c, rt->id, rt->alarm_id);
	if (rc)
		return rc;
	/* a code's text is not stored: there is nothing to send again */
	if (!rt->alarm_id[0])
		return KERYU_ECONFLICT;
	/* FOR UPDATE: a second "retry now" waits here, then sees
	 * retried_as set. The person must still be one notify_due would
	 * alert: a contact still there, verified, with the same phone; the
	 * custodian reachable on the channel at the same phone. */
	rc = storage_db_row(
		p, c, "retry.lock",
		"SELECT " FAILED_WHERE " AND n.retried_as IS NULL "
		"AND CASE WHEN n.contact_id IS NOT NULL THEN EXISTS (SELECT 1 "
		"  FROM contacts k WHERE k.id = n.contact_id "
		"  AND k.verified_at IS NOT NULL AND k.phone_e164 = n.recipient) "
		"ELSE EXISTS (SELECT 1 FROM custodians c "
		"  WHERE c.id = n.custodian_id AND c.phone_e164 = n.recipient "
		"  AND " STORAGE_CUSTODIAN_REACHES("n.channel") ") END, "
		"n.channel, n.status, coalesce(n.last_error_code, '') "
		"FROM notifications n WHERE n.id = $1::uuid FOR UPDATE OF n",
		1, v, &r);
	if (rc)
		return rc;
	ok = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	snprintf(detail, 160, "%.31s %.15s%s%.31s; retried by staff",
		 PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
		 PQgetvalue(r, 0, 3)[0] ? ": " : "", PQgetvalue(r, 0, 3));
	PQclear(r);
	return ok ? 0 : KERYU_ECONFLICT;
}

static int retry_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct retry_call *rt = arg;
	const char *v[2];
	char detail[160];
	PGresult *r;
	int rc;

	rt->new_id[0] = '\0';
	rc = retry_lock(p, c, rt, detail);
	if (!rc)
		rc = storage_db_exec(p, c, "retry.new_id",
				     "SELECT gen_random_uuid()::text", 0, NULL,
				     &r);
	if (rc)
		return rc;
	storage_copy_text(rt->new_id, sizeof(rt->new_id), PQgetvalue(r, 0, 0));
	PQclear(r);
	v[0] = rt->id;
	v[1] = rt->new_id;
	/* The failed row first leaves the one-live-row rule (retried_as set;
	 * the key is checked at commit), with nothing left for notify_due
	 * to do about it: no lease, no follow-up — the retry is followed up
	 * if it fails too (an alert; a finder's follow-up never is). Then
	 * the retry: the same alarm, person, channel, kind and data, PENDING
	 * with a lease that has already run out, so that notify_due's next
	 * round publishes it. */
	rc = storage_db_exec(p, c, "retry.link",
			     "UPDATE notifications SET retried_as = $2::uuid, "
			     "lease_until = NULL, followed_up = true "
			     "WHERE id = $1::uuid",
			     2, v, NULL);
	if (!rc)
		rc = storage_db_exec(
			p, c, "retry.insert",
			"INSERT INTO notifications (id, alarm_id, custodian_id, "
			"contact_id, channel, recipient, purpose, kind, detail, "
			"step, fallback_of, status, attempts, lease_until, "
			"followed_up) "
			"SELECT $2::uuid, alarm_id, custodian_id, contact_id, "
			"channel, recipient, purpose, kind, detail, step, "
			"fallback_of, 'PENDING', 0, now(), kind <> 'alert' "
			"FROM notifications WHERE id = $1::uuid",
			2, v, NULL);
	if (!rc)
		rc = storage_alarm_event(p, c, rt->alarm_id, "RETRIED",
					 rt->new_id, detail);
	if (!rc)
		rc = storage_alarm_summarise(p, c, rt->alarm_id);
	return rc;
}

int storage_notification_retry(void *self, const char *id,
			       char new_id[KERYU_UUID_LEN])
{
	struct storage_pool *p = self;
	struct retry_call rt;
	int rc;

	if (new_id)
		new_id[0] = '\0';
	if (!new_id || !keryu_uuid_valid(id))
		return KERYU_EINVAL;
	memset(&rt, 0, sizeof(rt));
	rt.id = id;
	rc = storage_pool_run_tx(p, "notification_retry", retry_work, &rt);
	if (rc)
		return rc;
	storage_copy_text(new_id, KERYU_UUID_LEN, rt.new_id);
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.notification_retried",
				  "notification_id=%s retry_id=%s alarm_id=%s",
				  id, rt.new_id, rt.alarm_id);
	return 0;
}
