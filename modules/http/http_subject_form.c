/* The subject form: every field of a subject, checked all together so a
 * bad one saves nothing, each error shown next to its field and what was
 * typed refilled (escaped, as everything html.c writes). */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_subjects.h"

/* Inline CSS for the controls the layout's style sheet does not cover
 * (the CSP allows inline styles only). */
#define CONTROL_STYLE                                                          \
	"display:block;width:100%;max-width:100%;font:inherit;padding:.4rem;" \
	"border-radius:.25rem;border:"
#define BORDER_OK "1px solid #777"
#define BORDER_ERR "2px solid #b00020"

static const char *const genders[] = {
	"",  "Choose one",      "F", "Female", "M", "Male",
	"O", "Other",           "U", "Prefer not to say", NULL,
};

/* The free-text fields, in form order after name, date and gender. */
static const struct text_field {
	const char *name, *label, *hint;
	size_t off, size;
	bool multiline;
} text_fields[] = {
	{"care_instructions", "Care instructions for a finder",
	 "How to approach them, what calms them, what to avoid. Shown on the "
	 "scan page if you allow it.",
	 offsetof(struct keryu_subject, care_instructions),
	 sizeof(((struct keryu_subject *)0)->care_instructions), true},
	{"medical_conditions", "Medical conditions", NULL,
	 offsetof(struct keryu_subject, medical_conditions),
	 sizeof(((struct keryu_subject *)0)->medical_conditions), true},
	{"allergies", "Allergies", NULL,
	 offsetof(struct keryu_subject, allergies),
	 sizeof(((struct keryu_subject *)0)->allergies), true},
	{"medications", "Medications", NULL,
	 offsetof(struct keryu_subject, medications),
	 sizeof(((struct keryu_subject *)0)->medications), true},
	{"doctor_name", "Doctor's name", NULL,
	 offsetof(struct keryu_subject, doctor_name),
	 sizeof(((struct keryu_subject *)0)->doctor_name), false},
	{"doctor_phone", "Doctor's phone", NULL,
	 offsetof(struct keryu_subject, doctor_phone),
	 sizeof(((struct keryu_subject *)0)->doctor_phone), false},
	{"doctor_address", "Doctor's address", NULL,
	 offsetof(struct keryu_subject, doctor_address),
	 sizeof(((struct keryu_subject *)0)->doctor_address), true},
	{"doctor_speciality", "Doctor's speciality", NULL,
	 offsetof(struct keryu_subject, doctor_speciality),
	 sizeof(((struct keryu_subject *)0)->doctor_speciality), false},
};

#define N_TEXT_FIELDS (sizeof(text_fields) / sizeof(text_fields[0]))

static char *field_ptr(struct keryu_subject *s, const struct text_field *f)
{
	return (char *)s + f->off;
}

static const char *field_cptr(const struct keryu_subject *s,
			      const struct text_field *f)
{
	return (const char *)s + f->off;
}

enum http_text_problem http_text_read(const char *in, char *out,
				      size_t size, size_t max, bool multiline,
				      bool required)
{
	enum http_text_problem why = HTTP_TEXT_OK;
	char *copy;
	size_t n, o = 0, i;

	while (*in && isspace((unsigned char)*in))
		in++;
	n = strlen(in);
	while (n && isspace((unsigned char)in[n - 1]))
		n--;
	out[0] = '\0';
	if (n == 0)
		return required ? HTTP_TEXT_EMPTY : HTTP_TEXT_OK;
	if (max >= size)
		max = size - 1;
	/* "\r\n" is stored as one byte, so measure after folding */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '\r' || c == '\n') {
			if (!multiline)
				return HTTP_TEXT_LINES;
			if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
			c = '\n';
		} else if (c == '\t') {
			c = multiline ? c : ' ';
		} else if (c < 0x20 || c == 0x7f) {
			out[0] = '\0';
			return HTTP_TEXT_CHARS;
		}
		if (o >= max) {
			out[0] = '\0';
			return HTTP_TEXT_LONG;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	/* well-formed UTF-8 only: the copy turns anything else into '?' */
	copy = malloc(o + 1);
	if (!copy) {
		out[0] = '\0';
		return HTTP_TEXT_CHARS;
	}
	keryu_utf8_copy(copy, o + 1, out);
	if (strcmp(copy, out) != 0)
		why = HTTP_TEXT_CHARS;
	free(copy);
	if (why)
		out[0] = '\0';
	return why;
}

const char *http_text_message(struct http_msgs *b,
			      enum http_text_problem why, const char *label,
			      size_t max)
{
	char *m;

	if (why == HTTP_TEXT_OK)
		return NULL;
	if (b->n == HTML_ERRORS_MAX)
		return "Please check this field.";
	m = b->m[b->n++];
	switch (why) {
	case HTTP_TEXT_EMPTY:
		snprintf(m, sizeof(b->m[0]), "%s: this is required.", label);
		break;
	case HTTP_TEXT_LONG:
		snprintf(m, sizeof(b->m[0]), "%s: at most %zu characters.",
			 label, max);
		break;
	case HTTP_TEXT_LINES:
		snprintf(m, sizeof(b->m[0]), "%s: one line only.", label);
		break;
	default:
		snprintf(m, sizeof(b->m[0]),
			 "%s: contains characters that are not allowed.",
			 label);
		break;
	}
	return m;
}

enum http_date_problem http_date_check(const char *d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, m, day, i;

	if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return HTTP_DATE_SHAPE;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)d[i]))
			return HTTP_DATE_SHAPE;
	y = atoi(d);
	m = atoi(d + 5);
	day = atoi(d + 8);
	if (y < 1 || m < 1 || m > 12 || day < 1 ||
	    day > mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) ||
					     y % 400 == 0)))
		return HTTP_DATE_NO_DAY;
	return HTTP_DATE_OK;
}

/* YYYY-MM-DD naming a real day after 1900-01-01, not after today (UTC). */
static const char *date_problem(const char *d)
{
	char today[11];
	time_t now = time(NULL);
	struct tm tm;

	if (!*d)
		return "Enter the date of birth.";
	switch (http_date_check(d)) {
	case HTTP_DATE_SHAPE:
		return "Enter the date as YYYY-MM-DD, e.g. 2015-04-30.";
	case HTTP_DATE_NO_DAY:
		return "That date does not exist.";
	case HTTP_DATE_OK:
		break;
	}
	if (strcmp(d, "1900-01-01") <= 0) /* the service's bound */
		return "The date of birth must be after 1 January 1900.";
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if (strcmp(d, today) > 0)
		return "The date of birth cannot be in the future.";
	return NULL;
}

static bool gender_valid(const char *g)
{
	return strlen(g) == 1 && strchr("MFOU", g[0]);
}

bool http_subject_read(const struct http_page *p, struct keryu_subject *s,
		       struct html_errors *e, struct http_msgs *msgs)
{
	enum http_text_problem t;
	const char *why, *dob, *gender;
	size_t i;

	t = http_text_read(http_field(p, "name"), s->name, sizeof(s->name),
			   100, false, true);
	if (t == HTTP_TEXT_EMPTY)
		html_errors_add(e, "name", "Enter the name.");
	else if (t)
		html_errors_add(e, "name",
				http_text_message(msgs, t, "Name", 100));

	dob = http_field(p, "date_of_birth");
	while (isspace((unsigned char)*dob))
		dob++;
	if ((why = date_problem(dob)) != NULL)
		html_errors_add(e, "date_of_birth", why);
	else
		snprintf(s->date_of_birth, sizeof(s->date_of_birth), "%s", dob);

	gender = http_field(p, "gender");
	if (!gender_valid(gender))
		html_errors_add(e, "gender", "Choose the gender (or \"Prefer "
					     "not to say\").");
	else
		snprintf(s->gender, sizeof(s->gender), "%s", gender);

	for (i = 0; i < N_TEXT_FIELDS; i++) {
		const struct text_field *f = &text_fields[i];

		t = http_text_read(http_field(p, f->name), field_ptr(s, f),
				   f->size, f->size - 1, f->multiline, false);
		if (t)
			html_errors_add(e, f->name,
					http_text_message(msgs, t, f->label,
							  f->size - 1));
	}
	s->is_active = strcmp(http_field(p, "is_active"), "1") == 0;
	return e->n == 0;
}

/* ---- controls ---- */

static void field_head(struct html *h, const char *name, const char *label,
		       const char *hint, const char *error)
{
	html_raw(h, error ? "<div class=\"field has-error\">\n"
			  : "<div class=\"field\">\n");
	html_raw(h, "<label for=\"f-");
	html_attr(h, name);
	html_raw(h, "\">");
	html_text(h, label);
	html_raw(h, "</label>\n");
	if (hint) {
		html_raw(h, "<span class=\"hint\" id=\"f-");
		html_attr(h, name);
		html_raw(h, "-hint\">");
		html_text(h, hint);
		html_raw(h, "</span>\n");
	}
	if (error) {
		html_raw(h, "<span class=\"error\" id=\"f-");
		html_attr(h, name);
		html_raw(h, "-error\">");
		html_text(h, error);
		html_raw(h, "</span>\n");
	}
}

/* id, name, style and the aria attributes of a control. */
static void control_attrs(struct html *h, const char *name, const char *hint,
			  const char *error)
{
	html_raw(h, " id=\"f-");
	html_attr(h, name);
	html_raw(h, "\" name=\"");
	html_attr(h, name);
	html_raw(h, "\" style=\"" CONTROL_STYLE);
	html_raw(h, error ? BORDER_ERR : BORDER_OK);
	html_raw(h, "\"");
	if (hint || error) {
		html_raw(h, " aria-describedby=\"");
		if (hint) {
			html_raw(h, "f-");
			html_attr(h, name);
			html_raw(h, "-hint");
		}
		if (error) {
			html_raw(h, hint ? " f-" : "f-");
			html_attr(h, name);
			html_raw(h, "-error");
		}
		html_raw(h, "\"");
	}
	if (error)
		html_raw(h, " aria-invalid=\"true\"");
}

static void textarea(struct html *h, const char *name, const char *label,
		     const char *hint, const char *value, const char *error)
{
	field_head(h, name, label, hint, error);
	html_raw(h, "<textarea rows=\"4\"");
	control_attrs(h, name, hint, error);
	/* a newline right after the tag is eaten by the parser: keep one so
	 * a value starting with a line break survives */
	html_raw(h, ">\n");
	html_text(h, value);
	html_raw(h, "</textarea>\n</div>\n");
}

void http_select(struct html *h, const struct http_select *s)
{
	const char *const *o;

	field_head(h, s->name, s->label, s->hint, s->error);
	html_raw(h, "<select");
	control_attrs(h, s->name, s->hint, s->error);
	html_raw(h, ">\n");
	for (o = s->options; o[0] && o[1]; o += 2) {
		html_raw(h, "<option value=\"");
		html_attr(h, o[0]);
		html_raw(h, "\"");
		if (s->value && strcmp(s->value, o[0]) == 0)
			html_raw(h, " selected");
		html_raw(h, ">");
		html_text(h, o[1]);
		html_raw(h, "</option>\n");
	}
	html_raw(h, "</select>\n</div>\n");
}

void http_checkbox(struct html *h, const char *name, const char *label,
		   const char *hint, bool checked, const char *error)
{
	html_raw(h, error ? "<div class=\"field has-error\">\n"
			  : "<div class=\"field\">\n");
	if (error) {
		html_raw(h, "<span class=\"error\">");
		html_text(h, error);
		html_raw(h, "</span>\n");
	}
	html_raw(h, "<label style=\"font-weight:400\"><input type=\"checkbox\" "
		    "id=\"f-");
	html_attr(h, name);
	html_raw(h, "\" name=\"");
	html_attr(h, name);
	html_raw(h, "\" value=\"1\"");
	if (checked)
		html_raw(h, " checked");
	if (error)
		html_raw(h, " aria-invalid=\"true\"");
	html_raw(h, " style=\"width:1.2rem;height:1.2rem;margin-right:.5rem;"
		    "vertical-align:middle\"> ");
	html_text(h, label);
	html_raw(h, "</label>\n");
	if (hint) {
		html_raw(h, "<span class=\"hint\">");
		html_text(h, hint);
		html_raw(h, "</span>\n");
	}
	html_raw(h, "</div>\n");
}

void http_subject_form(struct http_page *p, const char *action,
		       const struct keryu_subject *s, bool from_post,
		       const struct html_errors *e, const char *submit)
{
	struct html *h = &p->r->body;
	size_t i;

#define VALUE(field) (from_post ? http_field(p, #field) : s->field)
	html_error_summary(h, e);
	html_form_begin(h, action, p->s->row.csrf);
	html_input(h, &(struct html_field){
			      .name = "name", .label = "Name",
			      .value = VALUE(name),
			      .error = html_errors_for(e, "name"),
			      .autocomplete = "off"});
	html_input(h, &(struct html_field){
			      .name = "date_of_birth", .label = "Date of birth",
			      .type = "date", .value = VALUE(date_of_birth),
			      .error = html_errors_for(e, "date_of_birth"),
			      .hint = "YYYY-MM-DD"});
	http_select(h, &(struct http_select){
			       .name = "gender", .label = "Gender",
			       .value = VALUE(gender),
			       .error = html_errors_for(e, "gender"),
			       .options = genders});
	for (i = 0; i < N_TEXT_FIELDS; i++) {
		const struct text_field *f = &text_fields[i];
		const char *v = from_post ? http_field(p, f->name)
					  : field_cptr(s, f);

		if (f->multiline)
			textarea(h, f->name, f->label, f->hint, v,
				 html_errors_for(e, f->name));
		else
			html_input(h, &(struct html_field){
					      .name = f->name,
					      .label = f->label,
					      .value = v, .hint = f->hint,
					      .error = html_errors_for(
						      e, f->name),
					      .autocomplete = "off"});
	}
#undef VALUE
	http_checkbox(h, "is_active", "Active",
		      "Only an active subject's tags raise alerts.",
		      from_post ? strcmp(http_field(p, "is_active"), "1") == 0
				: s->is_active,
		      NULL);
	html_form_end(h, submit);
}
