/* The "subjects" service's emergency contacts (keryu/subjects.h). A
 * contact belongs to a subject; scoping is by a join to subjects on the
 * custodian. Writes lock the subject row first, so that two pages changing
 * one subject's contacts take turns and positions stay 1..n. A channel is
 * any name that can be a topic level (storage_channel_valid, as the
 * schema's check): which ones a custodian is offered is the http module's
 * choice, and a channel is whatever module subscribes to its topic. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* Numbers the subject's contacts 1..n in their current order. Rows from
 * before this service (position 0 by default) are ordered by age. */
static int renumber(struct storage_pool *p, PGconn *c, const char *subject_id)
{
	const char *v[] = {subject_id};

	return storage_db_exec(
		p, c, "contact.renumber",
		"UPDATE contacts c SET position = o.rn FROM "
		"(SELECT id, row_number() OVER "
		"  (ORDER BY position, created_at, id) AS rn "
		"  FROM contacts WHERE subject_id = $1::uuid) o "
		"WHERE c.id = o.id AND c.position <> o.rn",
		1, v, NULL);
}

/* ---- list ---- */

struct list_call {
	const char *v[3]; /* custodian, subject, limit */
	struct keryu_contact *out;
	size_t n;
};

static int list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	/* the LEFT JOIN keeps one row for a subject without contacts, so
	 * that "not mine" and "none" differ */
	rc = storage_db_exec(p, c, "contact.list",
			     "SELECT k.id::text, s.id::text, k.name, "
			     "k.phone_e164, k.channel, k.position, "
			     "k.verified_at IS NOT NULL, "
			     "coalesce(k.fallback_channel, '') "
			     "FROM subjects s "
			     "LEFT JOIN LATERAL (SELECT * FROM contacts "
			     "  WHERE subject_id = s.id "
			     "  ORDER BY position, created_at, id "
			     "  LIMIT $3::int) k ON true "
			     "WHERE s.custodian_id = $1::uuid "
			     "AND s.id = $2::uuid "
			     "ORDER BY k.position, k.created_at, k.id",
			     3, lc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		return KERYU_ENOTFOUND;
	}
	lc->n = 0;
	for (i = 0; i < rows; i++) {
		struct keryu_contact *k = &lc->out[lc->n];

		if (PQgetisnull(r, i, 0))
			continue;
		memset(k, 0, sizeof(*k));
		storage_copy_text(k->id, sizeof(k->id), PQgetvalue(r, i, 0));
		storage_copy_text(k->subject_id, sizeof(k->subject_id),
				  PQgetvalue(r, i, 1));
		storage_copy_text(k->name, sizeof(k->name), PQgetvalue(r, i, 2));
		storage_copy_text(k->phone, sizeof(k->phone),
				  PQgetvalue(r, i, 3));
		storage_copy_text(k->channel, sizeof(k->channel),
				  PQgetvalue(r, i, 4));
		k->position = atoi(PQgetvalue(r, i, 5));
		k->verified = strcmp(PQgetvalue(r, i, 6), "t") == 0;
		storage_copy_text(k->fallback_channel,
				  sizeof(k->fallback_channel),
				  PQgetvalue(r, i, 7));
		lc->n++;
	}
	PQclear(r);
	return 0;
}

int storage_contact_list(void *self, const char *custodian_id,
			 const char *subject_id, struct keryu_contact *out,
			 size_t max, size_t *n)
{
	struct list_call lc;
	char lim[16];
	int rc;

	if (n)
		*n = 0;
	if (!n || (max && !out) || !keryu_uuid_valid(custodian_id) ||
	    !keryu_uuid_valid(subject_id))
		return KERYU_EINVAL;
	snprintf(lim, sizeof(lim), "%d", max > INT_MAX ? INT_MAX : (int)max);
	memset(&lc, 0, sizeof(lc));
	lc.v[0] = custodian_id;
	lc.v[1] = subject_id;
	lc.v[2] = lim;
	lc.out = out;
	rc = storage_pool_run(self, "contact_list", list_work, &lc);
	if (!rc)
		*n = lc.n;
	return rc;
}

/* ---- add ---- */

struct add_call {
	/* custodian, subject, name, phone, channel, fallback (NULL: none) */
	const char *v[6];
	char id[KERYU_UUID_LEN];
};

/* Locks the subject row when it is the custodian's: 0, ENOTFOUND or an
 * error. Call inside a transaction. */
static int lock_subject(struct storage_pool *p, PGconn *c,
			const char *custodian_id, const char *subject_id)
{
	const char *v[] = {custodian_id, subject_id};

	return storage_db_one(p, c, "contact.lock_subject",
			      "SELECT 1 FROM subjects "
			      "WHERE custodian_id = $1::uuid AND id = $2::uuid "
			      "FOR UPDATE",
			      2, v);
}

/* 0 while the subject has fewer than KERYU_CONTACTS_MAX contacts,
 * ECONFLICT when it has that many, or an error. Call with the subject
 * locked. */
static int check_room(struct storage_pool *p, PGconn *c,
		      const char *subject_id)
{
	const char *v[] = {subject_id};
	PGresult *r;
	long n;
	int rc;

	rc = storage_db_exec(p, c, "contact.count",
			     "SELECT count(*) FROM contacts "
			     "WHERE subject_id = $1::uuid",
			     1, v, &r);
	if (rc)
		return rc;
	n = PQntuples(r) == 1 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	PQclear(r);
	if (n < 0)
		return KERYU_ERR;
	return n >= KERYU_CONTACTS_MAX ? KERYU_ECONFLICT : 0;
}

static int add_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct add_call *ac = arg;
	PGresult *r = NULL;
	int rc;

	rc = storage_db_begin(p, c);
	if (!rc)
		rc = lock_subject(p, c, ac->v[0], ac->v[1]);
	/* counted under the subject's row lock, so two concurrent adds
	 * cannot both see room for one more */
	if (!rc)
		rc = check_room(p, c, ac->v[1]);
	if (!rc)
		rc = storage_db_exec(
			p, c, "contact.add",
			"INSERT INTO contacts (subject_id, name, phone_e164, "
			"channel, fallback_channel, position) "
			"SELECT $1::uuid, $2, $3, $4, $5, "
			"coalesce(max(position), 0) + 1 "
			"FROM contacts WHERE subject_id = $1::uuid "
			"RETURNING id::text",
			5, ac->v + 1, &r);
	if (!rc && PQntuples(r) == 1)
		storage_copy_text(ac->id, sizeof(ac->id), PQgetvalue(r, 0, 0));
	else if (!rc)
		rc = KERYU_ERR;
	PQclear(r);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_contact_add(void *self, const char *custodian_id,
			const char *subject_id, const struct keryu_contact *in,
			char id_out[KERYU_UUID_LEN])
{
	struct storage_pool *p = self;
	struct add_call ac;
	int rc;

	if (!id_out)
		return KERYU_EINVAL;
	id_out[0] = '\0';
	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(subject_id) ||
	    !in || !memchr(in->name, '\0', sizeof(in->name)) ||
	    !memchr(in->phone, '\0', sizeof(in->phone)) ||
	    !memchr(in->channel, '\0', sizeof(in->channel)) ||
	    !memchr(in->fallback_channel, '\0',
		    sizeof(in->fallback_channel)) ||
	    !storage_line_valid(in->name, sizeof(in->name) - 1) ||
	    !keryu_e164_valid(in->phone) ||
	    !storage_channel_valid(in->channel) ||
	    (in->fallback_channel[0] &&
	     (!storage_channel_valid(in->fallback_channel) ||
	      strcmp(in->fallback_channel, in->channel) == 0)))
		return KERYU_EINVAL;
	memset(&ac, 0, sizeof(ac));
	ac.v[0] = custodian_id;
	ac.v[1] = subject_id;
	ac.v[2] = in->name;
	ac.v[3] = in->phone;
	ac.v[4] = in->channel;
	ac.v[5] = in->fallback_channel[0] ? in->fallback_channel : NULL;
	rc = storage_pool_run(p, "contact_add", add_work, &ac);
	if (rc)
		return rc;
	memcpy(id_out, ac.id, KERYU_UUID_LEN);
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.contact_added",
				  "custodian_id=%s subject_id=%s contact_id=%s "
				  "channel=%s fallback_channel=%s",
				  custodian_id, subject_id, ac.id, in->channel,
				  in->fallback_channel[0] ? in->fallback_channel
							  : "-");
	return 0;
}

/* ---- delete and move ---- */

struct change_call {
	const char *v[2]; /* custodian, contact */
	int delta;        /* 0 for delete */
	char subject[KERYU_UUID_LEN];
};

/* Finds the contact's subject when both are the custodian's, locking the
 * subject row: 0, ENOTFOUND or an error. */
static int lock_contact(struct storage_pool *p, PGconn *c,
			struct change_call *cc)
{
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "contact.lock",
			    "SELECT s.id::text FROM subjects s "
			    "JOIN contacts k ON k.subject_id = s.id "
			    "WHERE s.custodian_id = $1::uuid "
			    "AND k.id = $2::uuid FOR UPDATE OF s",
			    2, cc->v, &r);
	if (rc)
		return rc;
	storage_copy_text(cc->subject, sizeof(cc->subject), PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int delete_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct change_call *cc = arg;
	int rc;

	rc = storage_db_begin(p, c);
	if (!rc)
		rc = lock_contact(p, c, cc);
	/* its one-time codes go by cascade */
	if (!rc)
		rc = storage_db_exec(p, c, "contact.delete",
				     "DELETE FROM contacts WHERE id = $1::uuid",
				     1, cc->v + 1, NULL);
	if (!rc)
		rc = renumber(p, c, cc->subject);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_contact_delete(void *self, const char *custodian_id,
			   const char *contact_id)
{
	struct storage_pool *p = self;
	struct change_call cc;
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(contact_id))
		return KERYU_EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.v[0] = custodian_id;
	cc.v[1] = contact_id;
	rc = storage_pool_run(p, "contact_delete", delete_work, &cc);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.contact_deleted",
					  "custodian_id=%s contact_id=%s",
					  custodian_id, contact_id);
	return rc;
}

static int move_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct change_call *cc = arg;
	const char *v[3];
	char delta[8];
	PGresult *r = NULL;
	int rc;

	snprintf(delta, sizeof(delta), "%d", cc->delta);
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = lock_contact(p, c, cc);
	/* positions 1..n first, so that the neighbour is position +-1 */
	if (!rc)
		rc = renumber(p, c, cc->subject);
	v[0] = cc->subject;
	v[1] = cc->v[1];
	v[2] = delta;
	/* both rows in one statement; no row when there is no neighbour */
	if (!rc)
		rc = storage_db_exec(
			p, c, "contact.move",
			"WITH me AS (SELECT id, position FROM contacts "
			"  WHERE id = $2::uuid), "
			"nb AS (SELECT k.id, k.position FROM contacts k, me "
			"  WHERE k.subject_id = $1::uuid "
			"  AND k.position = me.position + $3::int) "
			"UPDATE contacts k SET updated_at = now(), position = "
			"CASE WHEN k.id = me.id THEN nb.position "
			"ELSE me.position END "
			"FROM me, nb WHERE k.id IN (me.id, nb.id) RETURNING 1",
			3, v, &r);
	if (!rc && PQntuples(r) != 2)
		rc = KERYU_ECONFLICT;
	PQclear(r);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_contact_move(void *self, const char *custodian_id,
			 const char *contact_id, int delta)
{
	struct storage_pool *p = self;
	struct change_call cc;
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(contact_id) ||
	    (delta != -1 && delta != 1))
		return KERYU_EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.v[0] = custodian_id;
	cc.v[1] = contact_id;
	cc.delta = delta;
	rc = storage_pool_run(p, "contact_move", move_work, &cc);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.contact_moved",
					  "custodian_id=%s contact_id=%s delta=%d",
					  custodian_id, contact_id, delta);
	return rc;
}
