/* A fake host table for module unit tests (collectd's mock host idea):
 * no broker, no database, no threads. Config comes from the module's own
 * option table plus what the test sets; publishes and log lines are
 * recorded for assertions; delivering a message calls the module's
 * subscription callbacks synchronously; timers fire only when asked.
 * One fake host per test process; fake_host_reset() between tests. */
#ifndef KERYU_FAKE_HOST_H
#define KERYU_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/module.h>

struct fake_pub {
	char topic[256];
	char *payload; /* NUL-terminated copy, owned by the fake host */
	size_t len;
	int qos;
	bool retain;
	bool waited; /* published with publish_wait */
};

/* Forgets everything and uses desc's options (may be NULL) for defaults. */
void fake_host_reset(const struct keryu_module *desc);
const struct keryu_host *fake_host(void);
keryu_mod *fake_mod(void);

/* Sets the module's option key (copied). */
void fake_host_set(const char *key, const char *value);
/* Sets a value host->global() returns for [section] key. */
void fake_host_set_global(const char *section, const char *key,
			  const char *value);
/* Makes host->service(name) return iface. */
void fake_host_add_service(const char *name, const void *iface);
/* What publish/publish_wait return from now on (default 0). */
void fake_host_set_publish_result(int rc);
void fake_host_set_connected(bool up);
/* What host->bus_counts() fills in from now on (all zero by default). */
void fake_host_set_bus_counts(const struct keryu_bus_counts *c);

size_t fake_host_pub_count(void);
const struct fake_pub *fake_host_pub(size_t i); /* NULL when out of range */
/* Services published on the topic given, as a subscription would see it:
 * calls every subscribed callback whose filter matches. Returns how many. */
int fake_host_deliver(const char *topic, const char *payload);
/* How many subscriptions the module made, and the filter of the i-th. */
size_t fake_host_sub_count(void);
const char *fake_host_sub_filter(size_t i);

/* True when a logged line contains needle ("level event fields"). */
bool fake_host_log_contains(const char *needle);
/* Fires every started, uncancelled timer once. Returns how many fired. */
int fake_host_run_timers(void);

#endif
