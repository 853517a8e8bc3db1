/* The staff pages under /admin/: the route table and the index. */
#include <stddef.h>

#include "http_module.h"

static void admin_home(struct http_page *p)
{
	struct html *h = &p->r->body;

	p->r->status = 200;
	http_layout_begin(h, "Administration", p->s);
	html_raw(h, "<p>Run this instance: its custodians, their subjects, "
		    "tags and alarms, the message templates, the settings, "
		    "failed deliveries and the audit log.</p>");
	http_layout_end(h);
}

const struct http_page_route http_admin_routes[] = {
	{"/admin/", admin_home, true, false, true, true},
};
const size_t http_admin_n_routes =
	sizeof(http_admin_routes) / sizeof(http_admin_routes[0]);
