/* A throw-away database for storage's integration tests, on the server that
 * KERYU_TEST_DATABASE_URL names (a URL where the test may CREATE DATABASE). */
#ifndef KERYU_TEST_SCRATCH_DB_H
#define KERYU_TEST_SCRATCH_DB_H

#include <stddef.h>

/* Creates a database named "<prefix>_<pid>_<random>" into name, sets its
 * TimeZone (a server far from UTC proves nothing depends on it), and writes
 * the URL of the new database into url. Returns 0, or -1 after printing
 * why to stderr, prefixed with who (the test's name). */
int scratch_db_create(const char *admin_url, const char *prefix,
		      const char *tz_name, char *name, size_t name_size,
		      char *url, size_t url_size, const char *who);

/* Drops the database (forcing out connections); prints a failure. */
void scratch_db_drop(const char *admin_url, const char *name,
		     const char *who);

#endif
