/* The http module's options, checked once at init so a bad value stops
 * start-up with one line instead of surfacing on the first request. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_module.h"

static int bad(struct http_ctx *ctx, const char *key, const char *why)
{
	ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.config", "key=%s error=\"%s\"",
		       key, why);
	return KERYU_EINVAL;
}

/* Adds one trimmed, non-empty name of n bytes, lower-cased and without
 * its port (a bracketed IPv6 literal loses its brackets). */
static int add_host(struct http_ctx *ctx, const char *p, size_t n)
{
	char *dst;
	size_t i;

	if (ctx->n_allowed_hosts == HTTP_MAX_ALLOWED_HOSTS)
		return bad(ctx, "allowed_hosts", "too many names");
	if (n >= HTTP_HOST_NAME_MAX)
		return bad(ctx, "allowed_hosts", "name too long");
	dst = ctx->allowed_hosts[ctx->n_allowed_hosts++];
	for (i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)p[i]);
	dst[n] = '\0';
	if (dst[0] == '[') {
		char *close = strchr(dst, ']');

		if (!close)
			return bad(ctx, "allowed_hosts",
				   "unclosed [ in an IPv6 name");
		memmove(dst, dst + 1, (size_t)(close - dst - 1));
		dst[close - dst - 1] = '\0';
	} else {
		char *colon = strchr(dst, ':');

		if (colon && !strchr(colon + 1, ':'))
			*colon = '\0';
	}
	if (!dst[0])
		return bad(ctx, "allowed_hosts", "empty name");
	return 0;
}

/* "a.example, B.example:8000" -> {"a.example", "b.example"}. A port in the
 * list is ignored: the check is on names, as the request's port is. */
static int load_proxies(struct http_ctx *ctx, const char *list)
{
	const char *p = list;

	ctx->n_trusted_proxies = 0;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char ip[INET6_ADDRSTRLEN];
		unsigned char *a;

		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n) {
			if (n >= sizeof(ip) ||
			    ctx->n_trusted_proxies == HTTP_MAX_PROXIES)
				return bad(ctx, "trusted_proxies",
					   "at most 16 IP addresses");
			memcpy(ip, p, n);
			ip[n] = '\0';
			a = ctx->trusted_proxies[ctx->n_trusted_proxies];
			memset(a, 0, 16);
			if (inet_pton(AF_INET, ip, a + 12) == 1) {
				a[10] = a[11] = 0xff; /* v4-mapped */
			} else if (inet_pton(AF_INET6, ip, a) != 1) {
				return bad(ctx, "trusted_proxies",
					   "must be IP addresses");
			}
			ctx->n_trusted_proxies++;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static int load_allowed_hosts(struct http_ctx *ctx, const char *list)
{
	const char *p = list;
	int rc;

	ctx->n_allowed_hosts = 0;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n && (rc = add_host(ctx, p, n)) != 0)
			return rc;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* Copies option key into out: a non-empty name of letters, digits and
 * "_" (a channel also goes into a topic, so lower case only). */
static int copy_name(struct http_ctx *ctx, const char *key, char *out,
		     size_t size, bool lower_only)
{
	const char *v = ctx->host->config(ctx->m, key);
	size_t i, n = v ? strlen(v) : 0;

	if (n == 0 || n >= size)
		return bad(ctx, key, "must be 1 to a few dozen characters");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!(islower(c) || isdigit(c) || c == '_' ||
		      (!lower_only && (isupper(c) || c == '-'))))
			return bad(ctx, key,
				   lower_only ? "only a-z, 0-9 and _"
					      : "only letters, digits, _ and -");
	}
	memcpy(out, v, n + 1);
	return 0;
}

/* Channels with a label of their own; any other is shown by name. */
static const char *const channel_labels[] = {
	"whatsapp", "WhatsApp",		 "sms", "SMS",
	"twilio",   "WhatsApp (Twilio)", "log", "Log only (testing)",
	NULL,
};

const char *http_channel_label(const char *name)
{
	const char *const *o;

	for (o = channel_labels; o[0]; o += 2)
		if (strcmp(name, o[0]) == 0)
			return o[1];
	return name;
}

bool http_channel_offered(const struct http_ctx *ctx, const char *name)
{
	size_t i;

	for (i = 0; name && i < ctx->n_contact_channels; i++)
		if (strcmp(name, ctx->contact_channel[i]) == 0)
			return true;
	return false;
}

/* "whatsapp, sms" -> the names and both select lists. A name is what a
 * contact's channel may be (storage and the schema check the same: it
 * goes into keryu/v1/notify/<name>); whether a module serves it is not
 * checked here, as that module may run in another process. */
static int load_channels(struct http_ctx *ctx, const char *list)
{
	const char *key = "contact_channels", *p = list;
	size_t i, o = 0, f = 0;

	ctx->n_contact_channels = 0;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *dst;

		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n) {
			if (ctx->n_contact_channels == HTTP_CHANNELS_MAX)
				return bad(ctx, key, "at most 16 channels");
			dst = ctx->contact_channel[ctx->n_contact_channels];
			if (n >= sizeof(ctx->contact_channel[0]) ||
			    strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_-") <
				    n)
				return bad(ctx, key,
					   "each channel must be 1 to 31 of "
					   "a-z, 0-9, _ and -");
			memcpy(dst, p, n);
			dst[n] = '\0';
			if (http_channel_offered(ctx, dst))
				return bad(ctx, key, "a channel is listed twice");
			ctx->n_contact_channels++;
		}
		p = end ? end + 1 : NULL;
	}
	if (ctx->n_contact_channels == 0)
		return bad(ctx, key, "must name at least one channel");
	ctx->fallback_opts[f++] = "";
	ctx->fallback_opts[f++] = "None";
	for (i = 0; i < ctx->n_contact_channels; i++) {
		const char *name = ctx->contact_channel[i];

		ctx->channel_opts[o++] = name;
		ctx->channel_opts[o++] = http_channel_label(name);
		ctx->fallback_opts[f++] = name;
		ctx->fallback_opts[f++] = http_channel_label(name);
	}
	ctx->channel_opts[o] = NULL;
	ctx->fallback_opts[f] = NULL;
	return 0;
}

/* One integer option in min..max into *out. */
static int load_int(struct http_ctx *ctx, const char *key, long long min,
		    long long max, long long *out)
{
	long long v = ctx->host->config_int(ctx->m, key);
	char why[64];

	if (v < min || v > max) {
		snprintf(why, sizeof(why), "must be %lld..%lld", min, max);
		return bad(ctx, key, why);
	}
	*out = v;
	return 0;
}

/* The same into an int field (every range here fits one). */
static int load_int32(struct http_ctx *ctx, const char *key, int min, int max,
		      int *out)
{
	long long v = 0;
	int rc = load_int(ctx, key, min, max, &v);

	if (!rc)
		*out = (int)v;
	return rc;
}

/* The photo folder and size cap. A max_body too small for the cap is
 * allowed (an admin may want small bodies) but said once: such photos are
 * refused by the server's body limit before the page sees them. */
static int load_photos(struct http_ctx *ctx)
{
	const char *dir = ctx->host->config(ctx->m, "photo_dir");
	long long v = 0;

	if (!dir || !*dir || strlen(dir) >= sizeof(ctx->photo_dir))
		return bad(ctx, "photo_dir", "must be a folder path");
	snprintf(ctx->photo_dir, sizeof(ctx->photo_dir), "%s", dir);
	if (load_int(ctx, "photo_max_bytes", 1024, 1073741824, &v))
		return KERYU_EINVAL;
	ctx->photo_max_bytes = v;
	if (ctx->max_body < v + HTTP_PHOTO_FORM_SLACK)
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.config",
			       "key=max_body max_body=%lld photo_max_bytes=%lld "
			       "error=\"photos over max_body - %d bytes will "
			       "be refused with 413\"",
			       ctx->max_body, v, HTTP_PHOTO_FORM_SLACK);
	return 0;
}

/* The JSON API's options (api_*); its key comes with the secret. */
static int load_api(struct http_ctx *ctx)
{
	struct http_api_conf *c = &ctx->api;
	int rc;

	rc = load_int(ctx, "api_max_bytes", 1024, 16777216, &c->max_bytes);
	if (!rc)
		rc = load_int32(ctx, "api_access_ttl_s", 60, 86400,
				&c->access_ttl_s);
	if (!rc)
		rc = load_int32(ctx, "api_refresh_ttl_s", 300, 31536000,
				&c->refresh_ttl_s);
	if (!rc)
		rc = load_int32(ctx, "api_rate_per_ip", 0, 1000000,
				&c->rate_per_ip);
	if (!rc)
		rc = load_int32(ctx, "api_rate_per_token", 0, 1000000,
				&c->rate_per_token);
	return rc;
}

int http_config_load(struct http_ctx *ctx)
{
	const struct keryu_host *h = ctx->host;
	const char *bind = h->config(ctx->m, "bind"), *pub;
	long long v;
	int rc;

	v = h->config_int(ctx->m, "port");
	if (v < 0 || v > 65535) /* 0 only reaches here from unit tests */
		return bad(ctx, "port", "must be 1..65535");
	ctx->port = (int)v;

	if (!bind || !*bind || strlen(bind) >= sizeof(ctx->bind))
		return bad(ctx, "bind", "must be an IP address");
	snprintf(ctx->bind, sizeof(ctx->bind), "%s", bind);

	pub = h->config(ctx->m, "metrics_token");
	if (pub && (strlen(pub) >= sizeof(ctx->metrics_token) ||
		    strpbrk(pub, " \t\r\n")))
		return bad(ctx, "metrics_token",
			   "must be under 256 bytes, without spaces");
	snprintf(ctx->metrics_token, sizeof(ctx->metrics_token), "%s",
		 pub ? pub : "");

	rc = load_int32(ctx, "threads", 1, 256, &ctx->threads);
	if (rc)
		return rc;
	v = h->config_int(ctx->m, "max_body");
	if (v < 0)
		return bad(ctx, "max_body", "must be >= 0");
	ctx->max_body = v;
	rc = load_int(ctx, "form_max_bytes", 1024, 1073741824,
		      &ctx->form_max_bytes);
	if (!rc)
		rc = load_int(ctx, "webhook_max_bytes", 1024, 1073741824,
			      &ctx->webhook_max_bytes);
	if (!rc)
		rc = load_int32(ctx, "max_connections", 1, 1000000,
				&ctx->max_connections);
	if (!rc)
		rc = load_int32(ctx, "max_conn_per_ip", 0, 1000000,
				&ctx->max_conn_per_ip);
	if (!rc)
		rc = load_int32(ctx, "scan_ack_timeout_ms", 1, 60000,
				&ctx->scan_ack_timeout_ms);
	if (!rc)
		rc = load_int32(ctx, "finder_token_ttl_s", 1, 604800,
				&ctx->finder_token_ttl_s);
	if (!rc)
		rc = load_int32(ctx, "scan_limit_per_ip", 0, 1000000,
				&ctx->scan_limit_ip);
	if (!rc)
		rc = load_int32(ctx, "scan_limit_per_tag", 0, 1000000,
				&ctx->scan_limit_tag);
	if (!rc)
		rc = load_int32(ctx, "scan_limit_window_s", 1, 86400,
				&ctx->scan_limit_window_s);
	if (rc)
		return rc;

	rc = copy_name(ctx, "verify_channel", ctx->verify_channel,
		       sizeof(ctx->verify_channel), true);
	if (!rc)
		rc = copy_name(ctx, "verify_template", ctx->verify_template,
			       sizeof(ctx->verify_template), false);
	if (!rc)
		rc = copy_name(ctx, "verify_language", ctx->verify_language,
			       sizeof(ctx->verify_language), false);
	if (!rc)
		rc = load_channels(ctx, h->config(ctx->m, "contact_channels"));
	if (rc)
		return rc;

	rc = load_int32(ctx, "session_idle_s", 60, 31536000,
			&ctx->session_idle_s);
	if (!rc)
		rc = load_int32(ctx, "session_max_s", 60, 31536000,
				&ctx->session_max_s);
	if (!rc)
		rc = load_photos(ctx);
	if (!rc)
		rc = load_api(ctx);
	if (rc)
		return rc;

	pub = h->config(ctx->m, "public_url");
	ctx->secure_cookies = pub && strncasecmp(pub, "https://", 8) == 0;

	rc = load_proxies(ctx, h->config(ctx->m, "trusted_proxies"));
	if (rc)
		return rc;
	return load_allowed_hosts(ctx, h->config(ctx->m, "allowed_hosts"));
}
