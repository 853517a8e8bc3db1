/* The delivery engine: bounded queue -> one worker thread -> libcurl multi.
 *
 * The bus thread only decodes, checks for duplicates and queues
 * (channel_submit); every curl call except curl_multi_wakeup, every
 * provider callback, publish and result log line happens on the worker, so
 * no curl handle is shared between threads.
 *
 * A job is one attempt. It lives in exactly one place at a time: the queue
 * (new requests, guarded by mu), the worker's ready list (waiting for a
 * rate token), the scheduled list (a retry or a held recipient, sorted by
 * due time), or the active list (on the wire). Every job is also in the
 * key table (guarded by mu) under (notification_id, attempt), which is
 * how a redelivered or re-driven request for the same attempt is refused
 * wherever the first one is. */
#include "channel.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

/* Provider answers are a few hundred bytes; more is not worth keeping. */
#define MAX_ANSWER (64u * 1024u)
/* How long the worker sleeps in curl_multi_poll when nothing is due;
 * submit and stop wake it earlier. */
#define IDLE_POLL_MS 1000
/* Event ids of recent requests, for broker redeliveries, which come soon
 * after the first delivery. */
#define SEEN_MAX 4096
#define KEY_BUCKETS 4096
/* Recipients on hold (pair rate limit) remembered at once; the one whose
 * hold ends first makes room. */
#define HOLD_MAX 512
/* Results of recently settled attempts, answered again (not re-sent) when
 * the alarms module re-drives one whose result it never recorded. */
#define SETTLED_MAX 2048

struct job {
	struct job *next, *prev; /* the list it is in */
	struct job *hnext;       /* key table chain */
	struct keryu_notify_event req;
	uint64_t due_ms; /* scheduled: when it may go */
	CURL *easy;
	struct curl_slist *hdrs;
	struct channel_request http;
	char *answer;
	size_t answer_len;
	char errbuf[CURL_ERROR_SIZE];
};

struct list {
	struct job *head, *tail;
	size_t n;
};

struct hold {
	char to[32];
	uint64_t until_ms;
};

/* What was published for one attempt; the envelope is made anew. */
struct settled {
	char notification_id[KERYU_UUID_LEN];
	int attempt; /* 0: an empty slot */
	char status[16];
	char provider_message_id[128];
	char error_code[32];
	int retry_in_ms;
};

struct channel {
	pthread_mutex_t mu;
	pthread_cond_t room; /* the queue shrank, or stopping */
	struct list queue;   /* guarded by mu */
	size_t cap;
	bool stopping;     /* guarded by mu */
	uint64_t deadline; /* monotonic ms, guarded by mu */
	bool running;      /* thread started and not yet joined */
	bool started;
	pthread_t thread;
	struct job *keys[KEY_BUCKETS];      /* guarded by mu */
	char seen[SEEN_MAX][KERYU_UUID_LEN]; /* guarded by mu */
	size_t seen_next;
	struct settled *settled; /* SETTLED_MAX, a ring, guarded by mu */
	size_t settled_next;
	struct channel_stats stats; /* guarded by mu; in_flight and
				     * scheduled copied by the worker */

	/* worker only */
	CURLM *multi;
	struct list ready, scheduled, active;
	struct channel_bucket bucket;
	struct hold holds[HOLD_MAX];

	/* read-only after channel_new */
	const struct keryu_host *host;
	keryu_mod *m;
	struct channel_provider provider;
	char *name, *url, *content_type, *userpwd;
	char **headers; /* NULL-terminated */
	long timeout_ms, connect_timeout_ms;
	int max_in_flight;
	unsigned retry_base_ms;
	int max_attempts;
	int submit_wait_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t random32(void)
{
	uint32_t r = 0;

	/* jitter only spreads retries; a short read leaves a fixed value */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = UINT32_MAX / 2;
	return r;
}

/* ---- lists ---- */

static void list_push(struct list *l, struct job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void list_push_front(struct list *l, struct job *j)
{
	j->prev = NULL;
	j->next = l->head;
	if (l->head)
		l->head->prev = j;
	else
		l->tail = j;
	l->head = j;
	l->n++;
}

static void list_remove(struct list *l, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->next = j->prev = NULL;
	l->n--;
}

static struct job *list_pop(struct list *l)
{
	struct job *j = l->head;

	if (j)
		list_remove(l, j);
	return j;
}

/* Scheduled is kept sorted by due time; retries mostly land at the end. */
static void schedule(struct channel *c, struct job *j, uint64_t due)
{
	struct job *at = c->scheduled.tail;

	j->due_ms = due;
	while (at && at->due_ms > due)
		at = at->prev;
	if (!at) {
		list_push_front(&c->scheduled, j);
		return;
	}
	j->prev = at;
	j->next = at->next;
	if (at->next)
		at->next->prev = j;
	else
		c->scheduled.tail = j;
	at->next = j;
	c->scheduled.n++;
}

/* ---- the key table, under mu ---- */

static size_t key_hash(const char *id, int attempt)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	h = (h ^ (uint32_t)attempt) * 16777619u;
	return h % KEY_BUCKETS;
}

static struct job *key_find(struct channel *c, const char *id, int attempt)
{
	struct job *j = c->keys[key_hash(id, attempt)];

	for (; j; j = j->hnext)
		if (j->req.attempt == attempt &&
		    strcmp(j->req.notification_id, id) == 0)
			return j;
	return NULL;
}

static void key_add(struct channel *c, struct job *j)
{
	size_t h = key_hash(j->req.notification_id, j->req.attempt);

	j->hnext = c->keys[h];
	c->keys[h] = j;
}

static void key_remove(struct channel *c, struct job *j)
{
	struct job **p = &c->keys[key_hash(j->req.notification_id,
					   j->req.attempt)];

	for (; *p; p = &(*p)->hnext)
		if (*p == j) {
			*p = j->hnext;
			j->hnext = NULL;
			return;
		}
}

static bool seen_before(const struct channel *c, const char *event_id)
{
	size_t i;

	for (i = 0; i < SEEN_MAX; i++)
		if (c->seen[i][0] == event_id[0] &&
		    strcmp(c->seen[i], event_id) == 0)
			return true;
	return false;
}

static const struct settled *settled_find(const struct channel *c,
					  const char *id, int attempt)
{
	size_t i;

	for (i = 0; i < SETTLED_MAX; i++)
		if (c->settled[i].attempt == attempt &&
		    c->settled[i].notification_id[0] == id[0] &&
		    strcmp(c->settled[i].notification_id, id) == 0)
			return &c->settled[i];
	return NULL;
}

static void settled_add(struct channel *c, const struct keryu_notify_event *req,
			const struct keryu_delivery_event *res)
{
	struct settled *s = &c->settled[c->settled_next];

	c->settled_next = (c->settled_next + 1) % SETTLED_MAX;
	memcpy(s->notification_id, req->notification_id, KERYU_UUID_LEN);
	s->attempt = req->attempt;
	snprintf(s->status, sizeof(s->status), "%s", res->status);
	/* a longer id is not kept: better none than a wrong one */
	if (strlen(res->provider_message_id) < sizeof(s->provider_message_id))
		memcpy(s->provider_message_id, res->provider_message_id,
		       strlen(res->provider_message_id) + 1);
	else
		s->provider_message_id[0] = '\0';
	snprintf(s->error_code, sizeof(s->error_code), "%s", res->error_code);
	s->retry_in_ms = res->retry_in_ms;
}

/* ---- jobs ---- */

static void http_clear(struct channel_request *r)
{
	size_t i;

	free(r->url);
	free(r->body);
	free(r->content_type);
	if (r->userpwd) {
		memset(r->userpwd, 0, strlen(r->userpwd));
		free(r->userpwd);
	}
	for (i = 0; i < CHANNEL_MAX_HEADERS; i++)
		free(r->headers[i]);
	memset(r, 0, sizeof(*r));
}

/* Frees the HTTP side of j, keeping the request (a retry reuses j). */
static void job_reset(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	j->easy = NULL;
	curl_slist_free_all(j->hdrs);
	j->hdrs = NULL;
	http_clear(&j->http);
	free(j->answer);
	j->answer = NULL;
	j->answer_len = 0;
	j->errbuf[0] = '\0';
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	job_reset(j);
	free(j);
}

/* Forgets j's key and frees it. */
static void job_done(struct channel *c, struct job *j)
{
	pthread_mutex_lock(&c->mu);
	key_remove(c, j);
	pthread_mutex_unlock(&c->mu);
	job_free(j);
}

static size_t on_answer(char *data, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	size_t n = size * nmemb;
	char *p;

	if (n > MAX_ANSWER - j->answer_len)
		return 0; /* makes curl fail the transfer with a write error */
	p = realloc(j->answer, j->answer_len + n + 1);
	if (!p)
		return 0;
	memcpy(p + j->answer_len, data, n);
	j->answer = p;
	j->answer_len += n;
	p[j->answer_len] = '\0';
	return n;
}

/* ---- recipient holds (worker only) ---- */

static uint64_t held_until(const struct channel *c, const char *to,
			   uint64_t now)
{
	size_t i;

	for (i = 0; i < HOLD_MAX; i++)
		if (c->holds[i].until_ms > now &&
		    strcmp(c->holds[i].to, to) == 0)
			return c->holds[i].until_ms;
	return 0;
}

static void hold(struct channel *c, const char *to, uint64_t until)
{
	size_t i, pick = 0;

	for (i = 0; i < HOLD_MAX; i++) {
		if (strcmp(c->holds[i].to, to) == 0) {
			pick = i;
			break;
		}
		if (c->holds[i].until_ms < c->holds[pick].until_ms)
			pick = i;
	}
	if (c->holds[pick].until_ms > until &&
	    strcmp(c->holds[pick].to, to) == 0)
		return; /* already held longer */
	snprintf(c->holds[pick].to, sizeof(c->holds[pick].to), "%s", to);
	c->holds[pick].until_ms = until;
}

/* ---- results ---- */

static const char *verdict_status(enum channel_verdict v, bool last)
{
	switch (v) {
	case CHANNEL_SENT:
		return "sent";
	case CHANNEL_RETRY:
	case CHANNEL_RETRY_AFTER:
		return last ? "failed" : "error";
	case CHANNEL_UNKNOWN:
		return "error";
	case CHANNEL_PERMANENT:
	case CHANNEL_OPERATOR:
		break;
	}
	return "failed";
}

static void log_result(struct channel *c, const struct job *j,
		       const struct keryu_delivery_event *res,
		       enum channel_verdict v, long http_status,
		       long latency_ms)
{
	char ev[96];

	snprintf(ev, sizeof(ev), "%s.%s", c->name, res->status);
	if (v == CHANNEL_SENT) {
		c->host->log(c->m, KERYU_LOG_INFO, ev,
			     "notification=%s attempt=%d ms=%ld",
			     j->req.notification_id, j->req.attempt,
			     latency_ms);
		return;
	}
	/* Provider texts are not logged: some quote the recipient. */
	c->host->log(c->m,
		     v == CHANNEL_OPERATOR ? KERYU_LOG_ERROR : KERYU_LOG_WARN,
		     ev,
		     "notification=%s attempt=%d code=%s http=%ld ms=%ld "
		     "retry_in_ms=%d",
		     j->req.notification_id, j->req.attempt, res->error_code,
		     http_status, latency_ms, res->retry_in_ms);
}

/* Publishes the result of j's attempt and either frees j or turns it into
 * the next attempt, scheduled. */
static void settle(struct channel *c, struct job *j,
		   struct channel_answer *a, long http_status,
		   long latency_ms)
{
	struct keryu_delivery_event res = a->result;
	bool last = j->req.attempt >= c->max_attempts;
	bool again = false;
	unsigned wait = 0;
	uint64_t now = now_ms();
	int rc;

	snprintf(res.status, sizeof(res.status), "%s",
		 verdict_status(a->verdict, last));
	res.retry_in_ms = -1;
	if ((a->verdict == CHANNEL_RETRY ||
	     a->verdict == CHANNEL_RETRY_AFTER) && !last) {
		wait = a->verdict == CHANNEL_RETRY_AFTER
			       ? a->retry_after_ms
			       : channel_backoff_ms(c->retry_base_ms,
						    j->req.attempt, random32());
		/* 0 would read as "outcome unknown" */
		if (wait < 1)
			wait = 1;
		if (wait > CHANNEL_BACKOFF_CAP_MS)
			wait = CHANNEL_BACKOFF_CAP_MS;
		res.retry_in_ms = (int)wait;
		again = true;
	} else if (a->verdict == CHANNEL_UNKNOWN) {
		res.retry_in_ms = last ? -1 : 0;
	}
	if (a->verdict == CHANNEL_RETRY_AFTER)
		hold(c, j->req.to, now + (a->retry_after_ms ? a->retry_after_ms
							    : wait));

	log_result(c, j, &res, a->verdict, http_status, latency_ms);
	rc = keryu_delivery_publish(c->host, c->m, &j->req, &res);
	if (rc) {
		char ev[96];

		snprintf(ev, sizeof(ev), "%s.publish_failed", c->name);
		c->host->log(c->m, KERYU_LOG_ERROR, ev,
			     "notification=%s attempt=%d status=%s err=%s",
			     j->req.notification_id, j->req.attempt,
			     res.status, keryu_strerror(rc));
	}

	pthread_mutex_lock(&c->mu);
	if (a->verdict == CHANNEL_SENT)
		c->stats.sent++;
	else if (a->verdict == CHANNEL_UNKNOWN)
		c->stats.unknown++;
	else if (again)
		c->stats.retried++;
	else
		c->stats.failed++;
	settled_add(c, &j->req, &res);
	key_remove(c, j);
	if (again) {
		j->req.attempt++;
		/* The alarms module may have re-driven attempt + 1 already
		 * (its lease ran out): then that one is the retry. */
		if (c->stopping ||
		    key_find(c, j->req.notification_id, j->req.attempt))
			again = false;
		else
			key_add(c, j);
	}
	pthread_mutex_unlock(&c->mu);
	if (again) {
		job_reset(j);
		schedule(c, j, now + wait);
	} else {
		job_free(j);
	}
}

static void settle_transport(struct channel *c, struct job *j,
			     enum channel_verdict v, const char *code,
			     const char *text, long latency_ms)
{
	struct channel_answer a;

	memset(&a, 0, sizeof(a));
	a.verdict = v;
	snprintf(a.result.error_code, sizeof(a.result.error_code), "%s", code);
	snprintf(a.result.error_text, sizeof(a.result.error_text), "%s",
		 text ? text : "");
	settle(c, j, &a, 0, latency_ms);
}

/* ---- the wire ---- */

static struct curl_slist *headers_for(const struct channel *c,
				      const struct job *j)
{
	struct curl_slist *l = NULL, *n;
	char ct[160];
	size_t i;

	snprintf(ct, sizeof(ct), "Content-Type: %s",
		 j->http.content_type ? j->http.content_type
				      : c->content_type);
	/* "Expect:" stops curl from waiting for 100-continue on bodies over
	 * 1 KiB: one round trip less, and no provider needs it. */
	if (!(n = curl_slist_append(l, ct)))
		goto fail;
	l = n;
	if (!(n = curl_slist_append(l, "Expect:")))
		goto fail;
	for (i = 0; c->headers[i]; i++)
		if (!(n = curl_slist_append(l, c->headers[i])))
			goto fail;
	for (i = 0; i < CHANNEL_MAX_HEADERS; i++)
		if (j->http.headers[i] &&
		    !(n = curl_slist_append(l, j->http.headers[i])))
			goto fail;
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/* Puts j on the wire, or settles it at once when it cannot go. */
static void launch(struct channel *c, struct job *j)
{
	const char *url, *userpwd;
	CURL *e;
	int rc;

	memset(&j->http, 0, sizeof(j->http));
	rc = c->provider.build(c->provider.arg, &j->req, &j->http);
	if (rc == KERYU_EINVAL) {
		settle_transport(c, j, CHANNEL_PERMANENT, "invalid_request",
				 "the request cannot be sent to this channel",
				 0);
		return;
	}
	url = j->http.url ? j->http.url : c->url;
	userpwd = j->http.userpwd ? j->http.userpwd : c->userpwd;
	if (rc || !j->http.body || !url) {
		settle_transport(c, j, CHANNEL_RETRY, "internal",
				 "could not build the HTTP request", 0);
		return;
	}
	j->hdrs = headers_for(c, j);
	e = j->easy = curl_easy_init();
	if (!j->hdrs || !e || curl_easy_setopt(e, CURLOPT_URL, url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(e, CURLOPT_POST, 1L) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->http.body) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			     (curl_off_t)strlen(j->http.body)) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, j) ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, j) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			     c->connect_timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms) ||
	    (userpwd && (curl_easy_setopt(e, CURLOPT_HTTPAUTH,
					  (long)CURLAUTH_BASIC) ||
			 curl_easy_setopt(e, CURLOPT_USERPWD, userpwd))) ||
	    curl_multi_add_handle(c->multi, e)) {
		settle_transport(c, j, CHANNEL_RETRY, "internal",
				 "could not set up the HTTP request", 0);
		return;
	}
	list_push(&c->active, j);
}

static void finish(struct channel *c, struct job *j, CURLcode rc)
{
	struct channel_answer a;
	long status = 0, latency;
	curl_off_t total_us = 0, sent = 0;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	latency = (long)(total_us / 1000);
	if (rc == CURLE_OK) {
		memset(&a, 0, sizeof(a));
		c->provider.parse(c->provider.arg, &j->req, status,
				  j->answer ? j->answer : "", j->answer_len,
				  &a);
		settle(c, j, &a, status, latency);
	} else if (rc == CURLE_OPERATION_TIMEDOUT &&
		   curl_easy_getinfo(j->easy, CURLINFO_REQUEST_SIZE, &sent) ==
			   CURLE_OK &&
		   sent > 0) {
		/* The message may have gone out: the outcome is unknown, and
		 * the provider's status webhook settles it. */
		settle_transport(c, j, CHANNEL_UNKNOWN, "timeout",
				 "no answer in time after the request was "
				 "sent; outcome unknown",
				 latency);
	} else if (rc == CURLE_WRITE_ERROR) {
		settle_transport(c, j, CHANNEL_UNKNOWN, "bad_response",
				 "answer too large", latency);
	} else {
		settle_transport(c, j, CHANNEL_RETRY, "network",
				 j->errbuf[0] ? j->errbuf
					      : curl_easy_strerror(rc),
				 latency);
	}
}

/* Settles every finished transfer; returns how many. */
static int collect(struct channel *c)
{
	CURLMsg *msg;
	int left, n = 0;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		char *priv = NULL;
		struct job *j;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg belongs to the multi handle: read it before removal */
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		j = (struct job *)(void *)priv;
		curl_multi_remove_handle(c->multi, j->easy);
		list_remove(&c->active, j);
		finish(c, j, rc);
		n++;
	}
	return n;
}

/* The next job that may go: one that waited for a token, a retry that is
 * due, then a new request. */
static struct job *next_job(struct channel *c, uint64_t now)
{
	struct job *j = list_pop(&c->ready);

	if (j)
		return j;
	if (c->scheduled.head && c->scheduled.head->due_ms <= now)
		return list_pop(&c->scheduled);
	pthread_mutex_lock(&c->mu);
	j = list_pop(&c->queue);
	if (j)
		pthread_cond_broadcast(&c->room);
	pthread_mutex_unlock(&c->mu);
	return j;
}

/* Launches what the window, the bucket and the holds allow; returns how
 * long the worker may sleep before something else becomes due. */
static int launch_due(struct channel *c, bool stopping, uint64_t deadline)
{
	uint64_t now = now_ms(), until;
	int wait = IDLE_POLL_MS;
	unsigned t;
	struct job *j;

	/* While stopping, a request that cannot even connect before the
	 * deadline is better left unsent than cut off with an unknown
	 * outcome. */
	if (stopping && now + (uint64_t)c->connect_timeout_ms >= deadline)
		return wait;
	while ((int)c->active.n < c->max_in_flight &&
	       (j = next_job(c, now))) {
		until = held_until(c, j->req.to, now);
		if (until) {
			schedule(c, j, until);
			continue;
		}
		t = channel_bucket_take(&c->bucket, now);
		if (t) {
			list_push_front(&c->ready, j);
			if ((int)t < wait)
				wait = (int)t;
			break;
		}
		launch(c, j);
	}
	if (c->scheduled.head) {
		uint64_t due = c->scheduled.head->due_ms;

		now = now_ms();
		if (due <= now)
			wait = 0;
		else if (due - now < (uint64_t)wait)
			wait = (int)(due - now);
	}
	return wait;
}

/* Drops every job of list l without a result. */
static void drop_list(struct channel *c, struct list *l)
{
	struct job *j;

	while ((j = list_pop(l))) {
		if (j->easy)
			curl_multi_remove_handle(c->multi, j->easy);
		job_done(c, j);
	}
}

/* At the deadline, whatever is still anywhere is dropped WITHOUT a result:
 * the notification stays QUEUED (or ERROR with its retry hint) and the
 * alarms module's lease re-drives it. For an aborted in-flight request the
 * message may have gone out; the provider's status webhook settles it. */
static void abandon(struct channel *c)
{
	size_t n = c->active.n + c->ready.n + c->scheduled.n;
	struct job *j;

	drop_list(c, &c->active);
	drop_list(c, &c->ready);
	drop_list(c, &c->scheduled);
	pthread_mutex_lock(&c->mu);
	while ((j = list_pop(&c->queue))) {
		key_remove(c, j);
		job_free(j);
		n++;
	}
	c->stats.dropped += n;
	c->stats.in_flight = c->stats.scheduled = 0;
	pthread_cond_broadcast(&c->room);
	pthread_mutex_unlock(&c->mu);
}

static void *worker(void *arg)
{
	struct channel *c = arg;

	for (;;) {
		bool stopping, idle;
		uint64_t deadline, now;
		int running, wait;

		pthread_mutex_lock(&c->mu);
		stopping = c->stopping;
		deadline = c->deadline;
		pthread_mutex_unlock(&c->mu);
		if (stopping && c->scheduled.n) {
			/* retries are the alarms module's once we stop (their
			 * results carried the hint) */
			pthread_mutex_lock(&c->mu);
			c->stats.dropped += c->scheduled.n;
			pthread_mutex_unlock(&c->mu);
			drop_list(c, &c->scheduled);
		}
		wait = launch_due(c, stopping, deadline);
		curl_multi_perform(c->multi, &running);
		/* a finished transfer frees a slot: fill it before sleeping */
		if (collect(c) > 0)
			wait = 0;
		if (stopping) {
			now = now_ms();
			if (now >= deadline)
				break;
			pthread_mutex_lock(&c->mu);
			idle = !c->queue.head;
			pthread_mutex_unlock(&c->mu);
			idle = idle && !c->ready.head;
			/* nothing on the wire and nothing we may still start */
			if (c->active.n == 0 &&
			    (idle || now + (uint64_t)c->connect_timeout_ms >=
					     deadline))
				break;
			if (deadline - now < (uint64_t)wait)
				wait = (int)(deadline - now);
		}
		pthread_mutex_lock(&c->mu);
		c->stats.in_flight = c->active.n;
		c->stats.scheduled = c->scheduled.n + c->ready.n;
		pthread_mutex_unlock(&c->mu);
		if (wait > 0)
			curl_multi_poll(c->multi, NULL, 0, wait, NULL);
	}
	abandon(c);
	return NULL;
}

/* ---- public ---- */

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int channel_new(const struct channel_config *cfg,
		const struct channel_provider *provider, struct channel **out)
{
	struct channel *c;
	pthread_condattr_t ca;
	bool fail = false;
	size_t n = 0, i;

	*out = NULL;
	if (!cfg || !provider || !cfg->host || !cfg->name || !*cfg->name ||
	    !provider->build || !provider->parse || cfg->timeout_ms <= 0 ||
	    cfg->connect_timeout_ms <= 0 || cfg->max_in_flight < 1 ||
	    cfg->max_in_flight > 4096 || cfg->retry_base_ms < 1 ||
	    cfg->max_attempts < 1 || cfg->max_attempts > 100 ||
	    !(cfg->rate_per_s >= 0) || cfg->submit_wait_ms < 0)
		return KERYU_EINVAL;
	while (cfg->headers && cfg->headers[n])
		n++;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return KERYU_ERR;
	c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return KERYU_ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	/* submit's timed wait counts on the monotonic clock */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->room, &ca);
	pthread_condattr_destroy(&ca);
	c->host = cfg->host;
	c->m = cfg->m;
	c->provider = *provider;
	c->timeout_ms = cfg->timeout_ms;
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	c->max_in_flight = cfg->max_in_flight;
	c->retry_base_ms = cfg->retry_base_ms;
	c->max_attempts = cfg->max_attempts;
	c->submit_wait_ms = cfg->submit_wait_ms;
	c->cap = cfg->queue_max ? cfg->queue_max
				: (size_t)cfg->max_in_flight * 4u;
	/* A tenth of a second of burst: the rate holds over any window a
	 * provider is likely to measure, and an idle engine still starts at
	 * once. */
	channel_bucket_init(&c->bucket, cfg->rate_per_s, cfg->rate_per_s / 10,
			    now_ms());
	c->name = dup_or_null(cfg->name, &fail);
	c->url = dup_or_null(cfg->url, &fail);
	c->content_type = dup_or_null(
		cfg->content_type ? cfg->content_type : "application/json",
		&fail);
	c->userpwd = dup_or_null(cfg->userpwd, &fail);
	c->headers = calloc(n + 1, sizeof(*c->headers));
	c->settled = calloc(SETTLED_MAX, sizeof(*c->settled));
	if (!c->headers || !c->settled)
		fail = true;
	for (i = 0; !fail && i < n; i++)
		c->headers[i] = dup_or_null(cfg->headers[i], &fail);
	c->multi = curl_multi_init();
	if (fail || !c->multi) {
		channel_free(c);
		return KERYU_ENOMEM;
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
			  (long)cfg->max_in_flight);
	*out = c;
	return 0;
}

int channel_subscribe(struct channel *c, const char *group,
		      const char *channel_name)
{
	char filter[192];

	if (!keryu_topic_level_valid(group) ||
	    !keryu_topic_level_valid(channel_name))
		return KERYU_EINVAL;
	snprintf(filter, sizeof(filter), "$share/%s/%s%s", group,
		 KERYU_TOPIC_NOTIFY, channel_name);
	return c->host->subscribe(c->m, filter, 1, channel_on_notify, c);
}

int channel_start(struct channel *c)
{
	pthread_mutex_lock(&c->mu);
	if (c->started || c->stopping) {
		pthread_mutex_unlock(&c->mu);
		return KERYU_ERR;
	}
	if (pthread_create(&c->thread, NULL, worker, c) != 0) {
		pthread_mutex_unlock(&c->mu);
		return KERYU_ERR;
	}
	c->running = c->started = true;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* Publishes a settled attempt's result again for req. Returns 0: a failed
 * publish is logged and left to the next re-drive. */
static int republish(struct channel *c, const struct keryu_notify_event *req,
		     struct keryu_delivery_event *res)
{
	char ev[96];
	int rc = keryu_delivery_publish(c->host, c->m, req, res);

	snprintf(ev, sizeof(ev), "%s.answered_again", c->name);
	c->host->log(c->m, rc ? KERYU_LOG_ERROR : KERYU_LOG_INFO, ev,
		     "notification=%s attempt=%d status=%s err=%s",
		     req->notification_id, req->attempt, res->status,
		     keryu_strerror(rc));
	return 0;
}

int channel_submit(struct channel *c, const struct keryu_notify_event *req,
		   int wait_ms, bool *duplicate)
{
	const struct settled *done;
	struct keryu_delivery_event again = {0};
	struct job *j;
	struct timespec until;
	int rc = 0;

	if (duplicate)
		*duplicate = false;
	j = calloc(1, sizeof(*j));
	if (!j)
		return KERYU_ENOMEM;
	j->req = *req;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	if (seen_before(c, req->event_id) ||
	    key_find(c, req->notification_id, req->attempt)) {
		c->stats.duplicates++;
		pthread_mutex_unlock(&c->mu);
		free(j);
		if (duplicate)
			*duplicate = true;
		return 0;
	}
	if ((done = settled_find(c, req->notification_id, req->attempt))) {
		/* answered here already: the alarms module re-drove it because
		 * our result never reached it; say it again, send nothing */
		snprintf(again.status, sizeof(again.status), "%s", done->status);
		snprintf(again.provider_message_id,
			 sizeof(again.provider_message_id), "%s",
			 done->provider_message_id);
		snprintf(again.error_code, sizeof(again.error_code), "%s",
			 done->error_code);
		again.retry_in_ms = done->retry_in_ms;
		c->stats.duplicates++;
		pthread_mutex_unlock(&c->mu);
		free(j);
		if (duplicate)
			*duplicate = true;
		return republish(c, req, &again);
	}
	while (!c->stopping && c->queue.n >= c->cap && rc == 0)
		if (pthread_cond_timedwait(&c->room, &c->mu, &until) ==
		    ETIMEDOUT)
			rc = KERYU_ETIMEDOUT;
	if (c->stopping)
		rc = KERYU_ECONFLICT;
	else if (c->queue.n >= c->cap)
		rc = KERYU_ETIMEDOUT;
	/* the wait let go of the lock: the same attempt may have come in */
	else if (key_find(c, req->notification_id, req->attempt)) {
		c->stats.duplicates++;
		pthread_mutex_unlock(&c->mu);
		free(j);
		if (duplicate)
			*duplicate = true;
		return 0;
	}
	if (rc == 0) {
		list_push(&c->queue, j);
		key_add(c, j);
		/* Only requests taken on are remembered: one dropped (queue
		 * full, stopping) must still be sent when it comes again. */
		memcpy(c->seen[c->seen_next], req->event_id, KERYU_UUID_LEN);
		c->seen_next = (c->seen_next + 1) % SEEN_MAX;
	} else {
		c->stats.dropped++;
	}
	pthread_mutex_unlock(&c->mu);
	if (rc) {
		free(j);
		return rc;
	}
	curl_multi_wakeup(c->multi);
	return 0;
}

void channel_on_notify(void *arg, const char *topic, const void *payload,
		       size_t len)
{
	struct channel *c = arg;
	struct keryu_notify_event req;
	bool dup = false;
	char ev[96];
	int rc;

	if (keryu_notify_event_decode(payload, len, &req) != 0) {
		snprintf(ev, sizeof(ev), "%s.malformed", c->name);
		c->host->log(c->m, KERYU_LOG_WARN, ev, "topic=%s bytes=%zu",
			     topic, len);
		return;
	}
	rc = channel_submit(c, &req, c->submit_wait_ms, &dup);
	if (dup) {
		snprintf(ev, sizeof(ev), "%s.duplicate", c->name);
		c->host->log(c->m, KERYU_LOG_DEBUG, ev,
			     "notification=%s attempt=%d event=%s",
			     req.notification_id, req.attempt, req.event_id);
	} else if (rc) {
		/* Not published, not remembered: the notification stays
		 * QUEUED with nothing sent, and the alarms module's lease
		 * re-drives it. */
		snprintf(ev, sizeof(ev), "%s.dropped", c->name);
		c->host->log(c->m, KERYU_LOG_WARN, ev,
			     "notification=%s attempt=%d reason=%s",
			     req.notification_id, req.attempt,
			     rc == KERYU_ECONFLICT	     ? "stopping"
			     : rc == KERYU_ETIMEDOUT ? "queue_full"
						     : keryu_strerror(rc));
	}
}

void channel_stop(struct channel *c, int deadline_ms)
{
	bool join;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	if (!c->stopping) {
		c->stopping = true;
		c->deadline =
			now_ms() + (uint64_t)(deadline_ms > 0 ? deadline_ms : 0);
	}
	pthread_cond_broadcast(&c->room);
	join = c->running;
	c->running = false;
	pthread_mutex_unlock(&c->mu);
	if (c->multi)
		curl_multi_wakeup(c->multi);
	if (join)
		pthread_join(c->thread, NULL);
}

void channel_stats(struct channel *c, struct channel_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	out->queued = c->queue.n;
	pthread_mutex_unlock(&c->mu);
}

void channel_free(struct channel *c)
{
	struct job *j;
	size_t i;

	if (!c)
		return;
	channel_stop(c, 0);
	/* never started: the worker did not abandon anything */
	while ((j = list_pop(&c->queue)))
		job_free(j);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	for (i = 0; c->headers && c->headers[i]; i++) {
		memset(c->headers[i], 0, strlen(c->headers[i]));
		free(c->headers[i]);
	}
	free(c->headers);
	if (c->userpwd) {
		memset(c->userpwd, 0, strlen(c->userpwd));
		free(c->userpwd);
	}
	free(c->settled);
	free(c->name);
	free(c->url);
	free(c->content_type);
	pthread_cond_destroy(&c->room);
	pthread_mutex_destroy(&c->mu);
	free(c);
	curl_global_cleanup();
}
