/* /api/v1/subjects and their emergency contacts. A custodian reaches
 * only their own rows (the subjects service is scoped); staff reach every
 * row through the owner the admin service names. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_api.h"
#include "http_subjects.h"

#define LIST_MAX 100

/* In the order of enum keryu_public_field's bits. */
static const char *const public_names[] = {
	"photo",      "first_name",	"full_name",
	"care_instructions",	  "medical_conditions", "allergies",
	"medications", "doctor",	"custodian_phone",    NULL,
};

static const char *const genders[] = {"M", "F", "O", "U", NULL};

struct subject_body {
	struct keryu_subject s; /* first: the offsets below fit s alone */
	bool missing;
};
_Static_assert(offsetof(struct subject_body, s) == 0,
	       "subject_json reads the fields at the table's offsets");

#define SB(field) offsetof(struct subject_body, s.field)
#define SZ(field) sizeof(((struct keryu_subject *)0)->field)
#define TEXT(n, max_, multi)                                                   \
	{.name = #n, .type = HTTP_API_TEXT, .nullable = true,                  \
	 .multiline = multi, .max = max_, .off = SB(n), .size = SZ(n)}

/* [0] is name (required on create), the rest in the spec's order; the
 * last two are PATCH only */
static const struct http_api_field subject_fields[] = {
	{.name = "name", .type = HTTP_API_TEXT, .min = 1, .max = 100,
	 .off = SB(name), .size = SZ(name)},
	{.name = "date_of_birth", .type = HTTP_API_DATE, .off = SB(date_of_birth),
	 .size = SZ(date_of_birth)},
	{.name = "gender", .type = HTTP_API_ENUM, .choices = genders,
	 .off = SB(gender), .size = SZ(gender)},
	TEXT(medical_conditions, 2000, true),
	TEXT(allergies, 2000, true),
	TEXT(medications, 2000, true),
	TEXT(care_instructions, 2000, true),
	TEXT(doctor_address, 2000, true),
	TEXT(doctor_name, 100, false),
	TEXT(doctor_speciality, 100, false),
	TEXT(doctor_phone, 128, false),
	{.name = "public_fields", .type = HTTP_API_NAMES,
	 .choices = public_names, .off = SB(public_fields),
	 .size = sizeof(unsigned)},
	{.name = "missing", .type = HTTP_API_BOOL,
	 .off = offsetof(struct subject_body, missing), .size = sizeof(bool)},
};

#define N_SUBJECT_FIELDS (sizeof(subject_fields) / sizeof(subject_fields[0]))
#define BIT(i) (1ul << (i))
#define F_PUBLIC BIT(N_SUBJECT_FIELDS - 2)
#define F_MISSING BIT(N_SUBJECT_FIELDS - 1)

static cJSON *public_json(unsigned bits)
{
	cJSON *a = cJSON_CreateArray();
	int i;

	for (i = 0; a && public_names[i]; i++)
		if (bits & (1u << i))
			cJSON_AddItemToArray(a,
					     cJSON_CreateString(public_names[i]));
	return a;
}

static cJSON *subject_json(const struct keryu_subject *s, const char *owner)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "custodian_id", owner);
	cJSON_AddStringToObject(o, "name", s->name);
	http_api_add_str(o, "date_of_birth", s->date_of_birth);
	http_api_add_str(o, "gender", s->gender);
	/* the text fields, from the table (after name, date and gender) */
	for (i = 3; i < N_SUBJECT_FIELDS - 2; i++)
		http_api_add_str(o, subject_fields[i].name,
				 (const char *)s + subject_fields[i].off);
	cJSON_AddItemToObject(o, "public_fields", public_json(s->public_fields));
	cJSON_AddBoolToObject(o, "is_active", s->is_active);
	cJSON_AddBoolToObject(o, "missing", s->missing);
	cJSON_AddBoolToObject(o, "has_photo", s->photo[0] != '\0');
	http_api_add_str(o, "created_at", s->created_at);
	http_api_add_str(o, "updated_at", s->updated_at);
	return o;
}

static cJSON *summary_json(const struct keryu_subject_summary *s,
			   const char *owner)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "custodian_id", owner);
	cJSON_AddStringToObject(o, "name", s->name);
	cJSON_AddBoolToObject(o, "is_active", s->is_active);
	cJSON_AddBoolToObject(o, "has_photo", s->has_photo);
	cJSON_AddNumberToObject(o, "active_tags", s->active_tags);
	cJSON_AddNumberToObject(o, "open_alarms", s->open_alarms);
	http_api_add_str(o, "last_alarm_at", s->last_alarm_at);
	return o;
}

/* The subjects service, or a 503 answer. */
static const struct keryu_subjects *service(struct http_api_call *c)
{
	if (!c->ctx->subjects)
		http_api_unavailable(c);
	return c->ctx->subjects;
}

void http_api_subjects_list(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	const struct keryu_admin *a = c->ctx->admin;
	const char *q = http_form_get(c->req->query, "q");
	struct http_api_errors e = {0};
	int offset, limit, total = 0, rc;
	cJSON *items;
	size_t n = 0, i;

	if (!sv)
		return;
	http_api_query_int(c->req->query, "offset", 0, 0, 1000000000, &offset,
			   &e);
	http_api_query_int(c->req->query, "limit", 20, 1, LIST_MAX, &limit, &e);
	if (q && !c->who.is_staff)
		http_api_error_add(&e, "q", "is for staff only");
	else if (q && strlen(q) > 254)
		http_api_error_add(&e, "q", "must be at most 254 bytes");
	if (e.n) {
		http_api_invalid(c->r, &e);
		return;
	}
	items = cJSON_CreateArray();
	if (c->who.is_staff) {
		struct keryu_admin_subject *rows;

		if (!a) {
			cJSON_Delete(items);
			http_api_unavailable(c);
			return;
		}
		rows = calloc((size_t)limit, sizeof(*rows));
		rc = rows ? a->subjects_all(a->self, q ? q : "", offset, rows,
					    (size_t)limit, &n, &total)
			  : KERYU_ENOMEM;
		for (i = 0; !rc && items && i < n; i++)
			cJSON_AddItemToArray(items,
					     summary_json(&rows[i].s,
							  rows[i].custodian_id));
		free(rows);
	} else {
		struct keryu_subject_summary *rows =
			calloc((size_t)limit, sizeof(*rows));

		rc = rows ? sv->subject_list(sv->self, c->who.id, offset, rows,
					     (size_t)limit, &n, &total)
			  : KERYU_ENOMEM;
		for (i = 0; !rc && items && i < n; i++)
			cJSON_AddItemToArray(items,
					     summary_json(&rows[i], c->who.id));
		free(rows);
	}
	http_api_list_reply(c, "http.api_subjects", rc, items, total, offset, limit);
}

/* Loads the subject of arg[0] for the caller into s and its owner. */
static bool subject_load(struct http_api_call *c, struct keryu_subject *s,
			 char owner[KERYU_UUID_LEN])
{
	const struct keryu_subjects *sv = service(c);
	int rc;

	if (!sv || !http_api_scope(c, KERYU_OWNED_SUBJECT, c->arg[0], owner))
		return false;
	rc = sv->subject_get(sv->self, owner, c->arg[0], s);
	if (rc) {
		http_api_fail(c, "http.api_subject", rc, NULL);
		return false;
	}
	return true;
}

/* The service refused values the checks here let through (the ids were
 * checked before): a 400, not the 404 an EINVAL means elsewhere. */
static void refused(struct http_api_call *c)
{
	http_api_problem(c->r, 400, "validation", "Invalid request",
			 "The values were not accepted.");
}

/* Reads the body into b; the date of birth is also checked against the
 * service's range so that a bad one is a field error, not a 404. */
static bool subject_read(struct http_api_call *c, struct subject_body *b,
			 unsigned long *present, bool create)
{
	struct http_api_errors e = {0};
	size_t n = create ? N_SUBJECT_FIELDS - 1 : N_SUBJECT_FIELDS;
	char today[11];
	time_t now = time(NULL);
	struct tm tm;

	http_api_json_read(c->body, subject_fields, n, b, &e, present);
	if (create && !(*present & BIT(0)))
		http_api_error_add(&e, "name", "is required");
	if (create && !(*present & BIT(1)))
		http_api_error_add(&e, "date_of_birth", "is required");
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if ((*present & BIT(1)) &&
	    (strcmp(b->s.date_of_birth, "1900-01-01") <= 0 ||
	     strcmp(b->s.date_of_birth, today) > 0))
		http_api_error_add(&e, "date_of_birth",
				   "must be after 1900-01-01 and not in the "
				   "future");
	if (e.n) {
		http_api_invalid(c->r, &e);
		return false;
	}
	return true;
}

/* "name,gender" for the audit: which fields were sent, never values. */
static void fields_summary(unsigned long present, char *out, size_t size)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < N_SUBJECT_FIELDS; i++) {
		if (!(present & BIT(i)))
			continue;
		o += (size_t)snprintf(out + o, size - o, "%s%s", o ? "," : "",
				      subject_fields[i].name);
		if (o >= size) {
			out[size - 1] = '\0';
			return;
		}
	}
}

void http_api_subject_create(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	struct subject_body *b = calloc(1, sizeof(*b));
	unsigned long present = 0;
	char id[KERYU_UUID_LEN], summary[256];
	int rc;

	if (!b) {
		http_api_unavailable(c);
		return;
	}
	if (!sv)
		goto out;
	b->s.public_fields = KERYU_PUB_DEFAULT;
	b->s.is_active = true;
	snprintf(b->s.gender, sizeof(b->s.gender), "U");
	if (!subject_read(c, b, &present, true))
		goto out;
	rc = sv->subject_create(sv->self, c->who.id, &b->s, id);
	if (!rc)
		rc = sv->subject_get(sv->self, c->who.id, id, &b->s);
	if (rc == KERYU_EINVAL) {
		refused(c);
		goto out;
	}
	if (rc) {
		http_api_fail(c, "http.api_subject_create", rc, NULL);
		goto out;
	}
	fields_summary(present, summary, sizeof(summary));
	http_api_audit(c, "subject.create", "subject", id, summary);
	snprintf(c->r->location, sizeof(c->r->location), "%ssubjects/%s",
		 HTTP_API_PREFIX, id);
	http_api_reply(c, 201, subject_json(&b->s, c->who.id));
out:
	free(b);
}

void http_api_subject_get(struct http_api_call *c)
{
	struct keryu_subject *s = calloc(1, sizeof(*s));
	char owner[KERYU_UUID_LEN];

	if (!s)
		http_api_unavailable(c);
	else if (subject_load(c, s, owner))
		http_api_reply(c, 200, subject_json(s, owner));
	free(s);
}

void http_api_subject_patch(struct http_api_call *c)
{
	const struct keryu_subjects *sv = c->ctx->subjects;
	struct subject_body *b = calloc(1, sizeof(*b));
	unsigned long present = 0;
	char owner[KERYU_UUID_LEN], summary[256];
	int rc = 0;

	if (!b) {
		http_api_unavailable(c);
		return;
	}
	if (!subject_load(c, &b->s, owner))
		goto out;
	b->missing = b->s.missing;
	if (!subject_read(c, b, &present, false))
		goto out;
	if (present & ~(F_PUBLIC | F_MISSING))
		rc = sv->subject_update(sv->self, owner, &b->s);
	if (!rc && (present & F_PUBLIC))
		rc = sv->subject_set_public(sv->self, owner, b->s.id,
					    b->s.public_fields);
	if (!rc && (present & F_MISSING))
		rc = sv->subject_set_missing(sv->self, owner, b->s.id,
					     b->missing);
	if (!rc)
		rc = sv->subject_get(sv->self, owner, c->arg[0], &b->s);
	if (rc == KERYU_EINVAL) {
		refused(c);
		goto out;
	}
	if (rc) {
		http_api_fail(c, "http.api_subject_update", rc, NULL);
		goto out;
	}
	if (present) {
		fields_summary(present, summary, sizeof(summary));
		http_api_audit(c, "subject.update", "subject", b->s.id,
			       summary);
	}
	http_api_reply(c, 200, subject_json(&b->s, owner));
out:
	free(b);
}

void http_api_subject_delete(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	char owner[KERYU_UUID_LEN], photo[80] = "";
	int rc;

	if (!sv || !http_api_scope(c, KERYU_OWNED_SUBJECT, c->arg[0], owner))
		return;
	rc = sv->subject_delete(sv->self, owner, c->arg[0], photo);
	if (rc) {
		http_api_fail(c, "http.api_subject_delete", rc, NULL);
		return;
	}
	http_photo_remove(c->ctx, photo);
	http_api_audit(c, "subject.delete", "subject", c->arg[0], NULL);
	http_api_no_content(c);
}

/* ---- contacts ---- */

static cJSON *contact_json(const struct keryu_contact *k)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", k->id);
	cJSON_AddStringToObject(o, "subject_id", k->subject_id);
	cJSON_AddStringToObject(o, "name", k->name);
	cJSON_AddStringToObject(o, "phone", k->phone);
	cJSON_AddStringToObject(o, "channel", k->channel);
	http_api_add_str(o, "fallback_channel", k->fallback_channel);
	cJSON_AddNumberToObject(o, "position", k->position);
	cJSON_AddBoolToObject(o, "verified", k->verified);
	return o;
}

/* The contacts of subject arg[0] (scoped) into out[KERYU_CONTACTS_MAX]. */
static bool contacts_load(struct http_api_call *c, char owner[KERYU_UUID_LEN],
			  struct keryu_contact *out, size_t *n)
{
	const struct keryu_subjects *sv = service(c);
	int rc;

	if (!sv || !http_api_scope(c, KERYU_OWNED_SUBJECT, c->arg[0], owner))
		return false;
	rc = sv->contact_list(sv->self, owner, c->arg[0], out,
			      KERYU_CONTACTS_MAX, n);
	if (rc) {
		http_api_fail(c, "http.api_contacts", rc, NULL);
		return false;
	}
	return true;
}

void http_api_contacts_list(struct http_api_call *c)
{
	struct keryu_contact k[KERYU_CONTACTS_MAX];
	char owner[KERYU_UUID_LEN];
	cJSON *o, *items;
	size_t n = 0, i;

	if (!contacts_load(c, owner, k, &n))
		return;
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; items && i < n; i++)
		cJSON_AddItemToArray(items, contact_json(&k[i]));
	http_api_reply(c, 200, o);
}

void http_api_contact_create(struct http_api_call *c)
{
	const struct keryu_subjects *sv = service(c);
	const struct http_ctx *ctx = c->ctx;
	const char *channels[HTTP_CHANNELS_MAX + 1];
	struct http_api_field f[] = {
		{.name = "name", .type = HTTP_API_TEXT, .required = true,
		 .min = 1, .max = 100, .off = offsetof(struct keryu_contact, name),
		 .size = sizeof(((struct keryu_contact *)0)->name)},
		{.name = "phone", .type = HTTP_API_PHONE, .required = true,
		 .off = offsetof(struct keryu_contact, phone),
		 .size = sizeof(((struct keryu_contact *)0)->phone)},
		{.name = "channel", .type = HTTP_API_ENUM, .required = true,
		 .choices = channels,
		 .off = offsetof(struct keryu_contact, channel),
		 .size = sizeof(((struct keryu_contact *)0)->channel)},
		{.name = "fallback_channel", .type = HTTP_API_ENUM,
		 .nullable = true, .choices = channels,
		 .off = offsetof(struct keryu_contact, fallback_channel),
		 .size = sizeof(((struct keryu_contact *)0)->fallback_channel)},
	};
	struct http_api_errors e = {0};
	struct keryu_contact in, k[KERYU_CONTACTS_MAX];
	char owner[KERYU_UUID_LEN], id[KERYU_UUID_LEN];
	size_t i, n = 0;
	int rc;

	if (!sv)
		return;
	for (i = 0; i < ctx->n_contact_channels; i++)
		channels[i] = ctx->contact_channel[i];
	channels[i] = NULL;
	memset(&in, 0, sizeof(in));
	http_api_json_read(c->body, f, sizeof(f) / sizeof(f[0]), &in, &e,
			   NULL);
	if (!e.n && in.fallback_channel[0] &&
	    strcmp(in.fallback_channel, in.channel) == 0)
		http_api_error_add(&e, "fallback_channel",
				   "must differ from channel");
	if (e.n) {
		http_api_invalid(c->r, &e);
		return;
	}
	if (!http_api_scope(c, KERYU_OWNED_SUBJECT, c->arg[0], owner))
		return;
	rc = sv->contact_add(sv->self, owner, c->arg[0], &in, id);
	if (!rc)
		rc = sv->contact_list(sv->self, owner, c->arg[0], k,
				      KERYU_CONTACTS_MAX, &n);
	if (rc == KERYU_EINVAL) {
		refused(c);
		return;
	}
	if (rc) {
		http_api_fail(c, "http.api_contact_add", rc,
			      "The subject already has the most emergency "
			      "contacts allowed (20).");
		return;
	}
	http_api_audit(c, "contact.create", "contact", id, NULL);
	for (i = 0; i < n; i++)
		if (strcmp(k[i].id, id) == 0) {
			http_api_reply(c, 201, contact_json(&k[i]));
			return;
		}
	http_api_not_found(c); /* deleted meanwhile */
}

void http_api_contact_delete(struct http_api_call *c)
{
	const struct keryu_subjects *sv = c->ctx->subjects;
	struct keryu_contact k[KERYU_CONTACTS_MAX];
	char owner[KERYU_UUID_LEN];
	size_t n = 0, i;
	int rc;

	if (!contacts_load(c, owner, k, &n))
		return;
	/* the contact must be this subject's, not just the custodian's */
	for (i = 0; i < n && strcmp(k[i].id, c->arg[1]) != 0; i++)
		;
	if (i == n) {
		http_api_not_found(c);
		return;
	}
	rc = sv->contact_delete(sv->self, owner, k[i].id);
	if (rc) {
		http_api_fail(c, "http.api_contact_delete", rc, NULL);
		return;
	}
	http_api_audit(c, "contact.delete", "contact", k[i].id, NULL);
	http_api_no_content(c);
}
