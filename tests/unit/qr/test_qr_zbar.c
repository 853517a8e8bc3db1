/* integration.qr_zbar: a PNG from the qr module, decoded by a real QR
 * reader (zbarimg, from zbar-tools), gives back the exact scan URL. A
 * missing zbarimg fails the test: the point is an independent reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>
#include <keryu/qr.h>

#include "fake_host.h"

extern const struct keryu_module keryu_module;

static void *state;

static int teardown(void **unused)
{
	(void)unused;
	if (state)
		keryu_module.cleanup(state);
	state = NULL;
	return 0;
}

static const struct keryu_qr *init_with(const char *public_url,
					const char *scale, const char *level)
{
	fake_host_reset(&keryu_module);
	if (public_url)
		fake_host_set_global("http", "public_url", public_url);
	if (scale)
		fake_host_set("scale", scale);
	if (level)
		fake_host_set("level", level);
	assert_int_equal(keryu_module.init(fake_mod(), fake_host(), &state),
			 0);
	return fake_host()->service(fake_mod(), KERYU_SERVICE_QR);
}

/* Writes data to a temp file and returns what zbarimg reads from it.
 * zbarimg's stderr (D-Bus chatter on machines without a session bus) goes
 * to its own file and is shown only when the decode fails. */
static void zbar_decode(const unsigned char *data, size_t len, char *out,
			size_t size)
{
	char path[] = "/tmp/keryu-qr-XXXXXX.png";
	char errpath[] = "/tmp/keryu-qr-XXXXXX.err";
	char cmd[160], err[1024] = "";
	FILE *f, *p;
	size_t n;
	int fd, status;

	fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	fd = mkstemps(errpath, 4);
	assert_true(fd >= 0);
	close(fd);

	snprintf(cmd, sizeof(cmd), "zbarimg --raw -q '%s' 2>'%s'", path,
		 errpath);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	status = pclose(p);
	f = fopen(errpath, "r");
	if (f) {
		err[fread(err, 1, sizeof(err) - 1, f)] = '\0';
		fclose(f);
	}
	unlink(path);
	unlink(errpath);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fail_msg("zbarimg not found: install zbar-tools (Debian) to "
			 "run integration.qr_zbar; %s",
			 err);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("zbarimg could not decode (status %d): %s%s", status,
			 out, err);
	/* --raw ends the text with one newline */
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
}

static void check_roundtrip(const struct keryu_qr *qr, const char *uuid,
			    const char *want)
{
	char url[256], got[512];
	unsigned char *png = NULL;
	size_t len = 0;

	assert_int_equal(qr->scan_url(qr->self, uuid, url, sizeof(url)), 0);
	if (want)
		assert_string_equal(url, want);
	assert_int_equal(qr->png(qr->self, url, &png, &len), 0);
	zbar_decode(png, len, got, sizeof(got));
	free(png);
	assert_string_equal(got, url);
}

static void test_default(void **unused)
{
	const struct keryu_qr *qr = init_with(NULL, NULL, NULL);
	char uuid[KERYU_UUID_LEN], want[128];

	(void)unused;
	keryu_uuid_new(uuid);
	snprintf(want, sizeof(want),
		 "http://127.0.0.1:8000/subjects/qr/%s/scan/", uuid);
	check_roundtrip(qr, uuid, want);
}

static void test_public_url_upper_case(void **unused)
{
	const struct keryu_qr *qr =
		init_with("https://keryu.example.org/", NULL, NULL);

	(void)unused;
	check_roundtrip(qr, "00000000-0000-4000-8000-0000000000A1",
			"https://keryu.example.org/subjects/qr/"
			"00000000-0000-4000-8000-0000000000a1/scan/");
}

static void test_levels_and_scales(void **unused)
{
	static const char *const levels[] = {"L", "M", "Q", "H"};
	static const char *const scales[] = {"2", "5"};
	char uuid[KERYU_UUID_LEN];
	size_t i, j;

	(void)unused;
	for (i = 0; i < 4; i++)
		for (j = 0; j < 2; j++) {
			const struct keryu_qr *qr = init_with(
				"https://tags.example.net/k", scales[j],
				levels[i]);

			keryu_uuid_new(uuid);
			check_roundtrip(qr, uuid, NULL);
			teardown(NULL);
		}
}

static void test_svg_is_a_document(void **unused)
{
	/* zbarimg cannot read SVG without ImageMagick; unit.test_qr checks
	 * the SVG module by module, this only checks it is served whole */
	const struct keryu_qr *qr = init_with(NULL, NULL, NULL);
	char url[256], *svg = NULL;
	size_t len = 0;

	(void)unused;
	assert_int_equal(qr->scan_url(qr->self,
				      "00000000-0000-4000-8000-0000000000a1",
				      url, sizeof(url)),
			 0);
	assert_int_equal(qr->svg(qr->self, url, &svg, &len), 0);
	assert_true(len > 100);
	assert_non_null(strstr(svg, "<svg"));
	assert_string_equal(svg + len - 7, "</svg>\n");
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_default, teardown),
		cmocka_unit_test_teardown(test_public_url_upper_case, teardown),
		cmocka_unit_test_teardown(test_levels_and_scales, teardown),
		cmocka_unit_test_teardown(test_svg_is_a_document, teardown),
	};

	return cmocka_run_group_tests_name("integration.qr_zbar", tests, NULL,
					   NULL);
}
