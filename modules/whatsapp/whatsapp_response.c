/* Cloud API answers -> delivery results (see providers.md). */
#include "whatsapp_response.h"

#include <stdbool.h>
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

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Where the number starting at src[i] (a digit) ends; *digits counts its
 * digits and *plain says it has no separators. A gap of one separator, or
 * two ("(650) 555", "1 (650)"), between digits continues it. */
static size_t number_end(const char *src, size_t i, int *digits, bool *plain)
{
	static const char sep[] = " -.()";
	size_t end = i, gap;

	*digits = 0;
	*plain = true;
	for (;;) {
		while (digit(src[end])) {
			(*digits)++;
			end++;
		}
		for (gap = 0; gap < 2 && src[end + gap] &&
			      strchr(sep, src[end + gap]);
		     gap++)
			;
		if (gap == 0 || !digit(src[end + gap]))
			return end;
		*plain = false;
		end += gap;
	}
}

void whatsapp_redact_numbers(const char *src, char *dst, size_t size)
{
	size_t i = 0, o = 0, end, n;
	int digits;
	bool plain;

	if (size == 0)
		return;
	src = src ? src : "";
	while (src[i] && o + 1 < size) {
		size_t start = i;
		const char *put = NULL;

		if (digit(src[i]) ||
		    (src[i] == '+' && digit(src[i + 1]))) {
			end = number_end(src, src[i] == '+' ? i + 1 : i, &digits,
					 &plain);
			if (digits >= 6 &&
			    !(plain && start > 0 && src[start - 1] == '#'))
				put = "[number]";
			i = end;
		} else {
			i++;
		}
		if (put) {
			n = strlen(put);
			if (n > size - 1 - o)
				n = size - 1 - o;
			memcpy(dst + o, put, n);
		} else {
			n = i - start;
			if (n > size - 1 - o)
				n = size - 1 - o;
			memcpy(dst + o, src + start, n);
		}
		o += n;
	}
	dst[o] = '\0';
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
	whatsapp_redact_numbers(text, out->error_text,
				sizeof(out->error_text));
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
	/* the whole text, redacted before it is cut to size: a number cut in
	 * two would slip through */
	char text[4 * sizeof(out->error_text)];
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
		snprintf(text, sizeof(text), "%s: %s", msg->valuestring,
			 details->valuestring);
	else if (cJSON_IsString(msg))
		set(text, sizeof(text), msg->valuestring);
	else if (cJSON_IsString(details))
		set(text, sizeof(text), details->valuestring);
	else
		text[0] = '\0';
	whatsapp_redact_numbers(text, out->error_text, sizeof(out->error_text));
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
