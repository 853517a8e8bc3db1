/* The qr module's state and the functions behind struct keryu_qr
 * (keryu/qr.h); self is a struct qr_state. Returns and ownership as in
 * qr.h. */
#ifndef QR_SERVICE_H
#define QR_SERVICE_H

#include <stddef.h>

#include <qrencode.h>

#include <keryu/qr.h>

struct qr_state {
	char base[512];  /* public URL without its trailing slash */
	int scale;       /* pixels per module */
	int margin;      /* quiet zone, in modules */
	QRecLevel level; /* error correction */
	struct keryu_qr iface;
};

int qr_scan_url(void *self, const char *qr_uuid, char *buf, size_t size);
int qr_png(void *self, const char *text, unsigned char **out, size_t *len);
int qr_svg(void *self, const char *text, char **out, size_t *len);

/* Encodes text (8-bit mode, case kept) at the state's level. Returns 0
 * and a code the caller frees with QRcode_free(), KERYU_EINVAL for NULL or
 * empty text or text too long for any QR code, KERYU_ENOMEM. */
int qr_encode(const struct qr_state *s, const char *text, QRcode **out);

#endif
