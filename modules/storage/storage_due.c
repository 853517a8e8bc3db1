/* notify_due: the alarms module's periodic delivery work (keryu/storage.h)
 * — re-driving requests whose lease ran out, following up notifications
 * that failed for good (fallback channel, else escalation), and escalating
 * alarms whose deadlines passed — plus the routing every alarm step uses.
 *
 * Several alarms instances may call it at once: every row is claimed with
 * FOR NO KEY UPDATE ... SKIP LOCKED, so an instance never waits for
 * another and never sees a row another is handling; a claimed row leaves
 * its work list (fresh lease, followed_up, a new step) before the claim
 * is released. Each phase is one short transaction; the jobs of a phase
 * count only once it committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

int storage_next_recipient(struct storage_pool *p, PGconn *c,
			   const char *alarm_id, const char *channel,
			   struct storage_recipient *out, bool *found)
{
	const char *v[] = {alarm_id, channel};
	PGresult *r;
	int rc;

	memset(out, 0, sizeof(*out));
	*found = false;
	rc = storage_db_exec(
		p, c, "route.next",
		"SELECT r.custodian_id::text, coalesce(r.contact_id::text, ''), "
		"r.phone, r.channel FROM ("
		"  SELECT 0 AS ord, 0 AS pos, now() AS created, "
		"  c.id AS custodian_id, NULL::uuid AS contact_id, "
		"  c.phone_e164 AS phone, $2::text AS channel "
		"  FROM alarms a JOIN subjects s ON s.id = a.subject_id "
		"  JOIN custodians c ON c.id = s.custodian_id "
		"  WHERE a.id = $1::uuid "
		"  AND " STORAGE_CUSTODIAN_REACHES("$2::text") " "
		"  UNION ALL "
		"  SELECT 1, k.position, k.created_at, s.custodian_id, k.id, "
		"  k.phone_e164, k.channel "
		"  FROM alarms a JOIN subjects s ON s.id = a.subject_id "
		"  JOIN contacts k ON k.subject_id = a.subject_id "
		"  WHERE a.id = $1::uuid AND k.verified_at IS NOT NULL) r "
		"WHERE NOT EXISTS (SELECT 1 FROM notifications n "
		"  WHERE n.alarm_id = $1::uuid AND n.recipient = r.phone) "
		"ORDER BY r.ord, r.pos, r.created, r.contact_id LIMIT 1",
		2, v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		*found = true;
		storage_copy_text(out->custodian_id, sizeof(out->custodian_id),
				  PQgetvalue(r, 0, 0));
		storage_copy_text(out->contact_id, sizeof(out->contact_id),
				  PQgetvalue(r, 0, 1));
		storage_copy_text(out->phone, sizeof(out->phone),
				  PQgetvalue(r, 0, 2));
		storage_copy_text(out->channel, sizeof(out->channel),
				  PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	return 0;
}

int storage_alarm_event(struct storage_pool *p, PGconn *c,
			const char *alarm_id, const char *kind,
			const char *notification_id, const char *detail)
{
	const char *v[] = {alarm_id, kind,
			   notification_id && notification_id[0]
				   ? notification_id
				   : NULL,
			   detail && detail[0] ? detail : NULL};

	return storage_db_exec(p, c, "alarm.event",
			       "INSERT INTO alarm_events (alarm_id, kind, "
			       "notification_id, detail) VALUES ($1::uuid, $2, "
			       "$3::uuid, left($4::text, 500))",
			       4, v, NULL);
}

/* ---- the work of one call ---- */

#define CHANGED_MAX 64

struct due {
	struct storage_pool *p;
	const struct keryu_alarm_policy *pol;
	char lease[16], esc[16], ack[16], limit[16];
	struct keryu_notify_job *jobs;
	size_t max, n; /* jobs[0..n) are committed */
	size_t k;      /* jobs[n..n+k) belong to the open transaction */
	int worked;    /* rows the last phase handled */
	/* alarms whose step changed in the open transaction: their other
	 * rows wait for a later round, which sees the new step */
	char changed[CHANGED_MAX][KERYU_UUID_LEN];
	size_t nchanged;
	/* for the log line */
	int redriven, failed, fallbacks, escalated, exhausted;
};

/* What a job needs to know about its alarm. */
struct alarm_ref {
	const char *id;
	const char *subject_name;
	const char *scanned_at;
};

static int add_job_kind(struct due *d, const char *nid,
			const struct alarm_ref *a, const char *channel,
			const char *recipient, int attempt, int step,
			const char *kind, const char *detail)
{
	struct keryu_notify_job *j;

	if (d->n + d->k >= d->max)
		return KERYU_ERR; /* the phase's LIMIT makes this impossible */
	j = &d->jobs[d->n + d->k++];
	memset(j, 0, sizeof(*j));
	storage_copy_text(j->notification_id, sizeof(j->notification_id), nid);
	storage_copy_text(j->alarm_id, sizeof(j->alarm_id), a->id);
	storage_copy_text(j->channel, sizeof(j->channel), channel);
	storage_copy_text(j->recipient, sizeof(j->recipient), recipient);
	storage_copy_text(j->subject_name, sizeof(j->subject_name),
			  a->subject_name);
	storage_copy_text(j->scanned_at, sizeof(j->scanned_at), a->scanned_at);
	storage_copy_text(j->kind, sizeof(j->kind), kind);
	storage_copy_text(j->detail, sizeof(j->detail), detail);
	j->attempt = attempt;
	j->step = step;
	return 0;
}

/* A job for the alarm itself (kind "alert"). */
static int add_job(struct due *d, const char *nid, const struct alarm_ref *a,
		   const char *channel, const char *recipient, int attempt,
		   int step)
{
	return add_job_kind(d, nid, a, channel, recipient, attempt, step,
			    "alert", "");
}

static bool changed(const struct due *d, const char *alarm_id)
{
	size_t i;

	for (i = 0; i < d->nchanged; i++)
		if (strcmp(d->changed[i], alarm_id) == 0)
			return true;
	return false;
}

static void mark_changed(struct due *d, const char *alarm_id)
{
	if (d->nchanged < CHANGED_MAX && !changed(d, alarm_id))
		storage_copy_text(d->changed[d->nchanged++], KERYU_UUID_LEN,
				  alarm_id);
}

static int begin_phase(struct due *d, PGconn *c)
{
	d->k = 0;
	d->worked = 0;
	d->nchanged = 0;
	snprintf(d->limit, sizeof(d->limit), "%zu", d->max - d->n);
	return storage_db_begin(d->p, c);
}

static int end_phase(struct due *d, PGconn *c, int rc)
{
	if (!rc)
		rc = storage_db_commit(d->p, c);
	if (rc) {
		storage_db_rollback(d->p, c);
		d->k = 0;
		d->worked = 0;
	}
	return rc;
}

/* A notification the alarm sends now: QUEUED as attempt 1 with a lease,
 * as the caller publishes it right after. nid is "" when the alarm already
 * has one for this phone and channel. */
static int insert_queued(struct due *d, PGconn *c, const char *alarm_id,
			 const struct storage_recipient *to, int step,
			 const char *fallback_of, char nid[KERYU_UUID_LEN])
{
	char st[16];
	const char *v[8];
	PGresult *r;
	int rc;

	snprintf(st, sizeof(st), "%d", step);
	v[0] = alarm_id;
	v[1] = to->custodian_id;
	v[2] = to->contact_id[0] ? to->contact_id : NULL;
	v[3] = to->channel;
	v[4] = to->phone;
	v[5] = st;
	v[6] = fallback_of && fallback_of[0] ? fallback_of : NULL;
	v[7] = d->lease;
	rc = storage_db_exec(
		d->p, c, "due.insert",
		"WITH n AS (INSERT INTO notifications (alarm_id, custodian_id, "
		"  contact_id, channel, recipient, step, fallback_of, status, "
		"  attempts, queued_at, lease_until) "
		"  VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6::int, "
		"  $7::uuid, 'QUEUED', 1, now(), "
		"  now() + $8::int * interval '1 second') "
		"  ON CONFLICT (alarm_id, recipient, channel, kind) "
		"  WHERE alarm_id IS NOT NULL AND retried_as IS NULL "
		"  DO NOTHING RETURNING id), "
		"e AS (INSERT INTO notification_events (notification_id, "
		"  status, attempt) SELECT id, 'QUEUED', 1 FROM n) "
		"SELECT id::text FROM n",
		8, v, &r);
	if (rc)
		return rc;
	storage_copy_text(nid, KERYU_UUID_LEN,
			  PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

/* The alarm moves to its next step, which begins now. */
static int next_step(struct due *d, PGconn *c, const char *alarm_id,
		     int *step)
{
	const char *v[] = {alarm_id};
	PGresult *r;
	int rc;

	rc = storage_db_exec(d->p, c, "due.step",
			     "UPDATE alarms SET step = step + 1, "
			     "step_started_at = now() WHERE id = $1::uuid "
			     "RETURNING step",
			     1, v, &r);
	if (rc)
		return rc;
	*step = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	mark_changed(d, alarm_id);
	return 0;
}

/* Alerts the alarm's next recipient, or marks it exhausted. */
static int escalate(struct due *d, PGconn *c, const struct alarm_ref *a,
		    const char *why)
{
	struct storage_recipient to;
	char nid[KERYU_UUID_LEN], detail[160];
	bool found = false;
	int rc, step = 0;

	rc = storage_next_recipient(d->p, c, a->id, d->pol->channel, &to,
				    &found);
	if (rc)
		return rc;
	if (found) {
		rc = next_step(d, c, a->id, &step);
		if (!rc)
			rc = insert_queued(d, c, a->id, &to, step, NULL, nid);
		if (!rc && !nid[0])
			rc = KERYU_ERR; /* next_recipient skips used phones */
		if (!rc)
			rc = storage_alarm_event(d->p, c, a->id, "ESCALATED",
						 nid, why);
		if (!rc)
			rc = add_job(d, nid, a, to.channel, to.phone, 1, step);
		if (!rc)
			d->escalated++;
		return rc;
	}
	{
		const char *v[] = {a->id};

		rc = storage_db_exec(d->p, c, "due.exhausted",
				     "UPDATE alarms SET escalation_done = true "
				     "WHERE id = $1::uuid",
				     1, v, NULL);
	}
	snprintf(detail, sizeof(detail), "%s; nobody left to alert", why);
	if (!rc)
		rc = storage_alarm_event(d->p, c, a->id, "EXHAUSTED", NULL,
					 detail);
	if (!rc) {
		mark_changed(d, a->id);
		d->exhausted++;
	}
	return rc;
}

/* ---- phase 1: leases that ran out ---- */

static int fail_one(struct due *d, PGconn *c, const char *nid,
		    const char *code, const char *text)
{
	const char *v[] = {nid, code, text};

	d->failed++;
	return storage_db_exec(
		d->p, c, "due.fail",
		"WITH f AS (UPDATE notifications SET status = 'FAILED', "
		"  last_error_code = $2, last_error = $3, failed_at = now(), "
		"  lease_until = NULL, followed_up = false, updated_at = now() "
		"  WHERE id = $1::uuid RETURNING id, attempts) "
		"INSERT INTO notification_events (notification_id, status, "
		"attempt, error_code, error_text) "
		"SELECT id, 'FAILED', attempts, $2, $3 FROM f",
		3, v, NULL);
}

/* why: the timeline's words for it. */
static int redrive_one(struct due *d, PGconn *c, const char *nid,
		       int attempt, const char *why)
{
	char at[16];
	const char *v[] = {nid, at, d->lease, why};

	snprintf(at, sizeof(at), "%d", attempt);
	d->redriven++;
	return storage_db_exec(
		d->p, c, "due.redrive",
		"WITH f AS (UPDATE notifications SET status = 'QUEUED', "
		"  attempts = $2::int, redrives = redrives + 1, "
		"  retry_hint = NULL, queued_at = now(), updated_at = now(), "
		"  lease_until = now() + $3::int * interval '1 second' "
		"  WHERE id = $1::uuid RETURNING id) "
		"INSERT INTO notification_events (notification_id, status, "
		"attempt, error_text) "
		"SELECT id, 'QUEUED', $2::int, $4::text FROM f",
		4, v, NULL);
}

static int lease_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct due *d = arg;
	PGresult *r = NULL;
	int rc, i, rows;

	(void)p;
	rc = begin_phase(d, c);
	if (rc)
		return rc;
	/* A code's text is not stored, so a code notification cannot be
	 * sent again: past its lease it just failed. */
	rc = storage_db_exec(
		d->p, c, "due.codes",
		"WITH f AS (UPDATE notifications SET status = 'FAILED', "
		"  last_error_code = 'no_outcome', "
		"  last_error = 'no result before the lease ran out', "
		"  failed_at = now(), lease_until = NULL, followed_up = true, "
		"  updated_at = now() "
		"  WHERE id IN (SELECT id FROM notifications "
		"    WHERE purpose = 'code' "
		"    AND status IN ('PENDING', 'QUEUED', 'ERROR') "
		"    AND lease_until IS NOT NULL AND lease_until <= now() "
		"    ORDER BY lease_until LIMIT 100 "
		"    FOR NO KEY UPDATE SKIP LOCKED) "
		"  RETURNING id, attempts) "
		"INSERT INTO notification_events (notification_id, status, "
		"attempt, error_code, error_text) "
		"SELECT id, 'FAILED', attempts, 'no_outcome', "
		"'no result before the lease ran out' FROM f",
		0, NULL, &r);
	if (rc)
		return end_phase(d, c, rc);
	d->worked += atoi(PQcmdTuples(r));
	PQclear(r);
	{
		const char *v[] = {d->limit};

		rc = storage_db_exec(
			d->p, c, "due.leases",
			"SELECT n.id::text, n.status, n.attempts, n.redrives, "
			"coalesce(n.retry_hint, false), n.alarm_id::text, "
			"n.channel, n.recipient, n.step, s.name, "
			STORAGE_ISO_UTC("a.scanned_at") ", n.kind, "
			"coalesce(n.detail, '') "
			"FROM notifications n JOIN alarms a ON a.id = n.alarm_id "
			"JOIN subjects s ON s.id = a.subject_id "
			"WHERE n.status IN ('PENDING', 'QUEUED', 'ERROR') "
			"AND n.lease_until IS NOT NULL "
			"AND n.lease_until <= now() "
			"ORDER BY n.lease_until LIMIT $1::int "
			"FOR NO KEY UPDATE OF n, a SKIP LOCKED",
			1, v, &r);
	}
	if (rc)
		return end_phase(d, c, rc);
	rows = PQntuples(r);
	for (i = 0; i < rows && !rc; i++) {
		const char *nid = PQgetvalue(r, i, 0);
		const char *status = PQgetvalue(r, i, 1);
		int attempts = atoi(PQgetvalue(r, i, 2));
		int redrives = atoi(PQgetvalue(r, i, 3));
		bool hint = strcmp(PQgetvalue(r, i, 4), "t") == 0;
		struct alarm_ref a = {PQgetvalue(r, i, 5), PQgetvalue(r, i, 9),
				      PQgetvalue(r, i, 10)};
		bool error = strcmp(status, "ERROR") == 0;
		/* PENDING with no attempt: never handed to the bus (a staff
		 * "retry now" waits for this round to be published); its
		 * first publication is no re-drive, whatever max_redrives */
		bool unsent = strcmp(status, "PENDING") == 0 && attempts == 0;

		if (error && !hint)
			rc = fail_one(d, c, nid, "no_outcome",
				      "the last attempt's outcome is unknown "
				      "and no status came before the lease "
				      "ran out");
		else if (redrives >= d->pol->max_redrives && !unsent)
			rc = fail_one(d, c, nid, "no_channel",
				      "no channel answered before the lease "
				      "ran out, re-drives exhausted");
		else {
			int attempt = error ? attempts + 1
					    : (attempts > 1 ? attempts : 1);

			/* follow-ups are re-driven like alerts, with their
			 * own kind and data */
			rc = redrive_one(d, c, nid, attempt,
					 unsent ? "sent: not published before"
						: "re-driven: its lease ran "
						  "out");
			if (!rc)
				rc = add_job_kind(d, nid, &a,
						  PQgetvalue(r, i, 6),
						  PQgetvalue(r, i, 7), attempt,
						  atoi(PQgetvalue(r, i, 8)),
						  PQgetvalue(r, i, 11),
						  PQgetvalue(r, i, 12));
		}
		if (!rc)
			rc = storage_alarm_summarise(d->p, c, a.id);
		d->worked++;
	}
	PQclear(r);
	return end_phase(d, c, rc);
}

/* ---- phase 2: notifications that failed for good ---- */

/* True when the custodian can be messaged on ch. */
static int custodian_reaches(struct due *d, PGconn *c,
			     const char *custodian_id, const char *ch,
			     bool *yes)
{
	const char *v[] = {custodian_id, ch};
	PGresult *r;
	int rc;

	rc = storage_db_exec(d->p, c, "due.reaches",
			     "SELECT 1 FROM custodians c "
			     "WHERE c.id = $1::uuid "
			     "AND " STORAGE_CUSTODIAN_REACHES("$2::text"),
			     2, v, &r);
	if (rc)
		return rc;
	*yes = PQntuples(r) == 1;
	PQclear(r);
	return 0;
}

/* Columns of the failed-notification query, by index. */
enum {
	F_ID, F_ALARM, F_CONTACT, F_CUSTODIAN, F_PHONE, F_CHANNEL,
	F_IS_FALLBACK, F_STEP, F_CODE, F_ALARM_STEP, F_LIVE, F_DONE,
	F_TO_CUSTODIAN, F_CONTACT_FALLBACK, F_CONTACT_VERIFIED, F_NAME,
	F_SCANNED
};

static int follow_up(struct due *d, PGconn *c, PGresult *r, int i)
{
	const char *nid = PQgetvalue(r, i, F_ID);
	const char *channel = PQgetvalue(r, i, F_CHANNEL);
	const char *code = PQgetvalue(r, i, F_CODE);
	struct alarm_ref a = {PQgetvalue(r, i, F_ALARM),
			      PQgetvalue(r, i, F_NAME),
			      PQgetvalue(r, i, F_SCANNED)};
	int step = atoi(PQgetvalue(r, i, F_STEP));
	bool current = step == atoi(PQgetvalue(r, i, F_ALARM_STEP));
	bool reachable = false;
	const char *fb = "";
	const char *v[] = {nid};
	char why[96];
	int rc;

	rc = storage_db_exec(d->p, c, "due.followed_up",
			     "UPDATE notifications SET followed_up = true "
			     "WHERE id = $1::uuid",
			     1, v, NULL);
	if (rc || strcmp(PQgetvalue(r, i, F_LIVE), "t") != 0)
		return rc; /* acknowledged, resolved or joined: nothing */
	snprintf(why, sizeof(why), "failed: %s", code[0] ? code : "unknown");

	/* The same person on their fallback channel, once: the contact's
	 * own, else the policy's. A contact deleted since gets none. */
	if (strcmp(PQgetvalue(r, i, F_IS_FALLBACK), "t") != 0) {
		const char *pol_fb = d->pol->fallback_channel
					     ? d->pol->fallback_channel
					     : "";

		if (PQgetvalue(r, i, F_CONTACT)[0]) {
			fb = PQgetvalue(r, i, F_CONTACT_FALLBACK);
			if (!fb[0])
				fb = pol_fb;
			reachable = strcmp(PQgetvalue(r, i, F_CONTACT_VERIFIED),
					   "t") == 0;
		} else if (strcmp(PQgetvalue(r, i, F_TO_CUSTODIAN), "t") ==
			   0) {
			fb = pol_fb;
			if (fb[0])
				rc = custodian_reaches(
					d, c, PQgetvalue(r, i, F_CUSTODIAN), fb,
					&reachable);
		}
	}
	if (!rc && fb[0] && reachable && strcmp(fb, channel) != 0) {
		struct storage_recipient to;
		char fid[KERYU_UUID_LEN], detail[160];
		int fstep = step;

		memset(&to, 0, sizeof(to));
		storage_copy_text(to.custodian_id, sizeof(to.custodian_id),
				  PQgetvalue(r, i, F_CUSTODIAN));
		storage_copy_text(to.contact_id, sizeof(to.contact_id),
				  PQgetvalue(r, i, F_CONTACT));
		storage_copy_text(to.phone, sizeof(to.phone),
				  PQgetvalue(r, i, F_PHONE));
		storage_copy_text(to.channel, sizeof(to.channel), fb);
		/* a fallback for the current recipient is the alarm's next
		 * step (its deadlines start again); one for an earlier
		 * recipient only reaches that person again */
		if (current)
			fstep = atoi(PQgetvalue(r, i, F_ALARM_STEP)) + 1;
		rc = insert_queued(d, c, a.id, &to, fstep, nid, fid);
		if (!rc && fid[0] && current)
			rc = next_step(d, c, a.id, &fstep);
		if (rc)
			return rc;
		if (fid[0]) {
			snprintf(detail, sizeof(detail), "%s %s; trying %s",
				 channel, why, fb);
			rc = storage_alarm_event(d->p, c, a.id, "FALLBACK",
						 fid, detail);
			if (!rc)
				rc = add_job(d, fid, &a, fb, to.phone, 1,
					     fstep);
			if (!rc)
				d->fallbacks++;
			return rc;
		}
		/* that phone already has one on the fallback channel */
	}
	if (rc || !current || strcmp(PQgetvalue(r, i, F_DONE), "t") == 0)
		return rc;
	return escalate(d, c, &a, why);
}

static int failed_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct due *d = arg;
	const char *v[] = {d->limit};
	PGresult *r;
	int rc, i, rows;

	(void)p;
	rc = begin_phase(d, c);
	if (rc)
		return rc;
	rc = storage_db_exec(
		d->p, c, "due.failed",
		"SELECT n.id::text, n.alarm_id::text, "
		"coalesce(n.contact_id::text, ''), n.custodian_id::text, "
		"n.recipient, n.channel, n.fallback_of IS NOT NULL, n.step, "
		"coalesce(n.last_error_code, ''), a.step, "
		"a.acknowledged_at IS NULL AND a.resolved_at IS NULL "
		"AND a.joined_alarm_id IS NULL, a.escalation_done, "
		"n.contact_id IS NULL AND n.recipient = c.phone_e164, "
		"coalesce(k.fallback_channel, ''), k.verified_at IS NOT NULL, "
		"s.name, " STORAGE_ISO_UTC("a.scanned_at") " "
		"FROM notifications n JOIN alarms a ON a.id = n.alarm_id "
		"JOIN subjects s ON s.id = a.subject_id "
		"JOIN custodians c ON c.id = n.custodian_id "
		"LEFT JOIN contacts k ON k.id = n.contact_id "
		"WHERE n.status = 'FAILED' AND NOT n.followed_up "
		"AND n.alarm_id IS NOT NULL AND n.kind = 'alert' "
		"ORDER BY n.failed_at, n.id LIMIT $1::int "
		"FOR NO KEY UPDATE OF n, a SKIP LOCKED",
		1, v, &r);
	if (rc)
		return end_phase(d, c, rc);
	rows = PQntuples(r);
	for (i = 0; i < rows && !rc; i++) {
		const char *alarm_id = PQgetvalue(r, i, F_ALARM);

		if (changed(d, alarm_id))
			continue; /* next round, with the alarm's new step */
		rc = follow_up(d, c, r, i);
		if (!rc)
			rc = storage_alarm_summarise(d->p, c, alarm_id);
		d->worked++;
	}
	PQclear(r);
	return end_phase(d, c, rc);
}

/* ---- phase 3: escalation deadlines ---- */

static int deadline_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct due *d = arg;
	const char *v[] = {d->esc, d->ack, d->limit};
	PGresult *r;
	int rc, i, rows;

	(void)p;
	rc = begin_phase(d, c);
	if (rc)
		return rc;
	/* undelivered: nothing of the current step (its recipient, on any
	 * channel) reached DELIVERED or READ in escalate_after_s */
#define UNDELIVERED                                                            \
	"($1::int > 0 AND a.step_started_at + $1::int * interval '1 second' " \
	"<= now() AND NOT EXISTS (SELECT 1 FROM notifications n "             \
	"WHERE n.alarm_id = a.id AND n.step = a.step AND n.kind = 'alert' "   \
	"AND n.status IN ('DELIVERED', 'READ')))"
	rc = storage_db_exec(
		d->p, c, "due.deadlines",
		"SELECT a.id::text, s.name, " STORAGE_ISO_UTC("a.scanned_at")
		", " UNDELIVERED " "
		"FROM alarms a JOIN subjects s ON s.id = a.subject_id "
		"WHERE NOT a.escalation_done AND a.acknowledged_at IS NULL "
		"AND a.resolved_at IS NULL AND a.joined_alarm_id IS NULL "
		"AND a.step_started_at IS NOT NULL "
		"AND (" UNDELIVERED " OR ($2::int > 0 AND a.step_started_at "
		"  + $2::int * interval '1 second' <= now())) "
		"ORDER BY a.step_started_at LIMIT $3::int "
		"FOR NO KEY UPDATE OF a SKIP LOCKED",
		3, v, &r);
#undef UNDELIVERED
	if (rc)
		return end_phase(d, c, rc);
	rows = PQntuples(r);
	for (i = 0; i < rows && !rc; i++) {
		struct alarm_ref a = {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				      PQgetvalue(r, i, 2)};
		char why[64];

		if (strcmp(PQgetvalue(r, i, 3), "t") == 0)
			snprintf(why, sizeof(why), "not delivered in %d s",
				 d->pol->escalate_after_s);
		else
			snprintf(why, sizeof(why), "not acknowledged in %d s",
				 d->pol->ack_timeout_s);
		rc = escalate(d, c, &a, why);
		if (!rc)
			rc = storage_alarm_summarise(d->p, c, a.id);
		d->worked++;
	}
	PQclear(r);
	return end_phase(d, c, rc);
}

/* ---- the call ---- */

static int run_phase(struct due *d, storage_work_fn fn, int *worked)
{
	int rc;

	if (d->n >= d->max)
		return 0;
	rc = storage_pool_run(d->p, "notify_due", fn, d);
	if (rc)
		return rc;
	d->n += d->k; /* committed */
	d->k = 0;
	*worked += d->worked;
	return 0;
}

int storage_notify_due(void *self, const struct keryu_alarm_policy *pol,
		       struct keryu_notify_job *jobs, size_t max, size_t *n)
{
	struct storage_pool *p = self;
	struct due *d;
	int rc = 0, round;

	if (n)
		*n = 0;
	if (!n || (max && !jobs) || !storage_policy_valid(pol))
		return KERYU_EINVAL;
	if (max > 10000)
		max = 10000; /* one call's batch; call again for more */
	d = calloc(1, sizeof(*d));
	if (!d)
		return KERYU_ENOMEM;
	d->p = p;
	d->pol = pol;
	d->jobs = jobs;
	d->max = max;
	snprintf(d->lease, sizeof(d->lease), "%d", pol->lease_s);
	snprintf(d->esc, sizeof(d->esc), "%d", pol->escalate_after_s);
	snprintf(d->ack, sizeof(d->ack), "%d", pol->ack_timeout_s);
	/* A failure made by one phase is followed up by the next, and an
	 * alarm a phase left for later is seen again: a few rounds, until
	 * one finds nothing or the jobs are full. */
	for (round = 0; round < 4 && d->n < d->max; round++) {
		int worked = 0;

		rc = run_phase(d, lease_work, &worked);
		if (!rc)
			rc = run_phase(d, failed_work, &worked);
		if (!rc)
			rc = run_phase(d, deadline_work, &worked);
		if (rc || !worked)
			break;
	}
	*n = d->n;
	if (d->n || d->failed || d->exhausted || rc)
		storage_pool_host(p)->log(
			storage_pool_mod(p), rc ? KERYU_LOG_WARN : KERYU_LOG_INFO,
			"storage.notify_due",
			"jobs=%zu redriven=%d failed=%d fallbacks=%d "
			"escalated=%d exhausted=%d rc=%d",
			d->n, d->redriven, d->failed, d->fallbacks, d->escalated,
			d->exhausted, rc);
	/* jobs committed before an error are still the caller's to publish
	 * (unpublished, their leases would re-drive them anyway) */
	if (d->n)
		rc = 0;
	free(d);
	return rc;
}
