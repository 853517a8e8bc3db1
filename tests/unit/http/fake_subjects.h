/* A fake subjects service for the subjects pages' tests: subjects and
 * contacts in memory, each with its custodian, scoped like the real one
 * (anyone else's row is KERYU_ENOTFOUND). Every call that changes a row
 * is counted, so a refused request can be shown to have changed nothing. */
#ifndef KERYU_TEST_HTTP_FAKE_SUBJECTS_H
#define KERYU_TEST_HTTP_FAKE_SUBJECTS_H

#include <stdbool.h>

#include <keryu/module.h>
#include <keryu/subjects.h>

#define FS_SUBJECTS 160
#define FS_CONTACTS 32
#define FS_STATS_ROWS 1200

struct fs_subject {
	bool used;
	char custodian[KERYU_UUID_LEN];
	struct keryu_subject s;
	int seq; /* creation order: the list is newest first */
};

struct fs_contact {
	bool used;
	char custodian[KERYU_UUID_LEN];
	struct keryu_contact c;
};

struct fake_subjects_state {
	struct fs_subject subjects[FS_SUBJECTS];
	struct fs_contact contacts[FS_CONTACTS];
	int seq;
	int rc; /* when non-zero, every call returns it */
	int calls, changes;
	int creates, updates, deletes, photo_sets, public_sets,
		contact_adds, contact_deletes, contact_moves;
	int missing_sets; /* subject_set_missing */
	char last_custodian[KERYU_UUID_LEN];
	/* stats: what every call returns (the figures, and rows paged by
	 * after_id), and who the last call was for ("" with stats_all for
	 * NULL, everyone's) */
	struct keryu_stats stats;
	struct keryu_stats_row stats_rows[FS_STATS_ROWS];
	size_t n_stats_rows;
	int stats_calls;
	bool stats_all;
	int stats_days;
};

extern struct fake_subjects_state fake_subjects_state;
extern const struct keryu_subjects fake_subjects;

void fake_subjects_reset(void);
/* Adds a subject of custodian named name; returns it. */
struct keryu_subject *fake_subjects_add(const char *custodian,
					const char *name);
/* The subject with id (any custodian), or NULL. */
struct keryu_subject *fake_subjects_find(const char *id);
/* Adds a contact to subject_id of custodian; returns it. */
struct keryu_contact *fake_subjects_add_contact(const char *custodian,
						const char *subject_id,
						const char *name,
						const char *phone);
struct keryu_contact *fake_subjects_find_contact(const char *id);
/* The contacts of subject_id by position. */
int fake_subjects_contacts(const char *subject_id,
			   struct keryu_contact *out, int max);

#endif
