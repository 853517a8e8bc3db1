/* Staff pages for running the service day to day: the notifications that
 * ended FAILED (or ERROR with no retry coming) with the provider's code
 * and text and a "Retry now" button, and the audit log, filterable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_admin.h"
#include "http_tags_alarms.h"

#define AUDIT_ACTION_SET "abcdefghijklmnopqrstuvwxyz0123456789._"

/* The start of a row of either list: <li class="row"> with data-<key>
 * set to value (for tests and scripts to find it), then when (ISO) and
 * what, in bold. key is a literal; the rest is escaped. */
static void row_head(struct html *h, const char *key, const char *value,
		     const char *when, const char *what)
{
	html_raw(h, "<li class=\"row\" data-");
	html_raw(h, key);
	html_raw(h, "=\"");
	html_attr(h, value);
	html_raw(h, "\">");
	http_time(h, when, "-");
	html_raw(h, " <strong>");
	html_text(h, what);
	html_raw(h, "</strong>");
}

/* ---- failed deliveries ---- */

static void delivery_row(struct http_page *p,
			 const struct keryu_failed_delivery *d,
			 const char *back)
{
	struct html *h = &p->r->body;
	char href[96];

	row_head(h, "notification", d->notification_id, d->updated_at,
		 d->status);
	html_raw(h, " ");
	html_text(h, d->kind);
	html_raw(h, " via ");
	html_text(h, d->channel);
	if (d->recipient_hint[0])
		html_textf(h, " to the number ending %s", d->recipient_hint);
	html_textf(h, ", attempt %d", d->attempt);
	html_raw(h, "<br>");
	if (d->alarm_id[0] && keryu_uuid_valid(d->alarm_id)) {
		snprintf(href, sizeof(href), "/admin/alarms/%s/", d->alarm_id);
		http_link(h, href, d->subject_name[0] ? d->subject_name
						      : "The alarm");
		html_raw(h, " &middot; ");
	}
	html_text(h, d->custodian_email);
	html_raw(h, "<br><span class=\"small\">Provider: <code>");
	html_text(h, d->error_code[0] ? d->error_code : "-");
	html_raw(h, "</code> ");
	html_text(h, d->error_text);
	html_raw(h, "</span><br>");
	if (d->retried_as[0]) {
		html_raw(h, "<span class=\"small\">Retried as ");
		html_text(h, d->retried_as);
		html_raw(h, "</span>");
	} else if (strcmp(d->kind, "code") == 0) {
		/* only the code's HMAC is stored: it cannot be sent again */
		html_raw(h, "<span class=\"small\">A code cannot be sent "
			    "again: the custodian asks for a new one.</span>");
	} else {
		snprintf(href, sizeof(href), "/admin/deliveries/%s/retry",
			 d->notification_id);
		http_admin_button(p, href, "Retry now", back);
	}
	html_raw(h, "</li>\n");
}

void http_admin_deliveries(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	const char *notice = http_query(p, "notice");
	struct keryu_failed_delivery *list = NULL;
	struct html_errors e = {0};
	struct html *h = &p->r->body;
	char back[64];
	size_t n = 0, i;
	int page = 1, total = 0, rc;

	if (!a)
		return;
	if (http_page_arg(p, HTTP_ADMIN_PAGE_SIZE, &page, &e)) {
		list = calloc(HTTP_ADMIN_PAGE_SIZE, sizeof(*list));
		rc = list ? a->deliveries_failed(
				    a->self, (page - 1) * HTTP_ADMIN_PAGE_SIZE,
				    list, HTTP_ADMIN_PAGE_SIZE, &n, &total)
			  : KERYU_ENOMEM;
		if (!http_admin_listed(p, rc, &e, NULL,
				       "http.admin_deliveries"))
			goto out;
	}
	if (!http_admin_begin(p, "Failed deliveries", e.n ? 400 : 200))
		goto out;
	if (strcmp(notice, "retried") == 0)
		http_notice(h, "A new attempt was queued: the alarms module "
			       "sends it within its next round.");
	else if (strcmp(notice, "conflict") == 0)
		http_notice(h, "That notification was not retried: it was "
			       "already retried, or it is no longer failed.");
	html_error_summary(h, &e);
	if (!e.n) {
		snprintf(back, sizeof(back), "/admin/deliveries/?page=%d",
			 page);
		html_raw(h, "<p>");
		html_textf(h, "%d notification%s ended failed, newest first.",
			   total, total == 1 ? "" : "s");
		html_raw(h, "</p>\n<ul class=\"rows\" id=\"deliveries\">\n");
		for (i = 0; i < n && i < HTTP_ADMIN_PAGE_SIZE; i++)
			delivery_row(p, &list[i], back);
		html_raw(h, "</ul>\n");
		http_admin_pager(h, "/admin/deliveries/?", page, total, false);
	}
	http_layout_end(h);
out:
	free(list);
}

void http_admin_delivery_retry(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	char id[KERYU_UUID_LEN], new_id[KERYU_UUID_LEN] = "";
	const char *back;
	int rc;

	if (!a)
		return;
	if (!http_admin_id(p, id))
		return;
	back = http_admin_back(p, "/admin/deliveries/");
	rc = a->notification_retry(a->self, id, new_id);
	if (rc == KERYU_ECONFLICT) {
		http_admin_done(p, back, "conflict");
		return;
	}
	if (rc) {
		http_admin_fail(p, "http.admin_retry", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.admin_retry",
			  "staff=%s notification=%s retry=%s", p->s->who.id,
			  id, new_id);
	http_audit(p->ctx, p->req, "web", &p->s->who, NULL,
		   "notification.retry", "notification", id,
		   "status: failed -> retried as %s", new_id);
	http_admin_done(p, back, "retried");
}

/* ---- the audit log ---- */

static void audit_row(struct html *h, const struct keryu_audit_entry *e)
{
	char href[96];

	row_head(h, "action", e->action, e->at, e->action);
	html_raw(h, " <span class=\"small\">(");
	html_text(h, e->source);
	html_raw(h, ")</span><br>By ");
	if (e->actor_id[0] && keryu_uuid_valid(e->actor_id)) {
		snprintf(href, sizeof(href), "/admin/custodians/%s/",
			 e->actor_id);
		http_link(h, href,
			  e->actor_email[0] ? e->actor_email : e->actor_id);
	} else if (e->actor_email[0]) {
		html_text(h, e->actor_email);
		html_raw(h, " <span class=\"small\">(not logged in)</span>");
	} else {
		html_raw(h, "the system or a visitor");
	}
	if (e->target_type[0] || e->target_id[0]) {
		html_raw(h, " &middot; ");
		html_text(h, e->target_type);
		html_raw(h, " <code>");
		html_text(h, e->target_id);
		html_raw(h, "</code>");
	}
	if (e->summary[0]) {
		html_raw(h, "<br><span class=\"notes\">");
		html_text(h, e->summary);
		html_raw(h, "</span>");
	}
	if (e->ip_hash[0]) {
		/* enough of the hash to tell addresses apart by eye */
		html_raw(h, "<br><span class=\"small\">From address ");
		html_textf(h, "%.12s", e->ip_hash);
		html_raw(h, "</span>");
	}
	html_raw(h, "</li>\n");
}

int http_admin_audit_rows(struct http_page *p,
			  const struct keryu_audit_filter *f)
{
	const struct keryu_admin *a = p->ctx->admin;
	struct keryu_audit_entry *list;
	struct html *h = &p->r->body;
	size_t n = 0, i, max = (size_t)(f->limit > 0 ? f->limit : 1);
	int total = 0, rc;

	list = calloc(max, sizeof(*list));
	rc = list ? a->audit_list(a->self, f, list, max, &n, &total)
		  : KERYU_ENOMEM;
	if (rc) {
		free(list);
		return rc;
	}
	if (n == 0)
		html_raw(h, "<p>None.</p>\n");
	html_raw(h, "<ul class=\"rows audit\">\n");
	for (i = 0; i < n && i < max; i++)
		audit_row(h, &list[i]);
	html_raw(h, "</ul>\n");
	free(list);
	return 0;
}

/* Reads the filters into f; adds an error per bad one. */
static void audit_query(const struct http_page *p,
			struct keryu_audit_filter *f, int *page,
			struct html_errors *e)
{
	const char *actor = http_query(p, "actor");
	const char *action = http_query(p, "action");
	const char *target = http_query(p, "target");

	memset(f, 0, sizeof(*f));
	if (strlen(actor) >= sizeof(f->actor))
		html_errors_add(e, "actor", "This is too long.");
	else
		memcpy(f->actor, actor, strlen(actor) + 1);
	if (strlen(action) >= sizeof(f->action) ||
	    strspn(action, AUDIT_ACTION_SET) != strlen(action))
		html_errors_add(e, "action", "An action is lower-case letters, "
					     "digits, '.' and '_', e.g. "
					     "login.");
	else
		memcpy(f->action, action, strlen(action) + 1);
	if (strlen(target) >= sizeof(f->target_id))
		html_errors_add(e, "target", "This is too long.");
	else
		memcpy(f->target_id, target, strlen(target) + 1);
	http_date_range(p, f->from, f->to, e);
	http_page_arg(p, HTTP_ADMIN_PAGE_SIZE, page, e);
	f->offset = (*page - 1) * HTTP_ADMIN_PAGE_SIZE;
	f->limit = HTTP_ADMIN_PAGE_SIZE;
}

static void audit_filters(struct http_page *p, const struct html_errors *e)
{
	struct html *h = &p->r->body;

	html_raw(h, "<form class=\"filters\" method=\"get\" "
		    "action=\"/admin/audit/\">\n");
	html_input(h, &(struct html_field){
			      .name = "actor", .label = "Who",
			      .hint = "Part of an email, or a custodian's id.",
			      .value = http_query(p, "actor"),
			      .error = html_errors_for(e, "actor")});
	html_input(h, &(struct html_field){
			      .name = "action", .label = "Action",
			      .hint = "The start of it: login matches "
				      "login.failed too.",
			      .value = http_query(p, "action"),
			      .error = html_errors_for(e, "action")});
	html_input(h, &(struct html_field){
			      .name = "target", .label = "Target id",
			      .value = http_query(p, "target"),
			      .error = html_errors_for(e, "target")});
	http_date_inputs(p, e);
	html_raw(h, "<p><button type=\"submit\">Show entries</button> "
		    "<a href=\"/admin/audit/\">Clear</a></p>\n</form>\n");
}

void http_admin_audit(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	struct keryu_audit_entry *list = NULL;
	struct keryu_audit_filter f;
	struct html_errors e = {0};
	struct html *h = &p->r->body;
	char base[HTTP_ADMIN_URL_MAX] = "/admin/audit/?";
	size_t n = 0, i;
	int page = 1, total = 0, rc;

	if (!a)
		return;
	audit_query(p, &f, &page, &e);
	if (!e.n) {
		list = calloc(HTTP_ADMIN_PAGE_SIZE, sizeof(*list));
		rc = list ? a->audit_list(a->self, &f, list,
					  HTTP_ADMIN_PAGE_SIZE, &n, &total)
			  : KERYU_ENOMEM;
		if (!http_admin_listed(p, rc, &e, NULL, "http.admin_audit"))
			goto out;
	}
	if (!http_admin_begin(p, "Audit log", e.n ? 400 : 200))
		goto out;
	html_error_summary(h, &e);
	audit_filters(p, &e);
	if (!e.n) {
		html_raw(h, "<p>");
		html_textf(h, "%d entr%s, newest first.", total,
			   total == 1 ? "y" : "ies");
		html_raw(h, "</p>\n<ul class=\"rows audit\" id=\"audit\">\n");
		for (i = 0; i < n && i < HTTP_ADMIN_PAGE_SIZE; i++)
			audit_row(h, &list[i]);
		html_raw(h, "</ul>\n");
		http_admin_url_add(base, sizeof(base), "actor", f.actor);
		http_admin_url_add(base, sizeof(base), "action", f.action);
		http_admin_url_add(base, sizeof(base), "target", f.target_id);
		http_admin_url_add(base, sizeof(base), "from", f.from);
		http_admin_url_add(base, sizeof(base), "to", f.to);
		http_admin_pager(h, base, page, total, false);
	}
	http_layout_end(h);
out:
	free(list);
}
