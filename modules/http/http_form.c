/* Forms, query strings and cookies as plain data, free of libmicrohttpd
 * so that the handlers and their tests never need a socket. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_module.h"

void http_form_init(struct http_form *f)
{
	memset(f, 0, sizeof(*f));
}

void http_form_free(struct http_form *f)
{
	size_t i;

	for (i = 0; i < f->n_fields; i++) {
		free(f->fields[i].name);
		free(f->fields[i].value);
	}
	for (i = 0; i < f->n_files; i++) {
		free(f->files[i].name);
		free(f->files[i].filename);
		free(f->files[i].content_type);
		free(f->files[i].data);
	}
	free(f->fields);
	free(f->files);
	memset(f, 0, sizeof(*f));
}

/* Appends len bytes to *buf (holding *n bytes) and keeps a NUL after. */
static int append(char **buf, size_t *n, const char *data, size_t len)
{
	char *nb;

	if (len > ((size_t)-1) - *n - 1)
		return KERYU_ENOMEM;
	nb = realloc(*buf, *n + len + 1);
	if (!nb)
		return KERYU_ENOMEM;
	if (len)
		memcpy(nb + *n, data, len);
	*n += len;
	nb[*n] = '\0';
	*buf = nb;
	return 0;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int http_form_add(struct http_form *f, const char *name, const char *data,
		  size_t len, bool is_new)
{
	struct http_field *fl;

	if (is_new || f->n_fields == 0) {
		if (f->n_fields == f->cap_fields) {
			size_t cap = f->cap_fields ? f->cap_fields * 2 : 8;
			struct http_field *nf =
				realloc(f->fields, cap * sizeof(*nf));

			if (!nf)
				return KERYU_ENOMEM;
			f->fields = nf;
			f->cap_fields = cap;
		}
		fl = &f->fields[f->n_fields];
		memset(fl, 0, sizeof(*fl));
		fl->name = dup_or_empty(name);
		if (!fl->name || append(&fl->value, &fl->len, "", 0) != 0) {
			free(fl->name);
			free(fl->value);
			return KERYU_ENOMEM;
		}
		f->n_fields++;
	}
	fl = &f->fields[f->n_fields - 1];
	return append(&fl->value, &fl->len, data, len);
}

int http_form_add_file(struct http_form *f, const char *name,
		       const char *filename, const char *content_type,
		       const char *data, size_t len, bool is_new)
{
	struct http_file *fi;

	if (is_new || f->n_files == 0) {
		if (f->n_files == f->cap_files) {
			size_t cap = f->cap_files ? f->cap_files * 2 : 4;
			struct http_file *nf =
				realloc(f->files, cap * sizeof(*nf));

			if (!nf)
				return KERYU_ENOMEM;
			f->files = nf;
			f->cap_files = cap;
		}
		fi = &f->files[f->n_files];
		memset(fi, 0, sizeof(*fi));
		fi->name = dup_or_empty(name);
		fi->filename = dup_or_empty(filename);
		fi->content_type = dup_or_empty(content_type);
		if (!fi->name || !fi->filename || !fi->content_type ||
		    append((char **)&fi->data, &fi->len, "", 0) != 0) {
			free(fi->name);
			free(fi->filename);
			free(fi->content_type);
			free(fi->data);
			return KERYU_ENOMEM;
		}
		f->n_files++;
	}
	fi = &f->files[f->n_files - 1];
	return append((char **)&fi->data, &fi->len, data, len);
}

const char *http_form_get(const struct http_form *f, const char *name)
{
	size_t i;

	if (!f || !name)
		return NULL;
	for (i = 0; i < f->n_fields; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	return NULL;
}

const struct http_file *http_form_file(const struct http_form *f,
				       const char *name)
{
	size_t i;

	if (!f || !name)
		return NULL;
	for (i = 0; i < f->n_files; i++)
		if (strcmp(f->files[i].name, name) == 0)
			return &f->files[i];
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes n bytes of a query component ("+" is a space) into a new
 * string. NULL with *bad set for a broken escape or a NUL. */
static char *decode(const char *s, size_t n, bool *bad)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n ||
			    (hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0) {
				*bad = true;
				free(out);
				return NULL;
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0) {
			*bad = true;
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

int http_form_parse_query(struct http_form *f, const char *qs)
{
	const char *p = qs;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		size_t kn = eq ? (size_t)(eq - p) : n;
		bool bad = false;
		char *k, *v;
		int rc;

		if (n) {
			k = decode(p, kn, &bad);
			v = k ? decode(eq ? eq + 1 : p + n,
				       eq ? n - kn - 1 : 0, &bad)
			      : NULL;
			if (!k || !v) {
				free(k);
				free(v);
				return bad ? KERYU_EINVAL : KERYU_ENOMEM;
			}
			rc = http_form_add(f, k, v, strlen(v), true);
			free(k);
			free(v);
			if (rc)
				return rc;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

bool http_cookie_get(const char *header, const char *name, char *out,
		     size_t size)
{
	const char *p = header;
	size_t nl = strlen(name);

	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t vn = n - nl - 1;

			if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
				v++;
				vn -= 2;
			}
			if (vn == 0 || vn >= size)
				return false;
			memcpy(out, v, vn);
			out[vn] = '\0';
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

bool http_url_encode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == '~' || c == '/') {
			if (o + 1 >= size)
				return false;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= size)
				return false;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= size)
		return false;
	out[o] = '\0';
	return true;
}
