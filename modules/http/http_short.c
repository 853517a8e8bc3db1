/* Short codes: 8 characters printed under a tag's QR code for finders who
 * type rather than scan. GET /t/<code> sends them to the tag's scan page,
 * which decides (active or not) what they see; this page never says more
 * than "no such code". */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "http_tags_alarms.h"

#define CODE_CHARS (KERYU_SHORT_CODE_LEN - 1)

bool http_short_code_parse(const char *s, char out[KERYU_SHORT_CODE_LEN])
{
	size_t i;

	if (!s || strlen(s) != CODE_CHARS)
		return false;
	for (i = 0; i < CODE_CHARS; i++) {
		char c = (char)toupper((unsigned char)s[i]);

		if (!c || !strchr(KERYU_SHORT_CODE_ALPHABET, c))
			return false;
		out[i] = c;
	}
	out[i] = '\0';
	return true;
}

void http_short_code_new(char out[KERYU_SHORT_CODE_LEN])
{
	static const char alphabet[] = KERYU_SHORT_CODE_ALPHABET;
	size_t i;

	for (i = 0; i < CODE_CHARS; i++)
		out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	out[i] = '\0';
}

void http_public_base(const struct http_ctx *ctx, char *out, size_t size)
{
	const char *url = ctx->host->config(ctx->m, "public_url");
	size_t n;

	snprintf(out, size, "%s", url ? url : "");
	n = strlen(out);
	while (n && out[n - 1] == '/')
		out[--n] = '\0';
}

static void no_such_code(struct http_response *r)
{
	http_page_error(r, 404, "Unknown code",
			"There is no tag with this code. Please check the "
			"letters and digits printed under the QR code.");
	r->no_store = true;
}

void http_short(struct http_ctx *ctx, const struct http_request *req,
		const char *code, struct http_response *r)
{
	const struct keryu_subjects *svc = ctx->subjects;
	char c[KERYU_SHORT_CODE_LEN], uuid[KERYU_UUID_LEN], lower[KERYU_UUID_LEN];
	char loc[128];
	int rc;

	(void)req;
	if (!http_short_code_parse(code, c)) {
		ctx->host->log(ctx->m, KERYU_LOG_DEBUG, "http.short",
			       "status=404 reason=malformed");
		no_such_code(r);
		return;
	}
	if (!svc) {
		http_page_error(r, 503, "Temporarily unavailable",
				"This page cannot be shown right now. If the "
				"person needs help, please call your local "
				"emergency services.");
		r->no_store = true;
		return;
	}
	rc = svc->tag_by_code(svc->self, c, uuid);
	if (rc == 0 && !keryu_uuid_valid(uuid))
		rc = KERYU_ERR;
	if (rc == KERYU_ENOTFOUND) {
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.short",
			       "status=404 reason=unknown");
		no_such_code(r);
		return;
	}
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.short",
			       "status=503 error=\"%s\"", keryu_strerror(rc));
		http_page_error(r, 503, "Temporarily unavailable",
				"This page cannot be shown right now. If the "
				"person needs help, please call your local "
				"emergency services.");
		r->no_store = true;
		return;
	}
	http_uuid_arg(uuid, lower);
	snprintf(loc, sizeof(loc), "/subjects/qr/%s/scan/", lower);
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.short",
		       "qr=%s status=303", lower);
	http_redirect(r, loc);
}
