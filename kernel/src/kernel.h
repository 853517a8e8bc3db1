/* The kernel: loads the configured modules, gives each a host table, a bus
 * client and timers, and drives their lifecycle (see keryu/module.h).
 *
 *   config_new + config_load + config_set ...     (the program's options)
 *   kernel_config(cfg)                            [kernel] and [bus]
 *   kernel_new(cfg) + kernel_load(k)              descriptors, module config
 *   kernel_start(k, with_bus)                     init, connect, start
 *   kernel_stop(k, timeout_ms)                    stop, disconnect, cleanup
 *   kernel_free(k)                                dlclose
 *
 * Every failing call leaves a one-line message in kernel_error(k) (or err),
 * without a program name, ready for "keryud: <message>". */
#ifndef KERYU_KERNEL_KERNEL_H
#define KERYU_KERNEL_KERNEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <keryu/module.h>

#include "config.h"

struct bus;
struct timers;

struct keryu_mod {
	struct kernel *k;
	void *dl;
	const struct keryu_module *desc;
	struct bus *bus;
	void *state;
	bool inited;
	bool started;
};

struct service {
	const char *name; /* the provider's descriptor string */
	const void *iface;
	struct service *next;
};

struct kernel {
	struct config *cfg; /* not owned */
	struct keryu_host host;
	struct timers *timers;
	struct keryu_mod *mods; /* in start order */
	size_t n;
	pthread_mutex_t services_lock;
	struct service *services;
	int interrupt_fd; /* readable: stop waiting for the broker; or -1 */
	int failed_fd;    /* eventfd, readable once the kernel must stop */
	char err[1024];
};

/* Declares and checks the [kernel] and [bus] sections (the instance
 * defaults to the host name) and sets the log level. Returns 0, or
 * KERYU_EINVAL / KERYU_ENOMEM with a message in err. */
int kernel_config(struct config *cfg, char *err, size_t errlen);

/* What keryud and the keryu CLI both start with: config_new, config_load
 * of path (NULL: the default file), config_set of each {section, key,
 * value} triple of set (a flat list ending with NULL; a triple whose value
 * is NULL is skipped), kernel_config, kernel_new and kernel_load. Returns 0
 * with *cfg and *k set (the caller frees k, then cfg), or a negative
 * KERYU_E* with a one-line message in err and nothing left to free. */
int kernel_open(const char *path, const char *const *set, struct config **cfg,
		struct kernel **k, char *err, size_t errlen);

/* cfg must have gone through kernel_config and outlive k. Returns NULL
 * when out of memory. */
struct kernel *kernel_new(struct config *cfg);
/* Opens the modules of [kernel] modules, declares their config sections
 * and orders them. Returns 0 or a negative KERYU_E*: KERYU_EINVAL means a
 * configuration problem (a bad value, a dependency nobody provides). */
int kernel_load(struct kernel *k);
/* Prints the effective configuration of the kernel, the bus and every
 * loaded module, as --check-config shows it. */
void kernel_print_config(const struct kernel *k, FILE *out);
/* While kernel_start waits for the broker, fd becoming readable (a
 * signalfd with a signal pending) makes it give up and undo. */
void kernel_set_interrupt(struct kernel *k, int fd);
/* Runs init of every module, connects their bus clients and waits up to
 * [kernel] connect_timeout_s for all of them (unless with_bus is false:
 * then publishing fails with KERYU_EIO), then runs start. On failure
 * everything already begun is undone. Returns 0 or a negative KERYU_E*. */
int kernel_start(struct kernel *k, bool with_bus);
/* Readable (poll POLLIN) once something happened that the kernel cannot
 * recover from while running, and the process should stop through
 * kernel_stop and exit with a failure: today, another process took over a
 * module's bus client id (the log says which). -1 if there is no such fd. */
int kernel_failed_fd(const struct kernel *k);

/* Stops started modules in reverse order within timeout_ms in total,
 * disconnects the bus clients, cleans up in reverse. Safe to call twice. */
void kernel_stop(struct kernel *k, int timeout_ms);
/* Stops if needed, closes the modules and frees k. */
void kernel_free(struct kernel *k);

const char *kernel_error(const struct kernel *k);
/* Writes the loaded module names in start order, comma separated. */
void kernel_module_names(const struct kernel *k, char *buf, size_t size);
/* A service registered by a loaded module, for the keryu CLI; NULL if none. */
const void *kernel_service(struct kernel *k, const char *name);

/* host.c: fills the table given to every module. */
void host_init(struct keryu_host *h);

#endif
