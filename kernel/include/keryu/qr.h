/* The "qr" service: QR codes for a tag's scan URL, offered in-process by the
 * qr module (libqrencode; PNG through libpng, and SVG).
 *
 * Get it with host->service(m, KERYU_SERVICE_QR) after declaring "qr" in
 * the descriptor's requires. Thread-safe. Returns 0 or a negative KERYU_E*.
 */
#ifndef KERYU_QR_H
#define KERYU_QR_H

#include <stddef.h>
#include <stdint.h>

#define KERYU_SERVICE_QR "qr"

struct keryu_qr {
	uint32_t struct_size;
	void *self;

	/* Writes "<public_url>/subjects/qr/<uuid>/scan/" into buf.
	 * KERYU_EINVAL for a malformed uuid or a buffer too small. */
	int (*scan_url)(void *self, const char *qr_uuid, char *buf, size_t size);

	/* Renders text as a PNG. *out is malloc'd; the caller frees it with
	 * free(). KERYU_EINVAL for text that does not fit a QR code. */
	int (*png)(void *self, const char *text, unsigned char **out,
		   size_t *len);
	/* Renders text as a standalone SVG document, NUL-terminated. *out is
	 * malloc'd; the caller frees it with free(). */
	int (*svg)(void *self, const char *text, char **out, size_t *len);

	void *reserved[8];
};

#endif
