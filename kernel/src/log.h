/* Kernel logging: one line per event on stderr,
 *   "2026-11-25T12:34:56.789Z info http scan.published qr=... event=..."
 * Each line goes out in a single write(2), so lines from different threads
 * never interleave. */
#ifndef KERYU_KERNEL_LOG_H
#define KERYU_KERNEL_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <keryu/module.h>

/* Lines below level are dropped. Default KERYU_LOG_INFO. */
void log_set_level(enum keryu_log_level level);
/* Parses "debug", "info", "warn", "error". Returns 0 or KERYU_EINVAL. */
int log_parse_level(const char *s, enum keryu_log_level *out);
bool log_enabled(enum keryu_log_level level);

/* fields is a printf format of key=value pairs, or NULL. */
void log_write(enum keryu_log_level level, const char *module,
	       const char *event, const char *fields, ...) KERYU_PRINTF(4, 5);
void log_writev(enum keryu_log_level level, const char *module,
		const char *event, const char *fields, va_list ap)
	KERYU_PRINTF(4, 0);

#endif
