/* fake_whatsapp: a stand-in for the Meta WhatsApp Cloud API "send message"
 * endpoint (see /work/shared/providers.md), for unit tests, integration
 * tests and benchmarks.
 *
 *   fake_whatsapp [--port N] [--record FILE] [--mode MODE] [--delay-ms N]
 *                 [--token T]
 *
 * --port N      listen on 127.0.0.1:N; 0 (default) picks a free port.
 *               "listening <port>" is printed on stdout once ready.
 * --record FILE append each request as one JSON line:
 *               {"method","path","headers":{lower-case name: value},
 *                "body":<raw body>,"at":<ms since the epoch>}
 * --mode MODE   ok (default) | error:<code> (HTTP status and error object
 *               of providers.md's table) | http:<status> (empty body) |
 *               drop (close the connection without answering)
 * --delay-ms N  answer message requests after N ms
 * --token T     answer 401 / code 190 unless "Authorization: Bearer T"
 *
 * Only POST /{version}/{phone_number_id}/messages is a message; anything
 * else is a 404 JSON error, except the control endpoints:
 *   POST /_control/mode  body "error:131026" etc. switches the mode
 *   GET  /_control/count the number of message requests received, as text
 *
 * One thread per connection (libmicrohttpd's thread-per-connection mode
 * with poll): a delayed answer only sleeps its own connection's thread, so
 * 1,000 requests/s with a 100 ms delay is ~100 sleeping threads. SIGINT or
 * SIGTERM stops it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#define MAX_BODY (4u << 20)

enum mode_kind { MODE_OK, MODE_ERROR, MODE_HTTP, MODE_DROP };

struct mode {
	enum mode_kind kind;
	long arg; /* error code or HTTP status */
};

struct request {
	char *body;
	size_t len;
	bool too_big;
};

static struct {
	pthread_mutex_t mu;
	struct mode mode;
	unsigned long long count;   /* message requests received */
	unsigned long long serial;  /* wamid / fbtrace source */
	FILE *record;
	long delay_ms;
	const char *token;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* providers.md's error table: code -> HTTP status and title. */
static const struct {
	long code;
	unsigned http;
	const char *title;
} errors[] = {
	{190, 401, "Error validating access token: Session has expired"},
	{0, 401, "AuthException: unable to authenticate the app user"},
	{10, 403, "Application does not have permission for this action"},
	{200, 403, "Permissions error"},
	{4, 400, "Application request limit reached"},
	{80007, 400, "Rate limit issues"},
	{130429, 400, "Rate limit hit"},
	{131056, 400, "(Business Account, Consumer Account) pair rate limit hit"},
	{131048, 400, "Spam rate limit hit"},
	{131000, 500, "Something went wrong"},
	{131016, 500, "Service unavailable"},
	{131057, 500, "Account in maintenance mode"},
	{2, 503, "Service temporarily unavailable"},
	{100, 400, "Invalid parameter"},
	{131026, 400, "Message undeliverable"},
	{131047, 400, "Re-engagement message"},
	{132000, 400, "Number of parameters does not match the expected number of params"},
	{132001, 404, "Template name does not exist in the translation"},
	{132015, 400, "Template is paused"},
	{132016, 400, "Template is disabled"},
	{368, 403, "Temporarily blocked for policies violations"},
	{131031, 403, "Business Account locked"},
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses "ok", "drop", "error:<code>", "http:<status>". Returns 0 or -1. */
static int parse_mode(const char *s, struct mode *out)
{
	char *end;
	long v;

	if (strcmp(s, "ok") == 0) {
		*out = (struct mode){MODE_OK, 0};
		return 0;
	}
	if (strcmp(s, "drop") == 0) {
		*out = (struct mode){MODE_DROP, 0};
		return 0;
	}
	if (strncmp(s, "error:", 6) == 0 || strncmp(s, "http:", 5) == 0) {
		bool err = s[0] == 'e';
		const char *num = s + (err ? 6 : 5);

		if (!isdigit((unsigned char)*num))
			return -1;
		errno = 0;
		v = strtol(num, &end, 10);
		if (errno || *end || (!err && (v < 100 || v > 599)) ||
		    v > 100000000)
			return -1;
		*out = (struct mode){err ? MODE_ERROR : MODE_HTTP, v};
		return 0;
	}
	return -1;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status,
			      const char *type, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	if (*body)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result answer_json(struct MHD_Connection *c, unsigned status,
				   cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	enum MHD_Result rc;

	cJSON_Delete(o);
	if (!s)
		return MHD_NO;
	rc = answer(c, status, "application/json", s);
	free(s);
	return rc;
}

/* The Graph API's error object. */
static enum MHD_Result answer_error(struct MHD_Connection *c, long code,
				    unsigned http, const char *title)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON *d;
	char msg[512], trace[64];
	unsigned long long n;

	pthread_mutex_lock(&G.mu);
	n = ++G.serial;
	pthread_mutex_unlock(&G.mu);
	snprintf(msg, sizeof(msg), "(#%ld) %s", code, title);
	snprintf(trace, sizeof(trace), "AFakeTrace%llx", n);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "type", "OAuthException");
	cJSON_AddNumberToObject(e, "code", (double)code);
	d = cJSON_AddObjectToObject(e, "error_data");
	cJSON_AddStringToObject(d, "messaging_product", "whatsapp");
	cJSON_AddStringToObject(d, "details", title);
	cJSON_AddStringToObject(e, "fbtrace_id", trace);
	return answer_json(c, http, o);
}

static enum MHD_Result answer_code(struct MHD_Connection *c, long code)
{
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return answer_error(c, code, errors[i].http,
					    errors[i].title);
	if (code > 200 && code <= 299)
		return answer_error(c, code, 403, "Permissions error");
	return answer_error(c, code, 400, "Unknown error");
}

/* "wamid." + URL-safe base64 of a per-process serial: unique per answer. */
static void make_wamid(char *out, size_t size, unsigned long long n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char raw[40];
	size_t len, i, o = 0;

	len = (size_t)snprintf(raw, sizeof(raw), "keryu-fake:%016llx:%d", n,
			       (int)getpid());
	o = (size_t)snprintf(out, size, "wamid.");
	for (i = 0; i < len && o + 5 < size; i += 3) {
		unsigned v = (unsigned char)raw[i] << 16;

		if (i + 1 < len)
			v |= (unsigned char)raw[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)raw[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A send that Meta would accept: answer as providers.md shows. */
static enum MHD_Result answer_sent(struct MHD_Connection *c,
				   const struct request *q)
{
	cJSON *in = cJSON_ParseWithLength(q->body ? q->body : "", q->len);
	cJSON *tpl = cJSON_GetObjectItemCaseSensitive(in, "template");
	cJSON *lang = cJSON_GetObjectItemCaseSensitive(tpl, "language");
	const char *to = jstr(in, "to");
	cJSON *o, *contacts, *contact, *msgs, *msg;
	char wamid[128];
	unsigned long long n;

	if (!cJSON_IsObject(in) || !to || !*to ||
	    !jstr(in, "messaging_product") ||
	    strcmp(jstr(in, "messaging_product"), "whatsapp") != 0 ||
	    !jstr(in, "type") || !jstr(tpl, "name") || !jstr(lang, "code")) {
		cJSON_Delete(in);
		return answer_code(c, 100);
	}
	pthread_mutex_lock(&G.mu);
	n = ++G.serial;
	pthread_mutex_unlock(&G.mu);
	make_wamid(wamid, sizeof(wamid), n);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "messaging_product", "whatsapp");
	contacts = cJSON_AddArrayToObject(o, "contacts");
	contact = cJSON_CreateObject();
	cJSON_AddItemToArray(contacts, contact);
	cJSON_AddStringToObject(contact, "input", to);
	cJSON_AddStringToObject(contact, "wa_id", to[0] == '+' ? to + 1 : to);
	msgs = cJSON_AddArrayToObject(o, "messages");
	msg = cJSON_CreateObject();
	cJSON_AddItemToArray(msgs, msg);
	cJSON_AddStringToObject(msg, "id", wamid);
	cJSON_Delete(in);
	return answer_json(c, 200, o);
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	cJSON *headers = cls;
	char name[256];
	size_t i;

	(void)kind;
	for (i = 0; key[i] && i + 1 < sizeof(name); i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	name[i] = '\0';
	cJSON_DeleteItemFromObjectCaseSensitive(headers, name);
	cJSON_AddStringToObject(headers, name, value ? value : "");
	return MHD_YES;
}

static void record(struct MHD_Connection *c, const char *method,
		   const char *path, const struct request *q)
{
	cJSON *o;
	char *line, *body;

	if (!G.record)
		return;
	body = malloc(q->len + 1);
	if (!body)
		return;
	if (q->len)
		memcpy(body, q->body, q->len);
	body[q->len] = '\0';
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddStringToObject(o, "path", path);
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header,
				  cJSON_AddObjectToObject(o, "headers"));
	cJSON_AddStringToObject(o, "body", body);
	cJSON_AddNumberToObject(o, "at", (double)now_ms());
	line = cJSON_PrintUnformatted(o);
	if (line) {
		pthread_mutex_lock(&G.mu);
		fprintf(G.record, "%s\n", line);
		fflush(G.record);
		pthread_mutex_unlock(&G.mu);
	}
	free(line);
	cJSON_Delete(o);
	free(body);
}

/* /{version}/{phone_number_id}/messages, each segment non-empty. */
static bool is_message_path(const char *p)
{
	const char *a, *b;

	if (*p++ != '/' || !(a = strchr(p, '/')) || a == p)
		return false;
	if (!(b = strchr(a + 1, '/')) || b == a + 1)
		return false;
	return strcmp(b + 1, "messages") == 0;
}

static enum MHD_Result control(struct MHD_Connection *c, const char *method,
			       const char *path, const struct request *q)
{
	char buf[64];
	struct mode m;
	size_t n;

	if (strcmp(path, "/_control/count") == 0 && strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&G.mu);
		snprintf(buf, sizeof(buf), "%llu\n", G.count);
		pthread_mutex_unlock(&G.mu);
		return answer(c, 200, "text/plain", buf);
	}
	if (strcmp(path, "/_control/mode") == 0 && strcmp(method, "POST") == 0) {
		n = q->len < sizeof(buf) - 1 ? q->len : sizeof(buf) - 1;
		if (n)
			memcpy(buf, q->body, n);
		while (n > 0 && isspace((unsigned char)buf[n - 1]))
			n--;
		buf[n] = '\0';
		if (parse_mode(buf, &m) != 0)
			return answer(c, 400, "text/plain", "bad mode\n");
		pthread_mutex_lock(&G.mu);
		G.mode = m;
		pthread_mutex_unlock(&G.mu);
		return answer(c, 200, "text/plain", "ok\n");
	}
	return answer_error(c, 100, 404, "Unknown control path");
}

static enum MHD_Result message(struct MHD_Connection *c,
			       const struct request *q)
{
	const char *auth;
	char want[512];
	struct mode m;

	pthread_mutex_lock(&G.mu);
	G.count++;
	m = G.mode;
	pthread_mutex_unlock(&G.mu);
	if (G.delay_ms > 0) /* only this connection's thread sleeps */
		usleep((useconds_t)G.delay_ms * 1000u);
	if (m.kind == MODE_DROP)
		return MHD_NO; /* closes the connection without an answer */
	if (G.token) {
		auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						   MHD_HTTP_HEADER_AUTHORIZATION);
		snprintf(want, sizeof(want), "Bearer %s", G.token);
		if (!auth || strcmp(auth, want) != 0)
			return answer_code(c, 190);
	}
	switch (m.kind) {
	case MODE_ERROR:
		return answer_code(c, m.arg);
	case MODE_HTTP:
		return answer(c, (unsigned)m.arg, "text/plain", "");
	default:
		return answer_sent(c, q);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct request *q = *con_cls;

	(void)cls;
	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		*con_cls = q;
		return q ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		if (q->len + *upload_size > MAX_BODY) {
			q->too_big = true;
		} else {
			char *p = realloc(q->body, q->len + *upload_size);

			if (!p)
				return MHD_NO;
			memcpy(p + q->len, upload, *upload_size);
			q->body = p;
			q->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	record(c, method, url, q);
	if (q->too_big)
		return answer_error(c, 100, 413, "Request body too large");
	if (strncmp(url, "/_control/", 10) == 0)
		return control(c, method, url, q);
	if (strcmp(method, "POST") == 0 && is_message_path(url))
		return message(c, q);
	return answer_error(c, 100, 404, "Unknown path");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's own messages, minus the one that drop mode causes on
 * purpose for every request. */
__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (!strstr(line, "Application reported internal error"))
		fputs(line, stderr);
}

_Noreturn static void usage(void)
{
	fprintf(stderr,
		"usage: fake_whatsapp [--port N] [--record FILE] "
		"[--mode ok|error:<code>|http:<status>|drop] [--delay-ms N] "
		"[--token T]\n");
	exit(2);
}

static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t sigs;
	long port = 0;
	int i, sig;

	for (i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "--port") == 0) {
			port = number(v, 0, 65535);
		} else if (strcmp(argv[i], "--record") == 0) {
			G.record = fopen(v, "a");
			if (!G.record) {
				perror(v);
				return 1;
			}
		} else if (strcmp(argv[i], "--mode") == 0) {
			if (parse_mode(v, &G.mode) != 0)
				usage();
		} else if (strcmp(argv[i], "--delay-ms") == 0) {
			G.delay_ms = number(v, 0, 600000);
		} else if (strcmp(argv[i], "--token") == 0) {
			G.token = v;
		} else {
			usage();
		}
	}

	/* Every thread MHD starts inherits this mask; main takes the signal. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, NULL,
		/* first, so that it applies to every later message */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 8192u,
		MHD_OPTION_CONNECTION_TIMEOUT, 120u,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256u * 1024u),
		MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "fake_whatsapp: cannot listen on port %ld\n",
			port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening %u\n", info ? (unsigned)info->port : 0u);
	fflush(stdout);

	sigwait(&sigs, &sig);
	MHD_stop_daemon(d);
	if (G.record)
		fclose(G.record);
	return 0;
}
