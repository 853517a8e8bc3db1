/* Escaping HTML writer; see html.h. */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void html_init(struct html *h)
{
	memset(h, 0, sizeof(*h));
}

void html_free(struct html *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

static void put(struct html *h, const char *s, size_t n);

char *html_take(struct html *h, size_t *len)
{
	char *b;

	if (!h->buf)
		put(h, "", 0); /* an empty body is still a buffer to hand over */
	if (h->failed) {
		html_free(h);
		return NULL;
	}
	b = h->buf;
	*len = h->len;
	memset(h, 0, sizeof(*h));
	return b;
}

static bool reserve(struct html *h, size_t more)
{
	size_t cap;
	char *nb;

	if (h->failed)
		return false;
	if (h->len + more + 1 <= h->cap)
		return true;
	cap = h->cap ? h->cap : 1024;
	while (cap < h->len + more + 1) {
		if (cap > ((size_t)-1) / 2) {
			h->failed = true;
			return false;
		}
		cap *= 2;
	}
	nb = realloc(h->buf, cap);
	if (!nb) {
		h->failed = true;
		return false;
	}
	h->buf = nb;
	h->cap = cap;
	return true;
}

static void put(struct html *h, const char *s, size_t n)
{
	if (!reserve(h, n))
		return;
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

void html_raw(struct html *h, const char *s)
{
	if (s)
		put(h, s, strlen(s));
}

void html_bytes(struct html *h, const void *data, size_t len)
{
	if (data && len)
		put(h, data, len);
}

/* Copies runs of safe bytes in one go and replaces the rest. */
static void escape(struct html *h, const char *s, bool attr)
{
	const char *run = s;
	char num[8];

	if (!s)
		return;
	for (; *s; s++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default:
			if (attr && (c < 0x20 || c == 0x7f)) {
				snprintf(num, sizeof(num), "&#%u;", c);
				rep = num;
			}
			break;
		}
		if (!rep)
			continue;
		put(h, run, (size_t)(s - run));
		put(h, rep, strlen(rep));
		run = s + 1;
	}
	put(h, run, (size_t)(s - run));
}

void html_text(struct html *h, const char *s)
{
	escape(h, s, false);
}

void html_attr(struct html *h, const char *s)
{
	escape(h, s, true);
}

void html_textf(struct html *h, const char *fmt, ...)
{
	va_list ap;
	char small[256], *big = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		h->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		html_text(h, small);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		h->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	html_text(h, big);
	free(big);
}
