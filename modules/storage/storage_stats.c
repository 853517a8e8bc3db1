/* The statistics page (subjects->stats): alarms per UTC day, scan to
 * delivered / acknowledged percentiles and delivery success by channel,
 * all computed by PostgreSQL; and the same alarms as rows for its CSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

#define STATS_ROWS_MAX 1000

/* $1 custodian (NULL: everyone), $2 days. The window starts at 00:00 UTC
 * of the first day, so a day's bar counts whole UTC days. */
#define STATS_SCOPE                                                            \
	"d0 AS (SELECT (now() AT TIME ZONE 'UTC')::date - ($2::int - 1) "     \
	"  AS day), "                                                          \
	"sc AS (SELECT a.id, a.scanned_at, a.acknowledged_at "                \
	"  FROM alarms a JOIN subjects s ON s.id = a.subject_id, d0 "         \
	"  WHERE a.scanned_at >= d0.day::timestamp AT TIME ZONE 'UTC' "        \
	"  AND ($1::uuid IS NULL OR s.custodian_id = $1::uuid)) "

static const char per_day_sql[] =
	"WITH " STATS_SCOPE ", "
	"g AS (SELECT generate_series(0, $2::int - 1) AS i) "
	"SELECT g.i, to_char(d0.day + g.i, 'YYYY-MM-DD'), count(sc.id) "
	"FROM g CROSS JOIN d0 LEFT JOIN sc "
	"  ON (sc.scanned_at AT TIME ZONE 'UTC')::date = d0.day + g.i "
	"GROUP BY g.i, d0.day ORDER BY g.i";

/* The first 'alert' delivery of each alarm: escalation and fallback make
 * more than one, and the person reached first is what counts. */
static const char latency_sql[] =
	"WITH " STATS_SCOPE ", "
	"dl AS (SELECT extract(epoch FROM min(n.delivered_at) - sc.scanned_at)"
	"  AS s FROM sc JOIN notifications n ON n.alarm_id = sc.id "
	"  AND n.kind = 'alert' AND n.delivered_at IS NOT NULL "
	"  GROUP BY sc.id, sc.scanned_at), "
	"ak AS (SELECT extract(epoch FROM acknowledged_at - scanned_at) AS s "
	"  FROM sc WHERE acknowledged_at IS NOT NULL) "
	"SELECT (SELECT count(*) FROM dl), "
	"coalesce((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) "
	"  FROM dl), 0), "
	"coalesce((SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY s) "
	"  FROM dl), 0), "
	"(SELECT count(*) FROM ak), "
	"coalesce((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) "
	"  FROM ak), 0), "
	"coalesce((SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY s) "
	"  FROM ak), 0)";

static const char channels_sql[] =
	"WITH " STATS_SCOPE " "
	"SELECT n.channel, count(*), "
	"count(*) FILTER (WHERE n.status IN ('DELIVERED', 'READ')) "
	"FROM sc JOIN notifications n ON n.alarm_id = sc.id "
	"WHERE n.kind = 'alert' AND n.status IN ('DELIVERED', 'READ', 'FAILED') "
	"GROUP BY n.channel ORDER BY n.channel LIMIT 16";

/* $3 after id, $4 limit. Keyset paging on (scanned_at, id), as the
 * staff export does. */
static const char rows_sql[] =
	"WITH " STATS_SCOPE " "
	"SELECT a.id::text, " STORAGE_ISO_UTC("a.scanned_at") ", s.name, "
	"a.notification_status, "
	"coalesce(" STORAGE_ISO_UTC("a.acknowledged_at") ", ''), "
	"coalesce(" STORAGE_ISO_UTC("a.resolved_at") ", '') "
	"FROM sc JOIN alarms a ON a.id = sc.id "
	"JOIN subjects s ON s.id = a.subject_id "
	"WHERE ($3::uuid IS NULL OR (a.scanned_at, a.id) > "
	"  (SELECT b.scanned_at, b.id FROM alarms b WHERE b.id = $3::uuid)) "
	"ORDER BY a.scanned_at, a.id LIMIT $4::int";

static const char after_sql[] =
	"WITH " STATS_SCOPE " SELECT 1 FROM sc WHERE sc.id = $3::uuid";

struct stats_call {
	const char *v[4]; /* custodian, days, after id, limit */
	struct keryu_stats *out;
	struct keryu_stats_row *rows;
	size_t n;
};

static int figures(struct storage_pool *p, PGconn *c, struct stats_call *sc)
{
	struct keryu_stats *o = sc->out;
	PGresult *r;
	int rc, i, rows;

	rc = storage_db_exec(p, c, "stats.per_day", per_day_sql, 2, sc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows && i < KERYU_STATS_DAYS_MAX; i++) {
		if (i == 0)
			storage_copy_text(o->first_day, sizeof(o->first_day),
					  PQgetvalue(r, i, 1));
		o->per_day[i] = atoi(PQgetvalue(r, i, 2));
		o->alarms += o->per_day[i];
	}
	PQclear(r);

	rc = storage_db_exec(p, c, "stats.latency", latency_sql, 2, sc->v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		o->delivered_n = atoi(PQgetvalue(r, 0, 0));
		o->delivered_median_s = strtod(PQgetvalue(r, 0, 1), NULL);
		o->delivered_p90_s = strtod(PQgetvalue(r, 0, 2), NULL);
		o->acknowledged_n = atoi(PQgetvalue(r, 0, 3));
		o->acknowledged_median_s = strtod(PQgetvalue(r, 0, 4), NULL);
		o->acknowledged_p90_s = strtod(PQgetvalue(r, 0, 5), NULL);
	}
	PQclear(r);

	rc = storage_db_exec(p, c, "stats.channels", channels_sql, 2, sc->v,
			     &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows && i < KERYU_STATS_CHANNELS_MAX; i++) {
		struct keryu_stats_channel *ch = &o->channel[i];

		storage_copy_text(ch->channel, sizeof(ch->channel),
				  PQgetvalue(r, i, 0));
		ch->final = atoi(PQgetvalue(r, i, 1));
		ch->delivered = atoi(PQgetvalue(r, i, 2));
	}
	o->n_channels = (size_t)i;
	PQclear(r);
	return 0;
}

static int page(struct storage_pool *p, PGconn *c, struct stats_call *sc)
{
	PGresult *r;
	int rc, i, rows;

	if (sc->v[2]) {
		rc = storage_db_one(p, c, "stats.after", after_sql, 3, sc->v);
		if (rc)
			return rc;
	}
	rc = storage_db_exec(p, c, "stats.rows", rows_sql, 4, sc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		struct keryu_stats_row *o = &sc->rows[i];

		memset(o, 0, sizeof(*o));
		storage_copy_text(o->id, sizeof(o->id), PQgetvalue(r, i, 0));
		storage_copy_text(o->scanned_at, sizeof(o->scanned_at),
				  PQgetvalue(r, i, 1));
		storage_copy_text(o->subject_name, sizeof(o->subject_name),
				  PQgetvalue(r, i, 2));
		storage_copy_text(o->notification_status,
				  sizeof(o->notification_status),
				  PQgetvalue(r, i, 3));
		storage_copy_text(o->acknowledged_at,
				  sizeof(o->acknowledged_at),
				  PQgetvalue(r, i, 4));
		storage_copy_text(o->resolved_at, sizeof(o->resolved_at),
				  PQgetvalue(r, i, 5));
	}
	sc->n = (size_t)rows;
	PQclear(r);
	return 0;
}

static int stats_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct stats_call *sc = arg;
	int rc;

	/* one snapshot, so the chart, the percentiles and the channels
	 * count the same alarms */
	rc = storage_db_begin(p, c);
	if (rc)
		return rc;
	rc = storage_db_exec(p, c, "stats.snapshot",
			     "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
			     "READ ONLY",
			     0, NULL, NULL);
	if (!rc && sc->out)
		rc = figures(p, c, sc);
	if (!rc && sc->rows)
		rc = page(p, c, sc);
	if (!rc)
		rc = storage_db_commit(p, c);
	if (rc)
		storage_db_rollback(p, c);
	return rc;
}

int storage_stats(void *self, const char *custodian_id, int days,
		  struct keryu_stats *out, const char *after_id,
		  struct keryu_stats_row *rows, size_t max, size_t *n)
{
	struct stats_call sc;
	char d[16], lim[16];
	int rc;

	if (n)
		*n = 0;
	if (out)
		memset(out, 0, sizeof(*out));
	if (after_id && !*after_id)
		after_id = NULL;
	if (rows && max == 0)
		rows = NULL;
	if ((days != 7 && days != 30 && days != 90) || (!out && !rows) ||
	    (rows && !n) ||
	    (custodian_id && !keryu_uuid_valid(custodian_id)) ||
	    (after_id && !keryu_uuid_valid(after_id)))
		return KERYU_EINVAL;
	snprintf(d, sizeof(d), "%d", days);
	snprintf(lim, sizeof(lim), "%zu",
		 max < STATS_ROWS_MAX ? max : STATS_ROWS_MAX);
	memset(&sc, 0, sizeof(sc));
	sc.v[0] = custodian_id;
	sc.v[1] = d;
	sc.v[2] = after_id;
	sc.v[3] = lim;
	sc.out = out;
	sc.rows = rows;
	rc = storage_pool_run(self, "stats", stats_work, &sc);
	if (rc) {
		if (out)
			memset(out, 0, sizeof(*out));
		return rc;
	}
	if (out)
		out->days = days;
	if (n)
		*n = sc.n;
	return 0;
}
