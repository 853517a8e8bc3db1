/* Building a Twilio Messaging "create message" request (providers.md):
 * WhatsApp through a Content API template, or a plain SMS text.
 * Pure functions: no I/O, no globals, so they are unit-tested byte for byte. */
#ifndef TWILIO_REQUEST_H
#define TWILIO_REQUEST_H

#include <stdbool.h>

#include <keryu/events.h>

enum twilio_kind {
	TWILIO_WHATSAPP = 0, /* "whatsapp:+..." addresses, ContentSid */
	TWILIO_SMS = 1,      /* plain E.164 numbers, a text Body */
};

/* What a request needs besides the notification. Strings are borrowed. */
struct twilio_request_cfg {
	enum twilio_kind kind;
	const char *from;        /* sender, E.164 ("+15551234567") */
	const char *content_sid; /* WhatsApp: Content template SID ("HX...");
				    a notification whose template name is
				    itself a Content SID uses that instead */
	const char *sms_text;    /* SMS: text, {{1}}..{{8}} replaced by the
				    notification's parameters */
	const char *code_template; /* SMS: a notification naming this
				      template (a one-time code) uses
				      code_text instead; NULL or "": none */
	const char *code_text;
	bool ack_variable;       /* WhatsApp: the ack link is the template
				    variable after the parameters */
	const char *public_url;  /* Keryu's public base URL for the
				    StatusCallback; NULL or "" leaves it out */
};

/* Sets *out to "{api_base}/2010-04-01/Accounts/{account_sid}/Messages.json";
 * trailing slashes of api_base are dropped. The caller frees *out with
 * free(). Returns 0, KERYU_EINVAL (api_base without "://", or an empty
 * account_sid or one holding '/', '?', '#', '%', a space or a control
 * character), KERYU_ENOMEM. *out is NULL on failure. */
int twilio_request_url(const char *api_base, const char *account_sid,
		       char **out);

/* Sets *out to "{public_url}/webhooks/twilio/status?n={notification_id}"
 * (trailing slashes of public_url dropped). The caller frees *out.
 * Returns 0, KERYU_EINVAL (public_url without "://", notification_id not
 * a UUID), KERYU_ENOMEM. *out is NULL on failure. */
int twilio_status_callback_url(const char *public_url,
			       const char *notification_id, char **out);

/* Sets *out to s in application/x-www-form-urlencoded form: letters,
 * digits and "-._~" as they are, space as '+', every other byte as %XX
 * (upper-case hex), UTF-8 byte by byte. The caller frees *out. Returns 0
 * or KERYU_ENOMEM (*out NULL). s NULL encodes "". */
int twilio_form_escape(const char *s, char **out);

/* Sets *out to the form body for e, fields in this order:
 *   WhatsApp: To=whatsapp:<to>&From=whatsapp:<from>&ContentSid=<sid>
 *             &ContentVariables={"1":<params[0]>,...[,"n":<ack_url>]}
 *   SMS:      To=<to>&From=<from>&Body=<sms_text, placeholders filled>
 *             [<newline><ack_url> when the notification has one]
 *   then      &StatusCallback=<twilio_status_callback_url> when
 *             cfg->public_url is set.
 * A placeholder beyond the notification's parameters becomes "".
 * The caller frees *out with free(). Returns 0, KERYU_EINVAL (a recipient
 * or sender that is not E.164, WhatsApp without a Content SID, SMS without
 * a text, param_count out of range, a bad public_url), KERYU_ENOMEM. *out
 * is NULL on failure. */
int twilio_request_body(const struct twilio_request_cfg *cfg,
			const struct keryu_notify_event *e, char **out);

/* True when s looks like a Content template SID: "HX" and 32 hex digits. */
bool twilio_content_sid_valid(const char *s);

#endif
