/* GET /metrics in Prometheus' text exposition format (version 0.0.4):
 * the requests this process answered, by route class, what the storage
 * service counts, and the kernel's bus messages by topic class. Labels
 * only ever hold route patterns, status codes, channel names and topic
 * classes, so every series set stays bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "http_module.h"

static const double bounds[HTTP_METRIC_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1,   0.25,   0.5,   1,    2.5,   5};

static const char *const status_names[] = KERYU_STORAGE_STATUS_NAMES;
static const char *const bus_class_names[KERYU_BUS_CLASSES] =
	KERYU_BUS_CLASS_NAMES;

void http_metrics_observe(struct http_ctx *ctx, const char *route,
			  unsigned status, double seconds)
{
	struct http_route_metric *rm = NULL;
	size_t i, b;

	if (!route || !status)
		return;
	pthread_mutex_lock(&ctx->metrics_lock);
	for (i = 0; i < HTTP_METRIC_ROUTES; i++) {
		if (!ctx->metrics[i].route) {
			ctx->metrics[i].route = route;
			rm = &ctx->metrics[i];
			break;
		}
		if (strcmp(ctx->metrics[i].route, route) == 0) {
			rm = &ctx->metrics[i];
			break;
		}
	}
	if (rm) {
		for (i = 0; i < HTTP_METRIC_STATUSES; i++) {
			if (rm->status[i].code == 0)
				rm->status[i].code = status;
			if (rm->status[i].code == status) {
				rm->status[i].n++;
				break;
			}
		}
		for (b = 0; b < HTTP_METRIC_BUCKETS && seconds > bounds[b]; b++)
			;
		rm->bucket[b]++;
		rm->n++;
		rm->sum += seconds;
	}
	pthread_mutex_unlock(&ctx->metrics_lock);
}

void http_metrics_label(struct html *h, const char *v)
{
	char one[2] = {0, 0};

	for (; v && *v; v++) {
		if (*v == '\\')
			html_raw(h, "\\\\");
		else if (*v == '"')
			html_raw(h, "\\\"");
		else if (*v == '\n')
			html_raw(h, "\\n");
		else {
			one[0] = *v;
			html_raw(h, one);
		}
	}
}

KERYU_PRINTF(2, 3)
static void out(struct html *h, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	html_raw(h, buf);
}

static void render_requests(struct http_ctx *ctx, struct html *h)
{
	size_t i, j, b;
	unsigned long long cum;

	html_raw(h, "# HELP keryu_http_requests_total HTTP requests answered, "
		    "by route class and status.\n"
		    "# TYPE keryu_http_requests_total counter\n");
	pthread_mutex_lock(&ctx->metrics_lock);
	for (i = 0; i < HTTP_METRIC_ROUTES && ctx->metrics[i].route; i++)
		for (j = 0; j < HTTP_METRIC_STATUSES &&
			    ctx->metrics[i].status[j].code;
		     j++) {
			html_raw(h, "keryu_http_requests_total{route=\"");
			http_metrics_label(h, ctx->metrics[i].route);
			out(h, "\",status=\"%u\"} %llu\n",
			    ctx->metrics[i].status[j].code,
			    ctx->metrics[i].status[j].n);
		}
	html_raw(h, "# HELP keryu_http_request_duration_seconds Time to "
		    "answer a request, by route class.\n"
		    "# TYPE keryu_http_request_duration_seconds histogram\n");
	for (i = 0; i < HTTP_METRIC_ROUTES && ctx->metrics[i].route; i++) {
		const struct http_route_metric *rm = &ctx->metrics[i];

		for (b = 0, cum = 0; b <= HTTP_METRIC_BUCKETS; b++) {
			cum += rm->bucket[b];
			html_raw(h, "keryu_http_request_duration_seconds_bucket"
				    "{route=\"");
			http_metrics_label(h, rm->route);
			if (b < HTTP_METRIC_BUCKETS)
				out(h, "\",le=\"%g\"} %llu\n", bounds[b], cum);
			else
				out(h, "\",le=\"+Inf\"} %llu\n", cum);
		}
		html_raw(h, "keryu_http_request_duration_seconds_sum{route=\"");
		http_metrics_label(h, rm->route);
		out(h, "\"} %.6f\n", rm->sum);
		html_raw(h,
			 "keryu_http_request_duration_seconds_count{route=\"");
		http_metrics_label(h, rm->route);
		out(h, "\"} %llu\n", rm->n);
	}
	pthread_mutex_unlock(&ctx->metrics_lock);
}

static void render_storage(const struct keryu_storage_metrics *sm, bool db_up,
			   struct html *h)
{
	size_t i, s;

	out(h, "# HELP keryu_database_up Whether the database answered this "
	       "scrape.\n# TYPE keryu_database_up gauge\nkeryu_database_up "
	       "%d\n",
	    db_up ? 1 : 0);
	out(h, "# HELP keryu_db_pool_connections Database connections of "
	       "this process's pool.\n# TYPE keryu_db_pool_connections gauge\n"
	       "keryu_db_pool_connections{state=\"busy\"} %d\n"
	       "keryu_db_pool_connections{state=\"idle\"} %d\n",
	    sm->pool_busy, sm->pool_idle);
	if (!db_up)
		return; /* absent rather than a false zero */
	html_raw(h, "# HELP keryu_deliveries_total Notifications by channel "
		    "and current status.\n"
		    "# TYPE keryu_deliveries_total gauge\n");
	for (i = 0; i < sm->n_channels && i < KERYU_STORAGE_METRIC_CHANNELS;
	     i++)
		for (s = 0; s < KERYU_STORAGE_METRIC_STATUSES; s++) {
			html_raw(h, "keryu_deliveries_total{channel=\"");
			http_metrics_label(h, sm->channels[i].channel);
			out(h, "\",status=\"%s\"} %lld\n", status_names[s],
			    sm->channels[i].status[s]);
		}
	out(h, "# HELP keryu_delivery_retries_total Delivery attempts beyond "
	       "the first, over every notification.\n"
	       "# TYPE keryu_delivery_retries_total counter\n"
	       "keryu_delivery_retries_total %lld\n",
	    sm->retries);
	out(h, "# HELP keryu_delivery_queue_depth Notifications not yet "
	       "answered (PENDING, QUEUED or ERROR).\n"
	       "# TYPE keryu_delivery_queue_depth gauge\n"
	       "keryu_delivery_queue_depth %lld\n",
	    sm->queue_depth);
}

/* A kernel older than host->bus_counts has a shorter table: then the
 * series are absent rather than zero. */
static void render_bus(struct http_ctx *ctx, struct html *h)
{
	const struct keryu_host *host = ctx->host;
	struct keryu_bus_counts c;
	static const char *const dir[2] = {"in", "out"};

	if (host->struct_size < offsetof(struct keryu_host, bus_counts) +
					sizeof(host->bus_counts) ||
	    !host->bus_counts || host->bus_counts(ctx->m, &c) != 0)
		return;
	html_raw(h, "# HELP keryu_bus_messages_total Bus messages received "
		    "(in) and published (out) by this process's modules, by "
		    "topic class.\n"
		    "# TYPE keryu_bus_messages_total counter\n");
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < KERYU_BUS_CLASSES; i++)
			out(h,
			    "keryu_bus_messages_total{direction=\"%s\","
			    "class=\"%s\"} %llu\n",
			    dir[d], bus_class_names[i],
			    (unsigned long long)(d ? c.out[i] : c.in[i]));
}

void http_metrics_render(struct http_ctx *ctx,
			 const struct keryu_storage_metrics *sm, bool db_up,
			 struct html *h)
{
	render_requests(ctx, h);
	if (sm)
		render_storage(sm, db_up, h);
}

bool http_metrics_allowed(const struct http_ctx *ctx,
			  const struct http_request *req, unsigned *status)
{
	unsigned char want[crypto_generichash_BYTES];
	unsigned char got[crypto_generichash_BYTES];
	const char *a = req->authorization, *tok;

	if (!ctx->metrics_token[0]) {
		*status = 403;
		return req->loopback;
	}
	*status = 401;
	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	for (tok = a + 7; *tok == ' '; tok++)
		;
	/* hashes of equal length, so the comparison leaks neither the
	 * token's bytes nor its length */
	crypto_generichash(want, sizeof(want),
			   (const unsigned char *)ctx->metrics_token,
			   strlen(ctx->metrics_token), NULL, 0);
	crypto_generichash(got, sizeof(got), (const unsigned char *)tok,
			   strlen(tok), NULL, 0);
	return sodium_memcmp(want, got, sizeof(want)) == 0;
}

void http_metrics(struct http_ctx *ctx, const struct http_request *req,
		  struct http_response *r)
{
	struct keryu_storage_metrics sm;
	const struct keryu_storage *st = ctx->storage;
	bool db_up = false, have = false;
	unsigned status;

	r->no_store = true;
	r->content_type = "text/plain; charset=utf-8";
	if (!http_metrics_allowed(ctx, req, &status)) {
		r->status = status;
		html_raw(&r->body, status == 401 ? "Unauthorized\n"
						 : "Forbidden\n");
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.metrics_refused",
			       "status=%u", status);
		return;
	}
	memset(&sm, 0, sizeof(sm));
	if (st && st->struct_size >= offsetof(struct keryu_storage, reserved) &&
	    st->metrics) {
		have = true;
		db_up = st->metrics(st->self, &sm) == 0;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	http_metrics_render(ctx, have ? &sm : NULL, db_up, &r->body);
	render_bus(ctx, &r->body);
}
