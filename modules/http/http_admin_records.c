/* Staff pages for every custodian's subjects, tags and alarms: searchable
 * lists from the admin service, and one subject or alarm read through
 * owner_of and then the subjects service scoped to the owner. A subject
 * shows the fields its custodian's own page shows; nothing more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_admin.h"
#include "http_subjects.h"
#include "http_tags_alarms.h"

#define SEARCH_MAX 254
#define TAGS_SHOWN 20
#define TIMELINE_MAX 100
#define NOTES_MAX (KERYU_TEXT_MAX - 1)

static void owner_link(struct html *h, const char *id, const char *email)
{
	char href[64];

	snprintf(href, sizeof(href), "/admin/custodians/%s/", id);
	http_link(h, href, email[0] ? email : id);
}

/* The search box of a list; q was refused when error is not NULL. */
static void search_form(struct html *h, const char *action, const char *q,
			const char *hint, const char *error)
{
	html_raw(h, "<form class=\"filters\" method=\"get\" action=\"");
	html_attr(h, action);
	html_raw(h, "\">\n");
	html_input(h, &(struct html_field){.name = "q", .label = "Search",
					   .hint = hint, .value = q,
					   .error = error});
	html_raw(h, "<p><button type=\"submit\">Search</button> <a href=\"");
	html_attr(h, action);
	html_raw(h, "\">Clear</a></p>\n</form>\n");
}

static void read_search(const struct http_page *p, const char **q, int *page,
			struct html_errors *e)
{
	*q = http_query(p, "q");
	if (strlen(*q) > SEARCH_MAX)
		html_errors_add(e, "q", "The search is too long.");
	http_page_arg(p, HTTP_ADMIN_PAGE_SIZE, page, e);
}

/* The notice of a tag action, on the page it came back to. */
static void tag_notice(struct http_page *p)
{
	const char *notice = http_query(p, "notice");
	struct html *h = &p->r->body;

	if (strcmp(notice, "deactivated") == 0)
		http_notice(h, "The tag is deactivated.");
	else if (strcmp(notice, "activated") == 0)
		http_notice(h, "The tag is active (the subject's other tags "
			       "were deactivated).");
	else if (strcmp(notice, "unchanged") == 0)
		http_notice(h, "Nothing changed: the tag was already like "
			       "that.");
}

/* ---- subjects ---- */

static void subject_row(struct http_page *p, const void *item,
			const char *back)
{
	const struct keryu_admin_subject *s = item;
	struct html *h = &p->r->body;
	char href[64];

	(void)back;
	snprintf(href, sizeof(href), "/admin/subjects/%s/", s->s.id);
	html_raw(h, "<li class=\"row\"><strong>");
	http_link(h, href, s->s.name);
	html_raw(h, "</strong>");
	if (!s->s.is_active)
		html_raw(h, " <span class=\"small\">(inactive)</span>");
	html_raw(h, "<br>Custodian: ");
	owner_link(h, s->custodian_id, s->custodian_email);
	html_raw(h, "<br><span class=\"small\">");
	html_textf(h, "%d active tag%s, %d open alarm%s", s->s.active_tags,
		   s->s.active_tags == 1 ? "" : "s", s->s.open_alarms,
		   s->s.open_alarms == 1 ? "" : "s");
	html_raw(h, " &middot; last alarm ");
	http_time(h, s->s.last_alarm_at, "never");
	html_raw(h, "</span></li>\n");
}

static void tag_buttons(struct http_page *p, const struct keryu_tag *t,
			const char *back)
{
	char action[96];

	snprintf(action, sizeof(action), "/admin/tags/%s/%s", t->uuid,
		 t->is_active ? "deactivate" : "activate");
	http_admin_button(p, action, t->is_active ? "Deactivate" : "Activate",
			  back);
}

static void subject_tags(struct http_page *p, const char *owner,
			 const char *id, const char *back)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_tag tags[TAGS_SHOWN];
	struct html *h = &p->r->body;
	size_t n = 0, i;

	html_raw(h, "<h2>QR tags</h2>\n");
	if (sv->tag_list(sv->self, owner, id, tags, TAGS_SHOWN, &n)) {
		html_raw(h, "<p>The tags cannot be shown right now.</p>\n");
		return;
	}
	if (n == 0)
		html_raw(h, "<p>None.</p>\n");
	html_raw(h, "<ul class=\"rows\" id=\"tags\">\n");
	for (i = 0; i < n && i < TAGS_SHOWN; i++) {
		html_raw(h, "<li class=\"row\"><strong>");
		html_text(h, tags[i].short_code);
		html_raw(h, "</strong> ");
		html_raw(h, tags[i].is_active ? "Active" : "Inactive");
		html_raw(h, "<br><span class=\"small\">Last scan ");
		http_time(h, tags[i].last_used, "never");
		html_raw(h, "</span><br>");
		tag_buttons(p, &tags[i], back);
		html_raw(h, "</li>\n");
	}
	html_raw(h, "</ul>\n");
}

static void subject_contacts(struct http_page *p, const char *owner,
			     const char *id)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_contact list[KERYU_CONTACTS_MAX];
	struct html *h = &p->r->body;
	size_t n = 0;

	html_raw(h, "<h2>Emergency contacts</h2>\n");
	if (sv->contact_list(sv->self, owner, id, list, KERYU_CONTACTS_MAX,
			     &n)) {
		html_raw(h, "<p>The contacts cannot be shown right now.</p>\n");
		return;
	}
	html_raw(h, "<ol>\n<li>The custodian</li>\n");
	http_contact_items(h, list,
			   n < KERYU_CONTACTS_MAX ? n : KERYU_CONTACTS_MAX);
	html_raw(h, "</ol>\n");
}

void http_admin_subject(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	const struct keryu_subjects *sv = p->ctx->subjects;
	const struct keryu_accounts *acc = p->ctx->accounts;
	struct keryu_subject *s = NULL;
	struct keryu_custodian c;
	struct html *h = &p->r->body;
	char id[KERYU_UUID_LEN], owner[KERYU_UUID_LEN], here[64], href[96];
	int rc;

	if (!a || !http_subjects_ready(p))
		return;
	if (!http_admin_id(p, id))
		return;
	s = calloc(1, sizeof(*s));
	memset(&c, 0, sizeof(c));
	rc = s ? a->owner_of(a->self, KERYU_OWNED_SUBJECT, id, owner)
	       : KERYU_ENOMEM;
	if (!rc)
		rc = sv->subject_get(sv->self, owner, id, s);
	if (!rc)
		rc = acc->custodian_get(acc->self, owner, &c);
	if (rc) {
		free(s);
		http_admin_fail(p, "http.admin_subject", rc);
		return;
	}
	if (!http_admin_begin(p, s->name, 200)) {
		free(s);
		return;
	}
	tag_notice(p);
	html_raw(h, "<p>Custodian: ");
	owner_link(h, c.id, c.email);
	snprintf(href, sizeof(href), "/admin/alarms/?subject=%s", id);
	html_raw(h, " &middot; ");
	http_link(h, href, "Alarms");
	html_raw(h, "</p>\n<dl>\n");
	http_dl_row(h, "Status", s->is_active ? "Active" : "Inactive");
	http_dl_row(h, "Reported missing", s->missing ? "Yes" : "No");
	http_dl_row(h, "Photo", s->photo[0] ? "Yes" : "No");
	http_subject_fields(h, s);
	html_raw(h, "</dl>\n");
	subject_contacts(p, owner, id);
	snprintf(here, sizeof(here), "/admin/subjects/%s/", id);
	subject_tags(p, owner, id, here);
	html_raw(h, "<p><a href=\"/admin/subjects/\">All subjects</a></p>\n");
	http_layout_end(h);
	free(s);
}

/* ---- tags ---- */

static void tag_row(struct http_page *p, const void *item, const char *back)
{
	const struct keryu_admin_tag *t = item;
	struct html *h = &p->r->body;
	char href[64];

	html_raw(h, "<li class=\"row\" data-tag=\"");
	html_attr(h, t->t.uuid);
	html_raw(h, "\"><strong>");
	html_text(h, t->t.short_code);
	html_raw(h, "</strong> ");
	html_raw(h, t->t.is_active ? "<span class=\"resolved\">Active</span>"
				   : "<span class=\"small\">Inactive</span>");
	html_raw(h, "<br>");
	snprintf(href, sizeof(href), "/admin/subjects/%s/", t->t.subject_id);
	http_link(h, href, t->subject_name);
	html_raw(h, " &middot; ");
	owner_link(h, t->custodian_id, t->custodian_email);
	html_raw(h, "<br><span class=\"small\">Last scan ");
	http_time(h, t->t.last_used, "never");
	html_raw(h, "</span><br>");
	tag_buttons(p, &t->t, back);
	html_raw(h, "</li>\n");
}

/* ---- the searchable lists (subjects, tags) ---- */

struct search_list {
	const char *title, *path, *hint, *event, *one, *many, *id;
	size_t item_size;
	int (*fetch)(const struct keryu_admin *a, const char *q, int offset,
		     void *out, size_t max, size_t *n, int *total);
	void (*row)(struct http_page *p, const void *item, const char *back);
};

static int subjects_fetch(const struct keryu_admin *a, const char *q,
			  int offset, void *out, size_t max, size_t *n,
			  int *total)
{
	return a->subjects_all(a->self, q, offset, out, max, n, total);
}

static int tags_fetch(const struct keryu_admin *a, const char *q, int offset,
		      void *out, size_t max, size_t *n, int *total)
{
	return a->tags_all(a->self, q, offset, out, max, n, total);
}

static void search_page(struct http_page *p, const struct search_list *l)
{
	const struct keryu_admin *a = http_admin_service(p);
	struct html_errors e = {0};
	struct html *h = &p->r->body;
	char base[HTTP_ADMIN_URL_MAX], back[HTTP_ADMIN_URL_MAX + 32];
	const char *q = "";
	unsigned char *list = NULL;
	size_t n = 0, i;
	int page = 1, total = 0, rc;

	if (!a)
		return;
	read_search(p, &q, &page, &e);
	if (!e.n) {
		list = calloc(HTTP_ADMIN_PAGE_SIZE, l->item_size);
		rc = list ? l->fetch(a, q, (page - 1) * HTTP_ADMIN_PAGE_SIZE,
				     list, HTTP_ADMIN_PAGE_SIZE, &n, &total)
			  : KERYU_ENOMEM;
		if (!http_admin_listed(p, rc, &e, "q", l->event))
			goto out;
	}
	if (!http_admin_begin(p, l->title, e.n ? 400 : 200))
		goto out;
	tag_notice(p);
	html_error_summary(h, &e);
	search_form(h, l->path, q, l->hint, html_errors_for(&e, "q"));
	if (!e.n) {
		snprintf(base, sizeof(base), "%s?", l->path);
		http_admin_url_add(base, sizeof(base), "q", q);
		/* a button in a row comes back to this very page */
		snprintf(back, sizeof(back), "%spage=%d", base, page);
		html_raw(h, "<p>");
		html_textf(h, "%d %s.", total, total == 1 ? l->one : l->many);
		html_raw(h, "</p>\n<ul class=\"rows\" id=\"");
		html_attr(h, l->id);
		html_raw(h, "\">\n");
		for (i = 0; i < n && i < HTTP_ADMIN_PAGE_SIZE; i++)
			l->row(p, list + i * l->item_size, back);
		html_raw(h, "</ul>\n");
		http_admin_pager(h, base, page, total, false);
	}
	http_layout_end(h);
out:
	free(list);
}

void http_admin_subjects(struct http_page *p)
{
	static const struct search_list l = {
		.title = "Subjects", .path = "/admin/subjects/",
		.hint = "Part of the subject's name or the custodian's email.",
		.event = "http.admin_subjects", .one = "subject",
		.many = "subjects", .id = "subjects",
		.item_size = sizeof(struct keryu_admin_subject),
		.fetch = subjects_fetch, .row = subject_row};

	search_page(p, &l);
}

void http_admin_tags(struct http_page *p)
{
	static const struct search_list l = {
		.title = "Tags", .path = "/admin/tags/",
		.hint = "The short code, the subject's name or the custodian's "
			"email.",
		.event = "http.admin_tags", .one = "tag", .many = "tags",
		.id = "tags", .item_size = sizeof(struct keryu_admin_tag),
		.fetch = tags_fetch, .row = tag_row};

	search_page(p, &l);
}

static void tag_action(struct http_page *p, bool active)
{
	const struct keryu_admin *a = http_admin_service(p);
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_tag t;
	char id[KERYU_UUID_LEN], owner[KERYU_UUID_LEN];
	const char *back;
	int rc;

	if (!a || !http_subjects_ready(p))
		return;
	if (!http_admin_id(p, id))
		return;
	memset(&t, 0, sizeof(t));
	rc = a->owner_of(a->self, KERYU_OWNED_TAG, id, owner);
	if (!rc)
		rc = sv->tag_get(sv->self, owner, id, &t);
	if (rc) {
		http_admin_fail(p, "http.admin_tag", rc);
		return;
	}
	back = http_admin_back(p, "/admin/tags/");
	if (t.is_active == active) {
		http_admin_done(p, back, "unchanged");
		return;
	}
	rc = sv->tag_set_active(sv->self, owner, id, active);
	if (rc) {
		http_admin_fail(p, "http.admin_tag", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.admin_tag",
			  "staff=%s tag=%s active=%s", p->s->who.id, id,
			  http_admin_bool(active));
	http_audit(p->ctx, p->req, "web", &p->s->who, NULL,
		   active ? "tag.activate" : "tag.deactivate", "tag", id,
		   "is_active: %s -> %s%s", http_admin_bool(!active),
		   http_admin_bool(active),
		   active ? " (the subject's other tags deactivated)" : "");
	http_admin_done(p, back, active ? "activated" : "deactivated");
}

void http_admin_tag_deactivate(struct http_page *p)
{
	tag_action(p, false);
}

void http_admin_tag_activate(struct http_page *p)
{
	tag_action(p, true);
}

/* ---- alarms ---- */

struct alarm_query {
	struct keryu_alarm_filter f;
	int page;
};

static void read_alarm_query(const struct http_page *p, struct alarm_query *q,
			     struct html_errors *e)
{
	const char *subject = http_query(p, "subject");
	const char *state = http_query(p, "state");

	memset(q, 0, sizeof(*q));
	if (*subject && !http_uuid_arg(subject, q->f.subject_id))
		html_errors_add(e, "subject", "That is not a subject's id.");
	if (!*state || strcmp(state, "open") == 0 ||
	    strcmp(state, "resolved") == 0)
		snprintf(q->f.state, sizeof(q->f.state), "%s", state);
	else
		html_errors_add(e, "state", "Choose open, resolved or any.");
	http_date_range(p, q->f.from, q->f.to, e);
	http_page_arg(p, HTTP_ADMIN_PAGE_SIZE, &q->page, e);
	q->f.offset = (q->page - 1) * HTTP_ADMIN_PAGE_SIZE;
	q->f.limit = HTTP_ADMIN_PAGE_SIZE;
}

static void alarm_filters(struct http_page *p, const struct html_errors *e)
{
	struct html *h = &p->r->body;
	const char *state = http_query(p, "state");
	const char *subject = http_query(p, "subject");

	html_raw(h, "<form class=\"filters\" method=\"get\" "
		    "action=\"/admin/alarms/\">\n");
	if (*subject) {
		/* set from a subject's page: kept, and said */
		html_hidden(h, "subject", subject);
		html_raw(h, "<p class=\"small\">One subject's alarms only. "
			    "<a href=\"/admin/alarms/\">Every subject</a>"
			    "</p>\n");
	}
	http_alarm_state_select(h, state, html_errors_for(e, "state"));
	http_date_inputs(p, e);
	html_raw(h, "<p><button type=\"submit\">Show alarms</button> "
		    "<a href=\"/admin/alarms/\">Clear</a></p>\n</form>\n");
}

static void alarm_row(struct html *h, const struct keryu_admin_alarm *a)
{
	char href[64];

	snprintf(href, sizeof(href), "/admin/alarms/%s/", a->s.id);
	html_raw(h, "<li class=\"row\"><a href=\"");
	html_attr(h, href);
	html_raw(h, "\">");
	http_time(h, a->s.scanned_at, "-");
	html_raw(h, "</a> ");
	html_raw(h, a->s.resolved ? "<span class=\"resolved\">Resolved</span>"
				  : "<span class=\"open\">Open</span>");
	html_raw(h, "<br><strong>");
	html_text(h, a->s.subject_name);
	html_raw(h, "</strong> &middot; ");
	owner_link(h, a->custodian_id, a->custodian_email);
	html_raw(h, "<br><span class=\"small\">Notification: ");
	html_text(h, a->s.notification_status);
	html_raw(h, "</span></li>\n");
}

void http_admin_alarms(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	struct keryu_admin_alarm *list = NULL;
	struct html_errors e = {0};
	struct alarm_query q;
	struct html *h = &p->r->body;
	char base[HTTP_ADMIN_URL_MAX] = "/admin/alarms/?";
	size_t n = 0, i;
	int total = 0, rc;

	if (!a)
		return;
	read_alarm_query(p, &q, &e);
	if (!e.n) {
		list = calloc(HTTP_ADMIN_PAGE_SIZE, sizeof(*list));
		rc = list ? a->alarms_all(a->self, &q.f, list,
					  HTTP_ADMIN_PAGE_SIZE, &n, &total)
			  : KERYU_ENOMEM;
		if (!http_admin_listed(p, rc, &e, NULL, "http.admin_alarms"))
			goto out;
	}
	if (!http_admin_begin(p, "Alarms", e.n ? 400 : 200))
		goto out;
	html_error_summary(h, &e);
	alarm_filters(p, &e);
	if (!e.n) {
		html_raw(h, "<p>");
		html_textf(h, "%d alarm%s, newest first.", total,
			   total == 1 ? "" : "s");
		html_raw(h, "</p>\n<ul class=\"rows\" id=\"alarms\">\n");
		for (i = 0; i < n && i < HTTP_ADMIN_PAGE_SIZE; i++)
			alarm_row(h, &list[i]);
		html_raw(h, "</ul>\n");
		/* the values were validated: ids, words and dates */
		http_admin_url_add(base, sizeof(base), "subject",
				   q.f.subject_id);
		http_admin_url_add(base, sizeof(base), "state", q.f.state);
		http_admin_url_add(base, sizeof(base), "from", q.f.from);
		http_admin_url_add(base, sizeof(base), "to", q.f.to);
		http_admin_pager(h, base, q.page, total, false);
	}
	http_layout_end(h);
out:
	free(list);
}

static void alarm_page(struct http_page *p, const char *id,
		       const struct html_errors *e, const char *notes,
		       unsigned status)
{
	const struct keryu_admin *a = p->ctx->admin;
	const struct keryu_subjects *sv = p->ctx->subjects;
	const struct keryu_accounts *acc = p->ctx->accounts;
	const char *notice = http_query(p, "notice");
	struct keryu_timeline_entry *tl = NULL;
	struct keryu_alarm_detail *d = NULL;
	struct keryu_custodian c;
	struct html *h = &p->r->body;
	char owner[KERYU_UUID_LEN], title[160], href[96];
	size_t n = 0;
	int rc;

	d = calloc(1, sizeof(*d));
	tl = calloc(TIMELINE_MAX, sizeof(*tl));
	memset(&c, 0, sizeof(c));
	rc = d && tl ? a->owner_of(a->self, KERYU_OWNED_ALARM, id, owner)
		     : KERYU_ENOMEM;
	if (!rc)
		rc = sv->alarm_get(sv->self, owner, id, d);
	if (!rc)
		rc = sv->alarm_timeline(sv->self, owner, id, tl, TIMELINE_MAX,
					&n);
	if (!rc)
		rc = acc->custodian_get(acc->self, owner, &c);
	if (rc) {
		http_admin_fail(p, "http.admin_alarm", rc);
		goto out;
	}
	snprintf(title, sizeof(title), "Alarm: %s", d->s.subject_name);
	if (!http_admin_begin(p, title, status))
		goto out;
	if (strcmp(notice, "resolved") == 0)
		http_notice(h, "The alarm is marked resolved.");
	else if (strcmp(notice, "already") == 0)
		http_notice(h, "This alarm was already resolved.");
	html_error_summary(h, e);
	html_raw(h, "<dl>\n<dt>Subject</dt><dd>");
	snprintf(href, sizeof(href), "/admin/subjects/%s/", d->s.subject_id);
	http_link(h, href, d->s.subject_name);
	html_raw(h, "</dd>\n<dt>Custodian</dt><dd>");
	owner_link(h, c.id, c.email);
	html_raw(h, "</dd>\n");
	http_alarm_state_rows(h, d);
	html_raw(h, "<dt>Acknowledged</dt><dd>");
	http_time(h, d->acknowledged_at, "Not yet");
	html_raw(h, "</dd>\n<dt>Notification</dt><dd>");
	html_text(h, d->s.notification_status);
	html_raw(h, "</dd>\n");
	if (d->s.resolved && d->resolution_notes[0]) {
		html_raw(h, "<dt>Notes</dt><dd class=\"notes\">");
		html_text(h, d->resolution_notes);
		html_raw(h, "</dd>\n");
	}
	html_raw(h, "</dl>\n");
	http_alarm_timeline(h, tl, n < TIMELINE_MAX ? n : TIMELINE_MAX);
	if (!d->s.resolved) {
		snprintf(href, sizeof(href), "/admin/alarms/%s/resolve", id);
		http_alarm_resolve_form(p, href, notes, e);
	}
	html_raw(h, "<p><a href=\"/admin/alarms/\">All alarms</a></p>\n");
	http_layout_end(h);
out:
	free(d);
	free(tl);
}

void http_admin_alarm(struct http_page *p)
{
	struct html_errors e = {0};
	char id[KERYU_UUID_LEN];

	if (!http_admin_service(p) || !http_subjects_ready(p))
		return;
	if (!http_admin_id(p, id))
		return;
	alarm_page(p, id, &e, "", 200);
}

/* The message for notes that cannot be accepted, NULL when they can. */
static const char *notes_problem(const char *notes)
{
	size_t len = strlen(notes) + 1;
	char *clean = malloc(len);
	const char *why;

	if (!clean)
		return "The notes could not be read.";
	keryu_utf8_copy(clean, len, notes);
	why = http_alarm_notes_problem(notes, clean);
	free(clean);
	return why;
}

void http_admin_alarm_resolve(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	const struct keryu_subjects *sv = p->ctx->subjects;
	const char *notes = http_field(p, "notes"), *why;
	struct html_errors e = {0};
	char id[KERYU_UUID_LEN], owner[KERYU_UUID_LEN], loc[96];
	int rc;

	if (!a || !http_subjects_ready(p))
		return;
	if (!http_admin_id(p, id))
		return;
	rc = a->owner_of(a->self, KERYU_OWNED_ALARM, id, owner);
	if (rc) {
		http_admin_fail(p, "http.admin_alarm_resolve", rc);
		return;
	}
	why = notes_problem(notes);
	if (why) {
		/* refilled as valid UTF-8, cut to the limit */
		char *kept = malloc(NOTES_MAX + 1);

		html_errors_add(&e, "notes", why);
		if (kept)
			keryu_utf8_copy(kept, NOTES_MAX + 1, notes);
		alarm_page(p, id, &e, kept ? kept : "", 400);
		free(kept);
		return;
	}
	rc = sv->alarm_resolve(sv->self, owner, id, notes);
	snprintf(loc, sizeof(loc), "/admin/alarms/%s/", id);
	if (rc == KERYU_ECONFLICT) {
		http_admin_done(p, loc, "already");
		return;
	}
	if (rc == KERYU_EINVAL) {
		html_errors_add(&e, "notes", "These notes were not accepted.");
		alarm_page(p, id, &e, notes, 400);
		return;
	}
	if (rc) {
		http_admin_fail(p, "http.admin_alarm_resolve", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.admin_alarm_resolve",
			  "staff=%s alarm=%s", p->s->who.id, id);
	http_audit(p->ctx, p->req, "web", &p->s->who, NULL, "alarm.resolve",
		   "alarm", id, "resolved: false -> true");
	http_admin_done(p, loc, "resolved");
}
