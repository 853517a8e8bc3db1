/* QR code as a 1-bit grayscale PNG, written to memory with libpng. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include <keryu/module.h>

#include "qr_service.h"

struct membuf {
	unsigned char *data;
	size_t len, cap;
};

static void write_mem(png_structp png, png_bytep bytes, png_size_t n)
{
	struct membuf *b = png_get_io_ptr(png);

	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *d;

		while (n > cap - b->len)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			png_error(png, "out of memory");
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

static void flush_mem(png_structp png)
{
	(void)png;
}

/* libpng's default handlers print to stderr; a module logs or stays
 * quiet, and every error here is out of memory anyway. */
static void on_error(png_structp png, png_const_charp msg)
{
	(void)msg;
	png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* One image row: bit 1 is white (grayscale), most significant bit first. */
static void fill_row(const QRcode *qr, int margin, int scale, int py,
		     unsigned char *row, size_t row_bytes, int size)
{
	int my = py / scale - margin, px;

	memset(row, 0xFF, row_bytes);
	if (my < 0 || my >= qr->width)
		return;
	for (px = 0; px < size; px++) {
		int mx = px / scale - margin;

		if (mx >= 0 && mx < qr->width &&
		    (qr->data[my * qr->width + mx] & 1))
			row[px / 8] &= (unsigned char)~(0x80u >> (px % 8));
	}
}

static int write_png(const QRcode *qr, int margin, int scale,
		     struct membuf *b)
{
	int size = (qr->width + 2 * margin) * scale;
	size_t row_bytes = ((size_t)size + 7) / 8;
	png_structp png;
	png_infop info = NULL;
	unsigned char *row;
	int y;

	row = malloc(row_bytes);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_error,
				      on_warning);
	if (png)
		info = png_create_info_struct(png);
	if (!row || !png || !info) {
		png_destroy_write_struct(&png, &info);
		free(row);
		return KERYU_ENOMEM;
	}
	/* nothing set between here and a longjmp is read after it */
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		free(row);
		return KERYU_ENOMEM;
	}
	png_set_write_fn(png, b, write_mem, flush_mem);
	png_set_IHDR(png, info, (png_uint_32)size, (png_uint_32)size, 1,
		     PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (y = 0; y < size; y++) {
		fill_row(qr, margin, scale, y, row, row_bytes, size);
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	return 0;
}

int qr_png(void *self, const char *text, unsigned char **out, size_t *len)
{
	const struct qr_state *s = self;
	struct membuf b = {NULL, 0, 0};
	QRcode *qr;
	int rc;

	if (!out || !len)
		return KERYU_EINVAL;
	*out = NULL;
	*len = 0;
	rc = qr_encode(s, text, &qr);
	if (rc)
		return rc;
	rc = write_png(qr, s->margin, s->scale, &b);
	QRcode_free(qr);
	if (rc) {
		free(b.data);
		return rc;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}
