#include "fake_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#define MAX_ITEMS 256

struct kv {
	char *section; /* NULL for the module's own section */
	char *key;
	char *value;
};

struct sub {
	char *filter;
	keryu_bus_fn fn;
	void *arg;
};

struct keryu_timer {
	keryu_timer_fn fn;
	void *arg;
	bool cancelled;
};

struct service {
	const char *name;
	const void *iface;
};

static struct {
	const struct keryu_module *desc;
	struct kv kv[MAX_ITEMS];
	size_t nkv;
	struct fake_pub pubs[MAX_ITEMS];
	size_t npubs;
	struct sub subs[MAX_ITEMS];
	size_t nsubs;
	struct keryu_timer *timers[MAX_ITEMS];
	size_t ntimers;
	struct service services[16];
	size_t nservices;
	char *logs[MAX_ITEMS];
	size_t nlogs;
	int publish_rc;
	bool connected;
	struct keryu_bus_counts bus_counts;
} F;

static const char *lookup(const char *section, const char *key)
{
	size_t i;

	for (i = F.nkv; i-- > 0;) {
		bool same = section ? (F.kv[i].section &&
				       strcmp(F.kv[i].section, section) == 0)
				    : !F.kv[i].section;
		if (same && strcmp(F.kv[i].key, key) == 0)
			return F.kv[i].value;
	}
	return NULL;
}

KERYU_PRINTF(4, 5)
static void fh_log(keryu_mod *m, enum keryu_log_level level, const char *event,
		   const char *fields, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char buf[2048];
	int n;
	va_list ap;

	(void)m;
	n = snprintf(buf, sizeof(buf), "%s %s ", names[level], event);
	if (fields && n > 0 && (size_t)n < sizeof(buf)) {
		va_start(ap, fields);
		vsnprintf(buf + n, sizeof(buf) - (size_t)n, fields, ap);
		va_end(ap);
	}
	if (F.nlogs < MAX_ITEMS)
		F.logs[F.nlogs++] = strdup(buf);
	if (getenv("FAKE_HOST_VERBOSE"))
		fprintf(stderr, "%s\n", buf);
}

static const char *fh_config(keryu_mod *m, const char *key)
{
	const struct keryu_option *o;
	const char *v = lookup(NULL, key);

	(void)m;
	for (o = F.desc ? F.desc->options : NULL; o && o->key; o++)
		if (strcmp(o->key, key) == 0)
			return v ? v : (o->def ? o->def : "");
	return v; /* undeclared: only what the test set */
}

static long long fh_config_int(keryu_mod *m, const char *key)
{
	const char *v = fh_config(m, key);

	return v ? strtoll(v, NULL, 10) : 0;
}

static bool fh_config_bool(keryu_mod *m, const char *key)
{
	const char *v = fh_config(m, key);

	return v && (!strcmp(v, "true") || !strcmp(v, "yes") ||
		     !strcmp(v, "on") || !strcmp(v, "1"));
}

static const char *fh_global(keryu_mod *m, const char *section, const char *key)
{
	(void)m;
	return lookup(section, key);
}

static int record_pub(const char *topic, const void *payload, size_t len,
		      int qos, bool retain, bool waited)
{
	struct fake_pub *p;

	if (F.publish_rc)
		return F.publish_rc;
	if (F.npubs == MAX_ITEMS)
		return KERYU_ENOMEM;
	p = &F.pubs[F.npubs++];
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	p->payload = malloc(len + 1);
	memcpy(p->payload, payload, len);
	p->payload[len] = '\0';
	p->len = len;
	p->qos = qos;
	p->retain = retain;
	p->waited = waited;
	return 0;
}

static int fh_publish(keryu_mod *m, const char *topic, const void *payload,
		      size_t len, int qos, bool retain)
{
	(void)m;
	return record_pub(topic, payload, len, qos, retain, false);
}

static int fh_publish_wait(keryu_mod *m, const char *topic,
			   const void *payload, size_t len, int timeout_ms)
{
	(void)m;
	(void)timeout_ms;
	return record_pub(topic, payload, len, 1, false, true);
}

static int fh_subscribe(keryu_mod *m, const char *filter, int qos,
			keryu_bus_fn fn, void *arg)
{
	(void)m;
	(void)qos;
	if (F.nsubs == MAX_ITEMS)
		return KERYU_ENOMEM;
	F.subs[F.nsubs].filter = strdup(filter);
	F.subs[F.nsubs].fn = fn;
	F.subs[F.nsubs].arg = arg;
	F.nsubs++;
	return 0;
}

static bool fh_bus_connected(keryu_mod *m)
{
	(void)m;
	return F.connected;
}

static keryu_timer *fh_timer_start(keryu_mod *m, uint64_t delay_ms,
				   uint64_t period_ms, keryu_timer_fn fn,
				   void *arg)
{
	struct keryu_timer *t;

	(void)m;
	(void)delay_ms;
	(void)period_ms;
	if (F.ntimers == MAX_ITEMS || !(t = calloc(1, sizeof(*t))))
		return NULL;
	t->fn = fn;
	t->arg = arg;
	F.timers[F.ntimers++] = t;
	return t;
}

static void fh_timer_cancel(keryu_mod *m, keryu_timer *t)
{
	(void)m;
	t->cancelled = true;
}

static int fh_provide(keryu_mod *m, const char *name, const void *iface)
{
	(void)m;
	fake_host_add_service(name, iface);
	return 0;
}

static const void *fh_service(keryu_mod *m, const char *name)
{
	size_t i;

	(void)m;
	for (i = 0; i < F.nservices; i++)
		if (strcmp(F.services[i].name, name) == 0)
			return F.services[i].iface;
	return NULL;
}

static const char *fh_name(keryu_mod *m)
{
	(void)m;
	return F.desc ? F.desc->name : "test";
}

static int fh_bus_counts(keryu_mod *m, struct keryu_bus_counts *out)
{
	(void)m;
	if (!out)
		return KERYU_EINVAL;
	*out = F.bus_counts;
	return 0;
}

static const struct keryu_host host = {
	.abi_version = KERYU_ABI_VERSION,
	.struct_size = sizeof(struct keryu_host),
	.log = fh_log,
	.config = fh_config,
	.config_int = fh_config_int,
	.config_bool = fh_config_bool,
	.global = fh_global,
	.publish = fh_publish,
	.publish_wait = fh_publish_wait,
	.subscribe = fh_subscribe,
	.bus_connected = fh_bus_connected,
	.timer_start = fh_timer_start,
	.timer_cancel = fh_timer_cancel,
	.provide = fh_provide,
	.service = fh_service,
	.name = fh_name,
	.bus_counts = fh_bus_counts,
};

void fake_host_reset(const struct keryu_module *desc)
{
	size_t i;

	for (i = 0; i < F.nkv; i++) {
		free(F.kv[i].section);
		free(F.kv[i].key);
		free(F.kv[i].value);
	}
	for (i = 0; i < F.npubs; i++)
		free(F.pubs[i].payload);
	for (i = 0; i < F.nsubs; i++)
		free(F.subs[i].filter);
	for (i = 0; i < F.ntimers; i++)
		free(F.timers[i]);
	for (i = 0; i < F.nlogs; i++)
		free(F.logs[i]);
	memset(&F, 0, sizeof(F));
	F.desc = desc;
	F.connected = true;
}

const struct keryu_host *fake_host(void)
{
	return &host;
}

keryu_mod *fake_mod(void)
{
	return (keryu_mod *)&F; /* any non-NULL handle will do */
}

static void set_kv(const char *section, const char *key, const char *value)
{
	if (F.nkv == MAX_ITEMS)
		abort();
	F.kv[F.nkv].section = section ? strdup(section) : NULL;
	F.kv[F.nkv].key = strdup(key);
	F.kv[F.nkv].value = strdup(value);
	F.nkv++;
}

void fake_host_set(const char *key, const char *value)
{
	set_kv(NULL, key, value);
}

void fake_host_set_global(const char *section, const char *key,
			  const char *value)
{
	set_kv(section, key, value);
}

void fake_host_add_service(const char *name, const void *iface)
{
	if (F.nservices == sizeof(F.services) / sizeof(F.services[0]))
		abort();
	F.services[F.nservices].name = name;
	F.services[F.nservices].iface = iface;
	F.nservices++;
}

void fake_host_set_publish_result(int rc)
{
	F.publish_rc = rc;
}

void fake_host_set_bus_counts(const struct keryu_bus_counts *c)
{
	F.bus_counts = *c;
}

void fake_host_set_connected(bool up)
{
	F.connected = up;
}

size_t fake_host_pub_count(void)
{
	return F.npubs;
}

const struct fake_pub *fake_host_pub(size_t i)
{
	return i < F.npubs ? &F.pubs[i] : NULL;
}

int fake_host_deliver(const char *topic, const char *payload)
{
	size_t i;
	int n = 0;

	for (i = 0; i < F.nsubs; i++) {
		const char *f = F.subs[i].filter;
		bool match = false;

		if (strncmp(f, "$share/", 7) == 0) {
			f = strchr(f + 7, '/');
			if (!f)
				continue;
			f++;
		}
		mosquitto_topic_matches_sub(f, topic, &match);
		if (match) {
			F.subs[i].fn(F.subs[i].arg, topic, payload,
				     strlen(payload));
			n++;
		}
	}
	return n;
}

size_t fake_host_sub_count(void)
{
	return F.nsubs;
}

const char *fake_host_sub_filter(size_t i)
{
	return i < F.nsubs ? F.subs[i].filter : NULL;
}

bool fake_host_log_contains(const char *needle)
{
	size_t i;

	for (i = 0; i < F.nlogs; i++)
		if (strstr(F.logs[i], needle))
			return true;
	return false;
}

int fake_host_run_timers(void)
{
	size_t i, n = F.ntimers;
	int fired = 0;

	for (i = 0; i < n; i++) {
		if (!F.timers[i]->cancelled) {
			F.timers[i]->fn(F.timers[i]->arg);
			fired++;
		}
	}
	return fired;
}
