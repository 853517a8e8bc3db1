/* The API's OpenAPI document and its page, through the API's dispatcher
 * without a socket: the served JSON is docs/api/openapi.json byte for
 * byte, the page shows every operation and schema of it with everything
 * escaped, the first render is safe from several threads at once, and
 * neither takes query parameters. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "html.h"
#include "http_api.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define THREADS 4

static struct http_ctx *ctx;
static char *file;      /* docs/api/openapi.json as it is in the tree */
static size_t file_len;
static cJSON *doc;      /* the same, parsed */

static int setup(void **st)
{
	void *state = NULL;
	FILE *f = fopen(KERYU_OPENAPI_FILE, "rb");
	long n;

	(void)st;
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	file = malloc((size_t)n + 1);
	file_len = fread(file, 1, (size_t)n, f);
	file[file_len] = '\0';
	fclose(f);
	doc = cJSON_Parse(file);
	if (!doc || file_len != (size_t)n)
		return -1;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	http_test_offer_services();
	if (keryu_module.init(fake_mod(), fake_host(), &state) != 0)
		return -1;
	ctx = state;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	keryu_module.cleanup(ctx);
	ctx = NULL;
	fake_host_reset(NULL);
	cJSON_Delete(doc);
	free(file);
	return 0;
}

/* GETs path (with query, "" for none) through the API's front door. */
static void get(const char *path, const char *query, struct http_response *r)
{
	struct http_form q;
	struct http_request req = {.method = "GET",
				   .path = path,
				   .client_ip = "203.0.113.9",
				   .query = &q};

	http_form_init(&q);
	assert_int_equal(http_form_parse_query(&q, query), 0);
	http_response_init(r);
	http_api_handle(ctx, &req, NULL, 0, r);
	http_form_free(&q);
	assert_false(r->body.failed);
	assert_non_null(r->body.buf);
}

static void *get_page(void *arg)
{
	get("/api/v1/docs", "", arg);
	return NULL;
}

/* Runs first: the page is rendered on first use, here by four requests
 * at once; they all get the same complete page. */
static void first_render_is_shared(void **st)
{
	pthread_t t[THREADS];
	struct http_response r[THREADS];
	int i;

	(void)st;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, get_page, &r[i]),
				 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(r[i].status, 200);
		assert_string_equal(r[i].content_type,
				    "text/html; charset=utf-8");
		assert_non_null(strstr(r[i].body.buf, "</html>"));
		assert_int_equal(r[i].body.len, r[0].body.len);
		assert_memory_equal(r[i].body.buf, r[0].body.buf,
				    r[0].body.len);
	}
	for (i = 0; i < THREADS; i++)
		http_response_free(&r[i]);
}

static void json_is_the_file(void **st)
{
	struct http_response r;
	cJSON *served;

	(void)st;
	get("/api/v1/openapi.json", "", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_int_equal(r.body.len, file_len);
	assert_memory_equal(r.body.buf, file, file_len);
	served = cJSON_ParseWithLength(r.body.buf, r.body.len);
	assert_non_null(served);
	assert_true(cJSON_Compare(served, doc, true));
	assert_string_equal(
		cJSON_GetObjectItemCaseSensitive(served, "openapi")->valuestring,
		"3.1.0");
	cJSON_Delete(served);
	http_response_free(&r);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* Every path and method of the document has its section, with the path
 * written out under the server's base, and every schema has one. */
static void page_lists_everything(void **st)
{
	static const char *const methods[] = {"get", "post", "patch",
					      "delete", "put", NULL};
	struct http_response r;
	const cJSON *path, *op, *s;
	char want[512];
	size_t ops = 0;
	int i;

	(void)st;
	get("/api/v1/docs", "", &r);
	assert_int_equal(r.status, 200);
	cJSON_ArrayForEach(path, cJSON_GetObjectItem(doc, "paths"))
	{
		for (i = 0; methods[i]; i++) {
			const char *id;

			op = cJSON_GetObjectItemCaseSensitive(path, methods[i]);
			if (!op)
				continue;
			ops++;
			id = cJSON_GetObjectItem(op, "operationId")->valuestring;
			snprintf(want, sizeof(want), "<section id=\"op-%s\">",
				 id);
			assert_non_null(strstr(r.body.buf, want));
			snprintf(want, sizeof(want), "<a href=\"#op-%s\">", id);
			assert_non_null(strstr(r.body.buf, want));
			snprintf(want, sizeof(want),
				 "<span class=\"method\">%s</span> /api/v1%s"
				 "</code>",
				 methods[i], path->string);
			assert_int_equal(count(r.body.buf, want), 2);
		}
	}
	assert_int_equal(ops, 25);
	assert_int_equal(count(r.body.buf, "<section id=\"op-"), ops);
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(cJSON_GetObjectItem(
				      doc, "components"),
				      "schemas"))
	{
		snprintf(want, sizeof(want), "<section id=\"schema-%s\">",
			 s->string);
		assert_non_null(strstr(r.body.buf, want));
	}
	/* a parameter, a body field, a response and a rule */
	assert_non_null(strstr(r.body.buf, "<td><code>contact_id</code></td>"
					   "<td>path</td>"));
	assert_non_null(strstr(r.body.buf, "<td><code>fallback_channel"
					   "</code></td>"));
	assert_non_null(strstr(r.body.buf, "<tr><td>409</td>"));
	assert_non_null(strstr(r.body.buf, "one of <code>open</code>, "
					   "<code>resolved</code>"));
	/* balanced markup */
	assert_int_equal(count(r.body.buf, "<table>"),
			 count(r.body.buf, "</table>"));
	assert_int_equal(count(r.body.buf, "<section "),
			 count(r.body.buf, "</section>"));
	assert_int_equal(count(r.body.buf, "<code>"),
			 count(r.body.buf, "</code>"));
	http_response_free(&r);
}

/* The document's text has <, >, " and & in it: all of it arrives as
 * text, including inside the Markdown's `code`, and there is no script. */
static void page_escapes(void **st)
{
	struct http_response r;

	(void)st;
	get("/api/v1/docs", "", &r);
	assert_null(strstr(r.body.buf, "<script"));
	assert_null(strstr(r.body.buf, "<slug>"));
	assert_null(strstr(r.body.buf, "<access token>"));
	assert_non_null(strstr(r.body.buf, "problems/&lt;slug&gt;"));
	assert_non_null(strstr(r.body.buf,
			       "<code>Authorization: Bearer &lt;access "
			       "token&gt;</code>"));
	assert_non_null(strstr(r.body.buf, "<strong>Refresh tokens rotate"
					   "</strong>"));
	assert_non_null(strstr(r.body.buf, "realm=&quot;keryu&quot;"));
	assert_non_null(strstr(r.body.buf, "I&#39;m on my way"));
	http_response_free(&r);
}

static void query_parameters_are_refused(void **st)
{
	static const char *const paths[] = {"/api/v1/openapi.json",
					    "/api/v1/docs"};
	struct http_response r;
	size_t i;

	(void)st;
	for (i = 0; i < 2; i++) {
		cJSON *p;

		get(paths[i], "format=yaml", &r);
		assert_int_equal(r.status, 400);
		assert_string_equal(r.content_type, HTTP_API_PROBLEM_JSON);
		p = cJSON_Parse(r.body.buf);
		assert_non_null(p);
		assert_string_equal(
			cJSON_GetObjectItem(p, "type")->valuestring,
			"https://keryu.invalid/problems/validation");
		assert_string_equal(
			cJSON_GetObjectItem(cJSON_GetArrayItem(
				cJSON_GetObjectItem(p, "errors"), 0), "field")
				->valuestring,
			"format");
		cJSON_Delete(p);
		http_response_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_render_is_shared),
		cmocka_unit_test(json_is_the_file),
		cmocka_unit_test(page_lists_everything),
		cmocka_unit_test(page_escapes),
		cmocka_unit_test(query_parameters_are_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
