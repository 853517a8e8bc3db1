/* Strict reading of the API's JSON bodies and query strings: every field
 * is declared with its type and limits, and anything else (an unknown
 * field, a wrong type, a missing one, a string too long) is an error
 * naming the field, so a client learns of a typo instead of having it
 * ignored. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/events.h>

#include "http_api.h"
#include "http_subjects.h"

void http_api_error_add(struct http_api_errors *e, const char *field,
			const char *fmt, ...)
{
	va_list ap;

	if (e->n == HTTP_API_ERRORS_MAX)
		return;
	keryu_utf8_copy(e->e[e->n].field, sizeof(e->e[0].field),
			field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->e[e->n].message, sizeof(e->e[0].message), fmt, ap);
	va_end(ap);
	e->n++;
}

static int choice_index(const char *const *choices, const char *s)
{
	int i;

	for (i = 0; choices && choices[i]; i++)
		if (strcmp(choices[i], s) == 0)
			return i;
	return -1;
}

static const struct http_api_field *find_field(const struct http_api_field *f,
					       size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

/* Copies a string value of f into its char[size] after its checks. */
static void read_string(const struct http_api_field *f, const char *v,
			char *out, struct http_api_errors *e)
{
	enum http_text_problem why;
	size_t n = strlen(v);
	int i;

	switch (f->type) {
	case HTTP_API_TEXT:
		why = http_text_read(v, out, f->size, f->max, f->multiline,
				     f->min > 0);
		if (why == HTTP_TEXT_EMPTY)
			http_api_error_add(e, f->name, "must not be empty");
		else if (why == HTTP_TEXT_LONG)
			http_api_error_add(e, f->name,
					   "must be at most %zu bytes", f->max);
		else if (why == HTTP_TEXT_LINES)
			http_api_error_add(e, f->name,
					   "must not contain line breaks");
		else if (why)
			http_api_error_add(e, f->name,
					   "contains control characters or "
					   "malformed UTF-8");
		return;
	case HTTP_API_RAW:
		if (n == 0 || n > f->max || n >= f->size)
			http_api_error_add(e, f->name,
					   "must be 1 to %zu bytes", f->max);
		else
			memcpy(out, v, n + 1);
		return;
	case HTTP_API_ENUM:
		i = choice_index(f->choices, v);
		if (i < 0 || strlen(v) >= f->size)
			http_api_error_add(e, f->name, "is not one of the "
						       "allowed values");
		else
			memcpy(out, v, n + 1);
		return;
	case HTTP_API_DATE:
		if (http_date_check(v) != HTTP_DATE_OK)
			http_api_error_add(e, f->name,
					   "must be a date as YYYY-MM-DD");
		else
			memcpy(out, v, n + 1);
		return;
	case HTTP_API_PHONE:
		if (n >= f->size || !keryu_e164_valid(v))
			http_api_error_add(e, f->name,
					   "must be an E.164 phone number "
					   "(+ and 8 to 15 digits)");
		else
			memcpy(out, v, n + 1);
		return;
	case HTTP_API_UUID:
		if (n >= f->size || !keryu_uuid_valid(v))
			http_api_error_add(e, f->name, "must be a UUID");
		else
			memcpy(out, v, n + 1);
		return;
	default:
		return;
	}
}

static void read_names(const struct http_api_field *f, const cJSON *v,
		       unsigned *out, struct http_api_errors *e)
{
	const cJSON *it;
	unsigned bits = 0;
	int i;

	cJSON_ArrayForEach(it, v)
	{
		if (!cJSON_IsString(it)) {
			http_api_error_add(e, f->name,
					   "must be an array of strings");
			return;
		}
		i = choice_index(f->choices, it->valuestring);
		if (i < 0) {
			http_api_error_add(e, f->name,
					   "\"%.40s\" is not one of the allowed "
					   "values",
					   it->valuestring);
			return;
		}
		if (bits & (1u << i)) {
			http_api_error_add(e, f->name, "lists \"%s\" twice",
					   f->choices[i]);
			return;
		}
		bits |= 1u << i;
	}
	*out = bits;
}

static void read_one(const struct http_api_field *f, const cJSON *v,
		     char *dst, struct http_api_errors *e)
{
	char *at = dst + f->off;

	if (cJSON_IsNull(v)) {
		if (!f->nullable || f->type == HTTP_API_BOOL ||
		    f->type == HTTP_API_NAMES)
			http_api_error_add(e, f->name, "must not be null");
		else
			at[0] = '\0';
		return;
	}
	switch (f->type) {
	case HTTP_API_BOOL:
		if (!cJSON_IsBool(v))
			http_api_error_add(e, f->name, "must be true or false");
		else
			*(bool *)(void *)at = cJSON_IsTrue(v);
		return;
	case HTTP_API_NAMES:
		if (!cJSON_IsArray(v))
			http_api_error_add(e, f->name, "must be an array");
		else
			read_names(f, v, (unsigned *)(void *)at, e);
		return;
	default:
		if (!cJSON_IsString(v) || !v->valuestring)
			http_api_error_add(e, f->name, "must be a string");
		else
			read_string(f, v->valuestring, at, e);
		return;
	}
}

bool http_api_json_read(const cJSON *obj, const struct http_api_field *f,
			size_t n, void *dst, struct http_api_errors *e,
			unsigned long *present)
{
	const cJSON *v;
	unsigned long seen = 0;
	size_t before = e->n, i;

	cJSON_ArrayForEach(v, obj)
	{
		const struct http_api_field *fd =
			v->string ? find_field(f, n, v->string) : NULL;

		if (!fd) {
			http_api_error_add(e, v->string ? v->string : "",
					   "is not a known field");
			continue;
		}
		i = (size_t)(fd - f);
		if (seen & (1ul << i)) {
			http_api_error_add(e, fd->name, "is given twice");
			continue;
		}
		seen |= 1ul << i;
		read_one(fd, v, dst, e);
	}
	for (i = 0; i < n; i++)
		if (f[i].required && !(seen & (1ul << i)))
			http_api_error_add(e, f[i].name, "is required");
	if (present)
		*present = seen;
	return e->n == before;
}

void http_api_query_known(const struct http_form *q,
			  const char *const *allowed,
			  struct http_api_errors *e)
{
	size_t i;

	for (i = 0; q && i < q->n_fields; i++)
		if (choice_index(allowed, q->fields[i].name) < 0)
			http_api_error_add(e, q->fields[i].name,
					   "is not a known query parameter");
}

void http_api_query_int(const struct http_form *q, const char *name,
			int def, int min, int max, int *out,
			struct http_api_errors *e)
{
	const char *v = http_form_get(q, name);
	char *end;
	long n;

	*out = def;
	if (!v)
		return;
	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || errno || !isdigit((unsigned char)v[v[0] == '-']) ||
	    n < min || n > max) {
		http_api_error_add(e, name, "must be an integer from %d to %d",
				   min, max);
		return;
	}
	*out = (int)n;
}

void http_api_invalid(struct http_response *r, const struct http_api_errors *e)
{
	cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
	char *json;
	size_t i;

	for (i = 0; o && list && i < e->n; i++) {
		cJSON *it = cJSON_CreateObject();

		if (!it)
			break;
		cJSON_AddStringToObject(it, "field", e->e[i].field);
		cJSON_AddStringToObject(it, "message", e->e[i].message);
		cJSON_AddItemToArray(list, it);
	}
	if (o) {
		cJSON_AddStringToObject(
			o, "type", "https://keryu.invalid/problems/validation");
		cJSON_AddStringToObject(o, "title", "Invalid request");
		cJSON_AddNumberToObject(o, "status", 400);
		cJSON_AddStringToObject(o, "detail",
					"One or more fields are not valid.");
		if (list)
			cJSON_AddItemToObject(o, "errors", list);
		list = NULL;
	}
	cJSON_Delete(list);
	json = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	html_free(&r->body);
	html_init(&r->body);
	if (!json) {
		http_api_problem(r, 500, NULL, "Internal Server Error", NULL);
		return;
	}
	html_raw(&r->body, json);
	free(json);
	r->status = 400;
	r->content_type = HTTP_API_PROBLEM_JSON;
	r->no_store = true;
}

void http_api_add_str(cJSON *o, const char *name, const char *s)
{
	if (s && *s)
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

cJSON *http_api_page(cJSON *items, int total, int offset, int limit)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !items) {
		cJSON_Delete(o);
		cJSON_Delete(items);
		return NULL;
	}
	cJSON_AddItemToObject(o, "items", items);
	cJSON_AddNumberToObject(o, "total", total);
	cJSON_AddNumberToObject(o, "offset", offset);
	cJSON_AddNumberToObject(o, "limit", limit);
	return o;
}
