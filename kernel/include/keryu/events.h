/* Keryu bus payloads, version 1 (see docs/bus.md).
 *
 * Every payload is a JSON object with "v": 1, an "event_id" (UUID) and an
 * ISO-8601 UTC "at". Encoders return a malloc'd NUL-terminated string the
 * caller frees with free(). Decoders fill a caller-owned struct and return
 * 0, or KERYU_EINVAL for malformed JSON, a wrong "v", a missing or
 * mistyped field, or a value too long for its buffer.
 *
 * This is a static library (keryu_events) that modules link into
 * themselves, so they need no symbol from the kernel binary.
 */
#ifndef KERYU_EVENTS_H
#define KERYU_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#define KERYU_UUID_LEN 37 /* 36 + NUL */
#define KERYU_TIME_LEN 32

#define KERYU_TOPIC_SCAN "keryu/v1/scan/"         /* + qr uuid */
#define KERYU_TOPIC_ALARM "keryu/v1/alarm/"       /* + alarm id */
#define KERYU_TOPIC_NOTIFY "keryu/v1/notify/"     /* + channel */
#define KERYU_TOPIC_DELIVERY "keryu/v1/delivery/" /* + notification id */
#define KERYU_TOPIC_SYSTEM "keryu/v1/system/"     /* + instance/module */
#define KERYU_TOPIC_REPORT "keryu/v1/report/"     /* + alarm id */
#define KERYU_TOPIC_AUDIT "keryu/v1/audit"        /* no further level */

/* keryu/v1/scan/{qr_uuid}: http -> alarms */
struct keryu_scan_event {
	char event_id[KERYU_UUID_LEN];
	char at[KERYU_TIME_LEN];
	char qr_uuid[KERYU_UUID_LEN];
	char user_agent[256]; /* "" when absent; truncated, never rejected */
	char ip_hash[65];     /* hex SHA-256 of salt+ip, "" when absent */
	bool has_location;
	double lat, lng, accuracy_m;
};

/* keryu/v1/alarm/{alarm_id}: alarms -> anyone. Ids only. */
struct keryu_alarm_event {
	char event_id[KERYU_UUID_LEN];
	char at[KERYU_TIME_LEN];
	char alarm_id[KERYU_UUID_LEN];
	char subject_id[KERYU_UUID_LEN];
	char state[32]; /* "created", ... */
};

#define KERYU_NOTIFY_MAX_PARAMS 8

/* keryu/v1/notify/{channel}: alarms -> channel modules. Carries the
 * recipient, so the broker ACL restricts it to Keryu's own clients. */
struct keryu_notify_event {
	char event_id[KERYU_UUID_LEN];
	char at[KERYU_TIME_LEN];
	char notification_id[KERYU_UUID_LEN];
	int attempt; /* 1-based */
	char channel[32];
	char to[32]; /* E.164, "+" and digits */
	char template_name[128];
	char language[16];
	int param_count;
	char params[KERYU_NOTIFY_MAX_PARAMS][512];
	/* A signed, expiring link that acknowledges the alarm when the
	 * recipient opens it ("" when none, e.g. verification codes). Each
	 * channel places it as it can: a URL button parameter, a template
	 * variable, or the end of a text. Optional in the JSON. */
	char ack_url[512];
};

/* keryu/v1/delivery/{notification_id}: channels, webhooks -> alarms */
struct keryu_delivery_event {
	char event_id[KERYU_UUID_LEN];
	char at[KERYU_TIME_LEN];
	char notification_id[KERYU_UUID_LEN];
	int attempt; /* 0 when the result is not tied to one (webhook) */
	char channel[32];
	char status[16]; /* "sent", "delivered", "read", "failed", "error" */
	char provider_message_id[256]; /* "" when none */
	char error_code[32];           /* provider's code as text, "" if none */
	char error_text[512];          /* "" if none */
	/* Only for "error": >= 0 says the channel will itself make attempt
	 * + 1 after about this many ms (0 for an outcome it cannot know, a
	 * timeout after the request went out: it leaves that to the alarms
	 * module's lease and the provider's status webhook); -1 says it will
	 * not try again. -1 for every other status. Optional in the JSON
	 * ("retry_in_ms"), absent decodes as -1. */
	int retry_in_ms;
};

/* keryu/v1/report/{alarm_id}: http -> alarms. The finder shared a
 * location or sent a report; the details are in PostgreSQL (this carries
 * ids only), and the alarms module sends the follow-up. */
struct keryu_report_event {
	char event_id[KERYU_UUID_LEN];
	char at[KERYU_TIME_LEN];
	char alarm_id[KERYU_UUID_LEN];
	char kind[16]; /* "location" or "report" */
};

/* keryu/v1/audit: http (staff pages, API, logins) -> anyone. Ids and
 * names of things only: no email, name, phone or summary (those stay in the
 * database's audit log). */
struct keryu_audit_event {
	char event_id[KERYU_UUID_LEN];
	char at[KERYU_TIME_LEN];
	char action[48];      /* e.g. "login.failed", "subject.update" */
	char source[8];       /* "web", "api", "cli", "system" */
	char actor_id[KERYU_UUID_LEN]; /* "" for a visitor; optional */
	char target_type[24]; /* "" none; optional */
	char target_id[64];   /* "" none; optional */
};

char *keryu_audit_event_encode(const struct keryu_audit_event *e);
int keryu_audit_event_decode(const char *json, size_t len,
			     struct keryu_audit_event *out);

char *keryu_report_event_encode(const struct keryu_report_event *e);
int keryu_report_event_decode(const char *json, size_t len,
			      struct keryu_report_event *out);

char *keryu_scan_event_encode(const struct keryu_scan_event *e);
int keryu_scan_event_decode(const char *json, size_t len,
			    struct keryu_scan_event *out);
char *keryu_alarm_event_encode(const struct keryu_alarm_event *e);
int keryu_alarm_event_decode(const char *json, size_t len,
			     struct keryu_alarm_event *out);
char *keryu_notify_event_encode(const struct keryu_notify_event *e);
int keryu_notify_event_decode(const char *json, size_t len,
			      struct keryu_notify_event *out);
char *keryu_delivery_event_encode(const struct keryu_delivery_event *e);
int keryu_delivery_event_decode(const char *json, size_t len,
				struct keryu_delivery_event *out);

/* For channel modules: stamps ev with a new event_id, the time, and the
 * request's notification id, attempt and channel, then publishes it with
 * QoS 1 on keryu/v1/delivery/<notification_id> through the host. Returns
 * what host->publish returns, or KERYU_ENOMEM. ev's other fields (status,
 * provider_message_id, error_*) are the caller's. */
struct keryu_host;
struct keryu_mod;
int keryu_delivery_publish(const struct keryu_host *host, struct keryu_mod *m,
			   const struct keryu_notify_event *req,
			   struct keryu_delivery_event *ev);

/* Signed acknowledgement tokens, carried in alert links:
 * "<notification_id>.<expiry, unix seconds>.<mac>", mac being the unpadded
 * base64url of HMAC-SHA256(secret, "keryu-ack.v1.<notification_id>.<expiry>")
 * (43 characters). URL-safe as it is. */
#define KERYU_ACK_TOKEN_LEN 128
/* Fills out. Returns 0, or KERYU_EINVAL for an empty secret, a notification
 * id that is not a UUID or a negative expiry. */
int keryu_ack_token_make(const char *secret, const char *notification_id,
			 long long expires_unix, char out[KERYU_ACK_TOKEN_LEN]);
/* Checks token against secret in constant time. Returns 0 and fills
 * notification_id (lower case) when the mac is right and now_unix is not
 * past the expiry; KERYU_ETIMEDOUT when it is right but expired;
 * KERYU_EINVAL for anything else (malformed, wrong mac, empty secret). */
int keryu_ack_token_check(const char *secret, const char *token,
			  long long now_unix,
			  char notification_id[KERYU_UUID_LEN]);

/* Finder tokens, put in the scan page so that only who scanned the tag
 * can post a location or a report for that scan: the same shape as ack
 * tokens, "<scan event_id>.<expiry>.<mac>", with the mac over
 * "keryu-finder.v1.<event_id>.<qr_uuid>.<expiry>": a token is good for
 * one tag's URL only. Returns as keryu_ack_token_make / _check; check
 * fills event_id. */
int keryu_finder_token_make(const char *secret, const char *event_id,
			    const char *qr_uuid, long long expires_unix,
			    char out[KERYU_ACK_TOKEN_LEN]);
int keryu_finder_token_check(const char *secret, const char *token,
			     const char *qr_uuid, long long now_unix,
			     char event_id[KERYU_UUID_LEN]);

/* True when s can be one level of an MQTT topic or a shared-subscription
 * group: 1..63 bytes, none of '/', '+', '#'. */
bool keryu_topic_level_valid(const char *s);

/* Fills out with a new random (v4) UUID, lower case. */
void keryu_uuid_new(char out[KERYU_UUID_LEN]);
/* True when s is exactly a canonical 36-character UUID (any case). */
bool keryu_uuid_valid(const char *s);
/* Fills out with the current UTC time, "2026-11-25T12:34:56.789Z". */
void keryu_now_iso(char out[KERYU_TIME_LEN]);
/* True when s is "+" followed by 8 to 15 digits, the first not 0. */
bool keryu_e164_valid(const char *s);
/* True when s is exactly "YYYY-MM-DDTHH:MM:SS", an optional fraction of
 * 1 to 6 digits (".789"), then "Z", and names a real UTC time: year
 * 0001-9999, month 1-12, a day that month has (leap years included),
 * hour < 24, minute < 60, second < 60. False for NULL. Every decoder
 * refuses an event whose "at" this rejects. */
bool keryu_time_valid(const char *s);
/* Copies src into dst (size bytes) as well-formed UTF-8: every byte that is
 * not part of a well-formed sequence (stray continuation bytes, truncated
 * sequences, overlong forms, surrogates, code points over U+10FFFF) becomes
 * '?'. Stops before a character that does not fit whole, so a multi-byte
 * character is never cut. dst is always NUL-terminated when size > 0 (src
 * NULL copies ""). Returns the bytes written, not counting the NUL. */
size_t keryu_utf8_copy(char *dst, size_t size, const char *src);

#endif
