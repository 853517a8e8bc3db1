/* The twilio module end to end through the fake host, against fake_twilio
 * started as a child process on a free port.
 *
 * The fake host is not thread-safe: requests are delivered before start()
 * (they wait in the engines' queues); while the engines work, this thread
 * only talks to the fake server; stop() joins the workers, after which the
 * published events are read without a race. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_host.h"
#include "fake_proc.h"

extern const struct keryu_module keryu_module;

#define ACCOUNT "AC0123456789abcdef0123456789abcdef"
#define TOKEN "s3cret-auth-token"
#define FROM "+15551234567"
#define SMS_FROM "+15557654321"
#define TO "+18551234567"
#define SID "HXb5b62575e6e4ff6129ad7c8efe1f983e"
#define NID1 "3f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"
#define NID2 "4f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"

static struct fake_proc plain; /* answers at once */
static struct fake_proc slow;  /* --delay-ms 1500 */

static const char *fake_bin(void)
{
	const char *env = getenv("FAKE_TWILIO");

	return env && *env ? env : FAKE_TWILIO_BIN;
}

static int fake_start(struct fake_proc *f, const char *delay_ms)
{
	const char *const args[] = {"--account-sid", ACCOUNT, "--auth-token",
				    TOKEN, "--callback-statuses", "none",
				    "--delay-ms", delay_ms, NULL};

	return fake_proc_start(f, fake_bin(), args);
}

static int setup(void **ctx)
{
	(void)ctx;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fake_start(&plain, "0") || fake_start(&slow, "1500"))
		return -1;
	return 0;
}

static int teardown(void **ctx)
{
	(void)ctx;
	fake_proc_stop(&plain);
	fake_proc_stop(&slow);
	fake_host_reset(NULL);
	curl_global_cleanup();
	return 0;
}

/* Waits (up to 5 s) until the fake has received n message requests. */
static void wait_count(const struct fake_proc *f, long n)
{
	fake_proc_wait_count(f, n, 5000);
}

/* Every line the fake recorded, as a JSON array (caller frees). */
static cJSON *recorded(const struct fake_proc *f)
{
	FILE *in = fopen(f->record, "r");
	cJSON *all = cJSON_CreateArray();
	char *line = NULL;
	size_t cap = 0;

	assert_non_null(in);
	while (getline(&line, &cap, in) > 0)
		cJSON_AddItemToArray(all, cJSON_Parse(line));
	free(line);
	fclose(in);
	return all;
}

static void truncate_record(const struct fake_proc *f)
{
	FILE *o = fopen(f->record, "w");

	assert_non_null(o);
	fclose(o);
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void deliver(const char *channel, const char *nid, int attempt,
		    const char *tpl, const char *ack_url)
{
	struct keryu_notify_event e;
	char topic[128];
	char *json;

	memset(&e, 0, sizeof(e));
	keryu_uuid_new(e.event_id);
	keryu_now_iso(e.at);
	snprintf(e.notification_id, sizeof(e.notification_id), "%s", nid);
	e.attempt = attempt;
	snprintf(e.channel, sizeof(e.channel), "%s", channel);
	snprintf(e.to, sizeof(e.to), TO);
	snprintf(e.template_name, sizeof(e.template_name), "%s", tpl);
	snprintf(e.language, sizeof(e.language), "en_US");
	e.param_count = 2;
	snprintf(e.params[0], sizeof(e.params[0]), "Ana María");
	snprintf(e.params[1], sizeof(e.params[1]), "12:34 UTC");
	snprintf(e.ack_url, sizeof(e.ack_url), "%s", ack_url ? ack_url : "");
	json = keryu_notify_event_encode(&e);
	assert_non_null(json);
	snprintf(topic, sizeof(topic), "keryu/v1/notify/%s", channel);
	assert_int_equal(fake_host_deliver(topic, json), 1);
	free(json);
}

static void configure(const struct fake_proc *f)
{
	fake_host_reset(&keryu_module);
	fake_host_set("api_base", f->base);
	fake_host_set("account_sid", ACCOUNT);
	fake_host_set("auth_token", TOKEN);
	fake_host_set("from", FROM);
	fake_host_set("sms_from", SMS_FROM);
	fake_host_set("content_sid", SID);
	fake_host_set("retry_base_ms", "20");
	fake_host_set("timeout_ms", "5000");
	fake_host_set("connect_timeout_ms", "1000");
	fake_host_set_global("http", "public_url", "https://keryu.example/");
}

static void *init_ok(void)
{
	void *st = NULL;

	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st), 0);
	assert_non_null(st);
	return st;
}

static void finish(void *st)
{
	keryu_module.stop(st, 10000);
	keryu_module.cleanup(st);
}

static void result(size_t i, const char *channel,
		   struct keryu_delivery_event *d)
{
	const struct fake_pub *p = fake_host_pub(i);

	assert_non_null(p);
	assert_int_equal(p->qos, 1);
	assert_int_equal(keryu_delivery_event_decode(p->payload, p->len, d), 0);
	assert_true(strncmp(p->topic, "keryu/v1/delivery/", 18) == 0);
	assert_string_equal(p->topic + 18, d->notification_id);
	assert_string_equal(d->channel, channel);
}

static void no_secrets_logged(void)
{
	assert_false(fake_host_log_contains("8551234567"));
	assert_false(fake_host_log_contains(TOKEN));
	assert_false(fake_host_log_contains("María"));
}

static void descriptor_and_subscriptions(void **ctx)
{
	void *st;

	(void)ctx;
	assert_string_equal(keryu_module.name, "twilio");
	configure(&plain);
	st = init_ok();
	assert_int_equal(fake_host_sub_count(), 2);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/twilio/keryu/v1/notify/twilio");
	assert_string_equal(fake_host_sub_filter(1),
			    "$share/twilio/keryu/v1/notify/sms");
	keryu_module.cleanup(st); /* never started */

	configure(&plain);
	fake_host_set("sms_channel", "");
	fake_host_set("whatsapp_channel", "wa2");
	fake_host_set("group", "east");
	st = init_ok();
	assert_int_equal(fake_host_sub_count(), 1);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/east/keryu/v1/notify/wa2");
	keryu_module.cleanup(st);

	/* SMS only, needs no WhatsApp sender or template */
	configure(&plain);
	fake_host_set("whatsapp_channel", "");
	fake_host_set("from", "");
	fake_host_set("content_sid", "");
	st = init_ok();
	assert_int_equal(fake_host_sub_count(), 1);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/twilio/keryu/v1/notify/sms");
	keryu_module.cleanup(st);
}

static void refuses_bad_config(void **ctx)
{
	static const char *const bad[][2] = {
		{"from", "15551234567"},   {"sms_from", "+0555"},
		{"content_sid", "HX12"},   {"account_sid", ""},
		{"account_sid", "AC/1"},   {"auth_token", ""},
		{"group", "a/b"},          {"sms_channel", "twilio"},
		{"sms_channel", "a+b"},    {"sms_text", ""},
	};
	void *st = NULL;
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		configure(&plain);
		fake_host_set(bad[i][0], bad[i][1]);
		assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st),
				 KERYU_EINVAL);
		assert_null(st);
		assert_true(fake_host_log_contains("twilio.config"));
	}
	configure(&plain);
	fake_host_set("whatsapp_channel", "");
	fake_host_set("sms_channel", "");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st),
			 KERYU_EINVAL);
}

/* One WhatsApp and one SMS request: both sent, and the fake saw exactly
 * what providers.md describes. */
static void sends_both_channels(void **ctx)
{
	struct keryu_delivery_event d;
	cJSON *all, *wa = NULL, *sms = NULL, *it, *vars;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "ok");
	truncate_record(&plain);
	configure(&plain);
	fake_host_set("ack_variable", "true");
	st = init_ok();
	deliver("twilio", NID1, 1, "qr_template_on_m",
		"https://keryu.example/ack/tok");
	deliver("sms", NID2, 1, "qr_template_on_m",
		"https://keryu.example/ack/tok2");
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, 2);
	finish(st);

	assert_int_equal(fake_host_pub_count(), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct fake_pub *p = fake_host_pub(i);
		bool is_wa = strstr(p->topic, NID1) != NULL;

		result(i, is_wa ? "twilio" : "sms", &d);
		assert_string_equal(d.status, "sent");
		assert_int_equal(d.attempt, 1);
		assert_int_equal(d.retry_in_ms, -1);
		assert_true(strncmp(d.provider_message_id, "SM", 2) == 0);
		assert_int_equal(strlen(d.provider_message_id), 34);
	}
	all = recorded(&plain);
	assert_int_equal(cJSON_GetArraySize(all), 2);
	cJSON_ArrayForEach(it, all)
	{
		if (strcmp(jstr(it, "channel"), "whatsapp") == 0)
			wa = it;
		else
			sms = it;
	}
	assert_non_null(wa);
	assert_non_null(sms);
	assert_string_equal(jstr(wa, "to"), "whatsapp:" TO);
	assert_string_equal(jstr(wa, "from"), "whatsapp:" FROM);
	assert_string_equal(jstr(wa, "content_sid"), SID);
	assert_string_equal(jstr(wa, "notification_id"), NID1);
	assert_string_equal(jstr(wa, "status_callback"),
			    "https://keryu.example/webhooks/twilio/status?n=" NID1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(wa, "auth_ok")));
	vars = cJSON_GetObjectItem(wa, "variables");
	assert_string_equal(jstr(vars, "1"), "Ana María");
	assert_string_equal(jstr(vars, "2"), "12:34 UTC");
	assert_string_equal(jstr(vars, "3"), "https://keryu.example/ack/tok");
	assert_string_equal(jstr(sms, "to"), TO);
	assert_string_equal(jstr(sms, "from"), SMS_FROM);
	assert_string_equal(jstr(sms, "body"),
			    "Keryu alert: Ana María was scanned at 12:34 UTC.\n"
			    "https://keryu.example/ack/tok2");
	assert_string_equal(jstr(sms, "notification_id"), NID2);
	cJSON_Delete(all);
	assert_true(fake_host_log_contains("twilio.sent"));
	assert_true(fake_host_log_contains("twilio_sms.sent"));
	no_secrets_logged();
}

/* 21211: final at once, no retry, the quoted number redacted. */
static void permanent_error(void **ctx)
{
	struct keryu_delivery_event d;
	long before = fake_proc_count(&plain);
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "error:21211");
	configure(&plain);
	st = init_ok();
	deliver("twilio", NID1, 1, "qr_template_on_m", NULL);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 1);
	usleep(200000); /* a retry, if there were one, would be due */
	finish(st);
	fake_proc_set_mode(&plain, "ok");
	assert_int_equal(fake_proc_count(&plain), before + 1);
	assert_int_equal(fake_host_pub_count(), 1);
	result(0, "twilio", &d);
	assert_string_equal(d.status, "failed");
	assert_string_equal(d.error_code, "21211");
	assert_int_equal(d.retry_in_ms, -1);
	assert_non_null(strstr(d.error_text, "[number]"));
	assert_null(strstr(d.error_text, "8551234567"));
	no_secrets_logged();
}

/* 20429 on every attempt: error, error (each with a retry time), then
 * failed after max_attempts; the fake saw three sends. */
static void transient_until_exhausted(void **ctx)
{
	struct keryu_delivery_event d;
	long before;
	void *st;
	int i;

	(void)ctx;
	fake_proc_set_mode(&plain, "error:20429");
	before = fake_proc_count(&plain);
	configure(&plain);
	st = init_ok();
	deliver("sms", NID2, 1, "qr_template_on_m", NULL);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 3);
	usleep(200000); /* the third answer is read */
	finish(st);
	fake_proc_set_mode(&plain, "ok");
	assert_int_equal(fake_proc_count(&plain), before + 3);
	assert_int_equal(fake_host_pub_count(), 3);
	for (i = 0; i < 3; i++) {
		result((size_t)i, "sms", &d);
		assert_int_equal(d.attempt, i + 1);
		assert_string_equal(d.error_code, "20429");
		if (i < 2) {
			assert_string_equal(d.status, "error");
			assert_true(d.retry_in_ms >= 1);
		} else {
			assert_string_equal(d.status, "failed");
			assert_int_equal(d.retry_in_ms, -1);
		}
	}
}

/* 20429 twice, then accepted: three attempts, the last one sent. */
static void transient_then_sent(void **ctx)
{
	struct keryu_delivery_event d;
	long before;
	void *st;
	int i;

	(void)ctx;
	fake_proc_set_mode(&plain, "seq:error:20429,http:503,ok");
	before = fake_proc_count(&plain);
	configure(&plain);
	st = init_ok();
	deliver("twilio", NID1, 1, "qr_template_on_m", NULL);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 3);
	finish(st);
	fake_proc_set_mode(&plain, "ok");
	assert_int_equal(fake_host_pub_count(), 3);
	for (i = 0; i < 3; i++) {
		result((size_t)i, "twilio", &d);
		assert_int_equal(d.attempt, i + 1);
		assert_string_equal(d.status, i < 2 ? "error" : "sent");
	}
	result(1, "twilio", &d);
	assert_string_equal(d.error_code, "http_503");
	assert_true(d.retry_in_ms >= 1);
}

/* Wrong credentials: 20003 from the fake, final, logged as an error. */
static void bad_credentials(void **ctx)
{
	struct keryu_delivery_event d;
	long before = fake_proc_count(&plain);
	void *st;

	(void)ctx;
	configure(&plain);
	fake_host_set("auth_token", "wrong-token");
	st = init_ok();
	deliver("twilio", NID1, 1, "qr_template_on_m", NULL);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 1);
	usleep(200000);
	finish(st);
	assert_int_equal(fake_host_pub_count(), 1);
	result(0, "twilio", &d);
	assert_string_equal(d.status, "failed");
	assert_string_equal(d.error_code, "20003");
	assert_false(fake_host_log_contains("wrong-token"));
}

/* A timeout after the request went out: outcome unknown, not resent. */
static void timeout_is_unknown(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	configure(&slow);
	fake_host_set("timeout_ms", "300");
	st = init_ok();
	deliver("twilio", NID1, 1, "qr_template_on_m", NULL);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&slow, 1);
	usleep(800000);
	finish(st);
	assert_int_equal(fake_proc_count(&slow), 1);
	assert_int_equal(fake_host_pub_count(), 1);
	result(0, "twilio", &d);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "timeout");
	assert_int_equal(d.retry_in_ms, 0);
}

/* No Content SID configured and none in the request: refused without a
 * round trip. A template name that is an HX SID is used as it is. */
static void template_sid_from_request(void **ctx)
{
	struct keryu_delivery_event d;
	long before = fake_proc_count(&plain);
	cJSON *all;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "ok");
	truncate_record(&plain);
	configure(&plain);
	fake_host_set("content_sid", "");
	st = init_ok();
	assert_true(fake_host_log_contains("twilio.no_content_sid"));
	deliver("twilio", NID1, 1, "qr_template_on_m", NULL);
	deliver("twilio", NID2, 1, "HX00000000000000000000000000000001", NULL);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 1);
	usleep(200000);
	finish(st);
	assert_int_equal(fake_host_pub_count(), 2);
	for (size_t i = 0; i < 2; i++) {
		result(i, "twilio", &d);
		if (strcmp(d.notification_id, NID1) == 0) {
			assert_string_equal(d.status, "failed");
			assert_string_equal(d.error_code, "invalid_request");
		} else {
			assert_string_equal(d.status, "sent");
		}
	}
	all = recorded(&plain);
	assert_int_equal(cJSON_GetArraySize(all), 1);
	assert_string_equal(jstr(cJSON_GetArrayItem(all, 0), "content_sid"),
			    "HX00000000000000000000000000000001");
	cJSON_Delete(all);
}

/* Without [http] public_url there is no StatusCallback (and a warning). */
static void no_public_url(void **ctx)
{
	long before = fake_proc_count(&plain);
	cJSON *all;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "ok");
	truncate_record(&plain);
	configure(&plain);
	fake_host_set_global("http", "public_url", "");
	st = init_ok();
	assert_true(fake_host_log_contains("twilio.no_status_callback"));
	deliver("sms", NID1, 1, "qr_template_on_m", NULL);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 1);
	finish(st);
	all = recorded(&plain);
	assert_true(cJSON_IsNull(
		cJSON_GetObjectItem(cJSON_GetArrayItem(all, 0),
				    "status_callback")));
	cJSON_Delete(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(descriptor_and_subscriptions),
		cmocka_unit_test(refuses_bad_config),
		cmocka_unit_test(sends_both_channels),
		cmocka_unit_test(permanent_error),
		cmocka_unit_test(transient_until_exhausted),
		cmocka_unit_test(transient_then_sent),
		cmocka_unit_test(bad_credentials),
		cmocka_unit_test(timeout_is_unknown),
		cmocka_unit_test(template_sid_from_request),
		cmocka_unit_test(no_public_url),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
