/* The log channel through the fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_host.h"

extern const struct keryu_module keryu_module;

#define NID "3f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"

static void *start(void)
{
	void *state = NULL;

	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state), 0);
	assert_non_null(state);
	assert_int_equal(keryu_module.start(state), 0);
	return state;
}

static void finish(void *state)
{
	keryu_module.stop(state, 1000);
	keryu_module.cleanup(state);
}

static char *notify_json(void)
{
	struct keryu_notify_event e;

	memset(&e, 0, sizeof(e));
	keryu_uuid_new(e.event_id);
	keryu_now_iso(e.at);
	snprintf(e.notification_id, sizeof(e.notification_id), NID);
	e.attempt = 2;
	snprintf(e.channel, sizeof(e.channel), "log");
	snprintf(e.to, sizeof(e.to), "+16505551234");
	snprintf(e.template_name, sizeof(e.template_name), "qr_template_on_m");
	snprintf(e.language, sizeof(e.language), "en_US");
	e.param_count = 2;
	snprintf(e.params[0], sizeof(e.params[0]), "Ana Secret-Name");
	snprintf(e.params[1], sizeof(e.params[1]), "2026-11-25 12:34 UTC");
	return keryu_notify_event_encode(&e);
}

static void descriptor(void **ctx)
{
	(void)ctx;
	assert_int_equal(keryu_module.abi_version, KERYU_ABI_VERSION);
	assert_string_equal(keryu_module.name, "log");
}

static void subscribes_shared(void **ctx)
{
	void *st;

	(void)ctx;
	fake_host_reset(&keryu_module);
	st = start();
	assert_int_equal(fake_host_sub_count(), 1);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/log/keryu/v1/notify/log");
	finish(st);

	fake_host_reset(&keryu_module);
	fake_host_set("group", "workers-b");
	st = start();
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/workers-b/keryu/v1/notify/log");
	finish(st);

	fake_host_reset(&keryu_module);
	fake_host_set("group", "a/b");
	st = NULL;
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st),
			 KERYU_EINVAL);
	assert_int_equal(fake_host_sub_count(), 0);
}

static void delivers(void **ctx)
{
	struct keryu_delivery_event d;
	const struct fake_pub *p;
	char *json = notify_json();
	void *st;

	(void)ctx;
	fake_host_reset(&keryu_module);
	st = start();
	assert_int_equal(fake_host_deliver("keryu/v1/notify/log", json), 1);
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/delivery/" NID);
	assert_int_equal(p->qos, 1);
	assert_false(p->retain);
	assert_int_equal(keryu_delivery_event_decode(p->payload, p->len, &d), 0);
	assert_string_equal(d.notification_id, NID);
	assert_int_equal(d.attempt, 2);
	assert_string_equal(d.channel, "log");
	assert_string_equal(d.status, "delivered");
	assert_string_equal(d.provider_message_id, "log-" NID);
	assert_true(keryu_uuid_valid(d.event_id));
	assert_true(fake_host_log_contains(
		"info log.deliver notification=" NID
		" attempt=2 template=qr_template_on_m params=2"));
	/* personal data stays out of the log */
	assert_false(fake_host_log_contains("Secret-Name"));
	assert_false(fake_host_log_contains("6505551234"));
	finish(st);
	free(json);
}

static void malformed_is_dropped(void **ctx)
{
	void *st;

	(void)ctx;
	fake_host_reset(&keryu_module);
	st = start();
	fake_host_deliver("keryu/v1/notify/log", "{not json");
	fake_host_deliver("keryu/v1/notify/log",
			  "{\"v\":1,\"event_id\":\"x\",\"at\":\"t\"}");
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("warn log.malformed"));
	finish(st);
}

static void publish_failure_logged(void **ctx)
{
	char *json = notify_json();
	void *st;

	(void)ctx;
	fake_host_reset(&keryu_module);
	st = start();
	fake_host_set_publish_result(KERYU_EIO);
	fake_host_deliver("keryu/v1/notify/log", json);
	assert_true(fake_host_log_contains("error log.publish_failed"));
	finish(st);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(descriptor),
		cmocka_unit_test(subscribes_shared),
		cmocka_unit_test(delivers),
		cmocka_unit_test(malformed_is_dropped),
		cmocka_unit_test(publish_failure_logged),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	fake_host_reset(NULL);
	return rc;
}
