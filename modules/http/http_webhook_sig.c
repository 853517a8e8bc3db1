/* Signature checks for provider webhooks: Meta signs the raw body with
 * HMAC-SHA256, Twilio signs the URL and sorted form fields with HMAC-SHA1.
 * Both are compared in constant time so a forger cannot learn a prefix. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http_webhooks.h"

#define META_PREFIX "sha256="
#define META_HEX 64
#define SHA1_LEN 20
#define SHA1_B64 28 /* 4 * ceil(20 / 3) */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool http_meta_signature_ok(const char *app_secret, const void *body,
			    size_t len, const char *header)
{
	unsigned char want[32], got[32];
	unsigned int got_len = 0;
	size_t plen = sizeof(META_PREFIX) - 1, i;
	static const unsigned char empty[1];
	bool ok;

	if (!app_secret || !*app_secret || !header || (!body && len))
		return false;
	if (strncmp(header, META_PREFIX, plen) != 0 ||
	    strlen(header + plen) != META_HEX)
		return false;
	/* the header is the sender's own data: decoding it need not be
	 * constant time, only the comparison with our MAC */
	for (i = 0; i < sizeof(want); i++) {
		int hi = hexval((unsigned char)header[plen + 2 * i]);
		int lo = hexval((unsigned char)header[plen + 2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		want[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!HMAC(EVP_sha256(), app_secret, (int)strlen(app_secret),
		  len ? body : empty, len, got, &got_len) ||
	    got_len != sizeof(got))
		return false;
	ok = CRYPTO_memcmp(want, got, sizeof(got)) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

/* Byte order of names, then of values: qsort is not stable, so repeated
 * names are ordered by value to make the result independent of arrival. */
static int field_cmp(const void *a, const void *b)
{
	const struct http_field *x = *(const struct http_field *const *)a;
	const struct http_field *y = *(const struct http_field *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	c = memcmp(x->value, y->value, n);
	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

bool http_twilio_signature_ok(const char *auth_token, const char *url,
			      const struct http_form *form, const char *header)
{
	const struct http_field **sorted = NULL;
	size_t n = form ? form->n_fields : 0, total, i, off;
	unsigned char mac[SHA1_LEN], b64[SHA1_B64 + 1];
	unsigned int mac_len = 0;
	unsigned char *buf;
	bool ok = false;

	if (!auth_token || !*auth_token || !url || !header ||
	    strlen(header) != SHA1_B64)
		return false;
	total = strlen(url);
	if (n) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted)
			return false;
	}
	for (i = 0; i < n; i++) {
		sorted[i] = &form->fields[i];
		total += strlen(form->fields[i].name) + form->fields[i].len;
	}
	if (n > 1)
		qsort(sorted, n, sizeof(*sorted), field_cmp);
	buf = malloc(total + 1);
	if (!buf) {
		free(sorted);
		return false;
	}
	off = strlen(url);
	memcpy(buf, url, off);
	for (i = 0; i < n; i++) {
		size_t nl = strlen(sorted[i]->name);

		memcpy(buf + off, sorted[i]->name, nl);
		off += nl;
		memcpy(buf + off, sorted[i]->value, sorted[i]->len);
		off += sorted[i]->len;
	}
	if (HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token), buf, off,
		 mac, &mac_len) &&
	    mac_len == SHA1_LEN &&
	    EVP_EncodeBlock(b64, mac, SHA1_LEN) == SHA1_B64)
		ok = CRYPTO_memcmp(b64, header, SHA1_B64) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	free(buf);
	free(sorted);
	return ok;
}
