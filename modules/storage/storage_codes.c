/* One-time codes (keryu/accounts.h): issued with the notification that
 * carries them, checked with a bounded number of tries. Only the code's
 * hash is stored; the code itself exists in the caller and the message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* Sanity bounds, far beyond any sensible setting. */
#define CODE_TTL_MAX_S 86400
#define CODE_TRIES_MAX 1000
#define CODE_RESEND_MAX_S 86400

/* The live code of a custodian+purpose(+contact): $1 custodian, $2
 * purpose, $3 contact (NULL unless CONTACT). */
#define SAME_CODE                                                              \
	"custodian_id = $1::uuid AND purpose = $2::smallint "                  \
	"AND contact_id IS NOT DISTINCT FROM $3::uuid "

static bool channel_valid(const char *ch)
{
	size_t n = ch ? strlen(ch) : 0;

	return n > 0 && n < 32 &&
	       strspn(ch, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* purpose in range, and contact_id given exactly when it is CONTACT */
static bool target_valid(const char *custodian_id,
			 enum keryu_code_purpose purpose,
			 const char *contact_id)
{
	if (!keryu_uuid_valid(custodian_id))
		return false;
	if (purpose == KERYU_CODE_CONTACT)
		return keryu_uuid_valid(contact_id);
	return (purpose == KERYU_CODE_PHONE || purpose == KERYU_CODE_RESET) &&
	       !contact_id;
}

static const char *purpose_name(enum keryu_code_purpose purpose)
{
	return purpose == KERYU_CODE_PHONE ? "phone"
	       : purpose == KERYU_CODE_RESET ? "reset"
					      : "contact";
}

/* Both are 64 hex digits (checked); compared without an early exit so the
 * time taken says nothing about how much matched. */
static bool same_hash(const char *a, const char *b)
{
	unsigned char d = 0;
	size_t i;

	if (strlen(a) != 64 || strlen(b) != 64)
		return false;
	for (i = 0; i < 64; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* ---- issue ---- */

struct issue {
	const char *v[3]; /* custodian, purpose, contact */
	enum keryu_code_purpose purpose;
	char purpose_num[4];
	const char *code_hash;
	const char *channel;
	char ttl[16], max_tries[16], resend[16];
	struct keryu_code_issued out; /* copied out on success only */
};

/* Locks the custodian (so that issues for one custodian queue up and the
 * resend throttle cannot be raced) and finds where the code goes. */
static int find_recipient(struct storage_pool *p, PGconn *c, struct issue *is)
{
	const char *vc[] = {is->v[2], is->v[0]};
	PGresult *r;
	int rc, ok;

	rc = storage_db_exec(p, c, "code.custodian",
			     "SELECT phone_e164, phone_verified_at IS NOT NULL "
			     "FROM custodians WHERE id = $1::uuid FOR UPDATE",
			     1, is->v, &r);
	if (rc)
		return rc;
	/* a reset goes only to a phone the custodian has proved is theirs:
	 * the code is as good as the password */
	ok = PQntuples(r) == 1 &&
	     (is->purpose != KERYU_CODE_RESET ||
	      strcmp(PQgetvalue(r, 0, 1), "t") == 0);
	if (ok)
		storage_copy_text(is->out.recipient, sizeof(is->out.recipient),
				  PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!ok)
		return KERYU_ENOTFOUND;
	if (is->purpose != KERYU_CODE_CONTACT)
		return 0;
	/* only a contact of one of the custodian's own subjects */
	rc = storage_db_exec(p, c, "code.contact",
			     "SELECT ct.phone_e164 FROM contacts ct "
			     "JOIN subjects s ON s.id = ct.subject_id "
			     "WHERE ct.id = $1::uuid "
			     "AND s.custodian_id = $2::uuid",
			     2, vc, &r);
	if (rc)
		return rc;
	ok = PQntuples(r) == 1;
	if (ok)
		storage_copy_text(is->out.recipient, sizeof(is->out.recipient),
				  PQgetvalue(r, 0, 0));
	PQclear(r);
	return ok ? 0 : KERYU_ENOTFOUND;
}

static int throttle(struct storage_pool *p, PGconn *c, struct issue *is)
{
	const char *v[] = {is->v[0], is->v[1], is->v[2], is->resend};
	PGresult *r;
	int rc, n;

	/* every code counts, used or replaced: resending is what is
	 * throttled */
	rc = storage_db_exec(p, c, "code.throttle",
			     "SELECT 1 FROM one_time_codes WHERE " SAME_CODE
			     "AND created_at > now() - $4::int * "
			     "interval '1 second' LIMIT 1",
			     4, v, &r);
	if (rc)
		return rc;
	n = PQntuples(r);
	PQclear(r);
	return n ? KERYU_ECONFLICT : 0;
}

static int insert_code(struct storage_pool *p, PGconn *c, struct issue *is)
{
	const char *vn[] = {is->v[0], is->channel, is->out.recipient};
	const char *vi[] = {is->v[0],	      is->v[1],	     is->v[2],
			    is->code_hash,    is->out.recipient, is->max_tries,
			    is->ttl,	      is->out.notification_id};
	PGresult *r;
	int rc;

	/* only the newest code works: an older message is a dead letter */
	rc = storage_db_exec(p, c, "code.kill",
			     "UPDATE one_time_codes SET consumed_at = now() "
			     "WHERE " SAME_CODE "AND consumed_at IS NULL",
			     3, is->v, NULL);
	if (rc)
		return rc;
	rc = storage_db_exec(p, c, "code.notification",
			     "INSERT INTO notifications "
			     "(alarm_id, purpose, custodian_id, channel, "
			     "recipient) "
			     "VALUES (NULL, 'code', $1::uuid, $2, $3) "
			     "RETURNING id::text",
			     3, vn, &r);
	if (rc)
		return rc;
	storage_copy_text(is->out.notification_id,
			  sizeof(is->out.notification_id),
			  PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	if (!is->out.notification_id[0])
		return KERYU_ERR;
	return storage_db_exec(
		p, c, "code.insert",
		"INSERT INTO one_time_codes (custodian_id, purpose, contact_id, "
		"code_hash, recipient, max_tries, expires_at, notification_id) "
		"VALUES ($1::uuid, $2::smallint, $3::uuid, $4, $5, $6::int, "
		"now() + $7::int * interval '1 second', $8::uuid)",
		8, vi, NULL);
}

static int issue_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct issue *is = arg;
	int rc;

	memset(&is->out, 0, sizeof(is->out));
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = find_recipient(p, c, is);
	if (!rc)
		rc = throttle(p, c, is);
	if (!rc)
		rc = insert_code(p, c, is);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_code_issue(void *self, const char *custodian_id,
		       enum keryu_code_purpose purpose,
		       const char *contact_id, const char *code_hash,
		       const char *channel, int ttl_s, int max_tries,
		       int resend_after_s, struct keryu_code_issued *out)
{
	struct storage_pool *p = self;
	struct issue is;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!target_valid(custodian_id, purpose, contact_id) ||
	    !storage_hash_valid(code_hash) || !channel_valid(channel) ||
	    ttl_s < 1 || ttl_s > CODE_TTL_MAX_S || max_tries < 1 ||
	    max_tries > CODE_TRIES_MAX || resend_after_s < 0 ||
	    resend_after_s > CODE_RESEND_MAX_S)
		return KERYU_EINVAL;
	memset(&is, 0, sizeof(is));
	snprintf(is.purpose_num, sizeof(is.purpose_num), "%d", (int)purpose);
	is.v[0] = custodian_id;
	is.v[1] = is.purpose_num;
	is.v[2] = contact_id;
	is.purpose = purpose;
	is.code_hash = code_hash;
	is.channel = channel;
	snprintf(is.ttl, sizeof(is.ttl), "%d", ttl_s);
	snprintf(is.max_tries, sizeof(is.max_tries), "%d", max_tries);
	snprintf(is.resend, sizeof(is.resend), "%d", resend_after_s);
	rc = storage_pool_run(p, "code_issue", issue_work, &is);
	if (rc) {
		if (rc == KERYU_ECONFLICT)
			storage_pool_host(p)->log(
				storage_pool_mod(p), KERYU_LOG_INFO,
				"storage.code_throttled",
				"custodian_id=%s purpose=%s", custodian_id,
				purpose_name(purpose));
		return rc;
	}
	*out = is.out;
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.code_issued",
				  "custodian_id=%s purpose=%s "
				  "notification_id=%s channel=%s",
				  custodian_id, purpose_name(purpose),
				  out->notification_id, channel);
	return 0;
}

/* ---- check ---- */

struct check {
	const char *v[3]; /* custodian, purpose, contact */
	enum keryu_code_purpose purpose;
	char purpose_num[4];
	const char *code_hash;
	enum keryu_code_check result;
};

/* The code matched: it is used up, and what it proves is recorded, but
 * only for the phone it was sent to (the phone may have changed since). */
static int apply_effect(struct storage_pool *p, PGconn *c, struct check *ck,
			const char *code_id, const char *recipient)
{
	const char *v[] = {code_id};
	PGresult *r = NULL;
	int rc;

	rc = storage_db_exec(p, c, "code.consume",
			     "UPDATE one_time_codes SET consumed_at = now() "
			     "WHERE id = $1::uuid",
			     1, v, NULL);
	if (rc || ck->purpose == KERYU_CODE_RESET)
		return rc;
	if (ck->purpose == KERYU_CODE_PHONE) {
		const char *vp[] = {ck->v[0], recipient};

		rc = storage_db_exec(p, c, "code.phone_verified",
				     "UPDATE custodians SET "
				     "phone_verified_at = now(), "
				     "updated_at = now() "
				     "WHERE id = $1::uuid AND phone_e164 = $2 "
				     "RETURNING 1",
				     2, vp, &r);
	} else {
		const char *vc[] = {ck->v[2], recipient, ck->v[0]};

		rc = storage_db_exec(p, c, "code.contact_verified",
				     "UPDATE contacts SET verified_at = now(), "
				     "updated_at = now() "
				     "WHERE id = $1::uuid AND phone_e164 = $2 "
				     "AND subject_id IN (SELECT id FROM subjects "
				     "  WHERE custodian_id = $3::uuid) "
				     "RETURNING 1",
				     3, vc, &r);
	}
	if (!rc && PQntuples(r) != 1)
		ck->result = KERYU_CODE_EXPIRED; /* sent to another phone */
	PQclear(r);
	return rc;
}

static int check_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct check *ck = arg;
	const char *vt[1];
	char id[KERYU_UUID_LEN], recipient[32];
	PGresult *r;
	int rc, tries, max_tries;
	bool match;

	ck->result = KERYU_CODE_EXPIRED;
	rc = storage_db_begin(p, c);
	if (rc)
		return rc;
	/* FOR UPDATE: two guesses at once are counted one after the other,
	 * and a code matched by one is gone for the other */
	rc = storage_db_exec(p, c, "code.live",
			     "SELECT id::text, code_hash, tries, max_tries, "
			     "recipient FROM one_time_codes WHERE " SAME_CODE
			     "AND consumed_at IS NULL AND expires_at > now() "
			     "ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
			     3, ck->v, &r);
	if (rc) {
		storage_db_rollback(p, c);
		return rc;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		storage_db_rollback(p, c);
		return 0; /* EXPIRED */
	}
	storage_copy_text(id, sizeof(id), PQgetvalue(r, 0, 0));
	match = same_hash(PQgetvalue(r, 0, 1), ck->code_hash);
	tries = atoi(PQgetvalue(r, 0, 2));
	max_tries = atoi(PQgetvalue(r, 0, 3));
	storage_copy_text(recipient, sizeof(recipient), PQgetvalue(r, 0, 4));
	PQclear(r);
	vt[0] = id;
	if (tries >= max_tries) {
		/* even the right code: the guesses are spent */
		ck->result = KERYU_CODE_TOO_MANY;
		storage_db_rollback(p, c);
		return 0;
	}
	if (match) {
		ck->result = KERYU_CODE_OK;
		rc = apply_effect(p, c, ck, id, recipient);
	} else {
		ck->result = KERYU_CODE_WRONG;
		rc = storage_db_exec(p, c, "code.wrong",
				     "UPDATE one_time_codes "
				     "SET tries = tries + 1 WHERE id = $1::uuid",
				     1, vt, NULL);
	}
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_code_check(void *self, const char *custodian_id,
		       enum keryu_code_purpose purpose, const char *contact_id,
		       const char *code_hash, enum keryu_code_check *result)
{
	static const char *const names[] = {"ok", "wrong", "expired",
					    "too_many"};
	struct storage_pool *p = self;
	struct check ck;
	int rc;

	if (!result)
		return KERYU_EINVAL;
	*result = KERYU_CODE_EXPIRED;
	if (!target_valid(custodian_id, purpose, contact_id) ||
	    !storage_hash_valid(code_hash))
		return KERYU_EINVAL;
	memset(&ck, 0, sizeof(ck));
	snprintf(ck.purpose_num, sizeof(ck.purpose_num), "%d", (int)purpose);
	ck.v[0] = custodian_id;
	ck.v[1] = ck.purpose_num;
	ck.v[2] = contact_id;
	ck.purpose = purpose;
	ck.code_hash = code_hash;
	rc = storage_pool_run(p, "code_check", check_work, &ck);
	if (rc)
		return rc;
	*result = ck.result;
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.code_checked",
				  "custodian_id=%s purpose=%s result=%s",
				  custodian_id, purpose_name(purpose),
				  names[ck.result]);
	return 0;
}
