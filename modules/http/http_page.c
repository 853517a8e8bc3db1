/* The frame every HTML page shares: readable on a 320 px screen, inline CSS
 * only (the CSP allows nothing else), no scripts, no third-party assets. */
#include "http_module.h"

static const char head[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<meta name=\"robots\" content=\"noindex\">\n"
	"<title>Keryu</title>\n<style>\n"
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
	".small{font-size:.95rem;color:#444}\n"
	"</style>\n</head>\n<body>\n";

void http_page_begin(struct html *h, const char *body_class)
{
	html_raw(h, head);
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
