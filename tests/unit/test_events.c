/* Bus payload codecs: round trips, and every malformed form refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#define ID1 "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define ID2 "5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d"

static int dec_scan(const char *s)
{
	struct keryu_scan_event e;

	return keryu_scan_event_decode(s, strlen(s), &e);
}

static void scan_round_trip(void **st)
{
	struct keryu_scan_event in = {0}, out;
	char *json;

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, "2026-11-25T12:00:00.000Z");
	strcpy(in.qr_uuid, ID2);
	strcpy(in.user_agent, "Mozilla/5.0 \"quoted\" \\ \n");
	in.has_location = true;
	in.lat = -33.45;
	in.lng = -70.66;
	in.accuracy_m = 12.5;
	json = keryu_scan_event_encode(&in);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"v\":1"));
	assert_int_equal(keryu_scan_event_decode(json, strlen(json), &out), 0);
	assert_string_equal(out.event_id, ID1);
	assert_string_equal(out.qr_uuid, ID2);
	assert_string_equal(out.user_agent, in.user_agent);
	assert_string_equal(out.ip_hash, "");
	assert_true(out.has_location);
	assert_true(out.lat == in.lat && out.lng == in.lng);
	free(json);
}

static void scan_malformed(void **st)
{
	(void)st;
	assert_int_equal(dec_scan(""), KERYU_EINVAL);
	assert_int_equal(dec_scan("{"), KERYU_EINVAL);
	assert_int_equal(dec_scan("[]"), KERYU_EINVAL);
	/* wrong version */
	assert_int_equal(dec_scan("{\"v\":2,\"event_id\":\"" ID1
				  "\",\"at\":\"x\",\"qr_uuid\":\"" ID2 "\"}"),
			 KERYU_EINVAL);
	/* missing qr_uuid */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"x\"}"),
			 KERYU_EINVAL);
	/* bad uuid */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"nope\",\"at\":\"x\","
				  "\"qr_uuid\":\"" ID2 "\"}"),
			 KERYU_EINVAL);
	/* mistyped */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"x\",\"qr_uuid\":7}"),
			 KERYU_EINVAL);
	/* latitude out of range */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"x\",\"qr_uuid\":\"" ID2
				  "\",\"location\":{\"lat\":91,\"lng\":0}}"),
			 KERYU_EINVAL);
	/* the smallest valid one */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"x\",\"qr_uuid\":\"" ID2 "\"}"),
			 0);
}

static void scan_long_user_agent_truncated(void **st)
{
	char json[2048], ua[1000];
	struct keryu_scan_event e;

	(void)st;
	memset(ua, 'a', sizeof(ua) - 1);
	ua[sizeof(ua) - 1] = '\0';
	snprintf(json, sizeof(json),
		 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"x\",\"qr_uuid\":\"" ID2
		 "\",\"user_agent\":\"%s\"}",
		 ua);
	assert_int_equal(keryu_scan_event_decode(json, strlen(json), &e), 0);
	assert_int_equal(strlen(e.user_agent), sizeof(e.user_agent) - 1);
}

static void notify_round_trip(void **st)
{
	struct keryu_notify_event in = {0}, out;
	char *json;

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, "2026-11-25T12:00:00.000Z");
	strcpy(in.notification_id, ID2);
	in.attempt = 2;
	strcpy(in.channel, "whatsapp");
	strcpy(in.to, "+16505551234");
	strcpy(in.template_name, "qr_template_on_m");
	strcpy(in.language, "en_US");
	in.param_count = 2;
	strcpy(in.params[0], "Ana");
	strcpy(in.params[1], "2026-11-25 12:00 UTC");
	json = keryu_notify_event_encode(&in);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"template\":\"qr_template_on_m\""));
	assert_int_equal(keryu_notify_event_decode(json, strlen(json), &out), 0);
	assert_int_equal(out.attempt, 2);
	assert_int_equal(out.param_count, 2);
	assert_string_equal(out.params[1], "2026-11-25 12:00 UTC");
	assert_string_equal(out.to, "+16505551234");
	free(json);

	strcpy(in.to, "12345");
	json = keryu_notify_event_encode(&in);
	assert_int_equal(keryu_notify_event_decode(json, strlen(json), &out),
			 KERYU_EINVAL);
	free(json);
}

static void notify_too_many_params(void **st)
{
	char json[1024];
	struct keryu_notify_event e;

	(void)st;
	snprintf(json, sizeof(json),
		 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"x\","
		 "\"notification_id\":\"" ID2 "\",\"attempt\":1,"
		 "\"channel\":\"log\",\"to\":\"+15550100001\","
		 "\"template\":\"t\",\"language\":\"en\","
		 "\"params\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}");
	assert_int_equal(keryu_notify_event_decode(json, strlen(json), &e),
			 KERYU_EINVAL);
}

static void delivery_round_trip(void **st)
{
	struct keryu_delivery_event in = {0}, out;
	char *json;

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, "2026-11-25T12:00:00.000Z");
	strcpy(in.notification_id, ID2);
	in.attempt = 1;
	strcpy(in.channel, "whatsapp");
	strcpy(in.status, "failed");
	strcpy(in.error_code, "131026");
	strcpy(in.error_text, "Message undeliverable");
	json = keryu_delivery_event_encode(&in);
	assert_non_null(json);
	assert_null(strstr(json, "provider_message_id")); /* empty: omitted */
	assert_int_equal(keryu_delivery_event_decode(json, strlen(json), &out), 0);
	assert_string_equal(out.error_code, "131026");
	assert_string_equal(out.status, "failed");
	free(json);

	strcpy(in.status, "lost");
	json = keryu_delivery_event_encode(&in);
	assert_int_equal(keryu_delivery_event_decode(json, strlen(json), &out),
			 KERYU_EINVAL);
	free(json);
}

static void alarm_round_trip(void **st)
{
	struct keryu_alarm_event in = {0}, out;
	char *json;

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, "t");
	strcpy(in.alarm_id, ID2);
	strcpy(in.state, "created");
	json = keryu_alarm_event_encode(&in);
	assert_int_equal(keryu_alarm_event_decode(json, strlen(json), &out), 0);
	assert_string_equal(out.alarm_id, ID2);
	assert_string_equal(out.subject_id, "");
	free(json);
}

static void helpers(void **st)
{
	char id[KERYU_UUID_LEN], id2[KERYU_UUID_LEN], t[KERYU_TIME_LEN];

	(void)st;
	keryu_uuid_new(id);
	keryu_uuid_new(id2);
	assert_true(keryu_uuid_valid(id));
	assert_string_not_equal(id, id2);
	assert_int_equal(id[14], '4'); /* version 4 */
	assert_false(keryu_uuid_valid(ID1 "0"));
	assert_false(keryu_uuid_valid("0b7f3c1e-9a52-4c1d-8f3e_2a6b9c0d1e2f"));
	assert_false(keryu_uuid_valid("0b7f3c1e9a524c1d8f3e2a6b9c0d1e2fabcd"));
	assert_false(keryu_uuid_valid(NULL));
	keryu_now_iso(t);
	assert_int_equal(strlen(t), 24);
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[23], 'Z');
	assert_true(keryu_e164_valid("+16505551234"));
	assert_false(keryu_e164_valid("16505551234"));
	assert_false(keryu_e164_valid("+0650555123"));
	assert_false(keryu_e164_valid("+1650555"));
	assert_false(keryu_e164_valid("+1650555123456789"));
	assert_false(keryu_e164_valid("+1650-555-1234"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scan_round_trip),
		cmocka_unit_test(scan_malformed),
		cmocka_unit_test(scan_long_user_agent_truncated),
		cmocka_unit_test(notify_round_trip),
		cmocka_unit_test(notify_too_many_params),
		cmocka_unit_test(delivery_round_trip),
		cmocka_unit_test(alarm_round_trip),
		cmocka_unit_test(helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
