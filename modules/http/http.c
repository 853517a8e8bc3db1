/* The http module: descriptor and lifecycle. Pages and handlers live in
 * http_router.c and the files it calls; libmicrohttpd in http_server.c. */
#include <stddef.h>
#include <stdlib.h>

#include <sodium.h>

#include "http_api.h"
#include "http_module.h"
#include "http_webhooks.h"

static const char *const requires_list[] = {
	KERYU_SERVICE_STORAGE, KERYU_SERVICE_ACCOUNTS, KERYU_SERVICE_SUBJECTS,
	KERYU_SERVICE_QR, KERYU_SERVICE_ADMIN, NULL};

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
	{.key = "max_body", .type = KERYU_OPT_INT, .def = "6291456",
	 .help = "largest request body accepted, in bytes; keep it at least "
		 "photo_max_bytes + 65536 so a photo fits with its form",
	 .min = 0, .max = 1073741824},
	{.key = "trusted_proxies", .type = KERYU_OPT_STR, .def = "",
	 .help = "comma-separated IP addresses of reverse proxies whose "
		 "X-Forwarded-For names the client (for rate limits); empty "
		 "trusts none"},
	{.key = "form_max_bytes", .type = KERYU_OPT_INT, .def = "65536",
	 .help = "largest body of a form post other than a photo upload, in "
		 "bytes (photo uploads may use up to max_body)",
	 .min = 1024, .max = 1073741824},
	{.key = "max_connections", .type = KERYU_OPT_INT, .def = "1024",
	 .help = "most connections open at once", .min = 1, .max = 1000000},
	{.key = "max_conn_per_ip", .type = KERYU_OPT_INT, .def = "32",
	 .help = "most connections open at once from one IP address (the "
		 "socket peer: behind a proxy, the proxy); 0 is unlimited",
	 .min = 0, .max = 1000000},
	{.key = "scan_ack_timeout_ms", .type = KERYU_OPT_INT, .def = "2000",
	 .help = "how long a scan waits for the broker to acknowledge its "
		 "event before the page says the alert is queued but not yet "
		 "confirmed",
	 .min = 1, .max = 60000},
	{.key = "verify_channel", .type = KERYU_OPT_STR, .def = "log",
	 .help = "channel that carries one-time codes to custodians' phones "
		 "(delivery requests on keryu/v1/notify/<channel>)"},
	{.key = "verify_template", .type = KERYU_OPT_STR,
	 .def = "keryu_verify_code",
	 .help = "message template of a one-time code; its one parameter is "
		 "the code"},
	{.key = "verify_language", .type = KERYU_OPT_STR, .def = "en_US",
	 .help = "language of the one-time code template"},
	{.key = "contact_channels", .type = KERYU_OPT_STR,
	 .def = "whatsapp,sms,twilio,log",
	 .help = "comma-separated channels a custodian may choose for an "
		 "emergency contact and its fallback, in the order offered; "
		 "each is the name of a module subscribed to "
		 "keryu/v1/notify/<name> (a-z, 0-9, _ and -)"},
	{.key = "session_idle_s", .type = KERYU_OPT_INT, .def = "86400",
	 .help = "a session unused this many seconds is logged out",
	 .min = 60, .max = 31536000},
	{.key = "session_max_s", .type = KERYU_OPT_INT, .def = "2592000",
	 .help = "a session ends this many seconds after its login, used or "
		 "not",
	 .min = 60, .max = 31536000},
	{.key = "photo_dir", .type = KERYU_OPT_STR, .def = "var/photos",
	 .help = "folder for subjects' photos (created with mode 0700 at "
		 "start when missing)"},
	{.key = "locale_dir", .type = KERYU_OPT_STR, .def = "",
	 .help = "folder of the compiled translations (<lang>.mo) of the "
		 "public pages; empty: share/keryu/locale beside the module's "
		 "lib/ folder (the build tree or the install prefix)"},
	{.key = "photo_max_bytes", .type = KERYU_OPT_INT, .def = "5242880",
	 .help = "largest photo accepted, in bytes (larger uploads get 413)",
	 .min = 1024, .max = 1073741824},
	{.key = "webhook_max_bytes", .type = KERYU_OPT_INT, .def = "3145728",
	 .help = "largest provider webhook post (POST /webhooks/whatsapp and "
		 "/webhooks/twilio/status, read raw, not as a form), in bytes; "
		 "Meta sends up to 3 MB",
	 .min = 1024, .max = 1073741824},
	{.key = "finder_token_ttl_s", .type = KERYU_OPT_INT, .def = "3600",
	 .help = "how long the scan page's token lets the finder share a "
		 "location, send a report and see the alert's state, in "
		 "seconds",
	 .min = 1, .max = 604800},
	{.key = "scan_limit_per_ip", .type = KERYU_OPT_INT, .def = "30",
	 .help = "scans one client address (IPv6: one /64) may make per "
		 "scan_limit_window_s before it gets 429 and nothing is "
		 "published; 0 is unlimited",
	 .min = 0, .max = 1000000},
	{.key = "scan_limit_per_tag", .type = KERYU_OPT_INT, .def = "60",
	 .help = "scans of one tag, from anyone, per scan_limit_window_s "
		 "before 429 (protects the providers); 0 is unlimited",
	 .min = 0, .max = 1000000},
	{.key = "scan_limit_window_s", .type = KERYU_OPT_INT, .def = "60",
	 .help = "the scan limits' window, in seconds (the limits are "
		 "counted in each http process's memory)",
	 .min = 1, .max = 86400},
	{.key = "api_max_bytes", .type = KERYU_OPT_INT, .def = "65536",
	 .help = "largest JSON API request body (/api/v1/), in bytes; larger "
		 "ones get 413",
	 .min = 1024, .max = 16777216},
	{.key = "api_access_ttl_s", .type = KERYU_OPT_INT, .def = "900",
	 .help = "lifetime of a JSON API access token (JWT), in seconds",
	 .min = 60, .max = 86400},
	{.key = "api_refresh_ttl_s", .type = KERYU_OPT_INT, .def = "2592000",
	 .help = "lifetime of a JSON API refresh token, in seconds (each use "
		 "replaces it with a new one)",
	 .min = 300, .max = 31536000},
	{.key = "api_rate_per_ip", .type = KERYU_OPT_INT, .def = "600",
	 .help = "JSON API requests one client address may make per minute "
		 "before 429 (counted in each http process's memory); 0 is "
		 "unlimited",
	 .min = 0, .max = 1000000},
	{.key = "api_rate_per_token", .type = KERYU_OPT_INT, .def = "300",
	 .help = "JSON API requests one custodian's tokens may make per "
		 "minute before 429; 0 is unlimited",
	 .min = 0, .max = 1000000},
	{.key = "metrics_token", .type = KERYU_OPT_STR, .def = "",
	 .flags = KERYU_OPT_SECRET,
	 .help = "bearer token a scraper sends to read /metrics "
		 "(Authorization: Bearer <token>); empty lets only loopback "
		 "clients (127.0.0.0/8, ::1) read it"},
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
	ctx->photo_dirfd = -1;
	ctx->count_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	ctx->metrics_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	atomic_init(&ctx->started, false);
	ctx->storage = host->service(m, KERYU_SERVICE_STORAGE);
	if (!ctx->storage ||
	    ctx->storage->struct_size <
		    offsetof(struct keryu_storage, notification_result)) {
		host->log(m, KERYU_LOG_ERROR, "http.init",
			  "error=\"storage service missing or too old\"");
		free(ctx);
		return KERYU_ENOTFOUND;
	}
	ctx->accounts = host->service(m, KERYU_SERVICE_ACCOUNTS);
	if (!ctx->accounts ||
	    ctx->accounts->struct_size <
		    offsetof(struct keryu_accounts, reserved)) {
		host->log(m, KERYU_LOG_ERROR, "http.init",
			  "error=\"accounts service missing or too old\"");
		free(ctx);
		return KERYU_ENOTFOUND;
	}
	ctx->subjects = host->service(m, KERYU_SERVICE_SUBJECTS);
	if (!ctx->subjects ||
	    ctx->subjects->struct_size <
		    offsetof(struct keryu_subjects, reserved)) {
		/* the account pages still work; the subjects pages say 503 */
		host->log(m, KERYU_LOG_ERROR, "http.init",
			  "error=\"subjects service missing or too old\"");
		ctx->subjects = NULL;
	}
	ctx->admin = host->service(m, KERYU_SERVICE_ADMIN);
	if (ctx->admin &&
	    ctx->admin->struct_size < offsetof(struct keryu_admin, reserved))
		ctx->admin = NULL;
	if (!ctx->admin) /* the staff pages and the API say 503 */
		host->log(m, KERYU_LOG_ERROR, "http.init",
			  "error=\"admin service missing or too old\"");
	ctx->qr = host->service(m, KERYU_SERVICE_QR);
	if (ctx->qr &&
	    ctx->qr->struct_size < offsetof(struct keryu_qr, reserved))
		ctx->qr = NULL;
	if (!ctx->qr) /* only the tag images need it: they say 503 */
		host->log(m, KERYU_LOG_ERROR, "http.init",
			  "error=\"qr service missing or too old\"");
	if (sodium_init() < 0) {
		host->log(m, KERYU_LOG_ERROR, "http.init",
			  "error=\"libsodium failed to initialise\"");
		free(ctx);
		return KERYU_ERR;
	}
	rc = http_config_load(ctx);
	if (!rc)
		rc = http_secret_load(ctx);
	if (!rc) /* before the server starts: requests only read it */
		http_api_jwt_key(ctx->secret, ctx->secret_len, ctx->api.key);
	if (!rc)
		rc = http_pwhash_init(ctx);
	if (rc) {
		free(ctx);
		return rc;
	}
	http_webhooks_log_config(ctx);
	*state = ctx;
	return 0;
}

static int http_start(void *state)
{
	int rc;

	/* the dummy hash for unknown logins, made before the first one */
	http_pwhash_warm(state);
	rc = http_photo_dir_open(state);
	if (rc)
		return rc;
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
	http_photo_dir_close(state);
	http_pwhash_cleanup(state);
	sodium_memzero(((struct http_ctx *)state)->secret,
		       sizeof(((struct http_ctx *)state)->secret));
	sodium_memzero(((struct http_ctx *)state)->metrics_token,
		       sizeof(((struct http_ctx *)state)->metrics_token));
	sodium_memzero(((struct http_ctx *)state)->api.key,
		       sizeof(((struct http_ctx *)state)->api.key));
	free(state);
}

KERYU_MODULE_DEFINE(.name = "http",
		    .description = "public scan page, custodian accounts, "
				   "subjects and health check "
				   "(libmicrohttpd)",
		    .requires = requires_list, .options = options,
		    .init = http_init, .start = http_start, .stop = http_stop,
		    .cleanup = http_cleanup);
