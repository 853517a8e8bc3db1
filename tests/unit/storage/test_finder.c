/* integration.storage_finder: issue 5's finder side in storage (migration
 * 005, keryu/storage.h's tag_public, finder_attach, finder_status,
 * followups, purge_finder_data, follow-up kinds in notify_due, lost mode in
 * alarm_from_scan, and the subjects service's subject_set_missing) against
 * a real PostgreSQL.
 *
 * Needs KERYU_TEST_DATABASE_URL, like integration.storage: a server where
 * this test may CREATE DATABASE. The database starts at migration 004 with
 * an alarm and its notification in it, so that the first test proves 005
 * upgrades them. Time is moved by rewriting timestamps, never by sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "storage_fixture.h"

#include <keryu/module.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "fake_host.h"
#include "storage_migrations.h"

/* data made before migration 005 */
#define OLD_CUSTODIAN "5d000000-0000-4000-8000-000000000001"
#define OLD_SUBJECT "5d000000-0000-4000-8000-000000000002"
#define OLD_TAG "5d000000-0000-4000-8000-0000000000a1"
#define OLD_ALARM "5d000000-0000-4000-8000-0000000000b1"
#define OLD_NOTIFICATION "5d000000-0000-4000-8000-0000000000c1"
#define OLD_PHONE "+15550500001"

#define JOBS_MAX 64

/* an alarm's scanned_at as jobs carry it */
#define STORAGE_ISO_UTC_TEST                                                   \
	"to_char(scanned_at AT TIME ZONE 'UTC', "                              \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* ---- helpers ---- */

/* No log line may carry a phone number or a name. */
static void assert_logs_clean(void)
{
	fx_assert_logs_clean("+1555", "555051", "Ana", "Carla", NULL);
}

/* A finder's post for the scan that made alarm out (of tag qr). */
static struct keryu_finder_post location_post(const char *event_id,
					      const char *qr, double lat,
					      double lng, double acc)
{
	struct keryu_finder_post f;

	memset(&f, 0, sizeof(f));
	f.kind = KERYU_FINDER_LOCATION;
	snprintf(f.scan_event_id, sizeof(f.scan_event_id), "%s", event_id);
	snprintf(f.qr_uuid, sizeof(f.qr_uuid), "%s", qr);
	f.lat = lat;
	f.lng = lng;
	f.accuracy_m = acc;
	return f;
}

static struct keryu_finder_post report_post(const char *event_id,
					    const char *qr,
					    const char *situation,
					    const char *text)
{
	struct keryu_finder_post f;

	memset(&f, 0, sizeof(f));
	f.kind = KERYU_FINDER_REPORT;
	snprintf(f.scan_event_id, sizeof(f.scan_event_id), "%s", event_id);
	snprintf(f.qr_uuid, sizeof(f.qr_uuid), "%s", qr);
	snprintf(f.situation, sizeof(f.situation), "%s", situation);
	snprintf(f.text, sizeof(f.text), "%s", text);
	return f;
}

/* The scan event id of an alarm. */
static const char *event_of(const char *alarm_id, char out[KERYU_UUID_LEN])
{
	const char *v = fx_afield(alarm_id, "event_id::text");

	assert_int_equal(strlen(v), KERYU_UUID_LEN - 1);
	memcpy(out, v, KERYU_UUID_LEN);
	return out;
}

static int attach(const struct keryu_finder_post *f, char *alarm_id)
{
	return fx.st->finder_attach(fx.st->self, f, alarm_id);
}

static void status_of(const char *event_id, const char *qr,
		      struct keryu_finder_status *out)
{
	assert_int_equal(fx.st->finder_status(fx.st->self, event_id, qr, out),
			 0);
}

static size_t followups(const char *alarm_id, const char *kind,
			struct keryu_notify_job *jobs, size_t max)
{
	size_t n = 12345;

	assert_int_equal(fx.st->followups(fx.st->self, alarm_id, kind, 60, jobs,
					  max, &n),
			 0);
	assert_true(n <= max);
	return n;
}

/* ---- tests, run in order ---- */

static void test_upgrade_from_004(void **unused)
{
	const struct storage_migration *list;
	size_t n;
	PGresult *r;

	(void)unused;
	list = storage_migrations(&n);
	assert_true(n >= 5);
	assert_int_equal(list[4].version, 5);
	assert_string_equal(list[4].name, "finder");
	fx_migrate_by_hand(4);
	fx_sql1("INSERT INTO custodians (id, email, name, phone_e164, "
		"phone_verified_at) VALUES ('" OLD_CUSTODIAN "', "
		"'old@example.org', 'Olga', '" OLD_PHONE "', now())",
		NULL);
	fx_sql1("INSERT INTO subjects (id, custodian_id, name, date_of_birth, "
		"gender) VALUES ('" OLD_SUBJECT "', '" OLD_CUSTODIAN "', "
		"'Oscar', '2017-01-01', 'M')",
		NULL);
	fx_sql1("INSERT INTO subject_qr_codes (uuid, subject_id, is_active) "
		"VALUES ('" OLD_TAG "', '" OLD_SUBJECT "', true)",
		NULL);
	fx_sql1("INSERT INTO alarms (id, event_id, subject_id, qr_uuid, "
		"scanned_at, notification_status, ip_hash, user_agent) "
		"VALUES ('" OLD_ALARM "', gen_random_uuid(), '" OLD_SUBJECT
		"', "
		"'" OLD_TAG "', now() - interval '90 days', 'DELIVERED', "
		"'abc', 'Mozilla')",
		NULL);
	fx_sql1("INSERT INTO notifications (id, alarm_id, custodian_id, "
		"channel, "
		"recipient, status) VALUES ('" OLD_NOTIFICATION "', '" OLD_ALARM
		"', '" OLD_CUSTODIAN "', 'whatsapp', '" OLD_PHONE "', "
		"'DELIVERED')",
		NULL);

	assert_int_equal(fx_start("4"), 0);
	assert_non_null(fx.st);
	assert_non_null(fx.sj);
	assert_true(fake_host_log_contains(
		"storage.migrated version=5 name=finder"));
	assert_non_null(fx.st->tag_public);
	assert_non_null(fx.st->finder_attach);
	assert_non_null(fx.st->finder_status);
	assert_non_null(fx.st->followups);
	assert_non_null(fx.st->purge_finder_data);
	assert_non_null(fx.sj->subject_set_missing);
	/* old rows are alerts, old subjects not missing, old alarms no test */
	assert_string_equal(fx_nfield(OLD_NOTIFICATION, "kind"), "alert");
	assert_string_equal(
		fx_nfield(OLD_NOTIFICATION, "coalesce(detail, '-')"), "-");
	assert_int_equal(fx_count("SELECT count(*) FROM subjects "
				  "WHERE missing OR missing_since IS NOT NULL",
				  NULL),
			 0);
	assert_string_equal(fx_afield(OLD_ALARM, "is_test"), "f");
	/* the schema refuses what the service would */
	r = PQexec(fx.db, "UPDATE alarms SET report_situation = 'bored', "
			  "report_at = now()");
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	PQclear(r);
	r = PQexec(fx.db, "UPDATE notifications SET kind = 'chat'");
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	PQclear(r);
}

static void test_tag_public(void **unused)
{
	struct keryu_public_subject ps;
	struct fx_world w;
	char bits[16];
	const char *v[2];

	(void)unused;
	fx_seed(&w, true, 0, 0);
	fx_sql1("UPDATE subjects SET name = '  Ana María Demo', "
		"photo = 'p.jpg', care_instructions = 'Calm voice', "
		"medical_conditions = 'Autism', allergies = 'Peanuts', "
		"medications = 'None', doctor_name = 'Dr Who', "
		"doctor_phone = '+15550000000' WHERE id = $1::uuid",
		w.subject);

	/* nothing chosen: the first name only */
	snprintf(bits, sizeof(bits), "%u", 0u);
	v[0] = w.subject;
	v[1] = bits;
	PQclear(fx_sqlv("UPDATE subjects SET public_fields = $2::int "
			"WHERE id = $1::uuid",
			2, v));
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, &ps), 0);
	assert_string_equal(ps.qr_uuid, w.tag);
	assert_string_equal(ps.subject_id, w.subject);
	assert_int_equal(ps.public_fields, 0);
	assert_false(ps.missing);
	assert_string_equal(ps.first_name, "Ana");
	assert_string_equal(ps.full_name, "");
	assert_string_equal(ps.photo, "");
	assert_string_equal(ps.care_instructions, "");
	assert_string_equal(ps.medical_conditions, "");
	assert_string_equal(ps.allergies, "");
	assert_string_equal(ps.medications, "");
	assert_string_equal(ps.doctor_name, "");
	assert_string_equal(ps.doctor_phone, "");
	assert_string_equal(ps.custodian_phone, "");

	/* the default: photo, first name, care, allergies */
	snprintf(bits, sizeof(bits), "%u", (unsigned)KERYU_PUB_DEFAULT);
	PQclear(fx_sqlv("UPDATE subjects SET public_fields = $2::int "
			"WHERE id = $1::uuid",
			2, v));
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, &ps), 0);
	assert_int_equal(ps.public_fields, KERYU_PUB_DEFAULT);
	assert_string_equal(ps.photo, "p.jpg");
	assert_string_equal(ps.care_instructions, "Calm voice");
	assert_string_equal(ps.allergies, "Peanuts");
	assert_string_equal(ps.full_name, "");
	assert_string_equal(ps.medical_conditions, "");
	assert_string_equal(ps.medications, "");
	assert_string_equal(ps.doctor_name, "");
	assert_string_equal(ps.custodian_phone, "");

	/* everything, with a verified custodian phone */
	snprintf(bits, sizeof(bits), "%u", (unsigned)KERYU_PUB_ALL);
	PQclear(fx_sqlv("UPDATE subjects SET public_fields = $2::int "
			"WHERE id = $1::uuid",
			2, v));
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, &ps), 0);
	assert_string_equal(ps.full_name, "  Ana María Demo");
	assert_string_equal(ps.medical_conditions, "Autism");
	assert_string_equal(ps.medications, "None");
	assert_string_equal(ps.doctor_name, "Dr Who");
	assert_string_equal(ps.doctor_phone, "+15550000000");
	assert_string_equal(ps.custodian_phone, w.phone);
	/* an unverified phone is never shown */
	fx_sql1("UPDATE custodians SET phone_verified_at = NULL "
		"WHERE id = $1::uuid",
		w.custodian);
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, &ps), 0);
	assert_string_equal(ps.custodian_phone, "");
	assert_string_equal(ps.doctor_name, "Dr Who");

	/* lost mode shows */
	assert_int_equal(fx.sj->subject_set_missing(fx.sj->self, w.custodian,
						    w.subject, true),
			 0);
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, &ps), 0);
	assert_true(ps.missing);

	/* unknown, inactive, bad */
	assert_int_equal(
		fx.st->tag_public(fx.st->self,
				  "5d000000-0000-4000-8000-00000000ffff", &ps),
		KERYU_ENOTFOUND);
	assert_string_equal(ps.first_name, "");
	fx_sql1("UPDATE subject_qr_codes SET is_active = false "
		"WHERE uuid = $1::uuid",
		w.tag);
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, &ps),
			 KERYU_ENOTFOUND);
	fx_sql1("UPDATE subject_qr_codes SET is_active = true "
		"WHERE uuid = $1::uuid",
		w.tag);
	fx_sql1("UPDATE subjects SET is_active = false WHERE id = $1::uuid",
		w.subject);
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, &ps),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx.st->tag_public(fx.st->self, "nope", &ps),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->tag_public(fx.st->self, NULL, &ps),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->tag_public(fx.st->self, w.tag, NULL),
			 KERYU_EINVAL);
	assert_logs_clean();
}

/* Lost mode: every scan alerts; found again, the cooldown is back. */
static void test_lost_mode(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created a, b, c;
	struct keryu_subject s;
	struct fx_world w, other;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 1, 0);
	fx_seed(&other, true, 0, 0);
	p.cooldown_s = 600;

	/* scoped to the custodian; bad ids refused */
	assert_int_equal(fx.sj->subject_set_missing(
				 fx.sj->self, other.custodian, w.subject, true),
			 KERYU_ENOTFOUND);
	assert_int_equal(
		fx.sj->subject_set_missing(fx.sj->self, w.custodian, "x", true),
		KERYU_EINVAL);
	assert_int_equal(
		fx.sj->subject_set_missing(fx.sj->self, "x", w.subject, true),
		KERYU_EINVAL);
	assert_int_equal(
		fx.sj->subject_get(fx.sj->self, w.custodian, w.subject, &s), 0);
	assert_false(s.missing);

	assert_int_equal(fx.sj->subject_set_missing(fx.sj->self, w.custodian,
						    w.subject, true),
			 0);
	assert_int_equal(
		fx.sj->subject_get(fx.sj->self, w.custodian, w.subject, &s), 0);
	assert_true(s.missing);
	assert_int_equal(fx_count("SELECT count(*) FROM subjects WHERE id = "
				  "$1::uuid AND missing_since IS NOT NULL",
				  w.subject),
			 1);
	/* marking it again keeps the first time */
	fx_sql1("UPDATE subjects SET missing_since = '2026-01-01Z' "
		"WHERE id = $1::uuid",
		w.subject);
	assert_int_equal(fx.sj->subject_set_missing(fx.sj->self, w.custodian,
						    w.subject, true),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM subjects WHERE id = "
				  "$1::uuid AND missing_since = '2026-01-01Z'",
				  w.subject),
			 1);

	/* three scans within the cooldown: three alerts */
	fx_scan_at(&w, &p, "2026-06-01T10:00:00Z", &a);
	fx_scan_at(&w, &p, "2026-06-01T10:00:05Z", &b);
	fx_scan_at(&w, &p, "2026-06-01T10:00:10Z", &c);
	assert_false(a.joined);
	assert_false(b.joined);
	assert_false(c.joined);
	assert_true(keryu_uuid_valid(a.notification_id));
	assert_true(keryu_uuid_valid(b.notification_id));
	assert_true(keryu_uuid_valid(c.notification_id));
	assert_string_equal(b.recipient, w.phone);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications n JOIN "
				  "alarms a ON a.id = n.alarm_id "
				  "WHERE a.subject_id = $1::uuid",
				  w.subject),
			 3);

	/* found: scans join again */
	assert_int_equal(fx.sj->subject_set_missing(fx.sj->self, w.custodian,
						    w.subject, false),
			 0);
	assert_int_equal(
		fx.sj->subject_get(fx.sj->self, w.custodian, w.subject, &s), 0);
	assert_false(s.missing);
	assert_int_equal(fx_count("SELECT count(*) FROM subjects WHERE id = "
				  "$1::uuid AND missing_since IS NULL",
				  w.subject),
			 1);
	fx_scan_at(&w, &p, "2026-06-01T10:00:20Z", &a);
	assert_true(a.joined);
	assert_string_equal(a.joined_alarm_id, c.alarm_id);
	assert_string_equal(a.notification_id, "");
	assert_logs_clean();
}

static void test_attach_location(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created a, b;
	struct keryu_finder_post f;
	struct keryu_finder_status fs;
	struct fx_world w, other;
	char ev[KERYU_UUID_LEN], ev2[KERYU_UUID_LEN], id[KERYU_UUID_LEN];
	char buf[128];

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	fx_seed(&other, true, 0, 0);
	fx_scan(&w, &p, &a);
	event_of(a.alarm_id, ev);

	/* bad posts: EINVAL, nothing written */
	f = location_post(ev, w.tag, 91, 0, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	assert_string_equal(id, "");
	f = location_post(ev, w.tag, -90.5, 0, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, 0, 180.01, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, 0, -181, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, NAN, 0, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, 0, INFINITY, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, 0, 0, -1);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, 0, 0, INFINITY);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post("not-a-uuid", w.tag, 0, 0, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, "", 0, 0, 5);
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, 0, 0, 5);
	f.kind = (enum keryu_finder_kind)7;
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = location_post(ev, w.tag, 0, 0, 5);
	assert_int_equal(attach(&f, NULL), KERYU_EINVAL);
	assert_int_equal(attach(NULL, id), KERYU_EINVAL);
	/* a scan of another tag, or no scan at all */
	f = location_post(ev, other.tag, 1, 2, 3);
	assert_int_equal(attach(&f, id), KERYU_ENOTFOUND);
	f = location_post("5d000000-0000-4000-8000-00000000eeee", w.tag, 1, 2,
			  3);
	assert_int_equal(attach(&f, id), KERYU_ENOTFOUND);
	assert_string_equal(fx_afield(a.alarm_id, "coalesce(location_at::text, "
						  "'none')"),
			    "none");
	status_of(ev, w.tag, &fs);
	assert_false(fs.has_location);

	/* the real one */
	f = location_post(ev, w.tag, -12.0463731, -77.042754, 12.5);
	assert_int_equal(attach(&f, id), 0);
	assert_string_equal(id, a.alarm_id);
	assert_string_equal(
		fx_afield(a.alarm_id, "latitude::text || ' ' || "
				      "longitude || ' ' || accuracy_m "
				      "|| ' ' || location"),
		"-12.0463731 -77.042754 12.5 -12.046373,-77.042754");
	status_of(ev, w.tag, &fs);
	assert_true(fs.has_location);
	assert_false(fs.has_report);
	/* a replay, even with other coordinates, changes nothing */
	f = location_post(ev, w.tag, 10, 10, 1);
	assert_int_equal(attach(&f, id), KERYU_ECONFLICT);
	assert_string_equal(id, "");
	assert_string_equal(fx_afield(a.alarm_id, "latitude::text"),
			    "-12.0463731");

	/* no accuracy (NaN): NULL; the edges of the ranges are fine */
	fx_scan(&w, &p, &b);
	f = location_post(event_of(b.alarm_id, ev2), w.tag, 90, -180, NAN);
	assert_int_equal(attach(&f, id), 0);
	assert_string_equal(id, b.alarm_id);
	assert_string_equal(
		fx_scalar(buf, sizeof(buf),
			  "SELECT coalesce(accuracy_m::text, 'null') "
			  "FROM alarms WHERE id = $1::uuid",
			  b.alarm_id),
		"null");
	assert_logs_clean();
	assert_false(fake_host_log_contains("-12.04"));
	assert_false(fake_host_log_contains("77.04"));
}

static void test_attach_report(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created a, b;
	struct keryu_finder_post f;
	struct keryu_finder_status fs;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct fx_world w;
	char ev[KERYU_UUID_LEN], ev2[KERYU_UUID_LEN], id[KERYU_UUID_LEN];
	char text[501];

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 2, 0);
	p.escalate_after_s = 60;
	p.ack_timeout_s = 60;
	fx_scan(&w, &p, &a);
	event_of(a.alarm_id, ev);

	f = report_post(ev, w.tag, "bored", "");
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = report_post(ev, w.tag, "", "");
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = report_post(ev, w.tag, "INJURED", "");
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	/* 501 bytes: no room for the NUL */
	f = report_post(ev, w.tag, "lost", "");
	memset(f.text, 'a', sizeof(f.text));
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	/* not UTF-8 */
	f = report_post(ev, w.tag, "lost", "caf\xc3");
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	f = report_post(ev, w.tag, "lost", "\xed\xa0\x80 surrogate");
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	/* control characters */
	f = report_post(ev, w.tag, "lost", "bell\a");
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	/* unterminated situation */
	f = report_post(ev, w.tag, "lost", "");
	memset(f.situation, 'x', sizeof(f.situation));
	assert_int_equal(attach(&f, id), KERYU_EINVAL);
	assert_string_equal(fx_afield(a.alarm_id, "coalesce(report_situation, "
						  "'none')"),
			    "none");

	/* 500 bytes of UTF-8 (250 two-byte characters), with line breaks */
	memset(text, 0, sizeof(text));
	{
		int i;

		for (i = 0; i < 250; i++)
			memcpy(text + 2 * i, "\xc3\xb1", 2);
		text[100] = '\n';
		text[101] = '\n';
	}
	assert_int_equal(strlen(text), 500);
	f = report_post(ev, w.tag, "injured", "");
	memcpy(f.text, text, sizeof(text));
	assert_int_equal(attach(&f, id), 0);
	assert_string_equal(id, a.alarm_id);
	assert_string_equal(fx_afield(a.alarm_id,
				      "report_situation || "
				      "octet_length(report_text) || "
				      "is_test::text"),
			    "injured500false");
	status_of(ev, w.tag, &fs);
	assert_true(fs.has_report);
	assert_false(fs.is_test);
	/* once per alarm, whatever the situation */
	f = report_post(ev, w.tag, "test", "");
	assert_int_equal(attach(&f, id), KERYU_ECONFLICT);
	assert_string_equal(fx_afield(a.alarm_id, "is_test"), "f");

	/* "just testing": a test alarm, which never escalates */
	fx_scan(&w, &p, &b);
	event_of(b.alarm_id, ev2);
	f = report_post(ev2, w.tag, "test", "");
	assert_int_equal(attach(&f, id), 0);
	assert_string_equal(id, b.alarm_id);
	assert_string_equal(fx_afield(b.alarm_id,
				      "is_test::text || "
				      "escalation_done || "
				      "coalesce(report_text, 'null')"),
			    "truetruenull");
	status_of(ev2, w.tag, &fs);
	assert_true(fs.is_test);
	assert_true(fs.has_report);
	fx_sql1("UPDATE notifications SET lease_until = NULL", NULL);
	fx_age_step(a.alarm_id, 3600);
	fx_age_step(b.alarm_id, 3600);
	/* only the real alarm escalates */
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].alarm_id, a.alarm_id);
	assert_string_equal(jobs[0].kind, "alert");
	assert_string_equal(jobs[0].detail, "");
	assert_string_equal(jobs[0].recipient, w.cphone[0]);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE alarm_id = $1::uuid",
				  b.alarm_id),
			 1);
	assert_logs_clean();
	assert_false(fake_host_log_contains("\xc3\xb1"));
}

/* A scan that joined an open alarm speaks to that alarm. */
static void test_joined_scan(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created a, b;
	struct keryu_finder_post f;
	struct keryu_finder_status fs, fa;
	struct keryu_delivery_event dev;
	struct fx_world w;
	char eva[KERYU_UUID_LEN], evb[KERYU_UUID_LEN], id[KERYU_UUID_LEN];

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	p.cooldown_s = 600;
	fx_scan(&w, &p, &a);
	fx_scan(&w, &p, &b);
	assert_true(b.joined);
	event_of(a.alarm_id, eva);
	event_of(b.alarm_id, evb);
	fx_result(a.notification_id, "delivered", 1, 0, NULL, &dev);

	status_of(evb, w.tag, &fs);
	assert_string_equal(fs.alarm_id, a.alarm_id);
	assert_string_equal(fs.status, "DELIVERED");
	f = report_post(evb, w.tag, "contact", "call me");
	assert_int_equal(attach(&f, id), 0);
	assert_string_equal(id, a.alarm_id);
	assert_string_equal(fx_afield(a.alarm_id, "report_text"), "call me");
	assert_string_equal(fx_afield(b.alarm_id, "coalesce(report_text, '-')"),
			    "-");
	/* the first finder's report is now a replay: one per alarm */
	f = report_post(eva, w.tag, "lost", "");
	assert_int_equal(attach(&f, id), KERYU_ECONFLICT);
	f = location_post(eva, w.tag, 1, 2, 3);
	assert_int_equal(attach(&f, id), 0);
	assert_string_equal(id, a.alarm_id);
	status_of(eva, w.tag, &fa);
	status_of(evb, w.tag, &fs);
	assert_memory_equal(&fa, &fs, sizeof(fa));
	assert_true(fs.has_location);
	assert_true(fs.has_report);
	/* acknowledged: both finders see it */
	assert_int_equal(
		fx.sj->alarm_acknowledge(fx.sj->self, w.custodian, a.alarm_id),
		0);
	status_of(evb, w.tag, &fs);
	assert_true(fs.acknowledged_at[0] != '\0');
	/* the joined scan's status is never read through another tag */
	assert_int_equal(fx.st->finder_status(fx.st->self, evb, OLD_TAG, &fs),
			 KERYU_ENOTFOUND);
	assert_string_equal(fs.alarm_id, "");
}

static void test_status(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created a, nobody;
	struct keryu_finder_status fs;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct keryu_ack_result ack;
	struct fx_world w, lonely;
	char ev[KERYU_UUID_LEN];

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 1, 0);
	fx_seed(&lonely, false, 0, 0);

	/* nobody could be notified */
	fx_scan(&lonely, &p, &nobody);
	status_of(event_of(nobody.alarm_id, ev), lonely.tag, &fs);
	assert_string_equal(fs.alarm_id, nobody.alarm_id);
	assert_string_equal(fs.status, "");
	assert_string_equal(fs.acknowledged_at, "");

	fx_scan(&w, &p, &a);
	event_of(a.alarm_id, ev);
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.alarm_id, a.alarm_id);
	assert_string_equal(fs.status, "PENDING");
	assert_false(fs.has_location);
	assert_false(fs.has_report);
	assert_false(fs.is_test);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    a.notification_id, 1, 60),
			 0);
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.status, "QUEUED");
	fx_result(a.notification_id, "sent", 1, 0, NULL, NULL);
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.status, "SENT");
	fx_result(a.notification_id, "read", 0, 0, NULL, NULL);
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.status, "READ");

	/* FAILED only when every alert failed */
	fx_scan(&w, &p, &a);
	event_of(a.alarm_id, ev);
	p.fallback_channel = "";
	fx_result(a.notification_id, "failed", 1, -1, "131026", NULL);
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.status, "FAILED");
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1); /* the contact */
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.status, "QUEUED");
	assert_int_equal(fx.st->alarm_acknowledge(
				 fx.st->self, jobs[0].notification_id, &ack),
			 0);
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.acknowledged_at, ack.acknowledged_at);

	/* bad input and unknown scans */
	assert_int_equal(fx.st->finder_status(fx.st->self, "x", w.tag, &fs),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->finder_status(fx.st->self, ev, NULL, &fs),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->finder_status(fx.st->self, ev, w.tag, NULL),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->finder_status(fx.st->self, ev, lonely.tag, &fs),
			 KERYU_ENOTFOUND);
	assert_int_equal(
		fx.st->finder_status(fx.st->self,
				     "5d000000-0000-4000-8000-00000000eeee",
				     w.tag, &fs),
		KERYU_ENOTFOUND);
}

/* Follow-ups reach everyone already alerted, once, and never escalate. */
static void test_followups(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created a;
	struct keryu_finder_post f;
	struct keryu_finder_status fs;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct fx_world w;
	char ev[KERYU_UUID_LEN], id[KERYU_UUID_LEN], alert_status[32];
	char fu[KERYU_UUID_LEN], contact_alert[KERYU_UUID_LEN];
	size_t n, i;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 3, 0);
	p.escalate_after_s = 60;
	fx_scan(&w, &p, &a);
	event_of(a.alarm_id, ev);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    a.notification_id, 1, 60),
			 0);
	/* escalate twice: custodian, contact 1, contact 2 alerted */
	fx_age_step(a.alarm_id, 3600);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	snprintf(contact_alert, sizeof(contact_alert), "%s",
		 jobs[0].notification_id);
	fx_age_step(a.alarm_id, 3600);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	/* contact 2 failed for good: no follow-up for them */
	fx_result(jobs[0].notification_id, "failed", 1, -1, "131026", NULL);

	/* nothing posted yet: nothing to follow up */
	assert_int_equal(followups(a.alarm_id, "location", jobs, JOBS_MAX), 0);
	assert_int_equal(followups(a.alarm_id, "report", jobs, JOBS_MAX), 0);

	f = location_post(ev, w.tag, -12.5, 7.25, 14.6);
	assert_int_equal(attach(&f, id), 0);
	snprintf(alert_status, sizeof(alert_status), "%s",
		 fx_afield(a.alarm_id, "notification_status"));

	/* max 1: one at a time, nothing made that was not returned */
	assert_int_equal(followups(a.alarm_id, "location", jobs, 1), 1);
	assert_string_equal(jobs[0].kind, "location");
	assert_string_equal(jobs[0].detail, "-12.500000,7.250000,15");
	assert_string_equal(jobs[0].alarm_id, a.alarm_id);
	assert_string_equal(jobs[0].recipient, w.phone);
	assert_string_equal(jobs[0].channel, "whatsapp");
	assert_int_equal(jobs[0].attempt, 1);
	assert_int_equal(jobs[0].step, 0);
	assert_string_equal(jobs[0].subject_name, "Ana Demo");
	assert_string_equal(jobs[0].scanned_at,
			    fx_afield(a.alarm_id, STORAGE_ISO_UTC_TEST));
	snprintf(fu, sizeof(fu), "%s", jobs[0].notification_id);
	assert_string_equal(fx_nfield(fu,
				      "status || attempts || kind || "
				      "(lease_until > now())::text || purpose"),
			    "QUEUED1locationtruealarm");
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid "
				  "AND status = 'QUEUED' AND attempt = 1 "
				  "AND error_text = 'follow-up: location'",
				  fu),
			 1);
	assert_int_equal(
		fx_count("SELECT count(*) FROM notifications "
			 "WHERE alarm_id = $1::uuid AND kind = 'location'",
			 a.alarm_id),
		1);
	n = followups(a.alarm_id, "location", jobs, JOBS_MAX);
	assert_int_equal(n, 1);
	assert_string_equal(jobs[0].recipient, w.cphone[0]);
	assert_string_equal(jobs[0].channel, "sms");
	assert_int_equal(jobs[0].step, 1);
	/* idempotent */
	assert_int_equal(followups(a.alarm_id, "location", jobs, JOBS_MAX), 0);
	assert_int_equal(
		fx_count("SELECT count(*) FROM notifications "
			 "WHERE alarm_id = $1::uuid AND kind = 'location'",
			 a.alarm_id),
		2);

	/* a report, with and without text */
	f = report_post(ev, w.tag, "lost", "Near the park, by the gate");
	assert_int_equal(attach(&f, id), 0);
	n = followups(a.alarm_id, "report", jobs, JOBS_MAX);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		assert_string_equal(jobs[i].kind, "report");
		assert_string_equal(jobs[i].detail,
				    "lost: Near the park, by the gate");
	}
	assert_int_equal(followups(a.alarm_id, "report", jobs, JOBS_MAX), 0);

	/* follow-ups do not move the alarm's summary nor the finder's status */
	fx_result(fu, "read", 1, 0, NULL, NULL);
	assert_string_equal(fx_afield(a.alarm_id, "notification_status"),
			    alert_status);
	status_of(ev, w.tag, &fs);
	assert_string_equal(fs.status, alert_status);

	/* a delivered follow-up is not a delivered alert: the alarm still
	 * escalates to contact 3 */
	fx_sql1("UPDATE notifications SET lease_until = NULL, followed_up = "
		"true "
		"WHERE alarm_id = $1::uuid AND kind = 'alert'",
		a.alarm_id);
	fx_sql1("UPDATE notifications SET status = 'DELIVERED', lease_until = "
		"NULL "
		"WHERE alarm_id = $1::uuid AND kind <> 'alert'",
		a.alarm_id);
	fx_age_step(a.alarm_id, 3600);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].kind, "alert");
	assert_string_equal(jobs[0].recipient, w.cphone[2]);
	/* contact 3 came after the location: no follow-up by itself, but
	 * asking again reaches them */
	n = followups(a.alarm_id, "location", jobs, JOBS_MAX);
	assert_int_equal(n, 1);
	assert_string_equal(jobs[0].recipient, w.cphone[2]);
	snprintf(fu, sizeof(fu), "%s", jobs[0].notification_id);
	fx_sql1("UPDATE alarms SET escalation_done = true WHERE id = $1::uuid",
		a.alarm_id);
	fx_sql1("UPDATE notifications SET lease_until = NULL "
		"WHERE alarm_id = $1::uuid AND kind = 'alert'",
		a.alarm_id);

	/* a follow-up whose lease ran out is re-driven with its data */
	p.fallback_channel = "whatsapp";
	fx_expire(fu);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].notification_id, fu);
	assert_string_equal(jobs[0].kind, "location");
	assert_string_equal(jobs[0].detail, "-12.500000,7.250000,15");
	assert_int_equal(jobs[0].attempt, 1);
	/* ... and when it fails for good, nothing follows: no fallback, no
	 * escalation (the alarm is undone again to prove it) */
	fx_sql1("UPDATE alarms SET escalation_done = false WHERE id = $1::uuid",
		a.alarm_id);
	fx_result(fu, "failed", 1, -1, "131026", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE fallback_of = $1::uuid",
				  fu),
			 0);
	/* re-drives exhausted: FAILED no_channel, nothing follows either */
	n = followups(a.alarm_id, "report", jobs, JOBS_MAX);
	assert_int_equal(n, 1);
	snprintf(fu, sizeof(fu), "%s", jobs[0].notification_id);
	p.max_redrives = 0;
	fx_expire(fu);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_string_equal(fx_nfield(fu, "status || last_error_code"),
			    "FAILEDno_channel");
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE alarm_id = $1::uuid",
				  a.alarm_id),
			 10);

	/* bad input */
	assert_int_equal(fx.st->followups(fx.st->self, a.alarm_id, "alert", 60,
					  jobs, JOBS_MAX, &n),
			 KERYU_EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(fx.st->followups(fx.st->self, a.alarm_id, NULL, 60,
					  jobs, JOBS_MAX, &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->followups(fx.st->self, "x", "report", 60, jobs,
					  JOBS_MAX, &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->followups(fx.st->self, a.alarm_id, "report", 0,
					  jobs, JOBS_MAX, &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->followups(fx.st->self, a.alarm_id, "report", 60,
					  NULL, JOBS_MAX, &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->followups(fx.st->self, a.alarm_id, "report", 60,
					  jobs, JOBS_MAX, NULL),
			 KERYU_EINVAL);
	assert_int_equal(
		fx.st->followups(fx.st->self,
				 "5d000000-0000-4000-8000-00000000eeee",
				 "report", 60, jobs, JOBS_MAX, &n),
		KERYU_ENOTFOUND);
	assert_logs_clean();
	assert_false(fake_host_log_contains("park"));
	assert_false(fake_host_log_contains("12.5"));
}

/* A report without text; a location without accuracy. */
static void test_followup_details(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created a;
	struct keryu_finder_post f;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct fx_world w;
	char ev[KERYU_UUID_LEN], id[KERYU_UUID_LEN];

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	fx_scan(&w, &p, &a);
	event_of(a.alarm_id, ev);
	f = location_post(ev, w.tag, 0.1234567, -0.5, NAN);
	assert_int_equal(attach(&f, id), 0);
	f = report_post(ev, w.tag, "injured", "");
	assert_int_equal(attach(&f, id), 0);
	assert_int_equal(followups(a.alarm_id, "location", jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].detail, "0.123457,-0.500000");
	assert_int_equal(followups(a.alarm_id, "report", jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].detail, "injured");
}

static void test_purge(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created old, recent;
	struct keryu_finder_post f;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct keryu_finder_status fs;
	struct fx_world w;
	char ev[KERYU_UUID_LEN], id[KERYU_UUID_LEN];
	long rows = -1, before;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	fx_scan(&w, &p, &old);
	fx_scan(&w, &p, &recent);
	f = location_post(event_of(old.alarm_id, ev), w.tag, 1, 2, 3);
	assert_int_equal(attach(&f, id), 0);
	f = report_post(ev, w.tag, "lost", "secret words");
	assert_int_equal(attach(&f, id), 0);
	assert_int_equal(followups(old.alarm_id, "location", jobs, JOBS_MAX),
			 1);
	assert_int_equal(followups(old.alarm_id, "report", jobs, JOBS_MAX), 1);
	fx_sql1("UPDATE alarms SET ip_hash = 'h', user_agent = 'ua' "
		"WHERE subject_id = $1::uuid",
		w.subject);
	f = location_post(event_of(recent.alarm_id, ev), w.tag, 4, 5, 6);
	assert_int_equal(attach(&f, id), 0);
	fx_sql1("UPDATE alarms SET scanned_at = now() - interval '31 days' "
		"WHERE id = $1::uuid",
		old.alarm_id);
	fx_sql1("UPDATE alarms SET scanned_at = now() - interval '29 days' "
		"WHERE id = $1::uuid",
		recent.alarm_id);

	/* a batch and a half of old alarms, from another subject */
	fx_sql1("INSERT INTO alarms (event_id, subject_id, qr_uuid, "
		"scanned_at, "
		"ip_hash, escalation_done) SELECT gen_random_uuid(), "
		"'" OLD_SUBJECT "', '" OLD_TAG "', "
		"now() - interval '40 days' - g * interval '1 second', 'h', "
		"true "
		"FROM generate_series(1, 1500) g",
		NULL);
	before =
		fx_count("SELECT count(*) FROM alarms WHERE scanned_at < now() "
			 "- interval '30 days' AND (ip_hash IS NOT NULL "
			 "OR latitude IS NOT NULL OR user_agent IS NOT NULL)",
			 NULL);
	assert_true(before >= 1502);

	assert_int_equal(fx.st->purge_finder_data(fx.st->self, -1, &rows),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->purge_finder_data(fx.st->self, 30, NULL),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->purge_finder_data(fx.st->self, 30, &rows), 0);
	assert_int_equal(rows, before);
	assert_string_equal(
		fx_afield(
			old.alarm_id,
			"concat_ws('|', latitude, longitude, accuracy_m, "
			"location, ip_hash, user_agent, report_text) || '.' || "
			"report_situation || (location_at IS NOT NULL)::text"),
		".losttrue");
	assert_int_equal(
		fx_count("SELECT count(*) FROM notifications "
			 "WHERE alarm_id = $1::uuid AND detail IS NOT NULL",
			 old.alarm_id),
		0);
	assert_string_equal(fx_afield(recent.alarm_id,
				      "latitude || ' ' || ip_hash || ' ' || "
				      "user_agent"),
			    "4 h ua");
	/* the finder still sees what happened, and a replay is still one */
	status_of(event_of(old.alarm_id, ev), w.tag, &fs);
	assert_true(fs.has_location);
	assert_true(fs.has_report);
	f = location_post(ev, w.tag, 1, 2, 3);
	assert_int_equal(attach(&f, id), KERYU_ECONFLICT);
	/* a purged alarm has no location to follow up; its report is only
	 * the situation (not personal data, kept) */
	fx_sql1("DELETE FROM notifications WHERE alarm_id = $1::uuid "
		"AND kind <> 'alert'",
		old.alarm_id);
	assert_int_equal(followups(old.alarm_id, "location", jobs, JOBS_MAX),
			 0);
	assert_int_equal(followups(old.alarm_id, "report", jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].detail, "lost");
	/* again: nothing left */
	assert_int_equal(fx.st->purge_finder_data(fx.st->self, 30, &rows), 0);
	assert_int_equal(rows, 0);
	/* days 0: everything scanned before now */
	assert_int_equal(fx.st->purge_finder_data(fx.st->self, 0, &rows), 0);
	assert_true(rows >= 1);
	assert_string_equal(
		fx_afield(recent.alarm_id, "coalesce(latitude::text, 'null')"),
		"null");
	assert_true(fake_host_log_contains("storage.finder_data_purged"));
	assert_false(fake_host_log_contains("secret"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade_from_004),
		cmocka_unit_test(test_tag_public),
		cmocka_unit_test(test_lost_mode),
		cmocka_unit_test(test_attach_location),
		cmocka_unit_test(test_attach_report),
		cmocka_unit_test(test_joined_scan),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_followups),
		cmocka_unit_test(test_followup_details),
		cmocka_unit_test(test_purge),
	};
	fx.phone_prefix = "+1555051";
	return fx_run("integration.storage_finder", "keryu_finder",
		      "America/Lima", tests, sizeof(tests) / sizeof(tests[0]));
}
