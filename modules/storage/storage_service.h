/* The functions behind struct keryu_storage (keryu/storage.h), struct
 * keryu_accounts (keryu/accounts.h), struct keryu_subjects
 * (keryu/subjects.h) and struct keryu_admin (keryu/admin.h); self is the
 * module's struct storage_pool. Returns and ownership as in those
 * headers. */
#ifndef STORAGE_SERVICE_H
#define STORAGE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/accounts.h>
#include <keryu/admin.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "storage_pool.h"

/* The ISO-8601 UTC form every Keryu payload uses, for a timestamptz column
 * (NULL stays NULL). */
#define STORAGE_ISO_UTC(col)                                                   \
	"to_char(" col " AT TIME ZONE 'UTC', "                                 \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

int storage_ping(void *self);
int storage_tag_lookup(void *self, const char *qr_uuid,
		       struct keryu_tag_info *out);
int storage_alarm_from_scan(void *self, const struct keryu_scan_event *ev,
			    const struct keryu_alarm_policy *pol,
			    struct keryu_alarm_created *out);
int storage_notification_queued(void *self, const char *notification_id,
				int attempt, int lease_s);
int storage_notification_result(void *self,
				const struct keryu_delivery_event *ev,
				int lease_s);
/* storage_due.c */
int storage_notify_due(void *self, const struct keryu_alarm_policy *pol,
		       struct keryu_notify_job *jobs, size_t max, size_t *n);
/* by a signed link (storage_alarms.c) */
int storage_alarm_acknowledge(void *self, const char *notification_id,
			      struct keryu_ack_result *out);

/* the finder's side (storage_finder.c) */
int storage_tag_public(void *self, const char *qr_uuid,
		       struct keryu_public_subject *out);
int storage_finder_attach(void *self, const struct keryu_finder_post *post,
			  char alarm_id[KERYU_UUID_LEN]);
int storage_finder_status(void *self, const char *scan_event_id,
			  const char *qr_uuid, struct keryu_finder_status *out);
int storage_followups(void *self, const char *alarm_id, const char *kind,
		      int lease_s, struct keryu_notify_job *jobs, size_t max,
		      size_t *n);
int storage_purge_finder_data(void *self, int days, long *rows);
/* monitoring (storage_metrics.c) */
int storage_metrics(void *self, struct keryu_storage_metrics *out);

/* the statistics page: subjects->stats (storage_stats.c) */
int storage_stats(void *self, const char *custodian_id, int days,
		  struct keryu_stats *out, const char *after_id,
		  struct keryu_stats_row *rows, size_t max, size_t *n);

/* accounts: custodians, sessions, rate limits (storage_accounts.c) */
int storage_custodian_create(void *self, const char *email, const char *name,
			     const char *phone, const char *password_hash,
			     struct keryu_custodian *out);
int storage_custodian_get(void *self, const char *id,
			  struct keryu_custodian *out);
int storage_custodian_by_email(void *self, const char *email,
			       struct keryu_custodian *out);
int storage_custodian_set_password(void *self, const char *id,
				   const char *password_hash,
				   const char *keep_token_hash);
int storage_session_create(void *self, const char *token_hash,
			   const char *custodian_id, const char *csrf,
			   int64_t absolute_expiry_s);
int storage_session_get(void *self, const char *token_hash, int64_t idle_s,
			struct keryu_session *out);
int storage_session_delete(void *self, const char *token_hash);
/* accounts: administration by the keryu CLI (storage_accounts.c) */
int storage_custodian_create_staff(void *self, const char *email,
				   const char *name, const char *phone,
				   const char *password_hash,
				   struct keryu_custodian *out);
int storage_custodian_list(void *self, const char *search, int offset,
			   struct keryu_custodian *out, size_t max, size_t *n);
int storage_custodian_set_active(void *self, const char *id, bool active);
int storage_rate_hit(void *self, const char *key, int window_s, int max,
		     bool *allowed);

/* accounts: one-time codes (storage_codes.c) */
int storage_code_issue(void *self, const char *custodian_id,
		       enum keryu_code_purpose purpose,
		       const char *contact_id, const char *code_hash,
		       const char *channel, int ttl_s, int max_tries,
		       int resend_after_s, struct keryu_code_issued *out);
int storage_code_check(void *self, const char *custodian_id,
		       enum keryu_code_purpose purpose, const char *contact_id,
		       const char *code_hash, enum keryu_code_check *result);

/* subjects: subjects (storage_subjects.c) */
int storage_subject_list(void *self, const char *custodian_id, int offset,
			 struct keryu_subject_summary *out, size_t max,
			 size_t *n, int *total);
int storage_subject_get(void *self, const char *custodian_id, const char *id,
			struct keryu_subject *out);
int storage_subject_create(void *self, const char *custodian_id,
			   const struct keryu_subject *in,
			   char id_out[KERYU_UUID_LEN]);
int storage_subject_update(void *self, const char *custodian_id,
			   const struct keryu_subject *in);
int storage_subject_delete(void *self, const char *custodian_id,
			   const char *id, char photo_out[80]);
int storage_subject_set_photo(void *self, const char *custodian_id,
			      const char *id, const char *photo,
			      char old_out[80]);
int storage_subject_set_public(void *self, const char *custodian_id,
			       const char *id, unsigned public_fields);

/* Fills s from the row's columns 1 to 7 (column 0 is the list's total):
 * id, name, is_active, has photo, active tags, open alarms, last alarm
 * at, the subject lists' order. */
void storage_subject_fill_summary(PGresult *r, int row,
				  struct keryu_subject_summary *s);

/* lost mode: subjects->subject_set_missing */
int storage_subject_set_missing(void *self, const char *custodian_id,
				const char *id, bool missing);

/* subjects: emergency contacts (storage_contacts.c) */
int storage_contact_list(void *self, const char *custodian_id,
			 const char *subject_id, struct keryu_contact *out,
			 size_t max, size_t *n);
int storage_contact_add(void *self, const char *custodian_id,
			const char *subject_id, const struct keryu_contact *in,
			char id_out[KERYU_UUID_LEN]);
int storage_contact_delete(void *self, const char *custodian_id,
			   const char *contact_id);
int storage_contact_move(void *self, const char *custodian_id,
			 const char *contact_id, int delta);

/* subjects: QR tags (storage_tags_admin.c) */
int storage_tag_create(void *self, const char *custodian_id,
		       const char *subject_id, const char *short_code,
		       struct keryu_tag *out);
int storage_tag_list(void *self, const char *custodian_id,
		     const char *subject_id, struct keryu_tag *out, size_t max,
		     size_t *n);
int storage_tag_get(void *self, const char *custodian_id, const char *uuid,
		    struct keryu_tag *out);
int storage_tag_set_active(void *self, const char *custodian_id,
			   const char *uuid, bool active);
int storage_tag_by_code(void *self, const char *short_code,
			char uuid_out[KERYU_UUID_LEN]);
/* What storage_tag_fill() reads, in this order, from the subject_qr_codes
 * row (or a copy of its columns) named t. */
#define STORAGE_TAG_COLS(t)                                                    \
	t ".uuid::text, " t ".subject_id::text, " t ".short_code, " t          \
	".is_active, " STORAGE_ISO_UTC(t ".created_at") ", "                   \
	"coalesce(" STORAGE_ISO_UTC(t ".activated_at") ", ''), "               \
	"coalesce(" STORAGE_ISO_UTC(t ".last_used") ", '')"
/* Fills out from STORAGE_TAG_COLS, which start at column col. */
void storage_tag_fill(PGresult *r, int row, int col, struct keryu_tag *out);

/* subjects: alarms and the dashboard (storage_alarm_views.c) */
int storage_alarm_list(void *self, const char *custodian_id,
		       const struct keryu_alarm_filter *f,
		       struct keryu_alarm_summary *out, size_t max, size_t *n,
		       int *total);
int storage_alarm_get(void *self, const char *custodian_id, const char *id,
		      struct keryu_alarm_detail *out);
int storage_alarm_timeline(void *self, const char *custodian_id,
			   const char *alarm_id,
			   struct keryu_timeline_entry *out, size_t max,
			   size_t *n);
/* What storage_alarm_fill_summary() reads, in this order, from alarms a
 * and subjects s. */
#define STORAGE_ALARM_SUMMARY_COLS                                             \
	"a.id::text, s.id::text, s.name, " STORAGE_ISO_UTC("a.scanned_at")     \
	", a.notification_status, a.resolved_at IS NOT NULL, "                 \
	"a.latitude IS NOT NULL AND a.longitude IS NOT NULL"
/* The alarm list's filter: $1 the custodian (NULL: every custodian's, for
 * staff), then the filter's $2..$5 (storage_alarm_filter_valid() checked
 * it). from and to are UTC days, whatever the server's zone. */
#define STORAGE_ALARM_FILTER_SQL                                               \
	"FROM alarms a JOIN subjects s ON s.id = a.subject_id "                \
	"WHERE ($1::uuid IS NULL OR s.custodian_id = $1::uuid) "               \
	"AND ($2::uuid IS NULL OR a.subject_id = $2::uuid) "                   \
	"AND ($3::text = '' "                                                  \
	"  OR ($3::text = 'open' AND a.resolved_at IS NULL) "                  \
	"  OR ($3::text = 'resolved' AND a.resolved_at IS NOT NULL)) "         \
	"AND ($4::date IS NULL "                                               \
	"  OR a.scanned_at >= $4::date::timestamp AT TIME ZONE 'UTC') "        \
	"AND ($5::date IS NULL "                                               \
	"  OR a.scanned_at < ($5::date + 1)::timestamp AT TIME ZONE 'UTC') "
void storage_alarm_fill_summary(PGresult *r, int row,
				struct keryu_alarm_summary *s);
/* The filter's parameters, $1..$7 (STORAGE_ALARM_FILTER_SQL, then OFFSET
 * and LIMIT), and what the count found. */
struct storage_alarm_query {
	const char *v[7]; /* custodian, subject, state, from, to, offset,
			   * limit */
	char off[16], lim[16];
	int total;
};
/* Fills q for the custodian (NULL: every custodian's) from f, which
 * storage_alarm_filter_valid() passed, for a page of at most max rows. q
 * points into itself: fill it where it stays. */
void storage_alarm_query_init(struct storage_alarm_query *q,
			      const char *custodian_id,
			      const struct keryu_alarm_filter *f, size_t max);
/* Counts q's alarms into q->total, then runs sql (a page of them, taking
 * $1..$7): 0 with the page in *res (the caller frees it with PQclear()),
 * or a storage_db_exec() error. */
int storage_alarm_query_page(struct storage_pool *p, PGconn *c,
			     const char *what_count, const char *what,
			     const char *sql, struct storage_alarm_query *q,
			     PGresult **res);
/* True for a filter whose every field is terminated and within its rules
 * (keryu/subjects.h): limit 1..100, offset >= 0. */
bool storage_alarm_filter_valid(const struct keryu_alarm_filter *f);
int storage_alarm_resolve(void *self, const char *custodian_id,
			  const char *id, const char *notes);
/* subjects->alarm_acknowledge: from the alarm page */
int storage_alarm_acknowledge_page(void *self, const char *custodian_id,
				   const char *id);
int storage_dashboard(void *self, const char *custodian_id,
		      struct keryu_dashboard *out);
/* subjects->alarms_export: every custodian's, for the keryu CLI */
int storage_alarms_export(void *self, const char *since, const char *until,
			  const char *after_id, struct keryu_alarm_export *out,
			  size_t max, size_t *n);

/* admin: the audit log and retention (storage_admin_audit.c) */
int storage_audit_append(void *self, struct keryu_audit_entry *e);
int storage_audit_list(void *self, const struct keryu_audit_filter *f,
		       struct keryu_audit_entry *out, size_t max, size_t *n,
		       int *total);
int storage_purge(void *self, int what, int days, int batch, long *rows);

/* admin: templates and settings (storage_admin_config.c) */
int storage_template_list(void *self, struct keryu_template *out, size_t max,
			  size_t *n);
int storage_template_get(void *self, const char *event, const char *channel,
			 struct keryu_template *out);
int storage_template_put(void *self, const struct keryu_template *t,
			 const char *actor_id, struct keryu_template *before);
int storage_template_delete(void *self, const char *event,
			    const char *channel);
int storage_setting_list(void *self, struct keryu_setting *out, size_t max,
			 size_t *n);
int storage_setting_set(void *self, const char *key, const char *value,
			const char *actor_id, char before[64]);

/* admin: staff-wide views, failed deliveries (storage_admin_views.c) */
int storage_custodian_set_staff(void *self, const char *id, bool staff);
int storage_custodian_reset_phone(void *self, const char *id);
int storage_owner_of(void *self, enum keryu_owned kind, const char *id,
		     char custodian_id[KERYU_UUID_LEN]);
int storage_subjects_all(void *self, const char *search, int offset,
			 struct keryu_admin_subject *out, size_t max, size_t *n,
			 int *total);
int storage_tags_all(void *self, const char *search, int offset,
		     struct keryu_admin_tag *out, size_t max, size_t *n,
		     int *total);
int storage_alarms_all(void *self, const struct keryu_alarm_filter *f,
		       struct keryu_admin_alarm *out, size_t max, size_t *n,
		       int *total);
int storage_deliveries_failed(void *self, int offset,
			      struct keryu_failed_delivery *out, size_t max,
			      size_t *n, int *total);
int storage_notification_retry(void *self, const char *id,
			       char new_id[KERYU_UUID_LEN]);

/* admin: API refresh tokens (storage_admin_tokens.c) */
int storage_refresh_create(void *self, const char *token_hash,
			   const char *custodian_id, int ttl_s);
int storage_refresh_rotate(void *self, const char *old_hash,
			   const char *new_hash, int ttl_s,
			   char custodian_id[KERYU_UUID_LEN]);
int storage_refresh_revoke(void *self, const char *token_hash);
int storage_refresh_revoke_all(void *self, const char *custodian_id);
/* Revokes every live refresh token of the custodian inside the caller's
 * transaction (password change, deactivation); *revoked (may be NULL)
 * gets how many. Returns 0 or a storage_db_exec() error. */
int storage_refresh_revoke_in(struct storage_pool *p, PGconn *c,
			      const char *custodian_id, int *revoked);

/* The scaffolding of the service functions (storage_call.c). */
/* Runs one statement that must return exactly one row: 0 with the row in
 * *res (the caller frees it with PQclear()), KERYU_ENOTFOUND when it
 * returned none or several (*res NULL), or storage_db_exec()'s error. */
int storage_db_row(struct storage_pool *p, PGconn *c, const char *what,
		   const char *sql, int nparams, const char *const *params,
		   PGresult **res);
/* The same for a statement whose row is not wanted (an UPDATE ...
 * RETURNING 1, a SELECT 1 ... FOR UPDATE): 0, KERYU_ENOTFOUND or
 * storage_db_exec()'s error. */
int storage_db_one(struct storage_pool *p, PGconn *c, const char *what,
		   const char *sql, int nparams, const char *const *params);
/* Runs a statement whose first row's first column is a count (SELECT
 * count(*) ...) into *count (0 on failure): 0 or storage_db_exec()'s
 * error. */
int storage_db_count(struct storage_pool *p, PGconn *c, const char *what,
		     const char *sql, int nparams, const char *const *params,
		     int *count);
/* storage_pool_run() with fn inside BEGIN ... COMMIT: fn only does the
 * work; when fn or the commit fails the transaction is rolled back.
 * Returns fn's error, a storage_db_begin()/commit() error, or 0. */
int storage_pool_run_tx(struct storage_pool *p, const char *what,
			storage_work_fn fn, void *arg);
/* The start of every call that lists a page and its total: sets *n and
 * *total (either may be NULL) to 0 and says whether both are given and
 * out is given when max > 0. */
bool storage_list_begin(size_t *n, int *total, const void *out, size_t max);
/* Writes a page's $OFFSET (offset) and $LIMIT (the smaller of limit and
 * max, at most INT_MAX) as the decimal text parameters the queries take. */
void storage_page_args(char off[16], char lim[16], int offset, size_t limit,
		       size_t max);

/* Checks for the subjects service (storage_subjects.c). */
/* True when s is well-formed UTF-8 (no overlong forms, surrogates or code
 * points over U+10FFFF). False for NULL. */
bool storage_utf8_valid(const char *s);
/* True for a one-line text of 1..max bytes, valid UTF-8, no control
 * characters, not only spaces: names. */
bool storage_line_valid(const char *s, size_t max);
/* True for "" or a text of up to max bytes, valid UTF-8, with no control
 * characters but tab, CR and LF. NULL counts as "". */
bool storage_text_valid(const char *s, size_t max);
/* True for "YYYY-MM-DD" naming a real day of years 0001-9999. */
bool storage_date_valid(const char *s);

/* True for exactly 64 lower-case hex digits: the form of every _hash
 * argument of keryu/accounts.h. */
bool storage_hash_valid(const char *s);

/* ---- delivery internals shared by the files above ---- */

/* True for a policy storage can act on: a channel that can be a topic
 * level ([a-z0-9_-], 1..31 bytes), fallback NULL, "" or the same, no
 * negative times, lease_s >= 1. */
bool storage_policy_valid(const struct keryu_alarm_policy *pol);
/* True for a channel name as above. */
bool storage_channel_valid(const char *ch);

/* The custodian row c can be messaged on channel ch: an inactive custodian
 * is told nothing, nor one whose phone was never verified (the number could
 * be anyone's), nor, on the channels that send WhatsApp messages, one who
 * opted out of WhatsApp. */
#define STORAGE_CUSTODIAN_REACHES(ch)                                          \
	"c.is_active AND c.phone_verified_at IS NOT NULL "                     \
	"AND (c.whatsapp_opt_in OR " ch " NOT IN ('whatsapp', 'twilio'))"

/* Who an alarm alerts next (storage_due.c). */
struct storage_recipient {
	char custodian_id[KERYU_UUID_LEN]; /* the subject's custodian */
	char contact_id[KERYU_UUID_LEN];   /* "" for the custodian */
	char phone[32];
	char channel[32];
};
/* The alarm's next recipient inside the caller's transaction: the
 * custodian on channel when they can be reached there (active, verified
 * phone, WhatsApp opt-in for WhatsApp channels), then the subject's
 * verified contacts by position, skipping every phone the alarm already
 * has a notification for. *found false when nobody is left. Returns 0 or
 * a storage_db_exec() error. */
int storage_next_recipient(struct storage_pool *p, PGconn *c,
			   const char *alarm_id, const char *channel,
			   struct storage_recipient *out, bool *found);
/* Appends an alarm-level step to the alarm's timeline (kind ESCALATED,
 * FALLBACK, EXHAUSTED, ACKNOWLEDGED or RETRIED; notification_id and detail
 * may be NULL or ""). */
int storage_alarm_event(struct storage_pool *p, PGconn *c,
			const char *alarm_id, const char *kind,
			const char *notification_id, const char *detail);
/* Finds the notification's alarm and locks it (FOR NO KEY UPDATE: the
 * order every writer of notifications keeps, the alarm first) inside the
 * caller's transaction. alarm_id gets "" for a code notification, which
 * has none and locks nothing. Returns 0, KERYU_ENOTFOUND for an unknown
 * notification, or a storage_db_exec() error (storage_notifications.c). */
int storage_notification_lock_alarm(struct storage_pool *p, PGconn *c,
				    const char *id,
				    char alarm_id[KERYU_UUID_LEN]);
/* Recomputes the alarm's one-line summary (notification_status and the
 * rest) from all its notifications: the best status wins, FAILED only
 * when every one failed (storage_notifications.c). */
int storage_alarm_summarise(struct storage_pool *p, PGconn *c,
			    const char *alarm_id);

/* Copies src into dst (size bytes with the NUL), cutting on a UTF-8
 * character boundary when it must cut. NULL src copies "". */
void storage_copy_text(char *dst, size_t size, const char *src);

#endif
