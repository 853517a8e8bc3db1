/* The statistics page: alarms per UTC day, scan to delivered and to
 * acknowledged (median, 90th percentile) and delivery success by channel
 * over 7, 30 or 90 days, drawn as inline SVG on the server (no script);
 * and the same alarms as CSV. A custodian sees their own alarms, staff
 * (keryu_custodian.is_staff) everyone's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_account.h"
#include "http_stats.h"
#include "http_tags_alarms.h"

#define CSV_PAGE 500

/* chart geometry (SVG user units) */
#define DAY_W 600
#define DAY_H 160
#define BAR_W 400

static const char stats_style[] =
	"<style>\n"
	".periods{display:flex;gap:1rem;margin:0 0 1rem}\n"
	".chart{width:100%;max-width:40rem;height:auto;display:block;"
	"margin:0 0 1rem}\n"
	".bar{fill:#1f5fa8}.bar2{fill:#7aa6d8}.axis{stroke:#555}\n"
	".lbl{font:11px sans-serif;fill:#222}\n"
	"table{border-collapse:collapse;margin:0 0 .5rem;display:block;max-width:100%;overflow-x:auto}\n"
	"td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}\n"
	"</style>\n";

/* Markup with numbers: the format is ours and every argument is a number
 * or a date we formatted, so it is written unescaped; text from the
 * service goes through html_text/html_attr. */
static void svgf(struct html *h, const char *fmt, ...) KERYU_PRINTF(2, 3);
static void svgf(struct html *h, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	html_raw(h, buf);
}

int http_stats_days(const char *s)
{
	if (!s || !*s)
		return 30;
	if (strcmp(s, "7") == 0)
		return 7;
	if (strcmp(s, "30") == 0)
		return 30;
	if (strcmp(s, "90") == 0)
		return 90;
	return 0;
}

/* Who the figures are about: NULL (everyone) for staff. */
static const char *scope(const struct http_page *p)
{
	return p->s->who.is_staff ? NULL : p->s->who.id;
}

/* Reads ?days=; false after making r a 400 page. */
static bool read_days(struct http_page *p, int *days)
{
	*days = http_stats_days(http_query(p, "days"));
	if (*days)
		return true;
	http_page_error(p->r, 400, "Bad period",
			"Choose 7, 30 or 90 days.");
	p->r->no_store = true;
	return false;
}

void http_stats_duration(double s, char *out, size_t size)
{
	long v = s < 0 ? 0 : (long)(s + 0.5); /* no libm for one rounding */

	if (v < 60)
		snprintf(out, size, "%ld s", v);
	else if (v < 3600)
		snprintf(out, size, "%ld min %ld s", v / 60, v % 60);
	else
		snprintf(out, size, "%ld h %ld min", v / 3600, v % 3600 / 60);
}

static void per_day_chart(struct html *h, const struct keryu_stats *st)
{
	int max = 1, i;
	double w = (double)DAY_W / st->days;
	struct tm tm;
	char day[11];

	for (i = 0; i < st->days; i++)
		if (st->per_day[i] > max)
			max = st->per_day[i];
	memset(&tm, 0, sizeof(tm));
	sscanf(st->first_day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	svgf(h,
		   "<svg class=\"chart\" id=\"per-day\" role=\"img\" "
		   "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">"
		   "<title>Alarms per day, at most %d</title>\n",
		   DAY_W, DAY_H + 20, max);
	for (i = 0; i < st->days; i++) {
		struct tm d = tm;
		double bh = (double)st->per_day[i] * (DAY_H - 14) / max;

		d.tm_mday += i;
		timegm(&d); /* normalises the day past month ends */
		strftime(day, sizeof(day), "%Y-%m-%d", &d);
		svgf(h,
			   "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" "
			   "width=\"%.2f\" height=\"%.2f\" data-day=\"%s\" "
			   "data-count=\"%d\"><title>%s: %d</title></rect>\n",
			   i * w + w * 0.1, DAY_H - bh, w * 0.8, bh, day,
			   st->per_day[i], day, st->per_day[i]);
		if (i == 0 || i == st->days - 1)
			svgf(h,
				   "<text class=\"lbl\" x=\"%.2f\" y=\"%d\" "
				   "text-anchor=\"%s\">%s</text>\n",
				   i == 0 ? 0.0 : (double)DAY_W, DAY_H + 15,
				   i == 0 ? "start" : "end", day);
	}
	svgf(h,
		   "<line class=\"axis\" x1=\"0\" y1=\"%d\" x2=\"%d\" "
		   "y2=\"%d\"/></svg>\n",
		   DAY_H, DAY_W, DAY_H);
}

static void latency_row(struct html *h, const char *id, const char *what,
			int n, double median, double p90)
{
	char a[48], b[48];

	http_stats_duration(median, a, sizeof(a));
	http_stats_duration(p90, b, sizeof(b));
	svgf(h, "<tr id=\"%s\"><th>", id);
	html_text(h, what);
	svgf(h, "</th><td class=\"n\">%d</td>", n);
	if (n == 0) {
		html_raw(h, "<td>-</td><td>-</td></tr>\n");
		return;
	}
	svgf(h, "<td data-seconds=\"%.1f\">", median);
	html_text(h, a);
	svgf(h, "</td><td data-seconds=\"%.1f\">", p90);
	html_text(h, b);
	html_raw(h, "</td></tr>\n");
}

static void hbar(struct html *h, int y, const char *cls, double v,
		 double max, const char *label)
{
	double w = max > 0 ? v * BAR_W / max : 0;

	svgf(h,
		   "<rect class=\"%s\" x=\"150\" y=\"%d\" width=\"%.2f\" "
		   "height=\"14\"/>",
		   cls, y, w);
	svgf(h, "<text class=\"lbl\" x=\"%.2f\" y=\"%d\">", 154 + w,
		   y + 11);
	html_text(h, label);
	html_raw(h, "</text>\n");
}

static void latency(struct html *h, const struct keryu_stats *st)
{
	double max = st->delivered_p90_s;
	char t[48];

	if (st->acknowledged_p90_s > max)
		max = st->acknowledged_p90_s;
	html_raw(h, "<h2>Time from scan</h2>\n<table id=\"latency\"><tr>"
		    "<th></th><th>Alarms</th><th>Median</th>"
		    "<th>90th percentile</th></tr>\n");
	latency_row(h, "delivered", "To delivered", st->delivered_n,
		    st->delivered_median_s, st->delivered_p90_s);
	latency_row(h, "acknowledged", "To acknowledged", st->acknowledged_n,
		    st->acknowledged_median_s, st->acknowledged_p90_s);
	html_raw(h, "</table>\n");
	if (st->delivered_n == 0 && st->acknowledged_n == 0)
		return;
	svgf(h,
		   "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 %d 84\" "
		   "xmlns=\"http://www.w3.org/2000/svg\"><title>Time from "
		   "scan, median and 90th percentile</title>\n",
		   BAR_W + 240);
	html_raw(h, "<text class=\"lbl\" x=\"0\" y=\"24\">To delivered</text>"
		    "<text class=\"lbl\" x=\"0\" y=\"64\">To acknowledged"
		    "</text>\n");
	http_stats_duration(st->delivered_median_s, t, sizeof(t));
	hbar(h, 2, "bar", st->delivered_median_s, max, t);
	http_stats_duration(st->delivered_p90_s, t, sizeof(t));
	hbar(h, 20, "bar2", st->delivered_p90_s, max, t);
	http_stats_duration(st->acknowledged_median_s, t, sizeof(t));
	hbar(h, 42, "bar", st->acknowledged_median_s, max, t);
	http_stats_duration(st->acknowledged_p90_s, t, sizeof(t));
	hbar(h, 60, "bar2", st->acknowledged_p90_s, max, t);
	html_raw(h, "</svg>\n<p class=\"small\">Dark: median; light: 90th "
		    "percentile.</p>\n");
}

static void channels(struct html *h, const struct keryu_stats *st)
{
	size_t i;
	char t[64];

	html_raw(h, "<h2>Delivery success by channel</h2>\n");
	if (st->n_channels == 0) {
		html_raw(h, "<p>No alert has reached a final state in this "
			    "period.</p>\n");
		return;
	}
	html_raw(h, "<table id=\"channels\"><tr><th>Channel</th>"
		    "<th>Delivered or read</th><th>Final</th><th>Success</th>"
		    "</tr>\n");
	for (i = 0; i < st->n_channels; i++) {
		const struct keryu_stats_channel *c = &st->channel[i];

		html_raw(h, "<tr data-channel=\"");
		html_attr(h, c->channel);
		html_raw(h, "\"><th>");
		html_text(h, http_channel_label(c->channel));
		svgf(h, "</th><td>%d</td><td>%d</td><td>%d%%</td></tr>\n",
			   c->delivered, c->final,
			   c->final ? c->delivered * 100 / c->final : 0);
	}
	svgf(h,
		   "</table>\n<svg class=\"chart\" role=\"img\" "
		   "viewBox=\"0 0 %d %zu\" xmlns=\"http://www.w3.org/2000/svg\">"
		   "<title>Delivery success by channel</title>\n",
		   BAR_W + 240, st->n_channels * 20 + 4);
	for (i = 0; i < st->n_channels; i++) {
		const struct keryu_stats_channel *c = &st->channel[i];
		int y = (int)i * 20 + 2;

		svgf(h, "<text class=\"lbl\" x=\"0\" y=\"%d\">", y + 11);
		html_text(h, http_channel_label(c->channel));
		html_raw(h, "</text>");
		snprintf(t, sizeof(t), "%d%%",
			 c->final ? c->delivered * 100 / c->final : 0);
		hbar(h, y, "bar", c->final ? (double)c->delivered / c->final
					   : 0,
		     1.0, t);
	}
	html_raw(h, "</svg>\n");
}

void http_stats(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	struct keryu_stats *st;
	struct html *h = &p->r->body;
	static const int periods[] = {7, 30, 90};
	size_t i;
	int days, rc;

	if (!svc || !http_service_has(p, svc->struct_size >=
						   sizeof(*svc) &&
					   svc->stats) ||
	    !read_days(p, &days))
		return;
	st = calloc(1, sizeof(*st));
	if (!st) {
		http_unavailable(p);
		return;
	}
	rc = svc->stats(svc->self, scope(p), days, st, NULL, NULL, 0, NULL);
	if (rc) {
		free(st);
		http_service_failed(p, "http.stats", rc);
		return;
	}
	if (!http_form_page(p, "Statistics", 200)) {
		free(st);
		return;
	}
	html_raw(h, stats_style);
	if (p->s->who.is_staff)
		html_raw(h, "<p id=\"scope\">Every custodian's alarms "
			    "(staff).</p>\n");
	html_raw(h, "<nav class=\"periods\" aria-label=\"Period\">");
	for (i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
		if (periods[i] == days)
			svgf(h, "<strong>%d days</strong>", days);
		else
			svgf(h, "<a href=\"/stats/?days=%d\">%d days</a>",
				   periods[i], periods[i]);
	}
	html_raw(h, "</nav>\n");
	svgf(h,
		   "<h2>Alarms per day</h2>\n<p><strong id=\"total\">%d"
		   "</strong> alarm%s from ",
		   st->alarms, st->alarms == 1 ? "" : "s");
	html_text(h, st->first_day);
	html_raw(h, " (UTC days).</p>\n");
	per_day_chart(h, st);
	latency(h, st);
	channels(h, st);
	svgf(h,
		   "<p><a href=\"/stats/alarms.csv?days=%d\" download>"
		   "Download these alarms (CSV)</a></p>\n",
		   days);
	free(st);
	http_layout_end(h);
}

void http_csv_cell(struct html *h, const char *s)
{
	const char *q;

	html_raw(h, "\"");
	/* a spreadsheet runs a cell that starts like a formula: a quote
	 * makes it text */
	if (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' ||
	    *s == '\r')
		html_raw(h, "'");
	while ((q = strchr(s, '"'))) {
		html_bytes(h, s, (size_t)(q - s) + 1);
		html_raw(h, "\"");
		s = q + 1;
	}
	html_raw(h, s);
	html_raw(h, "\"");
}

void http_stats_csv(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	struct keryu_stats_row *rows;
	struct html *h;
	char after[KERYU_UUID_LEN] = "";
	size_t n, i;
	int days, rc;

	if (!svc || !http_service_has(p, svc->struct_size >=
						   sizeof(*svc) &&
					   svc->stats) ||
	    !read_days(p, &days))
		return;
	rows = calloc(CSV_PAGE, sizeof(*rows));
	if (!rows) {
		http_unavailable(p);
		return;
	}
	html_free(&p->r->body);
	html_init(&p->r->body);
	h = &p->r->body;
	/* deliberately raw: CSV, with its own quoting (http_csv_cell) */
	html_raw(h, "id,scanned_at,subject,notification_status,"
		    "acknowledged_at,resolved_at\r\n");
	do {
		rc = svc->stats(svc->self, scope(p), days, NULL, after, rows,
				CSV_PAGE, &n);
		if (rc)
			break;
		for (i = 0; i < n; i++) {
			http_csv_cell(h, rows[i].id);
			html_raw(h, ",");
			http_csv_cell(h, rows[i].scanned_at);
			html_raw(h, ",");
			http_csv_cell(h, rows[i].subject_name);
			html_raw(h, ",");
			http_csv_cell(h, rows[i].notification_status);
			html_raw(h, ",");
			http_csv_cell(h, rows[i].acknowledged_at);
			html_raw(h, ",");
			http_csv_cell(h, rows[i].resolved_at);
			html_raw(h, "\r\n");
		}
		if (n)
			snprintf(after, sizeof(after), "%s", rows[n - 1].id);
	} while (n == CSV_PAGE);
	free(rows);
	if (rc) {
		/* a half-written file must not pass for the whole export */
		html_free(&p->r->body);
		html_init(&p->r->body);
		http_service_failed(p, "http.stats_csv", rc);
		return;
	}
	p->r->status = 200;
	p->r->content_type = "text/csv; charset=utf-8";
	p->r->no_store = true;
	snprintf(p->r->disposition, sizeof(p->r->disposition),
		 "attachment; filename=\"keryu-alarms-%dd.csv\"", days);
}
