/* The "admin" service's API refresh tokens (keryu/admin.h): issued at an
 * API login, rotated at every use, revoked at logout, and all revoked when
 * one is used twice (a copy is in someone else's hands), when the password
 * changes or when the custodian is deactivated. Only the caller's digest
 * of a token is stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* Ten years: a bound so that now() + ttl stays a sane timestamp. */
#define TTL_MAX 315360000

int storage_refresh_revoke_in(struct storage_pool *p, PGconn *c,
			      const char *custodian_id, int *revoked)
{
	const char *v[] = {custodian_id};
	PGresult *r;
	int rc;

	if (revoked)
		*revoked = 0;
	rc = storage_db_exec(p, c, "refresh.revoke_all",
			     "UPDATE api_refresh_tokens SET revoked_at = now() "
			     "WHERE custodian_id = $1::uuid "
			     "AND revoked_at IS NULL",
			     1, v, &r);
	if (rc)
		return rc;
	if (revoked)
		*revoked = atoi(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

/* ---- create ---- */

static int create_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* hash, custodian, ttl */
	PGresult *r;
	int rc, custodians, inserted;

	/* the custodian's rows that expired a day ago go: past its expiry a
	 * token is refused anyway, replayed or not */
	rc = storage_db_exec(p, c, "refresh.tidy",
			     "DELETE FROM api_refresh_tokens "
			     "WHERE custodian_id = $1::uuid "
			     "AND expires_at < now() - interval '1 day'",
			     1, &v[1], NULL);
	if (rc)
		return rc;
	rc = storage_db_exec(
		p, c, "refresh.create",
		"WITH k AS (SELECT id FROM custodians WHERE id = $2::uuid "
		"  AND is_active), "
		"i AS (INSERT INTO api_refresh_tokens (token_hash, custodian_id, "
		"  expires_at) SELECT $1, k.id, "
		"  now() + $3::int * interval '1 second' FROM k "
		"  ON CONFLICT (token_hash) DO NOTHING RETURNING 1) "
		"SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM i)",
		3, v, &r);
	if (rc)
		return rc;
	custodians = atoi(PQgetvalue(r, 0, 0));
	inserted = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	if (!custodians)
		return KERYU_ENOTFOUND;
	return inserted ? 0 : KERYU_ECONFLICT;
}

int storage_refresh_create(void *self, const char *token_hash,
			   const char *custodian_id, int ttl_s)
{
	struct storage_pool *p = self;
	char ttl[16];
	const char *v[] = {token_hash, custodian_id, ttl};
	int rc;

	if (!storage_hash_valid(token_hash) || !keryu_uuid_valid(custodian_id) ||
	    ttl_s < 1 || ttl_s > TTL_MAX)
		return KERYU_EINVAL;
	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	rc = storage_pool_run_tx(p, "refresh_create", create_work, (void *)v);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.refresh_created",
					  "custodian_id=%s ttl_s=%d",
					  custodian_id, ttl_s);
	return rc;
}

/* ---- rotate ---- */

struct rotate_call {
	const char *v[3]; /* old hash, new hash, ttl */
	char custodian_id[KERYU_UUID_LEN];
	bool replay;
	int revoked;
};

static int rotate_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct rotate_call *rt = arg;
	PGresult *r;
	bool revoked, expired, active;
	int rc;

	rt->replay = false;
	rt->revoked = 0;
	rt->custodian_id[0] = '\0';
	/* the row locked: two uses of one token at once are one rotation
	 * and one replay, never two rotations */
	rc = storage_db_row(p, c, "refresh.lookup",
			    "SELECT t.custodian_id::text, "
			    "t.revoked_at IS NOT NULL, t.expires_at <= now(), "
			    "k.is_active FROM api_refresh_tokens t "
			    "JOIN custodians k ON k.id = t.custodian_id "
			    "WHERE t.token_hash = $1 FOR UPDATE OF t",
			    1, rt->v, &r);
	if (rc)
		return rc;
	storage_copy_text(rt->custodian_id, sizeof(rt->custodian_id),
			  PQgetvalue(r, 0, 0));
	revoked = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	expired = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	active = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	PQclear(r);
	if (revoked) {
		/* rotated or revoked before: whoever holds it now may not be
		 * its owner, so nothing of that custodian stays alive. The
		 * revocation is committed; the caller refuses the token. */
		rt->replay = true;
		return storage_refresh_revoke_in(p, c, rt->custodian_id,
						 &rt->revoked);
	}
	if (expired || !active)
		return KERYU_ENOTFOUND;
	rc = storage_db_exec(p, c, "refresh.rotate",
			     "UPDATE api_refresh_tokens SET revoked_at = now(), "
			     "replaced_by = $2 WHERE token_hash = $1",
			     2, rt->v, NULL);
	if (rc)
		return rc;
	rc = storage_db_one(
		p, c, "refresh.issue",
		"INSERT INTO api_refresh_tokens (token_hash, custodian_id, "
		"expires_at) SELECT $2, custodian_id, "
		"now() + $3::int * interval '1 second' "
		"FROM api_refresh_tokens WHERE token_hash = $1 "
		"ON CONFLICT (token_hash) DO NOTHING RETURNING 1",
		3, rt->v);
	/* none inserted: new_hash is taken */
	return rc == KERYU_ENOTFOUND ? KERYU_ECONFLICT : rc;
}

int storage_refresh_rotate(void *self, const char *old_hash,
			   const char *new_hash, int ttl_s,
			   char custodian_id[KERYU_UUID_LEN])
{
	struct storage_pool *p = self;
	struct rotate_call rt;
	char ttl[16];
	int rc;

	if (custodian_id)
		custodian_id[0] = '\0';
	if (!custodian_id || !storage_hash_valid(old_hash) ||
	    !storage_hash_valid(new_hash) || strcmp(old_hash, new_hash) == 0 ||
	    ttl_s < 1 || ttl_s > TTL_MAX)
		return KERYU_EINVAL;
	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	memset(&rt, 0, sizeof(rt));
	rt.v[0] = old_hash;
	rt.v[1] = new_hash;
	rt.v[2] = ttl;
	rc = storage_pool_run_tx(p, "refresh_rotate", rotate_work, &rt);
	if (!rc && rt.replay)
		rc = KERYU_ENOTFOUND;
	if (rt.replay)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_WARN,
					  "storage.refresh_replay",
					  "custodian_id=%s revoked=%d",
					  rt.custodian_id, rt.revoked);
	if (rc)
		return rc;
	storage_copy_text(custodian_id, KERYU_UUID_LEN, rt.custodian_id);
	return 0;
}

/* ---- revoke ---- */

static int revoke_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* hash */

	return storage_db_exec(p, c, "refresh.revoke",
			       "UPDATE api_refresh_tokens SET revoked_at = now() "
			       "WHERE token_hash = $1 AND revoked_at IS NULL",
			       1, v, NULL);
}

int storage_refresh_revoke(void *self, const char *token_hash)
{
	const char *v[] = {token_hash};

	if (!storage_hash_valid(token_hash))
		return KERYU_EINVAL;
	return storage_pool_run(self, "refresh_revoke", revoke_work, (void *)v);
}

struct revoke_all_call {
	const char *id;
	int revoked;
};

static int revoke_all_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct revoke_all_call *ra = arg;

	return storage_refresh_revoke_in(p, c, ra->id, &ra->revoked);
}

int storage_refresh_revoke_all(void *self, const char *custodian_id)
{
	struct storage_pool *p = self;
	struct revoke_all_call ra = {custodian_id, 0};
	int rc;

	if (!keryu_uuid_valid(custodian_id))
		return KERYU_EINVAL;
	rc = storage_pool_run(p, "refresh_revoke_all", revoke_all_work, &ra);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.refresh_revoked",
					  "custodian_id=%s revoked=%d",
					  custodian_id, ra.revoked);
	return rc;
}
