/* POST bodies: libmicrohttpd's MHD_PostProcessor does the parsing (both
 * urlencoded and multipart); this file only keeps what it hands over, in
 * memory, within max_body. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "http_module.h"

#define URLENCODED "application/x-www-form-urlencoded"
#define MULTIPART "multipart/form-data"

struct http_body {
	struct MHD_PostProcessor *pp; /* NULL for an empty body */
	struct http_form form;
	long long max_body, seen;
	unsigned status; /* first error; 0 while fine */
};

static bool has_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* MHD calls this for every piece of every field, off counting the bytes
 * of that value already handed over: off 0 starts a new value. */
static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind,
				const char *key, const char *filename,
				const char *content_type,
				const char *transfer_encoding, const char *data,
				uint64_t off, size_t size)
{
	struct http_body *b = cls;
	int rc;

	(void)kind;
	(void)transfer_encoding;
	if (!key)
		return MHD_YES;
	if (filename) {
		rc = http_form_add_file(&b->form, key, filename, content_type,
					data, size, off == 0);
	} else {
		/* a NUL inside a text value would cut it short unseen */
		if (size && memchr(data, '\0', size)) {
			b->status = 400;
			return MHD_NO;
		}
		rc = http_form_add(&b->form, key, data, size, off == 0);
	}
	if (rc) {
		b->status = 500;
		return MHD_NO;
	}
	return MHD_YES;
}

struct http_body *http_body_begin(struct MHD_Connection *c, long long max_body,
				  unsigned *status)
{
	const char *ct = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *cl = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct http_body *b;

	*status = 0;
	if (cl && strtoull(cl, NULL, 10) > (unsigned long long)max_body) {
		*status = 413;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		*status = 500;
		return NULL;
	}
	http_form_init(&b->form);
	b->max_body = max_body;
	if (!ct || !*ct)
		return b; /* no body to parse; any bytes sent are refused */
	if (!has_prefix(ct, URLENCODED) && !has_prefix(ct, MULTIPART)) {
		free(b);
		*status = 400;
		return NULL;
	}
	b->pp = MHD_create_post_processor(c, 4096, on_field, b);
	if (!b->pp) { /* e.g. multipart without a boundary */
		free(b);
		*status = 400;
		return NULL;
	}
	return b;
}

unsigned http_body_feed(struct http_body *b, const char *data, size_t size)
{
	if (b->status)
		return b->status;
	b->seen += (long long)size;
	if (b->seen > b->max_body)
		return b->status = 413;
	if (!size)
		return 0;
	if (!b->pp)
		return b->status = 400; /* bytes without a form content type */
	if (MHD_post_process(b->pp, data, size) != MHD_YES && !b->status)
		b->status = 400;
	return b->status;
}

unsigned http_body_end(struct http_body *b, struct http_form *out)
{
	unsigned status = b->status;

	if (b->pp) {
		/* MHD_NO: the body stopped in the middle of a part */
		if (MHD_destroy_post_processor(b->pp) != MHD_YES && !status)
			status = 400;
		b->pp = NULL;
	}
	if (!status) {
		*out = b->form;
		http_form_init(&b->form);
	}
	http_body_free(b);
	return status;
}

void http_body_free(struct http_body *b)
{
	if (!b)
		return;
	if (b->pp)
		MHD_destroy_post_processor(b->pp);
	http_form_free(&b->form);
	free(b);
}
