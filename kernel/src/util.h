/* Small helpers shared by the kernel's own files; not for modules. Static
 * inline so that no file needs another's object to use them. */
#ifndef KERYU_KERNEL_UTIL_H
#define KERYU_KERNEL_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds: immune to wall-clock jumps. */
static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Finds the userinfo of "scheme://[userinfo@]host...": it starts after
 * "://" and ends at the LAST '@' before the first '/' that follows, so
 * that an unescaped '@' in a password stays in the password. The bus
 * parses [bus] url and --check-config masks every URL with this one rule:
 * if they disagreed, part of a password would be printed. Sets *start and
 * *at (the '@') and returns true, or returns false when there is none. */
static inline bool url_userinfo(const char *url, const char **start,
				const char **at)
{
	const char *p = url ? strstr(url, "://") : NULL;
	const char *end, *last = NULL;

	if (!p)
		return false;
	p += 3;
	end = p + strcspn(p, "/");
	for (const char *q = p; q < end; q++) {
		if (*q == '@')
			last = q;
	}
	if (!last)
		return false;
	*start = p;
	*at = last;
	return true;
}

#endif
