/* Module loader; see loader.h. */
#include "loader.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	KERYU_PRINTF(4, 5);

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int loader_open(const char *dir, const char *name, void **dl,
		const struct keryu_module **desc, char *err, size_t errlen)
{
	const struct keryu_module *d;
	char path[4096];
	void *h;
	int rc;

	*dl = NULL;
	*desc = NULL;
	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return fail(err, errlen, KERYU_ENOTFOUND,
			    "module %s: cannot open: %s", name, dlerror());
	d = dlsym(h, KERYU_MODULE_SYMBOL);
	if (!d) {
		rc = fail(err, errlen, KERYU_ENOTFOUND,
			  "module %s: %s exports no symbol %s", name, path,
			  KERYU_MODULE_SYMBOL);
		goto close;
	}
	/* Nothing else in the descriptor may be read before this check: its
	 * layout is only known for our own ABI version. */
	if (d->abi_version != KERYU_ABI_VERSION) {
		rc = fail(err, errlen, KERYU_EABI,
			  "module %s was built for ABI %u, keryud speaks %u",
			  name, (unsigned)d->abi_version, KERYU_ABI_VERSION);
		goto close;
	}
	if (d->struct_size < sizeof(struct keryu_module)) {
		rc = fail(err, errlen, KERYU_EABI,
			  "module %s: descriptor is %u bytes, expected %zu", name,
			  (unsigned)d->struct_size, sizeof(struct keryu_module));
		goto close;
	}
	if (!d->name || strcmp(d->name, name) != 0) {
		rc = fail(err, errlen, KERYU_EINVAL,
			  "module %s: descriptor names it \"%s\"", name,
			  d->name ? d->name : "(null)");
		goto close;
	}
	*dl = h;
	*desc = d;
	return 0;
close:
	dlclose(h);
	return rc;
}

static bool has(const char *const *list, const char *name)
{
	for (; list && *list; list++) {
		if (strcmp(*list, name) == 0)
			return true;
	}
	return false;
}

/* Index of the module providing service, or n. */
static size_t provider(const struct keryu_module *const *descs, size_t n,
		       const char *service)
{
	for (size_t i = 0; i < n; i++) {
		if (has(descs[i]->provides, service))
			return i;
	}
	return n;
}

static int check_services(const struct keryu_module *const *descs, size_t n,
			  char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(descs[i]->name, descs[j]->name) == 0)
				return fail(err, errlen, KERYU_EINVAL,
					    "module %s is listed twice",
					    descs[i]->name);
		}
		for (const char *const *p = descs[i]->provides; p && *p; p++) {
			size_t other = provider(descs, n, *p);

			if (other != i)
				return fail(err, errlen, KERYU_EINVAL,
					    "service \"%s\" is provided by both "
					    "module %s and module %s",
					    *p, descs[other]->name,
					    descs[i]->name);
		}
		for (const char *const *r = descs[i]->requires; r && *r; r++) {
			if (provider(descs, n, *r) == n)
				return fail(err, errlen, KERYU_EINVAL,
					    "module %s requires service \"%s\", "
					    "which no listed module provides",
					    descs[i]->name, *r);
		}
	}
	return 0;
}

enum mark { UNSEEN, VISITING, DONE };

struct walk {
	const struct keryu_module *const *descs;
	size_t n;
	enum mark *marks;
	size_t *order;
	size_t count;
	char *err;
	size_t errlen;
};

/* Depth first: providers are placed before the module that needs them. */
static int visit(struct walk *w, size_t i)
{
	const struct keryu_module *d = w->descs[i];

	if (w->marks[i] == DONE)
		return 0;
	w->marks[i] = VISITING;
	for (const char *const *r = d->requires; r && *r; r++) {
		size_t p = provider(w->descs, w->n, *r);
		int rc;

		if (w->marks[p] == VISITING)
			return fail(w->err, w->errlen, KERYU_EINVAL,
				    "module %s requires service \"%s\" from "
				    "module %s: dependency cycle",
				    d->name, *r, w->descs[p]->name);
		rc = visit(w, p);
		if (rc != 0)
			return rc;
	}
	w->marks[i] = DONE;
	w->order[w->count++] = i;
	return 0;
}

int loader_order(const struct keryu_module *const *descs, size_t n,
		 size_t *order, char *err, size_t errlen)
{
	struct walk w = {.descs = descs, .n = n, .order = order, .err = err,
			 .errlen = errlen};
	int rc = check_services(descs, n, err, errlen);

	if (rc != 0)
		return rc;
	w.marks = calloc(n + 1, sizeof(*w.marks));
	if (!w.marks)
		return fail(err, errlen, KERYU_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = visit(&w, i);
	free(w.marks);
	return rc;
}
