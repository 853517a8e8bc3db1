/* The "storage" service: Keryu's typed data access, offered in-process by
 * the storage module. Only storage talks to PostgreSQL.
 *
 * Get it with host->service(m, KERYU_SERVICE_STORAGE) after declaring
 * "storage" in the descriptor's requires. Every function is thread-safe
 * (a pool of connections), takes the interface's self as first argument,
 * and returns 0 or a negative KERYU_E* code:
 *   KERYU_ENOTFOUND  no such row
 *   KERYU_EINVAL     an argument failed validation (nothing was written)
 *   KERYU_EIO        the database is unreachable (nothing was written)
 * Out structs are caller-owned; nothing returned needs freeing.
 */
#ifndef KERYU_STORAGE_H
#define KERYU_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/events.h>
#include <keryu/subjects.h>

#define KERYU_SERVICE_STORAGE "storage"

/* What the public scan page and the alarm need to know about a tag. */
struct keryu_tag_info {
	char qr_uuid[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	char custodian_id[KERYU_UUID_LEN];
	char subject_name[101]; /* full name */
	char first_name[101];   /* first word of the name */
};

/* What the public scan page may show of a tag's subject: storage applies
 * the custodian's choice (enum keryu_public_field), so a field not chosen
 * is "" here and can never reach the page. */
struct keryu_public_subject {
	char qr_uuid[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	unsigned public_fields; /* enum keryu_public_field bits */
	bool missing;		/* lost mode: the custodian reported them
				 * missing */
	char first_name[101];	/* always: the page needs a name to say */
	char full_name[101];
	char photo[80]; /* file name, as keryu_subject.photo */
	char care_instructions[KERYU_TEXT_MAX];
	char medical_conditions[KERYU_TEXT_MAX];
	char allergies[KERYU_TEXT_MAX];
	char medications[KERYU_TEXT_MAX];
	char doctor_name[101];
	char doctor_phone[129];
	char custodian_phone[32]; /* E.164 */
};

/* A finder's post, bound to one scan by its finder token. */
enum keryu_finder_kind {
	KERYU_FINDER_LOCATION = 1,
	KERYU_FINDER_REPORT = 2,
};

struct keryu_finder_post {
	enum keryu_finder_kind kind;
	char scan_event_id[KERYU_UUID_LEN];
	char qr_uuid[KERYU_UUID_LEN];
	double lat, lng, accuracy_m; /* LOCATION */
	char situation[16];	     /* REPORT: injured, lost, contact, test */
	char text[501];		     /* REPORT: optional, <= 500 bytes */
};

/* What the finder's page shows about the alert it raised. */
struct keryu_finder_status {
	char alarm_id[KERYU_UUID_LEN];
	/* the best status among the alarm's notifications (PENDING, QUEUED,
	 * ERROR, SENT, DELIVERED, READ; FAILED only when all failed); "" when
	 * nobody could be notified */
	char status[16];
	char acknowledged_at[KERYU_TIME_LEN]; /* "" until someone is on
					       * their way */
	bool has_location, has_report;
	bool is_test; /* reported as "just testing" */
};

/* How the alarms module routes, escalates and re-drives alarms. Passed on
 * every call, so storage keeps no copy of another module's configuration. */
struct keryu_alarm_policy {
	const char *channel;	      /* the custodian's own channel */
	const char *fallback_channel; /* "" for none: tried for a recipient
				       * whose channel failed for good and
				       * whose contact row names no fallback */
	int escalate_after_s; /* next recipient when the current one's
			       * notification is not DELIVERED (or READ) this
			       * long after it was created; 0: never */
	int ack_timeout_s;    /* next recipient when the alarm is not
			       * acknowledged this long after the current
			       * step began; 0: never */
	int cooldown_s;	      /* a scan of a subject whose newest open alarm
			       * is younger than this joins it: recorded,
			       * nobody notified again; 0: off */
	int lease_s;	      /* how long a request handed to the bus may go
			       * unanswered before it is re-driven */
	int max_redrives;     /* re-drives of one notification before it is
			       * FAILED with code "no_channel" */
};

/* One delivery request for the alarms module to publish. */
struct keryu_notify_job {
	/* "alert" (the alarm itself), or a follow-up to someone already
	 * alerted: "location" (detail: "<lat>,<lng>", accuracy
	 * appended as ",<m>" when known), "report" (detail: "<situation>"
	 * or "<situation>: <text>") */
	char kind[16];
	char detail[600];
	char notification_id[KERYU_UUID_LEN];
	char alarm_id[KERYU_UUID_LEN];
	char channel[32];
	char recipient[32]; /* E.164 */
	int attempt;	    /* the attempt number to publish, >= 1 */
	int step;	    /* 0: the alarm's first recipient; n: n-th
			     * escalation or fallback */
	char subject_name[101];
	char scanned_at[KERYU_TIME_LEN]; /* the alarm's scan time, ISO UTC */
};

/* The outcome of turning one scan event into an alarm. */
struct keryu_alarm_created {
	bool created; /* false: this event_id was already recorded */
	bool joined;  /* within the cooldown of an open alarm (joined_alarm_id):
		       * recorded, no notification */
	char alarm_id[KERYU_UUID_LEN];
	char joined_alarm_id[KERYU_UUID_LEN]; /* "" unless joined */
	char subject_id[KERYU_UUID_LEN];
	char notification_id[KERYU_UUID_LEN]; /* "" when nobody to notify */
	char channel[32];     /* the notification's channel */
	char recipient[32];   /* its E.164 phone */
	char subject_name[101];
	char scanned_at[KERYU_TIME_LEN]; /* the event's time, ISO-8601 UTC */
	/* notification_id names a notification that is still PENDING: no
	 * delivery request for it was ever handed to the bus (say, a crash
	 * came between the alarm's commit and the publish), so whoever sees
	 * it again should send it. */
	bool notification_pending;
};

/* What acknowledging through a link did. */
struct keryu_ack_result {
	char alarm_id[KERYU_UUID_LEN];
	char subject_first_name[101];
	char acknowledged_at[KERYU_TIME_LEN];
	bool already; /* it was acknowledged before; nothing changed */
};

/* What /metrics reads from the database and the pool (metrics). Status
 * indexes follow KERYU_STORAGE_STATUS_NAMES' order. */
#define KERYU_STORAGE_METRIC_CHANNELS 16
#define KERYU_STORAGE_METRIC_STATUSES 7
#define KERYU_STORAGE_STATUS_NAMES                                             \
	{"PENDING", "QUEUED", "ERROR", "SENT", "DELIVERED", "READ", "FAILED"}

struct keryu_storage_metrics {
	struct keryu_storage_channel_count {
		char channel[32];
		long long status[KERYU_STORAGE_METRIC_STATUSES];
	} channels[KERYU_STORAGE_METRIC_CHANNELS];
	size_t n_channels;
	long long retries;     /* sum over notifications of attempts - 1 */
	long long queue_depth; /* notifications PENDING, QUEUED or ERROR */
	int pool_busy, pool_idle; /* connections checked out / free */
};

struct keryu_storage {
	uint32_t struct_size; /* sizeof(struct keryu_storage) of the provider */
	void *self;

	/* 0 when a round trip to the database works, else KERYU_EIO. */
	int (*ping)(void *self);

	/* Looks up an active tag of an active subject and touches nothing.
	 * KERYU_ENOTFOUND for unknown or inactive tags and subjects. */
	int (*tag_lookup)(void *self, const char *qr_uuid,
			  struct keryu_tag_info *out);

	/* In one transaction: records an alarm for the scan (unique by
	 * ev->event_id), sets the tag's last_used, and, unless the scan
	 * joins an open alarm within pol->cooldown_s, creates one PENDING
	 * notification for the alarm's first recipient (step 0): the
	 * custodian on pol->channel when their phone is verified (and, for
	 * WhatsApp channels, they did not opt out), else the subject's first
	 * verified contact on its own channel. The alarm's escalation
	 * deadlines are set from pol. When the event was seen before,
	 * changes nothing and fills out from the existing alarm with
	 * out->created false (notification_pending tells whether its step-0
	 * notification still waits to be handed to the bus). ENOTFOUND when
	 * the tag is unknown (scans of a tag deactivated since are still
	 * recorded). */
	int (*alarm_from_scan)(void *self, const struct keryu_scan_event *ev,
			       const struct keryu_alarm_policy *pol,
			       struct keryu_alarm_created *out);

	/* Marks a notification QUEUED with the attempt number (a delivery
	 * request for it was handed to the bus) and leases it for lease_s:
	 * unanswered by then, notify_due re-drives it. A notification
	 * already past QUEUED for this attempt is left as it is. */
	int (*notification_queued)(void *self, const char *notification_id,
				   int attempt, int lease_s);

	/* Records a delivery result (ev->attempt 0: a provider webhook).
	 * Ranks: PENDING 0 < QUEUED = ERROR 1 < SENT 2 < DELIVERED 3 <
	 * READ 4 < FAILED 5. A result moves the status when its rank is
	 * higher, or when both are rank 1 and its attempt is not older than
	 * the stored one; FAILED is final. ERROR means "this attempt failed,
	 * not the notification": with ev->retry_in_ms >= 0 the lease runs to
	 * now + retry_in_ms + lease_s, after which notify_due re-drives it
	 * as attempt + 1; with -1 the lease runs lease_s, after which it is
	 * FAILED ("no_outcome"). A duplicate event_id, or a result that would
	 * move the status backward, changes nothing and returns 0 (the event
	 * still lands on the timeline unless it is a duplicate). Also
	 * updates the alarm's summary fields. ENOTFOUND for an unknown
	 * notification. */
	int (*notification_result)(void *self,
				   const struct keryu_delivery_event *ev,
				   int lease_s);

	/* The alarms module's periodic work, each item claimed with FOR
	 * UPDATE SKIP LOCKED so that several alarms instances share it:
	 *  - alarm notifications whose lease ran out: PENDING and QUEUED are
	 *    re-driven with the same attempt, ERROR with a retry hint as
	 *    attempt + 1, ERROR without one becomes FAILED "no_outcome"; one
	 *    re-driven more than pol->max_redrives times becomes FAILED
	 *    "no_channel" (code notifications past their lease just become
	 *    FAILED "no_outcome": their code is not stored to resend); a
	 *    PENDING one never handed to the bus (staff's "retry now") is
	 *    published whatever max_redrives says;
	 *  - a notification that became FAILED gets, once, a PENDING
	 *    follow-up to the same person on their fallback channel, or, if
	 *    there is none (or it was the fallback), the alarm escalates now;
	 *  - open, unacknowledged, unresolved alarms whose escalation
	 *    deadline passed get a PENDING notification for the next
	 *    recipient (custodian, then verified contacts by position, each
	 *    once), or are marked exhausted when none is left;
	 * every step is recorded on the alarm's timeline. Then fills jobs
	 * (at most max) with the PENDING notifications and re-drives to
	 * publish, marks each QUEUED with a fresh lease, and sets *n. Call
	 * again while *n == max. */
	int (*notify_due)(void *self, const struct keryu_alarm_policy *pol,
			  struct keryu_notify_job *jobs, size_t max, size_t *n);

	/* Acknowledges the alarm of notification_id (from a signed link):
	 * escalation stops. Fills out; an alarm acknowledged before is left
	 * alone with out->already true. ENOTFOUND for an unknown
	 * notification or one that belongs to no alarm. */
	int (*alarm_acknowledge)(void *self, const char *notification_id,
				 struct keryu_ack_result *out);

	/* ---- the finder's side (issue 5) ---- */

	/* The public view of an active tag of an active subject, with only
	 * the fields the custodian made public. ENOTFOUND as tag_lookup. */
	int (*tag_public)(void *self, const char *qr_uuid,
			  struct keryu_public_subject *out);

	/* Attaches a finder's location or report to the alarm of
	 * post->scan_event_id, which must be a scan of post->qr_uuid;
	 * fills alarm_id. A report with situation "test" marks the alarm a
	 * test (escalation stops). Each kind is accepted once per alarm
	 * (ECONFLICT the second time: a replay changes nothing). ENOTFOUND
	 * when there is no such scan of that tag (yet: the alarm is written
	 * a few ms after the page), EINVAL for a bad post (coordinates out
	 * of range, unknown situation, text over 500 bytes or not UTF-8). */
	int (*finder_attach)(void *self, const struct keryu_finder_post *post,
			     char alarm_id[KERYU_UUID_LEN]);

	/* The alert's state for the finder of scan_event_id (a scan of
	 * qr_uuid); a scan that joined an open alarm reports that alarm's
	 * state. ENOTFOUND as finder_attach. */
	int (*finder_status)(void *self, const char *scan_event_id,
			     const char *qr_uuid,
			     struct keryu_finder_status *out);

	/* Creates, for each person already alerted about alarm_id (any
	 * notification of it not FAILED, one per recipient and channel), a
	 * follow-up notification of kind "location" or "report" carrying
	 * the finder's data, QUEUED with a lease of lease_s (notify_due
	 * re-drives follow-ups like alerts but never escalates on them), and
	 * fills jobs (at most max) with them. Idempotent: a kind already
	 * followed up for a recipient is not again. */
	int (*followups)(void *self, const char *alarm_id, const char *kind,
			 int lease_s, struct keryu_notify_job *jobs, size_t max,
			 size_t *n);

	/* Retention: clears the finder data (location, ip_hash, user agent,
	 * report text) of alarms scanned more than days ago, in batches;
	 * sets *rows to how many alarms it cleared. */
	int (*purge_finder_data)(void *self, int days, long *rows);

	/* ---- monitoring (issue 6) ---- */

	/* Fills out with the notifications counted by channel (the first
	 * KERYU_STORAGE_METRIC_CHANNELS channels by name; names longer than
	 * 31 bytes are left out) and status, the retries, the queue depth
	 * and the pool's connections in use. One read-only query; out is
	 * zeroed first. KERYU_EIO when the database does not answer (the
	 * pool fields are filled even then). */
	int (*metrics)(void *self, struct keryu_storage_metrics *out);

	void *reserved[16];
};

#endif
