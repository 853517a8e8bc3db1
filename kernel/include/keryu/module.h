/* Keryu module ABI: the only contract between keryud and a module.
 *
 * A module is a shared object that exports exactly one symbol,
 * KERYU_MODULE_SYMBOL, a const struct keryu_module. The kernel checks
 * abi_version before it reads anything else and refuses a module built
 * against another version with a one-line error naming the module.
 *
 * Lifecycle, driven by the kernel:
 *   dlopen -> check abi -> init(mod, host, &state) in dependency order
 *   -> every module's bus client connected -> start(state) in order
 *   -> ... running ... -> stop(state) in reverse order
 *   -> bus clients disconnected -> cleanup(state) in reverse -> dlclose.
 * stop is called only for modules whose start returned 0, and cleanup only
 * for modules whose init returned 0 (so after a failed start, or a failed
 * init of a later module, the module gets cleanup without stop). A module
 * whose init fails gets neither and must free what it allocated itself.
 * Every thread a module starts is joined in stop or cleanup.
 *
 * All functions return 0 on success and a negative KERYU_E* code on failure.
 */
#ifndef KERYU_MODULE_H
#define KERYU_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KERYU_ABI_VERSION 1u
#define KERYU_MODULE_SYMBOL "keryu_module"

#if defined(__GNUC__)
#define KERYU_EXPORT __attribute__((visibility("default")))
#define KERYU_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KERYU_EXPORT
#define KERYU_PRINTF(f, a)
#endif

/* Error codes, shared by the kernel, modules and services. */
enum keryu_err {
	KERYU_OK = 0,
	KERYU_ERR = -1,       /* unspecified failure; the log line says more */
	KERYU_ENOMEM = -2,    /* allocation failed */
	KERYU_EINVAL = -3,    /* bad argument or malformed input */
	KERYU_ENOTFOUND = -4, /* no such row, key, service or module */
	KERYU_EIO = -5,       /* database, broker or network unavailable */
	KERYU_ETIMEDOUT = -6, /* gave up waiting */
	KERYU_ECONFLICT = -7, /* already exists / state does not allow it */
	KERYU_EABI = -8,      /* ABI version mismatch */
};

/* Returns a static string naming the code ("EIO", ...). */
static inline const char *keryu_strerror(int rc)
{
	switch (rc) {
	case KERYU_OK: return "ok";
	case KERYU_ENOMEM: return "out of memory";
	case KERYU_EINVAL: return "invalid";
	case KERYU_ENOTFOUND: return "not found";
	case KERYU_EIO: return "unavailable";
	case KERYU_ETIMEDOUT: return "timed out";
	case KERYU_ECONFLICT: return "conflict";
	case KERYU_EABI: return "abi mismatch";
	default: return "error";
	}
}

enum keryu_log_level {
	KERYU_LOG_DEBUG = 0,
	KERYU_LOG_INFO = 1,
	KERYU_LOG_WARN = 2,
	KERYU_LOG_ERROR = 3,
};

/* ---- configuration map (Fluent Bit style) ----
 * Each module declares its options; the kernel validates its INI section
 * and KERYU_<SECTION>_<KEY> overrides against this table at start-up:
 * unknown keys and bad values stop start-up with one line naming the key.
 * --check-config prints every option with its value and help.
 */
enum keryu_opt_type {
	KERYU_OPT_STR = 1,
	KERYU_OPT_INT,  /* decimal, within [min, max] */
	KERYU_OPT_BOOL, /* true/false/yes/no/on/off/1/0 */
	KERYU_OPT_URL,  /* a string that must contain "://" (empty allowed
			   unless KERYU_OPT_REQUIRED) */
};

#define KERYU_OPT_SECRET 0x1u   /* masked by --check-config and in logs */
#define KERYU_OPT_REQUIRED 0x2u /* must be non-empty */

struct keryu_option {
	const char *key;
	enum keryu_opt_type type;
	const char *def; /* default as text; NULL means empty */
	const char *help;
	unsigned flags;
	long long min, max; /* for KERYU_OPT_INT; both 0 means unbounded */
};

/* Bus traffic is counted by topic class, the third level of
 * keryu/v1/<class>/...; any other topic counts as KERYU_BUS_OTHER. */
enum keryu_bus_class {
	KERYU_BUS_SCAN = 0,
	KERYU_BUS_ALARM,
	KERYU_BUS_NOTIFY,
	KERYU_BUS_DELIVERY,
	KERYU_BUS_REPORT,
	KERYU_BUS_SYSTEM,
	KERYU_BUS_AUDIT,
	KERYU_BUS_OTHER,
	KERYU_BUS_CLASSES /* the count, not a class */
};

/* Indexed by enum keryu_bus_class; the label values /metrics uses. */
#define KERYU_BUS_CLASS_NAMES                                                  \
	{"scan",   "alarm",  "notify", "delivery",                             \
	 "report", "system", "audit",  "other"}

/* Messages since the process started, over every module's bus client. */
struct keryu_bus_counts {
	uint64_t in[KERYU_BUS_CLASSES];  /* received and handed to on_message */
	uint64_t out[KERYU_BUS_CLASSES]; /* published (accepted or queued) */
};

/* One running module as the kernel sees it; opaque to modules. */
typedef struct keryu_mod keryu_mod;
typedef struct keryu_timer keryu_timer;

/* Called on the module's own bus thread, once per message. The topic and
 * payload are owned by the kernel and valid only during the call. */
typedef void (*keryu_bus_fn)(void *arg, const char *topic, const void *payload,
			     size_t len);
/* Called on the kernel's timer thread. */
typedef void (*keryu_timer_fn)(void *arg);

/* The host table: services the kernel offers every module. It is valid from
 * init until cleanup returns. Every function is safe to call from any
 * thread unless it says otherwise. Strings passed in are copied when kept. */
struct keryu_host {
	uint32_t abi_version; /* KERYU_ABI_VERSION */
	uint32_t struct_size; /* sizeof(struct keryu_host) of the kernel */

	/* Writes one line: "<time> <level> <module> <event> <fields>\n".
	 * fields is a printf format producing key=value pairs; may be NULL.
	 * Never pass phone numbers, tokens or medical data. */
	void (*log)(keryu_mod *m, enum keryu_log_level level, const char *event,
		    const char *fields, ...) KERYU_PRINTF(4, 5);

	/* Effective value of a declared option of the module's own section,
	 * as text; the default when unset; "" when empty. Never NULL for a
	 * declared key, NULL for an undeclared one. Owned by the kernel, valid
	 * until cleanup. */
	const char *(*config)(keryu_mod *m, const char *key);
	/* Parsed forms of the same; the kernel validated them at start-up. */
	long long (*config_int)(keryu_mod *m, const char *key);
	bool (*config_bool)(keryu_mod *m, const char *key);
	/* A value of the kernel's own sections, read-only: [kernel] instance,
	 * secret_key, debug; [bus] url; [http] public_url; and the provider
	 * keys that sign status webhooks, for the http module that checks
	 * them: [whatsapp] app_secret, verify_token, [twilio] auth_token,
	 * account_sid (from the file or KERYU_* environment even when that
	 * channel module is not loaded here; "" or NULL when unset); the
	 * [alarms] values the staff settings and templates pages show as
	 * what applies when nothing is stored: channel, fallback_channel,
	 * cooldown_s, escalate_after_s, ack_timeout_s,
	 * finder_retention_days, alarm_retention_days, audit_retention_days,
	 * template, language, location_template, report_template. NULL for
	 * any other section or key (other modules' sections hold their
	 * secrets). Note that [bus] url may carry the broker password
	 * (mqtt://user:password@host): never log it. Owned by the kernel,
	 * valid until cleanup. */
	const char *(*global)(keryu_mod *m, const char *section, const char *key);

	/* Publishes on the module's bus connection. qos 0 or 1. With qos 1 the
	 * message is queued by libmosquitto and survives a broker reconnect.
	 * Returns 0, KERYU_EINVAL (bad topic, qos or payload), KERYU_ENOMEM,
	 * KERYU_EIO (no bus in this process, a qos 0 message while
	 * disconnected, or the connection was given up because another
	 * process took over its client id). */
	int (*publish)(keryu_mod *m, const char *topic, const void *payload,
		       size_t len, int qos, bool retain);
	/* Publishes with qos 1 and waits until the broker acknowledged it
	 * (PUBACK) or timeout_ms passed. Returns 0, KERYU_ETIMEDOUT,
	 * KERYU_ENOMEM, KERYU_EIO (no bus in this process, the broker refused
	 * the message, or the connection was given up), KERYU_EINVAL (bad
	 * topic or payload, timeout_ms < 0, or called from the module's own
	 * bus thread, i.e. from a keryu_bus_fn, where the PUBACK could never
	 * be read: it returns at once instead of waiting). */
	int (*publish_wait)(keryu_mod *m, const char *topic, const void *payload,
			    size_t len, int timeout_ms);
	/* Subscribes the module's connection to filter (which may be a shared
	 * subscription "$share/<group>/<filter>"); kept across reconnects.
	 * Call from init or start. Returns 0, KERYU_EINVAL, KERYU_ENOMEM. */
	int (*subscribe)(keryu_mod *m, const char *filter, int qos,
			 keryu_bus_fn fn, void *arg);
	/* True while the module's bus connection is up. False for good once
	 * another process with the same [kernel] instance took over the
	 * module's client id "<instance>-<module>" (keryud then stops). */
	bool (*bus_connected)(keryu_mod *m);

	/* Runs fn after delay_ms, then every period_ms if period_ms > 0.
	 * Returns NULL on allocation failure. Cancel before cleanup returns;
	 * timer_cancel waits for a running callback to finish and must not be
	 * called from the callback itself. */
	keryu_timer *(*timer_start)(keryu_mod *m, uint64_t delay_ms,
				    uint64_t period_ms, keryu_timer_fn fn,
				    void *arg);
	void (*timer_cancel)(keryu_mod *m, keryu_timer *t);

	/* Registers an in-process service under name, declared in the
	 * descriptor's provides. Call from init. iface stays owned by the
	 * module and must live until its cleanup. */
	int (*provide)(keryu_mod *m, const char *name, const void *iface);
	/* The service named, declared in the descriptor's requires; NULL if no
	 * loaded module provides it (start-up already refused that case). */
	const void *(*service)(keryu_mod *m, const char *name);

	/* The module's name as loaded. */
	const char *(*name)(keryu_mod *m);

	/* Appended after name: present when struct_size >= offsetof(struct
	 * keryu_host, bus_counts) + sizeof(void *), so check before calling.
	 * Fills out with this process's bus message counts, summed over every
	 * loaded module's bus client (each module's own receptions count,
	 * so a message two modules subscribe to counts twice in "in").
	 * Returns 0, or KERYU_EINVAL when out is NULL; out is the caller's. */
	int (*bus_counts)(keryu_mod *m, struct keryu_bus_counts *out);

	void *reserved[8]; /* room to grow without breaking the ABI */
};

/* The one exported symbol of every module. */
struct keryu_module {
	uint32_t abi_version; /* must be KERYU_ABI_VERSION; checked first */
	uint32_t struct_size; /* sizeof(struct keryu_module) */
	const char *name;     /* equals the file name: <name>.so */
	const char *description;
	const char *const *requires; /* NULL-terminated service names, or NULL */
	const char *const *provides; /* NULL-terminated service names, or NULL */
	const struct keryu_option *options; /* ends with {0}; may be NULL */

	/* Sets *state. The module may read config, subscribe and provide
	 * services here, and call host->service for what it requires. */
	int (*init)(keryu_mod *m, const struct keryu_host *host, void **state);
	/* Begin work: threads, listening sockets. Bus is connected. If it
	 * fails, stop is not called; cleanup is. */
	int (*start)(void *state);
	/* Stop taking new work and finish what is in flight; return within
	 * the deadline the kernel passes (milliseconds from now). Called only
	 * if start returned 0. */
	void (*stop)(void *state, int deadline_ms);
	/* Free everything; join every thread still running. Called only if
	 * init returned 0, whether or not start was called or succeeded. */
	void (*cleanup)(void *state);

	void *reserved[4];
};

#define KERYU_MODULE_DEFINE(...)                                               \
	KERYU_EXPORT const struct keryu_module keryu_module = {                \
		.abi_version = KERYU_ABI_VERSION,                              \
		.struct_size = sizeof(struct keryu_module),                    \
		__VA_ARGS__}

#endif
