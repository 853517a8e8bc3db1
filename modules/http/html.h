/* A tiny HTML writer in the manner of cgit's html.c: everything written
 * through it is escaped unless the function's name says "raw". Pages are
 * built into a growable buffer that the response takes over.
 *
 * Allocation failures are sticky: after one, every write is a no-op and
 * html_take() returns NULL, so callers check once at the end. */
#ifndef KERYU_HTTP_HTML_H
#define KERYU_HTTP_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/module.h>

struct html {
	char *buf;
	size_t len, cap;
	bool failed; /* an allocation failed; the content is incomplete */
};

void html_init(struct html *h);
/* Frees the buffer; h can be reused after html_init(). */
void html_free(struct html *h);
/* Hands the buffer (NUL-terminated, *len bytes) to the caller, who frees
 * it with free(); h is left empty. NULL when a write failed. */
char *html_take(struct html *h, size_t *len);

/* Writes s escaped for element content (& < > " '). NULL writes nothing. */
void html_text(struct html *h, const char *s);
/* Writes s escaped for a double-quoted attribute value; also escapes
 * control characters so a value cannot break the attribute. */
void html_attr(struct html *h, const char *s);
/* Formats, then writes the result escaped like html_text(). */
void html_textf(struct html *h, const char *fmt, ...) KERYU_PRINTF(2, 3);

/* THE EXCEPTION: writes s unescaped. Only for markup and text that is part
 * of Keryu's own source, never for data from a request or the database. */
void html_raw(struct html *h, const char *s);
/* Appends len bytes as they are: for non-HTML bodies (images, SVG). */
void html_bytes(struct html *h, const void *data, size_t len);

#endif
