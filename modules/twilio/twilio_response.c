/* Twilio Messaging answers -> delivery results (see providers.md). */
#include "twilio_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <keryu/module.h>

/* Shared with the whatsapp module: provider texts quote phone numbers. */
#include "whatsapp_response.h"

/* Larger answers are not from Twilio; don't spend time on them. */
#define MAX_ANSWER (1u << 20)

/* providers.md's Twilio table. A code not in it is decided by the HTTP
 * status (twilio_classify). */
static const struct {
	long code;
	enum twilio_verdict verdict;
} codes[] = {
	{20003, TWILIO_OPERATOR},  /* bad credentials */
	{21211, TWILIO_PERMANENT}, /* invalid To */
	{21610, TWILIO_PERMANENT}, /* recipient opted out */
	{63016, TWILIO_PERMANENT}, /* outside the window / not a template */
	{20429, TWILIO_RETRY},     /* too many concurrent requests */
};

enum twilio_verdict twilio_classify(long code, long http_status)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (code == codes[i].code)
			return codes[i].verdict;
	return (http_status == 429 || http_status >= 500) ? TWILIO_RETRY
							  : TWILIO_PERMANENT;
}

enum twilio_verdict twilio_classify_http(long http_status)
{
	if (http_status == 429 || http_status >= 500)
		return TWILIO_RETRY;
	if (http_status >= 200 && http_status <= 299)
		return TWILIO_UNKNOWN;
	/* a 401 without Twilio's error object is still our credentials */
	if (http_status == 401)
		return TWILIO_OPERATOR;
	return TWILIO_PERMANENT;
}

const char *twilio_verdict_status(enum twilio_verdict v)
{
	switch (v) {
	case TWILIO_RETRY:
	case TWILIO_UNKNOWN:
		return "error";
	case TWILIO_PERMANENT:
	case TWILIO_OPERATOR:
		break;
	}
	return "failed";
}

bool twilio_code_needs_operator(long code)
{
	return twilio_classify(code, 0) == TWILIO_OPERATOR;
}

static void set(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void clear_result(struct keryu_delivery_event *out)
{
	out->status[0] = '\0';
	out->provider_message_id[0] = '\0';
	out->error_code[0] = '\0';
	out->error_text[0] = '\0';
}

static void give(enum twilio_verdict *verdict, enum twilio_verdict v)
{
	if (verdict)
		*verdict = v;
}

static int unexpected(long http_status, const char *why,
		      struct keryu_delivery_event *out,
		      enum twilio_verdict *verdict)
{
	enum twilio_verdict v = twilio_classify_http(http_status);

	if (http_status >= 200 && http_status <= 299)
		set(out->error_code, sizeof(out->error_code), "bad_response");
	else
		snprintf(out->error_code, sizeof(out->error_code), "http_%ld",
			 http_status);
	set(out->status, sizeof(out->status), twilio_verdict_status(v));
	set(out->error_text, sizeof(out->error_text), why);
	give(verdict, v);
	return KERYU_EINVAL;
}

/* A usable error code: a JSON number, or digits in a string. */
static bool code_of(const cJSON *c, long *out)
{
	char *end;

	if (cJSON_IsNumber(c) && c->valuedouble >= 0 && c->valuedouble <= 1e9) {
		*out = (long)c->valuedouble;
		return true;
	}
	if (cJSON_IsString(c) && c->valuestring[0] >= '0' &&
	    c->valuestring[0] <= '9' && strlen(c->valuestring) <= 9) {
		*out = strtol(c->valuestring, &end, 10);
		return *end == '\0';
	}
	return false;
}

static int provider_error(long http_status, long code, const cJSON *msg,
			  struct keryu_delivery_event *out,
			  enum twilio_verdict *verdict)
{
	enum twilio_verdict v = twilio_classify(code, http_status);

	set(out->status, sizeof(out->status), twilio_verdict_status(v));
	snprintf(out->error_code, sizeof(out->error_code), "%ld", code);
	/* redacted whole, before it is cut to size: a number cut in two
	 * would slip through */
	whatsapp_redact_numbers(cJSON_IsString(msg) ? msg->valuestring : "",
				out->error_text, sizeof(out->error_text));
	give(verdict, v);
	return 0;
}

int twilio_response_parse(long http_status, const char *body, size_t len,
			  struct keryu_delivery_event *out,
			  enum twilio_verdict *verdict)
{
	const cJSON *code, *sid;
	cJSON *o;
	long c;
	int rc;

	clear_result(out);
	give(verdict, TWILIO_PERMANENT);
	if (!body || len == 0 || len > MAX_ANSWER)
		return unexpected(http_status, "empty or oversized answer", out,
				  verdict);
	o = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return unexpected(http_status, "answer is not a JSON object",
				  out, verdict);
	}
	if (http_status < 200 || http_status > 299) {
		code = cJSON_GetObjectItemCaseSensitive(o, "code");
		if (code_of(code, &c))
			rc = provider_error(
				http_status, c,
				cJSON_GetObjectItemCaseSensitive(o, "message"),
				out, verdict);
		else
			rc = unexpected(http_status,
					"HTTP error without an error code", out,
					verdict);
		goto done;
	}
	/* A message resource. It may already carry an error (error_code
	 * set, status failed), which is then final like any other. */
	code = cJSON_GetObjectItemCaseSensitive(o, "error_code");
	if (code_of(code, &c)) {
		rc = provider_error(
			http_status, c,
			cJSON_GetObjectItemCaseSensitive(o, "error_message"),
			out, verdict);
		goto done;
	}
	sid = cJSON_GetObjectItemCaseSensitive(o, "sid");
	if (!cJSON_IsString(sid) || !*sid->valuestring ||
	    strlen(sid->valuestring) >= sizeof(out->provider_message_id)) {
		rc = unexpected(http_status, "answer without a message sid", out,
				verdict);
		goto done;
	}
	set(out->status, sizeof(out->status), "sent");
	set(out->provider_message_id, sizeof(out->provider_message_id),
	    sid->valuestring);
	rc = 0;
done:
	cJSON_Delete(o);
	return rc;
}
