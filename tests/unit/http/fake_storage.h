/* A fake storage service for the http tests: tag_lookup and ping answer
 * what the test set; they and notification_queued count their calls. */
#ifndef KERYU_TEST_HTTP_FAKE_STORAGE_H
#define KERYU_TEST_HTTP_FAKE_STORAGE_H

#include <stdbool.h>

#include <keryu/events.h>
#include <keryu/module.h>
#include <keryu/storage.h>

struct fake_storage_state {
	int ping_rc;
	int lookup_rc;
	struct keryu_tag_info tag; /* returned when lookup_rc is 0 */
	char last_lookup[64];
	int lookups;
	int pings;
	int queued, queued_attempt, queued_lease; /* notification_queued */
	char last_queued[64];
	/* alarm_acknowledge: ack_rc is returned when set; otherwise a
	 * notification named ack_nid is acknowledged once (already after
	 * that), anything else is ENOTFOUND */
	int ack_rc;
	int acks;
	char ack_nid[KERYU_UUID_LEN];
	char last_ack[64];
	struct keryu_ack_result ack; /* what is filled in */
	bool acked;
	/* finder_attach: attach_rc is returned when set; otherwise a post
	 * whose scan_event_id is finder_event (of tag.qr_uuid) is attached
	 * to finder_alarm once per kind (ECONFLICT after), anything else is
	 * ENOTFOUND. finder_status answers status_rc or finder. */
	int attach_rc, attaches, status_rc, statuses;
	char finder_event[KERYU_UUID_LEN];
	char finder_alarm[KERYU_UUID_LEN];
	struct keryu_finder_post last_post;
	bool attached[3]; /* by kind */
	struct keryu_finder_status finder;
	char last_status_event[KERYU_UUID_LEN];
	/* tag_public: pub when pub_set, else a view of tag with only the
	 * first name public; the same lookup_rc, lookups and last_lookup as
	 * tag_lookup */
	bool pub_set;
	struct keryu_public_subject pub;
	/* metrics: answers metrics_rc, filling metrics (pool fields even on
	 * an error, as the real one) */
	int metrics_rc, metrics_calls;
	struct keryu_storage_metrics metrics;
};

extern struct fake_storage_state fake_storage_state;
extern const struct keryu_storage fake_storage;

/* Sets an active tag with the given first name; clears counters. */
void fake_storage_reset(const char *qr_uuid, const char *first_name);

#endif
