/* Tag, alarm and dashboard pages and the /t/<code> redirect without a
 * socket: http_route() against the fake host, a fake subjects service
 * holding two custodians' rows, and a fake qr service. Custodian A owns
 * the rows; custodian B must get the 404 page for every one of them, by
 * GET and POST, and change nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "fake_tags_alarms.h"
#include "http_module.h"
#include "http_tags_alarms.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define EVIL "<script>alert(1)</script>&\"'"
#define EVIL_ESCAPED                                                           \
	"&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"
#define EVIL_Q "%3Cscript%3Ealert(1)%3C%2Fscript%3E%26%22%27"

#define SUBJ_A "aaaaaaaa-0000-4000-8000-000000000001"
#define SUBJ_A2 "aaaaaaaa-0000-4000-8000-000000000002"
#define SUBJ_B "bbbbbbbb-0000-4000-8000-000000000001"
#define TAG_A1 "aaaaaaaa-1111-4000-8000-000000000001"
#define TAG_A2 "aaaaaaaa-1111-4000-8000-000000000002"
#define TAG_A3 "aaaaaaaa-1111-4000-8000-000000000003" /* of SUBJ_A2 */
#define TAG_B "bbbbbbbb-1111-4000-8000-000000000001"
#define ALARM_A "aaaaaaaa-2222-4000-8000-000000000001"
#define ALARM_B "bbbbbbbb-2222-4000-8000-000000000001"
#define CODE_A1 "ABCD2345"
#define CODE_A2 "WXYZ6789"
#define CSRF_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CSRF_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct http_ctx *ctx;
static struct http_response resp;
static char cookie[256];
static const char *csrf_now; /* the csrf of the session in cookie */
static char cust_a[KERYU_UUID_LEN], cust_b[KERYU_UUID_LEN];

static const char *body(void)
{
	return resp.body.buf;
}

/* A custodian with a logged-in session whose cookie is token (no
 * password hashing: the account pages have their own tests). */
static void add_custodian(const char *name, const char *token,
			  const char *csrf, char id[KERYU_UUID_LEN])
{
	struct fake_accounts_state *S = &fake_accounts_state;
	struct keryu_custodian *c = &S->custodians[S->n_custodians++];
	struct fa_session *s;
	size_t i;

	memset(c, 0, sizeof(*c));
	keryu_uuid_new(c->id);
	snprintf(c->email, sizeof(c->email), "%s@example.org", token);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->phone, sizeof(c->phone), "%s", "+16505551234");
	c->phone_verified = true;
	c->is_active = true;
	memcpy(id, c->id, KERYU_UUID_LEN);
	for (i = 0; S->sessions[i].used; i++)
		;
	s = &S->sessions[i];
	s->used = true;
	http_hmac_hex(ctx, token, s->token_hash);
	memcpy(s->custodian_id, c->id, KERYU_UUID_LEN);
	snprintf(s->csrf, sizeof(s->csrf), "%s", csrf);
}

static void as_a(void)
{
	snprintf(cookie, sizeof(cookie), "keryu_session=token-of-a");
	csrf_now = CSRF_A;
}

static void as_b(void)
{
	snprintf(cookie, sizeof(cookie), "keryu_session=token-of-b");
	csrf_now = CSRF_B;
}

static void as_visitor(void)
{
	cookie[0] = '\0';
	csrf_now = "";
}

static struct fta_alarm *timeline_alarm(void)
{
	struct fta_alarm *a = fta_add_alarm(cust_a, SUBJ_A, ALARM_A,
					    "2026-01-15T08:30:00.000Z");
	struct keryu_timeline_entry *t;

	a->d.s.has_location = true;
	a->d.latitude = 40.416775;
	a->d.longitude = -3.70379;
	a->d.accuracy_m = 12;
	snprintf(a->d.location, sizeof(a->d.location), "%s", "Near the " EVIL);
	snprintf(a->d.qr_uuid, sizeof(a->d.qr_uuid), "%s", TAG_A1);
	t = &a->tl[a->n_tl++];
	snprintf(t->at, sizeof(t->at), "%s", "2026-01-15T08:30:01.000Z");
	snprintf(t->channel, sizeof(t->channel), "%s", "log");
	snprintf(t->recipient_hint, sizeof(t->recipient_hint), "%s", "1234");
	snprintf(t->status, sizeof(t->status), "%s", "QUEUED");
	t->attempt = 1;
	t = &a->tl[a->n_tl++];
	snprintf(t->at, sizeof(t->at), "%s", "2026-01-15T08:30:02.000Z");
	snprintf(t->channel, sizeof(t->channel), "%s", "log");
	snprintf(t->recipient_hint, sizeof(t->recipient_hint), "%s", "1234");
	snprintf(t->status, sizeof(t->status), "%s", "FAILED");
	snprintf(t->provider_message_id, sizeof(t->provider_message_id),
		 "%s", "wamid.HBgL");
	snprintf(t->error_code, sizeof(t->error_code), "%s", "131026");
	snprintf(t->error_text, sizeof(t->error_text), "%s", EVIL);
	t->attempt = 1;
	return a;
}

static int setup(void **st)
{
	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset("0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f", "Ana");
	http_test_offer_services();
	fake_tags_alarms_reset();
	fake_host_add_service(KERYU_SERVICE_SUBJECTS, &fake_subjects_ta);
	fake_host_add_service(KERYU_SERVICE_QR, &fake_qr);
	fake_host_set_global("kernel", "secret_key", "unit-test-secret");
	fake_host_set("public_url", FAKE_QR_BASE "/");
	if (http_test_start(&ctx, &resp) != 0)
		return -1;

	add_custodian("Ana", "token-of-a", CSRF_A, cust_a);
	add_custodian("Bea", "token-of-b", CSRF_B, cust_b);
	fta_add_subject(cust_a, SUBJ_A, "Abel " EVIL);
	fta_add_subject(cust_a, SUBJ_A2, "Carmen");
	fta_add_subject(cust_b, SUBJ_B, "Berta");
	fta_add_tag(cust_a, SUBJ_A, TAG_A1, CODE_A1, true);
	fta_add_tag(cust_a, SUBJ_A, TAG_A2, CODE_A2, false);
	fta_add_tag(cust_a, SUBJ_A2, TAG_A3, "MNPQ2345", true);
	fta_add_tag(cust_b, SUBJ_B, TAG_B, "BBBB2345", true);
	timeline_alarm();
	fta_add_alarm(cust_b, SUBJ_B, ALARM_B, "2026-01-16T08:30:00.000Z");
	as_a();
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

/* One request; url may carry "?query"; form_qs is a urlencoded body for
 * POST, to which the session's csrf is prepended. */
static void send(const char *method, const char *url, const char *form_qs)
{
	struct http_test_url u;
	struct http_request req;
	char fbody[4096];

	snprintf(fbody, sizeof(fbody), "csrf=%s%s%s", csrf_now,
		 form_qs && *form_qs ? "&" : "", form_qs ? form_qs : "");
	http_test_request(&u, &req, method, url, fbody);
	req.user_agent = "TestAgent/1.0";
	req.cookie = cookie[0] ? cookie : NULL;
	req.client_ip = "192.0.2.7";

	http_test_route(ctx, &req, &resp);
	assert_non_null(resp.body.buf);
	http_test_url_free(&u);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay += strlen(needle))
		n++;
	return n;
}

static void is_404(void)
{
	assert_int_equal(resp.status, 404);
	assert_non_null(strstr(body(), "Page not found"));
	assert_true(resp.no_store);
	assert_string_equal(resp.disposition, "");
}

/* ---- tags ---- */

static void tags_list(void **st)
{
	(void)st;
	send("GET", "/subjects/" SUBJ_A "/tags/", NULL);
	assert_int_equal(resp.status, 200);
	assert_true(resp.no_store);
	assert_non_null(strstr(body(), "QR tags of Abel " EVIL_ESCAPED));
	assert_null(strstr(body(), "<script>"));
	assert_non_null(strstr(body(), CODE_A1));
	assert_non_null(strstr(body(), CODE_A2));
	assert_null(strstr(body(), "MNPQ2345")); /* the other subject's */
	assert_int_equal(count(body(), ">Active</span>"), 1);
	assert_int_equal(count(body(), ">Inactive</span>"), 1);
	assert_non_null(strstr(body(), "/subjects/" SUBJ_A "/tags/" TAG_A1
					"/deactivate\""));
	assert_non_null(strstr(body(), "/subjects/" SUBJ_A "/tags/" TAG_A2
					"/activate\""));
	assert_non_null(strstr(body(), "/subjects/" SUBJ_A "/tags/" TAG_A1
					"/qr.png\""));
	assert_non_null(strstr(body(), "/subjects/" SUBJ_A "/tags/" TAG_A1
					"/qr.svg\""));
	assert_non_null(strstr(body(), "/subjects/" SUBJ_A "/tags/" TAG_A1
					"/print\""));
	assert_non_null(strstr(body(), "action=\"/subjects/" SUBJ_A
					"/tags/new\""));
	assert_non_null(strstr(body(), "value=\"" CSRF_A "\""));
	assert_non_null(strstr(body(), "Last scan: never"));
	/* upper-case ids are the same subject */
	send("GET", "/subjects/AAAAAAAA-0000-4000-8000-000000000001/tags/",
	     NULL);
	assert_int_equal(resp.status, 200);
}

static void tag_new(void **st)
{
	const struct keryu_tag *t;
	size_t i;

	(void)st;
	send("POST", "/subjects/" SUBJ_A "/tags/new", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location,
			    "/subjects/" SUBJ_A "/tags/?notice=created");
	assert_int_equal(fta.tag_creates, 1);
	assert_int_equal(strlen(fta.last_code), 8);
	for (i = 0; i < 8; i++)
		assert_non_null(strchr(KERYU_SHORT_CODE_ALPHABET,
				       fta.last_code[i]));
	t = &fta.tags[fta.n_tags - 1].t;
	assert_string_equal(t->short_code, fta.last_code);
	assert_string_equal(t->subject_id, SUBJ_A);
	assert_false(t->is_active);
	assert_string_equal(fta.last_custodian, cust_a);

	send("GET", resp.location, NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), fta.last_code));
	assert_non_null(strstr(body(), "A new tag was made"));
}

static void tag_new_retries_conflicts(void **st)
{
	char first[16];

	(void)st;
	fta.conflicts = 4; /* the fifth draw succeeds */
	send("POST", "/subjects/" SUBJ_A "/tags/new", NULL);
	assert_int_equal(resp.status, 303);
	assert_int_equal(fta.tag_creates, 5);
	assert_int_equal(fta.changes, 1);

	fta.conflicts = 5; /* five in a row: give up */
	fta.tag_creates = 0;
	snprintf(first, sizeof(first), "%s", fta.last_code);
	send("POST", "/subjects/" SUBJ_A "/tags/new", NULL);
	assert_int_equal(resp.status, 503);
	assert_int_equal(fta.tag_creates, 5);
	assert_int_equal(fta.changes, 1);
}

static void short_codes_are_random(void **st)
{
	char a[KERYU_SHORT_CODE_LEN], b[KERYU_SHORT_CODE_LEN];
	char c[KERYU_SHORT_CODE_LEN];

	(void)st;
	http_short_code_new(a);
	http_short_code_new(b);
	assert_int_equal(strlen(a), 8);
	assert_string_not_equal(a, b);
	assert_true(http_short_code_parse(a, c));
	assert_true(http_short_code_parse("abcd2345", c));
	assert_string_equal(c, "ABCD2345");
	assert_false(http_short_code_parse("ABCD234", c));
	assert_false(http_short_code_parse("ABCD23456", c));
	assert_false(http_short_code_parse("ABCD2340", c)); /* 0 */
	assert_false(http_short_code_parse("ABCD234O", c)); /* O */
	assert_false(http_short_code_parse("ABCD2341", c)); /* 1 */
	assert_false(http_short_code_parse("ABCD234I", c));
	assert_false(http_short_code_parse("ABCD234L", c));
	assert_false(http_short_code_parse("ABCD234U", c));
	assert_false(http_short_code_parse("ABCD234V", c));
	assert_false(http_short_code_parse("ABCD-234", c));
	assert_false(http_short_code_parse("", c));
	assert_false(http_short_code_parse(NULL, c));
}

static void tag_activate_deactivate(void **st)
{
	(void)st;
	send("POST", "/subjects/" SUBJ_A "/tags/" TAG_A2 "/activate", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location,
			    "/subjects/" SUBJ_A "/tags/?notice=activated");
	assert_true(fta_tag(TAG_A2)->is_active);
	assert_false(fta_tag(TAG_A1)->is_active);
	assert_true(fta_tag(TAG_A3)->is_active); /* another subject's */

	send("POST", "/subjects/" SUBJ_A "/tags/" TAG_A2 "/deactivate", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location,
			    "/subjects/" SUBJ_A "/tags/?notice=deactivated");
	assert_false(fta_tag(TAG_A2)->is_active);

	/* GET on a POST-only address */
	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A2 "/activate", NULL);
	assert_int_equal(resp.status, 405);
	assert_false(fta_tag(TAG_A2)->is_active);
}

/* An active tag makes alarms go to phones: activating one needs the
 * custodian's own phone verified; deactivating never does. */
static void tag_activate_needs_verified_phone(void **st)
{
	(void)st;
	fake_accounts_state.custodians[0].phone_verified = false;
	send("POST", "/subjects/" SUBJ_A "/tags/" TAG_A2 "/activate", NULL);
	assert_int_equal(resp.status, 403);
	assert_non_null(strstr(resp.body.buf, "href=\"/account/verify\""));
	assert_false(fta_tag(TAG_A2)->is_active);

	send("POST", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/deactivate", NULL);
	assert_int_equal(resp.status, 303);
	assert_false(fta_tag(TAG_A1)->is_active);
}

static void tag_csrf_checked(void **st)
{
	(void)st;
	csrf_now = CSRF_B; /* A's session, B's token */
	send("POST", "/subjects/" SUBJ_A "/tags/" TAG_A2 "/activate", NULL);
	assert_int_equal(resp.status, 403);
	send("POST", "/subjects/" SUBJ_A "/tags/new", NULL);
	assert_int_equal(resp.status, 403);
	assert_int_equal(fta.calls, 0);
}

static void tag_images(void **st)
{
	const char *url = FAKE_QR_BASE "/subjects/qr/" TAG_A1 "/scan/";

	(void)st;
	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/qr.png", NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "image/png");
	assert_string_equal(resp.disposition,
			    "attachment; filename=\"keryu-tag-" CODE_A1
			    ".png\"");
	assert_int_equal(resp.body.len, strlen("PNG:") + strlen(url));
	assert_memory_equal(resp.body.buf, "PNG:", 4);
	assert_memory_equal(resp.body.buf + 4, url, strlen(url));

	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/qr.svg", NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "image/svg+xml");
	assert_string_equal(resp.disposition,
			    "attachment; filename=\"keryu-tag-" CODE_A1
			    ".svg\"");
	assert_non_null(strstr(body(), "viewBox=\"0 0 29 29\""));
	assert_string_equal(fta.qr_last_text, url);

	/* HEAD answers the same (the server drops the body) */
	send("HEAD", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/qr.png", NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "image/png");
}

static void tag_images_without_qr_service(void **st)
{
	(void)st;
	ctx->qr = NULL;
	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/qr.png", NULL);
	assert_int_equal(resp.status, 503);
	assert_string_equal(resp.disposition, "");
	/* a foreign tag is still a 404 first */
	send("GET", "/subjects/" SUBJ_B "/tags/" TAG_B "/qr.png", NULL);
	is_404();
}

static void tag_print(void **st)
{
	(void)st;
	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/print", NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/html; charset=utf-8");
	assert_non_null(strstr(body(), "<svg xmlns="));
	assert_null(strstr(body(), "<?xml"));
	assert_non_null(strstr(body(), ">Abel<")); /* the first name only */
	assert_null(strstr(body(), "<script>"));
	assert_non_null(strstr(body(), ">" CODE_A1 "<"));
	assert_non_null(strstr(body(), FAKE_QR_BASE "/t/" CODE_A1));
	assert_non_null(strstr(body(), "@media print"));
	assert_null(strstr(body(), "not active yet"));

	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A2 "/print", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "not active yet"));
}

static void tag_print_escapes_first_name(void **st)
{
	(void)st;
	snprintf(fta.subjects[0].s.name, sizeof(fta.subjects[0].s.name), "%s",
		 "<b>&Abel</b> Smith");
	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/print", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), ">&lt;b&gt;&amp;Abel&lt;/b&gt;<"));
	assert_null(strstr(body(), "<b>"));
}

/* Every tag address of A's, as B: 404, by GET and POST, nothing changes;
 * the same for A's tag under the wrong subject and for malformed ids. */
static void tags_foreign_ids_are_404(void **st)
{
	static const char *const urls[] = {
		"/subjects/" SUBJ_A "/tags/",
		"/subjects/" SUBJ_A "/tags/new",
		"/subjects/" SUBJ_A "/tags/" TAG_A2 "/activate",
		"/subjects/" SUBJ_A "/tags/" TAG_A1 "/deactivate",
		"/subjects/" SUBJ_A "/tags/" TAG_A1 "/qr.png",
		"/subjects/" SUBJ_A "/tags/" TAG_A1 "/qr.svg",
		"/subjects/" SUBJ_A "/tags/" TAG_A1 "/print",
		/* B's own subject with A's tag */
		"/subjects/" SUBJ_B "/tags/" TAG_A2 "/activate",
		"/subjects/" SUBJ_B "/tags/" TAG_A1 "/qr.png",
		"/subjects/" SUBJ_B "/tags/" TAG_A1 "/print",
	};
	size_t i;

	(void)st;
	as_b();
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		send("GET", urls[i], NULL);
		if (resp.status == 405)
			continue; /* a POST-only address */
		is_404();
	}
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		send("POST", urls[i], NULL);
		if (resp.status == 405)
			continue; /* a GET-only address */
		is_404();
	}
	assert_int_equal(fta.changes, 0);
	assert_int_equal(fta.qr_calls, 0);
	assert_true(fta_tag(TAG_A1)->is_active);
	assert_false(fta_tag(TAG_A2)->is_active);

	/* A's own tag under A's other subject */
	as_a();
	send("GET", "/subjects/" SUBJ_A2 "/tags/" TAG_A1 "/qr.png", NULL);
	is_404();
	send("POST", "/subjects/" SUBJ_A2 "/tags/" TAG_A2 "/activate", NULL);
	is_404();
	assert_false(fta_tag(TAG_A2)->is_active);
	/* malformed ids never reach the service */
	fta.calls = 0;
	send("GET", "/subjects/not-a-uuid/tags/", NULL);
	is_404();
	send("POST", "/subjects/" SUBJ_A "/tags/1234/activate", NULL);
	is_404();
	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A1 "x/qr.png", NULL);
	is_404();
	assert_int_equal(fta.calls, 0);
	assert_int_equal(fta.changes, 0);
}

static void visitors_go_to_login(void **st)
{
	(void)st;
	as_visitor();
	send("GET", "/subjects/" SUBJ_A "/tags/" TAG_A1 "/qr.png", NULL);
	assert_int_equal(resp.status, 303);
	/* back to the address asked for after logging in */
	assert_string_equal(resp.location,
			    "/account/login?next=/subjects/" SUBJ_A "/tags/"
			    TAG_A1 "/qr.png");
	send("GET", "/dashboard/", NULL);
	assert_int_equal(resp.status, 303);
	send("GET", "/alarms/", NULL);
	assert_int_equal(resp.status, 303);
	assert_int_equal(fta.calls, 0);
}

/* ---- /t/<code> ---- */

static void short_code_redirects(void **st)
{
	(void)st;
	as_visitor(); /* public: no session needed, none made */
	send("GET", "/t/" CODE_A1, NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/subjects/qr/" TAG_A1 "/scan/");
	assert_string_equal(resp.set_cookie, "");
	assert_string_equal(fta.last_code, CODE_A1);

	send("GET", "/t/abcd2345", NULL); /* any case */
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/subjects/qr/" TAG_A1 "/scan/");
	assert_string_equal(fta.last_code, CODE_A1);
	send("GET", "/t/AbCd2345/", NULL);
	assert_int_equal(resp.status, 303);
	/* an inactive tag too: the scan page says it is not active */
	send("HEAD", "/t/" CODE_A2, NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/subjects/qr/" TAG_A2 "/scan/");
	assert_int_equal(fake_host_pub_count(), 0);
}

static void short_code_unknown_or_malformed(void **st)
{
	static const char *const bad[] = {
		"/t/", "/t/ABCD234", "/t/ABCD23456", "/t/ABCD2340",
		"/t/ABCDO345", "/t/ABCD%345", "/t/ABCD 345", "/t/ABCD2345/x",
		"/t/ABCD2345//", "/t/aaaaaaaa-1111-4000-8000-000000000001",
	};
	size_t i;
	int by_code;

	(void)st;
	as_visitor();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send("GET", bad[i], NULL);
		assert_int_equal(resp.status, 404);
		assert_string_equal(resp.location, "");
	}
	assert_int_equal(fta.by_code, 0);
	send("GET", "/t/ZZZZ2345", NULL); /* well-formed, unknown */
	assert_int_equal(resp.status, 404);
	assert_non_null(strstr(body(), "no tag with this code"));
	assert_int_equal(fta.by_code, 1);

	by_code = fta.by_code;
	send("POST", "/t/" CODE_A1, NULL);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.allow, "GET, HEAD");
	assert_int_equal(fta.by_code, by_code);

	fta.rc = KERYU_EIO;
	send("GET", "/t/" CODE_A1, NULL);
	assert_int_equal(resp.status, 503);
	ctx->subjects = NULL;
	send("GET", "/t/" CODE_A1, NULL);
	assert_int_equal(resp.status, 503);
}

/* ---- alarms ---- */

/* 30 more alarms of A's, one a day in February 2026; the odd ones are
 * resolved; every third of the second subject. */
static void thirty_alarms(void)
{
	char id[KERYU_UUID_LEN], at[KERYU_TIME_LEN];
	struct fta_alarm *a;
	int i;

	for (i = 1; i <= 30; i++) {
		snprintf(id, sizeof(id),
			 "aaaaaaaa-3333-4000-8000-%012d", i);
		snprintf(at, sizeof(at), "2026-02-%02dT12:00:00.000Z",
			 i <= 28 ? i : 28);
		a = fta_add_alarm(cust_a, i % 3 == 0 ? SUBJ_A2 : SUBJ_A, id,
				  at);
		a->d.s.resolved = i % 2 == 1;
	}
}

static void alarms_list_and_pages(void **st)
{
	const char *older, *p;

	(void)st;
	thirty_alarms(); /* 31 of A's with the January one */
	send("GET", "/alarms/", NULL);
	assert_int_equal(resp.status, 200);
	assert_int_equal(count(body(), "class=\"alarm\""), 25);
	assert_non_null(strstr(body(), "31 alarms"));
	assert_non_null(strstr(body(), "Page 1 of 2"));
	assert_null(strstr(body(), "rel=\"prev\""));
	older = strstr(body(), "rel=\"next\" href=\"/alarms/?page=2\"");
	assert_non_null(older);
	assert_null(strstr(body(), ALARM_B));
	assert_null(strstr(body(), "Berta"));
	/* newest first */
	p = strstr(body(), "aaaaaaaa-3333-4000-8000-000000000030");
	assert_non_null(p);
	assert_true(p < strstr(body(), "aaaaaaaa-3333-4000-8000-000000000029"));
	assert_int_equal(fta.last_filter.offset, 0);
	assert_int_equal(fta.last_filter.limit, 25);
	assert_string_equal(fta.last_custodian, cust_a);
	/* resolved alarms are listed and marked */
	assert_non_null(strstr(body(), ">Resolved</span>"));
	assert_non_null(strstr(body(), ">Open</span>"));
	/* the subject select holds A's subjects only, escaped */
	assert_non_null(strstr(body(), "<option value=\"" SUBJ_A "\">Abel "
					EVIL_ESCAPED "</option>"));
	assert_null(strstr(body(), SUBJ_B));

	send("GET", "/alarms/?page=2", NULL);
	assert_int_equal(resp.status, 200);
	assert_int_equal(count(body(), "class=\"alarm\""), 6);
	assert_non_null(strstr(body(), "Page 2 of 2"));
	assert_non_null(strstr(body(), "rel=\"prev\" href=\"/alarms/?page=1\""));
	assert_null(strstr(body(), "rel=\"next\""));
	assert_non_null(strstr(body(), ALARM_A)); /* the oldest */
	assert_int_equal(fta.last_filter.offset, 25);

	/* past the end: empty, with a way back */
	send("GET", "/alarms/?page=9", NULL);
	assert_int_equal(resp.status, 200);
	assert_int_equal(count(body(), "class=\"alarm\""), 0);
	assert_non_null(strstr(body(), "href=\"/alarms/?page=1\""));
}

static void alarms_filters(void **st)
{
	(void)st;
	thirty_alarms();
	send("GET", "/alarms/?state=open&subject=" SUBJ_A
		    "&from=2026-02-01&to=2026-02-28",
	     NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(fta.last_filter.state, "open");
	assert_string_equal(fta.last_filter.subject_id, SUBJ_A);
	assert_string_equal(fta.last_filter.from, "2026-02-01");
	assert_string_equal(fta.last_filter.to, "2026-02-28");
	/* even i not divisible by 3 in 1..30: 10 */
	assert_non_null(strstr(body(), "10 alarms"));
	assert_null(strstr(body(), ">Resolved</span>"));
	assert_non_null(strstr(body(), "<option value=\"" SUBJ_A "\" selected>"));
	assert_non_null(strstr(body(), "<option value=\"open\" selected>"));
	assert_non_null(strstr(body(), "value=\"2026-02-01\""));

	/* the pagination keeps the filters */
	send("GET", "/alarms/?state=resolved", NULL);
	assert_non_null(strstr(body(), "15 alarms"));
	send("GET", "/alarms/?from=2026-01-01", NULL);
	assert_non_null(strstr(body(),
			       "href=\"/alarms/?from=2026-01-01&amp;page=2\""));
	send("GET", "/alarms/?state=open&page=1", NULL);
	assert_non_null(strstr(body(), "Page 1 of 1"));
	/* upper-case subject ids are fine */
	send("GET", "/alarms/?subject=AAAAAAAA-0000-4000-8000-000000000001",
	     NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(fta.last_filter.subject_id, SUBJ_A);
}

static void alarms_bad_filters_run_no_query(void **st)
{
	static const struct {
		const char *url, *field;
	} bad[] = {
		{"/alarms/?from=2026-02-30", "f-from-error"},
		{"/alarms/?from=2026-2-3", "f-from-error"},
		{"/alarms/?to=yesterday", "f-to-error"},
		{"/alarms/?to=2026-13-01", "f-to-error"},
		{"/alarms/?from=2026-03-01&to=2026-02-01", "f-to-error"},
		{"/alarms/?state=closed", "f-state-error"},
		{"/alarms/?subject=" SUBJ_B, "f-subject-error"}, /* B's */
		{"/alarms/?subject=" EVIL_Q, "f-subject-error"},
		{"/alarms/?page=0", "Pages"},
		{"/alarms/?page=-1", "Pages"},
		{"/alarms/?page=abc", "Pages"},
		{"/alarms/?page=99999999999", "Pages"},
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send("GET", bad[i].url, NULL);
		assert_int_equal(resp.status, 400);
		assert_non_null(strstr(body(), "class=\"summary\""));
		if (strcmp(bad[i].field, "Pages") != 0)
			assert_non_null(strstr(body(), bad[i].field));
		assert_null(strstr(body(), "<script>"));
		assert_null(strstr(body(), "Berta"));
	}
	assert_int_equal(fta.alarm_lists, 0);
	/* the refused value comes back escaped */
	send("GET", "/alarms/?to=" EVIL_Q, NULL);
	assert_non_null(strstr(body(), "value=\"" EVIL_ESCAPED "\""));
}

static void alarm_detail(void **st)
{
	(void)st;
	send("GET", "/alarms/" ALARM_A "/", NULL);
	assert_int_equal(resp.status, 200);
	assert_null(strstr(body(), "<script>"));
	assert_non_null(strstr(body(), "Alarm: Abel " EVIL_ESCAPED));
	assert_non_null(strstr(body(), "2026-01-15 08:30 UTC"));
	assert_non_null(strstr(body(),
			       "href=\"https://www.openstreetmap.org/?mlat="
			       "40.416775&amp;mlon=-3.703790"));
	assert_non_null(strstr(body(), "within 12 m"));
	assert_non_null(strstr(body(), "Near the " EVIL_ESCAPED));
	/* the timeline: both steps, oldest first, with the details */
	assert_non_null(strstr(body(), "<strong>QUEUED</strong>"));
	assert_true(strstr(body(), "QUEUED") < strstr(body(), "FAILED"));
	assert_non_null(strstr(body(), "via log to the number ending 1234"));
	assert_null(strstr(body(), "+16505551234"));
	assert_non_null(strstr(body(), "wamid.HBgL"));
	assert_non_null(strstr(body(), "Error 131026: " EVIL_ESCAPED));
	/* open: the resolve form */
	assert_non_null(strstr(body(), "action=\"/alarms/" ALARM_A
					"/resolve\""));
	assert_non_null(strstr(body(), "<textarea"));
	assert_non_null(strstr(body(), ">Open</span>"));
	/* no third-party asset */
	assert_null(strstr(body(), "src=\"http"));
}

static void alarm_resolve(void **st)
{
	const struct fta_alarm *a = fta_alarm(ALARM_A);

	(void)st;
	send("POST", "/alarms/" ALARM_A "/resolve",
	     "notes=Found+at+the+park.%0AAll+fine+" EVIL_Q);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location,
			    "/alarms/" ALARM_A "/?notice=resolved");
	assert_true(a->d.s.resolved);
	assert_string_equal(a->d.resolution_notes,
			    "Found at the park.\nAll fine " EVIL);

	send("GET", resp.location, NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "The alarm is marked resolved."));
	assert_non_null(strstr(body(), "Found at the park.\nAll fine "
					EVIL_ESCAPED));
	assert_null(strstr(body(), "<script>"));
	assert_null(strstr(body(), "<textarea")); /* no form any more */
	assert_non_null(strstr(body(), ">Resolved</span>"));

	/* still listed, marked */
	send("GET", "/alarms/", NULL);
	assert_non_null(strstr(body(), ALARM_A));
	assert_non_null(strstr(body(), ">Resolved</span>"));

	/* twice: said so, nothing changes */
	send("POST", "/alarms/" ALARM_A "/resolve", "notes=again");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location,
			    "/alarms/" ALARM_A "/?notice=already");
	assert_string_equal(a->d.resolution_notes,
			    "Found at the park.\nAll fine " EVIL);
}

static void alarm_resolve_bad_notes(void **st)
{
	const struct fta_alarm *a = fta_alarm(ALARM_A);
	char *form = malloc(2200);

	(void)st;
	assert_non_null(form);
	memcpy(form, "notes=", 6);
	memset(form + 6, 'x', 2001);
	form[6 + 2001] = '\0';
	send("POST", "/alarms/" ALARM_A "/resolve", form);
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "id=\"f-notes-error\""));
	assert_non_null(strstr(body(), "at most 2000"));
	assert_false(a->d.s.resolved);

	form[6 + 2000] = '\0'; /* exactly 2000 is fine */
	send("POST", "/alarms/" ALARM_A "/resolve", form);
	assert_int_equal(resp.status, 303);
	assert_true(a->d.s.resolved);
	free(form);

	fta.alarms[0].d.s.resolved = false;
	send("POST", "/alarms/" ALARM_A "/resolve", "notes=a%01b");
	assert_int_equal(resp.status, 400);
	send("POST", "/alarms/" ALARM_A "/resolve", "notes=" EVIL_Q "%FF");
	assert_int_equal(resp.status, 400);
	/* refilled, escaped, the bad byte replaced */
	assert_non_null(strstr(body(), ">" EVIL_ESCAPED "?</textarea>"));
	assert_int_equal(fta.changes, 1);
}

static void alarm_steps_and_ack_shown(void **st)
{
	struct fta_alarm *a = fta_add_alarm(cust_a, SUBJ_A2,
					    "aaaaaaaa-2222-4000-8000-000000000009",
					    "2026-01-15T08:31:00.000Z");
	struct fta_alarm *main_alarm = &fta.alarms[0];
	struct keryu_timeline_entry *t;

	(void)st;
	/* alarm-level steps on A's alarm */
	t = &main_alarm->tl[main_alarm->n_tl++];
	snprintf(t->at, sizeof(t->at), "%s", "2026-01-15T08:32:01.000Z");
	snprintf(t->status, sizeof(t->status), "%s", "ESCALATED");
	snprintf(t->channel, sizeof(t->channel), "%s", "whatsapp");
	snprintf(t->recipient_hint, sizeof(t->recipient_hint), "%s", "5678");
	snprintf(t->error_text, sizeof(t->error_text), "%s",
		 "not delivered in 120 s " EVIL);
	t = &main_alarm->tl[main_alarm->n_tl++];
	snprintf(t->at, sizeof(t->at), "%s", "2026-01-15T08:33:01.000Z");
	snprintf(t->status, sizeof(t->status), "%s", "EXHAUSTED");
	send("GET", "/alarms/" ALARM_A "/", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "Alert passed on to the next person"));
	assert_non_null(strstr(body(), "Via whatsapp to the number ending "
					"5678<br>not delivered in 120 s "
					EVIL_ESCAPED));
	assert_non_null(strstr(body(), "Nobody left to alert"));
	assert_null(strstr(body(), "<strong>ESCALATED</strong>"));
	assert_null(strstr(body(), "<script>"));
	/* not acknowledged: said so, with the button (CSRF token in it) */
	assert_non_null(strstr(body(), "<dt>Acknowledged</dt><dd>Not yet"));
	assert_non_null(strstr(body(), "action=\"/alarms/" ALARM_A
					"/acknowledge\""));
	assert_non_null(strstr(body(), "name=\"csrf\" value=\"" CSRF_A "\""));
	assert_non_null(strstr(body(), "I&#39;m on my way</button>"));
	assert_null(strstr(body(), "Joined alarm"));

	/* a joined scan links the open alarm it joined */
	snprintf(a->d.joined_alarm_id, sizeof(a->d.joined_alarm_id), "%s",
		 ALARM_A);
	snprintf(a->d.acknowledged_at, sizeof(a->d.acknowledged_at), "%s",
		 "2026-01-15T08:40:00.000Z");
	send("GET", "/alarms/aaaaaaaa-2222-4000-8000-000000000009/", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "<dt>Joined alarm</dt><dd><a href=\""
					"/alarms/" ALARM_A "/\">"));
	assert_non_null(strstr(body(), "Someone is on their way, since "));
	assert_non_null(strstr(body(), "2026-01-15 08:40 UTC"));
	assert_null(strstr(body(), "/acknowledge\""));
}

static void alarm_acknowledge(void **st)
{
	const struct fta_alarm *a = fta_alarm(ALARM_A);
	struct keryu_alarm_event ev;
	const struct fake_pub *p;

	(void)st;
	send("POST", "/alarms/" ALARM_A "/acknowledge", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location,
			    "/alarms/" ALARM_A "/?notice=acknowledged");
	assert_int_equal(fta.acks, 1);
	assert_true(a->d.acknowledged_at[0] != '\0');
	assert_int_equal(fake_host_pub_count(), 1);
	p = fake_host_pub(0);
	assert_string_equal(p->topic, "keryu/v1/alarm/" ALARM_A);
	assert_int_equal(keryu_alarm_event_decode(p->payload, p->len, &ev), 0);
	assert_string_equal(ev.alarm_id, ALARM_A);
	assert_string_equal(ev.subject_id, SUBJ_A);
	assert_string_equal(ev.state, "acknowledged");
	assert_true(fake_host_log_contains("http.alarm_acknowledge"));

	send("GET", resp.location, NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "You are on your way"));
	assert_null(strstr(body(), "/acknowledge\""));
	assert_non_null(strstr(body(), "/resolve\"")); /* still resolvable */

	/* twice: said so, nothing more published */
	send("POST", "/alarms/" ALARM_A "/acknowledge", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location,
			    "/alarms/" ALARM_A "/?notice=ack_already");
	send("GET", resp.location, NULL);
	assert_non_null(strstr(body(), "already acknowledged"));
	assert_int_equal(fta.acks, 1);
	assert_int_equal(fake_host_pub_count(), 1);
}

static void alarm_acknowledge_needs_csrf(void **st)
{
	(void)st;
	csrf_now = CSRF_B; /* a real token, of another session */
	send("POST", "/alarms/" ALARM_A "/acknowledge", NULL);
	assert_int_equal(resp.status, 403);
	csrf_now = "";
	send("POST", "/alarms/" ALARM_A "/acknowledge", NULL);
	assert_int_equal(resp.status, 403);
	/* a visitor has no session, so no CSRF token either */
	as_visitor();
	send("POST", "/alarms/" ALARM_A "/acknowledge", NULL);
	assert_int_equal(resp.status, 403);
	as_a();
	send("GET", "/alarms/" ALARM_A "/acknowledge", NULL);
	assert_int_equal(resp.status, 405);
	assert_int_equal(fta.acks, 0);
	assert_int_equal(fake_host_pub_count(), 0);
	assert_string_equal(fta_alarm(ALARM_A)->d.acknowledged_at, "");
}

static void alarm_acknowledge_foreign_404(void **st)
{
	(void)st;
	as_b();
	send("POST", "/alarms/" ALARM_A "/acknowledge", NULL);
	is_404();
	send("POST", "/alarms/nope/acknowledge", NULL);
	is_404();
	send("POST", "/alarms/cccccccc-2222-4000-8000-000000000001/acknowledge",
	     NULL);
	is_404();
	assert_int_equal(fta.acks, 0);
	assert_int_equal(fta.changes, 0);
	assert_int_equal(fake_host_pub_count(), 0);
	/* B's own works */
	send("POST", "/alarms/" ALARM_B "/acknowledge", NULL);
	assert_int_equal(resp.status, 303);
	assert_int_equal(fta.acks, 1);
}

static void resolved_alarm_no_ack_button(void **st)
{
	(void)st;
	fta.alarms[0].d.s.resolved = true;
	send("GET", "/alarms/" ALARM_A "/", NULL);
	assert_int_equal(resp.status, 200);
	assert_null(strstr(body(), "/acknowledge\""));
}

static void alarms_foreign_ids_are_404(void **st)
{
	(void)st;
	as_b();
	send("GET", "/alarms/" ALARM_A "/", NULL);
	is_404();
	send("POST", "/alarms/" ALARM_A "/resolve", "notes=mine");
	is_404();
	send("POST", "/alarms/" ALARM_A "/resolve", "notes=a%01b");
	is_404(); /* not a 400: whether it exists is not told */
	send("GET", "/alarms/" ALARM_A "/resolve", NULL);
	assert_int_equal(resp.status, 405);
	send("GET", "/alarms/", NULL);
	assert_int_equal(resp.status, 200);
	assert_null(strstr(body(), ALARM_A));
	assert_non_null(strstr(body(), ALARM_B));
	assert_int_equal(fta.changes, 0);
	assert_false(fta_alarm(ALARM_A)->d.s.resolved);
	/* malformed */
	send("GET", "/alarms/nope/", NULL);
	is_404();
	send("POST", "/alarms/nope/resolve", "notes=x");
	is_404();
	assert_int_equal(fta.changes, 0);
}

static void service_down_is_503(void **st)
{
	(void)st;
	fta.rc = KERYU_EIO;
	send("GET", "/alarms/", NULL);
	assert_int_equal(resp.status, 503);
	send("GET", "/alarms/" ALARM_A "/", NULL);
	assert_int_equal(resp.status, 503);
	send("GET", "/dashboard/", NULL);
	assert_int_equal(resp.status, 503);
	send("GET", "/subjects/" SUBJ_A "/tags/", NULL);
	assert_int_equal(resp.status, 503);
	ctx->subjects = NULL;
	send("GET", "/dashboard/", NULL);
	assert_int_equal(resp.status, 503);
	send("POST", "/subjects/" SUBJ_A "/tags/new", NULL);
	assert_int_equal(resp.status, 503);
}

/* ---- dashboard ---- */

static void dashboard(void **st)
{
	(void)st;
	send("GET", "/", NULL);
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/dashboard/");

	send("GET", "/dashboard/", NULL);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "<strong>2</strong> subjects"));
	assert_non_null(strstr(body(), "<strong>2</strong> active tags"));
	assert_non_null(strstr(body(), "<strong>1</strong> open alarm<"));
	assert_non_null(strstr(body(), "Abel " EVIL_ESCAPED));
	assert_null(strstr(body(), "<script>"));
	assert_non_null(strstr(body(), "Last alarm: <time datetime=\""
					"2026-01-15T08:30:00.000Z\">"
					"2026-01-15 08:30 UTC</time>"));
	assert_non_null(strstr(body(), "Last alarm: never")); /* Carmen */
	assert_non_null(strstr(body(), "href=\"/subjects/" SUBJ_A "/tags/\""));
	assert_non_null(strstr(body(), "href=\"/alarms/?subject=" SUBJ_A
					"\""));
	assert_non_null(strstr(body(), "href=\"/alarms/?state=open\""));
	assert_null(strstr(body(), "Berta"));

	as_b();
	send("GET", "/dashboard/", NULL);
	assert_non_null(strstr(body(), "<strong>1</strong> subject<"));
	assert_null(strstr(body(), "Abel"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(short_codes_are_random),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(tags_list),
		T(tag_new),
		T(tag_new_retries_conflicts),
		T(tag_activate_deactivate),
		T(tag_activate_needs_verified_phone),
		T(tag_csrf_checked),
		T(tag_images),
		T(tag_images_without_qr_service),
		T(tag_print),
		T(tag_print_escapes_first_name),
		T(tags_foreign_ids_are_404),
		T(visitors_go_to_login),
		T(short_code_redirects),
		T(short_code_unknown_or_malformed),
		T(alarms_list_and_pages),
		T(alarms_filters),
		T(alarms_bad_filters_run_no_query),
		T(alarm_detail),
		T(alarm_resolve),
		T(alarm_resolve_bad_notes),
		T(alarms_foreign_ids_are_404),
		T(alarm_steps_and_ack_shown),
		T(alarm_acknowledge),
		T(alarm_acknowledge_needs_csrf),
		T(alarm_acknowledge_foreign_404),
		T(resolved_alarm_no_ack_button),
		T(service_down_is_503),
		T(dashboard),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
