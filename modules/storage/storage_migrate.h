/* Schema migrations: the embedded NNN_name.sql files applied in order. */
#ifndef STORAGE_MIGRATE_H
#define STORAGE_MIGRATE_H

#include "storage_pool.h"

/* Applies every embedded migration the database lacks, each in its own
 * transaction under an advisory lock (so keryud processes starting
 * together apply each one once), recording it in schema_migrations and
 * logging "storage.migrated version=N". Returns 0, or KERYU_EIO /
 * KERYU_ERR after logging which version failed; a failed file leaves no
 * trace. */
int storage_migrate(struct storage_pool *p);

#endif
