/* The whatsapp module end to end through the fake host, against
 * fake_whatsapp started as a child process on a free port.
 *
 * The fake host is not thread-safe, so each test delivers its requests
 * before start() (they wait in the module's queue), then calls stop() with
 * a generous deadline: stop drains the queue and joins the worker, after
 * which the published events can be read without a race. */
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

#define TOKEN "T0ken-abc.123"
#define PHONE_ID "106540352242922"
#define TO "+16505551234"
#define NID "3f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"

static struct fake_proc plain; /* --token TOKEN, answers at once */
static struct fake_proc slow;  /* --delay-ms 300, no token check */

static const char *fake_bin(void)
{
	const char *env = getenv("FAKE_WHATSAPP");

	return env && *env ? env : FAKE_WHATSAPP_BIN;
}

static int fake_start(struct fake_proc *f, const char *extra1,
		      const char *extra2)
{
	const char *const args[] = {extra1, extra2, NULL};

	return fake_proc_start(f, fake_bin(), args);
}

static int setup(void **ctx)
{
	(void)ctx;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fake_start(&plain, "--token", TOKEN) ||
	    fake_start(&slow, "--delay-ms", "300"))
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

/* The last request the fake recorded on a messages path (caller frees). */
static cJSON *last_message(const struct fake_proc *f)
{
	FILE *in = fopen(f->record, "r");
	char *line = NULL;
	size_t cap = 0;
	cJSON *last = NULL;

	assert_non_null(in);
	while (getline(&line, &cap, in) > 0) {
		cJSON *o = cJSON_Parse(line);
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path");

		if (cJSON_IsString(path) && strstr(path->valuestring, "/messages")) {
			cJSON_Delete(last);
			last = o;
		} else {
			cJSON_Delete(o);
		}
	}
	free(line);
	fclose(in);
	return last;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *notify_json_tpl(const char *nid, int attempt, const char *to,
			     const char *tpl)
{
	struct keryu_notify_event e;

	memset(&e, 0, sizeof(e));
	keryu_uuid_new(e.event_id);
	keryu_now_iso(e.at);
	snprintf(e.notification_id, sizeof(e.notification_id), "%s", nid);
	e.attempt = attempt;
	snprintf(e.channel, sizeof(e.channel), "whatsapp");
	snprintf(e.to, sizeof(e.to), "%s", to);
	snprintf(e.template_name, sizeof(e.template_name), "%s", tpl);
	snprintf(e.language, sizeof(e.language), "en_US");
	e.param_count = 2;
	snprintf(e.params[0], sizeof(e.params[0]), "Ana María");
	snprintf(e.params[1], sizeof(e.params[1]), "2026-11-25 12:34 UTC");
	return keryu_notify_event_encode(&e);
}

static char *notify_json(const char *nid, int attempt, const char *to)
{
	return notify_json_tpl(nid, attempt, to, "qr_template_on_m");
}

static void deliver(const char *nid, int attempt, const char *to)
{
	char *json = notify_json(nid, attempt, to);

	assert_non_null(json);
	assert_int_equal(fake_host_deliver("keryu/v1/notify/whatsapp", json), 1);
	free(json);
}

/* Module configured against fake f, initialised but not started. */
static void *module_init_timeout(const char *base, const char *token,
				 int in_flight, const char *timeout_ms)
{
	char n[16];
	void *st = NULL;

	fake_host_reset(&keryu_module);
	fake_host_set("api_base", base);
	fake_host_set("phone_number_id", PHONE_ID);
	fake_host_set("token", token);
	fake_host_set("timeout_ms", timeout_ms);
	fake_host_set("connect_timeout_ms", "1000");
	snprintf(n, sizeof(n), "%d", in_flight);
	fake_host_set("max_in_flight", n);
	snprintf(n, sizeof(n), "%d", in_flight * 4); /* a small queue */
	fake_host_set("queue_max", n);
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st), 0);
	assert_non_null(st);
	return st;
}

/* Initialises the module with what the test has set on the fake host. */
static void *module_init_keep(const struct fake_proc *f)
{
	void *st = NULL;

	(void)f;
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st), 0);
	assert_non_null(st);
	return st;
}

static void *module_init(const char *base, const char *token, int in_flight)
{
	return module_init_timeout(base, token, in_flight, "5000");
}

/* Starts, drains and stops the module; afterwards only this thread runs. */
static void run_to_completion(void *st)
{
	assert_int_equal(keryu_module.start(st), 0);
	keryu_module.stop(st, 10000);
	keryu_module.cleanup(st);
}

static void result(size_t i, struct keryu_delivery_event *d)
{
	const struct fake_pub *p = fake_host_pub(i);

	assert_non_null(p);
	assert_int_equal(p->qos, 1);
	assert_false(p->retain);
	assert_int_equal(keryu_delivery_event_decode(p->payload, p->len, d), 0);
	assert_true(strncmp(p->topic, "keryu/v1/delivery/", 18) == 0);
	assert_string_equal(p->topic + 18, d->notification_id);
	assert_string_equal(d->channel, "whatsapp");
}

static void no_secrets_logged(void)
{
	assert_false(fake_host_log_contains("6505551234"));
	assert_false(fake_host_log_contains(TOKEN));
	assert_false(fake_host_log_contains("María"));
}

static void descriptor_and_subscription(void **ctx)
{
	void *st = NULL;

	(void)ctx;
	assert_int_equal(keryu_module.abi_version, KERYU_ABI_VERSION);
	assert_string_equal(keryu_module.name, "whatsapp");
	st = module_init(plain.base, TOKEN, 4);
	assert_int_equal(fake_host_sub_count(), 1);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/whatsapp/keryu/v1/notify/whatsapp");
	keryu_module.cleanup(st); /* never started: cleanup alone is fine */

	fake_host_reset(&keryu_module);
	fake_host_set("phone_number_id", PHONE_ID);
	fake_host_set("token", TOKEN);
	fake_host_set("group", "wa-east");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st), 0);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/wa-east/keryu/v1/notify/whatsapp");
	keryu_module.cleanup(st);
}

static void refuses_bad_config(void **ctx)
{
	void *st = NULL;

	(void)ctx;
	fake_host_reset(&keryu_module); /* no phone_number_id, no token */
	assert_int_not_equal(keryu_module.init(fake_mod(), fake_host(), &st), 0);
	assert_null(st);
	fake_host_reset(&keryu_module);
	fake_host_set("phone_number_id", PHONE_ID); /* no token */
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st),
			 KERYU_EINVAL);
	fake_host_reset(&keryu_module);
	fake_host_set("token", TOKEN);
	fake_host_set("phone_number_id", "1/2");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st),
			 KERYU_EINVAL);
	fake_host_reset(&keryu_module);
	fake_host_set("token", TOKEN);
	fake_host_set("phone_number_id", PHONE_ID);
	fake_host_set("group", "a/#");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st),
			 KERYU_EINVAL);
	assert_int_equal(fake_host_sub_count(), 0);
	assert_false(fake_host_log_contains(TOKEN));
}

static void sends_and_publishes_sent(void **ctx)
{
	struct keryu_delivery_event d;
	const cJSON *headers;
	cJSON *rec;
	long before = fake_proc_count(&plain);
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "ok");
	st = module_init(plain.base, TOKEN, 4);
	deliver(NID, 2, TO);
	run_to_completion(st);

	assert_int_equal(fake_host_pub_count(), 1);
	result(0, &d);
	assert_string_equal(d.notification_id, NID);
	assert_int_equal(d.attempt, 2);
	assert_string_equal(d.status, "sent");
	assert_true(strncmp(d.provider_message_id, "wamid.", 6) == 0);
	assert_true(strlen(d.provider_message_id) > 10);
	assert_string_equal(d.error_code, "");
	assert_true(fake_host_log_contains(
		"info whatsapp.sent notification=" NID " attempt=2 ms="));
	no_secrets_logged();

	assert_int_equal(fake_proc_count(&plain), before + 1);
	rec = last_message(&plain);
	assert_non_null(rec);
	assert_string_equal(jstr(rec, "method"), "POST");
	assert_string_equal(jstr(rec, "path"),
			    "/v23.0/" PHONE_ID "/messages");
	headers = cJSON_GetObjectItemCaseSensitive(rec, "headers");
	assert_string_equal(jstr(headers, "authorization"), "Bearer " TOKEN);
	assert_string_equal(jstr(headers, "content-type"), "application/json");
	assert_null(jstr(headers, "expect"));
	assert_string_equal(
		jstr(rec, "body"),
		"{\"messaging_product\":\"whatsapp\","
		"\"recipient_type\":\"individual\","
		"\"to\":\"" TO "\",\"type\":\"template\","
		"\"biz_opaque_callback_data\":\"" NID "\","
		"\"template\":{\"name\":\"qr_template_on_m\","
		"\"language\":{\"code\":\"en_US\"},"
		"\"components\":[{\"type\":\"body\",\"parameters\":["
		"{\"type\":\"text\",\"text\":\"Ana María\"},"
		"{\"type\":\"text\",\"text\":\"2026-11-25 12:34 UTC\"}]}]}}");
	cJSON_Delete(rec);
}

static void provider_error_is_failed(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "error:131026");
	st = module_init(plain.base, TOKEN, 4);
	deliver(NID, 1, TO);
	run_to_completion(st);
	fake_proc_set_mode(&plain, "ok");

	assert_int_equal(fake_host_pub_count(), 1);
	result(0, &d);
	assert_string_equal(d.status, "failed");
	assert_string_equal(d.error_code, "131026");
	assert_non_null(strstr(d.error_text, "Message undeliverable"));
	assert_string_equal(d.provider_message_id, "");
	assert_true(fake_host_log_contains(
		"warn whatsapp.failed notification=" NID
		" attempt=1 code=131026 http=400"));
	no_secrets_logged();
}

static void transient_error_is_error(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "error:131000");
	st = module_init(plain.base, TOKEN, 4);
	deliver(NID, 1, TO);
	run_to_completion(st);
	fake_proc_set_mode(&plain, "ok");
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "131000");
	/* the module retries itself, from retry_base_ms (60 s) with full
	 * jitter; stop dropped the retry, the alarms lease re-drives it */
	assert_true(d.retry_in_ms >= 1 && d.retry_in_ms <= 60000);
	assert_int_equal(fake_host_pub_count(), 1);
}

static void bad_token_is_failed_190(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	st = module_init(plain.base, "wrong-token", 4);
	deliver(NID, 1, TO);
	run_to_completion(st);
	result(0, &d);
	assert_string_equal(d.status, "failed");
	assert_string_equal(d.error_code, "190");
	/* the operator has to act: logged as an error */
	assert_true(fake_host_log_contains("error whatsapp.failed"));
	assert_false(fake_host_log_contains("wrong-token"));
}

static void http_status_without_body(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "http:503");
	st = module_init(plain.base, TOKEN, 4);
	deliver(NID, 1, TO);
	run_to_completion(st);
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "http_503");
	assert_true(d.retry_in_ms >= 1);

	/* the last of max_attempts (3): no retry left, final */
	st = module_init(plain.base, TOKEN, 4);
	deliver(NID, 3, TO);
	run_to_completion(st);
	fake_proc_set_mode(&plain, "ok");
	result(0, &d);
	assert_string_equal(d.status, "failed");
	assert_string_equal(d.error_code, "http_503");
	assert_int_equal(d.attempt, 3);
	assert_int_equal(d.retry_in_ms, -1);
}

static void dropped_connection_is_network(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "drop");
	st = module_init(plain.base, TOKEN, 4);
	deliver(NID, 1, TO);
	run_to_completion(st);
	fake_proc_set_mode(&plain, "ok");
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "network");
	assert_true(fake_host_log_contains("warn whatsapp.error notification="));
}

static void refused_connection_is_network(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	/* port 1 on loopback: nothing listens there */
	st = module_init("http://127.0.0.1:1", TOKEN, 4);
	deliver(NID, 1, TO);
	run_to_completion(st);
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "network");
	assert_true(d.error_text[0] != '\0');
}

static void timeout_is_unknown_outcome(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	/* the fake answers after 300 ms */
	long before = fake_proc_count(&slow);

	st = module_init_timeout(slow.base, TOKEN, 4, "100");
	deliver(NID, 1, TO);
	run_to_completion(st);
	assert_int_equal(fake_host_pub_count(), 1);
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "timeout");
	/* unknown outcome: not resent here, left to the lease and webhook */
	assert_int_equal(d.retry_in_ms, 0);
	assert_int_equal(fake_proc_count(&slow), before + 1);

	/* on the last attempt: the channel will not try again */
	st = module_init_timeout(slow.base, TOKEN, 4, "100");
	deliver(NID, 3, TO);
	run_to_completion(st);
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_int_equal(d.retry_in_ms, -1);
}

/* Waits (up to 20 s) until fake f has seen n message requests in all. */
static void wait_count(const struct fake_proc *f, long n)
{
	fake_proc_wait_count(f, n, 20000);
}

/* Module with fast retries: base 20 ms. */
static void *module_init_fast_retry(const struct fake_proc *f)
{
	fake_host_reset(&keryu_module);
	fake_host_set("api_base", f->base);
	fake_host_set("phone_number_id", PHONE_ID);
	fake_host_set("token", TOKEN);
	fake_host_set("retry_base_ms", "20");
	return module_init_keep(f);
}

static void retries_then_sent(void **ctx)
{
	struct keryu_delivery_event d;
	long before = fake_proc_count(&plain);
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "seq:error:131000,http:503,ok");
	st = module_init_fast_retry(&plain);
	deliver(NID, 1, TO);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 3);
	keryu_module.stop(st, 10000);
	keryu_module.cleanup(st);
	fake_proc_set_mode(&plain, "ok");

	assert_int_equal(fake_host_pub_count(), 3);
	result(0, &d);
	assert_int_equal(d.attempt, 1);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "131000");
	assert_true(d.retry_in_ms >= 1 && d.retry_in_ms <= 20);
	result(1, &d);
	assert_int_equal(d.attempt, 2);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "http_503");
	assert_true(d.retry_in_ms >= 1 && d.retry_in_ms <= 40);
	result(2, &d);
	assert_int_equal(d.attempt, 3);
	assert_string_equal(d.status, "sent");
	assert_int_equal(d.retry_in_ms, -1);
	no_secrets_logged();
}

static void three_transient_then_failed(void **ctx)
{
	struct keryu_delivery_event d;
	long before = fake_proc_count(&plain);
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "error:131016");
	st = module_init_fast_retry(&plain);
	deliver(NID, 1, TO);
	assert_int_equal(keryu_module.start(st), 0);
	wait_count(&plain, before + 3);
	keryu_module.stop(st, 10000);
	keryu_module.cleanup(st);
	fake_proc_set_mode(&plain, "ok");

	assert_int_equal(fake_host_pub_count(), 3);
	result(2, &d);
	assert_int_equal(d.attempt, 3);
	assert_string_equal(d.status, "failed");
	assert_string_equal(d.error_code, "131016");
	assert_int_equal(d.retry_in_ms, -1);
	assert_int_equal(fake_proc_count(&plain), before + 3);
}

/* 131056: this recipient waits 4^attempt s; the retry hint says so. */
static void pair_limit_holds_recipient(void **ctx)
{
	struct keryu_delivery_event d;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "error:131056");
	st = module_init(plain.base, TOKEN, 4);
	deliver(NID, 1, TO);
	run_to_completion(st);
	fake_proc_set_mode(&plain, "ok");
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_string_equal(d.error_code, "131056");
	assert_int_equal(d.retry_in_ms, 4000);
}

static void ack_button_on_the_wire(void **ctx)
{
	struct keryu_notify_event e;
	char *json;
	cJSON *rec;
	void *st;

	(void)ctx;
	fake_proc_set_mode(&plain, "ok");
	fake_host_reset(&keryu_module);
	fake_host_set("api_base", plain.base);
	fake_host_set("phone_number_id", PHONE_ID);
	fake_host_set("token", TOKEN);
	fake_host_set("ack_button", "true");
	st = module_init_keep(&plain);
	memset(&e, 0, sizeof(e));
	keryu_uuid_new(e.event_id);
	keryu_now_iso(e.at);
	snprintf(e.notification_id, sizeof(e.notification_id), NID);
	e.attempt = 1;
	snprintf(e.channel, sizeof(e.channel), "whatsapp");
	snprintf(e.to, sizeof(e.to), TO);
	snprintf(e.template_name, sizeof(e.template_name), "qr_template_on_m");
	snprintf(e.language, sizeof(e.language), "en_US");
	snprintf(e.ack_url, sizeof(e.ack_url),
		 "https://k.example/ack/" NID ".1798200000.mac");
	json = keryu_notify_event_encode(&e);
	assert_int_equal(fake_host_deliver("keryu/v1/notify/whatsapp", json),
			 1);
	free(json);
	run_to_completion(st);
	rec = last_message(&plain);
	assert_non_null(rec);
	assert_string_equal(
		jstr(rec, "body"),
		"{\"messaging_product\":\"whatsapp\","
		"\"recipient_type\":\"individual\","
		"\"to\":\"" TO "\",\"type\":\"template\","
		"\"biz_opaque_callback_data\":\"" NID "\","
		"\"template\":{\"name\":\"qr_template_on_m\","
		"\"language\":{\"code\":\"en_US\"},"
		"\"components\":[{\"type\":\"button\",\"sub_type\":\"url\","
		"\"index\":\"0\",\"parameters\":[{\"type\":\"text\","
		"\"text\":\"" NID ".1798200000.mac\"}]}]}}");
	cJSON_Delete(rec);
}

static void malformed_and_invalid_requests(void **ctx)
{
	struct keryu_delivery_event d;
	long before = fake_proc_count(&plain);
	char *json;
	void *st;

	(void)ctx;
	st = module_init(plain.base, TOKEN, 4);
	fake_host_deliver("keryu/v1/notify/whatsapp", "{not json");
	fake_host_deliver("keryu/v1/notify/whatsapp", "{\"v\":2}");
	deliver(NID, 1, "12345"); /* not E.164: the decoder refuses it */
	assert_true(fake_host_log_contains("warn whatsapp.malformed"));
	assert_int_equal(fake_host_pub_count(), 0);
	/* well-formed but without a template: failed without a round trip */
	json = notify_json_tpl(NID, 1, TO, "");
	fake_host_deliver("keryu/v1/notify/whatsapp", json);
	free(json);
	run_to_completion(st);
	assert_int_equal(fake_host_pub_count(), 1);
	result(0, &d);
	assert_string_equal(d.status, "failed");
	assert_string_equal(d.error_code, "invalid_request");
	assert_int_equal(fake_proc_count(&plain), before);
}

static void duplicate_request_sends_once(void **ctx)
{
	char *json = notify_json(NID, 1, TO);
	long before = fake_proc_count(&plain);
	void *st;

	(void)ctx;
	st = module_init(plain.base, TOKEN, 4);
	fake_host_deliver("keryu/v1/notify/whatsapp", json);
	fake_host_deliver("keryu/v1/notify/whatsapp", json);
	run_to_completion(st);
	free(json);
	assert_int_equal(fake_host_pub_count(), 1);
	assert_int_equal(fake_proc_count(&plain), before + 1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void requests_run_concurrently(void **ctx)
{
	struct keryu_delivery_event d;
	char nid[KERYU_UUID_LEN];
	double t0;
	size_t i;
	void *st;

	(void)ctx;
	st = module_init(slow.base, TOKEN, 16);
	for (i = 0; i < 16; i++) {
		keryu_uuid_new(nid);
		deliver(nid, 1, TO);
	}
	t0 = now_s();
	run_to_completion(st);
	/* one after the other would take 16 x 300 ms = 4.8 s */
	assert_true(now_s() - t0 < 2.5);
	assert_int_equal(fake_host_pub_count(), 16);
	for (i = 0; i < 16; i++) {
		result(i, &d);
		assert_string_equal(d.status, "sent");
	}
}

static void max_in_flight_is_respected(void **ctx)
{
	char nid[KERYU_UUID_LEN];
	double t0, took;
	size_t i;
	void *st;

	(void)ctx;
	st = module_init(slow.base, TOKEN, 2);
	for (i = 0; i < 4; i++) {
		keryu_uuid_new(nid);
		deliver(nid, 1, TO);
	}
	t0 = now_s();
	run_to_completion(st);
	took = now_s() - t0;
	/* two rounds of 300 ms at most two at a time */
	assert_true(took >= 0.55);
	assert_int_equal(fake_host_pub_count(), 4);
}

static void stop_abandons_at_deadline(void **ctx)
{
	char nid[KERYU_UUID_LEN];
	double t0;
	size_t i;
	void *st;

	(void)ctx;
	st = module_init(slow.base, TOKEN, 4);
	for (i = 0; i < 8; i++) {
		keryu_uuid_new(nid);
		deliver(nid, 1, TO);
	}
	assert_int_equal(keryu_module.start(st), 0);
	usleep(50 * 1000);
	t0 = now_s();
	keryu_module.stop(st, 100);
	assert_true(now_s() - t0 < 0.5);
	keryu_module.cleanup(st);
	/* cut off in flight or never started: left for the alarms module to
	 * re-drive, not published */
	assert_int_equal(fake_host_pub_count(), 0);
}

/* queue_max 4: the fifth request is dropped unpublished at once. The bus
 * thread never waits for room: it also carries the results out. */
static void full_queue_drops_at_once(void **ctx)
{
	char nid[KERYU_UUID_LEN];
	double t0;
	size_t i;
	void *st;

	(void)ctx;
	st = module_init_timeout(plain.base, TOKEN, 1, "200");
	for (i = 0; i < 4; i++) {
		keryu_uuid_new(nid);
		deliver(nid, 1, TO);
	}
	assert_false(fake_host_log_contains("whatsapp.dropped"));
	t0 = now_s();
	deliver(NID, 1, TO);
	assert_true(now_s() - t0 < 0.1);
	assert_true(fake_host_log_contains(
		"warn whatsapp.dropped notification=" NID
		" attempt=1 reason=queue_full"));
	run_to_completion(st);
	assert_int_equal(fake_host_pub_count(), 4);
}

/* A request dropped on a full queue was not taken on: delivered again (a
 * broker redelivery, same event id) it is sent, not discarded as a
 * duplicate. */
static void dropped_request_is_sent_when_redelivered(void **ctx)
{
	char nid[KERYU_UUID_LEN], *json = notify_json(NID, 1, TO);
	struct keryu_delivery_event d;
	bool found = false;
	size_t i;
	void *st;

	(void)ctx;
	/* slow answers: nothing is published before the redelivery below */
	st = module_init_timeout(slow.base, TOKEN, 1, "250");
	for (i = 0; i < 4; i++) {
		keryu_uuid_new(nid);
		deliver(nid, 1, TO);
	}
	fake_host_deliver("keryu/v1/notify/whatsapp", json);
	assert_true(fake_host_log_contains(
		"warn whatsapp.dropped notification=" NID
		" attempt=1 reason=queue_full"));
	assert_int_equal(keryu_module.start(st), 0);
	/* The broker redelivers it until the worker has taken a request and
	 * made room: each drop is forgotten, so one of these is taken on,
	 * and the next is then a duplicate (the bus thread never waits for
	 * room, so when that happens is the worker's business). */
	for (i = 0; i < 500 && !fake_host_log_contains("whatsapp.duplicate");
	     i++) {
		fake_host_deliver("keryu/v1/notify/whatsapp", json);
		usleep(10 * 1000);
	}
	free(json);
	keryu_module.stop(st, 10000);
	keryu_module.cleanup(st);
	assert_true(fake_host_log_contains("whatsapp.duplicate"));
	assert_int_equal(fake_host_pub_count(), 5);
	for (i = 0; i < 5; i++) {
		result(i, &d);
		found = found || strcmp(d.notification_id, NID) == 0;
	}
	assert_true(found);
}

static void refuses_after_stop(void **ctx)
{
	void *st;

	(void)ctx;
	st = module_init(plain.base, TOKEN, 4);
	assert_int_equal(keryu_module.start(st), 0);
	keryu_module.stop(st, 1000);
	deliver(NID, 1, TO);
	assert_true(fake_host_log_contains(
		"warn whatsapp.dropped notification=" NID
		" attempt=1 reason=stopping"));
	keryu_module.cleanup(st);
	assert_int_equal(fake_host_pub_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(descriptor_and_subscription),
		cmocka_unit_test(refuses_bad_config),
		cmocka_unit_test(sends_and_publishes_sent),
		cmocka_unit_test(provider_error_is_failed),
		cmocka_unit_test(transient_error_is_error),
		cmocka_unit_test(bad_token_is_failed_190),
		cmocka_unit_test(http_status_without_body),
		cmocka_unit_test(dropped_connection_is_network),
		cmocka_unit_test(refused_connection_is_network),
		cmocka_unit_test(timeout_is_unknown_outcome),
		cmocka_unit_test(retries_then_sent),
		cmocka_unit_test(three_transient_then_failed),
		cmocka_unit_test(pair_limit_holds_recipient),
		cmocka_unit_test(ack_button_on_the_wire),
		cmocka_unit_test(malformed_and_invalid_requests),
		cmocka_unit_test(duplicate_request_sends_once),
		cmocka_unit_test(requests_run_concurrently),
		cmocka_unit_test(max_in_flight_is_respected),
		cmocka_unit_test(stop_abandons_at_deadline),
		cmocka_unit_test(full_queue_drops_at_once),
		cmocka_unit_test(dropped_request_is_sent_when_redelivered),
		cmocka_unit_test(refuses_after_stop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
