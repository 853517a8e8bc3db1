/* Webhook signatures (providers.md's test vectors) and Meta's hub
 * verification through http_route(), against the fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_module.h"
#include "http_test_util.h"
#include "http_webhooks.h"

extern const struct keryu_module keryu_module;

#define META_SIG                                                               \
	"sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
#define META_SIG_UPPER                                                         \
	"sha256=0329A06B62CD16B33EB6792BE8C60B158D89A2EE3A876FCE9A881EBB488C0914"
#define TW_URL "https://example.com/myapp.php?foo=1&bar=2"
#define TW_SIG "L/OH5YylLD5NRKLltdqwSvS0BnU="

/* ---- Meta ---- */

static void meta_vector(void **st)
{
	(void)st;
	assert_true(http_meta_signature_ok("secret", "test", 4, META_SIG));
	assert_true(
		http_meta_signature_ok("secret", "test", 4, META_SIG_UPPER));
}

static void meta_refusals(void **st)
{
	char sig[] = META_SIG;

	(void)st;
	/* a flipped byte in the body, the key or the signature */
	assert_false(http_meta_signature_ok("secret", "tesT", 4, META_SIG));
	assert_false(http_meta_signature_ok("secreT", "test", 4, META_SIG));
	sig[sizeof(sig) - 2] = sig[sizeof(sig) - 2] == '4' ? '5' : '4';
	assert_false(http_meta_signature_ok("secret", "test", 4, sig));
	/* the body's length counts: no trailing byte, no NUL */
	assert_false(http_meta_signature_ok("secret", "test", 3, META_SIG));
	assert_false(http_meta_signature_ok("secret", "test", 5, META_SIG));
	/* wrong or missing prefix */
	assert_false(http_meta_signature_ok(
		"secret", "test", 4,
		"sha1=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"));
	assert_false(http_meta_signature_ok(
		"secret", "test", 4,
		"SHA256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"));
	assert_false(http_meta_signature_ok(
		"secret", "test", 4,
		"0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"));
	/* short, odd, long, non-hex */
	assert_false(http_meta_signature_ok(
		"secret", "test", 4,
		"sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c09"));
	assert_false(http_meta_signature_ok(
		"secret", "test", 4,
		"sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c091"));
	assert_false(http_meta_signature_ok("secret", "test", 4, META_SIG "0"));
	assert_false(http_meta_signature_ok("secret", "test", 4, META_SIG "00"));
	assert_false(http_meta_signature_ok(
		"secret", "test", 4,
		"sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c091g"));
	assert_false(http_meta_signature_ok("secret", "test", 4, "sha256="));
	assert_false(http_meta_signature_ok("secret", "test", 4, ""));
	assert_false(http_meta_signature_ok("secret", "test", 4, NULL));
	/* no secret, no trust */
	assert_false(http_meta_signature_ok("", "test", 4, META_SIG));
	assert_false(http_meta_signature_ok(NULL, "test", 4, META_SIG));
}

/* ---- Twilio ---- */

static void add(struct http_form *f, const char *name, const char *value)
{
	assert_int_equal(http_form_add(f, name, value, strlen(value), true),
			 0);
}

static void twilio_form(struct http_form *f, bool reversed)
{
	static const char *const kv[][2] = {
		{"CallSid", "CA1234567890ABCDE"}, {"Caller", "+14158675310"},
		{"Digits", "1234"},		   {"From", "+14158675310"},
		{"To", "+18005551212"}};
	size_t n = sizeof(kv) / sizeof(kv[0]), i;

	http_form_init(f);
	for (i = 0; i < n; i++) {
		size_t j = reversed ? n - 1 - i : i;

		add(f, kv[j][0], kv[j][1]);
	}
}

static void twilio_vector(void **st)
{
	struct http_form f;

	(void)st;
	twilio_form(&f, false);
	assert_true(http_twilio_signature_ok("12345", TW_URL, &f, TW_SIG));
	http_form_free(&f);
	/* arrival order does not matter: the fields are sorted */
	twilio_form(&f, true);
	assert_true(http_twilio_signature_ok("12345", TW_URL, &f, TW_SIG));
	http_form_free(&f);
}

static void twilio_refusals(void **st)
{
	struct http_form f;
	char sig[] = TW_SIG;

	(void)st;
	twilio_form(&f, false);
	assert_false(http_twilio_signature_ok("12346", TW_URL, &f, TW_SIG));
	assert_false(http_twilio_signature_ok(
		"12345", "https://example.com/myapp.php?foo=1&bar=3", &f,
		TW_SIG));
	sig[0] = 'M';
	assert_false(http_twilio_signature_ok("12345", TW_URL, &f, sig));
	assert_false(http_twilio_signature_ok("12345", TW_URL, &f,
					      "L/OH5YylLD5NRKLltdqwSvS0BnU"));
	assert_false(http_twilio_signature_ok("12345", TW_URL, &f,
					      TW_SIG "="));
	assert_false(http_twilio_signature_ok("12345", TW_URL, &f, ""));
	assert_false(http_twilio_signature_ok("12345", TW_URL, &f, NULL));
	assert_false(http_twilio_signature_ok("", TW_URL, &f, TW_SIG));
	assert_false(http_twilio_signature_ok(NULL, TW_URL, &f, TW_SIG));
	assert_false(http_twilio_signature_ok("12345", NULL, &f, TW_SIG));
	/* one more field changes the signature */
	add(&f, "Extra", "x");
	assert_false(http_twilio_signature_ok("12345", TW_URL, &f, TW_SIG));
	http_form_free(&f);
	/* no fields at all is not the vector either */
	assert_false(http_twilio_signature_ok("12345", TW_URL, NULL, TW_SIG));
}

/* Repeated names are sorted by value too, so they sign the same whatever
 * their order: the expected signature is made here independently over
 * url + "Ax" "Ay" "B2". */
static void twilio_repeated_names(void **st)
{
	static const char url[] = "https://example.com/cb";
	static const char signed_bytes[] = "https://example.com/cbAxAyB2";
	unsigned char mac[20], b64[29];
	unsigned int mac_len = 0;
	struct http_form a, b;

	(void)st;
	assert_non_null(HMAC(EVP_sha1(), "k", 1,
			     (const unsigned char *)signed_bytes,
			     strlen(signed_bytes), mac, &mac_len));
	assert_int_equal(mac_len, 20);
	assert_int_equal(EVP_EncodeBlock(b64, mac, 20), 28);
	http_form_init(&a);
	http_form_init(&b);
	add(&a, "B", "2");
	add(&a, "A", "y");
	add(&a, "A", "x");
	add(&b, "A", "x");
	add(&b, "B", "2");
	add(&b, "A", "y");
	assert_true(http_twilio_signature_ok("k", url, &a, (char *)b64));
	assert_true(http_twilio_signature_ok("k", url, &b, (char *)b64));
	http_form_free(&a);
	http_form_free(&b);
}

/* ---- hub verification through the router ---- */

static struct http_ctx *ctx;
static struct http_response resp;

static int setup_token(const char *token)
{
	fake_host_reset(&keryu_module);
	fake_storage_reset("0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f", "x");
	http_test_offer_services();
	if (token)
		fake_host_set_global("whatsapp", "verify_token", token);
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	return 0;
}

static int setup(void **st)
{
	(void)st;
	return setup_token("tok-3f9a");
}

static int setup_empty(void **st)
{
	(void)st;
	return setup_token(NULL);
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static void hub(const char *method, const char *qs)
{
	struct http_form q;
	struct http_request req = {.method = method,
				   .path = "/webhooks/whatsapp",
				   .user_agent = "facebookexternalua",
				   .query = &q};

	http_form_init(&q);
	assert_int_equal(http_form_parse_query(&q, qs), 0);
	http_test_route(ctx, &req, &resp);
	http_form_free(&q);
	assert_non_null(resp.body.buf);
}

static void hub_match(void **st)
{
	(void)st;
	hub("GET", "hub.mode=subscribe&hub.challenge=1158201444"
		   "&hub.verify_token=tok-3f9a");
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.buf, "1158201444");
	assert_int_equal(resp.body.len, 10);
	assert_non_null(strstr(resp.content_type, "text/plain"));
	/* parameters in any order */
	hub("GET", "hub.verify_token=tok-3f9a&hub.challenge=7"
		   "&hub.mode=subscribe");
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.buf, "7");
}

static void hub_refused(void **st)
{
	static const char *const bad[] = {
		/* wrong token, a prefix of it, longer, case */
		"hub.mode=subscribe&hub.challenge=1&hub.verify_token=tok-3f9b",
		"hub.mode=subscribe&hub.challenge=1&hub.verify_token=tok-3f9",
		"hub.mode=subscribe&hub.challenge=1&hub.verify_token=tok-3f9aa",
		"hub.mode=subscribe&hub.challenge=1&hub.verify_token=TOK-3F9A",
		"hub.mode=subscribe&hub.challenge=1&hub.verify_token=",
		/* missing parameters */
		"hub.mode=subscribe&hub.challenge=1",
		"hub.challenge=1&hub.verify_token=tok-3f9a",
		"hub.mode=subscribe&hub.verify_token=tok-3f9a",
		"",
		/* wrong mode */
		"hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=tok-3f9a",
		/* challenge not 1..64 digits */
		"hub.mode=subscribe&hub.challenge=12a&hub.verify_token=tok-3f9a",
		"hub.mode=subscribe&hub.challenge=-1&hub.verify_token=tok-3f9a",
		"hub.mode=subscribe&hub.challenge=%3Cb%3E&hub.verify_token=tok-3f9a",
		"hub.mode=subscribe&hub.challenge=&hub.verify_token=tok-3f9a",
		"hub.mode=subscribe&hub.challenge=1%201&hub.verify_token=tok-3f9a",
		"hub.mode=subscribe&hub.challenge="
		"12345678901234567890123456789012345678901234567890123456789012345"
		"&hub.verify_token=tok-3f9a",
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hub("GET", bad[i]);
		if (resp.status != 403)
			fail_msg("case %zu: status %u", i, resp.status);
	}
	/* 64 digits is the most accepted */
	hub("GET", "hub.mode=subscribe&hub.challenge="
		   "1234567890123456789012345678901234567890123456789012345678901234"
		   "&hub.verify_token=tok-3f9a");
	assert_int_equal(resp.status, 200);
	/* the token is never logged */
	assert_false(fake_host_log_contains("tok-3f9"));
}

static void hub_post_not_here(void **st)
{
	(void)st;
	hub("POST", "hub.mode=subscribe&hub.challenge=1"
		    "&hub.verify_token=tok-3f9a");
	assert_int_equal(resp.status, 405);
}

static void hub_token_unset(void **st)
{
	(void)st;
	hub("GET", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=");
	assert_int_equal(resp.status, 403);
	hub("GET", "hub.mode=subscribe&hub.challenge=1");
	assert_int_equal(resp.status, 403);
	hub("GET", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=x");
	assert_int_equal(resp.status, 403);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(meta_vector),
		cmocka_unit_test(meta_refusals),
		cmocka_unit_test(twilio_vector),
		cmocka_unit_test(twilio_refusals),
		cmocka_unit_test(twilio_repeated_names),
		cmocka_unit_test_setup_teardown(hub_match, setup, teardown),
		cmocka_unit_test_setup_teardown(hub_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(hub_post_not_here, setup,
						teardown),
		cmocka_unit_test_setup_teardown(hub_token_unset, setup_empty,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
