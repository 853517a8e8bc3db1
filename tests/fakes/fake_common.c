/* fake_common: see fake_common.h. */
#include "fake_common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOTE_BUCKETS 4096u

struct script {
	size_t n; /* >= 1 */
	struct fake_step steps[FAKE_MAX_STEPS];
};

/* Per-notification state: where it is in the script. */
struct note {
	struct note *next;
	unsigned long long cursor;
	char id[];
};

static struct {
	const char *name;
	void (*usage)(void);
	pthread_mutex_t mu;      /* script, notes, count */
	pthread_mutex_t file_mu; /* record lines */
	struct script script;
	struct note *notes[NOTE_BUCKETS];
	unsigned long long count; /* message requests received */
	FILE *record;
	long port, delay_ms, hold_ms;
	size_t max_body;
	fake_handler handler;
	sigset_t sigs;
	atomic_bool stopping;
} F = {
	.name = "fake",
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.file_mu = PTHREAD_MUTEX_INITIALIZER,
	.script = {1, {{FAKE_OK, 0}}},
	.hold_ms = 3000,
};

static void bad_usage(void)
{
	if (F.usage)
		F.usage();
	exit(2);
}

void fake_init(const char *name, void (*usage)(void))
{
	F.name = name;
	F.usage = usage;
}

long fake_number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		bad_usage();
	return v;
}

FILE *fake_open_append(const char *path)
{
	FILE *f = fopen(path, "a");

	if (!f) {
		perror(path);
		exit(1);
	}
	return f;
}

bool fake_option(const char *flag, const char *value)
{
	if (strcmp(flag, "--port") == 0)
		F.port = fake_number(value, 0, 65535);
	else if (strcmp(flag, "--record") == 0)
		F.record = fake_open_append(value);
	else if (strcmp(flag, "--mode") == 0) {
		if (fake_set_mode(value) != 0)
			bad_usage();
	} else if (strcmp(flag, "--delay-ms") == 0)
		F.delay_ms = fake_number(value, 0, 600000);
	else if (strcmp(flag, "--timeout-hold-ms") == 0)
		F.hold_ms = fake_number(value, 0, 600000);
	else
		return false;
	return true;
}

long fake_delay_ms(void)
{
	return F.delay_ms;
}

long fake_hold_ms(void)
{
	return F.hold_ms;
}

long long fake_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long fake_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fake_sleep_ms(long ms)
{
	long long end = fake_mono_ms() + ms;
	long long left;

	while (!fake_stopping() && (left = end - fake_mono_ms()) > 0)
		usleep((useconds_t)(left < 50 ? left : 50) * 1000u);
}

bool fake_stopping(void)
{
	return atomic_load(&F.stopping);
}

char *fake_strdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d) {
		fprintf(stderr, "%s: out of memory\n", F.name);
		abort();
	}
	return d;
}

/* ---- the --mode script ---- */

/* Parses one step: "ok", "drop", "timeout", "error:<code>",
 * "http:<status>", of len bytes. Returns 0 or -1. */
static int parse_step(const char *s, size_t len, struct fake_step *out)
{
	char buf[32], *end;
	long v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "ok") == 0) {
		*out = (struct fake_step){FAKE_OK, 0};
		return 0;
	}
	if (strcmp(buf, "drop") == 0) {
		*out = (struct fake_step){FAKE_DROP, 0};
		return 0;
	}
	if (strcmp(buf, "timeout") == 0) {
		*out = (struct fake_step){FAKE_TIMEOUT, 0};
		return 0;
	}
	if (strncmp(buf, "error:", 6) == 0 || strncmp(buf, "http:", 5) == 0) {
		bool err = buf[0] == 'e';
		const char *num = buf + (err ? 6 : 5);

		if (!isdigit((unsigned char)*num))
			return -1;
		errno = 0;
		v = strtol(num, &end, 10);
		if (errno || *end || (!err && (v < 100 || v > 599)) ||
		    v > 100000000)
			return -1;
		*out = (struct fake_step){err ? FAKE_ERROR : FAKE_HTTP, v};
		return 0;
	}
	return -1;
}

/* Parses a step or "seq:<step>,<step>,...". Returns 0 or -1. */
static int parse_mode(const char *s, struct script *out)
{
	const char *p, *comma;

	out->n = 0;
	if (strncmp(s, "seq:", 4) != 0)
		return parse_step(s, strlen(s), &out->steps[out->n++]);
	for (p = s + 4;; p = comma + 1) {
		comma = strchr(p, ',');
		if (out->n == FAKE_MAX_STEPS ||
		    parse_step(p, comma ? (size_t)(comma - p) : strlen(p),
			       &out->steps[out->n++]) != 0)
			return -1;
		if (!comma)
			return 0;
	}
}

int fake_set_mode(const char *s)
{
	struct script m;
	struct note *n;
	size_t i;

	if (parse_mode(s, &m) != 0)
		return -1;
	pthread_mutex_lock(&F.mu);
	F.script = m;
	for (i = 0; i < NOTE_BUCKETS; i++)
		for (n = F.notes[i]; n; n = n->next)
			n->cursor = 0;
	pthread_mutex_unlock(&F.mu);
	return 0;
}

void fake_step_text(const struct fake_step *st, char *out, size_t size)
{
	switch (st->kind) {
	case FAKE_ERROR: snprintf(out, size, "error:%ld", st->arg); break;
	case FAKE_HTTP: snprintf(out, size, "http:%ld", st->arg); break;
	case FAKE_DROP: snprintf(out, size, "drop"); break;
	case FAKE_TIMEOUT: snprintf(out, size, "timeout"); break;
	default: snprintf(out, size, "ok"); break;
	}
}

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % NOTE_BUCKETS;
}

struct fake_step fake_next_step(const char *nid)
{
	struct note **head, *n;
	struct fake_step st;
	size_t len;
	unsigned long long i;

	nid = nid ? nid : "";
	head = &F.notes[hash(nid)];
	len = strlen(nid);
	pthread_mutex_lock(&F.mu);
	for (n = *head; n && strcmp(n->id, nid) != 0; n = n->next)
		;
	if (!n) {
		n = calloc(1, sizeof(*n) + len + 1);
		if (!n)
			abort();
		memcpy(n->id, nid, len + 1);
		n->next = *head;
		*head = n;
	}
	i = n->cursor++;
	st = F.script.steps[i < F.script.n ? i : F.script.n - 1];
	pthread_mutex_unlock(&F.mu);
	return st;
}

void fake_count_message(void)
{
	pthread_mutex_lock(&F.mu);
	F.count++;
	pthread_mutex_unlock(&F.mu);
}

/* ---- answers and control ---- */

enum MHD_Result fake_answer(struct MHD_Connection *c, unsigned status,
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

enum MHD_Result fake_answer_json(struct MHD_Connection *c, unsigned status,
				 cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	enum MHD_Result rc;

	cJSON_Delete(o);
	if (!s)
		return MHD_NO;
	rc = fake_answer(c, status, "application/json", s);
	free(s);
	return rc;
}

void fake_body_text(const struct fake_request *q, char *buf, size_t size)
{
	size_t n = q->len < size - 1 ? q->len : size - 1;

	if (n)
		memcpy(buf, q->body, n);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
}

bool fake_control(struct MHD_Connection *c, const char *method,
		  const char *path, const struct fake_request *q,
		  enum MHD_Result *rc)
{
	char buf[1024];

	if (strcmp(path, "/_control/count") == 0 && strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&F.mu);
		snprintf(buf, sizeof(buf), "%llu\n", F.count);
		pthread_mutex_unlock(&F.mu);
		*rc = fake_answer(c, 200, "text/plain", buf);
		return true;
	}
	if (strcmp(path, "/_control/mode") == 0 && strcmp(method, "POST") == 0) {
		fake_body_text(q, buf, sizeof(buf));
		*rc = fake_set_mode(buf) != 0
			      ? fake_answer(c, 400, "text/plain", "bad mode\n")
			      : fake_answer(c, 200, "text/plain", "ok\n");
		return true;
	}
	return false;
}

/* ---- records ---- */

void fake_json_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

FILE *fake_record_file(void)
{
	return F.record;
}

void fake_write_json(FILE *f, const cJSON *o)
{
	char *line;

	if (!f)
		return;
	line = cJSON_PrintUnformatted(o);
	if (!line)
		return;
	pthread_mutex_lock(&F.file_mu);
	fprintf(f, "%s\n", line);
	fflush(f);
	pthread_mutex_unlock(&F.file_mu);
	free(line);
}

/* ---- the server ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct fake_request *q = *con_cls;

	(void)cls;
	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		*con_cls = q;
		return q ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		if (q->len + *upload_size > F.max_body) {
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
	return F.handler(c, method, url, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct fake_request *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's own messages, minus the ones that drop and timeout steps
 * cause on purpose. */
__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (!strstr(line, "Application reported internal error") &&
	    !strstr(line, "Failed to send data") &&
	    !strstr(line, "Connection reset"))
		fputs(line, stderr);
}

void fake_block_signals(void)
{
	sigemptyset(&F.sigs);
	sigaddset(&F.sigs, SIGINT);
	sigaddset(&F.sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &F.sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int fake_serve(size_t max_body, fake_handler handler)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	int sig;

	/* Every thread MHD starts inherits the mask; this one takes the
	 * signal. */
	fake_block_signals();
	F.max_body = max_body;
	F.handler = handler;
	addr.sin_port = htons((uint16_t)F.port);
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
		fprintf(stderr, "%s: cannot listen on port %ld\n", F.name,
			F.port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening %u\n", info ? (unsigned)info->port : 0u);
	fflush(stdout);

	sigwait(&F.sigs, &sig);
	atomic_store(&F.stopping, true);
	MHD_stop_daemon(d);
	return 0;
}

/* ---- callbacks ---- */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

CURL *fake_curl(const char *user_agent, long connect_ms, long timeout_ms)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_USERAGENT, user_agent);
	return c;
}

long fake_post(CURL *curl, const char *url, struct curl_slist *headers,
	       const char *body)
{
	long code = 0;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	/* the caller frees headers; the handle may be used again */
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	return code;
}

void fake_cleanup(void)
{
	size_t i;

	for (i = 0; i < NOTE_BUCKETS; i++)
		while (F.notes[i]) {
			struct note *n = F.notes[i];

			F.notes[i] = n->next;
			free(n);
		}
	if (F.record) {
		fclose(F.record);
		F.record = NULL;
	}
}
