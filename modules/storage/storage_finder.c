/* The finder's side (issue 5): what the public scan page may show of a
 * tag's subject, the finder's location and report attached to the alarm
 * of their scan, the alert's state for the finder's page, the follow-up
 * notifications that carry the finder's data to everyone already alerted,
 * and the retention purge of the finder's data.
 *
 * A scan that joined an open alarm within the cooldown (joined_alarm_id)
 * has no notifications of its own: its finder's posts are attached to,
 * and its status read from, the open alarm it joined, which is the one
 * that alerted people. So two finders of the same open alarm share it:
 * the second location (or report) is a replay (ECONFLICT). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* The alarm's best alert notification, for the finder: FAILED only when
 * every one failed (as the alarm's summary, storage_notifications.c). */
#define BEST_RANK(x)                                                           \
	"(CASE " x " WHEN 'FAILED' THEN -1 WHEN 'PENDING' THEN 0 "             \
	"WHEN 'QUEUED' THEN 1 WHEN 'ERROR' THEN 1 WHEN 'SENT' THEN 2 "         \
	"WHEN 'DELIVERED' THEN 3 ELSE 4 END)"

/* ---- tag_public ---- */

struct pub {
	const char *qr_uuid;
	struct keryu_public_subject *out;
};

static int public_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct pub *pb = arg;
	struct keryu_public_subject *o = pb->out;
	const char *v[] = {pb->qr_uuid};
	unsigned f;
	PGresult *r;
	int rc;

	/* The custodian's phone only when verified: an unverified number
	 * could be anyone's. */
	rc = storage_db_row(
		p, c, "tag_public",
		"SELECT q.uuid::text, s.id::text, s.public_fields, s.missing, "
		"coalesce(substring(s.name from '^\\s*(\\S+)'), ''), s.name, "
		"coalesce(s.photo, ''), coalesce(s.care_instructions, ''), "
		"coalesce(s.medical_conditions, ''), coalesce(s.allergies, ''), "
		"coalesce(s.medications, ''), coalesce(s.doctor_name, ''), "
		"coalesce(s.doctor_phone, ''), "
		"CASE WHEN c.phone_verified_at IS NOT NULL "
		"  THEN c.phone_e164 ELSE '' END "
		"FROM subject_qr_codes q JOIN subjects s ON s.id = q.subject_id "
		"JOIN custodians c ON c.id = s.custodian_id "
		"WHERE q.uuid = $1::uuid AND q.is_active AND s.is_active",
		1, v, &r);
	if (rc)
		return rc;
	memset(o, 0, sizeof(*o));
	f = (unsigned)strtoul(PQgetvalue(r, 0, 2), NULL, 10) & KERYU_PUB_ALL;
	storage_copy_text(o->qr_uuid, sizeof(o->qr_uuid), PQgetvalue(r, 0, 0));
	storage_copy_text(o->subject_id, sizeof(o->subject_id),
			  PQgetvalue(r, 0, 1));
	o->public_fields = f;
	o->missing = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	storage_copy_text(o->first_name, sizeof(o->first_name),
			  PQgetvalue(r, 0, 4));
	/* only what the custodian chose is copied: the rest stays "" */
	if (f & KERYU_PUB_FULL_NAME)
		storage_copy_text(o->full_name, sizeof(o->full_name),
				  PQgetvalue(r, 0, 5));
	if (f & KERYU_PUB_PHOTO)
		storage_copy_text(o->photo, sizeof(o->photo),
				  PQgetvalue(r, 0, 6));
	if (f & KERYU_PUB_CARE)
		storage_copy_text(o->care_instructions,
				  sizeof(o->care_instructions),
				  PQgetvalue(r, 0, 7));
	if (f & KERYU_PUB_MEDICAL)
		storage_copy_text(o->medical_conditions,
				  sizeof(o->medical_conditions),
				  PQgetvalue(r, 0, 8));
	if (f & KERYU_PUB_ALLERGIES)
		storage_copy_text(o->allergies, sizeof(o->allergies),
				  PQgetvalue(r, 0, 9));
	if (f & KERYU_PUB_MEDICATIONS)
		storage_copy_text(o->medications, sizeof(o->medications),
				  PQgetvalue(r, 0, 10));
	if (f & KERYU_PUB_DOCTOR) {
		storage_copy_text(o->doctor_name, sizeof(o->doctor_name),
				  PQgetvalue(r, 0, 11));
		storage_copy_text(o->doctor_phone, sizeof(o->doctor_phone),
				  PQgetvalue(r, 0, 12));
	}
	if (f & KERYU_PUB_CUSTODIAN_PHONE)
		storage_copy_text(o->custodian_phone,
				  sizeof(o->custodian_phone),
				  PQgetvalue(r, 0, 13));
	PQclear(r);
	return 0;
}

int storage_tag_public(void *self, const char *qr_uuid,
		       struct keryu_public_subject *out)
{
	struct pub pb = {qr_uuid, out};

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(qr_uuid))
		return KERYU_EINVAL;
	return storage_pool_run(self, "tag_public", public_work, &pb);
}

/* ---- the scan's alarm ---- */

/* The alarm a finder's scan speaks to: the scan's own, or the open alarm
 * it joined. ENOTFOUND when event_id is no scan of qr_uuid. With lock,
 * the target alarm's row is locked (alarm rows first, as everywhere). */
static int scan_target(struct storage_pool *p, PGconn *c, const char *event_id,
		       const char *qr_uuid, bool lock,
		       char target[KERYU_UUID_LEN])
{
	const char *v[] = {event_id, qr_uuid};
	const char *vt[] = {target};
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "finder.scan",
			    "SELECT coalesce(joined_alarm_id, id)::text "
			    "FROM alarms WHERE event_id = $1::uuid "
			    "AND qr_uuid = $2::uuid",
			    2, v, &r);
	if (rc)
		return rc;
	storage_copy_text(target, KERYU_UUID_LEN, PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!lock)
		return 0;
	return storage_db_one(p, c, "finder.lock",
			      "SELECT 1 FROM alarms WHERE id = $1::uuid "
			      "FOR NO KEY UPDATE",
			      1, vt);
}

/* ---- finder_attach ---- */

static const char *const situations[] = {"injured", "lost", "contact", "test"};

static bool situation_valid(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(situations) / sizeof(situations[0]); i++)
		if (strcmp(s, situations[i]) == 0)
			return true;
	return false;
}

struct attach {
	const struct keryu_finder_post *post;
	char lat[32], lng[32], acc[32], loc[100];
	bool has_acc;
	char alarm_id[KERYU_UUID_LEN];
};

static int attach_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct attach *a = arg;
	const struct keryu_finder_post *post = a->post;
	PGresult *r;
	int rc, rows;

	a->alarm_id[0] = '\0';
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = scan_target(p, c, post->scan_event_id, post->qr_uuid, true,
				 a->alarm_id);
	if (rc)
		goto fail;
	/* Each kind once per alarm: the WHERE makes a replay update nothing. */
	if (post->kind == KERYU_FINDER_LOCATION) {
		const char *v[] = {a->alarm_id, a->lat, a->lng,
				   a->has_acc ? a->acc : NULL, a->loc};

		rc = storage_db_exec(
			p, c, "finder.location",
			"UPDATE alarms SET latitude = $2::float8, "
			"longitude = $3::float8, accuracy_m = $4::float8, "
			"location = $5, location_at = now() "
			"WHERE id = $1::uuid AND location_at IS NULL "
			"RETURNING 1",
			5, v, &r);
	} else {
		const char *v[] = {a->alarm_id, post->situation,
				   post->text[0] ? post->text : NULL};

		/* "just testing": a test alarm, which never escalates */
		rc = storage_db_exec(
			p, c, "finder.report",
			"UPDATE alarms SET report_situation = $2, "
			"report_text = $3, report_at = now(), "
			"is_test = is_test OR $2 = 'test', "
			"escalation_done = escalation_done OR $2 = 'test' "
			"WHERE id = $1::uuid AND report_at IS NULL "
			"RETURNING 1",
			3, v, &r);
	}
	if (rc)
		goto fail;
	rows = PQntuples(r);
	PQclear(r);
	if (rows != 1) {
		rc = KERYU_ECONFLICT;
		goto fail;
	}
	rc = storage_db_commit(p, c);
	if (!rc)
		return 0;
fail:
	storage_db_rollback(p, c);
	return rc;
}

/* True when the post's own fields are acceptable; fills a's text forms. */
static bool post_valid(const struct keryu_finder_post *post, struct attach *a)
{
	if (!memchr(post->scan_event_id, '\0', sizeof(post->scan_event_id)) ||
	    !memchr(post->qr_uuid, '\0', sizeof(post->qr_uuid)) ||
	    !keryu_uuid_valid(post->scan_event_id) ||
	    !keryu_uuid_valid(post->qr_uuid))
		return false;
	if (post->kind == KERYU_FINDER_LOCATION) {
		if (!isfinite(post->lat) || !isfinite(post->lng) ||
		    post->lat < -90 || post->lat > 90 || post->lng < -180 ||
		    post->lng > 180)
			return false;
		/* NaN: the browser did not say; otherwise a distance */
		a->has_acc = !isnan(post->accuracy_m);
		if (a->has_acc &&
		    (!isfinite(post->accuracy_m) || post->accuracy_m < 0))
			return false;
		snprintf(a->lat, sizeof(a->lat), "%.9g", post->lat);
		snprintf(a->lng, sizeof(a->lng), "%.9g", post->lng);
		snprintf(a->acc, sizeof(a->acc), "%.9g",
			 a->has_acc ? post->accuracy_m : 0.0);
		snprintf(a->loc, sizeof(a->loc), "%.6f,%.6f", post->lat,
			 post->lng);
		return true;
	}
	if (post->kind != KERYU_FINDER_REPORT)
		return false;
	if (!memchr(post->situation, '\0', sizeof(post->situation)) ||
	    !situation_valid(post->situation) ||
	    !memchr(post->text, '\0', sizeof(post->text)))
		return false;
	/* 500 bytes, UTF-8, no control characters but tab and line breaks */
	return storage_text_valid(post->text, 500);
}

int storage_finder_attach(void *self, const struct keryu_finder_post *post,
			  char alarm_id[KERYU_UUID_LEN])
{
	struct storage_pool *p = self;
	struct attach a;
	int rc;

	if (!alarm_id)
		return KERYU_EINVAL;
	alarm_id[0] = '\0';
	memset(&a, 0, sizeof(a));
	if (!post || !post_valid(post, &a))
		return KERYU_EINVAL;
	a.post = post;
	rc = storage_pool_run(p, "finder_attach", attach_work, &a);
	storage_pool_host(p)->log(
		storage_pool_mod(p), rc ? KERYU_LOG_WARN : KERYU_LOG_INFO,
		"storage.finder_attach",
		"event_id=%s alarm_id=%s kind=%s situation=%s rc=%d",
		post->scan_event_id, a.alarm_id[0] ? a.alarm_id : "none",
		post->kind == KERYU_FINDER_LOCATION ? "location" : "report",
		post->kind == KERYU_FINDER_REPORT ? post->situation : "-", rc);
	if (rc)
		return rc;
	memcpy(alarm_id, a.alarm_id, KERYU_UUID_LEN);
	return 0;
}

/* ---- finder_status ---- */

struct status_call {
	const char *event_id, *qr_uuid;
	struct keryu_finder_status out;
};

static int status_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct status_call *sc = arg;
	const char *v[] = {sc->event_id, sc->qr_uuid};
	PGresult *r;
	int rc;

	/* one statement: one snapshot of the alarm and its alerts */
	rc = storage_db_row(
		p, c, "finder.status",
		"SELECT t.id::text, coalesce(b.status, ''), "
		"coalesce(" STORAGE_ISO_UTC("t.acknowledged_at") ", ''), "
		"t.location_at IS NOT NULL, t.report_at IS NOT NULL, t.is_test "
		"FROM alarms s JOIN alarms t "
		"  ON t.id = coalesce(s.joined_alarm_id, s.id) "
		"LEFT JOIN LATERAL (SELECT status FROM notifications "
		"  WHERE alarm_id = t.id AND kind = 'alert' "
		"  ORDER BY " BEST_RANK("status") " DESC, updated_at DESC, id "
		"  LIMIT 1) b ON true "
		"WHERE s.event_id = $1::uuid AND s.qr_uuid = $2::uuid",
		2, v, &r);
	if (rc)
		return rc;
	storage_copy_text(sc->out.alarm_id, sizeof(sc->out.alarm_id),
			  PQgetvalue(r, 0, 0));
	storage_copy_text(sc->out.status, sizeof(sc->out.status),
			  PQgetvalue(r, 0, 1));
	storage_copy_text(sc->out.acknowledged_at,
			  sizeof(sc->out.acknowledged_at), PQgetvalue(r, 0, 2));
	sc->out.has_location = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	sc->out.has_report = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	sc->out.is_test = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	PQclear(r);
	return 0;
}

int storage_finder_status(void *self, const char *scan_event_id,
			  const char *qr_uuid, struct keryu_finder_status *out)
{
	struct status_call sc;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(scan_event_id) || !keryu_uuid_valid(qr_uuid))
		return KERYU_EINVAL;
	memset(&sc, 0, sizeof(sc));
	sc.event_id = scan_event_id;
	sc.qr_uuid = qr_uuid;
	rc = storage_pool_run(self, "finder_status", status_work, &sc);
	if (!rc)
		*out = sc.out;
	return rc;
}

/* ---- followups ---- */

struct follow {
	const char *alarm_id, *kind;
	char lease[16], limit[16];
	struct keryu_notify_job *jobs;
	size_t max, n;
};

/* The follow-up's detail from the alarm's row; "" when the alarm has no
 * such data (never posted, or cleared by retention). */
static void make_detail(const struct follow *f, PGresult *r, char *detail,
			size_t size)
{
	detail[0] = '\0';
	if (strcmp(f->kind, "location") == 0) {
		double lat, lng;
		int len;

		if (PQgetisnull(r, 0, 2) || PQgetisnull(r, 0, 3) ||
		    PQgetisnull(r, 0, 0))
			return;
		lat = strtod(PQgetvalue(r, 0, 2), NULL);
		lng = strtod(PQgetvalue(r, 0, 3), NULL);
		len = snprintf(detail, size, "%.6f,%.6f", lat, lng);
		if (!PQgetisnull(r, 0, 4) && len > 0 && (size_t)len < size)
			snprintf(detail + len, size - (size_t)len, ",%.0f",
				 strtod(PQgetvalue(r, 0, 4), NULL));
		return;
	}
	if (PQgetisnull(r, 0, 1) || PQgetisnull(r, 0, 5))
		return;
	if (PQgetisnull(r, 0, 6) || !PQgetvalue(r, 0, 6)[0])
		snprintf(detail, size, "%s", PQgetvalue(r, 0, 5));
	else
		snprintf(detail, size, "%s: %s", PQgetvalue(r, 0, 5),
			 PQgetvalue(r, 0, 6));
}

static int follow_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct follow *f = arg;
	const char *va[] = {f->alarm_id};
	char detail[600], name[101], scanned[KERYU_TIME_LEN];
	PGresult *r;
	int rc, i, rows;

	f->n = 0;
	rc = storage_db_begin(p, c);
	if (rc)
		return rc;
	/* the alarm row first, as everywhere that adds to it */
	rc = storage_db_row(
		p, c, "followups.alarm",
		"SELECT a.location_at, a.report_at, a.latitude, a.longitude, "
		"a.accuracy_m, a.report_situation, a.report_text, s.name, "
		STORAGE_ISO_UTC("a.scanned_at") " "
		"FROM alarms a JOIN subjects s ON s.id = a.subject_id "
		"WHERE a.id = $1::uuid FOR NO KEY UPDATE OF a",
		1, va, &r);
	if (rc)
		goto fail;
	make_detail(f, r, detail, sizeof(detail));
	storage_copy_text(name, sizeof(name), PQgetvalue(r, 0, 7));
	storage_copy_text(scanned, sizeof(scanned), PQgetvalue(r, 0, 8));
	PQclear(r);
	if (!detail[0]) {
		storage_db_rollback(p, c);
		return 0; /* nothing to tell */
	}
	{
		const char *v[] = {f->alarm_id, f->kind, detail, f->lease,
				   f->limit};

		/* Everyone the alarm alerted and who did not fail for good,
		 * once per phone, channel and kind; never followed up
		 * itself (no fallback, no escalation). LIMIT: nothing is
		 * created that the caller does not get back. */
		rc = storage_db_exec(
			p, c, "followups.insert",
			"WITH n AS (INSERT INTO notifications (alarm_id, "
			"  custodian_id, contact_id, channel, recipient, step, "
			"  kind, detail, status, attempts, queued_at, "
			"  lease_until, followed_up) "
			"  SELECT alarm_id, custodian_id, contact_id, channel, "
			"  recipient, step, $2, $3, 'QUEUED', 1, now(), "
			"  now() + $4::int * interval '1 second', true "
			"  FROM notifications a WHERE a.alarm_id = $1::uuid "
			"  AND a.kind = 'alert' AND a.status <> 'FAILED' "
			"  AND a.retried_as IS NULL "
			"  AND NOT EXISTS (SELECT 1 FROM notifications d "
			"    WHERE d.alarm_id = $1::uuid "
			"    AND d.recipient = a.recipient "
			"    AND d.channel = a.channel AND d.kind = $2) "
			"  ORDER BY a.step, a.created_at, a.id LIMIT $5::int "
			"  ON CONFLICT (alarm_id, recipient, channel, kind) "
			"  WHERE alarm_id IS NOT NULL AND retried_as IS NULL "
			"  DO NOTHING "
			"  RETURNING id, channel, recipient, step), "
			/* the alarm's timeline says what this one carries */
			"e AS (INSERT INTO notification_events "
			"  (notification_id, status, attempt, error_text) "
			"  SELECT id, 'QUEUED', 1, 'follow-up: ' || $2 FROM n) "
			"SELECT id::text, channel, recipient, step FROM n "
			"ORDER BY step, id",
			5, v, &r);
	}
	if (rc)
		goto fail;
	rows = PQntuples(r);
	for (i = 0; i < rows && f->n < f->max; i++) {
		struct keryu_notify_job *j = &f->jobs[f->n++];

		memset(j, 0, sizeof(*j));
		storage_copy_text(j->kind, sizeof(j->kind), f->kind);
		storage_copy_text(j->detail, sizeof(j->detail), detail);
		storage_copy_text(j->notification_id,
				  sizeof(j->notification_id),
				  PQgetvalue(r, i, 0));
		storage_copy_text(j->alarm_id, sizeof(j->alarm_id),
				  f->alarm_id);
		storage_copy_text(j->channel, sizeof(j->channel),
				  PQgetvalue(r, i, 1));
		storage_copy_text(j->recipient, sizeof(j->recipient),
				  PQgetvalue(r, i, 2));
		j->attempt = 1;
		j->step = atoi(PQgetvalue(r, i, 3));
		storage_copy_text(j->subject_name, sizeof(j->subject_name),
				  name);
		storage_copy_text(j->scanned_at, sizeof(j->scanned_at),
				  scanned);
	}
	PQclear(r);
	rc = storage_db_commit(p, c);
	if (!rc)
		return 0;
fail:
	f->n = 0;
	storage_db_rollback(p, c);
	return rc;
}

int storage_followups(void *self, const char *alarm_id, const char *kind,
		      int lease_s, struct keryu_notify_job *jobs, size_t max,
		      size_t *n)
{
	struct storage_pool *p = self;
	struct follow f;
	int rc;

	if (n)
		*n = 0;
	if (!n || !keryu_uuid_valid(alarm_id) || !kind ||
	    (strcmp(kind, "location") != 0 && strcmp(kind, "report") != 0) ||
	    lease_s < 1 || (max && !jobs))
		return KERYU_EINVAL;
	if (!max)
		return 0;
	if (max > 1000)
		max = 1000;
	memset(&f, 0, sizeof(f));
	f.alarm_id = alarm_id;
	f.kind = kind;
	f.jobs = jobs;
	f.max = max;
	snprintf(f.lease, sizeof(f.lease), "%d", lease_s);
	snprintf(f.limit, sizeof(f.limit), "%zu", max);
	rc = storage_pool_run(p, "followups", follow_work, &f);
	if (rc)
		return rc;
	*n = f.n;
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.followups",
				  "alarm_id=%s kind=%s jobs=%zu", alarm_id,
				  kind, f.n);
	return 0;
}

/* ---- retention ---- */

/* An alarm that still holds finder data (alarms_finder_data_idx's
 * predicate, word for word, so the index serves the purge). */
#define HAS_FINDER_DATA                                                        \
	"(latitude IS NOT NULL OR longitude IS NOT NULL "                      \
	"OR accuracy_m IS NOT NULL OR location IS NOT NULL "                   \
	"OR ip_hash IS NOT NULL OR user_agent IS NOT NULL "                    \
	"OR report_text IS NOT NULL)"

#define PURGE_BATCH 1000 /* as the LIMIT of purge_work's query */

struct purge {
	char days[16];
	long batch;
};

static int purge_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct purge *pu = arg;
	const char *v[] = {pu->days};
	PGresult *r;
	int rc;

	/* One batch in one statement (its own transaction): the alarms'
	 * data, and the copies the follow-ups carried. An alarm another
	 * transaction holds waits for the next run. */
	rc = storage_db_exec(
		p, c, "purge.batch",
		"WITH b AS (SELECT id FROM alarms "
		"  WHERE scanned_at < now() - $1::int * interval '1 day' "
		"  AND " HAS_FINDER_DATA " "
		"  ORDER BY scanned_at LIMIT 1000 "
		"  FOR NO KEY UPDATE SKIP LOCKED), "
		"u AS (UPDATE alarms a SET latitude = NULL, longitude = NULL, "
		"  accuracy_m = NULL, location = NULL, ip_hash = NULL, "
		"  user_agent = NULL, report_text = NULL "
		"  FROM b WHERE a.id = b.id RETURNING a.id), "
		"d AS (UPDATE notifications n SET detail = NULL "
		"  FROM u WHERE n.alarm_id = u.id AND n.detail IS NOT NULL) "
		"SELECT count(*) FROM u",
		1, v, &r);
	if (rc)
		return rc;
	pu->batch = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int storage_purge_finder_data(void *self, int days, long *rows)
{
	struct storage_pool *p = self;
	struct purge pu;
	long total = 0;
	int rc;

	if (rows)
		*rows = 0;
	if (!rows || days < 0)
		return KERYU_EINVAL;
	memset(&pu, 0, sizeof(pu));
	snprintf(pu.days, sizeof(pu.days), "%d", days);
	do {
		rc = storage_pool_run(p, "purge_finder_data", purge_work, &pu);
		if (!rc)
			total += pu.batch;
	} while (!rc && pu.batch >= PURGE_BATCH);
	*rows = total;
	storage_pool_host(p)->log(storage_pool_mod(p),
				  rc ? KERYU_LOG_WARN : KERYU_LOG_INFO,
				  "storage.finder_data_purged",
				  "days=%d rows=%ld rc=%d", days, total, rc);
	return rc;
}
