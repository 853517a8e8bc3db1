/* One-time codes sent to a phone, and the rate limits around them and the
 * logins. A code is 6 digits; only its HMAC reaches the database, and the
 * code itself travels only inside the delivery request on the bus (whose
 * ACL keeps it to Keryu's own clients). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http_module.h"

#define CODE_TTL_S 900
#define CODE_MAX_TRIES 5
#define CODE_RESEND_S 60
/* Every code is a message to a phone Keryu does not own yet; whatever the
 * purpose or contact, one custodian may cause at most this many a day. */
#define CODE_CAP_WINDOW_S 86400
#define CODE_CAP_MAX 10
/* How long a code's delivery request may go unanswered before storage
 * gives up on it. A code cannot be resent (only its HMAC is stored), so
 * past the lease the notification just becomes FAILED "no_outcome" and
 * the custodian asks for a new one; 5 minutes covers a channel's own
 * retries of a transient failure while the code is still worth typing. */
#define CODE_LEASE_S 300

/* True when custodian_id may be sent one more code; counts it. A failing
 * rate service refuses too (*rc is then its error, else KERYU_ECONFLICT). */
static bool code_cap_ok(struct http_ctx *ctx, const char *custodian_id,
			int *rc)
{
	const struct keryu_accounts *a = ctx->accounts;
	char key[96];
	bool allowed = false;

	snprintf(key, sizeof(key), "codes:acct:%s", custodian_id);
	*rc = a->rate_hit(a->self, key, CODE_CAP_WINDOW_S, CODE_CAP_MAX,
			  &allowed);
	if (*rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.code_cap",
			       "custodian=%s error=\"%s\"", custodian_id,
			       keryu_strerror(*rc));
		return false;
	}
	if (allowed)
		return true;
	ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.code_capped",
		       "custodian=%s", custodian_id);
	*rc = KERYU_ECONFLICT;
	return false;
}

void http_code_hash(const struct http_ctx *ctx, const char *code,
		    char out[KERYU_HASH_HEX])
{
	http_hmac_hex(ctx, code, out);
}

static const char *purpose_name(enum keryu_code_purpose p)
{
	switch (p) {
	case KERYU_CODE_PHONE: return "phone";
	case KERYU_CODE_RESET: return "reset";
	case KERYU_CODE_CONTACT: return "contact";
	}
	return "?";
}

/* Fills ev's template, language and parameters: the approved template
 * staff set for event "code" on the verify channel (admin.h), read on
 * every send so a change needs no restart, else [http] verify_template.
 * Any error reading it falls back: a code must still go out. */
static void code_template(struct http_ctx *ctx, struct keryu_notify_event *ev,
			  const char *code)
{
	const struct keryu_admin *a = ctx->admin;
	struct keryu_template t;
	char params[sizeof(t.parameters)], *save = NULL, *tok;

	memset(&t, 0, sizeof(t));
	if (a && a->template_get &&
	    a->template_get(a->self, "code", ctx->verify_channel, &t) == 0 &&
	    t.approved && t.name[0] && t.language[0]) {
		snprintf(ev->template_name, sizeof(ev->template_name), "%s",
			 t.name);
		snprintf(ev->language, sizeof(ev->language), "%s", t.language);
		/* "code" is the only variable of this event (admin.h): the
		 * template takes it once, or takes no parameter */
		memcpy(params, t.parameters, sizeof(params));
		params[sizeof(params) - 1] = '\0';
		ev->param_count = 0;
		for (tok = strtok_r(params, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, "code") == 0 && ev->param_count == 0)
				snprintf(ev->params[ev->param_count++],
					 sizeof(ev->params[0]), "%s", code);
		return;
	}
	snprintf(ev->template_name, sizeof(ev->template_name), "%s",
		 ctx->verify_template);
	snprintf(ev->language, sizeof(ev->language), "%s",
		 ctx->verify_language);
	ev->param_count = 1;
	snprintf(ev->params[0], sizeof(ev->params[0]), "%s", code);
}

/* contact_id is NULL unless purpose is KERYU_CODE_CONTACT. */
static int code_send(struct http_ctx *ctx, const char *custodian_id,
		     enum keryu_code_purpose purpose, const char *contact_id)
{
	const struct keryu_accounts *a = ctx->accounts;
	const struct keryu_storage *st = ctx->storage;
	struct keryu_code_issued issued;
	struct keryu_notify_event ev;
	char code[8], hash[KERYU_HASH_HEX], topic[128];
	char *json;
	int rc;

	/* before the code row exists: over the cap nothing is issued */
	if (!code_cap_ok(ctx, custodian_id, &rc))
		return rc;
	snprintf(code, sizeof(code), "%06u",
		 (unsigned)randombytes_uniform(1000000));
	http_code_hash(ctx, code, hash);
	memset(&issued, 0, sizeof(issued));
	rc = a->code_issue(a->self, custodian_id, purpose, contact_id, hash,
			   ctx->verify_channel, CODE_TTL_S, CODE_MAX_TRIES,
			   CODE_RESEND_S, &issued);
	if (rc) {
		sodium_memzero(code, sizeof(code));
		ctx->host->log(ctx->m,
			       rc == KERYU_ECONFLICT ? KERYU_LOG_INFO
						     : KERYU_LOG_ERROR,
			       "http.code_issue",
			       "custodian=%s purpose=%s error=\"%s\"",
			       custodian_id, purpose_name(purpose),
			       keryu_strerror(rc));
		return rc;
	}

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	memcpy(ev.notification_id, issued.notification_id, KERYU_UUID_LEN);
	ev.attempt = 1;
	snprintf(ev.channel, sizeof(ev.channel), "%s", ctx->verify_channel);
	snprintf(ev.to, sizeof(ev.to), "%s", issued.recipient);
	code_template(ctx, &ev, code);
	sodium_memzero(code, sizeof(code));

	json = keryu_notify_event_encode(&ev);
	sodium_memzero(ev.params[0], sizeof(ev.params[0]));
	if (!json) {
		rc = KERYU_ENOMEM;
	} else {
		snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_NOTIFY,
			 ctx->verify_channel);
		rc = ctx->host->publish(ctx->m, topic, json, strlen(json), 1,
					false);
		sodium_memzero(json, strlen(json));
		free(json);
	}
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.code_publish",
			       "custodian=%s purpose=%s notification=%s "
			       "error=\"%s\"",
			       custodian_id, purpose_name(purpose),
			       issued.notification_id, keryu_strerror(rc));
		return rc;
	}
	rc = st->notification_queued(st->self, issued.notification_id, 1,
				     CODE_LEASE_S);
	if (rc) /* the request is on its way; only the status lags */
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.code_queued",
			       "notification=%s error=\"%s\"",
			       issued.notification_id, keryu_strerror(rc));
	ctx->host->log(ctx->m, KERYU_LOG_INFO, "http.code_sent",
		       "custodian=%s purpose=%s notification=%s channel=%s",
		       custodian_id, purpose_name(purpose),
		       issued.notification_id, ctx->verify_channel);
	return 0;
}

int http_code_send(struct http_ctx *ctx, const char *custodian_id,
		   enum keryu_code_purpose purpose)
{
	return code_send(ctx, custodian_id, purpose, NULL);
}

int http_code_send_contact(struct http_ctx *ctx, const char *custodian_id,
			   const char *contact_id)
{
	return code_send(ctx, custodian_id, KERYU_CODE_CONTACT, contact_id);
}

bool http_rate_ok(struct http_ctx *ctx, const char *what, const char *kind,
		  const char *subject, int window_s, int max,
		  struct http_response *r)
{
	const struct keryu_accounts *a = ctx->accounts;
	char hash[KERYU_HASH_HEX], key[160];
	bool allowed = false;
	int rc;

	/* IPs and emails become keys only as HMACs under the secret key */
	http_hmac_hex(ctx, subject ? subject : "", hash);
	snprintf(key, sizeof(key), "%s:%s:%s", what, kind, hash);
	rc = a->rate_hit(a->self, key, window_s, max, &allowed);
	if (rc) {
		ctx->host->log(ctx->m, KERYU_LOG_ERROR, "http.rate_limit",
			       "what=%s kind=%s error=\"%s\"", what, kind,
			       keryu_strerror(rc));
		http_page_error(r, 503, "Temporarily unavailable",
				"This page cannot be used right now. Please "
				"try again in a few minutes.");
		r->no_store = true;
		return false;
	}
	if (allowed)
		return true;
	ctx->host->log(ctx->m, KERYU_LOG_WARN, "http.rate_limited",
		       "what=%s kind=%s", what, kind);
	http_page_error(r, 429, "Too many attempts",
			"Please wait a while before trying again.");
	r->no_store = true;
	/* windows are aligned to the epoch (the service's rule) */
	r->retry_after = window_s - (int)(time(NULL) % window_s);
	return false;
}
