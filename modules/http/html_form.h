/* Form helpers on top of html.h (same rule: everything escaped). */
#ifndef KERYU_HTTP_HTML_FORM_H
#define KERYU_HTTP_HTML_FORM_H

#include "html.h"

/* One labelled input. Only name and label are required. */
struct html_field {
	const char *name;
	const char *label;
	const char *type;         /* "text" when NULL */
	const char *value;        /* refilled, escaped; ignored for passwords */
	const char *error;        /* shown next to the field; NULL when fine */
	const char *hint;         /* a short help line; may be NULL */
	const char *autocomplete; /* may be NULL */
	const char *inputmode;    /* may be NULL */
};

#define HTML_ERRORS_MAX 12

/* The errors of one submitted form; field NULL for a form-level one. The
 * strings are not copied: pass literals. */
struct html_errors {
	const char *field[HTML_ERRORS_MAX];
	const char *msg[HTML_ERRORS_MAX];
	int n;
};

/* <form method="post" action=...> with the hidden csrf input. */
void html_form_begin(struct html *h, const char *action, const char *csrf);
/* The submit button and </form>. */
void html_form_end(struct html *h, const char *submit_label);
void html_hidden(struct html *h, const char *name, const char *value);
void html_input(struct html *h, const struct html_field *f);

void html_errors_add(struct html_errors *e, const char *field,
		     const char *msg);
/* The first error of field, or NULL. */
const char *html_errors_for(const struct html_errors *e, const char *field);
/* The page-level list of errors, each linking to its field; nothing when
 * there are none. */
void html_error_summary(struct html *h, const struct html_errors *e);

#endif
