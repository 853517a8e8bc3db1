/* The scan URL printed in a tag: the same path the http module serves. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "qr_service.h"

int qr_scan_url(void *self, const char *qr_uuid, char *buf, size_t size)
{
	const struct qr_state *s = self;
	char id[KERYU_UUID_LEN];
	size_t i;
	int n;

	if (buf && size)
		buf[0] = '\0';
	if (!buf || !keryu_uuid_valid(qr_uuid))
		return KERYU_EINVAL;
	/* one spelling per tag, so that URLs compare and cache as equal */
	for (i = 0; i < KERYU_UUID_LEN - 1; i++)
		id[i] = (char)tolower((unsigned char)qr_uuid[i]);
	id[i] = '\0';
	n = snprintf(buf, size, "%s/subjects/qr/%s/scan/", s->base, id);
	if (n < 0 || (size_t)n >= size) {
		if (size)
			buf[0] = '\0';
		return KERYU_EINVAL;
	}
	return 0;
}
