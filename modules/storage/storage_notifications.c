/* Notification status: queued (and leased) by the alarms module, then
 * moved by delivery results from channel modules and provider webhooks.
 *
 * Locking order, here and in storage_due.c: the alarm row first, then the
 * notification's. notify_due never waits for a lock (SKIP LOCKED), so the
 * two cannot deadlock, and the alarm's summary is always recomputed by a
 * transaction that holds the alarm. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* The ranks of keryu/storage.h, in SQL so that the rule is checked in the
 * UPDATE itself. */
#define RANK(x)                                                                \
	"(CASE " x " WHEN 'PENDING' THEN 0 WHEN 'QUEUED' THEN 1 "              \
	"WHEN 'ERROR' THEN 1 WHEN 'SENT' THEN 2 WHEN 'DELIVERED' THEN 3 "      \
	"WHEN 'READ' THEN 4 ELSE 5 END)"

/* For the alarm's summary: how far its best notification got. FAILED is
 * the worst, so an alarm shows FAILED only when every one failed. */
#define SUMMARY_RANK(x)                                                        \
	"(CASE " x " WHEN 'FAILED' THEN -1 WHEN 'PENDING' THEN 0 "             \
	"WHEN 'QUEUED' THEN 1 WHEN 'ERROR' THEN 1 WHEN 'SENT' THEN 2 "         \
	"WHEN 'DELIVERED' THEN 3 ELSE 4 END)"

int storage_alarm_summarise(struct storage_pool *p, PGconn *c,
			    const char *alarm_id)
{
	const char *v[] = {alarm_id};

	/* notification_sent and the attempts only grow; the error text is
	 * that of the best notification when it is FAILED or ERROR, else the
	 * last one stays for the record. */
	return storage_db_exec(
		p, c, "alarm.summarise",
		"UPDATE alarms a SET notification_status = b.status, "
		"notification_sent = a.notification_sent OR g.any_sent, "
		"notification_attempts = greatest(a.notification_attempts, "
		"  g.max_attempts), "
		"whatsapp_message_id = coalesce(left(b.provider_message_id, "
		"  255), a.whatsapp_message_id), "
		"notification_error = CASE WHEN b.status IN ('FAILED', 'ERROR') "
		"  THEN coalesce(nullif(concat_ws(': ', b.last_error_code, "
		"  b.last_error), ''), lower(b.status)) "
		"  ELSE a.notification_error END, "
		"last_attempt = coalesce(greatest(a.last_attempt, g.last_at), "
		"  a.last_attempt) "
		"FROM (SELECT status, provider_message_id, last_error_code, "
		"  last_error FROM notifications WHERE alarm_id = $1::uuid "
		"  AND kind = 'alert' ORDER BY " SUMMARY_RANK("status") " DESC, updated_at DESC, "
		"  id LIMIT 1) b, "
		"(SELECT coalesce(bool_or(status IN ('SENT', 'DELIVERED', "
		"  'READ')), false) AS any_sent, "
		"  coalesce(max(attempts), 0) AS max_attempts, "
		"  max(greatest(queued_at, sent_at, delivered_at, read_at, "
		"  failed_at)) AS last_at "
		"  FROM notifications WHERE alarm_id = $1::uuid "
		"  AND kind = 'alert') g "
		"WHERE a.id = $1::uuid",
		1, v, NULL);
}

int storage_notification_lock_alarm(struct storage_pool *p, PGconn *c,
				    const char *id,
				    char alarm_id[KERYU_UUID_LEN])
{
	const char *v[] = {id};
	const char *va[] = {alarm_id};
	PGresult *r;
	int rc;

	alarm_id[0] = '\0';
	rc = storage_db_row(p, c, "notification.alarm",
			    "SELECT coalesce(alarm_id::text, '') "
			    "FROM notifications WHERE id = $1::uuid",
			    1, v, &r);
	if (rc)
		return rc;
	storage_copy_text(alarm_id, KERYU_UUID_LEN, PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!alarm_id[0])
		return 0;
	return storage_db_exec(p, c, "notification.lock_alarm",
			       "SELECT 1 FROM alarms WHERE id = $1::uuid "
			       "FOR NO KEY UPDATE",
			       1, va, NULL);
}

/* Locks the notification's alarm (if any), then the notification. Fills
 * alarm_id ("" for a code notification) and status; ENOTFOUND when
 * unknown. */
static int lock_notification(struct storage_pool *p, PGconn *c,
			     const char *id, char alarm_id[KERYU_UUID_LEN],
			     char status[16], int *attempts)
{
	const char *v[] = {id};
	PGresult *r;
	int rc;

	rc = storage_notification_lock_alarm(p, c, id, alarm_id);
	if (rc)
		return rc;
	rc = storage_db_row(p, c, "notification.lock",
			    "SELECT status, attempts FROM notifications "
			    "WHERE id = $1::uuid FOR NO KEY UPDATE",
			    1, v, &r);
	if (rc)
		return rc;
	storage_copy_text(status, 16, PQgetvalue(r, 0, 0));
	*attempts = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

/* ---- queued ---- */

struct queued {
	const char *id;
	char attempt[16];
	char lease[16];
	bool moved;
};

static int queued_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct queued *q = arg;
	const char *v[] = {q->id, q->attempt, q->lease};
	char alarm_id[KERYU_UUID_LEN], status[16];
	int rc, attempts = 0;

	q->moved = false;
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = lock_notification(p, c, q->id, alarm_id, status,
				       &attempts);
	if (rc)
		goto fail;
	/* PENDING, or an older attempt still QUEUED or ERROR, becomes this
	 * attempt; the same attempt still QUEUED only has its lease renewed;
	 * anything further along (ERROR or a result for this attempt, or a
	 * final status) is left as it is. */
	rc = storage_db_exec(
		p, c, "notification.queued",
		"UPDATE notifications SET status = 'QUEUED', "
		"attempts = greatest(attempts, $2::int), "
		"lease_until = now() + $3::int * interval '1 second', "
		"queued_at = CASE WHEN status = 'QUEUED' AND attempts = $2::int "
		"  THEN queued_at ELSE now() END, "
		"updated_at = now() "
		"WHERE id = $1::uuid AND (status = 'PENDING' "
		"  OR (status IN ('QUEUED', 'ERROR') AND attempts < $2::int) "
		"  OR (status = 'QUEUED' AND attempts = $2::int)) "
		"RETURNING 1",
		3, v, NULL);
	if (rc)
		goto fail;
	/* decided on the locked row: a new attempt gets a timeline entry */
	q->moved = strcmp(status, "PENDING") == 0 ||
		   ((strcmp(status, "QUEUED") == 0 ||
		     strcmp(status, "ERROR") == 0) &&
		    attempts < atoi(q->attempt));
	if (q->moved) {
		rc = storage_db_exec(p, c, "notification.queued_event",
				     "INSERT INTO notification_events "
				     "(notification_id, status, attempt) "
				     "VALUES ($1::uuid, 'QUEUED', $2::int)",
				     2, v, NULL);
		/* code notifications (purpose 'code') belong to no alarm */
		if (!rc && alarm_id[0])
			rc = storage_alarm_summarise(p, c, alarm_id);
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

int storage_notification_queued(void *self, const char *notification_id,
				int attempt, int lease_s)
{
	struct queued q;

	if (!keryu_uuid_valid(notification_id) || attempt < 1 || lease_s < 1)
		return KERYU_EINVAL;
	memset(&q, 0, sizeof(q));
	q.id = notification_id;
	snprintf(q.attempt, sizeof(q.attempt), "%d", attempt);
	snprintf(q.lease, sizeof(q.lease), "%d", lease_s);
	return storage_pool_run(self, "notification_queued", queued_work, &q);
}

/* ---- results ---- */

struct result {
	const struct keryu_delivery_event *ev;
	const char *status; /* upper case, as stored */
	char attempt[16];
	char lease[16];
	char retry_ms[16]; /* -1: the channel will not try again */
	bool applied;	   /* for the log line */
};

static const char *map_status(const char *s)
{
	static const char *const map[][2] = {
		{"sent", "SENT"},	  {"delivered", "DELIVERED"},
		{"read", "READ"},	  {"failed", "FAILED"},
		{"error", "ERROR"},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* Records the event in the timeline; *fresh is false for an event_id seen
 * before, which then changes nothing else. */
static int record_event(struct storage_pool *p, PGconn *c, struct result *res,
			bool *fresh)
{
	const struct keryu_delivery_event *ev = res->ev;
	const char *v[] = {ev->notification_id, ev->at,	res->status,
			   res->attempt,	ev->provider_message_id,
			   ev->error_code,	ev->error_text, ev->event_id};
	PGresult *r;
	int rc;

	rc = storage_db_exec(
		p, c, "notification.event",
		"INSERT INTO notification_events (notification_id, at, status, "
		"attempt, provider_message_id, error_code, error_text, event_id) "
		"VALUES ($1::uuid, coalesce(nullif($2::text, '')::timestamptz, "
		"now()), $3, $4::int, nullif($5::text, ''), "
		"nullif($6::text, ''), nullif($7::text, ''), $8::uuid) "
		"ON CONFLICT (event_id) DO NOTHING RETURNING id",
		8, v, &r);
	if (rc)
		return rc;
	*fresh = PQntuples(r) == 1;
	PQclear(r);
	return 0;
}

static int apply_result(struct storage_pool *p, PGconn *c, struct result *res,
			const char *alarm_id)
{
	const struct keryu_delivery_event *ev = res->ev;
	const char *v[] = {ev->notification_id, res->status,
			   res->attempt,	ev->provider_message_id,
			   ev->error_code,	ev->error_text,
			   ev->at,		res->lease,
			   res->retry_ms};
	PGresult *r;
	int rc;

	/* An ERROR is one attempt's failure: its lease runs while the channel
	 * retries (retry_ms >= 0) or while a webhook may still settle it
	 * (-1); notify_due decides after that. Every other status ends the
	 * lease; FAILED waits for notify_due's follow-up. */
	rc = storage_db_exec(
		p, c, "notification.result",
		"UPDATE notifications SET status = $2::text, "
		"attempts = greatest(attempts, $3::int), "
		"provider_message_id = coalesce(nullif($4::text, ''), "
		"  provider_message_id), "
		"last_error_code = CASE WHEN $5::text <> '' OR $6::text <> '' "
		"  THEN nullif($5::text, '') ELSE last_error_code END, "
		"last_error = CASE WHEN $5::text <> '' OR $6::text <> '' "
		"  THEN nullif($6::text, '') ELSE last_error END, "
		"sent_at = CASE WHEN $2::text = 'SENT' THEN t.at "
		"  ELSE sent_at END, "
		"delivered_at = CASE WHEN $2::text = 'DELIVERED' THEN t.at "
		"  ELSE delivered_at END, "
		"read_at = CASE WHEN $2::text = 'READ' THEN t.at "
		"  ELSE read_at END, "
		"failed_at = CASE WHEN $2::text = 'FAILED' THEN t.at "
		"  ELSE failed_at END, "
		"lease_until = CASE WHEN $2::text = 'ERROR' THEN now() "
		"  + greatest($9::int, 0) * interval '1 millisecond' "
		"  + $8::int * interval '1 second' END, "
		"retry_hint = CASE WHEN $2::text = 'ERROR' THEN $9::int >= 0 "
		"  ELSE retry_hint END, "
		"followed_up = CASE WHEN $2::text = 'FAILED' THEN false "
		"  ELSE followed_up END, "
		"updated_at = now() "
		"FROM (SELECT coalesce(nullif($7::text, '')::timestamptz, "
		"  now()) AS at) t "
		"WHERE id = $1::uuid AND status <> 'FAILED' "
		/* a provider's late "failed" about an earlier attempt's
		 * message must not undo the attempt that got through */
		"AND NOT ($2::text = 'FAILED' AND $3::int = 0 "
		"  AND $4::text <> '' AND provider_message_id IS NOT NULL "
		"  AND provider_message_id <> $4::text) "
		"AND (" RANK("status") " < " RANK("$2::text") " "
		"  OR (" RANK("status") " = 1 AND " RANK("$2::text") " = 1 "
		"  AND $3::int >= attempts)) "
		"RETURNING 1",
		9, v, &r);
	if (rc)
		return rc;
	res->applied = PQntuples(r) == 1;
	PQclear(r);
	if (!res->applied) {
		/* The status stays, but the attempt happened: a provider
		 * webhook's "sent" can overtake the channel's own result of
		 * the attempt that sent it. */
		const char *va[] = {ev->notification_id, res->attempt,
				    ev->provider_message_id};

		return storage_db_exec(
			p, c, "notification.result_attempt",
			"UPDATE notifications SET "
			"attempts = greatest(attempts, $2::int), "
			"provider_message_id = coalesce(provider_message_id, "
			"  nullif($3::text, '')), updated_at = now() "
			"WHERE id = $1::uuid AND ($2::int > attempts "
			"  OR (provider_message_id IS NULL AND $3::text <> ''))",
			3, va, NULL);
	}
	if (!alarm_id[0])
		return 0; /* a code notification */
	return storage_alarm_summarise(p, c, alarm_id);
}

static int result_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct result *res = arg;
	char alarm_id[KERYU_UUID_LEN], status[16];
	bool fresh = false;
	int rc, attempts = 0;

	res->applied = false;
	rc = storage_db_begin(p, c);
	/* lock the rows first so that the event and the status it sets are
	 * decided together, and an unknown id is told apart from a no-op */
	if (!rc)
		rc = lock_notification(p, c, res->ev->notification_id,
				       alarm_id, status, &attempts);
	if (!rc)
		rc = record_event(p, c, res, &fresh);
	if (!rc && fresh)
		rc = apply_result(p, c, res, alarm_id);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_notification_result(void *self,
				const struct keryu_delivery_event *ev,
				int lease_s)
{
	struct storage_pool *p = self;
	struct result res;
	int rc;

	if (!ev || !keryu_uuid_valid(ev->notification_id) ||
	    !keryu_uuid_valid(ev->event_id) || ev->attempt < 0 ||
	    lease_s < 1)
		return KERYU_EINVAL;
	memset(&res, 0, sizeof(res));
	res.ev = ev;
	res.status = map_status(ev->status);
	if (!res.status)
		return KERYU_EINVAL;
	snprintf(res.attempt, sizeof(res.attempt), "%d", ev->attempt);
	snprintf(res.lease, sizeof(res.lease), "%d", lease_s);
	snprintf(res.retry_ms, sizeof(res.retry_ms), "%d",
		 ev->retry_in_ms < 0 ? -1 : ev->retry_in_ms);
	rc = storage_pool_run(p, "notification_result", result_work, &res);
	if (!rc)
		storage_pool_host(p)->log(
			storage_pool_mod(p), KERYU_LOG_INFO,
			"storage.notification_result",
			"notification_id=%s event_id=%s status=%s attempt=%d "
			"retry_in_ms=%d applied=%s",
			ev->notification_id, ev->event_id, res.status,
			ev->attempt, ev->retry_in_ms < 0 ? -1 : ev->retry_in_ms,
			res.applied ? "yes" : "no");
	return rc;
}
