/* The finder's endpoints (issue 5, http_finder.c) and the custodian's
 * lost-mode toggle (http_subjects.c): what the router calls. The scan
 * page's own helpers (http_finder_token, http_scan_allowed, http_ip_hash)
 * are in http_module.h. */
#ifndef KERYU_HTTP_FINDER_H
#define KERYU_HTTP_FINDER_H

#include <stdbool.h>
#include <stddef.h>

#include "http_module.h"

enum http_finder_route {
	HTTP_FINDER_NONE = 0,
	HTTP_FINDER_LOCATION, /* POST .../scan/location */
	HTTP_FINDER_REPORT,   /* POST .../scan/report */
	HTTP_FINDER_STATUS,   /* GET .../scan/status?t= */
	HTTP_FINDER_PHOTO,    /* GET .../scan/photo?t= (when public) */
};

/* Which finder endpoint path is ("/subjects/qr/<seg>/scan/location",
 * ".../report", ".../status", ".../photo"); the raw segment is copied (cut to fit
 * size: a cut one is still ours, answered 404). */
enum http_finder_route http_finder_path(const char *path, char *seg,
					size_t size);

/* Answers one request to a finder endpoint. Public: the token "t" (a
 * form field of a POST, a query field of the status) is the capability.
 * 405 for a wrong method, 404 for a segment that is not a UUID, 403 for
 * a missing, bad or foreign token or another site's Origin, 410 for an
 * expired token, 400 for a malformed post, 409 for a replay, 404 when
 * the scan is not recorded, 503 when storage fails. JSON when the query
 * or form has format=json (the page's fetch), HTML otherwise. */
void http_finder(struct http_ctx *ctx, const struct http_request *req,
		 enum http_finder_route which, const char *seg,
		 struct http_response *r);

/* POST /subjects/<id>/missing (http_subjects.c): missing=1 marks the
 * subject missing (lost mode), missing=0 found again; back to its page. */
void http_subject_missing(struct http_page *p);

#endif
