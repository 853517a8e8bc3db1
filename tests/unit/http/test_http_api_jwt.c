/* The API's access tokens: what http_api_jwt_encode makes verifies, and
 * every forgery is refused — expired, signed with another key, alg
 * "none" (signed or not), another algorithm, a payload changed after
 * signing, the wrong typ or iss, a sub that is not a UUID. Forged tokens
 * are assembled by hand (base64url header.payload, HMAC-SHA256 with the
 * real key) so each test changes exactly one thing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_api.h"

#define SUB "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define NOW 1800000000LL
#define SECRET "unit-test-instance-secret"

extern const struct keryu_module keryu_module;

static unsigned char key[HTTP_API_KEY_LEN];

static int setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	http_api_jwt_key((const unsigned char *)SECRET, strlen(SECRET), key);
	return 0;
}

static void b64(const void *data, size_t len, char *out, size_t size)
{
	sodium_bin2base64(out, size, data, len,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload.signature; sign false leaves the signature empty. */
static char *forge(const char *header, const char *payload,
		   const unsigned char *k, bool sign)
{
	char h[512], p[1024], sig[128] = "";
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char *out = malloc(2048);
	crypto_auth_hmacsha256_state st;

	assert_non_null(out);
	b64(header, strlen(header), h, sizeof(h));
	b64(payload, strlen(payload), p, sizeof(p));
	snprintf(out, 2048, "%s.%s", h, p);
	if (sign) {
		crypto_auth_hmacsha256_init(&st, k, HTTP_API_KEY_LEN);
		crypto_auth_hmacsha256_update(&st, (unsigned char *)out,
					      strlen(out));
		crypto_auth_hmacsha256_final(&st, mac);
		b64(mac, sizeof(mac), sig, sizeof(sig));
	}
	strcat(out, ".");
	strcat(out, sig);
	return out;
}

static char *claims(const char *iss, const char *typ, const char *sub,
		    long long exp)
{
	char *s = malloc(512);

	assert_non_null(s);
	snprintf(s, 512,
		 "{\"iss\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld,"
		 "\"jti\":\"6f1d1b4e-0e0c-4f43-9a49-3b1f8a6f6b11\","
		 "\"typ\":\"%s\"}",
		 iss, sub, NOW - 10, exp, typ);
	return s;
}

static int verify(const char *token)
{
	char sub[KERYU_UUID_LEN];

	return http_api_jwt_verify(key, token, NOW, sub);
}

static void round_trip(void **state)
{
	char *t = NULL, sub[KERYU_UUID_LEN];

	(void)state;
	assert_int_equal(http_api_jwt_encode(key, SUB, NOW, 900, &t), 0);
	assert_non_null(t);
	assert_int_equal(http_api_jwt_verify(key, t, NOW + 899, sub), 0);
	assert_string_equal(sub, SUB);
	/* a bad sub is never encoded */
	free(t);
	assert_int_equal(http_api_jwt_encode(key, "nope", NOW, 900, &t),
			 KERYU_EINVAL);
	assert_null(t);
}

static void the_hand_made_token_verifies(void **state)
{
	char *c = claims("keryu", "access", SUB, NOW + 60);
	char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", c, key, true);

	(void)state;
	/* so that the refusals below are for the one thing changed */
	assert_int_equal(verify(t), 0);
	free(t);
	free(c);
}

static void expired(void **state)
{
	char *t = NULL, sub[KERYU_UUID_LEN];

	(void)state;
	assert_int_equal(http_api_jwt_encode(key, SUB, NOW, 900, &t), 0);
	assert_int_equal(http_api_jwt_verify(key, t, NOW + 900, sub),
			 KERYU_EINVAL);
	assert_int_equal(http_api_jwt_verify(key, t, NOW + 100000, sub),
			 KERYU_EINVAL);
	assert_string_equal(sub, "");
	free(t);
}

static void other_key(void **state)
{
	unsigned char other[HTTP_API_KEY_LEN];
	char *t = NULL;

	(void)state;
	http_api_jwt_key((const unsigned char *)"another secret", 14, other);
	assert_memory_not_equal(other, key, sizeof(key));
	assert_int_equal(http_api_jwt_encode(other, SUB, NOW, 900, &t), 0);
	assert_int_equal(verify(t), KERYU_EINVAL);
	free(t);
}

static void alg_none(void **state)
{
	char *c = claims("keryu", "access", SUB, NOW + 60);
	char *unsigned_t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, key,
				 false);
	char *signed_t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, key,
			       true);
	char *no_dot = strdup(unsigned_t);

	(void)state;
	no_dot[strlen(no_dot) - 1] = '\0';
	assert_int_equal(verify(unsigned_t), KERYU_EINVAL);
	assert_int_equal(verify(signed_t), KERYU_EINVAL);
	assert_int_equal(verify(no_dot), KERYU_EINVAL);
	free(unsigned_t);
	free(signed_t);
	free(no_dot);
	free(c);
}

static void other_algorithms(void **state)
{
	char *c = claims("keryu", "access", SUB, NOW + 60);
	char *t384 = forge("{\"alg\":\"HS384\",\"typ\":\"JWT\"}", c, key, true);
	char *tr = forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", c, key, true);

	(void)state;
	assert_int_equal(verify(t384), KERYU_EINVAL);
	assert_int_equal(verify(tr), KERYU_EINVAL);
	free(t384);
	free(tr);
	free(c);
}

static void tampered_payload(void **state)
{
	char *t = NULL, *c, *forged, *dot1, *dot2, *mixed;
	size_t n;

	(void)state;
	assert_int_equal(http_api_jwt_encode(key, SUB, NOW, 900, &t), 0);
	/* the payload of another custodian's claims with t's signature */
	c = claims("keryu", "access", "11111111-2222-4333-8444-555555555555",
		   NOW + 60);
	forged = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", c, key, false);
	dot1 = strchr(forged, '.');
	dot2 = strrchr(t, '.');
	n = (size_t)(strrchr(forged, '.') - forged);
	mixed = malloc(n + strlen(dot2) + 1);
	assert_non_null(mixed);
	memcpy(mixed, forged, n);
	strcpy(mixed + n, dot2);
	assert_non_null(dot1);
	assert_int_equal(verify(mixed), KERYU_EINVAL);
	/* one flipped character in the payload */
	dot1 = strchr(t, '.');
	dot1[3] = dot1[3] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(t), KERYU_EINVAL);
	free(mixed);
	free(forged);
	free(c);
	free(t);
}

static void wrong_claims(void **state)
{
	static const struct {
		const char *iss, *typ, *sub;
	} bad[] = {
		{"other", "access", SUB},
		{"keryu", "refresh", SUB},
		{"keryu", "access", "not-a-uuid"},
		{"keryu", "access", ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *c = claims(bad[i].iss, bad[i].typ, bad[i].sub, NOW + 60);
		char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", c, key,
				true);

		assert_int_equal(verify(t), KERYU_EINVAL);
		free(t);
		free(c);
	}
}

static void exp_missing_or_not_a_number(void **state)
{
	const char *payloads[] = {
		"{\"iss\":\"keryu\",\"sub\":\"" SUB "\",\"typ\":\"access\"}",
		"{\"iss\":\"keryu\",\"sub\":\"" SUB "\",\"typ\":\"access\","
		"\"exp\":\"9999999999\"}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
				payloads[i], key, true);

		assert_int_equal(verify(t), KERYU_EINVAL);
		free(t);
	}
}

static void garbage(void **state)
{
	char sub[KERYU_UUID_LEN];

	(void)state;
	assert_int_equal(verify(""), KERYU_EINVAL);
	assert_int_equal(verify("a.b.c"), KERYU_EINVAL);
	assert_int_equal(verify("...."), KERYU_EINVAL);
	assert_int_equal(http_api_jwt_verify(key, NULL, NOW, sub),
			 KERYU_EINVAL);
}

/* The module's API state is its own: the options read at init and the
 * key derived from that instance's secret there, not on first use. */
static struct http_ctx *module_init(const char *secret)
{
	void *st = NULL;

	fake_host_reset(&keryu_module);
	fake_storage_reset("4c8e5f2a-1b3d-4e6f-8a9b-0c1d2e3f4a5b", "Ana");
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_accounts_reset();
	fake_host_add_service(KERYU_SERVICE_ACCOUNTS, &fake_accounts);
	fake_host_set_global("kernel", "secret_key", secret);
	fake_host_set("api_rate_per_ip", "7");
	fake_host_set("api_access_ttl_s", "120");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &st), 0);
	return st;
}

static void state_in_the_module(void **state)
{
	struct http_ctx *a = module_init(SECRET), *b;
	unsigned char other[HTTP_API_KEY_LEN];

	(void)state;
	assert_memory_equal(a->api.key, key, HTTP_API_KEY_LEN);
	assert_int_equal(a->api.rate_per_ip, 7);
	assert_int_equal(a->api.access_ttl_s, 120);
	assert_int_equal(a->api.rate_per_token, 300); /* the default */
	assert_int_equal(a->api.max_bytes, 65536);
	/* a second instance with another secret signs with its own key
	 * and leaves the first one's alone */
	b = module_init("another instance secret");
	http_api_jwt_key((const unsigned char *)"another instance secret",
			 strlen("another instance secret"), other);
	assert_memory_equal(b->api.key, other, HTTP_API_KEY_LEN);
	assert_memory_equal(a->api.key, key, HTTP_API_KEY_LEN);
	keryu_module.cleanup(b);
	keryu_module.cleanup(a);
	fake_host_reset(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(the_hand_made_token_verifies),
		cmocka_unit_test(expired),
		cmocka_unit_test(other_key),
		cmocka_unit_test(alg_none),
		cmocka_unit_test(other_algorithms),
		cmocka_unit_test(tampered_payload),
		cmocka_unit_test(wrong_claims),
		cmocka_unit_test(exp_missing_or_not_a_number),
		cmocka_unit_test(garbage),
		cmocka_unit_test(state_in_the_module),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
