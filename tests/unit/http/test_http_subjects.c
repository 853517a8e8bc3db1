/* The subjects pages without a socket: http_route() against the fake host
 * and fake accounts/subjects services, two custodians (A and B) logged in
 * through sessions made directly in the fake accounts service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "fake_subjects.h"
#include "http_module.h"
#include "http_subjects.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define EVIL "<script>alert(1)</script>"
#define EVIL_ESCAPED "&lt;script&gt;alert(1)&lt;/script&gt;"
#define EVIL_QS "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
#define CSRF_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CSRF_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct http_ctx *ctx;
static struct http_response resp;
static char photo_dir[64];
static struct keryu_custodian *A, *B;
static const char *who; /* "A", "B" or NULL (a visitor) */

/* Accounts: the fake, plus what the contact codes were issued for. */
static struct keryu_accounts accounts;
static char last_code_contact[KERYU_UUID_LEN];
static int contact_checks;

static int code_issue(void *self, const char *custodian,
		      enum keryu_code_purpose purpose, const char *contact,
		      const char *hash, const char *channel, int ttl, int tries,
		      int resend, struct keryu_code_issued *out)
{
	int rc;

	snprintf(last_code_contact, sizeof(last_code_contact), "%s",
		 contact ? contact : "");
	rc = fake_accounts.code_issue(self, custodian, purpose, contact, hash,
				      channel, ttl, tries, resend, out);
	if (rc == 0 && contact) /* the code goes to the contact's phone */
		snprintf(out->recipient, sizeof(out->recipient), "%s",
			 fake_subjects_find_contact(contact)->phone);
	return rc;
}

static int code_check(void *self, const char *custodian,
		      enum keryu_code_purpose purpose, const char *contact,
		      const char *hash, enum keryu_code_check *res)
{
	int rc = fake_accounts.code_check(self, custodian, purpose, contact,
					  hash, res);

	if (purpose == KERYU_CODE_CONTACT)
		contact_checks++;
	if (rc == 0 && *res == KERYU_CODE_OK && contact)
		fake_subjects_find_contact(contact)->verified = true;
	return rc;
}

static struct keryu_custodian *custodian(const char *email, const char *name)
{
	struct keryu_custodian *c =
		&fake_accounts_state.custodians[fake_accounts_state.n_custodians++];

	memset(c, 0, sizeof(*c));
	keryu_uuid_new(c->id);
	snprintf(c->email, sizeof(c->email), "%s", email);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->phone, sizeof(c->phone), "+16505551234");
	c->phone_verified = true;
	c->is_active = true;
	return c;
}

static void session(const char *token, const char *custodian_id,
		    const char *csrf)
{
	char hash[KERYU_HASH_HEX];

	http_hmac_hex(ctx, token, hash);
	assert_int_equal(fake_accounts.session_create(NULL, hash, custodian_id,
						      csrf, 3600),
			 0);
}

static const char *contact_channels; /* [http] contact_channels or NULL */

static int setup(void **st)
{
	void *state = NULL;

	(void)st;
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_accounts_reset();
	accounts = fake_accounts;
	accounts.code_issue = code_issue;
	accounts.code_check = code_check;
	fake_host_add_service(KERYU_SERVICE_ACCOUNTS, &accounts);
	fake_subjects_reset();
	fake_host_add_service(KERYU_SERVICE_SUBJECTS, &fake_subjects);
	fake_host_set_global("kernel", "secret_key", "unit-test-secret");
	snprintf(photo_dir, sizeof(photo_dir), "/tmp/keryu-photos.XXXXXX");
	assert_non_null(mkdtemp(photo_dir));
	fake_host_set("photo_dir", photo_dir);
	fake_host_set("photo_max_bytes", "4096");
	if (contact_channels)
		fake_host_set("contact_channels", contact_channels);
	if (keryu_module.init(fake_mod(), fake_host(), &state) != 0)
		return -1;
	ctx = state;
	assert_int_equal(http_photo_dir_open(ctx), 0);
	A = custodian("a@example.org", "Ana A");
	B = custodian("b@example.org", "Bea B");
	session("token-a", A->id, CSRF_A);
	session("token-b", B->id, CSRF_B);
	who = "A";
	last_code_contact[0] = '\0';
	contact_checks = 0;
	http_response_init(&resp);
	return 0;
}

/* The channels an installation offers: its own test channel first. */
static int setup_own_channels(void **st)
{
	int rc;

	contact_channels = " testchan , log";
	rc = setup(st);
	contact_channels = NULL;
	return rc;
}

static int teardown(void **st)
{
	DIR *d;
	struct dirent *de;
	char path[512];

	(void)st;
	http_response_free(&resp);
	keryu_module.cleanup(ctx);
	ctx = NULL;
	fake_host_reset(NULL);
	d = opendir(photo_dir);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || strcmp(de->d_name, "..") == 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", photo_dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(photo_dir);
	return 0;
}

/* Sends one request as custodian `who`; form (may be NULL) is the body. */
static void send_form(const char *method, const char *url,
		      const struct http_form *form)
{
	struct http_form query, empty;
	struct http_request req;
	char path[512];
	const char *q = strchr(url, '?');

	http_form_init(&query);
	http_form_init(&empty);
	snprintf(path, sizeof(path), "%.*s",
		 (int)(q ? (size_t)(q - url) : strlen(url)), url);
	if (q)
		assert_int_equal(http_form_parse_query(&query, q + 1), 0);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.user_agent = "TestAgent/1.0";
	req.cookie = !who                 ? NULL
		     : strcmp(who, "A") == 0 ? "keryu_session=token-a"
					     : "keryu_session=token-b";
	req.client_ip = "192.0.2.7";
	req.query = &query;
	req.form = strcmp(method, "POST") == 0 ? (form ? form : &empty) : NULL;
	http_test_route(ctx, &req, &resp);
	http_form_free(&query);
	http_form_free(&empty);
}

/* POSTs a urlencoded body; the session's csrf is added unless no_csrf. */
static void post(const char *url, const char *fields)
{
	struct http_form f;
	char qs[16384];

	snprintf(qs, sizeof(qs), "csrf=%s%s%s",
		 who && strcmp(who, "B") == 0 ? CSRF_B : CSRF_A,
		 fields && *fields ? "&" : "", fields ? fields : "");
	http_form_init(&f);
	assert_int_equal(http_form_parse_query(&f, qs), 0);
	send_form("POST", url, &f);
	http_form_free(&f);
}

static void get(const char *url)
{
	send_form("GET", url, NULL);
}

static const char *body(void)
{
	return resp.body.buf ? resp.body.buf : "";
}

/* The id in a redirect to /subjects/<id>/... */
static const char *location_id(void)
{
	static char id[KERYU_UUID_LEN];

	assert_int_equal(resp.status, 303);
	assert_int_equal(strncmp(resp.location, "/subjects/", 10), 0);
	snprintf(id, sizeof(id), "%.36s", resp.location + 10);
	assert_true(keryu_uuid_valid(id));
	return id;
}

static int photo_files(void)
{
	DIR *d = opendir(photo_dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool photo_exists(const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", photo_dir, name);
	return stat(path, &st) == 0;
}

#define FULL_FORM                                                             \
	"name=Ana+P%C3%A9rez&date_of_birth=2015-04-30&gender=F"                \
	"&care_instructions=Speak+slowly.%0D%0AShe+likes+music."               \
	"&medical_conditions=Autism&allergies=Peanuts&medications=None"        \
	"&doctor_name=Dr+Who&doctor_phone=%2B1+650+555+0000"                   \
	"&doctor_address=1+Main+St&doctor_speciality=Paediatrics&is_active=1"

static const char *create(void)
{
	post("/subjects/new", FULL_FORM);
	return location_id();
}

/* ---- routing ---- */

static void routes_keep_the_scan_page_and_need_login(void **st)
{
	(void)st;
	/* the public scan URL is not a subject page (more segments) */
	who = NULL;
	get("/subjects/qr/" QR "/scan/");
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_storage_state.lookups, 1);
	assert_int_equal(fake_subjects_state.calls, 0);
	who = "A";
	get("/subjects/qr/" QR "/scan/");
	assert_int_equal(resp.status, 200);
	assert_int_equal(fake_subjects_state.calls, 0);
	/* "qr" is not a subject id */
	get("/subjects/qr/");
	assert_int_equal(resp.status, 404);
	/* nor, for a visitor, a page to log in for: a scan URL cut short
	 * by a %00 stays a 404 (page ids are UUIDs) */
	who = NULL;
	get("/subjects/qr/");
	assert_int_equal(resp.status, 404);
	who = "A";

	/* visitors go to the login form; a POST (no session, so no valid
	 * token) is refused and changes nothing */
	who = NULL;
	get("/subjects/");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/account/login?next=/subjects/");
	post("/subjects/new", FULL_FORM);
	assert_int_equal(resp.status, 403);
	assert_int_equal(fake_subjects_state.changes, 0);
}

static void csrf_less_post_is_refused(void **st)
{
	struct http_form f;
	struct keryu_subject *s = fake_subjects_add(A->id, "Ana");
	char url[128];

	(void)st;
	http_form_init(&f);
	assert_int_equal(http_form_parse_query(&f, FULL_FORM), 0);
	send_form("POST", "/subjects/new", &f);
	assert_int_equal(resp.status, 403);
	snprintf(url, sizeof(url), "/subjects/%s/delete", s->id);
	assert_int_equal(http_form_parse_query(&f, "confirm=1&csrf=" CSRF_B), 0);
	send_form("POST", url, &f); /* B's token in A's session */
	assert_int_equal(resp.status, 403);
	http_form_free(&f);
	assert_int_equal(fake_subjects_state.calls, 0);
	assert_non_null(fake_subjects_find(s->id));
}

/* ---- create, validation, escaping ---- */

static void validation_shows_errors_and_refills_escaped(void **st)
{
	char form[8192], long_text[2100];

	(void)st;
	memset(long_text, 'x', 2001);
	long_text[2001] = '\0';
	snprintf(form, sizeof(form), "%s%s%s",
		 "name=+++&date_of_birth=2015-02-30&gender=X"
		 "&care_instructions=",
		 long_text,
		 "&medical_conditions=bad%01char"
		 "&allergies=" EVIL_QS "&doctor_name=two%0Alines"
		 "&doctor_phone=" EVIL_QS "&doctor_speciality=%FF%FE");
	post("/subjects/new", form);
	assert_int_equal(resp.status, 400);
	assert_int_equal(fake_subjects_state.changes, 0);
	assert_non_null(strstr(body(), "Enter the name."));
	assert_non_null(strstr(body(), "That date does not exist."));
	assert_non_null(strstr(body(), "Choose the gender"));
	assert_non_null(strstr(body(),
			       "Care instructions for a finder: at most 2000 "
			       "characters."));
	assert_non_null(strstr(body(), "Medical conditions: contains "
				       "characters that are not allowed."));
	assert_non_null(strstr(body(), "Doctor&#39;s name: one line only."));
	assert_non_null(strstr(body(), "Doctor&#39;s speciality: contains"));
	/* each error sits in its field's block, tied by aria-describedby */
	assert_non_null(strstr(body(), "id=\"f-name-error\""));
	assert_non_null(strstr(body(), "id=\"f-date_of_birth-error\""));
	assert_non_null(strstr(body(), "id=\"f-gender-error\""));
	assert_non_null(strstr(body(), "id=\"f-care_instructions-error\""));
	/* what was typed comes back, escaped */
	assert_non_null(strstr(body(), "value=\"2015-02-30\""));
	assert_non_null(strstr(body(), ">\n" EVIL_ESCAPED "</textarea>"));
	assert_non_null(strstr(body(), "value=\"" EVIL_ESCAPED "\""));
	assert_null(strstr(body(), "<script>"));

	/* the future, and before 1900 */
	post("/subjects/new", "name=Ana&date_of_birth=2999-01-01&gender=F");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "cannot be in the future"));
	post("/subjects/new", "name=Ana&date_of_birth=1899-12-31&gender=U");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "after 1 January 1900"));
	post("/subjects/new", "name=Ana&date_of_birth=30%2F04%2F2015&gender=U");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "YYYY-MM-DD"));
	assert_int_equal(fake_subjects_state.changes, 0);
}

static void create_view_edit_with_script_in_every_field(void **st)
{
	static const char *const fields[] = {
		"name", "care_instructions", "medical_conditions", "allergies",
		"medications", "doctor_name", "doctor_phone", "doctor_address",
		"doctor_speciality"};
	char form[4096], url[160], id[KERYU_UUID_LEN];
	struct keryu_subject *s;
	size_t i, o = 0;
	const char *p;
	int n;

	(void)st;
	o += (size_t)snprintf(form, sizeof(form),
			      "date_of_birth=2015-04-30&gender=O&is_active=1");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		o += (size_t)snprintf(form + o, sizeof(form) - o, "&%s=%s",
				      fields[i], EVIL_QS);
	post("/subjects/new", form);
	snprintf(id, sizeof(id), "%s", location_id());
	s = fake_subjects_find(id);
	assert_non_null(s);
	assert_string_equal(s->name, EVIL);
	assert_string_equal(s->doctor_address, EVIL);
	assert_string_equal(s->gender, "O");
	assert_int_equal(s->public_fields, KERYU_PUB_DEFAULT);
	assert_true(s->is_active);
	assert_string_equal(fake_subjects_state.last_custodian, A->id);

	get("/subjects/");
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), EVIL_ESCAPED));
	assert_null(strstr(body(), "<script>"));

	snprintf(url, sizeof(url), "/subjects/%s/", id);
	get(url);
	assert_int_equal(resp.status, 200);
	for (n = 0, p = body(); (p = strstr(p, EVIL_ESCAPED)); p++)
		n++;
	assert_true(n >= 9); /* title, heading and every field */
	assert_null(strstr(body(), "<script>"));
	assert_non_null(strstr(body(), "/tags/\""));

	snprintf(url, sizeof(url), "/subjects/%s/edit", id);
	get(url);
	assert_int_equal(resp.status, 200);
	for (n = 0, p = body(); (p = strstr(p, EVIL_ESCAPED)); p++)
		n++;
	assert_int_equal(n, 9);
	assert_null(strstr(body(), "<script>"));
}

static void edit_keeps_photo_and_privacy(void **st)
{
	char url[160];
	struct keryu_subject *s;
	const char *id;

	(void)st;
	id = create();
	s = fake_subjects_find(id);
	snprintf(s->photo, sizeof(s->photo), "%032d.jpg", 0);
	s->public_fields = KERYU_PUB_PHOTO | KERYU_PUB_DOCTOR;
	snprintf(url, sizeof(url), "/subjects/%s/edit", id);
	post(url, "name=Ana+Maria&date_of_birth=2014-01-02&gender=U");
	assert_int_equal(resp.status, 303);
	assert_string_equal(s->name, "Ana Maria");
	assert_string_equal(s->allergies, ""); /* cleared: not sent */
	assert_false(s->is_active);             /* box not ticked */
	assert_int_equal(s->public_fields, KERYU_PUB_PHOTO | KERYU_PUB_DOCTOR);
	assert_string_equal(s->photo, "00000000000000000000000000000000.jpg");

	/* a bad edit saves nothing */
	post(url, "name=&date_of_birth=2014-01-02&gender=F&allergies=x");
	assert_int_equal(resp.status, 400);
	assert_string_equal(s->name, "Ana Maria");
	assert_string_equal(s->allergies, "");
}

static void privacy_saved(void **st)
{
	char url[160];
	struct keryu_subject *s;
	const char *id;

	(void)st;
	id = create();
	s = fake_subjects_find(id);
	snprintf(url, sizeof(url), "/subjects/%s/privacy", id);
	get(url);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "name=\"pub_photo\" value=\"1\" checked"));
	assert_non_null(strstr(body(), "name=\"pub_medical\" value=\"1\" st"));
	post(url, "pub_full_name=1&pub_medications=1&pub_custodian_phone=1"
		  "&pub_bogus=1");
	assert_int_equal(resp.status, 303);
	assert_int_equal(s->public_fields,
			 KERYU_PUB_FULL_NAME | KERYU_PUB_MEDICATIONS |
				 KERYU_PUB_CUSTODIAN_PHONE);
	assert_string_equal(s->name, "Ana Pérez"); /* the rest untouched */
	/* only the bits are written, never the whole row as read */
	assert_int_equal(fake_subjects_state.public_sets, 1);
	assert_int_equal(fake_subjects_state.updates, 0);
	post(url, "");
	assert_int_equal(s->public_fields, 0);
}

static void list_is_paginated(void **st)
{
	char name[32];
	int i;

	(void)st;
	for (i = 1; i <= 120; i++) {
		snprintf(name, sizeof(name), "Subject %03d", i);
		assert_non_null(fake_subjects_add(A->id, name));
	}
	fake_subjects_add(B->id, "Not A's");
	get("/subjects/");
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "Subject 120")); /* newest first */
	assert_non_null(strstr(body(), "Subject 071"));
	assert_null(strstr(body(), "Subject 070"));
	assert_null(strstr(body(), "Not A&#39;s"));
	assert_non_null(strstr(body(), "Page 1 of 3"));
	get("/subjects/?page=3");
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "Subject 001"));
	assert_null(strstr(body(), "Subject 021"));
	get("/subjects/?page=4");
	assert_int_equal(resp.status, 404);
	get("/subjects/?page=abc");
	assert_int_equal(resp.status, 404);
	get("/subjects/?page=0");
	assert_int_equal(resp.status, 404);
}

static void delete_needs_confirmation_and_removes_the_photo(void **st)
{
	char url[160], name[80];
	struct keryu_subject *s;
	const char *id;
	FILE *f;

	(void)st;
	id = create();
	s = fake_subjects_find(id);
	snprintf(name, sizeof(name), "%s.png", "0123456789abcdef0123456789abcdef");
	snprintf(url, sizeof(url), "%s/%s", photo_dir, name);
	f = fopen(url, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(s->photo, sizeof(s->photo), "%s", name);

	snprintf(url, sizeof(url), "/subjects/%s/delete", id);
	get(url);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "name=\"confirm\""));
	post(url, "");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "Tick the box to confirm."));
	assert_int_equal(fake_subjects_state.deletes, 0);
	post(url, "confirm=1");
	assert_int_equal(resp.status, 303);
	assert_string_equal(resp.location, "/subjects/?notice=deleted");
	assert_null(fake_subjects_find(id));
	assert_false(photo_exists(name));
}

/* ---- photos ---- */

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J',
				     'F', 'I', 'F', 0, 1, 2, 3, 4, 5};
static const unsigned char PNG[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A,
				    0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
static const unsigned char GIF[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};

static void upload(const char *id, const char *filename, const void *data,
		   size_t len)
{
	struct http_form f;
	char url[160];

	http_form_init(&f);
	assert_int_equal(http_form_add(&f, "csrf", CSRF_A, 64, true), 0);
	assert_int_equal(http_form_add(&f, "action", "upload", 6, true), 0);
	assert_int_equal(http_form_add_file(&f, "photo", filename, "image/gif",
					    data, len, true),
			 0);
	snprintf(url, sizeof(url), "/subjects/%s/photo", id);
	send_form("POST", url, &f);
	http_form_free(&f);
}

static void photo_checked_by_content_stored_and_served(void **st)
{
	char url[160], first[80], path[512];
	struct keryu_subject *s;
	unsigned char *big;
	const char *id;
	struct stat sb;

	(void)st;
	id = create();
	s = fake_subjects_find(id);

	/* a GIF named .jpg: refused, nothing written */
	upload(id, "me.jpg", GIF, sizeof(GIF));
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "Only JPEG and PNG"));
	assert_int_equal(photo_files(), 0);
	assert_int_equal(fake_subjects_state.photo_sets, 0);

	/* over photo_max_bytes (4096 here): 413, nothing written */
	big = calloc(1, 5000);
	memcpy(big, JPEG, sizeof(JPEG));
	upload(id, "big.jpg", big, 5000);
	free(big);
	assert_int_equal(resp.status, 413);
	assert_non_null(strstr(body(), "too large"));
	assert_int_equal(photo_files(), 0);

	/* JPEG bytes named .png: taken as the JPEG it is */
	upload(id, "../../etc/passwd.png", JPEG, sizeof(JPEG));
	assert_int_equal(resp.status, 303);
	assert_true(http_photo_name_valid(s->photo));
	assert_string_equal(s->photo + 32, ".jpg");
	assert_true(photo_exists(s->photo));
	snprintf(path, sizeof(path), "%s/%s", photo_dir, s->photo);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal((size_t)sb.st_size, sizeof(JPEG));
	assert_int_equal(photo_files(), 1);
	snprintf(first, sizeof(first), "%s", s->photo);

	snprintf(url, sizeof(url), "/subjects/%s/photo/image", id);
	get(url);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "image/jpeg");
	assert_true(resp.no_store);
	assert_int_equal(resp.body.len, sizeof(JPEG));
	assert_memory_equal(resp.body.buf, JPEG, sizeof(JPEG));

	/* replaced by a PNG: the old file goes */
	upload(id, "x.gif", PNG, sizeof(PNG));
	assert_int_equal(resp.status, 303);
	assert_string_equal(s->photo + 32, ".png");
	assert_false(photo_exists(first));
	assert_int_equal(photo_files(), 1);
	get(url);
	assert_string_equal(resp.content_type, "image/png");

	/* removed */
	snprintf(first, sizeof(first), "%s", s->photo);
	snprintf(url, sizeof(url), "/subjects/%s/photo", id);
	post(url, "action=remove");
	assert_int_equal(resp.status, 303);
	assert_string_equal(s->photo, "");
	assert_false(photo_exists(first));
	assert_int_equal(photo_files(), 0);
	snprintf(url, sizeof(url), "/subjects/%s/photo/image", id);
	get(url);
	assert_int_equal(resp.status, 404);
}

static void photo_paths_only_from_valid_stored_names(void **st)
{
	char url[160];
	struct keryu_subject *s;
	const char *id;
	FILE *f;

	(void)st;
	assert_true(http_photo_name_valid("0123456789abcdef0123456789abcdef.jpg"));
	assert_true(http_photo_name_valid("0123456789abcdef0123456789abcdef.png"));
	assert_false(http_photo_name_valid("0123456789ABCDEF0123456789abcdef.jpg"));
	assert_false(http_photo_name_valid("0123456789abcdef0123456789abcde.jpg"));
	assert_false(http_photo_name_valid("0123456789abcdef0123456789abcdef.gif"));
	assert_false(http_photo_name_valid("../3456789abcdef0123456789abcdef.jpg"));
	assert_false(http_photo_name_valid("0123456789abcdef0123456789abcdef.jpg/"));
	assert_false(http_photo_name_valid(""));
	assert_false(http_photo_name_valid(NULL));

	/* a stored name that is not ours is neither served nor removed */
	id = create();
	s = fake_subjects_find(id);
	f = fopen("/tmp/keryu-not-a-photo.jpg", "w");
	assert_non_null(f);
	fputs("secret", f);
	fclose(f);
	snprintf(s->photo, sizeof(s->photo), "../keryu-not-a-photo.jpg");
	snprintf(url, sizeof(url), "/subjects/%s/photo/image", id);
	get(url);
	assert_int_equal(resp.status, 404);
	assert_null(strstr(body(), "secret"));
	snprintf(url, sizeof(url), "/subjects/%s/photo", id);
	post(url, "action=remove");
	assert_int_equal(resp.status, 303);
	assert_int_equal(access("/tmp/keryu-not-a-photo.jpg", F_OK), 0);
	unlink("/tmp/keryu-not-a-photo.jpg");
}

/* ---- contacts ---- */

static const char *last_code(void)
{
	static struct keryu_notify_event ev;
	const struct fake_pub *p = fake_host_pub(fake_host_pub_count() - 1);

	assert_non_null(p);
	assert_int_equal(keryu_notify_event_decode(p->payload, p->len, &ev), 0);
	return ev.params[0];
}

static void contacts_add_verify_reorder_delete(void **st)
{
	struct keryu_contact list[8];
	char url[200], form[64], cid[KERYU_UUID_LEN];
	const struct fake_pub *pub;
	struct keryu_notify_event ev;
	const char *id;

	(void)st;
	id = create();
	snprintf(url, sizeof(url), "/subjects/%s/contacts/", id);
	get(url);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "Ana A</strong> (you)"));
	assert_non_null(strstr(body(), "+16505551234"));
	/* the default [http] contact_channels, first one chosen; the
	 * fallback starts at None */
	assert_non_null(strstr(body(),
			       "<option value=\"whatsapp\" selected>WhatsApp"
			       "</option>\n<option value=\"sms\">SMS</option>"
			       "\n<option value=\"twilio\">WhatsApp (Twilio)"
			       "</option>\n<option value=\"log\">Log only "
			       "(testing)</option>\n</select>"));
	assert_non_null(strstr(body(), "name=\"fallback_channel\""));
	assert_non_null(strstr(body(), "Fallback channel"));
	assert_non_null(strstr(body(),
			       "<option value=\"\" selected>None</option>\n"
			       "<option value=\"whatsapp\">WhatsApp</option>"));

	/* bad input: every error, nothing added */
	snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
	post(url, "name=&phone=650+555&channel=pigeon");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "Enter the contact&#39;s name."));
	assert_non_null(strstr(body(), "Start the number with +"));
	assert_non_null(strstr(body(), "Choose how to alert them."));
	assert_non_null(strstr(body(), "value=\"650 555\""));
	post(url, "name=" EVIL_QS "&phone=&channel=sms");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "Enter the phone number."));
	assert_non_null(strstr(body(), "value=\"" EVIL_ESCAPED "\""));
	assert_null(strstr(body(), "<script>"));
	assert_int_equal(fake_subjects_state.contact_adds, 0);
	assert_int_equal(fake_accounts_state.code_issues, 0);

	/* added with the signup's normalisation; a code goes out for it */
	post(url, "name=Carl+C&phone=%2B44+(20)+7946-0000&channel=whatsapp"
		  "&fallback_channel=sms");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 1);
	snprintf(cid, sizeof(cid), "%s", list[0].id);
	assert_string_equal(list[0].phone, "+442079460000");
	assert_string_equal(list[0].channel, "whatsapp");
	assert_string_equal(list[0].fallback_channel, "sms");
	assert_false(list[0].verified);
	assert_string_equal(last_code_contact, cid);
	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/verify?sent=1", id,
		 cid);
	assert_string_equal(resp.location, url);
	pub = fake_host_pub(fake_host_pub_count() - 1);
	assert_non_null(pub);
	assert_string_equal(pub->topic, "keryu/v1/notify/log");
	assert_int_equal(keryu_notify_event_decode(pub->payload, pub->len, &ev),
			 0);
	assert_string_equal(ev.to, "+442079460000");
	assert_string_equal(ev.template_name, "keryu_verify_code");

	/* the verify page: wrong code, then the right one */
	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/verify", id, cid);
	get(url);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(), "+442079460000"));
	snprintf(form, sizeof(form), "code=%06d",
		 (atoi(last_code()) + 1) % 1000000);
	post(url, form);
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "That code is not right"));
	assert_false(fake_subjects_find_contact(cid)->verified);
	snprintf(form, sizeof(form), "code=%.6s", last_code());
	post(url, form);
	assert_int_equal(resp.status, 303);
	assert_true(fake_subjects_find_contact(cid)->verified);

	/* two more, then reorder */
	snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
	post(url, "name=Dan&phone=%2B16505550001&channel=sms");
	assert_int_equal(resp.status, 303);
	post(url, "name=Eve&phone=%2B16505550002&channel=log");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 3);
	assert_string_equal(list[2].name, "Eve");
	assert_string_equal(list[2].fallback_channel, "");
	snprintf(url, sizeof(url), "/subjects/%s/contacts/", id);
	get(url);
	assert_non_null(strstr(body(), "+442079460000 · WhatsApp · if that "
				       "fails: SMS · verified"));
	assert_non_null(strstr(body(), "+16505550002 · Log only (testing) · "
				       "not verified"));
	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/up", id,
		 list[2].id);
	post(url, "");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 3);
	assert_string_equal(list[1].name, "Eve");
	assert_string_equal(list[2].name, "Dan");
	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/down", id, cid);
	post(url, "");
	assert_int_equal(fake_subjects_contacts(id, list, 8), 3);
	assert_string_equal(list[0].name, "Eve");
	assert_string_equal(list[1].name, "Carl C");
	/* the first cannot go up: nothing changes */
	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/up", id,
		 list[0].id);
	post(url, "");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 3);
	assert_string_equal(list[0].name, "Eve");

	/* the custodian's line has no buttons; the others do */
	snprintf(url, sizeof(url), "/subjects/%s/contacts/", id);
	get(url);
	assert_null(strstr(body(), A->id));
	assert_non_null(strstr(body(), "aria-label=\"Remove Eve\""));

	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/delete", id, cid);
	post(url, "");
	assert_int_equal(resp.status, 303);
	assert_null(fake_subjects_find_contact(cid));
	assert_int_equal(fake_subjects_contacts(id, list, 8), 2);
}

/* Adding a contact or resending its code messages a phone: the custodian's
 * own phone must be verified first (else anyone could make Keryu text any
 * number). Nothing changes and nothing is sent. */
static void unverified_custodian_cannot_add_or_resend(void **st)
{
	struct keryu_contact list[8];
	char url[200];
	const char *id;
	size_t pubs;

	(void)st;
	id = create();
	snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
	post(url, "name=Carl&phone=%2B442079460000&channel=whatsapp");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 1);
	assert_int_equal(fake_accounts_state.code_issues, 1);

	A->phone_verified = false;
	pubs = fake_host_pub_count();
	post(url, "name=Dan&phone=%2B16505550001&channel=sms");
	assert_int_equal(resp.status, 403);
	assert_non_null(strstr(body(), "href=\"/account/verify\""));
	assert_int_equal(fake_subjects_contacts(id, list, 8), 1);
	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/verify/resend", id,
		 list[0].id);
	post(url, "");
	assert_int_equal(resp.status, 403);
	assert_non_null(strstr(body(), "href=\"/account/verify\""));
	assert_int_equal(fake_accounts_state.code_issues, 1);
	assert_int_equal(fake_host_pub_count(), pubs);
}

/* Add, delete, add again: each contact is new, but the custodian may cause
 * at most 10 code messages a day whatever the contact or purpose. */
static void contact_codes_capped_per_custodian(void **st)
{
	struct keryu_contact list[8];
	char url[200], sent[200];
	const char *id;
	size_t pubs;
	int i;

	(void)st;
	fake_accounts_state.rate_count = true;
	id = create();
	for (i = 0; i < 10; i++) {
		snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
		post(url, "name=Vic&phone=%2B442079460000&channel=whatsapp");
		assert_int_equal(resp.status, 303);
		assert_non_null(strstr(resp.location, "verify?sent=1"));
		assert_int_equal(fake_subjects_contacts(id, list, 8), 1);
		snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/delete",
			 id, list[0].id);
		post(url, "");
		assert_int_equal(resp.status, 303);
	}
	assert_int_equal(fake_accounts_state.code_issues, 10);
	snprintf(sent, sizeof(sent), "codes:acct:%s", A->id);
	assert_string_equal(fake_accounts_state.last_rate_key, sent);

	/* the 11th: no code row, nothing published */
	pubs = fake_host_pub_count();
	snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
	post(url, "name=Vic&phone=%2B442079460000&channel=whatsapp");
	assert_int_equal(resp.status, 303);
	assert_non_null(strstr(resp.location, "verify?sent=wait"));
	assert_int_equal(fake_subjects_contacts(id, list, 8), 1);
	snprintf(url, sizeof(url), "/subjects/%s/contacts/%s/verify/resend", id,
		 list[0].id);
	post(url, "");
	assert_int_equal(resp.status, 429);
	assert_true(resp.retry_after > 0);
	assert_int_equal(fake_accounts_state.code_issues, 10);
	assert_int_equal(fake_host_pub_count(), pubs);

	/* another custodian has a budget of their own */
	who = "B";
	id = create();
	snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
	post(url, "name=Vic&phone=%2B442079460000&channel=whatsapp");
	assert_non_null(strstr(resp.location, "verify?sent=1"));
	assert_int_equal(fake_accounts_state.code_issues, 11);
}

/* A channel that is not offered, or a fallback that is the channel
 * itself or not offered: a form error next to the field, the form
 * refilled, nothing added and no code sent. */
static void contact_channel_choices_checked(void **st)
{
	static const struct {
		const char *fields, *field, *error;
	} bad[] = {
		{"channel=email", "channel", "Choose how to alert them."},
		{"channel=", "channel", "Choose how to alert them."},
		{"channel=WhatsApp", "channel", "Choose how to alert them."},
		{"channel=sms&fallback_channel=sms", "fallback_channel",
		 "other than the first one, or None."},
		{"channel=sms&fallback_channel=pigeon", "fallback_channel",
		 "from the list, or None."},
		{"channel=sms&fallback_channel=a%2Fb", "fallback_channel",
		 "from the list, or None."},
	};
	struct keryu_contact list[8];
	char url[200], form[256];
	const char *id, *sel;
	size_t i, pubs;

	(void)st;
	id = create();
	snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
	pubs = fake_host_pub_count();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(form, sizeof(form),
			 "name=Carl&phone=%%2B16505550001&%s", bad[i].fields);
		post(url, form);
		assert_int_equal(resp.status, 400);
		assert_non_null(strstr(body(), bad[i].error));
		/* next to its own field */
		snprintf(form, sizeof(form), "f-%s-error\"", bad[i].field);
		assert_non_null(strstr(body(), form));
		assert_non_null(strstr(body(), "value=\"Carl\""));
	}
	/* the form keeps what was chosen when it is offered */
	post(url, "name=Carl&phone=%2B16505550001&channel=twilio"
		  "&fallback_channel=twilio");
	sel = strstr(body(), "<option value=\"twilio\" selected>");
	assert_non_null(sel); /* the channel */
	assert_non_null(strstr(sel + 1, "<option value=\"twilio\" "
					"selected>")); /* the fallback */
	assert_int_equal(fake_subjects_contacts(id, list, 8), 0);
	assert_int_equal(fake_subjects_state.contact_adds, 0);
	assert_int_equal(fake_accounts_state.code_issues, 0);
	assert_int_equal(fake_host_pub_count(), pubs);

	/* no fallback field at all (an older form) is None */
	post(url, "name=Carl&phone=%2B16505550001&channel=twilio");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 1);
	assert_string_equal(list[0].channel, "twilio");
	assert_string_equal(list[0].fallback_channel, "");
}

/* [http] contact_channels decides what is offered: an installation's own
 * channel (shown by its name) and nothing else. */
static void contact_channels_come_from_config(void **st)
{
	struct keryu_contact list[8];
	char url[200];
	const char *id;

	(void)st;
	assert_int_equal(ctx->n_contact_channels, 2);
	id = create();
	snprintf(url, sizeof(url), "/subjects/%s/contacts/", id);
	get(url);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(body(),
			       "<option value=\"testchan\" selected>testchan"
			       "</option>\n<option value=\"log\">Log only "
			       "(testing)</option>\n</select>"));
	assert_non_null(strstr(body(),
			       "<option value=\"\" selected>None</option>\n"
			       "<option value=\"testchan\">testchan</option>"));
	assert_null(strstr(body(), "whatsapp"));
	assert_null(strstr(body(), "WhatsApp (Twilio)"));

	snprintf(url, sizeof(url), "/subjects/%s/contacts/new", id);
	post(url, "name=Carl&phone=%2B16505550001&channel=whatsapp");
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(body(), "Choose how to alert them."));
	post(url, "name=Carl&phone=%2B16505550001&channel=log"
		  "&fallback_channel=sms");
	assert_int_equal(resp.status, 400);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 0);

	post(url, "name=Carl&phone=%2B16505550001&channel=testchan"
		  "&fallback_channel=log");
	assert_int_equal(resp.status, 303);
	assert_int_equal(fake_subjects_contacts(id, list, 8), 1);
	assert_string_equal(list[0].channel, "testchan");
	assert_string_equal(list[0].fallback_channel, "log");
	snprintf(url, sizeof(url), "/subjects/%s/contacts/", id);
	get(url);
	assert_non_null(strstr(body(), "+16505550001 · testchan · if that "
				       "fails: Log only (testing)"));
}

/* ---- another custodian's ids ---- */

static void foreign_ids_are_404_by_get_and_post(void **st)
{
	/* the path after /subjects/<id>/: before and after a contact id
	 * (NULL when the path has none) */
	static const char *const gets[][2] = {
		{"", NULL}, {"edit", NULL}, {"delete", NULL},
		{"privacy", NULL}, {"photo", NULL}, {"photo/image", NULL},
		{"contacts/", NULL}, {"contacts/", "/verify"}};
	static const char *const posts[][2] = {
		{"edit", NULL}, {"delete", NULL}, {"privacy", NULL},
		{"photo", NULL}, {"contacts/new", NULL},
		{"contacts/", "/delete"}, {"contacts/", "/up"},
		{"contacts/", "/down"}, {"contacts/", "/verify"},
		{"contacts/", "/verify/resend"}};
	struct keryu_subject *s, *mine;
	struct keryu_contact *c, *c2;
	char url[256], rest[128], name[80];
	int calls_before;
	size_t i;

	(void)st;
	s = fake_subjects_add(A->id, "Ana's own");
	snprintf(name, sizeof(name), "%s", "0123456789abcdef0123456789abcdef.jpg");
	snprintf(url, sizeof(url), "%s/%s", photo_dir, name);
	fclose(fopen(url, "w"));
	snprintf(s->photo, sizeof(s->photo), "%s", name);
	c = fake_subjects_add_contact(A->id, s->id, "Carl", "+16505550001");
	assert_non_null(c);
	mine = fake_subjects_add(B->id, "Bea's own");
	c2 = fake_subjects_add_contact(B->id, mine->id, "Dora", "+16505550002");
	assert_non_null(c2);

	who = "B";
	for (i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		snprintf(rest, sizeof(rest), "%s%s%s", gets[i][0],
			 gets[i][1] ? c->id : "",
			 gets[i][1] ? gets[i][1] : "");
		snprintf(url, sizeof(url), "/subjects/%s/%s", s->id, rest);
		get(url);
		assert_int_equal(resp.status, 404);
		assert_null(strstr(body(), "Ana"));
	}
	for (i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
		snprintf(rest, sizeof(rest), "%s%s%s", posts[i][0],
			 posts[i][1] ? c->id : "",
			 posts[i][1] ? posts[i][1] : "");
		snprintf(url, sizeof(url), "/subjects/%s/%s", s->id, rest);
		post(url, "confirm=1&name=X&date_of_birth=2015-04-30&gender=F"
			  "&phone=%2B16505550009&channel=sms&code=123456"
			  "&action=remove&pub_doctor=1");
		assert_int_equal(resp.status, 404);
		/* A's contact through B's own subject: still 404 */
		snprintf(url, sizeof(url), "/subjects/%s/%s", mine->id, rest);
		if (posts[i][1]) {
			post(url, "code=123456");
			assert_int_equal(resp.status, 404);
		}
	}
	/* an unknown uuid and a non-uuid alike */
	get("/subjects/5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d/");
	assert_int_equal(resp.status, 404);
	calls_before = fake_subjects_state.calls;
	get("/subjects/not-a-uuid/");
	assert_int_equal(resp.status, 404);
	assert_int_equal(fake_subjects_state.calls, calls_before);

	assert_int_equal(fake_subjects_state.changes, 0);
	assert_int_equal(fake_accounts_state.code_issues, 0);
	assert_int_equal(contact_checks, 0);
	assert_string_equal(s->name, "Ana's own");
	assert_int_equal(s->public_fields, KERYU_PUB_DEFAULT);
	assert_true(photo_exists(name));
	assert_non_null(fake_subjects_find_contact(c->id));

	/* and A still sees all of it */
	who = "A";
	snprintf(url, sizeof(url), "/subjects/%s/photo/image", s->id);
	get(url);
	assert_int_equal(resp.status, 200);
}

static void service_missing_is_503(void **st)
{
	(void)st;
	ctx->subjects = NULL;
	get("/subjects/");
	assert_int_equal(resp.status, 503);
	post("/subjects/new", FULL_FORM);
	assert_int_equal(resp.status, 503);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			routes_keep_the_scan_page_and_need_login, setup, teardown),
		cmocka_unit_test_setup_teardown(csrf_less_post_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			validation_shows_errors_and_refills_escaped, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			create_view_edit_with_script_in_every_field, setup,
			teardown),
		cmocka_unit_test_setup_teardown(edit_keeps_photo_and_privacy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(privacy_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(list_is_paginated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			delete_needs_confirmation_and_removes_the_photo, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			photo_checked_by_content_stored_and_served, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			photo_paths_only_from_valid_stored_names, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			contacts_add_verify_reorder_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(
			unverified_custodian_cannot_add_or_resend, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			contact_codes_capped_per_custodian, setup, teardown),
		cmocka_unit_test_setup_teardown(
			foreign_ids_are_404_by_get_and_post, setup, teardown),
		cmocka_unit_test_setup_teardown(contact_channel_choices_checked,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			contact_channels_come_from_config, setup_own_channels,
			teardown),
		cmocka_unit_test_setup_teardown(service_missing_is_503, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
