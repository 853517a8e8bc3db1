/* Password hashing: argon2id through libsodium. Each hash or verification
 * takes 64 MiB (MEMLIMIT_INTERACTIVE), so at most two run at once; more
 * logins queue on the semaphore rather than exhaust memory. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http_module.h"

/* False when no slot freed up within pwhash_wait_ms: a busy server
 * answers 503 rather than stall the MHD thread (and every connection it
 * serves, the public scan page included). */
static bool slot_take(struct http_ctx *ctx)
{
	struct timespec until;
	long long ns;
	int wait_ms = ctx->pwhash_wait_ms > 0 ? ctx->pwhash_wait_ms : 2000;

	clock_gettime(CLOCK_REALTIME, &until);
	ns = (long long)until.tv_nsec + (long long)wait_ms * 1000000LL;
	until.tv_sec += (time_t)(ns / 1000000000LL);
	until.tv_nsec = (long)(ns % 1000000000LL);
	for (;;) {
		if (sem_timedwait(&ctx->pwhash_slots, &until) == 0)
			return true;
		if (errno != EINTR)
			return false;
	}
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
	if (ctx->pwhash_wait_ms <= 0)
		ctx->pwhash_wait_ms = 2000;
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

	if (!slot_take(ctx)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.pwhash_busy",
			       "wait_ms=%d", ctx->pwhash_wait_ms);
		return KERYU_ETIMEDOUT;
	}
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

int http_pwhash_check(struct http_ctx *ctx, const char *hash,
		      const char *password, bool *ok)
{
	bool real = hash && *hash;
	const char *h = real ? hash : dummy_hash(ctx);
	int rc;

	*ok = false;
	if (!*h) /* the dummy could not be made: busy */
		return KERYU_ETIMEDOUT;
	if (!slot_take(ctx)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.pwhash_busy",
			       "wait_ms=%d", ctx->pwhash_wait_ms);
		return KERYU_ETIMEDOUT;
	}
	rc = crypto_pwhash_str_verify(h, password, strlen(password));
	slot_give(ctx);
	*ok = real && rc == 0;
	return 0;
}

bool http_pwhash_verify(struct http_ctx *ctx, const char *hash,
			const char *password)
{
	bool ok;

	return http_pwhash_check(ctx, hash, password, &ok) == 0 && ok;
}
