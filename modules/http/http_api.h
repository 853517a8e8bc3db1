/* Private to the http module: the JSON API under /api/v1/ (http_api*.c)
 * and its OpenAPI document and page (http_api_docs.c). */
#ifndef KERYU_HTTP_API_H
#define KERYU_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "http_module.h"

#define HTTP_API_PREFIX "/api/v1/"
#define HTTP_API_PROBLEM_JSON "application/problem+json"
#define HTTP_API_JSON "application/json"

/* ---- http_api.c: dispatch ---- */

/* True when path is under /api/v1/ (the server reads those raw). */
bool http_api_path(const char *path);
/* The route class of an API path for /metrics: the matching route's
 * pattern (one "*" per id segment), or the prefix followed by "*" when
 * no route matches. A static string. */
const char *http_api_route_class(const char *path);
/* Answers one API request into r (initialised by the caller, who frees
 * it): body is the raw request body (NULL or len 0 when none was sent).
 * Never fails: errors become problem+json answers. */
void http_api_handle(struct http_ctx *ctx, const struct http_request *req,
		     const char *body, size_t len, struct http_response *r);
/* Makes r an application/problem+json answer: type is
 * https://keryu.invalid/problems/<slug> (about:blank when slug is NULL),
 * title, status and detail (NULL: left out). */
void http_api_problem(struct http_response *r, unsigned status,
		      const char *slug, const char *title, const char *detail);

/* What an API handler gets. */
#define HTTP_API_ARGS 2
#define HTTP_API_ARG_MAX 64

struct http_api_call {
	struct http_ctx *ctx;
	const struct http_request *req;
	struct http_response *r;
	const cJSON *body;   /* the request's JSON object; NULL when none */
	bool authed;         /* who is the token's custodian */
	struct keryu_custodian who;
	/* the "*" segments of the route's path, in order (not checked:
	 * handlers answer a malformed id 404 like a missing one) */
	char arg[HTTP_API_ARGS][HTTP_API_ARG_MAX];
};

/* r becomes 200 (or status) with obj as its JSON body; obj is freed. */
void http_api_reply(struct http_api_call *c, unsigned status, cJSON *obj);
/* A list's answer: the page of items (taken) when rc is 0, else
 * http_api_fail(c, event, rc). */
void http_api_list_reply(struct http_api_call *c, const char *event, int rc,
			 cJSON *items, int total, int offset, int limit);
/* r becomes 204 with no body. */
void http_api_no_content(struct http_api_call *c);
/* The standard problems of a handler. */
void http_api_not_found(struct http_api_call *c);
void http_api_unavailable(struct http_api_call *c);
/* 404 for KERYU_ENOTFOUND/EINVAL (a malformed id), 409 for ECONFLICT
 * with detail, 503 (logged under event) for the rest. */
void http_api_fail(struct http_api_call *c, const char *event, int rc,
		   const char *conflict);
/* The custodian whose rows the call may touch for row id of kind: the
 * caller's own id, or for staff the row's owner (admin->owner_of). False
 * after answering (404, 503). */
bool http_api_scope(struct http_api_call *c, enum keryu_owned kind,
		    const char *id, char owner[KERYU_UUID_LEN]);
/* True when the caller's phone is verified; else a 403 problem. */
bool http_api_may_write(struct http_api_call *c);
/* Stores the audit entry of a write by the caller (source "api"). */
void http_api_audit(struct http_api_call *c, const char *action,
		    const char *target_type, const char *target_id,
		    const char *summary);

/* ---- http_api_json.c: strict bodies and queries ---- */

enum http_api_type {
	HTTP_API_TEXT = 1, /* string, trimmed (http_text_read), min..max */
	HTTP_API_RAW,      /* string kept as sent (secrets), 1..max bytes */
	HTTP_API_ENUM,     /* one of choices */
	HTTP_API_DATE,     /* YYYY-MM-DD, a real day (http_date_check) */
	HTTP_API_PHONE,    /* E.164 */
	HTTP_API_UUID,
	HTTP_API_BOOL,
	HTTP_API_NAMES,    /* array of unique choices -> bit i per choice i */
};

/* One field of a body. Values are written at off into the caller's
 * struct: char[size] for strings ("" for a JSON null), bool, unsigned
 * (NAMES). Fields absent from the body are left as they are. */
struct http_api_field {
	const char *name;
	enum http_api_type type;
	bool required;
	bool nullable;
	bool multiline;        /* TEXT: line breaks allowed */
	size_t min, max;       /* TEXT, RAW: bytes */
	const char *const *choices; /* ENUM, NAMES: NULL-terminated */
	size_t off, size;
};

#define HTTP_API_ERRORS_MAX 16

struct http_api_errors {
	size_t n;
	struct {
		char field[48];
		char message[96];
	} e[HTTP_API_ERRORS_MAX];
};

void http_api_error_add(struct http_api_errors *e, const char *field,
			const char *fmt, ...) KERYU_PRINTF(3, 4);
/* Checks obj (a JSON object, or NULL for none: as {}) against the n
 * fields, writing good values into dst and one error per bad, unknown
 * or missing field into e; *present gets bit i for each field i given
 * (may be NULL). True when e stayed empty; dst may be partly written
 * otherwise and is not to be used. */
bool http_api_json_read(const cJSON *obj, const struct http_api_field *f,
			size_t n, void *dst, struct http_api_errors *e,
			unsigned long *present);
/* Adds an error for each query parameter not in allowed (NULL-ended). */
void http_api_query_known(const struct http_form *q,
			  const char *const *allowed,
			  struct http_api_errors *e);
/* Query parameter name as an integer in min..max into *out (def when
 * absent); adds an error otherwise. */
void http_api_query_int(const struct http_form *q, const char *name,
			int def, int min, int max, int *out,
			struct http_api_errors *e);
/* r becomes the 400 validation problem listing e. */
void http_api_invalid(struct http_response *r, const struct http_api_errors *e);
/* Adds s, or null for "" or NULL. */
void http_api_add_str(cJSON *o, const char *name, const char *s);
/* {"items": items, "total", "offset", "limit"}; takes items. */
cJSON *http_api_page(cJSON *items, int total, int offset, int limit);

/* ---- http_api_auth.c: tokens ---- */

/* key = HMAC-SHA256(secret, "keryu-api-jwt-v1"). */
void http_api_jwt_key(const unsigned char *secret, size_t len,
		      unsigned char key[HTTP_API_KEY_LEN]);
/* An HS256 access token for custodian sub, issued at now for ttl_s.
 * *out is malloc'd (free()). Returns 0, KERYU_EINVAL (sub not a UUID),
 * KERYU_ENOMEM. */
int http_api_jwt_encode(const unsigned char key[HTTP_API_KEY_LEN],
			const char *sub, long long now, int ttl_s, char **out);
/* Verifies token: HS256 only (alg none or any other is refused), the
 * signature under key, iss "keryu", typ "access", exp after now, sub a
 * UUID (copied into sub). Returns 0 or KERYU_EINVAL. */
int http_api_jwt_verify(const unsigned char key[HTTP_API_KEY_LEN],
			const char *token, long long now,
			char sub[KERYU_UUID_LEN]);
/* Authenticates the call's Bearer token (c->who, c->authed). False after
 * answering 401 with WWW-Authenticate, or 503. */
bool http_api_authenticate(struct http_api_call *c);
void http_api_auth_token(struct http_api_call *c);
void http_api_auth_refresh(struct http_api_call *c);
void http_api_auth_logout(struct http_api_call *c);
void http_api_me(struct http_api_call *c);

/* ---- http_api_subjects.c ---- */
void http_api_subjects_list(struct http_api_call *c);
void http_api_subject_create(struct http_api_call *c);
void http_api_subject_get(struct http_api_call *c);
void http_api_subject_patch(struct http_api_call *c);
void http_api_subject_delete(struct http_api_call *c);
void http_api_contacts_list(struct http_api_call *c);
void http_api_contact_create(struct http_api_call *c);
void http_api_contact_delete(struct http_api_call *c);

/* ---- http_api_tags.c ---- */
void http_api_tags_list(struct http_api_call *c);
void http_api_tag_create(struct http_api_call *c);
void http_api_tag_get(struct http_api_call *c);
void http_api_tag_activate(struct http_api_call *c);
void http_api_tag_deactivate(struct http_api_call *c);
void http_api_tag_png(struct http_api_call *c);
void http_api_tag_svg(struct http_api_call *c);

/* ---- http_api_alarms.c ---- */
void http_api_alarms_list(struct http_api_call *c);
void http_api_alarm_get(struct http_api_call *c);
void http_api_alarm_acknowledge(struct http_api_call *c);
void http_api_alarm_resolve(struct http_api_call *c);

/* ---- http_api_docs.c ---- */
/* The OpenAPI document's bytes (NUL-terminated; *len excludes the NUL),
 * compiled in by the file embed_openapi.cmake generates. Never fails. */
const char *http_api_openapi_bytes(size_t *len);
/* GET /api/v1/openapi.json: the OpenAPI 3.1 document (docs/api/openapi.json,
 * embedded at build time), application/json. */
void http_api_openapi(struct http_ctx *ctx, const struct http_request *req,
		      struct http_response *r);
/* GET /api/v1/docs: a human-readable page rendered from the same document
 * (every path, method, parameter, body and response), text/html. */
void http_api_docs_page(struct http_ctx *ctx, const struct http_request *req,
			struct http_response *r);

#endif
