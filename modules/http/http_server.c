/* The libmicrohttpd side: daemon lifecycle, turning MHD's callback into an
 * http_request, and an http_response into MHD's response with the headers
 * every answer carries. */
#include <ctype.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_api.h"
#include "http_module.h"
#include "http_webhooks.h"

struct http_server {
	struct MHD_Daemon *daemon;
	uint16_t port;
};

static const struct {
	const char *name, *value;
} security_headers[] = {
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
	{"Content-Security-Policy",
	 "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"},
};

/* MHD's default panic prints to stderr and aborts. Ours puts the reason
 * in keryud's log first, then aborts too: MHD marks the code after its
 * panic call unreachable, so returning would run on in a broken state.
 * MHD keeps one panic handler per process, so the last http instance
 * started owns it. */
void http_server_panic(void *cls, const char *file, unsigned int line,
		       const char *reason)
{
	struct http_ctx *ctx = cls;

	if (ctx)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.panic",
			       "file=%s line=%u reason=\"%s\"",
			       file ? file : "-", line, reason ? reason : "-");
	abort();
}

KERYU_PRINTF(2, 0)
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_ctx *ctx = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.mhd", "msg=\"%s\"", msg);
}

/* One request's state across MHD's calls: a POST is answered once its
 * body is read; anything else on MHD's first call. */
struct conn {
	struct http_body *body; /* POST only */
	unsigned status;        /* an error found while reading the body */
	bool answered;
	/* a webhook's body, kept raw: its signature covers the exact bytes;
	 * an API request's, read the same way up to api_max_bytes */
	bool raw, api;
	char *raw_buf;
	size_t raw_len, raw_cap;
	/* for /metrics: when the request came, its route class, and the
	 * status queued (0: none, the connection was dropped) */
	struct timespec t0;
	const char *route;
	unsigned sent;
};

/* Queues r and notes its status in cs for /metrics. */
static enum MHD_Result queue(struct MHD_Connection *c, struct http_response *r,
			     struct conn *cs)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	size_t len = 0, i;
	char *body = html_take(&r->body, &len);
	unsigned status = r->status;

	if (!body) { /* out of memory while rendering */
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		mr = MHD_create_response_from_buffer(0, (void *)"",
						     MHD_RESPMEM_PERSISTENT);
	} else {
		mr = MHD_create_response_from_buffer(len, body,
						     MHD_RESPMEM_MUST_FREE);
		if (!mr)
			free(body);
	}
	if (!mr)
		return MHD_NO;
	for (i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]);
	     i++)
		MHD_add_response_header(mr, security_headers[i].name,
					r->csp[0] && strcmp(security_headers[i].name,
							    "Content-Security-Policy") == 0
						? r->csp
						: security_headers[i].value);
	if (body && r->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
					r->content_type);
	if (r->no_store)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
					"no-store");
	if (r->allow)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->www_authenticate)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					r->www_authenticate);
	if (r->set_cookie[0])
		MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE,
					r->set_cookie);
	if (r->location[0])
		MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION,
					r->location);
	if (r->disposition[0])
		MHD_add_response_header(mr, "Content-Disposition",
					r->disposition);
	if (r->retry_after > 0) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%d", r->retry_after);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	ret = MHD_queue_response(c, status, mr);
	MHD_destroy_response(mr);
	if (ret == MHD_YES && cs)
		cs->sent = status;
	return ret;
}

/* Appends to the raw body. Returns 0, 413 (over limit), 500 (no memory). */
static unsigned raw_feed(struct conn *cs, const char *data, size_t n,
			 long long limit)
{
	size_t cap;
	char *p;

	if ((long long)(cs->raw_len + n) > limit)
		return 413;
	if (cs->raw_len + n + 1 > cs->raw_cap) {
		cap = cs->raw_cap ? cs->raw_cap : 4096;
		while (cap < cs->raw_len + n + 1)
			cap *= 2;
		p = realloc(cs->raw_buf, cap);
		if (!p)
			return 500;
		cs->raw_buf = p;
		cs->raw_cap = cap;
	}
	memcpy(cs->raw_buf + cs->raw_len, data, n);
	cs->raw_len += n;
	cs->raw_buf[cs->raw_len] = '\0';
	return 0;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value);

static enum MHD_Result answer_raw(struct http_ctx *ctx,
				  struct MHD_Connection *c, const char *url,
				  struct conn *cs, unsigned status)
{
	struct http_response r;
	struct http_form query;
	enum MHD_Result ret;
	const char *body = cs->raw_buf ? cs->raw_buf : "";

	http_response_init(&r);
	http_form_init(&query);
	r.no_store = true;
	r.content_type = "text/plain; charset=utf-8";
	if (status) {
		r.status = status;
		html_raw(&r.body, status == 413 ? "Payload too large\n"
						: "Server error\n");
	} else if (strcmp(url, HTTP_WEBHOOK_TWILIO) == 0) {
		if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND,
					      collect_arg, &query) < 0) {
			r.status = 500;
			html_raw(&r.body, "Server error\n");
		} else {
			http_webhook_twilio_status(
				ctx, &query,
				MHD_lookup_connection_value(
					c, MHD_HEADER_KIND,
					"X-Twilio-Signature"),
				body, cs->raw_len, &r);
		}
	} else {
		http_webhook_whatsapp_post(
			ctx,
			MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "X-Hub-Signature-256"),
			body, cs->raw_len, &r);
	}
	ret = queue(c, &r, cs);
	http_response_free(&r);
	http_form_free(&query);
	return ret;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	(void)kind;
	if (key && http_form_add(cls, key, value ? value : "",
				 value ? strlen(value) : 0, true) != 0)
		return MHD_NO;
	return MHD_YES;
}

/* a (16 bytes, IPv4 v4-mapped) from text; false when not an IP. */
static bool ip_parse(const char *s, size_t n, unsigned char a[16])
{
	char ip[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(a, 0, 16);
	if (inet_pton(AF_INET, ip, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		return true;
	}
	return inet_pton(AF_INET6, ip, a) == 1;
}

static bool ip_trusted(const struct http_ctx *ctx, const unsigned char a[16])
{
	size_t i;

	for (i = 0; i < ctx->n_trusted_proxies; i++)
		if (memcmp(ctx->trusted_proxies[i], a, 16) == 0)
			return true;
	return false;
}

static void ip_format(const unsigned char a[16], char *out, size_t size)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
						 0, 0, 0, 0, 0xff, 0xff};
	unsigned char net[16];
	char buf[INET6_ADDRSTRLEN];

	if (memcmp(a, mapped, 12) == 0) {
		inet_ntop(AF_INET, a + 12, out, (socklen_t)size);
		return;
	}
	/* one IPv6 host usually holds a whole /64: count it as one */
	memcpy(net, a, 8);
	memset(net + 8, 0, 8);
	inet_ntop(AF_INET6, net, buf, sizeof(buf));
	snprintf(out, size, "%s/64", buf);
}

/* The client's address into a: the peer, or what trusted proxies say
 * it is. False when peer is not an IP. */
static bool client_addr(const struct http_ctx *ctx, const char *peer,
			const char *xff, unsigned char a[16])
{
	unsigned char b[16];
	const char *end;

	if (!peer || !ip_parse(peer, strlen(peer), a))
		return false;
	if (ip_trusted(ctx, a) && xff) {
		/* right to left: the entries the trusted proxies appended,
		 * then the first one none of them vouches for */
		end = xff + strlen(xff);
		while (end > xff) {
			const char *start = end;
			const char *s, *e;

			while (start > xff && start[-1] != ',')
				start--;
			s = start;
			e = end;
			while (s < e && isspace((unsigned char)*s))
				s++;
			while (e > s && isspace((unsigned char)e[-1]))
				e--;
			if (!ip_parse(s, (size_t)(e - s), b))
				break; /* junk: keep the peer */
			if (!ip_trusted(ctx, b)) {
				memcpy(a, b, 16);
				break;
			}
			end = start > xff ? start - 1 : xff;
		}
	}
	return true;
}

/* 127.0.0.0/8 (v4-mapped) or ::1 */
static bool addr_loopback(const unsigned char a[16])
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
						 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0,
					      0, 0, 0, 0, 0, 0, 0, 1};

	return (memcmp(a, mapped, 12) == 0 && a[12] == 127) ||
	       memcmp(a, one, 16) == 0;
}

/* http_client_ip, and whether the client is a loopback address. */
static bool client_ip_text(const struct http_ctx *ctx, const char *peer,
			   const char *xff, char *out, size_t size)
{
	unsigned char a[16];

	out[0] = '\0';
	if (!client_addr(ctx, peer, xff, a))
		return false;
	ip_format(a, out, size);
	return addr_loopback(a);
}

void http_client_ip(const struct http_ctx *ctx, const char *peer,
		    const char *xff, char *out, size_t size)
{
	client_ip_text(ctx, peer, xff, out, size);
}

/* Returns whether the client is a loopback address. */
static bool client_ip(struct http_ctx *ctx, struct MHD_Connection *c,
		      char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	char peer[INET6_ADDRSTRLEN];

	out[0] = peer[0] = '\0';
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  peer, sizeof(peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, peer,
			  sizeof(peer));
	return client_ip_text(ctx, peer,
		       MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						   "X-Forwarded-For"),
		       out, size);
}

static void body_error(struct http_response *r, unsigned status)
{
	if (status == 413)
		http_page_error(r, 413, "Request too large",
				"The request body is larger than this server "
				"accepts.");
	else if (status == 400)
		http_page_error(r, 400, "Bad request",
				"The form could not be read. Please go back and "
				"try again.");
	else
		http_page_error(r, 500, "Server error",
				"Something went wrong. Please try again.");
}

/* req from the connection's headers; query gets the query string; ip
 * (size >= INET6_ADDRSTRLEN + 8) holds the client address req points to. */
static void request_fill(struct http_ctx *ctx, struct MHD_Connection *c,
			 const char *url, const char *method,
			 struct http_request *req, struct http_form *query,
			 char *ip, size_t size)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = url;
	req->host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_HOST);
	req->user_agent = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
	req->cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						  MHD_HTTP_HEADER_COOKIE);
	req->content_type = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	req->origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	req->accept_language = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
	req->loopback = client_ip(ctx, c, ip, size);
	req->client_ip = ip[0] ? ip : NULL;
	req->authorization = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, query);
	req->query = query;
}

/* A problem+json answer for an API body that could not be read. */
static void api_body_error(struct http_response *r, unsigned status)
{
	if (status == 413)
		http_api_problem(r, 413, "payload-too-large",
				 "Payload Too Large",
				 "The request body is larger than this server "
				 "accepts.");
	else
		http_api_problem(r, 500, NULL, "Internal Server Error", NULL);
}

/* A page's request (form: its POST body) or, for cs->api, an API
 * request with its raw body; status: the error met reading the body. */
static enum MHD_Result answer(struct http_ctx *ctx, struct MHD_Connection *c,
			      struct conn *cs, const char *url,
			      const char *method, const struct http_form *form,
			      unsigned status)
{
	struct http_request req;
	struct http_response r;
	struct http_form query;
	char ip[INET6_ADDRSTRLEN + 8];
	enum MHD_Result ret;

	http_response_init(&r);
	http_form_init(&query);
	if (status && cs->api) {
		api_body_error(&r, status);
	} else if (status) {
		body_error(&r, status);
	} else {
		request_fill(ctx, c, url, method, &req, &query, ip, sizeof(ip));
		req.form = form;
		if (cs->api)
			http_api_handle(ctx, &req, cs->raw_buf, cs->raw_len,
					&r);
		else
			http_route(ctx, &req, &r);
	}
	ret = queue(c, &r, cs);
	http_response_free(&r);
	http_form_free(&query);
	return ret;
}

static bool has_session_cookie(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_COOKIE);
	char v[128];

	return h && http_cookie_get(h, HTTP_SESSION_COOKIE, v, sizeof(v));
}

static enum MHD_Result answer_visitor(struct MHD_Connection *c,
				     struct conn *cs)
{
	struct http_response r;
	enum MHD_Result ret;

	http_response_init(&r);
	http_redirect(&r, "/account/login");
	ret = queue(c, &r, cs);
	http_response_free(&r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_ctx *ctx = cls;
	struct conn *cs = *con_cls;
	struct http_form form;
	const char *cl;
	unsigned status;
	long long limit;
	enum MHD_Result ret;

	(void)version;
	if (cs && cs->answered) {
		*upload_data_size = 0; /* discard */
		return MHD_YES;
	}
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return MHD_NO;
		*con_cls = cs;
		clock_gettime(CLOCK_MONOTONIC, &cs->t0);
		cs->route = http_route_class(url);
		if (http_api_path(url)) {
			/* only POST and PATCH carry a body; the rest are
			 * answered before any body is read */
			cs->api = true;
			cs->raw = strcmp(method, "POST") == 0 ||
				  strcmp(method, "PATCH") == 0;
			cl = MHD_lookup_connection_value(
				c, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_CONTENT_LENGTH);
			status = cs->raw && cl &&
						 strtoull(cl, NULL, 10) >
							 (unsigned long long)
								 ctx->api.max_bytes
					 ? 413
					 : 0;
			if (cs->raw && !status)
				return MHD_YES; /* called again with the body */
			cs->answered = true;
			return answer(ctx, c, cs, url, method, NULL, status);
		}
		if (http_webhook_takes_raw(method, url)) {
			cs->raw = true;
			cl = MHD_lookup_connection_value(
				c, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_CONTENT_LENGTH);
			if (cl && strtoull(cl, NULL, 10) >
					  (unsigned long long)
						  ctx->webhook_max_bytes) {
				cs->answered = true;
				return answer_raw(ctx, c, url, cs, 413);
			}
			return MHD_YES; /* MHD calls again with the body */
		}
		if (strcmp(method, "POST") != 0 ||
		    !http_route_takes_post(url)) {
			/* only a POST to a form takes a body: answer the rest
			 * before it is read; MHD then closes a connection
			 * that sent one */
			cs->answered = true;
			cl = MHD_lookup_connection_value(
				c, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_CONTENT_LENGTH);
			status = cl && strtoull(cl, NULL, 10) >
						(unsigned long long)ctx->max_body
					 ? 413
					 : 0;
			return answer(ctx, c, cs, url, method, NULL, status);
		}
		limit = http_route_body_limit(ctx, url);
		if (http_route_needs_login(url) && !has_session_cookie(c)) {
			/* a visitor's POST to a login-only page is refused
			 * whatever it carries: answer before reading it */
			cs->answered = true;
			return answer_visitor(c, cs);
		}
		cs->body = http_body_begin(c, limit, &status);
		if (!cs->body) {
			cs->answered = true;
			return answer(ctx, c, cs, url, method, NULL, status);
		}
		return MHD_YES; /* MHD calls again with the body */
	}
	if (cs->raw) {
		if (*upload_data_size) {
			if (!cs->status)
				cs->status = raw_feed(
					cs, upload_data, *upload_data_size,
					cs->api ? ctx->api.max_bytes
						: ctx->webhook_max_bytes);
			*upload_data_size = 0;
			if (cs->status == 413) { /* chunked, over the cap */
				ctx->host->log(ctx->m, KERYU_LOG_WARN,
					       "http.body",
					       "status=413 reason=chunked");
				return MHD_NO;
			}
			return MHD_YES;
		}
		cs->answered = true;
		if (cs->api)
			return answer(ctx, c, cs, url, method, NULL,
				      cs->status);
		return answer_raw(ctx, c, url, cs, cs->status);
	}
	if (*upload_data_size) {
		if (!cs->status)
			cs->status = http_body_feed(cs->body, upload_data,
						    *upload_data_size);
		*upload_data_size = 0;
		/* only a body without a Content-Length (chunked) gets here
		 * over max_body, and MHD cannot answer in the middle of a
		 * body: close rather than read on without end */
		if (cs->status == 413) {
			ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.body",
				       "status=413 reason=chunked");
			return MHD_NO;
		}
		return MHD_YES;
	}
	/* the whole body is in */
	http_form_init(&form);
	status = http_body_end(cs->body, &form);
	cs->body = NULL;
	cs->answered = true;
	ret = answer(ctx, c, cs, url, method, &form, cs->status ? cs->status : status);
	http_form_free(&form);
	return ret;
}

/* MHD is done with a connection's request, answered or not. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn *cs = *con_cls;
	struct timespec t1;

	(void)c;
	(void)toe;
	if (!cs)
		return;
	if (cs->sent) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		http_metrics_observe(cls, cs->route, cs->sent,
				     (double)(t1.tv_sec - cs->t0.tv_sec) +
					     (double)(t1.tv_nsec -
						      cs->t0.tv_nsec) /
						     1e9);
	}
	http_body_free(cs->body);
	free(cs->raw_buf);
	free(cs);
	*con_cls = NULL;
}

int http_server_start(struct http_ctx *ctx)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr *sa;
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
			     MHD_USE_ERROR_LOG;
	struct http_server *s;
	const union MHD_DaemonInfo *info;

	memset(&in4, 0, sizeof(in4));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, ctx->bind, &in4.sin_addr) == 1) {
		in4.sin_family = AF_INET;
		in4.sin_port = htons((uint16_t)ctx->port);
		sa = (struct sockaddr *)&in4;
	} else if (inet_pton(AF_INET6, ctx->bind, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		in6.sin6_port = htons((uint16_t)ctx->port);
		sa = (struct sockaddr *)&in6;
		flags |= MHD_USE_IPv6;
	} else {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.config",
			       "key=bind error=\"not an IP address\"");
		return KERYU_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return KERYU_ENOMEM;

	MHD_set_panic_func(http_server_panic, ctx);
	s->daemon = MHD_start_daemon(
		flags, (uint16_t)ctx->port, NULL, NULL, on_request, ctx,
		/* first, so that MHD reports even option errors through it */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, ctx,
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)ctx,
		MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned int)(ctx->threads > 1 ? ctx->threads : 0),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)(ctx->max_connections > 0 ? ctx->max_connections
							: 1024),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned int)ctx->max_conn_per_ip, MHD_OPTION_END);
	if (!s->daemon) {
		MHD_set_panic_func(NULL, NULL);
		free(s);
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.start_failed",
			       "bind=%s port=%d", ctx->bind, ctx->port);
		return KERYU_EIO;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : (uint16_t)ctx->port;
	ctx->server = s;
	atomic_store(&ctx->started, true);
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.listening",
		       "bind=%s port=%u threads=%d", ctx->bind,
		       (unsigned)s->port, ctx->threads);
	return 0;
}

uint16_t http_server_port(const struct http_ctx *ctx)
{
	return ctx->server ? ctx->server->port : 0;
}

void http_server_stop(struct http_ctx *ctx)
{
	struct http_server *s = ctx->server;
	MHD_socket fd;

	atomic_store(&ctx->started, false);
	if (!s)
		return;
	/* no new connections from here on; requests in flight (a scan waiting
	 * for its PUBACK) finish inside MHD_stop_daemon */
	fd = MHD_quiesce_daemon(s->daemon);
	MHD_stop_daemon(s->daemon);
	/* after quiesce the listening socket is ours, closed only once MHD's
	 * threads are gone */
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	MHD_set_panic_func(NULL, NULL);
	ctx->server = NULL;
	free(s);
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.stopped", NULL);
}
