/* A configurable test module for the loader tests. CMake builds it many
 * times with different TM_* definitions; each build is one module file.
 * Every lifecycle call appends a line to the file named by the environment
 * variable KERYU_TEST_TRACE, so tests can check the order of calls. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <keryu/module.h>

#ifndef TM_ABI
#define TM_ABI KERYU_ABI_VERSION
#endif
#ifndef TM_INIT_RC
#define TM_INIT_RC 0
#endif
#ifndef TM_START_RC
#define TM_START_RC 0
#endif
#ifndef TM_DESC_NAME
#define TM_DESC_NAME TM_NAME
#endif

struct tm_state {
	keryu_mod *m;
	const struct keryu_host *host;
	int iface; /* what the service points at */
};

static void trace(const char *fmt, ...) KERYU_PRINTF(1, 2);

static void trace(const char *fmt, ...)
{
	const char *path = getenv("KERYU_TEST_TRACE");
	char line[512];
	va_list ap;
	int fd, n;

	if (!path)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n + 1) < 0)
		n = 0;
	close(fd);
}

static int tm_init(keryu_mod *m, const struct keryu_host *host, void **state)
{
	struct tm_state *s = calloc(1, sizeof(*s));

	if (!s)
		return KERYU_ENOMEM;
	s->m = m;
	s->host = host;
	trace("init %s greeting=%s count=%lld", host->name(m),
	      host->config(m, "greeting"), host->config_int(m, "count"));
#ifdef TM_REQUIRES
	trace("service %s %s", TM_REQUIRES,
	      host->service(m, TM_REQUIRES) ? "found" : "missing");
#endif
#if defined(TM_PROVIDES) && !defined(TM_LAZY)
	host->provide(m, TM_PROVIDES, &s->iface);
#endif
#ifdef TM_PROBE
	trace("probe provide=%d service=%s", host->provide(m, "undeclared", s),
	      host->service(m, "undeclared") ? "found" : "null");
#endif
	if (TM_INIT_RC != 0) {
		free(s); /* a failed init leaves nothing behind */
		return TM_INIT_RC;
	}
	*state = s;
	return 0;
}

static int tm_start(void *state)
{
	struct tm_state *s = state;

	trace("start %s", s->host->name(s->m));
	return TM_START_RC;
}

static void tm_stop(void *state, int deadline_ms)
{
	struct tm_state *s = state;

	trace("stop %s%s", s->host->name(s->m), deadline_ms > 0 ? "" : " late");
#ifdef TM_STOP_SLEEP_MS
	/* A module that overruns its deadline, for the shutdown watchdog. */
	usleep(TM_STOP_SLEEP_MS * 1000);
#endif
}

static void tm_cleanup(void *state)
{
	struct tm_state *s = state;

	trace("cleanup %s", s->host->name(s->m));
	free(s);
}

#ifdef TM_REQUIRES
static const char *const tm_requires[] = {TM_REQUIRES, NULL};
#else
#define tm_requires NULL
#endif
#ifdef TM_PROVIDES
static const char *const tm_provides[] = {TM_PROVIDES, NULL};
#else
#define tm_provides NULL
#endif

static const struct keryu_option tm_options[] = {
	{"greeting", KERYU_OPT_STR, "hello", "a string", 0, 0, 0},
	{"count", KERYU_OPT_INT, "3", "an integer", 0, 1, 10},
	{0},
};

/* A module without the well-known symbol exports a look-alike. */
#ifdef TM_NO_SYMBOL
#define TM_SYMBOL keryu_module_misspelt
#else
#define TM_SYMBOL keryu_module
#endif

KERYU_EXPORT const struct keryu_module TM_SYMBOL = {
	.abi_version = TM_ABI,
	.struct_size = sizeof(struct keryu_module),
	.name = TM_DESC_NAME,
	.description = "test module",
	.requires = tm_requires,
	.provides = tm_provides,
	.options = tm_options,
	.init = tm_init,
	.start = tm_start,
	.stop = tm_stop,
	.cleanup = tm_cleanup,
};
