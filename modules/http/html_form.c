/* Form markup: every field has a label, its error right next to it (tied
 * with aria-describedby) and its value refilled, escaped; a summary of
 * the errors heads the form. Values always go through html_attr(). */
#include <string.h>

#include "html.h"
#include "html_form.h"

void html_form_begin(struct html *h, const char *action, const char *csrf)
{
	html_raw(h, "<form method=\"post\" action=\"");
	html_attr(h, action);
	html_raw(h, "\" novalidate>\n<input type=\"hidden\" name=\"csrf\" "
		    "value=\"");
	html_attr(h, csrf);
	html_raw(h, "\">\n");
}

void html_form_end(struct html *h, const char *submit_label)
{
	html_raw(h, "<p><button type=\"submit\">");
	html_text(h, submit_label);
	html_raw(h, "</button></p>\n</form>\n");
}

void html_hidden(struct html *h, const char *name, const char *value)
{
	html_raw(h, "<input type=\"hidden\" name=\"");
	html_attr(h, name);
	html_raw(h, "\" value=\"");
	html_attr(h, value);
	html_raw(h, "\">\n");
}

void html_input(struct html *h, const struct html_field *f)
{
	const char *type = f->type ? f->type : "text";

	html_raw(h, "<div class=\"field");
	if (f->error)
		html_raw(h, " has-error");
	html_raw(h, "\">\n<label for=\"f-");
	html_attr(h, f->name);
	html_raw(h, "\">");
	html_text(h, f->label);
	html_raw(h, "</label>\n");
	if (f->hint) {
		html_raw(h, "<span class=\"hint\" id=\"f-");
		html_attr(h, f->name);
		html_raw(h, "-hint\">");
		html_text(h, f->hint);
		html_raw(h, "</span>\n");
	}
	if (f->error) {
		html_raw(h, "<span class=\"error\" id=\"f-");
		html_attr(h, f->name);
		html_raw(h, "-error\">");
		html_text(h, f->error);
		html_raw(h, "</span>\n");
	}
	html_raw(h, "<input id=\"f-");
	html_attr(h, f->name);
	html_raw(h, "\" name=\"");
	html_attr(h, f->name);
	html_raw(h, "\" type=\"");
	html_attr(h, type);
	html_raw(h, "\"");
	/* a password is never sent back to the browser */
	if (f->value && strcmp(type, "password") != 0) {
		html_raw(h, " value=\"");
		html_attr(h, f->value);
		html_raw(h, "\"");
	}
	if (f->autocomplete) {
		html_raw(h, " autocomplete=\"");
		html_attr(h, f->autocomplete);
		html_raw(h, "\"");
	}
	if (f->inputmode) {
		html_raw(h, " inputmode=\"");
		html_attr(h, f->inputmode);
		html_raw(h, "\"");
	}
	if (f->error || f->hint) {
		html_raw(h, " aria-describedby=\"");
		if (f->hint) {
			html_raw(h, "f-");
			html_attr(h, f->name);
			html_raw(h, "-hint");
		}
		if (f->error) {
			html_raw(h, f->hint ? " f-" : "f-");
			html_attr(h, f->name);
			html_raw(h, "-error");
		}
		html_raw(h, "\"");
	}
	if (f->error)
		html_raw(h, " aria-invalid=\"true\"");
	html_raw(h, ">\n</div>\n");
}

void html_errors_add(struct html_errors *e, const char *field,
		     const char *msg)
{
	if (e->n < HTML_ERRORS_MAX) {
		e->field[e->n] = field;
		e->msg[e->n] = msg;
		e->n++;
	}
}

const char *html_errors_for(const struct html_errors *e, const char *field)
{
	int i;

	for (i = 0; i < e->n; i++)
		if (e->field[i] && strcmp(e->field[i], field) == 0)
			return e->msg[i];
	return NULL;
}

void html_error_summary(struct html *h, const struct html_errors *e)
{
	int i;

	if (e->n == 0)
		return;
	html_raw(h, "<div class=\"summary\" role=\"alert\">\n<p><strong>");
	html_text(h, e->n == 1 ? "Please fix this:"
			       : "Please fix these:");
	html_raw(h, "</strong></p>\n<ul>\n");
	for (i = 0; i < e->n; i++) {
		html_raw(h, "<li>");
		if (e->field[i]) {
			html_raw(h, "<a href=\"#f-");
			html_attr(h, e->field[i]);
			html_raw(h, "\">");
			html_text(h, e->msg[i]);
			html_raw(h, "</a>");
		} else {
			html_text(h, e->msg[i]);
		}
		html_raw(h, "</li>\n");
	}
	html_raw(h, "</ul>\n</div>\n");
}
