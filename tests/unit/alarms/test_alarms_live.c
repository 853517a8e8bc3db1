/* The pieces of alarms_live.c that need no host: the stored settings over
 * keryu.conf's, the choice of a stored template, and a template's
 * parameters assembled in the order its row names them. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alarms_module.h"
#include "fake_host.h"

static const struct alarms_settings conf = {
	.channel = "whatsapp",
	.fallback_channel = "",
	.cooldown_s = 60,
	.escalate_after_s = 120,
	.ack_timeout_s = 600,
	.finder_days = 30,
	.alarm_days = 0,
	.audit_days = 365,
};

static struct keryu_setting row(const char *key, const char *value)
{
	struct keryu_setting r;

	memset(&r, 0, sizeof(r));
	snprintf(r.key, sizeof(r.key), "%s", key);
	snprintf(r.value, sizeof(r.value), "%s", value);
	return r;
}

static void no_rows_is_the_config(void **st)
{
	struct alarms_settings out;

	(void)st;
	memset(&out, 0x55, sizeof(out));
	assert_int_equal(alarms_settings_overlay(&conf, NULL, 0, &out), 0);
	assert_memory_equal(&out, &conf, sizeof(conf));
}

static void every_key_overrides_its_option(void **st)
{
	const struct keryu_setting rows[] = {
		row("default_channel", "sms"),
		row("fallback_channel", "log_2-b"),
		row("cooldown_s", "0"),
		row("escalate_after_s", "86400"),
		row("ack_timeout_s", "604800"),
		row("finder_retention_days", "7"),
		row("alarm_retention_days", "36500"),
		row("audit_retention_days", "0"),
	};
	struct alarms_settings out;

	(void)st;
	assert_int_equal(alarms_settings_overlay(&conf, rows, 8, &out), 0);
	assert_string_equal(out.channel, "sms");
	assert_string_equal(out.fallback_channel, "log_2-b");
	assert_int_equal(out.cooldown_s, 0);
	assert_int_equal(out.escalate_after_s, 86400);
	assert_int_equal(out.ack_timeout_s, 604800);
	assert_int_equal(out.finder_days, 7);
	assert_int_equal(out.alarm_days, 36500);
	assert_int_equal(out.audit_days, 0);
}

/* "none" stores "no fallback" over keryu.conf's fallback channel. */
static void fallback_none_turns_it_off(void **st)
{
	struct alarms_settings with = conf, out;
	const struct keryu_setting rows[] = {row("fallback_channel", "none")};

	(void)st;
	snprintf(with.fallback_channel, sizeof(with.fallback_channel), "sms");
	assert_int_equal(alarms_settings_overlay(&with, rows, 1, &out), 0);
	assert_string_equal(out.fallback_channel, "");
	assert_int_equal(alarms_settings_overlay(&with, NULL, 0, &out), 0);
	assert_string_equal(out.fallback_channel, "sms");
}

/* A value outside admin.h's rules leaves that one option as configured
 * and says which key; the others still apply. */
static void bad_values_are_left_out(void **st)
{
	static const struct {
		const char *key, *value;
		unsigned bit;
	} bad[] = {
		{"default_channel", "", 1u << 0},
		{"default_channel", "WhatsApp", 1u << 0},
		{"default_channel", "a/b", 1u << 0},
		{"default_channel", "abcdefghijklmnopqrstuvwxyz0123456", 1u << 0},
		{"fallback_channel", "sms text", 1u << 1},
		{"cooldown_s", "-1", 1u << 2},
		{"cooldown_s", "86401", 1u << 2},
		{"cooldown_s", " 5", 1u << 2},
		{"cooldown_s", "5s", 1u << 2},
		{"cooldown_s", "", 1u << 2},
		{"cooldown_s", "+5", 1u << 2},
		{"escalate_after_s", "99999999999999999999", 1u << 3},
		{"ack_timeout_s", "604801", 1u << 4},
		{"finder_retention_days", "36501", 1u << 5},
		{"alarm_retention_days", "x", 1u << 6},
		{"audit_retention_days", "1e3", 1u << 7},
		{"no_such_key", "1", 1u << 31},
	};
	struct keryu_setting rows[2];
	struct alarms_settings out;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rows[0] = row(bad[i].key, bad[i].value);
		rows[1] = row("cooldown_s", "5");
		if (strcmp(bad[i].key, "cooldown_s") == 0)
			rows[1] = row("escalate_after_s", "5");
		assert_int_equal(alarms_settings_overlay(&conf, rows, 2, &out),
				 bad[i].bit);
		assert_string_equal(out.channel, "whatsapp");
		assert_string_equal(out.fallback_channel, "");
		assert_int_equal(out.ack_timeout_s, 600);
		assert_int_equal(out.finder_days, 30);
		assert_int_equal(out.alarm_days, 0);
		assert_int_equal(out.audit_days, 365);
		/* the good row beside it applied */
		if (strcmp(bad[i].key, "cooldown_s") == 0) {
			assert_int_equal(out.cooldown_s, 60);
			assert_int_equal(out.escalate_after_s, 5);
		} else {
			assert_int_equal(out.cooldown_s, 5);
		}
	}
}

static struct keryu_template tpl(const char *event, const char *channel,
				 const char *name, bool approved)
{
	struct keryu_template t;

	memset(&t, 0, sizeof(t));
	snprintf(t.event, sizeof(t.event), "%s", event);
	snprintf(t.channel, sizeof(t.channel), "%s", channel);
	snprintf(t.name, sizeof(t.name), "%s", name);
	t.approved = approved;
	return t;
}

/* As admin's template_get: the channel's row, else the event's "" row;
 * only an approved one is used. */
static void template_pick_like_template_get(void **st)
{
	const struct keryu_template rows[] = {
		tpl("alert", "", "all", true),
		tpl("alert", "whatsapp", "wa", true),
		tpl("alert", "twilio", "tw_wait", false),
		tpl("location", "whatsapp", "loc", true),
		tpl("report", "", "rep_wait", false),
	};
	const struct keryu_template *t;

	(void)st;
	t = alarms_template_pick(rows, 5, "alert", "whatsapp");
	assert_non_null(t);
	assert_string_equal(t->name, "wa");
	t = alarms_template_pick(rows, 5, "alert", "log");
	assert_non_null(t);
	assert_string_equal(t->name, "all");
	assert_null(alarms_template_pick(rows, 5, "alert", "twilio"));
	assert_null(alarms_template_pick(rows, 5, "location", "twilio"));
	assert_string_equal(alarms_template_pick(rows, 5, "location",
						 "whatsapp")->name,
			    "loc");
	assert_null(alarms_template_pick(rows, 5, "report", "whatsapp"));
	assert_null(alarms_template_pick(rows, 5, "code", "whatsapp"));
	assert_null(alarms_template_pick(rows, 0, "alert", "whatsapp"));
}

static const struct alarms_var vars[] = {
	{"name", "Ana"},
	{"time", "2026-11-25 12:34 UTC"},
	{"place", "-"},
	{"link", "https://k.example/ack/t"},
};

static void parameters_in_the_rows_order(void **st)
{
	struct keryu_notify_event n;

	(void)st;
	memset(&n, 0, sizeof(n));
	assert_int_equal(alarms_params_assemble("link,time,name", vars, 4, &n),
			 0);
	assert_int_equal(n.param_count, 3);
	assert_string_equal(n.params[0], "https://k.example/ack/t");
	assert_string_equal(n.params[1], "2026-11-25 12:34 UTC");
	assert_string_equal(n.params[2], "Ana");
	assert_int_equal(alarms_params_assemble("place", vars, 4, &n), 0);
	assert_int_equal(n.param_count, 1);
	assert_string_equal(n.params[0], "-");
	/* a template with no variables at all */
	assert_int_equal(alarms_params_assemble("", vars, 4, &n), 0);
	assert_int_equal(n.param_count, 0);
}

/* What a row cannot mean changes nothing: the caller falls back. */
static void bad_lists_are_refused(void **st)
{
	static const char *const bad[] = {
		"name,map",   "name,name", "name,",  ",name",     "name,,time",
		"Name",       "nam",       "names",  "name time", "name,time,x",
	};
	struct keryu_notify_event n;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&n, 0, sizeof(n));
		n.param_count = 7;
		assert_int_equal(alarms_params_assemble(bad[i], vars, 4, &n),
				 KERYU_EINVAL);
		assert_int_equal(n.param_count, 7);
		assert_string_equal(n.params[0], "");
	}
}

/* More names than a request carries: refused, not cut. */
static void at_most_eight_parameters(void **st)
{
	const struct alarms_var many[] = {
		{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"},
		{"f", "6"}, {"g", "7"}, {"h", "8"}, {"i", "9"},
	};
	struct keryu_notify_event n;

	(void)st;
	memset(&n, 0, sizeof(n));
	assert_int_equal(alarms_params_assemble("a,b,c,d,e,f,g,h", many, 9, &n),
			 0);
	assert_int_equal(n.param_count, 8);
	assert_string_equal(n.params[7], "8");
	assert_int_equal(alarms_params_assemble("a,b,c,d,e,f,g,h,i", many, 9,
						&n),
			 KERYU_EINVAL);
}

static void name_lookup(void **st)
{
	(void)st;
	assert_true(alarms_params_name("name,time,place", "place"));
	assert_true(alarms_params_name("place", "place"));
	assert_false(alarms_params_name("name,time", "place"));
	assert_false(alarms_params_name("placed,name", "place"));
	assert_false(alarms_params_name("", "place"));
}

/* ---- one refresher, one reader ---- */

/* Every call alternates between two consistent sets of rows: a reader
 * must never see half of one and half of the other. */
static atomic_int lists;

static int flip_settings(void *self, struct keryu_setting *out, size_t max,
			 size_t *n)
{
	bool odd = atomic_fetch_add(&lists, 1) & 1;

	(void)self;
	(void)max;
	out[0] = row("default_channel", odd ? "odd" : "even");
	out[1] = row("cooldown_s", odd ? "1" : "2");
	*n = 2;
	return 0;
}

static int flip_templates(void *self, struct keryu_template *out, size_t max,
			  size_t *n)
{
	bool odd = atomic_load(&lists) & 1;

	(void)self;
	(void)max;
	out[0] = tpl("alert", "", odd ? "t_odd" : "t_even", true);
	snprintf(out[0].language, sizeof(out[0].language), "%s",
		 odd ? "odd" : "even");
	*n = 1;
	return 0;
}

static const struct keryu_admin flip_admin = {
	.struct_size = sizeof(struct keryu_admin),
	.setting_list = flip_settings,
	.template_list = flip_templates,
};

static atomic_bool reading_done;

static void *refresher(void *arg)
{
	struct alarms_ctx *ctx = arg;

	while (!atomic_load(&reading_done))
		alarms_live_refresh(ctx);
	return NULL;
}

/* The bus thread's copies while the due thread refreshes (run under the
 * sanitizers, and with TSan by hand: no unguarded access). */
static void copies_are_whole_while_refreshing(void **st)
{
	struct alarms_ctx ctx;
	struct alarms_policy pol;
	struct keryu_template t;
	pthread_t th;
	int i;

	(void)st;
	fake_host_reset(NULL);
	memset(&ctx, 0, sizeof(ctx));
	ctx.m = fake_mod();
	ctx.host = fake_host();
	ctx.admin = &flip_admin;
	ctx.conf = conf;
	ctx.live = conf;
	assert_int_equal(pthread_mutex_init(&ctx.live_lock, NULL), 0);
	atomic_store(&reading_done, false);
	assert_int_equal(pthread_create(&th, NULL, refresher, &ctx), 0);
	/* enough rounds of both, however the threads are scheduled */
	for (i = 0; i < 20000 || atomic_load(&lists) < 2000; i++) {
		alarms_live_policy(&ctx, &pol);
		if (strcmp(pol.p.channel, "whatsapp") == 0)
			continue; /* not refreshed yet */
		assert_int_equal(pol.p.cooldown_s,
				 strcmp(pol.p.channel, "odd") == 0 ? 1 : 2);
		if (alarms_live_template(&ctx, "alert", "whatsapp", &t))
			assert_string_equal(t.name + 2, t.language);
	}
	atomic_store(&reading_done, true);
	pthread_join(th, NULL);
	pthread_mutex_destroy(&ctx.live_lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_rows_is_the_config),
		cmocka_unit_test(every_key_overrides_its_option),
		cmocka_unit_test(fallback_none_turns_it_off),
		cmocka_unit_test(bad_values_are_left_out),
		cmocka_unit_test(template_pick_like_template_get),
		cmocka_unit_test(parameters_in_the_rows_order),
		cmocka_unit_test(bad_lists_are_refused),
		cmocka_unit_test(at_most_eight_parameters),
		cmocka_unit_test(name_lookup),
		cmocka_unit_test(copies_are_whole_while_refreshing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
