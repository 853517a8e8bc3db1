/* Private to the http module: its state, and the request/response shapes
 * that keep the handlers free of libmicrohttpd so unit tests can call them
 * without a socket. */
#ifndef KERYU_HTTP_MODULE_H
#define KERYU_HTTP_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/module.h>
#include <keryu/storage.h>

#include "html.h"

#define HTTP_MAX_ALLOWED_HOSTS 32
#define HTTP_HOST_NAME_MAX 256

struct http_server; /* the libmicrohttpd side, http_server.c */

struct http_ctx {
	keryu_mod *m;
	const struct keryu_host *host;
	const struct keryu_storage *storage;

	char bind[64];
	int port; /* 0 asks the kernel for a free port (tests only) */
	int threads;
	long long max_body;
	int scan_ack_timeout_ms;
	/* lower case, port-less; none means any Host is accepted */
	char allowed_hosts[HTTP_MAX_ALLOWED_HOSTS][HTTP_HOST_NAME_MAX];
	size_t n_allowed_hosts;

	struct http_server *server; /* NULL while not started */
};

struct http_request {
	const char *method;
	const char *path;       /* decoded path, without the query string */
	const char *host;       /* Host header; NULL when absent */
	const char *user_agent; /* User-Agent header; NULL when absent */
};

struct http_response {
	unsigned status;
	const char *content_type; /* static string */
	const char *allow;        /* Allow header (405), static, or NULL */
	bool no_store;            /* Cache-Control: no-store */
	struct html body;         /* the full body, also for HEAD: the server
				     drops it and keeps Content-Length */
};

/* ---- http_config.c ---- */
/* Reads and checks the module's options into ctx. Returns 0 or
 * KERYU_EINVAL after logging the offending key. */
int http_config_load(struct http_ctx *ctx);

/* ---- http_router.c ---- */
void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);
/* Answers one request into r (initialised by the caller, who frees it).
 * Never fails: errors become error pages. */
void http_route(struct http_ctx *ctx, const struct http_request *req,
		struct http_response *r);
/* True when host (a Host header, with or without port) is acceptable. */
bool http_host_allowed(const struct http_ctx *ctx, const char *host);

/* ---- http_page.c ---- */
/* Writes the common head of every HTML page; body_class is "ok" or "err". */
void http_page_begin(struct html *h, const char *body_class);
void http_page_end(struct html *h);
/* Makes r a complete HTML error page: status, a heading and one paragraph
 * (both escaped). */
void http_page_error(struct http_response *r, unsigned status,
		     const char *heading, const char *text);

/* ---- http_scan.c ---- */
/* GET /subjects/qr/<segment>/scan/: segment is the raw path segment.
 * HEAD gets the page a GET whose alert went out would get, and publishes
 * nothing. */
void http_scan(struct http_ctx *ctx, const struct http_request *req,
	       const char *segment, struct http_response *r);

/* ---- http_health.c ---- */
void http_health(struct http_ctx *ctx, struct http_response *r);

/* ---- http_server.c ---- */
/* Starts libmicrohttpd on ctx->bind:ctx->port. Returns 0, KERYU_EINVAL for
 * a bind address that is not an IP literal, KERYU_EIO when the daemon
 * does not start (port in use...), KERYU_ENOMEM. */
int http_server_start(struct http_ctx *ctx);
/* The port actually bound (useful with port 0); 0 when not started. */
uint16_t http_server_port(const struct http_ctx *ctx);
/* Stops accepting, lets in-flight requests finish, frees the daemon.
 * Safe to call when not started. */
void http_server_stop(struct http_ctx *ctx);
/* libmicrohttpd's panic handler (cls is the http_ctx): logs the panic
 * through the host, then abort()s. Never returns: MHD treats the code
 * after a panic as unreachable. Not static only so a test can call it. */
_Noreturn void http_server_panic(void *cls, const char *file,
				 unsigned int line, const char *reason);

#endif
