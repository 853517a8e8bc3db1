/* http module through a real socket: libmicrohttpd on an ephemeral
 * loopback port, driven with libcurl. Checks what only the server adds:
 * security headers, HEAD without a body, Allow, 413, and a clean stop. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <microhttpd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"

static struct http_ctx *ctx;

struct reply {
	long status;
	char headers[8192];
	size_t hlen;
	char body[16384];
	size_t blen;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = sz * n, room = sizeof(r->body) - 1 - r->blen;

	memcpy(r->body + r->blen, p, len < room ? len : room);
	r->blen += len < room ? len : room;
	r->body[r->blen] = '\0';
	return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = sz * n, room = sizeof(r->headers) - 1 - r->hlen;

	memcpy(r->headers + r->hlen, p, len < room ? len : room);
	r->hlen += len < room ? len : room;
	r->headers[r->hlen] = '\0';
	return len;
}

/* method NULL is GET; body non-NULL posts it. */
static void request(const char *method, const char *path, const char *host,
		    const char *post, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[256], hosthdr[256];

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
		 (unsigned)http_server_port(ctx), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "curl-test");
	if (host) {
		snprintf(hosthdr, sizeof(hosthdr), "Host: %s", host);
		hdrs = curl_slist_append(hdrs, hosthdr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	if (post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	}
	if (method && strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static bool has_header(const struct reply *r, const char *line)
{
	const char *p = r->headers;
	size_t n = strlen(line);

	for (; (p = strchr(p, '\n')); p++)
		if (strncasecmp(p + 1, line, n) == 0 &&
		    (p[1 + n] == '\r' || p[1 + n] == '\n'))
			return true;
	return false;
}

static bool has_header_prefix(const struct reply *r, const char *line)
{
	const char *p = r->headers;

	for (; (p = strchr(p, '\n')); p++)
		if (strncasecmp(p + 1, line, strlen(line)) == 0)
			return true;
	return false;
}

static void assert_security_headers(const struct reply *r)
{
	assert_true(has_header(r, "X-Content-Type-Options: nosniff"));
	assert_true(has_header(r, "Referrer-Policy: no-referrer"));
	assert_true(has_header(r, "X-Frame-Options: DENY"));
	/* the default policy, or the scan page's: the default plus its own
	 * inline script by hash and fetch to this origin */
	assert_true(has_header(r, "Content-Security-Policy: default-src "
				  "'none'; style-src 'unsafe-inline'; "
				  "img-src 'self'") ||
		    has_header_prefix(r, "Content-Security-Policy: default-src "
					 "'none'; style-src 'unsafe-inline'; "
					 "img-src 'self'; script-src 'sha256-"));
}

static int setup(void **st)
{
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	http_test_offer_services();
	fake_host_set("port", "0"); /* let the kernel pick */
	fake_host_set("threads", "2");
	fake_host_set("max_body", "16");
	fake_host_set("allowed_hosts", "keryu.example,127.0.0.1");
	if (keryu_module.init(fake_mod(), fake_host(), &state) != 0)
		return -1;
	ctx = state;
	if (keryu_module.start(ctx) != 0 || http_server_port(ctx) == 0)
		return -1;
	return 0;
}

/* The default body limits: max_body 6 MiB, form_max_bytes 64 KiB. */
static int setup_limits(void **st)
{
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	http_test_offer_services();
	fake_host_set("port", "0");
	fake_host_set("threads", "2");
	if (keryu_module.init(fake_mod(), fake_host(), &state) != 0)
		return -1;
	ctx = state;
	if (keryu_module.start(ctx) != 0 || http_server_port(ctx) == 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	keryu_module.stop(ctx, 1000);
	assert_int_equal(http_server_port(ctx), 0);
	keryu_module.cleanup(ctx);
	fake_host_reset(NULL);
	return 0;
}

static void scan_over_http(void **st)
{
	struct reply r;

	(void)st;
	request(NULL, "/subjects/qr/" QR "/scan/", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_security_headers(&r);
	assert_true(has_header(&r, "Cache-Control: no-store"));
	assert_true(has_header(&r, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(r.body, "Ana"));
	assert_null(strstr(r.body, "<script>alert")); /* its own script only */
	assert_int_equal(fake_host_pub_count(), 1);
	assert_string_equal(fake_host_pub(0)->topic, "keryu/v1/scan/" QR);
	assert_non_null(strstr(fake_host_pub(0)->payload, "curl-test"));
}

static void head_has_no_body(void **st)
{
	struct reply r;

	(void)st;
	request("HEAD", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.blen, 0);
	assert_security_headers(&r);
	assert_true(has_header(&r, "Content-Type: application/json"));
}

/* The value of header name in r, copied into out; false when absent. */
static bool header_value(const struct reply *r, const char *name, char *out,
			 size_t size)
{
	const char *p = r->headers;
	size_t n = strlen(name), len;

	for (; (p = strchr(p, '\n')); p++) {
		if (strncasecmp(p + 1, name, n) != 0 || p[1 + n] != ':')
			continue;
		p += 2 + n;
		p += strspn(p, " ");
		len = strcspn(p, "\r\n");
		if (len >= size)
			return false;
		memcpy(out, p, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

/* HEAD on a scan URL: GET's status and headers, Content-Length included,
 * no body, and no scan event. */
static void head_scan_like_get_without_alarm(void **st)
{
	struct reply g, h;
	char glen[32], hlen[32];

	(void)st;
	/* the same length needs the same state (the GET's alarm is not
	 * written yet) and no finder token (no secret_key here) */
	fake_storage_state.status_rc = KERYU_ENOTFOUND;
	request(NULL, "/subjects/qr/" QR "/scan/", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(fake_host_pub_count(), 1);

	request("HEAD", "/subjects/qr/" QR "/scan/", NULL, NULL, &h);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.blen, 0);
	assert_security_headers(&h);
	assert_true(has_header(&h, "Cache-Control: no-store"));
	assert_true(has_header(&h, "Content-Type: text/html; charset=utf-8"));
	assert_true(header_value(&g, "Content-Length", glen, sizeof(glen)));
	assert_true(header_value(&h, "Content-Length", hlen, sizeof(hlen)));
	assert_string_equal(hlen, glen);
	assert_int_equal(strtoul(glen, NULL, 10), g.blen);
	assert_int_equal(fake_host_pub_count(), 1); /* HEAD published nothing */
}

/* Run in the child below: abort() must come after the log line. */
static void on_abort(int sig)
{
	(void)sig;
	_exit(fake_host_log_contains("error http.panic file=daemon.c "
				     "line=42 reason=\"broken\"")
		      ? 42
		      : 43);
}

/* MHD calls its panic handler where it cannot go on (the code after the
 * call is marked unreachable): ours must log, then abort, never return. */
static void panic_logs_then_aborts(void **st)
{
	pid_t pid;
	int status = 0;

	(void)st;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGABRT, on_abort);
		http_server_panic(ctx, "daemon.c", 42, "broken");
		_exit(0); /* not reached when the handler aborts */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
}

static void healthz_over_http(void **st)
{
	struct reply r;

	(void)st;
	request(NULL, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(
		r.body, "{\"status\":\"ok\",\"database\":\"ok\",\"bus\":\"ok\"}\n");
	fake_host_set_connected(false);
	request(NULL, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 503);
}

static void errors_carry_headers(void **st)
{
	struct reply r;

	(void)st;
	request("DELETE", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: GET, HEAD"));
	assert_security_headers(&r);

	request(NULL, "/healthz", "evil.example", NULL, &r);
	assert_int_equal(r.status, 400);
	assert_security_headers(&r);

	request(NULL, "/nope", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_security_headers(&r);

	/* body is URL-decoded by MHD: junk after the uuid stays junk */
	request(NULL, "/subjects/qr/" QR "%00/scan/", NULL, NULL, &r);
	assert_int_equal(r.status, 404);

	request("POST", "/subjects/qr/" QR "/scan/", NULL, "small", &r);
	assert_int_equal(r.status, 405);
	request("POST", "/subjects/qr/" QR "/scan/", NULL,
		"a body well over sixteen bytes", &r);
	assert_int_equal(r.status, 413);
	assert_security_headers(&r);
	assert_int_equal(fake_host_pub_count(), 0);
}

static void publish_failure_over_http(void **st)
{
	struct reply r;

	(void)st;
	fake_host_set_publish_result(KERYU_EIO);
	request(NULL, "/subjects/qr/" QR "/scan/", "keryu.example:8000", NULL,
		&r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "emergency services"));
	assert_true(has_header(&r, "Cache-Control: no-store"));
}

/* ---- POST bodies through MHD_PostProcessor (http_body.c), on a daemon
 * of the test's own so that any form can be looked at ---- */

static struct {
	bool started;
	struct http_body *b;
	unsigned status;
	struct http_form form;
} bs;

static enum MHD_Result body_handler(void *cls, struct MHD_Connection *c,
				   const char *url, const char *method,
				   const char *version, const char *data,
				   size_t *size, void **con_cls)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)con_cls;
	if (!bs.started) {
		bs.started = true;
		bs.b = http_body_begin(c, 1024, &bs.status);
		if (bs.b)
			return MHD_YES;
	} else if (*size) {
		if (!bs.status)
			bs.status = http_body_feed(bs.b, data, *size);
		*size = 0;
		return bs.status == 413 ? MHD_NO : MHD_YES;
	} else {
		unsigned st = http_body_end(bs.b, &bs.form);

		bs.b = NULL;
		if (!bs.status)
			bs.status = st;
	}
	mr = MHD_create_response_from_buffer(0, (void *)"",
					     MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, bs.status ? bs.status : 200, mr);
	MHD_destroy_response(mr);
	return ret;
}

/* POSTs body with content type ct (or a multipart mime when mime is
 * set) to the body daemon; returns the status. */
static long post_body(struct MHD_Daemon *d, const char *ct, const char *body,
		      size_t len, curl_mime *mime)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[64], hdr[256];
	struct reply r;
	long status = 0;

	http_body_free(bs.b);
	http_form_free(&bs.form);
	memset(&bs, 0, sizeof(bs));
	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", info->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (mime) {
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ct);
		hdrs = curl_slist_append(hdrs, hdr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return status;
}

static void form_bodies(void **st)
{
	struct MHD_Daemon *d;
	const struct http_file *f;
	static const char png[] = "\x89PNG\r\n\x1a\n\0\0rest";
	const char *cut = "--XyZ\r\nContent-Disposition: form-data; "
			  "name=\"a\"\r\n\r\nvalue";
	curl_mime *mime;
	curl_mimepart *part;
	char big[2000];

	(void)st;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
			     body_handler, NULL, MHD_OPTION_SOCK_ADDR, NULL,
			     MHD_OPTION_END);
	assert_non_null(d);

	/* urlencoded: every value, the first one by name */
	assert_int_equal(post_body(d, "application/x-www-form-urlencoded",
				   "a=1&b=x%20y+z&a=2&empty=", 24, NULL),
			 200);
	assert_string_equal(http_form_get(&bs.form, "a"), "1");
	assert_string_equal(http_form_get(&bs.form, "b"), "x y z");
	assert_string_equal(http_form_get(&bs.form, "empty") ?
				    http_form_get(&bs.form, "empty") : "",
			    "");
	assert_int_equal(bs.form.n_files, 0);

	/* multipart with a file part, kept in memory bytes and all */
	mime = curl_mime_init(NULL);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "name");
	curl_mime_data(part, "Ana", CURL_ZERO_TERMINATED);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "photo");
	curl_mime_filename(part, "p.png");
	curl_mime_type(part, "image/png");
	curl_mime_data(part, png, sizeof(png) - 1);
	assert_int_equal(post_body(d, NULL, NULL, 0, mime), 200);
	curl_mime_free(mime);
	assert_string_equal(http_form_get(&bs.form, "name"), "Ana");
	f = http_form_file(&bs.form, "photo");
	assert_non_null(f);
	assert_string_equal(f->filename, "p.png");
	assert_string_equal(f->content_type, "image/png");
	assert_int_equal(f->len, sizeof(png) - 1);
	assert_memory_equal(f->data, png, sizeof(png) - 1);
	assert_null(http_form_get(&bs.form, "photo"));

	/* malformed: a multipart cut short, a NUL in a text value, a type
	 * that is no form, multipart without a boundary */
	assert_int_equal(post_body(d, "multipart/form-data; boundary=XyZ", cut,
				   strlen(cut), NULL),
			 400);
	assert_int_equal(post_body(d, "application/x-www-form-urlencoded",
				   "a=%00b", 6, NULL),
			 400);
	assert_int_equal(post_body(d, "text/plain", "a=1", 3, NULL), 400);
	assert_int_equal(post_body(d, "multipart/form-data", "a=1", 3, NULL),
			 400);

	/* over max_body (1024 here): 413 before the body is read */
	memset(big, 'a', sizeof(big));
	big[0] = 'x';
	big[1] = '=';
	assert_int_equal(post_body(d, "application/x-www-form-urlencoded", big,
				   sizeof(big), NULL),
			 413);
	assert_int_equal(bs.form.n_fields, 0);

	http_body_free(bs.b);
	http_form_free(&bs.form);
	memset(&bs, 0, sizeof(bs));
	MHD_stop_daemon(d);
}

/* The session cookie over a real socket: flags, and a form POST that
 * needs it. */
static void session_cookie_over_http(void **st)
{
	struct reply r;
	char cookie[256], *v;

	(void)st;
	request(NULL, "/account/login", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Cache-Control: no-store"));
	assert_true(header_value(&r, "Set-Cookie", cookie, sizeof(cookie)));
	assert_non_null(strstr(cookie, "HttpOnly"));
	assert_non_null(strstr(cookie, "SameSite=Lax"));
	assert_non_null(strstr(cookie, "Path=/"));
	v = strstr(r.body, "name=\"csrf\"");
	assert_non_null(v);

	/* a POST without the token: 403, and nothing created */
	request("POST", "/account/signup", NULL, "name=Ana", &r);
	assert_int_equal(r.status, 403);
	assert_security_headers(&r);
	assert_int_equal(fake_accounts_state.creates, 0);
}

/* Sends body (len bytes, urlencoded) as a POST, with cookie when not
 * NULL; returns the status. */
static long post_big(const char *path, const char *cookie, size_t len)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct reply r;
	char url[256], hdr[256];
	char *body = malloc(len + 1);
	long status = 0;

	assert_non_null(c);
	assert_non_null(body);
	memset(&r, 0, sizeof(r));
	memcpy(body, "csrf=x&a=", 9);
	memset(body + 9, 'a', len - 9);
	body[len] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
		 (unsigned)http_server_port(ctx), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	if (cookie) {
		snprintf(hdr, sizeof(hdr), "Cookie: %s", cookie);
		hdrs = curl_slist_append(hdrs, hdr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	/* the server may answer and close before taking the whole body */
	(void)curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(body);
	return status;
}

#define SUBJECT "/subjects/0b7f8d4e-3c1a-4f2b-9e6d-5a4c3b2a1f00"

/* Form posts get form_max_bytes, only the photo upload max_body; a
 * visitor's POST to a login-only page is answered unread. */
static void body_limits(void **st)
{
	(void)st;
	assert_int_equal(post_big("/account/login", NULL, 100 * 1024), 413);
	assert_int_equal(fake_accounts_state.by_email, 0);
	assert_int_equal(fake_accounts_state.rate_hits, 0);
	assert_int_equal(fake_accounts_state.session_gets, 0);
	/* a small one reaches the handler (403: no CSRF session) */
	assert_int_equal(post_big("/account/login", NULL, 1024), 403);

	/* a large photo is read (and refused only for its bogus session) */
	assert_int_equal(post_big(SUBJECT "/photo", "keryu_session=abc",
				  2 * 1024 * 1024),
			 403);
	assert_int_equal(post_big(SUBJECT "/edit", "keryu_session=abc",
				  100 * 1024),
			 413);
	/* no session cookie at all: 303 before any body is read */
	assert_int_equal(post_big(SUBJECT "/photo", NULL, 2 * 1024 * 1024),
			 303);
	assert_int_equal(fake_accounts_state.session_gets, 1);
}

/* Provider webhooks and the acknowledgement link: their keys come from
 * other sections ([twilio], [kernel]) through host->global(). */
#define TW_TOKEN "twilio-token-over-http"
#define TW_N "11111111-2222-4333-8444-555555555555"

static int setup_webhooks(void **st)
{
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	snprintf(fake_storage_state.ack_nid, sizeof(fake_storage_state.ack_nid),
		 "%s", TW_N);
	snprintf(fake_storage_state.ack.alarm_id,
		 sizeof(fake_storage_state.ack.alarm_id), "%s",
		 "cccccccc-2222-4000-8000-000000000001");
	snprintf(fake_storage_state.ack.subject_first_name,
		 sizeof(fake_storage_state.ack.subject_first_name), "%s",
		 "Ana");
	http_test_offer_services();
	fake_host_set("port", "0");
	fake_host_set("threads", "2");
	fake_host_set("public_url", "https://keryu.example");
	fake_host_set("webhook_max_bytes", "2048");
	fake_host_set_global("twilio", "auth_token", TW_TOKEN);
	fake_host_set_global("kernel", "secret_key", "server-test-secret");
	if (keryu_module.init(fake_mod(), fake_host(), &state) != 0)
		return -1;
	ctx = state;
	if (keryu_module.start(ctx) != 0 || http_server_port(ctx) == 0)
		return -1;
	return 0;
}

/* POST path with body and up to two extra header lines. */
static void post_with(const char *path, const char *body, const char *h1,
		      const char *h2, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[512];

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
		 (unsigned)http_server_port(ctx), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (h1)
		hdrs = curl_slist_append(hdrs, h1);
	if (h2)
		hdrs = curl_slist_append(hdrs, h2);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static void twilio_status_over_http(void **st)
{
	static const char signed_text[] =
		"https://keryu.example/webhooks/twilio/status?n=" TW_N
		"MessageSidSM0123MessageStatusdeliveredTowhatsapp:+16505551234";
	static const char body[] = "To=whatsapp%3A%2B16505551234&MessageStatus="
				   "delivered&MessageSid=SM0123";
	unsigned char mac[20];
	unsigned int len = 0;
	char sig[64], hdr[128], big[3000];
	struct keryu_delivery_event ev;
	struct reply r;

	(void)st;
	assert_non_null(HMAC(EVP_sha1(), TW_TOKEN, (int)strlen(TW_TOKEN),
			     (const unsigned char *)signed_text,
			     strlen(signed_text), mac, &len));
	EVP_EncodeBlock((unsigned char *)sig, mac, 20);
	snprintf(hdr, sizeof(hdr), "X-Twilio-Signature: %s", sig);
	post_with("/webhooks/twilio/status?n=" TW_N, body, hdr, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	assert_security_headers(&r);
	assert_int_equal(fake_host_pub_count(), 1);
	assert_string_equal(fake_host_pub(0)->topic,
			    "keryu/v1/delivery/" TW_N);
	assert_int_equal(keryu_delivery_event_decode(fake_host_pub(0)->payload,
						     fake_host_pub(0)->len,
						     &ev),
			 0);
	assert_string_equal(ev.channel, "twilio");
	assert_string_equal(ev.status, "delivered");

	/* unsigned, or signed for another notification: refused */
	post_with("/webhooks/twilio/status?n=" TW_N, body, NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	post_with("/webhooks/twilio/status?n="
		  "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
		  body, hdr, NULL, &r);
	assert_int_equal(r.status, 403);
	/* over webhook_max_bytes: 413 before it is read */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	post_with("/webhooks/twilio/status?n=" TW_N, big, hdr, NULL, &r);
	assert_int_equal(r.status, 413);
	assert_int_equal(fake_host_pub_count(), 1);
}

static void ack_over_http(void **st)
{
	char tok[KERYU_ACK_TOKEN_LEN], path[256];
	struct reply r;

	(void)st;
	assert_int_equal(keryu_ack_token_make("server-test-secret", TW_N,
					      (long long)time(NULL) + 600, tok),
			 0);
	snprintf(path, sizeof(path), "/ack/%s", tok);
	request(NULL, path, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Cache-Control: no-store"));
	assert_non_null(strstr(r.body, "on my way</button>"));
	assert_int_equal(fake_storage_state.acks, 0);
	/* another site's form: refused; the button's own post (an empty
	 * form, Origin "null" under no-referrer): acknowledged */
	post_with(path, "", "Origin: https://evil.example",
		  "Content-Type: application/x-www-form-urlencoded", &r);
	assert_int_equal(r.status, 403);
	assert_int_equal(fake_storage_state.acks, 0);
	post_with(path, "", "Origin: null",
		  "Content-Type: application/x-www-form-urlencoded", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Thank you"));
	assert_int_equal(fake_storage_state.acks, 1);
	assert_int_equal(fake_host_pub_count(), 1);
	assert_string_equal(fake_host_pub(0)->topic,
			    "keryu/v1/alarm/cccccccc-2222-4000-8000-000000000001");
}

static void client_ip_behind_proxy(void **st)
{
	char out[80];

	(void)st;
	/* no trusted proxies: the peer, whatever the header says */
	http_client_ip(ctx, "192.0.2.1", "203.0.113.5", out, sizeof(out));
	assert_string_equal(out, "192.0.2.1");
	http_client_ip(ctx, "2001:db8:1:2:aaaa::1", NULL, out, sizeof(out));
	assert_string_equal(out, "2001:db8:1:2::/64");
	http_client_ip(ctx, "2001:db8:1:2:bbbb::9", NULL, out, sizeof(out));
	assert_string_equal(out, "2001:db8:1:2::/64");

	keryu_module.cleanup(ctx);
	fake_host_reset(&keryu_module);
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_host_add_service(KERYU_SERVICE_ACCOUNTS, &fake_accounts);
	fake_host_set("trusted_proxies", "127.0.0.1, ::1,10.0.0.2");
	{
		void *state = NULL;

		assert_int_equal(keryu_module.init(fake_mod(), fake_host(),
						   &state),
				 0);
		ctx = state;
	}
	http_client_ip(ctx, "127.0.0.1", "6.6.6.6, 203.0.113.5", out,
		       sizeof(out));
	assert_string_equal(out, "203.0.113.5");
	/* proxies in the chain are skipped, right to left */
	http_client_ip(ctx, "::1", "6.6.6.6,203.0.113.5, 10.0.0.2", out,
		       sizeof(out));
	assert_string_equal(out, "203.0.113.5");
	http_client_ip(ctx, "127.0.0.1", "2001:db8:9:9:1::5", out,
		       sizeof(out));
	assert_string_equal(out, "2001:db8:9:9::/64");
	/* junk or nothing: the peer */
	http_client_ip(ctx, "127.0.0.1", "6.6.6.6, not-an-ip", out,
		       sizeof(out));
	assert_string_equal(out, "127.0.0.1");
	http_client_ip(ctx, "127.0.0.1", NULL, out, sizeof(out));
	assert_string_equal(out, "127.0.0.1");
	/* an untrusted peer's header is ignored */
	http_client_ip(ctx, "192.0.2.1", "203.0.113.5", out, sizeof(out));
	assert_string_equal(out, "192.0.2.1");
	keryu_module.cleanup(ctx);
	ctx = NULL;
	fake_host_reset(NULL);

	/* a bad entry stops the module from starting */
	fake_host_reset(&keryu_module);
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_host_add_service(KERYU_SERVICE_ACCOUNTS, &fake_accounts);
	fake_host_set("trusted_proxies", "proxy.example");
	{
		void *state = NULL;

		assert_int_equal(keryu_module.init(fake_mod(), fake_host(),
						   &state),
				 KERYU_EINVAL);
	}
	fake_host_reset(NULL);
}

static int setup_plain(void **st)
{
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_host_add_service(KERYU_SERVICE_ACCOUNTS, &fake_accounts);
	if (keryu_module.init(fake_mod(), fake_host(), &state) != 0)
		return -1;
	ctx = state;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(scan_over_http, setup, teardown),
		cmocka_unit_test_setup_teardown(head_has_no_body, setup,
						teardown),
		cmocka_unit_test_setup_teardown(head_scan_like_get_without_alarm,
						setup, teardown),
		cmocka_unit_test_setup_teardown(panic_logs_then_aborts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(healthz_over_http, setup,
						teardown),
		cmocka_unit_test_setup_teardown(errors_carry_headers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(publish_failure_over_http, setup,
						teardown),
		cmocka_unit_test(form_bodies),
		cmocka_unit_test_setup_teardown(session_cookie_over_http, setup,
						teardown),
		cmocka_unit_test_setup_teardown(body_limits, setup_limits,
						teardown),
		cmocka_unit_test_setup(client_ip_behind_proxy, setup_plain),
		cmocka_unit_test_setup_teardown(twilio_status_over_http,
						setup_webhooks, teardown),
		cmocka_unit_test_setup_teardown(ack_over_http, setup_webhooks,
						teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
