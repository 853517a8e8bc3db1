/* Subjects' photos: upload, replace, remove and serve. A photo is taken
 * only when its bytes are JPEG or PNG (the file name and the browser's
 * content type say nothing), and stored under photo_dir as a fresh random
 * name. No path is ever made from a request: files are opened relative
 * to the folder's descriptor, by a stored name that must look like
 * [0-9a-f]{32}.(jpg|png). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "http_subjects.h"

#define TMP_PREFIX ".tmp-"
/* what may be served; larger files were not written by us */
#define SERVE_MAX (64LL << 20)

/* ---- the folder ---- */

/* mkdir -p with mode 0700 for the parts that are missing. */
static int make_dirs(const char *path)
{
	char buf[sizeof(((struct http_ctx *)0)->photo_dir)];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

/* Removes temporary files a crash left behind (never a stored photo). */
static void sweep_tmp(struct http_ctx *ctx)
{
	int fd = dup(ctx->photo_dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
			unlinkat(ctx->photo_dirfd, de->d_name, 0);
	closedir(d);
}

int http_photo_dir_open(struct http_ctx *ctx)
{
	struct stat st;
	int fd;

	if (ctx->photo_dirfd >= 0)
		return 0;
	if (make_dirs(ctx->photo_dir) != 0 ||
	    (fd = open(ctx->photo_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
		    0) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.photo_dir",
			       "dir=\"%s\" error=\"%s\"", ctx->photo_dir,
			       strerror(errno));
		return KERYU_EIO;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.photo_dir",
			       "dir=\"%s\" mode=%03o error=\"readable by "
			       "others; chmod 700 it\"",
			       ctx->photo_dir, (unsigned)(st.st_mode & 0777));
	ctx->photo_dirfd = fd;
	sweep_tmp(ctx);
	return 0;
}

void http_photo_dir_close(struct http_ctx *ctx)
{
	if (ctx->photo_dirfd >= 0)
		close(ctx->photo_dirfd);
	ctx->photo_dirfd = -1;
}

/* ---- names and content ---- */

bool http_photo_name_valid(const char *name)
{
	size_t i;

	if (!name || strlen(name) != 36)
		return false;
	for (i = 0; i < 32; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return strcmp(name + 32, ".jpg") == 0 || strcmp(name + 32, ".png") == 0;
}

const char *http_photo_type(const unsigned char *data, size_t len)
{
	static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF};
	static const unsigned char png[] = {0x89, 0x50, 0x4E, 0x47,
					    0x0D, 0x0A, 0x1A, 0x0A};

	if (data && len >= sizeof(jpeg) && memcmp(data, jpeg, sizeof(jpeg)) == 0)
		return "image/jpeg";
	if (data && len >= sizeof(png) && memcmp(data, png, sizeof(png)) == 0)
		return "image/png";
	return NULL;
}

void http_photo_remove(struct http_ctx *ctx, const char *name)
{
	if (!name || !*name)
		return;
	if (!http_photo_name_valid(name)) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.photo_remove",
			       "error=\"stored name is not a photo name\"");
		return;
	}
	if (ctx->photo_dirfd < 0 ||
	    (unlinkat(ctx->photo_dirfd, name, 0) != 0 && errno != ENOENT))
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.photo_remove",
			       "photo=%s error=\"%s\"", name,
			       ctx->photo_dirfd < 0 ? "folder not open"
						    : strerror(errno));
}

/* Writes data as a new photo: a temporary file made with O_EXCL, mode
 * 0600, synced, then renamed to a fresh random name (so a reader never
 * sees half a photo). Fills name. Returns 0 or KERYU_EIO (logged). */
static int photo_write(struct http_ctx *ctx, const unsigned char *data,
		       size_t len, const char *ext, char name[80])
{
	unsigned char rnd[16];
	char hex[33], tmp[80];
	size_t off = 0;
	int fd, err = 0;

	if (ctx->photo_dirfd < 0) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.photo_write",
			       "error=\"folder not open\"");
		return KERYU_EIO;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", hex);
	snprintf(name, 80, "%s.%s", hex, ext);
	fd = openat(ctx->photo_dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			break;
		}
		off += (size_t)w;
	}
	if (!err && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && renameat(ctx->photo_dirfd, tmp, ctx->photo_dirfd, name) != 0)
		err = errno;
	if (!err) {
		fsync(ctx->photo_dirfd); /* the rename itself */
		return 0;
	}
	unlinkat(ctx->photo_dirfd, tmp, 0);
fail:
	ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.photo_write",
		       "error=\"%s\"", strerror(err));
	name[0] = '\0';
	return KERYU_EIO;
}

/* ---- pages ---- */

static void photo_page(struct http_page *p, const struct keryu_subject *s,
		       const struct html_errors *e, unsigned status)
{
	struct html *h = &p->r->body;
	char action[128], src[128];
	long long mb10 = p->ctx->photo_max_bytes * 10 / (1024 * 1024);

	if (!http_form_page(p, "Photo", status))
		return;
	html_raw(h, "<p>A recent photo of <strong>");
	html_text(h, s->name);
	html_raw(h, "</strong> helps a finder be sure they found the right "
		    "person. Whether the scan page shows it is up to you "
		    "(see what the scan page shows).</p>\n");
	html_error_summary(h, e);
	if (s->photo[0]) {
		http_subject_path(src, s->id, "photo/image");
		html_raw(h, "<p><img src=\"");
		html_attr(h, src);
		html_raw(h, "\" alt=\"The current photo\" style=\"max-width:100%;"
			    "height:auto;max-height:20rem\"></p>\n");
	}
	http_subject_path(action, s->id, "photo");
	html_raw(h, "<form method=\"post\" enctype=\"multipart/form-data\" "
		    "action=\"");
	html_attr(h, action);
	html_raw(h, "\">\n");
	html_hidden(h, "csrf", p->s->row.csrf);
	html_hidden(h, "action", "upload");
	html_raw(h, html_errors_for(e, "photo") ? "<div class=\"field "
						  "has-error\">\n"
						: "<div class=\"field\">\n");
	html_raw(h, "<label for=\"f-photo\">");
	html_text(h, s->photo[0] ? "New photo" : "Photo");
	html_raw(h, "</label>\n<span class=\"hint\" id=\"f-photo-hint\">");
	html_textf(h, "JPEG or PNG, at most %lld.%lld MB.", mb10 / 10,
		   mb10 % 10);
	html_raw(h, "</span>\n");
	if (html_errors_for(e, "photo")) {
		html_raw(h, "<span class=\"error\" id=\"f-photo-error\">");
		html_text(h, html_errors_for(e, "photo"));
		html_raw(h, "</span>\n");
	}
	html_raw(h, "<input type=\"file\" id=\"f-photo\" name=\"photo\" "
		    "accept=\"image/jpeg,image/png\" "
		    "aria-describedby=\"f-photo-hint");
	if (html_errors_for(e, "photo"))
		html_raw(h, " f-photo-error\" aria-invalid=\"true");
	html_raw(h, "\" style=\"max-width:100%\">\n</div>\n");
	html_form_end(h, s->photo[0] ? "Replace the photo" : "Upload");
	if (s->photo[0]) {
		html_form_begin(h, action, p->s->row.csrf);
		html_hidden(h, "action", "remove");
		html_form_end(h, "Remove the photo");
	}
	http_subject_path(action, s->id, "");
	html_raw(h, "<p><a href=\"");
	html_attr(h, action);
	html_raw(h, "\">Back</a></p>\n");
	http_layout_end(h);
}

/* Points s at the new photo name and removes whichever file lost. */
static void set_photo(struct http_page *p, struct keryu_subject *s,
		      const char *name)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	char old[80] = "", loc[128];
	int rc;

	rc = sv->subject_set_photo(sv->self, p->s->who.id, s->id, name, old);
	if (rc) {
		/* the subject keeps its old photo; the new file goes */
		http_photo_remove(p->ctx, name);
		http_subject_fail(p, "http.photo_set", rc);
		return;
	}
	http_photo_remove(p->ctx, old);
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.photo_set",
			  "custodian=%s subject=%s photo=%s", p->s->who.id,
			  s->id, *name ? "new" : "removed");
	http_subject_path(loc, s->id,
			  *name ? "?notice=photo" : "?notice=photo_removed");
	http_redirect(p->r, loc);
}

void http_subject_photo(struct http_page *p)
{
	struct keryu_subject *s = calloc(1, sizeof(*s));
	struct html_errors e = {0};
	const struct http_file *f;
	const char *type;
	char name[80];

	if (!s) {
		http_unavailable(p);
		return;
	}
	/* ownership first: nothing is written for someone else's subject */
	if (!http_subject_load(p, s)) {
		free(s);
		return;
	}
	if (!http_is_post(p)) {
		photo_page(p, s, &e, 200);
		free(s);
		return;
	}
	if (strcmp(http_field(p, "action"), "remove") == 0) {
		if (s->photo[0])
			set_photo(p, s, "");
		else
			photo_page(p, s, &e, 200);
		free(s);
		return;
	}
	f = http_form_file(p->req->form, "photo");
	if (!f || f->len == 0) {
		html_errors_add(&e, "photo", "Choose a photo to upload.");
		photo_page(p, s, &e, 400);
	} else if ((long long)f->len > p->ctx->photo_max_bytes) {
		html_errors_add(&e, "photo", "This photo is too large. Please "
					     "choose a smaller one.");
		photo_page(p, s, &e, 413);
	} else if (!(type = http_photo_type(f->data, f->len))) {
		html_errors_add(&e, "photo", "Only JPEG and PNG photos can be "
					     "used.");
		photo_page(p, s, &e, 400);
	} else if (photo_write(p->ctx, f->data, f->len,
			       strcmp(type, "image/png") == 0 ? "png" : "jpg",
			       name) != 0) {
		http_unavailable(p);
	} else {
		set_photo(p, s, name);
	}
	free(s);
}

int http_photo_read(struct http_ctx *ctx, const char *name,
		    struct http_response *r)
{
	struct stat st;
	unsigned char *data = NULL;
	size_t off = 0;
	int fd, rc = 0;

	if (!name || !name[0] || !http_photo_name_valid(name) ||
	    ctx->photo_dirfd < 0)
		return KERYU_ENOTFOUND;
	fd = openat(ctx->photo_dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > SERVE_MAX) {
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.photo_read",
			       "photo=%s error=\"%s\"", name,
			       fd < 0 ? strerror(errno) : "not a file");
		rc = KERYU_ENOTFOUND;
		goto out;
	}
	data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!data) {
		rc = KERYU_ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, data + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != (size_t)st.st_size) {
		rc = KERYU_EIO;
		goto out;
	}
	r->status = 200;
	r->content_type = strcmp(name + 32, ".png") == 0 ? "image/png"
							 : "image/jpeg";
	r->no_store = true; /* a photo of a person: never in a cache */
	html_bytes(&r->body, data, off);
out:
	free(data);
	if (fd >= 0)
		close(fd);
	return rc;
}

void http_subject_photo_image(struct http_page *p)
{
	struct keryu_subject *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		http_unavailable(p);
		return;
	}
	if (http_subject_load(p, s)) {
		rc = http_photo_read(p->ctx, s->photo, p->r);
		if (rc == KERYU_ENOTFOUND)
			http_subject_not_found(p);
		else if (rc)
			http_unavailable(p);
	}
	free(s);
}
