/* POST /webhooks/whatsapp: signed status batches become delivery events,
 * against the fake host (the raw-body read itself is in http_server.c). */
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

#define SECRET "app-secret-77"
#define N1 "11111111-2222-4333-8444-555555555555"
#define N2 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

/* three statuses across two entries, with fields Meta may add any day,
 * a non-status change and a status without callback data */
static const char batch[] =
	"{\"object\":\"whatsapp_business_account\",\"new_top\":[1,2],"
	"\"entry\":[{\"id\":\"1\",\"changes\":["
	"{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\","
	"\"metadata\":{\"phone_number_id\":\"106540352242922\"},"
	"\"statuses\":[{\"id\":\"wamid.A\",\"status\":\"delivered\","
	"\"timestamp\":\"1751142888\",\"recipient_id\":\"16505551234\","
	"\"pricing\":{\"billable\":true},\"biz_opaque_callback_data\":\"" N1
	"\"},{\"id\":\"wamid.B\",\"status\":\"read\","
	"\"biz_opaque_callback_data\":\"" N2 "\"},"
	"{\"id\":\"wamid.C\",\"status\":\"read\"}]}},"
	"{\"field\":\"messages\",\"value\":{\"messages\":[{\"id\":\"x\"}]}}]},"
	"{\"id\":\"2\",\"changes\":[{\"field\":\"messages\",\"value\":{"
	"\"statuses\":[{\"id\":\"wamid.D\",\"status\":\"failed\","
	"\"biz_opaque_callback_data\":\"" N1 "\",\"errors\":[{\"code\":131026,"
	"\"title\":\"Message undeliverable\",\"message\":\"m\","
	"\"error_data\":{\"details\":\"d\"}}]},"
	"{\"id\":\"wamid.E\",\"status\":\"played\","
	"\"biz_opaque_callback_data\":\"" N1 "\"},"
	"{\"id\":\"wamid.F\",\"status\":\"read\","
	"\"biz_opaque_callback_data\":\"not-a-uuid\"}]}}]}]}";

static struct http_ctx *ctx;
static struct http_response resp;

static void sign(const char *body, size_t len, char out[80])
{
	unsigned char mac[32];
	unsigned int n = 0, i;

	assert_non_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
			     (const unsigned char *)body, len, mac, &n));
	strcpy(out, "sha256=");
	for (i = 0; i < n; i++)
		sprintf(out + 7 + 2 * i, "%02x", mac[i]);
}

static int setup(void **st)
{
	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset("0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f", "x");
	http_test_offer_services();
	fake_host_set_global("whatsapp", "app_secret", SECRET);
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static void post(const char *body, const char *sig)
{
	http_webhook_whatsapp_post(ctx, sig, body, strlen(body), &resp);
}

static void decode(size_t i, struct keryu_delivery_event *ev)
{
	const struct fake_pub *p = fake_host_pub(i);

	assert_non_null(p);
	assert_int_equal(p->qos, 1);
	assert_false(p->retain);
	assert_int_equal(keryu_delivery_event_decode(p->payload, p->len, ev),
			 0);
}

static void batch_published(void **st)
{
	struct keryu_delivery_event ev;
	char sig[80], id[KERYU_UUID_LEN];

	(void)st;
	sign(batch, strlen(batch), sig);
	post(batch, sig);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.buf, "ok");
	assert_int_equal(fake_host_pub_count(), 3);

	assert_string_equal(fake_host_pub(0)->topic, "keryu/v1/delivery/" N1);
	decode(0, &ev);
	assert_string_equal(ev.status, "delivered");
	assert_string_equal(ev.notification_id, N1);
	assert_string_equal(ev.provider_message_id, "wamid.A");
	assert_string_equal(ev.channel, "whatsapp");
	assert_int_equal(ev.attempt, 0);
	assert_string_equal(ev.error_code, "");
	http_whatsapp_event_id("wamid.A", "delivered", id);
	assert_string_equal(ev.event_id, id);

	assert_string_equal(fake_host_pub(1)->topic, "keryu/v1/delivery/" N2);
	decode(1, &ev);
	assert_string_equal(ev.status, "read");
	assert_string_equal(ev.provider_message_id, "wamid.B");

	/* failed carries errors[0]'s code and title */
	assert_string_equal(fake_host_pub(2)->topic, "keryu/v1/delivery/" N1);
	decode(2, &ev);
	assert_string_equal(ev.status, "failed");
	assert_string_equal(ev.provider_message_id, "wamid.D");
	assert_string_equal(ev.error_code, "131026");
	assert_string_equal(ev.error_text, "Message undeliverable");
}

static void same_post_same_event_ids(void **st)
{
	struct keryu_delivery_event a, b;
	char sig[80];

	(void)st;
	sign(batch, strlen(batch), sig);
	post(batch, sig);
	http_response_free(&resp);
	http_response_init(&resp);
	post(batch, sig);
	assert_int_equal(fake_host_pub_count(), 6);
	decode(0, &a);
	decode(3, &b);
	assert_string_equal(a.event_id, b.event_id);
	assert_string_not_equal(fake_host_pub(0)->payload,
				fake_host_pub(1)->payload);
}

static void event_id_deterministic(void **st)
{
	char a[KERYU_UUID_LEN], b[KERYU_UUID_LEN], c[KERYU_UUID_LEN];

	(void)st;
	http_whatsapp_event_id("wamid.X", "read", a);
	http_whatsapp_event_id("wamid.X", "read", b);
	http_whatsapp_event_id("wamid.X", "delivered", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_true(keryu_uuid_valid(a));
	assert_int_equal(a[14], '5');
	assert_true(strchr("89ab", a[19]) != NULL);
	http_whatsapp_event_id("wamid.Y", "read", c);
	assert_string_not_equal(a, c);
}

static void bad_signature_refused(void **st)
{
	char sig[80];

	(void)st;
	sign(batch, strlen(batch), sig);
	sig[10] = sig[10] == 'a' ? 'b' : 'a';
	post(batch, sig);
	assert_int_equal(resp.status, 401);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_true(fake_host_log_contains("http.webhook.bad_signature"));
	http_response_free(&resp);
	http_response_init(&resp);
	post(batch, NULL);
	assert_int_equal(resp.status, 401);
	assert_int_equal(fake_host_pub_count(), 0);
}

/* A status that did not reach the bus is asked for again: Meta retries a
 * post not answered 200, and the deterministic ids make the ones that did
 * get out duplicates. */
static void publish_failure_503(void **st)
{
	char sig[80];

	(void)st;
	fake_host_set_publish_result(KERYU_EIO);
	sign(batch, strlen(batch), sig);
	post(batch, sig);
	assert_int_equal(resp.status, 503);
	assert_true(fake_host_log_contains("http.webhook.publish_failed"));
}

static void malformed_json(void **st)
{
	static const char *const bodies[] = {
		"{\"entry\":[{\"changes\":[", "[]", "", "\"x\""};
	char sig[80];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		http_response_free(&resp);
		http_response_init(&resp);
		sign(bodies[i], strlen(bodies[i]), sig);
		post(bodies[i], sig);
		assert_int_equal(resp.status, 400);
	}
	assert_int_equal(fake_host_pub_count(), 0);
}

static void nothing_ours(void **st)
{
	static const char body[] =
		"{\"entry\":[{\"changes\":[{\"value\":{\"statuses\":["
		"{\"id\":\"wamid.C\",\"status\":\"read\"}]}}]}],"
		"\"x\":{\"entry\":1}}";
	char sig[80];

	(void)st;
	sign(body, strlen(body), sig);
	post(body, sig);
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void count_cb(const struct keryu_delivery_event *ev, void *arg)
{
	(void)ev;
	(*(int *)arg)++;
}

static void parse_alone(void **st)
{
	int n = 0;

	(void)st;
	assert_int_equal(http_whatsapp_statuses(batch, strlen(batch), count_cb,
						&n),
			 3);
	assert_int_equal(n, 3);
	assert_int_equal(http_whatsapp_statuses("{", 1, count_cb, &n),
			 KERYU_EINVAL);
	assert_int_equal(n, 3);
}

static void raw_route_only_post(void **st)
{
	(void)st;
	assert_true(http_webhook_takes_raw("POST", "/webhooks/whatsapp"));
	assert_false(http_webhook_takes_raw("GET", "/webhooks/whatsapp"));
	assert_false(http_webhook_takes_raw("POST", "/webhooks/whatsapp/"));
	assert_false(http_webhook_takes_raw("POST", "/account/login"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(batch_published, setup,
						teardown),
		cmocka_unit_test_setup_teardown(same_post_same_event_ids, setup,
						teardown),
		cmocka_unit_test(event_id_deterministic),
		cmocka_unit_test_setup_teardown(bad_signature_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(malformed_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(publish_failure_503, setup,
						teardown),
		cmocka_unit_test_setup_teardown(nothing_ours, setup, teardown),
		cmocka_unit_test(parse_alone),
		cmocka_unit_test(raw_route_only_post),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
