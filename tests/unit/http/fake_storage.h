/* A fake storage service for the http tests: tag_lookup and ping answer
 * what the test set; they and notification_queued count their calls. */
#ifndef KERYU_TEST_HTTP_FAKE_STORAGE_H
#define KERYU_TEST_HTTP_FAKE_STORAGE_H

#include <keryu/module.h>
#include <keryu/storage.h>

struct fake_storage_state {
	int ping_rc;
	int lookup_rc;
	struct keryu_tag_info tag; /* returned when lookup_rc is 0 */
	char last_lookup[64];
	int lookups;
	int pings;
	int queued, queued_attempt; /* notification_queued calls */
	char last_queued[64];
};

extern struct fake_storage_state fake_storage_state;
extern const struct keryu_storage fake_storage;

/* Sets an active tag with the given first name; clears counters. */
void fake_storage_reset(const char *qr_uuid, const char *first_name);

#endif
