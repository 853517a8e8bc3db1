/* The connection pool: a fixed array of slots guarded by one mutex, with a
 * condition variable for callers waiting for a free slot. Connections are
 * opened at start-up; one that broke is reset when next checked out.
 *
 * Each connection prepares a parameterised statement the first time it
 * runs it and executes the prepared one afterwards: the server then parses
 * and plans it once per connection instead of once per call (a scan's
 * transaction is a dozen statements). Statements are told apart by their
 * text, never by the caller's name for them. */
#include "storage_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Statements prepared on one connection, named "k<index>". */
#define PREPARED_MAX 256

struct prepared {
	uint64_t hash;
	char *sql;
};

struct slot {
	PGconn *conn; /* NULL until opened */
	bool busy;
	/* owned by whoever has the slot checked out */
	struct prepared *prepared; /* PREPARED_MAX, allocated on first use */
	int n_prepared;
	bool stale; /* a prepared plan no longer fits the schema */
};

/* The slot this thread has checked out, for storage_db_exec. */
static _Thread_local struct slot *current;

/* The server forgot every prepared statement: a new session. */
static void forget_prepared(struct slot *s)
{
	int i;

	for (i = 0; i < s->n_prepared; i++)
		free(s->prepared[i].sql);
	s->n_prepared = 0;
}

static void reset(struct slot *s)
{
	forget_prepared(s);
	PQreset(s->conn);
}

struct storage_pool {
	const struct keryu_host *host;
	keryu_mod *m;
	char *url;
	int size;
	int timeout_s;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast when a slot is handed to a waiter */
	struct slot *slots;
	/* threads waiting for a slot, oldest first: a freed slot goes to the
	 * oldest, so a thread that frees one and asks again at once (a
	 * request of several queries) cannot overtake one already waiting,
	 * which could otherwise wait for seconds under load */
	struct waiter *head, *tail;
};

struct waiter {
	struct slot *slot; /* handed over by checkin; NULL while waiting */
	struct waiter *next;
};

const struct keryu_host *storage_pool_host(struct storage_pool *p)
{
	return p->host;
}

keryu_mod *storage_pool_mod(struct storage_pool *p)
{
	return p->m;
}

void storage_pool_usage(struct storage_pool *p, int *busy, int *idle)
{
	int i, n = 0;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->size; i++)
		n += p->slots[i].busy;
	pthread_mutex_unlock(&p->mu);
	*busy = n;
	*idle = p->size - n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libpq's messages span lines and may quote; a log field must not. */
static void one_line(const char *in, char *out, size_t size)
{
	size_t i = 0;

	for (; in && *in && i + 1 < size; in++) {
		if (*in == '\n' || *in == '\r') {
			if (in[1] == '\0')
				break;
			out[i++] = ' ';
		} else if (*in == '"' || (unsigned char)*in < 0x20) {
			out[i++] = '\'';
		} else {
			out[i++] = *in;
		}
	}
	out[i] = '\0';
}

/* libpq prints server notices ("relation already exists, skipping") on
 * stderr; they say nothing an operator needs. */
static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Opens one connection. The URL goes last so that anything it sets itself
 * (connect_timeout, application_name) wins over our defaults. */
static PGconn *connect_one(struct storage_pool *p)
{
	char timeout[16];
	/* UTC, so that a time without an offset means the same everywhere */
	const char *keys[] = {"connect_timeout", "application_name", "options",
			      "dbname", NULL};
	const char *vals[] = {timeout, "keryu", "-c TimeZone=UTC", p->url,
			      NULL};
	PGconn *c;

	snprintf(timeout, sizeof(timeout), "%d",
		 p->timeout_s < 2 ? 2 : p->timeout_s);
	c = PQconnectdbParams(keys, vals, 1);
	if (c)
		PQsetNoticeProcessor(c, quiet_notice, NULL);
	return c;
}

static void log_connect_error(struct storage_pool *p, PGconn *c,
			      enum keryu_log_level level, const char *event)
{
	char err[256];

	one_line(c ? PQerrorMessage(c) : "out of memory", err, sizeof(err));
	p->host->log(p->m, level, event,
		     "host=%s port=%s db=%s timeout_s=%d error=\"%s\"",
		     c && PQhost(c) ? PQhost(c) : "?",
		     c && PQport(c) ? PQport(c) : "?",
		     c && PQdb(c) ? PQdb(c) : "?", p->timeout_s, err);
}

/* The first connection proves the database is there: keep trying until
 * connect_timeout_s is over, as the database may be starting with us. */
static int connect_first(struct storage_pool *p)
{
	double deadline = now_s() + p->timeout_s;
	bool warned = false;

	for (;;) {
		PGconn *c = connect_one(p);

		if (c && PQstatus(c) == CONNECTION_OK) {
			p->slots[0].conn = c;
			p->host->log(p->m, KERYU_LOG_INFO, "storage.connected",
				     "host=%s port=%s db=%s server_version=%d",
				     PQhost(c), PQport(c), PQdb(c),
				     PQserverVersion(c));
			return 0;
		}
		if (now_s() >= deadline) {
			log_connect_error(p, c, KERYU_LOG_ERROR,
					  "storage.connect_failed");
			PQfinish(c);
			return KERYU_EIO;
		}
		if (!warned) {
			log_connect_error(p, c, KERYU_LOG_WARN,
					  "storage.connect_retry");
			warned = true;
		}
		PQfinish(c);
		nanosleep(&(struct timespec){0, 250 * 1000 * 1000}, NULL);
	}
}

int storage_pool_open(const struct keryu_host *host, keryu_mod *m,
		      const struct storage_pool_config *cfg,
		      struct storage_pool **out)
{
	struct storage_pool *p;
	pthread_condattr_t ca;
	int i, rc;

	*out = NULL;
	if (!cfg->url || cfg->size < 1 || cfg->connect_timeout_s < 1)
		return KERYU_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return KERYU_ENOMEM;
	p->host = host;
	p->m = m;
	p->size = cfg->size;
	p->timeout_s = cfg->connect_timeout_s;
	p->url = strdup(cfg->url);
	p->slots = calloc((size_t)cfg->size, sizeof(*p->slots));
	if (!p->url || !p->slots) {
		free(p->url);
		free(p->slots);
		free(p);
		return KERYU_ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);

	rc = connect_first(p);
	if (rc) {
		storage_pool_free(p);
		return rc;
	}
	/* The others are a convenience now; a slot that fails here is
	 * opened again when it is first checked out. */
	for (i = 1; i < p->size; i++) {
		PGconn *c = connect_one(p);

		if (c && PQstatus(c) == CONNECTION_OK) {
			p->slots[i].conn = c;
		} else {
			log_connect_error(p, c, KERYU_LOG_WARN,
					  "storage.connect_deferred");
			PQfinish(c);
		}
	}
	*out = p;
	return 0;
}

void storage_pool_free(struct storage_pool *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->size; i++) {
		forget_prepared(&p->slots[i]);
		free(p->slots[i].prepared);
		PQfinish(p->slots[i].conn);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p->url);
	free(p);
}

static struct slot *free_slot(struct storage_pool *p)
{
	int i;

	for (i = 0; i < p->size; i++)
		if (!p->slots[i].busy)
			return &p->slots[i];
	return NULL;
}

/* Drops w from the queue (it gave up waiting). */
static void unqueue(struct storage_pool *p, struct waiter *w)
{
	struct waiter **pp = &p->head, *prev = NULL;

	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = w->next;
	if (p->tail == w)
		p->tail = prev;
}

static struct slot *checkout(struct storage_pool *p)
{
	struct timespec until;
	struct waiter w = {NULL, NULL};
	struct slot *s;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += p->timeout_s;
	pthread_mutex_lock(&p->mu);
	s = p->head ? NULL : free_slot(p); /* no overtaking the queue */
	if (s) {
		s->busy = true;
	} else {
		if (p->tail)
			p->tail->next = &w;
		else
			p->head = &w;
		p->tail = &w;
		while (!w.slot && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
		s = w.slot; /* handed over still busy */
		if (!s)
			unqueue(p, &w);
	}
	pthread_mutex_unlock(&p->mu);
	if (!s)
		p->host->log(p->m, KERYU_LOG_WARN, "storage.pool_exhausted",
			     "size=%d waited_s=%d", p->size, p->timeout_s);
	return s;
}

static void checkin(struct storage_pool *p, struct slot *s)
{
	struct waiter *w;

	pthread_mutex_lock(&p->mu);
	w = p->head;
	if (w) { /* straight to the oldest waiter, still busy */
		p->head = w->next;
		if (!p->head)
			p->tail = NULL;
		w->slot = s;
		pthread_cond_broadcast(&p->cv);
	} else {
		s->busy = false;
	}
	pthread_mutex_unlock(&p->mu);
}

/* Makes the slot's connection usable; false when the database is gone. */
static bool ready(struct storage_pool *p, struct slot *s)
{
	if (!s->conn) {
		s->conn = connect_one(p);
		if (!s->conn)
			return false;
	} else if (PQstatus(s->conn) == CONNECTION_BAD) {
		reset(s);
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		log_connect_error(p, s->conn, KERYU_LOG_WARN,
				  "storage.reconnect_failed");
		return false;
	}
	return true;
}

int storage_pool_run(struct storage_pool *p, const char *what,
		     storage_work_fn fn, void *arg)
{
	struct slot *s = checkout(p);
	int rc;

	if (!s)
		return KERYU_EIO;
	if (!ready(p, s)) {
		checkin(p, s);
		return KERYU_EIO;
	}
	current = s;
	rc = fn(p, s->conn, arg);
	/* A connection that died under us (server restart, network) is the
	 * one failure worth one more try: the work was rolled back with it,
	 * or was idempotent if its commit got through. */
	if (rc == KERYU_EIO && PQstatus(s->conn) == CONNECTION_BAD) {
		reset(s);
		if (PQstatus(s->conn) == CONNECTION_OK) {
			p->host->log(p->m, KERYU_LOG_INFO,
				     "storage.reconnected", "what=%s", what);
			rc = fn(p, s->conn, arg);
		} else {
			log_connect_error(p, s->conn, KERYU_LOG_WARN,
					  "storage.reconnect_failed");
		}
	}
	/* Never hand the next caller a connection inside a transaction. */
	if (PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		storage_db_rollback(p, s->conn);
	/* The schema changed under a prepared statement (a column's type,
	 * say, in a rolling upgrade): a new session prepares afresh. */
	if (s->stale) {
		s->stale = false;
		p->host->log(p->m, KERYU_LOG_INFO, "storage.replan",
			     "what=%s", what);
		reset(s);
	}
	current = NULL;
	checkin(p, s);
	return rc;
}

static bool sqlstate_class(const char *state, const char *cls)
{
	return state && strncmp(state, cls, 2) == 0;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Runs sql prepared on c when c is this thread's checked-out connection
 * and the statement has parameters (BEGIN, COMMIT and migration scripts
 * stay simple queries); once PREPARED_MAX statements are prepared, or when
 * preparing fails, it runs unprepared. */
static PGresult *exec_prepared(PGconn *c, const char *sql, int nparams,
			       const char *const *params)
{
	struct slot *s = current;
	uint64_t h;
	char name[16];
	PGresult *r;
	int i;

	if (nparams == 0 || !s || s->conn != c)
		return PQexecParams(c, sql, nparams, NULL, params, NULL, NULL,
				    0);
	h = fnv1a(sql);
	for (i = 0; i < s->n_prepared; i++)
		if (s->prepared[i].hash == h &&
		    strcmp(s->prepared[i].sql, sql) == 0)
			break;
	snprintf(name, sizeof(name), "k%d", i);
	if (i == s->n_prepared) {
		if (!s->prepared)
			s->prepared = calloc(PREPARED_MAX, sizeof(*s->prepared));
		if (!s->prepared || i == PREPARED_MAX ||
		    !(s->prepared[i].sql = strdup(sql)))
			return PQexecParams(c, sql, nparams, NULL, params, NULL,
					    NULL, 0);
		r = PQprepare(c, name, sql, nparams, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			/* in a failed transaction, say: the unprepared run
			 * reports the real error */
			PQclear(r);
			free(s->prepared[i].sql);
			s->prepared[i].sql = NULL;
			return PQexecParams(c, sql, nparams, NULL, params, NULL,
					    NULL, 0);
		}
		PQclear(r);
		s->prepared[i].hash = h;
		s->n_prepared++;
	}
	return PQexecPrepared(c, name, nparams, params, NULL, NULL, 0);
}

int storage_db_exec(struct storage_pool *p, PGconn *c, const char *what,
		    const char *sql, int nparams, const char *const *params,
		    PGresult **res)
{
	PGresult *r;
	ExecStatusType st;
	const char *state;
	int rc;

	if (res)
		*res = NULL;
	r = exec_prepared(c, sql, nparams, params);
	st = PQresultStatus(r);
	if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
		if (res)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	/* "cached plan must not change result type" */
	if (current && current->conn == c && state &&
	    strcmp(state, "0A000") == 0)
		current->stale = true;
	if (PQstatus(c) == CONNECTION_BAD || sqlstate_class(state, "08") ||
	    sqlstate_class(state, "57") || sqlstate_class(state, "53"))
		rc = KERYU_EIO;
	else if (!r)
		rc = KERYU_ENOMEM;
	else if (sqlstate_class(state, "22") || sqlstate_class(state, "23"))
		rc = KERYU_EINVAL;
	else
		rc = KERYU_ERR;
	/* The SQLSTATE names the problem; the message could quote values. */
	p->host->log(p->m, rc == KERYU_EINVAL ? KERYU_LOG_INFO : KERYU_LOG_WARN,
		     "storage.query_failed", "what=%s sqlstate=%s rc=%s", what,
		     state ? state : "none", keryu_strerror(rc));
	PQclear(r);
	return rc;
}

int storage_db_begin(struct storage_pool *p, PGconn *c)
{
	return storage_db_exec(p, c, "begin", "BEGIN", 0, NULL, NULL);
}

int storage_db_commit(struct storage_pool *p, PGconn *c)
{
	return storage_db_exec(p, c, "commit", "COMMIT", 0, NULL, NULL);
}

void storage_db_rollback(struct storage_pool *p, PGconn *c)
{
	PGresult *r;

	(void)p;
	if (PQstatus(c) != CONNECTION_OK ||
	    PQtransactionStatus(c) == PQTRANS_IDLE)
		return;
	r = PQexec(c, "ROLLBACK");
	PQclear(r);
}
