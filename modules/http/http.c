/* The http module: descriptor and lifecycle. Pages and handlers live in
 * http_router.c and the files it calls; libmicrohttpd in http_server.c. */
#include <stddef.h>
#include <stdlib.h>

#include "http_module.h"

static const char *const requires_list[] = {KERYU_SERVICE_STORAGE, NULL};

static const struct keryu_option options[] = {
	{.key = "port", .type = KERYU_OPT_INT, .def = "8000",
	 .help = "TCP port to listen on", .min = 1, .max = 65535},
	{.key = "bind", .type = KERYU_OPT_STR, .def = "127.0.0.1",
	 .help = "IP address to listen on (IPv4 or IPv6 literal)"},
	{.key = "public_url", .type = KERYU_OPT_URL,
	 .def = "http://127.0.0.1:8000",
	 .help = "URL the public reaches this server at (used in QR codes)"},
	{.key = "threads", .type = KERYU_OPT_INT, .def = "4",
	 .help = "worker threads (epoll thread pool)", .min = 1, .max = 256},
	{.key = "allowed_hosts", .type = KERYU_OPT_STR, .def = "",
	 .help = "comma-separated host names accepted in the Host header; "
		 "empty accepts any"},
	{.key = "max_body", .type = KERYU_OPT_INT, .def = "1048576",
	 .help = "largest request body accepted, in bytes", .min = 0,
	 .max = 1073741824},
	{.key = "scan_ack_timeout_ms", .type = KERYU_OPT_INT, .def = "2000",
	 .help = "how long a scan waits for the broker to acknowledge its "
		 "event before the page says the alert is queued but not yet "
		 "confirmed",
	 .min = 1, .max = 60000},
	{0},
};

static int http_init(keryu_mod *m, const struct keryu_host *host,
		     void **state)
{
	struct http_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	if (!ctx)
		return KERYU_ENOMEM;
	ctx->m = m;
	ctx->host = host;
	ctx->storage = host->service(m, KERYU_SERVICE_STORAGE);
	if (!ctx->storage ||
	    ctx->storage->struct_size <
		    offsetof(struct keryu_storage, alarm_from_scan)) {
		host->log(m, KERYU_LOG_ERROR, "http.init",
			  "error=\"storage service missing or too old\"");
		free(ctx);
		return KERYU_ENOTFOUND;
	}
	rc = http_config_load(ctx);
	if (rc) {
		free(ctx);
		return rc;
	}
	*state = ctx;
	return 0;
}

static int http_start(void *state)
{
	return http_server_start(state);
}

static void http_stop(void *state, int deadline_ms)
{
	/* in-flight scans end within scan_ack_timeout_ms by construction */
	(void)deadline_ms;
	http_server_stop(state);
}

static void http_cleanup(void *state)
{
	if (!state)
		return;
	http_server_stop(state);
	free(state);
}

KERYU_MODULE_DEFINE(.name = "http",
		    .description = "public scan page and health check "
				   "(libmicrohttpd)",
		    .requires = requires_list, .options = options,
		    .init = http_init, .start = http_start, .stop = http_stop,
		    .cleanup = http_cleanup);
