/* A subject's QR tags: the list, a new tag, activating one (the service
 * deactivates the subject's others in the same transaction), the QR code
 * as PNG or SVG download, and a print page sized for a small label. The
 * QR code always encodes the qr service's scan URL, so every image of a
 * tag decodes to the same address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_account.h"
#include "http_tags_alarms.h"

#define TAGS_MAX 50
#define NEW_TAG_TRIES 5

static void tags_path(char *out, size_t size, const char *subject,
		      const char *rest)
{
	snprintf(out, size, "/subjects/%s/tags/%s", subject, rest);
}

/* The subject named by arg[0], for this custodian; false with r set
 * (404 or 503) otherwise. s is heap-allocated by the caller: it holds
 * several KiB of text. */
static bool load_subject(struct http_page *p,
			 const struct keryu_subjects *svc,
			 char id[KERYU_UUID_LEN], struct keryu_subject *s)
{
	int rc;

	if (!http_uuid_arg(p->arg[0], id)) {
		http_not_found(p);
		return false;
	}
	rc = svc->subject_get(svc->self, p->s->who.id, id, s);
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		return false;
	}
	if (rc) {
		http_service_failed(p, "http.tags", rc);
		return false;
	}
	return true;
}

/* The tag arg[1] of subject arg[0], for this custodian. A tag of another
 * subject of the same custodian is not found under this one either. */
static bool load_tag(struct http_page *p, const struct keryu_subjects *svc,
		     char subject[KERYU_UUID_LEN], struct keryu_tag *t)
{
	char tag[KERYU_UUID_LEN], owner[KERYU_UUID_LEN];
	int rc;

	if (!http_uuid_arg(p->arg[0], subject) ||
	    !http_uuid_arg(p->arg[1], tag)) {
		http_not_found(p);
		return false;
	}
	memset(t, 0, sizeof(*t));
	rc = svc->tag_get(svc->self, p->s->who.id, tag, t);
	if (rc == KERYU_ENOTFOUND ||
	    (rc == 0 && (!http_uuid_arg(t->subject_id, owner) ||
			 strcmp(owner, subject) != 0))) {
		http_not_found(p);
		return false;
	}
	if (rc) {
		http_service_failed(p, "http.tags", rc);
		return false;
	}
	return true;
}

/* ---- the list ---- */

static const char tags_style[] =
	"<style>\n"
	".tags{list-style:none;padding:0;margin:0 0 1rem}\n"
	".tag{border-top:1px solid #ccc;padding:.6rem 0}\n"
	".code{font-family:ui-monospace,Menlo,Consolas,monospace;"
	"font-weight:700;letter-spacing:.08em}\n"
	".on{color:#0a7d32;font-weight:600}.off{color:#555}\n"
	".tag form{display:inline;margin:0}\n"
	".tag a,.tag button{margin-right:.6rem}\n"
	"</style>\n";

static void a_link(struct html *h, const char *href, const char *text)
{
	html_raw(h, "<a href=\"");
	html_attr(h, href);
	html_raw(h, "\">");
	html_text(h, text);
	html_raw(h, "</a>");
}

static void tag_item(struct http_page *p, const char *subject,
		     const struct keryu_tag *t)
{
	struct html *h = &p->r->body;
	char path[160], rest[96];

	html_raw(h, "<li class=\"tag\"><span class=\"code\">");
	html_text(h, t->short_code);
	html_raw(h, t->is_active ? "</span> <span class=\"on\">Active</span>"
				 : "</span> <span class=\"off\">Inactive"
				   "</span>");
	html_raw(h, "<br><span class=\"small\">Last scan: ");
	http_time(h, t->last_used, "never");
	html_raw(h, " &middot; made ");
	http_time(h, t->created_at, "-");
	html_raw(h, "</span><br>\n");
	snprintf(rest, sizeof(rest), "%s/print", t->uuid);
	tags_path(path, sizeof(path), subject, rest);
	a_link(h, path, "Print");
	snprintf(rest, sizeof(rest), "%s/qr.png", t->uuid);
	tags_path(path, sizeof(path), subject, rest);
	a_link(h, path, "PNG");
	snprintf(rest, sizeof(rest), "%s/qr.svg", t->uuid);
	tags_path(path, sizeof(path), subject, rest);
	a_link(h, path, "SVG");
	snprintf(rest, sizeof(rest), "%s/%s", t->uuid,
		 t->is_active ? "deactivate" : "activate");
	tags_path(path, sizeof(path), subject, rest);
	html_form_begin(h, path, p->s->row.csrf);
	html_raw(h, "<button type=\"submit\">");
	html_text(h, t->is_active ? "Deactivate" : "Activate");
	html_raw(h, "</button></form>\n</li>\n");
}



void http_tags_list(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	const char *notice = http_query(p, "notice");
	struct keryu_subject *subj = NULL;
	struct keryu_tag *tags = NULL;
	struct html *h = &p->r->body;
	char id[KERYU_UUID_LEN], title[160], path[160];
	size_t n = 0, i;
	int rc;

	if (!svc)
		return;
	subj = malloc(sizeof(*subj));
	tags = calloc(TAGS_MAX, sizeof(*tags));
	if (!subj || !tags) {
		http_service_failed(p, "http.tags", KERYU_ENOMEM);
		goto out;
	}
	if (!load_subject(p, svc, id, subj))
		goto out;
	rc = svc->tag_list(svc->self, p->s->who.id, id, tags, TAGS_MAX, &n);
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		goto out;
	}
	if (rc) {
		http_service_failed(p, "http.tags", rc);
		goto out;
	}
	snprintf(title, sizeof(title), "QR tags of %s", subj->name);
	if (!http_form_page(p, title, 200))
		goto out;
	html_raw(h, tags_style);
	if (strcmp(notice, "created") == 0)
		http_notice(h, "A new tag was made. Activate it once it is "
			       "printed and attached.");
	else if (strcmp(notice, "activated") == 0)
		http_notice(h, "The tag is active. The subject's other tags "
			       "were deactivated.");
	else if (strcmp(notice, "deactivated") == 0)
		http_notice(h, "The tag is deactivated: scanning it no longer "
			       "raises an alarm.");
	html_raw(h, "<p>A scan of the active tag alerts you. Only one tag "
		    "per subject is active: activating one deactivates the "
		    "others.</p>\n");
	if (n == 0)
		html_raw(h, "<p>No tags yet.</p>\n");
	html_raw(h, "<ul class=\"tags\">\n");
	for (i = 0; i < n && i < TAGS_MAX; i++)
		tag_item(p, id, &tags[i]);
	html_raw(h, "</ul>\n");
	tags_path(path, sizeof(path), id, "new");
	html_form_begin(h, path, p->s->row.csrf);
	html_form_end(h, "Make a new tag");
	snprintf(path, sizeof(path), "/subjects/%s/", id);
	html_raw(h, "<p class=\"small\">");
	a_link(h, path, "Back to the subject");
	html_raw(h, " &middot; ");
	a_link(h, "/dashboard/", "Dashboard");
	html_raw(h, "</p>\n");
	http_layout_end(h);
out:
	free(subj);
	free(tags);
}

/* ---- changes ---- */

void http_tag_new(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	char id[KERYU_UUID_LEN], code[KERYU_SHORT_CODE_LEN], path[160];
	struct keryu_tag t;
	int rc = KERYU_ECONFLICT, i;

	if (!svc)
		return;
	if (!http_uuid_arg(p->arg[0], id)) {
		http_not_found(p);
		return;
	}
	/* 29^8 codes: a collision is rare, five in a row means something
	 * else is wrong */
	for (i = 0; i < NEW_TAG_TRIES && rc == KERYU_ECONFLICT; i++) {
		http_short_code_new(code);
		memset(&t, 0, sizeof(t));
		rc = svc->tag_create(svc->self, p->s->who.id, id, code, &t);
	}
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		return;
	}
	if (rc) {
		http_service_failed(p, "http.tag_new", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.tag_new",
			  "custodian=%s subject=%s qr=%s", p->s->who.id, id,
			  t.uuid);
	tags_path(path, sizeof(path), id, "?notice=created");
	http_redirect(p->r, path);
}

static void set_active(struct http_page *p, bool active)
{
	const struct keryu_subjects *svc = http_subjects(p);
	char subject[KERYU_UUID_LEN], path[160];
	struct keryu_tag t;
	int rc;

	if (!svc || !load_tag(p, svc, subject, &t))
		return;
	/* deactivating is always allowed: it only stops alerts */
	if (active && !http_phone_verified_or_page(p))
		return;
	rc = svc->tag_set_active(svc->self, p->s->who.id, t.uuid, active);
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		return;
	}
	if (rc) {
		http_service_failed(p, "http.tag_active", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.tag_active",
			  "custodian=%s qr=%s active=%d", p->s->who.id, t.uuid,
			  active);
	tags_path(path, sizeof(path), subject,
		  active ? "?notice=activated" : "?notice=deactivated");
	http_redirect(p->r, path);
}

void http_tag_activate(struct http_page *p)
{
	set_active(p, true);
}

void http_tag_deactivate(struct http_page *p)
{
	set_active(p, false);
}

/* ---- images ---- */

/* Loads the tag and its scan URL; false with r set otherwise. */
static bool tag_url(struct http_page *p, struct keryu_tag *t,
		    char subject[KERYU_UUID_LEN], char *url, size_t size)
{
	const struct keryu_subjects *svc = http_subjects(p);
	const struct keryu_qr *qr = p->ctx->qr;
	int rc;

	if (!svc || !load_tag(p, svc, subject, t))
		return false;
	if (!qr) {
		http_unavailable(p);
		return false;
	}
	rc = qr->scan_url(qr->self, t->uuid, url, size);
	if (rc) {
		http_service_failed(p, "http.tag_qr", rc);
		return false;
	}
	return true;
}

int http_tag_image(struct http_ctx *ctx, const struct keryu_tag *t, bool png,
		   const char *disposition, struct http_response *r)
{
	const struct keryu_qr *qr = ctx->qr;
	char url[512];
	unsigned char *data = NULL;
	char *svg = NULL;
	size_t len = 0;
	int rc;

	if (!qr)
		return KERYU_ENOTFOUND;
	rc = qr->scan_url(qr->self, t->uuid, url, sizeof(url));
	if (!rc)
		rc = png ? qr->png(qr->self, url, &data, &len)
			 : qr->svg(qr->self, url, &svg, &len);
	if (rc) {
		free(data);
		free(svg);
		return rc;
	}
	html_free(&r->body);
	html_init(&r->body);
	html_bytes(&r->body, png ? (const void *)data : (const void *)svg, len);
	free(data);
	free(svg);
	r->status = 200;
	r->content_type = png ? "image/png" : "image/svg+xml";
	snprintf(r->disposition, sizeof(r->disposition),
		 "%s; filename=\"keryu-tag-%s.%s\"", disposition, t->short_code,
		 png ? "png" : "svg");
	return 0;
}

static void image(struct http_page *p, bool png)
{
	const struct keryu_subjects *svc = http_subjects(p);
	char subject[KERYU_UUID_LEN];
	struct keryu_tag t;
	int rc;

	if (!svc || !load_tag(p, svc, subject, &t))
		return;
	if (!p->ctx->qr) {
		http_unavailable(p);
		return;
	}
	rc = http_tag_image(p->ctx, &t, png, "attachment", p->r);
	if (rc)
		http_service_failed(p, "http.tag_qr", rc);
}

void http_tag_png(struct http_page *p)
{
	image(p, true);
}

void http_tag_svg(struct http_page *p)
{
	image(p, false);
}

/* ---- the print page ---- */

/* A label about 54 mm wide (a luggage or key tag); on screen the same
 * label with instructions around it that do not print. */
static const char print_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, "
	"initial-scale=1\">\n<meta name=\"robots\" content=\"noindex\">\n"
	"<title>Print tag - Keryu</title>\n<style>\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;padding:1rem;background:#fff;color:#000;"
	"font:1rem/1.4 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\n"
	".label{width:54mm;max-width:100%;margin:0 auto 1rem;padding:3mm;"
	"border:1px dashed #888;text-align:center;break-inside:avoid}\n"
	".qr svg{display:block;width:44mm;height:44mm;max-width:100%;"
	"margin:0 auto}\n"
	".name{font-weight:700;font-size:13pt;margin:1mm 0 0;"
	"overflow-wrap:anywhere}\n"
	".code{font:700 14pt/1.2 ui-monospace,Menlo,Consolas,monospace;"
	"letter-spacing:.12em;margin:1mm 0 0}\n"
	".url{font-size:7pt;margin:.5mm 0 0;overflow-wrap:anywhere}\n"
	".help{max-width:32rem;margin:0 auto}\n"
	"a{color:#0b4f9c}\n"
	"@page{size:auto;margin:5mm}\n"
	"@media print{body{padding:0}.help{display:none}"
	".label{margin:0;border:1px solid #000}}\n"
	"</style>\n</head>\n<body>\n";

/* The first word of a name, for the label. */
static void first_name(const char *name, char *out, size_t size)
{
	size_t n;

	while (*name == ' ')
		name++;
	n = strcspn(name, " \t");
	if (n >= size)
		n = size - 1; /* may cut a UTF-8 sequence: re-checked below */
	memcpy(out, name, n);
	out[n] = '\0';
}

void http_tag_print(struct http_page *p)
{
	const struct keryu_subjects *svc = p->ctx->subjects;
	const struct keryu_qr *qr = p->ctx->qr;
	struct keryu_subject *subj = NULL;
	struct html *h = &p->r->body;
	char subject[KERYU_UUID_LEN], url[512], base[512], short_url[600];
	char name[101], safe_name[101], back[160];
	struct keryu_tag t;
	char *svg = NULL;
	const char *start;
	size_t len = 0;
	int rc;

	if (!tag_url(p, &t, subject, url, sizeof(url)))
		return;
	subj = malloc(sizeof(*subj));
	if (!subj) {
		http_service_failed(p, "http.tag_print", KERYU_ENOMEM);
		return;
	}
	rc = svc->subject_get(svc->self, p->s->who.id, subject, subj);
	if (rc == 0)
		rc = qr->svg(qr->self, url, &svg, &len);
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		goto out;
	}
	if (rc) {
		http_service_failed(p, "http.tag_print", rc);
		goto out;
	}
	/* the SVG is the qr module's own output (numbers and path data, no
	 * text from anyone): inlined without its XML declaration so that
	 * it prints at the label's size */
	start = strstr(svg, "<svg");
	if (!start) {
		http_service_failed(p, "http.tag_print", KERYU_ERR);
		goto out;
	}
	first_name(subj->name, name, sizeof(name));
	keryu_utf8_copy(safe_name, sizeof(safe_name), name);
	http_public_base(p->ctx, base, sizeof(base));
	snprintf(short_url, sizeof(short_url), "%s/t/%s", base, t.short_code);

	p->r->status = 200;
	html_raw(h, print_head);
	html_raw(h, "<div class=\"label\">\n<div class=\"qr\" role=\"img\" "
		    "aria-label=\"QR code\">");
	html_raw(h, start);
	html_raw(h, "</div>\n<p class=\"name\">");
	html_text(h, safe_name);
	html_raw(h, "</p>\n<p class=\"code\">");
	html_text(h, t.short_code);
	html_raw(h, "</p>\n<p class=\"url\">");
	html_text(h, short_url);
	html_raw(h, "</p>\n</div>\n<div class=\"help\">\n<p>Print this page "
		    "(only the label prints). A finder scans the code or "
		    "types the address under it.</p>\n");
	if (!t.is_active)
		html_raw(h, "<p><strong>This tag is not active yet:</strong> "
			    "activate it on the tags page once it is "
			    "attached.</p>\n");
	tags_path(back, sizeof(back), subject, "");
	html_raw(h, "<p>");
	a_link(h, back, "Back to the tags");
	html_raw(h, "</p>\n</div>\n</body>\n</html>\n");
out:
	free(svg);
	free(subj);
}
