/* Provider webhooks. For now Meta's hub verification: Meta proves the
 * callback URL is ours by sending back the verify token we gave it, and
 * expects its challenge echoed as the raw body. */
#include <ctype.h>
#include <string.h>

#include <sodium.h>

#include "http_webhooks.h"

#define CHALLENGE_MAX 64

static bool challenge_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n < 1 || n > CHALLENGE_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Hashing both sides first makes the comparison constant time whatever
 * their lengths, so the token's length does not leak either. */
static bool token_equal(const char *ours, const char *theirs)
{
	unsigned char a[32], b[32];

	crypto_generichash(a, sizeof(a), (const unsigned char *)ours,
			   strlen(ours), NULL, 0);
	crypto_generichash(b, sizeof(b), (const unsigned char *)theirs,
			   strlen(theirs), NULL, 0);
	return sodium_memcmp(a, b, sizeof(a)) == 0;
}

void http_webhook_whatsapp_verify(struct http_ctx *ctx,
				  const struct http_request *req,
				  struct http_response *r)
{
	const char *mode = http_form_get(req->query, "hub.mode");
	const char *challenge = http_form_get(req->query, "hub.challenge");
	const char *token = http_form_get(req->query, "hub.verify_token");
	const char *why = NULL;

	if (!ctx->whatsapp_verify_token[0])
		why = "verify_token not configured";
	else if (!mode || strcmp(mode, "subscribe") != 0)
		why = "bad hub.mode";
	else if (!challenge_ok(challenge))
		why = "bad hub.challenge";
	else if (!token || !token_equal(ctx->whatsapp_verify_token, token))
		why = "verify_token mismatch";

	r->no_store = true;
	r->content_type = "text/plain; charset=utf-8";
	if (why) {
		/* neither token is logged: one is ours, one a guess */
		ctx->host->log(ctx->m, KERYU_LOG_WARN,
			       "http.webhook_verify_refused",
			       "provider=whatsapp status=403 error=\"%s\"", why);
		r->status = 403;
		html_raw(&r->body, "Forbidden\n");
		return;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.webhook_verified",
		       "provider=whatsapp");
	r->status = 200;
	/* only digits, checked above */
	html_bytes(&r->body, challenge, strlen(challenge));
}
