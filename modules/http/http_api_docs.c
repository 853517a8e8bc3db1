/* The API's OpenAPI document (docs/api/openapi.json, compiled in by
 * embed_openapi.cmake) served byte for byte, and a page for people
 * rendered from it on the server: every operation with its parameters,
 * body fields and responses, then every schema. No script; everything
 * taken from the document is escaped. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_api.h"

static const char *const no_query[] = {NULL};

static const char *const methods[] = {"get",	"put",	   "post",
				      "delete", "options", "head",
				      "patch",	"trace",   NULL};

static const char page_style[] =
	"<style>\n"
	"main{max-width:64rem}\n"
	"h2{margin:2rem 0 .5rem}\n"
	"h3{margin:0 0 .5rem;overflow-wrap:anywhere}\n"
	"section{margin:0 0 2rem;padding:0 0 1rem;border-bottom:1px solid #ccc}\n"
	"table{border-collapse:collapse;width:100%;margin:0 0 1rem;"
	"font-size:.95rem}\n"
	"td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;"
	"vertical-align:top;overflow-wrap:break-word}\n"
	"th{white-space:nowrap}\n"
	"code{font-size:.9em;background:#f3f3f3;padding:0 .15rem;"
	"overflow-wrap:anywhere}\n"
	".method{text-transform:uppercase;font-weight:700}\n"
	"</style>\n";

/* The page is the same for every request: rendered once, kept until the
 * module is unloaded. A failed render (out of memory) is tried again by
 * the next request. */
static pthread_mutex_t page_lock = PTHREAD_MUTEX_INITIALIZER;
static char *page;
static size_t page_len;

/* Runs when the module is unloaded (dlclose) or the process exits, so the
 * cached page is not left behind as a leak. */
__attribute__((destructor)) static void page_free(void)
{
	free(page);
	page = NULL;
}

/* Refuses any query parameter: these documents take none. False after
 * answering 400. */
static bool no_parameters(const struct http_request *req,
			  struct http_response *r)
{
	struct http_api_errors e = {0};

	http_api_query_known(req->query, no_query, &e);
	if (!e.n)
		return true;
	http_api_invalid(r, &e);
	return false;
}

void http_api_openapi(struct http_ctx *ctx, const struct http_request *req,
		      struct http_response *r)
{
	size_t len;
	const char *doc = http_api_openapi_bytes(&len);

	(void)ctx;
	if (!no_parameters(req, r))
		return;
	html_free(&r->body);
	html_init(&r->body);
	html_bytes(&r->body, doc, len);
	r->status = 200;
	r->content_type = HTTP_API_JSON;
}

/* ---- reading the document ---- */

static const cJSON *get(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = get(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The node a local "$ref" ("#/components/schemas/Subject") points at,
 * or n itself when it is no reference. NULL for a dangling one. */
static const cJSON *deref(const cJSON *doc, const cJSON *n)
{
	int hops;

	for (hops = 0; hops < 8; hops++) {
		const char *ref = str(n, "$ref"), *p;
		const cJSON *at = doc;

		if (!ref)
			return n;
		if (strncmp(ref, "#/", 2) != 0)
			return NULL;
		for (p = ref + 2; at && *p;) {
			char seg[128];
			size_t k = strcspn(p, "/");

			if (k >= sizeof(seg))
				return NULL;
			memcpy(seg, p, k);
			seg[k] = '\0';
			at = get(at, seg);
			p += k + (p[k] == '/');
		}
		n = at;
	}
	return NULL;
}

/* The schema name of a "#/components/schemas/<name>" reference, or NULL. */
static const char *schema_ref(const cJSON *n)
{
	static const char prefix[] = "#/components/schemas/";
	const char *ref = str(n, "$ref");

	if (!ref || strncmp(ref, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	return ref + sizeof(prefix) - 1;
}

/* ---- writing ---- */

/* Escapes n bytes of s (not NUL-terminated). */
static void text_n(struct html *h, const char *s, size_t n)
{
	char buf[256];

	while (n) {
		size_t k = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;

		memcpy(buf, s, k);
		buf[k] = '\0';
		html_text(h, buf);
		s += k;
		n -= k;
	}
}

/* The first "**" in [s, end), or NULL. */
static const char *stars(const char *s, const char *end)
{
	for (; s + 1 < end; s++)
		if (s[0] == '*' && s[1] == '*')
			return s;
	return NULL;
}

/* A line of the document's Markdown: `code` and **strong** become markup
 * (their content escaped); everything else is escaped text. An opening
 * mark without its closing one is text. */
static void inline_md(struct html *h, const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *tick = memchr(s, '`', (size_t)(end - s));
		const char *star = stars(s, end), *open, *close = NULL;
		size_t mark;
		const char *tag;

		if (tick && (!star || tick < star)) {
			open = tick;
			mark = 1;
			tag = "code";
			close = memchr(tick + 1, '`', (size_t)(end - tick - 1));
		} else if (star) {
			open = star;
			mark = 2;
			tag = "strong";
			close = stars(star + 2, end);
		}
		if (!close) {
			text_n(h, s, (size_t)(end - s));
			return;
		}
		text_n(h, s, (size_t)(open - s));
		html_raw(h, "<");
		html_raw(h, tag);
		html_raw(h, ">");
		text_n(h, open + mark, (size_t)(close - open - mark));
		html_raw(h, "</");
		html_raw(h, tag);
		html_raw(h, ">");
		s = close + mark;
	}
}

/* The document's Markdown, the little of it this document uses: blocks
 * split by blank lines, each a paragraph, maybe under a "## " heading
 * line. */
static void markdown(struct html *h, const char *s)
{
	while (s && *s) {
		const char *end = strstr(s, "\n\n"), *p = s;
		size_t n = end ? (size_t)(end - s) : strlen(s), k = n;

		if (n >= 3 && strncmp(s, "## ", 3) == 0) {
			const char *nl = memchr(s, '\n', n);

			k = nl ? (size_t)(nl - s) : n;
			html_raw(h, "<h2>");
			inline_md(h, s + 3, k - 3);
			html_raw(h, "</h2>\n");
			p = s + k + (k < n);
			k = n - (size_t)(p - s);
		}
		if (k) {
			html_raw(h, "<p>");
			inline_md(h, p, k);
			html_raw(h, "</p>\n");
		}
		s += n;
		while (*s == '\n')
			s++;
	}
}

/* A JSON value as the document writes it ("text" as text, null, 3). */
static void value(struct html *h, const cJSON *v)
{
	char *s;

	if (cJSON_IsString(v)) {
		html_text(h, v->valuestring);
		return;
	}
	s = cJSON_PrintUnformatted(v);
	if (!s) {
		h->failed = true;
		return;
	}
	html_text(h, s);
	free(s);
}

static void schema_link(struct html *h, const char *name)
{
	html_raw(h, "<a href=\"#schema-");
	html_attr(h, name);
	html_raw(h, "\">");
	html_text(h, name);
	html_raw(h, "</a>");
}

/* What a schema is: its type(s) and format, "array of X", or a link to
 * the named schema it refers to. */
static void type_of(struct html *h, const cJSON *doc, const cJSON *s)
{
	const char *name = schema_ref(s);
	const cJSON *t = get(s, "type"), *all = get(s, "allOf"), *x;
	bool first = true;

	if (name) {
		schema_link(h, name);
		return;
	}
	if (cJSON_IsArray(all)) {
		cJSON_ArrayForEach(x, all)
		{
			const cJSON *props = get(x, "properties"), *p;

			if (schema_ref(x)) {
				type_of(h, doc, x);
				continue;
			}
			cJSON_ArrayForEach(p, props)
			{
				const cJSON *v = get(p, "const"), *e;
				bool one = true;

				if (!v && !cJSON_IsArray(get(p, "enum")))
					continue;
				html_raw(h, first ? " with " : ", ");
				first = false;
				html_text(h, p->string);
				if (v) {
					html_raw(h, " <code>");
					value(h, v);
					html_raw(h, "</code>");
					continue;
				}
				cJSON_ArrayForEach(e, get(p, "enum"))
				{
					html_raw(h, one ? " <code>" : " or <code>");
					one = false;
					value(h, e);
					html_raw(h, "</code>");
				}
			}
		}
		return;
	}
	if (cJSON_IsArray(t)) {
		cJSON_ArrayForEach(x, t)
		{
			if (!first)
				html_raw(h, " or ");
			first = false;
			value(h, x);
		}
	} else if (cJSON_IsString(t)) {
		html_text(h, t->valuestring);
	} else {
		html_raw(h, "any");
	}
	if (str(s, "format")) {
		html_raw(h, " (");
		html_text(h, str(s, "format"));
		html_raw(h, ")");
	}
	if (str(s, "contentMediaType")) {
		html_raw(h, " (");
		html_text(h, str(s, "contentMediaType"));
		html_raw(h, ")");
	}
	x = get(s, "items");
	if (x) {
		html_raw(h, " of ");
		type_of(h, doc, x);
	}
}

/* The limits a schema sets, one after the other. */
static void rules(struct html *h, const cJSON *s)
{
	static const struct {
		const char *key, *label;
	} simple[] = {
		{"minLength", "at least "},  {"maxLength", "at most "},
		{"minimum", "minimum "},     {"maximum", "maximum "},
		{"minItems", "at least "},   {"maxItems", "at most "},
		{"default", "default "},     {"const", "exactly "},
	};
	const cJSON *v, *x;
	size_t i;
	bool any = false;

	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		v = get(s, simple[i].key);
		if (!v)
			continue;
		html_raw(h, any ? "; " : "");
		any = true;
		html_raw(h, simple[i].label);
		html_raw(h, "<code>");
		value(h, v);
		html_raw(h, "</code>");
		if (strstr(simple[i].key, "Length"))
			html_raw(h, " long");
		else if (strstr(simple[i].key, "Items"))
			html_raw(h, " items");
	}
	v = get(s, "enum");
	if (cJSON_IsArray(v)) {
		html_raw(h, any ? "; one of " : "one of ");
		any = true;
		i = 0;
		cJSON_ArrayForEach(x, v)
		{
			html_raw(h, i++ ? ", <code>" : "<code>");
			value(h, x);
			html_raw(h, "</code>");
		}
	}
	if (cJSON_IsTrue(get(s, "uniqueItems"))) {
		html_raw(h, any ? "; " : "");
		any = true;
		html_raw(h, "no duplicates");
	}
	if (str(s, "pattern")) {
		html_raw(h, any ? "; " : "");
		any = true;
		html_raw(h, "matches <code>");
		html_text(h, str(s, "pattern"));
		html_raw(h, "</code>");
	}
	x = get(s, "items");
	if (x && !schema_ref(x)) {
		html_raw(h, any ? "; each " : "each ");
		rules(h, x);
	}
}

static bool listed(const cJSON *array, const char *name)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, array)
	{
		if (cJSON_IsString(x) && strcmp(x->valuestring, name) == 0)
			return true;
	}
	return false;
}

/* The fields of an object schema as a table. */
static void fields(struct html *h, const cJSON *doc, const cJSON *s)
{
	const cJSON *props = get(s, "properties"), *req = get(s, "required");
	const cJSON *p;

	if (!cJSON_IsObject(props) || !props->child) {
		html_raw(h, "<p>No fields.</p>\n");
		return;
	}
	html_raw(h, "<table>\n<tr><th>Field</th><th>Type</th>"
		    "<th>Required</th><th>Rules</th><th>Description</th>"
		    "</tr>\n");
	cJSON_ArrayForEach(p, props)
	{
		html_raw(h, "<tr><td><code>");
		html_text(h, p->string);
		html_raw(h, "</code></td><td>");
		type_of(h, doc, p);
		html_raw(h, "</td><td>");
		html_raw(h, listed(req, p->string) ? "yes" : "no");
		html_raw(h, "</td><td>");
		rules(h, p);
		html_raw(h, "</td><td>");
		inline_md(h, str(p, "description") ? str(p, "description") : "",
			  strlen(str(p, "description") ? str(p, "description")
						       : ""));
		html_raw(h, "</td></tr>\n");
	}
	html_raw(h, "</table>\n");
	if (cJSON_IsFalse(get(s, "additionalProperties")))
		html_raw(h, "<p class=\"small\">No other field is "
			    "accepted.</p>\n");
}

static void para(struct html *h, const char *s)
{
	if (s && *s) {
		html_raw(h, "<p>");
		inline_md(h, s, strlen(s));
		html_raw(h, "</p>\n");
	}
}

static void parameters(struct html *h, const cJSON *doc,
		       const cJSON *path_params, const cJSON *op_params)
{
	const cJSON *lists[2] = {path_params, op_params}, *x;
	size_t i;
	bool any = false;

	for (i = 0; i < 2; i++) {
		cJSON_ArrayForEach(x, lists[i])
		{
			const cJSON *p = deref(doc, x), *s;

			if (!p)
				continue;
			if (!any)
				html_raw(h, "<h4>Parameters</h4>\n<table>\n"
					    "<tr><th>Name</th><th>In</th>"
					    "<th>Type</th><th>Required</th>"
					    "<th>Rules</th>"
					    "<th>Description</th></tr>\n");
			any = true;
			s = get(p, "schema");
			html_raw(h, "<tr><td><code>");
			html_text(h, str(p, "name"));
			html_raw(h, "</code></td><td>");
			html_text(h, str(p, "in"));
			html_raw(h, "</td><td>");
			type_of(h, doc, s);
			html_raw(h, "</td><td>");
			html_raw(h, cJSON_IsTrue(get(p, "required")) ? "yes"
								     : "no");
			html_raw(h, "</td><td>");
			rules(h, deref(doc, s) ? deref(doc, s) : s);
			html_raw(h, "</td><td>");
			html_text(h, str(p, "description"));
			html_raw(h, "</td></tr>\n");
		}
	}
	if (any)
		html_raw(h, "</table>\n");
}

static void request_body(struct html *h, const cJSON *doc, const cJSON *rb)
{
	const cJSON *ct;

	rb = deref(doc, rb);
	if (!rb)
		return;
	html_raw(h, "<h4>Request body</h4>\n");
	cJSON_ArrayForEach(ct, get(rb, "content"))
	{
		const cJSON *s = get(ct, "schema");
		const cJSON *target = deref(doc, s);

		html_raw(h, "<p><code>");
		html_text(h, ct->string);
		html_raw(h, "</code>, ");
		html_raw(h, cJSON_IsTrue(get(rb, "required"))
				    ? "required: "
				    : "optional (may be left out): ");
		type_of(h, doc, s);
		html_raw(h, "</p>\n");
		if (target)
			fields(h, doc, target);
	}
}

static void responses(struct html *h, const cJSON *doc, const cJSON *rs)
{
	const cJSON *x;

	html_raw(h, "<h4>Responses</h4>\n<table>\n<tr><th>Status</th>"
		    "<th>Description</th><th>Content</th><th>Headers</th>"
		    "</tr>\n");
	cJSON_ArrayForEach(x, rs)
	{
		const cJSON *r = deref(doc, x), *ct, *hd;
		bool first = true;

		if (!r)
			continue;
		html_raw(h, "<tr><td>");
		html_text(h, x->string);
		html_raw(h, "</td><td>");
		html_text(h, str(r, "description"));
		html_raw(h, "</td><td>");
		cJSON_ArrayForEach(ct, get(r, "content"))
		{
			html_raw(h, first ? "<code>" : "<br><code>");
			first = false;
			html_text(h, ct->string);
			html_raw(h, "</code>: ");
			type_of(h, doc, get(ct, "schema"));
		}
		if (first)
			html_raw(h, "none");
		html_raw(h, "</td><td>");
		first = true;
		cJSON_ArrayForEach(hd, get(r, "headers"))
		{
			html_raw(h, first ? "<code>" : ", <code>");
			first = false;
			html_text(h, hd->string);
			html_raw(h, "</code>");
		}
		html_raw(h, "</td></tr>\n");
	}
	html_raw(h, "</table>\n");
}

/* "GET /api/v1/subjects/{id}" */
static void op_title(struct html *h, const char *server, const char *method,
		     const char *path)
{
	html_raw(h, "<code><span class=\"method\">");
	html_text(h, method);
	html_raw(h, "</span> ");
	html_text(h, server);
	html_text(h, path);
	html_raw(h, "</code>");
}

static void op_anchor(struct html *h, const cJSON *op, const char *method,
		      const char *path)
{
	const char *id = str(op, "operationId");

	if (id) {
		html_attr(h, id);
		return;
	}
	html_attr(h, method);
	html_attr(h, path);
}

/* before, the operation's anchor, between, then its title: the start of
 * its section and of its entry in the list of operations. */
static void op_head(struct html *h, const char *before, const char *between,
		    const char *server, const char *method, const char *path,
		    const cJSON *op)
{
	html_raw(h, before);
	op_anchor(h, op, method, path);
	html_raw(h, between);
	op_title(h, server, method, path);
}

static void operation(struct html *h, const cJSON *doc, const char *server,
		      const char *path, const cJSON *item, const char *method,
		      const cJSON *op)
{
	const cJSON *sec = get(op, "security");

	op_head(h, "<section id=\"op-", "\">\n<h3>", server, method, path, op);
	html_raw(h, "</h3>\n<p><strong>");
	html_text(h, str(op, "summary"));
	html_raw(h, "</strong></p>\n");
	para(h, str(op, "description"));
	if (!sec)
		sec = get(doc, "security");
	html_raw(h, "<p class=\"small\">Authorization: ");
	html_raw(h, cJSON_GetArraySize(sec) > 0
			    ? "<code>Bearer</code> access token"
			    : "none");
	html_raw(h, "</p>\n");
	parameters(h, doc, get(item, "parameters"), get(op, "parameters"));
	request_body(h, doc, get(op, "requestBody"));
	responses(h, doc, get(op, "responses"));
	html_raw(h, "</section>\n");
}

/* Calls fn for every operation, in the document's order. */
static void each_op(struct html *h, const cJSON *doc, const char *server,
		    void (*fn)(struct html *, const cJSON *, const char *,
			       const char *, const cJSON *, const char *,
			       const cJSON *))
{
	const cJSON *item, *op;

	cJSON_ArrayForEach(item, get(doc, "paths"))
	{
		cJSON_ArrayForEach(op, item)
		{
			size_t i;

			for (i = 0; methods[i]; i++)
				if (strcmp(op->string, methods[i]) == 0)
					fn(h, doc, server, item->string, item,
					   op->string, op);
		}
	}
}

static void toc_entry(struct html *h, const cJSON *doc, const char *server,
		      const char *path, const cJSON *item, const char *method,
		      const cJSON *op)
{
	(void)doc;
	(void)item;
	op_head(h, "<li><a href=\"#op-", "\">", server, method, path, op);
	html_raw(h, "</a> ");
	html_text(h, str(op, "summary"));
	html_raw(h, "</li>\n");
}

static void render(struct html *h, const cJSON *doc)
{
	const cJSON *info = get(doc, "info"), *s;
	const cJSON *server = get(cJSON_GetArrayItem(get(doc, "servers"), 0),
				  "url");
	const char *base = cJSON_IsString(server) ? server->valuestring : "";

	http_layout_begin(h, str(info, "title") ? str(info, "title") : "API",
			  NULL);
	html_raw(h, page_style);
	html_raw(h, "<p class=\"small\">Version ");
	html_text(h, str(info, "version"));
	html_raw(h, ", OpenAPI ");
	html_text(h, str(doc, "openapi"));
	html_raw(h, ". The document itself: <a href=\"");
	html_attr(h, base);
	html_raw(h, "/openapi.json\">");
	html_text(h, base);
	html_raw(h, "/openapi.json</a>.</p>\n");
	para(h, str(info, "summary"));
	markdown(h, str(info, "description"));
	html_raw(h, "<h2>Operations</h2>\n<ul>\n");
	each_op(h, doc, base, toc_entry);
	html_raw(h, "</ul>\n");
	each_op(h, doc, base, operation);
	html_raw(h, "<h2>Schemas</h2>\n");
	cJSON_ArrayForEach(s, get(get(doc, "components"), "schemas"))
	{
		html_raw(h, "<section id=\"schema-");
		html_attr(h, s->string);
		html_raw(h, "\">\n<h3>");
		html_text(h, s->string);
		html_raw(h, "</h3>\n");
		para(h, str(s, "description"));
		fields(h, doc, s);
		html_raw(h, "</section>\n");
	}
	http_layout_end(h);
}

/* The cached page, rendering it first when needed. False when the
 * document cannot be parsed or memory ran out. */
static bool page_get(struct html *out)
{
	bool ok;

	pthread_mutex_lock(&page_lock);
	if (!page) {
		size_t len;
		const char *text = http_api_openapi_bytes(&len);
		cJSON *doc = cJSON_ParseWithLength(text, len);
		struct html h;

		html_init(&h);
		if (doc)
			render(&h, doc);
		else
			h.failed = true;
		cJSON_Delete(doc);
		page = html_take(&h, &page_len);
	}
	ok = page != NULL;
	if (ok)
		html_bytes(out, page, page_len);
	pthread_mutex_unlock(&page_lock);
	return ok && !out->failed;
}

void http_api_docs_page(struct http_ctx *ctx, const struct http_request *req,
			struct http_response *r)
{
	if (!no_parameters(req, r))
		return;
	html_free(&r->body);
	html_init(&r->body);
	if (!page_get(&r->body)) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.api_docs",
			       "error=\"the page could not be rendered\"");
		http_api_problem(r, 503, "unavailable", "Service Unavailable",
				 "The page cannot be shown right now.");
		return;
	}
	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
}
