/* The "subjects" service's QR tags (keryu/subjects.h): what the custodian's
 * pages do with tags. What the scan needs is in storage_tags.c. Scoping is
 * by a join to subjects on the custodian. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

#define TAG_COLS STORAGE_TAG_COLS("q")

/* Exactly 8 characters of the alphabet, upper case. */
static bool code_valid(const char *s)
{
	return s && strlen(s) == KERYU_SHORT_CODE_LEN - 1 &&
	       strspn(s, KERYU_SHORT_CODE_ALPHABET) == KERYU_SHORT_CODE_LEN - 1;
}

void storage_tag_fill(PGresult *r, int row, int col, struct keryu_tag *out)
{
	memset(out, 0, sizeof(*out));
	storage_copy_text(out->uuid, sizeof(out->uuid),
			  PQgetvalue(r, row, col));
	storage_copy_text(out->subject_id, sizeof(out->subject_id),
			  PQgetvalue(r, row, col + 1));
	storage_copy_text(out->short_code, sizeof(out->short_code),
			  PQgetvalue(r, row, col + 2));
	out->is_active = strcmp(PQgetvalue(r, row, col + 3), "t") == 0;
	storage_copy_text(out->created_at, sizeof(out->created_at),
			  PQgetvalue(r, row, col + 4));
	storage_copy_text(out->activated_at, sizeof(out->activated_at),
			  PQgetvalue(r, row, col + 5));
	storage_copy_text(out->last_used, sizeof(out->last_used),
			  PQgetvalue(r, row, col + 6));
}

static void fill_tag(PGresult *r, int row, struct keryu_tag *out)
{
	storage_tag_fill(r, row, 0, out);
}

/* 1 when the subject is the custodian's, 0 when not, or a KERYU_E*. */
static int subject_mine(struct storage_pool *p, PGconn *c,
			const char *custodian_id, const char *subject_id)
{
	const char *v[] = {custodian_id, subject_id};
	PGresult *r;
	int rc;

	rc = storage_db_exec(p, c, "tag.subject",
			     "SELECT 1 FROM subjects "
			     "WHERE custodian_id = $1::uuid AND id = $2::uuid",
			     2, v, &r);
	if (rc)
		return rc;
	rc = PQntuples(r) == 1;
	PQclear(r);
	return rc;
}

/* ---- create ---- */

struct create_call {
	const char *v[3]; /* custodian, subject, code */
	struct keryu_tag out;
};

static int create_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct create_call *cc = arg;
	PGresult *r;
	int rc;

	/* ON CONFLICT rather than catching 23505 (which the pool reports as
	 * EINVAL): a taken code is an answer the caller retries on. */
	rc = storage_db_exec(p, c, "tag.create",
			     "INSERT INTO subject_qr_codes AS q "
			     "(subject_id, short_code) "
			     "SELECT s.id, $3 FROM subjects s "
			     "WHERE s.custodian_id = $1::uuid "
			     "AND s.id = $2::uuid "
			     "ON CONFLICT (short_code) DO NOTHING "
			     "RETURNING " TAG_COLS,
			     3, cc->v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		fill_tag(r, 0, &cc->out);
		PQclear(r);
		return 0;
	}
	PQclear(r);
	/* nothing inserted: no such subject, or the code is taken */
	rc = subject_mine(p, c, cc->v[0], cc->v[1]);
	if (rc < 0)
		return rc;
	return rc ? KERYU_ECONFLICT : KERYU_ENOTFOUND;
}

int storage_tag_create(void *self, const char *custodian_id,
		       const char *subject_id, const char *short_code,
		       struct keryu_tag *out)
{
	struct storage_pool *p = self;
	struct create_call cc;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(subject_id) ||
	    !code_valid(short_code))
		return KERYU_EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.v[0] = custodian_id;
	cc.v[1] = subject_id;
	cc.v[2] = short_code;
	rc = storage_pool_run(p, "tag_create", create_work, &cc);
	if (rc)
		return rc;
	*out = cc.out;
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.tag_created",
				  "custodian_id=%s subject_id=%s qr_uuid=%s",
				  custodian_id, subject_id, out->uuid);
	return 0;
}

/* ---- list and get ---- */

struct list_call {
	const char *v[3]; /* custodian, subject, limit */
	struct keryu_tag *out;
	size_t n;
};

static int list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	/* the LEFT JOIN keeps one row for a subject without tags, so that
	 * "not mine" and "no tags" differ */
	rc = storage_db_exec(p, c, "tag.list",
			     "SELECT " TAG_COLS " FROM subjects s "
			     "LEFT JOIN LATERAL (SELECT * FROM subject_qr_codes "
			     "  WHERE subject_id = s.id "
			     "  ORDER BY created_at DESC, uuid DESC "
			     "  LIMIT $3::int) q ON true "
			     "WHERE s.custodian_id = $1::uuid "
			     "AND s.id = $2::uuid "
			     "ORDER BY q.created_at DESC, q.uuid DESC",
			     3, lc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		return KERYU_ENOTFOUND;
	}
	lc->n = 0;
	for (i = 0; i < rows; i++)
		if (!PQgetisnull(r, i, 0))
			fill_tag(r, i, &lc->out[lc->n++]);
	PQclear(r);
	return 0;
}

int storage_tag_list(void *self, const char *custodian_id,
		     const char *subject_id, struct keryu_tag *out, size_t max,
		     size_t *n)
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
	rc = storage_pool_run(self, "tag_list", list_work, &lc);
	if (!rc)
		*n = lc.n;
	return rc;
}

struct get_call {
	const char *v[2]; /* custodian, uuid */
	struct keryu_tag out;
};

static int get_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct get_call *gc = arg;
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "tag.get",
			    "SELECT " TAG_COLS " FROM subject_qr_codes q "
			    "JOIN subjects s ON s.id = q.subject_id "
			    "WHERE s.custodian_id = $1::uuid "
			    "AND q.uuid = $2::uuid",
			    2, gc->v, &r);
	if (rc)
		return rc;
	fill_tag(r, 0, &gc->out);
	PQclear(r);
	return 0;
}

int storage_tag_get(void *self, const char *custodian_id, const char *uuid,
		    struct keryu_tag *out)
{
	struct get_call gc;
	int rc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(uuid))
		return KERYU_EINVAL;
	memset(&gc, 0, sizeof(gc));
	gc.v[0] = custodian_id;
	gc.v[1] = uuid;
	rc = storage_pool_run(self, "tag_get", get_work, &gc);
	if (!rc)
		*out = gc.out;
	return rc;
}

/* ---- activation ---- */

struct active_call {
	const char *v[3]; /* custodian, uuid, active */
};

static int active_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct active_call *ac = arg;
	const char *vs[3];
	PGresult *r = NULL;
	char subject[KERYU_UUID_LEN] = "";
	int rc;

	rc = storage_db_begin(p, c);
	/* Locking the subject row makes two activations of its tags take
	 * turns, so that exactly one tag is left active. */
	if (!rc)
		rc = storage_db_exec(p, c, "tag.lock_subject",
				     "SELECT s.id::text FROM subjects s "
				     "JOIN subject_qr_codes q "
				     "ON q.subject_id = s.id "
				     "WHERE s.custodian_id = $1::uuid "
				     "AND q.uuid = $2::uuid FOR UPDATE OF s",
				     2, ac->v, &r);
	if (!rc && PQntuples(r) != 1)
		rc = KERYU_ENOTFOUND;
	if (!rc)
		storage_copy_text(subject, sizeof(subject), PQgetvalue(r, 0, 0));
	PQclear(r);
	vs[0] = subject;
	vs[1] = ac->v[1];
	vs[2] = ac->v[2];
	/* activated_at is when it last became active; deactivating keeps it */
	if (!rc)
		rc = storage_db_exec(
			p, c, "tag.set_active",
			"UPDATE subject_qr_codes SET "
			"is_active = (uuid = $2::uuid AND $3::boolean), "
			"activated_at = CASE WHEN uuid = $2::uuid AND $3::boolean "
			"  AND NOT is_active THEN now() ELSE activated_at END "
			"WHERE subject_id = $1::uuid "
			"AND (uuid = $2::uuid OR ($3::boolean AND is_active))",
			3, vs, NULL);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_tag_set_active(void *self, const char *custodian_id,
			   const char *uuid, bool active)
{
	struct storage_pool *p = self;
	struct active_call ac = {{custodian_id, uuid, active ? "true" : "false"}};
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(uuid))
		return KERYU_EINVAL;
	rc = storage_pool_run(p, "tag_set_active", active_work, &ac);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.tag_set_active",
					  "custodian_id=%s qr_uuid=%s active=%d",
					  custodian_id, uuid, active ? 1 : 0);
	return rc;
}

/* ---- public lookup ---- */

struct code_call {
	const char *v[1];
	char uuid[KERYU_UUID_LEN];
};

static int code_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct code_call *cc = arg;
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "tag.by_code",
			    "SELECT uuid::text FROM subject_qr_codes "
			    "WHERE short_code = $1",
			    1, cc->v, &r);
	if (rc)
		return rc;
	storage_copy_text(cc->uuid, sizeof(cc->uuid), PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int storage_tag_by_code(void *self, const char *short_code,
			char uuid_out[KERYU_UUID_LEN])
{
	char code[KERYU_SHORT_CODE_LEN];
	struct code_call cc;
	size_t i;
	int rc;

	if (!uuid_out)
		return KERYU_EINVAL;
	uuid_out[0] = '\0';
	if (!short_code || strlen(short_code) != KERYU_SHORT_CODE_LEN - 1)
		return KERYU_EINVAL;
	/* ASCII only: no locale decides what upper case is */
	for (i = 0; i < KERYU_SHORT_CODE_LEN - 1; i++)
		code[i] = short_code[i] >= 'a' && short_code[i] <= 'z'
				  ? (char)(short_code[i] - 'a' + 'A')
				  : short_code[i];
	code[i] = '\0';
	if (!code_valid(code))
		return KERYU_EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.v[0] = code;
	rc = storage_pool_run(self, "tag_by_code", code_work, &cc);
	if (!rc)
		memcpy(uuid_out, cc.uuid, KERYU_UUID_LEN);
	return rc;
}
