/* Translations of the public pages: GNU .mo catalogues compiled from
 * po/<lang>.po at build time, read by a small reader of our own, and the
 * choice of the finder's language.
 *
 * Why not gettext(): glibc picks the catalogue from the process locale
 * (setlocale/uselocale), which needs the system locale of each language
 * installed and is per thread at best; the server answers many finders
 * in many languages at once on a thread pool. Reading the .mo files
 * ourselves makes a lookup a pure function of (lang, msgid). */
#ifndef KERYU_HTTP_I18N_H
#define KERYU_HTTP_I18N_H

#include <stdbool.h>
#include <stddef.h>

#include "http_module.h"

#define HTTP_LANG_MAX 8		/* "en", "es", "pt-br" as "pt"...: 2-3 letters */
#define HTTP_LANGS_MAX 16	/* catalogues loaded (English needs none) */
#define HTTP_LANG_COOKIE "keryu_lang"

/* ---- the .mo reader ---- */
/* One catalogue, in memory. */
struct http_mo;

/* Parses a GNU .mo image (either byte order, revision 0.x): checks the
 * magic, that every string table entry lies inside the image and ends
 * with a NUL, and that the originals are sorted (msgfmt sorts them; the
 * lookup is a binary search). Copies data. Returns 0 with *out (free with
 * http_mo_free), KERYU_EINVAL for a truncated or corrupt image,
 * KERYU_ENOMEM. */
int http_mo_parse(const void *data, size_t len, struct http_mo **out);
/* Reads and parses the file at path (at most 4 MiB). Returns as
 * http_mo_parse, or KERYU_ENOTFOUND / KERYU_EIO when it cannot be read. */
int http_mo_load(const char *path, struct http_mo **out);
void http_mo_free(struct http_mo *mo);
/* The translation of msgid, or NULL when the catalogue has none (or an
 * empty one). The string lives as long as mo. */
const char *http_mo_find(const struct http_mo *mo, const char *msgid);
/* How many messages mo holds (the header entry included). */
size_t http_mo_count(const struct http_mo *mo);

/* ---- the catalogues of this process ---- */
/* Loads every <lang>.mo of dir (lang: 2 or 3 lower-case letters) once,
 * on first use; [http] locale_dir names dir, "" meaning
 * <module dir>/../../share/keryu/locale (the build tree and an install
 * prefix alike) or <dir>/../share/keryu/locale. A missing folder or a
 * corrupt file is logged once and leaves that language out: pages fall
 * back to English. Thread-safe. A different locale_dir (tests) reloads. */
void http_i18n_ensure(struct http_ctx *ctx);
/* The text of msgid in lang: the catalogue's translation, else msgid
 * itself (English). Never NULL; lives as long as the process. */
const char *http_tr(struct http_ctx *ctx, const char *lang,
		    const char *msgid);
/* The languages a page can be shown in, English first, then the
 * catalogues in name order; fills codes (static strings) and returns
 * how many (<= max). */
size_t http_i18n_langs(struct http_ctx *ctx, const char **codes, size_t max);
/* True when lang is "en" or has a catalogue. */
bool http_i18n_has(struct http_ctx *ctx, const char *lang);

/* ---- the finder's language ---- */
/* Picks the best available language from an Accept-Language header value
 * ("es-MX,es;q=0.9,en;q=0.5"): highest q first, then header order; only
 * the primary subtag counts; q=0 and "*" never pick. Writes it into out
 * and returns true, or false (out "") when none is available. NULL is
 * fine. */
bool http_lang_from_header(struct http_ctx *ctx, const char *header,
			   char out[HTTP_LANG_MAX]);
/* The page's language: ?lang=xx when available (then *chosen is true:
 * the caller remembers it in the cookie), else the keryu_lang cookie,
 * else Accept-Language, else "en". */
void http_lang_pick(struct http_ctx *ctx, const struct http_request *req,
		    char out[HTTP_LANG_MAX], bool *chosen);
/* Sets r's Set-Cookie to remember lang for a year. */
void http_lang_cookie(const struct http_ctx *ctx, struct http_response *r,
		      const char *lang);

#endif
