/* See storage_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_host.h"
#include "scratch_db.h"
#include "storage_migrations.h"
#include "storage_fixture.h"

struct storage_fixture fx;

/* what fx_run was given, for the group setup and teardown */
static struct {
	const char *who;
	const char *db_prefix;
	const char *tz;
} G;

static int group_setup(void **unused)
{
	(void)unused;
	if (scratch_db_create(fx.admin_url, G.db_prefix, G.tz, fx.db_name,
			      sizeof(fx.db_name), fx.db_url, sizeof(fx.db_url),
			      G.who))
		return -1;
	fx.db = PQconnectdb(fx.db_url);
	if (PQstatus(fx.db) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", G.who, PQerrorMessage(fx.db));
		return -1;
	}
	return 0;
}

static int group_teardown(void **unused)
{
	(void)unused;
	if (fx.state)
		fx_stop();
	PQfinish(fx.db);
	fx.db = NULL;
	scratch_db_drop(fx.admin_url, fx.db_name, G.who);
	return 0;
}

int fx_run(const char *who, const char *db_prefix, const char *tz,
	   const struct CMUnitTest *tests, size_t n)
{
	const char *url = getenv("KERYU_TEST_DATABASE_URL");

	if (!url || !*url) {
		fprintf(stderr,
			"%s: FAIL: KERYU_TEST_DATABASE_URL is not set. Point "
			"it at a PostgreSQL where this test may CREATE "
			"DATABASE, e.g. "
			"postgresql://postgres@127.0.0.1:5432/postgres\n",
			who);
		return 1;
	}
	snprintf(fx.admin_url, sizeof(fx.admin_url), "%s", url);
	G.who = who;
	G.db_prefix = db_prefix;
	G.tz = tz;
	return _cmocka_run_group_tests(who, tests, n, group_setup,
				       group_teardown);
}

int fx_start(const char *pool_size)
{
	int rc;

	fake_host_reset(&keryu_module);
	fake_host_set("database_url", fx.db_url);
	fake_host_set("connect_timeout_s", "5");
	fake_host_set("pool_size", pool_size);
	rc = keryu_module.init(fake_mod(), fake_host(), &fx.state);
	fx.st = fake_host()->service(fake_mod(), KERYU_SERVICE_STORAGE);
	fx.sj = fake_host()->service(fake_mod(), KERYU_SERVICE_SUBJECTS);
	fx.ac = fake_host()->service(fake_mod(), KERYU_SERVICE_ACCOUNTS);
	return rc;
}

void fx_stop(void)
{
	keryu_module.cleanup(fx.state);
	fx.state = NULL;
	fx.st = NULL;
	fx.sj = NULL;
	fx.ac = NULL;
}

/* ---- SQL ---- */

PGresult *fx_sqlv(const char *sql, int n, const char *const *v)
{
	PGresult *r = PQexecParams(fx.db, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail_msg("sql failed: %s: %s", sql, PQerrorMessage(fx.db));
	return r;
}

void fx_sql1(const char *sql, const char *arg)
{
	const char *v[] = {arg};

	PQclear(fx_sqlv(sql, arg ? 1 : 0, v));
}

bool fx_sql_fails(const char *sql)
{
	PGresult *r = PQexec(fx.db, sql);
	bool failed = PQresultStatus(r) != PGRES_COMMAND_OK &&
		      PQresultStatus(r) != PGRES_TUPLES_OK;

	PQclear(r);
	return failed;
}

const char *fx_scalarv(char *buf, size_t size, const char *sql, int n,
		       const char *const *v)
{
	PGresult *r = fx_sqlv(sql, n, v);

	snprintf(buf, size, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return buf;
}

const char *fx_scalar(char *buf, size_t size, const char *sql, const char *arg)
{
	const char *v[] = {arg};

	return fx_scalarv(buf, size, sql, arg ? 1 : 0, v);
}

long fx_count(const char *sql, const char *arg)
{
	char buf[64];

	return atol(fx_scalar(buf, sizeof(buf), sql, arg));
}

const char *fx_nfield(const char *nid, const char *col)
{
	static char buf[512];
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM notifications WHERE id = $1::uuid", col);
	return fx_scalar(buf, sizeof(buf), sql, nid);
}

const char *fx_afield(const char *alarm_id, const char *col)
{
	static char buf[512];
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT %s FROM alarms WHERE id = $1::uuid",
		 col);
	return fx_scalar(buf, sizeof(buf), sql, alarm_id);
}

void fx_assert_logs_clean(const char *first, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, first);
	for (s = first; s; s = va_arg(ap, const char *))
		if (fake_host_log_contains(s)) {
			va_end(ap);
			fail_msg("a log line carries \"%s\"", s);
		}
	va_end(ap);
}

/* ---- the delivery-side world ---- */

struct keryu_alarm_policy fx_policy(void)
{
	struct keryu_alarm_policy p;

	memset(&p, 0, sizeof(p));
	p.channel = "whatsapp";
	p.fallback_channel = "";
	p.lease_s = 60;
	p.max_redrives = 3;
	return p;
}

const struct keryu_alarm_policy *fx_pol(const char *channel)
{
	static _Thread_local struct keryu_alarm_policy p;

	p = fx_policy();
	p.channel = channel;
	return &p;
}

void fx_new_phone(char out[32])
{
	snprintf(out, 32, "%s%04d", fx.phone_prefix, ++fx.phones);
}

void fx_seed(struct fx_world *w, bool custodian_verified, int contacts,
	     unsigned unverified_mask)
{
	char email[64], pos[16];
	const char *v[5];
	PGresult *r;
	int i;

	memset(w, 0, sizeof(*w));
	fx_new_phone(w->phone);
	snprintf(email, sizeof(email), "c%d@example.org", fx.phones);
	v[0] = email;
	v[1] = w->phone;
	v[2] = custodian_verified ? "t" : "f";
	r = fx_sqlv("INSERT INTO custodians (email, name, phone_e164, "
		    "phone_verified_at) VALUES ($1, 'Carla', $2, "
		    "CASE WHEN $3::bool THEN now() END) RETURNING id::text",
		    3, v);
	snprintf(w->custodian, sizeof(w->custodian), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	v[0] = w->custodian;
	r = fx_sqlv("INSERT INTO subjects (custodian_id, name, date_of_birth, "
		    "gender) VALUES ($1::uuid, 'Ana Demo', '2018-04-02', 'F') "
		    "RETURNING id::text",
		    1, v);
	snprintf(w->subject, sizeof(w->subject), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	v[0] = w->subject;
	r = fx_sqlv("INSERT INTO subject_qr_codes (subject_id, is_active, "
		    "activated_at) VALUES ($1::uuid, true, now()) "
		    "RETURNING uuid::text",
		    1, v);
	snprintf(w->tag, sizeof(w->tag), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	for (i = 0; i < contacts; i++) {
		fx_new_phone(w->cphone[i]);
		snprintf(pos, sizeof(pos), "%d", i + 1);
		v[0] = w->subject;
		v[1] = w->cphone[i];
		v[2] = pos;
		v[3] = (unverified_mask >> i) & 1 ? "f" : "t";
		r = fx_sqlv("INSERT INTO contacts (subject_id, name, "
			    "phone_e164, channel, position, verified_at) "
			    "VALUES ($1::uuid, 'Bea', $2, 'sms', $3::int, "
			    "CASE WHEN $4::bool THEN now() END) "
			    "RETURNING id::text",
			    4, v);
		snprintf(w->contact[i], sizeof(w->contact[i]), "%s",
			 PQgetvalue(r, 0, 0));
		PQclear(r);
	}
}
void fx_scan_at(const struct fx_world *w, const struct keryu_alarm_policy *p,
		const char *at, struct keryu_alarm_created *out)
{
	struct keryu_scan_event ev;

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	snprintf(ev.at, sizeof(ev.at), "%s", at);
	snprintf(ev.qr_uuid, sizeof(ev.qr_uuid), "%s", w->tag);
	assert_int_equal(fx.st->alarm_from_scan(fx.st->self, &ev, p, out), 0);
	assert_true(out->created);
}

void fx_scan(const struct fx_world *w, const struct keryu_alarm_policy *p,
	     struct keryu_alarm_created *out)
{
	char at[KERYU_TIME_LEN];

	keryu_now_iso(at);
	fx_scan_at(w, p, at, out);
}

void fx_result(const char *nid, const char *status, int attempt,
	       int retry_in_ms, const char *code,
	       struct keryu_delivery_event *out)
{
	struct keryu_delivery_event ev;

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	snprintf(ev.notification_id, sizeof(ev.notification_id), "%s", nid);
	snprintf(ev.status, sizeof(ev.status), "%s", status);
	snprintf(ev.channel, sizeof(ev.channel), "whatsapp");
	snprintf(ev.error_code, sizeof(ev.error_code), "%s", code ? code : "");
	ev.attempt = attempt;
	ev.retry_in_ms = retry_in_ms;
	assert_int_equal(fx.st->notification_result(fx.st->self, &ev, 60), 0);
	if (out)
		*out = ev;
}

size_t fx_due(const struct keryu_alarm_policy *p, struct keryu_notify_job *jobs,
	      size_t max)
{
	size_t n = 12345;

	assert_int_equal(fx.st->notify_due(fx.st->self, p, jobs, max, &n), 0);
	assert_true(n <= max);
	return n;
}

/* The lease ran out a second ago. */
void fx_expire(const char *nid)
{
	fx_sql1("UPDATE notifications SET lease_until = now() - interval '1 s' "
		"WHERE id = $1::uuid",
		nid);
}

/* The alarm's current step began s seconds earlier than it did. */
void fx_age_step(const char *alarm_id, int s)
{
	char sec[16];
	const char *v[2];

	snprintf(sec, sizeof(sec), "%d", s);
	v[0] = alarm_id;
	v[1] = sec;
	PQclear(fx_sqlv("UPDATE alarms SET step_started_at = step_started_at - "
			"$2::int * interval '1 second' WHERE id = $1::uuid",
			2, v));
}

/* Leaves no work for notify_due from earlier tests. */
void fx_quiesce(void)
{
	fx_sql1("UPDATE alarms SET resolved_at = now() WHERE resolved_at IS "
		"NULL",
		NULL);
	fx_sql1("UPDATE notifications SET lease_until = NULL, followed_up = "
		"true",
		NULL);
}

void fx_migrate_by_hand(size_t upto)
{
	const struct storage_migration *list;
	char version[16];
	const char *v[2];
	size_t n, i;
	PGresult *r;

	list = storage_migrations(&n);
	assert_true(upto <= n);
	fx_sql1("CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
		"name text NOT NULL, applied_at timestamptz NOT NULL "
		"DEFAULT now())",
		NULL);
	for (i = 0; i < upto; i++) {
		r = PQexec(fx.db, list[i].sql);
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
		snprintf(version, sizeof(version), "%d", list[i].version);
		v[0] = version;
		v[1] = list[i].name;
		PQclear(fx_sqlv("INSERT INTO schema_migrations VALUES "
				"($1::int, $2)",
				2, v));
	}
}
