/* Staff pages for what the operators configure at run time: the message
 * templates per event and channel, and the settings kept in the database
 * over keryu.conf. Every field is checked here against admin.h's rules
 * first, so a refused form shows each error next to its field with what
 * was typed, and nothing is stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_admin.h"
#include "http_subjects.h"
#include "http_tags_alarms.h"

static const char *const template_events[] = KERYU_TEMPLATE_EVENTS;
#define N_EVENTS (sizeof(template_events) / sizeof(template_events[0]))

/* admin.h's variables per event, in the built-in defaults' order, and
 * the keryu.conf options that name the default template */
static const struct {
	const char *event, *vars, *section, *name_key, *language_key;
} event_defaults[] = {
	{"alert", "name,time,place,link", "alarms", "template", "language"},
	{"location", "name,map", "alarms", "location_template", "language"},
	{"report", "name,situation,words", "alarms", "report_template",
	 "language"},
	{"code", "code", NULL, NULL, NULL}, /* [http] verify_template */
};
static const char *const default_params[] = {
	"name,time,place", "name,map", "name,situation,words", "code"};

/* True when every byte of s is in set and 1 <= len <= max. */
static bool word_ok(const char *s, const char *set, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max && strspn(s, set) == n;
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define CHANNEL_SET LOWER_DIGITS "_-"

static bool channel_ok(const char *s)
{
	return word_ok(s, CHANNEL_SET, 31);
}

static int event_index(const char *event)
{
	size_t i;

	for (i = 0; i < N_EVENTS; i++)
		if (strcmp(event, event_defaults[i].event) == 0)
			return (int)i;
	return -1;
}

/* Checks a comma-separated list (spaces around names are dropped) of the
 * event's variables, each at most once, at most 8, into out; NULL when
 * acceptable, else the message. */
static const char *parameters_read(const char *in, int ev, char *out,
				   size_t size)
{
	char copy[256], *save = NULL, *tok;
	char seen[8][16];
	size_t n = 0, o = 0, i;

	out[0] = '\0';
	if (strlen(in) >= sizeof(copy))
		return "Too many parameters.";
	memcpy(copy, in, strlen(in) + 1);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char name[16];
		const char *vars = event_defaults[ev].vars, *hit;
		size_t len;

		if (!http_trim_copy(tok, name, sizeof(name)) || !name[0])
			return "Separate the names with single commas.";
		len = strlen(name);
		hit = strstr(vars, name);
		while (hit && !((hit == vars || hit[-1] == ',') &&
				(hit[len] == ',' || hit[len] == '\0')))
			hit = strstr(hit + 1, name);
		if (!hit)
			return "Use only the names this event offers.";
		for (i = 0; i < n; i++)
			if (strcmp(seen[i], name) == 0)
				return "Name each parameter at most once.";
		if (n == 8)
			return "At most 8 parameters.";
		memcpy(seen[n++], name, len + 1);
		if (o + len + 2 > size)
			return "Too many parameters.";
		if (o)
			out[o++] = ',';
		memcpy(out + o, name, len + 1);
		o += len;
	}
	/* "a,,b" and a trailing comma are typos, not an empty name */
	if (strstr(in, ",,") || (n && in[strlen(in) - 1] == ','))
		return "Separate the names with single commas.";
	return NULL;
}

/* ---- templates ---- */

static const char *channel_label(const char *channel)
{
	return channel[0] ? channel : "every channel";
}

static void template_row(struct http_page *p, const struct keryu_template *t)
{
	struct html *h = &p->r->body;

	html_raw(h, "<li class=\"row\" data-event=\"");
	html_attr(h, t->event);
	html_raw(h, "\" data-channel=\"");
	html_attr(h, t->channel);
	html_raw(h, "\"><strong>");
	html_text(h, t->event);
	html_raw(h, "</strong> on ");
	html_text(h, channel_label(t->channel));
	html_raw(h, ": <code>");
	html_text(h, t->name);
	html_raw(h, "</code> (");
	html_text(h, t->language);
	html_raw(h, ")<br><span class=\"small\">Parameters: ");
	html_text(h, t->parameters[0] ? t->parameters : "none");
	html_raw(h, t->approved ? " &middot; approved"
				: " &middot; <strong>not approved</strong>: "
				  "the keryu.conf default is used meanwhile");
	html_raw(h, " &middot; changed ");
	http_time(h, t->updated_at, "-");
	html_raw(h, "</span><br>");
	html_form_begin(h, "/admin/templates/delete", p->s->row.csrf);
	html_hidden(h, "event", t->event);
	html_hidden(h, "channel", t->channel);
	html_raw(h, "<button type=\"submit\">Delete</button></form></li>\n");
}

/* What applies to an event on the channels without a row of their own. */
static void template_default(struct http_page *p, size_t ev,
			     const struct keryu_template *rows, size_t n)
{
	const struct keryu_host *host = p->ctx->host;
	struct html *h = &p->r->body;
	const char *name, *lang;
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].event, event_defaults[ev].event) == 0 &&
		    !rows[i].channel[0])
			return; /* a row for every channel: no default left */
	if (event_defaults[ev].section) {
		name = host->global(p->ctx->m, event_defaults[ev].section,
				    event_defaults[ev].name_key);
		lang = host->global(p->ctx->m, event_defaults[ev].section,
				    event_defaults[ev].language_key);
	} else {
		name = p->ctx->verify_template;
		lang = p->ctx->verify_language;
	}
	html_raw(h, "<li class=\"row default\" data-event=\"");
	html_attr(h, event_defaults[ev].event);
	html_raw(h, "\"><strong>");
	html_text(h, event_defaults[ev].event);
	html_raw(h, "</strong> on the other channels: keryu.conf's <code>");
	html_text(h, name && *name ? name : "not set");
	html_raw(h, "</code> (");
	html_text(h, lang && *lang ? lang : "not set");
	html_raw(h, ")<br><span class=\"small\">Parameters: ");
	html_text(h, default_params[ev]);
	html_raw(h, "</span></li>\n");
}

struct template_form {
	char event[16], channel[32], name[128], language[16], parameters[128];
	bool approved;
};

static void template_form(struct http_page *p, const struct html_errors *e)
{
	struct html *h = &p->r->body;
	const char *ev_opts[2 * N_EVENTS + 1];
	bool post = http_is_post(p);
	size_t i;

	for (i = 0; i < N_EVENTS; i++) {
		ev_opts[2 * i] = template_events[i];
		ev_opts[2 * i + 1] = template_events[i];
	}
	ev_opts[2 * N_EVENTS] = NULL;
	html_raw(h, "<h2>Add or replace a template</h2>\n");
	html_error_summary(h, e);
	html_form_begin(h, "/admin/templates/", p->s->row.csrf);
	http_select(h, &(struct http_select){
			       .name = "event", .label = "Event",
			       .value = post ? http_field(p, "event") : "alert",
			       .error = html_errors_for(e, "event"),
			       .options = ev_opts});
	html_input(h, &(struct html_field){
			      .name = "channel", .label = "Channel",
			      .hint = "e.g. whatsapp; empty for every channel "
				      "without a template of its own.",
			      .value = post ? http_field(p, "channel") : "",
			      .error = html_errors_for(e, "channel")});
	html_input(h, &(struct html_field){
			      .name = "name", .label = "Template name",
			      .hint = "The provider's name: a-z, 0-9 and _.",
			      .value = post ? http_field(p, "name") : "",
			      .error = html_errors_for(e, "name")});
	html_input(h, &(struct html_field){
			      .name = "language", .label = "Language",
			      .hint = "e.g. en_US.",
			      .value = post ? http_field(p, "language") : "",
			      .error = html_errors_for(e, "language")});
	html_input(h, &(struct html_field){
			      .name = "parameters", .label = "Parameters",
			      .hint = "Comma-separated, in the template's "
				      "order. alert: name, time, place, link; "
				      "location: name, map; report: name, "
				      "situation, words; code: code.",
			      .value = post ? http_field(p, "parameters") : "",
			      .error = html_errors_for(e, "parameters")});
	http_checkbox(h, "approved", "Approved by the provider",
		      "Only an approved template is used.",
		      post && strcmp(http_field(p, "approved"), "1") == 0,
		      html_errors_for(e, "approved"));
	html_form_end(h, "Save template");
}

static void templates_page(struct http_page *p, const struct html_errors *e,
			   unsigned status)
{
	const struct keryu_admin *a = p->ctx->admin;
	const char *notice = http_query(p, "notice");
	struct keryu_template *rows;
	struct html *h = &p->r->body;
	size_t n = 0, i;
	int rc;

	rows = calloc(KERYU_TEMPLATES_MAX, sizeof(*rows));
	rc = rows ? a->template_list(a->self, rows, KERYU_TEMPLATES_MAX, &n)
		  : KERYU_ENOMEM;
	if (rc) {
		free(rows);
		http_service_failed(p, "http.admin_templates", rc);
		return;
	}
	if (n > KERYU_TEMPLATES_MAX)
		n = KERYU_TEMPLATES_MAX;
	if (!http_admin_begin(p, "Message templates", status)) {
		free(rows);
		return;
	}
	if (strcmp(notice, "saved") == 0)
		http_notice(h, "The template was saved. The next message uses "
			       "it.");
	else if (strcmp(notice, "deleted") == 0)
		http_notice(h, "The template was deleted: the default applies "
			       "again.");
	else if (strcmp(notice, "gone") == 0)
		http_notice(h, "That template was already deleted.");
	html_raw(h, "<p>The template each message uses, per event and "
		    "channel. A channel's own row comes first, then the row "
		    "for every channel, then keryu.conf.</p>\n"
		    "<ul class=\"rows\" id=\"templates\">\n");
	for (i = 0; i < n; i++)
		template_row(p, &rows[i]);
	for (i = 0; i < N_EVENTS; i++)
		template_default(p, i, rows, n);
	html_raw(h, "</ul>\n");
	template_form(p, e);
	http_layout_end(h);
	free(rows);
}

/* Reads and checks the form into f; adds an error per bad field. */
static void template_read(const struct http_page *p, struct template_form *f,
			  struct html_errors *e)
{
	const char *why;
	int ev;

	memset(f, 0, sizeof(*f));
	ev = event_index(http_field(p, "event"));
	if (ev < 0)
		html_errors_add(e, "event", "Choose an event from the list.");
	else
		snprintf(f->event, sizeof(f->event), "%s", template_events[ev]);
	if (!http_trim_copy(http_field(p, "channel"), f->channel,
			    sizeof(f->channel)) ||
	    (f->channel[0] && !channel_ok(f->channel)))
		html_errors_add(e, "channel", "A channel is 1 to 31 of a-z, "
					      "0-9, _ and -, or empty.");
	if (!http_trim_copy(http_field(p, "name"), f->name, sizeof(f->name)) ||
	    !word_ok(f->name, LOWER_DIGITS "_", 127))
		html_errors_add(e, "name", "Enter the template's name: 1 to "
					   "127 of a-z, 0-9 and _.");
	if (!http_trim_copy(http_field(p, "language"), f->language,
		     sizeof(f->language)) ||
	    !word_ok(f->language,
		     LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", 15))
		html_errors_add(e, "language", "Enter a language code like "
					       "en_US.");
	if (ev >= 0 && (why = parameters_read(http_field(p, "parameters"), ev,
					      f->parameters,
					      sizeof(f->parameters))))
		html_errors_add(e, "parameters", why);
	f->approved = strcmp(http_field(p, "approved"), "1") == 0;
}

/* "name a -> b, approved false -> true" or "new: ..." into out. */
static void template_summary(const struct keryu_template *before,
			     const struct keryu_template *t, char *out,
			     size_t size)
{
	size_t o = 0;

	out[0] = '\0';
	if (!before->name[0]) {
		snprintf(out, size,
			 "new: name %s, language %s, parameters %s, "
			 "approved %s",
			 t->name, t->language,
			 t->parameters[0] ? t->parameters : "none",
			 http_admin_bool(t->approved));
		return;
	}
#define CHANGE(label, a, b)                                                   \
	do {                                                                  \
		if (strcmp(a, b) != 0 && o < size)                            \
			o += (size_t)snprintf(out + o, size - o,             \
					      "%s%s %s -> %s", o ? ", " : "", \
					      label, a[0] ? a : "none",      \
					      b[0] ? b : "none");            \
	} while (0)
	CHANGE("name", before->name, t->name);
	CHANGE("language", before->language, t->language);
	CHANGE("parameters", before->parameters, t->parameters);
	CHANGE("approved", http_admin_bool(before->approved),
	       http_admin_bool(t->approved));
#undef CHANGE
	if (!out[0])
		snprintf(out, size, "no change");
}

void http_admin_templates(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	struct keryu_template t, before;
	struct template_form f;
	struct html_errors e = {0};
	char target[64], summary[400];
	int rc;

	if (!a)
		return;
	if (!http_is_post(p)) {
		templates_page(p, &e, 200);
		return;
	}
	template_read(p, &f, &e);
	if (e.n) {
		templates_page(p, &e, 400);
		return;
	}
	memset(&t, 0, sizeof(t));
	memset(&before, 0, sizeof(before));
	memcpy(t.event, f.event, sizeof(t.event));
	memcpy(t.channel, f.channel, sizeof(t.channel));
	memcpy(t.name, f.name, sizeof(t.name));
	memcpy(t.language, f.language, sizeof(t.language));
	memcpy(t.parameters, f.parameters, sizeof(t.parameters));
	t.approved = f.approved;
	rc = a->template_put(a->self, &t, p->s->who.id, &before);
	if (rc == KERYU_EINVAL) {
		html_errors_add(&e, NULL, "This template was not accepted. "
					  "Please check its fields.");
		templates_page(p, &e, 400);
		return;
	}
	if (rc) {
		http_service_failed(p, "http.admin_template_put", rc);
		return;
	}
	snprintf(target, sizeof(target), "%s/%s", t.event,
		 t.channel[0] ? t.channel : "*");
	template_summary(&before, &t, summary, sizeof(summary));
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.admin_template",
			  "staff=%s template=%s", p->s->who.id, target);
	http_audit(p->ctx, p->req, "web", &p->s->who, NULL, "template.update",
		   "template", target, "template %s: %s", target, summary);
	http_admin_done(p, "/admin/templates/", "saved");
}

void http_admin_template_delete(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	const char *event = http_field(p, "event");
	const char *channel = http_field(p, "channel");
	struct keryu_template old;
	char target[64];
	int rc, ev;

	if (!a)
		return;
	ev = event_index(event);
	if (ev < 0 || (channel[0] && !channel_ok(channel))) {
		http_page_error(p->r, 400, "Bad request",
				"That is not a template's event and channel.");
		p->r->no_store = true;
		return;
	}
	/* template_get falls back to the every-channel row: only the row
	 * named is described */
	memset(&old, 0, sizeof(old));
	rc = a->template_get(a->self, template_events[ev], channel, &old);
	if (rc == 0 && strcmp(old.channel, channel) != 0)
		old.name[0] = '\0';
	rc = a->template_delete(a->self, template_events[ev], channel);
	if (rc == KERYU_ENOTFOUND) {
		http_admin_done(p, "/admin/templates/", "gone");
		return;
	}
	if (rc) {
		http_service_failed(p, "http.admin_template_delete", rc);
		return;
	}
	snprintf(target, sizeof(target), "%s/%s", template_events[ev],
		 channel[0] ? channel : "*");
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO,
			  "http.admin_template_delete", "staff=%s template=%s",
			  p->s->who.id, target);
	http_audit(p->ctx, p->req, "web", &p->s->who, NULL, "template.delete",
		   "template", target, "template %s: name %s -> none (default)",
		   target, old.name[0] ? old.name : "?");
	http_admin_done(p, "/admin/templates/", "deleted");
}

/* ---- settings ---- */

static const struct {
	const char *key, *label, *conf_key;
	int min, max; /* both 0: a channel name */
	bool empty_ok;  /* a channel that may be none */
	const char *hint;
} settings[KERYU_SETTINGS_MAX] = {
	{"default_channel", "Default channel", "channel", 0, 0, false,
	 "The channel of the custodian's own alert."},
	{"fallback_channel", "Fallback channel", "fallback_channel", 0, 0,
	 true, "Tried when a recipient's channel fails for good."},
	{"cooldown_s", "Cooldown (seconds)", "cooldown_s", 0, 86400, false,
	 "A scan this soon after an open alarm joins it. 0 to 86400."},
	{"escalate_after_s", "Escalate after (seconds)", "escalate_after_s",
	 0, 86400, false,
	 "Alert the next contact when not delivered by then. 0 (never) to "
	 "86400."},
	{"ack_timeout_s", "Acknowledgement timeout (seconds)", "ack_timeout_s",
	 0, 604800, false,
	 "Alert the next contact when nobody acknowledged by then. 0 (never) "
	 "to 604800."},
	{"finder_retention_days", "Keep finder data (days)",
	 "finder_retention_days", 0, 36500, false,
	 "0 keeps it for good. Up to 36500."},
	{"alarm_retention_days", "Keep alarms (days)", "alarm_retention_days",
	 0, 36500, false, "0 keeps them for good. Up to 36500."},
	{"audit_retention_days", "Keep audit entries (days)",
	 "audit_retention_days", 0, 36500, false,
	 "0 keeps them for good. Up to 36500."},
};

/* NULL when v ("" resets) is acceptable for setting i, else why not. */
static const char *setting_problem(size_t i, const char *v)
{
	char *end = NULL;
	long n;

	if (!*v)
		return NULL;
	if (settings[i].min == 0 && settings[i].max == 0)
		return channel_ok(v) ? NULL
				     : "A channel is 1 to 31 of a-z, 0-9, _ "
				       "and -, or empty for the keryu.conf "
				       "value.";
	n = v[0] >= '0' && v[0] <= '9' && strlen(v) <= 9 ? strtol(v, &end, 10)
							 : -1;
	if (!end || *end || n < settings[i].min || n > settings[i].max)
		return "Enter a whole number in the range given, or nothing "
		       "for the keryu.conf value.";
	return NULL;
}

static void settings_page(struct http_page *p,
			  const struct keryu_setting *rows, size_t n,
			  const struct html_errors *e, unsigned status)
{
	struct html *h = &p->r->body;
	const char *notice = http_query(p, "notice");
	bool post = http_is_post(p);
	size_t i, j;

	if (!http_admin_begin(p, "Settings", status))
		return;
	if (strcmp(notice, "saved") == 0)
		http_notice(h, "The settings were saved.");
	else if (strcmp(notice, "unchanged") == 0)
		http_notice(h, "Nothing was changed.");
	html_raw(h, "<p>Values kept in the database win over keryu.conf; "
		    "leave a field empty to use the keryu.conf value again.</p>"
		    "\n");
	html_error_summary(h, e);
	html_form_begin(h, "/admin/settings/", p->s->row.csrf);
	for (i = 0; i < KERYU_SETTINGS_MAX; i++) {
		const char *stored = "", *conf, *value;
		char hint[256];

		for (j = 0; j < n; j++)
			if (strcmp(rows[j].key, settings[i].key) == 0)
				stored = rows[j].value;
		conf = p->ctx->host->global(p->ctx->m, "alarms",
					    settings[i].conf_key);
		snprintf(hint, sizeof(hint), "%s keryu.conf: %s.",
			 settings[i].hint,
			 !conf ? "not set" : !*conf ? "empty" : conf);
		value = post ? http_field(p, settings[i].key) : stored;
		html_input(h, &(struct html_field){
				      .name = settings[i].key,
				      .label = settings[i].label,
				      .hint = hint,
				      .inputmode = settings[i].max ? "numeric"
								   : NULL,
				      .value = value,
				      .error = html_errors_for(
					      e, settings[i].key)});
	}
	html_form_end(h, "Save settings");
	http_layout_end(h);
}

void http_admin_settings(struct http_page *p)
{
	const struct keryu_admin *a = http_admin_service(p);
	struct keryu_setting rows[KERYU_SETTINGS_MAX];
	struct html_errors e = {0};
	char value[KERYU_SETTINGS_MAX][64], before[64];
	bool changed[KERYU_SETTINGS_MAX] = {false};
	size_t n = 0, i, j, n_changed = 0;
	int rc;

	if (!a)
		return;
	memset(rows, 0, sizeof(rows));
	rc = a->setting_list(a->self, rows, KERYU_SETTINGS_MAX, &n);
	if (rc) {
		http_service_failed(p, "http.admin_settings", rc);
		return;
	}
	if (n > KERYU_SETTINGS_MAX)
		n = KERYU_SETTINGS_MAX;
	if (!http_is_post(p)) {
		settings_page(p, rows, n, &e, 200);
		return;
	}
	for (i = 0; i < KERYU_SETTINGS_MAX; i++) {
		const char *stored = "", *why;

		for (j = 0; j < n; j++)
			if (strcmp(rows[j].key, settings[i].key) == 0)
				stored = rows[j].value;
		if (!http_trim_copy(http_field(p, settings[i].key), value[i],
			     sizeof(value[i]))) {
			html_errors_add(&e, settings[i].key, "Too long.");
			continue;
		}
		if ((why = setting_problem(i, value[i]))) {
			html_errors_add(&e, settings[i].key, why);
			continue;
		}
		changed[i] = strcmp(value[i], stored) != 0;
	}
	if (e.n) {
		settings_page(p, rows, n, &e, 400);
		return;
	}
	for (i = 0; i < KERYU_SETTINGS_MAX; i++) {
		if (!changed[i])
			continue;
		before[0] = '\0';
		rc = a->setting_set(a->self, settings[i].key, value[i],
				    p->s->who.id, before);
		if (rc == KERYU_EINVAL) {
			html_errors_add(&e, settings[i].key,
					"This value was not accepted.");
			settings_page(p, rows, n, &e, 400);
			return;
		}
		if (rc) {
			http_service_failed(p, "http.admin_setting_set", rc);
			return;
		}
		n_changed++;
		p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO,
				  "http.admin_setting", "staff=%s key=%s",
				  p->s->who.id, settings[i].key);
		http_audit(p->ctx, p->req, "web", &p->s->who, NULL,
			   "setting.update", "setting", settings[i].key,
			   "%s: %s -> %s", settings[i].key,
			   before[0] ? before : "(keryu.conf)",
			   value[i][0] ? value[i] : "(keryu.conf)");
	}
	http_admin_done(p, "/admin/settings/",
			n_changed ? "saved" : "unchanged");
}
