/* The custodian's alarms: a filtered, paginated list (newest first), one
 * alarm with its notification timeline, and marking it resolved. Filters
 * come from the query string and are checked before anything is asked of
 * the service: a bad one is shown next to its field and no query runs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_account.h"
#include "http_tags_alarms.h"

#define PAGE_SIZE 25
#define SUBJECTS_MAX 200 /* offered in the filter's select */
#define TIMELINE_MAX 100
#define NOTES_MAX (KERYU_TEXT_MAX - 1)

static const char alarms_style[] =
	"<style>\n"
	".alarms{list-style:none;padding:0;margin:0 0 1rem}\n"
	".alarm{border-top:1px solid #ccc;padding:.5rem 0;"
	"overflow-wrap:anywhere}\n"
	".open{color:#b00020;font-weight:600}"
	".resolved{color:#0a7d32;font-weight:600}\n"
	".filters{border:1px solid #ccc;padding:.5rem .75rem;margin:0 0 1rem}\n"
	".filters .field{margin:0 0 .5rem}\n"
	"select,textarea,input[type=date]{display:block;width:100%;"
	"max-width:100%;font:inherit;padding:.4rem;border:1px solid #777;"
	"border-radius:.25rem}\n"
	".has-error select,.has-error textarea{border:2px solid #b00020}\n"
	".pages{display:flex;flex-wrap:wrap;gap:.5rem 1rem}\n"
	".timeline{padding-left:1.2rem;margin:0 0 1rem}\n"
	".timeline li{margin:0 0 .5rem;overflow-wrap:anywhere}\n"
	".notes{white-space:pre-wrap;overflow-wrap:anywhere}\n"
	"</style>\n";

void http_link(struct html *h, const char *href, const char *text)
{
	html_raw(h, "<a href=\"");
	html_attr(h, href);
	html_raw(h, "\">");
	html_text(h, text);
	html_raw(h, "</a>");
}

/* ---- the list ---- */

struct list_query {
	char subject[KERYU_UUID_LEN];
	char state[16];
	char from[11], to[11];
	int page;
};

/* True for "YYYY-MM-DD" naming a real day. */
static bool date_valid(const char *s)
{
	return http_date_check(s) == HTTP_DATE_OK;
}

bool http_page_arg(const struct http_page *p, int page_size, int *page,
		   struct html_errors *e)
{
	const char *s = http_query(p, "page");
	char *end = NULL;
	long v;

	*page = 1;
	if (!*s)
		return true;
	v = s[0] >= '0' && s[0] <= '9' ? strtol(s, &end, 10) : 0;
	/* the last page whose offset still fits an int */
	if (!end || *end || v < 1 || v > INT_MAX / page_size - 1) {
		html_errors_add(e, NULL, "That page does not exist.");
		return false;
	}
	*page = (int)v;
	return true;
}

void http_date_range(const struct http_page *p, char from[11], char to[11],
		     struct html_errors *e)
{
	const char *f = http_query(p, "from"), *t = http_query(p, "to");

	from[0] = to[0] = '\0';
	if (*f && !date_valid(f))
		html_errors_add(e, "from", "Enter the date as YYYY-MM-DD, "
					   "e.g. 2026-01-31.");
	else if (*f)
		memcpy(from, f, 11);
	if (*t && !date_valid(t))
		html_errors_add(e, "to", "Enter the date as YYYY-MM-DD, "
					 "e.g. 2026-01-31.");
	else if (*t)
		memcpy(to, t, 11);
	if (from[0] && to[0] && strcmp(from, to) > 0)
		html_errors_add(e, "to", "The end date is before the start "
					 "date.");
}

void http_date_inputs(struct http_page *p, const struct html_errors *e)
{
	struct html *h = &p->r->body;

	html_input(h, &(struct html_field){
			      .name = "from", .label = "From (YYYY-MM-DD)",
			      .type = "date", .value = http_query(p, "from"),
			      .error = html_errors_for(e, "from")});
	html_input(h, &(struct html_field){
			      .name = "to", .label = "To (YYYY-MM-DD)",
			      .type = "date", .value = http_query(p, "to"),
			      .error = html_errors_for(e, "to")});
}

static bool subject_known(const struct keryu_subject_summary *subs, size_t n,
			  const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(subs[i].id, id) == 0)
			return true;
	return false;
}

static void read_query(struct http_page *p,
		       const struct keryu_subject_summary *subs, size_t n,
		       struct list_query *q, struct html_errors *e)
{
	const char *subject = http_query(p, "subject");
	const char *state = http_query(p, "state");

	memset(q, 0, sizeof(*q));
	if (*subject && (!http_uuid_arg(subject, q->subject) ||
			 !subject_known(subs, n, q->subject))) {
		q->subject[0] = '\0';
		html_errors_add(e, "subject", "Choose a subject from the list.");
	}
	if (!*state || strcmp(state, "open") == 0 ||
	    strcmp(state, "resolved") == 0)
		snprintf(q->state, sizeof(q->state), "%s", state);
	else
		html_errors_add(e, "state", "Choose open, resolved or any.");
	http_date_range(p, q->from, q->to, e);
	http_page_arg(p, PAGE_SIZE, &q->page, e);
}

/* "/alarms/?subject=..&page=N" with the filters that are set. */
static void list_url(const struct list_query *q, int page, char *out,
		     size_t size)
{
	size_t o;

	snprintf(out, size, "/alarms/?");
	o = strlen(out);
	/* the values were validated: UUIDs, words and dates need no
	 * %-encoding */
	if (q->subject[0])
		o += (size_t)snprintf(out + o, size - o, "subject=%s&",
				      q->subject);
	if (o < size && q->state[0])
		o += (size_t)snprintf(out + o, size - o, "state=%s&", q->state);
	if (o < size && q->from[0])
		o += (size_t)snprintf(out + o, size - o, "from=%s&", q->from);
	if (o < size && q->to[0])
		o += (size_t)snprintf(out + o, size - o, "to=%s&", q->to);
	if (o < size)
		snprintf(out + o, size - o, "page=%d", page);
}

void http_option(struct html *h, const char *value, const char *text,
		 bool selected)
{
	html_raw(h, "<option value=\"");
	html_attr(h, value);
	html_raw(h, selected ? "\" selected>" : "\">");
	html_text(h, text);
	html_raw(h, "</option>\n");
}

static void field_top(struct html *h, const char *name, const char *label,
		      const char *error)
{
	html_raw(h, error ? "<div class=\"field has-error\">\n"
			  : "<div class=\"field\">\n");
	html_raw(h, "<label for=\"f-");
	html_attr(h, name);
	html_raw(h, "\">");
	html_text(h, label);
	html_raw(h, "</label>\n");
	if (error) {
		html_raw(h, "<span class=\"error\" id=\"f-");
		html_attr(h, name);
		html_raw(h, "-error\">");
		html_text(h, error);
		html_raw(h, "</span>\n");
	}
}

void http_alarm_state_select(struct html *h, const char *state,
			     const char *error)
{
	field_top(h, "state", "State", error);
	html_raw(h, "<select id=\"f-state\" name=\"state\">\n");
	http_option(h, "", "Open and resolved", !*state);
	http_option(h, "open", "Open", strcmp(state, "open") == 0);
	http_option(h, "resolved", "Resolved", strcmp(state, "resolved") == 0);
	html_raw(h, "</select>\n</div>\n");
}

/* The filter form: a GET form, so no CSRF token; values refilled from
 * what was sent (escaped), even when they were refused. */
static void filter_form(struct http_page *p,
			const struct keryu_subject_summary *subs, size_t n,
			const struct html_errors *e)
{
	struct html *h = &p->r->body;
	const char *subject = http_query(p, "subject");
	const char *err;
	size_t i;

	html_raw(h, "<form class=\"filters\" method=\"get\" action=\"/alarms/\">"
		    "\n");
	err = html_errors_for(e, "subject");
	field_top(h, "subject", "Subject", err);
	html_raw(h, err ? "<select id=\"f-subject\" name=\"subject\" "
			  "aria-invalid=\"true\" "
			  "aria-describedby=\"f-subject-error\">\n"
			: "<select id=\"f-subject\" name=\"subject\">\n");
	http_option(h, "", "All subjects", !*subject);
	for (i = 0; i < n; i++)
		http_option(h, subs[i].id, subs[i].name,
			    strcasecmp(subs[i].id, subject) == 0);
	html_raw(h, "</select>\n</div>\n");
	http_alarm_state_select(h, http_query(p, "state"),
				html_errors_for(e, "state"));
	http_date_inputs(p, e);
	html_raw(h, "<p><button type=\"submit\">Show alarms</button> "
		    "<a href=\"/alarms/\">Clear</a></p>\n</form>\n");
}

static void alarm_item(struct html *h, const struct keryu_alarm_summary *a)
{
	char href[64];

	snprintf(href, sizeof(href), "/alarms/%s/", a->id);
	html_raw(h, "<li class=\"alarm\"><a href=\"");
	html_attr(h, href);
	html_raw(h, "\">");
	http_time(h, a->scanned_at, "-");
	html_raw(h, "</a> ");
	html_raw(h, a->resolved ? "<span class=\"resolved\">Resolved</span>"
				: "<span class=\"open\">Open</span>");
	html_raw(h, "<br><strong>");
	html_text(h, a->subject_name);
	html_raw(h, "</strong><br><span class=\"small\">Notification: ");
	html_text(h, a->notification_status);
	if (a->has_location)
		html_raw(h, " &middot; location given");
	html_raw(h, "</span></li>\n");
}

static void pages(struct html *h, const struct list_query *q, int total)
{
	int last = total > 0 ? (total - 1) / PAGE_SIZE + 1 : 1;
	char url[256];

	html_raw(h, "<nav class=\"pages\" aria-label=\"Pages\">\n");
	if (q->page > 1) {
		list_url(q, q->page - 1 > last ? last : q->page - 1, url,
			 sizeof(url));
		html_raw(h, "<a rel=\"prev\" href=\"");
		html_attr(h, url);
		html_raw(h, "\">&larr; Newer</a>\n");
	}
	html_raw(h, "<span>");
	html_textf(h, "Page %d of %d", q->page, last);
	html_raw(h, "</span>\n");
	if (q->page < last) {
		list_url(q, q->page + 1, url, sizeof(url));
		html_raw(h, "<a rel=\"next\" href=\"");
		html_attr(h, url);
		html_raw(h, "\">Older &rarr;</a>\n");
	}
	html_raw(h, "</nav>\n");
}

void http_alarms_list(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	struct keryu_subject_summary *subs = NULL;
	struct keryu_alarm_summary *alarms = NULL;
	struct keryu_alarm_filter f;
	struct html_errors e = {0};
	struct list_query q;
	struct html *h = &p->r->body;
	size_t n_subs = 0, n = 0, i;
	int total = 0, rc;

	if (!svc || !http_service_has(p, svc->subject_list && svc->alarm_list))
		return;
	subs = calloc(SUBJECTS_MAX, sizeof(*subs));
	alarms = calloc(PAGE_SIZE, sizeof(*alarms));
	if (!subs || !alarms) {
		http_service_failed(p, "http.alarms", KERYU_ENOMEM);
		goto out;
	}
	rc = svc->subject_list(svc->self, p->s->who.id, 0, subs, SUBJECTS_MAX,
			       &n_subs, &total);
	if (rc) {
		http_service_failed(p, "http.alarms", rc);
		goto out;
	}
	if (n_subs > SUBJECTS_MAX)
		n_subs = SUBJECTS_MAX;
	read_query(p, subs, n_subs, &q, &e);
	total = 0;
	if (!e.n) {
		memset(&f, 0, sizeof(f));
		memcpy(f.subject_id, q.subject, sizeof(f.subject_id));
		memcpy(f.state, q.state, sizeof(f.state));
		memcpy(f.from, q.from, sizeof(f.from));
		memcpy(f.to, q.to, sizeof(f.to));
		f.offset = (q.page - 1) * PAGE_SIZE;
		f.limit = PAGE_SIZE;
		rc = svc->alarm_list(svc->self, p->s->who.id, &f, alarms,
				     PAGE_SIZE, &n, &total);
		if (rc == KERYU_EINVAL) {
			html_errors_add(&e, NULL, "These filters were not "
						  "accepted.");
		} else if (rc) {
			http_service_failed(p, "http.alarms", rc);
			goto out;
		}
	}
	if (!http_form_page(p, "Alarms", e.n ? 400 : 200))
		goto out;
	html_raw(h, alarms_style);
	html_error_summary(h, &e);
	filter_form(p, subs, n_subs, &e);
	if (e.n) {
		html_raw(h, "<p>Fix the filters to see alarms.</p>\n");
		http_layout_end(h);
		goto out;
	}
	html_raw(h, "<p>");
	html_textf(h, "%d alarm%s", total, total == 1 ? "" : "s");
	html_raw(h, ", newest first.</p>\n");
	if (n == 0 && total > 0) {
		char url[256];

		list_url(&q, 1, url, sizeof(url));
		html_raw(h, "<p>There are no alarms on this page. ");
		http_link(h, url, "Go to the first page");
		html_raw(h, ".</p>\n");
	}
	html_raw(h, "<ul class=\"alarms\">\n");
	for (i = 0; i < n && i < PAGE_SIZE; i++)
		alarm_item(h, &alarms[i]);
	html_raw(h, "</ul>\n");
	pages(h, &q, total);
	http_layout_end(h);
out:
	free(subs);
	free(alarms);
}

/* ---- one alarm ---- */

static void term(struct html *h, const char *t)
{
	html_raw(h, "<dt>");
	html_text(h, t);
	html_raw(h, "</dt><dd>");
}

static void map_link(struct html *h, const struct keryu_alarm_detail *a)
{
	char url[160];

	/* a plain link: nothing of the map's site loads on this page */
	snprintf(url, sizeof(url),
		 "https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f"
		 "#map=17/%.6f/%.6f",
		 a->latitude, a->longitude, a->latitude, a->longitude);
	html_textf(h, "%.6f, %.6f", a->latitude, a->longitude);
	if (a->accuracy_m > 0)
		html_textf(h, " (within %.0f m)", a->accuracy_m);
	html_raw(h, "<br><a rel=\"noopener noreferrer\" href=\"");
	html_attr(h, url);
	html_raw(h, "\">Open in OpenStreetMap</a>");
}

/* The alarm-level steps of the timeline (subjects.h), in plain words. */
static const char *alarm_step(const char *status)
{
	static const struct {
		const char *status, *text;
	} steps[] = {
		{"ESCALATED", "Alert passed on to the next person"},
		{"FALLBACK", "Alert sent again on another channel"},
		{"EXHAUSTED", "Nobody left to alert"},
		{"ACKNOWLEDGED", "Acknowledged: someone is on their way"},
		{"RETRIED", "Retried by staff"},
	};
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strcmp(status, steps[i].status) == 0)
			return steps[i].text;
	return NULL;
}

static void timeline_item(struct html *h, const struct keryu_timeline_entry *t)
{
	const char *step = alarm_step(t->status);

	html_raw(h, step ? "<li class=\"step\">" : "<li>");
	http_time(h, t->at, "-");
	html_raw(h, " <strong>");
	html_text(h, step ? step : t->status);
	html_raw(h, "</strong><br><span class=\"small\">");
	if (step) {
		/* who was alerted (ESCALATED, FALLBACK) and why */
		if (t->channel[0])
			html_textf(h, "Via %s", t->channel);
		if (t->recipient_hint[0])
			html_textf(h, "%sto the number ending %s",
				   t->channel[0] ? " " : "", t->recipient_hint);
		if (t->error_text[0]) {
			if (t->channel[0] || t->recipient_hint[0])
				html_raw(h, "<br>");
			html_text(h, t->error_text);
		}
		html_raw(h, "</span></li>\n");
		return;
	}
	html_textf(h, "Attempt %d via %s", t->attempt, t->channel);
	if (t->recipient_hint[0])
		html_textf(h, " to the number ending %s", t->recipient_hint);
	if (t->provider_message_id[0]) {
		html_raw(h, "<br>Provider message id: ");
		html_text(h, t->provider_message_id);
	}
	if (t->error_code[0] || t->error_text[0]) {
		html_raw(h, "<br>Error");
		if (t->error_code[0]) {
			html_raw(h, " ");
			html_text(h, t->error_code);
		}
		html_raw(h, ": ");
		html_text(h, t->error_text);
	}
	html_raw(h, "</span></li>\n");
}

static void notes_field(struct html *h, const char *value, const char *error)
{
	html_raw(h, error ? "<div class=\"field has-error\">\n"
			  : "<div class=\"field\">\n");
	html_raw(h, "<label for=\"f-notes\">Notes</label>\n"
		    "<span class=\"hint\" id=\"f-notes-hint\">What happened, "
		    "for your records (at most 2000 characters).</span>\n");
	if (error) {
		html_raw(h, "<span class=\"error\" id=\"f-notes-error\">");
		html_text(h, error);
		html_raw(h, "</span>\n");
	}
	html_raw(h, "<textarea id=\"f-notes\" name=\"notes\" rows=\"4\" "
		    "maxlength=\"2000\" aria-describedby=\"f-notes-hint");
	html_raw(h, error ? " f-notes-error\" aria-invalid=\"true\">"
			  : "\">");
	html_text(h, value);
	html_raw(h, "</textarea>\n</div>\n");
}

void http_alarm_state_rows(struct html *h, const struct keryu_alarm_detail *a)
{
	term(h, "Scanned");
	http_time(h, a->s.scanned_at, "-");
	html_raw(h, "</dd>\n");
	term(h, "State");
	if (a->s.resolved) {
		html_raw(h, "<span class=\"resolved\">Resolved</span> ");
		http_time(h, a->resolved_at, "");
	} else {
		html_raw(h, "<span class=\"open\">Open</span>");
	}
	html_raw(h, "</dd>\n");
}

void http_alarm_timeline(struct html *h, const struct keryu_timeline_entry *tl,
			 size_t n)
{
	size_t i;

	html_raw(h, "<h2>Notifications</h2>\n");
	if (n == 0)
		html_raw(h, "<p>No notification was sent yet.</p>\n");
	html_raw(h, "<ol class=\"timeline\" id=\"timeline\">\n");
	for (i = 0; i < n; i++)
		timeline_item(h, &tl[i]);
	html_raw(h, "</ol>\n");
}

void http_alarm_resolve_form(struct http_page *p, const char *action,
			     const char *notes, const struct html_errors *e)
{
	struct html *h = &p->r->body;

	html_raw(h, "<h2>Resolve</h2>\n");
	html_form_begin(h, action, p->s->row.csrf);
	notes_field(h, notes, html_errors_for(e, "notes"));
	html_form_end(h, "Mark resolved");
}

/* Renders the alarm id (validated, lower case) with its timeline; the
 * resolve form shows e and notes. */
static void detail_page(struct http_page *p, const char *id,
			const struct html_errors *e, const char *notes,
			unsigned status)
{
	const struct keryu_subjects *svc = p->ctx->subjects;
	const char *notice = http_query(p, "notice");
	struct keryu_timeline_entry *tl = NULL;
	struct keryu_alarm_detail *a = NULL;
	struct html *h = &p->r->body;
	char title[160], action[80], href[80];
	size_t n = 0;
	int rc;

	a = calloc(1, sizeof(*a));
	tl = calloc(TIMELINE_MAX, sizeof(*tl));
	if (!a || !tl) {
		http_service_failed(p, "http.alarm", KERYU_ENOMEM);
		goto out;
	}
	rc = svc->alarm_get(svc->self, p->s->who.id, id, a);
	if (!rc)
		rc = svc->alarm_timeline(svc->self, p->s->who.id, id, tl,
					 TIMELINE_MAX, &n);
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		goto out;
	}
	if (rc) {
		http_service_failed(p, "http.alarm", rc);
		goto out;
	}
	snprintf(title, sizeof(title), "Alarm: %s", a->s.subject_name);
	if (!http_form_page(p, title, status))
		goto out;
	html_raw(h, alarms_style);
	if (strcmp(notice, "resolved") == 0)
		http_notice(h, "The alarm is marked resolved.");
	else if (strcmp(notice, "already") == 0)
		http_notice(h, "This alarm was already resolved.");
	else if (strcmp(notice, "acknowledged") == 0)
		http_notice(h, "You are on your way: the alert will not be "
			       "passed on to anyone else.");
	else if (strcmp(notice, "ack_already") == 0)
		http_notice(h, "This alarm was already acknowledged.");
	html_error_summary(h, e);
	html_raw(h, "<dl>\n");
	term(h, "Subject");
	snprintf(href, sizeof(href), "/subjects/%s/", a->s.subject_id);
	http_link(h, href, a->s.subject_name);
	html_raw(h, "</dd>\n");
	http_alarm_state_rows(h, a);
	term(h, "Acknowledged");
	if (a->acknowledged_at[0]) {
		html_raw(h, "Someone is on their way, since ");
		http_time(h, a->acknowledged_at, "");
	} else {
		html_raw(h, "Not yet");
	}
	html_raw(h, "</dd>\n");
	if (a->joined_alarm_id[0] && keryu_uuid_valid(a->joined_alarm_id)) {
		/* a scan within the cooldown of an open alarm: nobody was
		 * alerted again, the other alarm carries the alerts */
		term(h, "Joined alarm");
		snprintf(href, sizeof(href), "/alarms/%s/", a->joined_alarm_id);
		http_link(h, href, "The open alarm this scan was added to");
		html_raw(h, "</dd>\n");
	}
	term(h, "Notification");
	html_text(h, a->s.notification_status);
	html_raw(h, "</dd>\n");
	if (a->s.has_location) {
		term(h, "Location");
		map_link(h, a);
		html_raw(h, "</dd>\n");
	}
	if (a->location[0]) {
		term(h, "Finder's report");
		html_raw(h, "<span class=\"notes\">");
		html_text(h, a->location);
		html_raw(h, "</span></dd>\n");
	}
	if (a->s.resolved && a->resolution_notes[0]) {
		term(h, "Notes");
		html_raw(h, "<span class=\"notes\">");
		html_text(h, a->resolution_notes);
		html_raw(h, "</span></dd>\n");
	}
	html_raw(h, "</dl>\n");
	http_alarm_timeline(h, tl, n < TIMELINE_MAX ? n : TIMELINE_MAX);
	if (!a->s.resolved && !a->acknowledged_at[0] &&
	    svc->alarm_acknowledge) {
		html_raw(h, "<h2>On your way?</h2>\n<p>Say so, and the alert "
			    "will not be passed on to the next person.</p>\n");
		snprintf(action, sizeof(action), "/alarms/%s/acknowledge", id);
		html_form_begin(h, action, p->s->row.csrf);
		html_form_end(h, "I'm on my way");
	}
	if (!a->s.resolved) {
		snprintf(action, sizeof(action), "/alarms/%s/resolve", id);
		http_alarm_resolve_form(p, action, notes, e);
	}
	html_raw(h, "<p class=\"small\"><a href=\"/alarms/\">All alarms</a>"
		    "</p>\n");
	http_layout_end(h);
out:
	free(a);
	free(tl);
}

void http_alarm_detail(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	struct html_errors e = {0};
	char id[KERYU_UUID_LEN];

	if (!svc || !http_service_has(p, svc->alarm_get && svc->alarm_timeline))
		return;
	if (!http_uuid_arg(p->arg[0], id)) {
		http_not_found(p);
		return;
	}
	detail_page(p, id, &e, "", 200);
}

const char *http_alarm_notes_problem(const char *notes, const char *clean)
{
	const unsigned char *c;

	if (strlen(notes) > NOTES_MAX)
		return "The notes must be at most 2000 characters long.";
	if (strcmp(clean, notes) != 0)
		return "The notes contain characters that are not allowed.";
	for (c = (const unsigned char *)notes; *c; c++)
		if ((*c < 0x20 && *c != '\n' && *c != '\r' && *c != '\t') ||
		    *c == 0x7f)
			return "The notes contain characters that are not "
			       "allowed.";
	return NULL;
}

void http_alarm_resolve(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	const char *notes = http_field(p, "notes"), *why;
	struct keryu_alarm_detail *a;
	struct html_errors e = {0};
	char id[KERYU_UUID_LEN], *valid, loc[96];
	size_t len;
	int rc;

	if (!svc || !http_service_has(p, svc->alarm_get &&
						 svc->alarm_timeline &&
						 svc->alarm_resolve))
		return;
	if (!http_uuid_arg(p->arg[0], id)) {
		http_not_found(p);
		return;
	}
	/* someone else's alarm is a 404 whatever the notes say */
	a = calloc(1, sizeof(*a));
	rc = a ? svc->alarm_get(svc->self, p->s->who.id, id, a) : KERYU_ENOMEM;
	free(a);
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		return;
	}
	if (rc) {
		http_service_failed(p, "http.alarm_resolve", rc);
		return;
	}
	len = strlen(notes) + 1;
	valid = malloc(len);
	if (!valid) {
		http_service_failed(p, "http.alarm_resolve", KERYU_ENOMEM);
		return;
	}
	keryu_utf8_copy(valid, len, notes);
	why = http_alarm_notes_problem(notes, valid);
	if (why) {
		html_errors_add(&e, "notes", why);
		detail_page(p, id, &e, valid, 400);
		free(valid);
		return;
	}
	rc = svc->alarm_resolve(svc->self, p->s->who.id, id, valid);
	if (rc == KERYU_EINVAL) {
		html_errors_add(&e, "notes", "These notes were not accepted.");
		detail_page(p, id, &e, valid, 400);
	}
	free(valid);
	if (rc == KERYU_EINVAL)
		return;
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		return;
	}
	if (rc == KERYU_ECONFLICT) {
		snprintf(loc, sizeof(loc), "/alarms/%s/?notice=already", id);
		http_redirect(p->r, loc);
		return;
	}
	if (rc) {
		http_service_failed(p, "http.alarm_resolve", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.alarm_resolve",
			  "custodian=%s alarm=%s", p->s->who.id, id);
	snprintf(loc, sizeof(loc), "/alarms/%s/?notice=resolved", id);
	http_redirect(p->r, loc);
}

/* ---- acknowledging ---- */

int http_alarm_event_publish(struct http_ctx *ctx, const char *alarm_id,
			     const char *subject_id, const char *state)
{
	struct keryu_alarm_event ev;
	char topic[sizeof(KERYU_TOPIC_ALARM) + KERYU_UUID_LEN];
	char *json;
	int rc;

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	snprintf(ev.alarm_id, sizeof(ev.alarm_id), "%s", alarm_id);
	snprintf(ev.subject_id, sizeof(ev.subject_id), "%s",
		 subject_id ? subject_id : "");
	snprintf(ev.state, sizeof(ev.state), "%s", state);
	json = keryu_alarm_event_encode(&ev);
	if (!json) {
		rc = KERYU_ENOMEM;
	} else {
		snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_ALARM,
			 alarm_id);
		rc = ctx->host->publish(ctx->m, topic, json, strlen(json), 1,
					false);
		free(json);
	}
	if (rc)
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.alarm_event",
			       "alarm=%s state=%s error=\"%s\"", alarm_id,
			       state, keryu_strerror(rc));
	return rc;
}

void http_alarm_acknowledge(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	struct keryu_alarm_detail *a;
	char id[KERYU_UUID_LEN], subject[KERYU_UUID_LEN] = "", loc[96];
	int rc;

	if (!svc || !http_service_has(p, svc->alarm_get &&
						 svc->alarm_acknowledge))
		return;
	if (!http_uuid_arg(p->arg[0], id)) {
		http_not_found(p);
		return;
	}
	/* someone else's alarm is a 404, and its subject id is needed for
	 * the event */
	a = calloc(1, sizeof(*a));
	rc = a ? svc->alarm_get(svc->self, p->s->who.id, id, a) : KERYU_ENOMEM;
	if (!rc)
		memcpy(subject, a->s.subject_id, sizeof(subject));
	free(a);
	if (!rc)
		rc = svc->alarm_acknowledge(svc->self, p->s->who.id, id);
	if (rc == KERYU_ENOTFOUND) {
		http_not_found(p);
		return;
	}
	if (rc == KERYU_ECONFLICT) {
		snprintf(loc, sizeof(loc), "/alarms/%s/?notice=ack_already", id);
		http_redirect(p->r, loc);
		return;
	}
	if (rc) {
		http_service_failed(p, "http.alarm_acknowledge", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.alarm_acknowledge",
			  "custodian=%s alarm=%s", p->s->who.id, id);
	http_alarm_event_publish(p->ctx, id,
				 keryu_uuid_valid(subject) ? subject : "",
				 "acknowledged");
	snprintf(loc, sizeof(loc), "/alarms/%s/?notice=acknowledged", id);
	http_redirect(p->r, loc);
}
