/* The channel engine end to end: a test provider whose requests carry
 * their own script, an in-process libmicrohttpd server that answers each
 * request with the script's step for its attempt, and the fake host for
 * publishes and logs.
 *
 * The fake host is not thread-safe: while the engine runs, the test thread
 * only polls channel_stats (engine lock) and the server's counters (own
 * lock); it reads publishes after channel_stop has joined the worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>
#include <microhttpd.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "channel.h"
#include "fake_host.h"

/* ---- the server ----
 * Body: "<script>|<attempt>|<to>", script being steps separated by ','.
 * The step for attempt n is the n-th (the last repeats):
 *   ok       200 "ok"                      -> CHANNEL_SENT
 *   retry    503 "retry"                   -> CHANNEL_RETRY
 *   after    429 "after"                   -> CHANNEL_RETRY_AFTER 300 ms
 *   perm     400 "perm"                    -> CHANNEL_PERMANENT
 *   op       401 "op"                      -> CHANNEL_OPERATOR
 *   slow     200 "ok" after 100 ms
 *   sleep    200 "ok" after 1500 ms (past the test's timeout: unknown)
 *   big      200 with 100 KiB (too large: unknown) */
static struct {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	int requests, in_flight, max_in_flight;
	char last_auth[128], last_type[128], last_extra[64];
	char log[64][48]; /* "<to>@<ms>" of each request, in arrival order */
	uint64_t t0;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct conn {
	char body[512];
	size_t len;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc = MHD_queue_response(c, status, r);

	MHD_destroy_response(r);
	return rc;
}

static void step_of(const char *body, char *step, size_t size, char *to,
		    size_t tosize)
{
	char script[256];
	const char *p, *bar;
	int attempt = 1, i;

	bar = strchr(body, '|');
	snprintf(script, sizeof(script), "%.*s",
		 bar ? (int)(bar - body) : (int)strlen(body), body);
	if (bar)
		attempt = atoi(bar + 1);
	p = bar ? strchr(bar + 1, '|') : NULL;
	snprintf(to, tosize, "%s", p ? p + 1 : "");
	p = script;
	for (i = 1; i < attempt && strchr(p, ','); i++)
		p = strchr(p, ',') + 1;
	snprintf(step, size, "%.*s", (int)strcspn(p, ","), p);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *data,
			      size_t *size, void **con_cls)
{
	struct conn *k = *con_cls;
	const char *h;
	char step[32], to[32];
	enum MHD_Result rc;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	if (!k) {
		k = calloc(1, sizeof(*k));
		*con_cls = k;
		return MHD_YES;
	}
	if (*size) {
		size_t n = *size < sizeof(k->body) - 1 - k->len
				   ? *size
				   : sizeof(k->body) - 1 - k->len;

		memcpy(k->body + k->len, data, n);
		k->len += n;
		*size = 0;
		return MHD_YES;
	}
	step_of(k->body, step, sizeof(step), to, sizeof(to));
	pthread_mutex_lock(&S.mu);
	if (S.requests < 64)
		snprintf(S.log[S.requests], sizeof(S.log[0]), "%s@%llu", to,
			 (unsigned long long)(now_ms() - S.t0));
	S.requests++;
	if (++S.in_flight > S.max_in_flight)
		S.max_in_flight = S.in_flight;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_AUTHORIZATION);
	snprintf(S.last_auth, sizeof(S.last_auth), "%s", h ? h : "");
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_CONTENT_TYPE);
	snprintf(S.last_type, sizeof(S.last_type), "%s", h ? h : "");
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Extra");
	snprintf(S.last_extra, sizeof(S.last_extra), "%s", h ? h : "");
	pthread_mutex_unlock(&S.mu);

	if (strcmp(step, "slow") == 0)
		usleep(100000);
	if (strcmp(step, "sleep") == 0)
		usleep(1500000);
	if (strcmp(step, "ok") == 0 || strcmp(step, "slow") == 0 ||
	    strcmp(step, "sleep") == 0) {
		rc = reply(c, 200, "ok", 2);
	} else if (strcmp(step, "big") == 0) {
		static char big[100 * 1024];

		memset(big, 'x', sizeof(big));
		rc = reply(c, 200, big, sizeof(big));
	} else {
		unsigned st = strcmp(step, "retry") == 0   ? 503
			      : strcmp(step, "after") == 0 ? 429
			      : strcmp(step, "op") == 0	   ? 401
							   : 400;

		rc = reply(c, st, step, strlen(step));
	}
	pthread_mutex_lock(&S.mu);
	S.in_flight--;
	pthread_mutex_unlock(&S.mu);
	return rc;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
		 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static int setup(void **ctx)
{
	const union MHD_DaemonInfo *i;

	(void)ctx;
	S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				       MHD_USE_THREAD_PER_CONNECTION |
				       MHD_USE_ERROR_LOG,
			       0, NULL, NULL, handle, NULL,
			       MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
			       MHD_OPTION_CONNECTION_TIMEOUT, 10u,
			       MHD_OPTION_END);
	if (!S.d)
		return -1;
	i = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT);
	S.port = i ? i->port : 0;
	return S.port ? 0 : -1;
}

static int teardown(void **ctx)
{
	(void)ctx;
	MHD_stop_daemon(S.d);
	fake_host_reset(NULL);
	return 0;
}

static void server_reset(void)
{
	pthread_mutex_lock(&S.mu);
	S.requests = S.in_flight = S.max_in_flight = 0;
	S.last_auth[0] = S.last_type[0] = S.last_extra[0] = '\0';
	memset(S.log, 0, sizeof(S.log));
	S.t0 = now_ms();
	pthread_mutex_unlock(&S.mu);
}

static int server_requests(void)
{
	int n;

	pthread_mutex_lock(&S.mu);
	n = S.requests;
	pthread_mutex_unlock(&S.mu);
	return n;
}

/* ---- the test provider ---- */

static int builds;
static bool no_bearer; /* engine() without its Authorization header */

static int t_build(void *arg, const struct keryu_notify_event *req,
		   struct channel_request *out)
{
	(void)arg;
	builds++; /* worker thread only */
	if (strcmp(req->template_name, "invalid") == 0)
		return KERYU_EINVAL;
	if (asprintf(&out->body, "%s|%d|%s", req->params[0], req->attempt,
		     req->to) < 0) {
		out->body = NULL;
		return KERYU_ENOMEM;
	}
	if (strcmp(req->template_name, "extra") == 0) {
		out->headers[0] = strdup("X-Extra: yes");
		out->content_type = strdup("application/x-www-form-urlencoded");
		out->userpwd = strdup("ACxx:secret");
	}
	return 0;
}

static void t_parse(void *arg, const struct keryu_notify_event *req,
		    long http_status, const char *body, size_t len,
		    struct channel_answer *out)
{
	(void)arg;
	(void)len;
	snprintf(out->result.error_code, sizeof(out->result.error_code),
		 "%s", body);
	if (http_status == 200) {
		out->verdict = CHANNEL_SENT;
		out->result.error_code[0] = '\0';
		snprintf(out->result.provider_message_id,
			 sizeof(out->result.provider_message_id), "m-%d",
			 req->attempt);
	} else if (http_status == 503) {
		out->verdict = CHANNEL_RETRY;
	} else if (http_status == 429) {
		out->verdict = CHANNEL_RETRY_AFTER;
		out->retry_after_ms = 300;
	} else if (http_status == 401) {
		out->verdict = CHANNEL_OPERATOR;
	} else {
		out->verdict = CHANNEL_PERMANENT;
	}
}

static struct channel *engine(int in_flight, double rate, unsigned base,
			      int attempts)
{
	static const char *const headers[] = {"Authorization: Bearer tok",
					      NULL};
	struct channel_config cfg = {0};
	struct channel_provider prov = {t_build, t_parse, NULL};
	struct channel *c = NULL;
	char url[64];

	fake_host_reset(NULL);
	server_reset();
	builds = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/send", S.port);
	cfg.host = fake_host();
	cfg.m = fake_mod();
	cfg.name = "testchan";
	cfg.url = url;
	cfg.headers = no_bearer ? NULL : headers;
	cfg.timeout_ms = 500;
	cfg.connect_timeout_ms = 500;
	cfg.max_in_flight = in_flight;
	cfg.retry_base_ms = base;
	cfg.max_attempts = attempts;
	cfg.rate_per_s = rate;
	cfg.submit_wait_ms = 1000;
	assert_int_equal(channel_new(&cfg, &prov, &c), 0);
	assert_non_null(c);
	return c;
}

static void request(struct keryu_notify_event *e, const char *nid,
		    int attempt, const char *to, const char *script)
{
	memset(e, 0, sizeof(*e));
	keryu_uuid_new(e->event_id);
	keryu_now_iso(e->at);
	snprintf(e->notification_id, sizeof(e->notification_id), "%s", nid);
	e->attempt = attempt;
	snprintf(e->channel, sizeof(e->channel), "testchan");
	snprintf(e->to, sizeof(e->to), "%s", to);
	snprintf(e->template_name, sizeof(e->template_name), "t");
	snprintf(e->language, sizeof(e->language), "en");
	e->param_count = 1;
	snprintf(e->params[0], sizeof(e->params[0]), "%s", script);
}

static void submit(struct channel *c, const char *nid, int attempt,
		   const char *to, const char *script)
{
	struct keryu_notify_event e;
	bool dup = true;

	request(&e, nid, attempt, to, script);
	assert_int_equal(channel_submit(c, &e, 1000, &dup), 0);
	assert_false(dup);
}

/* Waits until n results were published and nothing is left to do. */
static void wait_results(struct channel *c, unsigned long long n)
{
	struct channel_stats s;
	int i;

	for (i = 0; i < 2000; i++) {
		channel_stats(c, &s);
		if (s.sent + s.failed + s.unknown + s.retried >= n &&
		    s.queued + s.in_flight + s.scheduled == 0)
			return;
		usleep(10000);
	}
	fail_msg("results: %llu, want %llu",
		 s.sent + s.failed + s.unknown + s.retried, n);
}

static void finish(struct channel *c)
{
	channel_stop(c, 5000);
	channel_free(c);
}

static void result(size_t i, struct keryu_delivery_event *d)
{
	const struct fake_pub *p = fake_host_pub(i);

	assert_non_null(p);
	assert_int_equal(keryu_delivery_event_decode(p->payload, p->len, d), 0);
	assert_string_equal(p->topic + strlen(KERYU_TOPIC_DELIVERY),
			    d->notification_id);
	assert_string_equal(d->channel, "testchan");
}

#define N1 "00000000-0000-4000-8000-000000000001"
#define N2 "00000000-0000-4000-8000-000000000002"
#define N3 "00000000-0000-4000-8000-000000000003"
#define A "+15550000001"
#define B "+15550000002"

static void sent_once(void **ctx)
{
	struct keryu_delivery_event d;
	struct channel *c = engine(4, 0, 10, 3);

	(void)ctx;
	submit(c, N1, 2, A, "ok");
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 1);
	finish(c);
	assert_int_equal(fake_host_pub_count(), 1);
	result(0, &d);
	assert_string_equal(d.status, "sent");
	assert_int_equal(d.attempt, 2);
	assert_string_equal(d.provider_message_id, "m-2");
	assert_int_equal(d.retry_in_ms, -1);
	assert_string_equal(S.last_auth, "Bearer tok");
	assert_string_equal(S.last_type, "application/json");
	assert_true(fake_host_log_contains("info testchan.sent notification=" N1
					   " attempt=2"));
}

/* Transient twice, then sent: three attempts, each published. */
static void retries_then_sent(void **ctx)
{
	struct keryu_delivery_event d;
	struct channel *c = engine(4, 0, 20, 3);

	(void)ctx;
	submit(c, N1, 1, A, "retry,retry,ok");
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 3);
	finish(c);
	assert_int_equal(server_requests(), 3);
	assert_int_equal(fake_host_pub_count(), 3);
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_int_equal(d.attempt, 1);
	assert_string_equal(d.error_code, "retry");
	assert_true(d.retry_in_ms >= 1 && d.retry_in_ms <= 20);
	result(1, &d);
	assert_string_equal(d.status, "error");
	assert_int_equal(d.attempt, 2);
	assert_true(d.retry_in_ms >= 1 && d.retry_in_ms <= 40);
	result(2, &d);
	assert_string_equal(d.status, "sent");
	assert_int_equal(d.attempt, 3);
}

/* Three transient failures: failed after the third, with its code. */
static void exhausted_is_failed(void **ctx)
{
	struct keryu_delivery_event d;
	struct channel *c = engine(4, 0, 5, 3);

	(void)ctx;
	submit(c, N1, 1, A, "retry");
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 3);
	finish(c);
	assert_int_equal(server_requests(), 3);
	assert_int_equal(fake_host_pub_count(), 3);
	result(2, &d);
	assert_string_equal(d.status, "failed");
	assert_int_equal(d.attempt, 3);
	assert_string_equal(d.error_code, "retry");
	assert_int_equal(d.retry_in_ms, -1);
}

static void permanent_and_operator(void **ctx)
{
	struct keryu_delivery_event d;
	struct channel *c = engine(4, 0, 5, 3);

	(void)ctx;
	submit(c, N1, 1, A, "perm");
	submit(c, N2, 1, B, "op");
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 2);
	finish(c);
	assert_int_equal(server_requests(), 2);
	assert_int_equal(fake_host_pub_count(), 2);
	result(0, &d);
	assert_string_equal(d.status, "failed");
	assert_int_equal(d.retry_in_ms, -1);
	result(1, &d);
	assert_string_equal(d.status, "failed");
	assert_true(fake_host_log_contains("error testchan.failed notification=" N2));
	assert_true(fake_host_log_contains("warn testchan.failed notification=" N1));
	assert_false(fake_host_log_contains(A));
}

/* A timeout after the request went out: unknown, never resent here. */
static void timeout_is_unknown(void **ctx)
{
	struct keryu_delivery_event d;
	struct channel *c = engine(4, 0, 5, 3);

	(void)ctx;
	submit(c, N1, 1, A, "sleep");
	submit(c, N2, 3, B, "sleep");
	submit(c, N3, 1, A, "big");
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 3);
	finish(c);
	assert_int_equal(server_requests(), 3);
	assert_int_equal(fake_host_pub_count(), 3);
	for (size_t i = 0; i < 3; i++) {
		result(i, &d);
		assert_string_equal(d.status, "error");
		if (strcmp(d.notification_id, N1) == 0) {
			assert_string_equal(d.error_code, "timeout");
			assert_int_equal(d.retry_in_ms, 0);
		} else if (strcmp(d.notification_id, N2) == 0) {
			/* the last attempt: the channel will not try again */
			assert_string_equal(d.error_code, "timeout");
			assert_int_equal(d.retry_in_ms, -1);
		} else {
			assert_string_equal(d.error_code, "bad_response");
			assert_int_equal(d.retry_in_ms, 0);
		}
	}
}

/* Same event id, or same (notification, attempt) while queued, in flight
 * or scheduled: nothing is sent again. */
static void duplicates_send_nothing(void **ctx)
{
	struct keryu_notify_event e, e2;
	struct channel_stats s;
	struct channel *c = engine(4, 0, 300, 3);
	bool dup = false;

	(void)ctx;
	request(&e, N1, 1, A, "retry,ok");
	assert_int_equal(channel_submit(c, &e, 0, &dup), 0);
	assert_false(dup);
	assert_int_equal(channel_submit(c, &e, 0, &dup), 0); /* same event */
	assert_true(dup);
	request(&e2, N1, 1, A, "retry,ok"); /* new event, same attempt */
	assert_int_equal(channel_submit(c, &e2, 0, &dup), 0);
	assert_true(dup);
	assert_int_equal(channel_start(c), 0);
	/* wait for attempt 1's result: attempt 2 is then scheduled */
	for (int i = 0; i < 500; i++) {
		channel_stats(c, &s);
		if (s.retried == 1)
			break;
		usleep(2000);
	}
	assert_int_equal(s.retried, 1);
	request(&e2, N1, 2, A, "ok"); /* the alarms lease re-drives it */
	assert_int_equal(channel_submit(c, &e2, 0, &dup), 0);
	assert_true(dup);
	wait_results(c, 2);
	/* once settled, the first event id still counts as seen */
	assert_int_equal(channel_submit(c, &e, 0, &dup), 0);
	assert_true(dup);
	channel_stats(c, &s);
	assert_int_equal(s.duplicates, 4);
	finish(c);
	assert_int_equal(server_requests(), 2);
	assert_int_equal(fake_host_pub_count(), 2);
}

/* The alarms module re-drives an attempt this engine already settled (the
 * result never reached it): nothing is sent again, the result is
 * published again, with a new event id. */
static void settled_attempt_answered_again(void **ctx)
{
	struct keryu_delivery_event first, again;
	struct keryu_notify_event e;
	struct channel *c = engine(4, 0, 10, 3);
	bool dup = false;

	(void)ctx;
	submit(c, N1, 1, A, "ok");
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 1);
	request(&e, N1, 1, A, "ok"); /* re-driven: new event, same attempt */
	assert_int_equal(channel_submit(c, &e, 0, &dup), 0);
	assert_true(dup);
	request(&e, N1, 2, A, "ok"); /* the next attempt is sent */
	assert_int_equal(channel_submit(c, &e, 0, &dup), 0);
	assert_false(dup);
	wait_results(c, 2);
	finish(c);
	assert_int_equal(server_requests(), 2);
	assert_int_equal(fake_host_pub_count(), 3);
	result(0, &first);
	result(1, &again);
	assert_string_equal(again.status, "sent");
	assert_int_equal(again.attempt, 1);
	assert_string_equal(again.provider_message_id,
			    first.provider_message_id);
	assert_string_not_equal(again.event_id, first.event_id);
	assert_true(fake_host_log_contains("testchan.answered_again "
					   "notification=" N1 " attempt=1"));
}

/* A per-recipient hold delays that recipient only, new requests to it
 * included. */
static void recipient_hold(void **ctx)
{
	struct keryu_delivery_event d;
	struct channel *c = engine(4, 0, 5, 3);
	unsigned long long t_a2 = 0, t_a3 = 0, t_b = 0;
	char to[32];

	(void)ctx;
	submit(c, N1, 1, A, "after,ok");
	assert_int_equal(channel_start(c), 0);
	for (int i = 0; i < 500 && server_requests() < 1; i++)
		usleep(2000);
	usleep(50000); /* the answer is in: A is held for 300 ms */
	submit(c, N2, 1, B, "ok");
	submit(c, N3, 1, A, "ok");
	wait_results(c, 4);
	finish(c);
	assert_int_equal(server_requests(), 4);
	for (int i = 1; i < 4; i++) {
		unsigned long long t;
		char *at = strchr(S.log[i], '@');

		assert_non_null(at);
		snprintf(to, sizeof(to), "%.*s", (int)(at - S.log[i]),
			 S.log[i]);
		t = strtoull(at + 1, NULL, 10);
		if (strcmp(to, B) == 0)
			t_b = t;
		else if (!t_a2)
			t_a2 = t;
		else
			t_a3 = t;
	}
	assert_true(t_b < 200);     /* B went at once */
	assert_true(t_a2 >= 290);   /* A's retry and its new request */
	assert_true(t_a3 >= 290);   /* waited for the hold */
	result(0, &d);
	assert_string_equal(d.status, "error");
	assert_int_equal(d.retry_in_ms, 300);
}

/* The token bucket holds the rate: 30 requests at 50/s (burst 5) take at
 * least (30 - 5) / 50 s. */
static void rate_is_held(void **ctx)
{
	struct channel *c = engine(16, 50, 5, 3);
	char nid[KERYU_UUID_LEN];
	uint64_t t0;
	double took;
	int i;

	(void)ctx;
	for (i = 0; i < 30; i++) {
		snprintf(nid, sizeof(nid),
			 "00000000-0000-4000-8000-%012d", 100 + i);
		submit(c, nid, 1, A, "ok");
	}
	t0 = now_ms();
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 30);
	took = (double)(now_ms() - t0) / 1000.0;
	finish(c);
	assert_int_equal(server_requests(), 30);
	assert_true(took >= 0.45);
	assert_true(took < 3.0);
}

/* max_in_flight caps concurrency, and concurrency is used. */
static void in_flight_window(void **ctx)
{
	struct channel *c = engine(4, 0, 5, 3);
	char nid[KERYU_UUID_LEN];
	uint64_t t0;
	int i;

	(void)ctx;
	for (i = 0; i < 12; i++) {
		snprintf(nid, sizeof(nid),
			 "00000000-0000-4000-8000-%012d", 200 + i);
		submit(c, nid, 1, A, "slow");
	}
	t0 = now_ms();
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 12);
	finish(c);
	assert_int_equal(S.max_in_flight, 4);
	/* 3 rounds of 100 ms, not 12 */
	if (now_ms() - t0 >= 1000)
		fail_msg("took %llu ms", (unsigned long long)(now_ms() - t0));
}

static void provider_request_parts(void **ctx)
{
	struct keryu_notify_event e;
	struct keryu_delivery_event d;
	struct channel *c;

	(void)ctx;
	no_bearer = true;
	c = engine(4, 0, 5, 3);
	no_bearer = false;
	request(&e, N1, 1, A, "ok");
	snprintf(e.template_name, sizeof(e.template_name), "extra");
	assert_int_equal(channel_submit(c, &e, 0, NULL), 0);
	request(&e, N2, 1, A, "ok");
	snprintf(e.template_name, sizeof(e.template_name), "invalid");
	assert_int_equal(channel_submit(c, &e, 0, NULL), 0);
	assert_int_equal(channel_start(c), 0);
	wait_results(c, 2);
	finish(c);
	assert_int_equal(server_requests(), 1);
	assert_string_equal(S.last_auth, "Basic QUN4eDpzZWNyZXQ=");
	assert_string_equal(S.last_type, "application/x-www-form-urlencoded");
	assert_string_equal(S.last_extra, "yes");
	assert_false(fake_host_log_contains("secret"));
	for (size_t i = 0; i < 2; i++) {
		result(i, &d);
		if (strcmp(d.notification_id, N2) == 0) {
			assert_string_equal(d.status, "failed");
			assert_string_equal(d.error_code, "invalid_request");
		} else {
			assert_string_equal(d.status, "sent");
		}
	}
}

/* Stop drops scheduled retries without a result (their "error" carried
 * the hint the alarms module re-drives by), and refuses new requests. */
static void stop_drops_scheduled(void **ctx)
{
	struct keryu_notify_event e;
	struct channel_stats s;
	struct channel *c = engine(4, 0, 60000, 3);

	(void)ctx;
	submit(c, N1, 1, A, "retry");
	assert_int_equal(channel_start(c), 0);
	for (int i = 0; i < 500; i++) {
		channel_stats(c, &s);
		if (s.retried == 1)
			break;
		usleep(2000);
	}
	channel_stop(c, 5000);
	channel_stats(c, &s);
	assert_int_equal(s.dropped, 1);
	request(&e, N2, 1, A, "ok");
	assert_int_equal(channel_submit(c, &e, 0, NULL), KERYU_ECONFLICT);
	channel_free(c);
	assert_int_equal(fake_host_pub_count(), 1);
	assert_int_equal(server_requests(), 1);
}

static void bad_config(void **ctx)
{
	struct channel_config cfg = {0};
	struct channel_provider prov = {t_build, t_parse, NULL};
	struct channel *c = (struct channel *)1;

	(void)ctx;
	fake_host_reset(NULL);
	cfg.host = fake_host();
	cfg.m = fake_mod();
	cfg.name = "x";
	cfg.timeout_ms = cfg.connect_timeout_ms = 100;
	cfg.max_in_flight = 1;
	cfg.retry_base_ms = 1;
	cfg.max_attempts = 1;
	assert_int_equal(channel_new(&cfg, &prov, &c), 0);
	channel_free(c);
	cfg.max_attempts = 0;
	assert_int_equal(channel_new(&cfg, &prov, &c), KERYU_EINVAL);
	assert_null(c);
	cfg.max_attempts = 1;
	cfg.max_in_flight = 4097;
	assert_int_equal(channel_new(&cfg, &prov, &c), KERYU_EINVAL);
	cfg.max_in_flight = 1;
	cfg.rate_per_s = -1;
	assert_int_equal(channel_new(&cfg, &prov, &c), KERYU_EINVAL);
	cfg.rate_per_s = 0;
	prov.parse = NULL;
	assert_int_equal(channel_new(&cfg, &prov, &c), KERYU_EINVAL);
	prov.parse = t_parse;
	assert_int_equal(channel_new(&cfg, &prov, &c), 0);
	assert_int_equal(channel_subscribe(c, "g", "a/b"), KERYU_EINVAL);
	assert_int_equal(channel_subscribe(c, "g", "sms"), 0);
	assert_string_equal(fake_host_sub_filter(0),
			    "$share/g/keryu/v1/notify/sms");
	channel_free(c);
	channel_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sent_once),
		cmocka_unit_test(retries_then_sent),
		cmocka_unit_test(exhausted_is_failed),
		cmocka_unit_test(permanent_and_operator),
		cmocka_unit_test(timeout_is_unknown),
		cmocka_unit_test(duplicates_send_nothing),
		cmocka_unit_test(settled_attempt_answered_again),
		cmocka_unit_test(recipient_hold),
		cmocka_unit_test(rate_is_held),
		cmocka_unit_test(in_flight_window),
		cmocka_unit_test(provider_request_parts),
		cmocka_unit_test(stop_drops_scheduled),
		cmocka_unit_test(bad_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
