/* Kernel logging; see log.h. */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <keryu/events.h>

#define LOG_LINE_MAX 4096

static atomic_int min_level = KERYU_LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum keryu_log_level level)
{
	atomic_store(&min_level, (int)level);
}

int log_parse_level(const char *s, enum keryu_log_level *out)
{
	for (int i = KERYU_LOG_DEBUG; i <= KERYU_LOG_ERROR; i++) {
		if (s && strcasecmp(s, level_names[i]) == 0) {
			*out = (enum keryu_log_level)i;
			return 0;
		}
	}
	return KERYU_EINVAL;
}

bool log_enabled(enum keryu_log_level level)
{
	return (int)level >= atomic_load(&min_level);
}

void log_write(enum keryu_log_level level, const char *module,
	       const char *event, const char *fields, ...)
{
	va_list ap;

	va_start(ap, fields);
	log_writev(level, module, event, fields, ap);
	va_end(ap);
}

void log_writev(enum keryu_log_level level, const char *module,
		const char *event, const char *fields, va_list ap)
{
	char line[LOG_LINE_MAX];
	char at[KERYU_TIME_LEN];
	size_t len;
	int n;

	if (!log_enabled(level))
		return;
	if (level > KERYU_LOG_ERROR)
		level = KERYU_LOG_ERROR;
	keryu_now_iso(at);
	n = snprintf(line, sizeof(line), "%s %s %s %s", at, level_names[level],
		     module ? module : "-", event ? event : "-");
	len = n < 0 ? 0 : (size_t)n;
	if (fields && *fields && len < sizeof(line) - 2) {
		line[len++] = ' ';
		n = vsnprintf(line + len, sizeof(line) - len, fields, ap);
		if (n > 0)
			len += (size_t)n;
	}
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2; /* truncated: keep room for '\n' */
	/* A value with a newline in it must not forge a second line. */
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	}
	line[len++] = '\n';
	/* One write per line; a short write to stderr is not worth a retry. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}
