/* GET /healthz for load balancers and monitoring: the database through the
 * storage service, the bus through the module's own connection. */
#include "http_module.h"

void http_health(struct http_ctx *ctx, struct http_response *r)
{
	const struct keryu_storage *st = ctx->storage;
	bool db = st && st->ping(st->self) == 0;
	bool bus = ctx->host->bus_connected(ctx->m);

	r->status = db && bus ? 200 : 503;
	r->content_type = "application/json";
	r->no_store = true;
	/* every value is one of our own literals, so raw output is safe */
	html_raw(&r->body, "{\"status\":\"");
	html_raw(&r->body, db && bus ? "ok" : "degraded");
	html_raw(&r->body, "\",\"database\":\"");
	html_raw(&r->body, db ? "ok" : "down");
	html_raw(&r->body, "\",\"bus\":\"");
	html_raw(&r->body, bus ? "ok" : "down");
	html_raw(&r->body, "\"}\n");
	if (!db || !bus)
		ctx->host->log(ctx->m, KERYU_LOG_DEBUG, "http.healthz",
			       "database=%s bus=%s", db ? "ok" : "down",
			       bus ? "ok" : "down");
}

/* Readiness for a load balancer that should send traffic here: unlike
 * liveness, it also wants the server itself up (not starting or
 * stopping). */
void http_ready(struct http_ctx *ctx, struct http_response *r)
{
	const struct keryu_storage *st = ctx->storage;
	bool db = st && st->ping(st->self) == 0;
	bool bus = ctx->host->bus_connected(ctx->m);
	bool server = atomic_load(&ctx->started);
	bool ok = db && bus && server;

	r->status = ok ? 200 : 503;
	r->content_type = "application/json";
	r->no_store = true;
	/* every value is one of our own literals, so raw output is safe */
	html_raw(&r->body, "{\"status\":\"");
	html_raw(&r->body, ok ? "ready" : "not_ready");
	html_raw(&r->body, "\",\"database\":\"");
	html_raw(&r->body, db ? "ok" : "down");
	html_raw(&r->body, "\",\"bus\":\"");
	html_raw(&r->body, bus ? "ok" : "down");
	html_raw(&r->body, "\",\"server\":\"");
	html_raw(&r->body, server ? "ok" : "down");
	html_raw(&r->body, "\"}\n");
	if (!ok)
		ctx->host->log(ctx->m, KERYU_LOG_DEBUG, "http.readyz",
			       "database=%s bus=%s server=%s",
			       db ? "ok" : "down", bus ? "ok" : "down",
			       server ? "ok" : "down");
}
