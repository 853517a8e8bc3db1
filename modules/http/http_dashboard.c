/* The custodian's dashboard: how many subjects, active tags and open
 * alarms, and each subject's last alarm, with links to the pages that
 * act on them. Also the small helpers the tag and alarm pages share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_account.h"
#include "http_tags_alarms.h"

/* The dashboard lists this many subjects; the subject list has them all. */
#define DASH_SUBJECTS 100

void http_not_found(struct http_page *p)
{
	/* the same page as any unknown address: a foreign id must not be
	 * told apart from one that does not exist */
	http_page_error(p->r, 404, "Page not found",
			"There is nothing at this address.");
	p->r->no_store = true;
}

void http_service_failed(struct http_page *p, const char *event, int rc)
{
	p->ctx->host->log(p->ctx->m, KERYU_LOG_ERROR, event,
			  "custodian=%s error=\"%s\"",
			  p->s->logged_in ? p->s->who.id : "-",
			  keryu_strerror(rc));
	http_unavailable(p);
}

bool http_uuid_arg(const char *s, char out[KERYU_UUID_LEN])
{
	size_t i;

	if (!keryu_uuid_valid(s))
		return false;
	for (i = 0; i < KERYU_UUID_LEN - 1; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
	return true;
}

void http_time(struct html *h, const char *iso, const char *empty_text)
{
	char shown[40];

	if (!iso || !*iso) {
		html_text(h, empty_text);
		return;
	}
	/* "YYYY-MM-DDTHH:MM..." reads better as "YYYY-MM-DD HH:MM UTC";
	 * anything else is shown as it came */
	if (strlen(iso) >= 16 && iso[10] == 'T')
		snprintf(shown, sizeof(shown), "%.10s %.5s UTC", iso, iso + 11);
	else
		snprintf(shown, sizeof(shown), "%s", iso);
	html_raw(h, "<time datetime=\"");
	html_attr(h, iso);
	html_raw(h, "\">");
	html_text(h, shown);
	html_raw(h, "</time>");
}

const struct keryu_subjects *http_subjects(struct http_page *p)
{
	if (!p->ctx->subjects) {
		http_page_error(p->r, 503, "Temporarily unavailable",
				"This page cannot be used right now. Please "
				"try again in a few minutes.");
		p->r->no_store = true;
	}
	return p->ctx->subjects;
}

bool http_service_has(struct http_page *p, bool have)
{
	if (!have)
		http_unavailable(p);
	return have;
}

static void count(struct html *h, int n, const char *one, const char *many,
		  const char *href)
{
	html_raw(h, "<li><a href=\"");
	html_attr(h, href);
	html_raw(h, "\"><strong>");
	html_textf(h, "%d", n);
	html_raw(h, "</strong> ");
	html_text(h, n == 1 ? one : many);
	html_raw(h, "</a></li>\n");
}

static void subject_row(struct html *h, const struct keryu_subject_summary *s)
{
	char href[128];

	html_raw(h, "<li class=\"card\"><strong>");
	html_text(h, s->name);
	html_raw(h, "</strong>");
	if (!s->is_active)
		html_raw(h, " <span class=\"small\">(inactive)</span>");
	html_raw(h, "<br><span class=\"small\">Last alarm: ");
	http_time(h, s->last_alarm_at, "never");
	html_raw(h, "</span><br><span class=\"small\">");
	html_textf(h, "%d active tag%s, %d open alarm%s", s->active_tags,
		   s->active_tags == 1 ? "" : "s", s->open_alarms,
		   s->open_alarms == 1 ? "" : "s");
	html_raw(h, "</span><br>");
	snprintf(href, sizeof(href), "/subjects/%s/tags/", s->id);
	html_raw(h, "<a href=\"");
	html_attr(h, href);
	html_raw(h, "\">Tags</a> &middot; ");
	snprintf(href, sizeof(href), "/alarms/?subject=%s", s->id);
	html_raw(h, "<a href=\"");
	html_attr(h, href);
	html_raw(h, "\">Alarms</a></li>\n");
}

static const char dash_style[] =
	"<style>\n"
	".counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;"
	"gap:.5rem;margin:0 0 1rem}\n"
	".counts li{border:1px solid #999;border-radius:.25rem;"
	"padding:.4rem .7rem}\n"
	".cards{list-style:none;padding:0;margin:0 0 1rem}\n"
	".card{border-top:1px solid #ccc;padding:.5rem 0;"
	"overflow-wrap:anywhere}\n"
	"</style>\n";

void http_dashboard(struct http_page *p)
{
	const struct keryu_subjects *svc = http_subjects(p);
	struct keryu_subject_summary *list = NULL;
	struct keryu_dashboard d;
	struct html *h = &p->r->body;
	size_t n = 0, i;
	int total = 0, rc;

	if (!svc || !http_service_has(p, svc->dashboard && svc->subject_list))
		return;
	memset(&d, 0, sizeof(d));
	rc = svc->dashboard(svc->self, p->s->who.id, &d);
	if (!rc) {
		list = calloc(DASH_SUBJECTS, sizeof(*list));
		rc = list ? svc->subject_list(svc->self, p->s->who.id, 0, list,
					      DASH_SUBJECTS, &n, &total)
			  : KERYU_ENOMEM;
	}
	if (rc) {
		free(list);
		http_service_failed(p, "http.dashboard", rc);
		return;
	}
	if (!http_form_page(p, "Dashboard", 200)) {
		free(list);
		return;
	}
	html_raw(h, dash_style);
	html_raw(h, "<ul class=\"counts\">\n");
	count(h, d.subjects, "subject", "subjects", "/subjects/");
	count(h, d.active_tags, "active tag", "active tags", "/subjects/");
	count(h, d.open_alarms, "open alarm", "open alarms",
	      "/alarms/?state=open");
	html_raw(h, "</ul>\n<p><a href=\"/alarms/\">All alarms</a></p>\n"
		    "<h2>Last alarm per subject</h2>\n");
	if (n == 0)
		html_raw(h, "<p>You have no subjects yet. "
			    "<a href=\"/subjects/\">Add one</a>.</p>\n");
	html_raw(h, "<ul class=\"cards\">\n");
	for (i = 0; i < n && i < DASH_SUBJECTS; i++)
		subject_row(h, &list[i]);
	html_raw(h, "</ul>\n");
	if (total > (int)n)
		html_raw(h, "<p><a href=\"/subjects/\">All subjects</a></p>\n");
	free(list);
	http_layout_end(h);
}
