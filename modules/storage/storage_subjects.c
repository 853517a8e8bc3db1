/* The "subjects" service's subjects (keryu/subjects.h), and the text checks
 * the rest of the service shares. Every call is scoped to its custodian in
 * the SQL itself (custodian_id in the WHERE clause), so another
 * custodian's row is simply not found. Arguments are checked before any
 * SQL runs, so bad input changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_pool.h"
#include "storage_service.h"

/* What fill_subject() reads, in this order. */
#define SUBJECT_COLS                                                           \
	"id::text, name, to_char(date_of_birth, 'YYYY-MM-DD'), gender, "      \
	"coalesce(medical_conditions, ''), coalesce(allergies, ''), "          \
	"coalesce(medications, ''), coalesce(doctor_name, ''), "               \
	"coalesce(doctor_phone, ''), coalesce(doctor_address, ''), "           \
	"coalesce(doctor_speciality, ''), coalesce(care_instructions, ''), "   \
	"coalesce(photo, ''), public_fields, is_active, " STORAGE_ISO_UTC(     \
		"created_at") ", " STORAGE_ISO_UTC("updated_at") ", missing"

/* The oldest date of birth taken is the day after this one. */
#define DOB_AFTER "1900-01-01"

/* ---- shared checks ---- */

bool storage_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s)
		return false;
	while (*p) {
		unsigned c = *p, need, cp, min;

		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1;
			cp = c & 0x1F;
			min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2;
			cp = c & 0x0F;
			min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		for (p++; need > 0; need--, p++) {
			if ((*p & 0xC0) != 0x80)
				return false; /* also stops at the NUL */
			cp = cp << 6 | (*p & 0x3Fu);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
	}
	return true;
}

bool storage_line_valid(const char *s, size_t max)
{
	bool seen = false;
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > max || !storage_utf8_valid(s))
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

bool storage_text_valid(const char *s, size_t max)
{
	if (!s)
		return true;
	if (strlen(s) > max || !storage_utf8_valid(s))
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') ||
		    ch == 0x7f)
			return false;
	}
	return true;
}

bool storage_date_valid(const char *s)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	int y, m, d, i, max;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	max = days[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

/* A real day after DOB_AFTER and not after today (UTC). Dates in this
 * form compare as strings. */
static bool dob_valid(const char *s)
{
	char today[11];
	time_t now = time(NULL);
	struct tm tm;

	if (!storage_date_valid(s) || strcmp(s, DOB_AFTER) <= 0)
		return false;
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	return strcmp(s, today) <= 0;
}

/* A file name made by the caller: letters, digits, '.', '_', '-', not
 * starting with '.', so that it never names another folder. */
static bool photo_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!s || n >= 80)
		return false;
	if (n == 0)
		return true;
	return s[0] != '.' &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._-") == n;
}

static bool subject_valid(const struct keryu_subject *in)
{
	return in && storage_line_valid(in->name, sizeof(in->name) - 1) &&
	       dob_valid(in->date_of_birth) && strlen(in->gender) == 1 &&
	       strchr("MFOU", in->gender[0]) &&
	       storage_text_valid(in->medical_conditions, KERYU_TEXT_MAX - 1) &&
	       storage_text_valid(in->allergies, KERYU_TEXT_MAX - 1) &&
	       storage_text_valid(in->medications, KERYU_TEXT_MAX - 1) &&
	       (!in->doctor_name[0] ||
		storage_line_valid(in->doctor_name,
				   sizeof(in->doctor_name) - 1)) &&
	       (!in->doctor_phone[0] ||
		storage_line_valid(in->doctor_phone,
				   sizeof(in->doctor_phone) - 1)) &&
	       storage_text_valid(in->doctor_address, KERYU_TEXT_MAX - 1) &&
	       (!in->doctor_speciality[0] ||
		storage_line_valid(in->doctor_speciality,
				   sizeof(in->doctor_speciality) - 1)) &&
	       storage_text_valid(in->care_instructions, KERYU_TEXT_MAX - 1) &&
	       (in->public_fields & ~KERYU_PUB_ALL) == 0;
}

/* The struct is caller-filled: a field without its NUL is refused rather
 * than read past. */
static bool subject_terminated(const struct keryu_subject *in)
{
#define TERMINATED(f) (memchr(in->f, '\0', sizeof(in->f)) != NULL)
	return TERMINATED(name) && TERMINATED(date_of_birth) &&
	       TERMINATED(gender) && TERMINATED(medical_conditions) &&
	       TERMINATED(allergies) && TERMINATED(medications) &&
	       TERMINATED(doctor_name) && TERMINATED(doctor_phone) &&
	       TERMINATED(doctor_address) && TERMINATED(doctor_speciality) &&
	       TERMINATED(care_instructions);
#undef TERMINATED
}

static bool is_true(PGresult *r, int row, int col)
{
	return strcmp(PQgetvalue(r, row, col), "t") == 0;
}

static void fill_subject(PGresult *r, struct keryu_subject *out)
{
	memset(out, 0, sizeof(*out));
	storage_copy_text(out->id, sizeof(out->id), PQgetvalue(r, 0, 0));
	storage_copy_text(out->name, sizeof(out->name), PQgetvalue(r, 0, 1));
	storage_copy_text(out->date_of_birth, sizeof(out->date_of_birth),
			  PQgetvalue(r, 0, 2));
	storage_copy_text(out->gender, sizeof(out->gender), PQgetvalue(r, 0, 3));
	storage_copy_text(out->medical_conditions,
			  sizeof(out->medical_conditions), PQgetvalue(r, 0, 4));
	storage_copy_text(out->allergies, sizeof(out->allergies),
			  PQgetvalue(r, 0, 5));
	storage_copy_text(out->medications, sizeof(out->medications),
			  PQgetvalue(r, 0, 6));
	storage_copy_text(out->doctor_name, sizeof(out->doctor_name),
			  PQgetvalue(r, 0, 7));
	storage_copy_text(out->doctor_phone, sizeof(out->doctor_phone),
			  PQgetvalue(r, 0, 8));
	storage_copy_text(out->doctor_address, sizeof(out->doctor_address),
			  PQgetvalue(r, 0, 9));
	storage_copy_text(out->doctor_speciality,
			  sizeof(out->doctor_speciality), PQgetvalue(r, 0, 10));
	storage_copy_text(out->care_instructions,
			  sizeof(out->care_instructions), PQgetvalue(r, 0, 11));
	storage_copy_text(out->photo, sizeof(out->photo), PQgetvalue(r, 0, 12));
	out->public_fields = (unsigned)strtoul(PQgetvalue(r, 0, 13), NULL, 10);
	out->is_active = is_true(r, 0, 14);
	storage_copy_text(out->created_at, sizeof(out->created_at),
			  PQgetvalue(r, 0, 15));
	storage_copy_text(out->updated_at, sizeof(out->updated_at),
			  PQgetvalue(r, 0, 16));
	out->missing = is_true(r, 0, 17);
}

static void log_event(struct storage_pool *p, const char *event,
		      const char *custodian_id, const char *id)
{
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO, event,
				  "custodian_id=%s subject_id=%s", custodian_id,
				  id);
}

/* ---- list ---- */

void storage_subject_fill_summary(PGresult *r, int row,
				  struct keryu_subject_summary *s)
{
	memset(s, 0, sizeof(*s));
	storage_copy_text(s->id, sizeof(s->id), PQgetvalue(r, row, 1));
	storage_copy_text(s->name, sizeof(s->name), PQgetvalue(r, row, 2));
	s->is_active = is_true(r, row, 3);
	s->has_photo = is_true(r, row, 4);
	s->active_tags = atoi(PQgetvalue(r, row, 5));
	s->open_alarms = atoi(PQgetvalue(r, row, 6));
	storage_copy_text(s->last_alarm_at, sizeof(s->last_alarm_at),
			  PQgetvalue(r, row, 7));
}

struct list_call {
	const char *v[3]; /* custodian, offset, limit */
	struct keryu_subject_summary *out;
	size_t n;
	int total;
};

static int list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	/* one snapshot for the count and the page */
	rc = storage_db_exec(p, c, "subject.list",
			     "WITH mine AS (SELECT id, name, is_active, photo, "
			     "  created_at FROM subjects "
			     "  WHERE custodian_id = $1::uuid), "
			     "page AS (SELECT * FROM mine "
			     "  ORDER BY created_at DESC, id DESC "
			     "  OFFSET $2::int LIMIT $3::int) "
			     "SELECT (SELECT count(*) FROM mine), "
			     "pg.id::text, pg.name, pg.is_active, "
			     "coalesce(pg.photo, '') <> '', "
			     "(SELECT count(*) FROM subject_qr_codes q "
			     "  WHERE q.subject_id = pg.id AND q.is_active), "
			     "(SELECT count(*) FROM alarms a "
			     "  WHERE a.subject_id = pg.id "
			     "  AND a.resolved_at IS NULL), "
			     "coalesce((SELECT " STORAGE_ISO_UTC("max(a.scanned_at)")
			     "  FROM alarms a WHERE a.subject_id = pg.id), '') "
			     "FROM (SELECT 1) one "
			     "LEFT JOIN page pg ON true "
			     "ORDER BY pg.created_at DESC, pg.id DESC",
			     3, lc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	lc->total = rows > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	lc->n = 0;
	for (i = 0; i < rows; i++) {
		if (PQgetisnull(r, i, 1))
			continue; /* the empty page's one row (out may be
				   * NULL when max is 0) */
		storage_subject_fill_summary(r, i, &lc->out[lc->n++]);
	}
	PQclear(r);
	return 0;
}

int storage_subject_list(void *self, const char *custodian_id, int offset,
			 struct keryu_subject_summary *out, size_t max,
			 size_t *n, int *total)
{
	struct list_call lc;
	char off[16], lim[16];
	int rc;

	if (!storage_list_begin(n, total, out, max) ||
	    !keryu_uuid_valid(custodian_id) || offset < 0)
		return KERYU_EINVAL;
	storage_page_args(off, lim, offset, max, max);
	memset(&lc, 0, sizeof(lc));
	lc.v[0] = custodian_id;
	lc.v[1] = off;
	lc.v[2] = lim;
	lc.out = out;
	rc = storage_pool_run(self, "subject_list", list_work, &lc);
	if (rc)
		return rc;
	*n = lc.n;
	*total = lc.total;
	return 0;
}

/* ---- get ---- */

struct get_call {
	const char *v[2];
	struct keryu_subject *out;
};

static int get_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct get_call *gc = arg;
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "subject.get",
			    "SELECT " SUBJECT_COLS " FROM subjects "
			    "WHERE custodian_id = $1::uuid AND id = $2::uuid",
			    2, gc->v, &r);
	if (rc)
		return rc;
	fill_subject(r, gc->out);
	PQclear(r);
	return 0;
}

int storage_subject_get(void *self, const char *custodian_id, const char *id,
			struct keryu_subject *out)
{
	struct get_call gc = {{custodian_id, id}, out};

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id))
		return KERYU_EINVAL;
	return storage_pool_run(self, "subject_get", get_work, &gc);
}

/* ---- create and update ---- */

/* The parameters of both, in this order: $1 custodian, $2 id (update
 * only), then the fields. */
struct write_call {
	const char *v[15];
	char fields[16], active[8];
	char id[KERYU_UUID_LEN];
};

static void write_params(struct write_call *wc, const char *custodian_id,
			 const struct keryu_subject *in)
{
	memset(wc, 0, sizeof(*wc));
	snprintf(wc->fields, sizeof(wc->fields), "%u", in->public_fields);
	snprintf(wc->active, sizeof(wc->active), "%s",
		 in->is_active ? "true" : "false");
	wc->v[0] = custodian_id;
	wc->v[1] = in->id;
	wc->v[2] = in->name;
	wc->v[3] = in->date_of_birth;
	wc->v[4] = in->gender;
	wc->v[5] = in->medical_conditions;
	wc->v[6] = in->allergies;
	wc->v[7] = in->medications;
	wc->v[8] = in->doctor_name;
	wc->v[9] = in->doctor_phone;
	wc->v[10] = in->doctor_address;
	wc->v[11] = in->doctor_speciality;
	wc->v[12] = in->care_instructions;
	wc->v[13] = wc->fields;
	wc->v[14] = wc->active;
}

static int create_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct write_call *wc = arg;
	const char *v[14];
	PGresult *r;
	int rc;

	/* $2 (the id) is not used: the database makes one */
	v[0] = wc->v[0];
	memcpy(v + 1, wc->v + 2, 13 * sizeof(v[0]));
	/* SELECT ... FROM custodians: an unknown custodian inserts nothing
	 * and is ENOTFOUND rather than a foreign key error */
	rc = storage_db_row(
		p, c, "subject.create",
		"INSERT INTO subjects (custodian_id, name, date_of_birth, "
		"gender, medical_conditions, allergies, medications, "
		"doctor_name, doctor_phone, doctor_address, doctor_speciality, "
		"care_instructions, public_fields, is_active) "
		"SELECT id, $2, $3::date, $4, nullif($5, ''), nullif($6, ''), "
		"nullif($7, ''), nullif($8, ''), nullif($9, ''), "
		"nullif($10, ''), nullif($11, ''), nullif($12, ''), "
		"$13::int, $14::boolean "
		"FROM custodians WHERE id = $1::uuid RETURNING id::text",
		14, v, &r);
	if (rc)
		return rc;
	storage_copy_text(wc->id, sizeof(wc->id), PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int storage_subject_create(void *self, const char *custodian_id,
			   const struct keryu_subject *in,
			   char id_out[KERYU_UUID_LEN])
{
	struct write_call wc;
	int rc;

	if (!id_out)
		return KERYU_EINVAL;
	id_out[0] = '\0';
	if (!keryu_uuid_valid(custodian_id) || !in ||
	    !subject_terminated(in) || !subject_valid(in))
		return KERYU_EINVAL;
	write_params(&wc, custodian_id, in);
	rc = storage_pool_run(self, "subject_create", create_work, &wc);
	if (rc)
		return rc;
	memcpy(id_out, wc.id, KERYU_UUID_LEN);
	log_event(self, "storage.subject_created", custodian_id, wc.id);
	return 0;
}

static int update_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct write_call *wc = arg;
	const char *v[14];

	/* public_fields ($14 of write_params) is left alone: only
	 * subject_set_public writes it, so saving the details page cannot
	 * undo a privacy change made meanwhile (nor the reverse) */
	memcpy(v, wc->v, 13 * sizeof(v[0]));
	v[13] = wc->v[14];
	return storage_db_one(
		p, c, "subject.update",
		"UPDATE subjects SET name = $3, date_of_birth = $4::date, "
		"gender = $5, medical_conditions = nullif($6, ''), "
		"allergies = nullif($7, ''), medications = nullif($8, ''), "
		"doctor_name = nullif($9, ''), doctor_phone = nullif($10, ''), "
		"doctor_address = nullif($11, ''), "
		"doctor_speciality = nullif($12, ''), "
		"care_instructions = nullif($13, ''), "
		"is_active = $14::boolean, updated_at = now() "
		"WHERE custodian_id = $1::uuid AND id = $2::uuid RETURNING 1",
		14, v);
}

int storage_subject_update(void *self, const char *custodian_id,
			   const struct keryu_subject *in)
{
	struct write_call wc;
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !in ||
	    !memchr(in->id, '\0', sizeof(in->id)) ||
	    !keryu_uuid_valid(in->id) || !subject_terminated(in) ||
	    !subject_valid(in))
		return KERYU_EINVAL;
	write_params(&wc, custodian_id, in);
	rc = storage_pool_run(self, "subject_update", update_work, &wc);
	if (!rc)
		log_event(self, "storage.subject_updated", custodian_id, in->id);
	return rc;
}

/* ---- public fields ---- */

static int public_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* custodian, id, bits */

	return storage_db_one(p, c, "subject.set_public",
			      "UPDATE subjects SET public_fields = $3::int, "
			      "updated_at = now() "
			      "WHERE id = $2::uuid AND custodian_id = $1::uuid "
			      "RETURNING 1",
			      3, v);
}

int storage_subject_set_public(void *self, const char *custodian_id,
			       const char *id, unsigned public_fields)
{
	char bits[16];
	const char *v[3] = {custodian_id, id, bits};
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id) ||
	    (public_fields & ~KERYU_PUB_ALL) != 0)
		return KERYU_EINVAL;
	snprintf(bits, sizeof(bits), "%u", public_fields);
	rc = storage_pool_run(self, "subject_set_public", public_work, v);
	if (!rc)
		log_event(self, "storage.subject_public_set", custodian_id, id);
	return rc;
}

/* ---- lost mode ---- */

static int missing_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* custodian, id, missing */

	/* missing_since keeps the first report while it stays missing */
	return storage_db_one(p, c, "subject.set_missing",
			      "UPDATE subjects SET missing = $3::boolean, "
			      "missing_since = CASE WHEN $3::boolean THEN "
			      "  coalesce(missing_since, now()) END, "
			      "updated_at = now() "
			      "WHERE id = $2::uuid AND custodian_id = $1::uuid "
			      "RETURNING 1",
			      3, v);
}

int storage_subject_set_missing(void *self, const char *custodian_id,
				const char *id, bool missing)
{
	const char *v[3] = {custodian_id, id, missing ? "true" : "false"};
	int rc;

	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id))
		return KERYU_EINVAL;
	rc = storage_pool_run(self, "subject_set_missing", missing_work, v);
	if (!rc)
		log_event(self,
			  missing ? "storage.subject_missing"
				  : "storage.subject_found",
			  custodian_id, id);
	return rc;
}

/* ---- delete and photo ---- */

struct photo_call {
	const char *v[3]; /* custodian, id, new photo */
	char old[80];
};

static int delete_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct photo_call *pc = arg;
	PGresult *r;
	int rc;

	/* contacts, tags, alarms and their notifications go by cascade */
	rc = storage_db_row(p, c, "subject.delete",
			    "DELETE FROM subjects "
			    "WHERE custodian_id = $1::uuid AND id = $2::uuid "
			    "RETURNING coalesce(photo, '')",
			    2, pc->v, &r);
	if (rc)
		return rc;
	storage_copy_text(pc->old, sizeof(pc->old), PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int storage_subject_delete(void *self, const char *custodian_id,
			   const char *id, char photo_out[80])
{
	struct photo_call pc = {{custodian_id, id, NULL}, ""};
	int rc;

	if (!photo_out)
		return KERYU_EINVAL;
	photo_out[0] = '\0';
	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id))
		return KERYU_EINVAL;
	rc = storage_pool_run(self, "subject_delete", delete_work, &pc);
	if (rc)
		return rc;
	memcpy(photo_out, pc.old, sizeof(pc.old));
	log_event(self, "storage.subject_deleted", custodian_id, id);
	return 0;
}

static int photo_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct photo_call *pc = arg;
	PGresult *r;
	int rc;

	/* the row locked by the subquery is the one updated, so the old
	 * name returned is the one this call replaced */
	rc = storage_db_row(p, c, "subject.set_photo",
			    "UPDATE subjects s SET photo = nullif($3, ''), "
			    "updated_at = now() "
			    "FROM (SELECT id, photo FROM subjects "
			    "  WHERE custodian_id = $1::uuid AND id = $2::uuid "
			    "  FOR UPDATE) old "
			    "WHERE s.id = old.id "
			    "RETURNING coalesce(old.photo, '')",
			    3, pc->v, &r);
	if (rc)
		return rc;
	storage_copy_text(pc->old, sizeof(pc->old), PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int storage_subject_set_photo(void *self, const char *custodian_id,
			      const char *id, const char *photo,
			      char old_out[80])
{
	struct photo_call pc = {{custodian_id, id, photo}, ""};
	int rc;

	if (!old_out)
		return KERYU_EINVAL;
	old_out[0] = '\0';
	if (!keryu_uuid_valid(custodian_id) || !keryu_uuid_valid(id) ||
	    !photo_valid(photo))
		return KERYU_EINVAL;
	rc = storage_pool_run(self, "subject_set_photo", photo_work, &pc);
	if (rc)
		return rc;
	memcpy(old_out, pc.old, sizeof(pc.old));
	log_event(self, "storage.subject_photo_set", custodian_id, id);
	return 0;
}
