/* The "accounts" service's custodians, sessions and rate limits
 * (keryu/accounts.h); one-time codes are in storage_codes.c. Every
 * argument is checked here before any SQL runs, so bad input changes
 * nothing and PostgreSQL's own checks are the second line. */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

/* The ISO-8601 UTC form every Keryu payload uses. */
#define ACCOUNTS_ISO_UTC(col)                                                  \
	"to_char(" col " AT TIME ZONE 'UTC', "                                 \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* What fill_custodian() reads, in this order. */
#define CUSTODIAN_COLS                                                         \
	"id::text, email, coalesce(name, ''), phone_e164, "                    \
	"phone_verified_at IS NOT NULL, is_staff, is_active, "                 \
	"coalesce(password_hash, ''), " ACCOUNTS_ISO_UTC("created_at")

/* Old rows (expired sessions, past rate windows) are deleted by one call
 * in this many, so that no timer is needed and no call pays every time. */
#define PURGE_EVERY 100

/* Longest rate window: the purge keeps a day of windows. */
#define RATE_WINDOW_MAX_S 86400

/* ---- validation ---- */

bool storage_hash_valid(const char *s)
{
	return s && strlen(s) == 64 &&
	       strspn(s, "0123456789abcdef") == 64;
}

/* One '@' with something either side, printable ASCII without spaces or
 * capitals (the caller lower-cases; the database's unique index is on
 * lower(email)), shorter than struct keryu_custodian's field. */
static bool email_valid(const char *s)
{
	size_t n, i, at = 0, ats = 0;

	if (!s)
		return false;
	n = strlen(s);
	if (n < 3 || n >= sizeof(((struct keryu_custodian *)0)->email))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || (ch >= 'A' && ch <= 'Z'))
			return false;
		if (ch == '@') {
			at = i;
			ats++;
		}
	}
	return ats == 1 && at > 0 && at < n - 1;
}

/* Not blank, no control characters, fits struct keryu_custodian. */
static bool name_valid(const char *s)
{
	bool seen = false;
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n >= sizeof(((struct keryu_custodian *)0)->name))
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (ch != ' ')
			seen = true;
	}
	return seen;
}

/* A crypto_pwhash_str() string: "$argon2id$..." (or argon2i), printable
 * ASCII, fits struct keryu_custodian. Never a clear-text password. */
static bool password_hash_valid(const char *s)
{
	size_t n;

	if (!s || strncmp(s, "$argon2", 7) != 0)
		return false;
	n = strlen(s);
	if (n >= sizeof(((struct keryu_custodian *)0)->password_hash))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* The CSRF value: hex of at least 128 bits, fits struct keryu_session. */
static bool csrf_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 32 && n < sizeof(((struct keryu_session *)0)->csrf) &&
	       strspn(s, "0123456789abcdef") == n;
}

/* Rate keys are made by the caller ("login:ip:<hash>"): printable ASCII. */
static bool rate_key_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n == 0 || n > 200)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool time_to_purge(atomic_uint *tick)
{
	return atomic_fetch_add_explicit(tick, 1, memory_order_relaxed) %
		       PURGE_EVERY ==
	       PURGE_EVERY - 1;
}

/* ---- custodians ---- */

static void fill_custodian(PGresult *r, struct keryu_custodian *out)
{
	storage_copy_text(out->id, sizeof(out->id), PQgetvalue(r, 0, 0));
	storage_copy_text(out->email, sizeof(out->email), PQgetvalue(r, 0, 1));
	storage_copy_text(out->name, sizeof(out->name), PQgetvalue(r, 0, 2));
	storage_copy_text(out->phone, sizeof(out->phone), PQgetvalue(r, 0, 3));
	out->phone_verified = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	out->is_staff = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	out->is_active = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
	storage_copy_text(out->password_hash, sizeof(out->password_hash),
			  PQgetvalue(r, 0, 7));
	storage_copy_text(out->created_at, sizeof(out->created_at),
			  PQgetvalue(r, 0, 8));
}

struct custodian_call {
	const char *v[4];
	bool staff; /* create: an active staff custodian, phone verified */
	struct keryu_custodian out; /* copied out on success only */
};

static int create_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct custodian_call *cc = arg;
	PGresult *r;
	int rc;

	/* ON CONFLICT rather than catching 23505: a taken email is an
	 * answer, not an error, and two sign-ups racing for one address get
	 * one row and one ECONFLICT. */
	rc = storage_db_exec(p, c, "custodian.create",
			     cc->staff
				     ? "INSERT INTO custodians "
				       "(email, name, phone_e164, password_hash, "
				       "is_staff, is_active, phone_verified_at) "
				       "VALUES ($1, $2, $3, $4, true, true, now()) "
				       "ON CONFLICT ((lower(email))) DO NOTHING "
				       "RETURNING " CUSTODIAN_COLS
				     : "INSERT INTO custodians "
				       "(email, name, phone_e164, password_hash) "
				       "VALUES ($1, $2, $3, $4) "
				       "ON CONFLICT ((lower(email))) DO NOTHING "
				       "RETURNING " CUSTODIAN_COLS,
			     4, cc->v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return KERYU_ECONFLICT;
	}
	fill_custodian(r, &cc->out);
	PQclear(r);
	return 0;
}

static int custodian_create(void *self, bool staff, const char *email,
			    const char *name, const char *phone,
			    const char *password_hash,
			    struct keryu_custodian *out)
{
	struct storage_pool *p = self;
	struct custodian_call cc;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!email_valid(email) || !name_valid(name) ||
	    !keryu_e164_valid(phone) || !password_hash_valid(password_hash))
		return KERYU_EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.v[0] = email;
	cc.v[1] = name;
	cc.v[2] = phone;
	cc.v[3] = password_hash;
	cc.staff = staff;
	rc = storage_pool_run(p, "custodian_create", create_work, &cc);
	if (rc)
		return rc;
	*out = cc.out;
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.custodian_created",
				  "custodian_id=%s staff=%d", out->id, staff);
	return 0;
}

int storage_custodian_create(void *self, const char *email, const char *name,
			     const char *phone, const char *password_hash,
			     struct keryu_custodian *out)
{
	return custodian_create(self, false, email, name, phone, password_hash,
				out);
}

int storage_custodian_create_staff(void *self, const char *email,
				   const char *name, const char *phone,
				   const char *password_hash,
				   struct keryu_custodian *out)
{
	return custodian_create(self, true, email, name, phone, password_hash,
				out);
}

#define LIST_MAX 1000

struct list_call {
	const char *v[3]; /* search, offset, limit */
	struct keryu_custodian *out;
	size_t n;
};

static int list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	/* strpos rather than LIKE: the search text needs no escaping */
	rc = storage_db_exec(p, c, "custodian.list",
			     "SELECT " CUSTODIAN_COLS " FROM custodians "
			     "WHERE $1::text = '' "
			     "OR strpos(lower(email), lower($1)) > 0 "
			     "OR strpos(lower(coalesce(name, '')), lower($1)) > 0 "
			     "ORDER BY created_at, id "
			     "OFFSET $2::int LIMIT $3::int",
			     3, lc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		struct keryu_custodian *o = &lc->out[i];

		memset(o, 0, sizeof(*o));
		storage_copy_text(o->id, sizeof(o->id), PQgetvalue(r, i, 0));
		storage_copy_text(o->email, sizeof(o->email),
				  PQgetvalue(r, i, 1));
		storage_copy_text(o->name, sizeof(o->name),
				  PQgetvalue(r, i, 2));
		storage_copy_text(o->phone, sizeof(o->phone),
				  PQgetvalue(r, i, 3));
		o->phone_verified = strcmp(PQgetvalue(r, i, 4), "t") == 0;
		o->is_staff = strcmp(PQgetvalue(r, i, 5), "t") == 0;
		o->is_active = strcmp(PQgetvalue(r, i, 6), "t") == 0;
		storage_copy_text(o->created_at, sizeof(o->created_at),
				  PQgetvalue(r, i, 8));
	}
	lc->n = (size_t)rows;
	PQclear(r);
	return 0;
}

int storage_custodian_list(void *self, const char *search, int offset,
			   struct keryu_custodian *out, size_t max, size_t *n)
{
	struct list_call lc;
	char off[16], lim[16];
	int rc;

	if (!n)
		return KERYU_EINVAL;
	*n = 0;
	if (!out || max == 0 || offset < 0 ||
	    (search && (strlen(search) > 254 || !storage_utf8_valid(search))))
		return KERYU_EINVAL;
	snprintf(off, sizeof(off), "%d", offset);
	snprintf(lim, sizeof(lim), "%zu", max < LIST_MAX ? max : LIST_MAX);
	memset(&lc, 0, sizeof(lc));
	lc.v[0] = search ? search : "";
	lc.v[1] = off;
	lc.v[2] = lim;
	lc.out = out;
	rc = storage_pool_run(self, "custodian_list", list_work, &lc);
	if (!rc)
		*n = lc.n;
	return rc;
}

struct active_call {
	const char *v[2]; /* id, "true"/"false" */
	int ended, revoked;
};

static int active_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct active_call *ac = arg;
	PGresult *r = NULL;
	int rc;

	ac->ended = 0;
	ac->revoked = 0;
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = storage_db_one(p, c, "custodian.set_active",
				    "UPDATE custodians SET is_active = $2::bool, "
				    "updated_at = now() "
				    "WHERE id = $1::uuid RETURNING 1",
				    2, ac->v);
	/* session_get already refuses an inactive custodian's sessions;
	 * deleting them, and revoking the API's refresh tokens, leaves
	 * nothing to revive on reactivation */
	if (!rc && strcmp(ac->v[1], "false") == 0) {
		rc = storage_db_exec(p, c, "custodian.end_sessions",
				     "DELETE FROM sessions "
				     "WHERE custodian_id = $1::uuid",
				     1, ac->v, &r);
		if (!rc)
			ac->ended = atoi(PQcmdTuples(r));
		PQclear(r);
		if (!rc)
			rc = storage_refresh_revoke_in(p, c, ac->v[0],
						       &ac->revoked);
	}
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_custodian_set_active(void *self, const char *id, bool active)
{
	struct storage_pool *p = self;
	struct active_call ac = {{id, active ? "true" : "false"}, 0, 0};
	int rc;

	if (!keryu_uuid_valid(id))
		return KERYU_EINVAL;
	rc = storage_pool_run(p, "custodian_set_active", active_work, &ac);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.custodian_active",
					  "custodian_id=%s active=%d "
					  "sessions_ended=%d tokens_revoked=%d",
					  id, active, ac.ended, ac.revoked);
	return rc;
}

static int get_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct custodian_call *cc = arg;
	PGresult *r;
	int rc;

	/* v[1] says which key v[0] is; lower(email) uses the unique index */
	rc = storage_db_row(p, c, "custodian.get",
			    cc->v[1] ? "SELECT " CUSTODIAN_COLS
					" FROM custodians "
					"WHERE lower(email) = $1"
				     : "SELECT " CUSTODIAN_COLS
					" FROM custodians "
					"WHERE id = $1::uuid",
			    1, cc->v, &r);
	if (rc)
		return rc;
	fill_custodian(r, &cc->out);
	PQclear(r);
	return 0;
}

int storage_custodian_get(void *self, const char *id,
			  struct keryu_custodian *out)
{
	struct custodian_call cc;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(id))
		return KERYU_EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.v[0] = id;
	rc = storage_pool_run(self, "custodian_get", get_work, &cc);
	if (!rc)
		*out = cc.out;
	return rc;
}

int storage_custodian_by_email(void *self, const char *email,
			       struct keryu_custodian *out)
{
	struct custodian_call cc;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!email_valid(email))
		return KERYU_EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.v[0] = email;
	cc.v[1] = "email";
	rc = storage_pool_run(self, "custodian_by_email", get_work, &cc);
	if (!rc)
		*out = cc.out;
	return rc;
}

struct password_call {
	const char *v[3]; /* id, hash, token hash kept (or NULL) */
	int ended, revoked;
};

static int password_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct password_call *pc = arg;
	const char *vs[2];
	PGresult *r = NULL;
	int rc;

	pc->ended = 0;
	pc->revoked = 0;
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = storage_db_one(p, c, "custodian.set_password",
				    "UPDATE custodians SET password_hash = $2, "
				    "updated_at = now() "
				    "WHERE id = $1::uuid RETURNING 1",
				    2, pc->v);
	/* whoever knew the old password may hold a session: end them all
	 * but the one that made the change */
	vs[0] = pc->v[0];
	vs[1] = pc->v[2];
	if (!rc)
		rc = storage_db_exec(p, c, "custodian.end_sessions",
				     "DELETE FROM sessions "
				     "WHERE custodian_id = $1::uuid "
				     "AND ($2::text IS NULL "
				     "  OR token_hash <> $2::text)",
				     2, vs, &r);
	if (!rc)
		pc->ended = atoi(PQcmdTuples(r));
	PQclear(r);
	/* and every API refresh token: the API has no session to keep */
	if (!rc)
		rc = storage_refresh_revoke_in(p, c, pc->v[0], &pc->revoked);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_custodian_set_password(void *self, const char *id,
				   const char *password_hash,
				   const char *keep_token_hash)
{
	struct storage_pool *p = self;
	struct password_call pc = {{id, password_hash, keep_token_hash}, 0, 0};
	int rc;

	if (!keryu_uuid_valid(id) || !password_hash_valid(password_hash) ||
	    (keep_token_hash && !storage_hash_valid(keep_token_hash)))
		return KERYU_EINVAL;
	rc = storage_pool_run(p, "custodian_set_password", password_work, &pc);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.password_set",
					  "custodian_id=%s sessions_ended=%d "
					  "tokens_revoked=%d",
					  id, pc.ended, pc.revoked);
	return rc;
}

/* ---- sessions ---- */

struct session_call {
	const char *v[4];
	bool purge;
	struct keryu_session out;
};

static int session_create_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct session_call *sc = arg;
	PGresult *r;
	int rc, n;

	/* The EXISTS turns an unknown custodian into ENOTFOUND instead of a
	 * foreign key error; a taken token_hash is ECONFLICT (a caller's
	 * random token never repeats, so that is a caller bug). */
	rc = storage_db_exec(p, c, "session.create",
			     "INSERT INTO sessions "
			     "(token_hash, custodian_id, csrf, expires_at) "
			     "SELECT $1, $2::uuid, $3, "
			     "now() + $4::bigint * interval '1 second' "
			     "WHERE $2::uuid IS NULL OR EXISTS "
			     "(SELECT 1 FROM custodians WHERE id = $2::uuid) "
			     "ON CONFLICT (token_hash) DO NOTHING RETURNING 1",
			     4, sc->v, &r);
	if (rc)
		return rc;
	n = PQntuples(r);
	PQclear(r);
	if (n != 1 && sc->v[1]) {
		rc = storage_db_exec(p, c, "session.custodian",
				     "SELECT 1 FROM custodians "
				     "WHERE id = $1::uuid",
				     1, &sc->v[1], &r);
		if (rc)
			return rc;
		n = PQntuples(r);
		PQclear(r);
		return n == 1 ? KERYU_ECONFLICT : KERYU_ENOTFOUND;
	}
	if (n != 1)
		return KERYU_ECONFLICT;
	/* best effort: a failure here costs nothing but disk */
	if (sc->purge)
		storage_db_exec(p, c, "session.purge",
				"DELETE FROM sessions WHERE expires_at < now()",
				0, NULL, NULL);
	return 0;
}

int storage_session_create(void *self, const char *token_hash,
			   const char *custodian_id, const char *csrf,
			   int64_t absolute_expiry_s)
{
	static atomic_uint tick;
	struct session_call sc;
	char expiry[24];

	if (!storage_hash_valid(token_hash) ||
	    (custodian_id && !keryu_uuid_valid(custodian_id)) ||
	    !csrf_valid(csrf) || absolute_expiry_s < 1 ||
	    absolute_expiry_s > INT32_MAX)
		return KERYU_EINVAL;
	snprintf(expiry, sizeof(expiry), "%lld", (long long)absolute_expiry_s);
	memset(&sc, 0, sizeof(sc));
	sc.v[0] = token_hash;
	sc.v[1] = custodian_id;
	sc.v[2] = csrf;
	sc.v[3] = expiry;
	sc.purge = time_to_purge(&tick);
	return storage_pool_run(self, "session_create", session_create_work,
				&sc);
}

static int session_get_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct session_call *sc = arg;
	PGresult *r;
	int rc;

	/* Live: before its absolute expiry, seen within idle_s, and its
	 * custodian (if any) still active. last_seen_at is written at most
	 * every min(60 s, idle_s / 10), so that a busy page does not write
	 * on every request; the idle limit loses at most that much. */
	rc = storage_db_row(
		p, c, "session.get",
		"WITH s AS (SELECT s.token_hash, s.custodian_id, s.csrf, "
		"  s.created_at, s.last_seen_at "
		"  FROM sessions s "
		"  LEFT JOIN custodians c ON c.id = s.custodian_id "
		"  WHERE s.token_hash = $1 AND s.expires_at > now() "
		"  AND s.last_seen_at > now() - $2::bigint * interval '1 second' "
		"  AND (s.custodian_id IS NULL OR c.is_active)), "
		"t AS (UPDATE sessions u SET last_seen_at = now() FROM s "
		"  WHERE u.token_hash = s.token_hash "
		"  AND s.last_seen_at < now() - "
		"    least(60, $2::bigint / 10) * interval '1 second' "
		"  RETURNING u.last_seen_at) "
		"SELECT coalesce(s.custodian_id::text, ''), s.csrf, "
		"floor(extract(epoch FROM s.created_at))::bigint, "
		"floor(extract(epoch FROM coalesce((SELECT last_seen_at FROM t), "
		"  s.last_seen_at)))::bigint "
		"FROM s",
		2, sc->v, &r);
	if (rc)
		return rc;
	storage_copy_text(sc->out.custodian_id, sizeof(sc->out.custodian_id),
			  PQgetvalue(r, 0, 0));
	storage_copy_text(sc->out.csrf, sizeof(sc->out.csrf),
			  PQgetvalue(r, 0, 1));
	sc->out.created_unix = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	sc->out.last_seen_unix = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	PQclear(r);
	return 0;
}

int storage_session_get(void *self, const char *token_hash, int64_t idle_s,
			struct keryu_session *out)
{
	struct session_call sc;
	char idle[24];
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!storage_hash_valid(token_hash) || idle_s < 1 ||
	    idle_s > INT32_MAX)
		return KERYU_EINVAL;
	snprintf(idle, sizeof(idle), "%lld", (long long)idle_s);
	memset(&sc, 0, sizeof(sc));
	sc.v[0] = token_hash;
	sc.v[1] = idle;
	rc = storage_pool_run(self, "session_get", session_get_work, &sc);
	if (!rc)
		*out = sc.out;
	return rc;
}

static int session_delete_work(struct storage_pool *p, PGconn *c, void *arg)
{
	return storage_db_exec(p, c, "session.delete",
			       "DELETE FROM sessions WHERE token_hash = $1", 1,
			       arg, NULL);
}

int storage_session_delete(void *self, const char *token_hash)
{
	const char *v[] = {token_hash};

	if (!storage_hash_valid(token_hash))
		return KERYU_EINVAL;
	return storage_pool_run(self, "session_delete", session_delete_work,
				(void *)v);
}

/* ---- rate limits ---- */

struct rate_call {
	const char *v[2];
	bool purge;
	long hits;
};

static int rate_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct rate_call *call = arg;
	PGresult *r;
	int rc;

	/* The window is fixed and aligned to the epoch, so every process
	 * counts into the same row; the upsert makes the count atomic. */
	rc = storage_db_exec(
		p, c, "rate.hit",
		"INSERT INTO rate_limits (key, window_start, hits) "
		"VALUES ($1, to_timestamp(floor(extract(epoch FROM now())"
		"::float8 / $2::int) * $2::int), 1) "
		"ON CONFLICT (key, window_start) DO UPDATE "
		"SET hits = least(rate_limits.hits, 2147483646) + 1 "
		"RETURNING hits",
		2, call->v, &r);
	if (rc)
		return rc;
	call->hits = PQntuples(r) == 1 ? atol(PQgetvalue(r, 0, 0)) : LONG_MAX;
	PQclear(r);
	/* best effort, outside the count: windows are at most a day long */
	if (call->purge)
		storage_db_exec(p, c, "rate.purge",
				"DELETE FROM rate_limits "
				"WHERE window_start < now() - interval '1 day'",
				0, NULL, NULL);
	return 0;
}

int storage_rate_hit(void *self, const char *key, int window_s, int max,
		     bool *allowed)
{
	static atomic_uint tick;
	struct rate_call call;
	char window[16];
	int rc;

	if (!allowed)
		return KERYU_EINVAL;
	*allowed = false;
	if (!rate_key_valid(key) || window_s < 1 ||
	    window_s > RATE_WINDOW_MAX_S || max < 0)
		return KERYU_EINVAL;
	snprintf(window, sizeof(window), "%d", window_s);
	memset(&call, 0, sizeof(call));
	call.v[0] = key;
	call.v[1] = window;
	call.purge = time_to_purge(&tick);
	rc = storage_pool_run(self, "rate_hit", rate_work, &call);
	if (rc)
		return rc;
	*allowed = call.hits <= max;
	return 0;
}
