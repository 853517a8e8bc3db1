/* Server-side sessions through the accounts service, and the secrets
 * around them. The cookie holds 32 random bytes; the database holds only
 * HMAC-SHA-256(secret_key, cookie), so a copy of the sessions table opens
 * no session. Every session, logged in or not, carries a CSRF token that
 * each POST must echo back. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "http_module.h"

#define TOKEN_BYTES 32

void http_hmac_hex(const struct http_ctx *ctx, const char *data,
		   char out[KERYU_HASH_HEX])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), ctx->secret, (int)ctx->secret_len,
		  (const unsigned char *)data, strlen(data), mac, &len) ||
	    len != 32) {
		/* cannot happen with SHA-256; never hand out a weak key */
		randombytes_buf(mac, 32);
		len = 32;
	}
	sodium_bin2hex(out, KERYU_HASH_HEX, mac, len);
}

/* A new cookie value (base64url, no padding) and its database key. */
static void new_token(const struct http_ctx *ctx, char *token, size_t size,
		      char hash[KERYU_HASH_HEX])
{
	unsigned char raw[TOKEN_BYTES];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, size, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	http_hmac_hex(ctx, token, hash);
}

/* A logged-in session lives session_max_s; an anonymous one, which only
 * carries a form's CSRF token, no longer than it may sit idle, so that
 * visits by crawlers do not pile up rows for a month. */
static int lifetime(const struct http_ctx *ctx, bool logged_in)
{
	if (logged_in || ctx->session_idle_s > ctx->session_max_s)
		return ctx->session_max_s;
	return ctx->session_idle_s;
}

void http_session_cookie(const struct http_ctx *ctx, struct http_response *r,
			 const char *token, int max_age)
{
	if (token)
		snprintf(r->set_cookie, sizeof(r->set_cookie),
			 "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
			 HTTP_SESSION_COOKIE, token, max_age,
			 ctx->secure_cookies ? "; Secure" : "");
	else /* clears it */
		snprintf(r->set_cookie, sizeof(r->set_cookie),
			 "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax%s",
			 HTTP_SESSION_COOKIE,
			 ctx->secure_cookies ? "; Secure" : "");
}

int http_session_load(struct http_ctx *ctx, const struct http_request *req,
		      struct http_session *s)
{
	const struct keryu_accounts *a = ctx->accounts;
	char token[128];
	int rc;

	memset(s, 0, sizeof(*s));
	if (!http_cookie_get(req->cookie, HTTP_SESSION_COOKIE, token,
			     sizeof(token)))
		return 0;
	http_hmac_hex(ctx, token, s->token_hash);
	sodium_memzero(token, sizeof(token));
	rc = a->session_get(a->self, s->token_hash, ctx->session_idle_s,
			    &s->row);
	if (rc == KERYU_ENOTFOUND) {
		s->token_hash[0] = '\0';
		return 0;
	}
	if (rc)
		return rc;
	s->exists = true;
	if (s->row.custodian_id[0]) {
		rc = a->custodian_get(a->self, s->row.custodian_id, &s->who);
		if (rc == 0 && s->who.is_active)
			s->logged_in = true;
		else if (rc && rc != KERYU_ENOTFOUND)
			return rc;
	}
	return 0;
}

int http_session_start(struct http_ctx *ctx, struct http_session *s,
		       const struct keryu_custodian *who,
		       struct http_response *r)
{
	const struct keryu_accounts *a = ctx->accounts;
	char token[96], hash[KERYU_HASH_HEX], csrf[65];
	unsigned char raw[32];
	int rc;

	/* rotation: the old token stops working before the new one exists */
	if (s->exists) {
		rc = a->session_delete(a->self, s->token_hash);
		if (rc)
			return rc;
		s->exists = false;
		s->logged_in = false;
	}
	new_token(ctx, token, sizeof(token), hash);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(csrf, sizeof(csrf), raw, sizeof(raw));
	rc = a->session_create(a->self, hash, who ? who->id : NULL, csrf,
			       lifetime(ctx, who != NULL));
	if (rc) {
		sodium_memzero(token, sizeof(token));
		return rc;
	}
	memset(&s->row, 0, sizeof(s->row));
	if (who) {
		snprintf(s->row.custodian_id, sizeof(s->row.custodian_id),
			 "%s", who->id);
		s->who = *who;
		s->logged_in = true;
	}
	memcpy(s->row.csrf, csrf, sizeof(csrf));
	s->row.created_unix = s->row.last_seen_unix = (int64_t)time(NULL);
	memcpy(s->token_hash, hash, sizeof(hash));
	s->exists = true;
	http_session_cookie(ctx, r, token, lifetime(ctx, who != NULL));
	sodium_memzero(token, sizeof(token));
	return 0;
}

int http_session_ensure(struct http_ctx *ctx, struct http_session *s,
			struct http_response *r)
{
	return s->exists ? 0 : http_session_start(ctx, s, NULL, r);
}

int http_session_end(struct http_ctx *ctx, struct http_session *s,
		     struct http_response *r)
{
	const struct keryu_accounts *a = ctx->accounts;
	int rc = 0;

	if (s->exists)
		rc = a->session_delete(a->self, s->token_hash);
	memset(s, 0, sizeof(*s));
	http_session_cookie(ctx, r, NULL, 0);
	return rc;
}

bool http_csrf_ok(const struct http_session *s, const struct http_form *f)
{
	const char *sent = http_form_get(f, "csrf");
	size_t n;

	if (!s->exists || !sent || !s->row.csrf[0])
		return false;
	n = strlen(s->row.csrf);
	if (strlen(sent) != n)
		return false;
	return sodium_memcmp(sent, s->row.csrf, n) == 0;
}

int http_secret_load(struct http_ctx *ctx)
{
	const char *key = ctx->host->global(ctx->m, "kernel", "secret_key");
	size_t n = key ? strlen(key) : 0;

	if (n > sizeof(ctx->secret))
		n = sizeof(ctx->secret); /* HMAC hashes longer keys anyway */
	if (n) {
		memcpy(ctx->secret, key, n);
		ctx->secret_len = n;
		return 0;
	}
	randombytes_buf(ctx->secret, 32);
	ctx->secret_len = 32;
	ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.secret_key",
		       "error=\"[kernel] secret_key is empty: using a random "
		       "one, so sessions and codes will not survive a "
		       "restart\"");
	return 0;
}
