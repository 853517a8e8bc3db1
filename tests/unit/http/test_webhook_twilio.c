/* POST /webhooks/twilio/status: signed status callbacks become delivery
 * events, against the fake host (the raw-body read is in http_server.c).
 * Signatures are made here with OpenSSL, independently of the module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_module.h"
#include "http_test_util.h"
#include "http_webhooks.h"

extern const struct keryu_module keryu_module;

#define TOKEN "twilio-auth-token-12345"
#define PUBLIC "https://keryu.example"
#define N1 "11111111-2222-4333-8444-555555555555"
#define URL1 PUBLIC "/webhooks/twilio/status?n=" N1
#define SID "SM0123456789abcdef0123456789abcdef"

static struct http_ctx *ctx;
static struct http_response resp;

static int setup_with(const char *token)
{
	fake_host_reset(&keryu_module);
	fake_storage_reset("0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f", "x");
	http_test_offer_services();
	/* a trailing "/" must not end up in the signed URL */
	fake_host_set("public_url", PUBLIC "/");
	if (token)
		fake_host_set_global("twilio", "auth_token", token);
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	return 0;
}

static int setup(void **st)
{
	(void)st;
	return setup_with(TOKEN);
}

static int setup_no_token(void **st)
{
	(void)st;
	return setup_with(NULL);
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Twilio's scheme, written out: url, then each decoded field as
 * name+value sorted by name; base64(HMAC-SHA1). pairs are decoded
 * "name=value" strings (no "&" or "=" inside values here). */
static void sign(const char *url, const char *const *pairs, size_t n,
		 char out[40])
{
	char buf[4096], *sorted[32];
	unsigned char mac[20];
	unsigned int len = 0;
	size_t i, o;

	assert_true(n <= 32);
	for (i = 0; i < n; i++)
		sorted[i] = (char *)pairs[i];
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	o = (size_t)snprintf(buf, sizeof(buf), "%s", url);
	for (i = 0; i < n; i++) {
		const char *eq = strchr(sorted[i], '=');

		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%.*s%s",
				      (int)(eq - sorted[i]), sorted[i], eq + 1);
	}
	assert_non_null(HMAC(EVP_sha1(), TOKEN, (int)strlen(TOKEN),
			     (unsigned char *)buf, o, mac, &len));
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out, mac, 20), 28);
}

/* The body as Twilio form-encodes it: "+" -> %2B, ":" -> %3A, " " -> +. */
static void encode(const char *const *pairs, size_t n, char *out, size_t size)
{
	size_t i, o = 0;
	const char *p;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			out[o++] = '&';
		for (p = pairs[i]; *p && o + 4 < size; p++) {
			if (*p == '+')
				o += (size_t)snprintf(out + o, size - o, "%%2B");
			else if (*p == ':')
				o += (size_t)snprintf(out + o, size - o, "%%3A");
			else if (*p == ' ')
				out[o++] = '+';
			else
				out[o++] = *p;
		}
		out[o] = '\0';
	}
}

/* POSTs pairs to /webhooks/twilio/status?<qs>, signed over sig_url (NULL:
 * no signature header; "" signs the right URL). */
static void post_qs(const char *qs, const char *const *pairs, size_t n,
		    const char *sig_url)
{
	struct http_form q;
	char body[4096], sig[40], url[512];

	http_form_init(&q);
	assert_int_equal(http_form_parse_query(&q, qs), 0);
	encode(pairs, n, body, sizeof(body));
	if (sig_url) {
		snprintf(url, sizeof(url), "%s/webhooks/twilio/status%s%s",
			 PUBLIC, *qs ? "?" : "", qs);
		sign(*sig_url ? sig_url : url, pairs, n, sig);
	}
	http_response_free(&resp);
	http_response_init(&resp);
	http_webhook_twilio_status(ctx, &q, sig_url ? sig : NULL, body,
				   strlen(body), &resp);
	http_form_free(&q);
}

static void post(const char *const *pairs, size_t n)
{
	post_qs("n=" N1, pairs, n, "");
}

#define POST(...)                                                             \
	do {                                                                  \
		static const char *const p_[] = {__VA_ARGS__};                \
		post(p_, sizeof(p_) / sizeof(p_[0]));                         \
	} while (0)

static void decode_pub(size_t i, struct keryu_delivery_event *ev)
{
	const struct fake_pub *p = fake_host_pub(i);

	assert_non_null(p);
	assert_string_equal(p->topic, "keryu/v1/delivery/" N1);
	assert_int_equal(p->qos, 1);
	assert_false(p->retain);
	assert_int_equal(keryu_delivery_event_decode(p->payload, p->len, ev),
			 0);
}

static void delivered_published(void **st)
{
	struct keryu_delivery_event ev;
	char id[KERYU_UUID_LEN];

	(void)st;
	POST(("MessageSid=" SID), "MessageStatus=delivered",
	     "To=whatsapp:+16505551234", "From=whatsapp:+15551234567",
	     "AccountSid=AC0123456789abcdef0123456789abcdef",
	     "ApiVersion=2010-04-01", "ChannelPrefix=whatsapp",
	     "SomeNewField=with spaces");
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.buf, "ok");
	assert_int_equal(fake_host_pub_count(), 1);
	decode_pub(0, &ev);
	assert_string_equal(ev.notification_id, N1);
	assert_int_equal(ev.attempt, 0);
	assert_string_equal(ev.channel, "twilio");
	assert_string_equal(ev.status, "delivered");
	assert_string_equal(ev.provider_message_id, SID);
	assert_string_equal(ev.error_code, "");
	assert_int_equal(ev.retry_in_ms, -1);
	http_whatsapp_event_id(SID, "delivered", id);
	assert_string_equal(ev.event_id, id);
}

static void status_mapping(void **st)
{
	static const struct {
		const char *twilio, *ours;
	} cases[] = {
		{"sent", "sent"},
		{"delivered", "delivered"},
		{"read", "read"},
		{"undelivered", "failed"},
		{"failed", "failed"},
		{"queued", NULL},
		{"accepted", NULL},
		{"sending", NULL},
		{"scheduled", NULL},
		{"receiving", NULL},
		{"Delivered", NULL},
		{"", NULL},
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = http_twilio_status_map(cases[i].twilio);

		if (cases[i].ours)
			assert_string_equal(got, cases[i].ours);
		else
			assert_null(got);
	}
	assert_null(http_twilio_status_map(NULL));
}

static void in_between_statuses_publish_nothing(void **st)
{
	(void)st;
	POST(("MessageSid=" SID), "MessageStatus=queued", "To=+16505551234");
	assert_int_equal(resp.status, 200);
	POST(("MessageSid=" SID), "MessageStatus=sending", "To=+16505551234");
	assert_int_equal(resp.status, 200);
	POST(("MessageSid=" SID), "MessageStatus=accepted", "To=+16505551234");
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void failed_carries_code_sms_channel(void **st)
{
	struct keryu_delivery_event ev, ev2;

	(void)st;
	POST(("MessageSid=" SID), "MessageStatus=undelivered", "ErrorCode=30003",
	     "To=+16505551234", "From=+15551234567");
	assert_int_equal(resp.status, 200);
	decode_pub(0, &ev);
	assert_string_equal(ev.status, "failed");
	assert_string_equal(ev.channel, "sms");
	assert_string_equal(ev.error_code, "30003");
	assert_string_equal(ev.error_text, "undelivered");
	/* "failed" after "undelivered" for the same message is the same
	 * event: a duplicate for the alarms module */
	POST(("MessageSid=" SID), "MessageStatus=failed", "ErrorCode=30003",
	     "To=+16505551234", "From=+15551234567");
	decode_pub(1, &ev2);
	assert_string_equal(ev.event_id, ev2.event_id);
	/* the template window code from providers.md */
	POST("MessageSid=SMffffffffffffffffffffffffffffffff",
	     "MessageStatus=failed", "ErrorCode=63016",
	     "To=whatsapp:+16505551234", "From=whatsapp:+15551234567");
	decode_pub(2, &ev);
	assert_string_equal(ev.channel, "twilio");
	assert_string_equal(ev.error_code, "63016");
	assert_string_not_equal(ev.event_id, ev2.event_id);
}

static void retry_is_duplicate(void **st)
{
	struct keryu_delivery_event a, b, c;

	(void)st;
	POST(("MessageSid=" SID), "MessageStatus=read", "To=whatsapp:+1650555");
	POST(("MessageSid=" SID), "MessageStatus=read", "To=whatsapp:+1650555");
	POST(("MessageSid=" SID), "MessageStatus=sent", "To=whatsapp:+1650555");
	assert_int_equal(fake_host_pub_count(), 3);
	decode_pub(0, &a);
	decode_pub(1, &b);
	decode_pub(2, &c);
	assert_string_equal(a.event_id, b.event_id);
	assert_string_not_equal(a.event_id, c.event_id);
}

static void bad_signature_refused(void **st)
{
	static const char *const pairs[] = {("MessageSid=" SID),
					    "MessageStatus=delivered",
					    "To=+16505551234"};

	(void)st;
	/* missing */
	post_qs("n=" N1, pairs, 3, NULL);
	assert_int_equal(resp.status, 403);
	/* over another URL: the request's own host, another notification */
	post_qs("n=" N1, pairs, 3,
		"http://127.0.0.1:8000/webhooks/twilio/status?n=" N1);
	assert_int_equal(resp.status, 403);
	post_qs("n=" N1, pairs, 3,
		PUBLIC "/webhooks/twilio/status?n="
		       "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	assert_int_equal(resp.status, 403);
	/* a field changed after signing */
	{
		struct http_form q;
		char sig[40];
		const char body[] = "MessageSid=" SID "&MessageStatus=read"
				    "&To=%2B16505551234";

		sign(URL1, pairs, 3, sig);
		http_form_init(&q);
		assert_int_equal(http_form_parse_query(&q, "n=" N1), 0);
		http_response_free(&resp);
		http_response_init(&resp);
		http_webhook_twilio_status(ctx, &q, sig, body, strlen(body),
					   &resp);
		http_form_free(&q);
		assert_int_equal(resp.status, 403);
		/* the same body, fields in another order: still signed */
		{
			const char body2[] = "To=%2B16505551234&MessageStatus="
					     "delivered&MessageSid=" SID;

			http_form_init(&q);
			assert_int_equal(
				http_form_parse_query(&q, "n=" N1), 0);
			http_response_free(&resp);
			http_response_init(&resp);
			http_webhook_twilio_status(ctx, &q, sig, body2,
						   strlen(body2), &resp);
			http_form_free(&q);
			assert_int_equal(resp.status, 200);
		}
	}
	assert_int_equal(fake_host_pub_count(), 1);
	assert_true(fake_host_log_contains("http.webhook.bad_signature"));
	assert_true(fake_host_log_contains("provider=twilio"));
	/* nothing of the signature or token in the log */
	assert_false(fake_host_log_contains(TOKEN));
}

static void no_token_refuses_everything(void **st)
{
	static const char *const pairs[] = {("MessageSid=" SID),
					    "MessageStatus=delivered"};

	(void)st;
	post_qs("n=" N1, pairs, 2, "");
	assert_int_equal(resp.status, 403);
	post_qs("n=" N1, pairs, 2, NULL);
	assert_int_equal(resp.status, 403);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void bad_query_or_fields_400(void **st)
{
	static const char *const ok[] = {("MessageSid=" SID),
					 "MessageStatus=delivered"};
	static const char *const no_sid[] = {"MessageStatus=delivered"};
	static const char *const no_status[] = {"MessageSid=" SID};

	(void)st;
	post_qs("n=not-a-uuid", ok, 2, "");
	assert_int_equal(resp.status, 400);
	post_qs("", ok, 2, "");
	assert_int_equal(resp.status, 400);
	post_qs("x=" N1, ok, 2, "");
	assert_int_equal(resp.status, 400);
	post_qs("n=" N1, no_sid, 1, "");
	assert_int_equal(resp.status, 400);
	post_qs("n=" N1, no_status, 1, "");
	assert_int_equal(resp.status, 400);
	assert_int_equal(fake_host_pub_count(), 0);
	post_qs("n=" N1, ok, 2, "");
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_host_pub_count(), 1);
}

static void unreadable_body_refused(void **st)
{
	struct http_form q;
	static const char body[] = "MessageSid=%zz&MessageStatus=sent";

	(void)st;
	http_form_init(&q);
	assert_int_equal(http_form_parse_query(&q, "n=" N1), 0);
	http_webhook_twilio_status(ctx, &q, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				   body, strlen(body), &resp);
	http_form_free(&q);
	assert_int_equal(resp.status, 403);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void publish_failure_503(void **st)
{
	(void)st;
	fake_host_set_publish_result(KERYU_EIO);
	POST(("MessageSid=" SID), "MessageStatus=delivered", "To=+1650555");
	assert_int_equal(resp.status, 503);
	assert_true(fake_host_log_contains("http.webhook.publish_failed"));
}

static void signed_url_is_rebuilt(void **st)
{
	struct http_form q;
	char url[512];

	(void)st;
	http_form_init(&q);
	assert_int_equal(http_form_parse_query(&q, "n=" N1), 0);
	assert_true(http_twilio_url(ctx, &q, url, sizeof(url)));
	assert_string_equal(url, URL1);
	http_form_free(&q);
	http_form_init(&q);
	assert_true(http_twilio_url(ctx, &q, url, sizeof(url)));
	assert_string_equal(url, PUBLIC "/webhooks/twilio/status");
	http_form_free(&q);
	assert_false(http_twilio_url(ctx, NULL, url, 10));
}

static void raw_routes(void **st)
{
	(void)st;
	assert_true(http_webhook_takes_raw("POST", "/webhooks/twilio/status"));
	assert_false(http_webhook_takes_raw("GET", "/webhooks/twilio/status"));
	assert_false(
		http_webhook_takes_raw("POST", "/webhooks/twilio/status/"));
	assert_false(http_webhook_takes_raw("POST", "/webhooks/twilio"));
}

/* GET on the Twilio path is not a page: 404 like any unknown address. */
static void get_is_not_found(void **st)
{
	struct http_request req = {.method = "GET",
				   .path = "/webhooks/twilio/status"};

	(void)st;
	http_route(ctx, &req, &resp);
	assert_int_equal(resp.status, 404);
	assert_int_equal(fake_host_pub_count(), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(delivered_published),
		cmocka_unit_test(status_mapping),
		T(in_between_statuses_publish_nothing),
		T(failed_carries_code_sms_channel),
		T(retry_is_duplicate),
		T(bad_signature_refused),
		cmocka_unit_test_setup_teardown(no_token_refuses_everything,
						setup_no_token, teardown),
		T(bad_query_or_fields_400),
		T(unreadable_body_refused),
		T(publish_failure_503),
		T(signed_url_is_rebuilt),
		cmocka_unit_test(raw_routes),
		T(get_is_not_found),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
