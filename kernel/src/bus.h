/* The bus: one MQTT v5 client (libmosquitto) per module.
 *
 * Each client has its own network thread (mosquitto_loop_start), a
 * persistent session (clean start off, session expiry from the config) so
 * that QoS 1 messages wait for it while it is away, and a retained status
 * on keryu/v1/system/<instance>/<module>: "online" on every connect,
 * "offline" on a clean disconnect and as its last will.
 *
 * Subscriptions are recorded and sent again on every connect; a message is
 * handed to every recorded subscription whose filter matches its topic.
 *
 * Two processes with the same instance that load the same module share a
 * client id, and the broker drops one client whenever the other connects.
 * A client that finds out (DISCONNECT "session taken over", or someone
 * else's "online" on its own status topic, which it subscribes to) logs
 * bus.session_taken_over and stops reconnecting for good.
 *
 * A bus created without a host is "no bus" (the keryu CLI): subscriptions
 * are recorded and never sent, publishing returns KERYU_EIO. */
#ifndef KERYU_KERNEL_BUS_H
#define KERYU_KERNEL_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/module.h>

struct bus;

struct bus_url {
	char host[256];
	int port;
	char user[256]; /* "" when none */
	char pass[256]; /* "" when none */
};

/* Parses mqtt://[user[:password]@]host[:port][/]; user and password may be
 * percent-encoded, host may be an [IPv6] literal; the port defaults to
 * 1883. Returns 0 or KERYU_EINVAL. */
int bus_parse_url(const char *url, struct bus_url *out);

struct bus_params {
	const struct bus_url *url; /* NULL: no bus */
	const char *instance;      /* client id is "<instance>-<module>" */
	const char *module;
	int session_expiry_s;
	int keepalive_s;
	int reconnect_min_ms; /* libmosquitto counts whole seconds: rounded up */
	int reconnect_max_ms;
	/* Called once, on the network thread, when the client gave up because
	 * another process took over its client id; may be NULL. */
	void (*on_taken_over)(void *arg);
	void *taken_over_arg;
};

/* Returns NULL when out of memory or when libmosquitto refuses the
 * parameters (the log says which). Nothing is connected yet. */
struct bus *bus_new(const struct bus_params *p);
/* Disconnects if needed and frees b. */
void bus_free(struct bus *b);

/* Records a subscription (filter may be "$share/<group>/<filter>") and
 * sends it now if connected. qos 0 or 1. Returns 0, KERYU_EINVAL,
 * KERYU_ENOMEM. */
int bus_subscribe(struct bus *b, const char *filter, int qos, keryu_bus_fn fn,
		  void *arg);

/* Starts connecting in the background; the network thread reconnects with
 * exponential backoff for as long as the bus lives. Returns 0, or
 * KERYU_EIO when the broker address cannot be used at all. */
int bus_connect(struct bus *b);
/* Waits until connected and every subscription acknowledged (SUBACK).
 * Returns 0, KERYU_ETIMEDOUT, or KERYU_EIO when the broker refused the
 * connection or a subscription, or the client was taken over (the log says
 * why). "No bus" returns 0. */
int bus_wait_ready(struct bus *b, int timeout_ms);
bool bus_connected(struct bus *b);
/* True once another process took over the client id: the client no longer
 * reconnects, waiting for it returns KERYU_EIO and publishing fails with
 * KERYU_EIO. */
bool bus_taken_over(struct bus *b);

/* Returns 0, KERYU_EINVAL (topic, qos), KERYU_ENOMEM, KERYU_EIO (no bus,
 * taken over, or a QoS 0 message while disconnected). */
int bus_publish(struct bus *b, const char *topic, const void *payload,
		size_t len, int qos, bool retain);
/* Publishes with qos 1 and waits for the broker's PUBACK. Returns 0,
 * KERYU_ETIMEDOUT, KERYU_EIO (no bus, taken over, or the broker refused
 * the message), KERYU_ENOMEM, KERYU_EINVAL (bad topic, or called from this
 * bus's own network thread, where the PUBACK could never be read). */
int bus_publish_wait(struct bus *b, const char *topic, const void *payload,
		     size_t len, int timeout_ms);

/* The class of topic: the third level of keryu/v1/<class>/... when it is
 * one of enum keryu_bus_class's names, else KERYU_BUS_OTHER (also for
 * NULL). */
enum keryu_bus_class bus_topic_class(const char *topic);
/* Adds b's counts of messages received (every message on_message got,
 * whether a subscription matched it or not) and published (accepted by
 * libmosquitto or queued while disconnected) to sum. */
void bus_counts_add(struct bus *b, struct keryu_bus_counts *sum);

/* Publishes the retained "offline" status (waiting up to timeout_ms for
 * it), disconnects and joins the network thread. Safe to call twice. */
void bus_disconnect(struct bus *b, int timeout_ms);

#endif
