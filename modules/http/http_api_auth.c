/* The API's tokens: short-lived HS256 access tokens (libjwt) that carry
 * the custodian's id, and long-lived opaque refresh tokens stored only as
 * HMACs (admin->refresh_*) that rotate on every use. A password is
 * checked exactly as on the login page: the same argon2 slots, a dummy
 * hash for unknown emails and the same failure limits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jwt.h>
#include <sodium.h>

#include <keryu/events.h>

#include "http_account.h"
#include "http_api.h"

#define JWT_ISSUER "keryu"
#define JWT_TYPE "access"
#define JWT_CONTEXT "keryu-api-jwt-v1"
#define TOKEN_MAX 4096 /* longer is no token of ours */
#define REFRESH_BYTES 32
#define REFRESH_MAX 128

void http_api_jwt_key(const unsigned char *secret, size_t len,
		      unsigned char key[HTTP_API_KEY_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, secret, len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)JWT_CONTEXT,
				      strlen(JWT_CONTEXT));
	crypto_auth_hmacsha256_final(&st, key);
	sodium_memzero(&st, sizeof(st));
}

int http_api_jwt_encode(const unsigned char key[HTTP_API_KEY_LEN],
			const char *sub, long long now, int ttl_s, char **out)
{
	char jti[KERYU_UUID_LEN];
	jwt_t *jwt = NULL;
	int rc = 0;

	*out = NULL;
	if (!keryu_uuid_valid(sub) || ttl_s <= 0)
		return KERYU_EINVAL;
	keryu_uuid_new(jti);
	if (jwt_new(&jwt) != 0)
		return KERYU_ENOMEM;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, key, HTTP_API_KEY_LEN) ||
	    jwt_add_grant(jwt, "iss", JWT_ISSUER) ||
	    jwt_add_grant(jwt, "sub", sub) ||
	    jwt_add_grant_int(jwt, "iat", (long)now) ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + ttl_s)) ||
	    jwt_add_grant(jwt, "jti", jti) ||
	    jwt_add_grant(jwt, "typ", JWT_TYPE))
		rc = KERYU_ENOMEM;
	if (!rc) {
		*out = jwt_encode_str(jwt);
		if (!*out)
			rc = KERYU_ENOMEM;
	}
	jwt_free(jwt);
	return rc;
}

static bool grant_is(jwt_t *jwt, const char *name, const char *want)
{
	const char *v = jwt_get_grant(jwt, name);

	return v && strcmp(v, want) == 0;
}

int http_api_jwt_verify(const unsigned char key[HTTP_API_KEY_LEN],
			const char *token, long long now,
			char sub[KERYU_UUID_LEN])
{
	jwt_t *jwt = NULL;
	const char *s;
	long exp;
	int rc = KERYU_EINVAL;

	sub[0] = '\0';
	if (!token || !*token || strlen(token) > TOKEN_MAX)
		return KERYU_EINVAL;
	if (jwt_decode(&jwt, token, key, HTTP_API_KEY_LEN) != 0 || !jwt)
		return KERYU_EINVAL;
	/* libjwt takes the algorithm from the token's own header: only
	 * ours is accepted, never "none" nor another one */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	if (!grant_is(jwt, "iss", JWT_ISSUER) || !grant_is(jwt, "typ", JWT_TYPE))
		goto out;
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno || exp <= now)
		goto out;
	s = jwt_get_grant(jwt, "sub");
	if (!s || !keryu_uuid_valid(s))
		goto out;
	memcpy(sub, s, KERYU_UUID_LEN);
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}

static void unauthorized(struct http_api_call *c, bool sent, const char *why)
{
	http_api_problem(c->r, 401, "unauthorized", "Unauthorized", why);
	c->r->www_authenticate =
		sent ? "Bearer realm=\"keryu\", error=\"invalid_token\""
		     : "Bearer realm=\"keryu\"";
}

bool http_api_authenticate(struct http_api_call *c)
{
	const struct keryu_accounts *a = c->ctx->accounts;
	const char *h = c->req->authorization, *token;
	char sub[KERYU_UUID_LEN];
	int rc;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		unauthorized(c, false, "Send an access token as "
				       "\"Authorization: Bearer <token>\".");
		return false;
	}
	token = h + 7;
	while (*token == ' ')
		token++;
	rc = http_api_jwt_verify(c->ctx->api.key, token, (long long)time(NULL),
				 sub);
	if (rc) {
		unauthorized(c, true, "The access token is invalid or has "
				      "expired.");
		return false;
	}
	rc = a->custodian_get(a->self, sub, &c->who);
	sodium_memzero(c->who.password_hash, sizeof(c->who.password_hash));
	if (rc == KERYU_ENOTFOUND || (!rc && !c->who.is_active)) {
		unauthorized(c, true, "The account is not active.");
		return false;
	}
	if (rc) {
		http_api_fail(c, "http.api_auth", rc, NULL);
		return false;
	}
	c->authed = true;
	return true;
}

/* ---- tokens ---- */

/* A new refresh token (base64url of 32 random bytes, no padding) and
 * the HMAC it is stored under. */
static void refresh_new(struct http_ctx *ctx, char token[64],
			char hash[KERYU_HASH_HEX])
{
	unsigned char raw[REFRESH_BYTES];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, 64, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	http_hmac_hex(ctx, token, hash);
}

/* Answers 200 with a new access token for c->who and refresh (made by
 * the caller and already stored). */
static void tokens_reply(struct http_api_call *c, const char *refresh)
{
	const struct http_api_conf *conf = &c->ctx->api;
	cJSON *o;
	char *access = NULL;
	int rc;

	rc = http_api_jwt_encode(conf->key, c->who.id, (long long)time(NULL),
				 conf->access_ttl_s, &access);
	if (rc) {
		http_api_fail(c, "http.api_token", rc, NULL);
		return;
	}
	o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "access_token", access);
		cJSON_AddStringToObject(o, "token_type", "Bearer");
		cJSON_AddNumberToObject(o, "expires_in", conf->access_ttl_s);
		cJSON_AddStringToObject(o, "refresh_token", refresh);
	}
	free(access);
	http_api_reply(c, 200, o);
}

static void too_many(struct http_api_call *c, int retry)
{
	http_api_problem(c->r, 429, "rate-limited", "Too Many Requests",
			 "Too many failed attempts; wait before trying "
			 "again.");
	c->r->retry_after = retry > 0 ? retry : 1;
}

struct login_body {
	char email[256];
	char password[1025];
};

static const struct http_api_field login_fields[] = {
	{.name = "email", .type = HTTP_API_RAW, .required = true, .max = 254,
	 .off = offsetof(struct login_body, email),
	 .size = sizeof(((struct login_body *)0)->email)},
	{.name = "password", .type = HTTP_API_RAW, .required = true,
	 .max = 1024, .off = offsetof(struct login_body, password),
	 .size = sizeof(((struct login_body *)0)->password)},
};

void http_api_auth_token(struct http_api_call *c)
{
	struct http_ctx *ctx = c->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	const struct keryu_admin *adm = ctx->admin;
	struct http_api_errors e = {0};
	struct login_body b;
	struct http_login_key keys[HTTP_LOGIN_KEYS];
	char email[255], refresh[64], hash[KERYU_HASH_HEX];
	const char *ip = c->req->client_ip ? c->req->client_ip : "";
	bool found = false, ok = false;
	int rc, left;

	memset(&b, 0, sizeof(b));
	if (!http_api_json_read(c->body, login_fields, 2, &b, &e, NULL)) {
		http_api_invalid(c->r, &e);
		goto out;
	}
	if (!adm) {
		http_api_unavailable(c);
		goto out;
	}
	if (http_email_normalise(b.email, email) != NULL)
		email[0] = '\0';
	http_login_keys(ctx, email, ip, keys);
	left = http_login_blocked(ctx, keys, "api");
	if (left) {
		too_many(c, left);
		goto out;
	}
	memset(&c->who, 0, sizeof(c->who));
	if (email[0]) {
		rc = a->custodian_by_email(a->self, email, &c->who);
		if (rc && rc != KERYU_ENOTFOUND) {
			http_api_fail(c, "http.api_token", rc, NULL);
			goto out;
		}
		found = rc == 0;
	}
	/* the same work whether or not the account exists */
	if (http_pwhash_check(ctx, found ? c->who.password_hash : NULL,
			      b.password, &ok)) {
		http_api_unavailable(c); /* nothing was checked */
		goto out;
	}
	sodium_memzero(c->who.password_hash, sizeof(c->who.password_hash));
	if (!ok || !found || !c->who.is_active) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.api_token",
			       "result=refused");
		http_audit(ctx, c->req, "api", NULL, b.email, "login.failed",
			   NULL, NULL, NULL);
		if (http_login_failed(ctx, keys))
			too_many(c, http_login_retry_after());
		else
			unauthorized(c, false,
				     "The email or password is wrong.");
		goto out;
	}
	c->authed = true;
	refresh_new(ctx, refresh, hash);
	rc = adm->refresh_create(adm->self, hash, c->who.id,
				 ctx->api.refresh_ttl_s);
	if (rc) {
		http_api_fail(c, "http.api_token", rc, NULL);
		goto out;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.api_token",
		       "result=ok custodian=%s", c->who.id);
	http_api_audit(c, "api.token", "custodian", c->who.id, NULL);
	tokens_reply(c, refresh);
	sodium_memzero(refresh, sizeof(refresh));
out:
	sodium_memzero(&b, sizeof(b));
}

struct refresh_body {
	char token[REFRESH_MAX + 1];
};

static const struct http_api_field refresh_fields[] = {
	{.name = "refresh_token", .type = HTTP_API_RAW, .required = true,
	 .max = REFRESH_MAX, .off = offsetof(struct refresh_body, token),
	 .size = sizeof(((struct refresh_body *)0)->token)},
};

/* The body's refresh token as the HMAC it is stored under. False after
 * answering 400, or 503 without the admin service. */
static bool refresh_read(struct http_api_call *c, char hash[KERYU_HASH_HEX])
{
	struct http_api_errors e = {0};
	struct refresh_body b = {{0}};

	if (!http_api_json_read(c->body, refresh_fields, 1, &b, &e, NULL)) {
		http_api_invalid(c->r, &e);
		return false;
	}
	if (!c->ctx->admin) {
		http_api_unavailable(c);
		return false;
	}
	http_hmac_hex(c->ctx, b.token, hash);
	sodium_memzero(&b, sizeof(b));
	return true;
}

void http_api_auth_refresh(struct http_api_call *c)
{
	struct http_ctx *ctx = c->ctx;
	const struct keryu_admin *adm = ctx->admin;
	const struct keryu_accounts *a = ctx->accounts;
	char old_hash[KERYU_HASH_HEX], hash[KERYU_HASH_HEX], refresh[64];
	char who[KERYU_UUID_LEN];
	int rc;

	if (!refresh_read(c, old_hash))
		return;
	refresh_new(ctx, refresh, hash);
	rc = adm->refresh_rotate(adm->self, old_hash, hash,
				 ctx->api.refresh_ttl_s, who);
	if (!rc)
		rc = a->custodian_get(a->self, who, &c->who);
	sodium_memzero(c->who.password_hash, sizeof(c->who.password_hash));
	if (rc == KERYU_ENOTFOUND || (!rc && !c->who.is_active)) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.api_refresh",
			       "result=refused");
		unauthorized(c, false, "The refresh token is invalid, "
				       "expired or already used.");
		return;
	}
	if (rc) {
		http_api_fail(c, "http.api_refresh", rc, NULL);
		return;
	}
	c->authed = true;
	http_api_audit(c, "api.refresh", "custodian", c->who.id, NULL);
	tokens_reply(c, refresh);
	sodium_memzero(refresh, sizeof(refresh));
}

void http_api_auth_logout(struct http_api_call *c)
{
	const struct keryu_admin *adm = c->ctx->admin;
	char hash[KERYU_HASH_HEX];
	int rc;

	if (!refresh_read(c, hash))
		return;
	rc = adm->refresh_revoke(adm->self, hash);
	if (rc) {
		http_api_fail(c, "http.api_logout", rc, NULL);
		return;
	}
	/* the token's owner is not looked up: the answer is the same for
	 * any token, so the entry has no actor */
	http_audit(c->ctx, c->req, "api", NULL, NULL, "api.logout",
		   "refresh_token", NULL, NULL);
	http_api_no_content(c);
}

void http_api_me(struct http_api_call *c)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "id", c->who.id);
		cJSON_AddStringToObject(o, "email", c->who.email);
		cJSON_AddStringToObject(o, "name", c->who.name);
		http_api_add_str(o, "phone", c->who.phone);
		cJSON_AddBoolToObject(o, "phone_verified",
				      c->who.phone_verified);
		cJSON_AddBoolToObject(o, "is_staff", c->who.is_staff);
		cJSON_AddBoolToObject(o, "is_active", c->who.is_active);
		cJSON_AddStringToObject(o, "created_at", c->who.created_at);
	}
	http_api_reply(c, 200, o);
}
