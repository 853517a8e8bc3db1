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

#include "storage_fixture.h"

#include <keryu/module.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "fake_host.h"
#include "storage_migrations.h"

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
	char subj_a[KERYU_UUID_LEN], subj_a2[KERYU_UUID_LEN];
	char subj_b[KERYU_UUID_LEN];
	char tag_a[KERYU_UUID_LEN];
	char contact_a[KERYU_UUID_LEN];
	char alarm_a[KERYU_UUID_LEN];
} T;

/* ---- helpers ---- */

/* A digest of every table the service writes, to prove a call changed
 * nothing. */
static void snapshot(char out[33])
{
	char buf[64];

	fx_scalar(buf, sizeof(buf),
		  "SELECT md5("
		  "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), "
		  "'') "
		  " FROM subjects t) || "
		  "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), "
		  "'') "
		  " FROM subject_qr_codes t) || "
		  "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), "
		  "'') "
		  " FROM contacts t) || "
		  "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), "
		  "'') "
		  " FROM alarms t) || "
		  "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), "
		  "'') "
		  " FROM notifications t) || "
		  "(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), "
		  "'') "
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
	fx_assert_logs_clean("+1555", "5550100", SECRET_MED, "Peanuts", NULL);
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
	fx_migrate_by_hand(2);
	fx_sql1("INSERT INTO custodians (id, email, name, phone_e164) VALUES "
		"('" OLD_CUSTODIAN "', 'old@example.org', 'Olga', '" OLD_PHONE
		"')",
		NULL);
	fx_sql1("INSERT INTO subjects (id, custodian_id, name, date_of_birth, "
		"gender) VALUES ('" OLD_SUBJECT "', '" OLD_CUSTODIAN "', "
		"'Oscar', '2017-01-01', 'M')",
		NULL);
	fx_sql1("INSERT INTO subject_qr_codes (uuid, subject_id, is_active) "
		"VALUES ('" OLD_TAG1 "', '" OLD_SUBJECT "', true), "
		"('" OLD_TAG2 "', '" OLD_SUBJECT "', false), "
		"('" OLD_TAG3 "', '" OLD_SUBJECT "', false)",
		NULL);
	fx_sql1("INSERT INTO alarms (id, event_id, subject_id, qr_uuid, "
		"scanned_at, notification_status, notification_sent) VALUES "
		"('" OLD_ALARM "', gen_random_uuid(), '" OLD_SUBJECT
		"', '" OLD_TAG1 "', '2026-01-01T00:00:00Z', 'DELIVERED', true)",
		NULL);

	assert_int_equal(fx_start("4"), 0);
	assert_non_null(fx.sj);
	assert_int_equal(fx.sj->struct_size, sizeof(struct keryu_subjects));
	assert_true(fake_host_log_contains(
		"storage.migrated version=3 name=subjects"));

	/* every old tag has a distinct code of the right form */
	r = fx_sqlv("SELECT short_code FROM subject_qr_codes ORDER BY uuid", 0,
		    NULL);
	assert_int_equal(PQntuples(r), 3);
	for (i = 0; i < 3; i++)
		assert_true(code_form(PQgetvalue(r, (int)i, 0)));
	PQclear(r);
	assert_int_equal(fx_count("SELECT count(DISTINCT short_code) "
				  "FROM subject_qr_codes",
				  NULL),
			 3);
	/* the old subject shows the default fields; its alarm is open */
	assert_int_equal(fx_count("SELECT public_fields FROM subjects "
				  "WHERE id = $1::uuid",
				  OLD_SUBJECT),
			 43);
	assert_string_equal(fx_scalar(buf, sizeof(buf),
				      "SELECT (resolved_at IS NULL)::text || "
				      "coalesce(resolution_notes, '-') "
				      "FROM alarms WHERE id = $1::uuid",
				      OLD_ALARM),
			    "true-");
	/* inserts that name no code (seeds, older scripts) get one; the
	 * database refuses bad, duplicate and NULL codes and bad fields */
	fx_sql1("INSERT INTO subject_qr_codes (subject_id) VALUES ($1::uuid)",
		OLD_SUBJECT);
	assert_true(
		code_form(fx_scalar(buf, sizeof(buf),
				    "SELECT short_code FROM subject_qr_codes "
				    "ORDER BY created_at DESC LIMIT 1",
				    NULL)));
	assert_true(fx_sql_fails("UPDATE subject_qr_codes SET short_code = "
				 "'ABCDEFG0' WHERE uuid = '" OLD_TAG2 "'"));
	assert_true(fx_sql_fails("UPDATE subject_qr_codes SET short_code = "
				 "NULL WHERE uuid = '" OLD_TAG2 "'"));
	assert_true(fx_sql_fails("UPDATE subject_qr_codes SET short_code = "
				 "(SELECT short_code FROM subject_qr_codes "
				 "WHERE uuid = '" OLD_TAG1 "') "
				 "WHERE uuid = '" OLD_TAG2 "'"));
	assert_true(fx_sql_fails("UPDATE subjects SET public_fields = 512"));
	assert_true(fx_sql_fails("UPDATE subjects SET public_fields = -1"));
	assert_true(fx_sql_fails("UPDATE subjects SET allergies = "
				 "repeat('x', 2001)"));
	assert_true(fx_sql_fails("UPDATE alarms SET resolution_notes = "
				 "repeat('é', 1001)"));

	/* the custodians of the rest of the tests */
	fx_sql1("INSERT INTO custodians (id, email, name, phone_e164) VALUES "
		"('" CUST_A "', 'a@example.org', 'Ana', '" PHONE_A "'), "
		"('" CUST_B "', 'b@example.org', 'Bo', '" PHONE_B "')",
		NULL);
}

static void test_subjects(void **unused)
{
	const struct keryu_subjects *sj = fx.sj;
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
	assert_int_equal(fx_count("SELECT count(*) FROM subjects WHERE id = $1 "
				  "AND medications IS NULL "
				  "AND doctor_address IS NULL",
				  T.subj_a),
			 1);

	/* update replaces every field but id, photo, public fields and
	 * times */
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
	assert_int_equal(s.public_fields, KERYU_PUB_DEFAULT); /* kept */
	assert_string_equal(s.created_at, got.created_at);

	/* public fields are set on their own, and nothing else is */
	fx_sql1("UPDATE subjects SET updated_at = now() - interval '1 day' "
		"WHERE id = $1::uuid",
		T.subj_a);
	assert_int_equal(sj->subject_set_public(sj->self, CUST_A, T.subj_a,
						KERYU_PUB_ALL),
			 0);
	assert_int_equal(sj->subject_get(sj->self, CUST_A, T.subj_a, &got), 0);
	assert_int_equal(got.public_fields, KERYU_PUB_ALL);
	assert_string_equal(got.name, "Lucía G.");
	assert_string_equal(got.medications, "None");
	assert_int_equal(fx_count("SELECT count(*) FROM subjects WHERE id = "
				  "$1::uuid AND updated_at > now() - "
				  "interval '1 hour'",
				  T.subj_a),
			 1);
	snapshot(snap);
	assert_int_equal(sj->subject_set_public(sj->self, CUST_A, T.subj_a,
						KERYU_PUB_ALL + 1),
			 KERYU_EINVAL);
	assert_int_equal(sj->subject_set_public(sj->self, CUST_A, T.subj_a,
						1u << 31),
			 KERYU_EINVAL);
	assert_int_equal(sj->subject_set_public(sj->self, CUST_B, T.subj_a, 0),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->subject_set_public(sj->self, CUST_A, UNKNOWN_ID,
						0),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->subject_set_public(sj->self, CUST_A, "nope", 0),
			 KERYU_EINVAL);
	snapshot(snap2);
	assert_string_equal(snap, snap2);
	/* and an update after it keeps it */
	assert_int_equal(sj->subject_update(sj->self, CUST_A, &got), 0);
	got.public_fields = 0;
	assert_int_equal(sj->subject_update(sj->self, CUST_A, &got), 0);
	assert_int_equal(sj->subject_get(sj->self, CUST_A, T.subj_a, &s), 0);
	assert_int_equal(s.public_fields, KERYU_PUB_ALL);

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
	const struct keryu_subjects *sj = fx.sj;
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
	fx_scalar(
		code, sizeof(code),
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
	assert_int_equal(fx_count("SELECT count(*) FROM subject_qr_codes "
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
	assert_int_equal(fx_count("SELECT count(*) FROM subject_qr_codes "
				  "WHERE subject_id = $1::uuid AND is_active",
				  T.subj_a),
			 0);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_A, t2.uuid, true),
			 0);
	/* the other subject's tag is untouched by A's activations */
	assert_int_equal(fx_count("SELECT count(*) FROM subject_qr_codes "
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
		r->rc = fx.sj->tag_set_active(fx.sj->self, CUST_A, r->uuid,
					      true);
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
		assert_int_equal(fx.sj->tag_create(fx.sj->self, CUST_A,
						   T.subj_a2, code, &tags[i]),
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
	assert_int_equal(fx_count("SELECT count(*) FROM subject_qr_codes "
				  "WHERE subject_id = $1::uuid AND is_active",
				  T.subj_a2),
			 1);
}

static void contact_fill(struct keryu_contact *k, const char *name,
			 const char *phone, const char *channel)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->phone, sizeof(k->phone), "%s", phone);
	snprintf(k->channel, sizeof(k->channel), "%s", channel);
}

/* The names of A's first subject's contacts in order, "a,b,c". */
static const char *contact_order(char *buf, size_t size)
{
	struct keryu_contact list[8];
	size_t n, i, used = 0;

	buf[0] = '\0';
	assert_int_equal(
		fx.sj->contact_list(fx.sj->self, CUST_A, T.subj_a, list, 8, &n),
		0);
	for (i = 0; i < n; i++) {
		assert_int_equal(list[i].position, (int)i + 1);
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 i ? "," : "", list[i].name);
	}
	return buf;
}

/* Threads adding contacts to A's second subject at once. */
struct adder {
	int nth, added, refused, other;
};

static void *add_race(void *arg)
{
	struct adder *a = arg;
	struct keryu_contact k;
	char id[KERYU_UUID_LEN], phone[16];
	int i, rc;

	for (i = 0; i < 4; i++) {
		snprintf(phone, sizeof(phone), "+346100%02d%03d", a->nth, i);
		contact_fill(&k, "Racer", phone, "log");
		rc = fx.sj->contact_add(fx.sj->self, CUST_A, T.subj_a2, &k, id);
		if (rc == 0)
			a->added++;
		else if (rc == KERYU_ECONFLICT)
			a->refused++;
		else
			a->other++;
	}
	return NULL;
}

static void test_contacts(void **unused)
{
	const struct keryu_subjects *sj = fx.sj;
	struct keryu_contact k, list[8];
	char ids[4][KERYU_UUID_LEN], id[KERYU_UUID_LEN], buf[128];
	char snap[33], snap2[33];
	size_t n;
	int i;

	(void)unused;
	assert_int_equal(sj->contact_list(sj->self, CUST_A, T.subj_a, list, 8,
					  &n),
			 0);
	assert_int_equal(n, 0);
	contact_fill(&k, "Abuela Rosa", "+34600000001", "whatsapp");
	assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a, &k,
					 ids[0]),
			 0);
	contact_fill(&k, "Tío", "+34600000002", "sms");
	assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a, &k,
					 ids[1]),
			 0);
	contact_fill(&k, "Cole", "+34600000003", "log");
	assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a, &k,
					 ids[2]),
			 0);
	contact_fill(&k, "Vecina", "+34600000004", "twilio");
	assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a, &k,
					 ids[3]),
			 0);
	assert_int_equal(sj->contact_list(sj->self, CUST_A, T.subj_a, list, 8,
					  &n),
			 0);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].id, ids[0]);
	assert_string_equal(list[0].subject_id, T.subj_a);
	assert_string_equal(list[0].name, "Abuela Rosa");
	assert_string_equal(list[0].phone, "+34600000001");
	assert_string_equal(list[0].channel, "whatsapp");
	assert_int_equal(list[0].position, 1);
	assert_false(list[0].verified);
	assert_string_equal(list[3].channel, "twilio");
	assert_int_equal(list[3].position, 4);
	assert_int_equal(sj->contact_list(sj->self, CUST_A, T.subj_a, list, 2,
					  &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[1].id, ids[1]);

	/* moves swap with the neighbour; the ends are ECONFLICT */
	assert_string_equal(contact_order(buf, sizeof(buf)),
			    "Abuela Rosa,Tío,Cole,Vecina");
	assert_int_equal(sj->contact_move(sj->self, CUST_A, ids[2], -1), 0);
	assert_string_equal(contact_order(buf, sizeof(buf)),
			    "Abuela Rosa,Cole,Tío,Vecina");
	assert_int_equal(sj->contact_move(sj->self, CUST_A, ids[0], 1), 0);
	assert_string_equal(contact_order(buf, sizeof(buf)),
			    "Cole,Abuela Rosa,Tío,Vecina");
	snapshot(snap);
	assert_int_equal(sj->contact_move(sj->self, CUST_A, ids[2], -1),
			 KERYU_ECONFLICT);
	assert_int_equal(sj->contact_move(sj->self, CUST_A, ids[3], 1),
			 KERYU_ECONFLICT);
	assert_int_equal(sj->contact_move(sj->self, CUST_A, ids[3], 2),
			 KERYU_EINVAL);
	assert_int_equal(sj->contact_move(sj->self, CUST_A, ids[3], 0),
			 KERYU_EINVAL);
	assert_int_equal(sj->contact_move(sj->self, CUST_A, UNKNOWN_ID, 1),
			 KERYU_ENOTFOUND);

	/* validation: EINVAL, nothing written */
	for (i = 0; i < 20; i++) {
		contact_fill(&k, "Ok", "+34600000009", "whatsapp");
		switch (i) {
		case 0: k.name[0] = '\0'; break;
		case 1: snprintf(k.name, sizeof(k.name), "  "); break;
		case 2: snprintf(k.name, sizeof(k.name), "a\nb"); break;
		case 3: snprintf(k.name, sizeof(k.name), "\xff"); break;
		case 4: snprintf(k.phone, sizeof(k.phone), "600000009"); break;
		case 5: snprintf(k.phone, sizeof(k.phone), "+0600000009"); break;
		case 6: snprintf(k.phone, sizeof(k.phone), "+346"); break;
		case 7: snprintf(k.phone, sizeof(k.phone), "+34 600 000 009"); break;
		/* any name that can be a topic level is a channel; these
		 * cannot */
		case 8: snprintf(k.channel, sizeof(k.channel), "Email!"); break;
		case 9: k.channel[0] = '\0'; break;
		case 10: snprintf(k.channel, sizeof(k.channel), "WhatsApp"); break;
		case 11: memset(k.name, 'x', sizeof(k.name)); break;
		case 12: snprintf(k.channel, sizeof(k.channel), "a/b"); break;
		case 13: snprintf(k.channel, sizeof(k.channel), "sms.text"); break;
		case 14: memset(k.channel, 'x', sizeof(k.channel)); break;
		case 15: snprintf(k.channel, sizeof(k.channel), " sms"); break;
		/* a fallback: the same rule, and not the channel itself */
		case 16:
			snprintf(k.fallback_channel,
				 sizeof(k.fallback_channel), "whatsapp");
			break;
		case 17:
			snprintf(k.fallback_channel,
				 sizeof(k.fallback_channel), "a/b");
			break;
		case 18:
			snprintf(k.fallback_channel,
				 sizeof(k.fallback_channel), "SMS");
			break;
		case 19:
			memset(k.fallback_channel, 's',
			       sizeof(k.fallback_channel));
			break;
		}
		assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a,
						 &k, id),
				 KERYU_EINVAL);
		assert_string_equal(id, "");
	}
	contact_fill(&k, "Ok", "+34600000009", "whatsapp");
	assert_int_equal(sj->contact_add(sj->self, CUST_A, UNKNOWN_ID, &k, id),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a, NULL, id),
			 KERYU_EINVAL);
	snapshot(snap2);
	assert_string_equal(snap, snap2);

	/* storage does not keep a list of channels (the http module decides
	 * what is offered): "email" is a channel name like any other. A
	 * fallback is stored and read back; "" is stored as NULL. */
	contact_fill(&k, "Prima", "+34600000005", "email");
	snprintf(k.fallback_channel, sizeof(k.fallback_channel), "sms");
	assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a, &k, id),
			 0);
	assert_int_equal(sj->contact_list(sj->self, CUST_A, T.subj_a, list, 8,
					  &n),
			 0);
	assert_int_equal(n, 5);
	assert_string_equal(list[4].id, id);
	assert_string_equal(list[4].channel, "email");
	assert_string_equal(list[4].fallback_channel, "sms");
	assert_string_equal(list[0].fallback_channel, "");
	assert_string_equal(fx_scalar(buf, sizeof(buf),
				      "SELECT fallback_channel FROM contacts "
				      "WHERE id = $1::uuid",
				      id),
			    "sms");
	assert_int_equal(fx_count("SELECT count(*) FROM contacts "
				  "WHERE subject_id = $1::uuid "
				  "AND fallback_channel IS NULL",
				  T.subj_a),
			 4);
	assert_int_equal(sj->contact_delete(sj->self, CUST_A, id), 0);
	snapshot(snap2);
	assert_string_equal(snap, snap2);

	/* delete closes the gap */
	assert_int_equal(sj->contact_delete(sj->self, CUST_A, ids[0]), 0);
	assert_string_equal(contact_order(buf, sizeof(buf)), "Cole,Tío,Vecina");
	assert_int_equal(sj->contact_delete(sj->self, CUST_A, ids[0]),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->contact_delete(sj->self, CUST_A, "x"),
			 KERYU_EINVAL);

	/* contacts from before this service (position 0, the 002 default)
	 * are ordered by age and renumbered by the first move */
	fx_sql1("INSERT INTO contacts (subject_id, name, phone_e164, channel, "
		"created_at) VALUES ($1::uuid, 'Old1', '+34600000011', 'log', "
		"now() - interval '2 days')",
		T.subj_a2);
	fx_sql1("INSERT INTO contacts (subject_id, name, phone_e164, channel, "
		"created_at) VALUES ($1::uuid, 'Old2', '+34600000012', 'log', "
		"now() - interval '1 day')",
		T.subj_a2);
	assert_int_equal(sj->contact_list(sj->self, CUST_A, T.subj_a2, list, 8,
					  &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "Old1");
	assert_int_equal(sj->contact_move(sj->self, CUST_A, list[1].id, -1), 0);
	assert_int_equal(sj->contact_list(sj->self, CUST_A, T.subj_a2, list, 8,
					  &n),
			 0);
	assert_string_equal(list[0].name, "Old2");
	assert_int_equal(list[0].position, 1);
	assert_string_equal(list[1].name, "Old1");
	assert_int_equal(list[1].position, 2);
	contact_fill(&k, "New", "+34600000013", "log");
	assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a2, &k, id),
			 0);
	assert_int_equal(sj->contact_list(sj->self, CUST_A, T.subj_a2, list, 8,
					  &n),
			 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[2].name, "New");
	assert_int_equal(list[2].position, 3);

	/* at most KERYU_CONTACTS_MAX, even when adds race: 3 there, 8
	 * threads try 4 each, exactly 17 get in */
	{
		struct adder a[8];
		pthread_t th[8];
		int added = 0, refused = 0;

		memset(a, 0, sizeof(a));
		for (i = 0; i < 8; i++) {
			a[i].nth = i;
			assert_int_equal(
				pthread_create(&th[i], NULL, add_race, &a[i]),
				0);
		}
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(a[i].other, 0);
			added += a[i].added;
			refused += a[i].refused;
		}
		assert_int_equal(added, KERYU_CONTACTS_MAX - 3);
		assert_int_equal(refused, 32 - (KERYU_CONTACTS_MAX - 3));
		assert_int_equal(fx_count("SELECT count(*) FROM contacts "
					  "WHERE subject_id = $1::uuid",
					  T.subj_a2),
				 KERYU_CONTACTS_MAX);
		snapshot(snap);
		contact_fill(&k, "One more", "+34600000014", "log");
		assert_int_equal(sj->contact_add(sj->self, CUST_A, T.subj_a2,
						 &k, id),
				 KERYU_ECONFLICT);
		assert_string_equal(id, "");
		/* a foreign custodian still gets ENOTFOUND, not the cap */
		assert_int_equal(sj->contact_add(sj->self, CUST_B, T.subj_a2,
						 &k, id),
				 KERYU_ENOTFOUND);
		snapshot(snap2);
		assert_string_equal(snap, snap2);
	}

	/* a B contact, for the scoping test */
	contact_fill(&k, "Bea's mum", "+34600000021", "whatsapp");
	assert_int_equal(sj->contact_add(sj->self, CUST_B, T.subj_b, &k, id),
			 0);
	snprintf(T.contact_a, sizeof(T.contact_a), "%s", ids[1]);
	assert_logs_clean();
	assert_false(fake_host_log_contains("+34600"));
}

/* 36 alarms for A's first subject, one a day back from 2026-03-31 at
 * 23:30 UTC (every third resolved), and 4 for the second subject on
 * 2026-03-01 at 00:00, 00:01, 23:59 and 2026-03-02 00:00 UTC. */
static void make_alarms(void)
{
	fx_sql1("INSERT INTO alarms (event_id, subject_id, qr_uuid, "
		"scanned_at, "
		"notification_status, resolved_at, latitude, longitude) "
		"SELECT gen_random_uuid(), $1::uuid, NULL, "
		"timestamptz '2026-03-31 23:30:00+00' - g * interval '1 day', "
		"CASE WHEN g % 2 = 0 THEN 'DELIVERED' ELSE 'FAILED' END, "
		"CASE WHEN g % 3 = 0 THEN now() END, "
		"CASE WHEN g = 0 THEN 40.4 END, CASE WHEN g = 0 THEN -3.7 END "
		"FROM generate_series(0, 35) g",
		T.subj_a);
	fx_sql1("INSERT INTO alarms (event_id, subject_id, scanned_at) "
		"SELECT gen_random_uuid(), $1::uuid, t::timestamptz FROM "
		"unnest(ARRAY['2026-03-01 00:00:00+00', '2026-03-01 "
		"00:01:00+00', "
		"'2026-03-01 23:59:59.999+00', '2026-03-02 00:00:00+00']) t",
		T.subj_a2);
	/* and one of B's, in the same days */
	fx_sql1("INSERT INTO alarms (event_id, subject_id, scanned_at) "
		"VALUES (gen_random_uuid(), $1::uuid, '2026-03-01 "
		"12:00:00+00')",
		T.subj_b);
}

static int list_alarms(const struct keryu_alarm_filter *f,
		       struct keryu_alarm_summary *out, size_t max, size_t *n,
		       int *total)
{
	return fx.sj->alarm_list(fx.sj->self, CUST_A, f, out, max, n, total);
}

static void test_alarm_list(void **unused)
{
	struct keryu_alarm_filter f;
	struct keryu_alarm_summary out[120];
	struct keryu_subject_summary sum[4];
	size_t n, i;
	int total;

	(void)unused;
	make_alarms();
	memset(&f, 0, sizeof(f));
	f.limit = 100;
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 40);
	assert_int_equal(n, 40);
	for (i = 1; i < n; i++)
		assert_true(strcmp(out[i - 1].scanned_at, out[i].scanned_at) >= 0);
	assert_string_equal(out[0].scanned_at, "2026-03-31T23:30:00.000Z");
	assert_string_equal(out[0].subject_id, T.subj_a);
	assert_string_equal(out[0].subject_name, "Lucía G.");
	assert_string_equal(out[0].notification_status, "DELIVERED");
	assert_true(out[0].resolved); /* g = 0 */
	assert_true(out[0].has_location);
	assert_false(out[1].resolved);
	assert_false(out[1].has_location);
	assert_string_equal(out[1].notification_status, "FAILED");
	snprintf(T.alarm_a, sizeof(T.alarm_a), "%s", out[1].id);

	/* pages of 7 cover everything once, in order */
	{
		char seen[40][KERYU_UUID_LEN];
		size_t got = 0, j;

		for (f.offset = 0; f.offset < 45; f.offset += 7) {
			f.limit = 7;
			assert_int_equal(list_alarms(&f, out, 120, &n, &total),
					 0);
			assert_int_equal(total, 40);
			assert_int_equal(n, f.offset + 7 <= 40 ? 7
				       : f.offset < 40 ? (size_t)(40 - f.offset)
						       : 0);
			for (j = 0; j < n; j++)
				snprintf(seen[got++], KERYU_UUID_LEN, "%.36s",
					 out[j].id);
		}
		assert_int_equal(got, 40);
		f.offset = 0;
		f.limit = 100;
		assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
		for (j = 0; j < 40; j++)
			assert_string_equal(seen[j], out[j].id);
	}
	/* max smaller than limit */
	f.limit = 10;
	assert_int_equal(list_alarms(&f, out, 3, &n, &total), 0);
	assert_int_equal(n, 3);
	assert_int_equal(total, 40);
	f.limit = 100;

	/* by subject */
	snprintf(f.subject_id, sizeof(f.subject_id), "%s", T.subj_a2);
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 4);
	assert_string_equal(out[0].subject_name, "Mateo");
	/* B's subject, or an unknown one: no rows (not an error) */
	snprintf(f.subject_id, sizeof(f.subject_id), "%s", T.subj_b);
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(n, 0);
	snprintf(f.subject_id, sizeof(f.subject_id), "%s", UNKNOWN_ID);
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 0);
	f.subject_id[0] = '\0';

	/* state: g = 0, 3, ..., 33 resolved (12) */
	snprintf(f.state, sizeof(f.state), "resolved");
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 12);
	for (i = 0; i < n; i++)
		assert_true(out[i].resolved);
	snprintf(f.state, sizeof(f.state), "open");
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 28);
	for (i = 0; i < n; i++)
		assert_false(out[i].resolved);
	f.state[0] = '\0';

	/* dates are UTC days, inclusive at both ends, whatever the
	 * server's zone (Pacific/Auckland here) */
	snprintf(f.from, sizeof(f.from), "2026-03-01");
	snprintf(f.to, sizeof(f.to), "2026-03-01");
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	/* A's subject at 23:30 plus three of the second's */
	assert_int_equal(total, 4);
	assert_string_equal(out[0].scanned_at, "2026-03-01T23:59:59.999Z");
	assert_string_equal(out[3].scanned_at, "2026-03-01T00:00:00.000Z");
	f.to[0] = '\0';
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 31 + 4);
	f.from[0] = '\0';
	snprintf(f.to, sizeof(f.to), "2026-02-28");
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 5); /* 2026-02-24 .. 02-28 */
	snprintf(f.from, sizeof(f.from), "2026-03-05");
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 0);
	/* all filters at once */
	snprintf(f.from, sizeof(f.from), "2026-03-01");
	snprintf(f.to, sizeof(f.to), "2026-03-31");
	snprintf(f.state, sizeof(f.state), "open");
	snprintf(f.subject_id, sizeof(f.subject_id), "%s", T.subj_a);
	f.offset = 2;
	f.limit = 5;
	assert_int_equal(list_alarms(&f, out, 120, &n, &total), 0);
	assert_int_equal(total, 20); /* 31 days minus g%3==0 (11) */
	assert_int_equal(n, 5);

	/* bad filters */
	{
		struct keryu_alarm_filter bad;
		int k;

		for (k = 0; k < 10; k++) {
			memset(&bad, 0, sizeof(bad));
			bad.limit = 10;
			switch (k) {
			case 0: bad.limit = 0; break;
			case 1: bad.limit = 101; break;
			case 2: bad.offset = -1; break;
			case 3: snprintf(bad.state, 16, "closed"); break;
			case 4: snprintf(bad.from, 11, "2026-02-30"); break;
			case 5: snprintf(bad.to, 11, "yesterday"); break;
			case 6: snprintf(bad.subject_id, KERYU_UUID_LEN, "x"); break;
			case 7: snprintf(bad.state, 16, "OPEN"); break;
			case 8: bad.limit = -5; break;
			case 9: memset(bad.state, 'o', sizeof(bad.state)); break;
			}
			assert_int_equal(list_alarms(&bad, out, 120, &n, &total),
					 KERYU_EINVAL);
		}
		assert_int_equal(list_alarms(NULL, out, 120, &n, &total),
				 KERYU_EINVAL);
	}

	/* the subject list and the dashboard count open alarms */
	assert_int_equal(
		fx.sj->subject_list(fx.sj->self, CUST_A, 0, sum, 4, &n, &total),
		0);
	assert_string_equal(sum[1].id, T.subj_a);
	assert_int_equal(sum[1].open_alarms, 24);
	assert_string_equal(sum[1].last_alarm_at, "2026-03-31T23:30:00.000Z");
	assert_string_equal(sum[0].last_alarm_at, "2026-03-02T00:00:00.000Z");
	assert_int_equal(sum[0].open_alarms, 4);
}

static void test_alarm_detail(void **unused)
{
	const struct keryu_subjects *sj = fx.sj;
	struct keryu_alarm_detail d;
	struct keryu_alarm_filter f;
	struct keryu_alarm_summary out[2];
	char id[KERYU_UUID_LEN], notes[KERYU_TEXT_MAX + 1], snap[33], snap2[33];
	size_t n;
	int total;

	(void)unused;
	/* the newest: resolved, with a location and no tag */
	memset(&f, 0, sizeof(f));
	f.limit = 1;
	assert_int_equal(list_alarms(&f, out, 1, &n, &total), 0);
	snprintf(id, sizeof(id), "%s", out[0].id);
	fx_sql1("UPDATE alarms SET location = 'Parque del Retiro', "
		"accuracy_m = 12.5, resolution_notes = 'found' "
		"WHERE id = $1::uuid",
		id);
	assert_int_equal(sj->alarm_get(sj->self, CUST_A, id, &d), 0);
	assert_string_equal(d.s.id, id);
	assert_string_equal(d.s.subject_id, T.subj_a);
	assert_true(d.s.resolved);
	assert_true(d.s.has_location);
	assert_string_equal(d.qr_uuid, "");
	assert_string_equal(d.location, "Parque del Retiro");
	assert_true(d.latitude > 40.39 && d.latitude < 40.41);
	assert_true(d.longitude < -3.69 && d.longitude > -3.71);
	assert_true(d.accuracy_m > 12.4 && d.accuracy_m < 12.6);
	assert_int_equal(strlen(d.resolved_at), 24);
	assert_string_equal(d.resolution_notes, "found");
	/* an open one, with its tag */
	fx_sql1("UPDATE alarms SET qr_uuid = (SELECT uuid FROM "
		"subject_qr_codes "
		"WHERE subject_id = alarms.subject_id LIMIT 1) "
		"WHERE id = $1::uuid",
		T.alarm_a);
	assert_int_equal(sj->alarm_get(sj->self, CUST_A, T.alarm_a, &d), 0);
	assert_false(d.s.resolved);
	assert_false(d.s.has_location);
	assert_true(keryu_uuid_valid(d.qr_uuid));
	assert_string_equal(d.resolved_at, "");
	assert_string_equal(d.resolution_notes, "");
	assert_int_equal(sj->alarm_get(sj->self, CUST_A, UNKNOWN_ID, &d),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->alarm_get(sj->self, CUST_A, "x", &d),
			 KERYU_EINVAL);

	/* resolve: bad notes change nothing; then once, then ECONFLICT */
	snapshot(snap);
	memset(notes, 'n', sizeof(notes));
	notes[2001] = '\0';
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_A, T.alarm_a, notes),
			 KERYU_EINVAL);
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_A, T.alarm_a,
					   "bad \xc3"),
			 KERYU_EINVAL);
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_A, T.alarm_a,
					   "bad \x02"),
			 KERYU_EINVAL);
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_A, UNKNOWN_ID, ""),
			 KERYU_ENOTFOUND);
	snapshot(snap2);
	assert_string_equal(snap, snap2);
	notes[2000] = '\0';
	memcpy(notes, "Found at the park.\n", 19);
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_A, T.alarm_a, notes),
			 0);
	assert_int_equal(sj->alarm_get(sj->self, CUST_A, T.alarm_a, &d), 0);
	assert_true(d.s.resolved);
	assert_int_equal(strlen(d.resolved_at), 24);
	assert_int_equal(strlen(d.resolution_notes), 2000);
	assert_memory_equal(d.resolution_notes, "Found at the park.\n", 19);
	snapshot(snap);
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_A, T.alarm_a, "again"),
			 KERYU_ECONFLICT);
	snapshot(snap2);
	assert_string_equal(snap, snap2);
	/* NULL notes are no notes */
	f.limit = 1;
	snprintf(f.state, sizeof(f.state), "open");
	assert_int_equal(list_alarms(&f, out, 1, &n, &total), 0);
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_A, out[0].id, NULL),
			 0);
	assert_int_equal(sj->alarm_get(sj->self, CUST_A, out[0].id, &d), 0);
	assert_true(d.s.resolved);
	assert_string_equal(d.resolution_notes, "");
	assert_logs_clean();
}

static void test_timeline(void **unused)
{
	const struct keryu_subjects *sj = fx.sj;
	struct keryu_timeline_entry tl[10];
	char n1[KERYU_UUID_LEN], n2[KERYU_UUID_LEN];
	size_t n;
	const char *v[3];
	PGresult *r;

	(void)unused;
	assert_int_equal(sj->alarm_timeline(sj->self, CUST_A, T.alarm_a, tl, 10,
					    &n),
			 0);
	assert_int_equal(n, 0);
	v[0] = T.alarm_a;
	v[1] = CUST_A;
	r = fx_sqlv(
		"INSERT INTO notifications (alarm_id, custodian_id, channel, "
		"recipient) VALUES ($1::uuid, $2::uuid, 'whatsapp', "
		"'+15550101234') RETURNING id::text",
		2, v);
	snprintf(n1, sizeof(n1), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	r = fx_sqlv(
		"INSERT INTO notifications (alarm_id, custodian_id, channel, "
		"recipient) VALUES ($1::uuid, $2::uuid, 'log', "
		"'+15550109876') RETURNING id::text",
		2, v);
	snprintf(n2, sizeof(n2), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	/* out of order on purpose; two at the same instant go by id */
	v[0] = n1;
	v[1] = n2;
	PQclear(fx_sqlv(
		"INSERT INTO notification_events (notification_id, at, "
		"status, attempt, provider_message_id, error_code, "
		"error_text) VALUES "
		"($1::uuid, '2026-03-30 10:00:03+00', 'DELIVERED', 1, "
		"'wamid.X', NULL, NULL), "
		"($1::uuid, '2026-03-30 10:00:00+00', 'QUEUED', 1, NULL, "
		"NULL, NULL), "
		"($2::uuid, '2026-03-30 10:00:01+00', 'FAILED', 2, NULL, "
		"'131026', 'not on WhatsApp'), "
		"($1::uuid, '2026-03-30 10:00:01+00', 'SENT', 1, "
		"'wamid.X', NULL, NULL)",
		2, v));
	assert_int_equal(sj->alarm_timeline(sj->self, CUST_A, T.alarm_a, tl, 10,
					    &n),
			 0);
	assert_int_equal(n, 4);
	assert_string_equal(tl[0].at, "2026-03-30T10:00:00.000Z");
	assert_string_equal(tl[0].status, "QUEUED");
	assert_string_equal(tl[0].notification_id, n1);
	assert_string_equal(tl[0].channel, "whatsapp");
	assert_string_equal(tl[0].recipient_hint, "1234");
	assert_int_equal(tl[0].attempt, 1);
	assert_string_equal(tl[0].provider_message_id, "");
	/* same instant: the FAILED row was inserted first */
	assert_string_equal(tl[1].status, "FAILED");
	assert_string_equal(tl[1].channel, "log");
	assert_string_equal(tl[1].recipient_hint, "9876");
	assert_int_equal(tl[1].attempt, 2);
	assert_string_equal(tl[1].error_code, "131026");
	assert_string_equal(tl[1].error_text, "not on WhatsApp");
	assert_string_equal(tl[2].status, "SENT");
	assert_string_equal(tl[2].provider_message_id, "wamid.X");
	assert_string_equal(tl[3].status, "DELIVERED");
	assert_string_equal(tl[3].at, "2026-03-30T10:00:03.000Z");
	/* max cuts from the end */
	assert_int_equal(sj->alarm_timeline(sj->self, CUST_A, T.alarm_a, tl, 2,
					    &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(tl[1].status, "FAILED");
	assert_int_equal(sj->alarm_timeline(sj->self, CUST_A, UNKNOWN_ID, tl,
					    10, &n),
			 KERYU_ENOTFOUND);
	/* no full number anywhere in what came back */
	assert_int_equal(sj->alarm_timeline(sj->self, CUST_A, T.alarm_a, tl, 10,
					    &n),
			 0);
	assert_null(memmem(tl, sizeof(tl), "555010", 6));
}

static void test_dashboard(void **unused)
{
	const struct keryu_subjects *sj = fx.sj;
	struct keryu_dashboard d;

	(void)unused;
	assert_int_equal(sj->dashboard(sj->self, CUST_A, &d), 0);
	assert_int_equal(d.subjects, 2);
	/* subj_a's active tag; subj_a2 (inactive) has one active tag that a
	 * scan would not find */
	assert_int_equal(d.active_tags, 1);
	assert_int_equal(
		d.open_alarms,
		(int)fx_count("SELECT count(*) FROM alarms a JOIN subjects "
			      "s ON s.id = a.subject_id WHERE "
			      "s.custodian_id = $1::uuid AND "
			      "a.resolved_at IS NULL",
			      CUST_A));
	assert_int_equal(d.open_alarms, 24 + 4 - 2);
	assert_int_equal(sj->dashboard(sj->self, CUST_B, &d), 0);
	assert_int_equal(d.subjects, 1);
	assert_int_equal(d.active_tags, 0);
	assert_int_equal(d.open_alarms, 1);
	assert_int_equal(sj->dashboard(sj->self, UNKNOWN_ID, &d), 0);
	assert_int_equal(d.subjects, 0);
	assert_int_equal(sj->dashboard(sj->self, "x", &d), KERYU_EINVAL);
}

/* B, calling with ids of A's rows, finds nothing and changes nothing. */
static void test_scoping(void **unused)
{
	const struct keryu_subjects *sj = fx.sj;
	struct keryu_subject s;
	struct keryu_tag tag, tags[4];
	struct keryu_contact k, ks[4];
	struct keryu_alarm_detail d;
	struct keryu_timeline_entry tl[4];
	char id[KERYU_UUID_LEN], photo[80], snap[33], snap2[33];
	size_t n;

	(void)unused;
	snapshot(snap);
	assert_int_equal(sj->subject_get(sj->self, CUST_B, T.subj_a, &s),
			 KERYU_ENOTFOUND);
	assert_string_equal(s.name, "");
	subject_fill(&s, "Hijacked");
	snprintf(s.id, sizeof(s.id), "%s", T.subj_a);
	assert_int_equal(sj->subject_update(sj->self, CUST_B, &s),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->subject_set_photo(sj->self, CUST_B, T.subj_a,
					       "x.jpg", photo),
			 KERYU_ENOTFOUND);
	assert_string_equal(photo, "");
	assert_int_equal(sj->subject_delete(sj->self, CUST_B, T.subj_a, photo),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->contact_list(sj->self, CUST_B, T.subj_a, ks, 4,
					  &n),
			 KERYU_ENOTFOUND);
	assert_int_equal(n, 0);
	contact_fill(&k, "Intruder", "+34600000099", "log");
	assert_int_equal(sj->contact_add(sj->self, CUST_B, T.subj_a, &k, id),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->contact_delete(sj->self, CUST_B, T.contact_a),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->contact_move(sj->self, CUST_B, T.contact_a, -1),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->contact_move(sj->self, CUST_B, T.contact_a, 1),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->tag_create(sj->self, CUST_B, T.subj_a, "SCPE2345",
					&tag),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->tag_list(sj->self, CUST_B, T.subj_a, tags, 4, &n),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->tag_get(sj->self, CUST_B, T.tag_a, &tag),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_B, T.tag_a, false),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->tag_set_active(sj->self, CUST_B, T.tag_a, true),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->alarm_get(sj->self, CUST_B, T.alarm_a, &d),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->alarm_timeline(sj->self, CUST_B, T.alarm_a, tl, 4,
					    &n),
			 KERYU_ENOTFOUND);
	assert_int_equal(n, 0);
	/* an open alarm of A's, so that ENOTFOUND is not ECONFLICT */
	{
		char open[KERYU_UUID_LEN];

		fx_scalar(open, sizeof(open),
			  "SELECT a.id::text FROM alarms a JOIN subjects s ON "
			  "s.id = a.subject_id WHERE s.custodian_id = $1::uuid "
			  "AND a.resolved_at IS NULL LIMIT 1",
			  CUST_A);
		assert_true(keryu_uuid_valid(open));
		assert_int_equal(sj->alarm_resolve(sj->self, CUST_B, open, ""),
				 KERYU_ENOTFOUND);
	}
	assert_int_equal(sj->alarm_resolve(sj->self, CUST_B, T.alarm_a, ""),
			 KERYU_ENOTFOUND);
	snapshot(snap2);
	assert_string_equal(snap, snap2);
	/* and A still sees everything */
	assert_int_equal(sj->subject_get(sj->self, CUST_A, T.subj_a, &s), 0);
	assert_string_equal(s.name, "Lucía G.");
	assert_int_equal(sj->tag_get(sj->self, CUST_A, T.tag_a, &tag), 0);
	assert_true(tag.is_active);
}

static void test_subject_delete(void **unused)
{
	const struct keryu_subjects *sj = fx.sj;
	char photo[80];

	(void)unused;
	assert_int_equal(sj->subject_delete(sj->self, CUST_A, T.subj_a, photo),
			 0);
	assert_string_equal(photo, "p2.jpg");
	/* its contacts, tags, alarms and their notifications went with it */
	assert_int_equal(fx_count("SELECT count(*) FROM contacts "
				  "WHERE subject_id = $1::uuid",
				  T.subj_a),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM subject_qr_codes "
				  "WHERE subject_id = $1::uuid",
				  T.subj_a),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM alarms "
				  "WHERE subject_id = $1::uuid",
				  T.subj_a),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE alarm_id = $1::uuid",
				  T.alarm_a),
			 0);
	assert_int_equal(sj->subject_delete(sj->self, CUST_A, T.subj_a, photo),
			 KERYU_ENOTFOUND);
	assert_int_equal(sj->subject_delete(sj->self, CUST_A, T.subj_a2, photo),
			 0);
	assert_string_equal(photo, "");
	/* the others' rows are still there */
	assert_int_equal(fx_count("SELECT count(*) FROM subjects", NULL), 2);
	assert_logs_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade_from_002),
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tag_race),
		cmocka_unit_test(test_contacts),
		cmocka_unit_test(test_alarm_list),
		cmocka_unit_test(test_alarm_detail),
		cmocka_unit_test(test_timeline),
		cmocka_unit_test(test_dashboard),
		cmocka_unit_test(test_scoping),
		cmocka_unit_test(test_subject_delete),
	};
	return fx_run("integration.storage_subjects", "keryu_test_subj",
		      "Pacific/Auckland", tests,
		      sizeof(tests) / sizeof(tests[0]));
}
