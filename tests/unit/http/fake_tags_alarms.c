#include "fake_tags_alarms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <keryu/module.h>

struct fake_tags_alarms_state fta;

static int enter(const char *custodian)
{
	fta.calls++;
	if (custodian)
		snprintf(fta.last_custodian, sizeof(fta.last_custodian), "%s",
			 custodian);
	return fta.rc;
}

static struct fta_subject *subject(const char *custodian, const char *id)
{
	int i;

	for (i = 0; i < fta.n_subjects; i++)
		if (strcmp(fta.subjects[i].custodian, custodian) == 0 &&
		    strcasecmp(fta.subjects[i].s.id, id) == 0)
			return &fta.subjects[i];
	return NULL;
}

static struct fta_tag *tag(const char *custodian, const char *uuid)
{
	int i;

	for (i = 0; i < fta.n_tags; i++)
		if ((!custodian ||
		     strcmp(fta.tags[i].custodian, custodian) == 0) &&
		    strcasecmp(fta.tags[i].t.uuid, uuid) == 0)
			return &fta.tags[i];
	return NULL;
}

static struct fta_alarm *alarm(const char *custodian, const char *id)
{
	int i;

	for (i = 0; i < fta.n_alarms; i++)
		if ((!custodian ||
		     strcmp(fta.alarms[i].custodian, custodian) == 0) &&
		    strcasecmp(fta.alarms[i].d.s.id, id) == 0)
			return &fta.alarms[i];
	return NULL;
}

static int f_subject_list(void *self, const char *custodian, int offset,
			  struct keryu_subject_summary *out, size_t max,
			  size_t *n, int *total)
{
	int i, rc = enter(custodian), seen = 0;

	(void)self;
	*n = 0;
	*total = 0;
	if (rc)
		return rc;
	for (i = 0; i < fta.n_subjects; i++) {
		if (strcmp(fta.subjects[i].custodian, custodian) != 0)
			continue;
		(*total)++;
		if (seen++ < offset || *n >= max)
			continue;
		out[(*n)++] = fta.subjects[i].s;
	}
	return 0;
}

static int f_subject_get(void *self, const char *custodian, const char *id,
			 struct keryu_subject *out)
{
	struct fta_subject *s;
	int rc = enter(custodian);

	(void)self;
	if (rc)
		return rc;
	s = subject(custodian, id);
	if (!s)
		return KERYU_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", s->s.id);
	snprintf(out->name, sizeof(out->name), "%s", s->s.name);
	out->is_active = s->s.is_active;
	return 0;
}

static int f_tag_create(void *self, const char *custodian,
			const char *subject_id, const char *code,
			struct keryu_tag *out)
{
	struct keryu_tag *t;
	char uuid[KERYU_UUID_LEN];
	int rc = enter(custodian);

	(void)self;
	fta.tag_creates++;
	snprintf(fta.last_code, sizeof(fta.last_code), "%s", code);
	if (rc)
		return rc;
	if (!subject(custodian, subject_id))
		return KERYU_ENOTFOUND;
	if (fta.conflicts > 0) {
		fta.conflicts--;
		return KERYU_ECONFLICT;
	}
	keryu_uuid_new(uuid);
	t = fta_add_tag(custodian, subject_id, uuid, code, false);
	if (!t)
		return KERYU_EIO;
	fta.changes++;
	*out = *t;
	return 0;
}

static int f_tag_list(void *self, const char *custodian,
		      const char *subject_id, struct keryu_tag *out,
		      size_t max, size_t *n)
{
	int i, rc = enter(custodian);

	(void)self;
	*n = 0;
	if (rc)
		return rc;
	if (!subject(custodian, subject_id))
		return KERYU_ENOTFOUND;
	for (i = fta.n_tags - 1; i >= 0 && *n < max; i--)
		if (strcmp(fta.tags[i].custodian, custodian) == 0 &&
		    strcasecmp(fta.tags[i].t.subject_id, subject_id) == 0)
			out[(*n)++] = fta.tags[i].t;
	return 0;
}

static int f_tag_get(void *self, const char *custodian, const char *uuid,
		     struct keryu_tag *out)
{
	struct fta_tag *t;
	int rc = enter(custodian);

	(void)self;
	if (rc)
		return rc;
	t = tag(custodian, uuid);
	if (!t)
		return KERYU_ENOTFOUND;
	*out = t->t;
	return 0;
}

static int f_tag_set_active(void *self, const char *custodian,
			    const char *uuid, bool active)
{
	struct fta_tag *t;
	int i, rc = enter(custodian);

	(void)self;
	if (rc)
		return rc;
	t = tag(custodian, uuid);
	if (!t)
		return KERYU_ENOTFOUND;
	if (active)
		for (i = 0; i < fta.n_tags; i++)
			if (strcmp(fta.tags[i].t.subject_id,
				   t->t.subject_id) == 0)
				fta.tags[i].t.is_active = false;
	t->t.is_active = active;
	fta.changes++;
	return 0;
}

static int f_tag_by_code(void *self, const char *code,
			 char uuid_out[KERYU_UUID_LEN])
{
	int i, rc = enter(NULL);

	(void)self;
	fta.by_code++;
	snprintf(fta.last_code, sizeof(fta.last_code), "%s", code);
	if (rc)
		return rc;
	for (i = 0; i < fta.n_tags; i++)
		if (strcasecmp(fta.tags[i].t.short_code, code) == 0) {
			memcpy(uuid_out, fta.tags[i].t.uuid, KERYU_UUID_LEN);
			return 0;
		}
	return KERYU_ENOTFOUND;
}

static bool matches(const struct fta_alarm *a, const char *custodian,
		    const struct keryu_alarm_filter *f)
{
	if (strcmp(a->custodian, custodian) != 0)
		return false;
	if (f->subject_id[0] && strcmp(a->d.s.subject_id, f->subject_id) != 0)
		return false;
	if (strcmp(f->state, "open") == 0 && a->d.s.resolved)
		return false;
	if (strcmp(f->state, "resolved") == 0 && !a->d.s.resolved)
		return false;
	if (f->from[0] && strncmp(a->d.s.scanned_at, f->from, 10) < 0)
		return false;
	if (f->to[0] && strncmp(a->d.s.scanned_at, f->to, 10) > 0)
		return false;
	return true;
}

/* Alarms are added oldest first; the list is newest first. */
static int f_alarm_list(void *self, const char *custodian,
			const struct keryu_alarm_filter *f,
			struct keryu_alarm_summary *out, size_t max,
			size_t *n, int *total)
{
	int i, rc = enter(custodian), seen = 0;

	(void)self;
	fta.alarm_lists++;
	fta.last_filter = *f;
	*n = 0;
	*total = 0;
	if (rc)
		return rc;
	if (f->offset < 0 || f->limit < 1 || f->limit > 100)
		return KERYU_EINVAL;
	for (i = fta.n_alarms - 1; i >= 0; i--) {
		if (!matches(&fta.alarms[i], custodian, f))
			continue;
		(*total)++;
		if (seen++ < f->offset || *n >= max || (int)*n >= f->limit)
			continue;
		out[(*n)++] = fta.alarms[i].d.s;
	}
	return 0;
}

static int f_alarm_get(void *self, const char *custodian, const char *id,
		       struct keryu_alarm_detail *out)
{
	struct fta_alarm *a;
	int rc = enter(custodian);

	(void)self;
	if (rc)
		return rc;
	a = alarm(custodian, id);
	if (!a)
		return KERYU_ENOTFOUND;
	*out = a->d;
	return 0;
}

static int f_alarm_timeline(void *self, const char *custodian,
			    const char *id, struct keryu_timeline_entry *out,
			    size_t max, size_t *n)
{
	struct fta_alarm *a;
	size_t i;
	int rc = enter(custodian);

	(void)self;
	*n = 0;
	if (rc)
		return rc;
	a = alarm(custodian, id);
	if (!a)
		return KERYU_ENOTFOUND;
	for (i = 0; i < a->n_tl && i < max; i++)
		out[(*n)++] = a->tl[i];
	return 0;
}

static int f_alarm_resolve(void *self, const char *custodian, const char *id,
			   const char *notes)
{
	struct fta_alarm *a;
	int rc = enter(custodian);

	(void)self;
	if (rc)
		return rc;
	a = alarm(custodian, id);
	if (!a)
		return KERYU_ENOTFOUND;
	if (strlen(notes) > 2000)
		return KERYU_EINVAL;
	if (a->d.s.resolved)
		return KERYU_ECONFLICT;
	a->d.s.resolved = true;
	snprintf(a->d.resolved_at, sizeof(a->d.resolved_at), "%s",
		 "2026-02-01T10:00:00.000Z");
	snprintf(a->d.resolution_notes, sizeof(a->d.resolution_notes), "%s",
		 notes);
	fta.changes++;
	return 0;
}

static int f_alarm_acknowledge(void *self, const char *custodian,
			       const char *id)
{
	struct fta_alarm *a;
	int rc = enter(custodian);

	(void)self;
	if (rc)
		return rc;
	a = alarm(custodian, id);
	if (!a)
		return KERYU_ENOTFOUND;
	if (a->d.acknowledged_at[0])
		return KERYU_ECONFLICT;
	snprintf(a->d.acknowledged_at, sizeof(a->d.acknowledged_at), "%s",
		 "2026-02-01T09:00:00.000Z");
	fta.changes++;
	fta.acks++;
	return 0;
}

static int f_dashboard(void *self, const char *custodian,
		       struct keryu_dashboard *out)
{
	int i, rc = enter(custodian);

	(void)self;
	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	for (i = 0; i < fta.n_subjects; i++)
		if (strcmp(fta.subjects[i].custodian, custodian) == 0)
			out->subjects++;
	for (i = 0; i < fta.n_tags; i++)
		if (strcmp(fta.tags[i].custodian, custodian) == 0 &&
		    fta.tags[i].t.is_active)
			out->active_tags++;
	for (i = 0; i < fta.n_alarms; i++)
		if (strcmp(fta.alarms[i].custodian, custodian) == 0 &&
		    !fta.alarms[i].d.s.resolved)
			out->open_alarms++;
	return 0;
}

const struct keryu_subjects fake_subjects_ta = {
	.struct_size = sizeof(struct keryu_subjects),
	.subject_list = f_subject_list,
	.subject_get = f_subject_get,
	.tag_create = f_tag_create,
	.tag_list = f_tag_list,
	.tag_get = f_tag_get,
	.tag_set_active = f_tag_set_active,
	.tag_by_code = f_tag_by_code,
	.alarm_list = f_alarm_list,
	.alarm_get = f_alarm_get,
	.alarm_timeline = f_alarm_timeline,
	.alarm_resolve = f_alarm_resolve,
	.alarm_acknowledge = f_alarm_acknowledge,
	.dashboard = f_dashboard,
};

void fake_tags_alarms_reset(void)
{
	memset(&fta, 0, sizeof(fta));
}

struct keryu_subject_summary *fta_add_subject(const char *custodian,
					      const char *id,
					      const char *name)
{
	struct fta_subject *s;

	if (fta.n_subjects >= FTA_SUBJECTS)
		return NULL;
	s = &fta.subjects[fta.n_subjects++];
	memset(s, 0, sizeof(*s));
	snprintf(s->custodian, sizeof(s->custodian), "%s", custodian);
	snprintf(s->s.id, sizeof(s->s.id), "%s", id);
	snprintf(s->s.name, sizeof(s->s.name), "%s", name);
	s->s.is_active = true;
	return &s->s;
}

struct keryu_tag *fta_add_tag(const char *custodian, const char *subject_id,
			      const char *uuid, const char *code, bool active)
{
	struct fta_tag *t;

	if (fta.n_tags >= FTA_TAGS)
		return NULL;
	t = &fta.tags[fta.n_tags++];
	memset(t, 0, sizeof(*t));
	snprintf(t->custodian, sizeof(t->custodian), "%s", custodian);
	snprintf(t->t.uuid, sizeof(t->t.uuid), "%s", uuid);
	snprintf(t->t.subject_id, sizeof(t->t.subject_id), "%s", subject_id);
	snprintf(t->t.short_code, sizeof(t->t.short_code), "%s", code);
	snprintf(t->t.created_at, sizeof(t->t.created_at), "%s",
		 "2026-01-01T09:00:00.000Z");
	t->t.is_active = active;
	return &t->t;
}

struct fta_alarm *fta_add_alarm(const char *custodian, const char *subject_id,
				const char *id, const char *scanned_at)
{
	struct fta_alarm *a;
	struct fta_subject *s = subject(custodian, subject_id);

	if (fta.n_alarms >= FTA_ALARMS)
		return NULL;
	a = &fta.alarms[fta.n_alarms++];
	memset(a, 0, sizeof(*a));
	snprintf(a->custodian, sizeof(a->custodian), "%s", custodian);
	snprintf(a->d.s.id, sizeof(a->d.s.id), "%s", id);
	snprintf(a->d.s.subject_id, sizeof(a->d.s.subject_id), "%s",
		 subject_id);
	snprintf(a->d.s.subject_name, sizeof(a->d.s.subject_name), "%s",
		 s ? s->s.name : "?");
	snprintf(a->d.s.scanned_at, sizeof(a->d.s.scanned_at), "%s",
		 scanned_at);
	snprintf(a->d.s.notification_status,
		 sizeof(a->d.s.notification_status), "%s", "DELIVERED");
	if (s)
		snprintf(s->s.last_alarm_at, sizeof(s->s.last_alarm_at), "%s",
			 scanned_at);
	return a;
}

const struct keryu_tag *fta_tag(const char *uuid)
{
	struct fta_tag *t = tag(NULL, uuid);

	return t ? &t->t : NULL;
}

const struct fta_alarm *fta_alarm(const char *id)
{
	return alarm(NULL, id);
}

/* ---- qr ---- */

static int q_scan_url(void *self, const char *uuid, char *buf, size_t size)
{
	(void)self;
	fta.qr_calls++;
	if (!keryu_uuid_valid(uuid))
		return KERYU_EINVAL;
	snprintf(buf, size, FAKE_QR_BASE "/subjects/qr/%s/scan/", uuid);
	return 0;
}

static int q_png(void *self, const char *text, unsigned char **out,
		 size_t *len)
{
	char *b;

	(void)self;
	fta.qr_calls++;
	snprintf(fta.qr_last_text, sizeof(fta.qr_last_text), "%s", text);
	if (asprintf(&b, "PNG:%s", text) < 0)
		return KERYU_ENOMEM;
	*out = (unsigned char *)b;
	*len = strlen(b);
	return 0;
}

static int q_svg(void *self, const char *text, char **out, size_t *len)
{
	(void)self;
	fta.qr_calls++;
	snprintf(fta.qr_last_text, sizeof(fta.qr_last_text), "%s", text);
	*out = strdup("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<svg xmlns=\"http://www.w3.org/2000/svg\" "
		      "viewBox=\"0 0 29 29\"><path d=\"M4 4h7v1h-7z\"/>"
		      "</svg>\n");
	if (!*out)
		return KERYU_ENOMEM;
	*len = strlen(*out);
	return 0;
}

const struct keryu_qr fake_qr = {
	.struct_size = sizeof(struct keryu_qr),
	.scan_url = q_scan_url,
	.png = q_png,
	.svg = q_svg,
};
