/* The JSON API's front door: routes and methods (404, 405 with Allow),
 * per-client and per-custodian rate limits, the body's content type and
 * shape, authentication, then the handler; every error is a
 * problem+json answer. Knows nothing of libmicrohttpd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <keryu/events.h>

#include "http_api.h"

#define PROBLEM_BASE "https://keryu.invalid/problems/"
#define RATE_WINDOW_S 60

enum {
	M_GET = 1u << 0,
	M_POST = 1u << 1,
	M_PATCH = 1u << 2,
	M_DELETE = 1u << 3,
};

enum {
	F_AUTH = 1u << 0,  /* a valid access token */
	F_BODY = 1u << 1,  /* takes a JSON body */
	F_WRITE = 1u << 2, /* changes rows: a verified phone */
	F_DOCS = 1u << 3,  /* the OpenAPI document or page */
};

static void openapi(struct http_api_call *c)
{
	http_api_openapi(c->ctx, c->req, c->r);
}

static void docs(struct http_api_call *c)
{
	http_api_docs_page(c->ctx, c->req, c->r);
}

static const char *const q_subjects[] = {"offset", "limit", "q", NULL};
static const char *const q_alarms[] = {"subject_id", "state", "from", "to",
				       "offset",     "limit", NULL};

static const struct api_route {
	const char *path; /* "*": one segment */
	unsigned method;
	void (*fn)(struct http_api_call *c);
	unsigned flags;
	const char *const *query; /* the query parameters it takes */
} routes[] = {
	{"/api/v1/auth/token", M_POST, http_api_auth_token, F_BODY, NULL},
	{"/api/v1/auth/refresh", M_POST, http_api_auth_refresh, F_BODY, NULL},
	{"/api/v1/auth/logout", M_POST, http_api_auth_logout, F_BODY, NULL},
	{"/api/v1/me", M_GET, http_api_me, F_AUTH, NULL},
	{"/api/v1/subjects", M_GET, http_api_subjects_list, F_AUTH, q_subjects},
	{"/api/v1/subjects", M_POST, http_api_subject_create,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/subjects/*", M_GET, http_api_subject_get, F_AUTH, NULL},
	{"/api/v1/subjects/*", M_PATCH, http_api_subject_patch,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/subjects/*", M_DELETE, http_api_subject_delete,
	 F_AUTH | F_WRITE, NULL},
	{"/api/v1/subjects/*/contacts", M_GET, http_api_contacts_list, F_AUTH, NULL},
	{"/api/v1/subjects/*/contacts", M_POST, http_api_contact_create,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/subjects/*/contacts/*", M_DELETE, http_api_contact_delete,
	 F_AUTH | F_WRITE, NULL},
	{"/api/v1/subjects/*/tags", M_GET, http_api_tags_list, F_AUTH, NULL},
	{"/api/v1/subjects/*/tags", M_POST, http_api_tag_create,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/tags/*", M_GET, http_api_tag_get, F_AUTH, NULL},
	{"/api/v1/tags/*/activate", M_POST, http_api_tag_activate,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/tags/*/deactivate", M_POST, http_api_tag_deactivate,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/tags/*/qr.png", M_GET, http_api_tag_png, F_AUTH, NULL},
	{"/api/v1/tags/*/qr.svg", M_GET, http_api_tag_svg, F_AUTH, NULL},
	{"/api/v1/alarms", M_GET, http_api_alarms_list, F_AUTH, q_alarms},
	{"/api/v1/alarms/*", M_GET, http_api_alarm_get, F_AUTH, NULL},
	{"/api/v1/alarms/*/acknowledge", M_POST, http_api_alarm_acknowledge,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/alarms/*/resolve", M_POST, http_api_alarm_resolve,
	 F_AUTH | F_BODY | F_WRITE, NULL},
	{"/api/v1/openapi.json", M_GET, openapi, F_DOCS, NULL},
	{"/api/v1/docs", M_GET, docs, F_DOCS, NULL},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Allow header values by method set (bits of M_*). */
static const char *const allow_values[16] = {
	"",
	"GET, HEAD",
	"POST",
	"GET, HEAD, POST",
	"PATCH",
	"GET, HEAD, PATCH",
	"POST, PATCH",
	"GET, HEAD, POST, PATCH",
	"DELETE",
	"GET, HEAD, DELETE",
	"POST, DELETE",
	"GET, HEAD, POST, DELETE",
	"PATCH, DELETE",
	"GET, HEAD, PATCH, DELETE",
	"POST, PATCH, DELETE",
	"GET, HEAD, POST, PATCH, DELETE",
};

static unsigned method_bit(const char *m)
{
	if (!m)
		return 0;
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return M_GET;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	if (strcmp(m, "PATCH") == 0)
		return M_PATCH;
	if (strcmp(m, "DELETE") == 0)
		return M_DELETE;
	return 0;
}

/* True when path matches pattern; "*" takes one non-empty segment. */
static bool match(const char *pattern, const char *path,
		  char arg[HTTP_API_ARGS][HTTP_API_ARG_MAX])
{
	int n = 0;

	while (*pattern && *path) {
		if (*pattern == '*') {
			size_t len = strcspn(path, "/");

			if (len == 0 || n == HTTP_API_ARGS)
				return false;
			if (arg) {
				/* a longer one is no id of ours: cut, 404 */
				size_t k = len < HTTP_API_ARG_MAX
						   ? len
						   : HTTP_API_ARG_MAX - 1;

				memcpy(arg[n], path, k);
				arg[n][k] = '\0';
			}
			n++;
			pattern++;
			path += len;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return !*pattern && !*path;
}

bool http_api_path(const char *path)
{
	return path && strncmp(path, HTTP_API_PREFIX,
			       strlen(HTTP_API_PREFIX)) == 0;
}

const char *http_api_route_class(const char *path)
{
	size_t i;

	for (i = 0; path && i < N_ROUTES; i++)
		if (match(routes[i].path, path, NULL))
			return routes[i].path;
	return HTTP_API_PREFIX "*";
}

void http_api_problem(struct http_response *r, unsigned status,
		      const char *slug, const char *title, const char *detail)
{
	cJSON *o = cJSON_CreateObject();
	char type[96], *json = NULL;

	snprintf(type, sizeof(type), "%s%s", slug ? PROBLEM_BASE : "about:blank",
		 slug ? slug : "");
	if (o) {
		cJSON_AddStringToObject(o, "type", type);
		cJSON_AddStringToObject(o, "title", title);
		cJSON_AddNumberToObject(o, "status", status);
		if (detail)
			cJSON_AddStringToObject(o, "detail", detail);
		json = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	html_free(&r->body);
	html_init(&r->body);
	r->status = json ? status : 500;
	r->content_type = HTTP_API_PROBLEM_JSON;
	r->no_store = true;
	html_raw(&r->body, json ? json : "{\"type\":\"about:blank\","
					 "\"title\":\"Internal Server Error\","
					 "\"status\":500}");
	free(json);
}

void http_api_reply(struct http_api_call *c, unsigned status, cJSON *obj)
{
	char *json = obj ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	if (!json) {
		http_api_problem(c->r, 500, NULL, "Internal Server Error",
				 NULL);
		return;
	}
	html_free(&c->r->body);
	html_init(&c->r->body);
	html_raw(&c->r->body, json);
	free(json);
	c->r->status = status;
	c->r->content_type = HTTP_API_JSON;
	c->r->no_store = true;
}

void http_api_list_reply(struct http_api_call *c, const char *event, int rc,
			 cJSON *items, int total, int offset, int limit)
{
	if (rc) {
		cJSON_Delete(items);
		http_api_fail(c, event, rc, NULL);
		return;
	}
	http_api_reply(c, 200, http_api_page(items, total, offset, limit));
}

void http_api_no_content(struct http_api_call *c)
{
	html_free(&c->r->body);
	html_init(&c->r->body);
	c->r->status = 204;
	c->r->content_type = NULL;
	c->r->no_store = true;
}

void http_api_not_found(struct http_api_call *c)
{
	http_api_problem(c->r, 404, "not-found", "Not Found",
			 "There is no such resource.");
}

void http_api_unavailable(struct http_api_call *c)
{
	http_api_problem(c->r, 503, "unavailable", "Service Unavailable",
			 "The service cannot answer right now; try again "
			 "later.");
}

void http_api_fail(struct http_api_call *c, const char *event, int rc,
		   const char *conflict)
{
	if (rc == KERYU_ENOTFOUND || rc == KERYU_EINVAL) {
		http_api_not_found(c);
		return;
	}
	if (rc == KERYU_ECONFLICT) {
		http_api_problem(c->r, 409, "conflict", "Conflict", conflict);
		return;
	}
	c->ctx->host->log(c->ctx->m, KERYU_LOG_ERROR, event, "error=\"%s\"",
			  keryu_strerror(rc));
	http_api_unavailable(c);
}

bool http_api_scope(struct http_api_call *c, enum keryu_owned kind,
		    const char *id, char owner[KERYU_UUID_LEN])
{
	const struct keryu_admin *a = c->ctx->admin;
	int rc;

	if (!keryu_uuid_valid(id)) {
		http_api_not_found(c);
		return false;
	}
	if (!c->who.is_staff) {
		memcpy(owner, c->who.id, KERYU_UUID_LEN);
		return true;
	}
	if (!a) {
		http_api_unavailable(c);
		return false;
	}
	rc = a->owner_of(a->self, kind, id, owner);
	if (rc) {
		http_api_fail(c, "http.api_owner", rc, NULL);
		return false;
	}
	return true;
}

bool http_api_may_write(struct http_api_call *c)
{
	if (c->who.phone_verified)
		return true;
	http_api_problem(c->r, 403, "forbidden", "Forbidden",
			 "Verify your phone number (on the account page) "
			 "before making changes.");
	return false;
}

void http_api_audit(struct http_api_call *c, const char *action,
		    const char *target_type, const char *target_id,
		    const char *summary)
{
	http_audit(c->ctx, c->req, "api", c->authed ? &c->who : NULL, NULL,
		   action, target_type, target_id, "%s",
		   summary ? summary : "");
}

/* ---- rate limits ---- */

static bool rate_ok(struct http_api_call *c, const char *kind,
		    const char *key, int max)
{
	int retry = 1;

	if (http_count_hit(c->ctx, kind, key, max, RATE_WINDOW_S, &retry))
		return true;
	c->ctx->host->log(c->ctx->m, KERYU_LOG_WARN, "http.rate_limited",
			  "what=api kind=%s", kind);
	http_api_problem(c->r, 429, "rate-limited", "Too Many Requests",
			 "Too many requests; wait before trying again.");
	c->r->retry_after = retry > 0 ? retry : 1;
	return false;
}

/* ---- the request ---- */

/* application/json, with parameters or not, any case. */
static bool content_type_json(const char *ct)
{
	size_t n = strlen(HTTP_API_JSON);

	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, HTTP_API_JSON, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return !*ct || *ct == ';';
}

/* Parses a body into *out (NULL when there is none). False after
 * answering 415 or 400. */
static bool read_body(struct http_api_call *c, const char *body, size_t len,
		      cJSON **out)
{
	cJSON *j;

	*out = NULL;
	if (!body || len == 0)
		return true;
	if (!content_type_json(c->req->content_type)) {
		http_api_problem(c->r, 415, "unsupported-media-type",
				 "Unsupported Media Type",
				 "Send the body as application/json.");
		return false;
	}
	j = cJSON_ParseWithLength(body, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		http_api_problem(c->r, 400, "validation", "Invalid request",
				 "The body must be a JSON object.");
		return false;
	}
	*out = j;
	return true;
}

void http_api_handle(struct http_ctx *ctx, const struct http_request *req,
		     const char *body, size_t len, struct http_response *r)
{
	struct http_api_call c;
	const struct api_route *rt = NULL;
	unsigned want = method_bit(req->method), allowed = 0;
	cJSON *json = NULL;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	c.req = req;
	c.r = r;
	if (!http_host_allowed(ctx, req->host)) {
		http_api_problem(r, 400, NULL, "Bad Request",
				 "This server does not answer for that host "
				 "name.");
		return;
	}
	if (!rate_ok(&c, "ip", req->client_ip, ctx->api.rate_per_ip))
		return;
	for (i = 0; i < N_ROUTES; i++) {
		if (!match(routes[i].path, req->path, c.arg))
			continue;
		allowed |= routes[i].method;
		if (routes[i].method == want)
			rt = &routes[i];
	}
	if (!allowed) {
		http_api_not_found(&c);
		return;
	}
	if (!rt) {
		http_api_problem(r, 405, "method-not-allowed",
				 "Method Not Allowed",
				 "This resource does not answer that method.");
		r->allow = allow_values[allowed & 15];
		return;
	}
	if (rt->flags & F_DOCS) {
		rt->fn(&c);
		return;
	}
	if ((rt->flags & F_AUTH) && !http_api_authenticate(&c))
		return;
	if (c.authed && !rate_ok(&c, "token", c.who.id,
				 ctx->api.rate_per_token))
		return;
	if (req->query && req->query->n_fields) {
		struct http_api_errors e = {0};

		http_api_query_known(req->query, rt->query, &e);
		if (e.n) {
			http_api_invalid(r, &e);
			return;
		}
	}
	if (rt->flags & F_BODY) {
		if (!read_body(&c, body, len, &json))
			return;
		c.body = json;
	}
	if ((rt->flags & F_WRITE) && !http_api_may_write(&c)) {
		cJSON_Delete(json);
		return;
	}
	rt->fn(&c);
	cJSON_Delete(json);
}
