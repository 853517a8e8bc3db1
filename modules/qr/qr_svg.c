/* QR code as a standalone SVG: a white background and one black path made
 * of one rectangle per horizontal run of dark modules. Units are modules
 * (viewBox); width and height are the PNG's pixel size. */
#include <stdio.h>
#include <stdlib.h>

#include <keryu/module.h>

#include "qr_service.h"

static void write_runs(FILE *f, const QRcode *qr, int margin)
{
	int x, y, w = qr->width;

	for (y = 0; y < w; y++) {
		for (x = 0; x < w;) {
			int n = 0;

			while (x + n < w && (qr->data[y * w + x + n] & 1))
				n++;
			if (n) {
				fprintf(f, "M%d %dh%dv1h-%dz", x + margin,
					y + margin, n, n);
				x += n;
			} else {
				x++;
			}
		}
	}
}

int qr_svg(void *self, const char *text, char **out, size_t *len)
{
	const struct qr_state *s = self;
	QRcode *qr;
	FILE *f;
	char *buf = NULL;
	size_t n = 0;
	int rc, modules, px;

	if (!out || !len)
		return KERYU_EINVAL;
	*out = NULL;
	*len = 0;
	rc = qr_encode(s, text, &qr);
	if (rc)
		return rc;
	f = open_memstream(&buf, &n);
	if (!f) {
		QRcode_free(qr);
		return KERYU_ENOMEM;
	}
	modules = qr->width + 2 * s->margin;
	px = modules * s->scale;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"shape-rendering=\"crispEdges\">\n"
		"<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
		"<path fill=\"#000000\" d=\"",
		px, px, modules, modules, modules, modules);
	write_runs(f, qr, s->margin);
	fputs("\"/>\n</svg>\n", f);
	QRcode_free(qr);
	rc = ferror(f) ? KERYU_ENOMEM : 0;
	if (fclose(f) != 0)
		rc = KERYU_ENOMEM;
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}
