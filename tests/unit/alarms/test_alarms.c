/* alarms module against the fake host and a fake storage service: what it
 * subscribes to, what it publishes for a scan, and what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <keryu/admin.h>
#include <keryu/events.h>
#include <keryu/module.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "alarms_module.h"
#include "fake_host.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define EVENT "5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
#define ALARM "a1a1a1a1-0000-4000-8000-000000000001"
#define SUBJECT "5b5b5b5b-0000-4000-8000-000000000002"
#define NOTIF "c0c0c0c0-0000-4000-8000-000000000003"
#define PHONE "+16505551234"
#define NAME "Ana <Doe>"

/* ---- fake storage ---- */

static struct {
	int scan_rcs[8]; /* returned by successive alarm_from_scan calls */
	int n_scan_rcs;
	int scan_calls;
	char seen[8][KERYU_UUID_LEN]; /* event ids already recorded */
	int n_seen;
	struct keryu_scan_event last_scan;
	char last_channel[64];
	struct keryu_alarm_created created; /* what a new alarm looks like */
	/* a seen event's notification is still PENDING (else QUEUED+) */
	bool dup_pending;
	int sleep_ms; /* every storage call takes this long (a PQreset) */

	int queued_rcs[8]; /* returned by successive notification_queued */
	int n_queued_rcs;
	int queued_calls, queued_attempt, queued_lease;
	char queued_id[KERYU_UUID_LEN];

	int result_rc, result_calls, result_lease;
	struct keryu_delivery_event last_result;

	struct keryu_alarm_policy last_policy;
	/* followups */
	struct keryu_notify_job followup_jobs[4];
	size_t n_followup_jobs;
	int followup_calls, followup_lease, followup_rc;
	char followup_alarm[KERYU_UUID_LEN], followup_kind[16];
	/* purge_finder_data */
	int purge_calls, purge_days, purge_rc;
	struct keryu_notify_job jobs[80]; /* handed out by notify_due */
	size_t n_jobs, jobs_given;
	int due_rc, due_calls;
} S;

static void storage_delay(void)
{
	struct timespec ts = {S.sleep_ms / 1000,
			      (long)(S.sleep_ms % 1000) * 1000000L};

	if (S.sleep_ms > 0)
		nanosleep(&ts, NULL);
}

static int fs_alarm_from_scan(void *self, const struct keryu_scan_event *ev,
			      const struct keryu_alarm_policy *pol,
			      struct keryu_alarm_created *out)
{
	int i, rc;

	(void)self;
	storage_delay();
	rc = S.scan_calls < S.n_scan_rcs ? S.scan_rcs[S.scan_calls] : 0;
	S.scan_calls++;
	if (rc)
		return rc;
	S.last_scan = *ev;
	snprintf(S.last_channel, sizeof(S.last_channel), "%s", pol->channel);
	S.last_policy = *pol;
	*out = S.created;
	for (i = 0; i < S.n_seen; i++)
		if (strcmp(S.seen[i], ev->event_id) == 0) {
			out->created = false;
			out->notification_pending =
				S.dup_pending && out->notification_id[0];
			return 0;
		}
	if (S.n_seen < 8)
		strcpy(S.seen[S.n_seen++], ev->event_id);
	out->created = true;
	out->notification_pending = out->notification_id[0] != '\0';
	return 0;
}

static int fs_notification_queued(void *self, const char *id, int attempt,
				  int lease_s)
{
	int rc;

	(void)self;
	storage_delay();
	rc = S.queued_calls < S.n_queued_rcs ? S.queued_rcs[S.queued_calls] : 0;
	S.queued_calls++;
	if (rc)
		return rc;
	S.queued_attempt = attempt;
	S.queued_lease = lease_s;
	snprintf(S.queued_id, sizeof(S.queued_id), "%s", id);
	return 0;
}

static int fs_notification_result(void *self,
				  const struct keryu_delivery_event *ev,
				  int lease_s)
{
	(void)self;
	S.result_calls++;
	S.result_lease = lease_s;
	S.last_result = *ev;
	return S.result_rc;
}

/* Hands out S.jobs in calls of at most max, as storage does. */
static int fs_notify_due(void *self, const struct keryu_alarm_policy *pol,
			 struct keryu_notify_job *jobs, size_t max, size_t *n)
{
	(void)self;
	S.due_calls++;
	S.last_policy = *pol;
	*n = 0;
	if (S.due_rc)
		return S.due_rc;
	while (*n < max && S.jobs_given < S.n_jobs)
		jobs[(*n)++] = S.jobs[S.jobs_given++];
	return 0;
}

static int fs_followups(void *self, const char *alarm_id, const char *kind,
			int lease_s, struct keryu_notify_job *jobs, size_t max,
			size_t *n)
{
	(void)self;
	S.followup_calls++;
	S.followup_lease = lease_s;
	snprintf(S.followup_alarm, sizeof(S.followup_alarm), "%s", alarm_id);
	snprintf(S.followup_kind, sizeof(S.followup_kind), "%s", kind);
	*n = 0;
	if (S.followup_rc)
		return S.followup_rc;
	while (*n < max && *n < S.n_followup_jobs) {
		jobs[*n] = S.followup_jobs[*n];
		(*n)++;
	}
	return 0;
}

static int fs_purge(void *self, int days, long *rows)
{
	(void)self;
	S.purge_calls++;
	S.purge_days = days;
	*rows = 7;
	return S.purge_rc;
}

static int fs_ping(void *self)
{
	(void)self;
	return 0;
}

static const struct keryu_storage fake_storage = {
	.struct_size = sizeof(struct keryu_storage),
	.ping = fs_ping,
	.alarm_from_scan = fs_alarm_from_scan,
	.notification_queued = fs_notification_queued,
	.notification_result = fs_notification_result,
	.notify_due = fs_notify_due,
	.followups = fs_followups,
	.purge_finder_data = fs_purge,
};

/* ---- fake admin and subjects services ---- */

static struct {
	struct keryu_setting settings[12];
	size_t n_settings;
	int setting_rc, setting_calls;
	struct keryu_template templates[8];
	size_t n_templates;
	int template_rc, template_calls;
	/* purge: rows returned by successive calls, per kind (1, 2) */
	long purge_rows[3][4];
	int purge_calls[3], purge_days[3], purge_batch, purge_rc;
	int owner_calls;
	bool has_location; /* the alarm alarm_get returns */
} A;

static int fa_setting_list(void *self, struct keryu_setting *out, size_t max,
			   size_t *n)
{
	(void)self;
	A.setting_calls++;
	*n = 0;
	if (A.setting_rc)
		return A.setting_rc;
	while (*n < max && *n < A.n_settings) {
		out[*n] = A.settings[*n];
		(*n)++;
	}
	return 0;
}

static int fa_template_list(void *self, struct keryu_template *out,
			    size_t max, size_t *n)
{
	(void)self;
	A.template_calls++;
	*n = 0;
	if (A.template_rc)
		return A.template_rc;
	while (*n < max && *n < A.n_templates) {
		out[*n] = A.templates[*n];
		(*n)++;
	}
	return 0;
}

static int fa_purge(void *self, int what, int days, int batch, long *rows)
{
	int i;

	(void)self;
	assert_true(what == KERYU_PURGE_ALARMS || what == KERYU_PURGE_AUDIT);
	i = A.purge_calls[what]++;
	A.purge_days[what] = days;
	A.purge_batch = batch;
	*rows = i < 4 ? A.purge_rows[what][i] : 0;
	return A.purge_rc;
}

static int fa_owner_of(void *self, enum keryu_owned kind, const char *id,
		       char custodian_id[KERYU_UUID_LEN])
{
	(void)self;
	A.owner_calls++;
	if (kind != KERYU_OWNED_ALARM || strcmp(id, ALARM) != 0)
		return KERYU_ENOTFOUND;
	strcpy(custodian_id, SUBJECT); /* any id: alarm_get checks it */
	return 0;
}

static const struct keryu_admin fake_admin = {
	.struct_size = sizeof(struct keryu_admin),
	.setting_list = fa_setting_list,
	.template_list = fa_template_list,
	.purge = fa_purge,
	.owner_of = fa_owner_of,
};

static int fj_alarm_get(void *self, const char *custodian_id, const char *id,
			struct keryu_alarm_detail *out)
{
	(void)self;
	if (strcmp(custodian_id, SUBJECT) != 0 || strcmp(id, ALARM) != 0)
		return KERYU_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	strcpy(out->s.id, ALARM);
	out->s.has_location = A.has_location;
	out->latitude = 40.4168;
	out->longitude = -3.7038;
	return 0;
}

static const struct keryu_subjects fake_subjects = {
	.struct_size = sizeof(struct keryu_subjects),
	.alarm_get = fj_alarm_get,
};

static void add_services(void)
{
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_host_add_service(KERYU_SERVICE_ADMIN, &fake_admin);
	fake_host_add_service(KERYU_SERVICE_SUBJECTS, &fake_subjects);
}

static void setting(const char *key, const char *value)
{
	struct keryu_setting *r = &A.settings[A.n_settings++];

	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->value, sizeof(r->value), "%s", value);
}

static void stored_template(const char *event, const char *channel,
			    const char *name, const char *language,
			    const char *parameters, bool approved)
{
	struct keryu_template *t = &A.templates[A.n_templates++];

	memset(t, 0, sizeof(*t));
	snprintf(t->event, sizeof(t->event), "%s", event);
	snprintf(t->channel, sizeof(t->channel), "%s", channel);
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->language, sizeof(t->language), "%s", language);
	snprintf(t->parameters, sizeof(t->parameters), "%s", parameters);
	t->approved = approved;
}

/* ---- helpers ---- */

static struct alarms_ctx *ctx;

/* The fake host does not keep the qos of a subscription; this wrapper of
 * its table does. */
static struct keryu_host wrapped_host;
static int sub_qos[8];
static size_t n_sub_qos;

static int capture_subscribe(keryu_mod *m, const char *filter, int qos,
			     keryu_bus_fn fn, void *arg)
{
	if (n_sub_qos < 8)
		sub_qos[n_sub_qos++] = qos;
	return fake_host()->subscribe(m, filter, qos, fn, arg);
}

/* How many times an event was logged (the fake host keeps the lines, not
 * a count): a lasting fault must be said once, not every tick. */
static struct {
	char event[64];
	int n;
} logged[64];
static size_t n_logged;

static void counting_log(keryu_mod *m, enum keryu_log_level level,
			 const char *event, const char *fields, ...)
	KERYU_PRINTF(4, 5);
static void counting_log(keryu_mod *m, enum keryu_log_level level,
			 const char *event, const char *fields, ...)
{
	char line[2048];
	va_list ap;
	size_t i;

	va_start(ap, fields);
	vsnprintf(line, sizeof(line), fields, ap);
	va_end(ap);
	for (i = 0; i < n_logged && strcmp(logged[i].event, event); i++)
		;
	if (i == n_logged && n_logged < 64)
		snprintf(logged[n_logged++].event, sizeof(logged[0].event),
			 "%s", event);
	if (i < n_logged)
		logged[i].n++;
	fake_host()->log(m, level, event, "%s", line);
}

static int times_logged(const char *event)
{
	size_t i;

	for (i = 0; i < n_logged; i++)
		if (strcmp(logged[i].event, event) == 0)
			return logged[i].n;
	return 0;
}

static const struct keryu_host *host_table(void)
{
	wrapped_host = *fake_host();
	wrapped_host.subscribe = capture_subscribe;
	wrapped_host.log = counting_log;
	n_sub_qos = 0;
	n_logged = 0;
	memset(logged, 0, sizeof(logged));
	return &wrapped_host;
}

static int setup(void **st)
{
	void *state = NULL;

	(void)st;
	memset(&S, 0, sizeof(S));
	memset(&A, 0, sizeof(A));
	strcpy(S.created.alarm_id, ALARM);
	strcpy(S.created.subject_id, SUBJECT);
	strcpy(S.created.notification_id, NOTIF);
	strcpy(S.created.recipient, PHONE);
	strcpy(S.created.channel, "whatsapp");
	strcpy(S.created.subject_name, NAME);
	strcpy(S.created.scanned_at, "2026-11-25T12:34:56.789Z");

	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("channel", "whatsapp");
	fake_host_set("tick_ms", "600000"); /* tests run due work themselves */
	fake_host_set_global("http", "public_url", "https://keryu.example/");
	fake_host_set_global("kernel", "secret_key", "test-secret");
	if (keryu_module.init(fake_mod(), host_table(), &state) != 0)
		return -1;
	ctx = state;
	/* keep retries fast; the schedule itself is the module's */
	ctx->retry_first_ms = 1;
	ctx->retry_max_ms = 4;
	ctx->retry_total_ms = 50;
	return keryu_module.start(ctx);
}

static int teardown(void **st)
{
	(void)st;
	keryu_module.stop(ctx, 1000);
	keryu_module.cleanup(ctx);
	ctx = NULL;
	fake_host_reset(NULL);
	return 0;
}

static char *scan_json(const char *event_id, const char *qr)
{
	struct keryu_scan_event ev;

	memset(&ev, 0, sizeof(ev));
	strcpy(ev.event_id, event_id);
	strcpy(ev.at, "2026-11-25T12:34:56.789Z");
	strcpy(ev.qr_uuid, qr);
	strcpy(ev.user_agent, "Test/1");
	return keryu_scan_event_encode(&ev);
}

static int deliver_scan(const char *topic_uuid, const char *event_id,
			const char *qr)
{
	char topic[128], *json = scan_json(event_id, qr);
	int n;

	assert_non_null(json);
	snprintf(topic, sizeof(topic), "keryu/v1/scan/%s", topic_uuid);
	n = fake_host_deliver(topic, json);
	free(json);
	return n;
}

static char *delivery_json(const char *notification_id, const char *status)
{
	struct keryu_delivery_event ev;

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	strcpy(ev.at, "2026-11-25T12:35:00.000Z");
	strcpy(ev.notification_id, notification_id);
	ev.attempt = 1;
	strcpy(ev.channel, "whatsapp");
	strcpy(ev.status, status);
	strcpy(ev.provider_message_id, "wamid.123");
	strcpy(ev.error_code, "131026");
	strcpy(ev.error_text, "undeliverable to " PHONE);
	return keryu_delivery_event_encode(&ev);
}

static void assert_no_phone_logged(void)
{
	assert_false(fake_host_log_contains("6505551234"));
	assert_false(fake_host_log_contains("Ana"));
}

/* ---- tests ---- */

static void subscriptions_are_plain_qos1(void **st)
{
	(void)st;
	assert_int_equal(fake_host_sub_count(), 3);
	assert_string_equal(fake_host_sub_filter(0), "keryu/v1/scan/+");
	assert_string_equal(fake_host_sub_filter(1), "keryu/v1/delivery/+");
	assert_string_equal(fake_host_sub_filter(2), "keryu/v1/report/+");
	assert_int_equal(n_sub_qos, 3);
	assert_int_equal(sub_qos[0], 1);
	assert_int_equal(sub_qos[1], 1);
	assert_int_equal(sub_qos[2], 1);
}

static void group_option_names_the_share(void **st)
{
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("group", "blue");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state), 0);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/blue/keryu/v1/scan/+");
	keryu_module.cleanup(state);

	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("channel", "a/b");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 KERYU_EINVAL);
	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("group", "#");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 KERYU_EINVAL);
	/* channels storage would refuse in every policy: refused at init,
	 * not by every scan */
	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("channel", "WhatsApp");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 KERYU_EINVAL);
	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("fallback_channel", "sms.text");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 KERYU_EINVAL);
	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("channel", "my_chan-2");
	fake_host_set("fallback_channel", "sms");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state), 0);
	keryu_module.cleanup(state);
	fake_host_reset(NULL);
}

static void scan_publishes_alarm_and_notify(void **st)
{
	const struct fake_pub *p;
	struct keryu_alarm_event a;
	struct keryu_notify_event n;

	(void)st;
	assert_int_equal(deliver_scan(QR, EVENT, QR), 1);
	assert_int_equal(S.scan_calls, 1);
	assert_string_equal(S.last_scan.event_id, EVENT);
	assert_string_equal(S.last_scan.qr_uuid, QR);
	assert_string_equal(S.last_channel, "whatsapp");

	assert_int_equal(fake_host_pub_count(), 2);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/alarm/" ALARM);
	assert_int_equal(p->qos, 1);
	assert_false(p->retain);
	assert_false(p->waited);
	assert_int_equal(keryu_alarm_event_decode(p->payload, p->len, &a), 0);
	assert_string_equal(a.alarm_id, ALARM);
	assert_string_equal(a.subject_id, SUBJECT);
	assert_string_equal(a.state, "created");
	assert_true(keryu_uuid_valid(a.event_id));
	assert_null(strstr(p->payload, "6505551234"));

	p = fake_host_pub(1);
	assert_string_equal(p->topic, "keryu/v1/notify/whatsapp");
	assert_int_equal(p->qos, 1);
	assert_false(p->retain);
	assert_int_equal(keryu_notify_event_decode(p->payload, p->len, &n), 0);
	assert_true(keryu_uuid_valid(n.event_id));
	assert_string_not_equal(n.event_id, EVENT);
	assert_string_equal(n.notification_id, NOTIF);
	assert_int_equal(n.attempt, 1);
	assert_string_equal(n.channel, "whatsapp");
	assert_string_equal(n.to, PHONE);
	assert_string_equal(n.template_name, "qr_template_on_m");
	assert_string_equal(n.language, "en_US");
	assert_int_equal(n.param_count, 2);
	assert_string_equal(n.params[0], NAME);
	assert_string_equal(n.params[1], "2026-11-25 12:34 UTC");

	assert_int_equal(S.queued_calls, 1);
	assert_string_equal(S.queued_id, NOTIF);
	assert_int_equal(S.queued_attempt, 1);
	assert_int_equal(S.queued_lease, 60);
	assert_no_phone_logged();

	/* the alert's acknowledgement link names this notification, signed
	 * with [kernel] secret_key under [http] public_url */
	{
		const char *base = "https://keryu.example/ack/";
		char nid[KERYU_UUID_LEN];

		assert_int_equal(strncmp(n.ack_url, base, strlen(base)), 0);
		assert_int_equal(keryu_ack_token_check("test-secret",
						       n.ack_url + strlen(base),
						       (long long)time(NULL),
						       nid),
				 0);
		assert_string_equal(nid, NOTIF);
		assert_int_not_equal(keryu_ack_token_check(
					     "other", n.ack_url + strlen(base),
					     (long long)time(NULL), nid),
				     0);
		/* a day by default */
		assert_int_equal(keryu_ack_token_check(
					 "test-secret", n.ack_url + strlen(base),
					 (long long)time(NULL) + 86400 + 5, nid),
				 KERYU_ETIMEDOUT);
	}
	assert_false(fake_host_log_contains("/ack/"));
}

/* The policy storage routes with comes from the options. */
static void policy_comes_from_config(void **st)
{
	(void)st;
	deliver_scan(QR, EVENT, QR);
	assert_string_equal(S.last_policy.channel, "whatsapp");
	assert_string_equal(S.last_policy.fallback_channel, "");
	assert_int_equal(S.last_policy.escalate_after_s, 120);
	assert_int_equal(S.last_policy.ack_timeout_s, 600);
	assert_int_equal(S.last_policy.cooldown_s, 60);
	assert_int_equal(S.last_policy.lease_s, 60);
	assert_int_equal(S.last_policy.max_redrives, 5);
}

/* Within the cooldown storage joins the scan to the open alarm: watchers
 * hear of it, nobody is alerted again. */
static void joined_scan_alerts_nobody(void **st)
{
	struct keryu_alarm_event a;
	const struct fake_pub *p;

	(void)st;
	S.created.notification_id[0] = '\0';
	S.created.recipient[0] = '\0';
	S.created.joined = true;
	strcpy(S.created.joined_alarm_id, ALARM);
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_int_equal(keryu_alarm_event_decode(p->payload, p->len, &a), 0);
	assert_string_equal(a.state, "joined");
	assert_int_equal(S.queued_calls, 0);
}

static void job(struct keryu_notify_job *j, int i, const char *channel,
		int attempt, int step)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->notification_id, sizeof(j->notification_id),
		 "c0c0c0c0-0000-4000-8000-%012d", i);
	strcpy(j->alarm_id, ALARM);
	snprintf(j->channel, sizeof(j->channel), "%s", channel);
	snprintf(j->recipient, sizeof(j->recipient), "+1650555%04d", i);
	j->attempt = attempt;
	j->step = step;
	strcpy(j->subject_name, NAME);
	strcpy(j->scanned_at, "2026-11-25T12:34:56.789Z");
}

/* Escalations, fallbacks and re-drives come from storage as jobs: each
 * becomes a request on its own channel's topic, with the attempt storage
 * chose; the module knows no channel names of its own. */
static void due_work_publishes_every_job(void **st)
{
	struct keryu_notify_event n;
	size_t i;

	(void)st;
	job(&S.jobs[0], 1, "testchan", 1, 1);
	job(&S.jobs[1], 2, "sms", 3, 0);
	for (i = 2; i < 70; i++) /* more than one call's worth */
		job(&S.jobs[i], (int)i + 1, "whatsapp", 1, 2);
	S.n_jobs = 70;
	assert_int_equal(alarms_due_run(ctx), 70);
	assert_int_equal(S.due_calls, 2);
	assert_int_equal(fake_host_pub_count(), 70);
	assert_string_equal(fake_host_pub(0)->topic, "keryu/v1/notify/testchan");
	assert_int_equal(keryu_notify_event_decode(fake_host_pub(0)->payload,
						   fake_host_pub(0)->len, &n),
			 0);
	assert_string_equal(n.notification_id, S.jobs[0].notification_id);
	assert_string_equal(n.channel, "testchan");
	assert_string_equal(n.to, "+16505550001");
	assert_int_equal(n.attempt, 1);
	assert_string_equal(n.params[0], NAME);
	assert_true(strncmp(n.ack_url, "https://keryu.example/ack/", 26) == 0);
	assert_string_equal(fake_host_pub(1)->topic, "keryu/v1/notify/sms");
	assert_int_equal(keryu_notify_event_decode(fake_host_pub(1)->payload,
						   fake_host_pub(1)->len, &n),
			 0);
	assert_int_equal(n.attempt, 3);
	/* storage already leased them: nothing else to record */
	assert_int_equal(S.queued_calls, 0);
	assert_no_phone_logged();
}

static void due_work_storage_down_publishes_nothing(void **st)
{
	(void)st;
	S.due_rc = KERYU_EIO;
	job(&S.jobs[0], 1, "testchan", 1, 1);
	S.n_jobs = 1;
	assert_int_equal(alarms_due_run(ctx), KERYU_EIO);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("alarms.due.failed"));
}

/* Without a secret or a public URL there is no link to sign: alerts go
 * out without one. */
static void no_ack_link_without_secret(void **st)
{
	struct keryu_notify_event n;
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("tick_ms", "600000");
	fake_host_set_global("http", "public_url", "https://keryu.example");
	memset(&S, 0, sizeof(S));
	memset(&A, 0, sizeof(A));
	strcpy(S.created.alarm_id, ALARM);
	strcpy(S.created.notification_id, NOTIF);
	strcpy(S.created.recipient, PHONE);
	strcpy(S.created.channel, "log");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state), 0);
	assert_true(fake_host_log_contains("alarms.ack_links_off"));
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(fake_host_pub_count(), 2);
	assert_int_equal(keryu_notify_event_decode(fake_host_pub(1)->payload,
						   fake_host_pub(1)->len, &n),
			 0);
	assert_string_equal(n.ack_url, "");
	assert_string_equal(fake_host_pub(1)->topic, "keryu/v1/notify/log");
	keryu_module.cleanup(state);
	fake_host_reset(NULL);
}

static char *report_json(const char *alarm_id, const char *kind)
{
	struct keryu_report_event ev;

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	snprintf(ev.alarm_id, sizeof(ev.alarm_id), "%s", alarm_id);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	return keryu_report_event_encode(&ev);
}

/* The finder shared a location: everyone storage says was alerted gets
 * the follow-up template with the person's name and a map link, and no
 * acknowledgement link (the alert before it had one). */
static void location_report_sends_followups(void **st)
{
	struct keryu_notify_event n;
	char *json = report_json(ALARM, "location");

	(void)st;
	job(&S.followup_jobs[0], 1, "whatsapp", 1, 0);
	strcpy(S.followup_jobs[0].kind, "location");
	strcpy(S.followup_jobs[0].detail, "-33.456789,-70.654321,12");
	job(&S.followup_jobs[1], 2, "sms", 1, 1);
	strcpy(S.followup_jobs[1].kind, "location");
	strcpy(S.followup_jobs[1].detail, "-33.456789,-70.654321");
	S.n_followup_jobs = 2;
	assert_int_equal(fake_host_deliver("keryu/v1/report/" ALARM, json), 1);
	free(json);
	assert_int_equal(S.followup_calls, 1);
	assert_string_equal(S.followup_alarm, ALARM);
	assert_string_equal(S.followup_kind, "location");
	assert_int_equal(S.followup_lease, 60);
	assert_int_equal(fake_host_pub_count(), 2);
	assert_string_equal(fake_host_pub(0)->topic, "keryu/v1/notify/whatsapp");
	assert_string_equal(fake_host_pub(1)->topic, "keryu/v1/notify/sms");
	assert_int_equal(keryu_notify_event_decode(fake_host_pub(0)->payload,
						   fake_host_pub(0)->len, &n),
			 0);
	assert_string_equal(n.template_name, "qr_location_update");
	assert_int_equal(n.param_count, 2);
	assert_string_equal(n.params[0], NAME);
	assert_string_equal(n.params[1],
			    "https://www.openstreetmap.org/?mlat=-33.456789"
			    "&mlon=-70.654321#map=17/-33.456789/-70.654321");
	assert_string_equal(n.ack_url, "");
	assert_true(fake_host_log_contains("alarms.followup notification="));
	assert_false(fake_host_log_contains("-33.45")); /* no location logged */
}

static void report_followup_says_what_the_finder_said(void **st)
{
	struct keryu_notify_event n;
	struct keryu_notify_job j;

	(void)st;
	job(&j, 1, "whatsapp", 1, 0);
	strcpy(j.kind, "report");
	strcpy(j.detail, "injured: she fell, left knee");
	assert_int_equal(alarms_publish_job(ctx, &j), 0);
	strcpy(j.detail, "test");
	assert_int_equal(alarms_publish_job(ctx, &j), 0);
	strcpy(j.detail, "gossip: x");
	assert_int_equal(alarms_publish_job(ctx, &j), KERYU_EINVAL);
	strcpy(j.kind, "location");
	strcpy(j.detail, "91,0");
	assert_int_equal(alarms_publish_job(ctx, &j), KERYU_EINVAL);
	assert_int_equal(fake_host_pub_count(), 2);
	assert_int_equal(keryu_notify_event_decode(fake_host_pub(0)->payload,
						   fake_host_pub(0)->len, &n),
			 0);
	assert_string_equal(n.template_name, "qr_finder_report");
	assert_int_equal(n.param_count, 3);
	assert_string_equal(n.params[1], "is injured");
	assert_string_equal(n.params[2], "she fell, left knee");
	assert_int_equal(keryu_notify_event_decode(fake_host_pub(1)->payload,
						   fake_host_pub(1)->len, &n),
			 0);
	assert_non_null(strstr(n.params[1], "TEST"));
	assert_string_equal(n.params[2], "-");
}

static void bad_report_events_send_nothing(void **st)
{
	char *json = report_json(ALARM, "location");

	(void)st;
	fake_host_deliver("keryu/v1/report/" NOTIF, json); /* topic mismatch */
	free(json);
	fake_host_deliver("keryu/v1/report/" ALARM, "{\"v\":1}");
	assert_int_equal(S.followup_calls, 0);
	S.followup_rc = KERYU_ENOTFOUND;
	json = report_json(ALARM, "report");
	fake_host_deliver("keryu/v1/report/" ALARM, json);
	free(json);
	assert_int_equal(S.followup_calls, 1);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("alarms.report.topic_mismatch"));
	assert_true(fake_host_log_contains("alarms.report.malformed"));
	assert_true(fake_host_log_contains("warn alarms.report.failed"));
}

/* Retention runs with due work: once, then not again within a day. */
static void due_work_purges_once_a_day(void **st)
{
	(void)st;
	alarms_due_run(ctx);
	alarms_due_run(ctx);
	assert_int_equal(S.purge_calls, 1);
	assert_int_equal(S.purge_days, 30);
	assert_true(fake_host_log_contains("alarms.purge days=30 alarms=7"));
	ctx->last_purge_ms -= 25LL * 3600 * 1000;
	alarms_due_run(ctx);
	assert_int_equal(S.purge_calls, 2);
	/* a failure is tried again on the next round */
	S.purge_rc = KERYU_EIO;
	ctx->last_purge_ms -= 25LL * 3600 * 1000;
	alarms_due_run(ctx);
	alarms_due_run(ctx);
	assert_int_equal(S.purge_calls, 4);
	/* 0 keeps finder data */
	ctx->conf.finder_days = 0;
	ctx->conf.audit_days = 0;
	ctx->last_purge_ms = 0;
	alarms_due_run(ctx);
	assert_int_equal(S.purge_calls, 4);
}

static void scan_without_recipient_publishes_alarm_only(void **st)
{
	(void)st;
	S.created.notification_id[0] = '\0';
	S.created.recipient[0] = '\0';
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(fake_host_pub_count(), 1);
	assert_string_equal(fake_host_pub(0)->topic, "keryu/v1/alarm/" ALARM);
	assert_int_equal(S.queued_calls, 0);
}

static void bad_recipient_is_recorded_not_sent(void **st)
{
	(void)st;
	strcpy(S.created.recipient, "0123");
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(fake_host_pub_count(), 1); /* the alarm only */
	assert_int_equal(S.queued_calls, 0);
	assert_int_equal(S.result_calls, 1);
	assert_string_equal(S.last_result.notification_id, NOTIF);
	assert_string_equal(S.last_result.status, "failed");
	assert_string_equal(S.last_result.error_code, "bad_recipient");
	assert_false(fake_host_log_contains("0123"));
}

/* A duplicate whose notification was QUEUED (or went further) already
 * reached the bus: nothing is published again. */
static void duplicate_publishes_nothing(void **st)
{
	(void)st;
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(fake_host_pub_count(), 2);
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(S.scan_calls, 2);
	assert_int_equal(fake_host_pub_count(), 2);
	assert_int_equal(S.queued_calls, 1);
	assert_true(fake_host_log_contains("info alarms.scan.duplicate"));
}

static void malformed_payload_publishes_nothing(void **st)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{}",
		"[1,2]",
		"{\"v\":2,\"event_id\":\"" EVENT "\",\"at\":\"x\",\"qr_uuid\":\"" QR "\"}",
		"{\"v\":1,\"event_id\":\"nope\",\"at\":\"x\",\"qr_uuid\":\"" QR "\"}",
		"{\"v\":1,\"event_id\":\"" EVENT "\",\"at\":\"x\",\"qr_uuid\":\"abc\"}",
		"{\"v\":1,\"event_id\":\"" EVENT "\",\"at\":\"x\"}",
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		fake_host_deliver("keryu/v1/scan/" QR, bad[i]);
	assert_int_equal(S.scan_calls, 0);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("warn alarms.scan.malformed"));
}

static void topic_mismatch_publishes_nothing(void **st)
{
	(void)st;
	deliver_scan("5d1c2b3a-4e5f-4a6b-9c7d-000000000000", EVENT, QR);
	deliver_scan("0B7F3C1E-9A52-4C1D-8F3E-2A6B9C0D1E2F", EVENT, QR);
	assert_int_equal(S.scan_calls, 0);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("warn alarms.scan.topic_mismatch"));
}

static void uppercase_tag_is_normalised(void **st)
{
	(void)st;
	deliver_scan("0B7F3C1E-9A52-4C1D-8F3E-2A6B9C0D1E2F", EVENT,
		     "0B7F3C1E-9A52-4C1D-8F3E-2A6B9C0D1E2F");
	assert_int_equal(S.scan_calls, 1);
	assert_string_equal(S.last_scan.qr_uuid, QR);
	assert_int_equal(fake_host_pub_count(), 2);
}

static void unknown_tag_is_dropped(void **st)
{
	(void)st;
	S.scan_rcs[0] = KERYU_ENOTFOUND;
	S.n_scan_rcs = 1;
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(S.scan_calls, 1);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("warn alarms.scan.unknown_tag"));
}

static void storage_eio_then_success_processed_once(void **st)
{
	(void)st;
	S.scan_rcs[0] = KERYU_EIO;
	S.scan_rcs[1] = KERYU_EIO;
	S.n_scan_rcs = 2;
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(S.scan_calls, 3);
	assert_int_equal(S.n_seen, 1);
	assert_int_equal(fake_host_pub_count(), 2);
	assert_int_equal(S.queued_calls, 1);
	assert_true(fake_host_log_contains("warn alarms.storage.retrying"));
	assert_true(fake_host_log_contains("alarms.storage.recovered"));
}

static void storage_down_gives_up(void **st)
{
	int i;

	(void)st;
	for (i = 0; i < 8; i++)
		S.scan_rcs[i] = KERYU_EIO;
	S.n_scan_rcs = 8;
	ctx->retry_total_ms = 10;
	deliver_scan(QR, EVENT, QR);
	assert_true(S.scan_calls >= 2);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("error alarms.storage.gave_up"));
}

/* Died between the alarm's commit and the delivery request's publish: the
 * broker redelivers the scan, storage says "seen, still PENDING", and the
 * request goes out now, for the same notification, as attempt 1. */
static void duplicate_with_pending_notification_republishes(void **st)
{
	const struct fake_pub *p;
	struct keryu_notify_event n;

	(void)st;
	strcpy(S.seen[S.n_seen++], EVENT); /* committed before the crash */
	S.dup_pending = true;
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(S.scan_calls, 1);
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/notify/whatsapp");
	assert_int_equal(p->qos, 1);
	assert_int_equal(keryu_notify_event_decode(p->payload, p->len, &n), 0);
	assert_string_equal(n.notification_id, NOTIF);
	assert_int_equal(n.attempt, 1);
	assert_string_equal(n.to, PHONE);
	assert_string_equal(n.params[0], NAME);
	assert_string_equal(n.params[1], "2026-11-25 12:34 UTC");
	assert_int_equal(S.queued_calls, 1);
	assert_string_equal(S.queued_id, NOTIF);
	assert_int_equal(S.queued_attempt, 1);
	assert_true(fake_host_log_contains("alarms.scan.republish event=" EVENT
					   " alarm=" ALARM
					   " notification=" NOTIF));
	assert_false(fake_host_log_contains("alarms.scan.duplicate"));
	assert_no_phone_logged();
}

/* The same, but with a recipient that is no phone number: recorded as an
 * error, never sent. */
static void duplicate_pending_bad_recipient_is_recorded(void **st)
{
	(void)st;
	strcpy(S.seen[S.n_seen++], EVENT);
	S.dup_pending = true;
	strcpy(S.created.recipient, "0123");
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_int_equal(S.queued_calls, 0);
	assert_int_equal(S.result_calls, 1);
	assert_string_equal(S.last_result.status, "failed");
}

/* Each storage call blocks 300 ms and fails: the retry budget is wall-clock
 * time, calls included, not only the naps between them. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void retry_counts_time_spent_in_storage(void **st)
{
	double t0, took;
	int i;

	(void)st;
	for (i = 0; i < 8; i++)
		S.scan_rcs[i] = KERYU_EIO;
	S.n_scan_rcs = 8;
	S.sleep_ms = 300;
	ctx->retry_first_ms = 10;
	ctx->retry_max_ms = 100;
	ctx->retry_total_ms = 1000;
	t0 = now_s();
	deliver_scan(QR, EVENT, QR);
	took = now_s() - t0;
	assert_true(took <= 1.3); /* 1 s budget + scheduling slack */
	assert_true(S.scan_calls >= 2);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("error alarms.storage.gave_up"));
}

/* One message has one budget: time spent making the alarm is not given
 * again to marking its notification queued. */
static void one_message_one_budget(void **st)
{
	double t0, took;
	int i;

	(void)st;
	S.scan_rcs[0] = KERYU_EIO;
	S.scan_rcs[1] = KERYU_EIO;
	S.n_scan_rcs = 2;
	for (i = 0; i < 8; i++)
		S.queued_rcs[i] = KERYU_EIO;
	S.n_queued_rcs = 8;
	S.sleep_ms = 150;
	ctx->retry_first_ms = 10;
	ctx->retry_max_ms = 100;
	ctx->retry_total_ms = 1000;
	t0 = now_s();
	deliver_scan(QR, EVENT, QR);
	took = now_s() - t0;
	assert_true(took <= 1.3); /* 1 s budget + scheduling slack */
	assert_int_equal(S.scan_calls, 3);
	assert_true(S.queued_calls >= 1);
	assert_int_equal(fake_host_pub_count(), 2); /* alarm and request */
	assert_true(fake_host_log_contains("alarms.queued_failed"));
}

static void delivery_result_forwarded(void **st)
{
	char *json = delivery_json(NOTIF, "delivered");

	(void)st;
	assert_int_equal(fake_host_deliver("keryu/v1/delivery/" NOTIF, json), 1);
	free(json);
	assert_int_equal(S.result_calls, 1);
	assert_string_equal(S.last_result.notification_id, NOTIF);
	assert_string_equal(S.last_result.status, "delivered");
	assert_string_equal(S.last_result.provider_message_id, "wamid.123");
	assert_string_equal(S.last_result.error_code, "131026");
	assert_int_equal(S.result_lease, 60);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains(
		"info alarms.delivery notification=" NOTIF " status=delivered"));
	assert_no_phone_logged();
}

static void delivery_refused_when_wrong(void **st)
{
	char *json = delivery_json(NOTIF, "delivered");

	(void)st;
	fake_host_deliver("keryu/v1/delivery/" ALARM, json); /* mismatch */
	free(json);
	fake_host_deliver("keryu/v1/delivery/" NOTIF, "{\"v\":1}");
	fake_host_deliver("keryu/v1/delivery/" NOTIF,
			  "{\"v\":1,\"event_id\":\"" EVENT "\",\"at\":\"x\","
			  "\"notification_id\":\"" NOTIF "\",\"attempt\":1,"
			  "\"channel\":\"log\",\"status\":\"bogus\"}");
	assert_int_equal(S.result_calls, 0);
	assert_true(fake_host_log_contains("alarms.delivery.topic_mismatch"));
	assert_true(fake_host_log_contains("alarms.delivery.malformed"));
}

static void delivery_eio_retried(void **st)
{
	char *json = delivery_json(NOTIF, "sent");

	(void)st;
	S.result_rc = KERYU_EIO;
	ctx->retry_total_ms = 5;
	fake_host_deliver("keryu/v1/delivery/" NOTIF, json);
	free(json);
	assert_true(S.result_calls >= 2);
	assert_true(fake_host_log_contains("error alarms.delivery.failed"));
}

static void time_formatting(void **st)
{
	char out[64];

	(void)st;
	alarms_format_time("2026-01-05T03:04:59Z", out, sizeof(out));
	assert_string_equal(out, "2026-01-05 03:04 UTC");
	alarms_format_time("garbage", out, sizeof(out));
	assert_string_equal(out, "garbage");
	alarms_format_time("2026-13-05T03:04:59Z", out, sizeof(out));
	assert_string_equal(out, "2026-13-05T03:04:59Z");
}

/* ---- settings and templates kept in the database ---- */

static void decode_pub(size_t i, struct keryu_notify_event *n)
{
	const struct fake_pub *p = fake_host_pub(i);

	assert_non_null(p);
	assert_int_equal(keryu_notify_event_decode(p->payload, p->len, n), 0);
}

/* Stored settings replace the options in the next due round, for the
 * due work and for scans alike; removing them brings the options back. */
static void stored_settings_apply_without_restart(void **st)
{
	(void)st;
	setting("default_channel", "sms");
	setting("fallback_channel", "log");
	setting("cooldown_s", "5");
	setting("escalate_after_s", "7");
	setting("ack_timeout_s", "9");
	alarms_due_run(ctx);
	assert_string_equal(S.last_policy.channel, "sms");
	assert_string_equal(S.last_policy.fallback_channel, "log");
	assert_int_equal(S.last_policy.cooldown_s, 5);
	assert_int_equal(S.last_policy.escalate_after_s, 7);
	assert_int_equal(S.last_policy.ack_timeout_s, 9);
	assert_int_equal(S.last_policy.lease_s, 60);
	deliver_scan(QR, EVENT, QR);
	assert_string_equal(S.last_channel, "sms");
	assert_int_equal(S.last_policy.cooldown_s, 5);

	A.n_settings = 0;
	alarms_due_run(ctx);
	deliver_scan(QR, "5d1c2b3a-4e5f-4a6b-9c7d-000000000002", QR);
	assert_string_equal(S.last_channel, "whatsapp");
	assert_int_equal(S.last_policy.cooldown_s, 60);
	assert_string_equal(S.last_policy.fallback_channel, "");
}

/* Without the admin service there are no stored settings to honour:
 * refused at init rather than silently ignoring what staff set. */
static void admin_service_is_required(void **st)
{
	void *state = NULL;
	int i, found = 0;

	(void)st;
	fake_host_reset(&keryu_module);
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_host_add_service(KERYU_SERVICE_SUBJECTS, &fake_subjects);
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 KERYU_ENOTFOUND);
	assert_true(fake_host_log_contains("admin or subjects service"));
	/* declared, so the kernel starts storage first */
	for (i = 0; keryu_module.requires[i]; i++)
		found += strcmp(keryu_module.requires[i], "admin") == 0;
	assert_int_equal(found, 1);
	fake_host_reset(NULL);
}

/* What was stored before keryud started applies to the first scan, before
 * the first due round. */
static void stored_settings_apply_from_start(void **st)
{
	void *state = NULL;

	(void)st;
	memset(&S, 0, sizeof(S));
	memset(&A, 0, sizeof(A));
	strcpy(S.created.alarm_id, ALARM);
	fake_host_reset(&keryu_module);
	add_services();
	fake_host_set("tick_ms", "600000");
	setting("cooldown_s", "5");
	setting("default_channel", "sms");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state), 0);
	assert_int_equal(keryu_module.start(state), 0);
	deliver_scan(QR, EVENT, QR);
	assert_int_equal(S.last_policy.cooldown_s, 5);
	assert_string_equal(S.last_channel, "sms");
	assert_int_equal(S.due_calls, 0);
	keryu_module.stop(state, 1000);
	keryu_module.cleanup(state);
	fake_host_reset(NULL);
}

/* The database going away keeps what was read last, said once; a value
 * written around the service's checks is ignored, said once. */
static void admin_failure_keeps_last_values(void **st)
{
	(void)st;
	setting("cooldown_s", "5");
	alarms_due_run(ctx);
	A.setting_rc = KERYU_EIO;
	A.template_rc = KERYU_EIO;
	alarms_due_run(ctx);
	alarms_due_run(ctx);
	assert_int_equal(S.last_policy.cooldown_s, 5);
	assert_int_equal(times_logged("alarms.admin.failed"), 2);
	assert_true(fake_host_log_contains("alarms.admin.failed list=settings"));
	assert_true(fake_host_log_contains("alarms.admin.failed list=templates"));
	A.setting_rc = 0;
	A.template_rc = 0;
	alarms_due_run(ctx);
	assert_int_equal(times_logged("alarms.admin.recovered"), 2);
	A.setting_rc = KERYU_EIO;
	alarms_due_run(ctx);
	alarms_due_run(ctx);
	assert_int_equal(times_logged("alarms.admin.failed"), 3);

	A.setting_rc = 0;
	A.n_settings = 0;
	setting("cooldown_s", "-3");
	setting("escalate_after_s", "30");
	alarms_due_run(ctx);
	alarms_due_run(ctx);
	assert_int_equal(S.last_policy.cooldown_s, 60);
	assert_int_equal(S.last_policy.escalate_after_s, 30);
	assert_int_equal(times_logged("alarms.setting.invalid"), 1);
	assert_true(fake_host_log_contains("key=cooldown_s"));
}

/* An approved stored template names the alert's template, language and
 * parameters in its own order, the place looked up only then. */
static void stored_alert_template_is_used(void **st)
{
	struct keryu_notify_event n;

	(void)st;
	stored_template("alert", "whatsapp", "qr_alert_b", "es",
			"link,name,place,time", true);
	A.has_location = true;
	alarms_due_run(ctx);
	deliver_scan(QR, EVENT, QR);
	decode_pub(1, &n);
	assert_string_equal(n.template_name, "qr_alert_b");
	assert_string_equal(n.language, "es");
	assert_int_equal(n.param_count, 4);
	assert_string_equal(n.params[0], n.ack_url);
	assert_true(strncmp(n.ack_url, "https://keryu.example/ack/", 26) == 0);
	assert_string_equal(n.params[1], NAME);
	assert_string_equal(n.params[2],
			    "https://www.openstreetmap.org/?mlat=40.416800"
			    "&mlon=-3.703800#map=17/40.416800/-3.703800");
	assert_string_equal(n.params[3], "2026-11-25 12:34 UTC");
	assert_int_equal(A.owner_calls, 1);

	/* no location: "-", a parameter may not be empty */
	A.has_location = false;
	deliver_scan(QR, "5d1c2b3a-4e5f-4a6b-9c7d-000000000002", QR);
	decode_pub(3, &n);
	assert_string_equal(n.params[2], "-");
}

/* No row, an unapproved row, a row for another channel: keryu.conf's
 * template exactly as before. The (event, "") row serves every channel
 * without its own; a channel's own row, approved or not, decides. */
static void template_choice_follows_the_rows(void **st)
{
	struct keryu_notify_event n;

	(void)st;
	stored_template("alert", "whatsapp", "qr_wait", "es", "name", false);
	stored_template("alert", "twilio", "qr_sms", "es", "name", true);
	alarms_due_run(ctx);
	deliver_scan(QR, EVENT, QR);
	decode_pub(1, &n);
	assert_string_equal(n.template_name, "qr_template_on_m");
	assert_string_equal(n.language, "en_US");
	assert_int_equal(n.param_count, 2);
	assert_string_equal(n.params[0], NAME);
	assert_string_equal(n.params[1], "2026-11-25 12:34 UTC");
	assert_int_equal(A.owner_calls, 0);

	/* a "" row does not override the channel's own unapproved one */
	stored_template("alert", "", "qr_all", "de", "time,name", true);
	alarms_due_run(ctx);
	deliver_scan(QR, "5d1c2b3a-4e5f-4a6b-9c7d-000000000002", QR);
	decode_pub(3, &n);
	assert_string_equal(n.template_name, "qr_template_on_m");

	/* without it, the "" row applies */
	A.templates[0] = A.templates[2];
	A.n_templates = 2;
	alarms_due_run(ctx);
	deliver_scan(QR, "5d1c2b3a-4e5f-4a6b-9c7d-000000000003", QR);
	decode_pub(5, &n);
	assert_string_equal(n.template_name, "qr_all");
	assert_string_equal(n.language, "de");
	assert_int_equal(n.param_count, 2);
	assert_string_equal(n.params[0], "2026-11-25 12:34 UTC");
	assert_string_equal(n.params[1], NAME);

	/* a row naming what an alert does not have: keryu.conf's, logged */
	A.n_templates = 0;
	stored_template("alert", "whatsapp", "qr_bad", "es", "name,map", true);
	alarms_due_run(ctx);
	deliver_scan(QR, "5d1c2b3a-4e5f-4a6b-9c7d-000000000004", QR);
	decode_pub(7, &n);
	assert_string_equal(n.template_name, "qr_template_on_m");
	assert_true(fake_host_log_contains("alarms.template.unusable "
					   "event=alert channel=whatsapp"));
}

/* Follow-ups take their stored templates too, by kind and channel. */
static void stored_followup_templates_are_used(void **st)
{
	struct keryu_notify_event n;
	char *json;

	(void)st;
	stored_template("location", "", "qr_where", "fr", "map,name", true);
	stored_template("report", "whatsapp", "qr_said", "fr",
			"words,situation", true);
	alarms_due_run(ctx);
	job(&S.followup_jobs[0], 0, "whatsapp", 1, 0);
	strcpy(S.followup_jobs[0].kind, "location");
	strcpy(S.followup_jobs[0].detail, "40.5,-3.25,12");
	S.n_followup_jobs = 1;
	json = report_json(ALARM, "location");
	fake_host_deliver("keryu/v1/report/" ALARM, json);
	free(json);
	decode_pub(0, &n);
	assert_string_equal(n.template_name, "qr_where");
	assert_string_equal(n.language, "fr");
	assert_int_equal(n.param_count, 2);
	assert_string_equal(n.params[0],
			    "https://www.openstreetmap.org/?mlat=40.500000"
			    "&mlon=-3.250000#map=17/40.500000/-3.250000");
	assert_string_equal(n.params[1], S.followup_jobs[0].subject_name);

	strcpy(S.followup_jobs[0].kind, "report");
	strcpy(S.followup_jobs[0].detail, "injured: by the river");
	json = report_json(ALARM, "report");
	fake_host_deliver("keryu/v1/report/" ALARM, json);
	free(json);
	decode_pub(1, &n);
	assert_string_equal(n.template_name, "qr_said");
	assert_int_equal(n.param_count, 2);
	assert_string_equal(n.params[0], "by the river");
	assert_string_equal(n.params[1], "is injured");
}

/* The daily purge deletes alarms and audit entries in batches of 1000
 * until fewer come back, with the stored retention over keryu.conf. */
static void purge_deletes_alarms_and_audit_in_batches(void **st)
{
	(void)st;
	setting("alarm_retention_days", "400");
	setting("finder_retention_days", "10");
	A.purge_rows[KERYU_PURGE_ALARMS][0] = 1000;
	A.purge_rows[KERYU_PURGE_ALARMS][1] = 1000;
	A.purge_rows[KERYU_PURGE_ALARMS][2] = 3;
	A.purge_rows[KERYU_PURGE_AUDIT][0] = 12;
	alarms_due_run(ctx);
	assert_int_equal(S.purge_days, 10);
	assert_int_equal(A.purge_calls[KERYU_PURGE_ALARMS], 3);
	assert_int_equal(A.purge_days[KERYU_PURGE_ALARMS], 400);
	assert_int_equal(A.purge_batch, 1000);
	assert_int_equal(A.purge_calls[KERYU_PURGE_AUDIT], 1);
	assert_int_equal(A.purge_days[KERYU_PURGE_AUDIT], 365);
	assert_true(fake_host_log_contains("alarm_days=400 deleted=2003 "
					   "audit_days=365 audit_deleted=12"));
	/* once a day; a failure is tried again next round */
	alarms_due_run(ctx);
	assert_int_equal(A.purge_calls[KERYU_PURGE_AUDIT], 1);
	ctx->last_purge_ms -= 25LL * 3600 * 1000;
	A.purge_rc = KERYU_EIO;
	alarms_due_run(ctx);
	assert_int_equal(A.purge_calls[KERYU_PURGE_ALARMS], 4);
	assert_int_equal(A.purge_calls[KERYU_PURGE_AUDIT], 1);
	A.purge_rc = 0;
	alarms_due_run(ctx);
	assert_int_equal(A.purge_calls[KERYU_PURGE_AUDIT], 2);
	/* 0 keeps */
	A.n_settings = 0;
	setting("audit_retention_days", "0");
	ctx->last_purge_ms = 0;
	alarms_due_run(ctx);
	assert_int_equal(A.purge_calls[KERYU_PURGE_AUDIT], 2);
	assert_int_equal(A.purge_calls[KERYU_PURGE_ALARMS], 5);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(subscriptions_are_plain_qos1),
		cmocka_unit_test(group_option_names_the_share),
		T(scan_publishes_alarm_and_notify),
		T(policy_comes_from_config),
		T(joined_scan_alerts_nobody),
		T(due_work_publishes_every_job),
		T(due_work_storage_down_publishes_nothing),
		T(location_report_sends_followups),
		T(report_followup_says_what_the_finder_said),
		T(bad_report_events_send_nothing),
		T(due_work_purges_once_a_day),
		cmocka_unit_test(no_ack_link_without_secret),
		T(scan_without_recipient_publishes_alarm_only),
		T(bad_recipient_is_recorded_not_sent),
		T(duplicate_publishes_nothing),
		T(duplicate_with_pending_notification_republishes),
		T(duplicate_pending_bad_recipient_is_recorded),
		T(malformed_payload_publishes_nothing),
		T(topic_mismatch_publishes_nothing),
		T(uppercase_tag_is_normalised),
		T(unknown_tag_is_dropped),
		T(storage_eio_then_success_processed_once),
		T(storage_down_gives_up),
		T(retry_counts_time_spent_in_storage),
		T(one_message_one_budget),
		T(delivery_result_forwarded),
		T(delivery_refused_when_wrong),
		T(delivery_eio_retried),
		cmocka_unit_test(time_formatting),
		T(stored_settings_apply_without_restart),
		cmocka_unit_test(stored_settings_apply_from_start),
		cmocka_unit_test(admin_service_is_required),
		T(admin_failure_keeps_last_values),
		T(stored_alert_template_is_used),
		T(template_choice_follows_the_rows),
		T(stored_followup_templates_are_used),
		T(purge_deletes_alarms_and_audit_in_batches),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
