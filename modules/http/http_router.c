/* Request -> handler, plus the checks every route shares (Host, method).
 * Knows nothing of libmicrohttpd so the unit tests can drive it directly. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <keryu/events.h>

#include "http_api.h"
#include "http_finder.h"
#include "http_module.h"
#include "http_stats.h"
#include "http_tags_alarms.h"
#include "http_webhooks.h"

#define SCAN_PREFIX "/subjects/qr/"
#define SCAN_SUFFIX "/scan/"
#define SHORT_PREFIX "/t/"
#define ALLOW_GET "GET, HEAD"
#define ALLOW_FORM "GET, HEAD, POST"
#define ALLOW_POST "POST"

/* The custodians' pages (struct http_page_route); the staff pages are
 * http_admin_routes. */
static const struct http_page_route page_routes[] = {
	{"/", http_landing, true, false, false, false},
	{"/account/", http_account_home, true, false, true, false},
	{"/account/signup", http_signup, true, true, false, false},
	{"/account/verify", http_verify, true, true, true, false},
	{"/account/verify/resend", http_verify_resend, false, true, true, false},
	{"/account/login", http_login, true, true, false, false},
	{"/account/logout", http_logout, false, true, false, false},
	{"/account/password", http_password_change, true, true, true, false},
	{"/account/reset", http_reset, true, true, false, false},
	{"/account/reset/confirm", http_reset_confirm, true, true, false, false},
	/* subjects routes */
	{"/subjects/", http_subject_list, true, false, true, false},
	{"/subjects/new", http_subject_new, true, true, true, false},
	{"/subjects/*/", http_subject_view, true, false, true, false},
	{"/subjects/*/edit", http_subject_edit, true, true, true, false},
	{"/subjects/*/delete", http_subject_delete, true, true, true, false},
	{"/subjects/*/privacy", http_subject_privacy, true, true, true, false},
	{"/subjects/*/missing", http_subject_missing, false, true, true, false},
	{"/subjects/*/photo", http_subject_photo, true, true, true, false},
	{"/subjects/*/photo/image", http_subject_photo_image, true, false,
	 true, false},
	{"/subjects/*/contacts/", http_contacts, true, false, true, false},
	{"/subjects/*/contacts/new", http_contact_new, false, true, true, false},
	{"/subjects/*/contacts/*/delete", http_contact_delete, false, true,
	 true, false},
	{"/subjects/*/contacts/*/up", http_contact_up, false, true, true, false},
	{"/subjects/*/contacts/*/down", http_contact_down, false, true, true, false},
	{"/subjects/*/contacts/*/verify", http_contact_verify, true, true,
	 true, false},
	{"/subjects/*/contacts/*/verify/resend", http_contact_resend, false,
	 true, true, false},
	/* tags routes */
	{"/subjects/*/tags/", http_tags_list, true, false, true, false},
	{"/subjects/*/tags/new", http_tag_new, false, true, true, false},
	{"/subjects/*/tags/*/activate", http_tag_activate, false, true, true, false},
	{"/subjects/*/tags/*/deactivate", http_tag_deactivate, false, true,
	 true, false},
	{"/subjects/*/tags/*/qr.png", http_tag_png, true, false, true, false},
	{"/subjects/*/tags/*/qr.svg", http_tag_svg, true, false, true, false},
	{"/subjects/*/tags/*/print", http_tag_print, true, false, true, false},
	/* alarms routes */
	{"/dashboard/", http_dashboard, true, false, true, false},
	{"/alarms/", http_alarms_list, true, false, true, false},
	{"/alarms/*/", http_alarm_detail, true, false, true, false},
	{"/alarms/*/resolve", http_alarm_resolve, false, true, true, false},
	{"/alarms/*/acknowledge", http_alarm_acknowledge, false, true, true, false},
	/* statistics routes */
	{"/stats/", http_stats, true, false, true, false},
	{"/stats/alarms.csv", http_stats_csv, true, false, true, false},
};

#define N_PAGE_ROUTES (sizeof(page_routes) / sizeof(page_routes[0]))

/* True when path matches pattern; "*" segments are copied into arg. */
static bool match_path(const char *pattern, const char *path,
		       char arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX])
{
	int n = 0;

	while (*pattern && *path) {
		if (*pattern == '*') {
			size_t len = strspn(path, "abcdefghijklmnopqrstuvwxyz"
						  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						  "0123456789-");

			if (len == 0 || len >= HTTP_PAGE_ARG_MAX ||
			    n == HTTP_PAGE_ARGS)
				return false;
			memcpy(arg[n], path, len);
			arg[n][len] = '\0';
			/* every id in a page path is a UUID: anything else is
			 * not this page (and so not a login redirect either) */
			if (!keryu_uuid_valid(arg[n++]))
				return false;
			pattern++;
			path += len;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return !*pattern && !*path;
}

static const struct http_page_route *
find_page(const char *path, char arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX])
{
	size_t i;

	for (i = 0; path && i < N_PAGE_ROUTES; i++)
		if (match_path(page_routes[i].path, path, arg))
			return &page_routes[i];
	for (i = 0; path && i < http_admin_n_routes; i++)
		if (match_path(http_admin_routes[i].path, path, arg))
			return &http_admin_routes[i];
	return NULL;
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 500;
	r->content_type = "text/html; charset=utf-8";
	html_init(&r->body);
}

void http_response_free(struct http_response *r)
{
	html_free(&r->body);
}

bool http_host_allowed(const struct http_ctx *ctx, const char *host)
{
	const char *name = host, *end;
	size_t n, i;

	if (ctx->n_allowed_hosts == 0)
		return true;
	if (!host || !*host)
		return false;
	if (host[0] == '[') { /* [v6]:port */
		name = host + 1;
		end = strchr(name, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
	} else {
		end = strchr(host, ':');
		if (!end)
			end = host + strlen(host);
		else if (strchr(end + 1, ':'))
			return false; /* bare IPv6 is not a valid Host */
	}
	n = (size_t)(end - name);
	if (n == 0 || n >= HTTP_HOST_NAME_MAX)
		return false;
	for (i = 0; i < ctx->n_allowed_hosts; i++)
		if (strlen(ctx->allowed_hosts[i]) == n &&
		    strncasecmp(ctx->allowed_hosts[i], name, n) == 0)
			return true;
	return false;
}

/* Returns the segment between the scan prefix and suffix, copied into seg,
 * or false when path is not a scan URL at all. An over-long segment is
 * still a scan URL (answered 404 by the handler), so it is cut, not
 * refused. */
static bool match_scan(const char *path, char *seg, size_t size)
{
	size_t pl = strlen(SCAN_PREFIX), sl = strlen(SCAN_SUFFIX);
	size_t n = strlen(path), mid;

	if (n < pl + sl + 1 || strncmp(path, SCAN_PREFIX, pl) != 0 ||
	    strcmp(path + n - sl, SCAN_SUFFIX) != 0)
		return false;
	mid = n - pl - sl;
	if (memchr(path + pl, '/', mid))
		return false;
	if (mid >= size)
		mid = size - 1;
	memcpy(seg, path + pl, mid);
	seg[mid] = '\0';
	return true;
}

/* "/t/<code>" or "/t/<code>/": copies the code (cut to fit: a long one
 * is still a short-code address, answered 404 by the handler). */
static bool match_short(const char *path, char *seg, size_t size)
{
	size_t n;

	if (strncmp(path, SHORT_PREFIX, strlen(SHORT_PREFIX)) != 0)
		return false;
	path += strlen(SHORT_PREFIX);
	n = strcspn(path, "/");
	if (path[n] && strcmp(path + n, "/") != 0)
		return false;
	if (n >= size)
		n = size - 1;
	memcpy(seg, path, n);
	seg[n] = '\0';
	return true;
}

static bool method_is_get(const char *method)
{
	return method &&
	       (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
}

bool http_route_takes_post(const char *path)
{
	char arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX];
	char token[KERYU_ACK_TOKEN_LEN];
	const struct http_page_route *rt = find_page(path, arg);

	char seg[64];

	return (rt && rt->post) ||
	       (path && http_ack_path(path, token, sizeof(token))) ||
	       http_finder_path(path, seg, sizeof(seg)) != HTTP_FINDER_NONE;
}

long long http_route_body_limit(const struct http_ctx *ctx, const char *path)
{
	char arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX];
	long long lim = ctx->form_max_bytes;

	/* only the photo form carries a file; every other form is a few
	 * fields, so the big limit is not offered to anyone who asks */
	if (path && match_path("/subjects/*/photo", path, arg))
		lim = ctx->max_body;
	return lim < ctx->max_body ? lim : ctx->max_body;
}

bool http_route_needs_login(const char *path)
{
	char arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX];
	const struct http_page_route *rt = find_page(path, arg);

	return rt && rt->login;
}

static void to_login(struct http_response *r, const char *path)
{
	char next[512], loc[600];

	if (!http_url_encode(path, next, sizeof(next))) {
		http_redirect(r, "/account/login");
		return;
	}
	snprintf(loc, sizeof(loc), "/account/login?next=%s", next);
	http_redirect(r, loc);
}

static void page_route(struct http_ctx *ctx, const struct http_request *req,
		       const struct http_page_route *rt,
		       char arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX],
		       struct http_response *r)
{
	bool post = req->method && strcmp(req->method, "POST") == 0;
	struct http_session s;
	struct http_page p = {.ctx = ctx, .req = req, .s = &s, .r = r};
	int rc;

	memcpy(p.arg, arg, sizeof(p.arg));

	if ((post && !rt->post) || (!post && !method_is_get(req->method)) ||
	    (!post && !rt->get)) {
		http_page_error(r, 405, "Method not allowed",
				"This address does not answer that method.");
		r->allow = !rt->post ? ALLOW_GET
			   : !rt->get ? ALLOW_POST
				      : ALLOW_FORM;
		return;
	}
	if (!ctx->accounts) {
		http_page_error(r, 503, "Temporarily unavailable",
				"Accounts are not available on this server.");
		return;
	}
	r->no_store = true;
	rc = http_session_load(ctx, req, &s);
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.session",
			       "error=\"%s\"", keryu_strerror(rc));
		http_page_error(r, 503, "Temporarily unavailable",
				"This page cannot be used right now. Please "
				"try again in a few minutes.");
		r->no_store = true;
		return;
	}
	if (post && !http_csrf_ok(&s, req->form)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.csrf",
			       "path=%s status=403 session=%s", rt->path,
			       s.exists ? "yes" : "no");
		http_page_error(r, 403, "Form expired",
				"This form was not accepted, perhaps because "
				"it was open for too long. Please go back, "
				"reload the page and try again.");
		r->no_store = true;
		return;
	}
	if (rt->login && !s.logged_in) {
		if (post)
			http_redirect(r, "/account/login");
		else
			/* the address asked for, not the route's pattern
			 * with its "*" segments */
			to_login(r, req->path ? req->path : rt->path);
		return;
	}
	if (rt->staff && !s.who.is_staff) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.staff_only",
			       "path=%s status=403", rt->path);
		http_page_error(r, 403, "Staff only",
				"This page is for the staff who run this "
				"service.");
		return;
	}
	rt->fn(&p);
}

const char *http_route_class(const char *path)
{
	static const char *const fixed[] = {
		"/healthz", "/readyz", "/metrics", "/account",
		HTTP_WEBHOOK_WHATSAPP, HTTP_WEBHOOK_TWILIO};
	char seg[64], arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX];
	char token[KERYU_ACK_TOKEN_LEN];
	const struct http_page_route *rt;
	size_t i;

	if (!path)
		return "other";
	if (http_api_path(path))
		return http_api_route_class(path);
	rt = find_page(path, arg);
	if (rt)
		return rt->path;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(path, fixed[i]) == 0)
			return fixed[i];
	if (http_ack_path(path, token, sizeof(token)))
		return "/ack/*";
	switch (http_finder_path(path, seg, sizeof(seg))) {
	case HTTP_FINDER_LOCATION:
		return SCAN_PREFIX "*" SCAN_SUFFIX "location";
	case HTTP_FINDER_REPORT:
		return SCAN_PREFIX "*" SCAN_SUFFIX "report";
	case HTTP_FINDER_STATUS:
		return SCAN_PREFIX "*" SCAN_SUFFIX "status";
	case HTTP_FINDER_PHOTO:
		return SCAN_PREFIX "*" SCAN_SUFFIX "photo";
	default:
		break;
	}
	if (match_scan(path, seg, sizeof(seg)))
		return SCAN_PREFIX "*" SCAN_SUFFIX;
	if (match_short(path, seg, sizeof(seg)))
		return SHORT_PREFIX "*";
	return "other";
}

void http_route(struct http_ctx *ctx, const struct http_request *req,
		struct http_response *r)
{
	char seg[64], arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX] = {{0}};
	char token[KERYU_ACK_TOKEN_LEN];
	const struct http_page_route *rt;
	enum { NONE, SCAN, SHORT, HEALTH, READY, METRICS, WA_VERIFY } route =
		NONE;
	enum http_finder_route finder;
	const char *path = req->path ? req->path : "";

	if (!http_host_allowed(ctx, req->host)) {
		/* the name is not logged whole: it is attacker-chosen */
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.host_refused",
			       "status=400");
		http_page_error(r, 400, "Bad request",
				"This server does not answer for that host name.");
		return;
	}
	rt = find_page(path, arg);
	if (rt) {
		page_route(ctx, req, rt, arg, r);
		return;
	}
	if (strcmp(path, "/account") == 0) {
		http_redirect(r, "/account/");
		return;
	}
	if (http_ack_path(path, token, sizeof(token))) {
		/* public: the token is the capability; GET and POST */
		http_ack(ctx, req, token, r);
		return;
	}
	finder = http_finder_path(path, seg, sizeof(seg));
	if (finder != HTTP_FINDER_NONE) {
		/* public: the finder token is the capability */
		http_finder(ctx, req, finder, seg, r);
		return;
	}
	if (strcmp(path, "/healthz") == 0)
		route = HEALTH;
	else if (strcmp(path, "/readyz") == 0)
		route = READY;
	else if (strcmp(path, "/metrics") == 0)
		route = METRICS;
	else if (strcmp(path, "/webhooks/whatsapp") == 0)
		route = WA_VERIFY; /* public: Meta has no session */
	else if (match_scan(path, seg, sizeof(seg)))
		route = SCAN;
	else if (match_short(path, seg, sizeof(seg)))
		route = SHORT;

	if (route == NONE) {
		http_page_error(r, 404, "Page not found",
				"There is nothing at this address.");
		/* same headers as a page's own 404 for an id that is not the
		 * custodian's: a malformed id must not be told apart */
		r->no_store = true;
		return;
	}
	if (!method_is_get(req->method)) {
		http_page_error(r, 405, "Method not allowed",
				"This address only answers GET and HEAD.");
		r->allow = ALLOW_GET;
		return;
	}
	if (route == HEALTH)
		http_health(ctx, r);
	else if (route == READY)
		http_ready(ctx, r);
	else if (route == METRICS)
		http_metrics(ctx, req, r);
	else if (route == WA_VERIFY)
		http_webhook_whatsapp_verify(ctx, req, r);
	else if (route == SHORT)
		http_short(ctx, req, seg, r);
	else
		http_scan(ctx, req, seg, r);
}
