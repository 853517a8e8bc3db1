/* The "subjects" service: what a custodian manages — subjects, their
 * emergency contacts, QR tags and alarms — offered in-process by the
 * storage module.
 *
 * Every call that takes custodian_id is scoped to that custodian: a row
 * of anyone else's is KERYU_ENOTFOUND, exactly like a row that does not
 * exist, so no page can tell the two apart. Thread-safe. Returns 0 or:
 *   KERYU_ENOTFOUND  no such row for this custodian
 *   KERYU_ECONFLICT  a unique value is taken (a tag's short code), or
 *                    a limit is reached (KERYU_CONTACTS_MAX)
 *   KERYU_EINVAL     an argument failed validation; nothing was written
 *   KERYU_EIO        the database is unreachable; nothing was written
 * Out structs and arrays are caller-owned; nothing returned needs freeing.
 * Strings are UTF-8; "" stands for NULL/absent.
 */
#ifndef KERYU_SUBJECTS_H
#define KERYU_SUBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/events.h>

#define KERYU_SERVICE_SUBJECTS "subjects"

#define KERYU_TEXT_MAX 2001 /* long free-text fields: 2000 bytes + NUL */
#define KERYU_CONTACTS_MAX 20 /* emergency contacts per subject */
#define KERYU_SHORT_CODE_LEN 9 /* 8 characters + NUL */
/* Short codes use this alphabet: no 0/O, 1/I/L, U/V confusion. */
#define KERYU_SHORT_CODE_ALPHABET "23456789ABCDEFGHJKMNPQRSTWXYZ"

/* What the public scan page may show, chosen per subject. */
enum keryu_public_field {
	KERYU_PUB_PHOTO = 1u << 0,
	KERYU_PUB_FIRST_NAME = 1u << 1,
	KERYU_PUB_FULL_NAME = 1u << 2,
	KERYU_PUB_CARE = 1u << 3, /* care instructions */
	KERYU_PUB_MEDICAL = 1u << 4,
	KERYU_PUB_ALLERGIES = 1u << 5,
	KERYU_PUB_MEDICATIONS = 1u << 6,
	KERYU_PUB_DOCTOR = 1u << 7,
	KERYU_PUB_CUSTODIAN_PHONE = 1u << 8,
};
#define KERYU_PUB_DEFAULT                                                      \
	(KERYU_PUB_PHOTO | KERYU_PUB_FIRST_NAME | KERYU_PUB_CARE |             \
	 KERYU_PUB_ALLERGIES)
#define KERYU_PUB_ALL 0x1ffu

struct keryu_subject {
	char id[KERYU_UUID_LEN];
	char name[101];
	char date_of_birth[11]; /* YYYY-MM-DD */
	char gender[2];         /* M, F, O (other), U (undisclosed) */
	char medical_conditions[KERYU_TEXT_MAX];
	char allergies[KERYU_TEXT_MAX];
	char medications[KERYU_TEXT_MAX];
	char doctor_name[101];
	char doctor_phone[129];
	char doctor_address[KERYU_TEXT_MAX];
	char doctor_speciality[101];
	char care_instructions[KERYU_TEXT_MAX];
	char photo[80]; /* file name under the photo folder, "" for none */
	unsigned public_fields; /* enum keryu_public_field bits */
	bool is_active;
	bool missing; /* lost mode: reported missing by the custodian */
	char created_at[KERYU_TIME_LEN];
	char updated_at[KERYU_TIME_LEN];
};

/* One row of the subject list and the dashboard. */
struct keryu_subject_summary {
	char id[KERYU_UUID_LEN];
	char name[101];
	bool is_active;
	bool has_photo;
	int active_tags;
	int open_alarms;
	char last_alarm_at[KERYU_TIME_LEN]; /* "" when never scanned */
};

struct keryu_contact {
	char id[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	char name[101];
	char phone[32];   /* E.164 */
	/* a channel is any module subscribed to keryu/v1/notify/<name>:
	 * 1..31 of a-z, 0-9, _ and - (whatsapp, twilio, sms, log, ...) */
	char channel[32];
	/* tried when channel fails permanently; "" for none, else a name
	 * as above that differs from channel */
	char fallback_channel[32];
	int position; /* 1 first; the custodian is always before 1 */
	bool verified;
};

struct keryu_tag {
	char uuid[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	char short_code[KERYU_SHORT_CODE_LEN];
	bool is_active;
	char created_at[KERYU_TIME_LEN];
	char activated_at[KERYU_TIME_LEN];
	char last_used[KERYU_TIME_LEN]; /* last scan, "" when never */
};

struct keryu_alarm_summary {
	char id[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	char subject_name[101];
	char scanned_at[KERYU_TIME_LEN];
	char notification_status[16]; /* PENDING ... READ, FAILED, ERROR */
	bool resolved;
	bool has_location;
};

struct keryu_alarm_filter {
	char subject_id[KERYU_UUID_LEN]; /* "" for every subject */
	char state[16];   /* "", "open" or "resolved" */
	char from[11];    /* YYYY-MM-DD inclusive, "" for no bound (UTC) */
	char to[11];      /* YYYY-MM-DD inclusive, "" for no bound (UTC) */
	int offset;       /* >= 0 */
	int limit;        /* 1..100 */
};

struct keryu_alarm_detail {
	struct keryu_alarm_summary s;
	char qr_uuid[KERYU_UUID_LEN]; /* "" when the tag was deleted */
	char location[101];            /* free text, "" when none */
	double latitude, longitude, accuracy_m; /* valid when s.has_location */
	char resolved_at[KERYU_TIME_LEN];
	char resolution_notes[KERYU_TEXT_MAX];
	char acknowledged_at[KERYU_TIME_LEN]; /* "" when not acknowledged */
	char joined_alarm_id[KERYU_UUID_LEN]; /* "" unless this scan came
					       * within the cooldown of
					       * that open alarm */
};

/* One step of an alarm's delivery, oldest first: a notification's status
 * change (status PENDING ... READ, FAILED, ERROR), or an alarm-level step
 * (status ESCALATED: the next recipient was alerted, notification_id names
 * their notification and error_text says why, e.g. "not delivered in
 * 120 s"; FALLBACK: the same person on their fallback channel; EXHAUSTED:
 * nobody left to alert; ACKNOWLEDGED: by link or on the alarm page;
 * RETRIED: staff retried a failed notification, notification_id names the
 * retry). */
struct keryu_timeline_entry {
	char at[KERYU_TIME_LEN];
	char notification_id[KERYU_UUID_LEN];
	char channel[16];
	char recipient_hint[8]; /* last 4 digits of the phone, e.g. "1234" */
	char status[16];
	int attempt;
	char provider_message_id[256];
	char error_code[32];
	char error_text[512];
};

/* One row of the staff export (alarms_export); "" for a NULL column. */
struct keryu_alarm_export {
	char id[KERYU_UUID_LEN];
	char scanned_at[KERYU_TIME_LEN];
	char subject_id[KERYU_UUID_LEN];
	char notification_status[16];
	char acknowledged_at[KERYU_TIME_LEN];
	char resolved_at[KERYU_TIME_LEN];
	char joined_alarm_id[KERYU_UUID_LEN];
};

struct keryu_dashboard {
	int subjects;
	int active_tags;
	int open_alarms;
};

/* The statistics page's figures (stats): UTC days, oldest first. */
#define KERYU_STATS_DAYS_MAX 90
#define KERYU_STATS_CHANNELS_MAX 16

struct keryu_stats {
	int days;                 /* as asked: 7, 30 or 90 */
	char first_day[11];       /* YYYY-MM-DD of per_day[0] (UTC) */
	int per_day[KERYU_STATS_DAYS_MAX]; /* alarms scanned that day */
	int alarms;               /* sum of per_day */
	/* seconds from scan to the first delivered 'alert' notification,
	 * and to acknowledgement; n counts the alarms measured (the
	 * figures are 0 when n is 0) */
	int delivered_n, acknowledged_n;
	double delivered_median_s, delivered_p90_s;
	double acknowledged_median_s, acknowledged_p90_s;
	/* 'alert' notifications in a final state (DELIVERED, READ or
	 * FAILED) per channel, by name; the rest are left out */
	size_t n_channels;
	struct keryu_stats_channel {
		char channel[32];
		int final;     /* in a final state */
		int delivered; /* of which DELIVERED or READ */
	} channel[KERYU_STATS_CHANNELS_MAX];
};

/* One alarm of the statistics CSV; "" for a NULL column. */
struct keryu_stats_row {
	char id[KERYU_UUID_LEN];
	char scanned_at[KERYU_TIME_LEN];
	char subject_name[101];
	char notification_status[16];
	char acknowledged_at[KERYU_TIME_LEN];
	char resolved_at[KERYU_TIME_LEN];
};

struct keryu_subjects {
	uint32_t struct_size;
	void *self;

	/* ---- subjects ---- */
	/* Newest first. *total is the count of all the custodian's
	 * subjects; at most max rows from offset are written to out. */
	int (*subject_list)(void *self, const char *custodian_id, int offset,
			    struct keryu_subject_summary *out, size_t max,
			    size_t *n, int *total);
	int (*subject_get)(void *self, const char *custodian_id,
			   const char *id, struct keryu_subject *out);
	/* Creates from in (id, photo, times ignored); fills id_out. */
	int (*subject_create)(void *self, const char *custodian_id,
			      const struct keryu_subject *in,
			      char id_out[KERYU_UUID_LEN]);
	/* Replaces every field but id, photo, public fields and times. */
	int (*subject_update)(void *self, const char *custodian_id,
			      const struct keryu_subject *in);
	/* Deletes the subject with its contacts, tags and alarms. Fills
	 * photo_out with the photo's file name so the caller removes it. */
	int (*subject_delete)(void *self, const char *custodian_id,
			      const char *id, char photo_out[80]);
	/* Sets the photo's file name ("" removes it); fills old_out with
	 * the previous one so the caller removes that file. */
	int (*subject_set_photo)(void *self, const char *custodian_id,
				 const char *id, const char *photo,
				 char old_out[80]);

	/* ---- emergency contacts ---- */
	/* By position, each with its fallback_channel ("" for none). */
	int (*contact_list)(void *self, const char *custodian_id,
			    const char *subject_id, struct keryu_contact *out,
			    size_t max, size_t *n);
	/* Appends a contact (unverified) after the others, with in's name,
	 * phone, channel and fallback_channel; fills id_out ("" on failure).
	 * EINVAL for a bad field (a channel not of the form above, or a
	 * fallback equal to the channel), ENOTFOUND when the subject is not
	 * the custodian's, ECONFLICT when it already has KERYU_CONTACTS_MAX;
	 * nothing is written on failure. Which channels a custodian may pick
	 * is the caller's policy (http's contact_channels). */
	int (*contact_add)(void *self, const char *custodian_id,
			   const char *subject_id,
			   const struct keryu_contact *in,
			   char id_out[KERYU_UUID_LEN]);
	int (*contact_delete)(void *self, const char *custodian_id,
			      const char *contact_id);
	/* Swaps the contact with its neighbour: delta -1 (up) or +1. */
	int (*contact_move)(void *self, const char *custodian_id,
			    const char *contact_id, int delta);

	/* ---- QR tags ---- */
	/* Creates an inactive tag with a new uuid and the given short code
	 * (the caller draws it from KERYU_SHORT_CODE_ALPHABET and retries on
	 * ECONFLICT). */
	int (*tag_create)(void *self, const char *custodian_id,
			  const char *subject_id, const char *short_code,
			  struct keryu_tag *out);
	/* Newest first. */
	int (*tag_list)(void *self, const char *custodian_id,
			const char *subject_id, struct keryu_tag *out,
			size_t max, size_t *n);
	int (*tag_get)(void *self, const char *custodian_id, const char *uuid,
		       struct keryu_tag *out);
	/* Activating a tag deactivates the subject's others, atomically. */
	int (*tag_set_active)(void *self, const char *custodian_id,
			      const char *uuid, bool active);
	/* Public: the tag with this short code (any case), active or not. */
	int (*tag_by_code)(void *self, const char *short_code,
			   char uuid_out[KERYU_UUID_LEN]);

	/* ---- alarms ---- */
	/* Newest first, filtered; *total counts every match. */
	int (*alarm_list)(void *self, const char *custodian_id,
			  const struct keryu_alarm_filter *f,
			  struct keryu_alarm_summary *out, size_t max,
			  size_t *n, int *total);
	int (*alarm_get)(void *self, const char *custodian_id, const char *id,
			 struct keryu_alarm_detail *out);
	/* Every notification event of the alarm, oldest first. */
	int (*alarm_timeline)(void *self, const char *custodian_id,
			      const char *alarm_id,
			      struct keryu_timeline_entry *out, size_t max,
			      size_t *n);
	/* Marks it resolved with notes (0..2000 bytes). ECONFLICT when it
	 * already is. */
	int (*alarm_resolve)(void *self, const char *custodian_id,
			     const char *id, const char *notes);
	/* The custodian acknowledges it from the alarm page ("I'm on my
	 * way"): escalation stops. ECONFLICT when it already is. */
	int (*alarm_acknowledge)(void *self, const char *custodian_id,
				 const char *id);

	int (*dashboard)(void *self, const char *custodian_id,
			 struct keryu_dashboard *out);

	/* Lost mode: marks the subject missing (every scan then alerts,
	 * with no cooldown, and the scan page asks the finder to stay with
	 * them and share their location) or found again. */
	int (*subject_set_missing)(void *self, const char *custodian_id,
				   const char *id, bool missing);
	/* Sets only the subject's public fields (enum keryu_public_field
	 * bits), so a concurrent edit of its other fields is not undone.
	 * EINVAL for bits outside KERYU_PUB_ALL. */
	int (*subject_set_public)(void *self, const char *custodian_id,
				  const char *id, unsigned public_fields);

	/* Staff export, NOT scoped to a custodian: the keryu CLI's, never a
	 * page's. Every alarm scanned in [since, until] (YYYY-MM-DD, UTC days,
	 * inclusive; NULL or "" for no bound), oldest first by (scanned_at,
	 * id), starting after the alarm after_id (NULL or "": from the first),
	 * at most max into out: the caller pages with the last row's id.
	 * EINVAL for a bad date or id, ENOTFOUND when after_id names no
	 * alarm (deleted meanwhile). */
	int (*alarms_export)(void *self, const char *since, const char *until,
			     const char *after_id,
			     struct keryu_alarm_export *out, size_t max,
			     size_t *n);

	/* Statistics of the alarms scanned in the last days UTC days (7, 30
	 * or 90, today included) of custodian_id's subjects, or of everyone's
	 * when custodian_id is NULL: the caller checks the session is staff
	 * (keryu_custodian.is_staff) before passing NULL. When out is not
	 * NULL it gets the figures. When rows is not NULL (max > 0) it gets
	 * at most max of those alarms, oldest first by (scanned_at, id),
	 * starting after the alarm after_id (NULL or "": from the first);
	 * the caller pages with the last row's id. EINVAL for bad days, ids
	 * or neither out nor rows; ENOTFOUND when after_id names no alarm in
	 * scope. More than KERYU_STATS_CHANNELS_MAX channels: the first by
	 * name are kept. */
	int (*stats)(void *self, const char *custodian_id, int days,
		     struct keryu_stats *out, const char *after_id,
		     struct keryu_stats_row *rows, size_t max, size_t *n);

	void *reserved[15];
};

#endif
