/* Module loader: opening module files and ordering them by dependency.
 * Error messages are one line naming the module, without a program name. */
#ifndef KERYU_KERNEL_LOADER_H
#define KERYU_KERNEL_LOADER_H

#include <stddef.h>

#include <keryu/module.h>

/* dlopen()s "<dir>/<name>.so" (RTLD_NOW | RTLD_LOCAL) and checks its
 * descriptor: ABI version first, then size and name. On success *dl is the
 * handle to dlclose() and *desc points into it. Returns 0, or
 * KERYU_ENOTFOUND (no file, no symbol), KERYU_EABI, KERYU_EINVAL, with the
 * handle already closed and a message in err. */
int loader_open(const char *dir, const char *name, void **dl,
		const struct keryu_module **desc, char *err, size_t errlen);

/* Puts the n descriptors in start order: list order, except that a module
 * comes after the providers of every service it requires. order receives n
 * indexes into descs. Refuses a module listed twice, a service provided
 * twice, a required service nobody provides, and cycles. Returns 0 or
 * KERYU_EINVAL / KERYU_ENOMEM with a message in err. */
int loader_order(const struct keryu_module *const *descs, size_t n,
		 size_t *order, char *err, size_t errlen);

#endif
