/* Text to QR matrix, shared by the PNG and SVG writers. */
#include <errno.h>

#include <keryu/module.h>

#include "qr_service.h"

int qr_encode(const struct qr_state *s, const char *text, QRcode **out)
{
	QRcode *qr;

	*out = NULL;
	if (!text || !*text)
		return KERYU_EINVAL;
	/* version 0: the smallest that fits; 8-bit mode keeps URLs exactly
	 * as given (no Kanji or alphanumeric guessing) */
	errno = 0;
	qr = QRcode_encodeString(text, 0, s->level, QR_MODE_8, 1);
	if (!qr)
		return errno == ENOMEM ? KERYU_ENOMEM : KERYU_EINVAL;
	*out = qr;
	return 0;
}
