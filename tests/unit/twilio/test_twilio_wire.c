/* twilio_request / twilio_response: the wire format of providers.md, byte
 * for byte, and the error table. */
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

#include "twilio_request.h"
#include "twilio_response.h"

#define NID "3f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"
#define SID "HXb5b62575e6e4ff6129ad7c8efe1f983e"
#define CB "https%3A%2F%2Fkeryu.example%2Fwebhooks%2Ftwilio%2Fstatus%3Fn%3D" NID

static void fill_event(struct keryu_notify_event *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->event_id, sizeof(e->event_id),
		 "11111111-2222-4333-8444-555555555555");
	snprintf(e->at, sizeof(e->at), "2026-11-25T12:34:56.789Z");
	snprintf(e->notification_id, sizeof(e->notification_id), NID);
	e->attempt = 1;
	snprintf(e->channel, sizeof(e->channel), "twilio");
	snprintf(e->to, sizeof(e->to), "+18551234567");
	snprintf(e->template_name, sizeof(e->template_name),
		 "qr_template_on_m");
	snprintf(e->language, sizeof(e->language), "en_US");
	e->param_count = 2;
	snprintf(e->params[0], sizeof(e->params[0]), "Ana María \"Ani\" & co");
	snprintf(e->params[1], sizeof(e->params[1]), "2026-11-25 12:34 UTC");
}

static struct twilio_request_cfg wa_cfg(void)
{
	return (struct twilio_request_cfg){
		.kind = TWILIO_WHATSAPP,
		.from = "+15551234567",
		.content_sid = SID,
		.sms_text = "unused",
		.public_url = "https://keryu.example/",
	};
}

static void url_exact(void **ctx)
{
	char *u = NULL;

	(void)ctx;
	assert_int_equal(twilio_request_url("https://api.twilio.com/",
					    "AC0123456789abcdef0123456789abcdef",
					    &u),
			 0);
	assert_string_equal(u, "https://api.twilio.com/2010-04-01/Accounts/"
			       "AC0123456789abcdef0123456789abcdef/Messages.json");
	free(u);
	assert_int_equal(twilio_request_url("http://127.0.0.1:8080", "AC1", &u),
			 0);
	assert_string_equal(
		u, "http://127.0.0.1:8080/2010-04-01/Accounts/AC1/Messages.json");
	free(u);
	assert_int_equal(twilio_request_url("api.twilio.com", "AC1", &u),
			 KERYU_EINVAL);
	assert_null(u);
	assert_int_equal(twilio_request_url("https://a", "AC1/../x", &u),
			 KERYU_EINVAL);
	assert_int_equal(twilio_request_url("https://a", "AC 1", &u),
			 KERYU_EINVAL);
	assert_int_equal(twilio_request_url("https://a", "", &u), KERYU_EINVAL);
	assert_int_equal(twilio_request_url("https://a", "AC%2f", &u),
			 KERYU_EINVAL);
	assert_null(u);
}

static void callback_url(void **ctx)
{
	char *u = NULL;

	(void)ctx;
	assert_int_equal(twilio_status_callback_url("https://k.example//", NID,
						    &u),
			 0);
	assert_string_equal(u,
			    "https://k.example/webhooks/twilio/status?n=" NID);
	free(u);
	assert_int_equal(twilio_status_callback_url("k.example", NID, &u),
			 KERYU_EINVAL);
	assert_int_equal(twilio_status_callback_url("https://k", "x&y=1", &u),
			 KERYU_EINVAL);
	assert_null(u);
}

static void escape_exact(void **ctx)
{
	char *s = NULL;

	(void)ctx;
	assert_int_equal(twilio_form_escape("whatsapp:+1 555 a-b._~/?&=%\"é\n",
					    &s),
			 0);
	assert_string_equal(s, "whatsapp%3A%2B1+555+a-b._~%2F%3F%26%3D%25%22"
			       "%C3%A9%0A");
	free(s);
	assert_int_equal(twilio_form_escape(NULL, &s), 0);
	assert_string_equal(s, "");
	free(s);
}

static void whatsapp_body_exact(void **ctx)
{
	struct twilio_request_cfg cfg = wa_cfg();
	struct keryu_notify_event e;
	char *body = NULL;

	(void)ctx;
	fill_event(&e);
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	/* ContentVariables {"1":"Ana María \"Ani\" & co","2":"2026-11-25 12:34 UTC"} */
	assert_string_equal(
		body,
		"To=whatsapp%3A%2B18551234567&From=whatsapp%3A%2B15551234567"
		"&ContentSid=" SID
		"&ContentVariables=%7B%221%22%3A%22Ana+Mar%C3%ADa+%5C%22Ani%5C%22"
		"+%26+co%22%2C%222%22%3A%222026-11-25+12%3A34+UTC%22%7D"
		"&StatusCallback=" CB);
	free(body);
}

static void whatsapp_ack_variable(void **ctx)
{
	struct twilio_request_cfg cfg = wa_cfg();
	struct keryu_notify_event e;
	char *body = NULL;

	(void)ctx;
	fill_event(&e);
	snprintf(e.ack_url, sizeof(e.ack_url), "https://k.example/ack/a.1.b");
	snprintf(e.params[0], sizeof(e.params[0]), "Ana");
	snprintf(e.params[1], sizeof(e.params[1]), "12:34");
	/* without ack_variable the link is not sent */
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_non_null(strstr(body, "&ContentVariables=%7B%221%22%3A%22Ana%22"
				     "%2C%222%22%3A%2212%3A34%22%7D&"));
	free(body);
	cfg.ack_variable = true;
	cfg.public_url = NULL; /* no StatusCallback at all */
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_string_equal(
		body,
		"To=whatsapp%3A%2B18551234567&From=whatsapp%3A%2B15551234567"
		"&ContentSid=" SID
		"&ContentVariables=%7B%221%22%3A%22Ana%22%2C%222%22%3A%2212%3A34%22"
		"%2C%223%22%3A%22https%3A%2F%2Fk.example%2Fack%2Fa.1.b%22%7D");
	free(body);
}

/* A notification naming a Content SID itself (a verification template)
 * uses it; control characters are JSON-escaped, then form-encoded. */
static void whatsapp_template_sid_and_escapes(void **ctx)
{
	struct twilio_request_cfg cfg = wa_cfg();
	struct keryu_notify_event e;
	char *body = NULL;

	(void)ctx;
	fill_event(&e);
	snprintf(e.template_name, sizeof(e.template_name),
		 "HX00000000000000000000000000000001");
	e.param_count = 1;
	snprintf(e.params[0], sizeof(e.params[0]), "a\\b\n\t");
	cfg.public_url = "";
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_string_equal(
		body,
		"To=whatsapp%3A%2B18551234567&From=whatsapp%3A%2B15551234567"
		"&ContentSid=HX00000000000000000000000000000001"
		"&ContentVariables=%7B%221%22%3A%22a%5C%5Cb%5Cn%5Ct%22%7D");
	free(body);
	e.param_count = 0;
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_non_null(strstr(body, "&ContentVariables=%7B%7D"));
	free(body);
}

static void sms_body_exact(void **ctx)
{
	struct twilio_request_cfg cfg = wa_cfg();
	struct keryu_notify_event e;
	char *body = NULL;

	(void)ctx;
	fill_event(&e);
	cfg.kind = TWILIO_SMS;
	cfg.from = "+15557654321";
	cfg.sms_text = "Keryu: {{1}} scanned at {{2}}. {{3}}{{x}}{{";
	cfg.content_sid = NULL;
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_string_equal(
		body, "To=%2B18551234567&From=%2B15557654321"
		      "&Body=Keryu%3A+Ana+Mar%C3%ADa+%22Ani%22+%26+co+scanned+at+"
		      "2026-11-25+12%3A34+UTC.+%7B%7Bx%7D%7D%7B%7B"
		      "&StatusCallback=" CB);
	free(body);
	snprintf(e.ack_url, sizeof(e.ack_url), "https://k.example/ack/t");
	cfg.sms_text = "{{2}}: {{1}}";
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_string_equal(
		body, "To=%2B18551234567&From=%2B15557654321"
		      "&Body=2026-11-25+12%3A34+UTC%3A+Ana+Mar%C3%ADa+%22Ani%22+"
		      "%26+co%0Ahttps%3A%2F%2Fk.example%2Fack%2Ft"
		      "&StatusCallback=" CB);
	free(body);

	/* a one-time code gets its own text, not the alarm's */
	e.ack_url[0] = '\0';
	e.param_count = 1;
	snprintf(e.params[0], sizeof(e.params[0]), "123456");
	snprintf(e.template_name, sizeof(e.template_name), "keryu_verify_code");
	cfg.code_template = "keryu_verify_code";
	cfg.code_text = "Your Keryu code is {{1}}.";
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_string_equal(body, "To=%2B18551234567&From=%2B15557654321"
				  "&Body=Your+Keryu+code+is+123456."
				  "&StatusCallback=" CB);
	free(body);
	snprintf(e.template_name, sizeof(e.template_name), "qr_template_on_m");
	assert_int_equal(twilio_request_body(&cfg, &e, &body), 0);
	assert_non_null(strstr(body, "&Body=%3A+123456&")); /* sms_text */
	free(body);
}

static void body_refusals(void **ctx)
{
	struct twilio_request_cfg cfg = wa_cfg();
	struct keryu_notify_event e;
	char *body = NULL;

	(void)ctx;
	fill_event(&e);
	snprintf(e.to, sizeof(e.to), "18551234567");
	assert_int_equal(twilio_request_body(&cfg, &e, &body), KERYU_EINVAL);
	fill_event(&e);
	cfg.from = "+0123";
	assert_int_equal(twilio_request_body(&cfg, &e, &body), KERYU_EINVAL);
	cfg = wa_cfg();
	cfg.content_sid = "";
	assert_int_equal(twilio_request_body(&cfg, &e, &body), KERYU_EINVAL);
	cfg = wa_cfg();
	cfg.kind = TWILIO_SMS;
	cfg.sms_text = "";
	assert_int_equal(twilio_request_body(&cfg, &e, &body), KERYU_EINVAL);
	cfg = wa_cfg();
	cfg.public_url = "keryu.example";
	assert_int_equal(twilio_request_body(&cfg, &e, &body), KERYU_EINVAL);
	cfg = wa_cfg();
	e.param_count = KERYU_NOTIFY_MAX_PARAMS + 1;
	assert_int_equal(twilio_request_body(&cfg, &e, &body), KERYU_EINVAL);
	assert_null(body);
}

static void content_sid_shape(void **ctx)
{
	(void)ctx;
	assert_true(twilio_content_sid_valid(SID));
	assert_false(twilio_content_sid_valid("HXb5b62575e6e4ff6129ad7c8efe1f983"));
	assert_false(twilio_content_sid_valid(SID "0"));
	assert_false(twilio_content_sid_valid("HXb5b62575e6e4ff6129ad7c8efe1f983g"));
	assert_false(twilio_content_sid_valid("qr_template_on_m"));
	assert_false(twilio_content_sid_valid(NULL));
}

static void classify_table(void **ctx)
{
	(void)ctx;
	assert_int_equal(twilio_classify(20003, 401), TWILIO_OPERATOR);
	assert_int_equal(twilio_classify(21211, 400), TWILIO_PERMANENT);
	assert_int_equal(twilio_classify(21610, 400), TWILIO_PERMANENT);
	assert_int_equal(twilio_classify(63016, 400), TWILIO_PERMANENT);
	assert_int_equal(twilio_classify(20429, 429), TWILIO_RETRY);
	/* the code wins over the status */
	assert_int_equal(twilio_classify(20429, 400), TWILIO_RETRY);
	assert_int_equal(twilio_classify(21211, 500), TWILIO_PERMANENT);
	/* unknown codes: by status */
	assert_int_equal(twilio_classify(30001, 429), TWILIO_RETRY);
	assert_int_equal(twilio_classify(20500, 500), TWILIO_RETRY);
	assert_int_equal(twilio_classify(20500, 503), TWILIO_RETRY);
	assert_int_equal(twilio_classify(21999, 400), TWILIO_PERMANENT);
	assert_int_equal(twilio_classify(20404, 404), TWILIO_PERMANENT);
	assert_int_equal(twilio_classify_http(429), TWILIO_RETRY);
	assert_int_equal(twilio_classify_http(502), TWILIO_RETRY);
	assert_int_equal(twilio_classify_http(201), TWILIO_UNKNOWN);
	assert_int_equal(twilio_classify_http(401), TWILIO_OPERATOR);
	assert_int_equal(twilio_classify_http(400), TWILIO_PERMANENT);
	assert_int_equal(twilio_classify_http(404), TWILIO_PERMANENT);
	assert_string_equal(twilio_verdict_status(TWILIO_RETRY), "error");
	assert_string_equal(twilio_verdict_status(TWILIO_UNKNOWN), "error");
	assert_string_equal(twilio_verdict_status(TWILIO_PERMANENT), "failed");
	assert_string_equal(twilio_verdict_status(TWILIO_OPERATOR), "failed");
	assert_true(twilio_code_needs_operator(20003));
	assert_false(twilio_code_needs_operator(21211));
	assert_false(twilio_code_needs_operator(20429));
}

static int parse(long status, const char *body,
		 struct keryu_delivery_event *ev, enum twilio_verdict *v)
{
	memset(ev, 'x', sizeof(*ev)); /* every result field must be set */
	ev->status[0] = 'x';
	return twilio_response_parse(status, body, body ? strlen(body) : 0, ev,
				     v);
}

static void parse_sent(void **ctx)
{
	struct keryu_delivery_event ev;
	enum twilio_verdict v;

	(void)ctx;
	assert_int_equal(
		parse(201,
		      "{\"account_sid\":\"AC1\",\"api_version\":\"2010-04-01\","
		      "\"body\":null,\"error_code\":null,\"error_message\":null,"
		      "\"from\":\"whatsapp:+15551234567\",\"num_segments\":\"1\","
		      "\"sid\":\"SM0123456789abcdef0123456789abcdef\","
		      "\"status\":\"queued\",\"to\":\"whatsapp:+18551234567\"}",
		      &ev, &v),
		0);
	assert_string_equal(ev.status, "sent");
	assert_string_equal(ev.provider_message_id,
			    "SM0123456789abcdef0123456789abcdef");
	assert_string_equal(ev.error_code, "");
	assert_string_equal(ev.error_text, "");
}

static void parse_errors(void **ctx)
{
	static const struct {
		long http;
		const char *body;
		const char *status, *code;
		enum twilio_verdict v;
	} cases[] = {
		{401, "{\"code\": 20003, \"message\": \"Authenticate\", "
		      "\"more_info\": \"https://www.twilio.com/docs/errors/20003\","
		      " \"status\": 401}",
		 "failed", "20003", TWILIO_OPERATOR},
		{400, "{\"code\":21211,\"message\":\"The 'To' number "
		      "+18551234567 is not a valid phone number.\",\"status\":400}",
		 "failed", "21211", TWILIO_PERMANENT},
		{400, "{\"code\":21610,\"message\":\"Attempt to send to "
		      "unsubscribed recipient\",\"status\":400}",
		 "failed", "21610", TWILIO_PERMANENT},
		{400, "{\"code\":63016,\"message\":\"outside window\"}", "failed",
		 "63016", TWILIO_PERMANENT},
		{429, "{\"code\":20429,\"message\":\"Too Many Requests\","
		      "\"status\":429}",
		 "error", "20429", TWILIO_RETRY},
		{503, "{\"code\":20503,\"message\":\"Service unavailable\"}",
		 "error", "20503", TWILIO_RETRY},
		{400, "{\"code\":\"21999\",\"message\":\"New\"}", "failed", "21999",
		 TWILIO_PERMANENT},
		/* a message resource that failed at once */
		{201, "{\"sid\":\"SM1\",\"status\":\"failed\",\"error_code\":63016,"
		      "\"error_message\":\"Outside the window\"}",
		 "failed", "63016", TWILIO_PERMANENT},
	};
	struct keryu_delivery_event ev;
	enum twilio_verdict v;
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].http, cases[i].body, &ev, &v), 0);
		assert_string_equal(ev.status, cases[i].status);
		assert_string_equal(ev.error_code, cases[i].code);
		assert_string_equal(ev.provider_message_id, "");
		assert_int_equal(v, cases[i].v);
	}
	/* the recipient's number never reaches the result */
	parse(400, cases[1].body, &ev, &v);
	assert_string_equal(ev.error_text,
			    "The 'To' number [number] is not a valid phone number.");
	parse(401, cases[0].body, &ev, &v);
	assert_string_equal(ev.error_text, "Authenticate");
}

static void parse_unreadable(void **ctx)
{
	struct keryu_delivery_event ev;
	enum twilio_verdict v;

	(void)ctx;
	/* a 2xx we cannot read: Twilio may have queued it */
	assert_int_equal(parse(201, "not json", &ev, &v), KERYU_EINVAL);
	assert_string_equal(ev.status, "error");
	assert_string_equal(ev.error_code, "bad_response");
	assert_int_equal(v, TWILIO_UNKNOWN);
	assert_int_equal(parse(201, "{\"status\":\"queued\"}", &ev, &v),
			 KERYU_EINVAL);
	assert_int_equal(v, TWILIO_UNKNOWN);
	assert_int_equal(parse(200, NULL, &ev, &v), KERYU_EINVAL);
	assert_int_equal(v, TWILIO_UNKNOWN);
	/* errors without Twilio's object: by status */
	assert_int_equal(parse(502, "<html>bad gateway</html>", &ev, &v),
			 KERYU_EINVAL);
	assert_string_equal(ev.status, "error");
	assert_string_equal(ev.error_code, "http_502");
	assert_int_equal(v, TWILIO_RETRY);
	assert_int_equal(parse(429, "", &ev, &v), KERYU_EINVAL);
	assert_int_equal(v, TWILIO_RETRY);
	assert_int_equal(parse(404, "{\"message\":\"nope\"}", &ev, &v),
			 KERYU_EINVAL);
	assert_string_equal(ev.status, "failed");
	assert_string_equal(ev.error_code, "http_404");
	assert_int_equal(v, TWILIO_PERMANENT);
	assert_int_equal(parse(401, "", &ev, &v), KERYU_EINVAL);
	assert_int_equal(v, TWILIO_OPERATOR);
	assert_int_equal(parse(400, "{\"code\":-5}", &ev, &v), KERYU_EINVAL);
	assert_string_equal(ev.status, "failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_exact),
		cmocka_unit_test(callback_url),
		cmocka_unit_test(escape_exact),
		cmocka_unit_test(whatsapp_body_exact),
		cmocka_unit_test(whatsapp_ack_variable),
		cmocka_unit_test(whatsapp_template_sid_and_escapes),
		cmocka_unit_test(sms_body_exact),
		cmocka_unit_test(body_refusals),
		cmocka_unit_test(content_sid_shape),
		cmocka_unit_test(classify_table),
		cmocka_unit_test(parse_sent),
		cmocka_unit_test(parse_errors),
		cmocka_unit_test(parse_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
