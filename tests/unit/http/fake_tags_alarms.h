/* A fake subjects service (the subject, tag, alarm and dashboard calls the
 * tag and alarm pages use) and a fake qr service for the http tests. Rows
 * live in memory with their custodian, so a test can check that a
 * custodian never reaches another's rows; every call that changes
 * something is counted, so a refused request can be shown to have
 * changed nothing. */
#ifndef KERYU_TEST_HTTP_FAKE_TAGS_ALARMS_H
#define KERYU_TEST_HTTP_FAKE_TAGS_ALARMS_H

#include <stdbool.h>

#include <keryu/qr.h>
#include <keryu/subjects.h>

#define FTA_SUBJECTS 8
#define FTA_TAGS 16
#define FTA_ALARMS 64
#define FTA_TIMELINE 8

struct fta_subject {
	char custodian[KERYU_UUID_LEN];
	struct keryu_subject_summary s;
};

struct fta_tag {
	char custodian[KERYU_UUID_LEN];
	struct keryu_tag t;
};

struct fta_alarm {
	char custodian[KERYU_UUID_LEN];
	struct keryu_alarm_detail d;
	struct keryu_timeline_entry tl[FTA_TIMELINE];
	size_t n_tl;
};

struct fake_tags_alarms_state {
	struct fta_subject subjects[FTA_SUBJECTS];
	int n_subjects;
	struct fta_tag tags[FTA_TAGS];
	int n_tags;
	struct fta_alarm alarms[FTA_ALARMS];
	int n_alarms;
	int rc;            /* when non-zero, every call returns it */
	int conflicts;     /* tag_create answers ECONFLICT this many times */
	/* counters */
	int calls, changes; /* every call; calls that changed a row */
	int tag_creates, alarm_lists, by_code, acks;
	char last_code[16];
	struct keryu_alarm_filter last_filter;
	char last_custodian[KERYU_UUID_LEN];
	/* qr */
	int qr_calls;
	char qr_last_text[512];
};

extern struct fake_tags_alarms_state fta;
extern const struct keryu_subjects fake_subjects_ta;
extern const struct keryu_qr fake_qr;

void fake_tags_alarms_reset(void);
struct keryu_subject_summary *fta_add_subject(const char *custodian,
					      const char *id,
					      const char *name);
struct keryu_tag *fta_add_tag(const char *custodian, const char *subject,
			      const char *uuid, const char *code, bool active);
/* scanned_at "2026-01-02T03:04:05.000Z"-like; returns the detail. */
struct fta_alarm *fta_add_alarm(const char *custodian, const char *subject,
				const char *id, const char *scanned_at);
const struct keryu_tag *fta_tag(const char *uuid);
const struct fta_alarm *fta_alarm(const char *id);

/* The fake qr renders "PNG:<text>" and an SVG of viewBox 0 0 29 29. */
#define FAKE_QR_BASE "http://keryu.test"

#endif
