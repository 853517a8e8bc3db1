/* A subject's emergency contacts: the custodian first (always, not
 * deletable), then the others in the order the custodian sets. A new
 * contact's phone gets a one-time code, sent exactly as the custodian's
 * own (http_code.c), and is used for alerts only once that code is
 * entered here. The channels offered for a contact and its fallback are
 * [http] contact_channels (http_config.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "http_subjects.h"

#define CODE_WINDOW_S 900

/* The subject (p->arg[0]) and its contacts; with want_contact, also the
 * index of contact p->arg[1] among them. False after answering (404 when
 * either is not the custodian's). */
struct contacts {
	struct keryu_subject s;
	struct keryu_contact list[KERYU_CONTACTS_MAX];
	size_t n;
	size_t at; /* the contact named by p->arg[1] */
};

static bool contacts_load(struct http_page *p, struct contacts *c,
			  bool want_contact)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	int rc;

	if (!http_subject_load(p, &c->s))
		return false;
	rc = sv->contact_list(sv->self, p->s->who.id, c->s.id, c->list,
			      KERYU_CONTACTS_MAX, &c->n);
	if (rc) {
		http_subject_fail(p, "http.contact_list", rc);
		return false;
	}
	if (!want_contact)
		return true;
	/* a contact is reached only through its own subject's URL */
	for (c->at = 0; c->at < c->n; c->at++)
		if (strcasecmp(c->list[c->at].id, p->arg[1]) == 0)
			return true;
	http_subject_not_found(p);
	return false;
}

/* A one-button POST form, inline. */
static void button(struct html *h, const struct http_page *p,
		   const char *action, const char *label, const char *aria)
{
	html_raw(h, "<form method=\"post\" action=\"");
	html_attr(h, action);
	html_raw(h, "\" style=\"display:inline-block;margin:0 .5rem .25rem 0\">"
		    "<input type=\"hidden\" name=\"csrf\" value=\"");
	html_attr(h, p->s->row.csrf);
	html_raw(h, "\"><button type=\"submit\" style=\"padding:.2rem .7rem\" "
		    "aria-label=\"");
	html_attr(h, aria);
	html_raw(h, "\">");
	html_text(h, label);
	html_raw(h, "</button></form>");
}

static void contact_path(char out[160], const char *sid, const char *cid,
			 const char *rest)
{
	snprintf(out, 160, "/subjects/%s/contacts/%s/%s", sid, cid, rest);
}

static void contacts_page(struct http_page *p, const struct contacts *c,
			  const struct html_errors *e, unsigned status)
{
	const char *notice = http_query(p, "notice");
	struct html *h = &p->r->body;
	char action[160], aria[160];
	size_t i;

	if (!http_form_page(p, "Emergency contacts", status))
		return;
	if (strcmp(notice, "verified") == 0)
		http_notice(h, "The contact's phone number is verified.");
	else if (strcmp(notice, "deleted") == 0)
		http_notice(h, "The contact was removed.");
	html_raw(h, "<p>When a tag of <strong>");
	html_text(h, c->s.name);
	html_raw(h, "</strong> is scanned, these people are alerted, in this "
		    "order.</p>\n<ol style=\"padding-left:1.5rem\">\n"
		    "<li style=\"margin:0 0 .75rem\"><strong>");
	html_text(h, p->s->who.name);
	html_raw(h, "</strong> (you)<br><span class=\"small\">");
	html_text(h, p->s->who.phone);
	html_raw(h, " · always first; change it on <a href=\"/account/\">your "
		    "account</a></span></li>\n");
	for (i = 0; i < c->n; i++) {
		const struct keryu_contact *k = &c->list[i];

		html_raw(h, "<li style=\"margin:0 0 .75rem\"><strong style=\""
			    "overflow-wrap:anywhere\">");
		html_text(h, k->name);
		html_raw(h, "</strong><br><span class=\"small\">");
		html_text(h, k->phone);
		html_text(h, " · ");
		html_text(h, http_channel_label(k->channel));
		if (k->fallback_channel[0]) {
			html_text(h, " · if that fails: ");
			html_text(h, http_channel_label(k->fallback_channel));
		}
		html_text(h, k->verified ? " · verified" : " · not verified "
							     "yet: not alerted");
		html_raw(h, "</span><br>\n");
		if (!k->verified) {
			contact_path(action, c->s.id, k->id, "verify");
			html_raw(h, "<a href=\"");
			html_attr(h, action);
			html_raw(h, "\" style=\"margin-right:.5rem\">Enter its "
				    "code</a>");
		}
		if (i > 0) {
			contact_path(action, c->s.id, k->id, "up");
			snprintf(aria, sizeof(aria), "Move %s up", k->name);
			button(h, p, action, "Up", aria);
		}
		if (i + 1 < c->n) {
			contact_path(action, c->s.id, k->id, "down");
			snprintf(aria, sizeof(aria), "Move %s down", k->name);
			button(h, p, action, "Down", aria);
		}
		contact_path(action, c->s.id, k->id, "delete");
		snprintf(aria, sizeof(aria), "Remove %s", k->name);
		button(h, p, action, "Remove", aria);
		html_raw(h, "</li>\n");
	}
	html_raw(h, "</ol>\n<h2 style=\"font-size:1.25rem\">Add a contact</h2>\n");
	if (c->n >= KERYU_CONTACTS_MAX) {
		html_textf(h, "A subject can have at most %d contacts besides "
			      "you.",
			   KERYU_CONTACTS_MAX);
	} else {
		html_error_summary(h, e);
		snprintf(action, sizeof(action), "/subjects/%s/contacts/new",
			 c->s.id);
		html_form_begin(h, action, p->s->row.csrf);
		html_input(h, &(struct html_field){
				      .name = "name", .label = "Name",
				      .value = http_field(p, "name"),
				      .error = html_errors_for(e, "name"),
				      .autocomplete = "off"});
		html_input(h, &(struct html_field){
				      .name = "phone", .label = "Phone number",
				      .type = "tel",
				      .value = http_field(p, "phone"),
				      .error = html_errors_for(e, "phone"),
				      .hint = "With the country code, e.g. +1 "
					      "650 555 1234. We send a code "
					      "to it by WhatsApp to check it.",
				      .autocomplete = "off"});
		http_select(h, &(struct http_select){
				       .name = "channel",
				       .label = "Alert them by",
				       .value = http_is_post(p)
							? http_field(p,
								     "channel")
							: p->ctx->contact_channel[0],
				       .error = html_errors_for(e, "channel"),
				       .options = p->ctx->channel_opts});
		http_select(h, &(struct http_select){
				       .name = "fallback_channel",
				       .label = "Fallback channel",
				       .hint = "Tried when the first one cannot "
					       "deliver the alert.",
				       .value = http_field(p,
							   "fallback_channel"),
				       .error = html_errors_for(
					       e, "fallback_channel"),
				       .options = p->ctx->fallback_opts});
		html_form_end(h, "Add contact");
	}
	snprintf(action, sizeof(action), "/subjects/%s/", c->s.id);
	html_raw(h, "<p><a href=\"");
	html_attr(h, action);
	html_raw(h, "\">Back to ");
	html_text(h, c->s.name);
	html_raw(h, "</a></p>\n");
	http_layout_end(h);
}



void http_contacts(struct http_page *p)
{
	struct contacts *c = calloc(1, sizeof(*c));
	struct html_errors e = {0};

	if (!c) {
		http_unavailable(p);
		return;
	}
	if (contacts_load(p, c, false))
		contacts_page(p, c, &e, 200);
	free(c);
}

void http_contact_new(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct contacts *c = calloc(1, sizeof(*c));
	struct html_errors e = {0};
	struct http_msgs msgs = {0};
	struct keryu_contact k;
	enum http_text_problem t;
	const char *why, *channel = http_field(p, "channel");
	const char *fallback = http_field(p, "fallback_channel");
	char id[KERYU_UUID_LEN], loc[160];
	int rc;

	if (!c) {
		http_unavailable(p);
		return;
	}
	if (!contacts_load(p, c, false) || !http_phone_verified_or_page(p))
		goto out;
	memset(&k, 0, sizeof(k));
	t = http_text_read(http_field(p, "name"), k.name, sizeof(k.name), 100,
			   false, true);
	if (t == HTTP_TEXT_EMPTY)
		html_errors_add(&e, "name", "Enter the contact's name.");
	else if (t)
		html_errors_add(&e, "name",
				http_text_message(&msgs, t, "Name", 100));
	if (strspn(http_field(p, "phone"), " \t") ==
	    strlen(http_field(p, "phone")))
		html_errors_add(&e, "phone", "Enter the phone number.");
	else if ((why = http_phone_normalise(http_field(p, "phone"),
					     k.phone)) != NULL)
		html_errors_add(&e, "phone", why);
	/* only what [http] contact_channels offers, whatever was posted */
	if (!http_channel_offered(p->ctx, channel))
		html_errors_add(&e, "channel", "Choose how to alert them.");
	else
		snprintf(k.channel, sizeof(k.channel), "%s", channel);
	if (fallback[0] && !http_channel_offered(p->ctx, fallback))
		html_errors_add(&e, "fallback_channel",
				"Choose a fallback channel from the list, or "
				"None.");
	else if (fallback[0] && strcmp(fallback, channel) == 0)
		html_errors_add(&e, "fallback_channel",
				"Choose a fallback channel other than the "
				"first one, or None.");
	else
		snprintf(k.fallback_channel, sizeof(k.fallback_channel), "%s",
			 fallback);
	if (c->n >= KERYU_CONTACTS_MAX)
		html_errors_add(&e, NULL, "This subject has the most contacts "
					  "allowed.");
	if (e.n) {
		contacts_page(p, c, &e, 400);
		goto out;
	}
	rc = sv->contact_add(sv->self, p->s->who.id, c->s.id, &k, id);
	if (rc == KERYU_EINVAL) {
		html_errors_add(&e, NULL, "These details were not accepted. "
					  "Please check them.");
		contacts_page(p, c, &e, 400);
		goto out;
	}
	if (rc == KERYU_ECONFLICT) { /* another add got there first */
		html_errors_add(&e, NULL, "This subject has the most contacts "
					  "allowed.");
		contacts_page(p, c, &e, 400);
		goto out;
	}
	if (rc) {
		http_subject_fail(p, "http.contact_add", rc);
		goto out;
	}
	p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO, "http.contact_added",
			  "custodian=%s subject=%s contact=%s", p->s->who.id,
			  c->s.id, id);
	/* the 60 s resend throttle is per contact; what bounds the messages a
	 * custodian can cause is the daily cap in http_code.c and the
	 * verified-phone check above */
	rc = http_code_send_contact(p->ctx, p->s->who.id, id);
	contact_path(loc, c->s.id, id,
		     rc == 0		       ? "verify?sent=1"
		     : rc == KERYU_ECONFLICT ? "verify?sent=wait"
					     : "verify?sent=0");
	http_redirect(p->r, loc);
out:
	free(c);
}

static void contacts_redirect(struct http_page *p, const char *sid,
			      const char *notice)
{
	char loc[160];

	snprintf(loc, sizeof(loc), "/subjects/%s/contacts/%s", sid, notice);
	http_redirect(p->r, loc);
}

void http_contact_delete(struct http_page *p)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct contacts *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		http_unavailable(p);
		return;
	}
	if (contacts_load(p, c, true)) {
		rc = sv->contact_delete(sv->self, p->s->who.id,
					c->list[c->at].id);
		if (rc) {
			http_subject_fail(p, "http.contact_delete", rc);
		} else {
			p->ctx->host->log(p->ctx->m, KERYU_LOG_INFO,
					  "http.contact_deleted",
					  "custodian=%s subject=%s contact=%s",
					  p->s->who.id, c->s.id,
					  c->list[c->at].id);
			contacts_redirect(p, c->s.id, "?notice=deleted");
		}
	}
	free(c);
}

static void contact_move(struct http_page *p, int delta)
{
	const struct keryu_subjects *sv = p->ctx->subjects;
	struct contacts *c = calloc(1, sizeof(*c));
	int rc = 0;

	if (!c) {
		http_unavailable(p);
		return;
	}
	if (contacts_load(p, c, true)) {
		/* the first cannot go up nor the last down: nothing to do */
		if ((delta < 0 && c->at > 0) ||
		    (delta > 0 && c->at + 1 < c->n))
			rc = sv->contact_move(sv->self, p->s->who.id,
					      c->list[c->at].id, delta);
		if (rc && rc != KERYU_EINVAL)
			http_subject_fail(p, "http.contact_move", rc);
		else
			contacts_redirect(p, c->s.id, "");
	}
	free(c);
}

void http_contact_up(struct http_page *p)
{
	contact_move(p, -1);
}

void http_contact_down(struct http_page *p)
{
	contact_move(p, 1);
}

/* ---- verification ---- */

static void verify_page(struct http_page *p, const struct contacts *c,
			const struct html_errors *e, const char *notice,
			unsigned status)
{
	const struct keryu_contact *k = &c->list[c->at];
	struct html *h = &p->r->body;
	char action[160];

	if (!http_form_page(p, "Verify a contact", status))
		return;
	if (k->verified) {
		http_notice(h, "This contact's phone number is verified.");
	} else {
		if (notice)
			http_notice(h, notice);
		html_error_summary(h, e);
		html_raw(h, "<p>We send a 6-digit code by WhatsApp to <strong>");
		html_text(h, k->name);
		html_raw(h, "</strong> at ");
		html_text(h, k->phone);
		html_raw(h, ". Ask them for it and enter it here. Until then "
			    "they are not alerted.</p>\n");
		contact_path(action, c->s.id, k->id, "verify");
		html_form_begin(h, action, p->s->row.csrf);
		html_input(h, &(struct html_field){
				      .name = "code", .label = "Code",
				      .error = html_errors_for(e, "code"),
				      .autocomplete = "one-time-code",
				      .inputmode = "numeric"});
		html_form_end(h, "Verify");
		contact_path(action, c->s.id, k->id, "verify/resend");
		html_form_begin(h, action, p->s->row.csrf);
		html_raw(h, "<p class=\"small\">No code, or did it expire?"
			    "</p>\n");
		html_form_end(h, "Send a new code");
	}
	snprintf(action, sizeof(action), "/subjects/%s/contacts/", c->s.id);
	html_raw(h, "<p><a href=\"");
	html_attr(h, action);
	html_raw(h, "\">Back to the contacts</a></p>\n");
	http_layout_end(h);
}

void http_contact_verify(struct http_page *p)
{
	struct http_ctx *ctx = p->ctx;
	const struct keryu_accounts *a = ctx->accounts;
	struct contacts *c = calloc(1, sizeof(*c));
	enum keryu_code_check res = KERYU_CODE_WRONG;
	const char *sent = http_query(p, "sent");
	struct html_errors e = {0};
	char code[8], hash[KERYU_HASH_HEX];
	int rc;

	if (!c) {
		http_unavailable(p);
		return;
	}
	if (!contacts_load(p, c, true))
		goto out;
	if (!http_is_post(p)) {
		verify_page(p, c, &e,
			    strcmp(sent, "1") == 0
				    ? "We sent the contact a code by WhatsApp."
			    : strcmp(sent, "wait") == 0
				    ? "No code was sent: one went out less "
				      "than a minute ago, or you have asked "
				      "for too many codes today. Please ask "
				      "for this contact's code later."
			    : strcmp(sent, "0") == 0
				    ? "We could not send a code just now. "
				      "Please ask for a new one in a minute."
				    : NULL,
			    200);
		goto out;
	}
	if (c->list[c->at].verified) {
		contacts_redirect(p, c->s.id, "");
		goto out;
	}
	/* the same budget as the custodian's own codes */
	if (!http_rate_ok(ctx, "code", "ip", p->req->client_ip, CODE_WINDOW_S,
			  30, p->r) ||
	    !http_rate_ok(ctx, "code", "acct", p->s->who.email, CODE_WINDOW_S,
			  10, p->r))
		goto out;
	if (!http_code_read(p, code, &e)) {
		verify_page(p, c, &e, NULL, 400);
		goto out;
	}
	http_code_hash(ctx, code, hash);
	sodium_memzero(code, sizeof(code));
	rc = a->code_check(a->self, p->s->who.id, KERYU_CODE_CONTACT,
			   c->list[c->at].id, hash, &res);
	if (rc) {
		http_subject_fail(p, "http.contact_verify", rc);
		goto out;
	}
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.contact_verify",
		       "custodian=%s contact=%s result=%d", p->s->who.id,
		       c->list[c->at].id, (int)res);
	if (res == KERYU_CODE_OK) {
		contacts_redirect(p, c->s.id, "?notice=verified");
		goto out;
	}
	html_errors_add(&e, "code", http_code_message(res));
	verify_page(p, c, &e, NULL, 400);
out:
	free(c);
}

void http_contact_resend(struct http_page *p)
{
	struct contacts *c = calloc(1, sizeof(*c));
	struct html_errors e = {0};
	char loc[160];
	int rc;

	if (!c) {
		http_unavailable(p);
		return;
	}
	if (!contacts_load(p, c, true))
		goto out;
	if (c->list[c->at].verified) {
		contacts_redirect(p, c->s.id, "");
		goto out;
	}
	if (!http_phone_verified_or_page(p))
		goto out;
	rc = http_code_send_contact(p->ctx, p->s->who.id, c->list[c->at].id);
	if (rc == 0) {
		contact_path(loc, c->s.id, c->list[c->at].id,
			     "verify?sent=1");
		http_redirect(p->r, loc);
		goto out;
	}
	if (rc == KERYU_ENOTFOUND) {
		http_subject_not_found(p);
		goto out;
	}
	html_errors_add(&e, NULL,
			rc == KERYU_ECONFLICT
				? "A code was sent less than a minute ago, "
				  "or you have asked for too many codes "
				  "today. Please wait before asking for "
				  "another."
				: "We could not send a code just now. Please "
				  "try again in a minute.");
	verify_page(p, c, &e, NULL, rc == KERYU_ECONFLICT ? 429 : 503);
	if (rc == KERYU_ECONFLICT)
		p->r->retry_after = 60;
out:
	free(c);
}
