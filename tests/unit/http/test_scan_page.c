/* The public scan page (issue 5) and its translations, without a socket:
 * public fields by the custodian's bits, lost mode, the finder's language
 * (?lang, cookie, Accept-Language q-values), the 20 KB budget, HEAD and
 * 429 publishing nothing, and the .mo reader against the catalogue the
 * build compiled (KERYU_LOCALE_DIR) and against broken images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_i18n.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define SCAN "/subjects/qr/" QR "/scan/"
#define ES_MO KERYU_LOCALE_DIR "/es.mo"

static struct http_ctx *ctx;
static struct http_response resp;

static int setup(void **st)
{
	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	fake_storage_state.status_rc = KERYU_ENOTFOUND; /* no alarm yet */
	http_test_offer_services();
	fake_host_set("locale_dir", KERYU_LOCALE_DIR);
	fake_host_set_global("kernel", "secret_key", "unit-test-secret");
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static void request(const char *method, const char *path, const char *qs,
		    const char *accept_language, const char *cookie)
{
	struct http_form query;
	struct http_request req = {.method = method,
				   .path = path,
				   .user_agent = "TestAgent/1.0",
				   .client_ip = "192.0.2.7",
				   .accept_language = accept_language,
				   .cookie = cookie};

	http_form_init(&query);
	if (qs)
		assert_int_equal(http_form_parse_query(&query, qs), 0);
	req.query = &query;
	http_test_route(ctx, &req, &resp);
	http_form_free(&query);
	assert_non_null(resp.body.buf);
}

static const char *body(void)
{
	return resp.body.buf;
}

static bool has(const char *s)
{
	return strstr(body(), s) != NULL;
}

static void fill(char *dst, size_t size, const char *word)
{
	size_t n = 0, w = strlen(word);

	while (n + w + 1 < size) {
		memcpy(dst + n, word, w);
		n += w;
	}
	dst[n] = '\0';
}

/* every field filled, so only the bits decide */
static void all_fields(unsigned bits)
{
	struct keryu_public_subject *p = &fake_storage_state.pub;

	memset(p, 0, sizeof(*p));
	fake_storage_state.pub_set = true;
	snprintf(p->qr_uuid, sizeof(p->qr_uuid), "%s", QR);
	p->public_fields = bits;
	snprintf(p->first_name, sizeof(p->first_name), "Ana");
	snprintf(p->full_name, sizeof(p->full_name), "Ana Fullname");
	snprintf(p->care_instructions, sizeof(p->care_instructions),
		 "CARE-TEXT speak slowly");
	snprintf(p->medical_conditions, sizeof(p->medical_conditions),
		 "MEDICAL-TEXT");
	snprintf(p->allergies, sizeof(p->allergies), "ALLERGY-TEXT");
	snprintf(p->medications, sizeof(p->medications), "MEDS-TEXT");
	snprintf(p->doctor_name, sizeof(p->doctor_name), "DOCTOR-NAME");
	snprintf(p->doctor_phone, sizeof(p->doctor_phone), "+34 911 222 333");
	snprintf(p->custodian_phone, sizeof(p->custodian_phone),
		 "+34600111222");
}

/* ---- the page ---- */

static void public_fields_follow_bits(void **st)
{
	static const struct {
		unsigned bit;
		const char *text;
	} f[] = {
		{KERYU_PUB_FULL_NAME, "Ana Fullname"},
		{KERYU_PUB_CARE, "CARE-TEXT"},
		{KERYU_PUB_MEDICAL, "MEDICAL-TEXT"},
		{KERYU_PUB_ALLERGIES, "ALLERGY-TEXT"},
		{KERYU_PUB_MEDICATIONS, "MEDS-TEXT"},
		{KERYU_PUB_DOCTOR, "DOCTOR-NAME"},
		{KERYU_PUB_CUSTODIAN_PHONE, "https://wa.me/34600111222"},
	};
	size_t i, j;

	(void)st;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		all_fields(KERYU_PUB_FIRST_NAME | f[i].bit);
		request("GET", SCAN, NULL, NULL, NULL);
		assert_int_equal(resp.status, 200);
		for (j = 0; j < sizeof(f) / sizeof(f[0]); j++)
			if (i == j)
				assert_non_null(strstr(body(), f[j].text));
			else
				assert_null(strstr(body(), f[j].text));
	}
	/* nothing but the first name */
	all_fields(KERYU_PUB_FIRST_NAME);
	request("GET", SCAN, NULL, NULL, NULL);
	assert_true(has("<h1>Ana</h1>"));
	assert_false(has("tel:"));
	assert_false(has("Health information"));
	/* not even the first name: "this person" */
	all_fields(0);
	request("GET", SCAN, NULL, NULL, NULL);
	assert_true(has("<h1>this person</h1>"));
	assert_false(has("Ana"));
}

static void contact_links_and_care(void **st)
{
	(void)st;
	all_fields(KERYU_PUB_FIRST_NAME | KERYU_PUB_CARE |
		   KERYU_PUB_CUSTODIAN_PHONE | KERYU_PUB_DOCTOR);
	request("GET", SCAN, NULL, NULL, NULL);
	assert_true(has("href=\"tel:+34600111222\""));
	assert_true(has("href=\"https://wa.me/34600111222\""));
	assert_true(has("href=\"tel:+34911222333\"")); /* the doctor */
	assert_true(has("class=\"care\""));
	/* care instructions come before the alert's state */
	assert_true(strstr(body(), "CARE-TEXT") <
		    strstr(body(), "The family has been alerted"));
	/* the report form works without JS: a real POST with the token */
	assert_true(has("<form id=\"rf\" method=\"post\" action=\"./report\">"));
	assert_true(has("name=\"situation\" value=\"injured\""));
	assert_true(has("value=\"lost\""));
	assert_true(has("value=\"contact\""));
	assert_true(has("value=\"test\""));
	assert_true(has("maxlength=\"500\""));
	assert_true(has("id=\"loc\""));
	assert_true(has("<noscript><p><a href=\"?t="));
	/* the page's own CSP allows its script by hash, and fetch */
	assert_non_null(strstr(resp.csp, "script-src 'sha256-"));
	assert_non_null(strstr(resp.csp, "connect-src 'self'"));
	assert_non_null(strstr(resp.csp, "default-src 'none'"));
}

static void lost_mode_banner(void **st)
{
	(void)st;
	all_fields(KERYU_PUB_FIRST_NAME);
	request("GET", SCAN, NULL, NULL, NULL);
	assert_false(has("class=\"miss\""));
	fake_storage_state.pub.missing = true;
	request("GET", SCAN, NULL, NULL, NULL);
	assert_true(has("class=\"miss\""));
	assert_true(has("This person is missing — please stay with them and "
			"share your location"));
	request("GET", SCAN, NULL, "es", NULL);
	assert_true(has("Esta persona está desaparecida"));
}

/* The token in a page, copied into token. */
static void page_token(char token[KERYU_ACK_TOKEN_LEN])
{
	const char *t = strstr(body(), "data-t=\""), *end;

	assert_non_null(t);
	t += strlen("data-t=\"");
	end = strchr(t, '"');
	assert_true(end > t && (size_t)(end - t) < KERYU_ACK_TOKEN_LEN);
	memcpy(token, t, (size_t)(end - t));
	token[end - t] = '\0';
}

/* A fresh scan has no alarm yet: "sending", without asking storage. A
 * refresh by the scan's token shows the state storage knows. */
static void state_from_finder_status(void **st)
{
	char token[KERYU_ACK_TOKEN_LEN], qs[KERYU_ACK_TOKEN_LEN + 8];

	(void)st;
	fake_storage_state.status_rc = 0;
	snprintf(fake_storage_state.finder.status,
		 sizeof(fake_storage_state.finder.status), "DELIVERED");
	request("GET", SCAN, NULL, NULL, NULL);
	assert_true(has("Sending the alert to the family…"));
	page_token(token);
	snprintf(qs, sizeof(qs), "t=%s", token);
	request("GET", SCAN, qs, NULL, NULL);
	assert_true(has("<p id=\"st\" role=\"status\" aria-live=\"polite\">"
			"<strong>The alert reached the family&#39;s phone."));
	snprintf(fake_storage_state.finder.acknowledged_at,
		 sizeof(fake_storage_state.finder.acknowledged_at),
		 "2026-11-25T12:00:00Z");
	request("GET", SCAN, qs, NULL, NULL);
	assert_true(has("<strong>Someone is on their way."));
	assert_int_equal(fake_host_pub_count(), 1); /* one scan, one alert */
}

static void spanish_by_header_query_and_cookie(void **st)
{
	(void)st;
	request("GET", SCAN, NULL, "es-ES,es;q=0.9,en;q=0.5", NULL);
	assert_int_equal(resp.status, 200);
	assert_true(has("<html lang=\"es\">"));
	assert_true(has("La familia ha sido avisada"));
	assert_false(has("The family has been alerted"));
	assert_string_equal(resp.set_cookie, ""); /* only ?lang is kept */
	/* the switch names each language in itself */
	assert_true(has(">English</a>"));
	assert_true(has(">Español</a>"));

	request("GET", SCAN, "lang=es", "en", NULL);
	assert_true(has("La familia ha sido avisada"));
	assert_non_null(strstr(resp.set_cookie, "keryu_lang=es;"));

	request("GET", SCAN, NULL, "en", "keryu_lang=es");
	assert_true(has("La familia ha sido avisada"));

	request("GET", SCAN, "lang=en", "es", "keryu_lang=es");
	assert_true(has("The family has been alerted"));
	assert_true(has("<html lang=\"en\">"));

	/* an unknown language is not kept, the header decides */
	request("GET", SCAN, "lang=xx", "es", NULL);
	assert_true(has("La familia ha sido avisada"));
	assert_string_equal(resp.set_cookie, "");
	request("GET", SCAN, "lang=%3Cb%3E", NULL, NULL);
	assert_true(has("The family has been alerted"));

	/* error pages speak the finder's language too */
	fake_storage_state.lookup_rc = KERYU_ENOTFOUND;
	request("GET", SCAN, NULL, "es", NULL);
	assert_int_equal(resp.status, 404);
	assert_true(has("Esta etiqueta no está activa"));
}

static void q_values_pick(void **st)
{
	static const struct {
		const char *header, *want;
	} c[] = {
		{"en;q=0.5, es;q=0.8", "es"},
		{"es;q=0.1, en", "en"},
		{"fr, de;q=0.9, es;q=0.3", "es"},
		{"es;q=0", ""},
		{"*", ""},
		{"es-MX", "es"},
		{"ES", "es"},
		{"es;q=1.5", ""},	 /* malformed q: ignored */
		{"es;q=abc, en;q=0.2", "en"},
		{"fr;q=0.9,es;q=0.900", "es"},
		{"en;q=0.7,es;q=0.7", "en"}, /* a tie: header order */
		{"spanish", ""},
		{"", ""},
		{",,,;;;q=", ""},
	};
	char out[HTTP_LANG_MAX];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		bool got = http_lang_from_header(ctx, c[i].header, out);

		if (strcmp(out, c[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", c[i].header,
				 out, c[i].want);
		assert_int_equal(got, c[i].want[0] != '\0');
	}
	assert_false(http_lang_from_header(ctx, NULL, out));
}

static void page_under_20kb_with_long_fields(void **st)
{
	struct keryu_public_subject *p = &fake_storage_state.pub;

	(void)st;
	all_fields(KERYU_PUB_ALL);
	p->missing = true;
	fill(p->full_name, sizeof(p->full_name), "Maria ");
	fill(p->care_instructions, sizeof(p->care_instructions),
	     "Speak slowly, she gets scared. ");
	fill(p->medical_conditions, sizeof(p->medical_conditions),
	     "Alzheimer disease ");
	fill(p->allergies, sizeof(p->allergies), "Penicillin ");
	fill(p->medications, sizeof(p->medications), "Donepezil 10 mg ");
	fill(p->doctor_name, sizeof(p->doctor_name), "Dr Who ");
	request("GET", SCAN, NULL, "es", NULL);
	assert_int_equal(resp.status, 200);
	printf("page bytes (es, every field at its maximum): %zu\n",
	       resp.body.len);
	assert_true(resp.body.len < 20 * 1024);
	request("GET", SCAN, NULL, "en", NULL);
	printf("page bytes (en, every field at its maximum): %zu\n",
	       resp.body.len);
	assert_true(resp.body.len < 20 * 1024);
	all_fields(KERYU_PUB_DEFAULT);
	request("GET", SCAN, NULL, "en", NULL);
	printf("page bytes (en, default fields): %zu\n", resp.body.len);
	assert_true(resp.body.len < 12 * 1024);
}

static void head_publishes_nothing(void **st)
{
	(void)st;
	request("HEAD", SCAN, NULL, "es", NULL);
	assert_int_equal(resp.status, 200);
	assert_true(has("La familia ha sido avisada"));
	assert_int_equal(fake_host_pub_count(), 0);
	assert_int_equal(fake_accounts_state.rate_hits, 0); /* not counted */
	request("GET", SCAN, NULL, NULL, NULL);
	assert_int_equal(fake_host_pub_count(), 1);
}

static void scan_publishes_with_ip_hash(void **st)
{
	const struct fake_pub *p;
	struct keryu_scan_event ev;

	(void)st;
	request("GET", SCAN, NULL, NULL, NULL);
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/scan/" QR);
	assert_int_equal(keryu_scan_event_decode(p->payload, p->len, &ev), 0);
	assert_int_equal(strlen(ev.ip_hash), 64);
	assert_null(strstr(p->payload, "192.0.2.7"));
	assert_false(fake_host_log_contains("192.0.2.7"));
	assert_false(fake_host_log_contains("+34"));
}

/* The no-JS refresh and the language switch carry the scan's token: the
 * page is shown again without a second alert. */
static void refresh_by_token_does_not_publish(void **st)
{
	char token[KERYU_ACK_TOKEN_LEN], qs[KERYU_ACK_TOKEN_LEN + 16];
	const char *t, *end;

	(void)st;
	request("GET", SCAN, NULL, NULL, NULL);
	assert_int_equal(fake_host_pub_count(), 1);
	t = strstr(body(), "data-t=\"");
	assert_non_null(t);
	t += strlen("data-t=\"");
	end = strchr(t, '"');
	assert_true(end > t && (size_t)(end - t) < sizeof(token));
	memcpy(token, t, (size_t)(end - t));
	token[end - t] = '\0';
	assert_true(has("?lang=es&amp;t="));

	snprintf(qs, sizeof(qs), "t=%s&lang=es", token);
	request("GET", SCAN, qs, NULL, NULL);
	assert_int_equal(resp.status, 200);
	assert_true(has("La familia ha sido avisada"));
	assert_int_equal(fake_host_pub_count(), 1); /* no second alert */

	/* a forged token is a new scan */
	request("GET", SCAN, "t=x.1.y", NULL, NULL);
	assert_int_equal(fake_host_pub_count(), 2);
}

static void over_the_limit_is_429_and_quiet(void **st)
{
	(void)st;
	ctx->scan_limit_tag = 1;
	request("GET", SCAN, NULL, NULL, NULL);
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_host_pub_count(), 1);
	fake_storage_state.lookups = 0;
	request("GET", SCAN, NULL, NULL, NULL);
	assert_int_equal(resp.status, 429);
	assert_true(resp.retry_after > 0);
	assert_int_equal(fake_host_pub_count(), 1); /* nothing more */
	assert_int_equal(fake_storage_state.lookups, 0); /* before any work */
	assert_false(has("Ana"));
	request("GET", SCAN, NULL, "es", NULL); /* in the finder's language */
	assert_int_equal(resp.status, 429);
	assert_true(has("Demasiados escaneos"));
}

static void inactive_tag_shows_nothing(void **st)
{
	(void)st;
	all_fields(KERYU_PUB_ALL);
	fake_storage_state.lookup_rc = KERYU_ENOTFOUND;
	request("GET", SCAN, NULL, NULL, NULL);
	assert_int_equal(resp.status, 404);
	assert_true(has("This tag is not active"));
	assert_false(has("Ana"));
	assert_false(has("CARE-TEXT"));
	assert_false(has("<script>"));
	assert_int_equal(fake_host_pub_count(), 0);

	fake_storage_state.lookup_rc = 0;
	request("GET", "/subjects/qr/not-a-uuid/scan/", NULL, "es", NULL);
	assert_int_equal(resp.status, 404);
	assert_true(has("Esta etiqueta no está activa"));
	assert_int_equal(fake_host_pub_count(), 0);
}

/* ---- the .mo reader ---- */

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 28);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void mo_reads_the_built_catalogue(void **st)
{
	struct http_mo *mo;

	(void)st;
	assert_int_equal(http_mo_load(ES_MO, &mo), 0);
	assert_true(http_mo_count(mo) > 40);
	assert_string_equal(http_mo_find(mo, "The family has been alerted"),
			    "La familia ha sido avisada");
	assert_string_equal(http_mo_find(mo, "English"), "Español");
	assert_null(http_mo_find(mo, "No such message"));
	assert_null(http_mo_find(mo, ""
				     "zzz"));
	assert_non_null(http_mo_find(mo, "")); /* the header */
	http_mo_free(mo);
	assert_int_equal(http_mo_load(KERYU_LOCALE_DIR "/none.mo", &mo),
			 KERYU_ENOTFOUND);
	assert_null(mo);
	/* the translations through the process's catalogues */
	assert_string_equal(http_tr(ctx, "es", "Share my location"),
			    "Compartir mi ubicación");
	assert_string_equal(http_tr(ctx, "en", "Share my location"),
			    "Share my location");
	assert_string_equal(http_tr(ctx, "es", "Not in the catalogue"),
			    "Not in the catalogue");
	assert_true(http_i18n_has(ctx, "es"));
	assert_false(http_i18n_has(ctx, "fr"));
}

static void put32(unsigned char *p, uint32_t v, bool be)
{
	int i;

	for (i = 0; i < 4; i++)
		p[be ? 3 - i : i] = (unsigned char)(v >> (8 * i));
}

/* A two-message image written by hand, in either byte order. */
static size_t tiny_mo(unsigned char *b, bool be, const char *id1,
		      const char *id2)
{
	const char *strs[4] = {id1, id2, "uno", "dos"};
	uint32_t at = 28 + 32;
	size_t i;

	memset(b, 0, 256);
	put32(b, 0x950412deu, be);
	put32(b + 4, 0, be);
	put32(b + 8, 2, be);
	put32(b + 12, 28, be);
	put32(b + 16, 28 + 16, be);
	for (i = 0; i < 4; i++) {
		uint32_t n = (uint32_t)strlen(strs[i]);

		put32(b + 28 + i * 8, n, be);
		put32(b + 28 + i * 8 + 4, at, be);
		memcpy(b + at, strs[i], n + 1);
		at += n + 1;
	}
	return at;
}

static void mo_both_byte_orders(void **st)
{
	unsigned char b[256];
	struct http_mo *mo;
	size_t n;
	int be;

	(void)st;
	for (be = 0; be < 2; be++) {
		n = tiny_mo(b, be, "one", "two");
		assert_int_equal(http_mo_parse(b, n, &mo), 0);
		assert_string_equal(http_mo_find(mo, "one"), "uno");
		assert_string_equal(http_mo_find(mo, "two"), "dos");
		http_mo_free(mo);
	}
	/* unsorted originals would defeat the binary search: refused */
	n = tiny_mo(b, false, "two", "one");
	assert_int_equal(http_mo_parse(b, n, &mo), KERYU_EINVAL);
	assert_null(mo);
}

static void mo_refuses_truncated_or_corrupt(void **st)
{
	unsigned char *img, *bad;
	struct http_mo *mo = NULL;
	size_t len, cut;
	uint32_t o;

	(void)st;
	img = slurp(ES_MO, &len);
	bad = malloc(len);
	assert_non_null(bad);
	/* every truncation: none may parse (the last string's NUL is the
	 * last byte msgfmt writes, or past the tables) */
	for (cut = 0; cut < len; cut += (cut < 64 ? 1 : 97)) {
		assert_int_equal(http_mo_parse(img, cut, &mo), KERYU_EINVAL);
		assert_null(mo);
	}
	assert_int_equal(http_mo_parse(img, len - 1, &mo), KERYU_EINVAL);
	/* bad magic */
	memcpy(bad, img, len);
	bad[0] ^= 0xff;
	assert_int_equal(http_mo_parse(bad, len, &mo), KERYU_EINVAL);
	/* unknown major revision */
	memcpy(bad, img, len);
	bad[6] = 1;
	assert_int_equal(http_mo_parse(bad, len, &mo), KERYU_EINVAL);
	/* a count past the image */
	memcpy(bad, img, len);
	put32(bad + 8, 0x7fffffffu, false);
	assert_int_equal(http_mo_parse(bad, len, &mo), KERYU_EINVAL);
	/* a string offset past the image */
	memcpy(bad, img, len);
	o = (uint32_t)bad[12] | (uint32_t)bad[13] << 8;
	put32(bad + o + 4, (uint32_t)len, false);
	assert_int_equal(http_mo_parse(bad, len, &mo), KERYU_EINVAL);
	/* a string length that overflows offset + length */
	memcpy(bad, img, len);
	put32(bad + o + 8, 0xffffffffu, false);
	assert_int_equal(http_mo_parse(bad, len, &mo), KERYU_EINVAL);
	/* a string without its NUL */
	memcpy(bad, img, len);
	{
		uint32_t sl = (uint32_t)bad[o + 8] | (uint32_t)bad[o + 9] << 8;
		uint32_t so = (uint32_t)bad[o + 12] |
			      (uint32_t)bad[o + 13] << 8 |
			      (uint32_t)bad[o + 14] << 16;

		bad[so + sl] = 'x';
	}
	assert_int_equal(http_mo_parse(bad, len, &mo), KERYU_EINVAL);
	assert_null(mo);
	assert_int_equal(http_mo_parse(NULL, 0, &mo), KERYU_EINVAL);
	/* the intact image still parses */
	assert_int_equal(http_mo_parse(img, len, &mo), 0);
	http_mo_free(mo);
	free(bad);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(public_fields_follow_bits,
						setup, teardown),
		cmocka_unit_test_setup_teardown(contact_links_and_care, setup,
						teardown),
		cmocka_unit_test_setup_teardown(lost_mode_banner, setup,
						teardown),
		cmocka_unit_test_setup_teardown(state_from_finder_status,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			spanish_by_header_query_and_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(q_values_pick, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			page_under_20kb_with_long_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(head_publishes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(scan_publishes_with_ip_hash,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			refresh_by_token_does_not_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(
			over_the_limit_is_429_and_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(inactive_tag_shows_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(mo_reads_the_built_catalogue,
						setup, teardown),
		cmocka_unit_test(mo_both_byte_orders),
		cmocka_unit_test(mo_refuses_truncated_or_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
