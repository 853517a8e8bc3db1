/* The "admin" service's audit log (keryu/admin.h): appending an entry,
 * the staff viewer's filtered list, and the retention purge of old audit
 * entries and old alarms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

#define AUDIT_LIMIT_MAX 100
#define PURGE_BATCH_MAX 10000

/* True when the fixed-size field holds its terminating NUL. */
#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)

static bool source_valid(const char *s)
{
	return strcmp(s, "web") == 0 || strcmp(s, "api") == 0 ||
	       strcmp(s, "cli") == 0 || strcmp(s, "system") == 0;
}

/* 1..47 of a-z, 0-9, '.', '_' (admin.h); the schema checks it again. */
static bool action_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 47 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
					      "0123456789._") == n;
}

static bool target_type_valid(const char *s)
{
	size_t n = strlen(s);

	return n <= 23 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool hex64_or_empty(const char *s)
{
	return !s[0] || storage_hash_valid(s);
}

/* Copies at most size - 1 bytes of src (read up to srcmax bytes) into dst,
 * whole UTF-8 characters only: a byte that starts no valid character
 * becomes '?' and a control character a space. What the caller typed is
 * kept as well as it can be, never refused. */
static void copy_clean(char *dst, size_t size, const char *src, size_t srcmax)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, end = strnlen(src, srcmax);

	while (i < end) {
		char one[5] = {0};
		size_t len = s[i] < 0x80	     ? 1
			     : (s[i] & 0xe0) == 0xc0 ? 2
			     : (s[i] & 0xf0) == 0xe0 ? 3
			     : (s[i] & 0xf8) == 0xf0 ? 4
						     : 0;

		if (len && i + len <= end) {
			memcpy(one, s + i, len);
			if (!storage_utf8_valid(one))
				len = 0;
		} else {
			len = 0;
		}
		if (len == 0) {
			one[0] = '?';
			one[1] = '\0';
		} else if (len == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
			one[0] = ' ';
		}
		if (o + strlen(one) >= size)
			break;
		memcpy(dst + o, one, strlen(one));
		o += strlen(one);
		i += len ? len : 1;
	}
	dst[o] = '\0';
}

/* ---- append ---- */

struct append_call {
	const char *v[8];
	struct keryu_audit_entry *e;
};

static int append_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct append_call *ac = arg;
	PGresult *r;
	int rc;

	/* An actor deleted meanwhile is recorded as nobody rather than
	 * losing the entry to the foreign key. */
	rc = storage_db_exec(
		p, c, "audit.append",
		"INSERT INTO audit_log (actor_id, actor_email, source, action, "
		"target_type, target_id, summary, ip_hash) VALUES ("
		"(SELECT id FROM custodians WHERE id = $1::uuid), "
		"$2, $3, $4, $5, $6, $7, $8) "
		"RETURNING id, " STORAGE_ISO_UTC("at"),
		8, ac->v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		ac->e->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		storage_copy_text(ac->e->at, sizeof(ac->e->at),
				  PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return 0;
}

int storage_audit_append(void *self, struct keryu_audit_entry *e)
{
	struct storage_pool *p = self;
	struct append_call ac;
	char email[sizeof(e->actor_email)], summary[sizeof(e->summary)];
	char target_id[sizeof(e->target_id)];
	int rc;

	if (!e || !FIELD_OK(e->actor_id) || !FIELD_OK(e->source) ||
	    !FIELD_OK(e->action) || !FIELD_OK(e->target_type) ||
	    !FIELD_OK(e->ip_hash) ||
	    (e->actor_id[0] && !keryu_uuid_valid(e->actor_id)) ||
	    !source_valid(e->source) || !action_valid(e->action) ||
	    !target_type_valid(e->target_type) || !hex64_or_empty(e->ip_hash))
		return KERYU_EINVAL;
	/* the target's id is a uuid, a setting's key, "alert/whatsapp"...:
	 * one line, checked rather than cleaned, as it is searched for */
	if (!FIELD_OK(e->target_id) ||
	    (e->target_id[0] &&
	     !storage_line_valid(e->target_id, sizeof(e->target_id) - 1)))
		return KERYU_EINVAL;
	copy_clean(email, sizeof(email), e->actor_email,
		   sizeof(e->actor_email));
	copy_clean(summary, sizeof(summary), e->summary, sizeof(e->summary));
	storage_copy_text(target_id, sizeof(target_id), e->target_id);
	memset(&ac, 0, sizeof(ac));
	ac.v[0] = e->actor_id[0] ? e->actor_id : NULL;
	ac.v[1] = email;
	ac.v[2] = e->source;
	ac.v[3] = e->action;
	ac.v[4] = e->target_type;
	ac.v[5] = target_id;
	ac.v[6] = summary;
	ac.v[7] = e->ip_hash;
	ac.e = e;
	rc = storage_pool_run(p, "audit_append", append_work, &ac);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_DEBUG,
					  "storage.audit_appended",
					  "id=%lld source=%s action=%s", e->id,
					  e->source, e->action);
	return rc;
}

/* ---- list ---- */

/* The viewer's filter, in $1..$5. The action is a LIKE prefix whose '_'
 * is escaped with '!' (neither '!' nor '%' can be in an action). */
#define AUDIT_FILTER_SQL                                                       \
	"FROM audit_log WHERE ($1::text = '' "                                 \
	"  OR actor_id::text = lower($1::text) "                               \
	"  OR strpos(lower(actor_email), lower($1::text)) > 0) "               \
	"AND ($2::text = '' OR action LIKE $2::text ESCAPE '!') "              \
	"AND ($3::text = '' OR target_id = $3::text) "                         \
	"AND ($4::date IS NULL "                                               \
	"  OR at >= $4::date::timestamp AT TIME ZONE 'UTC') "                  \
	"AND ($5::date IS NULL "                                               \
	"  OR at < ($5::date + 1)::timestamp AT TIME ZONE 'UTC') "

struct list_call {
	const char *v[7]; /* actor, action pattern, target, from, to, offset,
			   * limit */
	struct keryu_audit_entry *out;
	size_t n;
	int total;
};

static int list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	rc = storage_db_count(p, c, "audit.count",
			      "SELECT count(*) " AUDIT_FILTER_SQL, 5, lc->v,
			      &lc->total);
	if (rc)
		return rc;
	rc = storage_db_exec(
		p, c, "audit.list",
		"SELECT id, " STORAGE_ISO_UTC("at") ", "
		"coalesce(actor_id::text, ''), actor_email, source, action, "
		"target_type, target_id, summary, ip_hash " AUDIT_FILTER_SQL
		"ORDER BY at DESC, id DESC OFFSET $6::int LIMIT $7::int",
		7, lc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		struct keryu_audit_entry *e = &lc->out[i];

		memset(e, 0, sizeof(*e));
		e->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		storage_copy_text(e->at, sizeof(e->at), PQgetvalue(r, i, 1));
		storage_copy_text(e->actor_id, sizeof(e->actor_id),
				  PQgetvalue(r, i, 2));
		storage_copy_text(e->actor_email, sizeof(e->actor_email),
				  PQgetvalue(r, i, 3));
		storage_copy_text(e->source, sizeof(e->source),
				  PQgetvalue(r, i, 4));
		storage_copy_text(e->action, sizeof(e->action),
				  PQgetvalue(r, i, 5));
		storage_copy_text(e->target_type, sizeof(e->target_type),
				  PQgetvalue(r, i, 6));
		storage_copy_text(e->target_id, sizeof(e->target_id),
				  PQgetvalue(r, i, 7));
		storage_copy_text(e->summary, sizeof(e->summary),
				  PQgetvalue(r, i, 8));
		storage_copy_text(e->ip_hash, sizeof(e->ip_hash),
				  PQgetvalue(r, i, 9));
	}
	lc->n = (size_t)rows;
	PQclear(r);
	return 0;
}

static bool filter_valid(const struct keryu_audit_filter *f)
{
	return FIELD_OK(f->actor) && FIELD_OK(f->action) &&
	       FIELD_OK(f->target_id) && FIELD_OK(f->from) && FIELD_OK(f->to) &&
	       (!f->actor[0] ||
		storage_line_valid(f->actor, sizeof(f->actor) - 1)) &&
	       (!f->action[0] || action_valid(f->action)) &&
	       (!f->target_id[0] ||
		storage_line_valid(f->target_id, sizeof(f->target_id) - 1)) &&
	       (!f->from[0] || storage_date_valid(f->from)) &&
	       (!f->to[0] || storage_date_valid(f->to)) && f->offset >= 0 &&
	       f->limit >= 1 && f->limit <= AUDIT_LIMIT_MAX;
}

int storage_audit_list(void *self, const struct keryu_audit_filter *f,
		       struct keryu_audit_entry *out, size_t max, size_t *n,
		       int *total)
{
	struct list_call lc;
	char pattern[2 * sizeof(f->action) + 2], off[16], lim[16];
	size_t i, o = 0;
	int rc;

	if (!storage_list_begin(n, total, out, max) || !f || !filter_valid(f))
		return KERYU_EINVAL;
	for (i = 0; f->action[i]; i++) {
		if (f->action[i] == '_')
			pattern[o++] = '!';
		pattern[o++] = f->action[i];
	}
	pattern[o++] = '%';
	pattern[o] = '\0';
	storage_page_args(off, lim, f->offset, (size_t)f->limit, max);
	memset(&lc, 0, sizeof(lc));
	lc.v[0] = f->actor;
	lc.v[1] = f->action[0] ? pattern : "";
	lc.v[2] = f->target_id;
	lc.v[3] = f->from[0] ? f->from : NULL;
	lc.v[4] = f->to[0] ? f->to : NULL;
	lc.v[5] = off;
	lc.v[6] = lim;
	lc.out = out;
	rc = storage_pool_run(self, "audit_list", list_work, &lc);
	if (rc)
		return rc;
	*n = lc.n;
	*total = lc.total;
	return 0;
}

/* ---- retention ---- */

/* One batch, oldest first. Deleting an alarm takes with it, through the
 * schema's ON DELETE CASCADE, its notifications, their delivery events
 * and its timeline steps; joined scans and one-time codes that pointed at
 * them are detached (SET NULL). Rows another transaction holds (notify_due
 * at work) are skipped, for the next run. */
static const char purge_alarms_sql[] =
	"DELETE FROM alarms WHERE id IN (SELECT id FROM alarms "
	"WHERE scanned_at < now() - $1::int * interval '1 day' "
	"ORDER BY scanned_at LIMIT $2::int FOR UPDATE SKIP LOCKED)";

static const char purge_audit_sql[] =
	"DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log "
	"WHERE at < now() - $1::int * interval '1 day' "
	"ORDER BY at LIMIT $2::int FOR UPDATE SKIP LOCKED)";

struct purge_call {
	const char *sql;
	const char *v[2]; /* days, batch */
	long rows;
};

static int purge_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct purge_call *pc = arg;
	PGresult *r;
	int rc;

	rc = storage_db_exec(p, c, "purge", pc->sql, 2, pc->v, &r);
	if (rc)
		return rc;
	pc->rows = atol(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

int storage_purge(void *self, int what, int days, int batch, long *rows)
{
	struct storage_pool *p = self;
	struct purge_call pc;
	char d[16], b[16];
	int rc;

	if (rows)
		*rows = 0;
	if (!rows || (what != KERYU_PURGE_ALARMS && what != KERYU_PURGE_AUDIT) ||
	    days < 1 || days > 1000000 || batch < 1 || batch > PURGE_BATCH_MAX)
		return KERYU_EINVAL;
	snprintf(d, sizeof(d), "%d", days);
	snprintf(b, sizeof(b), "%d", batch);
	memset(&pc, 0, sizeof(pc));
	pc.sql = what == KERYU_PURGE_ALARMS ? purge_alarms_sql : purge_audit_sql;
	pc.v[0] = d;
	pc.v[1] = b;
	/* one statement: repeating it after a reset deletes nothing twice */
	rc = storage_pool_run(p, "purge", purge_work, &pc);
	if (rc)
		return rc;
	*rows = pc.rows;
	if (pc.rows)
		storage_pool_host(p)->log(
			storage_pool_mod(p), KERYU_LOG_INFO, "storage.purged",
			"what=%s days=%d rows=%ld",
			what == KERYU_PURGE_ALARMS ? "alarms" : "audit", days,
			pc.rows);
	return 0;
}
