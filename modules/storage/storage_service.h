/* The functions behind struct keryu_storage (keryu/storage.h) and struct
 * keryu_accounts (keryu/accounts.h); self is the module's struct
 * storage_pool. Returns and ownership as in those headers. */
#ifndef STORAGE_SERVICE_H
#define STORAGE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/accounts.h>
#include <keryu/storage.h>

int storage_ping(void *self);
int storage_tag_lookup(void *self, const char *qr_uuid,
		       struct keryu_tag_info *out);
int storage_alarm_from_scan(void *self, const struct keryu_scan_event *ev,
			    const char *channel,
			    struct keryu_alarm_created *out);
int storage_notification_queued(void *self, const char *notification_id,
				int attempt);
int storage_notification_result(void *self,
				const struct keryu_delivery_event *ev);

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

/* True for exactly 64 lower-case hex digits: the form of every _hash
 * argument of keryu/accounts.h. */
bool storage_hash_valid(const char *s);

/* Copies src into dst (size bytes with the NUL), cutting on a UTF-8
 * character boundary when it must cut. NULL src copies "". */
void storage_copy_text(char *dst, size_t size, const char *src);

#endif
