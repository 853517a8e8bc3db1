/* integration.storage: the storage module against a real PostgreSQL.
 *
 * Needs KERYU_TEST_DATABASE_URL, a URL to a server where this test may
 * CREATE DATABASE (e.g. postgresql://postgres@127.0.0.1:5432/postgres). It
 * makes its own uniquely named database, inits the module through the fake
 * host with database_url pointing there, and drops the database at the end.
 * Without the variable the test fails: a skipped database test is a test
 * nobody runs. */
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

#include "fake_host.h"
#include "storage_migrations.h"
#include "storage_pool.h"

#define CUSTODIAN "6f1b1d3e-0000-4000-8000-000000000001"
#define SUBJECT "6f1b1d3e-0000-4000-8000-000000000002"
#define SUBJECT_OFF "6f1b1d3e-0000-4000-8000-000000000003"
#define TAG_ON "6f1b1d3e-0000-4000-8000-0000000000a1"
#define TAG_OFF "6f1b1d3e-0000-4000-8000-0000000000a2"
#define TAG_SUBJECT_OFF "6f1b1d3e-0000-4000-8000-0000000000a3"
#define TAG_UNKNOWN "6f1b1d3e-0000-4000-8000-0000000000ff"
#define PHONE "+15550109999"

/* ---- helpers ---- */

static void scan_event(struct keryu_scan_event *ev, const char *qr_uuid,
		       const char *at)
{
	memset(ev, 0, sizeof(*ev));
	keryu_uuid_new(ev->event_id);
	snprintf(ev->at, sizeof(ev->at), "%s", at);
	snprintf(ev->qr_uuid, sizeof(ev->qr_uuid), "%s", qr_uuid);
	snprintf(ev->user_agent, sizeof(ev->user_agent), "test-agent/1.0");
	snprintf(ev->ip_hash, sizeof(ev->ip_hash), "%064d", 7);
}

static void delivery(struct keryu_delivery_event *ev, const char *nid,
		     const char *status, int attempt, const char *msg_id)
{
	memset(ev, 0, sizeof(*ev));
	keryu_uuid_new(ev->event_id);
	keryu_now_iso(ev->at);
	snprintf(ev->notification_id, sizeof(ev->notification_id), "%s", nid);
	snprintf(ev->status, sizeof(ev->status), "%s", status);
	snprintf(ev->channel, sizeof(ev->channel), "whatsapp");
	snprintf(ev->provider_message_id, sizeof(ev->provider_message_id),
		 "%s", msg_id ? msg_id : "");
	ev->attempt = attempt;
}

/* A fresh alarm on TAG_ON; returns its notification id in nid. */
static void new_notification(char nid[KERYU_UUID_LEN])
{
	struct keryu_scan_event ev;
	struct keryu_alarm_created out;

	scan_event(&ev, TAG_ON, "2026-03-04T05:06:07.000Z");
	assert_int_equal(fx.st->alarm_from_scan(fx.st->self, &ev,
						fx_pol("whatsapp"), &out),
			 0);
	assert_true(out.created);
	assert_true(keryu_uuid_valid(out.notification_id));
	memcpy(nid, out.notification_id, KERYU_UUID_LEN);
}

static const char *status_of(const char *nid)
{
	static char buf[32];
	const char *v[] = {nid};

	return fx_scalarv(
		buf, sizeof(buf),
		"SELECT status FROM notifications WHERE id = $1::uuid", 1, v);
}

static const char *alarm_field(const char *nid, const char *col)
{
	static char buf[512];
	char sql[256];
	const char *v[] = {nid};

	snprintf(sql, sizeof(sql),
		 "SELECT a.%s FROM alarms a JOIN notifications n "
		 "ON n.alarm_id = a.id WHERE n.id = $1::uuid",
		 col);
	return fx_scalarv(buf, sizeof(buf), sql, 1, v);
}

/* No log line may carry a phone number or a name. */
static void assert_logs_clean(void)
{
	fx_assert_logs_clean("+1555", "5550109999", "Ana", "Bruno", NULL);
}

/* ---- tests, run in order ---- */

/* Every embedded migration is applied once; these tests check the first
 * (issue 2's schema) and leave later ones to tests of their own. */
static long migration_count(void)
{
	size_t n = 0;

	storage_migrations(&n);
	return (long)n;
}

static void test_migrations_apply(void **unused)
{
	char buf[64];

	(void)unused;
	assert_int_equal(fx_start("3"), 0);
	assert_non_null(fx.st);
	assert_int_equal(fx.st->struct_size, sizeof(struct keryu_storage));
	assert_true(fake_host_log_contains("storage.migrated version=1"));
	assert_int_equal(
		fx_count("SELECT count(*) FROM schema_migrations", NULL),
		migration_count());
	assert_string_equal(fx_scalarv(buf, sizeof(buf),
				       "SELECT name FROM schema_migrations "
				       "WHERE version = 1",
				       0, NULL),
			    "schema");
	assert_int_equal(
		fx_count("SELECT count(*) FROM information_schema.tables "
			 "WHERE table_schema = 'public' AND table_name "
			 "IN ('schema_migrations', 'custodians', "
			 "'subjects', 'subject_qr_codes', 'alarms', "
			 "'notifications', 'notification_events')",
			 NULL),
		7);
	assert_int_equal(fx.st->ping(fx.st->self), 0);
}

static void test_migrations_twice(void **unused)
{
	char before[64], after[64];
	const char *q = "SELECT applied_at::text FROM schema_migrations "
			"WHERE version = 1";

	(void)unused;
	fx_scalarv(before, sizeof(before), q, 0, NULL);
	fx_stop();
	assert_int_equal(fx_start("3"), 0);
	assert_false(fake_host_log_contains("storage.migrated"));
	assert_int_equal(
		fx_count("SELECT count(*) FROM schema_migrations", NULL),
		migration_count());
	assert_string_equal(fx_scalarv(after, sizeof(after), q, 0, NULL),
			    before);
}

static void test_seed(void **unused)
{
	(void)unused;
	PQclear(fx_sqlv("INSERT INTO custodians (id, email, name, phone_e164, "
			"phone_verified_at) VALUES "
			"('" CUSTODIAN
			"', 'custodian@example.org', 'Carla', '" PHONE
			"', now())",
			0, NULL));
	PQclear(fx_sqlv("INSERT INTO subjects (id, custodian_id, name, "
			"date_of_birth, gender, is_active) VALUES "
			"('" SUBJECT "', '" CUSTODIAN "', '  Ana María Demo', "
			"'2018-04-02', 'F', true), "
			"('" SUBJECT_OFF "', '" CUSTODIAN "', 'Bruno', "
			"'2015-01-01', 'M', false)",
			0, NULL));
	PQclear(fx_sqlv("INSERT INTO subject_qr_codes (uuid, subject_id, "
			"is_active, activated_at) VALUES "
			"('" TAG_ON "', '" SUBJECT "', true, now()), "
			"('" TAG_OFF "', '" SUBJECT "', false, NULL), "
			"('" TAG_SUBJECT_OFF "', '" SUBJECT_OFF
			"', true, now())",
			0, NULL));
}

static void test_tag_lookup(void **unused)
{
	struct keryu_tag_info t;
	const struct keryu_storage *st = fx.st;

	(void)unused;
	assert_int_equal(st->tag_lookup(st->self, TAG_ON, &t), 0);
	assert_string_equal(t.qr_uuid, TAG_ON);
	assert_string_equal(t.subject_id, SUBJECT);
	assert_string_equal(t.custodian_id, CUSTODIAN);
	assert_string_equal(t.subject_name, "  Ana María Demo");
	assert_string_equal(t.first_name, "Ana");
	/* any case is a uuid; what comes back is lower case */
	assert_int_equal(st->tag_lookup(st->self,
					"6F1B1D3E-0000-4000-8000-0000000000A1",
					&t),
			 0);
	assert_string_equal(t.qr_uuid, TAG_ON);

	assert_int_equal(st->tag_lookup(st->self, TAG_OFF, &t),
			 KERYU_ENOTFOUND);
	assert_int_equal(st->tag_lookup(st->self, TAG_SUBJECT_OFF, &t),
			 KERYU_ENOTFOUND);
	assert_int_equal(st->tag_lookup(st->self, TAG_UNKNOWN, &t),
			 KERYU_ENOTFOUND);
	assert_string_equal(t.subject_name, "");

	assert_int_equal(st->tag_lookup(st->self, "not-a-uuid", &t),
			 KERYU_EINVAL);
	assert_int_equal(st->tag_lookup(st->self, TAG_ON "0", &t),
			 KERYU_EINVAL);
	assert_int_equal(st->tag_lookup(st->self,
					"6f1b1d3e-0000-4000-8000-0000000000a'",
					&t),
			 KERYU_EINVAL);
	assert_int_equal(st->tag_lookup(st->self, "", &t), KERYU_EINVAL);
	assert_int_equal(st->tag_lookup(st->self, NULL, &t), KERYU_EINVAL);
	assert_int_equal(st->tag_lookup(st->self, TAG_ON, NULL), KERYU_EINVAL);
	assert_logs_clean();
}

static void test_alarm_from_scan(void **unused)
{
	const struct keryu_storage *st = fx.st;
	struct keryu_scan_event ev;
	struct keryu_alarm_created out, again;
	char buf[128];
	const char *v[2];

	(void)unused;
	scan_event(&ev, TAG_ON, "2026-01-02T03:04:05.678Z");
	ev.has_location = true;
	ev.lat = -33.4489;
	ev.lng = -70.6693;
	ev.accuracy_m = 12.5;
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		0);
	assert_true(out.created);
	assert_true(keryu_uuid_valid(out.alarm_id));
	assert_true(keryu_uuid_valid(out.notification_id));
	assert_string_equal(out.subject_id, SUBJECT);
	assert_string_equal(out.recipient, PHONE);
	assert_string_equal(out.subject_name, "  Ana María Demo");
	assert_string_equal(out.scanned_at, "2026-01-02T03:04:05.678Z");

	v[0] = ev.event_id;
	assert_int_equal(fx_count("SELECT count(*) FROM alarms "
				  "WHERE event_id = $1::uuid",
				  ev.event_id),
			 1);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications n "
				  "JOIN alarms a ON a.id = n.alarm_id "
				  "WHERE a.event_id = $1::uuid "
				  "AND n.status = 'PENDING' "
				  "AND n.channel = 'whatsapp' "
				  "AND n.recipient = '" PHONE "' "
				  "AND n.custodian_id = '" CUSTODIAN "'",
				  ev.event_id),
			 1);
	assert_string_equal(
		fx_scalarv(buf, sizeof(buf),
			   "SELECT latitude || ',' || longitude || ',' || "
			   "accuracy_m || ',' || user_agent FROM alarms "
			   "WHERE event_id = $1::uuid",
			   1, v),
		"-33.4489,-70.6693,12.5,test-agent/1.0");
	assert_string_equal(
		fx_scalarv(buf, sizeof(buf),
			   "SELECT last_used = '2026-01-02T03:04:05.678Z'"
			   "::timestamptz FROM subject_qr_codes "
			   "WHERE uuid = '" TAG_ON "'",
			   0, NULL),
		"t");

	/* the same event again: nothing new, the first alarm reported */
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &again),
		0);
	assert_false(again.created);
	assert_string_equal(again.alarm_id, out.alarm_id);
	assert_string_equal(again.notification_id, out.notification_id);
	assert_string_equal(again.recipient, PHONE);
	assert_string_equal(again.subject_id, SUBJECT);
	assert_string_equal(again.scanned_at, out.scanned_at);
	assert_true(out.notification_pending);
	assert_true(again.notification_pending);
	assert_int_equal(fx_count("SELECT count(*) FROM alarms "
				  "WHERE event_id = $1::uuid",
				  ev.event_id),
			 1);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications n "
				  "JOIN alarms a ON a.id = n.alarm_id "
				  "WHERE a.event_id = $1::uuid",
				  ev.event_id),
			 1);

	/* an older replayed scan does not move last_used back */
	scan_event(&ev, TAG_ON, "2025-01-01T00:00:00Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		0);
	assert_true(out.created);
	assert_string_equal(
		fx_scalarv(buf, sizeof(buf),
			   "SELECT last_used = '2026-01-02T03:04:05.678Z'"
			   "::timestamptz FROM subject_qr_codes "
			   "WHERE uuid = '" TAG_ON "'",
			   0, NULL),
		"t");

	/* a tag deactivated since it was printed still raises the alarm */
	scan_event(&ev, TAG_OFF, "2026-01-02T03:05:00Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("log"), &out), 0);
	assert_true(out.created);
	assert_true(keryu_uuid_valid(out.notification_id));
	assert_logs_clean();
}

/* notification_pending: true while the notification waits to be handed to
 * the bus, so that a scan redelivered after a crash between the commit and
 * the publish still sends it; false once QUEUED, and when there is
 * none. */
static void test_alarm_pending_flag(void **unused)
{
	const struct keryu_storage *st = fx.st;
	struct keryu_scan_event ev;
	struct keryu_alarm_created out, again;
	struct keryu_delivery_event d;

	(void)unused;
	scan_event(&ev, TAG_ON, "2026-01-04T00:00:00Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		0);
	assert_true(out.created);
	assert_true(out.notification_pending);

	/* seen again before anything was queued: still pending */
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &again),
		0);
	assert_false(again.created);
	assert_true(again.notification_pending);
	assert_string_equal(again.notification_id, out.notification_id);
	assert_string_equal(again.recipient, PHONE);
	/* the policy's channel does not matter once the alarm exists: its
	 * step-0 notification is what is reported */
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("log"), &again), 0);
	assert_false(again.created);
	assert_true(again.notification_pending);
	assert_string_equal(again.channel, "whatsapp");

	/* handed to the bus: a redelivered scan sends nothing */
	assert_int_equal(st->notification_queued(st->self, out.notification_id,
						 1, 60),
			 0);
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &again),
		0);
	assert_false(again.created);
	assert_false(again.notification_pending);
	delivery(&d, out.notification_id, "delivered", 1, "wamid.pending");
	assert_int_equal(st->notification_result(st->self, &d, 60), 0);
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &again),
		0);
	assert_false(again.notification_pending);
	assert_int_equal(fx_count("SELECT count(*) FROM alarms "
				  "WHERE event_id = $1::uuid",
				  ev.event_id),
			 1);

	/* nobody to notify: nothing pending, new or seen */
	PQclear(fx_sqlv("UPDATE custodians SET whatsapp_opt_in = false", 0,
			NULL));
	scan_event(&ev, TAG_ON, "2026-01-04T00:00:01Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		0);
	assert_true(out.created);
	assert_false(out.notification_pending);
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		0);
	assert_false(out.notification_pending);
	PQclear(fx_sqlv("UPDATE custodians SET whatsapp_opt_in = true", 0,
			NULL));
	assert_logs_clean();
}

/* Nobody to notify: the alarm is still recorded, with no notification. */
static void test_alarm_nobody_to_notify(void **unused)
{
	const struct keryu_storage *st = fx.st;
	struct keryu_scan_event ev;
	struct keryu_alarm_created out;

	(void)unused;
	PQclear(fx_sqlv("UPDATE custodians SET whatsapp_opt_in = false", 0,
			NULL));
	scan_event(&ev, TAG_ON, "2026-01-03T00:00:00Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		0);
	assert_true(out.created);
	assert_true(keryu_uuid_valid(out.alarm_id));
	assert_string_equal(out.notification_id, "");
	assert_string_equal(out.recipient, "");
	/* the log channel messages nobody, so opting out of WhatsApp does
	 * not silence it */
	scan_event(&ev, TAG_ON, "2026-01-03T00:00:01Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("log"), &out), 0);
	assert_true(keryu_uuid_valid(out.notification_id));
	PQclear(fx_sqlv("UPDATE custodians SET whatsapp_opt_in = true, "
			"is_active = false",
			0, NULL));
	scan_event(&ev, TAG_ON, "2026-01-03T00:00:02Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("log"), &out), 0);
	assert_true(out.created);
	assert_string_equal(out.notification_id, "");
	/* seen again: still reported without a notification */
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("log"), &out), 0);
	assert_false(out.created);
	assert_string_equal(out.notification_id, "");
	PQclear(fx_sqlv("UPDATE custodians SET is_active = true", 0, NULL));
	/* a phone never verified could be anyone's: the alarm is kept, no
	 * message goes to it */
	PQclear(fx_sqlv("UPDATE custodians SET phone_verified_at = NULL", 0,
			NULL));
	scan_event(&ev, TAG_ON, "2026-01-03T00:00:03Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("log"), &out), 0);
	assert_true(out.created);
	assert_true(keryu_uuid_valid(out.alarm_id));
	assert_string_equal(out.notification_id, "");
	assert_string_equal(out.recipient, "");
	PQclear(fx_sqlv("UPDATE custodians SET phone_verified_at = now()", 0,
			NULL));
}

static void test_alarm_bad_input(void **unused)
{
	const struct keryu_storage *st = fx.st;
	struct keryu_scan_event ev;
	struct keryu_alarm_created out;
	long alarms = fx_count("SELECT count(*) FROM alarms", NULL);

	(void)unused;
	scan_event(&ev, TAG_UNKNOWN, "2026-01-02T03:04:05Z");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		KERYU_ENOTFOUND);
	assert_false(out.created);

	scan_event(&ev, TAG_ON, "2026-01-02T03:04:05Z");
	snprintf(ev.event_id, sizeof(ev.event_id), "nope");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		KERYU_EINVAL);
	scan_event(&ev, "6f1b1d3e-0000-4000-8000-0000000000zz", "2026-01-02");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		KERYU_EINVAL);
	scan_event(&ev, TAG_ON, "2026-01-02T03:04:05Z");
	assert_int_equal(st->alarm_from_scan(st->self, &ev, fx_pol(""), &out),
			 KERYU_EINVAL);
	assert_int_equal(st->alarm_from_scan(st->self, &ev, fx_pol(NULL), &out),
			 KERYU_EINVAL);
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("what'sapp"), &out),
		KERYU_EINVAL);
	assert_int_equal(
		st->alarm_from_scan(st->self, NULL, fx_pol("whatsapp"), &out),
		KERYU_EINVAL);
	/* rejected by PostgreSQL, mid-transaction: still nothing written */
	scan_event(&ev, TAG_ON, "not a time");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		KERYU_EINVAL);
	scan_event(&ev, TAG_ON, "");
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		KERYU_EINVAL);
	scan_event(&ev, TAG_ON, "2026-01-02T03:04:05Z");
	ev.has_location = true;
	ev.lat = 91;
	assert_int_equal(
		st->alarm_from_scan(st->self, &ev, fx_pol("whatsapp"), &out),
		KERYU_EINVAL);
	assert_int_equal(fx_count("SELECT count(*) FROM alarms", NULL), alarms);
	/* the connection that saw the errors is still fine */
	assert_int_equal(st->ping(st->self), 0);
	assert_logs_clean();
}

static void test_result_forward_only(void **unused)
{
	const struct keryu_storage *st = fx.st;
	struct keryu_delivery_event ev, dup;
	char nid[KERYU_UUID_LEN], buf[64];
	const char *v[1];
	long events;

	(void)unused;
	new_notification(nid);
	v[0] = nid;
	assert_int_equal(st->notification_queued(st->self, nid, 1, 60), 0);
	assert_string_equal(status_of(nid), "QUEUED");
	assert_string_equal(alarm_field(nid, "notification_status"), "QUEUED");

	delivery(&ev, nid, "sent", 1, "wamid.ABC");
	assert_int_equal(st->notification_result(st->self, &ev, 60), 0);
	assert_string_equal(status_of(nid), "SENT");
	assert_string_equal(fx_scalarv(buf, sizeof(buf),
				       "SELECT (sent_at IS NOT NULL)::text || "
				       "attempts || provider_message_id "
				       "FROM notifications WHERE id = $1::uuid",
				       1, v),
			    "true1wamid.ABC");
	assert_string_equal(alarm_field(nid, "notification_sent"), "t");
	assert_string_equal(alarm_field(nid, "whatsapp_message_id"),
			    "wamid.ABC");

	delivery(&ev, nid, "delivered", 0, "wamid.ABC");
	assert_int_equal(st->notification_result(st->self, &ev, 60), 0);
	assert_string_equal(status_of(nid), "DELIVERED");
	assert_string_equal(alarm_field(nid, "notification_status"),
			    "DELIVERED");
	/* a duplicate of that event, even one claiming another status */
	dup = ev;
	snprintf(dup.status, sizeof(dup.status), "read");
	events = fx_count("SELECT count(*) FROM notification_events "
			  "WHERE notification_id = $1::uuid",
			  nid);
	assert_int_equal(st->notification_result(st->self, &dup, 60), 0);
	assert_string_equal(status_of(nid), "DELIVERED");
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid",
				  nid),
			 events);

	/* late "sent" after "delivered": stays delivered */
	delivery(&ev, nid, "sent", 2, "wamid.OTHER");
	assert_int_equal(st->notification_result(st->self, &ev, 60), 0);
	assert_string_equal(status_of(nid), "DELIVERED");
	assert_string_equal(alarm_field(nid, "whatsapp_message_id"),
			    "wamid.ABC");
	/* the status stays, the attempt is counted */
	assert_string_equal(fx_scalarv(buf, sizeof(buf),
				       "SELECT attempts FROM notifications "
				       "WHERE id = $1::uuid",
				       1, v),
			    "2");

	delivery(&ev, nid, "read", 0, "");
	assert_int_equal(st->notification_result(st->self, &ev, 60), 0);
	assert_string_equal(status_of(nid), "READ");
	assert_string_equal(alarm_field(nid, "notification_status"), "READ");
	assert_string_equal(
		fx_scalarv(buf, sizeof(buf),
			   "SELECT (read_at IS NOT NULL AND delivered_at "
			   "IS NOT NULL)::text || provider_message_id "
			   "FROM notifications WHERE id = $1::uuid",
			   1, v),
		"truewamid.ABC");
	assert_logs_clean();
}

static void test_result_failed_is_final(void **unused)
{
	const struct keryu_storage *st = fx.st;
	struct keryu_delivery_event ev;
	char nid[KERYU_UUID_LEN], buf[128];
	const char *v[1];

	(void)unused;
	new_notification(nid);
	v[0] = nid;
	assert_int_equal(st->notification_queued(st->self, nid, 1, 60), 0);
	assert_int_equal(st->notification_queued(st->self, nid, 2, 60), 0);
	delivery(&ev, nid, "failed", 2, "");
	snprintf(ev.error_code, sizeof(ev.error_code), "131026");
	snprintf(ev.error_text, sizeof(ev.error_text), "Message undeliverable");
	assert_int_equal(st->notification_result(st->self, &ev, 60), 0);
	assert_string_equal(status_of(nid), "FAILED");
	assert_string_equal(
		fx_scalarv(buf, sizeof(buf),
			   "SELECT last_error_code || '|' || last_error "
			   "|| '|' || attempts || '|' || "
			   "(failed_at IS NOT NULL)::text "
			   "FROM notifications WHERE id = $1::uuid",
			   1, v),
		"131026|Message undeliverable|2|true");
	assert_string_equal(alarm_field(nid, "notification_status"), "FAILED");
	assert_string_equal(alarm_field(nid, "notification_error"),
			    "131026: Message undeliverable");
	assert_string_equal(alarm_field(nid, "notification_attempts"), "2");
	assert_string_equal(alarm_field(nid, "notification_sent"), "f");

	delivery(&ev, nid, "delivered", 0, "wamid.LATE");
	assert_int_equal(st->notification_result(st->self, &ev, 60), 0);
	assert_string_equal(status_of(nid), "FAILED");
	delivery(&ev, nid, "error", 3, "");
	assert_int_equal(st->notification_result(st->self, &ev, 60), 0);
	assert_string_equal(status_of(nid), "FAILED");
	assert_string_equal(alarm_field(nid, "notification_status"), "FAILED");
	/* queued again (a confused re-drive) cannot revive it either */
	assert_int_equal(st->notification_queued(st->self, nid, 3, 60), 0);
	assert_string_equal(status_of(nid), "FAILED");
	assert_logs_clean();
}

static void test_result_bad_input(void **unused)
{
	const struct keryu_storage *st = fx.st;
	struct keryu_delivery_event ev;
	char nid[KERYU_UUID_LEN], unknown[KERYU_UUID_LEN];
	long events =
		fx_count("SELECT count(*) FROM notification_events", NULL);

	(void)unused;
	new_notification(nid);
	keryu_uuid_new(unknown);
	delivery(&ev, unknown, "sent", 1, "");
	assert_int_equal(st->notification_result(st->self, &ev, 60),
			 KERYU_ENOTFOUND);
	assert_int_equal(st->notification_queued(st->self, unknown, 1, 60),
			 KERYU_ENOTFOUND);

	delivery(&ev, nid, "bogus", 1, "");
	assert_int_equal(st->notification_result(st->self, &ev, 60), KERYU_EINVAL);
	delivery(&ev, nid, "SENT", 1, ""); /* the bus speaks lower case */
	assert_int_equal(st->notification_result(st->self, &ev, 60), KERYU_EINVAL);
	delivery(&ev, "12345", "sent", 1, "");
	assert_int_equal(st->notification_result(st->self, &ev, 60), KERYU_EINVAL);
	delivery(&ev, nid, "sent", 1, "");
	snprintf(ev.event_id, sizeof(ev.event_id), "x");
	assert_int_equal(st->notification_result(st->self, &ev, 60), KERYU_EINVAL);
	delivery(&ev, nid, "sent", -1, "");
	assert_int_equal(st->notification_result(st->self, &ev, 60), KERYU_EINVAL);
	delivery(&ev, nid, "sent", 1, "");
	snprintf(ev.at, sizeof(ev.at), "yesterday-ish");
	assert_int_equal(st->notification_result(st->self, &ev, 60), KERYU_EINVAL);
	assert_int_equal(st->notification_result(st->self, NULL, 60), KERYU_EINVAL);
	assert_int_equal(st->notification_queued(st->self, "nope", 1, 60),
			 KERYU_EINVAL);
	assert_int_equal(st->notification_queued(st->self, nid, 0, 60),
			 KERYU_EINVAL);
	assert_string_equal(status_of(nid), "PENDING");
	assert_int_equal(
		fx_count("SELECT count(*) FROM notification_events", NULL),
		events);
}

struct scan_race {
	const struct keryu_scan_event *ev;
	struct keryu_alarm_created out;
	int rc;
};

static void *scan_racer(void *arg)
{
	struct scan_race *r = arg;

	r->rc = fx.st->alarm_from_scan(fx.st->self, r->ev, fx_pol("whatsapp"),
				       &r->out);
	return NULL;
}

/* One scan event delivered to several workers at once (at-least-once
 * delivery, a shared subscription rebalancing): one alarm. More threads
 * than pool connections, so callers also wait for each other. */
static void test_concurrent_scans(void **unused)
{
	struct keryu_scan_event ev;
	struct scan_race r[8];
	pthread_t th[8];
	int i, created = 0;

	(void)unused;
	/* no offset: read as UTC whatever the server's time zone */
	scan_event(&ev, TAG_ON, "2026-05-05T10:00:00");
	for (i = 0; i < 8; i++) {
		r[i].ev = &ev;
		assert_int_equal(pthread_create(&th[i], NULL, scan_racer, &r[i]),
				 0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 8; i++) {
		assert_int_equal(r[i].rc, 0);
		created += r[i].out.created;
		assert_string_equal(r[i].out.alarm_id, r[0].out.alarm_id);
		assert_string_equal(r[i].out.notification_id,
				    r[0].out.notification_id);
		assert_string_equal(r[i].out.scanned_at,
				    "2026-05-05T10:00:00.000Z");
	}
	assert_int_equal(created, 1);
	assert_int_equal(fx_count("SELECT count(*) FROM alarms "
				  "WHERE event_id = $1::uuid",
				  ev.event_id),
			 1);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications n "
				  "JOIN alarms a ON a.id = n.alarm_id "
				  "WHERE a.event_id = $1::uuid",
				  ev.event_id),
			 1);
}

struct result_race {
	struct keryu_delivery_event ev;
	int rc;
};

static void *result_racer(void *arg)
{
	struct result_race *r = arg;

	r->rc = fx.st->notification_result(fx.st->self, &r->ev, 60);
	return NULL;
}

/* Webhook statuses racing each other end at the furthest one. */
static void test_concurrent_results(void **unused)
{
	static const char *const order[] = {"delivered", "sent", "read",
					    "sent",	 "delivered", "sent",
					    "delivered", "sent"};
	struct result_race r[8];
	pthread_t th[8];
	char nid[KERYU_UUID_LEN];
	int i;

	(void)unused;
	new_notification(nid);
	for (i = 0; i < 8; i++)
		delivery(&r[i].ev, nid, order[i], 1, "wamid.RACE");
	for (i = 0; i < 8; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, result_racer, &r[i]), 0);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 8; i++)
		assert_int_equal(r[i].rc, 0);
	assert_string_equal(status_of(nid), "READ");
	assert_string_equal(alarm_field(nid, "notification_status"), "READ");
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid",
				  nid),
			 8);
}

/* The server drops every pool connection (a restart, a failover): the
 * next call reconnects and succeeds. */
static void test_reconnect(void **unused)
{
	struct keryu_tag_info t;
	const char *v[] = {fx.db_name};

	(void)unused;
	PQclear(fx_sqlv(
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		"WHERE datname = $1 AND pid <> pg_backend_pid()",
		1, v));
	usleep(100 * 1000);
	assert_int_equal(fx.st->tag_lookup(fx.st->self, TAG_ON, &t), 0);
	assert_string_equal(t.first_name, "Ana");
	assert_true(fake_host_log_contains("storage.reconnected"));
	assert_int_equal(fx.st->ping(fx.st->self), 0);
	/* the new sessions prepare their statements again: a statement the
	 * old ones had prepared runs on every connection of the pool */
	for (int i = 0; i < 8; i++) {
		assert_int_equal(fx.st->tag_lookup(fx.st->self, TAG_ON, &t), 0);
		assert_string_equal(t.first_name, "Ana");
	}
}

static void test_unreachable(void **unused)
{
	void *state = NULL;
	int rc;

	(void)unused;
	fx_stop();
	fake_host_reset(&keryu_module);
	/* port 1 on loopback: nothing listens, refused at once */
	fake_host_set("database_url", "postgresql://keryu@127.0.0.1:1/keryu");
	fake_host_set("connect_timeout_s", "1");
	rc = keryu_module.init(fake_mod(), fake_host(), &state);
	assert_int_equal(rc, KERYU_EIO);
	assert_null(state);
	assert_true(fake_host_log_contains("storage.connect_failed"));
}

/* A freed connection goes to the thread that waited longest: a thread
 * that gives one back and asks again at once (a request of several
 * queries) must not overtake a waiter, or under load that waiter can wait
 * for seconds. Pool of one: B queues while A holds it; A gives it back and
 * asks again at once; B runs first. */
struct fifo_race {
	struct storage_pool *pool;
	pthread_mutex_t mu;
	char order[4];
	int n;
	pthread_t b;
};

struct fifo_arg {
	struct fifo_race *f;
	char who;
};

static int fifo_note(struct storage_pool *p, PGconn *c, void *arg)
{
	struct fifo_arg *a = arg;

	(void)p;
	(void)c;
	pthread_mutex_lock(&a->f->mu);
	if (a->f->n < 3)
		a->f->order[a->f->n++] = a->who;
	pthread_mutex_unlock(&a->f->mu);
	return 0;
}

static void *fifo_b(void *arg)
{
	struct fifo_arg *a = arg;

	storage_pool_run(a->f->pool, "fifo.b", fifo_note, a);
	return NULL;
}

static int fifo_hold(struct storage_pool *p, PGconn *c, void *arg)
{
	static struct fifo_arg b;
	struct fifo_race *f = arg;

	(void)p;
	(void)c;
	b.f = f;
	b.who = 'B';
	if (pthread_create(&f->b, NULL, fifo_b, &b) != 0)
		return KERYU_ERR;
	usleep(300 * 1000); /* B is waiting for the one connection */
	return 0;
}

static void test_pool_hands_over_in_order(void **unused)
{
	struct storage_pool_config cfg = {fx.db_url, 1, 5};
	struct fifo_race f = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct fifo_arg a = {&f, 'A'};

	(void)unused;
	assert_int_equal(storage_pool_open(fake_host(), fake_mod(), &cfg,
					   &f.pool),
			 0);
	assert_int_equal(storage_pool_run(f.pool, "fifo.hold", fifo_hold, &f),
			 0);
	/* at once, while B is still being woken */
	assert_int_equal(storage_pool_run(f.pool, "fifo.a", fifo_note, &a), 0);
	pthread_join(f.b, NULL);
	f.order[f.n] = '\0';
	assert_string_equal(f.order, "BA");
	storage_pool_free(f.pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations_apply),
		cmocka_unit_test(test_migrations_twice),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_tag_lookup),
		cmocka_unit_test(test_alarm_from_scan),
		cmocka_unit_test(test_alarm_pending_flag),
		cmocka_unit_test(test_alarm_nobody_to_notify),
		cmocka_unit_test(test_alarm_bad_input),
		cmocka_unit_test(test_result_forward_only),
		cmocka_unit_test(test_result_failed_is_final),
		cmocka_unit_test(test_result_bad_input),
		cmocka_unit_test(test_concurrent_scans),
		cmocka_unit_test(test_concurrent_results),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_pool_hands_over_in_order),
		cmocka_unit_test(test_unreachable),
	};
	return fx_run("integration.storage", "keryu_test", "America/Santiago",
		      tests, sizeof(tests) / sizeof(tests[0]));
}
