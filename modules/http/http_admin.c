/* The staff pages under /admin/: the route table, the index with a count
 * per section, and the helpers the other http_admin_*.c files share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_admin.h"
#include "http_tags_alarms.h"

/* Wider than the custodians' pages on a desktop; still one column that
 * fits 320 px. */
static const char admin_style[] =
	"<style>\n"
	"nav,main{max-width:56rem}\n"
	".sections{display:flex;flex-wrap:wrap;gap:.25rem 1rem;"
	"font-size:1rem;margin:0 0 1rem}\n"
	".rows{list-style:none;padding:0;margin:0 0 1rem}\n"
	".row{border-top:1px solid #ccc;padding:.5rem 0;"
	"overflow-wrap:anywhere}\n"
	".row form,.inline{display:inline;margin:0}\n"
	".row button,.inline button{font-size:1rem;padding:.2rem .6rem;"
	"margin:.25rem .5rem 0 0}\n"
	".filters{border:1px solid #ccc;padding:.5rem .75rem;margin:0 0 1rem}\n"
	".filters .field{margin:0 0 .5rem}\n"
	"select,textarea,input[type=date],input[type=number]{display:block;"
	"width:100%;max-width:100%;font:inherit;padding:.4rem;"
	"border:1px solid #777;border-radius:.25rem}\n"
	".has-error select,.has-error textarea{border:2px solid #b00020}\n"
	".pages{display:flex;flex-wrap:wrap;gap:.5rem 1rem;margin:0 0 1rem}\n"
	".counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;"
	"gap:.5rem;margin:0 0 1rem}\n"
	".counts li{border:1px solid #999;border-radius:.25rem;"
	"padding:.4rem .7rem}\n"
	".open{color:#b00020;font-weight:600}"
	".resolved{color:#0a7d32;font-weight:600}\n"
	".timeline{padding-left:1.2rem;margin:0 0 1rem}\n"
	".timeline li{margin:0 0 .5rem;overflow-wrap:anywhere}\n"
	".notes{white-space:pre-wrap;overflow-wrap:anywhere}\n"
	"code{overflow-wrap:anywhere}\n"
	"</style>\n";

static const struct {
	const char *href, *label;
} sections[] = {
	{"/admin/custodians/", "Custodians"},
	{"/admin/subjects/", "Subjects"},
	{"/admin/tags/", "Tags"},
	{"/admin/alarms/", "Alarms"},
	{"/admin/templates/", "Templates"},
	{"/admin/settings/", "Settings"},
	{"/admin/deliveries/", "Failed deliveries"},
	{"/admin/audit/", "Audit log"},
};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

/* ---- shared ---- */

const struct keryu_admin *http_admin_service(struct http_page *p)
{
	const struct keryu_admin *a = p->ctx->admin;

	if (!a || a->struct_size < sizeof(*a)) {
		http_page_error(p->r, 503, "Temporarily unavailable",
				"The administration pages cannot be used on "
				"this server right now.");
		p->r->no_store = true;
		return NULL;
	}
	return a;
}

bool http_admin_begin(struct http_page *p, const char *title,
		      unsigned status)
{
	struct html *h = &p->r->body;
	size_t i;

	if (!http_form_page(p, title, status))
		return false;
	html_raw(h, admin_style);
	html_raw(h, "<nav class=\"sections\" aria-label=\"Administration\">"
		    "<a href=\"/admin/\">Overview</a>\n");
	for (i = 0; i < N_SECTIONS; i++) {
		http_link(h, sections[i].href, sections[i].label);
		html_raw(h, "\n");
	}
	html_raw(h, "</nav>\n");
	return true;
}

bool http_admin_url_add(char *url, size_t size, const char *name,
			const char *value)
{
	char enc[HTTP_ADMIN_URL_MAX];
	size_t used = strlen(url);
	int n;

	if (!value || !*value)
		return true;
	if (!http_url_encode(value, enc, sizeof(enc)))
		return false;
	n = snprintf(url + used, size - used, "%s=%s&", name, enc);
	if (n < 0 || (size_t)n >= size - used) {
		url[used] = '\0';
		return false;
	}
	return true;
}

void http_admin_pager(struct html *h, const char *base, int page, int total,
		      bool more)
{
	int last = total > 0 ? (total - 1) / HTTP_ADMIN_PAGE_SIZE + 1 : 1;
	char url[HTTP_ADMIN_URL_MAX + 32];

	if (total >= 0)
		more = page < last;
	html_raw(h, "<nav class=\"pages\" aria-label=\"Pages\">\n");
	if (page > 1) {
		snprintf(url, sizeof(url), "%spage=%d", base,
			 total >= 0 && page - 1 > last ? last : page - 1);
		html_raw(h, "<a rel=\"prev\" href=\"");
		html_attr(h, url);
		html_raw(h, "\">&larr; Previous</a>\n");
	}
	html_raw(h, "<span>");
	if (total >= 0)
		html_textf(h, "Page %d of %d", page, last);
	else
		html_textf(h, "Page %d", page);
	html_raw(h, "</span>\n");
	if (more) {
		snprintf(url, sizeof(url), "%spage=%d", base, page + 1);
		html_raw(h, "<a rel=\"next\" href=\"");
		html_attr(h, url);
		html_raw(h, "\">Next &rarr;</a>\n");
	}
	html_raw(h, "</nav>\n");
}

void http_admin_button(struct http_page *p, const char *action,
		       const char *label, const char *back)
{
	struct html *h = &p->r->body;

	html_raw(h, "<form class=\"inline\" method=\"post\" action=\"");
	html_attr(h, action);
	html_raw(h, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
	html_attr(h, p->s->row.csrf);
	html_raw(h, "\">");
	if (back) {
		html_raw(h, "<input type=\"hidden\" name=\"back\" value=\"");
		html_attr(h, back);
		html_raw(h, "\">");
	}
	html_raw(h, "<button type=\"submit\">");
	html_text(h, label);
	html_raw(h, "</button></form>\n");
}

const char *http_admin_back(const struct http_page *p, const char *dflt)
{
	const char *back = http_field(p, "back");

	/* only back to a staff page: never an open redirect */
	if (http_next_valid(back) && strncmp(back, "/admin/", 7) == 0 &&
	    strlen(back) < HTTP_ADMIN_URL_MAX)
		return back;
	return dflt;
}

void http_admin_done(struct http_page *p, const char *path,
		     const char *notice)
{
	char loc[HTTP_ADMIN_URL_MAX + 64];
	size_t n = strlen(path);
	const char *sep = "?";

	if (strchr(path, '?'))
		sep = n && (path[n - 1] == '?' || path[n - 1] == '&') ? ""
								      : "&";
	snprintf(loc, sizeof(loc), "%s%snotice=%s", path, sep, notice);
	http_redirect(p->r, loc);
}

bool http_admin_id(struct http_page *p, char id[KERYU_UUID_LEN])
{
	if (http_uuid_arg(p->arg[0], id))
		return true;
	http_not_found(p);
	return false;
}

bool http_admin_listed(struct http_page *p, int rc, struct html_errors *e,
		       const char *field, const char *event)
{
	if (rc == KERYU_EINVAL) {
		html_errors_add(e, field,
				field ? "This search was not accepted."
				      : "These filters were not accepted.");
		return true;
	}
	if (rc)
		http_service_failed(p, event, rc);
	return rc == 0;
}

void http_admin_fail(struct http_page *p, const char *event, int rc)
{
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		return;
	}
	http_service_failed(p, event, rc);
}

const char *http_admin_bool(bool b)
{
	return b ? "true" : "false";
}

/* ---- the index ---- */

static void count_item(struct html *h, const char *href, int n,
		       const char *what)
{
	html_raw(h, "<li><a href=\"");
	html_attr(h, href);
	html_raw(h, "\">");
	if (n >= 0) {
		html_raw(h, "<strong>");
		html_textf(h, "%d", n);
		html_raw(h, "</strong> ");
	}
	html_text(h, what);
	html_raw(h, "</a></li>\n");
}

static void admin_home(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	struct keryu_admin_subject *sub = NULL;
	struct keryu_admin_tag *tag = NULL;
	struct keryu_admin_alarm *al = NULL;
	struct keryu_failed_delivery *fd = NULL;
	struct keryu_audit_entry *au = NULL;
	struct keryu_alarm_filter af;
	struct keryu_audit_filter uf;
	struct html *h = &p->r->body;
	int n_sub = -1, n_tag = -1, n_open = -1, n_failed = -1, n_audit = -1;
	size_t n;

	if (!a)
		return;
	sub = calloc(1, sizeof(*sub));
	tag = calloc(1, sizeof(*tag));
	al = calloc(1, sizeof(*al));
	fd = calloc(1, sizeof(*fd));
	au = calloc(1, sizeof(*au));
	if (!sub || !tag || !al || !fd || !au) {
		http_service_failed(p, "http.admin_home", KERYU_ENOMEM);
		goto out;
	}
	/* a count that cannot be read is left out, not the page */
	if (a->subjects_all(a->self, "", 0, sub, 1, &n, &n_sub))
		n_sub = -1;
	if (a->tags_all(a->self, "", 0, tag, 1, &n, &n_tag))
		n_tag = -1;
	memset(&af, 0, sizeof(af));
	snprintf(af.state, sizeof(af.state), "open");
	af.limit = 1;
	if (a->alarms_all(a->self, &af, al, 1, &n, &n_open))
		n_open = -1;
	if (a->deliveries_failed(a->self, 0, fd, 1, &n, &n_failed))
		n_failed = -1;
	memset(&uf, 0, sizeof(uf));
	uf.limit = 1;
	if (a->audit_list(a->self, &uf, au, 1, &n, &n_audit))
		n_audit = -1;

	if (!http_admin_begin(p, "Administration", 200))
		goto out;
	html_raw(h, "<p>Run this instance: its custodians, their subjects, "
		    "tags and alarms, the message templates, the settings, "
		    "failed deliveries and the audit log.</p>\n"
		    "<ul class=\"counts\">\n");
	count_item(h, "/admin/custodians/", -1, "Custodians");
	count_item(h, "/admin/subjects/", n_sub, "subjects");
	count_item(h, "/admin/tags/", n_tag, "tags");
	count_item(h, "/admin/alarms/?state=open", n_open, "open alarms");
	count_item(h, "/admin/deliveries/", n_failed, "failed deliveries");
	count_item(h, "/admin/audit/", n_audit, "audit entries");
	count_item(h, "/admin/templates/", -1, "Message templates");
	count_item(h, "/admin/settings/", -1, "Settings");
	html_raw(h, "</ul>\n");
	http_layout_end(h);
out:
	free(sub);
	free(tag);
	free(al);
	free(fd);
	free(au);
}

/* path, handler, get, post, login, staff */
const struct http_page_route http_admin_routes[] = {
	{"/admin/", admin_home, true, false, true, true},
	{"/admin/custodians/", http_admin_custodians, true, false, true, true},
	{"/admin/custodians/*/", http_admin_custodian, true, false, true, true},
	{"/admin/custodians/*/deactivate", http_admin_custodian_deactivate,
	 false, true, true, true},
	{"/admin/custodians/*/reactivate", http_admin_custodian_reactivate,
	 false, true, true, true},
	{"/admin/custodians/*/staff-grant", http_admin_staff_grant, false,
	 true, true, true},
	{"/admin/custodians/*/staff-revoke", http_admin_staff_revoke, false,
	 true, true, true},
	{"/admin/custodians/*/reset-phone", http_admin_reset_phone, false,
	 true, true, true},
	{"/admin/subjects/", http_admin_subjects, true, false, true, true},
	{"/admin/subjects/*/", http_admin_subject, true, false, true, true},
	{"/admin/tags/", http_admin_tags, true, false, true, true},
	{"/admin/tags/*/deactivate", http_admin_tag_deactivate, false, true,
	 true, true},
	{"/admin/tags/*/activate", http_admin_tag_activate, false, true, true,
	 true},
	{"/admin/alarms/", http_admin_alarms, true, false, true, true},
	{"/admin/alarms/*/", http_admin_alarm, true, false, true, true},
	{"/admin/alarms/*/resolve", http_admin_alarm_resolve, false, true,
	 true, true},
	{"/admin/templates/", http_admin_templates, true, true, true, true},
	{"/admin/templates/delete", http_admin_template_delete, false, true,
	 true, true},
	{"/admin/settings/", http_admin_settings, true, true, true, true},
	{"/admin/deliveries/", http_admin_deliveries, true, false, true, true},
	{"/admin/deliveries/*/retry", http_admin_delivery_retry, false, true,
	 true, true},
	{"/admin/audit/", http_admin_audit, true, false, true, true},
};
const size_t http_admin_n_routes =
	sizeof(http_admin_routes) / sizeof(http_admin_routes[0]);
