/* The scaffolding the storage service functions share: a statement that
 * must touch exactly one row, a unit of work inside one transaction, and
 * a page's OFFSET and LIMIT. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "storage_pool.h"
#include "storage_service.h"

int storage_db_row(struct storage_pool *p, PGconn *c, const char *what,
		   const char *sql, int nparams, const char *const *params,
		   PGresult **res)
{
	PGresult *r;
	int rc;

	*res = NULL;
	rc = storage_db_exec(p, c, what, sql, nparams, params, &r);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return KERYU_ENOTFOUND;
	}
	*res = r;
	return 0;
}

int storage_db_one(struct storage_pool *p, PGconn *c, const char *what,
		   const char *sql, int nparams, const char *const *params)
{
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, what, sql, nparams, params, &r);
	if (!rc)
		PQclear(r);
	return rc;
}

int storage_db_count(struct storage_pool *p, PGconn *c, const char *what,
		     const char *sql, int nparams, const char *const *params,
		     int *count)
{
	PGresult *r;
	int rc;

	*count = 0;
	rc = storage_db_exec(p, c, what, sql, nparams, params, &r);
	if (rc)
		return rc;
	*count = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

struct tx_call {
	storage_work_fn fn;
	void *arg;
};

static int tx_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct tx_call *tc = arg;
	int rc;

	rc = storage_db_begin(p, c);
	if (rc)
		return rc;
	rc = tc->fn(p, c, tc->arg);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_pool_run_tx(struct storage_pool *p, const char *what,
			storage_work_fn fn, void *arg)
{
	struct tx_call tc = {fn, arg};

	return storage_pool_run(p, what, tx_work, &tc);
}

bool storage_list_begin(size_t *n, int *total, const void *out, size_t max)
{
	if (n)
		*n = 0;
	if (total)
		*total = 0;
	return n && total && (!max || out);
}

void storage_page_args(char off[16], char lim[16], int offset, size_t limit,
		       size_t max)
{
	size_t l = limit < max ? limit : max;

	snprintf(off, 16, "%d", offset);
	snprintf(lim, 16, "%d", l < INT_MAX ? (int)l : INT_MAX);
}
