/* integration.storage_delivery: issue 4's delivery storage (migration 004,
 * keryu/storage.h's alarm_from_scan, notification_queued,
 * notification_result, notify_due, alarm_acknowledge, and the subjects
 * service's alarm detail, timeline and acknowledge) against a real
 * PostgreSQL.
 *
 * Needs KERYU_TEST_DATABASE_URL, like integration.storage: a server where
 * this test may CREATE DATABASE. The database starts at migration 003 with
 * an open alarm and a FAILED notification in it, so that the first test
 * proves 004 upgrades it without waking them up. Time is moved by
 * rewriting timestamps in the database, never by sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
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

/* data made before migration 004 */
#define OLD_CUSTODIAN "4d000000-0000-4000-8000-000000000001"
#define OLD_SUBJECT "4d000000-0000-4000-8000-000000000002"
#define OLD_TAG "4d000000-0000-4000-8000-0000000000a1"
#define OLD_ALARM "4d000000-0000-4000-8000-0000000000b1"
#define OLD_NOTIFICATION "4d000000-0000-4000-8000-0000000000c1"
#define OLD_PHONE "+15550400001"

#define JOBS_MAX 64

/* ---- helpers ---- */

static void timeline(const struct fx_world *w, const char *alarm_id,
		     struct keryu_timeline_entry *tl, size_t max, size_t *n)
{
	assert_int_equal(fx.sj->alarm_timeline(fx.sj->self, w->custodian,
					       alarm_id, tl, max, n),
			 0);
}

/* No log line may carry a phone number or a name. */
static void assert_logs_clean(void)
{
	fx_assert_logs_clean("+1555", "555041", "Ana", "Carla", NULL);
}

/* ---- tests, run in order ---- */

static void test_upgrade_from_003(void **unused)
{
	const struct storage_migration *list;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct keryu_alarm_policy p = fx_policy();
	char buf[256];
	size_t n;
	PGresult *r;

	(void)unused;
	list = storage_migrations(&n);
	assert_true(n >= 4);
	assert_int_equal(list[3].version, 4);
	assert_string_equal(list[3].name, "delivery");
	fx_migrate_by_hand(3);
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
	fx_sql1("INSERT INTO contacts (subject_id, name, phone_e164, channel, "
		"position, verified_at) VALUES ('" OLD_SUBJECT "', 'Otto', "
		"'+15550400002', 'twilio', 1, now())",
		NULL);
	fx_sql1("INSERT INTO alarms (id, event_id, subject_id, qr_uuid, "
		"scanned_at, notification_status) VALUES ('" OLD_ALARM "', "
		"gen_random_uuid(), '" OLD_SUBJECT "', '" OLD_TAG "', "
		"now() - interval '1 day', 'FAILED')",
		NULL);
	fx_sql1("INSERT INTO notifications (id, alarm_id, custodian_id, "
		"channel, "
		"recipient, status) VALUES ('" OLD_NOTIFICATION "', '" OLD_ALARM
		"', '" OLD_CUSTODIAN "', 'whatsapp', '" OLD_PHONE
		"', 'FAILED')",
		NULL);

	assert_int_equal(fx_start("4"), 0);
	assert_non_null(fx.st);
	assert_non_null(fx.sj);
	assert_true(fake_host_log_contains(
		"storage.migrated version=4 name=delivery"));
	assert_non_null(fx.st->notify_due);
	assert_non_null(fx.st->alarm_acknowledge);
	assert_non_null(fx.sj->alarm_acknowledge);
	/* old rows: never followed up, never escalated, on any policy */
	assert_string_equal(fx_nfield(OLD_NOTIFICATION, "followed_up"), "t");
	assert_string_equal(fx_afield(OLD_ALARM, "escalation_done"), "t");
	p.escalate_after_s = 1;
	p.ack_timeout_s = 1;
	p.fallback_channel = "sms";
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications", NULL),
			 1);
	/* new rows get the new defaults */
	fx_sql1("INSERT INTO notifications (alarm_id, custodian_id, channel, "
		"recipient) VALUES ('" OLD_ALARM "', '" OLD_CUSTODIAN
		"', 'sms', "
		"'" OLD_PHONE "')",
		NULL);
	assert_string_equal(
		fx_scalar(buf, sizeof(buf),
			  "SELECT followed_up::text || step || redrives "
			  "FROM notifications WHERE channel = 'sms'",
			  NULL),
		"false00");
	/* one per phone and channel; another phone on the same channel is
	 * fine (contacts) */
	r = PQexec(fx.db, "INSERT INTO notifications (alarm_id, custodian_id, "
			  "channel, recipient) VALUES ('" OLD_ALARM
			  "', '" OLD_CUSTODIAN "', 'sms', '" OLD_PHONE "')");
	assert_int_not_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	fx_sql1("INSERT INTO notifications (alarm_id, custodian_id, channel, "
		"recipient) VALUES ('" OLD_ALARM "', '" OLD_CUSTODIAN
		"', 'sms', "
		"'+15550400002')",
		NULL);
	/* channels are a format now, not a list */
	fx_sql1("UPDATE contacts SET channel = 'testchan', fallback_channel = "
		"'sms' WHERE subject_id = '" OLD_SUBJECT "'",
		NULL);
	r = PQexec(fx.db, "UPDATE contacts SET channel = 'Bad Channel'");
	assert_int_not_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	fx_quiesce();
}

/* The first recipient: the custodian when they can be reached on the
 * policy's channel, else the first verified contact on its own channel;
 * nobody: the alarm is exhausted from the start. */
static void test_routing(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	struct keryu_timeline_entry tl[8];
	struct fx_world w;
	size_t n;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 2, 0);
	fx_scan(&w, &p, &out);
	assert_false(out.joined);
	assert_true(out.notification_pending);
	assert_string_equal(out.channel, "whatsapp");
	assert_string_equal(out.recipient, w.phone);
	assert_string_equal(fx_nfield(out.notification_id, "step"), "0");
	assert_string_equal(
		fx_nfield(out.notification_id, "contact_id IS NULL"), "t");
	/* born PENDING with a lease, in case the publish never happens */
	assert_string_equal(fx_nfield(out.notification_id,
				      "lease_until > now() + interval '50 s'"),
			    "t");
	assert_string_equal(
		fx_afield(out.alarm_id, "step_started_at IS NOT NULL"), "t");

	/* unverified custodian: the first verified contact, on sms */
	fx_seed(&w, false, 3, 1u << 0);
	fx_scan(&w, &p, &out);
	assert_string_equal(out.channel, "sms");
	assert_string_equal(out.recipient, w.cphone[1]);
	assert_string_equal(fx_nfield(out.notification_id, "contact_id::text"),
			    w.contact[1]);

	/* opted out of WhatsApp: the same; on the log channel: the custodian */
	fx_seed(&w, true, 1, 0);
	fx_sql1("UPDATE custodians SET whatsapp_opt_in = false WHERE id = "
		"$1::uuid",
		w.custodian);
	fx_scan(&w, &p, &out);
	assert_string_equal(out.recipient, w.cphone[0]);
	p.channel = "log";
	fx_scan(&w, &p, &out);
	assert_string_equal(out.recipient, w.phone);
	assert_string_equal(out.channel, "log");
	p.channel = "whatsapp";

	/* nobody: recorded, exhausted, on the timeline */
	fx_seed(&w, false, 1, 1u);
	fx_scan(&w, &p, &out);
	assert_string_equal(out.notification_id, "");
	assert_false(out.notification_pending);
	assert_string_equal(fx_afield(out.alarm_id, "escalation_done"), "t");
	timeline(&w, out.alarm_id, tl, 8, &n);
	assert_int_equal(n, 1);
	assert_string_equal(tl[0].status, "EXHAUSTED");
	assert_string_equal(tl[0].notification_id, "");
	assert_string_equal(tl[0].error_text, "nobody to notify");
	assert_logs_clean();
}

/* A scan within the cooldown of an open alarm joins it: recorded, nobody
 * alerted again, never escalated. */
static void test_cooldown_join(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created first, out, again;
	struct keryu_alarm_detail d;
	struct keryu_scan_event ev;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct fx_world w;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 1, 0);
	p.cooldown_s = 600;
	fx_scan_at(&w, &p, "2026-06-01T10:00:00Z", &first);
	assert_true(keryu_uuid_valid(first.notification_id));
	fx_scan_at(&w, &p, "2026-06-01T10:05:00Z", &out);
	assert_true(out.joined);
	assert_string_equal(out.joined_alarm_id, first.alarm_id);
	assert_string_equal(out.notification_id, "");
	assert_false(out.notification_pending);
	assert_string_equal(out.subject_id, w.subject);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications n JOIN "
				  "alarms a ON a.id = n.alarm_id "
				  "WHERE a.subject_id = $1::uuid",
				  w.subject),
			 1);
	assert_int_equal(
		fx.sj->alarm_get(fx.sj->self, w.custodian, out.alarm_id, &d),
		0);
	assert_string_equal(d.joined_alarm_id, first.alarm_id);
	assert_string_equal(d.acknowledged_at, "");
	assert_int_equal(
		fx.sj->alarm_get(fx.sj->self, w.custodian, first.alarm_id, &d),
		0);
	assert_string_equal(d.joined_alarm_id, "");

	/* the same event again: still the joined scan */
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event_id, sizeof(ev.event_id), "%s",
		 fx_afield(out.alarm_id, "event_id::text"));
	snprintf(ev.at, sizeof(ev.at), "2026-06-01T10:05:00Z");
	snprintf(ev.qr_uuid, sizeof(ev.qr_uuid), "%s", w.tag);
	assert_int_equal(fx.st->alarm_from_scan(fx.st->self, &ev, &p, &again),
			 0);
	assert_false(again.created);
	assert_true(again.joined);
	assert_string_equal(again.alarm_id, out.alarm_id);
	assert_string_equal(again.joined_alarm_id, first.alarm_id);

	/* a joined scan never escalates, even one whose deadline would
	 * have passed long ago (the alarm it joined is out of the way) */
	p.escalate_after_s = 1;
	fx_sql1("UPDATE notifications SET lease_until = NULL", NULL);
	fx_sql1("UPDATE alarms SET escalation_done = true WHERE id = $1::uuid",
		first.alarm_id);
	fx_sql1("UPDATE alarms SET step_started_at = now() - interval '1 day', "
		"escalation_done = false WHERE id = $1::uuid",
		out.alarm_id);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	p.escalate_after_s = 0;

	/* past the cooldown: a new alarm */
	fx_scan_at(&w, &p, "2026-06-01T10:20:00Z", &out);
	assert_false(out.joined);
	assert_true(keryu_uuid_valid(out.notification_id));
	/* the newest open alarm is joined, not a resolved one */
	fx_sql1("UPDATE alarms SET resolved_at = now() WHERE id = $1::uuid",
		out.alarm_id);
	fx_scan_at(&w, &p, "2026-06-01T10:21:00Z", &again);
	assert_false(again.joined);
	/* cooldown off: every scan alerts */
	p.cooldown_s = 0;
	fx_scan_at(&w, &p, "2026-06-01T10:21:30Z", &out);
	assert_false(out.joined);
	assert_true(keryu_uuid_valid(out.notification_id));
	fx_quiesce();
	assert_logs_clean();
}

/* The ranks and the ERROR/lease rules of notification_result. */
static void test_ranks(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	struct keryu_delivery_event ev;
	struct fx_world w;
	const char *nid;
	long events;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	fx_scan(&w, &p, &out);
	nid = out.notification_id;
	assert_int_equal(fx.st->notification_queued(fx.st->self, nid, 1, 60),
			 0);
	assert_string_equal(fx_nfield(nid, "status"), "QUEUED");
	assert_string_equal(
		fx_nfield(nid, "lease_until > now() + interval '50 s'"), "t");
	/* queued twice for one attempt: the lease renewed, no new step */
	events = fx_count("SELECT count(*) FROM notification_events "
			  "WHERE notification_id = $1::uuid",
			  nid);
	assert_int_equal(fx.st->notification_queued(fx.st->self, nid, 1, 60),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid",
				  nid),
			 events);

	/* QUEUED -> ERROR (the channel retries in 1 s) */
	fx_result(nid, "error", 1, 1000, "131000", NULL);
	assert_string_equal(fx_nfield(nid, "status"), "ERROR");
	assert_string_equal(fx_nfield(nid, "retry_hint"), "t");
	assert_string_equal(
		fx_nfield(nid, "lease_until BETWEEN now() + interval '60 s' "
			       "AND now() + interval '62 s'"),
		"t");
	assert_string_equal(fx_afield(out.alarm_id, "notification_status"),
			    "ERROR");
	/* ERROR -> ERROR of a newer attempt, the last one (-1) */
	fx_result(nid, "error", 2, -1, "131000", NULL);
	assert_string_equal(fx_nfield(nid, "attempts"), "2");
	assert_string_equal(fx_nfield(nid, "retry_hint"), "f");
	/* an older attempt's ERROR changes nothing, but is on the timeline */
	events = fx_count("SELECT count(*) FROM notification_events "
			  "WHERE notification_id = $1::uuid",
			  nid);
	fx_result(nid, "error", 1, 5000, "131000", NULL);
	assert_string_equal(fx_nfield(nid, "attempts"), "2");
	assert_string_equal(fx_nfield(nid, "retry_hint"), "f");
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid",
				  nid),
			 events + 1);
	/* a queued call for that attempt, late: left as it is */
	assert_int_equal(fx.st->notification_queued(fx.st->self, nid, 2, 60),
			 0);
	assert_string_equal(fx_nfield(nid, "status"), "ERROR");
	/* ERROR -> SENT (a webhook settles it): the lease ends */
	fx_result(nid, "sent", 0, -1, NULL, &ev);
	assert_string_equal(fx_nfield(nid, "status"), "SENT");
	assert_string_equal(fx_nfield(nid, "lease_until IS NULL"), "t");
	assert_string_equal(fx_afield(out.alarm_id, "notification_status"),
			    "SENT");
	/* a duplicate event id, even claiming more, changes nothing */
	events = fx_count("SELECT count(*) FROM notification_events "
			  "WHERE notification_id = $1::uuid",
			  nid);
	snprintf(ev.status, sizeof(ev.status), "read");
	assert_int_equal(fx.st->notification_result(fx.st->self, &ev, 60), 0);
	assert_string_equal(fx_nfield(nid, "status"), "SENT");
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid",
				  nid),
			 events);
	/* backward moves change nothing: ERROR after SENT, QUEUED */
	fx_result(nid, "error", 3, 1000, NULL, NULL);
	assert_string_equal(fx_nfield(nid, "status"), "SENT");
	/* ...but the attempt is counted: a webhook's "sent" can overtake
	 * the channel's own result of the attempt that sent it */
	assert_string_equal(fx_nfield(nid, "attempts"), "3");
	assert_int_equal(fx.st->notification_queued(fx.st->self, nid, 4, 60),
			 0);
	assert_string_equal(fx_nfield(nid, "status"), "SENT");
	fx_result(nid, "delivered", 0, -1, NULL, NULL);
	fx_result(nid, "sent", 0, -1, NULL, NULL);
	assert_string_equal(fx_nfield(nid, "status"), "DELIVERED");
	fx_result(nid, "read", 0, -1, NULL, NULL);
	assert_string_equal(fx_nfield(nid, "status"), "READ");
	assert_string_equal(fx_afield(out.alarm_id, "notification_status"),
			    "READ");
	/* FAILED after READ is still the highest rank, and final */
	fx_result(nid, "failed", 0, -1, "131026", NULL);
	assert_string_equal(fx_nfield(nid, "status"), "FAILED");
	assert_string_equal(fx_nfield(nid, "followed_up"), "f");
	fx_result(nid, "read", 0, -1, NULL, NULL);
	assert_string_equal(fx_nfield(nid, "status"), "FAILED");
	fx_quiesce();
	assert_logs_clean();
}

/* A provider's "failed" about an earlier attempt's message (attempt 1
 * timed out, attempt 2 got through) does not undo the later success; one
 * about the message we hold does. */
static void test_late_failure_of_older_message(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	struct keryu_delivery_event ev;
	struct fx_world w;
	const char *nid;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	fx_scan(&w, &p, &out);
	nid = out.notification_id;
	assert_int_equal(fx.st->notification_queued(fx.st->self, nid, 1, 60),
			 0);
	fx_result(nid, "sent", 2, -1, NULL, &ev);
	keryu_uuid_new(ev.event_id);
	snprintf(ev.status, sizeof(ev.status), "sent");
	snprintf(ev.provider_message_id, sizeof(ev.provider_message_id),
		 "wamid.SECOND");
	ev.attempt = 2;
	assert_int_equal(fx.st->notification_result(fx.st->self, &ev, 60), 0);
	assert_string_equal(fx_nfield(nid, "provider_message_id"),
			    "wamid.SECOND");

	keryu_uuid_new(ev.event_id);
	snprintf(ev.status, sizeof(ev.status), "failed");
	snprintf(ev.provider_message_id, sizeof(ev.provider_message_id),
		 "wamid.FIRST");
	snprintf(ev.error_code, sizeof(ev.error_code), "131026");
	ev.attempt = 0;
	assert_int_equal(fx.st->notification_result(fx.st->self, &ev, 60), 0);
	assert_string_equal(fx_nfield(nid, "status"), "SENT");

	keryu_uuid_new(ev.event_id);
	snprintf(ev.provider_message_id, sizeof(ev.provider_message_id),
		 "wamid.SECOND");
	assert_int_equal(fx.st->notification_result(fx.st->self, &ev, 60), 0);
	assert_string_equal(fx_nfield(nid, "status"), "FAILED");
	fx_quiesce();
	assert_logs_clean();
}

/* The alarm's summary shows the best status of its notifications; FAILED
 * only when every one failed. */
static void test_summary(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	struct keryu_alarm_summary list[4];
	struct keryu_alarm_filter f;
	struct fx_world w;
	char other[KERYU_UUID_LEN];
	const char *v[3];
	PGresult *r;
	size_t n;
	int total;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 1, 0);
	fx_scan(&w, &p, &out);
	v[0] = out.alarm_id;
	v[1] = w.custodian;
	v[2] = w.cphone[0];
	r = fx_sqlv(
		"INSERT INTO notifications (alarm_id, custodian_id, channel, "
		"recipient, step) VALUES ($1::uuid, $2::uuid, 'sms', $3, 1) "
		"RETURNING id::text",
		3, v);
	snprintf(other, sizeof(other), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	fx_result(other, "sent", 1, -1, NULL, NULL);
	fx_result(out.notification_id, "failed", 1, -1, "131026", NULL);
	assert_string_equal(fx_afield(out.alarm_id, "notification_status"),
			    "SENT");
	assert_string_equal(fx_afield(out.alarm_id, "notification_sent"), "t");
	memset(&f, 0, sizeof(f));
	snprintf(f.subject_id, sizeof(f.subject_id), "%s", w.subject);
	f.limit = 4;
	assert_int_equal(fx.sj->alarm_list(fx.sj->self, w.custodian, &f, list,
					   4, &n, &total),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].notification_status, "SENT");
	fx_result(other, "failed", 1, -1, "30003", NULL);
	assert_string_equal(fx_afield(out.alarm_id, "notification_status"),
			    "FAILED");
	assert_string_equal(fx_afield(out.alarm_id, "notification_error"),
			    "30003");
	fx_quiesce();
}

/* Leases that ran out: PENDING and QUEUED re-driven as the same attempt,
 * ERROR with a retry hint as the next, ERROR without one FAILED
 * "no_outcome", too many re-drives FAILED "no_channel"; code
 * notifications just fail. */
static void test_lease_redrive(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct keryu_timeline_entry tl[16];
	struct fx_world w;
	char nid[KERYU_UUID_LEN], code_nid[KERYU_UUID_LEN];
	const char *v[2];
	PGresult *r;
	size_t n;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	fx_scan(&w, &p, &out);
	snprintf(nid, sizeof(nid), "%s", out.notification_id);
	/* in its lease: nothing due */
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);

	/* PENDING (the publish never happened): attempt 1 */
	fx_expire(nid);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].notification_id, nid);
	assert_string_equal(jobs[0].alarm_id, out.alarm_id);
	assert_string_equal(jobs[0].channel, "whatsapp");
	assert_string_equal(jobs[0].recipient, w.phone);
	assert_string_equal(jobs[0].subject_name, "Ana Demo");
	assert_string_equal(jobs[0].scanned_at, out.scanned_at);
	assert_int_equal(jobs[0].attempt, 1);
	assert_int_equal(jobs[0].step, 0);
	assert_string_equal(fx_nfield(nid, "status || attempts || redrives"),
			    "QUEUED11");
	assert_string_equal(
		fx_nfield(nid, "lease_until > now() + interval '50 s'"), "t");
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0); /* claimed */

	/* QUEUED: the same attempt again */
	fx_expire(nid);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_int_equal(jobs[0].attempt, 1);
	assert_string_equal(fx_nfield(nid, "redrives"), "2");

	/* ERROR with a hint (the channel said it would retry, and did
	 * not): the next attempt */
	fx_result(nid, "error", 1, 0, "timeout", NULL);
	fx_expire(nid);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_int_equal(jobs[0].attempt, 2);
	assert_string_equal(fx_nfield(nid, "status || attempts || redrives"),
			    "QUEUED23");

	/* more than max_redrives: FAILED no_channel, and nobody else to
	 * alert (no contacts, no fallback): exhausted */
	fx_expire(nid);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_string_equal(fx_nfield(nid, "status || '|' || last_error_code"),
			    "FAILED|no_channel");
	assert_string_equal(fx_nfield(nid, "followed_up"), "t");
	assert_string_equal(fx_afield(out.alarm_id, "escalation_done"), "t");
	timeline(&w, out.alarm_id, tl, 16, &n);
	assert_true(n >= 2);
	assert_string_equal(tl[n - 2].status, "FAILED");
	assert_string_equal(tl[n - 2].error_code, "no_channel");
	assert_string_equal(tl[n - 1].status, "EXHAUSTED");
	assert_string_equal(tl[n - 1].error_text,
			    "failed: no_channel; nobody left to alert");

	/* ERROR without a hint: FAILED no_outcome */
	fx_scan(&w, &p, &out);
	snprintf(nid, sizeof(nid), "%s", out.notification_id);
	assert_int_equal(fx.st->notification_queued(fx.st->self, nid, 1, 60),
			 0);
	fx_result(nid, "error", 1, -1, "timeout", NULL);
	fx_expire(nid);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_string_equal(fx_nfield(nid, "status || '|' || last_error_code"),
			    "FAILED|no_outcome");

	/* a code notification past its lease just fails */
	v[0] = w.custodian;
	v[1] = w.phone;
	r = fx_sqlv(
		"INSERT INTO notifications (purpose, custodian_id, channel, "
		"recipient, status, attempts, lease_until) VALUES ('code', "
		"$1::uuid, 'whatsapp', $2, 'QUEUED', 1, "
		"now() - interval '1 s') RETURNING id::text",
		2, v);
	snprintf(code_nid, sizeof(code_nid), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_string_equal(
		fx_nfield(code_nid, "status || '|' || last_error_code"),
		"FAILED|no_outcome");
	/* a code notification's lease comes from notification_queued */
	fx_sql1("UPDATE notifications SET status = 'PENDING', lease_until = "
		"NULL "
		"WHERE id = $1::uuid",
		code_nid);
	assert_int_equal(
		fx.st->notification_queued(fx.st->self, code_nid, 1, 30), 0);
	assert_string_equal(fx_nfield(code_nid, "lease_until > now() + "
						"interval '20 s'"),
			    "t");
	fx_quiesce();
	assert_logs_clean();
}

/* A notification that failed for good: the same person on the fallback
 * channel first, then, when that fails too, the next recipient. */
static void test_fallback_then_escalation(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct keryu_timeline_entry tl[32];
	struct fx_world w;
	char fb[KERYU_UUID_LEN];
	size_t n, i;
	int seen = 0;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 2, 0);
	p.fallback_channel = "sms";
	fx_scan(&w, &p, &out);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    out.notification_id, 1, 60),
			 0);
	fx_result(out.notification_id, "failed", 1, -1, "131026", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].channel, "sms");
	assert_string_equal(jobs[0].recipient, w.phone);
	assert_int_equal(jobs[0].attempt, 1);
	assert_int_equal(jobs[0].step, 1);
	snprintf(fb, sizeof(fb), "%s", jobs[0].notification_id);
	assert_string_equal(fx_nfield(fb, "status || step"), "QUEUED1");
	assert_string_equal(fx_nfield(fb, "fallback_of::text"),
			    out.notification_id);
	assert_string_equal(fx_afield(out.alarm_id, "step"), "1");
	assert_string_equal(fx_nfield(out.notification_id, "followed_up"), "t");
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0); /* once */
	/* the summary: the fallback's QUEUED beats the FAILED */
	assert_string_equal(fx_afield(out.alarm_id, "notification_status"),
			    "QUEUED");

	/* the fallback fails too: escalate to the first contact, who has
	 * a fallback of their own */
	fx_sql1("UPDATE contacts SET fallback_channel = 'voice' "
		"WHERE id = $1::uuid",
		w.contact[0]);
	fx_result(fb, "failed", 1, -1, "30003", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].channel, "sms");
	assert_string_equal(jobs[0].recipient, w.cphone[0]);
	assert_int_equal(jobs[0].step, 2);
	/* the contact's own fallback channel, not the policy's */
	fx_result(jobs[0].notification_id, "failed", 1, -1, "21610", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].channel, "voice");
	assert_string_equal(jobs[0].recipient, w.cphone[0]);
	assert_int_equal(jobs[0].step, 3);

	timeline(&w, out.alarm_id, tl, 32, &n);
	for (i = 0; i < n; i++) {
		if (strcmp(tl[i].status, "FALLBACK") == 0 && seen == 0) {
			assert_string_equal(tl[i].notification_id, fb);
			assert_string_equal(tl[i].channel, "sms");
			assert_string_equal(tl[i].error_text,
					    "whatsapp failed: 131026; trying "
					    "sms");
			/* what it caused follows it */
			assert_string_equal(tl[i + 1].status, "QUEUED");
			assert_string_equal(tl[i + 1].notification_id, fb);
			seen = 1;
		} else if (strcmp(tl[i].status, "ESCALATED") == 0) {
			assert_int_equal(seen, 1);
			assert_string_equal(tl[i].error_text, "failed: 30003");
			assert_string_equal(tl[i].recipient_hint,
					    w.cphone[0] + 8);
			seen = 2;
		} else if (strcmp(tl[i].status, "FALLBACK") == 0) {
			assert_int_equal(seen, 2);
			assert_string_equal(tl[i].channel, "voice");
			seen = 3;
		}
	}
	assert_int_equal(seen, 3);
	assert_null(memmem(tl, n * sizeof(tl[0]), "555041", 6));
	fx_quiesce();
	assert_logs_clean();
}

/* Deadlines: not delivered in escalate_after_s, then not acknowledged in
 * ack_timeout_s, then nobody left. */
static void test_escalation_deadlines(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct keryu_timeline_entry tl[32];
	struct fx_world w;
	size_t n, i;
	int escalated = 0;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 2, 0);
	p.escalate_after_s = 120;
	p.ack_timeout_s = 600;
	fx_scan(&w, &p, &out);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    out.notification_id, 1, 60),
			 0);
	fx_result(out.notification_id, "sent", 1, -1, NULL, NULL);
	fx_age_step(out.alarm_id, 100);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	fx_age_step(out.alarm_id, 21);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].recipient, w.cphone[0]);
	assert_string_equal(jobs[0].channel, "sms");
	assert_int_equal(jobs[0].step, 1);
	assert_int_equal(jobs[0].attempt, 1);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0); /* a new step began */

	/* delivered in time: the acknowledgement deadline still runs */
	fx_result(jobs[0].notification_id, "delivered", 1, -1, NULL, NULL);
	fx_age_step(out.alarm_id, 500);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	fx_age_step(out.alarm_id, 101);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_string_equal(jobs[0].recipient, w.cphone[1]);
	assert_int_equal(jobs[0].step, 2);

	/* nobody left: exhausted once, then quiet */
	fx_age_step(out.alarm_id, 121);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_string_equal(fx_afield(out.alarm_id, "escalation_done"), "t");
	fx_age_step(out.alarm_id, 1000);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);

	timeline(&w, out.alarm_id, tl, 32, &n);
	for (i = 0; i < n; i++)
		if (strcmp(tl[i].status, "ESCALATED") == 0)
			assert_string_equal(tl[i].error_text,
					    escalated++ == 0
						    ? "not delivered in 120 s"
						    : "not acknowledged in "
						      "600 s");
	assert_int_equal(escalated, 2);
	assert_string_equal(tl[n - 1].status, "EXHAUSTED");
	assert_string_equal(tl[n - 1].error_text,
			    "not delivered in 120 s; nobody left to alert");
	/* one notification per phone */
	assert_int_equal(
		fx_count("SELECT count(DISTINCT recipient) - count(*) "
			 "FROM notifications WHERE alarm_id = $1::uuid",
			 out.alarm_id),
		0);
	fx_quiesce();
	assert_logs_clean();
}

/* Acknowledging, by link or on the page, stops escalation. */
static void test_acknowledge(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out, other;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct keryu_timeline_entry tl[16];
	struct keryu_ack_result ack, again;
	struct keryu_alarm_detail d;
	struct fx_world w, stranger;
	char unknown[KERYU_UUID_LEN];
	size_t n;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 2, 0);
	fx_seed(&stranger, true, 0, 0);
	p.escalate_after_s = 60;
	p.ack_timeout_s = 60;
	fx_scan(&w, &p, &out);
	assert_int_equal(fx.st->alarm_acknowledge(fx.st->self,
						  out.notification_id, &ack),
			 0);
	assert_false(ack.already);
	assert_string_equal(ack.alarm_id, out.alarm_id);
	assert_string_equal(ack.subject_first_name, "Ana");
	assert_true(strlen(ack.acknowledged_at) == 24);
	assert_int_equal(fx.st->alarm_acknowledge(fx.st->self,
						  out.notification_id, &again),
			 0);
	assert_true(again.already);
	assert_string_equal(again.acknowledged_at, ack.acknowledged_at);
	assert_string_equal(fx_afield(out.alarm_id, "acknowledged_via"),
			    "link");
	fx_age_step(out.alarm_id, 3600);
	fx_sql1("UPDATE notifications SET lease_until = NULL", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	/* a failure after the acknowledgement: no fallback, no escalation */
	p.fallback_channel = "sms";
	fx_result(out.notification_id, "failed", 1, -1, "131026", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	assert_string_equal(fx_nfield(out.notification_id, "followed_up"), "t");
	assert_int_equal(
		fx.sj->alarm_get(fx.sj->self, w.custodian, out.alarm_id, &d),
		0);
	assert_string_equal(d.acknowledged_at, ack.acknowledged_at);
	timeline(&w, out.alarm_id, tl, 16, &n);
	assert_true(n >= 1);
	assert_string_equal(tl[0].status, "ACKNOWLEDGED");
	assert_string_equal(tl[0].notification_id, out.notification_id);
	assert_string_equal(tl[0].error_text, "link");

	/* on the alarm page */
	fx_scan(&w, &p, &other);
	assert_int_equal(fx.sj->alarm_acknowledge(fx.sj->self,
						  stranger.custodian,
						  other.alarm_id),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx.sj->alarm_acknowledge(fx.sj->self, w.custodian,
						  other.alarm_id),
			 0);
	assert_int_equal(fx.sj->alarm_acknowledge(fx.sj->self, w.custodian,
						  other.alarm_id),
			 KERYU_ECONFLICT);
	assert_string_equal(fx_afield(other.alarm_id, "acknowledged_via"),
			    "page");
	fx_age_step(other.alarm_id, 3600);
	fx_sql1("UPDATE notifications SET lease_until = NULL", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	timeline(&w, other.alarm_id, tl, 16, &n);
	assert_int_equal(n, 1);
	assert_string_equal(tl[0].status, "ACKNOWLEDGED");
	assert_string_equal(tl[0].notification_id, "");
	assert_string_equal(tl[0].error_text, "page");
	/* a link to an acknowledged alarm says so */
	assert_int_equal(fx.st->alarm_acknowledge(fx.st->self,
						  other.notification_id, &ack),
			 0);
	assert_true(ack.already);

	/* on a joined scan's page: the open alarm it joined is the one
	 * that escalates, so it is acknowledged too */
	fx_quiesce();
	p.cooldown_s = 600;
	fx_scan(&w, &p, &out);
	fx_scan(&w, &p, &other);
	assert_true(other.joined);
	assert_string_equal(other.joined_alarm_id, out.alarm_id);
	assert_int_equal(fx.sj->alarm_acknowledge(fx.sj->self,
						  stranger.custodian,
						  other.alarm_id),
			 KERYU_ENOTFOUND);
	assert_string_equal(fx_afield(out.alarm_id, "acknowledged_via"), "");
	assert_int_equal(fx.sj->alarm_acknowledge(fx.sj->self, w.custodian,
						  other.alarm_id),
			 0);
	assert_string_equal(fx_afield(other.alarm_id, "acknowledged_via"),
			    "page");
	assert_string_equal(fx_afield(out.alarm_id, "acknowledged_via"),
			    "page");
	assert_int_equal(fx.sj->alarm_acknowledge(fx.sj->self, w.custodian,
						  other.alarm_id),
			 KERYU_ECONFLICT);
	fx_age_step(out.alarm_id, 3600);
	fx_sql1("UPDATE notifications SET lease_until = NULL", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 0);
	timeline(&w, out.alarm_id, tl, 16, &n);
	assert_int_equal(n, 1);
	assert_string_equal(tl[0].status, "ACKNOWLEDGED");
	assert_string_equal(tl[0].error_text, "page");
	p.cooldown_s = 0;

	/* unknown and malformed */
	keryu_uuid_new(unknown);
	assert_int_equal(fx.st->alarm_acknowledge(fx.st->self, unknown, &ack),
			 KERYU_ENOTFOUND);
	assert_int_equal(fx.st->alarm_acknowledge(fx.st->self, "nope", &ack),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->alarm_acknowledge(fx.st->self, unknown, NULL),
			 KERYU_EINVAL);
	assert_int_equal(
		fx.sj->alarm_acknowledge(fx.sj->self, w.custodian, unknown),
		KERYU_ENOTFOUND);
	assert_int_equal(fx.sj->alarm_acknowledge(fx.sj->self, "x", unknown),
			 KERYU_EINVAL);
	fx_quiesce();
	assert_logs_clean();
}

static void test_bad_input(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_notify_job jobs[2];
	struct keryu_delivery_event ev;
	char nid[KERYU_UUID_LEN];
	size_t n = 7;

	(void)unused;
	fx_quiesce();
	assert_int_equal(fx.st->notify_due(fx.st->self, &p, jobs, 2, NULL),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->notify_due(fx.st->self, NULL, jobs, 2, &n),
			 KERYU_EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(fx.st->notify_due(fx.st->self, &p, NULL, 2, &n),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->notify_due(fx.st->self, &p, NULL, 0, &n), 0);
	p.lease_s = 0;
	assert_int_equal(fx.st->notify_due(fx.st->self, &p, jobs, 2, &n),
			 KERYU_EINVAL);
	p = fx_policy();
	p.fallback_channel = "SMS";
	assert_int_equal(fx.st->notify_due(fx.st->self, &p, jobs, 2, &n),
			 KERYU_EINVAL);
	p = fx_policy();
	p.escalate_after_s = -1;
	assert_int_equal(fx.st->notify_due(fx.st->self, &p, jobs, 2, &n),
			 KERYU_EINVAL);
	p = fx_policy();
	p.fallback_channel = NULL; /* same as "" */
	assert_int_equal(fx.st->notify_due(fx.st->self, &p, jobs, 2, &n), 0);
	keryu_uuid_new(nid);
	assert_int_equal(fx.st->notification_queued(fx.st->self, nid, 1, 0),
			 KERYU_EINVAL);
	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	snprintf(ev.notification_id, sizeof(ev.notification_id), "%s", nid);
	snprintf(ev.status, sizeof(ev.status), "sent");
	assert_int_equal(fx.st->notification_result(fx.st->self, &ev, 0),
			 KERYU_EINVAL);
	assert_int_equal(fx.st->notification_result(fx.st->self, &ev, 60),
			 KERYU_ENOTFOUND);
}

/* ---- two alarms instances at once ---- */

#define RACE_ALARMS 40

struct racer {
	struct keryu_notify_job got[RACE_ALARMS * 2];
	size_t n;
	int rc;
};

static void *due_racer(void *arg)
{
	struct racer *r = arg;
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_notify_job jobs[3];
	size_t n, i;
	int idle = 0;

	/* small batches, so that the two interleave; a few empty calls in
	 * a row end it */
	while (idle < 3 && r->n < RACE_ALARMS * 2) {
		r->rc = fx.st->notify_due(fx.st->self, &p, jobs, 3, &n);
		if (r->rc)
			return NULL;
		for (i = 0; i < n && r->n < RACE_ALARMS * 2; i++)
			r->got[r->n++] = jobs[i];
		idle = n ? 0 : idle + 1;
	}
	return NULL;
}

/* The same, on a policy that escalates after 60 s unacknowledged. */
static void *due_racer_ack(void *arg)
{
	struct racer *r = arg;
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_notify_job jobs[3];
	size_t n, i;
	int idle = 0;

	p.ack_timeout_s = 60;
	while (idle < 3 && r->n < RACE_ALARMS * 2) {
		r->rc = fx.st->notify_due(fx.st->self, &p, jobs, 3, &n);
		if (r->rc)
			return NULL;
		for (i = 0; i < n && r->n < RACE_ALARMS * 2; i++)
			r->got[r->n++] = jobs[i];
		idle = n ? 0 : idle + 1;
	}
	return NULL;
}

static void test_due_concurrency(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	static struct racer r[2];
	pthread_t th[2];
	struct fx_world w;
	size_t i, j, total;
	int k;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 0, 0);
	for (k = 0; k < RACE_ALARMS; k++)
		fx_scan(&w, &p, &out);
	fx_sql1("UPDATE notifications n SET lease_until = now() - interval '1 "
		"s' "
		"FROM alarms a WHERE a.id = n.alarm_id "
		"AND a.subject_id = $1::uuid",
		w.subject);
	memset(r, 0, sizeof(r));
	for (k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&th[k], NULL, due_racer, &r[k]),
				 0);
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	assert_int_equal(r[0].rc, 0);
	assert_int_equal(r[1].rc, 0);
	total = r[0].n + r[1].n;
	assert_int_equal(total, RACE_ALARMS);
	/* nothing handed out twice, within or across the two */
	for (i = 0; i < r[0].n; i++) {
		for (j = 0; j < r[1].n; j++)
			assert_string_not_equal(r[0].got[i].notification_id,
						r[1].got[j].notification_id);
		for (j = i + 1; j < r[0].n; j++)
			assert_string_not_equal(r[0].got[i].notification_id,
						r[0].got[j].notification_id);
	}
	for (i = 0; i < r[1].n; i++)
		for (j = i + 1; j < r[1].n; j++)
			assert_string_not_equal(r[1].got[i].notification_id,
						r[1].got[j].notification_id);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications n "
				  "JOIN alarms a ON a.id = n.alarm_id "
				  "WHERE a.subject_id = $1::uuid "
				  "AND n.status = 'QUEUED' AND n.redrives = 1",
				  w.subject),
			 RACE_ALARMS);
	fprintf(stderr, "integration.storage_delivery: race split %zu/%zu\n",
		r[0].n, r[1].n);
	fx_quiesce();
}

/* Escalation claimed by two instances at once: every alarm escalates
 * exactly once; and delivery results racing notify_due's claims neither
 * deadlock nor get lost (the alarm row is always locked first). */
struct result_racer {
	char nids[RACE_ALARMS][KERYU_UUID_LEN];
	int n;
	int rc;
};

static void *results_racer(void *arg)
{
	struct result_racer *rr = arg;
	struct keryu_delivery_event ev;
	int i;

	for (i = 0; i < rr->n && !rr->rc; i++) {
		memset(&ev, 0, sizeof(ev));
		keryu_uuid_new(ev.event_id);
		snprintf(ev.notification_id, sizeof(ev.notification_id), "%s",
			 rr->nids[i]);
		snprintf(ev.status, sizeof(ev.status), "delivered");
		ev.retry_in_ms = -1;
		rr->rc = fx.st->notification_result(fx.st->self, &ev, 60);
	}
	return NULL;
}

static void test_due_races(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out;
	static struct racer r[2];
	static struct result_racer rr;
	pthread_t th[3];
	struct fx_world w;
	int k;

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 1, 0);
	memset(&rr, 0, sizeof(rr));
	for (k = 0; k < RACE_ALARMS; k++) {
		fx_scan(&w, &p, &out);
		snprintf(rr.nids[rr.n++], KERYU_UUID_LEN, "%s",
			 out.notification_id);
	}
	/* every alarm past its acknowledgement deadline, every lease out */
	fx_sql1("UPDATE alarms SET step_started_at = now() - interval '1 hour' "
		"WHERE subject_id = $1::uuid",
		w.subject);
	fx_sql1("UPDATE notifications n SET lease_until = now() - interval '1 "
		"s' "
		"FROM alarms a WHERE a.id = n.alarm_id "
		"AND a.subject_id = $1::uuid",
		w.subject);
	memset(r, 0, sizeof(r));
	for (k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&th[k], NULL, due_racer_ack,
						&r[k]),
				 0);
	assert_int_equal(pthread_create(&th[2], NULL, results_racer, &rr), 0);
	for (k = 0; k < 3; k++)
		pthread_join(th[k], NULL);
	assert_int_equal(r[0].rc, 0);
	assert_int_equal(r[1].rc, 0);
	assert_int_equal(rr.rc, 0);
	/* one escalation per alarm, to the one contact */
	assert_int_equal(fx_count("SELECT count(*) FROM alarm_events e "
				  "JOIN alarms a ON a.id = e.alarm_id "
				  "WHERE a.subject_id = $1::uuid "
				  "AND e.kind = 'ESCALATED'",
				  w.subject),
			 RACE_ALARMS);
	assert_int_equal(
		fx_count("SELECT count(*) FROM notifications n "
			 "JOIN alarms a ON a.id = n.alarm_id "
			 "WHERE a.subject_id = $1::uuid AND n.step = 1",
			 w.subject),
		RACE_ALARMS);
	/* every result landed, whatever notify_due did meanwhile */
	assert_int_equal(
		fx_count("SELECT count(*) FROM notifications n "
			 "JOIN alarms a ON a.id = n.alarm_id "
			 "WHERE a.subject_id = $1::uuid AND n.step = 0 "
			 "AND n.status = 'DELIVERED'",
			 w.subject),
		RACE_ALARMS);
	assert_int_equal(fx_count("SELECT count(*) FROM alarms "
				  "WHERE subject_id = $1::uuid "
				  "AND notification_status <> 'DELIVERED'",
				  w.subject),
			 0);
	fx_quiesce();
}

/* Deleting a subject takes its alarms with their notifications,
 * fallbacks, joined scans and alarm-level steps. */
static void test_subject_delete(void **unused)
{
	struct keryu_alarm_policy p = fx_policy();
	struct keryu_alarm_created out, joined;
	struct keryu_notify_job jobs[JOBS_MAX];
	struct fx_world w;
	char photo[80];

	(void)unused;
	fx_quiesce();
	fx_seed(&w, true, 1, 0);
	p.fallback_channel = "sms";
	p.cooldown_s = 600;
	fx_scan(&w, &p, &out);
	fx_scan(&w, &p, &joined);
	assert_true(joined.joined);
	fx_result(out.notification_id, "failed", 1, -1, "131026", NULL);
	assert_int_equal(fx_due(&p, jobs, JOBS_MAX), 1);
	assert_int_equal(
		fx.st->alarm_acknowledge(fx.st->self, jobs[0].notification_id,
					 &(struct keryu_ack_result){0}),
		0);
	assert_int_equal(fx.sj->subject_delete(fx.sj->self, w.custodian,
					       w.subject, photo),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM alarms "
				  "WHERE subject_id = $1::uuid",
				  w.subject),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM alarm_events "
				  "WHERE alarm_id = $1::uuid",
				  out.alarm_id),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE alarm_id = $1::uuid",
				  out.alarm_id),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade_from_003),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_cooldown_join),
		cmocka_unit_test(test_ranks),
		cmocka_unit_test(test_late_failure_of_older_message),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_lease_redrive),
		cmocka_unit_test(test_fallback_then_escalation),
		cmocka_unit_test(test_escalation_deadlines),
		cmocka_unit_test(test_acknowledge),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_due_concurrency),
		cmocka_unit_test(test_due_races),
		cmocka_unit_test(test_subject_delete),
	};
	fx.phone_prefix = "+1555041";
	return fx_run("integration.storage_delivery", "keryu_delivery",
		      "Asia/Kolkata", tests, sizeof(tests) / sizeof(tests[0]));
}
