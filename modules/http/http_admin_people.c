/* Staff pages for custodians: the searchable list, one custodian with
 * their subjects and audit entries, and the actions on an account
 * (deactivate, reactivate, grant or revoke staff, reset the phone
 * verification). A staff member cannot lock themself out: deactivating
 * their own account or revoking their own staff is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_admin.h"
#include "http_subjects.h"
#include "http_tags_alarms.h"

#define SEARCH_MAX 254
#define SUBJECTS_SHOWN 50
#define AUDIT_SHOWN 10

/* ---- the list ---- */

static void custodian_row(struct html *h, const struct keryu_custodian *c)
{
	char href[64];

	snprintf(href, sizeof(href), "/admin/custodians/%s/", c->id);
	html_raw(h, "<li class=\"row\"><a href=\"");
	html_attr(h, href);
	html_raw(h, "\"><strong>");
	html_text(h, c->name);
	html_raw(h, "</strong></a> ");
	if (c->is_staff)
		html_raw(h, "<span class=\"small\">(staff)</span> ");
	if (!c->is_active)
		html_raw(h, "<span class=\"open\">Inactive</span>");
	html_raw(h, "<br>");
	html_text(h, c->email);
	html_raw(h, "<br><span class=\"small\">Phone ");
	html_text(h, c->phone_verified ? "verified" : "not verified");
	html_raw(h, " &middot; since ");
	http_time(h, c->created_at, "-");
	html_raw(h, "</span></li>\n");
}

void http_admin_custodians(struct http_page *p)
{
	const struct keryu_accounts *acc = p->ctx->accounts;
	const char *q = http_query(p, "q");
	struct keryu_custodian *list = NULL;
	struct html_errors e = {0};
	struct html *h = &p->r->body;
	char base[HTTP_ADMIN_URL_MAX] = "/admin/custodians/?";
	size_t n = 0, i;
	int page = 1, rc;

	if (!http_admin_service(p) ||
	    !http_service_has(p, acc->custodian_list != NULL))
		return;
	if (strlen(q) > SEARCH_MAX)
		html_errors_add(&e, "q", "The search is too long.");
	http_page_arg(p, HTTP_ADMIN_PAGE_SIZE, &page, &e);
	if (!e.n) {
		/* one more than shown tells whether a next page exists */
		list = calloc(HTTP_ADMIN_PAGE_SIZE + 1, sizeof(*list));
		rc = list ? acc->custodian_list(
				    acc->self, q,
				    (page - 1) * HTTP_ADMIN_PAGE_SIZE, list,
				    HTTP_ADMIN_PAGE_SIZE + 1, &n)
			  : KERYU_ENOMEM;
		if (!http_admin_listed(p, rc, &e, "q",
				       "http.admin_custodians"))
			goto out;
	}
	if (!http_admin_begin(p, "Custodians", e.n ? 400 : 200))
		goto out;
	html_error_summary(h, &e);
	html_raw(h, "<form class=\"filters\" method=\"get\" "
		    "action=\"/admin/custodians/\">\n");
	html_input(h, &(struct html_field){
			      .name = "q", .label = "Search",
			      .hint = "Part of a name or email address.",
			      .value = q, .error = html_errors_for(&e, "q")});
	html_raw(h, "<p><button type=\"submit\">Search</button> "
		    "<a href=\"/admin/custodians/\">Clear</a></p>\n</form>\n");
	if (e.n) {
		http_layout_end(h);
		goto out;
	}
	if (n == 0)
		html_raw(h, page > 1 ? "<p>No custodians on this page.</p>\n"
				     : "<p>No custodian matches.</p>\n");
	html_raw(h, "<ul class=\"rows\" id=\"custodians\">\n");
	for (i = 0; i < n && i < HTTP_ADMIN_PAGE_SIZE; i++)
		custodian_row(h, &list[i]);
	html_raw(h, "</ul>\n");
	http_admin_url_add(base, sizeof(base), "q", q);
	http_admin_pager(h, base, page, -1, n > HTTP_ADMIN_PAGE_SIZE);
	http_layout_end(h);
out:
	free(list);
}

/* ---- one custodian ---- */

static void their_subjects(struct http_page *p, const char *id)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_subject_summary *list;
	struct html *h = &p->r->body;
	char href[64];
	size_t n = 0, i;
	int total = 0, rc;

	html_raw(h, "<h2>Subjects</h2>\n");
	list = sv ? calloc(SUBJECTS_SHOWN, sizeof(*list)) : NULL;
	rc = list ? sv->subject_list(sv->self, id, 0, list, SUBJECTS_SHOWN,
				     &n, &total)
		  : KERYU_ENOMEM;
	if (rc) {
		html_raw(h, "<p>The subjects cannot be shown right now.</p>\n");
		free(list);
		return;
	}
	if (n == 0)
		html_raw(h, "<p>None.</p>\n");
	html_raw(h, "<ul class=\"rows\" id=\"subjects\">\n");
	for (i = 0; i < n && i < SUBJECTS_SHOWN; i++) {
		snprintf(href, sizeof(href), "/admin/subjects/%s/", list[i].id);
		html_raw(h, "<li class=\"row\">");
		http_link(h, href, list[i].name);
		html_raw(h, list[i].is_active ? "" : " (inactive)");
		html_raw(h, "<br><span class=\"small\">");
		html_textf(h, "%d active tag%s, %d open alarm%s",
			   list[i].active_tags,
			   list[i].active_tags == 1 ? "" : "s",
			   list[i].open_alarms,
			   list[i].open_alarms == 1 ? "" : "s");
		html_raw(h, "</span></li>\n");
	}
	html_raw(h, "</ul>\n");
	if (total > (int)n) {
		html_raw(h, "<p class=\"small\">");
		html_textf(h, "%d more not shown.", total - (int)n);
		html_raw(h, "</p>\n");
	}
}

static void audit_section(struct http_page *p, const char *title,
			  const char *id, bool as_actor)
{
	struct keryu_audit_filter f;
	struct html *h = &p->r->body;
	char href[128];

	memset(&f, 0, sizeof(f));
	if (as_actor)
		snprintf(f.actor, sizeof(f.actor), "%s", id);
	else
		snprintf(f.target_id, sizeof(f.target_id), "%s", id);
	f.limit = AUDIT_SHOWN;
	html_raw(h, "<h2>");
	html_text(h, title);
	html_raw(h, "</h2>\n");
	if (http_admin_audit_rows(p, &f)) {
		html_raw(h, "<p>The audit log cannot be shown right "
			    "now.</p>\n");
		return;
	}
	snprintf(href, sizeof(href), "/admin/audit/?%s=%s",
		 as_actor ? "actor" : "target", id);
	html_raw(h, "<p class=\"small\">");
	http_link(h, href, "All of them in the audit log");
	html_raw(h, "</p>\n");
}

static const struct {
	const char *key, *text;
} notices[] = {
	{"deactivated", "The account is deactivated: its sessions ended and "
			"it cannot log in."},
	{"reactivated", "The account is active again."},
	{"staff_granted", "This custodian is now staff."},
	{"staff_revoked", "This custodian is no longer staff."},
	{"phone_reset", "The phone verification was reset: they must verify "
			"their phone again."},
	{"unchanged", "Nothing changed: the account was already like that."},
};

/* The custodian page; error (may be NULL) is shown at the top with
 * status. */
static void custodian_page(struct http_page *p, const char *id,
			   const char *error, unsigned status)
{
	const struct keryu_accounts *acc = p->ctx->accounts;
	const char *notice = http_query(p, "notice");
	struct keryu_custodian c;
	struct html_errors e = {0};
	struct html *h = &p->r->body;
	char action[96];
	size_t i;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = acc->custodian_get(acc->self, id, &c);
	if (rc) {
		http_admin_fail(p, "http.admin_custodian", rc);
		return;
	}
	if (!http_admin_begin(p, c.name[0] ? c.name : c.email, status))
		return;
	for (i = 0; !error && i < sizeof(notices) / sizeof(notices[0]); i++)
		if (strcmp(notice, notices[i].key) == 0)
			http_notice(h, notices[i].text);
	if (error) {
		html_errors_add(&e, NULL, error);
		html_error_summary(h, &e);
	}
	html_raw(h, "<dl>\n");
	http_dl_row(h, "Email", c.email);
	http_dl_row(h, "Name", c.name);
	http_dl_row(h, "Phone", c.phone);
	http_dl_row(h, "Phone verified", c.phone_verified ? "Yes" : "No");
	http_dl_row(h, "Staff", c.is_staff ? "Yes" : "No");
	http_dl_row(h, "Account", c.is_active ? "Active" : "Inactive");
	html_raw(h, "<dt>Created</dt><dd>");
	http_time(h, c.created_at, "-");
	html_raw(h, "</dd>\n</dl>\n<h2>Actions</h2>\n<p>\n");
	snprintf(action, sizeof(action), "/admin/custodians/%s/%s", c.id,
		 c.is_active ? "deactivate" : "reactivate");
	http_admin_button(p, action, c.is_active ? "Deactivate" : "Reactivate",
			  NULL);
	snprintf(action, sizeof(action), "/admin/custodians/%s/%s", c.id,
		 c.is_staff ? "staff-revoke" : "staff-grant");
	http_admin_button(p, action, c.is_staff ? "Revoke staff" : "Make staff",
			  NULL);
	if (c.phone_verified) {
		snprintf(action, sizeof(action),
			 "/admin/custodians/%s/reset-phone", c.id);
		http_admin_button(p, action, "Reset phone verification", NULL);
	}
	html_raw(h, "</p>\n");
	their_subjects(p, c.id);
	audit_section(p, "What they did", c.id, true);
	audit_section(p, "Changes to this account", c.id, false);
	html_raw(h, "<p><a href=\"/admin/custodians/\">All custodians</a>"
		    "</p>\n");
	http_layout_end(h);
}

void http_admin_custodian(struct http_page *p)
{
	char id[KERYU_UUID_LEN];

	if (!http_admin_service(p))
		return;
	if (!http_admin_id(p, id))
		return;
	custodian_page(p, id, NULL, 200);
}

/* ---- actions ---- */

enum cust_action {
	DEACTIVATE,
	REACTIVATE,
	STAFF_GRANT,
	STAFF_REVOKE,
	RESET_PHONE,
};

static const struct {
	const char *audit, *field, *notice, *self_refused;
} actions[] = {
	[DEACTIVATE] = {"custodian.deactivate", "is_active", "deactivated",
			"You cannot deactivate your own account: ask another "
			"staff member."},
	[REACTIVATE] = {"custodian.reactivate", "is_active", "reactivated",
			NULL},
	[STAFF_GRANT] = {"custodian.staff_grant", "is_staff", "staff_granted",
			 NULL},
	[STAFF_REVOKE] = {"custodian.staff_revoke", "is_staff",
			  "staff_revoked",
			  "You cannot revoke your own staff rights: ask "
			  "another staff member."},
	[RESET_PHONE] = {"custodian.phone_reset", "phone_verified",
			 "phone_reset", NULL},
};

static void custodian_action(struct http_page *p, enum cust_action act)
{
	const struct keryu_admin *a = http_admin_service(p);
	const struct keryu_accounts *acc = p->ctx->accounts;
	struct keryu_custodian c;
	char id[KERYU_UUID_LEN], loc[64];
	bool before, after;
	int rc;

	if (!a)
		return;
	if (!http_admin_id(p, id))
		return;
	memset(&c, 0, sizeof(c));
	rc = acc->custodian_get(acc->self, id, &c);
	if (rc) {
		http_admin_fail(p, "http.admin_custodian_action", rc);
		return;
	}
	if (actions[act].self_refused && strcmp(c.id, p->s->who.id) == 0) {
		p->ctx->host->log(p->ctx->m, KERYU_LOG_WARN,
				  "http.admin_self_refused",
				  "staff=%s action=%s", p->s->who.id,
				  actions[act].audit);
		custodian_page(p, id, actions[act].self_refused, 409);
		return;
	}
	switch (act) {
	case DEACTIVATE:
	case REACTIVATE:
		before = c.is_active;
		after = act == REACTIVATE;
		break;
	case STAFF_GRANT:
	case STAFF_REVOKE:
		before = c.is_staff;
		after = act == STAFF_GRANT;
		break;
	default:
		before = c.phone_verified;
		after = false;
		break;
	}
	snprintf(loc, sizeof(loc), "/admin/custodians/%s/", c.id);
	if (before == after) {
		http_admin_done(p, loc, "unchanged");
		return;
	}
	if (act == DEACTIVATE || act == REACTIVATE)
		rc = acc->custodian_set_active(acc->self, c.id, after);
	else if (act == STAFF_GRANT || act == STAFF_REVOKE)
		rc = a->custodian_set_staff(a->self, c.id, after);
	else
		rc = a->custodian_reset_phone(a->self, c.id);
	if (rc) {
		http_admin_fail(p, "http.admin_custodian_action", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.admin_custodian",
			  "staff=%s action=%s custodian=%s", p->s->who.id,
			  actions[act].audit, c.id);
	http_audit(p->ctx, p->req, "web", &p->s->who, NULL, actions[act].audit,
		   "custodian", c.id, "%s: %s -> %s", actions[act].field,
		   http_admin_bool(before), http_admin_bool(after));
	http_admin_done(p, loc, actions[act].notice);
}

void http_admin_custodian_deactivate(struct http_page *p)
{
	custodian_action(p, DEACTIVATE);
}

void http_admin_custodian_reactivate(struct http_page *p)
{
	custodian_action(p, REACTIVATE);
}

void http_admin_staff_grant(struct http_page *p)
{
	custodian_action(p, STAFF_GRANT);
}

void http_admin_staff_revoke(struct http_page *p)
{
	custodian_action(p, STAFF_REVOKE);
}

void http_admin_reset_phone(struct http_page *p)
{
	custodian_action(p, RESET_PHONE);
}
