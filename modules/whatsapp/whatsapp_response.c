/* Cloud API answers -> delivery results (see providers.md). */
#include "whatsapp_response.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <keryu/module.h>

/* Larger answers are not from the Cloud API; don't spend time on them. */
#define MAX_ANSWER (1u << 20)

enum whatsapp_verdict whatsapp_classify(long code, long http_status)
{
	switch (code) {
	case 4:      /* application rate limit */
	case 80007:  /* business account rate limit */
	case 130429: /* throughput limit */
	case 131056: /* pair rate limit: same recipient too often */
	case 131000: /* something went wrong */
	case 131016: /* service unavailable */
	case 131057: /* account in maintenance */
	case 2:      /* service temporarily down */
		return WHATSAPP_RETRY;
	case 190: case 0:             /* token expired or invalid */
	case 10:                      /* permission denied */
	case 100:                     /* invalid parameter */
	case 131026:                  /* undeliverable */
	case 131047:                  /* outside the 24 h window */
	case 132000:                  /* parameter count mismatch */
	case 132001:                  /* template missing in that language */
	case 132015: case 132016:     /* template paused / disabled */
	case 368: case 131031:        /* policy block / account locked */
	/* Spam rate limit: Meta wants the sender to stop, and retrying within
	 * our few attempts would only deepen the block. */
	case 131048:
		return WHATSAPP_PERMANENT;
	default:
		break;
	}
	if (code >= 200 && code <= 299) /* permission errors */
		return WHATSAPP_PERMANENT;
	return (http_status == 429 || http_status >= 500) ? WHATSAPP_RETRY
							  : WHATSAPP_PERMANENT;
}

bool whatsapp_code_needs_operator(long code)
{
	return code == 190 || code == 0 || code == 10 ||
	       (code >= 200 && code <= 299) || code == 131031;
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

void whatsapp_response_transport(const char *code, const char *text,
				 struct keryu_delivery_event *out)
{
	clear_result(out);
	set(out->status, sizeof(out->status), "error");
	set(out->error_code, sizeof(out->error_code), code);
	set(out->error_text, sizeof(out->error_text), text);
}

static int unexpected(long http_status, const char *why,
		      struct keryu_delivery_event *out)
{
	char code[32];

	if (http_status >= 200 && http_status <= 299)
		snprintf(code, sizeof(code), "bad_response");
	else
		snprintf(code, sizeof(code), "http_%ld", http_status);
	whatsapp_response_transport(code, why, out);
	return KERYU_EINVAL;
}

static int provider_error(long http_status, const cJSON *err,
			  struct keryu_delivery_event *out)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(err, "error_data");
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(data, "details");
	long c;

	if (!cJSON_IsNumber(code) || code->valuedouble < 0 ||
	    code->valuedouble > 1e9)
		return unexpected(http_status, "error object without a code", out);
	c = (long)code->valuedouble;
	set(out->status, sizeof(out->status),
	    whatsapp_classify(c, http_status) == WHATSAPP_RETRY ? "error"
								: "failed");
	snprintf(out->error_code, sizeof(out->error_code), "%ld", c);
	if (cJSON_IsString(msg) && cJSON_IsString(details) &&
	    *details->valuestring)
		snprintf(out->error_text, sizeof(out->error_text), "%s: %s",
			 msg->valuestring, details->valuestring);
	else if (cJSON_IsString(msg))
		set(out->error_text, sizeof(out->error_text), msg->valuestring);
	else if (cJSON_IsString(details))
		set(out->error_text, sizeof(out->error_text),
		    details->valuestring);
	return 0;
}

int whatsapp_response_parse(long http_status, const char *body, size_t len,
			    struct keryu_delivery_event *out)
{
	cJSON *o;
	const cJSON *err, *msgs, *id;
	int rc;

	clear_result(out);
	if (!body || len == 0 || len > MAX_ANSWER)
		return unexpected(http_status, "empty or oversized answer", out);
	o = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return unexpected(http_status, "answer is not a JSON object",
				  out);
	}
	/* Meta says to decide on error.code whatever the HTTP status. */
	err = cJSON_GetObjectItemCaseSensitive(o, "error");
	if (cJSON_IsObject(err)) {
		rc = provider_error(http_status, err, out);
	} else if (http_status < 200 || http_status > 299) {
		rc = unexpected(http_status, "HTTP error without error object",
				out);
	} else {
		msgs = cJSON_GetObjectItemCaseSensitive(o, "messages");
		id = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetArrayItem(msgs, 0), "id");
		if (!cJSON_IsArray(msgs) || !cJSON_IsString(id) ||
		    !*id->valuestring ||
		    strlen(id->valuestring) >= sizeof(out->provider_message_id)) {
			rc = unexpected(http_status,
					"answer without messages[0].id", out);
		} else {
			set(out->status, sizeof(out->status), "sent");
			set(out->provider_message_id,
			    sizeof(out->provider_message_id), id->valuestring);
			rc = 0;
		}
	}
	cJSON_Delete(o);
	return rc;
}
