/* Applies the embedded migrations (storage_migrations.c, generated). */
#include "storage_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_migrations.h"

/* Any constant will do as long as every Keryu process uses the same one;
 * this is "keryu" in ASCII. */
#define MIGRATE_LOCK_KEY "461195622773"

static int lock(struct storage_pool *p, PGconn *c)
{
	const char *v[] = {MIGRATE_LOCK_KEY};

	return storage_db_exec(p, c, "migrate.lock",
			       "SELECT pg_advisory_xact_lock($1::bigint)", 1, v,
			       NULL);
}

static int ensure_table(struct storage_pool *p, PGconn *c)
{
	int rc = storage_db_begin(p, c);

	if (!rc)
		rc = lock(p, c);
	if (!rc)
		rc = storage_db_exec(
			p, c, "migrate.table",
			"CREATE TABLE IF NOT EXISTS schema_migrations ("
			" version integer PRIMARY KEY,"
			" name text NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now())",
			0, NULL, NULL);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

/* A migration file holds several statements, which only the simple query
 * protocol runs; it is our own constant text, never built from input. */
static int run_script(struct storage_pool *p, PGconn *c,
		      const struct storage_migration *mg)
{
	PGresult *r = PQexec(c, mg->sql);
	ExecStatusType st = PQresultStatus(r);
	char err[200];
	size_t i;

	if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
		PQclear(r);
		return 0;
	}
	snprintf(err, sizeof(err), "%s",
		 r ? PQresultErrorMessage(r) : "out of memory");
	for (i = 0; err[i]; i++)
		if (err[i] == '\n' || err[i] == '"')
			err[i] = ' ';
	storage_pool_host(p)->log(
		storage_pool_mod(p), KERYU_LOG_ERROR, "storage.migrate_failed",
		"version=%d name=%s sqlstate=%s error=\"%s\"", mg->version,
		mg->name,
		r && PQresultErrorField(r, PG_DIAG_SQLSTATE)
			? PQresultErrorField(r, PG_DIAG_SQLSTATE)
			: "none",
		err);
	PQclear(r);
	return PQstatus(c) == CONNECTION_BAD ? KERYU_EIO : KERYU_ERR;
}

/* Applies one migration unless it is recorded; *applied says which. */
static int apply_one(struct storage_pool *p, PGconn *c,
		     const struct storage_migration *mg, int *applied)
{
	char version[16];
	const char *v[] = {version, mg->name};
	PGresult *r = NULL;
	int rc;

	*applied = 0;
	snprintf(version, sizeof(version), "%d", mg->version);
	rc = storage_db_begin(p, c);
	if (!rc)
		rc = lock(p, c);
	if (!rc)
		rc = storage_db_exec(
			p, c, "migrate.check",
			"SELECT 1 FROM schema_migrations WHERE version = $1::int",
			1, v, &r);
	if (!rc && PQntuples(r) == 0) {
		rc = run_script(p, c, mg);
		if (!rc)
			rc = storage_db_exec(
				p, c, "migrate.record",
				"INSERT INTO schema_migrations (version, name) "
				"VALUES ($1::int, $2)",
				2, v, NULL);
		if (!rc)
			*applied = 1;
	}
	PQclear(r);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc) {
		*applied = 0;
		storage_db_rollback(p, c);
	}
	return rc;
}

static void warn_if_newer(struct storage_pool *p, PGconn *c, int known)
{
	PGresult *r = NULL;
	int newest;

	if (storage_db_exec(p, c, "migrate.newest",
			    "SELECT coalesce(max(version), 0) "
			    "FROM schema_migrations",
			    0, NULL, &r) == 0) {
		newest = atoi(PQgetvalue(r, 0, 0));
		if (newest > known)
			storage_pool_host(p)->log(
				storage_pool_mod(p), KERYU_LOG_WARN,
				"storage.schema_newer",
				"database_version=%d module_version=%d", newest,
				known);
	}
	PQclear(r);
}

static int migrate_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const struct storage_migration *list;
	size_t i, n;
	int rc, applied;

	(void)arg;
	rc = ensure_table(p, c);
	if (rc)
		return rc;
	list = storage_migrations(&n);
	for (i = 0; i < n; i++) {
		rc = apply_one(p, c, &list[i], &applied);
		if (rc)
			return rc;
		if (applied)
			storage_pool_host(p)->log(
				storage_pool_mod(p), KERYU_LOG_INFO,
				"storage.migrated", "version=%d name=%s",
				list[i].version, list[i].name);
	}
	warn_if_newer(p, c, list[n - 1].version);
	return 0;
}

int storage_migrate(struct storage_pool *p)
{
	/* Safe to repeat: each file is all-or-nothing and skipped once
	 * recorded. */
	return storage_pool_run(p, "migrate", migrate_work, NULL);
}
