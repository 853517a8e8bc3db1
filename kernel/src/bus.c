/* MQTT v5 client per module; see bus.h. */
#include "bus.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <keryu/events.h>

#include "log.h"
#include "util.h"

struct sub {
	char *filter;      /* as sent to the broker */
	const char *match; /* filter without "$share/<group>/" */
	int qos;
	keryu_bus_fn fn;
	void *arg;
	struct sub *next; /* never changes once the sub is on the list */
};

/* A publish_wait in progress, on the caller's stack. */
struct waiter {
	int mid;
	bool acked;
	int rc;
	struct waiter *next;
};

struct bus {
	struct mosquitto *mosq; /* NULL: no bus */
	struct bus_url url;
	char *module;
	char *instance;
	char *client_id;
	char *status_topic;
	int session_expiry_s;
	int keepalive_s;
	void (*on_taken_over)(void *arg);
	void *taken_over_arg;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t changed;
	struct sub *subs; /* newest first; entries are never removed */
	struct waiter *waiters;
	int pending_subacks;
	bool connected;
	bool refused; /* the broker said no to CONNECT or SUBSCRIBE */
	bool taken_over; /* another process uses our client id: given up */
	int status_mid;  /* of the SUBSCRIBE to our own status topic */
	/* "at" of the "online" we published on the connect before this one
	 * (at first, when the bus was made) and on this one. */
	char prev_online[KERYU_TIME_LEN];
	char cur_online[KERYU_TIME_LEN];
	bool looping; /* network thread running */
	bool stopping;
	bool net_known; /* net_thread is set */
	pthread_t net_thread;

	/* Outside the lock: bumped on the network thread and by publishers,
	 * read by /metrics, and no count needs to agree with another. */
	_Atomic uint64_t in[KERYU_BUS_CLASSES];
	_Atomic uint64_t out[KERYU_BUS_CLASSES];
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	mosquitto_lib_init();
}

static int map_err(int rc)
{
	switch (rc) {
	case MOSQ_ERR_SUCCESS: return 0;
	case MOSQ_ERR_NOMEM: return KERYU_ENOMEM;
	case MOSQ_ERR_INVAL:
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_MALFORMED_UTF8:
	case MOSQ_ERR_QOS_NOT_SUPPORTED: return KERYU_EINVAL;
	default: return KERYU_EIO;
	}
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- URL ---- */

static int hexval(int ch)
{
	if (isdigit(ch))
		return ch - '0';
	ch = tolower(ch);
	return (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
}

/* Copies s[0..len) into out, undoing %XX. Returns 0 or KERYU_EINVAL. */
static int unescape(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '%') {
			if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return KERYU_EINVAL;
			ch = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (o + 1 >= size)
			return KERYU_EINVAL;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

int bus_parse_url(const char *url, struct bus_url *out)
{
	const char *p, *end, *at, *colon, *host_end;
	size_t host_len;
	char *port_end;

	memset(out, 0, sizeof(*out));
	out->port = 1883;
	if (!url || strncmp(url, "mqtt://", 7) != 0)
		return KERYU_EINVAL;
	p = url + 7;
	end = p + strcspn(p, "/");
	if (*end == '/' && end[1] != '\0')
		return KERYU_EINVAL; /* MQTT has no path */

	/* The same rule --check-config masks with: the last '@'. */
	if (url_userinfo(url, &p, &at)) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (unescape(p, (size_t)((colon ? colon : at) - p), out->user,
			     sizeof(out->user)) != 0)
			return KERYU_EINVAL;
		if (colon && unescape(colon + 1, (size_t)(at - colon - 1),
				      out->pass, sizeof(out->pass)) != 0)
			return KERYU_EINVAL;
		p = at + 1;
	}

	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(end - p));
		if (!host_end)
			return KERYU_EINVAL;
		p++;
		colon = host_end[1] == ':' ? host_end + 1 : NULL;
		if (!colon && host_end + 1 != end)
			return KERYU_EINVAL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		host_end = colon ? colon : end;
	}
	host_len = (size_t)(host_end - p);
	if (host_len == 0 || host_len >= sizeof(out->host))
		return KERYU_EINVAL;
	memcpy(out->host, p, host_len);
	out->host[host_len] = '\0';

	if (colon) {
		long port;

		errno = 0;
		port = strtol(colon + 1, &port_end, 10);
		if (port_end != end || port_end == colon + 1 || errno != 0 ||
		    port < 1 || port > 65535)
			return KERYU_EINVAL;
		out->port = (int)port;
	}
	return 0;
}

/* ---- counts by topic class ---- */

enum keryu_bus_class bus_topic_class(const char *topic)
{
	static const char *const names[KERYU_BUS_CLASSES] =
		KERYU_BUS_CLASS_NAMES;
	static const char prefix[] = "keryu/v1/";
	const char *cls, *end;

	if (!topic || strncmp(topic, prefix, sizeof(prefix) - 1) != 0)
		return KERYU_BUS_OTHER;
	cls = topic + sizeof(prefix) - 1;
	end = cls + strcspn(cls, "/");
	for (int i = 0; i < KERYU_BUS_OTHER; i++) {
		if (strlen(names[i]) == (size_t)(end - cls) &&
		    strncmp(names[i], cls, (size_t)(end - cls)) == 0)
			return (enum keryu_bus_class)i;
	}
	return KERYU_BUS_OTHER;
}

void bus_counts_add(struct bus *b, struct keryu_bus_counts *sum)
{
	for (int i = 0; i < KERYU_BUS_CLASSES; i++) {
		sum->in[i] += atomic_load_explicit(&b->in[i],
						   memory_order_relaxed);
		sum->out[i] += atomic_load_explicit(&b->out[i],
						    memory_order_relaxed);
	}
}

/* Every publish goes through here, so that every one is counted: those
 * libmosquitto accepted, and those it queued while disconnected. */
static int mosq_publish(struct bus *b, int *mid, const char *topic, int len,
			const void *payload, int qos, bool retain)
{
	int rc = mosquitto_publish_v5(b->mosq, mid, topic, len, payload, qos,
				      retain, NULL);

	if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && qos == 1))
		atomic_fetch_add_explicit(&b->out[bus_topic_class(topic)], 1,
					  memory_order_relaxed);
	return rc;
}

/* ---- status topic ---- */

/* {"v":1,"state":..,"instance":..,"module":..,"at":..}; the names are
 * checked by the kernel to need no JSON escaping. Returns the length. */
static int status_json(const struct bus *b, const char *state,
		       const char *at, char *buf, size_t size)
{
	return snprintf(buf, size,
			"{\"v\":1,\"state\":\"%s\",\"instance\":\"%s\","
			"\"module\":\"%s\",\"at\":\"%s\"}",
			state, b->instance, b->module, at);
}

static int publish_status(struct bus *b, const char *state, const char *at,
			  struct waiter *w)
{
	char payload[512];
	int n = status_json(b, state, at, payload, sizeof(payload));

	return mosq_publish(b, w ? &w->mid : NULL, b->status_topic, n, payload,
			    1, true);
}

/* ---- callbacks, on the network thread ---- */

static void own_status(void *arg, const char *topic, const void *payload,
		       size_t len);

static void send_subscription(struct bus *b, const struct sub *s)
{
	/* Called with the lock held. */
	int mid = 0;
	int rc = mosquitto_subscribe_v5(b->mosq, &mid, s->filter, s->qos, 0,
					NULL);

	if (rc == MOSQ_ERR_SUCCESS) {
		b->pending_subacks++;
		if (s->fn == own_status)
			b->status_mid = mid;
	} else if (rc != MOSQ_ERR_NO_CONN) {
		log_write(KERYU_LOG_ERROR, b->module, "bus.subscribe_failed",
			  "filter=%s error=%s", s->filter,
			  mosquitto_strerror(rc));
	}
}

/* Another process connected with our client id "<instance>-<module>": the
 * broker gave it our session and dropped us. Reconnecting would take the
 * session back, and the two would kick each other out forever, each
 * missing the messages the other got. So this client stops for good:
 * marking it disconnected ends libmosquitto's reconnect loop. */
static void give_up(struct bus *b)
{
	bool first;

	pthread_mutex_lock(&b->lock);
	first = !b->taken_over && !b->stopping;
	b->taken_over = true;
	pthread_cond_broadcast(&b->changed);
	pthread_mutex_unlock(&b->lock);
	if (!first)
		return;
	log_write(KERYU_LOG_ERROR, b->module, "bus.session_taken_over",
		  "module=%s client_id=%s hint=\"give each keryud its own "
		  "[kernel] instance\"",
		  b->module, b->client_id);
	mosquitto_disconnect_v5(b->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	if (b->on_taken_over)
		b->on_taken_over(b->taken_over_arg);
}

/* The subscription to our own status topic; see check_status. */
static void own_status(void *arg, const char *topic, const void *payload,
		       size_t len)
{
	(void)arg;
	(void)topic;
	(void)payload;
	(void)len;
}

/* Our own status as the broker hands the retained copy over when we
 * subscribe, on each connect. An MQTT v5 broker may tell the client it
 * drops that its session was taken over (DISCONNECT 0x8E, see
 * on_disconnect), but mosquitto 2.0 just closes the connection, which
 * looks like any network failure. What gives the other process away is
 * the "online" it published while we were out: newer than our previous
 * "online", and not ours. An older one was left by an earlier run that
 * died. Only the retained copy counts: live copies queued in the shared
 * session are the other process's echo of its own. */
static void check_status(struct bus *b, const void *payload, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(payload, len);
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
	const cJSON *when = cJSON_GetObjectItemCaseSensitive(o, "at");
	char at[KERYU_TIME_LEN];
	bool foreign, online;

	online = cJSON_IsString(state) && cJSON_IsString(when) &&
		 strcmp(state->valuestring, "online") == 0 &&
		 strlen(when->valuestring) < sizeof(at);
	if (online)
		memcpy(at, when->valuestring, strlen(when->valuestring) + 1);
	cJSON_Delete(o);
	if (!online)
		return;
	pthread_mutex_lock(&b->lock);
	foreign = strcmp(at, b->prev_online) > 0 &&
		  strcmp(at, b->cur_online) != 0;
	pthread_mutex_unlock(&b->lock);
	if (!foreign)
		return;
	/* Put its "online" back over ours, so that the other process does
	 * not take ours for a third one when it comes back. */
	mosq_publish(b, NULL, b->status_topic, (int)len, payload, 1, true);
	give_up(b);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct bus *b = obj;
	char at[KERYU_TIME_LEN];

	(void)mosq;
	(void)props;
	if (rc != 0) {
		log_write(KERYU_LOG_ERROR, b->module, "bus.refused", "reason=%s",
			  mosquitto_reason_string(rc));
		pthread_mutex_lock(&b->lock);
		b->refused = true;
		pthread_cond_broadcast(&b->changed);
		pthread_mutex_unlock(&b->lock);
		return;
	}
	keryu_now_iso(at);
	pthread_mutex_lock(&b->lock);
	b->connected = true;
	b->refused = false;
	b->net_thread = pthread_self();
	b->net_known = true;
	b->pending_subacks = 0;
	memcpy(b->prev_online, b->cur_online, sizeof(b->prev_online));
	memcpy(b->cur_online, at, sizeof(b->cur_online));
	/* The broker may have kept them with the session, or not (it was
	 * restarted without persistence): sending them again is harmless. */
	for (struct sub *s = b->subs; s; s = s->next)
		send_subscription(b, s);
	pthread_cond_broadcast(&b->changed);
	pthread_mutex_unlock(&b->lock);
	publish_status(b, "online", at, NULL);
	log_write(KERYU_LOG_INFO, b->module, "bus.connected",
		  "host=%s port=%d session_present=%d", b->url.host, b->url.port,
		  flags & 1);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
			  const mosquitto_property *props)
{
	struct bus *b = obj;
	bool quiet;

	(void)mosq;
	(void)props;
	pthread_mutex_lock(&b->lock);
	b->connected = false;
	quiet = b->stopping || b->taken_over;
	pthread_cond_broadcast(&b->changed);
	pthread_mutex_unlock(&b->lock);
	/* rc is a reason code when the broker sent DISCONNECT, else a
	 * MOSQ_ERR_*; the two ranges do not meet at 0x8E. */
	if (rc == MQTT_RC_SESSION_TAKEN_OVER)
		give_up(b);
	else if (!quiet)
		log_write(KERYU_LOG_WARN, b->module, "bus.disconnected",
			  "reason=%s", mosquitto_strerror(rc));
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid,
			 int qos_count, const int *granted_qos,
			 const mosquitto_property *props)
{
	struct bus *b = obj;
	bool refused = false, is_status;

	(void)mosq;
	(void)props;
	for (int i = 0; i < qos_count; i++) {
		if (granted_qos[i] >= 0x80)
			refused = true;
	}
	pthread_mutex_lock(&b->lock);
	is_status = mid == b->status_mid;
	if (b->pending_subacks > 0)
		b->pending_subacks--;
	/* An ACL may hide the system topics: then a second process with our
	 * client id goes unnoticed (with mosquitto 2.0), nothing worse. */
	if (refused && !is_status)
		b->refused = true;
	pthread_cond_broadcast(&b->changed);
	pthread_mutex_unlock(&b->lock);
	if (refused && is_status)
		log_write(KERYU_LOG_WARN, b->module, "bus.status_unreadable",
			  "topic=%s", b->status_topic);
	else if (refused)
		log_write(KERYU_LOG_ERROR, b->module, "bus.subscribe_refused",
			  "mid=%d", mid);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid,
		       int reason, const mosquitto_property *props)
{
	struct bus *b = obj;

	(void)mosq;
	(void)props;
	pthread_mutex_lock(&b->lock);
	for (struct waiter *w = b->waiters; w; w = w->next) {
		if (w->mid == mid) {
			w->acked = true;
			w->rc = reason >= 0x80 ? KERYU_EIO : 0;
			pthread_cond_broadcast(&b->changed);
		}
	}
	pthread_mutex_unlock(&b->lock);
}

static const char *strip_share(const char *filter)
{
	const char *group;

	if (strncmp(filter, "$share/", 7) != 0)
		return filter;
	group = strchr(filter + 7, '/');
	return group ? group + 1 : filter;
}

static void on_message(struct mosquitto *mosq, void *obj,
		       const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct bus *b = obj;
	struct sub *subs;

	(void)mosq;
	(void)props;
	atomic_fetch_add_explicit(&b->in[bus_topic_class(msg->topic)], 1,
				  memory_order_relaxed);
	/* Entries are only ever prepended, so the list from this head on
	 * stays valid without the lock, and callbacks may subscribe. */
	pthread_mutex_lock(&b->lock);
	subs = b->subs;
	pthread_mutex_unlock(&b->lock);
	if (msg->retain && strcmp(msg->topic, b->status_topic) == 0)
		check_status(b, msg->payload, (size_t)msg->payloadlen);
	for (struct sub *s = subs; s; s = s->next) {
		bool match = false;

		if (mosquitto_topic_matches_sub(s->match, msg->topic, &match) ==
			    MOSQ_ERR_SUCCESS &&
		    match)
			s->fn(s->arg, msg->topic, msg->payload,
			      (size_t)msg->payloadlen);
	}
}

/* ---- lifecycle ---- */

struct bus *bus_new(const struct bus_params *p)
{
	struct bus *b = calloc(1, sizeof(*b));
	pthread_condattr_t attr;
	char at[KERYU_TIME_LEN];
	char payload[512];
	int n;

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&b->changed, &attr);
	pthread_condattr_destroy(&attr);
	b->module = strdup(p->module);
	b->instance = strdup(p->instance);
	if (!b->module || !b->instance ||
	    asprintf(&b->status_topic, "%s%s/%s", KERYU_TOPIC_SYSTEM,
		     p->instance, p->module) < 0) {
		b->status_topic = NULL;
		goto fail;
	}
	if (!p->url)
		return b; /* no bus */

	b->url = *p->url;
	b->session_expiry_s = p->session_expiry_s;
	b->keepalive_s = p->keepalive_s;
	b->on_taken_over = p->on_taken_over;
	b->taken_over_arg = p->taken_over_arg;
	/* Anything "online" older than this is not another live process. */
	keryu_now_iso(b->cur_online);
	pthread_once(&lib_once, lib_init);
	if (asprintf(&b->client_id, "%s-%s", p->instance, p->module) < 0) {
		b->client_id = NULL;
		goto fail;
	}
	b->mosq = mosquitto_new(b->client_id, false, b);
	if (!b->mosq || bus_subscribe(b, b->status_topic, 1, own_status, b) != 0)
		goto fail;
	mosquitto_int_option(b->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     MQTT_PROTOCOL_V5);
	/* Small messages, one at a time: without this, Nagle's algorithm
	 * meeting delayed ACKs adds ~40 ms to every hop. */
	mosquitto_int_option(b->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(b->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(b->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(b->mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(b->mosq, on_publish);
	mosquitto_message_v5_callback_set(b->mosq, on_message);
	/* libmosquitto counts reconnect delays in whole seconds. */
	mosquitto_reconnect_delay_set(
		b->mosq, (unsigned)(p->reconnect_min_ms + 999) / 1000,
		(unsigned)(p->reconnect_max_ms + 999) / 1000, true);
	if (b->url.user[0] &&
	    mosquitto_username_pw_set(b->mosq, b->url.user,
				      b->url.pass[0] ? b->url.pass : NULL) != 0)
		goto fail;

	/* The broker publishes this if the connection dies unannounced. */
	keryu_now_iso(at);
	n = status_json(b, "offline", at, payload, sizeof(payload));
	if (mosquitto_will_set_v5(b->mosq, b->status_topic, n, payload, 1, true,
				  NULL) != MOSQ_ERR_SUCCESS)
		goto fail;
	return b;
fail:
	bus_free(b);
	return NULL;
}

void bus_free(struct bus *b)
{
	if (!b)
		return;
	bus_disconnect(b, 0);
	if (b->mosq)
		mosquitto_destroy(b->mosq);
	while (b->subs) {
		struct sub *s = b->subs;

		b->subs = s->next;
		free(s->filter);
		free(s);
	}
	pthread_cond_destroy(&b->changed);
	pthread_mutex_destroy(&b->lock);
	free(b->status_topic);
	free(b->client_id);
	free(b->instance);
	free(b->module);
	free(b);
}

int bus_subscribe(struct bus *b, const char *filter, int qos, keryu_bus_fn fn,
		  void *arg)
{
	struct sub *s;

	if (!filter || !fn || (qos != 0 && qos != 1) ||
	    mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS)
		return KERYU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->filter = strdup(filter))) {
		free(s);
		return KERYU_ENOMEM;
	}
	s->match = strip_share(s->filter);
	s->qos = qos;
	s->fn = fn;
	s->arg = arg;
	pthread_mutex_lock(&b->lock);
	s->next = b->subs;
	b->subs = s;
	if (b->connected)
		send_subscription(b, s);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int bus_connect(struct bus *b)
{
	mosquitto_property *props = NULL;
	int rc;

	if (!b->mosq)
		return 0;
	rc = mosquitto_property_add_int32(&props,
					  MQTT_PROP_SESSION_EXPIRY_INTERVAL,
					  (uint32_t)b->session_expiry_s);
	if (rc != MOSQ_ERR_SUCCESS)
		return map_err(rc);
	/* The properties are kept by libmosquitto for every reconnect. */
	rc = mosquitto_connect_bind_v5(b->mosq, b->url.host, b->url.port,
				       b->keepalive_s, NULL, props);
	mosquitto_property_free_all(&props);
	if (rc == MOSQ_ERR_ERRNO) {
		/* Broker not up yet: the network thread keeps trying. */
		log_write(KERYU_LOG_WARN, b->module, "bus.connect_failed",
			  "host=%s port=%d error=%s", b->url.host, b->url.port,
			  strerror(errno));
	} else if (rc != MOSQ_ERR_SUCCESS) {
		log_write(KERYU_LOG_ERROR, b->module, "bus.connect_failed",
			  "host=%s port=%d error=%s", b->url.host, b->url.port,
			  mosquitto_strerror(rc));
		return KERYU_EIO;
	}
	rc = mosquitto_loop_start(b->mosq);
	if (rc != MOSQ_ERR_SUCCESS)
		return map_err(rc);
	pthread_mutex_lock(&b->lock);
	b->looping = true;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int bus_wait_ready(struct bus *b, int timeout_ms)
{
	struct timespec deadline;
	int rc = 0;

	if (!b->mosq)
		return 0;
	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&b->lock);
	while (!b->refused && !b->taken_over &&
	       !(b->connected && b->pending_subacks == 0)) {
		if (pthread_cond_timedwait(&b->changed, &b->lock, &deadline) ==
		    ETIMEDOUT) {
			rc = KERYU_ETIMEDOUT;
			break;
		}
	}
	if (b->refused || b->taken_over)
		rc = KERYU_EIO;
	pthread_mutex_unlock(&b->lock);
	return rc;
}

bool bus_connected(struct bus *b)
{
	bool up;

	pthread_mutex_lock(&b->lock);
	up = b->connected;
	pthread_mutex_unlock(&b->lock);
	return up;
}

bool bus_taken_over(struct bus *b)
{
	bool gone;

	pthread_mutex_lock(&b->lock);
	gone = b->taken_over;
	pthread_mutex_unlock(&b->lock);
	return gone;
}

int bus_publish(struct bus *b, const char *topic, const void *payload,
		size_t len, int qos, bool retain)
{
	int rc;

	if (!topic || (qos != 0 && qos != 1) || len > INT_MAX ||
	    (len && !payload))
		return KERYU_EINVAL;
	/* Given up: nothing queued now would ever be sent. */
	if (!b->mosq || bus_taken_over(b))
		return KERYU_EIO;
	rc = mosq_publish(b, NULL, topic, (int)len, payload, qos, retain);
	/* Not connected: QoS 1 is queued and sent after the reconnect. */
	if (rc == MOSQ_ERR_NO_CONN && qos == 1)
		rc = MOSQ_ERR_SUCCESS;
	return map_err(rc);
}

/* The lock is held across mosquitto_publish_v5 so that on_publish, which
 * takes it, cannot look for the waiter before it is on the list: the
 * PUBACK may arrive before mosquitto_publish_v5 returns. */
static int publish_acked(struct bus *b, const char *topic, const void *payload,
			 size_t len, int timeout_ms, bool status)
{
	struct waiter w = {0};
	struct timespec deadline;
	int rc;

	if (!b->mosq)
		return KERYU_EIO;
	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&b->lock);
	/* The PUBACK is read by the very thread that would be waiting. */
	if (b->net_known && pthread_equal(b->net_thread, pthread_self())) {
		pthread_mutex_unlock(&b->lock);
		log_write(KERYU_LOG_ERROR, b->module, "bus.publish_wait_misused",
			  "reason=called_from_bus_thread");
		return KERYU_EINVAL;
	}
	if (b->taken_over) { /* no PUBACK will ever come */
		pthread_mutex_unlock(&b->lock);
		return KERYU_EIO;
	}
	if (status) {
		char at[KERYU_TIME_LEN];

		keryu_now_iso(at);
		rc = publish_status(b, "offline", at, &w);
	} else {
		rc = mosq_publish(b, &w.mid, topic, (int)len, payload, 1,
				  false);
	}
	/* Not connected: queued; the PUBACK may still come in time. */
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
		pthread_mutex_unlock(&b->lock);
		return map_err(rc);
	}
	/* On our stack: unlinked below, before we return. */
	w.next = b->waiters;
	b->waiters = &w; /* cppcheck-suppress autoVariables */
	while (!w.acked) {
		if (pthread_cond_timedwait(&b->changed, &b->lock, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	for (struct waiter **p = &b->waiters; *p; p = &(*p)->next) {
		if (*p == &w) {
			*p = w.next;
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return w.acked ? w.rc : KERYU_ETIMEDOUT;
}

int bus_publish_wait(struct bus *b, const char *topic, const void *payload,
		     size_t len, int timeout_ms)
{
	if (!topic || len > INT_MAX || (len && !payload) || timeout_ms < 0)
		return KERYU_EINVAL;
	return publish_acked(b, topic, payload, len, timeout_ms, false);
}

void bus_disconnect(struct bus *b, int timeout_ms)
{
	bool looping, connected;

	if (!b->mosq)
		return;
	pthread_mutex_lock(&b->lock);
	looping = b->looping;
	connected = b->connected;
	b->stopping = true;
	b->looping = false;
	pthread_mutex_unlock(&b->lock);
	if (!looping)
		return;
	if (connected && timeout_ms > 0)
		publish_acked(b, NULL, NULL, 0, timeout_ms, true);
	mosquitto_disconnect_v5(b->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	/* Not connected, there is nothing to flush, and a reconnect attempt
	 * racing the disconnect resets libmosquitto's state, so its loop
	 * would go on retrying and a plain stop would wait for ever (seen
	 * when the broker never answered at start-up): cancel the thread. */
	mosquitto_loop_stop(b->mosq, !connected);
	if (connected)
		log_write(KERYU_LOG_INFO, b->module, "bus.closed", NULL);
}
