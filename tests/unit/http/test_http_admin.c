/* Staff pages and auditing without a socket: http_route() against the fake
 * host, fake accounts and a small fake admin service defined here, which
 * records what it was asked. Checks what must hold whatever the database
 * says: a refused form calls nothing, a staff member cannot lock themself
 * out, no admin service is a 503, logins are audited without passwords,
 * and the code message takes an approved template only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/admin.h>
#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define PW "correct horse battery"

/* ---- the fake admin service ---- */

static struct {
	struct keryu_audit_entry audit[32];
	int n_audit;
	int template_get_rc;
	struct keryu_template tpl; /* what template_get answers */
	int template_puts, setting_sets, set_staff, reset_phone;
} A;

static int fa_audit_append(void *self, struct keryu_audit_entry *e)
{
	(void)self;
	if (A.n_audit < 32)
		A.audit[A.n_audit++] = *e;
	return 0;
}

static int fa_audit_list(void *self, const struct keryu_audit_filter *f,
			 struct keryu_audit_entry *out, size_t max, size_t *n,
			 int *total)
{
	(void)self, (void)f, (void)out, (void)max;
	*n = 0;
	*total = 0;
	return 0;
}

static int fa_template_list(void *self, struct keryu_template *out,
			    size_t max, size_t *n)
{
	(void)self, (void)out, (void)max;
	*n = 0;
	return 0;
}

static int fa_template_get(void *self, const char *event, const char *channel,
			   struct keryu_template *out)
{
	(void)self, (void)channel;
	assert_string_equal(event, "code");
	if (A.template_get_rc)
		return A.template_get_rc;
	*out = A.tpl;
	return 0;
}

static int fa_template_put(void *self, const struct keryu_template *t,
			   const char *actor, struct keryu_template *before)
{
	(void)self, (void)t, (void)actor;
	A.template_puts++;
	memset(before, 0, sizeof(*before));
	return 0;
}

static int fa_setting_list(void *self, struct keryu_setting *out, size_t max,
			   size_t *n)
{
	(void)self, (void)out, (void)max;
	*n = 0;
	return 0;
}

static int fa_setting_set(void *self, const char *key, const char *value,
			  const char *actor, char before[64])
{
	(void)self, (void)key, (void)value, (void)actor;
	A.setting_sets++;
	before[0] = '\0';
	return 0;
}

static int fa_set_staff(void *self, const char *id, bool staff)
{
	(void)self, (void)id, (void)staff;
	A.set_staff++;
	return 0;
}

static int fa_reset_phone(void *self, const char *id)
{
	(void)self, (void)id;
	A.reset_phone++;
	return 0;
}

static const struct keryu_admin fake_admin = {
	.struct_size = sizeof(struct keryu_admin),
	.audit_append = fa_audit_append,
	.audit_list = fa_audit_list,
	.template_list = fa_template_list,
	.template_get = fa_template_get,
	.template_put = fa_template_put,
	.setting_list = fa_setting_list,
	.setting_set = fa_setting_set,
	.custodian_set_staff = fa_set_staff,
	.custodian_reset_phone = fa_reset_phone,
};

/* ---- a one-cookie browser ---- */

static struct http_ctx *ctx;
static struct http_response resp;
static char cookie[256];
static struct keryu_custodian *boss, *ana;

static int setup_with(bool admin)
{
	memset(&A, 0, sizeof(A));
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	http_test_offer_services();
	if (admin)
		fake_host_add_service(KERYU_SERVICE_ADMIN, &fake_admin);
	fake_host_set_global("kernel", "secret_key", "unit-test-secret");
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	cookie[0] = '\0';
	boss = fake_accounts_add("boss@example.org", "Boss", PW, true);
	boss->is_staff = true;
	ana = fake_accounts_add("ana@example.org", "Ana", PW, true);
	return 0;
}

static int setup(void **st)
{
	(void)st;
	return setup_with(true);
}

static int setup_no_admin(void **st)
{
	(void)st;
	return setup_with(false);
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static void send(const char *method, const char *url, const char *form_qs)
{
	struct http_test_url u;
	struct http_request req;

	http_test_request(&u, &req, method, url, form_qs);
	req.cookie = cookie[0] ? cookie : NULL;
	req.client_ip = "192.0.2.7";
	http_test_route(ctx, &req, &resp);
	http_test_url_free(&u);
	if (resp.set_cookie[0])
		snprintf(cookie, sizeof(cookie), "%.*s",
			 (int)strcspn(resp.set_cookie, ";"), resp.set_cookie);
}

static const char *body(void)
{
	return resp.body.buf;
}

/* GETs page, then POSTs fields with its csrf to action. */
static void submit(const char *page, const char *action, const char *fields)
{
	char form[2048];
	const char *p;

	send("GET", page, NULL);
	assert_int_equal(resp.status, 200);
	p = strstr(body(), "name=\"csrf\" value=\"");
	assert_non_null(p);
	p += strlen("name=\"csrf\" value=\"");
	snprintf(form, sizeof(form), "csrf=%.64s%s%s", p, *fields ? "&" : "",
		 fields);
	send("POST", action, form);
}

static void login(const char *email)
{
	char fields[256];

	snprintf(fields, sizeof(fields), "email=%s&password=correct+horse+"
					 "battery", email);
	submit("/account/login", "/account/login", fields);
	assert_int_equal(resp.status, 303);
}

/* ---- tests ---- */

static void no_admin_service_is_503(void **st)
{
	static const char *const pages[] = {
		"/admin/", "/admin/custodians/", "/admin/subjects/",
		"/admin/tags/", "/admin/alarms/", "/admin/templates/",
		"/admin/settings/", "/admin/deliveries/", "/admin/audit/"};
	size_t i;

	(void)st;
	login("boss%40example.org");
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		send("GET", pages[i], NULL);
		assert_int_equal(resp.status, 503);
	}
}

static void custodian_is_403_staff_sees_nav(void **st)
{
	(void)st;
	login("ana%40example.org");
	send("GET", "/admin/settings/", NULL);
	assert_int_equal(resp.status, 403);
	send("GET", "/dashboard/", NULL);
	assert_null(strstr(body(), "href=\"/admin/\""));
	cookie[0] = '\0';
	login("boss%40example.org");
	send("GET", "/admin/templates/", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "href=\"/admin/\">Admin</a>"));
}

/* Opens a custodian's staff page and presses one of its buttons. */
static void act(const char *id, const char *what)
{
	char page[96], action[128];

	snprintf(page, sizeof(page), "/admin/custodians/%s/", id);
	snprintf(action, sizeof(action), "%s%s", page, what);
	submit(page, action, "");
}

static void self_lockout_refused(void **st)
{
	(void)st;
	login("boss%40example.org");
	act(boss->id, "staff-revoke");
	assert_int_equal(resp.status, 409);
	assert_non_null(strstr(body(), "your own staff rights"));
	act(boss->id, "deactivate");
	assert_int_equal(resp.status, 409);
	assert_int_equal(A.set_staff, 0);
	assert_true(boss->is_staff && boss->is_active);
	assert_int_equal(A.n_audit, 1); /* the login only */
	/* another custodian's staff grant goes through and is audited */
	act(ana->id, "staff-grant");
	assert_int_equal(resp.status, 303);
	assert_int_equal(A.set_staff, 1);
	assert_string_equal(A.audit[A.n_audit - 1].action,
			    "custodian.staff_grant");
	assert_string_equal(A.audit[A.n_audit - 1].target_id, ana->id);
	assert_string_equal(A.audit[A.n_audit - 1].actor_id, boss->id);
	assert_string_equal(A.audit[A.n_audit - 1].summary,
			    "is_staff: false -> true");
	assert_int_equal(A.reset_phone, 0);
}

static void refused_forms_call_nothing(void **st)
{
	static const char *const templates[] = {
		"event=sms&channel=&name=a&language=en&parameters=",
		"event=alert&channel=Bad+Channel&name=a&language=en&parameters=",
		"event=alert&channel=&name=A-b&language=en&parameters=",
		"event=alert&channel=&name=a&language=en+US&parameters=",
		"event=alert&channel=&name=a&language=en&parameters=name,map",
		"event=alert&channel=&name=a&language=en&parameters=name,,time",
		"event=code&channel=&name=a&language=en&parameters=code,code",
		"event=alert&channel=&name=a&language=en&parameters=name,",
	};
	static const char *const settings[] = {
		"cooldown_s=86401", "cooldown_s=-1", "cooldown_s=1e3",
		"ack_timeout_s=604801", "default_channel=A",
		"fallback_channel=a/b", "audit_retention_days=36501",
		"escalate_after_s=9999999999",
	};
	size_t i;

	(void)st;
	login("boss%40example.org");
	for (i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		submit("/admin/templates/", "/admin/templates/", templates[i]);
		assert_int_equal(resp.status, 400);
		assert_non_null(strstr(body(), "class=\"summary\""));
	}
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		submit("/admin/settings/", "/admin/settings/", settings[i]);
		assert_int_equal(resp.status, 400);
	}
	assert_int_equal(A.template_puts, 0);
	assert_int_equal(A.setting_sets, 0);
	/* the same forms, right: one call each */
	submit("/admin/templates/", "/admin/templates/",
	       "event=report&channel=twilio&name=qr_r&language=es&"
	       "parameters=words,+name&approved=1");
	assert_int_equal(resp.status, 303);
	assert_int_equal(A.template_puts, 1);
	assert_string_equal(A.audit[A.n_audit - 1].target_id, "report/twilio");
	submit("/admin/settings/", "/admin/settings/", "cooldown_s=86400");
	assert_int_equal(resp.status, 303);
	assert_int_equal(A.setting_sets, 1);
}

static void logins_audited_without_password(void **st)
{
	int i;

	(void)st;
	submit("/account/login", "/account/login",
	       "email=+ANA%40Example.org&password=not+the+password");
	assert_int_equal(resp.status, 400);
	assert_int_equal(A.n_audit, 1);
	assert_string_equal(A.audit[0].action, "login.failed");
	assert_string_equal(A.audit[0].actor_id, "");
	assert_string_equal(A.audit[0].actor_email, "ana@example.org");
	assert_string_equal(A.audit[0].target_id, ana->id);
	assert_string_equal(A.audit[0].summary, "wrong password");
	submit("/account/login", "/account/login",
	       "email=not+an+EMAIL&password=x");
	assert_string_equal(A.audit[1].actor_email, "not an email");
	assert_string_equal(A.audit[1].summary, "unknown email");
	login("ana%40example.org");
	assert_string_equal(A.audit[2].action, "login");
	assert_string_equal(A.audit[2].actor_id, ana->id);
	submit("/account/", "/account/logout", "");
	assert_string_equal(A.audit[3].action, "logout");
	for (i = 0; i < A.n_audit; i++) {
		assert_null(strstr(A.audit[i].summary, "password!"));
		assert_null(strstr(A.audit[i].summary, "not the"));
		assert_string_equal(A.audit[i].source, "web");
		assert_int_equal(strlen(A.audit[i].ip_hash), 64);
	}
	/* each on the bus, ids only */
	assert_true(fake_host_pub_count() >= 4);
	for (i = 0; i < (int)fake_host_pub_count(); i++)
		if (strcmp(fake_host_pub((size_t)i)->topic,
			   KERYU_TOPIC_AUDIT) == 0)
			assert_null(strstr(fake_host_pub((size_t)i)->payload,
					   "@"));
}

/* The template and parameters of the newest code request. */
static void last_request(struct keryu_notify_event *ev)
{
	const struct fake_pub *p = fake_host_pub(fake_host_pub_count() - 1);

	assert_non_null(p);
	assert_int_equal(keryu_notify_event_decode(p->payload, p->len, ev), 0);
}

static void code_template_only_when_approved(void **st)
{
	struct keryu_notify_event ev;

	(void)st;
	snprintf(A.tpl.event, sizeof(A.tpl.event), "code");
	snprintf(A.tpl.name, sizeof(A.tpl.name), "staff_code");
	snprintf(A.tpl.language, sizeof(A.tpl.language), "pt_BR");
	snprintf(A.tpl.parameters, sizeof(A.tpl.parameters), "code");
	A.tpl.approved = true;
	assert_int_equal(http_code_send(ctx, ana->id, KERYU_CODE_PHONE), 0);
	last_request(&ev);
	assert_string_equal(ev.template_name, "staff_code");
	assert_string_equal(ev.language, "pt_BR");
	assert_int_equal(ev.param_count, 1);
	assert_int_equal(strlen(ev.params[0]), 6);

	/* no parameter named: none sent */
	A.tpl.parameters[0] = '\0';
	assert_int_equal(http_code_send(ctx, ana->id, KERYU_CODE_RESET), 0);
	last_request(&ev);
	assert_string_equal(ev.template_name, "staff_code");
	assert_int_equal(ev.param_count, 0);

	/* not approved, or unreadable: the configured one */
	A.tpl.approved = false;
	assert_int_equal(http_code_send(ctx, ana->id, KERYU_CODE_PHONE), 0);
	last_request(&ev);
	assert_string_equal(ev.template_name, ctx->verify_template);
	assert_int_equal(ev.param_count, 1);
	A.tpl.approved = true;
	A.template_get_rc = KERYU_EIO;
	assert_int_equal(http_code_send(ctx, ana->id, KERYU_CODE_RESET), 0);
	last_request(&ev);
	assert_string_equal(ev.template_name, ctx->verify_template);
	assert_string_equal(ev.language, ctx->verify_language);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(no_admin_service_is_503,
						setup_no_admin, teardown),
		T(custodian_is_403_staff_sees_nav),
		T(self_lockout_refused),
		T(refused_forms_call_nothing),
		T(logins_audited_without_password),
		T(code_template_only_when_approved),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
