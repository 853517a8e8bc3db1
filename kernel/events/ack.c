/* Signed acknowledgement tokens (events.h): the alarms module makes them,
 * the http module checks them, both with [kernel] secret_key. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <keryu/events.h>
#include <keryu/module.h>

#define MAC_B64_LEN 43 /* 32 bytes, unpadded base64url */

static void b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789-_";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
			     in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	} else if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	}
	out[o] = '\0';
}

/* mac_out: MAC_B64_LEN + 1 bytes. nid must already be lower case. */
static int mac(const char *secret, const char *nid, long long exp,
	       char *mac_out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "keryu-ack.v1.%s.%lld", nid, exp);

	if (n < 0 || (size_t)n >= sizeof(msg))
		return KERYU_EINVAL;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret),
		  (const unsigned char *)msg, (size_t)n, md, &md_len) ||
	    md_len != 32)
		return KERYU_ERR;
	b64url(md, md_len, mac_out);
	return 0;
}

int keryu_ack_token_make(const char *secret, const char *notification_id,
			 long long expires_unix, char out[KERYU_ACK_TOKEN_LEN])
{
	char nid[KERYU_UUID_LEN], m[MAC_B64_LEN + 1];
	int rc;

	out[0] = '\0';
	if (!secret || !*secret || !keryu_uuid_valid(notification_id) ||
	    expires_unix < 0)
		return KERYU_EINVAL;
	for (size_t i = 0; i < KERYU_UUID_LEN; i++)
		nid[i] = (char)tolower((unsigned char)notification_id[i]);
	rc = mac(secret, nid, expires_unix, m);
	if (rc)
		return rc;
	snprintf(out, KERYU_ACK_TOKEN_LEN, "%s.%lld.%s", nid, expires_unix, m);
	return 0;
}

int keryu_ack_token_check(const char *secret, const char *token,
			  long long now_unix,
			  char notification_id[KERYU_UUID_LEN])
{
	char nid[KERYU_UUID_LEN], want[MAC_B64_LEN + 1];
	const char *dot1, *dot2;
	long long exp = 0;
	size_t i;

	notification_id[0] = '\0';
	if (!secret || !*secret || !token || strlen(token) >= KERYU_ACK_TOKEN_LEN)
		return KERYU_EINVAL;
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot1 || dot1 - token != KERYU_UUID_LEN - 1 || !dot2 ||
	    dot2 - dot1 < 2 || dot2 - dot1 > 12 ||
	    strlen(dot2 + 1) != MAC_B64_LEN)
		return KERYU_EINVAL;
	memcpy(nid, token, KERYU_UUID_LEN - 1);
	nid[KERYU_UUID_LEN - 1] = '\0';
	if (!keryu_uuid_valid(nid))
		return KERYU_EINVAL;
	for (i = 0; nid[i]; i++)
		if (nid[i] != tolower((unsigned char)nid[i]))
			return KERYU_EINVAL; /* one spelling per token */
	for (const char *p = dot1 + 1; p < dot2; p++) {
		if (*p < '0' || *p > '9')
			return KERYU_EINVAL;
		exp = exp * 10 + (*p - '0');
	}
	if (dot2 - dot1 > 2 && dot1[1] == '0')
		return KERYU_EINVAL; /* no leading zeros: one spelling */
	if (mac(secret, nid, exp, want))
		return KERYU_EINVAL;
	if (CRYPTO_memcmp(want, dot2 + 1, MAC_B64_LEN) != 0)
		return KERYU_EINVAL;
	if (now_unix > exp)
		return KERYU_ETIMEDOUT;
	memcpy(notification_id, nid, KERYU_UUID_LEN);
	return 0;
}
