/* The public scan page: what a stranger sees after scanning a tag, often
 * on a poor connection next to someone frightened. A scan of an active
 * tag is published on the bus and acknowledged by the broker BEFORE the
 * finder is told the family has been alerted: the page never promises an
 * alert that was not handed over, nor calls one failed that is still
 * queued.
 *
 * The page shows only what storage->tag_public returns (the fields the
 * custodian made public; the others are "" there), in the finder's
 * language (http_i18n.c). It stays under 20 KB without the photo, works
 * without JavaScript (forms post, a refresh link re-reads the state), and
 * carries one small inline script, allowed by its hash in the page's own
 * Content-Security-Policy, that polls ./status and posts with fetch.
 *
 * Texts are English msgids marked T("..."): `--target keryu_pot`
 * extracts them into po/keryu.pot. The photo, when public, comes from
 * ./photo with the scan's token (http_finder.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <keryu/events.h>

#include "http_i18n.h"
#include "http_module.h"

/* a page being written: the request's language and the writer */
struct page {
	struct http_ctx *ctx;
	const char *lang;
	struct html *h;
};

#define T(s) http_tr(pg->ctx, pg->lang, (s))
/* marks a msgid for xgettext where it is data, translated later */
#define N_(s) s

/* Polls ./status every 3 s and posts the location and the report with
 * fetch; every text and the token come from data- attributes of #k, so
 * the script is constant and its hash is the CSP's. */
static const char script[] =
	"(function(){var d=document,k=d.getElementById('k'),"
	"t=k.getAttribute('data-t');"
	"function g(n){return k.getAttribute('data-'+n)}"
	"function $(i){return d.getElementById(i)}"
	"function post(u,b,m,ok){b.set('t',t);b.set('format','json');"
	"m.textContent=g('wait');fetch(u,{method:'POST',body:b})"
	".then(function(r){m.textContent=r.ok?ok:g(r.status==409?'dup':"
	"'fail')},function(){m.textContent=g('fail')})}"
	"var st=$('st');function poll(){fetch('./status?t='+"
	"encodeURIComponent(t),{cache:'no-store'}).then(function(r){"
	"return r.ok?r.json():null}).then(function(j){if(j)st.textContent="
	"g(j.acknowledged?'ack':j.status)||g('pending')})"
	".catch(function(){}).then(function(){setTimeout(poll,3000)})}"
	"if(t)setTimeout(poll,3000);"
	"$('loc').onclick=function(){var m=$('lm');"
	"if(!t){m.textContent=g('fail');return}"
	"if(!navigator.geolocation){m.textContent=g('nogeo');return}"
	"m.textContent=g('wait');navigator.geolocation.getCurrentPosition("
	"function(p){var c=p.coords,b=new URLSearchParams();"
	"b.set('lat',c.latitude);b.set('lng',c.longitude);"
	"b.set('accuracy',c.accuracy);post('./location',b,m,g('locok'))},"
	"function(){m.textContent=g('nogeo')},"
	"{enableHighAccuracy:true,timeout:30000,maximumAge:60000})};"
	"var f=$('rf');f.onsubmit=function(e){e.preventDefault();"
	"post('./report',new URLSearchParams(new FormData(f)),$('rm'),"
	"g('repok'))}})();";

static const char style[] =
	"*{box-sizing:border-box}"
	"body{margin:0;padding:.75rem;background:#fff;color:#111;"
	"font:1.125rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,"
	"sans-serif}"
	"main{max-width:34rem;margin:0 auto}"
	"nav{text-align:right;font-size:.95rem;margin:0 0 .5rem}"
	".ph{display:block;max-width:100%;max-height:60vh;height:auto;"
	"border-radius:.5rem;margin:.25rem 0 .75rem}"
	"a{color:#0b4f9c}"
	"h1{font-size:1.7rem;line-height:1.2;margin:0 0 .75rem;"
	"overflow-wrap:anywhere}"
	"h2{font-size:1.2rem;margin:0 0 .5rem}"
	"p{margin:0 0 .75rem}"
	"section{border:2px solid #777;border-radius:.5rem;padding:.75rem;"
	"margin:0 0 1rem}"
	".miss{background:#b00020;border-color:#b00020;color:#fff;"
	"font-weight:700;font-size:1.25rem}"
	".care{border-color:#b35c00;background:#fff4e5}"
	".st{border-color:#0a7d32;background:#eefaf1}"
	".x{white-space:pre-line;overflow-wrap:anywhere}"
	"dl{margin:0}dt{font-weight:600}"
	"dd{margin:0 0 .5rem;white-space:pre-line;overflow-wrap:anywhere}"
	".b,button{display:block;width:100%;text-align:center;font:inherit;"
	"font-weight:600;padding:.7rem;margin:0 0 .5rem;border:0;"
	"border-radius:.5rem;background:#0b4f9c;color:#fff;"
	"text-decoration:none;cursor:pointer}"
	".wa{background:#0a7d32}"
	"fieldset{border:0;padding:0;margin:0 0 .5rem}"
	"label{display:block;margin:.2rem 0}"
	"textarea{display:block;width:100%;font:inherit;margin:0 0 .5rem}"
	".s{font-size:.95rem;color:#444}";

/* The page's own policy: the default one plus this script (by hash) and
 * fetch to this origin. */
static void page_csp(struct http_response *r)
{
	unsigned char md[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
					   sodium_base64_VARIANT_ORIGINAL)];

	crypto_hash_sha256(md, (const unsigned char *)script,
			   sizeof(script) - 1);
	sodium_bin2base64(b64, sizeof(b64), md, sizeof(md),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(r->csp, sizeof(r->csp),
		 "default-src 'none'; style-src 'unsafe-inline'; "
		 "img-src 'self'; script-src 'sha256-%s'; connect-src 'self'",
		 b64);
}

static void head(struct page *pg)
{
	struct html *h = pg->h;

	html_raw(h, "<!DOCTYPE html>\n<html lang=\"");
	html_attr(h, pg->lang);
	html_raw(h, "\">\n<head>\n<meta charset=\"utf-8\">\n<meta "
		    "name=\"viewport\" content=\"width=device-width, "
		    "initial-scale=1\">\n<meta name=\"robots\" "
		    "content=\"noindex\">\n<title>");
	html_text(h, T("Keryu: someone needs help"));
	html_raw(h, "</title>\n<style>");
	html_raw(h, style);
	html_raw(h, "</style>\n</head>\n<body>\n");
}

/* The switch: each language named in itself (a catalogue translates
 * "English" into its own name). token keeps a refresh from re-scanning. */
static void lang_switch(struct page *pg, const char *token)
{
	const char *codes[HTTP_LANGS_MAX + 1];
	size_t n = http_i18n_langs(pg->ctx, codes, HTTP_LANGS_MAX + 1), i;

	if (n < 2)
		return;
	html_raw(pg->h, "<nav aria-label=\"Language\">");
	for (i = 0; i < n; i++) {
		if (i)
			html_raw(pg->h, " · ");
		html_raw(pg->h, "<a href=\"?lang=");
		html_attr(pg->h, codes[i]);
		if (token && *token) {
			html_raw(pg->h, "&amp;t=");
			html_attr(pg->h, token);
		}
		html_raw(pg->h, "\" hreflang=\"");
		html_attr(pg->h, codes[i]);
		html_raw(pg->h, "\" lang=\"");
		html_attr(pg->h, codes[i]);
		html_raw(pg->h, "\">");
		/* TRANSLATORS: the name of your language, in your language
		 * ("Español"): the language switch shows it */
		html_text(pg->h, http_tr(pg->ctx, codes[i], N_("English")));
		html_raw(pg->h, "</a>");
	}
	html_raw(pg->h, "</nav>\n");
}

/* A page with a heading and one paragraph, no subject data. */
static void plain(struct http_ctx *ctx, const char *lang,
		  struct http_response *r, unsigned status,
		  const char *heading, const char *text)
{
	struct page pg = {ctx, lang, &r->body};

	html_free(&r->body);
	html_init(&r->body);
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	r->no_store = true;
	head(&pg);
	html_raw(pg.h, "<main>\n");
	lang_switch(&pg, NULL);
	html_raw(pg.h, "<h1>");
	html_text(pg.h, heading);
	html_raw(pg.h, "</h1>\n<p>");
	html_text(pg.h, text);
	html_raw(pg.h, "</p>\n</main>\n</body>\n</html>\n");
}

static void not_active(struct http_ctx *ctx, const char *lang,
		       struct http_response *r)
{
	struct page p = {ctx, lang, NULL}, *pg = &p;

	plain(ctx, lang, r, 404, T("This tag is not active"),
	      T("This tag is not linked to anyone at the moment. If someone "
		"needs help, please call your local emergency services."));
}

static void unavailable(struct http_ctx *ctx, const char *lang,
			struct http_response *r)
{
	struct page p = {ctx, lang, NULL}, *pg = &p;

	plain(ctx, lang, r, 503, T("Temporarily unavailable"),
	      T("This page cannot be shown right now. If the person needs "
		"help, please call your local emergency services."));
}

static void alert_failed(struct http_ctx *ctx, const char *lang,
			 struct http_response *r)
{
	struct page p = {ctx, lang, NULL}, *pg = &p;

	plain(ctx, lang, r, 503, T("The alert could not be sent"),
	      T("We could not notify this person's family right now. If they "
		"need help, please call your local emergency services."));
}

/* The broker did not acknowledge in time, but the bus client keeps the
 * QoS 1 message and sends it once the broker answers: the alert may well
 * still go out, so the page must not say it failed, nor that it went. */
static void alert_unconfirmed(struct http_ctx *ctx, const char *lang,
			      struct http_response *r)
{
	struct page p = {ctx, lang, NULL}, *pg = &p;

	plain(ctx, lang, r, 503, T("The alert is queued but not yet confirmed"),
	      T("Your scan was recorded and the alert to this person's family "
		"is queued, but it has not been confirmed yet. Please also "
		"call your local emergency services if they need help."));
}

/* The alert's state as the page words it; key is also the data- name
 * the script looks up with the status endpoint's word. */
struct state_text {
	const char *key, *msgid;
};

static const struct state_text *state_texts(size_t *n)
{
	static const struct state_text st[] = {
		{"pending", N_("Sending the alert to the family…")},
		{"queued", N_("Sending the alert to the family…")},
		{"sent", N_("The alert was sent to the family.")},
		{"delivered", N_("The alert reached the family's phone.")},
		{"read", N_("The family has read the alert.")},
		{"ack", N_("Someone is on their way.")},
		{"failed", N_("The alert could not be delivered. If they need "
			      "help, please call your local emergency "
			      "services.")},
		{"none", N_("The alert could not be delivered. If they need "
			    "help, please call your local emergency "
			    "services.")},
	};
	*n = sizeof(st) / sizeof(st[0]);
	return st;
}

/* storage's status as a state key: the status JSON's word, or "ack" */
static const char *state_key(const struct keryu_finder_status *s, bool known)
{
	if (!known)
		return "pending";
	if (s->acknowledged_at[0])
		return "ack";
	return http_finder_status_word(s->status);
}

static void field(struct page *pg, bool shown, const char *label,
		  const char *value)
{
	if (!shown || !value || !*value)
		return;
	html_raw(pg->h, "<dt>");
	html_text(pg->h, label);
	html_raw(pg->h, "</dt><dd>");
	html_text(pg->h, value);
	html_raw(pg->h, "</dd>\n");
}

/* tel: wants the digits (and a leading +) only */
static void tel_href(struct html *h, const char *phone)
{
	char d[64];
	size_t i, n = 0;

	for (i = 0; phone[i] && n + 1 < sizeof(d); i++)
		if (isdigit((unsigned char)phone[i]) ||
		    (phone[i] == '+' && n == 0))
			d[n++] = phone[i];
	d[n] = '\0';
	html_raw(h, "tel:");
	html_attr(h, d);
}

static void details(struct page *pg, const struct keryu_public_subject *s)
{
	unsigned b = s->public_fields;
	bool doc = (b & KERYU_PUB_DOCTOR) && (s->doctor_name[0] ||
					       s->doctor_phone[0]);

	if (!((b & KERYU_PUB_MEDICAL) && s->medical_conditions[0]) &&
	    !((b & KERYU_PUB_ALLERGIES) && s->allergies[0]) &&
	    !((b & KERYU_PUB_MEDICATIONS) && s->medications[0]) && !doc)
		return;
	html_raw(pg->h, "<section>\n<h2>");
	html_text(pg->h, T("Health information"));
	html_raw(pg->h, "</h2>\n<dl>\n");
	field(pg, b & KERYU_PUB_ALLERGIES, T("Allergies"), s->allergies);
	field(pg, b & KERYU_PUB_MEDICAL, T("Medical conditions"),
	      s->medical_conditions);
	field(pg, b & KERYU_PUB_MEDICATIONS, T("Medications"),
	      s->medications);
	if (doc) {
		html_raw(pg->h, "<dt>");
		html_text(pg->h, T("Doctor"));
		html_raw(pg->h, "</dt><dd>");
		html_text(pg->h, s->doctor_name);
		if (s->doctor_phone[0]) {
			html_raw(pg->h, s->doctor_name[0] ? "<br><a href=\""
							  : "<a href=\"");
			tel_href(pg->h, s->doctor_phone);
			html_raw(pg->h, "\">");
			html_text(pg->h, s->doctor_phone);
			html_raw(pg->h, "</a>");
		}
		html_raw(pg->h, "</dd>\n");
	}
	html_raw(pg->h, "</dl>\n</section>\n");
}

static void state_block(struct page *pg, const char *key, const char *token,
			bool live)
{
	const struct state_text *st;
	size_t n, i;
	const char *now = NULL;

	st = state_texts(&n);
	html_raw(pg->h, "<section class=\"st\" id=\"k\" data-t=\"");
	html_attr(pg->h, token);
	html_raw(pg->h, "\"");
	for (i = 0; i < n; i++) {
		html_raw(pg->h, " data-");
		html_raw(pg->h, st[i].key); /* ours: a-z */
		html_raw(pg->h, "=\"");
		html_attr(pg->h, T(st[i].msgid));
		html_raw(pg->h, "\"");
		if (strcmp(st[i].key, key) == 0)
			now = T(st[i].msgid);
	}
	html_raw(pg->h, " data-wait=\"");
	html_attr(pg->h, T("Sending…"));
	html_raw(pg->h, "\" data-fail=\"");
	html_attr(pg->h, T("That did not go through. Please try again."));
	html_raw(pg->h, "\" data-dup=\"");
	html_attr(pg->h, T("This was already sent. Thank you."));
	html_raw(pg->h, "\" data-nogeo=\"");
	html_attr(pg->h, T("Your location is not available. The family can "
			   "still be reached: please use the buttons and the "
			   "form on this page."));
	html_raw(pg->h, "\" data-locok=\"");
	html_attr(pg->h, T("Thank you. Your location was sent to the family."));
	html_raw(pg->h, "\" data-repok=\"");
	html_attr(pg->h, T("Thank you. Your report was sent to the family."));
	html_raw(pg->h, "\">\n<h2>");
	html_text(pg->h, T("The family has been alerted"));
	html_raw(pg->h, "</h2>\n<p id=\"st\" role=\"status\" "
			"aria-live=\"polite\"><strong>");
	html_text(pg->h, now ? now : T("Sending the alert to the family…"));
	html_raw(pg->h, "</strong></p>\n<p class=\"s\">");
	html_text(pg->h, T("Please stay with them until help arrives. If they "
			   "need urgent help, call your local emergency "
			   "services."));
	html_raw(pg->h, "</p>\n");
	if (live && token[0]) {
		html_raw(pg->h, "<noscript><p><a href=\"?t=");
		html_attr(pg->h, token);
		html_raw(pg->h, "\">");
		html_text(pg->h, T("Refresh to see the latest state"));
		html_raw(pg->h, "</a></p></noscript>\n");
	}
	html_raw(pg->h, "</section>\n");
}

static void location_block(struct page *pg)
{
	html_raw(pg->h, "<section>\n<h2>");
	html_text(pg->h, T("Share my location"));
	html_raw(pg->h, "</h2>\n<p>");
	html_text(pg->h, T("The family will get your position on a map. Your "
			   "browser will ask you first; nothing is shared "
			   "until you agree."));
	html_raw(pg->h, "</p>\n<button type=\"button\" id=\"loc\">");
	html_text(pg->h, T("Share my location"));
	html_raw(pg->h, "</button>\n<p id=\"lm\" role=\"status\"></p>\n"
			"<noscript><p class=\"s\">");
	html_text(pg->h, T("Sharing a location needs JavaScript. The family "
			   "can still be reached: please use the form below."));
	html_raw(pg->h, "</p></noscript>\n</section>\n");
}

static void radio(struct page *pg, const char *value, const char *label,
		  bool first)
{
	html_raw(pg->h, "<label><input type=\"radio\" name=\"situation\" "
			"value=\"");
	html_attr(pg->h, value);
	html_raw(pg->h, first ? "\" required> " : "\"> ");
	html_text(pg->h, label);
	html_raw(pg->h, "</label>\n");
}

static void report_block(struct page *pg, const char *token)
{
	html_raw(pg->h, "<section>\n<h2>");
	html_text(pg->h, T("Tell the family what is happening"));
	html_raw(pg->h, "</h2>\n<form id=\"rf\" method=\"post\" "
			"action=\"./report\">\n<input type=\"hidden\" "
			"name=\"t\" value=\"");
	html_attr(pg->h, token);
	html_raw(pg->h, "\">\n<fieldset><legend>");
	html_text(pg->h, T("Situation"));
	html_raw(pg->h, "</legend>\n");
	radio(pg, "injured", T("They are injured"), true);
	radio(pg, "lost", T("They seem lost"), false);
	radio(pg, "contact", T("They are asking for their family"), false);
	radio(pg, "test", T("Just testing the tag"), false);
	html_raw(pg->h, "</fieldset>\n<label for=\"rt\">");
	html_text(pg->h, T("What happened? (optional)"));
	html_raw(pg->h, "</label>\n<textarea id=\"rt\" name=\"text\" rows=\"3\" "
			"maxlength=\"500\"></textarea>\n<button "
			"type=\"submit\">");
	html_text(pg->h, T("Send to the family"));
	html_raw(pg->h, "</button>\n<p id=\"rm\" role=\"status\"></p>\n"
			"</form>\n</section>\n");
}

static void contact_block(struct page *pg, const char *phone)
{
	if (!keryu_e164_valid(phone))
		return;
	html_raw(pg->h, "<section>\n<h2>");
	html_text(pg->h, T("Contact the family"));
	html_raw(pg->h, "</h2>\n<a class=\"b\" href=\"");
	tel_href(pg->h, phone);
	html_raw(pg->h, "\">");
	html_text(pg->h, T("Call the family"));
	html_raw(pg->h, "</a>\n<a class=\"b wa\" href=\"https://wa.me/");
	html_attr(pg->h, phone + 1); /* E.164 without "+": digits only */
	html_raw(pg->h, "\">");
	html_text(pg->h, T("Message on WhatsApp"));
	html_raw(pg->h, "</a>\n</section>\n");
}

/* The page of a scan whose alert went out (or of a HEAD, or of a refresh
 * with the scan's token): token "" for a HEAD (nothing to post to). */
static void scan_page(struct http_ctx *ctx, const char *lang,
		      const struct keryu_public_subject *s, const char *token,
		      const char *state, struct http_response *r)
{
	struct page p = {ctx, lang, &r->body}, *pg = &p;
	const char *name;
	unsigned b = s->public_fields;

	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	r->no_store = true;
	page_csp(r);
	head(pg);
	html_raw(pg->h, "<main>\n");
	lang_switch(pg, token);
	if (s->missing) {
		html_raw(pg->h, "<section class=\"miss\" role=\"alert\">");
		html_text(pg->h, T("This person is missing — please stay with "
				   "them and share your location"));
		html_raw(pg->h, "</section>\n");
	}
	if ((b & KERYU_PUB_FULL_NAME) && s->full_name[0])
		name = s->full_name;
	else if ((b & KERYU_PUB_FIRST_NAME) && s->first_name[0])
		name = s->first_name;
	else
		name = T("this person");
	html_raw(pg->h, "<p class=\"s\">");
	html_text(pg->h, T("You scanned the tag of"));
	html_raw(pg->h, "</p>\n<h1>");
	html_text(pg->h, name);
	html_raw(pg->h, "</h1>\n");
	/* served to this scan's token only (http_finder.c) */
	if ((b & KERYU_PUB_PHOTO) && s->photo[0] && token[0]) {
		html_raw(pg->h, "<img class=\"ph\" src=\"./photo?t=");
		html_attr(pg->h, token);
		html_raw(pg->h, "\" alt=\"");
		html_attr(pg->h, name);
		html_raw(pg->h, "\">\n");
	}
	if ((b & KERYU_PUB_CARE) && s->care_instructions[0]) {
		html_raw(pg->h, "<section class=\"care\">\n<h2>");
		html_text(pg->h, T("How to help them"));
		html_raw(pg->h, "</h2>\n<p class=\"x\"><strong>");
		html_text(pg->h, s->care_instructions);
		html_raw(pg->h, "</strong></p>\n</section>\n");
	}
	state_block(pg, state, token, true);
	if (b & KERYU_PUB_CUSTODIAN_PHONE)
		contact_block(pg, s->custodian_phone);
	location_block(pg);
	details(pg, s);
	report_block(pg, token);
	html_raw(pg->h, "<script>");
	html_raw(pg->h, script);
	html_raw(pg->h, "</script>\n</main>\n</body>\n</html>\n");
}

/* The scan a ?t= token names, when it is a good token of this tag: the
 * page is shown again (the no-JS refresh, a language switch) without a
 * second alert. */
static bool refresh_of(struct http_ctx *ctx, const struct http_request *req,
		       const char *qr, char event_id[KERYU_UUID_LEN])
{
	const char *t = http_form_get(req->query, "t");
	const char *secret = ctx->host->global(ctx->m, "kernel", "secret_key");

	return t && *t && secret && *secret &&
	       keryu_finder_token_check(secret, t, qr, (long long)time(NULL),
					event_id) == 0;
}

static const char *initial_state(struct http_ctx *ctx, const char *event_id,
				 const char *qr)
{
	const struct keryu_storage *st = ctx->storage;
	struct keryu_finder_status fs;
	int rc;

	memset(&fs, 0, sizeof(fs));
	/* the alarm is written a few ms after the scan: usually not yet */
	rc = st->finder_status ? st->finder_status(st->self, event_id, qr, &fs)
			       : KERYU_ENOTFOUND;
	return state_key(&fs, rc == 0);
}

void http_scan(struct http_ctx *ctx, const struct http_request *req,
	       const char *segment, struct http_response *r)
{
	const struct keryu_host *host = ctx->host;
	const struct keryu_storage *st = ctx->storage;
	struct keryu_public_subject *pub;
	struct keryu_scan_event ev;
	char qr[KERYU_UUID_LEN], lang[HTTP_LANG_MAX];
	char token[KERYU_ACK_TOKEN_LEN], event_id[KERYU_UUID_LEN];
	bool chosen, head_only;
	char *json;
	size_t i;
	int rc;

	r->no_store = true;
	http_lang_pick(ctx, req, lang, &chosen);
	if (chosen)
		http_lang_cookie(ctx, r, lang);
	if (!keryu_uuid_valid(segment)) {
		host->log(ctx->m, KERYU_LOG_DEBUG, "http.scan",
			  "qr=- event=- status=404 reason=malformed");
		not_active(ctx, lang, r);
		return;
	}
	for (i = 0; i < KERYU_UUID_LEN; i++)
		qr[i] = (char)tolower((unsigned char)segment[i]);
	head_only = req->method && strcmp(req->method, "HEAD") == 0;
	event_id[0] = '\0';
	if (!head_only && refresh_of(ctx, req, qr, event_id)) {
		/* a refresh re-reads; it is not a scan and is not counted */
	} else if (!head_only) {
		/* before any work: over the limit, nothing is read or
		 * published. A HEAD (link previews, checkers) is not counted:
		 * it could use up a tag's quota and 429 the real finder. */
		event_id[0] = '\0';
		if (!http_scan_allowed(ctx, req, qr, lang, r))
			return;
	}

	pub = calloc(1, sizeof(*pub)); /* ~8 KB: not on an MHD thread's stack */
	if (!pub) {
		unavailable(ctx, lang, r);
		return;
	}
	rc = st && st->tag_public ? st->tag_public(st->self, qr, pub)
				  : KERYU_EIO;
	if (rc == KERYU_ENOTFOUND) {
		host->log(ctx->m, KERYU_LOG_INFO, "http.scan",
			  "qr=%s event=- status=404 reason=inactive", qr);
		not_active(ctx, lang, r);
		goto out;
	}
	if (rc != 0) {
		host->log(ctx->m, KERYU_LOG_ERROR, "http.scan",
			  "qr=%s event=- status=503 reason=storage error=\"%s\"",
			  qr, keryu_strerror(rc));
		unavailable(ctx, lang, r);
		goto out;
	}

	/* HEAD answers what GET would when the alert goes out, but a HEAD
	 * (link checkers, previews, monitoring) is not someone scanning the
	 * tag, so it never raises an alarm. */
	if (head_only) {
		host->log(ctx->m, KERYU_LOG_INFO, "http.scan",
			  "qr=%s event=- status=200 method=HEAD", qr);
		scan_page(ctx, lang, pub, "", "pending", r);
		goto out;
	}
	if (event_id[0]) {
		host->log(ctx->m, KERYU_LOG_INFO, "http.scan",
			  "qr=%s event=%s status=200 refresh=1", qr, event_id);
		http_finder_token(ctx, event_id, qr, token);
		scan_page(ctx, lang, pub, token,
			  initial_state(ctx, event_id, qr), r);
		goto out;
	}

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	memcpy(ev.qr_uuid, qr, sizeof(qr));
	/* the header is whatever bytes the client sent; the event (and the
	 * database text column behind it) needs valid UTF-8 */
	keryu_utf8_copy(ev.user_agent, sizeof(ev.user_agent), req->user_agent);
	http_ip_hash(ctx, req, ev.ip_hash);

	json = keryu_scan_event_encode(&ev);
	if (!json) {
		rc = KERYU_ENOMEM;
	} else {
		char topic[128];

		snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_SCAN, qr);
		rc = host->publish_wait(ctx->m, topic, json, strlen(json),
					ctx->scan_ack_timeout_ms);
		free(json);
	}
	if (rc == KERYU_ETIMEDOUT) {
		host->log(ctx->m, KERYU_LOG_WARN, "http.scan",
			  "qr=%s event=%s status=503 reason=unconfirmed "
			  "error=\"%s\"",
			  qr, ev.event_id, keryu_strerror(rc));
		alert_unconfirmed(ctx, lang, r);
		goto out;
	}
	if (rc != 0) {
		host->log(ctx->m, KERYU_LOG_ERROR, "http.scan",
			  "qr=%s event=%s status=503 reason=publish error=\"%s\"",
			  qr, ev.event_id, keryu_strerror(rc));
		alert_failed(ctx, lang, r);
		goto out;
	}
	host->log(ctx->m, KERYU_LOG_INFO, "http.scan",
		  "qr=%s event=%s status=200 lang=%s", qr, ev.event_id, lang);
	http_finder_token(ctx, ev.event_id, qr, token);
	/* a scan just published has no alarm yet (alarms writes it a few ms
	 * later): no database round trip to learn that; the page's script
	 * asks for the state, a refresh (?t=) reads it */
	scan_page(ctx, lang, pub, token, "pending", r);
out:
	free(pub);
}
