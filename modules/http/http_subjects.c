/* The custodian's subjects: list, create, view, edit, delete and privacy.
 * The router has loaded the session, sent visitors to the login form and
 * checked the CSRF token of every POST. Every service call carries the
 * session's custodian id, so another custodian's subject is a 404 just
 * like one that does not exist, for GET and POST alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_finder.h"
#include "http_subjects.h"

/* ---- shared ---- */

bool http_subjects_ready(struct http_page *p)
{
	if (p->ctx->subjects)
		return true;
	http_page_error(p->r, 503, "Temporarily unavailable",
			"Subjects cannot be managed on this server right now.");
	p->r->no_store = true;
	return false;
}

void http_subject_not_found(struct http_page *p)
{
	http_page_error(p->r, 404, "Page not found",
			"There is nothing at this address.");
	p->r->no_store = true;
}

void http_subject_fail(struct http_page *p, const char *event, int rc)
{
	if (rc == KERYU_ENOTFOUND) {
		http_subject_not_found(p);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_ERROR, event,
			  "custodian=%s error=\"%s\"", p->s->who.id,
			  keryu_strerror(rc));
	http_unavailable(p);
}

bool http_subject_load(struct http_page *p, struct keryu_subject *out)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	int rc;

	if (!http_subjects_ready(p))
		return false;
	/* the service would say ENOTFOUND too; this spares it the query */
	if (!keryu_uuid_valid(p->arg[0])) {
		http_subject_not_found(p);
		return false;
	}
	memset(out, 0, sizeof(*out));
	rc = sv->subject_get(sv->self, p->s->who.id, p->arg[0], out);
	if (rc) {
		http_subject_fail(p, "http.subject_get", rc);
		return false;
	}
	return true;
}

void http_subject_path(char out[128], const char *id, const char *rest)
{
	snprintf(out, 128, "/subjects/%s/%s", id, rest);
}

void http_dl_row(struct html *h, const char *term, const char *value)
{
	html_raw(h, "<dt>");
	html_text(h, term);
	if (!value || !*value) {
		html_raw(h, "</dt><dd class=\"small\">Not given</dd>\n");
		return;
	}
	html_raw(h, "</dt><dd style=\"white-space:pre-wrap\">");
	html_text(h, value);
	html_raw(h, "</dd>\n");
}

static const char *gender_name(const char *g)
{
	switch (g[0]) {
	case 'F': return "Female";
	case 'M': return "Male";
	case 'O': return "Other";
	case 'U': return "Prefer not to say";
	}
	return "";
}

void http_subject_fields(struct html *h, const struct keryu_subject *s)
{
	http_dl_row(h, "Date of birth", s->date_of_birth);
	http_dl_row(h, "Gender", gender_name(s->gender));
	http_dl_row(h, "Care instructions for a finder", s->care_instructions);
	http_dl_row(h, "Medical conditions", s->medical_conditions);
	http_dl_row(h, "Allergies", s->allergies);
	http_dl_row(h, "Medications", s->medications);
	http_dl_row(h, "Doctor's name", s->doctor_name);
	http_dl_row(h, "Doctor's phone", s->doctor_phone);
	http_dl_row(h, "Doctor's address", s->doctor_address);
	http_dl_row(h, "Doctor's speciality", s->doctor_speciality);
}

/* ---- list ---- */

/* ?page=N: 1 when absent; 0 for anything but 1..100000. */
static int page_number(const char *v)
{
	char *end;
	long n;

	if (!*v)
		return 1;
	if (v[0] < '0' || v[0] > '9')
		return 0;
	n = strtol(v, &end, 10);
	return *end || n < 1 || n > 100000 ? 0 : (int)n;
}

static void page_link(struct html *h, int page, const char *label)
{
	char href[64];

	snprintf(href, sizeof(href), "/subjects/?page=%d", page);
	html_raw(h, "<a href=\"");
	html_attr(h, href);
	html_raw(h, "\">");
	html_text(h, label);
	html_raw(h, "</a>");
}

void http_subject_list(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_subject_summary *rows;
	const char *notice = http_query(p, "notice");
	struct html *h = &p->r->body;
	int page, total = 0, pages, rc;
	size_t n = 0, i;

	if (!http_subjects_ready(p))
		return;
	page = page_number(http_query(p, "page"));
	if (page == 0) {
		http_subject_not_found(p);
		return;
	}
	rows = calloc(HTTP_SUBJECTS_PER_PAGE, sizeof(*rows));
	if (!rows) {
		http_unavailable(p);
		return;
	}
	rc = sv->subject_list(sv->self, p->s->who.id,
			      (page - 1) * HTTP_SUBJECTS_PER_PAGE, rows,
			      HTTP_SUBJECTS_PER_PAGE, &n, &total);
	if (rc) {
		free(rows);
		http_subject_fail(p, "http.subject_list", rc);
		return;
	}
	pages = (total + HTTP_SUBJECTS_PER_PAGE - 1) / HTTP_SUBJECTS_PER_PAGE;
	if (!http_form_page(p, "Your subjects", n == 0 && page > 1 ? 404 : 200)) {
		free(rows);
		return;
	}
	if (strcmp(notice, "deleted") == 0)
		http_notice(h, "The subject was deleted.");
	html_raw(h, "<p><a href=\"/subjects/new\">Add a subject</a></p>\n");
	if (total == 0)
		html_raw(h, "<p>You have no subjects yet. Add the person you "
			    "look after, then give them a QR tag.</p>\n");
	else if (n == 0)
		html_raw(h, "<p>There is no such page of subjects.</p>\n");
	if (n) {
		html_raw(h, "<ul style=\"list-style:none;padding:0;margin:0 0 "
			    "1rem\">\n");
		for (i = 0; i < n; i++) {
			const struct keryu_subject_summary *s = &rows[i];
			char href[128];

			http_subject_path(href, s->id, "");
			html_raw(h, "<li style=\"border-top:1px solid #ccc;"
				    "padding:.5rem 0\"><a href=\"");
			html_attr(h, href);
			html_raw(h, "\" style=\"font-weight:600;"
				    "overflow-wrap:anywhere\">");
			html_text(h, s->name);
			html_raw(h, "</a><br><span class=\"small\">");
			html_text(h, s->is_active ? "Active" : "Inactive");
			html_textf(h, " · %d active tag%s · %d open alarm%s",
				   s->active_tags,
				   s->active_tags == 1 ? "" : "s",
				   s->open_alarms,
				   s->open_alarms == 1 ? "" : "s");
			if (s->has_photo)
				html_text(h, " · photo");
			html_raw(h, "</span></li>\n");
		}
		html_raw(h, "</ul>\n");
	}
	if (pages > 1) {
		html_raw(h, "<p>");
		if (page > 1)
			page_link(h, page - 1, "Previous page");
		html_textf(h, " Page %d of %d ", page, pages);
		if (page < pages)
			page_link(h, page + 1, "Next page");
		html_raw(h, "</p>\n");
	}
	free(rows);
	http_layout_end(h);
}

/* ---- create ---- */

static void subject_form_page(struct http_page *p, const char *title,
			      const char *action, const struct keryu_subject *s,
			      bool from_post, const struct html_errors *e,
			      const char *submit, unsigned status)
{
	if (!http_form_page(p, title, status))
		return;
	http_subject_form(p, action, s, from_post, e, submit);
	http_layout_end(&p->r->body);
}

void http_subject_new(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_subject *s;
	struct html_errors e = {0};
	struct http_msgs msgs = {0};
	char id[KERYU_UUID_LEN], loc[128];
	int rc;

	if (!http_subjects_ready(p))
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		http_unavailable(p);
		return;
	}
	if (!http_is_post(p)) {
		s->is_active = true;
		subject_form_page(p, "Add a subject", "/subjects/new", s, false,
				  &e, "Add subject", 200);
		free(s);
		return;
	}
	if (!http_subject_read(p, s, &e, &msgs)) {
		subject_form_page(p, "Add a subject", "/subjects/new", s, true,
				  &e, "Add subject", 400);
		free(s);
		return;
	}
	s->public_fields = KERYU_PUB_DEFAULT;
	rc = sv->subject_create(sv->self, p->s->who.id, s, id);
	if (rc == KERYU_EINVAL) {
		html_errors_add(&e, NULL, "These details were not accepted. "
					  "Please check them.");
		subject_form_page(p, "Add a subject", "/subjects/new", s, true,
				  &e, "Add subject", 400);
	} else if (rc) {
		http_subject_fail(p, "http.subject_create", rc);
	} else {
		p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO,
				  "http.subject_created",
				  "custodian=%s subject=%s", p->s->who.id, id);
		http_subject_path(loc, id, "?notice=created");
		http_redirect(p->r, loc);
	}
	free(s);
}

/* ---- view ---- */

static const struct {
	unsigned bit;
	const char *label;
} public_labels[] = {
	{KERYU_PUB_PHOTO, "Photo"},
	{KERYU_PUB_FIRST_NAME, "First name"},
	{KERYU_PUB_FULL_NAME, "Full name"},
	{KERYU_PUB_CARE, "Care instructions"},
	{KERYU_PUB_MEDICAL, "Medical conditions"},
	{KERYU_PUB_ALLERGIES, "Allergies"},
	{KERYU_PUB_MEDICATIONS, "Medications"},
	{KERYU_PUB_DOCTOR, "Doctor"},
	{KERYU_PUB_CUSTODIAN_PHONE, "Your phone number"},
};

#define N_PUBLIC (sizeof(public_labels) / sizeof(public_labels[0]))

static void link_item(struct html *h, const char *id, const char *rest,
		      const char *label)
{
	char href[128];

	http_subject_path(href, id, rest);
	html_raw(h, "<li><a href=\"");
	html_attr(h, href);
	html_raw(h, "\">");
	html_text(h, label);
	html_raw(h, "</a></li>\n");
}

void http_contact_items(struct html *h, const struct keryu_contact *list,
			size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		html_raw(h, "<li>");
		html_text(h, list[i].name);
		if (!list[i].verified)
			html_text(h, " (not verified yet)");
		html_raw(h, "</li>\n");
	}
}

static void view_contacts(struct http_page *p, const struct keryu_subject *s)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_contact list[KERYU_CONTACTS_MAX];
	struct html *h = &p->r->body;
	size_t n = 0;
	int rc;

	html_raw(h, "<h2 style=\"font-size:1.25rem\">Emergency contacts</h2>\n"
		    "<ol>\n<li>");
	html_text(h, p->s->who.name);
	html_raw(h, " (you)</li>\n");
	rc = sv->contact_list(sv->self, p->s->who.id, s->id, list,
			      KERYU_CONTACTS_MAX, &n);
	if (rc)
		n = 0;
	http_contact_items(h, list, n);
	html_raw(h, "</ol>\n");
	if (rc)
		html_raw(h, "<p class=\"small\">The other contacts cannot be "
			    "shown right now.</p>\n");
	html_raw(h, "<ul>\n");
	link_item(h, s->id, "contacts/", "Manage contacts");
	html_raw(h, "</ul>\n");
}

/* ---- lost mode ---- */

static bool can_set_missing(const struct keryu_subjects *sv)
{
	return sv &&
	       sv->struct_size >= offsetof(struct keryu_subjects,
					   subject_set_missing) +
					  sizeof(sv->subject_set_missing) &&
	       sv->subject_set_missing;
}

/* The banner while missing, and the one button that turns it on or off. */
static void lost_mode(struct http_page *p, const struct keryu_subject *s)
{
	struct html *h = &p->r->body;
	char action[128];

	if (!can_set_missing(p->ctx->subjects))
		return;
	http_subject_path(action, s->id, "missing");
	if (s->missing) {
		html_raw(h, "<div role=\"alert\" style=\"border:3px solid "
			    "#b00020;background:#fff0f0;padding:.5rem 1rem;"
			    "margin:0 0 1rem\">\n<p><strong>Marked as missing."
			    "</strong> Every scan of ");
		html_text(h, s->name);
		html_raw(h, "'s tags alerts you, without the usual pause "
			    "between alerts, and the scan page asks the finder "
			    "to stay with them and share their location.</p>\n");
		html_form_begin(h, action, p->s->row.csrf);
		html_raw(h, "<input type=\"hidden\" name=\"missing\" "
			    "value=\"0\">\n");
		html_form_end(h, "Found \xe2\x80\x94 end lost mode");
		html_raw(h, "</div>\n");
		return;
	}
	html_form_begin(h, action, p->s->row.csrf);
	html_raw(h, "<input type=\"hidden\" name=\"missing\" value=\"1\">\n");
	html_form_end(h, "Mark as missing");
}

void http_subject_missing(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	const char *v;
	char loc[128];
	bool missing;
	int rc;

	if (!http_subjects_ready(p))
		return;
	if (!can_set_missing(sv)) {
		http_unavailable(p);
		return;
	}
	v = http_field(p, "missing");
	if (strcmp(v, "1") != 0 && strcmp(v, "0") != 0) {
		http_page_error(p->r, 400, "Bad request",
				"The form could not be read. Please go back "
				"and try again.");
		p->r->no_store = true;
		return;
	}
	missing = v[0] == '1';
	/* scoped to the custodian: anyone else's subject is ENOTFOUND */
	rc = sv->subject_set_missing(sv->self, p->s->who.id, p->arg[0],
				     missing);
	if (rc) {
		http_subject_fail(p, "http.subject_missing", rc);
		return;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.subject_missing",
			  "custodian=%s subject=%s missing=%s", p->s->who.id,
			  p->arg[0], missing ? "true" : "false");
	http_subject_path(loc, p->arg[0], missing ? "" : "?notice=found");
	http_redirect(p->r, loc);
}

void http_subject_view(struct http_page *p)
{
	struct keryu_subject *s = calloc(1, sizeof(*s));
	const char *notice = http_query(p, "notice");
	struct html *h = &p->r->body;
	char src[128];
	size_t i;
	bool any = false;

	if (!s) {
		http_unavailable(p);
		return;
	}
	if (!http_subject_load(p, s) || !http_form_page(p, s->name, 200)) {
		free(s);
		return;
	}
	if (strcmp(notice, "created") == 0)
		http_notice(h, "The subject was added. Next: add a photo, "
			       "check what the scan page shows, and give "
			       "them a QR tag.");
	else if (strcmp(notice, "saved") == 0)
		http_notice(h, "Your changes were saved.");
	else if (strcmp(notice, "privacy") == 0)
		http_notice(h, "The scan page settings were saved.");
	else if (strcmp(notice, "photo") == 0)
		http_notice(h, "The photo was saved.");
	else if (strcmp(notice, "photo_removed") == 0)
		http_notice(h, "The photo was removed.");
	else if (strcmp(notice, "found") == 0)
		http_notice(h, "Lost mode has ended.");

	lost_mode(p, s);

	if (s->photo[0]) {
		http_subject_path(src, s->id, "photo/image");
		html_raw(h, "<p><img src=\"");
		html_attr(h, src);
		html_raw(h, "\" alt=\"Photo of ");
		html_attr(h, s->name);
		html_raw(h, "\" style=\"max-width:100%;height:auto;"
			    "max-height:20rem\"></p>\n");
	}
	html_raw(h, "<ul>\n");
	link_item(h, s->id, "edit", "Edit details");
	link_item(h, s->id, "photo", s->photo[0] ? "Change or remove the photo"
						 : "Add a photo");
	link_item(h, s->id, "tags/", "QR tags");
	link_item(h, s->id, "privacy", "What the scan page shows");
	html_raw(h, "</ul>\n<dl>\n");
	http_dl_row(h, "Status", s->is_active ? "Active" : "Inactive");
	http_subject_fields(h, s);
	html_raw(h, "</dl>\n");

	view_contacts(p, s);

	html_raw(h, "<h2 style=\"font-size:1.25rem\">On the scan page</h2>\n"
		    "<p>Someone who scans the tag sees:</p>\n<ul>\n");
	for (i = 0; i < N_PUBLIC; i++) {
		if (!(s->public_fields & public_labels[i].bit))
			continue;
		html_raw(h, "<li>");
		html_text(h, public_labels[i].label);
		html_raw(h, "</li>\n");
		any = true;
	}
	if (!any)
		html_raw(h, "<li>Only that the person is looked after "
			    "(nothing personal)</li>\n");
	html_raw(h, "</ul>\n<ul>\n");
	link_item(h, s->id, "privacy", "Change what the scan page shows");
	html_raw(h, "</ul>\n<p>");
	http_subject_path(src, s->id, "delete");
	html_raw(h, "<a href=\"");
	html_attr(h, src);
	html_raw(h, "\" style=\"color:#b00020\">Delete this subject</a></p>\n"
		    "<p><a href=\"/subjects/\">All subjects</a></p>\n");
	http_layout_end(h);
	free(s);
}

/* ---- edit ---- */

void http_subject_edit(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_subject *s = calloc(1, sizeof(*s));
	struct html_errors e = {0};
	struct http_msgs msgs = {0};
	char action[128], loc[128];
	int rc;

	if (!s) {
		http_unavailable(p);
		return;
	}
	/* also the ownership check of a POST, before anything is read */
	if (!http_subject_load(p, s)) {
		free(s);
		return;
	}
	http_subject_path(action, s->id, "edit");
	if (!http_is_post(p)) {
		subject_form_page(p, "Edit details", action, s, false, &e,
				  "Save", 200);
		free(s);
		return;
	}
	/* this form has neither photo nor public fields; subject_update
	 * leaves both alone */
	if (!http_subject_read(p, s, &e, &msgs)) {
		subject_form_page(p, "Edit details", action, s, true, &e,
				  "Save", 400);
		free(s);
		return;
	}
	rc = sv->subject_update(sv->self, p->s->who.id, s);
	if (rc == KERYU_EINVAL) {
		html_errors_add(&e, NULL, "These details were not accepted. "
					  "Please check them.");
		subject_form_page(p, "Edit details", action, s, true, &e,
				  "Save", 400);
	} else if (rc) {
		http_subject_fail(p, "http.subject_update", rc);
	} else {
		http_subject_path(loc, s->id, "?notice=saved");
		http_redirect(p->r, loc);
	}
	free(s);
}

/* ---- delete ---- */

void http_subject_delete(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_subject *s = calloc(1, sizeof(*s));
	struct html *h = &p->r->body;
	char action[128], photo[80] = "";
	struct html_errors e = {0};
	int rc;

	if (!s) {
		http_unavailable(p);
		return;
	}
	if (!http_subject_load(p, s)) {
		free(s);
		return;
	}
	http_subject_path(action, s->id, "delete");
	if (http_is_post(p) && strcmp(http_field(p, "confirm"), "1") == 0) {
		rc = sv->subject_delete(sv->self, p->s->who.id, s->id, photo);
		if (rc) {
			http_subject_fail(p, "http.subject_delete", rc);
			free(s);
			return;
		}
		p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO,
				  "http.subject_deleted",
				  "custodian=%s subject=%s", p->s->who.id,
				  s->id);
		http_photo_remove(p->ctx, photo);
		http_redirect(p->r, "/subjects/?notice=deleted");
		free(s);
		return;
	}
	if (http_is_post(p))
		html_errors_add(&e, "confirm", "Tick the box to confirm.");
	if (!http_form_page(p, "Delete this subject?",
			    http_is_post(p) ? 400 : 200)) {
		free(s);
		return;
	}
	html_error_summary(h, &e);
	html_raw(h, "<p>This deletes <strong>");
	html_text(h, s->name);
	html_raw(h, "</strong> with their photo, emergency contacts, QR tags "
		    "and alarm history. Their tags stop working. This cannot "
		    "be undone.</p>\n");
	html_form_begin(h, action, p->s->row.csrf);
	http_checkbox(h, "confirm", "Yes, delete this subject for good", NULL,
		      false, html_errors_for(&e, "confirm"));
	html_form_end(h, "Delete");
	http_subject_path(action, s->id, "");
	html_raw(h, "<p><a href=\"");
	html_attr(h, action);
	html_raw(h, "\">Cancel</a></p>\n");
	http_layout_end(h);
	free(s);
}

/* ---- privacy ---- */

static const struct {
	unsigned bit;
	const char *name, *label, *hint;
} privacy_boxes[] = {
	{KERYU_PUB_PHOTO, "pub_photo", "Photo", NULL},
	{KERYU_PUB_FIRST_NAME, "pub_first_name", "First name",
	 "The first word of the name."},
	{KERYU_PUB_FULL_NAME, "pub_full_name", "Full name", NULL},
	{KERYU_PUB_CARE, "pub_care", "Care instructions", NULL},
	{KERYU_PUB_MEDICAL, "pub_medical", "Medical conditions", NULL},
	{KERYU_PUB_ALLERGIES, "pub_allergies", "Allergies", NULL},
	{KERYU_PUB_MEDICATIONS, "pub_medications", "Medications", NULL},
	{KERYU_PUB_DOCTOR, "pub_doctor", "Doctor's name and phone", NULL},
	{KERYU_PUB_CUSTODIAN_PHONE, "pub_custodian_phone",
	 "Your phone number", "So the finder can call you directly."},
};

#define N_PRIVACY (sizeof(privacy_boxes) / sizeof(privacy_boxes[0]))

void http_subject_privacy(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct keryu_subject *s = calloc(1, sizeof(*s));
	struct html *h = &p->r->body;
	char action[128], loc[128];
	unsigned bits = 0;
	size_t i;
	int rc;

	if (!s) {
		http_unavailable(p);
		return;
	}
	if (!http_subject_load(p, s)) {
		free(s);
		return;
	}
	http_subject_path(action, s->id, "privacy");
	if (http_is_post(p)) {
		for (i = 0; i < N_PRIVACY; i++)
			if (strcmp(http_field(p, privacy_boxes[i].name), "1") ==
			    0)
				bits |= privacy_boxes[i].bit;
		/* only the bits: the other fields as loaded here may be
		 * stale by now */
		rc = sv->subject_set_public(sv->self, p->s->who.id, s->id,
					    bits);
		if (rc) {
			http_subject_fail(p, "http.subject_privacy", rc);
		} else {
			http_subject_path(loc, s->id, "?notice=privacy");
			http_redirect(p->r, loc);
		}
		free(s);
		return;
	}
	if (!http_form_page(p, "What the scan page shows", 200)) {
		free(s);
		return;
	}
	html_raw(h, "<p>When someone scans a tag of <strong>");
	html_text(h, s->name);
	html_raw(h, "</strong>, you are alerted at once. Choose what the "
		    "finder may see to help them:</p>\n");
	html_form_begin(h, action, p->s->row.csrf);
	html_raw(h, "<fieldset style=\"border:0;padding:0;margin:0\">\n"
		    "<legend class=\"small\">Shown on the scan page</legend>\n");
	for (i = 0; i < N_PRIVACY; i++)
		http_checkbox(h, privacy_boxes[i].name, privacy_boxes[i].label,
			      privacy_boxes[i].hint,
			      (s->public_fields & privacy_boxes[i].bit) != 0,
			      NULL);
	html_raw(h, "</fieldset>\n");
	html_form_end(h, "Save");
	http_subject_path(action, s->id, "");
	html_raw(h, "<p><a href=\"");
	html_attr(h, action);
	html_raw(h, "\">Back</a></p>\n");
	http_layout_end(h);
	free(s);
}
