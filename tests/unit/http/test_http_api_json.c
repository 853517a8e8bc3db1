/* The API's strict body and query checks (http_api_json.c): unknown and
 * repeated fields, wrong types, missing required ones, strings over their
 * limit, nulls where none is allowed, enums, dates, phones, UUIDs, name
 * lists, and what reaches the caller's struct when all is well. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>

#include "http_api.h"

struct body {
	char name[101];
	char notes[2001];
	char kind[8];
	char day[11];
	char phone[32];
	char ref[KERYU_UUID_LEN];
	bool flag;
	unsigned picks;
	char secret[17];
};

static const char *const kinds[] = {"cat", "dog", NULL};
static const char *const picks[] = {"a", "b", "c", NULL};

#define OFF(f) offsetof(struct body, f)
#define SZ(f) sizeof(((struct body *)0)->f)

static const struct http_api_field fields[] = {
	{.name = "name", .type = HTTP_API_TEXT, .required = true, .min = 1,
	 .max = 100, .off = OFF(name), .size = SZ(name)},
	{.name = "notes", .type = HTTP_API_TEXT, .nullable = true,
	 .multiline = true, .max = 2000, .off = OFF(notes), .size = SZ(notes)},
	{.name = "kind", .type = HTTP_API_ENUM, .choices = kinds,
	 .off = OFF(kind), .size = SZ(kind)},
	{.name = "day", .type = HTTP_API_DATE, .nullable = true,
	 .off = OFF(day), .size = SZ(day)},
	{.name = "phone", .type = HTTP_API_PHONE, .off = OFF(phone),
	 .size = SZ(phone)},
	{.name = "ref", .type = HTTP_API_UUID, .off = OFF(ref), .size = SZ(ref)},
	{.name = "flag", .type = HTTP_API_BOOL, .off = OFF(flag),
	 .size = SZ(flag)},
	{.name = "picks", .type = HTTP_API_NAMES, .choices = picks,
	 .off = OFF(picks), .size = SZ(picks)},
	{.name = "secret", .type = HTTP_API_RAW, .max = 16, .off = OFF(secret),
	 .size = SZ(secret)},
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* Reads json into b; returns the errors. */
static struct http_api_errors check(const char *json, struct body *b,
				    unsigned long *present)
{
	struct http_api_errors e = {0};
	cJSON *o = cJSON_Parse(json);

	assert_non_null(o);
	memset(b, 0, sizeof(*b));
	(void)http_api_json_read(o, fields, N_FIELDS, b, &e, present);
	cJSON_Delete(o);
	return e;
}

/* The single error of json names field and contains text. */
static void one_error(const char *json, const char *field, const char *text)
{
	struct body b;
	struct http_api_errors e = check(json, &b, NULL);

	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].field, field);
	if (!strstr(e.e[0].message, text))
		fail_msg("%s: \"%s\" lacks \"%s\"", json, e.e[0].message, text);
}

static void good_body_fills_the_struct(void **state)
{
	struct body b;
	unsigned long present = 0;
	struct http_api_errors e = check(
		"{\"name\":\"  Ana  \",\"notes\":\"line 1\\nline 2\","
		"\"kind\":\"dog\",\"day\":\"2016-02-29\",\"phone\":\"+16505550100\","
		"\"ref\":\"0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f\",\"flag\":true,"
		"\"picks\":[\"c\",\"a\"],\"secret\":\" x \"}",
		&b, &present);

	(void)state;
	assert_int_equal(e.n, 0);
	assert_string_equal(b.name, "Ana"); /* trimmed as the forms do */
	assert_string_equal(b.notes, "line 1\nline 2");
	assert_string_equal(b.kind, "dog");
	assert_string_equal(b.day, "2016-02-29");
	assert_string_equal(b.phone, "+16505550100");
	assert_string_equal(b.ref, "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f");
	assert_true(b.flag);
	assert_int_equal(b.picks, 1u | 4u);
	assert_string_equal(b.secret, " x "); /* secrets are kept as sent */
	assert_int_equal(present, (1ul << N_FIELDS) - 1);
}

static void absent_fields_are_left_alone(void **state)
{
	struct body b;
	unsigned long present = 0;
	struct http_api_errors e = {0};
	cJSON *o = cJSON_Parse("{\"name\":\"Ana\"}");

	(void)state;
	memset(&b, 0, sizeof(b));
	strcpy(b.kind, "cat");
	b.flag = true;
	assert_true(http_api_json_read(o, fields, N_FIELDS, &b, &e, &present));
	cJSON_Delete(o);
	assert_string_equal(b.kind, "cat");
	assert_true(b.flag);
	assert_int_equal(present, 1ul);
	/* no body at all is {} */
	memset(&e, 0, sizeof(e));
	assert_false(http_api_json_read(NULL, fields, N_FIELDS, &b, &e, NULL));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].field, "name");
	assert_string_equal(e.e[0].message, "is required");
}

static void unknown_field(void **state)
{
	(void)state;
	one_error("{\"name\":\"Ana\",\"nmae\":\"x\"}", "nmae",
		  "not a known field");
	one_error("{\"name\":\"Ana\",\"name\":\"Bo\"}", "name", "twice");
}

static void wrong_type(void **state)
{
	(void)state;
	one_error("{\"name\":5}", "name", "must be a string");
	one_error("{\"name\":\"A\",\"flag\":\"true\"}", "flag", "true or false");
	one_error("{\"name\":\"A\",\"picks\":\"a\"}", "picks", "array");
	one_error("{\"name\":\"A\",\"picks\":[1]}", "picks", "strings");
	one_error("{\"name\":[\"A\"]}", "name", "must be a string");
}

static void missing_required(void **state)
{
	(void)state;
	one_error("{\"notes\":\"x\"}", "name", "is required");
	one_error("{\"name\":\"   \"}", "name", "must not be empty");
}

static void over_long(void **state)
{
	char json[2200], big[2002];

	(void)state;
	memset(big, 'x', 101);
	big[101] = '\0';
	snprintf(json, sizeof(json), "{\"name\":\"%s\"}", big);
	one_error(json, "name", "at most 100 bytes");
	memset(big, 'x', 2001);
	big[2001] = '\0';
	snprintf(json, sizeof(json), "{\"name\":\"A\",\"notes\":\"%s\"}", big);
	one_error(json, "notes", "at most 2000 bytes");
	one_error("{\"name\":\"A\",\"secret\":\"12345678901234567\"}", "secret",
		  "1 to 16 bytes");
	/* exactly at the limit is fine */
	memset(big, 'x', 100);
	big[100] = '\0';
	snprintf(json, sizeof(json), "{\"name\":\"%s\"}", big);
	{
		struct body b;

		assert_int_equal(check(json, &b, NULL).n, 0);
		assert_int_equal(strlen(b.name), 100);
	}
}

static void null_where_not_allowed(void **state)
{
	struct body b;

	(void)state;
	one_error("{\"name\":null}", "name", "must not be null");
	one_error("{\"name\":\"A\",\"kind\":null}", "kind", "must not be null");
	one_error("{\"name\":\"A\",\"flag\":null}", "flag", "must not be null");
	/* where it is allowed it clears the value */
	assert_int_equal(check("{\"name\":\"A\",\"notes\":null,\"day\":null}",
			       &b, NULL)
				 .n,
			 0);
	assert_string_equal(b.notes, "");
	assert_string_equal(b.day, "");
}

static void values_outside_their_rules(void **state)
{
	(void)state;
	one_error("{\"name\":\"A\",\"kind\":\"cow\"}", "kind", "allowed values");
	one_error("{\"name\":\"A\",\"day\":\"2015-02-29\"}", "day", "YYYY-MM-DD");
	one_error("{\"name\":\"A\",\"day\":\"15-02-01\"}", "day", "YYYY-MM-DD");
	one_error("{\"name\":\"A\",\"phone\":\"6505550100\"}", "phone", "E.164");
	one_error("{\"name\":\"A\",\"phone\":\"+1 650 555 0100\"}", "phone",
		  "E.164");
	one_error("{\"name\":\"A\",\"ref\":\"1234\"}", "ref", "UUID");
	one_error("{\"name\":\"A\",\"picks\":[\"a\",\"a\"]}", "picks", "twice");
	one_error("{\"name\":\"A\",\"picks\":[\"z\"]}", "picks", "allowed");
	one_error("{\"name\":\"A\\u0001\"}", "name", "control characters");
	one_error("{\"name\":\"A\\nB\"}", "name", "line breaks");
}

static void every_error_is_listed(void **state)
{
	struct body b;
	struct http_api_errors e =
		check("{\"x\":1,\"kind\":\"cow\",\"flag\":0}", &b, NULL);

	(void)state;
	assert_int_equal(e.n, 4); /* x, kind, flag, and name missing */
	assert_string_equal(e.e[3].field, "name");
}

static void query_checks(void **state)
{
	static const char *const allowed[] = {"offset", "limit", NULL};
	struct http_form q;
	struct http_api_errors e = {0};
	int v;

	(void)state;
	http_form_init(&q);
	assert_int_equal(http_form_parse_query(&q, "offset=5&limit=0&x=1"), 0);
	http_api_query_known(&q, allowed, &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].field, "x");
	http_api_query_int(&q, "offset", 0, 0, 100, &v, &e);
	assert_int_equal(v, 5);
	http_api_query_int(&q, "limit", 20, 1, 100, &v, &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.e[1].field, "limit");
	http_api_query_int(&q, "absent", 20, 1, 100, &v, &e);
	assert_int_equal(v, 20);
	http_form_free(&q);

	http_form_init(&q);
	memset(&e, 0, sizeof(e));
	assert_int_equal(http_form_parse_query(&q, "offset=1x&limit=-3"), 0);
	http_api_query_int(&q, "offset", 0, 0, 100, &v, &e);
	http_api_query_int(&q, "limit", 20, 1, 100, &v, &e);
	assert_int_equal(e.n, 2);
	http_form_free(&q);
}

static void dates(void **state)
{
	(void)state;
	assert_int_equal(http_date_check("2000-02-29"), HTTP_DATE_OK);
	assert_int_equal(http_date_check("1900-02-29"), HTTP_DATE_NO_DAY);
	assert_int_equal(http_date_check("2021-13-01"), HTTP_DATE_NO_DAY);
	assert_int_equal(http_date_check("2021-04-31"), HTTP_DATE_NO_DAY);
	assert_int_equal(http_date_check("0000-01-01"), HTTP_DATE_NO_DAY);
	assert_int_equal(http_date_check("2021-4-30"), HTTP_DATE_SHAPE);
	assert_int_equal(http_date_check("2021-04-3a"), HTTP_DATE_SHAPE);
	assert_int_equal(http_date_check(NULL), HTTP_DATE_SHAPE);
}

static void problem_body(void **state)
{
	struct http_response r;
	struct http_api_errors e = {0};
	cJSON *o, *it;

	(void)state;
	http_response_init(&r);
	http_api_error_add(&e, "name", "is required");
	http_api_invalid(&r, &e);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.content_type, "application/problem+json");
	o = cJSON_Parse(r.body.buf);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring,
			    "https://keryu.invalid/problems/validation");
	assert_int_equal(cJSON_GetObjectItem(o, "status")->valueint, 400);
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "errors"), 0);
	assert_string_equal(cJSON_GetObjectItem(it, "field")->valuestring,
			    "name");
	cJSON_Delete(o);
	http_response_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_body_fills_the_struct),
		cmocka_unit_test(absent_fields_are_left_alone),
		cmocka_unit_test(unknown_field),
		cmocka_unit_test(wrong_type),
		cmocka_unit_test(missing_required),
		cmocka_unit_test(over_long),
		cmocka_unit_test(null_where_not_allowed),
		cmocka_unit_test(values_outside_their_rules),
		cmocka_unit_test(every_error_is_listed),
		cmocka_unit_test(query_checks),
		cmocka_unit_test(dates),
		cmocka_unit_test(problem_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
