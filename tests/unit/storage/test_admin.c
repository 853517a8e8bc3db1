/* integration.storage_admin: what the keryu CLI's administration commands
 * use — accounts->custodian_create_staff, custodian_list,
 * custodian_set_active and subjects->alarms_export — against a real
 * PostgreSQL (KERYU_TEST_DATABASE_URL, like the other storage tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "storage_fixture.h"

#include <keryu/accounts.h>
#include <keryu/subjects.h>

#define PW "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaDE"
#define CSRF "0123456789abcdef0123456789abcdef"
#define TOKEN "00000000000000000000000000000000000000000000000000000000000000a1"
#define UNKNOWN_ID "7a2c0000-0000-4000-8000-0000000000ff"

static void test_start(void **unused)
{
	(void)unused;
	assert_int_equal(fx_start("2"), 0);
}

static void test_create_staff(void **unused)
{
	struct keryu_custodian c, again;
	char phone[32];

	(void)unused;
	fx_new_phone(phone);
	assert_int_equal(fx.ac->custodian_create_staff(fx.ac->self,
						       "boss@example.org",
						       "Boss", phone, PW, &c),
			 0);
	assert_true(c.is_staff);
	assert_true(c.is_active);
	assert_true(c.phone_verified);
	assert_string_equal(c.email, "boss@example.org");
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, c.id, &again), 0);
	assert_true(again.is_staff && again.phone_verified);
	assert_string_equal(again.password_hash, PW);
	/* taken, bad input: ECONFLICT / EINVAL and nothing written */
	assert_int_equal(fx.ac->custodian_create_staff(fx.ac->self,
						       "boss@example.org",
						       "Other", phone, PW, &c),
			 KERYU_ECONFLICT);
	assert_int_equal(fx.ac->custodian_create_staff(fx.ac->self,
						       "x@example.org", "X",
						       phone, "clear text", &c),
			 KERYU_EINVAL);
	assert_int_equal(fx.ac->custodian_create_staff(fx.ac->self,
						       "x@example.org", "X",
						       "555", PW, &c),
			 KERYU_EINVAL);
	assert_int_equal(fx_count("SELECT count(*) FROM custodians", NULL), 1);
	/* the ordinary sign-up still makes a plain, unverified custodian */
	fx_new_phone(phone);
	assert_int_equal(fx.ac->custodian_create(fx.ac->self,
						 "plain@example.org", "Plain",
						 phone, PW, &c),
			 0);
	assert_false(c.is_staff);
	assert_false(c.phone_verified);
}

static void test_list(void **unused)
{
	struct keryu_custodian rows[3];
	size_t n;

	(void)unused;
	assert_int_equal(fx.ac->custodian_list(fx.ac->self, NULL, 0, rows, 3,
					       &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].email, "boss@example.org");
	assert_string_equal(rows[1].email, "plain@example.org");
	assert_string_equal(rows[0].password_hash, "");
	assert_true(rows[0].is_staff);
	assert_false(rows[1].is_staff);
	/* paging */
	assert_int_equal(fx.ac->custodian_list(fx.ac->self, "", 1, rows, 1,
					       &n),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].email, "plain@example.org");
	/* search: email or name, any case; LIKE's wildcards are plain text */
	assert_int_equal(fx.ac->custodian_list(fx.ac->self, "PLAI", 0, rows, 3,
					       &n),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].name, "Plain");
	assert_int_equal(fx.ac->custodian_list(fx.ac->self, "boss", 0, rows, 3,
					       &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(fx.ac->custodian_list(fx.ac->self, "%", 0, rows, 3,
					       &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(fx.ac->custodian_list(fx.ac->self, "\xff", 0, rows, 3,
					       &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.ac->custodian_list(fx.ac->self, NULL, -1, rows, 3,
					       &n),
			 KERYU_EINVAL);
}

static void test_set_active(void **unused)
{
	struct keryu_custodian c;
	struct keryu_session s;
	char id[KERYU_UUID_LEN];

	(void)unused;
	assert_int_equal(fx.ac->custodian_by_email(fx.ac->self,
						   "plain@example.org", &c),
			 0);
	memcpy(id, c.id, sizeof(id)); /* custodian_get clears its out first */
	assert_int_equal(fx.ac->session_create(fx.ac->self, TOKEN, c.id, CSRF,
					       3600),
			 0);
	assert_int_equal(fx.ac->session_get(fx.ac->self, TOKEN, 3600, &s), 0);
	assert_int_equal(fx.ac->custodian_set_active(fx.ac->self, id, false),
			 0);
	assert_int_equal(fx.ac->session_get(fx.ac->self, TOKEN, 3600, &s),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx_count("SELECT count(*) FROM sessions", NULL), 0);
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, id, &c), 0);
	assert_false(c.is_active);
	assert_int_equal(fx.ac->custodian_set_active(fx.ac->self, id, true),
			 0);
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, id, &c), 0);
	assert_true(c.is_active);
	assert_int_equal(fx.ac->custodian_set_active(fx.ac->self, UNKNOWN_ID,
						     false),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx.ac->custodian_set_active(fx.ac->self, "nope",
						     false),
			 KERYU_EINVAL);
}

static void test_export(void **unused)
{
	struct keryu_alarm_export rows[4];
	struct fx_world w;
	char after[KERYU_UUID_LEN] = "", first[KERYU_UUID_LEN];
	size_t n, total = 0;

	(void)unused;
	fx_seed(&w, true, 0, 0);
	/* 10 alarms, one a day from 2026-03-01 23:30 UTC: the server's zone
	 * (America/Lima) must not move them to another day */
	fx_sql1("INSERT INTO alarms (event_id, subject_id, scanned_at, "
		"resolved_at) SELECT gen_random_uuid(), $1::uuid, "
		"timestamptz '2026-03-01 23:30:00+00' + (i - 1) * interval "
		"'1 day', CASE WHEN i = 2 THEN now() END "
		"FROM generate_series(1, 10) AS i",
		w.subject);
	do {
		assert_int_equal(fx.sj->alarms_export(fx.sj->self, NULL, "",
						      after, rows, 4, &n),
				 0);
		if (total == 0) {
			assert_string_equal(rows[0].scanned_at,
					    "2026-03-01T23:30:00.000Z");
			assert_string_equal(rows[0].subject_id, w.subject);
			assert_string_equal(rows[0].notification_status,
					    "PENDING");
			assert_string_equal(rows[0].resolved_at, "");
			assert_string_equal(rows[0].joined_alarm_id, "");
			assert_string_not_equal(rows[1].resolved_at, "");
			memcpy(first, rows[0].id, sizeof(first));
		}
		if (n)
			memcpy(after, rows[n - 1].id, sizeof(after));
		total += n;
	} while (n == 4);
	assert_int_equal(total, 10);
	/* UTC days, inclusive */
	assert_int_equal(fx.sj->alarms_export(fx.sj->self, "2026-03-02",
					      "2026-03-03", NULL, rows, 4, &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].scanned_at, "2026-03-02T23:30:00.000Z");
	assert_string_equal(rows[1].scanned_at, "2026-03-03T23:30:00.000Z");
	/* after the first one */
	assert_int_equal(fx.sj->alarms_export(fx.sj->self, NULL, "2026-03-02",
					      first, rows, 4, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(fx.sj->alarms_export(fx.sj->self, "2026-02-30", NULL,
					      NULL, rows, 4, &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.sj->alarms_export(fx.sj->self, NULL, NULL, "x",
					      rows, 4, &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.sj->alarms_export(fx.sj->self, NULL, NULL,
					      UNKNOWN_ID, rows, 4, &n),
			 KERYU_ENOTFOUND);
	fx_assert_logs_clean(w.phone, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_create_staff),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_set_active),
		cmocka_unit_test(test_export),
	};
	fx.phone_prefix = "+1555061";
	return fx_run("integration.storage_admin", "keryu_admin",
		      "America/Lima", tests, sizeof(tests) / sizeof(tests[0]));
}
