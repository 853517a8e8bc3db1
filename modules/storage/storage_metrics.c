/* What /metrics reads from the database: notifications by channel and
 * status, retries and queue depth, in one read-only statement. */
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

static const char *const status_names[] = KERYU_STORAGE_STATUS_NAMES;

/* Rows of (channel, status, count) first, then one summary row with a
 * NULL channel: retries and queue depth over every notification. */
static const char metrics_sql[] =
	"SELECT channel, status, count(*)::bigint, NULL::bigint "
	"FROM notifications GROUP BY channel, status "
	"UNION ALL "
	"SELECT NULL, NULL, "
	"coalesce(sum(greatest(attempts - 1, 0)), 0)::bigint, "
	"count(*) FILTER (WHERE status IN ('PENDING', 'QUEUED', 'ERROR'))"
	"::bigint FROM notifications "
	"ORDER BY 1 NULLS LAST, 2";

static int status_index(const char *s)
{
	int i;

	for (i = 0; i < KERYU_STORAGE_METRIC_STATUSES; i++)
		if (strcmp(status_names[i], s) == 0)
			return i;
	return -1;
}

static struct keryu_storage_channel_count *
channel_slot(struct keryu_storage_metrics *out, const char *name)
{
	size_t i;

	if (strlen(name) >= sizeof(out->channels[0].channel))
		return NULL;
	for (i = 0; i < out->n_channels; i++)
		if (strcmp(out->channels[i].channel, name) == 0)
			return &out->channels[i];
	if (out->n_channels == KERYU_STORAGE_METRIC_CHANNELS)
		return NULL;
	i = out->n_channels++;
	strcpy(out->channels[i].channel, name);
	return &out->channels[i];
}

static int metrics_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct keryu_storage_metrics *out = arg;
	PGresult *res = NULL;
	int rc, i, n, st;

	/* a retried run starts over */
	out->n_channels = 0;
	memset(out->channels, 0, sizeof(out->channels));
	rc = storage_db_exec(p, c, "metrics", metrics_sql, 0, NULL, &res);
	if (rc)
		return rc;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct keryu_storage_channel_count *ch;

		if (PQgetisnull(res, i, 0)) {
			out->retries = strtoll(PQgetvalue(res, i, 2), NULL, 10);
			out->queue_depth =
				strtoll(PQgetvalue(res, i, 3), NULL, 10);
			continue;
		}
		st = status_index(PQgetvalue(res, i, 1));
		ch = channel_slot(out, PQgetvalue(res, i, 0));
		if (st >= 0 && ch)
			ch->status[st] = strtoll(PQgetvalue(res, i, 2), NULL, 10);
	}
	PQclear(res);
	return 0;
}

int storage_metrics(void *self, struct keryu_storage_metrics *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	/* before the query, so that its own connection is not counted */
	storage_pool_usage(self, &out->pool_busy, &out->pool_idle);
	rc = storage_pool_run(self, "metrics", metrics_work, out);
	return rc ? KERYU_EIO : 0;
}
