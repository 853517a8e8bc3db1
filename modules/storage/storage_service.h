/* The functions behind struct keryu_storage (keryu/storage.h); self is the
 * module's struct storage_pool. Returns and ownership as in storage.h. */
#ifndef STORAGE_SERVICE_H
#define STORAGE_SERVICE_H

#include <stddef.h>

#include <keryu/storage.h>

int storage_ping(void *self);
int storage_tag_lookup(void *self, const char *qr_uuid,
		       struct keryu_tag_info *out);
int storage_alarm_from_scan(void *self, const struct keryu_scan_event *ev,
			    const char *channel,
			    struct keryu_alarm_created *out);
int storage_notification_queued(void *self, const char *notification_id,
				int attempt);
int storage_notification_result(void *self,
				const struct keryu_delivery_event *ev);

/* Copies src into dst (size bytes with the NUL), cutting on a UTF-8
 * character boundary when it must cut. NULL src copies "". */
void storage_copy_text(char *dst, size_t size, const char *src);

#endif
