/* Notification status: queued by the alarms module, then moved forward by
 * delivery results from channel modules and provider webhooks. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* Status order for the forward-only rule, in SQL so that it is checked in
 * the UPDATE itself: two results racing cannot move a row backwards, as
 * PostgreSQL re-checks the WHERE on the row it finally locks. FAILED and
 * ERROR share the top rank: reachable from any other status, final. */
#define RANK(x)                                                                \
	"(CASE " x " WHEN 'PENDING' THEN 0 WHEN 'QUEUED' THEN 1 "              \
	"WHEN 'SENT' THEN 2 WHEN 'DELIVERED' THEN 3 WHEN 'READ' THEN 4 "       \
	"ELSE 5 END)"

/* ---- queued ---- */

struct queued {
	const char *id;
	char attempt[16];
};

/* Locks the notification; ENOTFOUND when unknown. *final says it has
 * reached FAILED or ERROR, after which nothing about it changes. */
static int lock_notification(struct storage_pool *p, PGconn *c,
			     const char *id, char alarm_id[KERYU_UUID_LEN],
			     bool *final)
{
	const char *v[] = {id};
	PGresult *r;
	int rc;

	rc = storage_db_exec(p, c, "notification.lock",
			     "SELECT alarm_id::text, "
			     "status IN ('FAILED', 'ERROR') "
			     "FROM notifications WHERE id = $1::uuid "
			     "FOR UPDATE",
			     1, v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return KERYU_ENOTFOUND;
	}
	storage_copy_text(alarm_id, KERYU_UUID_LEN, PQgetvalue(r, 0, 0));
	*final = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	return 0;
}

static int queued_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct queued *q = arg;
	const char *v[] = {q->id, q->attempt};
	char alarm_id[KERYU_UUID_LEN];
	const char *va[] = {alarm_id, q->attempt};
	bool final = false;
	int rc;

	rc = storage_db_begin(p, c);
	if (!rc)
		rc = lock_notification(p, c, q->id, alarm_id, &final);
	if (!rc && !final)
		rc = storage_db_exec(
			p, c, "notification.queued",
			"UPDATE notifications SET "
			"status = CASE WHEN status = 'PENDING' THEN 'QUEUED' "
			"  ELSE status END, "
			"attempts = greatest(attempts, $2::int), "
			"queued_at = now(), updated_at = now() "
			"WHERE id = $1::uuid",
			2, v, NULL);
	if (!rc && !final)
		rc = storage_db_exec(p, c, "notification.queued_event",
				     "INSERT INTO notification_events "
				     "(notification_id, status, attempt) "
				     "VALUES ($1::uuid, 'QUEUED', $2::int)",
				     2, v, NULL);
	/* code notifications (purpose 'code') belong to no alarm */
	if (!rc && !final && alarm_id[0])
		rc = storage_db_exec(
			p, c, "notification.queued_alarm",
			"UPDATE alarms SET notification_status = CASE "
			"  WHEN notification_status = 'PENDING' THEN 'QUEUED' "
			"  ELSE notification_status END, "
			"notification_attempts = "
			"  greatest(notification_attempts, $2::int), "
			"last_attempt = now() "
			"WHERE id = $1::uuid",
			2, va, NULL);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_notification_queued(void *self, const char *notification_id,
				int attempt)
{
	struct queued q = {notification_id, ""};

	if (!keryu_uuid_valid(notification_id) || attempt < 1)
		return KERYU_EINVAL;
	snprintf(q.attempt, sizeof(q.attempt), "%d", attempt);
	return storage_pool_run(self, "notification_queued", queued_work, &q);
}

/* ---- results ---- */

struct result {
	const struct keryu_delivery_event *ev;
	const char *status; /* upper case, as stored */
	char attempt[16];
	bool applied; /* for the log line */
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

static int apply_result(struct storage_pool *p, PGconn *c, struct result *res)
{
	const struct keryu_delivery_event *ev = res->ev;
	const char *v[] = {ev->notification_id,	   res->status,
			   res->attempt,	   ev->provider_message_id,
			   ev->error_code,	   ev->error_text,
			   ev->at,		   NULL};
	char alarm_id[KERYU_UUID_LEN];
	PGresult *r;
	int rc;

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
		"failed_at = CASE WHEN $2::text IN ('FAILED', 'ERROR') "
		"  THEN t.at ELSE failed_at END, "
		"updated_at = now() "
		"FROM (SELECT coalesce(nullif($7::text, '')::timestamptz, "
		"  now()) AS at) t "
		"WHERE id = $1::uuid "
		"AND " RANK("status") " < " RANK("$2::text") " "
		"RETURNING alarm_id::text",
		7, v, &r);
	if (rc)
		return rc;
	res->applied = PQntuples(r) == 1;
	if (!res->applied) {
		PQclear(r);
		return 0; /* backwards, or already final: nothing to do */
	}
	storage_copy_text(alarm_id, sizeof(alarm_id), PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!alarm_id[0])
		return 0; /* a code notification: no alarm to summarise */
	v[0] = alarm_id;
	/* The alarm keeps the spec's one-line summary of its notification. */
	return storage_db_exec(
		p, c, "notification.result_alarm",
		"UPDATE alarms SET notification_status = $2::text, "
		"notification_sent = notification_sent "
		"  OR $2::text IN ('SENT', 'DELIVERED', 'READ'), "
		"whatsapp_message_id = coalesce(left(nullif($4::text, ''), 255), "
		"  whatsapp_message_id), "
		"notification_error = CASE WHEN $2::text IN ('FAILED', 'ERROR') "
		"  THEN coalesce(nullif(concat_ws(': ', nullif($5::text, ''), "
		"  nullif($6::text, '')), ''), lower($2::text)) "
		"  ELSE notification_error END, "
		"notification_attempts = greatest(notification_attempts, "
		"  $3::int), "
		"last_attempt = greatest(last_attempt, "
		"  coalesce(nullif($7::text, '')::timestamptz, now())) "
		"WHERE id = $1::uuid "
		"AND " RANK("notification_status") " < " RANK("$2::text"),
		7, v, NULL);
}

static int result_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct result *res = arg;
	char alarm_id[KERYU_UUID_LEN];
	bool fresh = false, final = false;
	int rc;

	res->applied = false;
	rc = storage_db_begin(p, c);
	/* lock the row first so that the event and the status it sets are
	 * decided together, and an unknown id is told apart from a no-op */
	if (!rc)
		rc = lock_notification(p, c, res->ev->notification_id,
				       alarm_id, &final);
	if (!rc)
		rc = record_event(p, c, res, &fresh);
	if (!rc && fresh && !final)
		rc = apply_result(p, c, res);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_notification_result(void *self,
				const struct keryu_delivery_event *ev)
{
	struct storage_pool *p = self;
	struct result res;
	int rc;

	if (!ev || !keryu_uuid_valid(ev->notification_id) ||
	    !keryu_uuid_valid(ev->event_id) || ev->attempt < 0)
		return KERYU_EINVAL;
	memset(&res, 0, sizeof(res));
	res.ev = ev;
	res.status = map_status(ev->status);
	if (!res.status)
		return KERYU_EINVAL;
	snprintf(res.attempt, sizeof(res.attempt), "%d", ev->attempt);
	rc = storage_pool_run(p, "notification_result", result_work, &res);
	if (!rc)
		storage_pool_host(p)->log(
			storage_pool_mod(p), KERYU_LOG_INFO,
			"storage.notification_result",
			"notification_id=%s event_id=%s status=%s attempt=%d "
			"applied=%s",
			ev->notification_id, ev->event_id, res.status,
			ev->attempt, res.applied ? "yes" : "no");
	return rc;
}
