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

#define KERYU_SERVICE_STORAGE "storage"

/* What the public scan page and the alarm need to know about a tag. */
struct keryu_tag_info {
	char qr_uuid[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	char custodian_id[KERYU_UUID_LEN];
	char subject_name[101]; /* full name */
	char first_name[101];   /* first word of the name */
};

/* The outcome of turning one scan event into an alarm. */
struct keryu_alarm_created {
	bool created; /* false: this event_id was already recorded */
	char alarm_id[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	char notification_id[KERYU_UUID_LEN]; /* "" when nobody to notify */
	char recipient[32];                   /* custodian's E.164 phone */
	char subject_name[101];
	char scanned_at[KERYU_TIME_LEN]; /* the event's time, ISO-8601 UTC */
	/* notification_id names a notification on this channel that is
	 * still PENDING: no delivery request for it was ever handed to the
	 * bus (say, a crash came between the alarm's commit and the
	 * publish), so whoever sees it again should send it. */
	bool notification_pending;
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
	 * ev->event_id), sets the tag's last_used, and creates one PENDING
	 * notification for the subject's custodian on channel. When the
	 * event was seen before, changes nothing and fills out from the
	 * existing alarm with out->created false (notification_pending tells
	 * whether its notification still waits to be handed to the bus). ENOTFOUND when the tag is
	 * unknown (scans of a tag deactivated since are still recorded). */
	int (*alarm_from_scan)(void *self, const struct keryu_scan_event *ev,
			       const char *channel,
			       struct keryu_alarm_created *out);

	/* Marks a notification QUEUED with the attempt number: a delivery
	 * request for it was handed to the bus. */
	int (*notification_queued)(void *self, const char *notification_id,
				   int attempt);

	/* Records a delivery result. Status moves only forward
	 * (PENDING < QUEUED < SENT < DELIVERED < READ; FAILED and ERROR are
	 * final); a result that would move it backward or duplicates one
	 * already recorded changes nothing and returns 0. Also updates the
	 * alarm's summary fields. ENOTFOUND for an unknown notification. */
	int (*notification_result)(void *self,
				   const struct keryu_delivery_event *ev);

	void *reserved[16];
};

#endif
