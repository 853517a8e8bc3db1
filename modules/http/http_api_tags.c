/* /api/v1/subjects/{id}/tags and /api/v1/tags/{uuid}: a subject's QR
 * tags, making one, switching one on or off, and its image (the same PNG
 * and SVG the tag pages give, from the qr service). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_api.h"
#include "http_tags_alarms.h"

#define TAGS_MAX 100
#define CODE_TRIES 5

static cJSON *tag_json(struct http_api_call *c, const struct keryu_tag *t)
{
	const struct keryu_qr *qr = c->ctx->qr;
	cJSON *o = cJSON_CreateObject();
	char url[512] = "";

	if (!o)
		return NULL;
	if (qr && qr->scan_url(qr->self, t->uuid, url, sizeof(url)) != 0)
		url[0] = '\0';
	cJSON_AddStringToObject(o, "uuid", t->uuid);
	cJSON_AddStringToObject(o, "subject_id", t->subject_id);
	cJSON_AddStringToObject(o, "short_code", t->short_code);
	cJSON_AddBoolToObject(o, "is_active", t->is_active);
	http_api_add_str(o, "created_at", t->created_at);
	http_api_add_str(o, "activated_at", t->activated_at);
	http_api_add_str(o, "last_used", t->last_used);
	http_api_add_str(o, "scan_url", url);
	return o;
}

static const struct keryu_subjects *service(struct http_api_call *c)
{
	if (!c->ctx->subjects)
		http_api_unavailable(c);
	return c->ctx->subjects;
}

/* A body, if any, must be {}. */
static bool empty_body(struct http_api_call *c)
{
	struct http_api_errors e = {0};

	if (http_api_json_read(c->body, NULL, 0, NULL, &e, NULL))
		return true;
	http_api_invalid(c->r, &e);
	return false;
}

void http_api_tags_list(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	struct keryu_subject s;
	struct keryu_tag *t;
	char owner[KERYU_UUID_LEN];
	cJSON *o, *items;
	size_t n = 0, i;
	int rc;

	if (!sv || !http_api_scope(c, KERYU_OWNED_SUBJECT, c->arg[0], owner))
		return;
	t = calloc(TAGS_MAX, sizeof(*t));
	if (!t) {
		http_api_unavailable(c);
		return;
	}
	/* tag_list of a subject that is not the owner's is an empty list,
	 * not a 404: ask for the subject first */
	rc = sv->subject_get(sv->self, owner, c->arg[0], &s);
	if (!rc)
		rc = sv->tag_list(sv->self, owner, c->arg[0], t, TAGS_MAX, &n);
	if (rc) {
		free(t);
		http_api_fail(c, "http.api_tags", rc, NULL);
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; items && i < n; i++)
		cJSON_AddItemToArray(items, tag_json(c, &t[i]));
	free(t);
	http_api_reply(c, 200, o);
}

void http_api_tag_create(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	char owner[KERYU_UUID_LEN], code[KERYU_SHORT_CODE_LEN];
	struct keryu_tag t;
	int rc = KERYU_ECONFLICT, i;

	if (!sv || !empty_body(c) ||
	    !http_api_scope(c, KERYU_OWNED_SUBJECT, c->arg[0], owner))
		return;
	/* a random short code may be taken: draw again */
	for (i = 0; i < CODE_TRIES && rc == KERYU_ECONFLICT; i++) {
		http_short_code_new(code);
		rc = sv->tag_create(sv->self, owner, c->arg[0], code, &t);
	}
	if (rc) {
		http_api_fail(c, "http.api_tag_create", rc,
			      "No free short code was found; try again.");
		return;
	}
	http_api_audit(c, "tag.create", "tag", t.uuid, NULL);
	http_api_reply(c, 201, tag_json(c, &t));
}

/* Loads tag arg[0] for the caller. */
static bool tag_load(struct http_api_call *c, struct keryu_tag *t,
		     char owner[KERYU_UUID_LEN])
{
	const struct keryu_subjects *sv = service(c);
	int rc;

	if (!sv || !http_api_scope(c, KERYU_OWNED_TAG, c->arg[0], owner))
		return false;
	rc = sv->tag_get(sv->self, owner, c->arg[0], t);
	if (rc) {
		http_api_fail(c, "http.api_tag", rc, NULL);
		return false;
	}
	return true;
}

void http_api_tag_get(struct http_api_call *c)
{
	char owner[KERYU_UUID_LEN];
	struct keryu_tag t;

	if (tag_load(c, &t, owner))
		http_api_reply(c, 200, tag_json(c, &t));
}

static void set_active(struct http_api_call *c, bool active)
{
	const struct keryu_subjects *sv = c->ctx->subjects;
	char owner[KERYU_UUID_LEN];
	struct keryu_tag t;
	int rc;

	if (!empty_body(c) || !tag_load(c, &t, owner))
		return;
	rc = sv->tag_set_active(sv->self, owner, t.uuid, active);
	/* not t.uuid: tag_get clears its out struct first */
	if (!rc)
		rc = sv->tag_get(sv->self, owner, c->arg[0], &t);
	if (rc) {
		http_api_fail(c, "http.api_tag_active", rc, NULL);
		return;
	}
	http_api_audit(c, active ? "tag.activate" : "tag.deactivate", "tag",
		       t.uuid, NULL);
	http_api_reply(c, 200, tag_json(c, &t));
}

void http_api_tag_activate(struct http_api_call *c)
{
	set_active(c, true);
}

void http_api_tag_deactivate(struct http_api_call *c)
{
	set_active(c, false);
}

static void image(struct http_api_call *c, bool png)
{
	char owner[KERYU_UUID_LEN];
	struct keryu_tag t;
	int rc;

	if (!tag_load(c, &t, owner))
		return;
	if (!c->ctx->qr) {
		http_api_unavailable(c);
		return;
	}
	rc = http_tag_image(c->ctx, &t, png, "inline", c->r);
	if (rc) {
		/* the qr service's EINVAL is its own failure, not a bad id */
		http_api_fail(c, "http.api_tag_qr",
			      rc == KERYU_EINVAL ? KERYU_EIO : rc, NULL);
		return;
	}
	c->r->no_store = true;
}

void http_api_tag_png(struct http_api_call *c)
{
	image(c, true);
}

void http_api_tag_svg(struct http_api_call *c)
{
	image(c, false);
}
