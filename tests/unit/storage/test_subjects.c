/* integration.storage_subjects: the "subjects" service of the storage
 * module (keryu/subjects.h) against a real PostgreSQL.
 *
 * Needs KERYU_TEST_DATABASE_URL, like integration.storage: a server where
 * this test may CREATE DATABASE. The database starts at migration 002 with
 * data in it (tags without short codes), so that the first test proves 003
 * upgrades it. Without the variable the test fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include <keryu/module.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "fake_host.h"
#include "storage_migrations.h"

extern const struct keryu_module keryu_module;

/* data made before migration 003 */
#define OLD_CUSTODIAN "5b3c0000-0000-4000-8000-000000000001"
#define OLD_SUBJECT "5b3c0000-0000-4000-8000-000000000002"
#define OLD_TAG1 "5b3c0000-0000-4000-8000-0000000000a1"
#define OLD_TAG2 "5b3c0000-0000-4000-8000-0000000000a2"
#define OLD_TAG3 "5b3c0000-0000-4000-8000-0000000000a3"
#define OLD_ALARM "5b3c0000-0000-4000-8000-0000000000b1"
#define OLD_PHONE "+15550100001"

#define CUST_A "5b3c0000-0000-4000-8000-00000000aaaa"
#define CUST_B "5b3c0000-0000-4000-8000-00000000bbbb"
#define PHONE_A "+15550100002"
#define PHONE_B "+15550100003"
#define UNKNOWN_ID "5b3c0000-0000-4000-8000-0000000000ff"
#define SECRET_MED "Xylo-epilepsy-marker"

static struct {
	char admin_url[1024];
	char db_url[1024];
	char db_name[64];
	PGconn *db;
	void *state;
	const struct keryu_subjects *sj;
	char subj_a[KERYU_UUID_LEN], subj_a2[KERYU_UUID_LEN];
	char subj_b[KERYU_UUID_LEN];
	char tag_a[KERYU_UUID_LEN];
	char contact_a[KERYU_UUID_LEN];
	char alarm_a[KERYU_UUID_LEN];
} T;

/* ---- helpers ---- */

static void url_with_db(const char *url, const char *db, char *out,
			size_t size)
{
	const char *auth = strstr(url, "://");
	const char *path, *query;

	auth = auth ? auth + 3 : url;
	path = strchr(auth, '/');
	query = strchr(auth, '?');
	if (!path || (query && query < path))
		path = query ? query : auth + strlen(auth);
	if (!query || query < path)
		query = strchr(path, '?');
	snprintf(out, size, "%.*s/%s%s", (int)(path - url), url, db,
		 query ? query : "");
}

static PGresult *sqlv(const char *sql, int n, const char *const *v)
{
	PGresult *r = PQexecParams(T.db, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail_msg("sql failed: %s: %s", sql, PQerrorMessage(T.db));
	return r;
}

static void sql1(const char *sql, const char *arg)
{
	const char *v[] = {arg};

	PQclear(sqlv(sql, arg ? 1 : 0, v));
}

/* True when PostgreSQL refuses the statement. */
static bool sql_fails(const char *sql)
{
	PGresult *r = PQexec(T.db, sql);
	bool failed = PQresultStatus(r) != PGRES_COMMAND_OK &&
		      PQresultStatus(r) != PGRES_TUPLES_OK;

	PQclear(r);
	return failed;
}

static const char *scalar(char *buf, size_t size, const char *sql,
			  const char *arg)
{
	const char *v[] = {arg};
	PGresult *r = sqlv(sql, arg ? 1 : 0, v);

	snprintf(buf, size, "%s",
		 PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return buf;
}

static long count(const char *sql, const char *arg)
{
	char buf[64];

	return atol(scalar(buf, sizeof(buf), sql, arg));
}

static int module_init(void)
{
	int rc;

	fake_host_reset(&keryu_module);
	fake_host_set("database_url", T.db_url);
	fake_host_set("connect_timeout_s", "5");
	fake_host_set("pool_size", "4");
	rc = keryu_module.init(fake_mod(), fake_host(), &T.state);
	T.sj = fake_host()->service(fake_mod(), KERYU_SERVICE_SUBJECTS);
	return rc;
}

/* ---- setup: an empty database ---- */

static int group_setup(void **unused)
{
	PGconn *admin;
	PGresult *r;
	char sql[200], *ident;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() << 8;

	(void)unused;
	snprintf(T.db_name, sizeof(T.db_name), "keryu_test_subj_%d_%08x",
		 (int)getpid(), (unsigned)rand_r(&seed));
	admin = PQconnectdb(T.admin_url);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "integration.storage_subjects: cannot connect "
				"to KERYU_TEST_DATABASE_URL: %s",
			PQerrorMessage(admin));
		PQfinish(admin);
		return -1;
	}
	ident = PQescapeIdentifier(admin, T.db_name, strlen(T.db_name));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ident);
	PQfreemem(ident);
	r = PQexec(admin, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "integration.storage_subjects: %s",
			PQerrorMessage(admin));
		PQclear(r);
		PQfinish(admin);
		return -1;
	}
	PQclear(r);
	/* a server far from UTC, to prove nothing depends on it */
	ident = PQescapeIdentifier(admin, T.db_name, strlen(T.db_name));
	snprintf(sql, sizeof(sql),
		 "ALTER DATABASE %s SET TimeZone TO 'Pacific/Auckland'", ident);
	PQfreemem(ident);
	PQclear(PQexec(admin, sql));
	PQfinish(admin);
	url_with_db(T.admin_url, T.db_name, T.db_url, sizeof(T.db_url));
	T.db = PQconnectdb(T.db_url);
	if (PQstatus(T.db) != CONNECTION_OK) {
		fprintf(stderr, "integration.storage_subjects: %s",
			PQerrorMessage(T.db));
		return -1;
	}
	return 0;
}

static int group_teardown(void **unused)
{
	PGconn *admin;
	char sql[200], *ident;

	(void)unused;
	if (T.state)
		keryu_module.cleanup(T.state);
	T.state = NULL;
	PQfinish(T.db);
	T.db = NULL;
	admin = PQconnectdb(T.admin_url);
	ident = PQescapeIdentifier(admin, T.db_name, strlen(T.db_name));
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		 ident);
	PQfreemem(ident);
	PQclear(PQexec(admin, sql));
	PQfinish(admin);
	return 0;
}

/* A digest of every table the service writes, to prove a call changed
 * nothing. */
static void snapshot(char out[33])
{
	char buf[64];

	scalar(buf, sizeof(buf),
	       "SELECT md5("
	       "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), '') "
	       " FROM subjects t) || "
	       "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), '') "
	       " FROM subject_qr_codes t) || "
	       "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), '') "
	       " FROM contacts t) || "
	       "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), '') "
	       " FROM alarms t) || "
	       "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), '') "
	       " FROM notifications t) || "
	       "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), '') "
	       " FROM notification_events t))",
	       NULL);
	snprintf(out, 33, "%.32s", buf);
}

static bool code_form(const char *s)
{
	return strlen(s) == 8 &&
	       strspn(s, KERYU_SHORT_CODE_ALPHABET) == 8;
}

static void subject_fill(struct keryu_subject *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->date_of_birth, sizeof(s->date_of_birth), "2016-02-29");
	snprintf(s->gender, sizeof(s->gender), "F");
	snprintf(s->medical_conditions, sizeof(s->medical_conditions),
		 SECRET_MED);
	snprintf(s->allergies, sizeof(s->allergies), "Peanuts\nShellfish");
	snprintf(s->care_instructions, sizeof(s->care_instructions),
		 "Speak softly; «dinosaurs» calm her.");
	snprintf(s->doctor_name, sizeof(s->doctor_name), "Dr. Ruiz");
	snprintf(s->doctor_phone, sizeof(s->doctor_phone), "+34 600 000 000");
	s->public_fields = KERYU_PUB_DEFAULT;
	s->is_active = true;
}

/* No log line may carry a phone number or a medical field. */
static void assert_logs_clean(void)
{
	assert_false(fake_host_log_contains("+1555"));
	assert_false(fake_host_log_contains("5550100"));
	assert_false(fake_host_log_contains(SECRET_MED));
	assert_false(fake_host_log_contains("Peanuts"));
}

/* ---- tests, run in order ---- */

/* 001 and 002 with a subject and three tags, no short codes yet; then the
 * module starts and applies 003 on top. */
static void test_upgrade_from_002(void **unused)
{
	const struct storage_migration *list;
	char buf[256];
	size_t n, i;
	PGresult *r;

	(void)unused;
	assert_int_equal(KERYU_PUB_DEFAULT, 43);
	list = storage_migrations(&n);
	assert_true(n >= 3);
	assert_int_equal(list[2].version, 3);
	assert_string_equal(list[2].name, "subjects");
	sql1("CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
	     "name text NOT NULL, applied_at timestamptz NOT NULL "
	     "DEFAULT now())",
	     NULL);
	for (i = 0; i < 2; i++) {
		r = PQexec(T.db, list[i].sql);
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	}
	sql1("INSERT INTO schema_migrations VALUES (1, 'schema'), "
	     "(2, 'accounts')",
	     NULL);
	sql1("INSERT INTO custodians (id, email, name, phone_e164) VALUES "
	     "('" OLD_CUSTODIAN "', 'old@example.org', 'Olga', '" OLD_PHONE
	     "')",
	     NULL);
	sql1("INSERT INTO subjects (id, custodian_id, name, date_of_birth, "
	     "gender) VALUES ('" OLD_SUBJECT "', '" OLD_CUSTODIAN "', "
	     "'Oscar', '2017-01-01', 'M')",
	     NULL);
	sql1("INSERT INTO subject_qr_codes (uuid, subject_id, is_active) "
	     "VALUES ('" OLD_TAG1 "', '" OLD_SUBJECT "', true), "
	     "('" OLD_TAG2 "', '" OLD_SUBJECT "', false), "
	     "('" OLD_TAG3 "', '" OLD_SUBJECT "', false)",
	     NULL);
	sql1("INSERT INTO alarms (id, event_id, subject_id, qr_uuid, "
	     "scanned_at, notification_status, notification_sent) VALUES "
	     "('" OLD_ALARM "', gen_random_uuid(), '" OLD_SUBJECT "', '" OLD_TAG1
	     "', '2026-01-01T00:00:00Z', 'DELIVERED', true)",
	     NULL);

	assert_int_equal(module_init(), 0);
	assert_non_null(T.sj);
	assert_int_equal(T.sj->struct_size, sizeof(struct keryu_subjects));
	assert_true(fake_host_log_contains(
		"storage.migrated version=3 name=subjects"));

	/* every old tag has a distinct code of the right form */
	r = sqlv("SELECT short_code FROM subject_qr_codes ORDER BY uuid", 0,
		 NULL);
	assert_int_equal(PQntuples(r), 3);
	for (i = 0; i < 3; i++)
		assert_true(code_form(PQgetvalue(r, (int)i, 0)));
	PQclear(r);
	assert_int_equal(count("SELECT count(DISTINCT short_code) "
			       "FROM subject_qr_codes",
			       NULL),
			 3);
	/* the old subject shows the default fields; its alarm is open */
	assert_int_equal(count("SELECT public_fields FROM subjects "
			       "WHERE id = $1::uuid",
			       OLD_SUBJECT),
			 43);
	assert_string_equal(scalar(buf, sizeof(buf),
				   "SELECT (resolved_at IS NULL)::text || "
				   "coalesce(resolution_notes, '-') "
				   "FROM alarms WHERE id = $1::uuid",
				   OLD_ALARM),
			    "true-");
	/* inserts that name no code (seeds, older scripts) get one; the
	 * database refuses bad, duplicate and NULL codes and bad fields */
	sql1("INSERT INTO subject_qr_codes (subject_id) VALUES ($1::uuid)",
	     OLD_SUBJECT);
	assert_true(code_form(scalar(buf, sizeof(buf),
				     "SELECT short_code FROM subject_qr_codes "
				     "ORDER BY created_at DESC LIMIT 1",
				     NULL)));
	assert_true(sql_fails("UPDATE subject_qr_codes SET short_code = "
			      "'ABCDEFG0' WHERE uuid = '" OLD_TAG2 "'"));
	assert_true(sql_fails("UPDATE subject_qr_codes SET short_code = "
			      "NULL WHERE uuid = '" OLD_TAG2 "'"));
	assert_true(sql_fails("UPDATE subject_qr_codes SET short_code = "
			      "(SELECT short_code FROM subject_qr_codes "
			      "WHERE uuid = '" OLD_TAG1 "') "
			      "WHERE uuid = '" OLD_TAG2 "'"));
	assert_true(sql_fails("UPDATE subjects SET public_fields = 512"));
	assert_true(sql_fails("UPDATE subjects SET public_fields = -1"));
	assert_true(sql_fails("UPDATE subjects SET allergies = "
			      "repeat('x', 2001)"));
	assert_true(sql_fails("UPDATE alarms SET resolution_notes = "
			      "repeat('é', 1001)"));

	/* the custodians of the rest of the tests */
	sql1("INSERT INTO custodians (id, email, name, phone_e164) VALUES "
	     "('" CUST_A "', 'a@example.org', 'Ana', '" PHONE_A "'), "
	     "('" CUST_B "', 'b@example.org', 'Bo', '" PHONE_B "')",
	     NULL);
}

static void test_subjects(void **unused)
{
	const struct keryu_subjects *sj = T.sj;
	struct keryu_subject s, got;
	struct keryu_subject_summary sum[8];
	char id[KERYU_UUID_LEN], photo[80], snap[33], snap2[33];
	size_t n;
	int total;

	(void)unused;
	subject_fill(&s, "Lucía Gómez");
	assert_int_equal(sj->subject_create(sj->self, CUST_A, &s, T.subj_a), 0);
	assert_true(keryu_uuid_valid(T.subj_a));
	assert_int_equal(sj->subject_get(sj->self, CUST_A, T.subj_a, &got), 0);
	assert_string_equal(got.id, T.subj_a);
	assert_string_equal(got.name, "Lucía Gómez");
	assert_string_equal(got.date_of_birth, "2016-02-29");
	assert_string_equal(got.gender, "F");
	assert_string_equal(got.medical_conditions, SECRET_MED);
	assert_string_equal(got.allergies, "Peanuts\nShellfish");
	assert_string_equal(got.care_instructions,
			    "Speak softly; «dinosaurs» calm her.");
	assert_string_equal(got.medications, "");
	assert_string_equal(got.doctor_name, "Dr. Ruiz");
	assert_string_equal(got.doctor_phone, "+34 600 000 000");
	assert_string_equal(got.doctor_address, "");
	assert_string_equal(got.photo, "");
	assert_int_equal(got.public_fields, KERYU_PUB_DEFAULT);
	assert_true(got.is_active);
	assert_int_equal(strlen(got.created_at), 24);
	assert_int_equal(got.created_at[23], 'Z');
	/* "" is stored as NULL */
	assert_int_equal(count("SELECT count(*) FROM subjects WHERE id = $1 "
			       "AND medications IS NULL "
			       "AND doctor_address IS NULL",
			       T.subj_a),
			 1);

	/* update replaces every field but id, photo and times */
	got.public_fields = KERYU_PUB_ALL;
	snprintf(got.name, sizeof(got.name), "Lucía G.");
	snprintf(got.medications, sizeof(got.medications), "None");
	snprintf(got.doctor_name, sizeof(got.doctor_name), "%s", "");
	snprintf(got.gender, sizeof(got.gender), "U");
	snprintf(got.photo, sizeof(got.photo), "ignored.jpg");
	assert_int_equal(sj->subject_update(sj->self, CUST_A, &got), 0);
	assert_int_equal(sj->subject_get(sj->self, CUST_A, T.subj_a, &s), 0);
	assert_string_equal(s.name, "Lucía G.");
	assert_string_equal(s.medications, "None");
	assert_string_equal(s.doctor_name, "");
	assert_string_equal(s.gender, "U");
	assert_string_equal(s.photo, "");
	assert_int_equal(s.public_fields, KERYU_PUB_ALL);
	assert_string_equal(s.created_at, got.created_at);

	/* photo: set, replace (old name back), remove */
	assert_int_equal(sj->subject_set_photo(sj->self, CUST_A, T.subj_a,
					       "p1.jpg", photo),
			 0);
	assert_string_equal(photo, "");
	assert_int_equal(sj->subject_set_photo(sj->self, CUST_A, T.subj_a,
					       "p2.jpg", photo),
			 0);
	assert_string_equal(photo, "p1.jpg");
	assert_int_equal(sj->subject_get(sj->self, CUST_A, T.subj_a, &s), 0);
	assert_string_equal(s.photo, "p2.jpg");
	assert_int_equal(sj->subject_set_photo(sj->self, CUST_A, T.subj_a,
					       "../etc/passwd", photo),
			 KERYU_EINVAL);
	assert_int_equal(sj->subject_set_photo(sj->self, CUST_A, T.subj_a,
					       ".hidden", photo),
			 KERYU_EINVAL);

	/* a second subject of A's, one of B's */
	subject_fill(&s, "Mateo");
	s.is_active = false;
	s.public_fields = 0;
	assert_int_equal(sj->subject_create(sj->self, CUST_A, &s, T.subj_a2), 0);
	subject_fill(&s, "Bea");
	assert_int_equal(sj->subject_create(sj->self, CUST_B, &s, T.subj_b), 0);
	assert_int_equal(sj->subject_create(sj->self, UNKNOWN_ID, &s, id),
			 KERYU_ENOTFOUND);
	assert_string_equal(id, "");

	/* list: newest first, with the total */
	assert_int_equal(sj->subject_list(sj->self, CUST_A, 0, sum, 8, &n,
					  &total),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	assert_string_equal(sum[0].id, T.subj_a2);
	assert_string_equal(sum[0].name, "Mateo");
	assert_false(sum[0].is_active);
	assert_false(sum[0].has_photo);
	assert_string_equal(sum[1].id, T.subj_a);
	assert_true(sum[1].has_photo);
	assert_int_equal(sum[1].active_tags, 0);
	assert_int_equal(sum[1].open_alarms, 0);
	assert_string_equal(sum[1].last_alarm_at, "");
	assert_int_equal(sj->subject_list(sj->self, CUST_A, 1, sum, 8, &n,
					  &total),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(total, 2);
	assert_string_equal(sum[0].id, T.subj_a);
	assert_int_equal(sj->subject_list(sj->self, CUST_A, 0, sum, 1, &n,
					  &total),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(total, 2);
	assert_int_equal(sj->subject_list(sj->self, CUST_A, 5, sum, 8, &n,
					  &total),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 2);
	assert_int_equal(sj->subject_list(sj->self, CUST_A, 0, NULL, 0, &n,
					  &total),
			 0);
	assert_int_equal(total, 2);
	assert_int_equal(sj->subject_list(sj->self, UNKNOWN_ID, 0, sum, 8, &n,
					  &total),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	assert_int_equal(sj->subject_list(sj->self, CUST_A, -1, sum, 8, &n,
					  &total),
			 KERYU_EINVAL);

	/* validation: EINVAL, nothing written */
	snapshot(snap);
	{
		struct keryu_subject bad;
		char big[KERYU_TEXT_MAX + 10];
		time_t now = time(NULL) + 2 * 86400;
		struct tm tm;
		int k;

		memset(big, 'x', sizeof(big));
		big[sizeof(big) - 1] = '\0';
		for (k = 0; k < 26; k++) {
			subject_fill(&bad, "Valid");
			switch (k) {
			case 0: bad.name[0] = '\0'; break;
			case 1: snprintf(bad.name, sizeof(bad.name), "   "); break;
			case 2: snprintf(bad.name, sizeof(bad.name), "a\tb"); break;
			case 3: snprintf(bad.name, sizeof(bad.name), "bad\xc3("); break;
			case 4: snprintf(bad.date_of_birth, 11, "2019-02-29"); break;
			case 5: snprintf(bad.date_of_birth, 11, "1900-01-01"); break;
			case 6: snprintf(bad.date_of_birth, 11, "1899-12-31"); break;
			case 7:
				gmtime_r(&now, &tm);
				strftime(bad.date_of_birth, 11, "%Y-%m-%d", &tm);
				break;
			case 8: snprintf(bad.date_of_birth, 11, "2019-13-01"); break;
			case 9: snprintf(bad.date_of_birth, 11, "2019/01/01"); break;
			case 10: bad.date_of_birth[0] = '\0'; break;
			case 11: snprintf(bad.gender, 2, "X"); break;
			case 12: bad.gender[0] = '\0'; break;
			case 13: bad.public_fields = KERYU_PUB_ALL + 1; break;
			case 14:
				memcpy(bad.allergies, big, KERYU_TEXT_MAX);
				bad.allergies[KERYU_TEXT_MAX - 1] = 'x'; /* no NUL */
				break;
			case 15:
				snprintf(bad.medications,
					 sizeof(bad.medications), "ok \xff");
				break;
			case 16:
				snprintf(bad.care_instructions,
					 sizeof(bad.care_instructions),
					 "\x80 stray continuation");
				break;
			case 17:
				snprintf(bad.doctor_address,
					 sizeof(bad.doctor_address),
					 "ctl \x01 char");
				break;
			case 18:
				snprintf(bad.doctor_name,
					 sizeof(bad.doctor_name), "  ");
				break;
			case 19:
				snprintf(bad.doctor_speciality,
					 sizeof(bad.doctor_speciality),
					 "a\nb");
				break;
			case 20:
				/* an overlong '/' */
				snprintf(bad.name, sizeof(bad.name),
					 "a\xc0\xaf");
				break;
			case 21:
				/* a surrogate */
				snprintf(bad.name, sizeof(bad.name),
					 "a\xed\xa0\x80");
				break;
			case 22:
				memset(bad.name, 'n', sizeof(bad.name));
				break; /* no NUL */
			case 23:
				snprintf(bad.date_of_birth, 11, "0000-01-01");
				break;
			case 24: snprintf(bad.gender, 2, "m"); break;
			case 25:
				snprintf(bad.doctor_phone,
					 sizeof(bad.doctor_phone), "12\r");
				break;
			}
			assert_int_equal(sj->subject_create(sj->self, CUST_A,
							    &bad, id),
					 KERYU_EINVAL);
			snprintf(bad.id, sizeof(bad.id), "%s", T.subj_a);
			assert_int_equal(sj->subject_update(sj->self, CUST_A,
							    &bad),
					 KERYU_EINVAL);
		}
		/* limits are inclusive: 2000 bytes, a 100-byte name */
		subject_fill(&bad, "Valid");
		memset(bad.care_instructions, 'c', 2000);
		bad.care_instructions[2000] = '\0';
		memset(bad.name, 'n', 100);
		bad.name[100] = '\0';
		snprintf(bad.date_of_birth, 11, "1900-01-02");
		snprintf(bad.id, sizeof(bad.id), "%s", T.subj_a2);
		bad.public_fields = KERYU_PUB_ALL;
		snprintf(bad.gender, 2, "O");
		assert_int_equal(sj->subject_update(sj->self, CUST_A, &bad), 0);
		assert_int_equal(sj->subject_get(sj->self, CUST_A, T.subj_a2,
						 &got),
				 0);
		assert_int_equal(strlen(got.care_instructions), 2000);
		assert_int_equal(strlen(got.name), 100);
		/* put Mateo back */
		subject_fill(&bad, "Mateo");
		bad.is_active = false;
		bad.public_fields = 0;
		snprintf(bad.id, sizeof(bad.id), "%s", T.subj_a2);
		assert_int_equal(sj->subject_update(sj->self, CUST_A, &bad), 0);
		snapshot(snap);
	}
	assert_int_equal(sj->subject_create(sj->self, "nope", &s, id),
			 KERYU_EINVAL);
	assert_int_equal(sj->subject_get(sj->self, CUST_A, "nope", &got),
			 KERYU_EINVAL);
	assert_int_equal(sj->subject_get(sj->self, CUST_A, UNKNOWN_ID, &got),
			 KERYU_ENOTFOUND);
	snprintf(s.id, sizeof(s.id), "%s", UNKNOWN_ID);
	assert_int_equal(sj->subject_update(sj->self, CUST_A, &s),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->subject_delete(sj->self, CUST_A, UNKNOWN_ID,
					    photo),
			 KERYU_ENOTFOUND);
	snapshot(snap2);
	assert_string_equal(snap, snap2);
	assert_logs_clean();
}

static void test_tags(void **unused)
{
	const struct keryu_subjects *sj = T.sj;
	struct keryu_tag t1, t2, t3, list[4], got;
	struct keryu_subject_summary sum[4];
	char uuid[KERYU_UUID_LEN], code[16], snap[33], snap2[33];
	size_t n;
	int total;

	(void)unused;
	assert_int_equal(sj->tag_create(sj->self, CUST_A, T.subj_a, "ABCD2345",
					&t1),
			 0);
	assert_true(keryu_uuid_valid(t1.uuid));
	assert_string_equal(t1.subject_id, T.subj_a);
	assert_string_equal(t1.short_code, "ABCD2345");
	assert_false(t1.is_active);
	assert_int_equal(strlen(t1.created_at), 24);
	assert_string_equal(t1.activated_at, "");
	assert_string_equal(t1.last_used, "");
	assert_int_equal(sj->tag_create(sj->self, CUST_A, T.subj_a, "WXYZ6789",
					&t2),
			 0);

	/* a taken code, also one from before 003 or another custodian's */
	snapshot(snap);
	assert_int_equal(sj->tag_create(sj->self, CUST_A, T.subj_a, "ABCD2345",
					&t3),
			 KERYU_ECONFLICT);
	assert_string_equal(t3.uuid, "");
	scalar(code, sizeof(code),
	       "SELECT short_code FROM subject_qr_codes WHERE uuid = $1::uuid",
	       OLD_TAG1);
	assert_int_equal(sj->tag_create(sj->self, CUST_B, T.subj_b, code, &t3),
			 KERYU_ECONFLICT);
	/* bad codes */
	{
		static const char *const bad[] = {
			"", "ABCD234", "ABCD23456", "abcd2345", "ABCD0345",
			"ABCDO345", "ABCD1345", "ABCDI345", "ABCDL345",
			"ABCDU345", "ABCDV345", "ABCD 345", "ABCDÉ34"};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(sj->tag_create(sj->self, CUST_A,
							T.subj_a, bad[i], &t3),
					 KERYU_EINVAL);
		assert_int_equal(sj->tag_create(sj->self, CUST_A, T.subj_a,
						NULL, &t3),
				 KERYU_EINVAL);
	}
	/* B cannot tag A's subject, even with a fresh code */
	assert_int_equal(sj->tag_create(sj->self, CUST_B, T.subj_a, "BBBB2222",
					&t3),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->tag_create(sj->self, CUST_A, UNKNOWN_ID,
					"BBBB2222", &t3),
			 KERYU_ENOTFOUND);
	snapshot(snap2);
	assert_string_equal(snap, snap2);

	/* list: newest first */
	assert_int_equal(sj->tag_list(sj->self, CUST_A, T.subj_a, list, 4, &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].uuid, t2.uuid);
	assert_string_equal(list[1].uuid, t1.uuid);
	assert_int_equal(sj->tag_list(sj->self, CUST_A, T.subj_a, list, 1, &n),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].uuid, t2.uuid);
	assert_int_equal(sj->tag_list(sj->self, CUST_A, T.subj_a2, list, 4,
				      &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(sj->tag_list(sj->self, CUST_B, T.subj_a, list, 4, &n),
			 KERYU_ENOTFOUND);
	assert_int_equal(n, 0);
	assert_int_equal(sj->tag_get(sj->self, CUST_A, t1.uuid, &got), 0);
	assert_memory_equal(&got, &t1, sizeof(got));
	assert_int_equal(sj->tag_get(sj->self, CUST_A, OLD_TAG1, &got),
			 KERYU_ENOTFOUND);

	/* one active tag per subject */
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, t1.uuid, true),
			 0);
	assert_int_equal(sj->tag_get(sj->self, CUST_A, t1.uuid, &got), 0);
	assert_true(got.is_active);
	assert_int_equal(strlen(got.activated_at), 24);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, t2.uuid, true),
			 0);
	assert_int_equal(count("SELECT count(*) FROM subject_qr_codes "
			       "WHERE subject_id = $1::uuid AND is_active",
			       T.subj_a),
			 1);
	assert_int_equal(sj->tag_get(sj->self, CUST_A, t1.uuid, &got), 0);
	assert_false(got.is_active);
	assert_int_equal(sj->tag_get(sj->self, CUST_A, t2.uuid, &got), 0);
	assert_true(got.is_active);
	/* activating the active one again changes nothing */
	snapshot(snap);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, t2.uuid, true),
			 0);
	snapshot(snap2);
	assert_string_equal(snap, snap2);
	/* the scan lookup agrees */
	{
		const struct keryu_storage *st =
			fake_host()->service(fake_mod(), KERYU_SERVICE_STORAGE);
		struct keryu_tag_info info;

		assert_int_equal(st->tag_lookup(st->self, t2.uuid, &info), 0);
		assert_int_equal(st->tag_lookup(st->self, t1.uuid, &info),
				 KERYU_ENOTFOUND);
	}
	assert_int_equal(sj->subject_list(sj->self, CUST_A, 0, sum, 4, &n,
					  &total),
			 0);
	assert_string_equal(sum[1].id, T.subj_a);
	assert_int_equal(sum[1].active_tags, 1);
	/* deactivate, reactivate */
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, t2.uuid, false),
			 0);
	assert_int_equal(count("SELECT count(*) FROM subject_qr_codes "
			       "WHERE subject_id = $1::uuid AND is_active",
			       T.subj_a),
			 0);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, t2.uuid, true),
			 0);
	/* the other subject's tag is untouched by A's activations */
	assert_int_equal(count("SELECT count(*) FROM subject_qr_codes "
			       "WHERE uuid = $1::uuid AND is_active",
			       OLD_TAG1),
			 1);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, UNKNOWN_ID, true),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, "x", true),
			 KERYU_EINVAL);

	/* public lookup by code, any case, active or not */
	assert_int_equal(sj->tag_by_code(sj->self, "abcd2345", uuid), 0);
	assert_string_equal(uuid, t1.uuid);
	assert_int_equal(sj->tag_by_code(sj->self, "AbCd2345", uuid), 0);
	assert_string_equal(uuid, t1.uuid);
	assert_int_equal(sj->tag_by_code(sj->self, code, uuid), 0);
	assert_string_equal(uuid, OLD_TAG1);
	assert_int_equal(sj->tag_by_code(sj->self, "ZZZZ2222", uuid),
			 KERYU_ENOTFOUND);
	assert_string_equal(uuid, "");
	assert_int_equal(sj->tag_by_code(sj->self, "ABCD0345", uuid),
			 KERYU_EINVAL);
	assert_int_equal(sj->tag_by_code(sj->self, "abc", uuid), KERYU_EINVAL);
	assert_int_equal(sj->tag_by_code(sj->self, NULL, uuid), KERYU_EINVAL);
	snprintf(T.tag_a, sizeof(T.tag_a), "%s", t2.uuid);
	assert_logs_clean();
}

/* Many threads activating tags of one subject: one active at the end. */
struct racer {
	const char *uuid;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	int i;

	for (i = 0; i < 10 && !r->rc; i++)
		r->rc = T.sj->tag_set_active(T.sj->self, CUST_A, r->uuid, true);
	return NULL;
}

static void test_tag_race(void **unused)
{
	struct keryu_tag tags[6];
	struct racer r[6];
	pthread_t th[6];
	char code[9];
	int i;

	(void)unused;
	for (i = 0; i < 6; i++) {
		snprintf(code, sizeof(code), "RACE%cQR%c", "234567"[i],
			 "234567"[i]);
		assert_int_equal(T.sj->tag_create(T.sj->self, CUST_A, T.subj_a2,
						  code, &tags[i]),
				 0);
		r[i].uuid = tags[i].uuid;
		r[i].rc = 0;
	}
	for (i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	for (i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].rc, 0);
	}
	assert_int_equal(count("SELECT count(*) FROM subject_qr_codes "
			       "WHERE subject_id = $1::uuid AND is_active",
			       T.subj_a2),
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade_from_002),
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tag_race),
	};
	const char *url = getenv("KERYU_TEST_DATABASE_URL");

	if (!url || !*url) {
		fprintf(stderr,
			"integration.storage_subjects: FAIL: "
			"KERYU_TEST_DATABASE_URL is not set. Point it at a "
			"PostgreSQL where this test may CREATE DATABASE, e.g. "
			"postgresql://postgres@127.0.0.1:5432/postgres\n");
		return 1;
	}
	snprintf(T.admin_url, sizeof(T.admin_url), "%s", url);
	return cmocka_run_group_tests_name("integration.storage_subjects",
					   tests, group_setup, group_teardown);
}
