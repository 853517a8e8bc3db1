/* What storage's integration tests share: the scratch database and the
 * storage module started on it through the fake host, parameterised SQL
 * helpers, the log check, and a custodian/subject/tag/contact world for the
 * delivery-side tests. One fixture per test executable (fx); every helper
 * fails the running cmocka test on a database error. */
#ifndef KERYU_TEST_STORAGE_FIXTURE_H
#define KERYU_TEST_STORAGE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include <keryu/accounts.h>
#include <keryu/module.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

struct CMUnitTest;

extern const struct keryu_module keryu_module;

struct storage_fixture {
	char admin_url[1024];
	char db_url[1024];
	char db_name[64];
	PGconn *db;  /* the test's own connection to its database */
	void *state; /* the module's, while started */
	const struct keryu_storage *st;
	const struct keryu_subjects *sj;
	const struct keryu_accounts *ac;
	const char *phone_prefix; /* fx_new_phone's, e.g. "+1555041" */
	int phones;		  /* for unique phone numbers */
};

extern struct storage_fixture fx;

/* Reads KERYU_TEST_DATABASE_URL and runs tests as the cmocka group who, on
 * a scratch database "<db_prefix>_..." whose TimeZone is tz (dropped at
 * the end, stopping the module first if a test left it started). Returns
 * cmocka's result, or 1 when the variable is unset. */
int fx_run(const char *who, const char *db_prefix, const char *tz,
	   const struct CMUnitTest *tests, size_t n);

/* Starts the storage module on fx.db_url (connect_timeout_s 5, the given
 * pool_size) and looks up its services. Returns init's code. */
int fx_start(const char *pool_size);
/* Stops the module; fx.state and the services become NULL. */
void fx_stop(void);

/* Runs sql with n text parameters; the caller PQclear()s the result. */
PGresult *fx_sqlv(const char *sql, int n, const char *const *v);
/* Runs sql with at most one text parameter (arg may be NULL). */
void fx_sql1(const char *sql, const char *arg);
/* True when PostgreSQL refuses the statement. */
bool fx_sql_fails(const char *sql);
/* First column of the first row, as text, in buf ("" for NULL or no row);
 * returns buf. */
const char *fx_scalarv(char *buf, size_t size, const char *sql, int n,
		       const char *const *v);
const char *fx_scalar(char *buf, size_t size, const char *sql, const char *arg);
long fx_count(const char *sql, const char *arg);
/* One column of a notification / an alarm, as text, in a static buffer
 * that the next call overwrites. */
const char *fx_nfield(const char *nid, const char *col);
const char *fx_afield(const char *alarm_id, const char *col);

/* Fails the test when a log line carries any of the NULL-terminated
 * strings (phone numbers, names, secrets). */
void fx_assert_logs_clean(const char *first, ...)
	__attribute__((sentinel));

/* Brings the database to migration upto the way an older release left it:
 * schema_migrations and migrations 1..upto applied by hand, so that the
 * module, once started, proves it upgrades from there. */
void fx_migrate_by_hand(size_t upto);

/* No escalation, no cooldown, no fallback, channel "whatsapp": each test
 * turns on what it exercises. */
struct keryu_alarm_policy fx_policy(void);
/* The same with another channel, in a per-thread buffer (the racing tests
 * call it from several threads). */
const struct keryu_alarm_policy *fx_pol(const char *channel);

/* A custodian with a subject, an active tag and n contacts (positions 1..n;
 * channel "sms", verified unless unverified_mask has their bit). */
struct fx_world {
	char custodian[KERYU_UUID_LEN];
	char subject[KERYU_UUID_LEN];
	char tag[KERYU_UUID_LEN];
	char phone[32];
	char contact[4][KERYU_UUID_LEN];
	char cphone[4][32];
};

void fx_new_phone(char out[32]);
void fx_seed(struct fx_world *w, bool custodian_verified, int contacts,
	     unsigned unverified_mask);

/* A scan of w's tag at time at (or now); asserts it made an alarm. */
void fx_scan_at(const struct fx_world *w, const struct keryu_alarm_policy *p,
		const char *at, struct keryu_alarm_created *out);
void fx_scan(const struct fx_world *w, const struct keryu_alarm_policy *p,
	     struct keryu_alarm_created *out);
/* A delivery result on whatsapp for nid; asserts storage took it. out may
 * be NULL. */
void fx_result(const char *nid, const char *status, int attempt,
	       int retry_in_ms, const char *code,
	       struct keryu_delivery_event *out);
/* notify_due into jobs; asserts it succeeded; returns how many. */
size_t fx_due(const struct keryu_alarm_policy *p, struct keryu_notify_job *jobs,
	      size_t max);
/* The lease ran out a second ago. */
void fx_expire(const char *nid);
/* The alarm's current step began s seconds earlier than it did. */
void fx_age_step(const char *alarm_id, int s);
/* Leaves no work for notify_due from earlier tests. */
void fx_quiesce(void);

#endif
