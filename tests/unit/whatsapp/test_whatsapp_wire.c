/* whatsapp_request / whatsapp_response: the wire format of providers.md,
 * byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "whatsapp_request.h"
#include "whatsapp_response.h"

#define NID "3f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"

static void fill_event(struct keryu_notify_event *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->event_id, sizeof(e->event_id),
		 "11111111-2222-4333-8444-555555555555");
	snprintf(e->at, sizeof(e->at), "2026-11-25T12:34:56.789Z");
	snprintf(e->notification_id, sizeof(e->notification_id), NID);
	e->attempt = 1;
	snprintf(e->channel, sizeof(e->channel), "whatsapp");
	snprintf(e->to, sizeof(e->to), "+16505551234");
	snprintf(e->template_name, sizeof(e->template_name),
		 "qr_template_on_m");
	snprintf(e->language, sizeof(e->language), "en_US");
	e->param_count = 2;
	snprintf(e->params[0], sizeof(e->params[0]), "Ana María \"Ani\"");
	snprintf(e->params[1], sizeof(e->params[1]), "2026-11-25 12:34 UTC");
}

static void body_exact(void **ctx)
{
	struct keryu_notify_event e;
	char *body = NULL;

	(void)ctx;
	fill_event(&e);
	assert_int_equal(whatsapp_request_body(&e, false, &body), 0);
	assert_string_equal(
		body,
		"{\"messaging_product\":\"whatsapp\","
		"\"recipient_type\":\"individual\","
		"\"to\":\"+16505551234\",\"type\":\"template\","
		"\"biz_opaque_callback_data\":\"" NID "\","
		"\"template\":{\"name\":\"qr_template_on_m\","
		"\"language\":{\"code\":\"en_US\"},"
		"\"components\":[{\"type\":\"body\",\"parameters\":["
		"{\"type\":\"text\",\"text\":\"Ana María \\\"Ani\\\"\"},"
		"{\"type\":\"text\",\"text\":\"2026-11-25 12:34 UTC\"}]}]}}");
	free(body);
}

static void body_without_params(void **ctx)
{
	struct keryu_notify_event e;
	char *body = NULL;

	(void)ctx;
	fill_event(&e);
	e.param_count = 0;
	assert_int_equal(whatsapp_request_body(&e, false, &body), 0);
	assert_string_equal(
		body,
		"{\"messaging_product\":\"whatsapp\","
		"\"recipient_type\":\"individual\","
		"\"to\":\"+16505551234\",\"type\":\"template\","
		"\"biz_opaque_callback_data\":\"" NID "\","
		"\"template\":{\"name\":\"qr_template_on_m\","
		"\"language\":{\"code\":\"en_US\"}}}");
	free(body);
}

static void body_bad_count(void **ctx)
{
	struct keryu_notify_event e;
	char *body = (char *)"x";

	(void)ctx;
	fill_event(&e);
	e.param_count = KERYU_NOTIFY_MAX_PARAMS + 1;
	assert_int_equal(whatsapp_request_body(&e, false, &body), KERYU_EINVAL);
	assert_null(body);
	e.param_count = -1;
	assert_int_equal(whatsapp_request_body(&e, false, &body), KERYU_EINVAL);
}

#define ACK_TOKEN NID ".1798200000.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"

/* ack_button: the token after the last '/' of ack_url as the URL button's
 * parameter (the template's button URL is {public_url}/ack/{{1}}). */
static void body_with_ack_button(void **ctx)
{
	struct keryu_notify_event e;
	char *body = NULL;
	const char *head =
		"{\"messaging_product\":\"whatsapp\","
		"\"recipient_type\":\"individual\","
		"\"to\":\"+16505551234\",\"type\":\"template\","
		"\"biz_opaque_callback_data\":\"" NID "\","
		"\"template\":{\"name\":\"qr_template_on_m\","
		"\"language\":{\"code\":\"en_US\"}";
	char want[2048];

	(void)ctx;
	fill_event(&e);
	snprintf(e.ack_url, sizeof(e.ack_url),
		 "https://keryu.example/ack/" ACK_TOKEN);
	assert_int_equal(whatsapp_request_body(&e, true, &body), 0);
	snprintf(want, sizeof(want),
		 "%s,\"components\":[{\"type\":\"body\",\"parameters\":["
		 "{\"type\":\"text\",\"text\":\"Ana María \\\"Ani\\\"\"},"
		 "{\"type\":\"text\",\"text\":\"2026-11-25 12:34 UTC\"}]},"
		 "{\"type\":\"button\",\"sub_type\":\"url\",\"index\":\"0\","
		 "\"parameters\":[{\"type\":\"text\",\"text\":\"" ACK_TOKEN
		 "\"}]}]}}",
		 head);
	assert_string_equal(body, want);
	free(body);

	/* the button alone, for a template without body variables */
	e.param_count = 0;
	assert_int_equal(whatsapp_request_body(&e, true, &body), 0);
	snprintf(want, sizeof(want),
		 "%s,\"components\":[{\"type\":\"button\",\"sub_type\":\"url\","
		 "\"index\":\"0\",\"parameters\":[{\"type\":\"text\",\"text\":\""
		 ACK_TOKEN "\"}]}]}}",
		 head);
	assert_string_equal(body, want);
	free(body);

	/* ack_button off: the link is not sent */
	assert_int_equal(whatsapp_request_body(&e, false, &body), 0);
	snprintf(want, sizeof(want), "%s}}", head);
	assert_string_equal(body, want);
	free(body);

	/* no link, or a link without a token: no button */
	e.ack_url[0] = '\0';
	assert_int_equal(whatsapp_request_body(&e, true, &body), 0);
	assert_string_equal(body, want);
	free(body);
	snprintf(e.ack_url, sizeof(e.ack_url), "https://keryu.example/ack/");
	assert_int_equal(whatsapp_request_body(&e, true, &body), 0);
	assert_string_equal(body, want);
	free(body);
}

static void url_building(void **ctx)
{
	char *u = NULL;

	(void)ctx;
	assert_int_equal(whatsapp_request_url("https://graph.facebook.com",
					      "v23.0", "106540352242922", &u),
			 0);
	assert_string_equal(
		u, "https://graph.facebook.com/v23.0/106540352242922/messages");
	free(u);
	assert_int_equal(whatsapp_request_url("http://127.0.0.1:8080/", "v23.0",
					      "123", &u),
			 0);
	assert_string_equal(u, "http://127.0.0.1:8080/v23.0/123/messages");
	free(u);
	assert_int_equal(whatsapp_request_url("http://h/base//", "v24.0", "9",
					      &u),
			 0);
	assert_string_equal(u, "http://h/base/v24.0/9/messages");
	free(u);

	assert_int_equal(whatsapp_request_url("graph.facebook.com", "v23.0",
					      "1", &u),
			 KERYU_EINVAL);
	assert_null(u);
	assert_int_equal(whatsapp_request_url("http://h", "", "1", &u),
			 KERYU_EINVAL);
	assert_int_equal(whatsapp_request_url("http://h", "v23.0", "", &u),
			 KERYU_EINVAL);
	assert_int_equal(whatsapp_request_url("http://h", "v23.0/x", "1", &u),
			 KERYU_EINVAL);
	assert_int_equal(whatsapp_request_url("http://h", "v23.0", "1?a=b", &u),
			 KERYU_EINVAL);
	assert_int_equal(whatsapp_request_url("http://h", "v23.0", "1 2", &u),
			 KERYU_EINVAL);
	assert_int_equal(whatsapp_request_url(NULL, "v23.0", "1", &u),
			 KERYU_EINVAL);
}

static int parse(long status, const char *body,
		 struct keryu_delivery_event *out)
{
	memset(out, 'z', sizeof(*out)); /* prove every field gets set */
	return whatsapp_response_parse(status, body, body ? strlen(body) : 0,
				       out);
}

static void response_success(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	assert_int_equal(
		parse(200,
		      "{\"messaging_product\": \"whatsapp\",\n"
		      " \"contacts\": [{\"input\": \"+16505551234\", \"wa_id\": "
		      "\"16505551234\"}],\n"
		      " \"messages\": [{\"id\": "
		      "\"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA\",\n"
		      "               \"message_status\": \"accepted\"}]}",
		      &r),
		0);
	assert_string_equal(r.status, "sent");
	assert_string_equal(
		r.provider_message_id,
		"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA");
	assert_string_equal(r.error_code, "");
	assert_string_equal(r.error_text, "");
}

static void response_error_example(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	assert_int_equal(
		parse(400,
		      "{\"error\": {\"message\": \"(#132000) Number of parameters "
		      "does not match the expected number of params\",\n"
		      " \"type\": \"OAuthException\", \"code\": 132000,\n"
		      " \"error_data\": {\"messaging_product\": \"whatsapp\", "
		      "\"details\": \"body: number of localizable_params (0) does "
		      "not match the expected number of params (2)\"},\n"
		      " \"fbtrace_id\": \"ATdqH-A9cFJNdLo1xMIvz0t\"}}",
		      &r),
		0);
	assert_string_equal(r.status, "failed");
	assert_string_equal(r.provider_message_id, "");
	assert_string_equal(r.error_code, "132000");
	assert_string_equal(
		r.error_text,
		"(#132000) Number of parameters does not match the expected "
		"number of params: body: number of localizable_params (0) does "
		"not match the expected number of params (2)");
}

static void response_error_variants(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	/* no error_data: the message alone */
	assert_int_equal(parse(400,
			       "{\"error\":{\"message\":\"(#131026) Message "
			       "undeliverable\",\"code\":131026}}",
			       &r),
			 0);
	assert_string_equal(r.status, "failed");
	assert_string_equal(r.error_code, "131026");
	assert_string_equal(r.error_text, "(#131026) Message undeliverable");

	/* a transient code is a result worth retrying: "error", not "failed" */
	assert_int_equal(parse(500,
			       "{\"error\":{\"message\":\"Something went "
			       "wrong\",\"code\":131000}}",
			       &r),
			 0);
	assert_string_equal(r.status, "error");
	assert_string_equal(r.error_code, "131000");

	/* decide on the code even when the HTTP status says 200 */
	assert_int_equal(parse(200, "{\"error\":{\"code\":190}}", &r), 0);
	assert_string_equal(r.status, "failed");
	assert_string_equal(r.error_code, "190");
	assert_string_equal(r.error_text, "");

	/* an error object without a code is not understood */
	assert_int_equal(parse(400, "{\"error\":{\"message\":\"x\"}}", &r),
			 KERYU_EINVAL);
	assert_string_equal(r.status, "failed"); /* a 4xx: permanent */
	assert_string_equal(r.error_code, "http_400");
	assert_int_equal(parse(503, "{\"error\":{\"message\":\"x\"}}", &r),
			 KERYU_EINVAL);
	assert_string_equal(r.status, "error");
	assert_string_equal(r.error_code, "http_503");
}

static void response_truncates(void **ctx)
{
	struct keryu_delivery_event r;
	char body[4096], msg[1001];

	(void)ctx;
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	snprintf(body, sizeof(body),
		 "{\"error\":{\"message\":\"%s\",\"code\":100,"
		 "\"error_data\":{\"details\":\"%s\"}}}",
		 msg, msg);
	assert_int_equal(parse(400, body, &r), 0);
	assert_string_equal(r.status, "failed");
	assert_int_equal(strlen(r.error_text), sizeof(r.error_text) - 1);
}

static void response_malformed(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	assert_int_equal(parse(200, "{\"messages\": [", &r), KERYU_EINVAL);
	assert_string_equal(r.status, "error");
	assert_string_equal(r.error_code, "bad_response");
	assert_string_equal(r.provider_message_id, "");

	assert_int_equal(parse(200, "[1,2]", &r), KERYU_EINVAL);
	assert_string_equal(r.error_code, "bad_response");

	assert_int_equal(parse(200, "", &r), KERYU_EINVAL);
	assert_string_equal(r.error_code, "bad_response");

	assert_int_equal(parse(200, NULL, &r), KERYU_EINVAL);
	assert_string_equal(r.status, "error");
}

static void response_missing_messages(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	assert_int_equal(parse(200,
			       "{\"messaging_product\":\"whatsapp\","
			       "\"contacts\":[{\"input\":\"+1\",\"wa_id\":\"1\"}]}",
			       &r),
			 KERYU_EINVAL);
	assert_string_equal(r.status, "error");
	assert_string_equal(r.error_code, "bad_response");
	assert_int_equal(parse(200, "{\"messages\":[]}", &r), KERYU_EINVAL);
	assert_string_equal(r.error_code, "bad_response");
	assert_int_equal(parse(200, "{\"messages\":[{\"id\":7}]}", &r),
			 KERYU_EINVAL);
	assert_int_equal(parse(200, "{\"messages\":[{\"id\":\"\"}]}", &r),
			 KERYU_EINVAL);
	assert_int_equal(parse(200, "{\"messages\":{\"id\":\"wamid.x\"}}", &r),
			 KERYU_EINVAL);
}

static void response_http_without_error(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	assert_int_equal(parse(503, "", &r), KERYU_EINVAL);
	assert_string_equal(r.status, "error");
	assert_string_equal(r.error_code, "http_503");
	assert_int_equal(parse(502, "<html>Bad gateway</html>", &r),
			 KERYU_EINVAL);
	assert_string_equal(r.error_code, "http_502");
	assert_int_equal(parse(500, "{\"ok\":false}", &r), KERYU_EINVAL);
	assert_string_equal(r.error_code, "http_500");
}

/* Provider texts quoting the recipient's number are published on
 * keryu/v1/delivery/#, which watchers may read: the number is redacted
 * before it gets into the result. */
static void response_redacts_numbers(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	assert_int_equal(
		parse(400,
		      "{\"error\":{\"message\":\"(#131030) Recipient phone number "
		      "not in allowed list\",\"type\":\"OAuthException\","
		      "\"code\":131030,\"error_data\":{\"messaging_product\":"
		      "\"whatsapp\",\"details\":\"Recipient phone number "
		      "+16505551234 not in allowed list: add 16505551234 to the "
		      "recipient list\"}}}",
		      &r),
		0);
	assert_string_equal(r.error_code, "131030");
	assert_string_equal(r.error_text,
			    "(#131030) Recipient phone number not in allowed "
			    "list: Recipient phone number [number] not in "
			    "allowed list: add [number] to the recipient list");

	/* formatted as people write them */
	assert_int_equal(
		parse(400,
		      "{\"error\":{\"message\":\"(#100) Invalid parameter\","
		      "\"code\":100,\"error_data\":{\"details\":\"to: "
		      "+1 650-555-1234, +1 (650) 555 1234, 650.555.1234 and "
		      "(+56) 9 8765 4321 are not valid WhatsApp users\"}}}",
		      &r),
		0);
	assert_string_equal(r.error_text,
			    "(#100) Invalid parameter: to: [number], [number], "
			    "[number] and ([number] are not valid WhatsApp "
			    "users");
	assert_null(strstr(r.error_text, "555"));
	assert_null(strstr(r.error_text, "4321"));

	/* short numbers, error codes and counts are kept */
	assert_int_equal(
		parse(400,
		      "{\"error\":{\"message\":\"(#132000) Number of parameters "
		      "does not match\",\"code\":132000,\"error_data\":"
		      "{\"details\":\"body: 12345 or 1-2-3-4-5 params (0) of "
		      "(2), #131026\"}}}",
		      &r),
		0);
	assert_string_equal(r.error_text,
			    "(#132000) Number of parameters does not match: "
			    "body: 12345 or 1-2-3-4-5 params (0) of (2), "
			    "#131026");

	/* a number at the very end, and one cut off by the buffer's size,
	 * still go */
	whatsapp_response_transport("network", "to 6505551234", &r);
	assert_string_equal(r.error_text, "to [number]");
}

static void redact_edges(void **ctx)
{
	char out[16], big[600], in[700];

	(void)ctx;
	whatsapp_redact_numbers("+123456", out, sizeof(out));
	assert_string_equal(out, "[number]");
	whatsapp_redact_numbers("+12345", out, sizeof(out));
	assert_string_equal(out, "+12345");
	whatsapp_redact_numbers("a 12 34 56 b", out, sizeof(out));
	assert_string_equal(out, "a [number] b");
	whatsapp_redact_numbers("12  34 56", out, sizeof(out));
	assert_string_equal(out, "[number]"); /* a gap of two still joins */
	whatsapp_redact_numbers("x 1234567890123", out, 6);
	assert_string_equal(out, "x [nu");
	whatsapp_redact_numbers(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	whatsapp_redact_numbers("9", out, 1);
	assert_string_equal(out, "");

	/* redacted before being cut to size: the digits past the cut of the
	 * field do not leak as a short run either */
	memset(in, 'm', 507);
	snprintf(in + 507, sizeof(in) - 507, " +16505551234 tail");
	whatsapp_redact_numbers(in, big, 512);
	assert_int_equal(strlen(big), 511);
	assert_null(strstr(big, "650"));
	assert_non_null(strstr(big, " [nu"));
}

static void transport(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	memset(&r, 'z', sizeof(r));
	whatsapp_response_transport("network", "Couldn't connect", &r);
	assert_string_equal(r.status, "error");
	assert_string_equal(r.error_code, "network");
	assert_string_equal(r.error_text, "Couldn't connect");
	assert_string_equal(r.provider_message_id, "");
	whatsapp_response_transport("timeout", NULL, &r);
	assert_string_equal(r.error_text, "");
}

#define P WHATSAPP_PERMANENT
#define R WHATSAPP_RETRY
#define OP WHATSAPP_OPERATOR

/* Every code of providers.md's Meta table, with the HTTP status it comes
 * with, and the same code under other statuses: the code decides. */
static void classification(void **ctx)
{
	static const struct {
		long code, http;
		enum whatsapp_verdict want;
	} t[] = {
		{190, 401, OP},    {0, 401, OP},     {10, 403, OP},
		{200, 403, OP},    {250, 403, OP},   {299, 403, OP},
		{368, 403, OP},    {131031, 403, OP},
		{4, 400, R},       {80007, 400, R},  {130429, 400, R},
		{131000, 500, R},  {131016, 500, R}, {131057, 500, R},
		{2, 503, R},
		{131056, 400, WHATSAPP_PAIR_LIMIT},
		{131048, 400, WHATSAPP_SPAM_LIMIT},
		{100, 400, P},     {131026, 400, P}, {131047, 400, P},
		{132000, 400, P},  {132001, 404, P}, {132015, 400, P},
		{132016, 400, P},
		/* a known code wins over the status */
		{131026, 500, P},  {4, 200, R},      {190, 503, OP},
		{131056, 500, WHATSAPP_PAIR_LIMIT},
		{131048, 429, WHATSAPP_SPAM_LIMIT},
		/* range edges and neighbours that are not in the table */
		{199, 403, P},     {300, 403, P},    {1, 400, P},
		{3, 400, P},       {131049, 400, P}, {132017, 400, P},
		{132014, 400, P},  {131055, 400, P}, {131032, 400, P},
		/* codes the table lacks fall back on the HTTP status */
		{999999, 400, P},  {999999, 401, P}, {999999, 403, P},
		{999999, 404, P},  {999999, 429, R}, {999999, 500, R},
		{999999, 503, R},
	};
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum whatsapp_verdict got = whatsapp_classify(t[i].code,
							      t[i].http);

		if (got != t[i].want)
			fail_msg("code %ld http %ld: verdict %d, want %d",
				 t[i].code, t[i].http, (int)got,
				 (int)t[i].want);
		if ((got == OP) != whatsapp_code_needs_operator(t[i].code))
			fail_msg("code %ld: needs_operator disagrees",
				 t[i].code);
	}
}

/* The published status of each verdict, and what parse publishes for the
 * new classes. */
static void verdict_status(void **ctx)
{
	struct keryu_delivery_event r;

	(void)ctx;
	assert_string_equal(whatsapp_verdict_status(R), "error");
	assert_string_equal(whatsapp_verdict_status(WHATSAPP_PAIR_LIMIT),
			    "error");
	assert_string_equal(whatsapp_verdict_status(WHATSAPP_UNKNOWN),
			    "error");
	assert_string_equal(whatsapp_verdict_status(P), "failed");
	assert_string_equal(whatsapp_verdict_status(WHATSAPP_SPAM_LIMIT),
			    "failed");
	assert_string_equal(whatsapp_verdict_status(OP), "failed");

	assert_int_equal(parse(400, "{\"error\":{\"code\":131056}}", &r), 0);
	assert_string_equal(r.status, "error");
	assert_int_equal(parse(400, "{\"error\":{\"code\":131048}}", &r), 0);
	assert_string_equal(r.status, "failed");
	assert_int_equal(parse(403, "{\"error\":{\"code\":368}}", &r), 0);
	assert_string_equal(r.status, "failed");
	assert_int_equal(parse(400, "{\"error\":{\"code\":424242}}", &r), 0);
	assert_string_equal(r.status, "failed");
	assert_int_equal(parse(429, "{\"error\":{\"code\":424242}}", &r), 0);
	assert_string_equal(r.status, "error");
}

/* No error object, and no answer at all. */
static void classification_without_error_object(void **ctx)
{
	static const long retry[] = {429, 500, 502, 503, 504, 599};
	static const long permanent[] = {400, 401, 403, 404, 413, 301, 100};
	struct keryu_delivery_event r;
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(retry) / sizeof(retry[0]); i++) {
		assert_int_equal(whatsapp_classify_http(retry[i]), R);
		assert_int_equal(parse(retry[i], "", &r), KERYU_EINVAL);
		assert_string_equal(r.status, "error");
	}
	for (i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++) {
		assert_int_equal(whatsapp_classify_http(permanent[i]), P);
		assert_int_equal(parse(permanent[i], "<html>no</html>", &r),
				 KERYU_EINVAL);
		assert_string_equal(r.status, "failed");
	}
	/* a 2xx we cannot read: Meta may have accepted the message */
	assert_int_equal(whatsapp_classify_http(200), WHATSAPP_UNKNOWN);
	assert_int_equal(parse(200, "{}", &r), KERYU_EINVAL);
	assert_string_equal(r.status, "error");

	assert_int_equal(whatsapp_classify_transport("network"), R);
	assert_int_equal(whatsapp_classify_transport("internal"), R);
	assert_int_equal(whatsapp_classify_transport(NULL), R);
	assert_int_equal(whatsapp_classify_transport("timeout"),
			 WHATSAPP_UNKNOWN);
	assert_int_equal(whatsapp_classify_transport("bad_response"),
			 WHATSAPP_UNKNOWN);
	whatsapp_response_transport("network", "reset", &r);
	assert_string_equal(r.status, "error");
	whatsapp_response_transport("timeout", NULL, &r);
	assert_string_equal(r.status, "error");
}

/* What the channel engine is told for every code of providers.md's Meta
 * table, and for answers without one. */
static void answer_verdicts(void **ctx)
{
	static const struct {
		long code, http;
		enum channel_verdict want;
	} t[] = {
		{190, 401, CHANNEL_OPERATOR},    {0, 401, CHANNEL_OPERATOR},
		{10, 403, CHANNEL_OPERATOR},     {200, 403, CHANNEL_OPERATOR},
		{250, 403, CHANNEL_OPERATOR},    {299, 403, CHANNEL_OPERATOR},
		{368, 403, CHANNEL_OPERATOR},    {131031, 403, CHANNEL_OPERATOR},
		{4, 400, CHANNEL_RETRY},         {80007, 400, CHANNEL_RETRY},
		{130429, 400, CHANNEL_RETRY},    {131000, 500, CHANNEL_RETRY},
		{131016, 500, CHANNEL_RETRY},    {131057, 500, CHANNEL_RETRY},
		{2, 503, CHANNEL_RETRY},
		{131056, 400, CHANNEL_RETRY_AFTER},
		{131048, 400, CHANNEL_PERMANENT},
		{100, 400, CHANNEL_PERMANENT},   {131026, 400, CHANNEL_PERMANENT},
		{131047, 400, CHANNEL_PERMANENT}, {132000, 400, CHANNEL_PERMANENT},
		{132001, 404, CHANNEL_PERMANENT}, {132015, 400, CHANNEL_PERMANENT},
		{132016, 400, CHANNEL_PERMANENT},
		{999999, 400, CHANNEL_PERMANENT}, {999999, 429, CHANNEL_RETRY},
		{999999, 500, CHANNEL_RETRY},
	};
	struct channel_answer a;
	char body[128];
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(body, sizeof(body),
			 "{\"error\":{\"message\":\"x\",\"code\":%ld}}",
			 t[i].code);
		memset(&a, 0, sizeof(a));
		whatsapp_response_answer(t[i].http, body, strlen(body), 1, &a);
		if (a.verdict != t[i].want)
			fail_msg("code %ld http %ld: verdict %d, want %d",
				 t[i].code, t[i].http, (int)a.verdict,
				 (int)t[i].want);
		assert_int_equal(strtol(a.result.error_code, NULL, 10),
				 t[i].code);
	}
	/* 131056 holds the recipient 4^attempt s */
	whatsapp_response_answer(400, "{\"error\":{\"code\":131056}}", 26, 1,
				 &a);
	assert_int_equal(a.verdict, CHANNEL_RETRY_AFTER);
	assert_int_equal(a.retry_after_ms, 4000);
	whatsapp_response_answer(400, "{\"error\":{\"code\":131056}}", 26, 2,
				 &a);
	assert_int_equal(a.retry_after_ms, 16000);

	whatsapp_response_answer(
		200, "{\"messages\":[{\"id\":\"wamid.X\"}]}", 32, 1, &a);
	assert_int_equal(a.verdict, CHANNEL_SENT);
	assert_string_equal(a.result.provider_message_id, "wamid.X");
	whatsapp_response_answer(503, "", 0, 1, &a);
	assert_int_equal(a.verdict, CHANNEL_RETRY);
	assert_string_equal(a.result.error_code, "http_503");
	whatsapp_response_answer(404, "<html>", 6, 1, &a);
	assert_int_equal(a.verdict, CHANNEL_PERMANENT);
	/* a 2xx we cannot read: it may have been accepted */
	whatsapp_response_answer(200, "{}", 2, 1, &a);
	assert_int_equal(a.verdict, CHANNEL_UNKNOWN);
	assert_string_equal(a.result.error_code, "bad_response");
}

static void pair_backoff(void **ctx)
{
	(void)ctx;
	assert_int_equal(whatsapp_pair_backoff_ms(1), 4000);
	assert_int_equal(whatsapp_pair_backoff_ms(2), 16000);
	assert_int_equal(whatsapp_pair_backoff_ms(3), 64000);
	assert_int_equal(whatsapp_pair_backoff_ms(4), 256000);
	assert_int_equal(whatsapp_pair_backoff_ms(5), 1024000);
	assert_int_equal(whatsapp_pair_backoff_ms(6), WHATSAPP_BACKOFF_CAP_MS);
	assert_int_equal(whatsapp_pair_backoff_ms(100),
			 WHATSAPP_BACKOFF_CAP_MS);
	assert_int_equal(whatsapp_pair_backoff_ms(0), 4000);
	assert_int_equal(whatsapp_pair_backoff_ms(-1), 4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(body_exact),
		cmocka_unit_test(body_without_params),
		cmocka_unit_test(body_bad_count),
		cmocka_unit_test(body_with_ack_button),
		cmocka_unit_test(url_building),
		cmocka_unit_test(response_success),
		cmocka_unit_test(response_error_example),
		cmocka_unit_test(response_error_variants),
		cmocka_unit_test(response_truncates),
		cmocka_unit_test(response_malformed),
		cmocka_unit_test(response_missing_messages),
		cmocka_unit_test(response_http_without_error),
		cmocka_unit_test(transport),
		cmocka_unit_test(response_redacts_numbers),
		cmocka_unit_test(redact_edges),
		cmocka_unit_test(classification),
		cmocka_unit_test(verdict_status),
		cmocka_unit_test(classification_without_error_object),
		cmocka_unit_test(answer_verdicts),
		cmocka_unit_test(pair_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
