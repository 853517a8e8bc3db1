/* Password hashing: argon2id through libsodium. Each hash or verification
 * takes 64 MiB (MEMLIMIT_INTERACTIVE), so at most two run at once; more
 * logins queue on the semaphore rather than exhaust memory. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "http_module.h"

static void slot_take(struct http_ctx *ctx)
{
	while (sem_wait(&ctx->pwhash_slots) != 0 && errno == EINTR)
		;
}

static void slot_give(struct http_ctx *ctx)
{
	sem_post(&ctx->pwhash_slots);
}

int http_pwhash_init(struct http_ctx *ctx)
{
	if (sem_init(&ctx->pwhash_slots, 0, 2) != 0)
		return KERYU_ERR;
	if (pthread_mutex_init(&ctx->dummy_lock, NULL) != 0) {
		sem_destroy(&ctx->pwhash_slots);
		return KERYU_ERR;
	}
	/* the login-failure blocks (http_account.c) live with these */
	if (pthread_mutex_init(&ctx->block_lock, NULL) != 0) {
		pthread_mutex_destroy(&ctx->dummy_lock);
		sem_destroy(&ctx->pwhash_slots);
		return KERYU_ERR;
	}
	ctx->pwhash_slots_ready = true;
	return 0;
}

void http_pwhash_cleanup(struct http_ctx *ctx)
{
	if (!ctx->pwhash_slots_ready)
		return;
	sem_destroy(&ctx->pwhash_slots);
	pthread_mutex_destroy(&ctx->dummy_lock);
	pthread_mutex_destroy(&ctx->block_lock);
	ctx->pwhash_slots_ready = false;
}

int http_pwhash(struct http_ctx *ctx, const char *password,
		char out[crypto_pwhash_STRBYTES])
{
	int rc;

	slot_take(ctx);
	rc = crypto_pwhash_str(out, password, strlen(password),
			       crypto_pwhash_OPSLIMIT_INTERACTIVE,
			       crypto_pwhash_MEMLIMIT_INTERACTIVE);
	slot_give(ctx);
	return rc == 0 ? 0 : KERYU_ENOMEM;
}

/* A hash of a random password, made once, so that a login for an unknown
 * email costs what a real verification costs. */
static const char *dummy_hash(struct http_ctx *ctx)
{
	pthread_mutex_lock(&ctx->dummy_lock);
	if (!ctx->dummy_hash[0]) {
		unsigned char raw[16];
		char pw[33], h[crypto_pwhash_STRBYTES];

		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(pw, sizeof(pw), raw, sizeof(raw));
		if (http_pwhash(ctx, pw, h) == 0)
			memcpy(ctx->dummy_hash, h, sizeof(h));
	}
	pthread_mutex_unlock(&ctx->dummy_lock);
	return ctx->dummy_hash;
}

void http_pwhash_warm(struct http_ctx *ctx)
{
	(void)dummy_hash(ctx);
}

bool http_pwhash_verify(struct http_ctx *ctx, const char *hash,
			const char *password)
{
	bool real = hash && *hash;
	const char *h = real ? hash : dummy_hash(ctx);
	int rc;

	if (!*h)
		return false;
	slot_take(ctx);
	rc = crypto_pwhash_str_verify(h, password, strlen(password));
	slot_give(ctx);
	return real && rc == 0;
}
