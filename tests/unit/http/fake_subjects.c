#include "fake_subjects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct fake_subjects_state fake_subjects_state;

#define S (&fake_subjects_state)

static struct fs_subject *subj(const char *custodian, const char *id)
{
	int i;

	for (i = 0; i < FS_SUBJECTS; i++)
		if (S->subjects[i].used &&
		    strcasecmp(S->subjects[i].s.id, id) == 0 &&
		    (!custodian ||
		     strcmp(S->subjects[i].custodian, custodian) == 0))
			return &S->subjects[i];
	return NULL;
}

static struct fs_contact *cont(const char *custodian, const char *id)
{
	int i;

	for (i = 0; i < FS_CONTACTS; i++)
		if (S->contacts[i].used &&
		    strcasecmp(S->contacts[i].c.id, id) == 0 &&
		    (!custodian ||
		     strcmp(S->contacts[i].custodian, custodian) == 0))
			return &S->contacts[i];
	return NULL;
}

static int begin(const char *custodian)
{
	S->calls++;
	snprintf(S->last_custodian, sizeof(S->last_custodian), "%s",
		 custodian ? custodian : "");
	return S->rc;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct fs_subject *x = *(const struct fs_subject *const *)a;
	const struct fs_subject *y = *(const struct fs_subject *const *)b;

	return y->seq - x->seq;
}

static int fs_list(void *self, const char *custodian, int offset,
		   struct keryu_subject_summary *out, size_t max, size_t *n,
		   int *total)
{
	struct fs_subject *all[FS_SUBJECTS];
	int i, k = 0, rc = begin(custodian);

	(void)self;
	*n = 0;
	*total = 0;
	if (rc)
		return rc;
	for (i = 0; i < FS_SUBJECTS; i++)
		if (S->subjects[i].used &&
		    strcmp(S->subjects[i].custodian, custodian) == 0)
			all[k++] = &S->subjects[i];
	qsort(all, (size_t)k, sizeof(all[0]), cmp_seq);
	*total = k;
	for (i = offset; i < k && *n < max; i++) {
		struct keryu_subject_summary *o = &out[(*n)++];

		memset(o, 0, sizeof(*o));
		memcpy(o->id, all[i]->s.id, sizeof(o->id));
		memcpy(o->name, all[i]->s.name, sizeof(o->name));
		o->is_active = all[i]->s.is_active;
		o->has_photo = all[i]->s.photo[0] != '\0';
	}
	return 0;
}

static int fs_get(void *self, const char *custodian, const char *id,
		  struct keryu_subject *out)
{
	struct fs_subject *f;
	int rc = begin(custodian);

	(void)self;
	if (rc)
		return rc;
	f = subj(custodian, id);
	if (!f)
		return KERYU_ENOTFOUND;
	*out = f->s;
	return 0;
}

static void copy_fields(struct keryu_subject *dst,
			const struct keryu_subject *in)
{
	char id[KERYU_UUID_LEN], photo[80];

	memcpy(id, dst->id, sizeof(id));
	memcpy(photo, dst->photo, sizeof(photo));
	*dst = *in;
	memcpy(dst->id, id, sizeof(id));
	memcpy(dst->photo, photo, sizeof(photo));
}

static int fs_create(void *self, const char *custodian,
		     const struct keryu_subject *in, char id_out[KERYU_UUID_LEN])
{
	int i, rc = begin(custodian);

	(void)self;
	if (rc)
		return rc;
	if (!in->name[0] || !in->date_of_birth[0] || !in->gender[0])
		return KERYU_EINVAL;
	for (i = 0; i < FS_SUBJECTS; i++) {
		struct fs_subject *f = &S->subjects[i];

		if (f->used)
			continue;
		memset(f, 0, sizeof(*f));
		f->used = true;
		f->seq = ++S->seq;
		snprintf(f->custodian, sizeof(f->custodian), "%s", custodian);
		keryu_uuid_new(f->s.id);
		copy_fields(&f->s, in);
		memcpy(id_out, f->s.id, KERYU_UUID_LEN);
		S->creates++;
		S->changes++;
		return 0;
	}
	return KERYU_EIO;
}

static int fs_update(void *self, const char *custodian,
		     const struct keryu_subject *in)
{
	struct fs_subject *f;
	unsigned bits;
	int rc = begin(custodian);

	(void)self;
	if (rc)
		return rc;
	f = subj(custodian, in->id);
	if (!f)
		return KERYU_ENOTFOUND;
	/* like the real one: public fields are subject_set_public's */
	bits = f->s.public_fields;
	copy_fields(&f->s, in);
	f->s.public_fields = bits;
	S->updates++;
	S->changes++;
	return 0;
}

static int fs_set_public(void *self, const char *custodian, const char *id,
			 unsigned public_fields)
{
	struct fs_subject *f;
	int rc = begin(custodian);

	(void)self;
	if (rc)
		return rc;
	if (public_fields & ~KERYU_PUB_ALL)
		return KERYU_EINVAL;
	f = subj(custodian, id);
	if (!f)
		return KERYU_ENOTFOUND;
	f->s.public_fields = public_fields;
	S->public_sets++;
	S->changes++;
	return 0;
}

static int fs_set_missing(void *self, const char *custodian, const char *id,
			  bool missing)
{
	struct fs_subject *f;
	int rc = begin(custodian);

	(void)self;
	if (rc)
		return rc;
	f = subj(custodian, id);
	if (!f)
		return KERYU_ENOTFOUND;
	f->s.missing = missing;
	S->missing_sets++;
	S->changes++;
	return 0;
}

static int fs_delete(void *self, const char *custodian, const char *id,
		     char photo_out[80])
{
	struct fs_subject *f;
	int i, rc = begin(custodian);

	(void)self;
	photo_out[0] = '\0';
	if (rc)
		return rc;
	f = subj(custodian, id);
	if (!f)
		return KERYU_ENOTFOUND;
	memcpy(photo_out, f->s.photo, 80);
	for (i = 0; i < FS_CONTACTS; i++)
		if (S->contacts[i].used &&
		    strcmp(S->contacts[i].c.subject_id, f->s.id) == 0)
			S->contacts[i].used = false;
	f->used = false;
	S->deletes++;
	S->changes++;
	return 0;
}

static int fs_set_photo(void *self, const char *custodian, const char *id,
			const char *photo, char old_out[80])
{
	struct fs_subject *f;
	int rc = begin(custodian);

	(void)self;
	old_out[0] = '\0';
	if (rc)
		return rc;
	f = subj(custodian, id);
	if (!f)
		return KERYU_ENOTFOUND;
	memcpy(old_out, f->s.photo, 80);
	snprintf(f->s.photo, sizeof(f->s.photo), "%s", photo);
	S->photo_sets++;
	S->changes++;
	return 0;
}

int fake_subjects_contacts(const char *subject_id, struct keryu_contact *out,
			   int max)
{
	int i, n = 0, j;

	for (i = 0; i < FS_CONTACTS; i++)
		if (S->contacts[i].used &&
		    strcmp(S->contacts[i].c.subject_id, subject_id) == 0 &&
		    n < max)
			out[n++] = S->contacts[i].c;
	/* insertion sort by position */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && out[j - 1].position > out[j].position;
		     j--) {
			struct keryu_contact t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static int fs_contact_list(void *self, const char *custodian,
			   const char *subject_id, struct keryu_contact *out,
			   size_t max, size_t *n)
{
	int rc = begin(custodian);

	(void)self;
	*n = 0;
	if (rc)
		return rc;
	if (!subj(custodian, subject_id))
		return KERYU_ENOTFOUND;
	*n = (size_t)fake_subjects_contacts(subject_id, out, (int)max);
	return 0;
}

static int fs_contact_add(void *self, const char *custodian,
			  const char *subject_id,
			  const struct keryu_contact *in,
			  char id_out[KERYU_UUID_LEN])
{
	struct fs_subject *f;
	struct keryu_contact all[FS_CONTACTS];
	int i, n, rc = begin(custodian);

	(void)self;
	if (rc)
		return rc;
	f = subj(custodian, subject_id);
	if (!f)
		return KERYU_ENOTFOUND;
	/* like storage: any channel name, a fallback that is not the
	 * channel itself ("" for none) */
	if (!keryu_e164_valid(in->phone) || !in->name[0] || !in->channel[0] ||
	    strcmp(in->fallback_channel, in->channel) == 0)
		return KERYU_EINVAL;
	n = fake_subjects_contacts(f->s.id, all, FS_CONTACTS);
	if (n >= KERYU_CONTACTS_MAX)
		return KERYU_ECONFLICT;
	for (i = 0; i < FS_CONTACTS; i++) {
		struct fs_contact *c = &S->contacts[i];

		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->used = true;
		snprintf(c->custodian, sizeof(c->custodian), "%s", custodian);
		c->c = *in;
		keryu_uuid_new(c->c.id);
		memcpy(c->c.subject_id, f->s.id, KERYU_UUID_LEN);
		c->c.position = n ? all[n - 1].position + 1 : 1;
		c->c.verified = false;
		memcpy(id_out, c->c.id, KERYU_UUID_LEN);
		S->contact_adds++;
		S->changes++;
		return 0;
	}
	return KERYU_EIO;
}

static int fs_contact_delete(void *self, const char *custodian,
			     const char *contact_id)
{
	struct fs_contact *c;
	int rc = begin(custodian);

	(void)self;
	if (rc)
		return rc;
	c = cont(custodian, contact_id);
	if (!c)
		return KERYU_ENOTFOUND;
	c->used = false;
	S->contact_deletes++;
	S->changes++;
	return 0;
}

static int fs_contact_move(void *self, const char *custodian,
			   const char *contact_id, int delta)
{
	struct keryu_contact all[FS_CONTACTS];
	struct fs_contact *c, *o;
	int i, n, rc = begin(custodian), pos;

	(void)self;
	if (rc)
		return rc;
	c = cont(custodian, contact_id);
	if (!c)
		return KERYU_ENOTFOUND;
	n = fake_subjects_contacts(c->c.subject_id, all, FS_CONTACTS);
	for (i = 0; i < n; i++)
		if (strcmp(all[i].id, c->c.id) == 0)
			break;
	if (i + delta < 0 || i + delta >= n)
		return 0;
	o = cont(NULL, all[i + delta].id);
	pos = c->c.position;
	c->c.position = o->c.position;
	o->c.position = pos;
	S->contact_moves++;
	S->changes++;
	return 0;
}

static int fs_stats(void *self, const char *custodian, int days,
		    struct keryu_stats *out, const char *after_id,
		    struct keryu_stats_row *rows, size_t max, size_t *n)
{
	size_t i = 0, k = 0;

	(void)self;
	S->stats_calls++;
	S->stats_all = custodian == NULL;
	snprintf(S->last_custodian, sizeof(S->last_custodian), "%s",
		 custodian ? custodian : "");
	S->stats_days = days;
	if (S->rc)
		return S->rc;
	if (out) {
		*out = S->stats;
		out->days = days;
	}
	if (!rows)
		return 0;
	if (after_id && *after_id) {
		while (i < S->n_stats_rows &&
		       strcmp(S->stats_rows[i].id, after_id) != 0)
			i++;
		if (i == S->n_stats_rows)
			return KERYU_ENOTFOUND;
		i++;
	}
	for (; i < S->n_stats_rows && k < max; i++)
		rows[k++] = S->stats_rows[i];
	*n = k;
	return 0;
}

const struct keryu_subjects fake_subjects = {
	.struct_size = sizeof(struct keryu_subjects),
	.subject_list = fs_list,
	.subject_get = fs_get,
	.subject_create = fs_create,
	.subject_update = fs_update,
	.subject_delete = fs_delete,
	.subject_set_photo = fs_set_photo,
	.contact_list = fs_contact_list,
	.contact_add = fs_contact_add,
	.contact_delete = fs_contact_delete,
	.contact_move = fs_contact_move,
	.subject_set_public = fs_set_public,
	.subject_set_missing = fs_set_missing,
	.stats = fs_stats,
};

void fake_subjects_reset(void)
{
	memset(S, 0, sizeof(*S));
}

struct keryu_subject *fake_subjects_add(const char *custodian,
					const char *name)
{
	struct keryu_subject in;
	char id[KERYU_UUID_LEN];
	int calls = S->calls, changes = S->changes, creates = S->creates;

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "%s", name);
	snprintf(in.date_of_birth, sizeof(in.date_of_birth), "2015-04-30");
	snprintf(in.gender, sizeof(in.gender), "F");
	in.public_fields = KERYU_PUB_DEFAULT;
	in.is_active = true;
	if (fs_create(NULL, custodian, &in, id) != 0)
		return NULL;
	/* seeding is not a call the test counts */
	S->calls = calls;
	S->changes = changes;
	S->creates = creates;
	return fake_subjects_find(id);
}

struct keryu_subject *fake_subjects_find(const char *id)
{
	struct fs_subject *f = subj(NULL, id);

	return f ? &f->s : NULL;
}

struct keryu_contact *fake_subjects_add_contact(const char *custodian,
						const char *subject_id,
						const char *name,
						const char *phone)
{
	struct keryu_contact in;
	char id[KERYU_UUID_LEN];
	int calls = S->calls, changes = S->changes, adds = S->contact_adds;

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "%s", name);
	snprintf(in.phone, sizeof(in.phone), "%s", phone);
	snprintf(in.channel, sizeof(in.channel), "whatsapp");
	if (fs_contact_add(NULL, custodian, subject_id, &in, id) != 0)
		return NULL;
	S->calls = calls;
	S->changes = changes;
	S->contact_adds = adds;
	return fake_subjects_find_contact(id);
}

struct keryu_contact *fake_subjects_find_contact(const char *id)
{
	struct fs_contact *c = cont(NULL, id);

	return c ? &c->c : NULL;
}
