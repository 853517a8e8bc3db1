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

#include "fake_host.h"

#define ID1 "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define ID2 "5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
#define AT "2026-11-25T12:00:00.000Z"

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
				  "\",\"at\":\"" AT "\",\"qr_uuid\":\"" ID2 "\"}"),
			 KERYU_EINVAL);
	/* missing qr_uuid */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"" AT "\"}"),
			 KERYU_EINVAL);
	/* bad uuid */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"nope\",\"at\":\"" AT "\","
				  "\"qr_uuid\":\"" ID2 "\"}"),
			 KERYU_EINVAL);
	/* mistyped */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"" AT "\",\"qr_uuid\":7}"),
			 KERYU_EINVAL);
	/* latitude out of range */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"" AT "\",\"qr_uuid\":\"" ID2
				  "\",\"location\":{\"lat\":91,\"lng\":0}}"),
			 KERYU_EINVAL);
	/* the smallest valid one */
	assert_int_equal(dec_scan("{\"v\":1,\"event_id\":\"" ID1
				  "\",\"at\":\"" AT "\",\"qr_uuid\":\"" ID2 "\"}"),
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
		 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"" AT "\",\"qr_uuid\":\"" ID2
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
		 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"" AT "\","
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

/* retry_in_ms travels only with "error"; absent it reads as -1. */
static void delivery_retry_hint(void **st)
{
	struct keryu_delivery_event in = {0}, out;
	char *json, buf[512];

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, AT);
	strcpy(in.notification_id, ID2);
	in.attempt = 1;
	strcpy(in.channel, "whatsapp");
	strcpy(in.status, "error");
	in.retry_in_ms = 45000;
	json = keryu_delivery_event_encode(&in);
	assert_non_null(strstr(json, "\"retry_in_ms\":45000"));
	assert_int_equal(keryu_delivery_event_decode(json, strlen(json), &out), 0);
	assert_int_equal(out.retry_in_ms, 45000);
	free(json);

	in.retry_in_ms = -1; /* no retry: left out */
	json = keryu_delivery_event_encode(&in);
	assert_null(strstr(json, "retry_in_ms"));
	assert_int_equal(keryu_delivery_event_decode(json, strlen(json), &out), 0);
	assert_int_equal(out.retry_in_ms, -1);
	free(json);

	strcpy(in.status, "sent"); /* meaningless there: left out */
	in.retry_in_ms = 10;
	json = keryu_delivery_event_encode(&in);
	assert_null(strstr(json, "retry_in_ms"));
	free(json);

	snprintf(buf, sizeof(buf),
		 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"" AT "\","
		 "\"notification_id\":\"" ID2 "\",\"attempt\":1,"
		 "\"channel\":\"log\",\"status\":\"error\","
		 "\"retry_in_ms\":\"soon\"}");
	assert_int_equal(keryu_delivery_event_decode(buf, strlen(buf), &out),
			 KERYU_EINVAL);
	snprintf(buf, sizeof(buf),
		 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"" AT "\","
		 "\"notification_id\":\"" ID2 "\",\"attempt\":1,"
		 "\"channel\":\"log\",\"status\":\"error\","
		 "\"retry_in_ms\":1.5}");
	assert_int_equal(keryu_delivery_event_decode(buf, strlen(buf), &out),
			 KERYU_EINVAL);
}

static void notify_ack_url(void **st)
{
	struct keryu_notify_event in = {0}, out;
	char *json;

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, AT);
	strcpy(in.notification_id, ID2);
	in.attempt = 1;
	strcpy(in.channel, "sms");
	strcpy(in.to, "+16505551234");
	strcpy(in.template_name, "t");
	strcpy(in.language, "en");
	json = keryu_notify_event_encode(&in);
	assert_null(strstr(json, "ack_url")); /* empty: omitted */
	free(json);
	strcpy(in.ack_url, "https://k.example/ack/x");
	json = keryu_notify_event_encode(&in);
	assert_int_equal(keryu_notify_event_decode(json, strlen(json), &out), 0);
	assert_string_equal(out.ack_url, "https://k.example/ack/x");
	free(json);
}

static void ack_tokens(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], bad[KERYU_ACK_TOKEN_LEN];
	char nid[KERYU_UUID_LEN];
	const char *upper = "5D1C2B3A-4E5F-4A6B-9C7D-8E9F0A1B2C3D";
	size_t n;

	(void)st;
	assert_int_equal(keryu_ack_token_make("s3cret", upper, 2000000000LL, tok),
			 0);
	/* the id is lower-cased; the mac is 43 base64url characters */
	assert_int_equal(strncmp(tok, "5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d."
				      "2000000000.", 48),
			 0);
	n = strlen(tok);
	assert_int_equal(n, 48 + 43);
	assert_int_equal(strspn(tok + 48, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
					  "klmnopqrstuvwxyz0123456789-_"),
			 43);
	assert_int_equal(keryu_ack_token_check("s3cret", tok, 1999999999LL, nid),
			 0);
	assert_string_equal(nid, "5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d");
	assert_int_equal(keryu_ack_token_check("s3cret", tok, 2000000000LL, nid),
			 0); /* valid through its last second */
	assert_int_equal(keryu_ack_token_check("s3cret", tok, 2000000001LL, nid),
			 KERYU_ETIMEDOUT);
	assert_int_equal(keryu_ack_token_check("other", tok, 0, nid),
			 KERYU_EINVAL);
	assert_int_equal(keryu_ack_token_check("", tok, 0, nid), KERYU_EINVAL);

	/* every single-character change is refused, the expiry included */
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '-' || tok[i] == '.')
			continue;
		strcpy(bad, tok);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(keryu_ack_token_check("s3cret", bad, 0, nid),
				     0);
		assert_string_equal(nid, "");
	}
	strcpy(bad, tok);
	bad[n - 1] = '\0'; /* short mac */
	assert_int_equal(keryu_ack_token_check("s3cret", bad, 0, nid),
			 KERYU_EINVAL);
	assert_int_equal(keryu_ack_token_check("s3cret", "", 0, nid),
			 KERYU_EINVAL);
	assert_int_equal(keryu_ack_token_check("s3cret", NULL, 0, nid),
			 KERYU_EINVAL);
	assert_int_equal(keryu_ack_token_make("s3cret", "nope", 1, tok),
			 KERYU_EINVAL);
	assert_int_equal(keryu_ack_token_make("", upper, 1, tok), KERYU_EINVAL);
	assert_int_equal(keryu_ack_token_make("s3cret", upper, -1, tok),
			 KERYU_EINVAL);
}

/* A finder token is good for its own tag's URL only, and is not an ack
 * token (nor the other way round). */
static void finder_tokens(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], id[KERYU_UUID_LEN];

	(void)st;
	assert_int_equal(keryu_finder_token_make("s", ID1, ID2, 2000000000LL,
						 tok),
			 0);
	assert_int_equal(keryu_finder_token_check("s", tok, ID2, 1999999999LL,
						  id),
			 0);
	assert_string_equal(id, ID1);
	assert_int_equal(keryu_finder_token_check("s", tok, ID1, 0, id),
			 KERYU_EINVAL); /* another tag */
	assert_int_equal(keryu_finder_token_check("s", tok, ID2, 2000000001LL,
						  id),
			 KERYU_ETIMEDOUT);
	assert_int_equal(keryu_ack_token_check("s", tok, 0, id), KERYU_EINVAL);
	assert_int_equal(keryu_ack_token_make("s", ID1, 2000000000LL, tok), 0);
	assert_int_equal(keryu_finder_token_check("s", tok, ID2, 0, id),
			 KERYU_EINVAL);
	assert_int_equal(keryu_finder_token_make("s", ID1, "nope", 1, tok),
			 KERYU_EINVAL);
	assert_int_equal(keryu_finder_token_check("s", tok, NULL, 0, id),
			 KERYU_EINVAL);
}

static void report_round_trip(void **st)
{
	struct keryu_report_event in = {0}, out;
	char *json;

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, AT);
	strcpy(in.alarm_id, ID2);
	strcpy(in.kind, "location");
	json = keryu_report_event_encode(&in);
	assert_int_equal(keryu_report_event_decode(json, strlen(json), &out), 0);
	assert_string_equal(out.alarm_id, ID2);
	assert_string_equal(out.kind, "location");
	free(json);
	strcpy(in.kind, "gossip");
	json = keryu_report_event_encode(&in);
	assert_int_equal(keryu_report_event_decode(json, strlen(json), &out),
			 KERYU_EINVAL);
	free(json);
}

static void alarm_round_trip(void **st)
{
	struct keryu_alarm_event in = {0}, out;
	char *json;

	(void)st;
	strcpy(in.event_id, ID1);
	strcpy(in.at, "2026-11-25T12:00:00Z");
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

static void time_valid(void **st)
{
	static const char *const good[] = {
		"2026-11-25T12:00:00Z",
		"2026-11-25T12:00:00.7Z",
		"2026-11-25T12:00:00.789Z",
		"2026-11-25T12:00:00.123456Z",
		"0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999Z",
		"2024-02-29T00:00:00Z", /* leap year */
		"2000-02-29T00:00:00Z", /* divisible by 400 */
		"2026-01-31T00:00:00Z",
		"2026-04-30T00:00:00Z",
	};
	static const char *const bad[] = {
		"",
		"x",
		"t",
		"2026-11-25",
		"2026-11-25T12:00:00",       /* no Z */
		"2026-11-25T12:00:00z",      /* lower case */
		"2026-11-25 12:00:00Z",      /* space */
		"2026-11-25T12:00:00+00:00", /* offset instead of Z */
		"2026-11-25T12:00:00.Z",     /* empty fraction */
		"2026-11-25T12:00:00.1234567Z", /* 7 digits */
		"2026-11-25T12:00:00.12aZ",
		"2026-11-25T12:00:00Z ",     /* trailing junk */
		" 2026-11-25T12:00:00Z",
		"2026-11-25T12:00:00ZZ",
		"26-11-25T12:00:00Z",
		"2026-1-25T12:00:00Z",
		"+2026-11-25T12:00:00Z",
		"0000-01-01T00:00:00Z",      /* no year 0 */
		"2026-00-10T00:00:00Z",
		"2026-13-10T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-31T00:00:00Z",      /* November has 30 */
		"2026-04-31T00:00:00Z",
		"2026-01-32T00:00:00Z",
		"2026-02-29T00:00:00Z",      /* not a leap year */
		"1900-02-29T00:00:00Z",      /* divisible by 100 */
		"2026-11-25T24:00:00Z",
		"2026-11-25T12:60:00Z",
		"2026-11-25T12:00:60Z",      /* no leap seconds */
		"2026-11-25T-1:00:00Z",
		"2026-11-25T1a:00:00Z",
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!keryu_time_valid(good[i]))
			fail_msg("refused %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (keryu_time_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(keryu_time_valid(NULL));
}

/* Every decoder checks "at", not only the scan's. */
static void bad_at_refused_by_every_decoder(void **st)
{
	static const char *const ats[] = {"x", "", "2026-02-30T00:00:00Z",
					  "2026-11-25T12:00:00"};
	struct keryu_scan_event se;
	struct keryu_alarm_event ae;
	struct keryu_notify_event ne;
	struct keryu_delivery_event de;
	char json[1024];
	size_t i;

	(void)st;
	for (i = 0; i <= sizeof(ats) / sizeof(ats[0]); i++) {
		/* the last round uses a good time: everything else is valid */
		bool last = i == sizeof(ats) / sizeof(ats[0]);
		const char *at = last ? AT : ats[i];
		int want = last ? 0 : KERYU_EINVAL;

		snprintf(json, sizeof(json),
			 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"%s\","
			 "\"qr_uuid\":\"" ID2 "\"}", at);
		assert_int_equal(keryu_scan_event_decode(json, strlen(json), &se),
				 want);
		snprintf(json, sizeof(json),
			 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"%s\","
			 "\"alarm_id\":\"" ID2 "\",\"state\":\"created\"}", at);
		assert_int_equal(
			keryu_alarm_event_decode(json, strlen(json), &ae), want);
		snprintf(json, sizeof(json),
			 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"%s\","
			 "\"notification_id\":\"" ID2 "\",\"attempt\":1,"
			 "\"channel\":\"log\",\"to\":\"+15550100001\","
			 "\"template\":\"t\",\"language\":\"en\",\"params\":[]}",
			 at);
		assert_int_equal(
			keryu_notify_event_decode(json, strlen(json), &ne), want);
		snprintf(json, sizeof(json),
			 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"%s\","
			 "\"notification_id\":\"" ID2 "\",\"attempt\":1,"
			 "\"channel\":\"log\",\"status\":\"sent\"}", at);
		assert_int_equal(
			keryu_delivery_event_decode(json, strlen(json), &de),
			want);
	}
}

/* Copies src into a buffer of size bytes (with a guard after it) and
 * checks the result and the count returned. */
static void check_utf8(const char *src, size_t size, const char *want)
{
	char buf[64];

	assert_true(size < sizeof(buf));
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(keryu_utf8_copy(buf, size, src), strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(buf[size], 'Z'); /* nothing written past size */
}

static void utf8_copy(void **st)
{
	char one = 'Z';

	(void)st;
	/* well-formed, 1 to 4 bytes, kept as is */
	check_utf8("Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok", 32,
		   "Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok");
	check_utf8("\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf", 32,
		   "\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf"); /* edges */
	check_utf8("", 8, "");
	check_utf8(NULL, 8, "");
	/* latin-1 and other stray bytes: one '?' each */
	check_utf8("Caf\xe9", 32, "Caf?");
	check_utf8("\x80\xbf\xfe\xff\xf5\xf8", 32, "??????");
	check_utf8("a\xc3" "b", 32, "a?b"); /* lead without its continuation */
	/* truncated sequences at the end */
	check_utf8("ab\xc3", 32, "ab?");
	check_utf8("ab\xe2\x82", 32, "ab??");
	check_utf8("ab\xf0\x9f\x98", 32, "ab???");
	/* overlongs */
	check_utf8("\xc0\xaf", 32, "??");
	check_utf8("\xc1\xbf", 32, "??");
	check_utf8("\xe0\x80\xaf", 32, "???");
	check_utf8("\xe0\x9f\xbf", 32, "???");
	check_utf8("\xf0\x80\x80\xaf", 32, "????");
	check_utf8("\xf0\x8f\xbf\xbf", 32, "????");
	/* surrogates U+D800 and U+DFFF */
	check_utf8("\xed\xa0\x80", 32, "???");
	check_utf8("\xed\xbf\xbf", 32, "???");
	/* over U+10FFFF */
	check_utf8("\xf4\x90\x80\x80", 32, "????");
	/* buffer boundary: a character that does not fit whole is left out */
	check_utf8("abc\xc3\xa9", 6, "abc\xc3\xa9");
	check_utf8("abc\xc3\xa9", 5, "abc");
	check_utf8("abc\xc3\xa9" "d", 5, "abc"); /* stops, no skipping ahead */
	check_utf8("ab\xe2\x82\xac", 5, "ab");
	check_utf8("ab\xf0\x9f\x98\x80", 6, "ab");
	check_utf8("ab\xf0\x9f\x98\x80", 7, "ab\xf0\x9f\x98\x80");
	check_utf8("abcdef", 4, "abc");
	check_utf8("ab\xe9", 3, "ab");
	check_utf8("ab\xe9", 4, "ab?");
	check_utf8("\xc3\xa9", 1, "");
	/* size 0 writes nothing at all */
	assert_int_equal(keryu_utf8_copy(&one, 0, "abc"), 0);
	assert_int_equal(one, 'Z');
}

static void scan_user_agent_made_utf8(void **st)
{
	struct keryu_scan_event in = {0}, out;
	char json[512];
	char *enc;

	(void)st;
	/* raw non-UTF-8 bytes in the JSON text (a lax publisher) */
	snprintf(json, sizeof(json),
		 "{\"v\":1,\"event_id\":\"" ID1 "\",\"at\":\"" AT "\","
		 "\"qr_uuid\":\"" ID2 "\",\"user_agent\":\"Caf\xe9 \xed\xa0\x80"
		 " \xc3\xa9\"}");
	assert_int_equal(keryu_scan_event_decode(json, strlen(json), &out), 0);
	assert_string_equal(out.user_agent, "Caf? ??? \xc3\xa9");

	/* and through the encoder, as http publishes it */
	strcpy(in.event_id, ID1);
	strcpy(in.at, AT);
	strcpy(in.qr_uuid, ID2);
	strcpy(in.user_agent, "Caf\xe9");
	enc = keryu_scan_event_encode(&in);
	assert_non_null(enc);
	assert_int_equal(keryu_scan_event_decode(enc, strlen(enc), &out), 0);
	assert_string_equal(out.user_agent, "Caf?");
	free(enc);
}

static void delivery_publish_stamps_and_publishes(void **st)
{
	struct keryu_notify_event req = {0};
	struct keryu_delivery_event ev = {0}, got;
	const struct fake_pub *p;

	(void)st;
	fake_host_reset(NULL);
	strcpy(req.notification_id, ID2);
	req.attempt = 3;
	strcpy(req.channel, "log");
	strcpy(ev.status, "delivered");
	assert_int_equal(keryu_delivery_publish(fake_host(), fake_mod(), &req,
						&ev), 0);
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/delivery/" ID2);
	assert_int_equal(p->qos, 1);
	assert_false(p->retain);
	assert_int_equal(keryu_delivery_event_decode(p->payload, p->len, &got), 0);
	assert_string_equal(got.notification_id, ID2);
	assert_int_equal(got.attempt, 3);
	assert_string_equal(got.channel, "log");
	assert_string_equal(got.status, "delivered");
	assert_true(keryu_uuid_valid(got.event_id));
	assert_true(keryu_time_valid(got.at));

	fake_host_set_publish_result(KERYU_EIO);
	assert_int_equal(keryu_delivery_publish(fake_host(), fake_mod(), &req,
						&ev), KERYU_EIO);
	fake_host_reset(NULL);
}

static void topic_levels(void **st)
{
	(void)st;
	assert_true(keryu_topic_level_valid("alarms"));
	assert_true(keryu_topic_level_valid("a-b_c.1"));
	assert_false(keryu_topic_level_valid(""));
	assert_false(keryu_topic_level_valid(NULL));
	assert_false(keryu_topic_level_valid("a/b"));
	assert_false(keryu_topic_level_valid("a+"));
	assert_false(keryu_topic_level_valid("#"));
	assert_false(keryu_topic_level_valid(
		"0123456789012345678901234567890123456789012345678901234567890123"));
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
		cmocka_unit_test(delivery_retry_hint),
		cmocka_unit_test(notify_ack_url),
		cmocka_unit_test(ack_tokens),
		cmocka_unit_test(finder_tokens),
		cmocka_unit_test(report_round_trip),
		cmocka_unit_test(alarm_round_trip),
		cmocka_unit_test(helpers),
		cmocka_unit_test(delivery_publish_stamps_and_publishes),
		cmocka_unit_test(topic_levels),
		cmocka_unit_test(time_valid),
		cmocka_unit_test(bad_at_refused_by_every_decoder),
		cmocka_unit_test(utf8_copy),
		cmocka_unit_test(scan_user_agent_made_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
