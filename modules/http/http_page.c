/* The frame every HTML page shares: readable on a 320 px screen, inline CSS
 * only (the CSP allows nothing else), no scripts, no third-party assets. */
#include <stdio.h>
#include <string.h>

#include "http_module.h"

static const char head_top[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<meta name=\"robots\" content=\"noindex\">\n"
	"<title>";

static const char style[] =
	"</title>\n<style>\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;padding:1rem;background:#fff;color:#111;"
	"font:1.125rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\n"
	"main{max-width:32rem;margin:0 auto;padding:1rem 0 1rem 1rem;"
	"border-left:.4rem solid #555}\n"
	"main.ok{border-color:#0a7d32}\n"
	"main.err{border-color:#b00020}\n"
	"h1{font-size:1.6rem;line-height:1.2;margin:0 0 .75rem;"
	"overflow-wrap:anywhere}\n"
	"p{margin:0 0 1rem}\n"
	".small{font-size:.95rem;color:#444}\n";

/* Forms and the custodian's navigation; fits a 320 px screen. */
static const char style_app[] =
	"nav{max-width:32rem;margin:0 auto .5rem;display:flex;flex-wrap:wrap;"
	"gap:.25rem 1rem;align-items:center;font-size:1rem}\n"
	"nav a{color:#0b4f9c}\n"
	"nav form{margin:0}\n"
	"nav button{font:inherit;padding:.1rem .6rem}\n"
	"a{color:#0b4f9c}\n"
	".field{margin:0 0 1rem}\n"
	"label{display:block;font-weight:600}\n"
	"input[type=text],input[type=email],input[type=password],"
	"input[type=tel]{display:block;width:100%;max-width:100%;"
	"font:inherit;padding:.4rem;border:1px solid #777;border-radius:.25rem}\n"
	".has-error input{border:2px solid #b00020}\n"
	".error{display:block;color:#b00020;font-weight:600}\n"
	".hint{display:block;font-size:.95rem;color:#444}\n"
	"button{font:inherit;padding:.5rem 1rem;border-radius:.25rem;"
	"border:1px solid #333;background:#f3f3f3;cursor:pointer}\n"
	".summary{border:2px solid #b00020;padding:.5rem 1rem;margin:0 0 1rem}\n"
	".summary ul{margin:0;padding-left:1.2rem}\n"
	".notice{border:2px solid #0a7d32;padding:.5rem 1rem;margin:0 0 1rem}\n"
	"dl{margin:0 0 1rem}dt{font-weight:600}dd{margin:0 0 .5rem;"
	"overflow-wrap:anywhere}\n";

static const char head_end[] = "</style>\n</head>\n<body>\n";

static void head(struct html *h, const char *title, bool app)
{
	html_raw(h, head_top);
	html_text(h, title);
	html_raw(h, style);
	if (app)
		html_raw(h, style_app);
	html_raw(h, head_end);
}

void http_page_begin(struct html *h, const char *body_class)
{
	head(h, "Keryu", false);
	html_raw(h, "<main class=\"");
	html_attr(h, body_class);
	html_raw(h, "\">\n");
}

void http_page_end(struct html *h)
{
	html_raw(h, "</main>\n</body>\n</html>\n");
}

void http_page_error(struct http_response *r, unsigned status,
		     const char *heading, const char *text)
{
	html_free(&r->body);
	html_init(&r->body);
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	http_page_begin(&r->body, "err");
	html_raw(&r->body, "<h1>");
	html_text(&r->body, heading);
	html_raw(&r->body, "</h1>\n<p>");
	html_text(&r->body, text);
	html_raw(&r->body, "</p>\n");
	http_page_end(&r->body);
}

void http_layout_begin(struct html *h, const char *title,
		       const struct http_session *s)
{
	char full[160];

	snprintf(full, sizeof(full), "%s - Keryu", title);
	head(h, full, true);
	html_raw(h, "<nav aria-label=\"Main\">\n");
	if (s && s->logged_in) {
		html_raw(h, "<a href=\"/dashboard/\">Dashboard</a>\n"
			    "<a href=\"/subjects/\">Subjects</a>\n"
			    "<a href=\"/alarms/\">Alarms</a>\n"
			    "<a href=\"/stats/\">Statistics</a>\n"
			    "<a href=\"/account/\">Account</a>\n");
		if (s->who.is_staff)
			html_raw(h, "<a href=\"/admin/\">Admin</a>\n");
		html_raw(h, "<form method=\"post\" action=\"/account/logout\">"
			    "<input type=\"hidden\" name=\"csrf\" value=\"");
		html_attr(h, s->row.csrf);
		html_raw(h, "\"><button type=\"submit\">Log out</button>"
			    "</form>\n");
	} else {
		html_raw(h, "<a href=\"/\">Keryu</a>\n"
			    "<a href=\"/account/login\">Log in</a>\n"
			    "<a href=\"/account/signup\">Sign up</a>\n");
	}
	html_raw(h, "</nav>\n<main>\n<h1>");
	html_text(h, title);
	html_raw(h, "</h1>\n");
}

void http_layout_end(struct html *h)
{
	http_page_end(h);
}

bool http_next_valid(const char *next)
{
	const unsigned char *p = (const unsigned char *)next;

	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return false;
	if (strlen(next) >= 400)
		return false;
	for (; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return false;
	return true;
}

void http_redirect(struct http_response *r, const char *path)
{
	html_free(&r->body);
	html_init(&r->body);
	r->status = 303;
	r->content_type = "text/html; charset=utf-8";
	r->no_store = true;
	snprintf(r->location, sizeof(r->location), "%s",
		 http_next_valid(path) ? path : "/");
	http_page_begin(&r->body, "ok");
	html_raw(&r->body, "<p><a href=\"");
	html_attr(&r->body, r->location);
	html_raw(&r->body, "\">Continue</a></p>\n");
	http_page_end(&r->body);
}

/* Codes and alarms go to phones: a custodian whose own phone is not
 * verified could otherwise make Keryu message any number. */
bool http_phone_verified_or_page(struct http_page *p)
{
	struct html *h = &p->r->body;

	if (p->s->who.phone_verified)
		return true;
	html_free(h);
	html_init(h);
	p->r->status = 403;
	p->r->content_type = "text/html; charset=utf-8";
	p->r->no_store = true;
	http_layout_begin(h, "Verify your phone first", p->s);
	html_raw(h, "<p>Keryu sends codes and alerts by phone, so your own "
		    "phone number must be verified before you can do "
		    "this.</p>\n<p><a href=\"/account/verify\">Verify your "
		    "phone</a></p>\n");
	http_layout_end(h);
	return false;
}
