/* unit.test_qr: the qr module through the fake host. PNG output is read
 * back with libpng and SVG output is rasterised from its path, and both
 * are compared module by module with libqrencode's matrix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <png.h>
#include <qrencode.h>

#include <keryu/events.h>
#include <keryu/module.h>
#include <keryu/qr.h>

#include "fake_host.h"

extern const struct keryu_module keryu_module;

#define UUID "0b7e4c1a-5d2f-4e8a-9c3b-1f2e3d4c5b6a"

static void *state;

static const struct keryu_qr *init_with(const char *public_url,
					const char *scale, const char *margin,
					const char *level)
{
	fake_host_reset(&keryu_module);
	if (public_url)
		fake_host_set_global("http", "public_url", public_url);
	if (scale)
		fake_host_set("scale", scale);
	if (margin)
		fake_host_set("margin", margin);
	if (level)
		fake_host_set("level", level);
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 0);
	return fake_host()->service(fake_mod(), KERYU_SERVICE_QR);
}

static int teardown(void **unused)
{
	(void)unused;
	if (state)
		keryu_module.cleanup(state);
	state = NULL;
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The reference: libqrencode's matrix for the same input. */
static QRcode *reference(const char *text, QRecLevel level)
{
	QRcode *qr = QRcode_encodeString(text, 0, level, QR_MODE_8, 1);

	assert_non_null(qr);
	return qr;
}

static void test_descriptor(void **unused)
{
	const struct keryu_qr *qr;

	(void)unused;
	assert_int_equal(keryu_module.abi_version, KERYU_ABI_VERSION);
	assert_string_equal(keryu_module.name, "qr");
	assert_string_equal(keryu_module.provides[0], "qr");
	assert_null(keryu_module.provides[1]);
	qr = init_with(NULL, NULL, NULL, NULL);
	assert_non_null(qr);
	assert_int_equal(qr->struct_size, sizeof(struct keryu_qr));
	assert_non_null(qr->scan_url);
	assert_non_null(qr->png);
	assert_non_null(qr->svg);
}

static void test_scan_url_default(void **unused)
{
	const struct keryu_qr *qr = init_with(NULL, NULL, NULL, NULL);
	char buf[256];

	(void)unused;
	assert_int_equal(qr->scan_url(qr->self, UUID, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "http://127.0.0.1:8000/subjects/qr/" UUID
				 "/scan/");
	teardown(NULL);
	qr = init_with("", NULL, NULL, NULL);
	assert_int_equal(qr->scan_url(qr->self, UUID, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "http://127.0.0.1:8000/subjects/qr/" UUID
				 "/scan/");
}

static void test_scan_url_public(void **unused)
{
	const struct keryu_qr *qr;
	char buf[256];

	(void)unused;
	qr = init_with("https://keryu.example.org/", NULL, NULL, NULL);
	assert_int_equal(qr->scan_url(qr->self, UUID, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "https://keryu.example.org/subjects/qr/" UUID
				 "/scan/");
	/* upper case in, the one lower-case spelling out */
	assert_int_equal(qr->scan_url(qr->self,
				      "0B7E4C1A-5D2F-4E8A-9C3B-1F2E3D4C5B6A",
				      buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "https://keryu.example.org/subjects/qr/" UUID
				 "/scan/");
	teardown(NULL);

	qr = init_with("https://example.org/keryu", NULL, NULL, NULL);
	assert_int_equal(qr->scan_url(qr->self, UUID, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "https://example.org/keryu/subjects/qr/" UUID
				 "/scan/");
}

static void test_scan_url_invalid(void **unused)
{
	const struct keryu_qr *qr = init_with(NULL, NULL, NULL, NULL);
	const char *want = "http://127.0.0.1:8000/subjects/qr/" UUID "/scan/";
	char buf[256];

	(void)unused;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(qr->scan_url(qr->self, "nope", buf, sizeof(buf)),
			 KERYU_EINVAL);
	assert_string_equal(buf, "");
	assert_int_equal(qr->scan_url(qr->self, NULL, buf, sizeof(buf)),
			 KERYU_EINVAL);
	assert_int_equal(qr->scan_url(qr->self, UUID "/", buf, sizeof(buf)),
			 KERYU_EINVAL);
	assert_int_equal(qr->scan_url(qr->self,
				      "0b7e4c1a-5d2f-4e8a-9c3b-1f2e3d4c5b6g",
				      buf, sizeof(buf)),
			 KERYU_EINVAL);
	assert_int_equal(qr->scan_url(qr->self,
				      "0b7e4c1a5d2f-4e8a-9c3b-1f2e3d4c5b6a-",
				      buf, sizeof(buf)),
			 KERYU_EINVAL);
	assert_int_equal(qr->scan_url(qr->self, UUID, NULL, 10), KERYU_EINVAL);
	/* exactly too small, then exactly enough */
	assert_int_equal(qr->scan_url(qr->self, UUID, buf, strlen(want)),
			 KERYU_EINVAL);
	assert_string_equal(buf, "");
	assert_int_equal(qr->scan_url(qr->self, UUID, buf, 0), KERYU_EINVAL);
	assert_int_equal(qr->scan_url(qr->self, UUID, buf, strlen(want) + 1),
			 0);
	assert_string_equal(buf, want);
}

static void test_bad_config(void **unused)
{
	void *s = NULL;

	(void)unused;
	fake_host_reset(&keryu_module);
	fake_host_set("level", "X");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &s),
			 KERYU_EINVAL);
	assert_null(s);
	assert_true(fake_host_log_contains("qr.bad_config"));
	fake_host_reset(&keryu_module);
	fake_host_set("level", "MM");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &s),
			 KERYU_EINVAL);
	fake_host_reset(&keryu_module);
	fake_host_set("scale", "0");
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &s),
			 KERYU_EINVAL);
	/* any case is a level */
	state = NULL;
	assert_non_null(init_with(NULL, NULL, NULL, "h"));
}

/* Decodes png to 8-bit gray and checks every module against ref. */
static void assert_png_matches(const unsigned char *png, size_t len,
			       const QRcode *ref, int scale, int margin)
{
	png_image img;
	unsigned char *px;
	int size = (ref->width + 2 * margin) * scale, x, y;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_memory(&img, png, len));
	assert_int_equal(img.width, (png_uint_32)size);
	assert_int_equal(img.height, (png_uint_32)size);
	img.format = PNG_FORMAT_GRAY;
	px = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(px);
	assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
	for (y = 0; y < size; y++) {
		for (x = 0; x < size; x++) {
			int mx = x / scale - margin, my = y / scale - margin;
			int dark = mx >= 0 && my >= 0 && mx < ref->width &&
				   my < ref->width &&
				   (ref->data[my * ref->width + mx] & 1);

			if (px[y * size + x] != (dark ? 0 : 255))
				fail_msg("pixel %d,%d is %d", x, y,
					 px[y * size + x]);
		}
	}
	free(px);
}

static void test_png_known(void **unused)
{
	static const unsigned char sig[8] = {0x89, 'P',	 'N',  'G',
					     0x0D, 0x0A, 0x1A, 0x0A};
	const struct keryu_qr *qr = init_with(NULL, NULL, NULL, NULL);
	unsigned char *png = NULL;
	size_t len = 0;
	QRcode *ref;

	(void)unused;
	/* "hello" in 8-bit mode at level M is a version 1 code: 21 modules,
	 * plus 4 each side, times 8 px */
	assert_int_equal(qr->png(qr->self, "hello", &png, &len), 0);
	assert_non_null(png);
	assert_true(len > 33);
	assert_memory_equal(png, sig, 8);
	assert_int_equal(be32(png + 8), 13);
	assert_memory_equal(png + 12, "IHDR", 4);
	assert_int_equal(be32(png + 16), (21 + 8) * 8);
	assert_int_equal(be32(png + 20), (21 + 8) * 8);
	assert_int_equal(png[24], 1); /* bit depth */
	assert_int_equal(png[25], 0); /* grayscale */
	assert_int_equal(png[28], 0); /* not interlaced */
	assert_memory_equal(png + len - 8, "IEND", 4);
	ref = reference("hello", QR_ECLEVEL_M);
	assert_int_equal(ref->width, 21);
	assert_png_matches(png, len, ref, 8, 4);
	QRcode_free(ref);
	free(png);
}

static void test_png_options(void **unused)
{
	const struct keryu_qr *qr = init_with(NULL, "3", "0", "H");
	char url[256];
	unsigned char *png = NULL;
	size_t len = 0;
	QRcode *ref;

	(void)unused;
	assert_int_equal(qr->scan_url(qr->self, UUID, url, sizeof(url)), 0);
	assert_int_equal(qr->png(qr->self, url, &png, &len), 0);
	ref = reference(url, QR_ECLEVEL_H);
	assert_int_equal(be32(png + 16), (uint32_t)ref->width * 3);
	assert_png_matches(png, len, ref, 3, 0);
	QRcode_free(ref);
	free(png);
	teardown(NULL);

	/* odd pixel counts exercise the partial last byte of each row */
	qr = init_with(NULL, "1", "1", "L");
	assert_int_equal(qr->png(qr->self, url, &png, &len), 0);
	ref = reference(url, QR_ECLEVEL_L);
	assert_png_matches(png, len, ref, 1, 1);
	QRcode_free(ref);
	free(png);
}

static void test_png_invalid(void **unused)
{
	const struct keryu_qr *qr = init_with(NULL, NULL, NULL, NULL);
	unsigned char *png = (unsigned char *)"x";
	size_t len = 5;
	char *big;

	(void)unused;
	assert_int_equal(qr->png(qr->self, "", &png, &len), KERYU_EINVAL);
	assert_null(png);
	assert_int_equal(len, 0);
	assert_int_equal(qr->png(qr->self, NULL, &png, &len), KERYU_EINVAL);
	assert_int_equal(qr->png(qr->self, "x", NULL, &len), KERYU_EINVAL);
	assert_int_equal(qr->png(qr->self, "x", &png, NULL), KERYU_EINVAL);
	/* version 40-M holds 2331 bytes */
	big = malloc(4000);
	assert_non_null(big);
	memset(big, 'a', 3999);
	big[3999] = '\0';
	assert_int_equal(qr->png(qr->self, big, &png, &len), KERYU_EINVAL);
	assert_null(png);
	free(big);
}

/* Rasterises the path of our SVG ("M<x> <y>h<n>v1h-<n>z" runs). */
static void assert_svg_matches(const char *svg, const QRcode *ref,
			       int margin)
{
	int size = ref->width + 2 * margin, x, y, n, used;
	unsigned char *grid = calloc((size_t)(size * size), 1);
	const char *d = strstr(svg, " d=\"");

	assert_non_null(grid);
	assert_non_null(d);
	d += 4;
	while (*d == 'M') {
		int n2;

		assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &n,
					&n2, &used),
				 4);
		assert_int_equal(n, n2);
		assert_true(x >= margin && y >= margin && n > 0);
		assert_true(x + n <= size - margin && y < size - margin);
		while (n--)
			grid[y * size + x++] = 1;
		d += used;
	}
	assert_int_equal(*d, '"');
	for (y = 0; y < size; y++)
		for (x = 0; x < size; x++) {
			int mx = x - margin, my = y - margin;
			int dark = mx >= 0 && my >= 0 && mx < ref->width &&
				   my < ref->width &&
				   (ref->data[my * ref->width + mx] & 1);

			if (grid[y * size + x] != dark)
				fail_msg("module %d,%d differs", x, y);
		}
	free(grid);
}

static int occurrences(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static void test_svg(void **unused)
{
	const struct keryu_qr *qr = init_with(NULL, NULL, NULL, NULL);
	char url[256], *svg = NULL, want[128];
	size_t len = 0;
	QRcode *ref;
	int px;

	(void)unused;
	assert_int_equal(qr->scan_url(qr->self, UUID, url, sizeof(url)), 0);
	assert_int_equal(qr->svg(qr->self, url, &svg, &len), 0);
	assert_non_null(svg);
	assert_int_equal(len, strlen(svg));
	ref = reference(url, QR_ECLEVEL_M);
	px = (ref->width + 8) * 8;
	assert_true(strncmp(svg, "<?xml version=\"1.0\"", 19) == 0);
	snprintf(want, sizeof(want), "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"",
		 px, px, ref->width + 8, ref->width + 8);
	assert_non_null(strstr(svg, want));
	assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
	assert_non_null(strstr(svg, "shape-rendering=\"crispEdges\""));
	assert_non_null(strstr(svg, "fill=\"#ffffff\""));
	assert_int_equal(occurrences(svg, "<svg"), 1);
	assert_int_equal(occurrences(svg, "</svg>"), 1);
	assert_int_equal(occurrences(svg, "<path"), 1);
	assert_int_equal(occurrences(svg, "<"), occurrences(svg, ">"));
	assert_string_equal(svg + len - 7, "</svg>\n");
	assert_svg_matches(svg, ref, 4);
	QRcode_free(ref);
	free(svg);

	assert_int_equal(qr->svg(qr->self, "", &svg, &len), KERYU_EINVAL);
	assert_null(svg);
	assert_int_equal(qr->svg(qr->self, NULL, &svg, &len), KERYU_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_descriptor, teardown),
		cmocka_unit_test_teardown(test_scan_url_default, teardown),
		cmocka_unit_test_teardown(test_scan_url_public, teardown),
		cmocka_unit_test_teardown(test_scan_url_invalid, teardown),
		cmocka_unit_test_teardown(test_bad_config, teardown),
		cmocka_unit_test_teardown(test_png_known, teardown),
		cmocka_unit_test_teardown(test_png_options, teardown),
		cmocka_unit_test_teardown(test_png_invalid, teardown),
		cmocka_unit_test_teardown(test_svg, teardown),
	};

	return cmocka_run_group_tests_name("unit.test_qr", tests, NULL, NULL);
}
