/* Translations of the public pages (see http_i18n.h for why we read the
 * .mo files ourselves rather than call gettext()).
 *
 * The GNU .mo layout (gettext manual, "The Format of GNU MO Files"):
 *   0  magic 0x950412de, in the writer's byte order
 *   4  revision: major << 16 | minor; major 0 is all we read
 *   8  N, the number of strings
 *   12 O, offset of the table of originals: N x (length, offset)
 *   16 T, offset of the table of translations, the same shape
 *   20 S, 24 H: the optional hash table (not needed: the originals are
 *      sorted, so a binary search finds a msgid in log2(N) compares)
 * Every string is NUL-terminated after its length. The file is checked
 * whole at load, so a lookup never reads outside it. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_i18n.h"

#define MO_MAGIC 0x950412deu
#define MO_MAX_BYTES (4u << 20)

struct http_mo {
	unsigned char *data;
	size_t len;
	uint32_t n;
	const char **orig, **trans; /* n each, into data */
};

static uint32_t rd32(const unsigned char *p, bool swap)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	if (swap)
		v = (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) |
		    (v << 24);
	return v;
}

/* The string of table entry i, or NULL when it does not lie inside the
 * image with its NUL. */
static const char *mo_string(const unsigned char *d, size_t len,
			     uint32_t table, uint32_t i, bool swap)
{
	uint64_t at = (uint64_t)table + (uint64_t)i * 8;
	uint32_t slen, soff;

	if (at + 8 > len)
		return NULL;
	slen = rd32(d + at, swap);
	soff = rd32(d + at + 4, swap);
	if ((uint64_t)soff + slen + 1 > len || d[(size_t)soff + slen] != '\0')
		return NULL;
	return (const char *)d + soff;
}

void http_mo_free(struct http_mo *mo)
{
	if (!mo)
		return;
	free(mo->orig);
	free(mo->trans);
	free(mo->data);
	free(mo);
}

int http_mo_parse(const void *data, size_t len, struct http_mo **out)
{
	struct http_mo *mo;
	const unsigned char *d;
	uint32_t magic, rev, n, o, t, i;
	bool swap;

	*out = NULL;
	if (!data || len < 28 || len > MO_MAX_BYTES)
		return KERYU_EINVAL;
	magic = rd32(data, false);
	if (magic == MO_MAGIC)
		swap = false;
	else if (rd32(data, true) == MO_MAGIC)
		swap = true;
	else
		return KERYU_EINVAL;
	d = data;
	rev = rd32(d + 4, swap);
	n = rd32(d + 8, swap);
	o = rd32(d + 12, swap);
	t = rd32(d + 16, swap);
	if (rev >> 16 != 0 || (uint64_t)n * 8 > len)
		return KERYU_EINVAL;

	mo = calloc(1, sizeof(*mo));
	if (!mo)
		return KERYU_ENOMEM;
	mo->data = malloc(len);
	mo->orig = calloc(n ? n : 1, sizeof(*mo->orig));
	mo->trans = calloc(n ? n : 1, sizeof(*mo->trans));
	if (!mo->data || !mo->orig || !mo->trans) {
		http_mo_free(mo);
		return KERYU_ENOMEM;
	}
	memcpy(mo->data, data, len);
	mo->len = len;
	mo->n = n;
	for (i = 0; i < n; i++) {
		mo->orig[i] = mo_string(mo->data, len, o, i, swap);
		mo->trans[i] = mo_string(mo->data, len, t, i, swap);
		/* sorted, or the binary search would miss entries */
		if (!mo->orig[i] || !mo->trans[i] ||
		    (i && strcmp(mo->orig[i - 1], mo->orig[i]) >= 0)) {
			http_mo_free(mo);
			return KERYU_EINVAL;
		}
	}
	*out = mo;
	return 0;
}

int http_mo_load(const char *path, struct http_mo **out)
{
	unsigned char *buf;
	struct stat sb;
	size_t got = 0;
	ssize_t k;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KERYU_ENOTFOUND : KERYU_EIO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return KERYU_EIO;
	}
	if (sb.st_size < 0 || (unsigned long long)sb.st_size > MO_MAX_BYTES) {
		close(fd);
		return KERYU_EINVAL;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return KERYU_ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		k = read(fd, buf + got, (size_t)sb.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	rc = got == (size_t)sb.st_size ? http_mo_parse(buf, got, out)
				       : KERYU_EIO;
	free(buf);
	return rc;
}

const char *http_mo_find(const struct http_mo *mo, const char *msgid)
{
	size_t lo = 0, hi, mid;
	int c;

	if (!mo || !msgid)
		return NULL;
	hi = mo->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(msgid, mo->orig[mid]);
		if (c == 0)
			return mo->trans[mid][0] ? mo->trans[mid] : NULL;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t http_mo_count(const struct http_mo *mo)
{
	return mo ? mo->n : 0;
}

/* ---- the process's catalogues ---- */

/* Loaded once per locale_dir and only read after: http_i18n_ensure()
 * takes the lock, so a reader that went through it sees the whole set.
 * The destructor frees it when the module is unloaded. */
static pthread_mutex_t cat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool loaded;
	char dir[PATH_MAX];
	size_t n;
	struct {
		char lang[HTTP_LANG_MAX];
		struct http_mo *mo;
	} c[HTTP_LANGS_MAX];
} cats;

static void cats_free(void)
{
	size_t i;

	for (i = 0; i < cats.n; i++)
		http_mo_free(cats.c[i].mo);
	cats.n = 0;
	cats.loaded = false;
}

__attribute__((destructor)) static void i18n_unload(void)
{
	pthread_mutex_lock(&cat_lock);
	cats_free();
	pthread_mutex_unlock(&cat_lock);
}

static bool lang_code_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || n > 3)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return false;
	return true;
}

/* The default folder: share/keryu/locale beside the lib/ (or bin/,
 * tests/) folder of the code running, found with dladdr(). */
static bool default_dir(char *out, size_t size)
{
	static const char *const up[] = {"/../../share/keryu/locale",
					 "/../share/keryu/locale"};
	Dl_info info;
	char base[PATH_MAX];
	char *slash;
	struct stat sb;
	size_t i;

	if (!dladdr((void *)(uintptr_t)&http_i18n_ensure, &info) ||
	    !info.dli_fname || !*info.dli_fname)
		return false;
	snprintf(base, sizeof(base), "%s", info.dli_fname);
	slash = strrchr(base, '/');
	if (!slash)
		return false;
	*slash = '\0';
	for (i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
		if (snprintf(out, size, "%s%s", base, up[i]) >= (int)size)
			continue;
		if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode))
			return true;
	}
	return false;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cats_load(struct http_ctx *ctx, const char *dir)
{
	char names[HTTP_LANGS_MAX][HTTP_LANG_MAX];
	char *order[HTTP_LANGS_MAX];
	char path[PATH_MAX + 16];
	struct dirent *e;
	size_t k = 0, i;
	DIR *dp;
	int rc;

	cats_free();
	snprintf(cats.dir, sizeof(cats.dir), "%s", dir);
	cats.loaded = true;
	dp = *dir ? opendir(dir) : NULL;
	if (!dp) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.i18n",
			       "dir=\"%s\" status=missing pages=English-only",
			       *dir ? dir : "-");
		return;
	}
	while ((e = readdir(dp)) != NULL && k < HTTP_LANGS_MAX) {
		size_t n = strlen(e->d_name);

		if (n < 4 || strcmp(e->d_name + n - 3, ".mo") != 0 ||
		    !lang_code_ok(e->d_name, n - 3) ||
		    strncmp(e->d_name, "en", n - 3) == 0)
			continue;
		memcpy(names[k], e->d_name, n - 3);
		names[k][n - 3] = '\0';
		order[k] = names[k];
		k++;
	}
	closedir(dp);
	qsort(order, k, sizeof(order[0]), name_cmp);
	for (i = 0; i < k; i++) {
		struct http_mo *mo;

		snprintf(path, sizeof(path), "%s/%s.mo", dir, order[i]);
		rc = http_mo_load(path, &mo);
		if (rc) {
			ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.i18n",
				       "lang=%s status=refused error=\"%s\"",
				       order[i], keryu_strerror(rc));
			continue;
		}
		snprintf(cats.c[cats.n].lang, HTTP_LANG_MAX, "%s", order[i]);
		cats.c[cats.n].mo = mo;
		cats.n++;
		ctx->host->log(ctx->m, KERYU_LOG_DEBUG, "http.i18n",
			       "lang=%s messages=%zu", order[i],
			       http_mo_count(mo));
	}
}

void http_i18n_ensure(struct http_ctx *ctx)
{
	const char *opt = ctx->host->config(ctx->m, "locale_dir");
	char dir[PATH_MAX];

	if (opt && *opt)
		snprintf(dir, sizeof(dir), "%s", opt);
	else if (!default_dir(dir, sizeof(dir)))
		dir[0] = '\0';
	pthread_mutex_lock(&cat_lock);
	if (!cats.loaded || strcmp(cats.dir, dir) != 0)
		cats_load(ctx, dir);
	pthread_mutex_unlock(&cat_lock);
}

static const struct http_mo *cat_of(const char *lang)
{
	size_t i;

	for (i = 0; lang && i < cats.n; i++)
		if (strcmp(cats.c[i].lang, lang) == 0)
			return cats.c[i].mo;
	return NULL;
}

const char *http_tr(struct http_ctx *ctx, const char *lang,
		    const char *msgid)
{
	const char *t;

	(void)ctx; /* loaded by http_lang_pick's http_i18n_ensure() */
	t = http_mo_find(cat_of(lang), msgid);
	return t ? t : msgid;
}

size_t http_i18n_langs(struct http_ctx *ctx, const char **codes, size_t max)
{
	size_t i, n = 0;

	http_i18n_ensure(ctx);
	if (n < max)
		codes[n++] = "en";
	for (i = 0; i < cats.n && n < max; i++)
		codes[n++] = cats.c[i].lang;
	return n;
}

bool http_i18n_has(struct http_ctx *ctx, const char *lang)
{
	http_i18n_ensure(ctx);
	return lang && (strcmp(lang, "en") == 0 || cat_of(lang) != NULL);
}

/* q-value in thousandths ("1", "0.8", "0.125"); -1 when malformed. */
static int qvalue(const char *s, size_t n)
{
	int v, scale = 100;
	size_t i;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	v = (s[0] - '0') * 1000;
	if (n == 1)
		return v;
	if (s[1] != '.' || n > 5)
		return -1;
	for (i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v += (s[i] - '0') * scale;
	}
	return v > 1000 ? -1 : v;
}

bool http_lang_from_header(struct http_ctx *ctx, const char *header,
			   char out[HTTP_LANG_MAX])
{
	const char *p = header;
	int best_q = 0, items = 0;

	out[0] = '\0';
	if (!header)
		return false;
	http_i18n_ensure(ctx);
	/* a header is a few items; 32 is plenty and bounds the work */
	while (*p && items++ < 32) {
		const char *end = p + strcspn(p, ","), *semi;
		char tag[HTTP_LANG_MAX];
		size_t n = 0;
		int q = 1000;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (p + n < end && n < sizeof(tag) - 1 &&
		       ((p[n] >= 'a' && p[n] <= 'z') ||
			(p[n] >= 'A' && p[n] <= 'Z'))) {
			tag[n] = (char)(p[n] | 0x20);
			n++;
		}
		tag[n] = '\0';
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi) {
			const char *qs = semi + 1;

			while (qs < end && (*qs == ' ' || *qs == '\t'))
				qs++;
			if (end - qs >= 2 && (qs[0] == 'q' || qs[0] == 'Q') &&
			    qs[1] == '=') {
				size_t qn = 0;

				qs += 2;
				while (qs + qn < end && qs[qn] != ' ' &&
				       qs[qn] != '\t' && qs[qn] != ';')
					qn++;
				q = qvalue(qs, qn);
			}
		}
		/* the primary subtag ends at '-' (es-MX), ';' or the item */
		if (lang_code_ok(tag, n) &&
		    (p + n == end || p[n] == '-' || p[n] == ';' ||
		     p[n] == ' ') &&
		    q > best_q && http_i18n_has(ctx, tag)) {
			best_q = q;
			memcpy(out, tag, n + 1);
		}
		p = *end ? end + 1 : end;
	}
	return out[0] != '\0';
}

void http_lang_pick(struct http_ctx *ctx, const struct http_request *req,
		    char out[HTTP_LANG_MAX], bool *chosen)
{
	const char *q = http_form_get(req->query, "lang");
	char v[HTTP_LANG_MAX];

	*chosen = false;
	http_i18n_ensure(ctx);
	if (q && lang_code_ok(q, strlen(q)) && http_i18n_has(ctx, q)) {
		snprintf(out, HTTP_LANG_MAX, "%s", q);
		*chosen = true;
		return;
	}
	if (http_cookie_get(req->cookie, HTTP_LANG_COOKIE, v, sizeof(v)) &&
	    lang_code_ok(v, strlen(v)) && http_i18n_has(ctx, v)) {
		snprintf(out, HTTP_LANG_MAX, "%s", v);
		return;
	}
	if (http_lang_from_header(ctx, req->accept_language, out))
		return;
	snprintf(out, HTTP_LANG_MAX, "en");
}

void http_lang_cookie(const struct http_ctx *ctx, struct http_response *r,
		      const char *lang)
{
	snprintf(r->set_cookie, sizeof(r->set_cookie),
		 "%s=%s; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax%s",
		 HTTP_LANG_COOKIE, lang, ctx->secure_cookies ? "; Secure" : "");
}
