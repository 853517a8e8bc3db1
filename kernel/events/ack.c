/* Signed tokens (events.h), all with [kernel] secret_key: acknowledgement
 * links (the alarms module makes them, the http module checks them) and
 * finder tokens (the http module makes and checks them). One shape,
 * "<id>.<expiry>.<mac>"; what the mac covers says what the token is for. */
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

/* mac_out: MAC_B64_LEN + 1 bytes, over "<prefix>.<id>[.<bound>].<exp>";
 * id (and bound) must already be lower case. */
static int mac(const char *secret, const char *prefix, const char *id,
	       const char *bound, long long exp, char *mac_out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char msg[192];
	int n = bound ? snprintf(msg, sizeof(msg), "%s.%s.%s.%lld", prefix, id,
				 bound, exp)
		      : snprintf(msg, sizeof(msg), "%s.%s.%lld", prefix, id,
				 exp);

	if (n < 0 || (size_t)n >= sizeof(msg))
		return KERYU_EINVAL;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret),
		  (const unsigned char *)msg, (size_t)n, md, &md_len) ||
	    md_len != 32)
		return KERYU_ERR;
	b64url(md, md_len, mac_out);
	return 0;
}

static void lower(const char *in, char out[KERYU_UUID_LEN])
{
	for (size_t i = 0; i < KERYU_UUID_LEN; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
}

static int token_make(const char *secret, const char *prefix, const char *id,
		      const char *bound, long long expires_unix,
		      char out[KERYU_ACK_TOKEN_LEN])
{
	char lid[KERYU_UUID_LEN], lb[KERYU_UUID_LEN], m[MAC_B64_LEN + 1];
	int rc;

	out[0] = '\0';
	if (!secret || !*secret || !keryu_uuid_valid(id) ||
	    (bound && !keryu_uuid_valid(bound)) || expires_unix < 0)
		return KERYU_EINVAL;
	lower(id, lid);
	if (bound)
		lower(bound, lb);
	rc = mac(secret, prefix, lid, bound ? lb : NULL, expires_unix, m);
	if (rc)
		return rc;
	snprintf(out, KERYU_ACK_TOKEN_LEN, "%s.%lld.%s", lid, expires_unix, m);
	return 0;
}

static int token_check(const char *secret, const char *prefix,
		       const char *token, const char *bound, long long now_unix,
		       char id_out[KERYU_UUID_LEN])
{
	char nid[KERYU_UUID_LEN], lb[KERYU_UUID_LEN], want[MAC_B64_LEN + 1];
	const char *dot1, *dot2;
	long long exp = 0;
	size_t i;

	id_out[0] = '\0';
	if (!secret || !*secret || !token ||
	    strlen(token) >= KERYU_ACK_TOKEN_LEN ||
	    (bound && !keryu_uuid_valid(bound)))
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
	if (bound)
		lower(bound, lb);
	if (mac(secret, prefix, nid, bound ? lb : NULL, exp, want))
		return KERYU_EINVAL;
	if (CRYPTO_memcmp(want, dot2 + 1, MAC_B64_LEN) != 0)
		return KERYU_EINVAL;
	if (now_unix > exp)
		return KERYU_ETIMEDOUT;
	memcpy(id_out, nid, KERYU_UUID_LEN);
	return 0;
}

int keryu_ack_token_make(const char *secret, const char *notification_id,
			 long long expires_unix, char out[KERYU_ACK_TOKEN_LEN])
{
	return token_make(secret, "keryu-ack.v1", notification_id, NULL,
			  expires_unix, out);
}

int keryu_ack_token_check(const char *secret, const char *token,
			  long long now_unix,
			  char notification_id[KERYU_UUID_LEN])
{
	return token_check(secret, "keryu-ack.v1", token, NULL, now_unix,
			   notification_id);
}

int keryu_finder_token_make(const char *secret, const char *event_id,
			    const char *qr_uuid, long long expires_unix,
			    char out[KERYU_ACK_TOKEN_LEN])
{
	if (!qr_uuid) {
		out[0] = '\0';
		return KERYU_EINVAL;
	}
	return token_make(secret, "keryu-finder.v1", event_id, qr_uuid,
			  expires_unix, out);
}

int keryu_finder_token_check(const char *secret, const char *token,
			     const char *qr_uuid, long long now_unix,
			     char event_id[KERYU_UUID_LEN])
{
	if (!qr_uuid) {
		event_id[0] = '\0';
		return KERYU_EINVAL;
	}
	return token_check(secret, "keryu-finder.v1", token, qr_uuid,
			   now_unix, event_id);
}
