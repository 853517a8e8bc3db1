/* A small pool of PostgreSQL connections shared by every thread of the
 * process, and the helpers every query goes through. Only the storage
 * module includes libpq-fe.h. */
#ifndef STORAGE_POOL_H
#define STORAGE_POOL_H

#include <libpq-fe.h>

#include <keryu/module.h>

struct storage_pool;

struct storage_pool_config {
	const char *url;       /* libpq URL; copied */
	int size;              /* connections, >= 1 */
	int connect_timeout_s; /* how long open() keeps trying, >= 1 */
};

/* Creates the pool and opens its connections, retrying the first one for
 * connect_timeout_s (the database may still be starting). Returns 0,
 * KERYU_ENOMEM, or KERYU_EIO after logging why. Free with
 * storage_pool_free(). */
int storage_pool_open(const struct keryu_host *host, keryu_mod *m,
		      const struct storage_pool_config *cfg,
		      struct storage_pool **out);
/* Closes every connection; no call may be running. NULL is fine. */
void storage_pool_free(struct storage_pool *p);

/* Work done on one connection. It must leave the connection outside any
 * transaction (roll back on every error path) and return 0 or KERYU_E*. */
typedef int (*storage_work_fn)(struct storage_pool *p, PGconn *c, void *arg);

/* Checks a connection out, runs fn on it and gives it back. When fn
 * returns KERYU_EIO because the connection broke, the connection is reset
 * and fn runs once more: pass only work that is safe to repeat (reads, or
 * idempotent writes done in one transaction). Returns fn's result, or
 * KERYU_EIO when no connection could be had within connect_timeout_s. */
int storage_pool_run(struct storage_pool *p, const char *what,
		     storage_work_fn fn, void *arg);

/* Runs one parameterised statement (text parameters, text results). On
 * success returns 0 and, when res is not NULL, the result, which the
 * caller frees with PQclear(). On failure logs the SQLSTATE (never the
 * values) and returns KERYU_EIO (connection lost or server unavailable),
 * KERYU_EINVAL (the data was rejected: bad format, constraint), KERYU_ENOMEM
 * or KERYU_ERR. */
int storage_db_exec(struct storage_pool *p, PGconn *c, const char *what,
		    const char *sql, int nparams, const char *const *params,
		    PGresult **res);
/* BEGIN / COMMIT; same returns as storage_db_exec. */
int storage_db_begin(struct storage_pool *p, PGconn *c);
int storage_db_commit(struct storage_pool *p, PGconn *c);
/* Rolls back if a transaction is open; errors are ignored because the
 * caller is already failing (a broken connection rolls back by itself). */
void storage_db_rollback(struct storage_pool *p, PGconn *c);

/* How many connections are checked out and how many are free, now. */
void storage_pool_usage(struct storage_pool *p, int *busy, int *idle);

/* For log lines of the queries built on the pool. */
const struct keryu_host *storage_pool_host(struct storage_pool *p);
keryu_mod *storage_pool_mod(struct storage_pool *p);

#endif
