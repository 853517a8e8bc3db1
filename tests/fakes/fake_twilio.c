/* fake_twilio: a stand-in for Twilio Messaging's "create message" endpoint
 * (see /work/shared/providers.md), WhatsApp and SMS, for unit tests,
 * integration tests and benchmarks. After a send it accepts, it posts
 * signed status callbacks to the request's StatusCallback URL, as Twilio
 * does.
 *
 *   fake_twilio [--port N] [--record FILE] [--mode MODE] [--delay-ms N]
 *               [--timeout-hold-ms N]
 *               [--account-sid AC...] [--auth-token T]
 *               [--callback-statuses LIST] [--callback-delay-ms N]
 *               [--callback-retry-ms N] [--callback-record FILE]
 *   fake_twilio --sign URL TOKEN [NAME=VALUE...]
 *
 * --port N        listen on 127.0.0.1:N; 0 (default) picks a free port.
 *                 "listening <port>" is printed on stdout once ready.
 * --record FILE   append one JSON line per message request:
 *                 {"to","from","channel":"whatsapp"|"sms","content_sid",
 *                  "variables" (the ContentVariables object, or the raw
 *                  text when it is not JSON),"body","status_callback",
 *                  "notification_id" (n= of the StatusCallback),"auth_ok",
 *                  "outcome":"sent"|"timeout"|"error:<code>"|
 *                  "http:<status>"|"drop", "sid" (when it went out),
 *                  "sent" (true when it went out: sent, timeout),
 *                  "at":<ms since the epoch>}, written once answered (a
 *                  timeout after its hold); absent fields are null
 * --mode MODE     one step, or "seq:<step>,<step>,..." where a step is
 *                 ok (default) | error:<code> (HTTP status and error object
 *                 of providers.md's table; 63016 is accepted with 201 and
 *                 then fails in the callback, as Twilio does) |
 *                 http:<status> (empty body) | drop (close the connection
 *                 without answering; nothing sent) | timeout (hold the
 *                 request --timeout-hold-ms, default 3000, then treat it
 *                 as sent: sid, record, callbacks). Each notification (n=
 *                 of the StatusCallback; requests without one share a
 *                 cursor) walks the sequence on its own; after the last
 *                 step the last step repeats.
 * --delay-ms N    answer message requests after N ms (only that
 *                 connection's thread waits)
 * --account-sid S the account in the path and the Basic auth user; with
 * --auth-token T  the password: a request without both right is answered
 *                 401, code 20003. T also keys the callbacks' signatures.
 * --callback-statuses LIST  MessageStatus values posted in this order,
 *                 comma-separated (default "sent,delivered"; "none" posts
 *                 nothing). Repeat or reorder them to test duplicates and
 *                 out-of-order arrivals.
 * --callback-delay-ms N  wait before each callback (default 100)
 * --callback-retry-ms N  keep retrying one callback until it gets a 2xx
 *                 for this long (default 30000), then go on to the next
 * --callback-record FILE  append one JSON line per callback POST:
 *                 {"url","status","sid","http" (0: no answer),"at"}
 * --sign URL TOKEN NAME=VALUE...  print the X-Twilio-Signature for that
 *                 URL and those fields and exit (a check of the signing
 *                 code against providers.md's test vector)
 *
 * Only POST /2010-04-01/Accounts/{sid}/Messages.json is a message;
 * anything else is a 404 Twilio error, except the control endpoints:
 *   POST /_control/mode       body "error:21211", "seq:..." etc. switches
 *                             the mode and restarts every cursor
 *   POST /_control/callbacks  body "delivered,sent" etc. sets the statuses
 *   GET  /_control/callbacks  {"running":n,"posted":n,"failed_posts":n,
 *                             "given_up":n}: running = messages whose
 *                             callbacks are not all posted or given up
 *   GET  /_control/count      message requests received, as text
 *
 * One thread per connection (libmicrohttpd's thread-per-connection mode),
 * one detached thread per accepted message for its callbacks. SIGINT or
 * SIGTERM stops it. */
#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fake_common.h"

#define MAX_BODY (1u << 20)
#define MAX_FIELDS 64
#define MAX_STATUSES 16

/* A decoded form: names and values are NUL-terminated copies. */
struct form {
	size_t n;
	char *name[MAX_FIELDS];
	char *value[MAX_FIELDS];
};

/* One accepted message's callbacks, owned by its thread. */
struct callback_job {
	char *url;
	char sid[40];
	char to[64], from[64];
	long error_code; /* 0: none */
	int n;
	char status[MAX_STATUSES][16];
};

static struct {
	pthread_mutex_t mu;
	unsigned long long posted, failed_posts, given_up;
	unsigned long long serial; /* message sid source */
	FILE *callback_record;
	const char *account_sid, *auth_token;
	/* callbacks, under mu */
	int n_statuses;
	char statuses[MAX_STATUSES][16];
	long callback_delay_ms, callback_retry_ms;
	int callbacks_running;
} G = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.n_statuses = 2,
	.statuses = {"sent", "delivered"},
	.callback_delay_ms = 100,
	.callback_retry_ms = 30000,
};

/* providers.md's error table plus the checks Twilio makes on every
 * request: code -> HTTP status and message. */
static const struct {
	long code;
	unsigned http;
	const char *message;
} errors[] = {
	{20003, 401, "Authenticate"},
	{21211, 400, "The 'To' number is not a valid phone number."},
	{21610, 400, "Attempt to send to unsubscribed recipient"},
	{20429, 429, "Too Many Requests"},
	{20404, 404, "The requested resource was not found"},
	{21603, 400, "A 'From' phone number is required."},
	{21604, 400, "A 'To' phone number is required."},
	{21619, 400, "A text message body or media urls must be specified."},
	{21656, 400, "The ContentVariables Parameter is invalid."},
	{21910, 400, "Invalid From and To pair. From and To should be of the "
		     "same channel"},
	{20500, 500, "Internal Server Error"},
	{20503, 503, "Service Unavailable"},
};

/* ---- the signature (providers.md) ---- */

static int cmp_field(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	int c = strcmp(x[0], y[0]);

	return c ? c : strcmp(x[1], y[1]);
}

/* base64 HMAC-SHA1(token, url + every name and value, sorted by name).
 * out needs 29 bytes. Returns 0 or -1. */
static int twilio_sign(const char *token, const char *url,
		       const struct form *f, char out[64])
{
	const char *pairs[MAX_FIELDS][2];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	size_t i, len = strlen(url), o;
	char *msg;

	for (i = 0; i < f->n; i++) {
		pairs[i][0] = f->name[i];
		pairs[i][1] = f->value[i];
		len += strlen(f->name[i]) + strlen(f->value[i]);
	}
	qsort(pairs, f->n, sizeof(pairs[0]), cmp_field);
	msg = malloc(len + 1);
	if (!msg)
		return -1;
	o = (size_t)sprintf(msg, "%s", url);
	for (i = 0; i < f->n; i++)
		o += (size_t)sprintf(msg + o, "%s%s", pairs[i][0], pairs[i][1]);
	if (!HMAC(EVP_sha1(), token, (int)strlen(token),
		  (const unsigned char *)msg, o, mac, &mac_len)) {
		free(msg);
		return -1;
	}
	free(msg);
	EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
	return 0;
}

/* ---- forms ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes s[0..n) ('+' is a space, %XX a byte) into a new string. */
static char *form_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
			   hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 +
					  hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static void form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->name[i]);
		free(f->value[i]);
	}
	f->n = 0;
}

static int form_add(struct form *f, char *name, char *value)
{
	if (!name || !value || f->n == MAX_FIELDS) {
		free(name);
		free(value);
		return -1;
	}
	f->name[f->n] = name;
	f->value[f->n] = value;
	f->n++;
	return 0;
}

/* Parses "a=1&b=2" (len bytes). Returns 0 or -1. */
static int form_parse(const char *s, size_t len, struct form *f)
{
	const char *end = s + len, *amp, *eq;

	f->n = 0;
	while (s < end) {
		amp = memchr(s, '&', (size_t)(end - s));
		if (!amp)
			amp = end;
		if (amp > s) {
			eq = memchr(s, '=', (size_t)(amp - s));
			if (!eq)
				eq = amp;
			if (form_add(f, form_decode(s, (size_t)(eq - s)),
				     form_decode(eq < amp ? eq + 1 : amp,
						 (size_t)(amp - (eq < amp ? eq + 1
									  : amp)))))
				return -1;
		}
		s = amp + 1;
	}
	return 0;
}

static const char *form_get(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

/* Appends "&name=value" in form encoding to a growing string. */
static int form_append(char **s, const char *name, const char *value)
{
	CURL *c = curl_easy_init();
	char *n = c ? curl_easy_escape(c, name, 0) : NULL;
	char *v = c ? curl_easy_escape(c, value, 0) : NULL;
	char *out = NULL;
	int rc = -1;

	if (n && v && asprintf(&out, "%s%s%s=%s", *s ? *s : "", *s ? "&" : "",
			       n, v) >= 0) {
		free(*s);
		*s = out;
		rc = 0;
	}
	curl_free(n);
	curl_free(v);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

/* ---- modes and answers ---- */

/* Parses "sent,delivered" or "none" into statuses. Returns the count or
 * -1. */
static int parse_statuses(const char *s, char out[MAX_STATUSES][16])
{
	static const char *const known[] = {"queued",      "sending", "sent",
					    "delivered",   "read",    "failed",
					    "undelivered", "accepted"};
	char buf[512], *tok, *save = NULL;
	int n = 0;
	size_t i;

	if (strcmp(s, "none") == 0 || !*s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(tok, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]) || n == MAX_STATUSES)
			return -1;
		snprintf(out[n++], 16, "%s", tok);
	}
	return n;
}

/* Twilio's error object; to (may be NULL) is quoted in 21211's message,
 * as Twilio does, so that the channel's redaction is exercised. */
static enum MHD_Result answer_code(struct MHD_Connection *c, long code,
				   const char *to)
{
	cJSON *o = cJSON_CreateObject();
	unsigned http = 400;
	const char *message = "Unknown error";
	char text[256], info[128];
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code) {
			http = errors[i].http;
			message = errors[i].message;
		}
	if (code == 21211 && to)
		snprintf(text, sizeof(text),
			 "The 'To' number %s is not a valid phone number.", to);
	else
		snprintf(text, sizeof(text), "%s", message);
	snprintf(info, sizeof(info), "https://www.twilio.com/docs/errors/%ld",
		 code);
	cJSON_AddNumberToObject(o, "code", (double)code);
	cJSON_AddStringToObject(o, "message", text);
	cJSON_AddStringToObject(o, "more_info", info);
	cJSON_AddNumberToObject(o, "status", http);
	return fake_answer_json(c, http, o);
}

/* The message resource Twilio answers a create with (201). */
static enum MHD_Result answer_created(struct MHD_Connection *c,
				      const char *account, const struct form *f,
				      const char *sid)
{
	cJSON *o = cJSON_CreateObject();
	char uri[256];

	snprintf(uri, sizeof(uri), "/2010-04-01/Accounts/%s/Messages/%s.json",
		 account, sid);
	cJSON_AddStringToObject(o, "account_sid", account);
	cJSON_AddStringToObject(o, "api_version", "2010-04-01");
	fake_json_str(o, "body", form_get(f, "Body"));
	cJSON_AddStringToObject(o, "direction", "outbound-api");
	cJSON_AddNullToObject(o, "error_code");
	cJSON_AddNullToObject(o, "error_message");
	fake_json_str(o, "from", form_get(f, "From"));
	cJSON_AddNullToObject(o, "messaging_service_sid");
	cJSON_AddStringToObject(o, "num_media", "0");
	cJSON_AddStringToObject(o, "num_segments", "1");
	cJSON_AddNullToObject(o, "price");
	cJSON_AddStringToObject(o, "sid", sid);
	cJSON_AddStringToObject(o, "status", "queued");
	fake_json_str(o, "to", form_get(f, "To"));
	cJSON_AddStringToObject(o, "uri", uri);
	return fake_answer_json(c, 201, o);
}

/* ---- callbacks ---- */

static void record_callback(const char *url, const char *status,
			    const char *sid, long http)
{
	cJSON *o;

	if (!G.callback_record)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "url", url);
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddStringToObject(o, "sid", sid);
	cJSON_AddNumberToObject(o, "http", (double)http);
	cJSON_AddNumberToObject(o, "at", (double)fake_now_ms());
	fake_write_json(G.callback_record, o);
	cJSON_Delete(o);
}

/* One POST; returns the HTTP status, 0 when there was no answer. */
static long post_once(const char *url, const char *body, const char *sig)
{
	CURL *c = fake_curl("TwilioProxy/1.1", 2000L, 5000L);
	struct curl_slist *h = NULL, *h2;
	char header[128];
	long status = 0;

	if (!c)
		return 0;
	snprintf(header, sizeof(header), "X-Twilio-Signature: %s", sig);
	h = curl_slist_append(h, header);
	h2 = h ? curl_slist_append(h, "Content-Type: application/x-www-form-"
				      "urlencoded; charset=utf-8")
	       : NULL;
	if (h2) {
		h = h2;
		status = fake_post(c, url, h, body);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

/* Posts one status until a 2xx or callback_retry_ms have passed. */
static void post_status(const struct callback_job *j, const char *status)
{
	struct form f = {0};
	char *body = NULL, sig[64], code[24];
	long long give_up = fake_now_ms() + G.callback_retry_ms;
	long wait = 200, http;
	bool failed = strcmp(status, "failed") == 0 ||
		      strcmp(status, "undelivered") == 0;
	size_t i;

	snprintf(code, sizeof(code), "%ld", j->error_code ? j->error_code : 30008);
	/* the fields Twilio sends, in its order */
	if (form_add(&f, strdup("SmsSid"), strdup(j->sid)) ||
	    form_add(&f, strdup("SmsStatus"), strdup(status)) ||
	    form_add(&f, strdup("MessageStatus"), strdup(status)) ||
	    form_add(&f, strdup("To"), strdup(j->to)) ||
	    form_add(&f, strdup("MessageSid"), strdup(j->sid)) ||
	    form_add(&f, strdup("AccountSid"),
		     strdup(G.account_sid ? G.account_sid : "AC0")) ||
	    form_add(&f, strdup("From"), strdup(j->from)) ||
	    form_add(&f, strdup("ApiVersion"), strdup("2010-04-01")) ||
	    (failed && form_add(&f, strdup("ErrorCode"), strdup(code))))
		goto out;
	for (i = 0; i < f.n; i++)
		if (form_append(&body, f.name[i], f.value[i]))
			goto out;
	if (twilio_sign(G.auth_token ? G.auth_token : "", j->url, &f, sig))
		goto out;
	for (;;) {
		http = post_once(j->url, body, sig);
		record_callback(j->url, status, j->sid, http);
		pthread_mutex_lock(&G.mu);
		if (http >= 200 && http <= 299)
			G.posted++;
		else
			G.failed_posts++;
		if (!(http >= 200 && http <= 299) && fake_now_ms() >= give_up)
			G.given_up++;
		pthread_mutex_unlock(&G.mu);
		if ((http >= 200 && http <= 299) || fake_now_ms() >= give_up ||
		    fake_stopping())
			break;
		fake_sleep_ms(wait);
		wait = wait * 2 > 2000 ? 2000 : wait * 2;
	}
out:
	free(body);
	form_free(&f);
}

static void *callback_thread(void *arg)
{
	struct callback_job *j = arg;
	int i;

	for (i = 0; i < j->n && !fake_stopping(); i++) {
		fake_sleep_ms(G.callback_delay_ms);
		if (!fake_stopping())
			post_status(j, j->status[i]);
	}
	free(j->url);
	free(j);
	pthread_mutex_lock(&G.mu);
	G.callbacks_running--;
	pthread_mutex_unlock(&G.mu);
	return NULL;
}

/* Starts the callbacks of an accepted message. error_code 63016: the
 * message fails after it was accepted, as a template problem does. */
static void start_callbacks(const struct form *f, const char *sid,
			    long error_code)
{
	const char *url = form_get(f, "StatusCallback");
	struct callback_job *j;
	pthread_attr_t attr;
	pthread_t t;
	int i;

	if (!url || strncmp(url, "http", 4) != 0)
		return;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->url = strdup(url))) {
		free(j);
		return;
	}
	snprintf(j->sid, sizeof(j->sid), "%s", sid);
	snprintf(j->to, sizeof(j->to), "%s", form_get(f, "To"));
	snprintf(j->from, sizeof(j->from), "%s", form_get(f, "From"));
	j->error_code = error_code;
	pthread_mutex_lock(&G.mu);
	if (error_code) {
		j->n = 1;
		snprintf(j->status[0], sizeof(j->status[0]), "failed");
	} else {
		j->n = G.n_statuses;
		for (i = 0; i < j->n; i++)
			memcpy(j->status[i], G.statuses[i], sizeof(j->status[i]));
	}
	G.callbacks_running++;
	pthread_mutex_unlock(&G.mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (j->n == 0 || pthread_create(&t, &attr, callback_thread, j) != 0) {
		pthread_mutex_lock(&G.mu);
		G.callbacks_running--;
		pthread_mutex_unlock(&G.mu);
		free(j->url);
		free(j);
	}
	pthread_attr_destroy(&attr);
}

/* ---- message requests ---- */

/* n= of the StatusCallback's query, or NULL. Returns a new string. */
static char *notification_of(const char *url)
{
	const char *q = url ? strchr(url, '?') : NULL, *p, *end;

	for (p = q; p; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, "n=", 2) == 0) {
			end = strchr(p + 3, '&');
			return form_decode(p + 3, end ? (size_t)(end - p - 3)
						      : strlen(p + 3));
		}
	}
	return NULL;
}

static void record(const struct form *f, bool auth_ok, const char *outcome,
		   const char *sid)
{
	const char *to = form_get(f, "To"), *vars = form_get(f, "ContentVariables");
	char *nid = notification_of(form_get(f, "StatusCallback"));
	cJSON *o, *parsed;

	if (!fake_record_file()) {
		free(nid);
		return;
	}
	o = cJSON_CreateObject();
	fake_json_str(o, "to", to);
	fake_json_str(o, "from", form_get(f, "From"));
	fake_json_str(o, "channel",
			!to ? NULL
			    : strncmp(to, "whatsapp:", 9) == 0 ? "whatsapp" : "sms");
	fake_json_str(o, "content_sid", form_get(f, "ContentSid"));
	parsed = vars ? cJSON_Parse(vars) : NULL;
	if (cJSON_IsObject(parsed)) {
		cJSON_AddItemToObject(o, "variables", parsed);
	} else {
		cJSON_Delete(parsed);
		fake_json_str(o, "variables", vars);
	}
	fake_json_str(o, "body", form_get(f, "Body"));
	fake_json_str(o, "status_callback", form_get(f, "StatusCallback"));
	fake_json_str(o, "notification_id", nid);
	cJSON_AddBoolToObject(o, "auth_ok", auth_ok);
	cJSON_AddStringToObject(o, "outcome", outcome);
	fake_json_str(o, "sid", sid);
	cJSON_AddBoolToObject(o, "sent", sid != NULL);
	cJSON_AddNumberToObject(o, "at", (double)fake_now_ms());
	fake_write_json(fake_record_file(), o);
	cJSON_Delete(o);
	free(nid);
}

/* "Basic base64(sid:token)" against --account-sid/--auth-token. */
static bool auth_ok(struct MHD_Connection *c, const char *path_account)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char plain[512];
	char want[512];
	size_t in, pad = 0;
	int n;

	if (G.account_sid && strcmp(path_account, G.account_sid) != 0)
		return false;
	if (!G.account_sid || !G.auth_token)
		return true;
	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return false;
	h += 6;
	in = strlen(h);
	if (in == 0 || in % 4 || in / 4 * 3 >= sizeof(plain))
		return false;
	if (h[in - 1] == '=')
		pad++;
	if (h[in - 2] == '=')
		pad++;
	n = EVP_DecodeBlock(plain, (const unsigned char *)h, (int)in);
	if (n < 0 || (size_t)n < pad)
		return false;
	plain[(size_t)n - pad] = '\0';
	snprintf(want, sizeof(want), "%s:%s", G.account_sid, G.auth_token);
	return strlen((char *)plain) == (size_t)n - pad &&
	       strcmp((char *)plain, want) == 0;
}

/* E.164 with an optional "whatsapp:" prefix. */
static bool address_ok(const char *s, bool *whatsapp)
{
	size_t i;

	*whatsapp = strncmp(s, "whatsapp:", 9) == 0;
	if (*whatsapp)
		s += 9;
	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (i = 1; s[i]; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return i >= 9 && i <= 16;
}

static enum MHD_Result message(struct MHD_Connection *c,
			       const char *account, const struct fake_request *q)
{
	struct form f = {0};
	struct fake_step m;
	char *nid;
	char outcome[32], sid[40];
	const char *to, *from, *vars;
	bool ok_auth, wa_to, wa_from;
	unsigned long long n;
	enum MHD_Result rc;
	long code = 0;
	cJSON *parsed;

	fake_count_message();
	pthread_mutex_lock(&G.mu);
	n = ++G.serial;
	pthread_mutex_unlock(&G.mu);
	if (form_parse(q->body ? q->body : "", q->len, &f)) {
		form_free(&f);
		return answer_code(c, 21619, NULL);
	}
	nid = notification_of(form_get(&f, "StatusCallback"));
	m = fake_next_step(nid);
	free(nid);
	if (fake_delay_ms() > 0) /* only this connection's thread sleeps */
		fake_sleep_ms(fake_delay_ms());
	ok_auth = auth_ok(c, account);
	if (m.kind == FAKE_DROP) {
		record(&f, ok_auth, "drop", NULL);
		form_free(&f);
		return MHD_NO; /* closes the connection without an answer */
	}
	to = form_get(&f, "To");
	from = form_get(&f, "From");
	vars = form_get(&f, "ContentVariables");
	/* Twilio's own checks come before anything the mode asks for. */
	if (!ok_auth)
		code = 20003;
	else if (!to)
		code = 21604;
	else if (!from)
		code = 21603;
	else if (!form_get(&f, "Body") && !form_get(&f, "ContentSid"))
		code = 21619;
	else if (!address_ok(to, &wa_to))
		code = 21211;
	else if (!address_ok(from, &wa_from) || wa_to != wa_from)
		code = 21910;
	if (!code && vars) {
		parsed = cJSON_Parse(vars);
		if (!cJSON_IsObject(parsed))
			code = 21656;
		cJSON_Delete(parsed);
	}
	if (!code && m.kind == FAKE_ERROR && m.arg != 63016)
		code = m.arg;
	if (code) {
		snprintf(outcome, sizeof(outcome), "error:%ld", code);
		record(&f, ok_auth, outcome, NULL);
		rc = answer_code(c, code, to);
	} else if (m.kind == FAKE_HTTP) {
		snprintf(outcome, sizeof(outcome), "http:%ld", m.arg);
		record(&f, ok_auth, outcome, NULL);
		rc = fake_answer(c, (unsigned)m.arg, "text/plain", "");
	} else {
		snprintf(sid, sizeof(sid), "SM%08x%024llx",
			 (unsigned)getpid(), n);
		if (m.kind == FAKE_TIMEOUT) /* the client gives up meanwhile */
			fake_sleep_ms(fake_hold_ms());
		record(&f, ok_auth, m.kind == FAKE_TIMEOUT ? "timeout" : "sent",
		       sid);
		rc = answer_created(c, account, &f, sid);
		/* it went out even when the client is gone */
		start_callbacks(&f, sid, m.kind == FAKE_ERROR ? m.arg : 0);
	}
	form_free(&f);
	return rc;
}

/* /2010-04-01/Accounts/{sid}/Messages.json: copies {sid} into account. */
static bool is_message_path(const char *p, char *account, size_t size)
{
	static const char pre[] = "/2010-04-01/Accounts/";
	const char *a, *slash;

	if (strncmp(p, pre, sizeof(pre) - 1) != 0)
		return false;
	a = p + sizeof(pre) - 1;
	slash = strchr(a, '/');
	if (!slash || slash == a || (size_t)(slash - a) >= size ||
	    strcmp(slash, "/Messages.json") != 0)
		return false;
	memcpy(account, a, (size_t)(slash - a));
	account[slash - a] = '\0';
	return true;
}

static enum MHD_Result control(struct MHD_Connection *c, const char *method,
			       const char *path, const struct fake_request *q)
{
	char buf[512], st[MAX_STATUSES][16];
	enum MHD_Result rc;
	int n;

	if (fake_control(c, method, path, q, &rc))
		return rc;
	if (strcmp(path, "/_control/callbacks") == 0 &&
	    strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&G.mu);
		snprintf(buf, sizeof(buf),
			 "{\"running\":%d,\"posted\":%llu,\"failed_posts\":%llu,"
			 "\"given_up\":%llu}\n",
			 G.callbacks_running, G.posted, G.failed_posts,
			 G.given_up);
		pthread_mutex_unlock(&G.mu);
		return fake_answer(c, 200, "application/json", buf);
	}
	if (strcmp(path, "/_control/callbacks") == 0 &&
	    strcmp(method, "POST") == 0) {
		fake_body_text(q, buf, sizeof(buf));
		n = parse_statuses(buf, st);
		if (n < 0)
			return fake_answer(c, 400, "text/plain", "bad statuses\n");
		pthread_mutex_lock(&G.mu);
		G.n_statuses = n;
		memcpy(G.statuses, st, sizeof(st));
		pthread_mutex_unlock(&G.mu);
		return fake_answer(c, 200, "text/plain", "ok\n");
	}
	return answer_code(c, 20404, NULL);
}

static enum MHD_Result on_request(struct MHD_Connection *c,
				  const char *method, const char *url,
				  const struct fake_request *q)
{
	char account[128];

	if (q->too_big)
		return fake_answer(c, 413, "text/plain", "too large\n");
	if (strncmp(url, "/_control/", 10) == 0)
		return control(c, method, url, q);
	if (strcmp(method, "POST") == 0 &&
	    is_message_path(url, account, sizeof(account)))
		return message(c, account, q);
	return answer_code(c, 20404, NULL);
}

_Noreturn static void usage(void)
{
	fprintf(stderr,
		"usage: fake_twilio [--port N] [--record FILE] "
		"[--mode ok|error:<code>|http:<status>|drop|timeout|seq:...] "
		"[--delay-ms N] [--timeout-hold-ms N] "
		"[--account-sid S] [--auth-token T] [--callback-statuses LIST] "
		"[--callback-delay-ms N] [--callback-retry-ms N] "
		"[--callback-record FILE]\n"
		"       fake_twilio --sign URL TOKEN [NAME=VALUE...]\n");
	exit(2);
}

static int sign_command(int argc, char **argv)
{
	struct form f = {0};
	char sig[64];
	const char *eq;
	int i;

	if (argc < 4)
		usage();
	for (i = 4; i < argc; i++) {
		eq = strchr(argv[i], '=');
		if (!eq ||
		    form_add(&f, strndup(argv[i], (size_t)(eq - argv[i])),
			     strdup(eq + 1)))
			usage();
	}
	if (twilio_sign(argv[3], argv[2], &f, sig)) {
		form_free(&f);
		return 1;
	}
	printf("%s\n", sig);
	form_free(&f);
	return 0;
}

int main(int argc, char **argv)
{
	int i, rc, running = 0;

	fake_init("fake_twilio", usage);
	if (argc > 1 && strcmp(argv[1], "--sign") == 0)
		return sign_command(argc, argv);
	for (i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (fake_option(argv[i], v)) {
			continue;
		} else if (strcmp(argv[i], "--callback-record") == 0) {
			G.callback_record = fake_open_append(v);
		} else if (strcmp(argv[i], "--account-sid") == 0) {
			G.account_sid = v;
		} else if (strcmp(argv[i], "--auth-token") == 0) {
			G.auth_token = v;
		} else if (strcmp(argv[i], "--callback-statuses") == 0) {
			G.n_statuses = parse_statuses(v, G.statuses);
			if (G.n_statuses < 0)
				usage();
		} else if (strcmp(argv[i], "--callback-delay-ms") == 0) {
			G.callback_delay_ms = fake_number(v, 0, 600000);
		} else if (strcmp(argv[i], "--callback-retry-ms") == 0) {
			G.callback_retry_ms = fake_number(v, 0, 3600000);
		} else {
			usage();
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;

	rc = fake_serve(MAX_BODY, on_request);
	if (rc)
		return rc;
	/* Callback threads notice within a sleep and a POST's timeout. */
	for (i = 0; i < 300; i++) {
		pthread_mutex_lock(&G.mu);
		running = G.callbacks_running;
		pthread_mutex_unlock(&G.mu);
		if (running == 0)
			break;
		usleep(20 * 1000);
	}
	if (running == 0) {
		fake_cleanup();
		if (G.callback_record)
			fclose(G.callback_record);
		curl_global_cleanup();
	}
	return 0;
}
