#include "scratch_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* url with its database (path) replaced by db; a query string is kept. */
static void url_with_db(const char *url, const char *db, char *out,
			size_t size)
{
	const char *auth = strstr(url, "://");
	const char *path, *query;

	auth = auth ? auth + 3 : url;
	path = strchr(auth, '/');
	query = strchr(auth, '?');
	if (!path || (query && query < path))
		path = query ? query : auth + strlen(auth);
	if (!query || query < path)
		query = strchr(path, '?');
	snprintf(out, size, "%.*s/%s%s", (int)(path - url), url, db,
		 query ? query : "");
}

/* Runs "<verb> <quoted name> <rest>" on admin. Returns 0 or -1. */
static int admin_exec(PGconn *admin, const char *verb, const char *name,
		      const char *rest, const char *who)
{
	char sql[256], *ident;
	PGresult *r;
	int rc = 0;

	ident = PQescapeIdentifier(admin, name, strlen(name));
	if (!ident)
		return -1;
	snprintf(sql, sizeof(sql), "%s %s%s", verb, ident, rest);
	PQfreemem(ident);
	r = PQexec(admin, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "%s: %s: %s", who, verb, PQerrorMessage(admin));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int scratch_db_create(const char *admin_url, const char *prefix,
		      const char *tz_name, char *name, size_t name_size,
		      char *url, size_t url_size, const char *who)
{
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() << 8;
	char tz[96];
	PGconn *admin;
	int rc;

	snprintf(name, name_size, "%s_%d_%08x", prefix, (int)getpid(),
		 (unsigned)rand_r(&seed));
	admin = PQconnectdb(admin_url);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "%s: cannot connect to "
				"KERYU_TEST_DATABASE_URL: %s",
			who, PQerrorMessage(admin));
		PQfinish(admin);
		return -1;
	}
	snprintf(tz, sizeof(tz), " SET TimeZone TO '%s'", tz_name);
	rc = admin_exec(admin, "CREATE DATABASE", name, "", who);
	if (!rc)
		rc = admin_exec(admin, "ALTER DATABASE", name, tz, who);
	PQfinish(admin);
	url_with_db(admin_url, name, url, url_size);
	return rc;
}

void scratch_db_drop(const char *admin_url, const char *name, const char *who)
{
	PGconn *admin = PQconnectdb(admin_url);

	if (PQstatus(admin) == CONNECTION_OK)
		admin_exec(admin, "DROP DATABASE IF EXISTS", name,
			   " WITH (FORCE)", who);
	else
		fprintf(stderr, "%s: drop: %s", who, PQerrorMessage(admin));
	PQfinish(admin);
}
