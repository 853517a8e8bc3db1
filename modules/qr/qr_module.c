/* The qr module: renders a tag's scan URL as a QR code (PNG or SVG) for
 * the modules in its process, as the "qr" service (keryu/qr.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/module.h>
#include <keryu/qr.h>

#include "qr_service.h"

#define DEFAULT_PUBLIC_URL "http://127.0.0.1:8000"

static const struct keryu_option options[] = {
	{"scale", KERYU_OPT_INT, "8", "pixels per QR module in PNG images", 0,
	 1, 64},
	{"margin", KERYU_OPT_INT, "4",
	 "quiet zone around the code, in modules (4 is the standard)", 0, 0,
	 16},
	{"level", KERYU_OPT_STR, "M",
	 "error correction: L (7%), M (15%), Q (25%) or H (30%)", 0, 0, 0},
	{0},
};

static const char *const provides[] = {KERYU_SERVICE_QR, NULL};

static int parse_level(const char *v, QRecLevel *out)
{
	static const struct {
		char c;
		QRecLevel level;
	} map[] = {{'L', QR_ECLEVEL_L},
		   {'M', QR_ECLEVEL_M},
		   {'Q', QR_ECLEVEL_Q},
		   {'H', QR_ECLEVEL_H}};
	size_t i;

	if (!v || strlen(v) != 1)
		return KERYU_EINVAL;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (toupper((unsigned char)v[0]) == map[i].c) {
			*out = map[i].level;
			return 0;
		}
	return KERYU_EINVAL;
}

static int qr_init(keryu_mod *m, const struct keryu_host *host, void **state)
{
	struct qr_state *s;
	const char *url, *level;
	size_t n;

	*state = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return KERYU_ENOMEM;
	s->scale = (int)host->config_int(m, "scale");
	s->margin = (int)host->config_int(m, "margin");
	level = host->config(m, "level");
	if (s->scale < 1 || s->scale > 64 || s->margin < 0 || s->margin > 16 ||
	    parse_level(level, &s->level)) {
		host->log(m, KERYU_LOG_ERROR, "qr.bad_config",
			  "scale=%d margin=%d level=%.8s", s->scale, s->margin,
			  level ? level : "");
		free(s);
		return KERYU_EINVAL;
	}
	url = host->global(m, "http", "public_url");
	if (!url || !*url)
		url = DEFAULT_PUBLIC_URL;
	n = strlen(url);
	if (n >= sizeof(s->base)) {
		host->log(m, KERYU_LOG_ERROR, "qr.bad_config",
			  "public_url_len=%zu max=%zu", n, sizeof(s->base) - 1);
		free(s);
		return KERYU_EINVAL;
	}
	memcpy(s->base, url, n + 1);
	if (n && s->base[n - 1] == '/')
		s->base[n - 1] = '\0';

	s->iface.struct_size = sizeof(s->iface);
	s->iface.self = s;
	s->iface.scan_url = qr_scan_url;
	s->iface.png = qr_png;
	s->iface.svg = qr_svg;
	if (host->provide(m, KERYU_SERVICE_QR, &s->iface)) {
		free(s);
		return KERYU_ERR;
	}
	host->log(m, KERYU_LOG_INFO, "qr.ready",
		  "base=%s scale=%d margin=%d level=%c", s->base, s->scale,
		  s->margin, toupper((unsigned char)level[0]));
	*state = s;
	return 0;
}

static int qr_start(void *state)
{
	(void)state;
	return 0;
}

static void qr_stop(void *state, int deadline_ms)
{
	(void)state;
	(void)deadline_ms;
}

static void qr_cleanup(void *state)
{
	free(state);
}

KERYU_MODULE_DEFINE(.name = "qr",
		    .description = "QR codes (PNG, SVG) for a tag's scan URL",
		    .provides = provides, .options = options, .init = qr_init,
		    .start = qr_start, .stop = qr_stop, .cleanup = qr_cleanup);
