/* channel_config_read: the engine's settings from a module's options
 * (declared with the CHANNEL_OPT_ entries of channel.h). */
#include "channel.h"

void channel_config_read(const struct keryu_host *host, keryu_mod *m,
			 struct channel_config *cfg)
{
	cfg->host = host;
	cfg->m = m;
	cfg->timeout_ms = (long)host->config_int(m, "timeout_ms");
	cfg->connect_timeout_ms = (long)host->config_int(m, "connect_timeout_ms");
	cfg->max_in_flight = (int)host->config_int(m, "max_in_flight");
	cfg->retry_base_ms = (unsigned)host->config_int(m, "retry_base_ms");
	cfg->max_attempts = (int)host->config_int(m, "max_attempts");
	cfg->rate_per_s = (double)host->config_int(m, "rate_per_s");
	cfg->queue_max = (size_t)host->config_int(m, "queue_max");
	/* never hold the bus thread: it also carries our results out */
	cfg->submit_wait_ms = 0;
}
