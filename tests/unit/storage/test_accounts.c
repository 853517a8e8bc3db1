/* integration.storage_accounts: the "accounts" service of the storage
 * module (keryu/accounts.h) against a real PostgreSQL.
 *
 * Needs KERYU_TEST_DATABASE_URL, like integration.storage: a server where
 * this test may CREATE DATABASE. The database starts at migration 001 with
 * issue 2's data in it, so that the first test proves 002 upgrades it
 * without losing anything. Without the variable the test fails. */
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

#include <keryu/accounts.h>
#include <keryu/module.h>
#include <keryu/storage.h>

#include "fake_host.h"
#include "storage_migrations.h"

/* issue 2's data, made before migration 002 */
#define OLD_CUSTODIAN "7a2c0000-0000-4000-8000-000000000001"
#define OLD_SUBJECT "7a2c0000-0000-4000-8000-000000000002"
#define OLD_TAG "7a2c0000-0000-4000-8000-0000000000a1"
#define OLD_ALARM "7a2c0000-0000-4000-8000-0000000000b1"
#define OLD_NOTIFICATION "7a2c0000-0000-4000-8000-0000000000c1"
#define OLD_PHONE "+15550100001"

#define PHONE_A "+15550100002"
#define PHONE_B "+15550100003"
#define PHONE_C "+15550100004"
#define PHONE_D "+15550100005"
#define UNKNOWN_ID "7a2c0000-0000-4000-8000-0000000000ff"
#define PW1 "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaDE"
#define PW2 "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaDI"
#define PW3 "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaDM"
#define CSRF "0123456789abcdef0123456789abcdef"

static struct {
	struct keryu_custodian a, b; /* made by test_custodians */
	char subject_a[KERYU_UUID_LEN], subject_b[KERYU_UUID_LEN];
	char contact_a[KERYU_UUID_LEN], contact_b[KERYU_UUID_LEN];
} T;

/* ---- helpers ---- */

/* A distinct 64-hex-digit "hash" for each n. */
static const char *hash_of(unsigned n, char buf[KERYU_HASH_HEX])
{
	snprintf(buf, KERYU_HASH_HEX, "%056x%08x", 0xabcu, n);
	return buf;
}

/* No log line may carry a phone number, an email or a hash. */
static void assert_logs_clean(void)
{
	fx_assert_logs_clean("+1555", "5550100", "@example", "00000abc",
			     "argon2", CSRF, NULL);
}

/* ---- tests, run in order ---- */

/* 001 as issue 2 left it, with an alarm and its delivered notification;
 * then the module starts and applies 002 on top. */
static void test_upgrade_from_001(void **unused)
{
	const struct storage_migration *list;
	struct keryu_scan_event ev;
	struct keryu_alarm_created out;
	struct keryu_delivery_event dv;
	char buf[256];
	size_t n;

	(void)unused;
	list = storage_migrations(&n);
	assert_true(n >= 2);
	assert_int_equal(list[0].version, 1);
	assert_int_equal(list[1].version, 2);
	assert_string_equal(list[1].name, "accounts");
	fx_migrate_by_hand(1);
	/* alarms go only to a verified phone (001 already had the column) */
	fx_sql1("INSERT INTO custodians (id, email, name, phone_e164, "
		"phone_verified_at) VALUES "
		"('" OLD_CUSTODIAN "', 'old@example.org', 'Olga', '" OLD_PHONE
		"', now())",
		NULL);
	fx_sql1("INSERT INTO subjects (id, custodian_id, name, date_of_birth, "
		"gender) VALUES ('" OLD_SUBJECT "', '" OLD_CUSTODIAN "', "
		"'Oscar', '2017-01-01', 'M')",
		NULL);
	fx_sql1("INSERT INTO subject_qr_codes (uuid, subject_id, is_active) "
		"VALUES ('" OLD_TAG "', '" OLD_SUBJECT "', true)",
		NULL);
	fx_sql1("INSERT INTO alarms (id, event_id, subject_id, qr_uuid, "
		"scanned_at, notification_status, notification_sent) VALUES "
		"('" OLD_ALARM "', gen_random_uuid(), '" OLD_SUBJECT
		"', '" OLD_TAG "', '2026-01-01T00:00:00Z', 'DELIVERED', true)",
		NULL);
	fx_sql1("INSERT INTO notifications (id, alarm_id, custodian_id, "
		"channel, "
		"recipient, status) VALUES ('" OLD_NOTIFICATION "', '" OLD_ALARM
		"', '" OLD_CUSTODIAN "', 'whatsapp', '" OLD_PHONE
		"', 'DELIVERED')",
		NULL);
	fx_sql1("INSERT INTO notification_events (notification_id, status) "
		"VALUES ('" OLD_NOTIFICATION "', 'DELIVERED')",
		NULL);

	assert_int_equal(fx_start("4"), 0);
	assert_non_null(fx.st);
	assert_non_null(fx.ac);
	assert_int_equal(fx.ac->struct_size, sizeof(struct keryu_accounts));
	assert_false(fake_host_log_contains("storage.migrated version=1"));
	assert_true(fake_host_log_contains(
		"storage.migrated version=2 name=accounts"));
	assert_int_equal(
		fx_count("SELECT count(*) FROM information_schema.tables "
			 "WHERE table_schema = 'public' AND table_name "
			 "IN ('sessions', 'contacts', 'one_time_codes', "
			 "'rate_limits')",
			 NULL),
		4);

	/* the old rows are all there, the old notification an alarm one */
	assert_string_equal(
		fx_scalar(buf, sizeof(buf),
			  "SELECT n.alarm_id || '|' || n.purpose || '|' || "
			  "n.status || '|' || n.recipient || '|' || "
			  "a.notification_status || '|' || a.notification_sent "
			  "FROM notifications n JOIN alarms a ON a.id = "
			  "n.alarm_id "
			  "WHERE n.id = $1::uuid",
			  OLD_NOTIFICATION),
		OLD_ALARM "|alarm|DELIVERED|" OLD_PHONE "|DELIVERED|true");
	assert_int_equal(
		fx_count("SELECT count(*) FROM notification_events", NULL), 1);
	assert_int_equal(fx_count("SELECT count(*) FROM custodians", NULL), 1);

	/* issue 2's flow still works on the new schema */
	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	snprintf(ev.qr_uuid, sizeof(ev.qr_uuid), OLD_TAG);
	assert_int_equal(fx.st->alarm_from_scan(fx.st->self, &ev,
						fx_pol("whatsapp"), &out),
			 0);
	assert_true(out.created);
	assert_true(keryu_uuid_valid(out.notification_id));
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    out.notification_id, 1, 60),
			 0);
	memset(&dv, 0, sizeof(dv));
	keryu_uuid_new(dv.event_id);
	keryu_now_iso(dv.at);
	snprintf(dv.notification_id, sizeof(dv.notification_id), "%s",
		 out.notification_id);
	snprintf(dv.status, sizeof(dv.status), "delivered");
	snprintf(dv.channel, sizeof(dv.channel), "whatsapp");
	dv.attempt = 1;
	assert_int_equal(fx.st->notification_result(fx.st->self, &dv, 60), 0);
	assert_string_equal(
		fx_scalar(buf, sizeof(buf),
			  "SELECT n.purpose || '|' || n.status || '|' "
			  "|| a.notification_status "
			  "FROM notifications n JOIN alarms a "
			  "ON a.id = n.alarm_id WHERE n.id = $1::uuid",
			  out.notification_id),
		"alarm|DELIVERED|DELIVERED");
	/* one alarm notification per custodian and channel, still */
	assert_true(fx_sql_fails(
		"INSERT INTO notifications (alarm_id, "
		"custodian_id, channel, recipient) VALUES ('" OLD_ALARM
		"', '" OLD_CUSTODIAN "', 'whatsapp', '" OLD_PHONE "')"));
	/* an alarm notification needs its alarm; a code one has none */
	assert_true(fx_sql_fails("INSERT INTO notifications (custodian_id, "
				 "channel, recipient) VALUES ('" OLD_CUSTODIAN
				 "', 'log', '" OLD_PHONE "')"));
	assert_true(fx_sql_fails(
		"INSERT INTO notifications (alarm_id, purpose, "
		"custodian_id, channel, recipient) VALUES ('" OLD_ALARM
		"', 'code', '" OLD_CUSTODIAN "', 'log', '" OLD_PHONE "')"));
	assert_logs_clean();
}

static void test_custodians(void **unused)
{
	const struct keryu_accounts *ac = fx.ac;
	struct keryu_custodian c, got;
	char long_email[300], long_name[120];
	long before;

	(void)unused;
	assert_int_equal(ac->custodian_create(ac->self, "ana@example.org",
					      "Ana Pérez", PHONE_A, PW1, &c),
			 0);
	assert_true(keryu_uuid_valid(c.id));
	assert_string_equal(c.email, "ana@example.org");
	assert_string_equal(c.name, "Ana Pérez");
	assert_string_equal(c.phone, PHONE_A);
	assert_false(c.phone_verified);
	assert_false(c.is_staff);
	assert_true(c.is_active);
	assert_string_equal(c.password_hash, PW1);
	assert_int_equal(strlen(c.created_at), 24);
	assert_int_equal(c.created_at[23], 'Z');
	T.a = c;

	assert_int_equal(ac->custodian_get(ac->self, c.id, &got), 0);
	assert_memory_equal(&got, &c, sizeof(c));
	assert_int_equal(ac->custodian_by_email(ac->self, "ana@example.org",
						&got),
			 0);
	assert_memory_equal(&got, &c, sizeof(c));

	assert_int_equal(ac->custodian_create(ac->self, "bo@example.org", "Bo",
					      PHONE_B, PW1, &T.b),
			 0);
	assert_string_not_equal(T.b.id, T.a.id);

	/* the email is taken, whatever else differs, also by a custodian
	 * from before the accounts service */
	before = fx_count("SELECT count(*) FROM custodians", NULL);
	assert_int_equal(ac->custodian_create(ac->self, "ana@example.org",
					      "Other", PHONE_C, PW2, &c),
			 KERYU_ECONFLICT);
	assert_string_equal(c.id, "");
	assert_int_equal(ac->custodian_create(ac->self, "old@example.org",
					      "Other", PHONE_C, PW2, &c),
			 KERYU_ECONFLICT);
	assert_int_equal(ac->custodian_by_email(ac->self, "old@example.org",
						&got),
			 0);
	assert_string_equal(got.id, OLD_CUSTODIAN);
	assert_string_equal(got.password_hash, ""); /* none */

	/* bad input: EINVAL and nothing written */
	memset(long_email, 'a', sizeof(long_email));
	memcpy(long_email + 250, "@x.org", 7);
	memset(long_name, 'n', sizeof(long_name));
	long_name[101] = '\0';
	{
		static const char *const emails[] = {
			"", "no-at.example.org", "two@@example.org",
			"a@b@example.org", "Ana@example.org", "a b@example.org",
			"@example.org", "ana@", "ana@exa\tmple.org"};
		size_t i;

		for (i = 0; i < sizeof(emails) / sizeof(emails[0]); i++)
			assert_int_equal(ac->custodian_create(ac->self,
							      emails[i], "N",
							      PHONE_C, PW1, &c),
					 KERYU_EINVAL);
	}
	assert_int_equal(ac->custodian_create(ac->self, long_email, "N",
					      PHONE_C, PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, NULL, "N", PHONE_C,
					      PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "",
					      PHONE_C, PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "   ",
					      PHONE_C, PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org",
					      "a\nb", PHONE_C, PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org",
					      long_name, PHONE_C, PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "N",
					      "5550100004", PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "N",
					      "+0550100004", PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "N",
					      NULL, PW1, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "N",
					      PHONE_C, "hunter2", &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "N",
					      PHONE_C, "", &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "N",
					      PHONE_C, NULL, &c),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org", "N",
					      PHONE_C, PW1, NULL),
			 KERYU_EINVAL);
	/* invalid UTF-8 is PostgreSQL's to refuse: still EINVAL */
	assert_int_equal(ac->custodian_create(ac->self, "c@example.org",
					      "bad \xff name", PHONE_C, PW1,
					      &c),
			 KERYU_EINVAL);
	assert_int_equal(fx_count("SELECT count(*) FROM custodians", NULL),
			 before);

	assert_int_equal(ac->custodian_get(ac->self, UNKNOWN_ID, &got),
			 KERYU_ENOTFOUND);
	assert_string_equal(got.id, "");
	assert_int_equal(ac->custodian_get(ac->self, "nope", &got),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_get(ac->self, NULL, &got), KERYU_EINVAL);
	assert_int_equal(ac->custodian_by_email(ac->self, "who@example.org",
						&got),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->custodian_by_email(ac->self, "Ana@example.org",
						&got),
			 KERYU_EINVAL);
	assert_logs_clean();
}

static void test_sessions(void **unused)
{
	const struct keryu_accounts *ac = fx.ac;
	struct keryu_session s;
	char t1[KERYU_HASH_HEX], t2[KERYU_HASH_HEX], t3[KERYU_HASH_HEX];
	char t4[KERYU_HASH_HEX], bad[KERYU_HASH_HEX], buf[64];
	int64_t now = (int64_t)time(NULL);

	(void)unused;
	hash_of(1, t1);
	hash_of(2, t2);
	hash_of(3, t3);
	hash_of(4, t4);
	assert_int_equal(ac->session_create(ac->self, t1, T.a.id, CSRF, 3600),
			 0);
	assert_int_equal(ac->session_get(ac->self, t1, 600, &s), 0);
	assert_string_equal(s.custodian_id, T.a.id);
	assert_string_equal(s.csrf, CSRF);
	assert_true(s.created_unix >= now - 5 && s.created_unix <= now + 5);
	assert_true(s.last_seen_unix >= now - 5 && s.last_seen_unix <= now + 5);

	/* get touches last_seen */
	fx_sql1("UPDATE sessions SET last_seen_at = now() - interval '5 "
		"minutes', "
		"created_at = now() - interval '6 minutes' WHERE token_hash = "
		"$1",
		t1);
	assert_int_equal(ac->session_get(ac->self, t1, 600, &s), 0);
	assert_true(s.last_seen_unix >= now - 5);
	assert_true(s.created_unix <= now - 300);
	assert_string_equal(fx_scalar(buf, sizeof(buf),
				      "SELECT last_seen_at > now() - interval "
				      "'10 seconds' FROM sessions "
				      "WHERE token_hash = $1",
				      t1),
			    "t");

	/* idle: not seen for 15 minutes is dead for a 10-minute limit, alive
	 * for a 20-minute one */
	fx_sql1("UPDATE sessions SET last_seen_at = now() - interval '15 "
		"minutes' "
		"WHERE token_hash = $1",
		t1);
	assert_int_equal(ac->session_get(ac->self, t1, 600, &s),
			 KERYU_ENOTFOUND);
	assert_string_equal(s.csrf, "");
	assert_int_equal(ac->session_get(ac->self, t1, 1200, &s), 0);

	/* absolute: past expires_at, however fresh */
	fx_sql1("UPDATE sessions SET expires_at = now() - interval '1 second' "
		"WHERE token_hash = $1",
		t1);
	assert_int_equal(ac->session_get(ac->self, t1, 600, &s),
			 KERYU_ENOTFOUND);

	/* delete; again is fine */
	assert_int_equal(ac->session_create(ac->self, t2, T.a.id, CSRF, 60), 0);
	assert_int_equal(ac->session_get(ac->self, t2, 600, &s), 0);
	assert_int_equal(ac->session_delete(ac->self, t2), 0);
	assert_int_equal(ac->session_get(ac->self, t2, 600, &s),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->session_delete(ac->self, t2), 0);

	/* anonymous */
	assert_int_equal(ac->session_create(ac->self, t3, NULL, CSRF "ff",
					    3600),
			 0);
	assert_int_equal(ac->session_get(ac->self, t3, 600, &s), 0);
	assert_string_equal(s.custodian_id, "");
	assert_string_equal(s.csrf, CSRF "ff");

	/* taken token, unknown custodian, inactive custodian */
	assert_int_equal(ac->session_create(ac->self, t3, T.a.id, CSRF, 60),
			 KERYU_ECONFLICT);
	assert_int_equal(ac->session_create(ac->self, t4, UNKNOWN_ID, CSRF, 60),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->session_create(ac->self, t4, T.b.id, CSRF, 60), 0);
	fx_sql1("UPDATE custodians SET is_active = false WHERE id = $1::uuid",
		T.b.id);
	assert_int_equal(ac->session_get(ac->self, t4, 600, &s),
			 KERYU_ENOTFOUND);
	fx_sql1("UPDATE custodians SET is_active = true WHERE id = $1::uuid",
		T.b.id);
	assert_int_equal(ac->session_get(ac->self, t4, 600, &s), 0);
	assert_int_equal(ac->session_delete(ac->self, t4), 0);

	/* bad input */
	snprintf(bad, sizeof(bad), "%s", t1);
	bad[0] = 'A';
	assert_int_equal(ac->session_create(ac->self, bad, NULL, CSRF, 60),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_create(ac->self, "abc", NULL, CSRF, 60),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_create(ac->self, t4, "x", CSRF, 60),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_create(ac->self, t4, NULL, "abc", 60),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_create(ac->self, t4, NULL, NULL, 60),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_create(ac->self, t4, NULL, CSRF, 0),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_get(ac->self, bad, 600, &s),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_get(ac->self, t3, 0, &s), KERYU_EINVAL);
	assert_int_equal(ac->session_get(ac->self, t3, 600, NULL),
			 KERYU_EINVAL);
	assert_int_equal(ac->session_delete(ac->self, NULL), KERYU_EINVAL);
	assert_int_equal(fx_count("SELECT count(*) FROM sessions "
				  "WHERE token_hash = $1",
				  t4),
			 0);
	assert_logs_clean();
}

static void test_set_password(void **unused)
{
	const struct keryu_accounts *ac = fx.ac;
	struct keryu_session s;
	struct keryu_custodian c;
	char s1[KERYU_HASH_HEX], s2[KERYU_HASH_HEX], s3[KERYU_HASH_HEX];
	char anon[KERYU_HASH_HEX], other[KERYU_HASH_HEX];

	(void)unused;
	hash_of(11, s1);
	hash_of(12, s2);
	hash_of(13, s3);
	hash_of(14, anon);
	hash_of(15, other);
	assert_int_equal(ac->session_create(ac->self, s1, T.a.id, CSRF, 3600),
			 0);
	assert_int_equal(ac->session_create(ac->self, s2, T.a.id, CSRF, 3600),
			 0);
	assert_int_equal(ac->session_create(ac->self, s3, T.a.id, CSRF, 3600),
			 0);
	assert_int_equal(ac->session_create(ac->self, anon, NULL, CSRF, 3600),
			 0);
	assert_int_equal(ac->session_create(ac->self, other, T.b.id, CSRF,
					    3600),
			 0);

	assert_int_equal(ac->custodian_set_password(ac->self, T.a.id, PW2, s1),
			 0);
	assert_int_equal(ac->custodian_get(ac->self, T.a.id, &c), 0);
	assert_string_equal(c.password_hash, PW2);
	assert_int_equal(ac->session_get(ac->self, s1, 600, &s), 0);
	assert_int_equal(ac->session_get(ac->self, s2, 600, &s),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->session_get(ac->self, s3, 600, &s),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->session_get(ac->self, anon, 600, &s), 0);
	assert_int_equal(ac->session_get(ac->self, other, 600, &s), 0);
	assert_true(fake_host_log_contains("storage.password_set"));

	/* NULL: every session goes */
	assert_int_equal(ac->custodian_set_password(ac->self, T.a.id, PW3,
						    NULL),
			 0);
	assert_int_equal(ac->session_get(ac->self, s1, 600, &s),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->session_get(ac->self, other, 600, &s), 0);

	/* bad input changes nothing */
	assert_int_equal(ac->session_create(ac->self, s1, T.a.id, CSRF, 3600),
			 0);
	assert_int_equal(ac->custodian_set_password(ac->self, T.a.id,
						    "plain", NULL),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_set_password(ac->self, T.a.id, PW1,
						    "xyz"),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_set_password(ac->self, "x", PW1, NULL),
			 KERYU_EINVAL);
	assert_int_equal(ac->custodian_set_password(ac->self, UNKNOWN_ID, PW1,
						    NULL),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->custodian_get(ac->self, T.a.id, &c), 0);
	assert_string_equal(c.password_hash, PW3);
	assert_int_equal(ac->session_get(ac->self, s1, 600, &s), 0);
	assert_logs_clean();
}

/* Issues a code for purpose; backdates every earlier code first so that
 * the resend throttle lets it through. */
static void issue(const struct keryu_custodian *c,
		  enum keryu_code_purpose purpose, const char *contact,
		  unsigned code, int max_tries, struct keryu_code_issued *out)
{
	char h[KERYU_HASH_HEX];

	fx_sql1("UPDATE one_time_codes "
		"SET created_at = created_at - interval '10 minutes' "
		"WHERE custodian_id = $1::uuid",
		c->id);
	assert_int_equal(fx.ac->code_issue(fx.ac->self, c->id, purpose, contact,
					   hash_of(code, h), "whatsapp", 900,
					   max_tries, 60, out),
			 0);
}

static enum keryu_code_check check(const struct keryu_custodian *c,
				   enum keryu_code_purpose purpose,
				   const char *contact, unsigned code)
{
	enum keryu_code_check res = (enum keryu_code_check)-1;
	char h[KERYU_HASH_HEX];

	assert_int_equal(fx.ac->code_check(fx.ac->self, c->id, purpose, contact,
					   hash_of(code, h), &res),
			 0);
	return res;
}

static long live_codes(const char *custodian_id)
{
	return fx_count("SELECT count(*) FROM one_time_codes "
			"WHERE custodian_id = $1::uuid AND consumed_at IS NULL",
			custodian_id);
}

static void test_code_issue(void **unused)
{
	const struct keryu_accounts *ac = fx.ac;
	struct keryu_code_issued out, again;
	char h[KERYU_HASH_HEX], buf[256];
	long codes, notifications;

	(void)unused;
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, hash_of(100, h), "whatsapp", 900,
					5, 60, &out),
			 0);
	assert_true(keryu_uuid_valid(out.notification_id));
	assert_string_equal(out.recipient, PHONE_A);
	assert_int_equal(
		fx_count("SELECT count(*) FROM notifications WHERE id = "
			 "$1::uuid "
			 "AND purpose = 'code' AND alarm_id IS NULL "
			 "AND channel = 'whatsapp' AND status = 'PENDING' "
			 "AND recipient = '" PHONE_A "' AND custodian_id = "
			 "(SELECT custodian_id FROM one_time_codes "
			 " WHERE notification_id = $1::uuid)",
			 out.notification_id),
		1);
	assert_int_equal(
		fx_count("SELECT count(*) FROM one_time_codes "
			 "WHERE notification_id = $1::uuid AND purpose = 1 "
			 "AND contact_id IS NULL AND tries = 0 AND max_tries = "
			 "5 "
			 "AND consumed_at IS NULL AND recipient = '" PHONE_A
			 "' "
			 "AND expires_at BETWEEN now() + interval '14 minutes' "
			 "AND now() + interval '16 minutes'",
			 out.notification_id),
		1);
	assert_string_equal(fx_scalar(buf, sizeof(buf),
				      "SELECT code_hash FROM one_time_codes "
				      "WHERE notification_id = $1::uuid",
				      out.notification_id),
			    h);
	assert_true(fake_host_log_contains("storage.code_issued"));

	/* too soon: refused, nothing written */
	codes = fx_count("SELECT count(*) FROM one_time_codes", NULL);
	notifications = fx_count("SELECT count(*) FROM notifications", NULL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, hash_of(101, h), "whatsapp", 900,
					5, 60, &again),
			 KERYU_ECONFLICT);
	assert_string_equal(again.notification_id, "");
	assert_int_equal(fx_count("SELECT count(*) FROM one_time_codes", NULL),
			 codes);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications", NULL),
			 notifications);

	/* later: the new code replaces the old one */
	issue(&T.a, KERYU_CODE_PHONE, NULL, 102, 5, &again);
	assert_string_not_equal(again.notification_id, out.notification_id);
	assert_int_equal(live_codes(T.a.id), 1);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 100),
			 KERYU_CODE_WRONG);

	/* bad input */
	codes = fx_count("SELECT count(*) FROM one_time_codes", NULL);
	assert_int_equal(ac->code_issue(ac->self, "x", KERYU_CODE_PHONE, NULL,
					h, "whatsapp", 900, 5, 0, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id,
					(enum keryu_code_purpose)9, NULL, h,
					"whatsapp", 900, 5, 0, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					UNKNOWN_ID, h, "whatsapp", 900, 5, 0,
					&out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_CONTACT,
					NULL, h, "whatsapp", 900, 5, 0, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, "123456", "whatsapp", 900, 5, 0,
					&out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, h, "", 900, 5, 0, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, h, "Whats App", 900, 5, 0, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, h, "whatsapp", 0, 5, 0, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, h, "whatsapp", 900, 0, 0, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, h, "whatsapp", 900, 5, -1, &out),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, h, "whatsapp", 900, 5, 0, NULL),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_issue(ac->self, UNKNOWN_ID, KERYU_CODE_PHONE,
					NULL, h, "whatsapp", 900, 5, 0, &out),
			 KERYU_ENOTFOUND);
	/* a reset goes only to a verified phone */
	assert_int_equal(ac->code_issue(ac->self, T.b.id, KERYU_CODE_RESET,
					NULL, h, "whatsapp", 900, 5, 0, &out),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx_count("SELECT count(*) FROM one_time_codes", NULL),
			 codes);
	assert_logs_clean();
}

static void test_code_check(void **unused)
{
	const struct keryu_accounts *ac = fx.ac;
	struct keryu_code_issued out;
	struct keryu_custodian c;
	enum keryu_code_check res;
	char h[KERYU_HASH_HEX];

	(void)unused;
	/* the live code is 102 (test_code_issue), one wrong try used */
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 103),
			 KERYU_CODE_WRONG);
	assert_int_equal(
		fx_count("SELECT tries FROM one_time_codes WHERE "
			 "custodian_id = $1::uuid AND consumed_at IS NULL",
			 T.a.id),
		2);
	assert_int_equal(check(&T.a, KERYU_CODE_RESET, NULL, 102),
			 KERYU_CODE_EXPIRED); /* another purpose's code */
	assert_int_equal(ac->custodian_get(ac->self, T.a.id, &c), 0);
	assert_false(c.phone_verified);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 102),
			 KERYU_CODE_OK);
	assert_int_equal(ac->custodian_get(ac->self, T.a.id, &c), 0);
	assert_true(c.phone_verified);
	assert_int_equal(live_codes(T.a.id), 0);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 102),
			 KERYU_CODE_EXPIRED);
	assert_true(fake_host_log_contains("storage.code_checked"));

	/* tries run out: the right code no longer works */
	issue(&T.a, KERYU_CODE_PHONE, NULL, 110, 3, &out);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 1),
			 KERYU_CODE_WRONG);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 2),
			 KERYU_CODE_WRONG);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 3),
			 KERYU_CODE_WRONG);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 110),
			 KERYU_CODE_TOO_MANY);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 4),
			 KERYU_CODE_TOO_MANY);
	assert_int_equal(fx_count("SELECT max(tries) FROM one_time_codes WHERE "
				  "custodian_id = $1::uuid",
				  T.a.id),
			 3);

	/* expired */
	issue(&T.a, KERYU_CODE_PHONE, NULL, 120, 5, &out);
	fx_sql1("UPDATE one_time_codes SET expires_at = now() - interval '1 s' "
		"WHERE notification_id = $1::uuid",
		out.notification_id);
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 120),
			 KERYU_CODE_EXPIRED);

	/* reset: A's phone is verified now; a match changes nothing else */
	fx_sql1("UPDATE custodians SET phone_verified_at = NULL WHERE id = $1",
		T.b.id);
	issue(&T.a, KERYU_CODE_RESET, NULL, 130, 5, &out);
	assert_string_equal(out.recipient, PHONE_A);
	assert_int_equal(check(&T.a, KERYU_CODE_RESET, NULL, 130),
			 KERYU_CODE_OK);
	assert_int_equal(check(&T.a, KERYU_CODE_RESET, NULL, 130),
			 KERYU_CODE_EXPIRED);
	assert_int_equal(ac->custodian_get(ac->self, T.a.id, &c), 0);
	assert_string_equal(c.password_hash, PW3);

	/* the phone changed after the code was sent: not verified by it */
	issue(&T.b, KERYU_CODE_PHONE, NULL, 140, 5, &out);
	assert_string_equal(out.recipient, PHONE_B);
	fx_sql1("UPDATE custodians SET phone_e164 = '" PHONE_D
		"' WHERE id = $1",
		T.b.id);
	assert_int_equal(check(&T.b, KERYU_CODE_PHONE, NULL, 140),
			 KERYU_CODE_EXPIRED);
	assert_int_equal(ac->custodian_get(ac->self, T.b.id, &c), 0);
	assert_false(c.phone_verified);
	fx_sql1("UPDATE custodians SET phone_e164 = '" PHONE_B
		"' WHERE id = $1",
		T.b.id);

	/* nothing issued at all */
	assert_int_equal(check(&T.b, KERYU_CODE_RESET, NULL, 1),
			 KERYU_CODE_EXPIRED);

	/* bad input */
	assert_int_equal(ac->code_check(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, "12", &res),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_check(ac->self, "x", KERYU_CODE_PHONE, NULL,
					hash_of(1, h), &res),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_check(ac->self, T.a.id, KERYU_CODE_CONTACT,
					NULL, h, &res),
			 KERYU_EINVAL);
	assert_int_equal(ac->code_check(ac->self, T.a.id, KERYU_CODE_PHONE,
					NULL, h, NULL),
			 KERYU_EINVAL);
	assert_logs_clean();
}

static void test_code_contact(void **unused)
{
	const struct keryu_accounts *ac = fx.ac;
	struct keryu_code_issued out;
	char h[KERYU_HASH_HEX];
	PGresult *r;
	const char *v[3];

	(void)unused;
	v[0] = T.a.id;
	r = fx_sqlv("INSERT INTO subjects (custodian_id, name, date_of_birth, "
		    "gender) VALUES ($1::uuid, 'Sol', '2019-02-03', 'F') "
		    "RETURNING id::text",
		    1, v);
	snprintf(T.subject_a, sizeof(T.subject_a), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	v[0] = T.b.id;
	r = fx_sqlv("INSERT INTO subjects (custodian_id, name, date_of_birth, "
		    "gender) VALUES ($1::uuid, 'Teo', '2019-02-03', 'M') "
		    "RETURNING id::text",
		    1, v);
	snprintf(T.subject_b, sizeof(T.subject_b), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	v[0] = T.subject_a;
	r = fx_sqlv(
		"INSERT INTO contacts (subject_id, name, phone_e164, channel) "
		"VALUES ($1::uuid, 'Abuela', '" PHONE_C "', 'whatsapp') "
		"RETURNING id::text",
		1, v);
	snprintf(T.contact_a, sizeof(T.contact_a), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	v[0] = T.subject_b;
	r = fx_sqlv(
		"INSERT INTO contacts (subject_id, name, phone_e164, channel) "
		"VALUES ($1::uuid, 'Tio', '" PHONE_D "', 'sms') "
		"RETURNING id::text",
		1, v);
	snprintf(T.contact_b, sizeof(T.contact_b), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	issue(&T.a, KERYU_CODE_CONTACT, T.contact_a, 200, 5, &out);
	assert_string_equal(out.recipient, PHONE_C);
	assert_int_equal(fx_count("SELECT count(*) FROM one_time_codes "
				  "WHERE notification_id = $1::uuid "
				  "AND purpose = 3 AND contact_id IS NOT NULL",
				  out.notification_id),
			 1);
	/* one contact's code is not another purpose's */
	assert_int_equal(check(&T.a, KERYU_CODE_PHONE, NULL, 200),
			 KERYU_CODE_EXPIRED);
	assert_int_equal(check(&T.a, KERYU_CODE_CONTACT, T.contact_a, 201),
			 KERYU_CODE_WRONG);
	assert_int_equal(fx_count("SELECT count(*) FROM contacts WHERE id = $1 "
				  "AND verified_at IS NULL",
				  T.contact_a),
			 1);
	assert_int_equal(check(&T.a, KERYU_CODE_CONTACT, T.contact_a, 200),
			 KERYU_CODE_OK);
	assert_int_equal(fx_count("SELECT count(*) FROM contacts WHERE id = $1 "
				  "AND verified_at IS NOT NULL",
				  T.contact_a),
			 1);
	assert_int_equal(fx_count("SELECT count(*) FROM contacts WHERE id = $1 "
				  "AND verified_at IS NULL",
				  T.contact_b),
			 1);

	/* another custodian's contact, or none: ENOTFOUND, nothing sent */
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_CONTACT,
					T.contact_b, hash_of(210, h),
					"whatsapp", 900, 5, 0, &out),
			 KERYU_ENOTFOUND);
	assert_int_equal(ac->code_issue(ac->self, T.a.id, KERYU_CODE_CONTACT,
					UNKNOWN_ID, h, "whatsapp", 900, 5, 0,
					&out),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx_count("SELECT count(*) FROM one_time_codes "
				  "WHERE contact_id = $1::uuid",
				  T.contact_b),
			 0);
	/* nor can B's code verify B's contact through A */
	issue(&T.b, KERYU_CODE_CONTACT, T.contact_b, 220, 5, &out);
	assert_string_equal(out.recipient, PHONE_D);
	assert_int_equal(check(&T.a, KERYU_CODE_CONTACT, T.contact_b, 220),
			 KERYU_CODE_EXPIRED);
	assert_int_equal(check(&T.b, KERYU_CODE_CONTACT, T.contact_b, 220),
			 KERYU_CODE_OK);
	assert_logs_clean();
}

/* A code's notification goes through issue 2's delivery path: queued,
 * then a delivery result, with no alarm to summarise it in. */
static void test_code_notification_delivery(void **unused)
{
	struct keryu_code_issued out;
	struct keryu_delivery_event dv;

	(void)unused;
	issue(&T.a, KERYU_CODE_PHONE, NULL, 300, 5, &out);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    out.notification_id, 1, 60),
			 0);
	memset(&dv, 0, sizeof(dv));
	keryu_uuid_new(dv.event_id);
	keryu_now_iso(dv.at);
	snprintf(dv.notification_id, sizeof(dv.notification_id), "%s",
		 out.notification_id);
	snprintf(dv.status, sizeof(dv.status), "sent");
	snprintf(dv.channel, sizeof(dv.channel), "whatsapp");
	snprintf(dv.provider_message_id, sizeof(dv.provider_message_id),
		 "wamid.CODE");
	dv.attempt = 1;
	assert_int_equal(fx.st->notification_result(fx.st->self, &dv, 60), 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE id = $1::uuid AND status = 'SENT' "
				  "AND alarm_id IS NULL",
				  out.notification_id),
			 1);
}

static void test_rate_hit(void **unused)
{
	const struct keryu_accounts *ac = fx.ac;
	bool allowed = false;
	int i;

	(void)unused;
	for (i = 0; i < 3; i++) {
		assert_int_equal(ac->rate_hit(ac->self, "login:ip:aa", 3600, 3,
					      &allowed),
				 0);
		assert_true(allowed);
	}
	assert_int_equal(ac->rate_hit(ac->self, "login:ip:aa", 3600, 3,
				      &allowed),
			 0);
	assert_false(allowed);
	assert_int_equal(ac->rate_hit(ac->self, "login:ip:aa", 3600, 3,
				      &allowed),
			 0);
	assert_false(allowed);
	/* another key, and the same key in another window length */
	assert_int_equal(ac->rate_hit(ac->self, "login:acct:aa", 3600, 3,
				      &allowed),
			 0);
	assert_true(allowed);
	assert_int_equal(fx_count("SELECT hits FROM rate_limits "
				  "WHERE key = 'login:ip:aa'",
				  NULL),
			 5);
	/* the window is aligned to the epoch, the same in every process */
	assert_int_equal(fx_count("SELECT count(*) FROM rate_limits "
				  "WHERE key = 'login:ip:aa' AND "
				  "extract(epoch FROM window_start)::bigint "
				  "% 3600 = 0 AND window_start <= now() AND "
				  "window_start > now() - interval '1 hour'",
				  NULL),
			 1);
	/* a new window starts from zero */
	fx_sql1("UPDATE rate_limits SET window_start = window_start - "
		"interval '1 hour' WHERE key = 'login:ip:aa'",
		NULL);
	assert_int_equal(ac->rate_hit(ac->self, "login:ip:aa", 3600, 3,
				      &allowed),
			 0);
	assert_true(allowed);
	/* max 0 refuses everything */
	assert_int_equal(ac->rate_hit(ac->self, "never", 60, 0, &allowed), 0);
	assert_false(allowed);

	/* windows older than a day are purged now and then */
	fx_sql1("INSERT INTO rate_limits VALUES "
		"('old', now() - interval '2 days', 9)",
		NULL);
	for (i = 0; i < 100; i++)
		assert_int_equal(ac->rate_hit(ac->self, "purge:tick", 60, 1000,
					      &allowed),
				 0);
	assert_int_equal(fx_count("SELECT count(*) FROM rate_limits "
				  "WHERE key = 'old'",
				  NULL),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM rate_limits "
				  "WHERE key = 'login:ip:aa'",
				  NULL),
			 2);

	/* bad input */
	assert_int_equal(ac->rate_hit(ac->self, "", 60, 1, &allowed),
			 KERYU_EINVAL);
	assert_int_equal(ac->rate_hit(ac->self, NULL, 60, 1, &allowed),
			 KERYU_EINVAL);
	assert_int_equal(ac->rate_hit(ac->self, "a b", 60, 1, &allowed),
			 KERYU_EINVAL);
	assert_int_equal(ac->rate_hit(ac->self, "k", 0, 1, &allowed),
			 KERYU_EINVAL);
	assert_int_equal(ac->rate_hit(ac->self, "k", 86401, 1, &allowed),
			 KERYU_EINVAL);
	assert_int_equal(ac->rate_hit(ac->self, "k", 60, -1, &allowed),
			 KERYU_EINVAL);
	assert_int_equal(ac->rate_hit(ac->self, "k", 60, 1, NULL),
			 KERYU_EINVAL);
	assert_int_equal(fx_count("SELECT count(*) FROM rate_limits "
				  "WHERE key = 'k'",
				  NULL),
			 0);
}

struct racer {
	int kind; /* 0 rate_hit, 1 code_check */
	int rc;
	int ok;	  /* allowed hits, or KERYU_CODE_OK results */
};

static void *race(void *arg)
{
	struct racer *r = arg;
	char h[KERYU_HASH_HEX];
	enum keryu_code_check res;
	bool allowed;
	int i;

	for (i = 0; i < 10 && !r->rc; i++) {
		if (r->kind == 0) {
			r->rc = fx.ac->rate_hit(fx.ac->self, "race", 3600, 50,
						&allowed);
			r->ok += allowed;
		} else {
			r->rc = fx.ac->code_check(fx.ac->self, T.a.id,
						  KERYU_CODE_PHONE, NULL,
						  hash_of(400, h), &res);
			r->ok += res == KERYU_CODE_OK;
		}
	}
	return NULL;
}

/* Several threads (more than pool connections): the count is exact and a
 * code is used once. */
static void test_concurrency(void **unused)
{
	struct keryu_code_issued out;
	struct racer r[8];
	pthread_t th[8];
	int i, kind, ok;

	(void)unused;
	issue(&T.a, KERYU_CODE_PHONE, NULL, 400, 5, &out);
	for (kind = 0; kind < 2; kind++) {
		memset(r, 0, sizeof(r));
		for (i = 0; i < 8; i++) {
			r[i].kind = kind;
			assert_int_equal(
				pthread_create(&th[i], NULL, race, &r[i]), 0);
		}
		ok = 0;
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(r[i].rc, 0);
			ok += r[i].ok;
		}
		assert_int_equal(ok, kind == 0 ? 50 : 1);
	}
	assert_int_equal(fx_count("SELECT hits FROM rate_limits "
				  "WHERE key = 'race'",
				  NULL),
			 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade_from_001),
		cmocka_unit_test(test_custodians),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_set_password),
		cmocka_unit_test(test_code_issue),
		cmocka_unit_test(test_code_check),
		cmocka_unit_test(test_code_contact),
		cmocka_unit_test(test_rate_hit),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_code_notification_delivery),
	};
	return fx_run("integration.storage_accounts", "keryu_test_acc",
		      "Pacific/Auckland", tests,
		      sizeof(tests) / sizeof(tests[0]));
}
