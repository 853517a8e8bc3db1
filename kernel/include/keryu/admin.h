/* The "admin" service: what the operators of an instance need — the audit
 * log, message templates, settings kept in the database, staff-wide views
 * of every custodian's data, failed deliveries, API refresh tokens and
 * retention — offered in-process by the storage module.
 *
 * Get it with host->service(m, KERYU_SERVICE_ADMIN) after declaring
 * "admin" in the descriptor's requires. Thread-safe. Nothing here checks
 * who is asking: the caller (the staff pages, the API, the keryu CLI)
 * checks that the session is staff before calling a staff-wide function.
 * Every function returns 0 or a negative KERYU_E* code:
 *   KERYU_ENOTFOUND  no such row
 *   KERYU_ECONFLICT  the row is not in a state that allows it
 *   KERYU_EINVAL     an argument failed validation; nothing was written
 *   KERYU_EIO        the database is unreachable; nothing was written
 * Out structs and arrays are caller-owned; nothing returned needs freeing.
 * Strings are UTF-8; "" stands for NULL/absent.
 */
#ifndef KERYU_ADMIN_H
#define KERYU_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/events.h>
#include <keryu/subjects.h>

#define KERYU_SERVICE_ADMIN "admin"

/* ---- audit log ---- */

/* One audit entry: who did what to which row, when, from where. The
 * summary says what changed ("is_active: true -> false", "template
 * alert/whatsapp: name qr_a -> qr_b"); it never holds a password, token,
 * code, phone number or medical field. */
struct keryu_audit_entry {
	long long id;              /* set by audit_append */
	char at[KERYU_TIME_LEN];   /* set by audit_append (ISO 8601 UTC) */
	char actor_id[KERYU_UUID_LEN]; /* "" for a visitor or the system */
	char actor_email[255];     /* as typed for a failed login; "" none */
	char source[8];            /* "web", "api", "cli" or "system" */
	/* lower case, dotted: "login", "login.failed", "logout",
	 * "custodian.deactivate", "subject.update", "template.update",
	 * "setting.update", "notification.retry", "api.token", ... :
	 * 1..47 of a-z, 0-9, '.', '_' */
	char action[48];
	char target_type[24];      /* "custodian", "subject", ...; "" none */
	char target_id[64];        /* the row's id; "" none */
	char summary[512];
	char ip_hash[65];          /* hex HMAC of the client address; "" */
};

struct keryu_audit_filter {
	char actor[255];     /* "" all; else actor_id or a substring of
			      * actor_email, ignoring case */
	char action[48];     /* "" all; else a prefix ("login" matches
			      * "login" and "login.failed") */
	char target_id[64];  /* "" all; else exactly */
	char from[11], to[11]; /* YYYY-MM-DD inclusive UTC, "" no bound */
	int offset;          /* >= 0 */
	int limit;           /* 1..100 */
};

/* ---- message templates ---- */

/* The events a template is chosen for. */
#define KERYU_TEMPLATE_EVENTS {"alert", "location", "report", "code"}
/* The variables a template's parameters may name, per event, in the order
 * the built-in defaults use:
 *   alert:    name, time, place, link   (default "name,time,place")
 *   location: name, map                 (default "name,map")
 *   report:   name, situation, words    (default "name,situation,words")
 *   code:     code                      (default "code") */
struct keryu_template {
	char event[16];     /* one of KERYU_TEMPLATE_EVENTS */
	char channel[32];   /* a channel name, or "" for every channel */
	char name[128];     /* the provider's template name: 1..127 of
			     * a-z, 0-9, '_' */
	char language[16];  /* e.g. "en_US": letters, digits, '_', '-' */
	/* comma-separated variable names from the event's list above,
	 * each at most once, 0..8 of them, in the order the provider's
	 * template numbers its parameters */
	char parameters[128];
	/* approved by the provider: only an approved template is used; an
	 * unapproved row is kept (e.g. waiting for Meta's review) and the
	 * configured default is used meanwhile */
	bool approved;
	char updated_at[KERYU_TIME_LEN];
	char updated_by[KERYU_UUID_LEN]; /* "" when unknown */
};
#define KERYU_TEMPLATES_MAX 64

/* ---- settings kept in the database ---- */

/* The keys, their kind and range. A key with no row takes the value of
 * the option named beside it in keryu.conf. Values are text:
 *   default_channel        channel name    [alarms] channel
 *   fallback_channel       channel or ""   [alarms] fallback_channel
 *   cooldown_s             0..86400        [alarms] cooldown_s
 *   escalate_after_s       0..86400        [alarms] escalate_after_s
 *   ack_timeout_s          0..604800       [alarms] ack_timeout_s
 *   finder_retention_days  0..36500        [alarms] finder_retention_days
 *   alarm_retention_days   0..36500        [alarms] alarm_retention_days
 *   audit_retention_days   0..36500        [alarms] audit_retention_days
 * A channel name is 1..31 of a-z, 0-9, '_' and '-'. Retention 0 keeps
 * for good. fallback_channel "none" (KERYU_SETTING_NONE) stores "no
 * fallback" over a keryu.conf that names one ("" deletes the row). */
#define KERYU_SETTING_NONE "none"
#define KERYU_SETTING_KEYS                                                    \
	{"default_channel",      "fallback_channel",                           \
	 "cooldown_s",           "escalate_after_s",                           \
	 "ack_timeout_s",        "finder_retention_days",                      \
	 "alarm_retention_days", "audit_retention_days"}
#define KERYU_SETTINGS_MAX 8

struct keryu_setting {
	char key[32];
	char value[64];
	char updated_at[KERYU_TIME_LEN];
	char updated_by[KERYU_UUID_LEN]; /* "" when unknown */
};

/* ---- staff-wide views ---- */

struct keryu_admin_subject {
	struct keryu_subject_summary s;
	char custodian_id[KERYU_UUID_LEN];
	char custodian_email[255];
};

struct keryu_admin_tag {
	struct keryu_tag t;
	char subject_name[101];
	char custodian_id[KERYU_UUID_LEN];
	char custodian_email[255];
};

struct keryu_admin_alarm {
	struct keryu_alarm_summary s;
	char custodian_id[KERYU_UUID_LEN];
	char custodian_email[255];
};

/* A notification that ended FAILED, or ERROR with no retry announced. */
struct keryu_failed_delivery {
	char notification_id[KERYU_UUID_LEN];
	char alarm_id[KERYU_UUID_LEN];   /* "" for a code notification */
	char subject_name[101];          /* "" for a code notification */
	char custodian_email[255];
	char kind[16];         /* "alert", "location", "report", "code" */
	char channel[32];
	char recipient_hint[8]; /* last 4 digits of the phone */
	char status[16];       /* "FAILED" or "ERROR" */
	int attempt;
	char error_code[32];
	char error_text[512];
	char updated_at[KERYU_TIME_LEN];
	char retried_as[KERYU_UUID_LEN]; /* the retry's id, "" when none */
};

/* What owner_of looks up. */
enum keryu_owned {
	KERYU_OWNED_SUBJECT = 1,
	KERYU_OWNED_TAG = 2,     /* by the tag's qr uuid */
	KERYU_OWNED_ALARM = 3,
	KERYU_OWNED_CONTACT = 4,
};

struct keryu_admin {
	uint32_t struct_size;
	void *self;

	/* ---- audit ---- */
	/* Stores e (validated: source, action, ids; summary and email are
	 * truncated as UTF-8, never refused) and fills e->id and e->at. */
	int (*audit_append)(void *self, struct keryu_audit_entry *e);
	/* Newest first, filtered; *total counts every match. */
	int (*audit_list)(void *self, const struct keryu_audit_filter *f,
			  struct keryu_audit_entry *out, size_t max, size_t *n,
			  int *total);

	/* ---- templates ---- */
	/* Every stored template, by event then channel. */
	int (*template_list)(void *self, struct keryu_template *out,
			     size_t max, size_t *n);
	/* The template for event on channel: the (event, channel) row, else
	 * the (event, "") row, approved or not. ENOTFOUND when neither. */
	int (*template_get)(void *self, const char *event, const char *channel,
			    struct keryu_template *out);
	/* Inserts or replaces the (t->event, t->channel) row; updated_at is
	 * set, updated_by is actor_id (NULL or "": unknown). EINVAL for any
	 * field outside its rules above. When before is not NULL it gets
	 * the row as it was (ENOTFOUND-free: before->name "" when new). */
	int (*template_put)(void *self, const struct keryu_template *t,
			    const char *actor_id, struct keryu_template *before);
	/* Deletes the row: the configured default applies again. ENOTFOUND
	 * when absent. */
	int (*template_delete)(void *self, const char *event,
			       const char *channel);

	/* ---- settings ---- */
	/* The stored rows (keys with no row are absent), by key. */
	int (*setting_list)(void *self, struct keryu_setting *out, size_t max,
			    size_t *n);
	/* Sets key to value after checking both against the table above;
	 * value "" deletes the row (the keryu.conf value applies again).
	 * before (may be NULL) gets the old value, "" when there was none. */
	int (*setting_set)(void *self, const char *key, const char *value,
			   const char *actor_id, char before[64]);

	/* ---- custodians (staff) ---- */
	int (*custodian_set_staff)(void *self, const char *id, bool staff);
	/* Clears the custodian's phone verification: they must verify
	 * again. ENOTFOUND when absent. */
	int (*custodian_reset_phone)(void *self, const char *id);
	/* Who owns the row: fills custodian_id. ENOTFOUND when absent. The
	 * caller then uses the scoped subjects functions with that id. */
	int (*owner_of)(void *self, enum keryu_owned kind, const char *id,
			char custodian_id[KERYU_UUID_LEN]);

	/* ---- staff-wide lists (newest first; *total counts matches) ---- */
	/* search ("" all) matches the subject's name or the custodian's
	 * email, ignoring case. */
	int (*subjects_all)(void *self, const char *search, int offset,
			    struct keryu_admin_subject *out, size_t max,
			    size_t *n, int *total);
	/* search matches the short code, the subject's name or the
	 * custodian's email. */
	int (*tags_all)(void *self, const char *search, int offset,
			struct keryu_admin_tag *out, size_t max, size_t *n,
			int *total);
	int (*alarms_all)(void *self, const struct keryu_alarm_filter *f,
			  struct keryu_admin_alarm *out, size_t max, size_t *n,
			  int *total);

	/* ---- deliveries ---- */
	/* Notifications that ended FAILED, or ERROR that will not be
	 * retried, newest first. */
	int (*deliveries_failed)(void *self, int offset,
				 struct keryu_failed_delivery *out, size_t max,
				 size_t *n, int *total);
	/* "Retry now": creates a new PENDING notification for the same
	 * alarm, recipient, channel, kind and detail, due at once (the
	 * alarms module's next due round publishes it), links the failed
	 * one to it (retried_as) and puts a RETRIED step on the alarm's
	 * timeline. ECONFLICT when id is not FAILED/final ERROR or was
	 * already retried; ENOTFOUND when absent. Fills new_id. */
	int (*notification_retry)(void *self, const char *id,
				  char new_id[KERYU_UUID_LEN]);

	/* ---- API refresh tokens (stored as hex SHA-256 / HMAC digests) ---- */
	int (*refresh_create)(void *self, const char *token_hash,
			      const char *custodian_id, int ttl_s);
	/* In one transaction: the live (unrevoked, unexpired) token
	 * old_hash is revoked and new_hash issued to the same custodian for
	 * ttl_s; fills custodian_id. A token that was already rotated or
	 * revoked is a replay: every token of its custodian is revoked and
	 * ENOTFOUND returned, as for an unknown or expired one. An inactive
	 * custodian's token is ENOTFOUND too. */
	int (*refresh_rotate)(void *self, const char *old_hash,
			      const char *new_hash, int ttl_s,
			      char custodian_id[KERYU_UUID_LEN]);
	/* Revokes one token (logout). 0 even when absent or revoked. */
	int (*refresh_revoke)(void *self, const char *token_hash);
	/* Revokes every token of the custodian (password change, reset,
	 * deactivation do this themselves in storage). */
	int (*refresh_revoke_all)(void *self, const char *custodian_id);

	/* ---- retention ---- */
	/* Deletes at most batch (1..10000) rows older than days (>= 1):
	 * PURGE_ALARMS alarms scanned before then with their
	 * notifications and events, PURGE_AUDIT audit entries; *rows gets
	 * how many. The caller loops until *rows < batch. */
	int (*purge)(void *self, int what, int days, int batch, long *rows);

	void *reserved[16];
};

#define KERYU_PURGE_ALARMS 1
#define KERYU_PURGE_AUDIT 2

#endif
