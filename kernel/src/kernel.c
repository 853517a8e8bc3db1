/* Kernel lifecycle; see kernel.h. */
#include "kernel.h"

#include <ctype.h>
#include <dlfcn.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "loader.h"
#include "log.h"
#include "timer.h"
#include "util.h"

#ifndef KERYU_MODULE_DIR
#define KERYU_MODULE_DIR "lib/keryu"
#endif

/* The kernel's own sections, declared like any module's options. */
static const struct keryu_option kernel_options[] = {
	{"instance", KERYU_OPT_STR, NULL,
	 "name of this process in bus client ids and system topics "
	 "(default: host name)", 0, 0, 0},
	{"modules", KERYU_OPT_STR, "storage,qr,http,alarms,log",
	 "modules to load, comma separated", 0, 0, 0},
	{"module_dir", KERYU_OPT_STR, KERYU_MODULE_DIR,
	 "directory holding <module>.so", KERYU_OPT_REQUIRED, 0, 0},
	{"log_level", KERYU_OPT_STR, "info", "debug, info, warn or error", 0, 0,
	 0},
	{"debug", KERYU_OPT_BOOL, "false", "true: log at debug level", 0, 0, 0},
	{"secret_key", KERYU_OPT_STR, NULL,
	 "secret for signing sessions and tokens", KERYU_OPT_SECRET, 0, 0},
	{"shutdown_timeout_s", KERYU_OPT_INT, "10",
	 "seconds a clean shutdown may take before the process exits anyway", 0,
	 1, 3600},
	{"connect_timeout_s", KERYU_OPT_INT, "30",
	 "seconds to wait at start-up for the broker", 0, 1, 3600},
	{0},
};

static const struct keryu_option bus_options[] = {
	{"url", KERYU_OPT_URL, "mqtt://127.0.0.1:1883",
	 "MQTT broker, mqtt://[user[:password]@]host[:port]", KERYU_OPT_REQUIRED,
	 0, 0},
	{"session_expiry_s", KERYU_OPT_INT, "86400",
	 "seconds the broker keeps a module's session and queued messages "
	 "while it is away", 0, 0, 4294967295LL},
	{"keepalive_s", KERYU_OPT_INT, "30", "MQTT keepalive in seconds", 0, 5,
	 65535},
	{"reconnect_min_ms", KERYU_OPT_INT, "250",
	 "first reconnect delay (libmosquitto rounds up to whole seconds)", 0, 1,
	 3600000},
	{"reconnect_max_ms", KERYU_OPT_INT, "10000",
	 "longest reconnect delay, reached by doubling", 0, 1, 3600000},
	{0},
};

static int failf(char *err, size_t errlen, int rc, const char *fmt, ...)
	KERYU_PRINTF(4, 5);

static int failf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int ms_left(uint64_t deadline)
{
	uint64_t now = now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/* Instance and module names end up in client ids, topic levels and file
 * names: keep them to a safe alphabet. */
static bool safe_name(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	}
	return true;
}

int kernel_config(struct config *cfg, char *err, size_t errlen)
{
	enum keryu_log_level level;
	struct bus_url url;
	char host[256] = "keryu";
	const char *v;
	int rc;

	if (gethostname(host, sizeof(host)) != 0 || !host[0])
		strcpy(host, "keryu");
	host[sizeof(host) - 1] = '\0';
	rc = config_set_default(cfg, "kernel", "instance", host);
	if (rc == 0)
		rc = config_declare(cfg, "kernel", kernel_options, err, errlen);
	if (rc == 0)
		rc = config_declare(cfg, "bus", bus_options, err, errlen);
	if (rc != 0)
		return rc;

	v = config_get(cfg, "kernel", "instance");
	if (!safe_name(v, "._-"))
		return failf(err, errlen, KERYU_EINVAL,
			     "config: [kernel] instance: \"%s\" may only hold "
			     "letters, digits, '.', '_' and '-'",
			     v);
	v = config_get(cfg, "kernel", "log_level");
	if (log_parse_level(v, &level) != 0)
		return failf(err, errlen, KERYU_EINVAL,
			     "config: [kernel] log_level: \"%s\" is not one of "
			     "debug, info, warn, error",
			     v);
	if (bus_parse_url(config_get(cfg, "bus", "url"), &url) != 0)
		return failf(err, errlen, KERYU_EINVAL,
			     "config: [bus] url: expected "
			     "mqtt://[user[:password]@]host[:port]");
	if (config_get_int(cfg, "bus", "reconnect_min_ms") >
	    config_get_int(cfg, "bus", "reconnect_max_ms"))
		return failf(err, errlen, KERYU_EINVAL,
			     "config: [bus] reconnect_min_ms: more than "
			     "reconnect_max_ms");
	log_set_level(config_get_bool(cfg, "kernel", "debug") ? KERYU_LOG_DEBUG
							      : level);
	return 0;
}

struct kernel *kernel_new(struct config *cfg)
{
	struct kernel *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->cfg = cfg;
	k->interrupt_fd = -1;
	k->failed_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->failed_fd < 0) {
		free(k);
		return NULL;
	}
	host_init(&k->host);
	pthread_mutex_init(&k->services_lock, NULL);
	return k;
}

void kernel_set_interrupt(struct kernel *k, int fd)
{
	k->interrupt_fd = fd;
}

static bool interrupted(const struct kernel *k)
{
	struct pollfd p = {.fd = k->interrupt_fd, .events = POLLIN};

	return k->interrupt_fd >= 0 && poll(&p, 1, 0) > 0;
}

const char *kernel_error(const struct kernel *k)
{
	return k->err;
}

/* Splits list in place into names (at most one more than its commas).
 * Returns how many, or -1 with k->err set. */
static int split_modules(struct kernel *k, char *list, char **names)
{
	char *save = NULL;
	int n = 0;

	for (char *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end;

		while (isspace((unsigned char)*tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*tok)
			continue;
		if (!safe_name(tok, "_-") || strcmp(tok, "kernel") == 0 ||
		    strcmp(tok, "bus") == 0)
			return failf(k->err, sizeof(k->err), -1,
				     "config: [kernel] modules: \"%s\" is not a "
				     "module name",
				     tok);
		for (int i = 0; i < n; i++) {
			if (strcmp(names[i], tok) == 0)
				return failf(k->err, sizeof(k->err), -1,
					     "module %s is listed twice", tok);
		}
		names[n++] = tok;
	}
	if (n == 0)
		return failf(k->err, sizeof(k->err), -1,
			     "config: [kernel] modules: no module to load");
	return n;
}

int kernel_load(struct kernel *k)
{
	const char *dir = config_get(k->cfg, "kernel", "module_dir");
	char *list = strdup(config_get(k->cfg, "kernel", "modules"));
	size_t max = 1;
	const struct keryu_module **descs;
	char **names;
	void **dls;
	size_t *order;
	int n = 0, rc = 0;

	for (const char *p = list ? list : ""; *p; p++)
		max += *p == ',';
	names = calloc(max, sizeof(*names));
	descs = calloc(max, sizeof(*descs));
	dls = calloc(max, sizeof(*dls));
	order = calloc(max, sizeof(*order));
	k->mods = calloc(max, sizeof(*k->mods));
	if (!list || !names || !descs || !dls || !order || !k->mods)
		rc = failf(k->err, sizeof(k->err), KERYU_ENOMEM, "out of memory");
	else if ((n = split_modules(k, list, names)) < 0)
		rc = KERYU_EINVAL;
	for (int i = 0; i < n && rc == 0; i++)
		rc = loader_open(dir, names[i], &dls[i], &descs[i], k->err,
				 sizeof(k->err));
	/* A worker may share the file: only loaded modules' sections count. */
	for (int i = 0; i < n && rc == 0; i++)
		rc = config_declare(k->cfg, descs[i]->name, descs[i]->options,
				    k->err, sizeof(k->err));
	if (rc == 0)
		rc = loader_order(descs, (size_t)n, order, k->err,
				  sizeof(k->err));
	for (int i = 0; i < n; i++) {
		if (rc == 0)
			k->mods[i] = (struct keryu_mod){.k = k,
							.dl = dls[order[i]],
							.desc = descs[order[i]]};
		else if (dls[i])
			dlclose(dls[i]);
	}
	if (rc == 0)
		k->n = (size_t)n;
	free(order);
	free(dls);
	free(descs);
	free(names);
	free(list);
	/* Every loader and config refusal is a deployment mistake. */
	if (rc != 0 && rc != KERYU_ENOMEM)
		rc = KERYU_EINVAL;
	return rc;
}

int kernel_open(const char *path, const char *const *set, struct config **cfg,
		struct kernel **k, char *err, size_t errlen)
{
	struct config *c = config_new();
	struct kernel *kn = NULL;
	int rc = c ? 0 : KERYU_ENOMEM;

	*cfg = NULL;
	*k = NULL;
	err[0] = '\0';
	if (rc == 0)
		rc = config_load(c, path, err, errlen);
	for (; rc == 0 && set && set[0]; set += 3) {
		if (set[2])
			rc = config_set(c, set[0], set[1], set[2]);
	}
	if (rc == 0)
		rc = kernel_config(c, err, errlen);
	if (rc == 0 && !(kn = kernel_new(c)))
		rc = KERYU_ENOMEM;
	if (rc == 0 && (rc = kernel_load(kn)) != 0)
		snprintf(err, errlen, "%s", kernel_error(kn));
	if (rc != 0) {
		if (!err[0])
			snprintf(err, errlen, "%s", keryu_strerror(rc));
		kernel_free(kn);
		config_free(c);
		return rc;
	}
	*cfg = c;
	*k = kn;
	return 0;
}

void kernel_print_config(const struct kernel *k, FILE *out)
{
	config_print(k->cfg, "kernel", out);
	config_print(k->cfg, "bus", out);
	for (size_t i = 0; i < k->n; i++)
		config_print(k->cfg, k->mods[i].desc->name, out);
}

void kernel_module_names(const struct kernel *k, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < k->n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? "," : "", k->mods[i].desc->name);
}

int kernel_failed_fd(const struct kernel *k)
{
	return k->failed_fd;
}

/* On a bus network thread: wake whoever polls kernel_failed_fd. */
static void on_bus_taken_over(void *arg)
{
	struct kernel *k = arg;
	uint64_t one = 1;

	if (write(k->failed_fd, &one, sizeof(one)) < 0)
		return; /* the counter is already non-zero: readable anyway */
}

static int make_buses(struct kernel *k, bool with_bus)
{
	struct bus_url url;
	struct bus_params p;

	/* kernel_config already checked the URL. */
	bus_parse_url(config_get(k->cfg, "bus", "url"), &url);
	p = (struct bus_params){
		.url = with_bus ? &url : NULL,
		.instance = config_get(k->cfg, "kernel", "instance"),
		.session_expiry_s =
			(int)config_get_int(k->cfg, "bus", "session_expiry_s"),
		.keepalive_s = (int)config_get_int(k->cfg, "bus", "keepalive_s"),
		.reconnect_min_ms =
			(int)config_get_int(k->cfg, "bus", "reconnect_min_ms"),
		.reconnect_max_ms =
			(int)config_get_int(k->cfg, "bus", "reconnect_max_ms"),
		.on_taken_over = on_bus_taken_over,
		.taken_over_arg = k,
	};
	for (size_t i = 0; i < k->n; i++) {
		p.module = k->mods[i].desc->name;
		k->mods[i].bus = bus_new(&p);
		if (!k->mods[i].bus)
			return failf(k->err, sizeof(k->err), KERYU_ENOMEM,
				     "module %s: cannot create its bus client",
				     p.module);
	}
	return 0;
}

/* Every service a module declares must exist once its init returned, or
 * the modules ordered after it would find nothing. */
static int check_provided(struct kernel *k, const struct keryu_mod *m)
{
	for (const char *const *p = m->desc->provides; p && *p; p++) {
		if (!kernel_service(k, *p))
			return failf(k->err, sizeof(k->err), KERYU_ERR,
				     "module %s: init did not provide service "
				     "\"%s\"",
				     m->desc->name, *p);
	}
	return 0;
}

static int init_all(struct kernel *k)
{
	for (size_t i = 0; i < k->n; i++) {
		struct keryu_mod *m = &k->mods[i];
		int rc = 0;

		log_write(KERYU_LOG_DEBUG, "kernel", "module.init", "module=%s",
			  m->desc->name);
		if (m->desc->init)
			rc = m->desc->init(m, &k->host, &m->state);
		if (rc != 0)
			return failf(k->err, sizeof(k->err), rc,
				     "module %s: init failed: %s", m->desc->name,
				     keryu_strerror(rc));
		m->inited = true;
		rc = check_provided(k, m);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int connect_all(struct kernel *k)
{
	int timeout_s = (int)config_get_int(k->cfg, "kernel", "connect_timeout_s");
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000u;
	struct bus_url url;

	bus_parse_url(config_get(k->cfg, "bus", "url"), &url);
	for (size_t i = 0; i < k->n; i++) {
		if (bus_connect(k->mods[i].bus) != 0)
			return failf(k->err, sizeof(k->err), KERYU_EIO,
				     "bus: cannot connect to %s:%d (module %s)",
				     url.host, url.port, k->mods[i].desc->name);
	}
	for (size_t i = 0; i < k->n; i++) {
		int rc;

		/* In slices, so that an operator's ^C is not ignored for the
		 * whole connect timeout. */
		do {
			int slice = ms_left(deadline);

			if (interrupted(k))
				return failf(k->err, sizeof(k->err), KERYU_ERR,
					     "start-up interrupted while waiting "
					     "for the broker");
			rc = bus_wait_ready(k->mods[i].bus,
					    slice < 200 ? slice : 200);
		} while (rc == KERYU_ETIMEDOUT && ms_left(deadline) > 0);
		if (rc == KERYU_ETIMEDOUT)
			return failf(k->err, sizeof(k->err), rc,
				     "bus: no answer from the broker at %s:%d "
				     "within %d s (module %s)",
				     url.host, url.port, timeout_s,
				     k->mods[i].desc->name);
		if (rc != 0 && bus_taken_over(k->mods[i].bus))
			return failf(k->err, sizeof(k->err), rc,
				     "bus: another process uses the client id of "
				     "module %s: give each keryud its own [kernel] "
				     "instance",
				     k->mods[i].desc->name);
		if (rc != 0)
			return failf(k->err, sizeof(k->err), rc,
				     "bus: the broker at %s:%d refused module %s "
				     "(see the log line before)",
				     url.host, url.port, k->mods[i].desc->name);
	}
	return 0;
}

static int start_all(struct kernel *k)
{
	for (size_t i = 0; i < k->n; i++) {
		struct keryu_mod *m = &k->mods[i];
		int rc = m->desc->start ? m->desc->start(m->state) : 0;

		if (rc != 0)
			return failf(k->err, sizeof(k->err), rc,
				     "module %s: start failed: %s", m->desc->name,
				     keryu_strerror(rc));
		m->started = true;
		log_write(KERYU_LOG_DEBUG, "kernel", "module.started", "module=%s",
			  m->desc->name);
	}
	return 0;
}

int kernel_start(struct kernel *k, bool with_bus)
{
	int rc;

	k->timers = timers_new();
	if (!k->timers)
		return failf(k->err, sizeof(k->err), KERYU_ENOMEM,
			     "cannot start the timer thread");
	rc = make_buses(k, with_bus);
	if (rc == 0)
		rc = init_all(k);
	if (rc == 0 && with_bus)
		rc = connect_all(k);
	if (rc == 0)
		rc = start_all(k);
	if (rc != 0)
		kernel_stop(k, (int)config_get_int(k->cfg, "kernel",
						   "shutdown_timeout_s") *
				       1000);
	return rc;
}

void kernel_stop(struct kernel *k, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (size_t i = k->n; i-- > 0;) {
		struct keryu_mod *m = &k->mods[i];

		if (!m->started)
			continue;
		if (m->desc->stop)
			m->desc->stop(m->state, ms_left(deadline));
		m->started = false;
		log_write(KERYU_LOG_DEBUG, "kernel", "module.stopped", "module=%s",
			  m->desc->name);
	}
	/* Bus callbacks run module code: end them before cleanup frees it. */
	for (size_t i = k->n; i-- > 0;) {
		if (k->mods[i].bus)
			bus_disconnect(k->mods[i].bus, ms_left(deadline));
	}
	for (size_t i = k->n; i-- > 0;) {
		struct keryu_mod *m = &k->mods[i];
		size_t leaked;

		if (!m->inited)
			continue;
		if (m->desc->cleanup)
			m->desc->cleanup(m->state);
		m->inited = false;
		m->state = NULL;
		leaked = timers_drop_owner(k->timers, m);
		if (leaked)
			log_write(KERYU_LOG_WARN, "kernel", "timer.leaked",
				  "module=%s count=%zu", m->desc->name, leaked);
	}
}

void kernel_free(struct kernel *k)
{
	if (!k)
		return;
	kernel_stop(k, 0);
	for (size_t i = k->n; i-- > 0;) {
		bus_free(k->mods[i].bus);
		dlclose(k->mods[i].dl);
	}
	timers_free(k->timers);
	while (k->services) {
		struct service *s = k->services;

		k->services = s->next;
		free(s);
	}
	pthread_mutex_destroy(&k->services_lock);
	close(k->failed_fd);
	free(k->mods);
	free(k);
}
