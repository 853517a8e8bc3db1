/* The schema migrations embedded into the storage module at build time
 * (see embed_migrations.cmake). */
#ifndef STORAGE_MIGRATIONS_H
#define STORAGE_MIGRATIONS_H

#include <stddef.h>

struct storage_migration {
	int version;      /* NNN of NNN_name.sql, > 0, strictly increasing */
	const char *name; /* name of NNN_name.sql */
	const char *sql;  /* the whole file, NUL-terminated */
};

/* The migrations in version order; *count is at least 1. Static data,
 * never freed. */
const struct storage_migration *storage_migrations(size_t *count);

#endif
