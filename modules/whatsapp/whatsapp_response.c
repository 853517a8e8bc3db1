/* Cloud API answers -> delivery results (see providers.md). */
#include "whatsapp_response.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <keryu/module.h>

/* Larger answers are not from the Cloud API; don't spend time on them. */
#define MAX_ANSWER (1u << 20)

/* providers.md's Meta table, one row per code range. A code not in it is
 * decided by the HTTP status (whatsapp_classify). */
static const struct {
	long lo, hi;
	enum whatsapp_verdict verdict;
} codes[] = {
	{190, 190, WHATSAPP_OPERATOR},       /* token expired */
	{0, 0, WHATSAPP_OPERATOR},           /* token invalid */
	{10, 10, WHATSAPP_OPERATOR},         /* permission denied */
	{200, 299, WHATSAPP_OPERATOR},       /* permission missing */
	{368, 368, WHATSAPP_OPERATOR},       /* policy block */
	{131031, 131031, WHATSAPP_OPERATOR}, /* account locked */
	{4, 4, WHATSAPP_RETRY},              /* application rate limit */
	{80007, 80007, WHATSAPP_RETRY},      /* business account rate limit */
	{130429, 130429, WHATSAPP_RETRY},    /* throughput limit */
	{131000, 131000, WHATSAPP_RETRY},    /* something went wrong */
	{131016, 131016, WHATSAPP_RETRY},    /* service unavailable */
	{131057, 131057, WHATSAPP_RETRY},    /* account in maintenance */
	{2, 2, WHATSAPP_RETRY},              /* service temporarily down */
	{131056, 131056, WHATSAPP_PAIR_LIMIT}, /* same recipient too often */
	/* Meta wants the sender to stop: the usual retries would only deepen
	 * the block. */
	{131048, 131048, WHATSAPP_SPAM_LIMIT},
	{100, 100, WHATSAPP_PERMANENT},       /* invalid parameter */
	{131026, 131026, WHATSAPP_PERMANENT}, /* undeliverable */
	{131047, 131047, WHATSAPP_PERMANENT}, /* outside the 24 h window */
	{132000, 132000, WHATSAPP_PERMANENT}, /* parameter count mismatch */
	{132001, 132001, WHATSAPP_PERMANENT}, /* template missing in language */
	{132015, 132016, WHATSAPP_PERMANENT}, /* template paused / disabled */
};

enum whatsapp_verdict whatsapp_classify(long code, long http_status)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (code >= codes[i].lo && code <= codes[i].hi)
			return codes[i].verdict;
	return (http_status == 429 || http_status >= 500) ? WHATSAPP_RETRY
							  : WHATSAPP_PERMANENT;
}

enum whatsapp_verdict whatsapp_classify_http(long http_status)
{
	if (http_status == 429 || http_status >= 500)
		return WHATSAPP_RETRY;
	if (http_status >= 200 && http_status <= 299)
		return WHATSAPP_UNKNOWN;
	return WHATSAPP_PERMANENT;
}

enum whatsapp_verdict whatsapp_classify_transport(const char *code)
{
	if (code && (strcmp(code, "timeout") == 0 ||
		     strcmp(code, "bad_response") == 0))
		return WHATSAPP_UNKNOWN;
	return WHATSAPP_RETRY;
}

const char *whatsapp_verdict_status(enum whatsapp_verdict v)
{
	switch (v) {
	case WHATSAPP_RETRY:
	case WHATSAPP_PAIR_LIMIT:
	case WHATSAPP_UNKNOWN:
		return "error";
	case WHATSAPP_PERMANENT:
	case WHATSAPP_SPAM_LIMIT:
	case WHATSAPP_OPERATOR:
		break;
	}
	return "failed";
}

bool whatsapp_code_needs_operator(long code)
{
	return whatsapp_classify(code, 0) == WHATSAPP_OPERATOR;
}

unsigned whatsapp_pair_backoff_ms(int attempt)
{
	uint64_t ms = 4000;
	int i;

	for (i = 1; i < attempt && ms < WHATSAPP_BACKOFF_CAP_MS; i++)
		ms *= 4;
	return ms > WHATSAPP_BACKOFF_CAP_MS ? WHATSAPP_BACKOFF_CAP_MS
					    : (unsigned)ms;
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
	set(out->status, sizeof(out->status),
	    whatsapp_verdict_status(whatsapp_classify_transport(code)));
	set(out->error_code, sizeof(out->error_code), code);
	whatsapp_redact_numbers(text, out->error_text,
				sizeof(out->error_text));
}

static int unexpected(long http_status, const char *why,
		      struct keryu_delivery_event *out,
		      enum whatsapp_verdict *v)
{
	char code[32];

	if (http_status >= 200 && http_status <= 299)
		snprintf(code, sizeof(code), "bad_response");
	else
		snprintf(code, sizeof(code), "http_%ld", http_status);
	whatsapp_response_transport(code, why, out);
	*v = whatsapp_classify_http(http_status);
	set(out->status, sizeof(out->status), whatsapp_verdict_status(*v));
	return KERYU_EINVAL;
}

static int provider_error(long http_status, const cJSON *err,
			  struct keryu_delivery_event *out,
			  enum whatsapp_verdict *v)
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
		return unexpected(http_status, "error object without a code", out,
				  v);
	c = (long)code->valuedouble;
	*v = whatsapp_classify(c, http_status);
	set(out->status, sizeof(out->status), whatsapp_verdict_status(*v));
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

/* *sent is set for a "sent" answer, *v for every other. */
static int parse(long http_status, const char *body, size_t len,
		 struct keryu_delivery_event *out, enum whatsapp_verdict *v,
		 bool *sent)
{
	cJSON *o;
	const cJSON *err, *msgs, *id;
	int rc;

	clear_result(out);
	if (!body || len == 0 || len > MAX_ANSWER)
		return unexpected(http_status, "empty or oversized answer", out,
				  v);
	o = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return unexpected(http_status, "answer is not a JSON object",
				  out, v);
	}
	/* Meta says to decide on error.code whatever the HTTP status. */
	err = cJSON_GetObjectItemCaseSensitive(o, "error");
	if (cJSON_IsObject(err)) {
		rc = provider_error(http_status, err, out, v);
	} else if (http_status < 200 || http_status > 299) {
		rc = unexpected(http_status, "HTTP error without error object",
				out, v);
	} else {
		msgs = cJSON_GetObjectItemCaseSensitive(o, "messages");
		id = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetArrayItem(msgs, 0), "id");
		if (!cJSON_IsArray(msgs) || !cJSON_IsString(id) ||
		    !*id->valuestring ||
		    strlen(id->valuestring) >= sizeof(out->provider_message_id)) {
			rc = unexpected(http_status,
					"answer without messages[0].id", out, v);
		} else {
			set(out->status, sizeof(out->status), "sent");
			*sent = true;
			set(out->provider_message_id,
			    sizeof(out->provider_message_id), id->valuestring);
			rc = 0;
		}
	}
	cJSON_Delete(o);
	return rc;
}

int whatsapp_response_parse(long http_status, const char *body, size_t len,
			    struct keryu_delivery_event *out)
{
	enum whatsapp_verdict v = WHATSAPP_PERMANENT;
	bool sent = false;

	return parse(http_status, body, len, out, &v, &sent);
}

void whatsapp_response_answer(long http_status, const char *body, size_t len,
			      int attempt, struct channel_answer *out)
{
	enum whatsapp_verdict v = WHATSAPP_PERMANENT;
	bool sent = false;

	out->retry_after_ms = 0;
	parse(http_status, body, len, &out->result, &v, &sent);
	if (sent) {
		out->verdict = CHANNEL_SENT;
		return;
	}
	switch (v) {
	case WHATSAPP_RETRY:
		out->verdict = CHANNEL_RETRY;
		break;
	case WHATSAPP_PAIR_LIMIT:
		out->verdict = CHANNEL_RETRY_AFTER;
		out->retry_after_ms = whatsapp_pair_backoff_ms(attempt);
		break;
	case WHATSAPP_UNKNOWN:
		out->verdict = CHANNEL_UNKNOWN;
		break;
	case WHATSAPP_OPERATOR:
		out->verdict = CHANNEL_OPERATOR;
		break;
	case WHATSAPP_SPAM_LIMIT: /* Meta says stop: retrying deepens it */
	case WHATSAPP_PERMANENT:
		out->verdict = CHANNEL_PERMANENT;
		break;
	}
}
