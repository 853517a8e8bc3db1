/* Private to the http module: the statistics page (http_stats.c). */
#ifndef KERYU_HTTP_STATS_H
#define KERYU_HTTP_STATS_H

#include <stddef.h>

#include "html.h"
#include "http_module.h"

/* GET /stats/?days=7|30|90 (30 when absent): the session custodian's
 * figures, everyone's for staff; 400 for another period. */
void http_stats(struct http_page *p);
/* GET /stats/alarms.csv?days=N: the same alarms as an RFC 4180 CSV
 * attachment; 503 (and no partial file) when the service fails. */
void http_stats_csv(struct http_page *p);
/* 7, 30 or 90 for s ("" or NULL: 30); 0 for anything else. */
int http_stats_days(const char *s);
/* "42 s", "3 min 5 s", "2 h 10 min" (negative counts as 0). */
void http_stats_duration(double s, char *out, size_t size);
/* Writes s as one quoted CSV cell: "" doubled, and a leading = + - @ tab
 * or CR prefixed with ' so no spreadsheet runs it as a formula. */
void http_csv_cell(struct html *h, const char *s);

#endif
