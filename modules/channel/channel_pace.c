/* The engine's pacing arithmetic: retry backoff and the send-rate bucket.
 * Pure functions of their arguments, so tests drive them with fixed clocks
 * and fixed random numbers. */
#include "channel.h"

unsigned channel_backoff_ms(unsigned base_ms, int attempt, uint32_t random)
{
	uint64_t ceiling = base_ms;
	int i;

	/* doubling stops at the cap, so nothing overflows */
	for (i = 1; i < attempt && ceiling < CHANNEL_BACKOFF_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > CHANNEL_BACKOFF_CAP_MS)
		ceiling = CHANNEL_BACKOFF_CAP_MS;
	/* scaled, not modulo: UINT32_MAX reaches the ceiling itself */
	return (unsigned)(ceiling * random / UINT32_MAX);
}

void channel_bucket_init(struct channel_bucket *b, double rate, double burst,
			 uint64_t now_ms)
{
	b->rate = rate > 0 ? rate : 0;
	b->burst = burst < 1 ? 1 : burst;
	b->tokens = b->burst;
	b->last_ms = now_ms;
}

unsigned channel_bucket_take(struct channel_bucket *b, uint64_t now_ms)
{
	double missing, ms;

	if (b->rate <= 0)
		return 0;
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	missing = 1.0 - b->tokens;
	ms = missing * 1000.0 / b->rate;
	/* round up: waking early would only find the bucket still short */
	if (ms > 3600000.0)
		return 3600000u;
	return ms < 1.0 ? 1u : (unsigned)(ms + 0.999999);
}
