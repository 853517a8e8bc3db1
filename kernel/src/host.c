/* The host table: what every module may ask of the kernel. Each function
 * is a thin, checked forward to config, bus, timers or the service
 * registry for the calling module. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "kernel.h"
#include "log.h"
#include "timer.h"

static const char *mod_name(keryu_mod *m)
{
	return m->desc->name;
}

static void host_log(keryu_mod *m, enum keryu_log_level level,
		     const char *event, const char *fields, ...)
	KERYU_PRINTF(4, 5);

static void host_log(keryu_mod *m, enum keryu_log_level level,
		     const char *event, const char *fields, ...)
{
	va_list ap;

	va_start(ap, fields);
	log_writev(level, mod_name(m), event, fields, ap);
	va_end(ap);
}

static const char *host_config(keryu_mod *m, const char *key)
{
	return config_get(m->k->cfg, mod_name(m), key);
}

static long long host_config_int(keryu_mod *m, const char *key)
{
	return config_get_int(m->k->cfg, mod_name(m), key);
}

static bool host_config_bool(keryu_mod *m, const char *key)
{
	return config_get_bool(m->k->cfg, mod_name(m), key);
}

/* What module.h promises, and nothing else: another module's section
 * holds its secrets ([storage] database_url, [whatsapp] token). The
 * provider keys that sign status webhooks are the exception: the http
 * module checks those signatures, wherever the channel module runs. */
static const struct {
	const char *section, *key;
} global_keys[] = {
	{"kernel", "instance"},	     {"kernel", "secret_key"},
	{"kernel", "debug"},	     {"bus", "url"},
	{"http", "public_url"},	     {"whatsapp", "app_secret"},
	{"whatsapp", "verify_token"}, {"twilio", "auth_token"},
	{"twilio", "account_sid"},
	/* the staff settings page shows what applies without a row of its
	 * own, and the templates page the default templates */
	{"alarms", "channel"},	     {"alarms", "fallback_channel"},
	{"alarms", "cooldown_s"},    {"alarms", "escalate_after_s"},
	{"alarms", "ack_timeout_s"}, {"alarms", "finder_retention_days"},
	{"alarms", "alarm_retention_days"},
	{"alarms", "audit_retention_days"},
	{"alarms", "template"},	     {"alarms", "language"},
	{"alarms", "location_template"},
	{"alarms", "report_template"},
};

static const char *host_global(keryu_mod *m, const char *section,
			       const char *key)
{
	if (!section || !key)
		return NULL;
	for (size_t i = 0; i < sizeof(global_keys) / sizeof(global_keys[0]);
	     i++) {
		if (strcmp(global_keys[i].section, section) == 0 &&
		    strcmp(global_keys[i].key, key) == 0)
			return config_lookup(m->k->cfg, section, key);
	}
	return NULL;
}

static int host_publish(keryu_mod *m, const char *topic, const void *payload,
			size_t len, int qos, bool retain)
{
	return m->bus ? bus_publish(m->bus, topic, payload, len, qos, retain)
		      : KERYU_EIO;
}

static int host_publish_wait(keryu_mod *m, const char *topic,
			     const void *payload, size_t len, int timeout_ms)
{
	return m->bus ? bus_publish_wait(m->bus, topic, payload, len, timeout_ms)
		      : KERYU_EIO;
}

static int host_subscribe(keryu_mod *m, const char *filter, int qos,
			  keryu_bus_fn fn, void *arg)
{
	return m->bus ? bus_subscribe(m->bus, filter, qos, fn, arg)
		      : KERYU_EINVAL;
}

static bool host_bus_connected(keryu_mod *m)
{
	return m->bus && bus_connected(m->bus);
}

static keryu_timer *host_timer_start(keryu_mod *m, uint64_t delay_ms,
				     uint64_t period_ms, keryu_timer_fn fn,
				     void *arg)
{
	return timers_start(m->k->timers, m, delay_ms, period_ms, fn, arg);
}

static void host_timer_cancel(keryu_mod *m, keryu_timer *t)
{
	timers_cancel(m->k->timers, t);
}

static const char *const *find_declared(const char *const *list,
					const char *name)
{
	for (; list && *list; list++) {
		if (strcmp(*list, name) == 0)
			return list;
	}
	return NULL;
}

static struct service *find_service(struct kernel *k, const char *name)
{
	for (struct service *s = k->services; s; s = s->next) {
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

static int host_provide(keryu_mod *m, const char *name, const void *iface)
{
	const char *const *declared;
	struct service *s;
	int rc = 0;

	if (!name || !iface)
		return KERYU_EINVAL;
	/* Only declared services take part in the start order. */
	declared = find_declared(m->desc->provides, name);
	if (!declared) {
		log_write(KERYU_LOG_ERROR, mod_name(m), "service.undeclared",
			  "service=%s", name);
		return KERYU_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return KERYU_ENOMEM;
	s->name = *declared;
	s->iface = iface;
	pthread_mutex_lock(&m->k->services_lock);
	if (find_service(m->k, name)) {
		rc = KERYU_ECONFLICT;
		free(s);
	} else {
		s->next = m->k->services;
		m->k->services = s;
	}
	pthread_mutex_unlock(&m->k->services_lock);
	return rc;
}

static const void *host_service(keryu_mod *m, const char *name)
{
	/* An undeclared requirement is not ordered before this module, so
	 * whether it works would depend on luck: refuse it. */
	if (!name || !find_declared(m->desc->requires, name)) {
		log_write(KERYU_LOG_ERROR, mod_name(m), "service.undeclared",
			  "service=%s", name ? name : "(null)");
		return NULL;
	}
	return kernel_service(m->k, name);
}

static const char *host_name(keryu_mod *m)
{
	return mod_name(m);
}

static int host_bus_counts(keryu_mod *m, struct keryu_bus_counts *out)
{
	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	/* The module array and each bus live until kernel_free, past every
	 * module's cleanup. */
	for (size_t i = 0; i < m->k->n; i++) {
		if (m->k->mods[i].bus)
			bus_counts_add(m->k->mods[i].bus, out);
	}
	return 0;
}

void host_init(struct keryu_host *h)
{
	*h = (struct keryu_host){
		.abi_version = KERYU_ABI_VERSION,
		.struct_size = sizeof(struct keryu_host),
		.log = host_log,
		.config = host_config,
		.config_int = host_config_int,
		.config_bool = host_config_bool,
		.global = host_global,
		.publish = host_publish,
		.publish_wait = host_publish_wait,
		.subscribe = host_subscribe,
		.bus_connected = host_bus_connected,
		.timer_start = host_timer_start,
		.timer_cancel = host_timer_cancel,
		.provide = host_provide,
		.service = host_service,
		.name = host_name,
		.bus_counts = host_bus_counts,
	};
}

const void *kernel_service(struct kernel *k, const char *name)
{
	const struct service *s;
	const void *iface;

	pthread_mutex_lock(&k->services_lock);
	s = find_service(k, name);
	iface = s ? s->iface : NULL;
	pthread_mutex_unlock(&k->services_lock);
	return iface;
}
