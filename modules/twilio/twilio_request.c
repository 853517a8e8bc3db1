/* Request URL and form body for Twilio Messaging (see providers.md). */
#include "twilio_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <keryu/module.h>

/* A growing string; on allocation failure it stays failed and frees. */
struct buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			free(b->s);
			*b = (struct buf){.failed = true};
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static void put_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char pct[3] = {'%', 0, 0};
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *run;

	while (*p) {
		for (run = p; *p && unreserved(*p); p++)
			;
		put(b, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		if (*p == ' ') {
			put(b, "+", 1);
		} else {
			pct[1] = hex[*p >> 4];
			pct[2] = hex[*p & 15];
			put(b, pct, 3);
		}
		p++;
	}
}

int twilio_form_escape(const char *s, char **out)
{
	struct buf b = {0};

	put(&b, "", 0);
	put_escaped(&b, s);
	*out = b.failed ? NULL : b.s;
	return b.failed ? KERYU_ENOMEM : 0;
}

/* "&name=value" (no '&' for the first field), value escaped. */
static void field(struct buf *b, const char *name, const char *prefix,
		  const char *value)
{
	if (b->len)
		put(b, "&", 1);
	puts_(b, name);
	put(b, "=", 1);
	put_escaped(b, prefix);
	put_escaped(b, value);
}

/* A path segment we paste into the URL must not be able to escape it. */
static bool segment_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || strchr("/?#%", *s))
			return false;
	return true;
}

static int base_len(const char *url, size_t *n)
{
	if (!url || !strstr(url, "://"))
		return KERYU_EINVAL;
	*n = strlen(url);
	while (*n > 0 && url[*n - 1] == '/')
		(*n)--;
	return 0;
}

int twilio_request_url(const char *api_base, const char *account_sid,
		       char **out)
{
	size_t n;

	*out = NULL;
	if (base_len(api_base, &n) || !segment_ok(account_sid))
		return KERYU_EINVAL;
	if (asprintf(out, "%.*s/2010-04-01/Accounts/%s/Messages.json", (int)n,
		     api_base, account_sid) < 0) {
		*out = NULL;
		return KERYU_ENOMEM;
	}
	return 0;
}

int twilio_status_callback_url(const char *public_url,
			       const char *notification_id, char **out)
{
	size_t n;

	*out = NULL;
	if (base_len(public_url, &n) || !keryu_uuid_valid(notification_id))
		return KERYU_EINVAL;
	if (asprintf(out, "%.*s/webhooks/twilio/status?n=%s", (int)n,
		     public_url, notification_id) < 0) {
		*out = NULL;
		return KERYU_ENOMEM;
	}
	return 0;
}

bool twilio_content_sid_valid(const char *s)
{
	int i;

	if (!s || s[0] != 'H' || s[1] != 'X')
		return false;
	for (i = 2; i < 34; i++)
		if (!s[i] || !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return s[34] == '\0';
}

/* {"1":"<params[0]>",...} plus the ack link as the next number. */
static char *content_variables(const struct twilio_request_cfg *cfg,
			       const struct keryu_notify_event *e)
{
	cJSON *o = cJSON_CreateObject();
	char key[16];
	char *s = NULL;
	int i;

	if (!o)
		return NULL;
	for (i = 0; i < e->param_count; i++) {
		snprintf(key, sizeof(key), "%d", i + 1);
		if (!cJSON_AddStringToObject(o, key, e->params[i]))
			goto out;
	}
	if (cfg->ack_variable && e->ack_url[0]) {
		snprintf(key, sizeof(key), "%d", i + 1);
		if (!cJSON_AddStringToObject(o, key, e->ack_url))
			goto out;
	}
	s = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return s;
}

/* The SMS text for e: code_text for one-time codes, else sms_text. */
static const char *sms_template(const struct twilio_request_cfg *cfg,
				const struct keryu_notify_event *e)
{
	if (cfg->code_template && *cfg->code_template && cfg->code_text &&
	    *cfg->code_text && strcmp(e->template_name, cfg->code_template) == 0)
		return cfg->code_text;
	return cfg->sms_text;
}

/* The SMS text with "{{n}}" (n = 1..KERYU_NOTIFY_MAX_PARAMS) replaced. */
static void sms_text(struct buf *b, const struct twilio_request_cfg *cfg,
		     const struct keryu_notify_event *e)
{
	const char *p = sms_template(cfg, e), *open;
	int n;

	while ((open = strstr(p, "{{"))) {
		n = open[2] - '0';
		put(b, p, (size_t)(open - p));
		if (n >= 1 && n <= KERYU_NOTIFY_MAX_PARAMS && open[3] == '}' &&
		    open[4] == '}') {
			if (n <= e->param_count)
				puts_(b, e->params[n - 1]);
			p = open + 5;
		} else {
			put(b, "{{", 2);
			p = open + 2;
		}
	}
	puts_(b, p);
	if (e->ack_url[0]) {
		put(b, "\n", 1);
		puts_(b, e->ack_url);
	}
}

int twilio_request_body(const struct twilio_request_cfg *cfg,
			const struct keryu_notify_event *e, char **out)
{
	struct buf b = {0};
	struct buf text = {0};
	const char *addr = cfg->kind == TWILIO_WHATSAPP ? "whatsapp:" : "";
	const char *sid = cfg->content_sid;
	char *vars = NULL, *callback = NULL;
	int rc;

	*out = NULL;
	if (e->param_count < 0 || e->param_count > KERYU_NOTIFY_MAX_PARAMS ||
	    !keryu_e164_valid(e->to) || !keryu_e164_valid(cfg->from))
		return KERYU_EINVAL;
	if (twilio_content_sid_valid(e->template_name))
		sid = e->template_name;
	if (cfg->kind == TWILIO_WHATSAPP ? !sid || !*sid
					 : !cfg->sms_text || !*cfg->sms_text)
		return KERYU_EINVAL;
	if (cfg->public_url && *cfg->public_url) {
		rc = twilio_status_callback_url(cfg->public_url,
						e->notification_id, &callback);
		if (rc)
			return rc;
	}
	field(&b, "To", addr, e->to);
	field(&b, "From", addr, cfg->from);
	if (cfg->kind == TWILIO_WHATSAPP) {
		vars = content_variables(cfg, e);
		if (!vars) {
			rc = KERYU_ENOMEM;
			goto out;
		}
		field(&b, "ContentSid", "", sid);
		field(&b, "ContentVariables", "", vars);
	} else {
		put(&text, "", 0);
		sms_text(&text, cfg, e);
		if (text.failed) {
			rc = KERYU_ENOMEM;
			goto out;
		}
		field(&b, "Body", "", text.s);
	}
	if (callback)
		field(&b, "StatusCallback", "", callback);
	rc = b.failed ? KERYU_ENOMEM : 0;
out:
	free(vars);
	free(text.s);
	free(callback);
	if (rc)
		free(b.s);
	else
		*out = b.s;
	return rc;
}
