/* integration.storage_admin_service: the "admin" service (keryu/admin.h) on
 * a real PostgreSQL: the audit log and its filters, message templates and
 * settings with every validation rule, the staff-wide lists, owner_of,
 * failed deliveries and "retry now" (picked up by notify_due, one retry for
 * two clicks), API refresh tokens with replay detection, the revocations
 * done by a password change and a deactivation, and retention purges in
 * batches. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/admin.h>

#include "fake_host.h"
#include "storage_fixture.h"

static const struct keryu_admin *ad;
/* w1, w2: two custodians for the audit, the lists and the tokens; w3: the
 * retries; w4: the purge */
static struct fx_world w1, w2, w3, w4;
static char email1[64], email2[64];
static char retry_alarm[KERYU_UUID_LEN];

#define PW "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

/* 64 hex digits, all the digit d: a token digest. */
static const char *hx(char d, char buf[KERYU_HASH_HEX])
{
	memset(buf, d, 64);
	buf[64] = '\0';
	return buf;
}

static const char *email_of(const char *custodian, char out[64])
{
	return fx_scalar(out, 64, "SELECT email FROM custodians WHERE id = $1",
			 custodian);
}

static void test_start(void **unused)
{
	void *const *fn;
	size_t i;

	(void)unused;
	assert_int_equal(fx_start("3"), 0);
	ad = fake_host()->service(fake_mod(), KERYU_SERVICE_ADMIN);
	assert_non_null(ad);
	assert_int_equal(ad->struct_size, sizeof(struct keryu_admin));
	assert_ptr_equal(ad->self, fx.st->self);
	/* every function pointer between self and reserved is set */
	fn = (void *const *)((const char *)ad +
			     offsetof(struct keryu_admin, audit_append));
	for (i = 0; (const char *)&fn[i] <
		    (const char *)ad + offsetof(struct keryu_admin, reserved);
	     i++)
		assert_non_null(fn[i]);
	assert_int_equal(i, 21);
	fx_seed(&w1, true, 1, 0);
	fx_seed(&w2, true, 0, 0);
	fx_seed(&w3, true, 0, 0);
	fx_seed(&w4, true, 0, 0);
	email_of(w1.custodian, email1);
	email_of(w2.custodian, email2);
	fx_sql1("UPDATE subjects SET name = 'Bruno Test' "
		"WHERE custodian_id = $1::uuid",
		w2.custodian);
	/* a second subject of w2's, with no tag */
	fx_sql1("INSERT INTO subjects (custodian_id, name, date_of_birth, "
		"gender) VALUES ($1::uuid, 'Carmen Otra', '2015-01-01', 'F')",
		w2.custodian);
}

/* ---- audit ---- */

static void entry(struct keryu_audit_entry *e, const char *actor,
		  const char *email, const char *source, const char *action,
		  const char *target, const char *summary)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->actor_id, sizeof(e->actor_id), "%s", actor);
	snprintf(e->actor_email, sizeof(e->actor_email), "%s", email);
	snprintf(e->source, sizeof(e->source), "%s", source);
	snprintf(e->action, sizeof(e->action), "%s", action);
	snprintf(e->target_id, sizeof(e->target_id), "%s", target);
	snprintf(e->summary, sizeof(e->summary), "%s", summary);
}

static int list(const char *actor, const char *action, const char *target,
		const char *from, const char *to, int offset, int limit,
		struct keryu_audit_entry *out, size_t max, size_t *n)
{
	struct keryu_audit_filter f;
	int total = -1, rc;

	memset(&f, 0, sizeof(f));
	snprintf(f.actor, sizeof(f.actor), "%s", actor);
	snprintf(f.action, sizeof(f.action), "%s", action);
	snprintf(f.target_id, sizeof(f.target_id), "%s", target);
	snprintf(f.from, sizeof(f.from), "%s", from);
	snprintf(f.to, sizeof(f.to), "%s", to);
	f.offset = offset;
	f.limit = limit;
	rc = ad->audit_list(ad->self, &f, out, max, n, &total);
	return rc ? rc : total;
}

static void test_audit_append(void **unused)
{
	struct keryu_audit_entry e, bad;
	char ip[KERYU_HASH_HEX], buf[600], *big;
	long long last = 0;
	size_t i;

	(void)unused;
	/* 1: a login */
	entry(&e, w1.custodian, email1, "web", "login", w1.custodian, "ok");
	snprintf(e.target_type, sizeof(e.target_type), "custodian");
	snprintf(e.ip_hash, sizeof(e.ip_hash), "%s", hx('a', ip));
	assert_int_equal(ad->audit_append(ad->self, &e), 0);
	assert_true(e.id > 0);
	assert_int_equal(strlen(e.at), 24);
	last = e.id;
	/* 2: a failed login by a visitor, the email as typed */
	entry(&e, "", "Mallory@EVIL.test", "web", "login.failed", "",
	      "wrong password");
	assert_int_equal(ad->audit_append(ad->self, &e), 0);
	assert_true(e.id > last);
	last = e.id;
	/* 3: from the API */
	entry(&e, w2.custodian, email2, "api", "subject.update", w2.subject,
	      "name: Ana -> Bruno");
	snprintf(e.target_type, sizeof(e.target_type), "subject");
	assert_int_equal(ad->audit_append(ad->self, &e), 0);
	/* 4: control characters and broken UTF-8 are cleaned, not refused */
	entry(&e, "", "", "cli", "setting.update", "cooldown_s",
	      "cooldown_s: 0 -> 60\n\x01\xff\xc3(end");
	assert_int_equal(ad->audit_append(ad->self, &e), 0);
	assert_string_equal(
		fx_scalar(buf, sizeof(buf),
			  "SELECT summary FROM audit_log WHERE action = $1",
			  "setting.update"),
		"cooldown_s: 0 -> 60  ?" "?(end");
	/* 5: a summary that does not fit is cut on a character boundary:
	 * 300 two-byte characters, 511 bytes at most */
	entry(&e, "", "", "system", "purge", "", "");
	big = e.summary;
	for (i = 0; i + 2 < sizeof(e.summary); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(e.summary) - 1] = '\0'; /* 510 bytes + a lone lead byte */
	big[sizeof(e.summary) - 2] = '\xc3';
	assert_int_equal(ad->audit_append(ad->self, &e), 0);
	assert_string_equal(
		fx_scalar(buf, sizeof(buf),
			  "SELECT octet_length(summary) || ':' || "
			  "(summary ~ '^(é)+\\?$')::text FROM audit_log "
			  "WHERE action = $1",
			  "purge"),
		"511:true");

	/* refused, nothing written */
	entry(&bad, "", "", "email", "login", "", "");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	entry(&bad, "", "", "web", "Login", "", "");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	entry(&bad, "", "", "web", "", "", "");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	entry(&bad, "", "", "web", "a-b", "", "");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	entry(&bad, "", "", "web", "", "", "");
	memset(bad.action, 'a', 47);
	bad.action[47] = '\0';
	assert_int_equal(ad->audit_append(ad->self, &bad), 0);
	entry(&bad, "nope", "", "web", "login", "", "");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	entry(&bad, "", "", "web", "login", "", "");
	snprintf(bad.ip_hash, sizeof(bad.ip_hash), "10.0.0.1");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	entry(&bad, "", "", "web", "login", "", "");
	snprintf(bad.target_type, sizeof(bad.target_type), "Custodian");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	entry(&bad, "", "", "web", "login", "a\nb", "");
	assert_int_equal(ad->audit_append(ad->self, &bad), KERYU_EINVAL);
	assert_int_equal(ad->audit_append(ad->self, NULL), KERYU_EINVAL);
	assert_int_equal(fx_count("SELECT count(*) FROM audit_log", NULL), 6);
	/* the 47-letter one goes: the list test counts five */
	fx_sql1("DELETE FROM audit_log WHERE length(action) = 47", NULL);
	/* an actor deleted meanwhile is recorded as nobody */
	entry(&e, "00000000-0000-4000-8000-000000000001", "", "web", "logout",
	      "", "");
	assert_int_equal(ad->audit_append(ad->self, &e), 0);
	assert_int_equal(fx_count("SELECT count(*) FROM audit_log WHERE "
				  "action = 'logout' AND actor_id IS NULL",
				  NULL),
			 1);
	fx_sql1("DELETE FROM audit_log WHERE action = 'logout'", NULL);
}

static void test_audit_list(void **unused)
{
	struct keryu_audit_entry out[8];
	size_t n = 99;

	(void)unused;
	/* everything, newest first */
	assert_int_equal(list("", "", "", "", "", 0, 100, out, 8, &n), 5);
	assert_int_equal(n, 5);
	assert_string_equal(out[0].action, "purge");
	assert_string_equal(out[4].action, "login");
	assert_string_equal(out[4].actor_id, w1.custodian);
	assert_string_equal(out[4].actor_email, email1);
	assert_string_equal(out[4].source, "web");
	assert_string_equal(out[4].target_type, "custodian");
	assert_string_equal(out[4].target_id, w1.custodian);
	assert_string_equal(out[4].summary, "ok");
	assert_int_equal(strlen(out[4].ip_hash), 64);
	assert_true(out[3].id > out[4].id);
	/* by actor: the id, or part of the email ignoring case */
	assert_int_equal(list(w1.custodian, "", "", "", "", 0, 10, out, 8, &n),
			 1);
	assert_string_equal(out[0].action, "login");
	assert_int_equal(list("evil", "", "", "", "", 0, 10, out, 8, &n), 1);
	assert_string_equal(out[0].action, "login.failed");
	assert_string_equal(out[0].actor_id, "");
	assert_string_equal(out[0].actor_email, "Mallory@EVIL.test");
	assert_int_equal(list("nobody@", "", "", "", "", 0, 10, out, 8, &n),
			 0);
	assert_int_equal(n, 0);
	/* by action prefix; '_' is a letter, not LIKE's wildcard */
	assert_int_equal(list("", "login", "", "", "", 0, 10, out, 8, &n), 2);
	assert_string_equal(out[0].action, "login.failed");
	assert_string_equal(out[1].action, "login");
	assert_int_equal(list("", "login.", "", "", "", 0, 10, out, 8, &n), 1);
	assert_int_equal(list("", "login_", "", "", "", 0, 10, out, 8, &n), 0);
	assert_int_equal(list("", "setting.update", "", "", "", 0, 10, out, 8,
			      &n),
			 1);
	/* by target, exactly */
	assert_int_equal(list("", "", "cooldown_s", "", "", 0, 10, out, 8, &n),
			 1);
	assert_string_equal(out[0].source, "cli");
	assert_int_equal(list("", "", "cooldown", "", "", 0, 10, out, 8, &n),
			 0);
	/* by UTC day, inclusive */
	fx_sql1("UPDATE audit_log SET at = '2020-01-05 23:59:59+00' "
		"WHERE action = $1",
		"login");
	assert_int_equal(list("", "", "", "2020-01-05", "2020-01-05", 0, 10,
			      out, 8, &n),
			 1);
	assert_string_equal(out[0].at, "2020-01-05T23:59:59.000Z");
	assert_int_equal(list("", "", "", "", "2020-01-04", 0, 10, out, 8, &n),
			 0);
	assert_int_equal(list("", "", "", "2020-01-06", "", 0, 10, out, 8, &n),
			 4);
	/* combined */
	assert_int_equal(list("evil", "login", "", "2020-01-06", "", 0, 10,
			      out, 8, &n),
			 1);
	/* paging: the total counts every match */
	assert_int_equal(list("", "", "", "", "", 0, 2, out, 8, &n), 5);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].action, "purge");
	assert_int_equal(list("", "", "", "", "", 4, 2, out, 8, &n), 5);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].action, "login");
	assert_int_equal(list("", "", "", "", "", 10, 2, out, 8, &n), 5);
	assert_int_equal(n, 0);
	/* max smaller than limit */
	assert_int_equal(list("", "", "", "", "", 0, 100, out, 3, &n), 5);
	assert_int_equal(n, 3);
	/* bad filters */
	assert_int_equal(list("", "", "", "", "", 0, 0, out, 8, &n),
			 KERYU_EINVAL);
	assert_int_equal(list("", "", "", "", "", 0, 101, out, 8, &n),
			 KERYU_EINVAL);
	assert_int_equal(list("", "", "", "", "", -1, 10, out, 8, &n),
			 KERYU_EINVAL);
	assert_int_equal(list("", "Login", "", "", "", 0, 10, out, 8, &n),
			 KERYU_EINVAL);
	assert_int_equal(list("", "", "", "2020-13-01", "", 0, 10, out, 8, &n),
			 KERYU_EINVAL);
	assert_int_equal(list("", "", "", "", "05/01/2020", 0, 10, out, 8, &n),
			 KERYU_EINVAL);
	assert_int_equal(ad->audit_list(ad->self, NULL, out, 8, &n, NULL),
			 KERYU_EINVAL);
}

/* ---- templates ---- */

static struct keryu_template tpl(const char *event, const char *channel,
				 const char *name, const char *params,
				 bool approved)
{
	struct keryu_template t;

	memset(&t, 0, sizeof(t));
	snprintf(t.event, sizeof(t.event), "%s", event);
	snprintf(t.channel, sizeof(t.channel), "%s", channel);
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.language, sizeof(t.language), "en_US");
	snprintf(t.parameters, sizeof(t.parameters), "%s", params);
	t.approved = approved;
	return t;
}

static int put(const struct keryu_template *t, const char *actor)
{
	return ad->template_put(ad->self, t, actor, NULL);
}

static void test_templates(void **unused)
{
	struct keryu_template t, before, got, all[4];
	size_t n = 99;

	(void)unused;
	t = tpl("alert", "", "keryu_alert", "name,time,place", true);
	memset(&before, 'x', sizeof(before));
	assert_int_equal(ad->template_put(ad->self, &t, w1.custodian, &before),
			 0);
	assert_string_equal(before.name, ""); /* new */
	t = tpl("alert", "whatsapp", "keryu_alert_wa", "name,place,link,time",
		false);
	snprintf(t.language, sizeof(t.language), "es-419");
	assert_int_equal(put(&t, NULL), 0);
	t = tpl("code", "", "keryu_code", "code", true);
	assert_int_equal(put(&t, ""), 0);
	t = tpl("report", "sms", "keryu_report", "", true);
	assert_int_equal(put(&t, NULL), 0);

	/* the channel's own row, else the every-channel one, approved or
	 * not */
	assert_int_equal(ad->template_get(ad->self, "alert", "whatsapp", &got),
			 0);
	assert_string_equal(got.name, "keryu_alert_wa");
	assert_string_equal(got.channel, "whatsapp");
	assert_string_equal(got.language, "es-419");
	assert_string_equal(got.parameters, "name,place,link,time");
	assert_false(got.approved);
	assert_string_equal(got.updated_by, "");
	assert_int_equal(strlen(got.updated_at), 24);
	assert_int_equal(ad->template_get(ad->self, "alert", "sms", &got), 0);
	assert_string_equal(got.name, "keryu_alert");
	assert_string_equal(got.channel, "");
	assert_true(got.approved);
	assert_string_equal(got.updated_by, w1.custodian);
	assert_int_equal(ad->template_get(ad->self, "alert", "", &got), 0);
	assert_string_equal(got.name, "keryu_alert");
	assert_int_equal(ad->template_get(ad->self, "report", "whatsapp", &got),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->template_get(ad->self, "location", "sms", &got),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->template_get(ad->self, "alarm", "sms", &got),
			 KERYU_EINVAL);
	assert_int_equal(ad->template_get(ad->self, "alert", "Sms", &got),
			 KERYU_EINVAL);

	/* replacing returns the row as it was */
	t = tpl("alert", "", "keryu_alert_v2", "name,time", false);
	assert_int_equal(ad->template_put(ad->self, &t, w2.custodian, &before),
			 0);
	assert_string_equal(before.name, "keryu_alert");
	assert_string_equal(before.parameters, "name,time,place");
	assert_true(before.approved);
	assert_string_equal(before.updated_by, w1.custodian);
	assert_int_equal(ad->template_get(ad->self, "alert", "sms", &got), 0);
	assert_string_equal(got.name, "keryu_alert_v2");
	assert_string_equal(got.updated_by, w2.custodian);
	assert_false(got.approved);

	/* by event then channel */
	assert_int_equal(ad->template_list(ad->self, all, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(all[0].event, "alert");
	assert_string_equal(all[0].channel, "");
	assert_string_equal(all[1].channel, "whatsapp");
	assert_string_equal(all[2].event, "code");
	assert_string_equal(all[3].event, "report");
	assert_int_equal(ad->template_list(ad->self, all, 2, &n), 0);
	assert_int_equal(n, 2);

	/* every rule; nothing written */
	t = tpl("alarm", "", "x", "", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "WhatsApp", "x", "", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "what.sapp", "x", "", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "", "Bad-Name", "", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "", "", "", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "", "", "", true);
	memset(t.name, 'a', 127);
	assert_int_equal(put(&t, NULL), 0); /* 127 is the most */
	assert_int_equal(ad->template_delete(ad->self, "alert", ""), 0);
	t = tpl("alert", "", "x", "", true);
	t.language[0] = '\0';
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	snprintf(t.language, sizeof(t.language), "en US");
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	/* unknown variable, one of another event, duplicate, empty item */
	t = tpl("alert", "", "x", "name,phone", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "", "x", "name,code", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("location", "", "x", "map,name,map", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "", "x", "name,", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("alert", "", "x", "name, time", true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	/* too many: nine */
	t = tpl("alert", "", "x", "name,time,place,link,name,time,place,link,"
				  "name",
		true);
	assert_int_equal(put(&t, NULL), KERYU_EINVAL);
	t = tpl("location", "", "x", "map,name", true);
	assert_int_equal(put(&t, "nope"), KERYU_EINVAL);
	assert_int_equal(ad->template_put(ad->self, NULL, NULL, NULL),
			 KERYU_EINVAL);
	assert_int_equal(fx_count("SELECT count(*) FROM message_templates",
				  NULL),
			 3);
	/* every variable of an event, in any order */
	t = tpl("location", "", "keryu_location", "map,name", true);
	assert_int_equal(put(&t, NULL), 0);

	/* delete: the every-channel row applies again */
	assert_int_equal(ad->template_delete(ad->self, "alert", "whatsapp"), 0);
	assert_int_equal(ad->template_delete(ad->self, "alert", "whatsapp"),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->template_get(ad->self, "alert", "whatsapp", &got),
			 KERYU_ENOTFOUND); /* "" was deleted above too */
	assert_int_equal(ad->template_get(ad->self, "location", "whatsapp",
					  &got),
			 0);
	assert_string_equal(got.name, "keryu_location");
	assert_int_equal(ad->template_delete(ad->self, "alarm", ""),
			 KERYU_EINVAL);
	assert_int_equal(ad->template_delete(ad->self, "alert", "A"),
			 KERYU_EINVAL);
}

/* ---- settings ---- */

static int set(const char *key, const char *value)
{
	return ad->setting_set(ad->self, key, value, NULL, NULL);
}

static void test_settings(void **unused)
{
	struct keryu_setting s[KERYU_SETTINGS_MAX];
	char before[64];
	size_t n = 99;
	static const char *const ints[][3] = {
		/* key, the most, one more */
		{"cooldown_s", "86400", "86401"},
		{"escalate_after_s", "86400", "86401"},
		{"ack_timeout_s", "604800", "604801"},
		{"finder_retention_days", "36500", "36501"},
		{"alarm_retention_days", "36500", "36501"},
		{"audit_retention_days", "36500", "36501"},
	};
	size_t i;

	(void)unused;
	assert_int_equal(ad->setting_list(ad->self, s, 8, &n), 0);
	assert_int_equal(n, 0);
	memset(before, 'x', sizeof(before));
	assert_int_equal(ad->setting_set(ad->self, "cooldown_s", "300",
					 w1.custodian, before),
			 0);
	assert_string_equal(before, "");
	/* numbers are stored in plain decimal */
	assert_int_equal(ad->setting_set(ad->self, "cooldown_s", "0600", NULL,
					 before),
			 0);
	assert_string_equal(before, "300");
	assert_int_equal(ad->setting_set(ad->self, "default_channel", "sms",
					 w2.custodian, NULL),
			 0);
	assert_int_equal(set("fallback_channel", "twilio"), 0);
	assert_int_equal(ad->setting_list(ad->self, s, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(s[0].key, "cooldown_s"); /* by key */
	assert_string_equal(s[0].value, "600");
	assert_string_equal(s[0].updated_by, ""); /* the last change's */
	assert_int_equal(strlen(s[0].updated_at), 24);
	assert_string_equal(s[1].key, "default_channel");
	assert_string_equal(s[1].value, "sms");
	assert_string_equal(s[1].updated_by, w2.custodian);
	assert_string_equal(s[2].key, "fallback_channel");
	assert_int_equal(ad->setting_list(ad->self, s, 2, &n), 0);
	assert_int_equal(n, 2);
	/* "" deletes: the keryu.conf value applies again */
	assert_int_equal(ad->setting_set(ad->self, "fallback_channel", "",
					 NULL, before),
			 0);
	assert_string_equal(before, "twilio");
	assert_int_equal(ad->setting_set(ad->self, "fallback_channel", "",
					 NULL, before),
			 0);
	assert_string_equal(before, "");
	assert_int_equal(ad->setting_list(ad->self, s, 8, &n), 0);
	assert_int_equal(n, 2);

	/* each number's range */
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		assert_int_equal(set(ints[i][0], "0"), 0);
		assert_int_equal(set(ints[i][0], ints[i][1]), 0);
		assert_int_equal(set(ints[i][0], ints[i][2]), KERYU_EINVAL);
		assert_int_equal(set(ints[i][0], "-1"), KERYU_EINVAL);
		assert_int_equal(set(ints[i][0], "+5"), KERYU_EINVAL);
		assert_int_equal(set(ints[i][0], " 5"), KERYU_EINVAL);
		assert_int_equal(set(ints[i][0], "1e3"), KERYU_EINVAL);
		assert_int_equal(set(ints[i][0], "5s"), KERYU_EINVAL);
		assert_int_equal(set(ints[i][0], "sms"), KERYU_EINVAL);
		assert_int_equal(set(ints[i][0], "99999999999999999999"),
				 KERYU_EINVAL);
		assert_string_equal(
			fx_scalar(before, sizeof(before),
				  "SELECT value FROM settings WHERE key = $1",
				  ints[i][0]),
			ints[i][1]);
	}
	/* channels */
	assert_int_equal(set("default_channel", "my-channel_2"), 0);
	assert_int_equal(set("default_channel", "SMS"), KERYU_EINVAL);
	assert_int_equal(set("default_channel", "a.b"), KERYU_EINVAL);
	assert_int_equal(set("default_channel", "600"), 0);
	assert_int_equal(set("fallback_channel", "whats app"), KERYU_EINVAL);
	assert_int_equal(set("fallback_channel",
			     "abcdefghijklmnopqrstuvwxyz012345"),
			 KERYU_EINVAL); /* 32 */
	assert_int_equal(set("fallback_channel",
			     "abcdefghijklmnopqrstuvwxyz01234"),
			 0); /* 31 */
	/* keys and arguments */
	assert_int_equal(set("channel", "sms"), KERYU_EINVAL);
	assert_int_equal(set("Cooldown_s", "5"), KERYU_EINVAL);
	assert_int_equal(set(NULL, "5"), KERYU_EINVAL);
	assert_int_equal(set("cooldown_s", NULL), KERYU_EINVAL);
	assert_int_equal(ad->setting_set(ad->self, "cooldown_s", "5", "nope",
					 NULL),
			 KERYU_EINVAL);
	assert_int_equal(ad->setting_list(ad->self, s, 8, NULL), KERYU_EINVAL);
	assert_int_equal(ad->setting_list(ad->self, s, 8, &n), 0);
	assert_int_equal(n, 8);
	assert_string_equal(s[0].key, "ack_timeout_s");
	assert_string_equal(s[6].key, "fallback_channel");
	assert_string_equal(s[7].key, "finder_retention_days");
}

/* ---- staff-wide lists ---- */

static void test_subjects_tags_all(void **unused)
{
	struct keryu_admin_subject s[4];
	struct keryu_admin_tag t[4];
	char code[16], part[8], upper_email[64];
	size_t n = 99, i;
	int total = -1, base;

	(void)unused;
	/* w3 and w4 have a subject each too */
	assert_int_equal(ad->subjects_all(ad->self, "", 0, s, 4, &n, &total),
			 0);
	assert_int_equal(total, 5);
	assert_int_equal(n, 4);
	base = total;
	/* newest first: w2's second subject, then w4's, ... */
	assert_string_equal(s[0].s.name, "Carmen Otra");
	assert_string_equal(s[0].custodian_id, w2.custodian);
	assert_string_equal(s[0].custodian_email, email2);
	/* by name, ignoring case */
	assert_int_equal(ad->subjects_all(ad->self, "bRUNO", 0, s, 4, &n,
					  &total),
			 0);
	assert_int_equal(total, 1);
	assert_int_equal(n, 1);
	assert_string_equal(s[0].s.id, w2.subject);
	assert_string_equal(s[0].s.name, "Bruno Test");
	assert_int_equal(s[0].s.active_tags, 1);
	assert_true(s[0].s.is_active);
	/* by the custodian's email, ignoring case */
	for (i = 0; email2[i]; i++)
		upper_email[i] = (char)(email2[i] >= 'a' && email2[i] <= 'z'
						? email2[i] - 32
						: email2[i]);
	upper_email[i] = '\0';
	assert_int_equal(ad->subjects_all(ad->self, upper_email, 0, s, 4, &n,
					  &total),
			 0);
	assert_int_equal(total, 2);
	assert_int_equal(n, 2);
	assert_string_equal(s[1].s.id, w2.subject);
	/* paging */
	assert_int_equal(ad->subjects_all(ad->self, "", 4, s, 4, &n, &total),
			 0);
	assert_int_equal(total, base);
	assert_int_equal(n, 1);
	assert_int_equal(ad->subjects_all(ad->self, "", 50, s, 4, &n, &total),
			 0);
	assert_int_equal(total, base);
	assert_int_equal(n, 0);
	assert_int_equal(ad->subjects_all(ad->self, "", 0, NULL, 0, &n, &total),
			 0);
	assert_int_equal(total, base);
	assert_int_equal(n, 0);
	assert_int_equal(ad->subjects_all(ad->self, "zzz", 0, s, 4, &n, &total),
			 0);
	assert_int_equal(total, 0);
	assert_int_equal(ad->subjects_all(ad->self, "", -1, s, 4, &n, &total),
			 KERYU_EINVAL);
	assert_int_equal(ad->subjects_all(ad->self, "a\nb", 0, s, 4, &n,
					  &total),
			 KERYU_EINVAL);
	assert_int_equal(ad->subjects_all(ad->self, "", 0, s, 4, NULL, &total),
			 KERYU_EINVAL);

	/* tags: w1..w4 one each */
	assert_int_equal(ad->tags_all(ad->self, "", 0, t, 4, &n, &total), 0);
	assert_int_equal(total, 4);
	assert_int_equal(n, 4);
	fx_scalar(code, sizeof(code),
		  "SELECT short_code FROM subject_qr_codes WHERE uuid = $1::uuid",
		  w2.tag);
	/* part of the short code, in lower case */
	for (i = 0; i < 5; i++)
		part[i] = (char)(code[i + 1] >= 'A' && code[i + 1] <= 'Z'
					 ? code[i + 1] + 32
					 : code[i + 1]);
	part[5] = '\0';
	assert_int_equal(ad->tags_all(ad->self, part, 0, t, 4, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(t[0].t.uuid, w2.tag);
	assert_string_equal(t[0].t.short_code, code);
	assert_string_equal(t[0].t.subject_id, w2.subject);
	assert_true(t[0].t.is_active);
	assert_string_equal(t[0].subject_name, "Bruno Test");
	assert_string_equal(t[0].custodian_id, w2.custodian);
	assert_string_equal(t[0].custodian_email, email2);
	assert_int_equal(ad->tags_all(ad->self, "bruno", 0, t, 4, &n, &total),
			 0);
	assert_int_equal(total, 1);
	assert_int_equal(ad->tags_all(ad->self, email1, 0, t, 4, &n, &total),
			 0);
	assert_int_equal(total, 1);
	assert_string_equal(t[0].t.uuid, w1.tag);
	assert_int_equal(ad->tags_all(ad->self, "", 3, t, 4, &n, &total), 0);
	assert_int_equal(total, 4);
	assert_int_equal(n, 1);
	assert_int_equal(ad->tags_all(ad->self, "", 0, t, 4, &n, NULL),
			 KERYU_EINVAL);
}

static void test_alarms_all_owner(void **unused)
{
	struct keryu_admin_alarm a[4];
	struct keryu_alarm_filter f;
	struct keryu_alarm_created c1, c2, c3;
	char owner[KERYU_UUID_LEN];
	size_t n = 99;
	int total = -1;

	(void)unused;
	fx_quiesce();
	fx_scan(&w1, fx_pol("whatsapp"), &c1);
	fx_scan(&w2, fx_pol("whatsapp"), &c2);
	fx_scan(&w2, fx_pol("whatsapp"), &c3);
	fx_sql1("UPDATE alarms SET resolved_at = now() WHERE id = $1::uuid",
		c2.alarm_id);
	memset(&f, 0, sizeof(f));
	f.limit = 10;
	assert_int_equal(ad->alarms_all(ad->self, &f, a, 4, &n, &total), 0);
	assert_int_equal(total, 3);
	assert_int_equal(n, 3);
	assert_string_equal(a[0].s.id, c3.alarm_id); /* newest first */
	assert_string_equal(a[0].custodian_id, w2.custodian);
	assert_string_equal(a[0].custodian_email, email2);
	assert_string_equal(a[0].s.subject_name, "Bruno Test");
	assert_string_equal(a[2].s.id, c1.alarm_id);
	assert_string_equal(a[2].custodian_email, email1);
	snprintf(f.subject_id, sizeof(f.subject_id), "%s", w2.subject);
	assert_int_equal(ad->alarms_all(ad->self, &f, a, 4, &n, &total), 0);
	assert_int_equal(total, 2);
	snprintf(f.state, sizeof(f.state), "resolved");
	assert_int_equal(ad->alarms_all(ad->self, &f, a, 4, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(a[0].s.id, c2.alarm_id);
	assert_true(a[0].s.resolved);
	memset(&f, 0, sizeof(f));
	f.limit = 1;
	f.offset = 1;
	assert_int_equal(ad->alarms_all(ad->self, &f, a, 4, &n, &total), 0);
	assert_int_equal(total, 3);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].s.id, c2.alarm_id);
	snprintf(f.from, sizeof(f.from), "2999-01-01");
	assert_int_equal(ad->alarms_all(ad->self, &f, a, 4, &n, &total), 0);
	assert_int_equal(total, 0);
	f.limit = 0;
	assert_int_equal(ad->alarms_all(ad->self, &f, a, 4, &n, &total),
			 KERYU_EINVAL);

	/* owner_of, for each kind */
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_SUBJECT,
				      w2.subject, owner),
			 0);
	assert_string_equal(owner, w2.custodian);
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_TAG, w1.tag, owner),
			 0);
	assert_string_equal(owner, w1.custodian);
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_ALARM, c3.alarm_id,
				      owner),
			 0);
	assert_string_equal(owner, w2.custodian);
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_CONTACT,
				      w1.contact[0], owner),
			 0);
	assert_string_equal(owner, w1.custodian);
	/* a subject's id is no tag */
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_TAG, w1.subject,
				      owner),
			 KERYU_ENOTFOUND);
	assert_string_equal(owner, "");
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_ALARM,
				      "00000000-0000-4000-8000-000000000000",
				      owner),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_CONTACT,
				      w1.subject, owner),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_SUBJECT, w1.tag,
				      owner),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->owner_of(ad->self, (enum keryu_owned)9,
				      w1.subject, owner),
			 KERYU_EINVAL);
	assert_int_equal(ad->owner_of(ad->self, KERYU_OWNED_SUBJECT, "nope",
				      owner),
			 KERYU_EINVAL);
	fx_quiesce();
}

static void test_staff_and_phone(void **unused)
{
	struct keryu_custodian k;
	struct keryu_code_issued issued;
	enum keryu_code_check check = KERYU_CODE_OK;
	char code[KERYU_HASH_HEX];

	(void)unused;
	assert_int_equal(ad->custodian_set_staff(ad->self, w2.custodian, true),
			 0);
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, w2.custodian, &k),
			 0);
	assert_true(k.is_staff);
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, w1.custodian, &k),
			 0);
	assert_false(k.is_staff);
	assert_int_equal(ad->custodian_set_staff(ad->self, w2.custodian, false),
			 0);
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, w2.custodian, &k),
			 0);
	assert_false(k.is_staff);
	assert_int_equal(ad->custodian_set_staff(
				 ad->self, "00000000-0000-4000-8000-000000000000",
				 true),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->custodian_set_staff(ad->self, "x", true),
			 KERYU_EINVAL);

	assert_int_equal(fx.ac->custodian_get(fx.ac->self, w2.custodian, &k),
			 0);
	assert_true(k.phone_verified);
	/* a phone code sent before the reset no longer verifies */
	assert_int_equal(fx.ac->code_issue(fx.ac->self, w2.custodian,
					   KERYU_CODE_PHONE, NULL,
					   hx('c', code), "whatsapp", 600, 5,
					   0, &issued),
			 0);
	assert_int_equal(ad->custodian_reset_phone(ad->self, w2.custodian), 0);
	assert_int_equal(fx.ac->code_check(fx.ac->self, w2.custodian,
					   KERYU_CODE_PHONE, NULL, code,
					   &check),
			 0);
	assert_int_equal(check, KERYU_CODE_EXPIRED);
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, w2.custodian, &k),
			 0);
	assert_false(k.phone_verified);
	assert_int_equal(fx.ac->custodian_get(fx.ac->self, w1.custodian, &k),
			 0);
	assert_true(k.phone_verified);
	assert_int_equal(ad->custodian_reset_phone(
				 ad->self, "00000000-0000-4000-8000-000000000000"),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->custodian_reset_phone(ad->self, ""), KERYU_EINVAL);
	fx_sql1("UPDATE custodians SET phone_verified_at = now() "
		"WHERE id = $1::uuid",
		w2.custodian);
}

/* ---- failed deliveries and "retry now" ---- */

static const struct keryu_failed_delivery *
find_failed(const struct keryu_failed_delivery *d, size_t n, const char *nid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(d[i].notification_id, nid) == 0)
			return &d[i];
	return NULL;
}

struct race {
	const char *nid;
	char new_id[KERYU_UUID_LEN];
	int rc;
};

static void *race_retry(void *arg)
{
	struct race *r = arg;

	r->rc = ad->notification_retry(ad->self, r->nid, r->new_id);
	return NULL;
}

static void test_retry(void **unused)
{
	struct keryu_alarm_created c, e, h;
	struct keryu_failed_delivery d[16];
	const struct keryu_failed_delivery *f;
	struct keryu_notify_job jobs[8];
	struct keryu_alarm_policy pol;
	struct keryu_timeline_entry tl[16];
	char new_id[KERYU_UUID_LEN], again[KERYU_UUID_LEN], code_nid[64];
	const char *v[2];
	PGresult *r;
	struct race ra, rb;
	pthread_t ta, tb;
	size_t n = 0, i, jn;
	int total = -1;
	bool seen = false;

	(void)unused;
	fx_quiesce();
	/* a notification that failed for good */
	fx_scan(&w3, fx_pol("whatsapp"), &c);
	snprintf(retry_alarm, sizeof(retry_alarm), "%s", c.alarm_id);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    c.notification_id, 1, 60),
			 0);
	fx_result(c.notification_id, "failed", 1, -1, "131026", NULL);
	assert_string_equal(fx_nfield(c.notification_id, "status"), "FAILED");
	/* a final ERROR (no retry announced), and one the channel retries */
	fx_scan(&w1, fx_pol("whatsapp"), &e);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    e.notification_id, 1, 60),
			 0);
	fx_result(e.notification_id, "error", 1, -1, "timeout", NULL);
	fx_scan(&w2, fx_pol("whatsapp"), &h);
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    h.notification_id, 1, 60),
			 0);
	fx_result(h.notification_id, "error", 1, 5000, "429", NULL);
	/* a code that failed */
	v[0] = w3.custodian;
	v[1] = w3.phone;
	r = fx_sqlv("INSERT INTO notifications (custodian_id, channel, "
		    "recipient, purpose, status, last_error_code) VALUES "
		    "($1::uuid, 'whatsapp', $2, 'code', 'FAILED', 'x') "
		    "RETURNING id::text",
		    2, v);
	snprintf(code_nid, sizeof(code_nid), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	assert_int_equal(ad->deliveries_failed(ad->self, 0, d, 16, &n, &total),
			 0);
	assert_int_equal(total, 3);
	assert_int_equal(n, 3);
	f = find_failed(d, n, c.notification_id);
	assert_non_null(f);
	assert_string_equal(f->alarm_id, c.alarm_id);
	assert_string_equal(f->subject_name, "Ana Demo");
	assert_string_equal(f->kind, "alert");
	assert_string_equal(f->channel, "whatsapp");
	assert_string_equal(f->recipient_hint, w3.phone + strlen(w3.phone) - 4);
	assert_string_equal(f->status, "FAILED");
	assert_int_equal(f->attempt, 1);
	assert_string_equal(f->error_code, "131026");
	assert_string_equal(f->retried_as, "");
	assert_int_equal(strlen(f->updated_at), 24);
	f = find_failed(d, n, e.notification_id);
	assert_non_null(f);
	assert_string_equal(f->status, "ERROR");
	assert_string_equal(f->error_code, "timeout");
	assert_null(find_failed(d, n, h.notification_id));
	f = find_failed(d, n, code_nid);
	assert_non_null(f);
	assert_string_equal(f->kind, "code");
	assert_string_equal(f->alarm_id, "");
	assert_string_equal(f->subject_name, "");
	/* paging */
	assert_int_equal(ad->deliveries_failed(ad->self, 2, d, 16, &n, &total),
			 0);
	assert_int_equal(total, 3);
	assert_int_equal(n, 1);
	assert_int_equal(ad->deliveries_failed(ad->self, -1, d, 16, &n, &total),
			 KERYU_EINVAL);

	/* what cannot be retried */
	assert_int_equal(ad->notification_retry(ad->self, h.notification_id,
						new_id),
			 KERYU_ECONFLICT);
	assert_string_equal(new_id, "");
	assert_int_equal(ad->notification_retry(ad->self, code_nid, new_id),
			 KERYU_ECONFLICT);
	assert_int_equal(ad->notification_retry(
				 ad->self, "00000000-0000-4000-8000-000000000000",
				 new_id),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->notification_retry(ad->self, "nope", new_id),
			 KERYU_EINVAL);

	/* two staff click at once: one retry */
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	ra.nid = c.notification_id;
	rb.nid = c.notification_id;
	assert_int_equal(pthread_create(&ta, NULL, race_retry, &ra), 0);
	assert_int_equal(pthread_create(&tb, NULL, race_retry, &rb), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_true((ra.rc == 0 && rb.rc == KERYU_ECONFLICT) ||
		    (rb.rc == 0 && ra.rc == KERYU_ECONFLICT));
	snprintf(new_id, sizeof(new_id), "%s",
		 ra.rc == 0 ? ra.new_id : rb.new_id);
	assert_true(keryu_uuid_valid(new_id));
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE alarm_id = $1::uuid",
				  c.alarm_id),
			 2);
	/* and a third click later */
	assert_int_equal(ad->notification_retry(ad->self, c.notification_id,
						again),
			 KERYU_ECONFLICT);
	/* the retry: same alarm, person, channel and kind, PENDING, due */
	assert_string_equal(fx_nfield(new_id, "status || attempts || kind || "
					      "channel || step"),
			    "PENDING0alertwhatsapp0");
	assert_string_equal(fx_nfield(new_id, "recipient"), w3.phone);
	assert_string_equal(fx_nfield(new_id, "alarm_id::text"), c.alarm_id);
	assert_string_equal(fx_nfield(new_id, "(lease_until <= now())::text"),
			    "true");
	assert_string_equal(fx_nfield(c.notification_id, "retried_as::text"),
			    new_id);
	assert_string_equal(fx_nfield(c.notification_id, "status"), "FAILED");
	/* the alarm's summary follows its best notification */
	assert_string_equal(fx_afield(c.alarm_id, "notification_status"),
			    "PENDING");

	/* the RETRIED step on the alarm's timeline */
	assert_int_equal(fx.sj->alarm_timeline(fx.sj->self, w3.custodian,
					       c.alarm_id, tl, 16, &n),
			 0);
	for (i = 0; i < n; i++)
		if (strcmp(tl[i].status, "RETRIED") == 0) {
			seen = true;
			assert_string_equal(tl[i].notification_id, new_id);
			assert_string_equal(tl[i].channel, "whatsapp");
			assert_non_null(strstr(tl[i].error_text, "131026"));
		}
	assert_true(seen);

	/* notify_due's next round publishes it, even where nothing is ever
	 * re-driven: this is its first publication */
	pol = *fx_pol("whatsapp");
	pol.max_redrives = 0;
	jn = fx_due(&pol, jobs, 8);
	seen = false;
	for (i = 0; i < jn; i++)
		if (strcmp(jobs[i].notification_id, new_id) == 0) {
			seen = true;
			assert_string_equal(jobs[i].alarm_id, c.alarm_id);
			assert_string_equal(jobs[i].channel, "whatsapp");
			assert_string_equal(jobs[i].recipient, w3.phone);
			assert_string_equal(jobs[i].kind, "alert");
			assert_string_equal(jobs[i].subject_name, "Ana Demo");
			assert_int_equal(jobs[i].attempt, 1);
		}
	assert_true(seen);
	assert_string_equal(fx_nfield(new_id, "status"), "QUEUED");
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid AND "
				  "status = 'QUEUED' AND attempt = 1 AND "
				  "error_text = 'sent: not published before'",
				  new_id),
			 1);
	/* the failed one is not followed up: with nobody else to alert, that
	 * would have marked the alarm exhausted */
	assert_string_equal(fx_afield(c.alarm_id, "escalation_done::text"),
			    "false");
	/* and it is delivered like any notification */
	fx_result(new_id, "delivered", 1, -1, NULL, NULL);
	assert_string_equal(fx_afield(c.alarm_id, "notification_status"),
			    "DELIVERED");

	/* a final ERROR can be retried; its lease no longer runs */
	assert_int_equal(ad->notification_retry(ad->self, e.notification_id,
						again),
			 0);
	assert_string_equal(fx_nfield(e.notification_id,
				      "status || (lease_until IS NULL)::text"),
			    "ERRORtrue");

	/* the list says what each was retried as */
	assert_int_equal(ad->deliveries_failed(ad->self, 0, d, 16, &n, &total),
			 0);
	assert_int_equal(total, 3);
	f = find_failed(d, n, c.notification_id);
	assert_non_null(f);
	assert_string_equal(f->retried_as, new_id);
	f = find_failed(d, n, e.notification_id);
	assert_non_null(f);
	assert_string_equal(f->retried_as, again);
	/* only someone notify_due would still alert: a contact whose phone
	 * changed is not, nor an inactive custodian */
	{
		const char *vk[] = {e.alarm_id, w1.custodian, w1.contact[0],
				    w1.cphone[0]};

		r = fx_sqlv("INSERT INTO notifications (alarm_id, "
			    "custodian_id, contact_id, channel, recipient, "
			    "status, attempts) VALUES ($1::uuid, $2::uuid, "
			    "$3::uuid, 'sms', $4, 'FAILED', 1) "
			    "RETURNING id::text",
			    4, vk);
		snprintf(code_nid, sizeof(code_nid), "%s",
			 PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	fx_sql1("UPDATE contacts SET phone_e164 = '+15550819999' "
		"WHERE id = $1::uuid",
		w1.contact[0]);
	assert_int_equal(ad->notification_retry(ad->self, code_nid, again),
			 KERYU_ECONFLICT);
	{
		const char *vk[] = {w1.contact[0], w1.cphone[0]};

		PQclear(fx_sqlv("UPDATE contacts SET phone_e164 = $2 "
				"WHERE id = $1::uuid",
				2, vk));
	}
	assert_int_equal(ad->notification_retry(ad->self, code_nid, again), 0);
	assert_string_equal(fx_nfield(again, "contact_id::text"),
			    w1.contact[0]);
	fx_scan(&w4, fx_pol("whatsapp"), &h);
	fx_result(h.notification_id, "failed", 1, -1, NULL, NULL);
	fx_sql1("UPDATE custodians SET is_active = false WHERE id = $1::uuid",
		w4.custodian);
	assert_int_equal(ad->notification_retry(ad->self, h.notification_id,
						again),
			 KERYU_ECONFLICT);
	fx_sql1("UPDATE custodians SET is_active = true WHERE id = $1::uuid",
		w4.custodian);
	assert_int_equal(ad->notification_retry(ad->self, h.notification_id,
						again),
			 0);

	/* the one-live-row rule still holds for the retry */
	assert_true(fx_sql_fails("INSERT INTO notifications (alarm_id, "
				 "custodian_id, channel, recipient) SELECT "
				 "alarm_id, custodian_id, channel, recipient "
				 "FROM notifications WHERE retried_as IS NULL "
				 "AND alarm_id IS NOT NULL AND purpose = "
				 "'alarm' AND status = 'DELIVERED'"));
	fx_quiesce();
}

/* ---- refresh tokens ---- */

static long live_tokens(const char *custodian)
{
	return fx_count("SELECT count(*) FROM api_refresh_tokens "
			"WHERE custodian_id = $1::uuid AND revoked_at IS NULL",
			custodian);
}

static void test_refresh_tokens(void **unused)
{
	char a[KERYU_HASH_HEX], b[KERYU_HASH_HEX], c[KERYU_HASH_HEX];
	char d[KERYU_HASH_HEX], x[KERYU_HASH_HEX], tmp[KERYU_HASH_HEX];
	char who[KERYU_UUID_LEN];

	(void)unused;
	assert_int_equal(ad->refresh_create(ad->self, hx('1', a), w1.custodian,
					    3600),
			 0);
	assert_int_equal(ad->refresh_create(ad->self, a, w1.custodian, 3600),
			 KERYU_ECONFLICT);
	assert_int_equal(ad->refresh_create(
				 ad->self, hx('2', b),
				 "00000000-0000-4000-8000-000000000000", 3600),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->refresh_create(ad->self, "ABC", w1.custodian, 60),
			 KERYU_EINVAL);
	assert_int_equal(ad->refresh_create(ad->self, hx('2', b), w1.custodian,
					    0),
			 KERYU_EINVAL);
	assert_int_equal(ad->refresh_create(ad->self, hx('2', b), "x", 60),
			 KERYU_EINVAL);
	/* another custodian's token, untouched by what follows */
	assert_int_equal(ad->refresh_create(ad->self, hx('9', x), w2.custodian,
					    3600),
			 0);

	/* rotation */
	assert_int_equal(ad->refresh_rotate(ad->self, a, hx('2', b), 3600, who),
			 0);
	assert_string_equal(who, w1.custodian);
	assert_int_equal(ad->refresh_rotate(ad->self, b, hx('3', c), 3600, who),
			 0);
	assert_string_equal(fx_scalar(tmp, sizeof(tmp),
				      "SELECT replaced_by FROM "
				      "api_refresh_tokens WHERE token_hash = $1",
				      a),
			    b);
	assert_int_equal(live_tokens(w1.custodian), 1);
	/* a replay of a: the whole family goes, c included */
	assert_int_equal(ad->refresh_rotate(ad->self, a, hx('4', d), 3600, who),
			 KERYU_ENOTFOUND);
	assert_string_equal(who, "");
	assert_int_equal(live_tokens(w1.custodian), 0);
	assert_int_equal(ad->refresh_rotate(ad->self, c, d, 3600, who),
			 KERYU_ENOTFOUND);
	assert_int_equal(live_tokens(w2.custodian), 1);
	/* unknown; bad arguments */
	assert_int_equal(ad->refresh_rotate(ad->self, hx('5', a), hx('6', b),
					    3600, who),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->refresh_rotate(ad->self, x, x, 3600, who),
			 KERYU_EINVAL);
	assert_int_equal(ad->refresh_rotate(ad->self, x, "z", 3600, who),
			 KERYU_EINVAL);
	assert_int_equal(ad->refresh_rotate(ad->self, x, hx('6', b), 3600,
					    NULL),
			 KERYU_EINVAL);

	/* expired: refused, and not a replay (the others stay) */
	assert_int_equal(ad->refresh_create(ad->self, hx('a', a), w1.custodian,
					    3600),
			 0);
	assert_int_equal(ad->refresh_create(ad->self, hx('b', b), w1.custodian,
					    3600),
			 0);
	fx_sql1("UPDATE api_refresh_tokens SET expires_at = now() - "
		"interval '1 second' WHERE token_hash = $1",
		a);
	assert_int_equal(ad->refresh_rotate(ad->self, a, hx('c', c), 3600, who),
			 KERYU_ENOTFOUND);
	assert_int_equal(live_tokens(w1.custodian), 2);
	assert_int_equal(ad->refresh_rotate(ad->self, b, hx('c', c), 3600, who),
			 0);
	/* a new token's expiry is ttl_s away */
	assert_int_equal(fx_count("SELECT count(*) FROM api_refresh_tokens "
				  "WHERE token_hash = $1 AND expires_at "
				  "BETWEEN now() + interval '3590 s' "
				  "AND now() + interval '3610 s'",
				  c),
			 1);

	/* logout: one token */
	assert_int_equal(ad->refresh_revoke(ad->self, c), 0);
	assert_int_equal(ad->refresh_revoke(ad->self, c), 0);
	assert_int_equal(ad->refresh_revoke(ad->self, hx('e', d)), 0);
	assert_int_equal(ad->refresh_revoke(ad->self, "nope"), KERYU_EINVAL);
	assert_int_equal(ad->refresh_rotate(ad->self, c, hx('d', d), 60, who),
			 KERYU_ENOTFOUND);

	/* every token of a custodian */
	assert_int_equal(ad->refresh_create(ad->self, hx('d', d), w1.custodian,
					    3600),
			 0);
	assert_int_equal(ad->refresh_create(ad->self, hx('e', d), w1.custodian,
					    3600),
			 0);
	assert_int_equal(live_tokens(w1.custodian), 2);
	assert_int_equal(ad->refresh_revoke_all(ad->self, w1.custodian), 0);
	assert_int_equal(live_tokens(w1.custodian), 0);
	assert_int_equal(live_tokens(w2.custodian), 1);
	assert_int_equal(ad->refresh_revoke_all(ad->self, "x"), KERYU_EINVAL);

	/* an inactive custodian's token is refused (deactivated by hand,
	 * so the token itself is still live) */
	fx_sql1("UPDATE custodians SET is_active = false WHERE id = $1::uuid",
		w2.custodian);
	assert_int_equal(ad->refresh_rotate(ad->self, x, hx('f', a), 60, who),
			 KERYU_ENOTFOUND);
	assert_int_equal(ad->refresh_create(ad->self, hx('f', a), w2.custodian,
					    60),
			 KERYU_ENOTFOUND);
	fx_sql1("UPDATE custodians SET is_active = true WHERE id = $1::uuid",
		w2.custodian);
	assert_int_equal(live_tokens(w2.custodian), 1);
	assert_int_equal(ad->refresh_rotate(ad->self, x, hx('f', a), 60, who),
			 0);
	assert_string_equal(who, w2.custodian);

	/* deactivation ends API access */
	assert_int_equal(live_tokens(w2.custodian), 1);
	assert_int_equal(fx.ac->custodian_set_active(fx.ac->self, w2.custodian,
						     false),
			 0);
	assert_int_equal(live_tokens(w2.custodian), 0);
	assert_int_equal(fx.ac->custodian_set_active(fx.ac->self, w2.custodian,
						     true),
			 0);
	/* so does a password change or reset */
	assert_int_equal(ad->refresh_create(ad->self, hx('7', a), w2.custodian,
					    3600),
			 0);
	assert_int_equal(live_tokens(w2.custodian), 1);
	assert_int_equal(fx.ac->custodian_set_password(fx.ac->self,
						       w2.custodian, PW, NULL),
			 0);
	assert_int_equal(live_tokens(w2.custodian), 0);
	assert_int_equal(ad->refresh_rotate(ad->self, a, hx('8', b), 60, who),
			 KERYU_ENOTFOUND);
}

/* ---- retention ---- */

static void test_purge(void **unused)
{
	struct keryu_alarm_created o1, o2, young;
	struct keryu_audit_entry e;
	long rows = -1;
	int i;

	(void)unused;
	fx_quiesce();
	fx_scan(&w4, fx_pol("whatsapp"), &o1);
	fx_scan(&w4, fx_pol("whatsapp"), &o2);
	fx_scan(&w4, fx_pol("whatsapp"), &young);
	/* the young one joined o1: the link is cut, not a reason to keep
	 * o1 */
	{
		const char *v[] = {young.alarm_id, o1.alarm_id};

		PQclear(fx_sqlv("UPDATE alarms SET joined_alarm_id = "
				"$2::uuid WHERE id = $1::uuid",
				2, v));
	}
	assert_int_equal(fx.st->notification_queued(fx.st->self,
						    o1.notification_id, 1, 60),
			 0);
	/* old: o1, o2, and the retried alarm of test_retry (a notification
	 * pointing at its retry) */
	fx_sql1("UPDATE alarms SET scanned_at = now() - interval '40 days' "
		"WHERE id IN ($1::uuid)",
		o1.alarm_id);
	fx_sql1("UPDATE alarms SET scanned_at = now() - interval '40 days' "
		"WHERE id IN ($1::uuid)",
		o2.alarm_id);
	fx_sql1("UPDATE alarms SET scanned_at = now() - interval '41 days' "
		"WHERE id IN ($1::uuid)",
		retry_alarm);
	fx_sql1("UPDATE alarms SET scanned_at = now() - interval '20 days' "
		"WHERE id IN ($1::uuid)",
		young.alarm_id);
	assert_int_equal(fx_count("SELECT count(*) FROM alarm_events "
				  "WHERE alarm_id = $1::uuid",
				  retry_alarm),
			 1);
	assert_true(fx_count("SELECT count(*) FROM alarms WHERE scanned_at < "
			     "now() - interval '30 days'",
			     NULL) == 3);

	/* batches of two: 2, then 1, then none */
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_ALARMS, 30, 2, &rows),
			 0);
	assert_int_equal(rows, 2);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_ALARMS, 30, 2, &rows),
			 0);
	assert_int_equal(rows, 1);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_ALARMS, 30, 2, &rows),
			 0);
	assert_int_equal(rows, 0);
	/* with their notifications, delivery events and timeline steps */
	assert_int_equal(fx_count("SELECT count(*) FROM alarms WHERE id IN "
				  "($1::uuid)",
				  o1.alarm_id),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE alarm_id = $1::uuid",
				  retry_alarm),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM notification_events "
				  "WHERE notification_id = $1::uuid",
				  o1.notification_id),
			 0);
	assert_int_equal(fx_count("SELECT count(*) FROM alarm_events "
				  "WHERE alarm_id = $1::uuid",
				  retry_alarm),
			 0);
	/* the younger one stays, detached from the alarm it joined */
	assert_string_equal(fx_afield(young.alarm_id,
				      "coalesce(joined_alarm_id::text, '')"),
			    "");
	assert_int_equal(fx_count("SELECT count(*) FROM notifications "
				  "WHERE alarm_id = $1::uuid",
				  young.alarm_id),
			 1);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_ALARMS, 10, 100,
				   &rows),
			 0);
	assert_int_equal(rows, 1); /* young; the earlier tests' are newer */

	/* audit: three old entries, two young */
	fx_sql1("DELETE FROM audit_log", NULL);
	for (i = 0; i < 5; i++) {
		entry(&e, "", "", "system", "purge", "", "");
		assert_int_equal(ad->audit_append(ad->self, &e), 0);
	}
	fx_sql1("UPDATE audit_log SET at = now() - interval '100 days' "
		"WHERE id IN (SELECT id FROM audit_log ORDER BY id LIMIT 3)",
		NULL);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_AUDIT, 90, 2, &rows),
			 0);
	assert_int_equal(rows, 2);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_AUDIT, 90, 2, &rows),
			 0);
	assert_int_equal(rows, 1);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_AUDIT, 90, 2, &rows),
			 0);
	assert_int_equal(rows, 0);
	assert_int_equal(fx_count("SELECT count(*) FROM audit_log", NULL), 2);

	/* bad arguments */
	assert_int_equal(ad->purge(ad->self, 3, 30, 10, &rows), KERYU_EINVAL);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_AUDIT, 0, 10, &rows),
			 KERYU_EINVAL);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_AUDIT, 30, 0, &rows),
			 KERYU_EINVAL);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_AUDIT, 30, 10001,
				   &rows),
			 KERYU_EINVAL);
	assert_int_equal(ad->purge(ad->self, KERYU_PURGE_AUDIT, 30, 10, NULL),
			 KERYU_EINVAL);

	fx_assert_logs_clean(w1.phone, w2.phone, w3.phone, w4.phone, email1,
			     email2, "Mallory", "Ana Demo", "Bruno", NULL);
	fx_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_audit_append),
		cmocka_unit_test(test_audit_list),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_subjects_tags_all),
		cmocka_unit_test(test_alarms_all_owner),
		cmocka_unit_test(test_staff_and_phone),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_refresh_tokens),
		cmocka_unit_test(test_purge),
	};
	fx.phone_prefix = "+1555081";
	return fx_run("integration.storage_admin_service", "keryu_adminsvc",
		      "UTC", tests, sizeof(tests) / sizeof(tests[0]));
}
