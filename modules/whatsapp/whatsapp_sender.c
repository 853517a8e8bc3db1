/* Worker thread + libcurl multi: bounded concurrency for Cloud API sends.
 *
 * The bus thread only decodes and queues (whatsapp_sender_submit); all curl
 * calls except curl_multi_wakeup happen on the worker, so no curl handle is
 * shared between threads. */
#include "whatsapp_sender.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include <keryu/module.h>

#include "whatsapp_response.h"

/* A Cloud API answer is a few hundred bytes; more is not worth keeping. */
#define MAX_ANSWER (64u * 1024u)
/* How long the worker sleeps in curl_multi_poll when nothing happens;
 * submit and stop wake it earlier. */
#define IDLE_POLL_MS 1000

struct job {
	struct job *next, *prev; /* queue (next only) or active list */
	struct keryu_notify_event req;
	char *body;
	CURL *easy;
	char *answer;
	size_t answer_len;
	char errbuf[CURL_ERROR_SIZE];
};

struct whatsapp_sender {
	pthread_mutex_t mu;
	pthread_cond_t room; /* signalled when the queue shrinks or on stop */
	struct job *head, *tail; /* waiting, guarded by mu */
	size_t queued, cap;
	bool stopping;   /* guarded by mu */
	uint64_t deadline; /* monotonic ms, guarded by mu */
	bool running;    /* thread started and not yet joined */
	pthread_t thread;

	/* worker only */
	CURLM *multi;
	struct job *active; /* in flight, doubly linked */
	int in_flight;

	char *url;
	struct curl_slist *headers;
	long timeout_ms, connect_timeout_ms;
	int max_in_flight;
	whatsapp_result_fn fn;
	void *arg;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->easy)
		curl_easy_cleanup(j->easy);
	free(j->body);
	free(j->answer);
	free(j);
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

static void report(struct whatsapp_sender *s, struct job *j,
		   const struct keryu_delivery_event *res, long http_status,
		   long latency_ms)
{
	s->fn(s->arg, &j->req, res, http_status, latency_ms);
}

static void active_add(struct whatsapp_sender *s, struct job *j)
{
	j->prev = NULL;
	j->next = s->active;
	if (s->active)
		s->active->prev = j;
	s->active = j;
	s->in_flight++;
}

static void active_remove(struct whatsapp_sender *s, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		s->active = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->next = j->prev = NULL;
	s->in_flight--;
}

/* Puts j on the wire; on failure reports an "error" result at once. */
static void launch(struct whatsapp_sender *s, struct job *j)
{
	struct keryu_delivery_event res;
	CURL *e = curl_easy_init();

	j->easy = e;
	if (!e || curl_easy_setopt(e, CURLOPT_URL, s->url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(e, CURLOPT_POST, 1L) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			     (curl_off_t)strlen(j->body)) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, j) ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, j) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			     s->connect_timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms) ||
	    curl_multi_add_handle(s->multi, e)) {
		whatsapp_response_transport("internal",
					    "could not set up the HTTP request",
					    &res);
		report(s, j, &res, 0, 0);
		job_free(j);
		return;
	}
	active_add(s, j);
}

static void finish(struct whatsapp_sender *s, struct job *j, CURLcode rc)
{
	struct keryu_delivery_event res;
	long status = 0;
	curl_off_t total_us = 0, sent = 0;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	if (rc == CURLE_OK) {
		whatsapp_response_parse(status, j->answer, j->answer_len, &res);
	} else if (rc == CURLE_OPERATION_TIMEDOUT &&
		   curl_easy_getinfo(j->easy, CURLINFO_REQUEST_SIZE, &sent) ==
			   CURLE_OK && sent > 0) {
		/* The message may have gone out: providers.md says to mark the
		 * outcome unknown and let the status webhook (which carries
		 * biz_opaque_callback_data) or a later attempt settle it. */
		whatsapp_response_transport(
			"timeout", "no answer in time after the request was "
				   "sent; outcome unknown", &res);
	} else if (rc == CURLE_WRITE_ERROR) {
		whatsapp_response_transport("bad_response",
					    "answer too large", &res);
	} else {
		whatsapp_response_transport(
			"network", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc),
			&res);
	}
	report(s, j, &res, rc == CURLE_OK ? status : 0,
	       (long)(total_us / 1000));
}

static void collect(struct whatsapp_sender *s)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(s->multi, &left))) {
		char *priv = NULL;
		struct job *j;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg belongs to the multi handle: read it before removal */
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		j = (struct job *)(void *)priv;

		curl_multi_remove_handle(s->multi, j->easy);
		active_remove(s, j);
		finish(s, j, rc);
		job_free(j);
	}
}

/* Takes as many waiting jobs as there is room for, under the lock. */
static struct job *take(struct whatsapp_sender *s, bool *stopping,
			uint64_t *deadline)
{
	struct job *list = NULL, **tailp = &list;
	int room = s->max_in_flight - s->in_flight;
	uint64_t now = now_ms();

	pthread_mutex_lock(&s->mu);
	*stopping = s->stopping;
	*deadline = s->deadline;
	/* While stopping, a request that cannot even connect before the
	 * deadline is better left unsent than started and cut off with an
	 * unknown outcome. */
	if (s->stopping &&
	    now + (uint64_t)s->connect_timeout_ms >= s->deadline)
		room = 0;
	while (room > 0 && s->head) {
		struct job *j = s->head;

		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		j->next = NULL;
		*tailp = j;
		tailp = &j->next;
		room--;
	}
	if (list)
		pthread_cond_broadcast(&s->room);
	pthread_mutex_unlock(&s->mu);
	return list;
}

/* At the deadline: whatever is still queued or in flight is dropped
 * WITHOUT publishing a result. A result would tell the alarms module that
 * this attempt ended; instead the notification stays QUEUED, to be sent
 * by whoever re-drives it (no such re-drive exists yet: see
 * whatsapp_module.c). For an aborted in-flight request the message may
 * have gone out; the status webhook, keyed by biz_opaque_callback_data,
 * settles that case. */
static void abandon(struct whatsapp_sender *s)
{
	struct job *j;

	while ((j = s->active)) {
		curl_multi_remove_handle(s->multi, j->easy);
		active_remove(s, j);
		job_free(j);
	}
	pthread_mutex_lock(&s->mu);
	while ((j = s->head)) {
		s->head = j->next;
		job_free(j);
	}
	s->tail = NULL;
	s->queued = 0;
	pthread_cond_broadcast(&s->room);
	pthread_mutex_unlock(&s->mu);
}

static void *worker(void *arg)
{
	struct whatsapp_sender *s = arg;

	for (;;) {
		bool stopping;
		uint64_t deadline, now;
		struct job *j, *next;
		int running, wait = IDLE_POLL_MS;
		bool idle;

		for (j = take(s, &stopping, &deadline); j; j = next) {
			next = j->next;
			j->next = NULL;
			launch(s, j);
		}
		curl_multi_perform(s->multi, &running);
		collect(s);
		if (stopping) {
			now = now_ms();
			if (now >= deadline)
				break;
			pthread_mutex_lock(&s->mu);
			idle = !s->head;
			pthread_mutex_unlock(&s->mu);
			/* nothing on the wire and nothing we may still start */
			if (s->in_flight == 0 &&
			    (idle || now + (uint64_t)s->connect_timeout_ms >=
					     deadline))
				break;
			if (deadline - now < (uint64_t)wait)
				wait = (int)(deadline - now);
		}
		curl_multi_poll(s->multi, NULL, 0, wait, NULL);
	}
	abandon(s); /* whatever the deadline cut off */
	return NULL;
}

int whatsapp_sender_new(const struct whatsapp_sender_config *cfg,
			whatsapp_result_fn fn, void *arg,
			struct whatsapp_sender **out)
{
	struct whatsapp_sender *s;
	pthread_condattr_t ca;
	char *auth = NULL;
	struct curl_slist *h;

	*out = NULL;
	if (!cfg->url || !cfg->token || !*cfg->token || cfg->timeout_ms <= 0 ||
	    cfg->connect_timeout_ms <= 0 || cfg->max_in_flight < 1 ||
	    cfg->max_in_flight > 4096 || !fn)
		return KERYU_EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return KERYU_ERR;
	s = calloc(1, sizeof(*s));
	if (!s) {
		curl_global_cleanup();
		return KERYU_ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	/* submit's timed wait counts on the monotonic clock */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->room, &ca);
	pthread_condattr_destroy(&ca);
	s->fn = fn;
	s->arg = arg;
	s->timeout_ms = cfg->timeout_ms;
	s->connect_timeout_ms = cfg->connect_timeout_ms;
	s->max_in_flight = cfg->max_in_flight;
	/* Enough to absorb a burst while max_in_flight are on the wire;
	 * beyond it the bus thread waits (back-pressure into the broker). */
	s->cap = (size_t)cfg->max_in_flight * 4u;
	s->url = strdup(cfg->url);
	s->multi = curl_multi_init();
	if (asprintf(&auth, "Authorization: Bearer %s", cfg->token) < 0)
		auth = NULL;
	if (!s->url || !s->multi || !auth)
		goto nomem;
	/* "Expect:" stops curl from waiting for 100-continue on bodies over
	 * 1 KiB: one round trip less, and Meta does not need it. */
	h = curl_slist_append(NULL, auth);
	if (h && (s->headers = h) &&
	    (h = curl_slist_append(s->headers, "Content-Type: application/json")) &&
	    (h = curl_slist_append(s->headers, "Expect:"))) {
		/* the token lives in the header list only */
		memset(auth, 0, strlen(auth));
		free(auth);
		auth = NULL;
	} else {
		goto nomem;
	}
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS,
			  (long)cfg->max_in_flight);
	*out = s;
	return 0;
nomem:
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	whatsapp_sender_free(s);
	return KERYU_ENOMEM;
}

int whatsapp_sender_start(struct whatsapp_sender *s)
{
	pthread_mutex_lock(&s->mu);
	if (s->running || s->stopping) {
		pthread_mutex_unlock(&s->mu);
		return KERYU_ERR;
	}
	if (pthread_create(&s->thread, NULL, worker, s) != 0) {
		pthread_mutex_unlock(&s->mu);
		return KERYU_ERR;
	}
	s->running = true;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int whatsapp_sender_submit(struct whatsapp_sender *s,
			   const struct keryu_notify_event *req, char *body,
			   int wait_ms)
{
	struct job *j = calloc(1, sizeof(*j));
	struct timespec until;
	int rc = 0;

	if (!j) {
		free(body);
		return KERYU_ENOMEM;
	}
	j->req = *req;
	j->body = body;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stopping && s->queued >= s->cap && rc == 0)
		if (pthread_cond_timedwait(&s->room, &s->mu, &until) ==
		    ETIMEDOUT)
			rc = KERYU_ETIMEDOUT;
	if (s->stopping)
		rc = KERYU_ECONFLICT;
	else if (s->queued >= s->cap)
		rc = KERYU_ETIMEDOUT;
	if (rc == 0) {
		if (s->tail)
			s->tail->next = j;
		else
			s->head = j;
		s->tail = j;
		s->queued++;
	}
	pthread_mutex_unlock(&s->mu);
	if (rc) {
		job_free(j);
		return rc;
	}
	curl_multi_wakeup(s->multi);
	return 0;
}

void whatsapp_sender_stop(struct whatsapp_sender *s, int deadline_ms)
{
	bool join;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	if (!s->stopping) {
		s->stopping = true;
		s->deadline = now_ms() + (uint64_t)(deadline_ms > 0 ? deadline_ms : 0);
	}
	pthread_cond_broadcast(&s->room);
	join = s->running;
	s->running = false;
	pthread_mutex_unlock(&s->mu);
	curl_multi_wakeup(s->multi);
	if (join)
		pthread_join(s->thread, NULL);
}

void whatsapp_sender_free(struct whatsapp_sender *s)
{
	struct job *j;

	if (!s)
		return;
	whatsapp_sender_stop(s, 0);
	while ((j = s->head)) {
		s->head = j->next;
		job_free(j);
	}
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->headers);
	free(s->url);
	pthread_cond_destroy(&s->room);
	pthread_mutex_destroy(&s->mu);
	free(s);
	curl_global_cleanup();
}
