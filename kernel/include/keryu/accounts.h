/* The "accounts" service: custodians, sessions, one-time codes and rate
 * limits, offered in-process by the storage module.
 *
 * Get it with host->service(m, KERYU_SERVICE_ACCOUNTS) after declaring
 * "accounts" in the descriptor's requires. Thread-safe. Every function
 * returns 0 or a negative KERYU_E* code:
 *   KERYU_ENOTFOUND  no such row (or not the caller's)
 *   KERYU_ECONFLICT  a unique value is taken (e.g. the email)
 *   KERYU_EINVAL     an argument failed validation; nothing was written
 *   KERYU_EIO        the database is unreachable; nothing was written
 * Out structs are caller-owned; nothing returned needs freeing.
 *
 * Secrets never reach the database in the clear: the caller passes the
 * password hash (libsodium crypto_pwhash_str), and session tokens and
 * one-time codes are stored as hex SHA-256 digests (the _hash arguments),
 * computed by the caller with the instance's secret key as HMAC key.
 */
#ifndef KERYU_ACCOUNTS_H
#define KERYU_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/events.h>

#define KERYU_SERVICE_ACCOUNTS "accounts"

#define KERYU_HASH_HEX 65 /* 64 hex digits + NUL */

struct keryu_custodian {
	char id[KERYU_UUID_LEN];
	char email[255];
	char name[101];
	char phone[32];        /* E.164 */
	bool phone_verified;
	bool is_staff;
	bool is_active;
	char password_hash[256]; /* crypto_pwhash_str output; "" when none */
	char created_at[KERYU_TIME_LEN];
};

/* A session row; custodian_id "" for an anonymous (logged-out) session,
 * which exists so that logged-out forms carry a CSRF token too. */
struct keryu_session {
	char custodian_id[KERYU_UUID_LEN];
	char csrf[65]; /* random, hex; compared in constant time */
	int64_t created_unix;
	int64_t last_seen_unix;
};

/* What a one-time code is for. */
enum keryu_code_purpose {
	KERYU_CODE_PHONE = 1,   /* verify the custodian's own phone */
	KERYU_CODE_RESET = 2,   /* reset the password */
	KERYU_CODE_CONTACT = 3, /* verify an emergency contact's phone */
};

/* The result of issuing a code: the notification that will carry it. */
struct keryu_code_issued {
	char notification_id[KERYU_UUID_LEN];
	char recipient[32]; /* E.164 the code goes to */
};

enum keryu_code_check {
	KERYU_CODE_OK = 0,        /* matched; now consumed */
	KERYU_CODE_WRONG = 1,     /* did not match; one try used */
	KERYU_CODE_EXPIRED = 2,   /* no live code (expired, used, none) */
	KERYU_CODE_TOO_MANY = 3,  /* tries exhausted; code is dead */
};

struct keryu_accounts {
	uint32_t struct_size;
	void *self;

	/* ---- custodians ---- */
	/* Creates a custodian (phone unverified). email is lower-cased by
	 * the caller; ECONFLICT when taken. Fills out. */
	int (*custodian_create)(void *self, const char *email, const char *name,
				const char *phone, const char *password_hash,
				struct keryu_custodian *out);
	/* By id or by (lower-cased) email. ENOTFOUND when absent. */
	int (*custodian_get)(void *self, const char *id,
			     struct keryu_custodian *out);
	int (*custodian_by_email)(void *self, const char *email,
				  struct keryu_custodian *out);
	/* Replaces the password hash and ends every session of the
	 * custodian except keep_token_hash (NULL: end them all). */
	int (*custodian_set_password)(void *self, const char *id,
				      const char *password_hash,
				      const char *keep_token_hash);

	/* ---- sessions ---- */
	/* Creates a session under token_hash with a new csrf value. */
	int (*session_create)(void *self, const char *token_hash,
			      const char *custodian_id /* NULL: anonymous */,
			      const char *csrf, int64_t absolute_expiry_s);
	/* Looks up a live session: not past its absolute expiry and seen
	 * within idle_s; touches last_seen. ENOTFOUND otherwise. */
	int (*session_get)(void *self, const char *token_hash, int64_t idle_s,
			   struct keryu_session *out);
	/* Deletes one session (logout, rotation). 0 even when absent. */
	int (*session_delete)(void *self, const char *token_hash);

	/* ---- one-time codes ---- */
	/* In one transaction: kills earlier live codes of the same
	 * custodian+purpose(+contact), stores code_hash expiring after
	 * ttl_s with max_tries, and creates a PENDING notification on
	 * channel addressed to the phone of the custodian (or of the
	 * contact for KERYU_CODE_CONTACT). ECONFLICT when a code for the
	 * same purpose was issued less than resend_after_s ago. */
	int (*code_issue)(void *self, const char *custodian_id,
			  enum keryu_code_purpose purpose,
			  const char *contact_id /* NULL unless CONTACT */,
			  const char *code_hash, const char *channel,
			  int ttl_s, int max_tries, int resend_after_s,
			  struct keryu_code_issued *out);
	/* Checks code_hash against the live code. On a match, consumes it
	 * and applies its effect in the same transaction (PHONE: sets the
	 * custodian's phone_verified_at; CONTACT: the contact's verified_at;
	 * RESET: nothing; the caller then sets the password). */
	int (*code_check)(void *self, const char *custodian_id,
			  enum keryu_code_purpose purpose,
			  const char *contact_id, const char *code_hash,
			  enum keryu_code_check *result);

	/* ---- rate limits ---- */
	/* Counts one hit on key (e.g. "login:ip:<hash>") in the current
	 * fixed window of window_s seconds; *allowed is false once more
	 * than max hits fall in the window. Shared by every process. */
	int (*rate_hit)(void *self, const char *key, int window_s, int max,
			bool *allowed);

	/* ---- administration (the keryu CLI) ---- */
	/* Creates an active staff custodian whose phone counts as verified:
	 * the administrator who runs the command vouches for it. Same checks
	 * as custodian_create; ECONFLICT when the email is taken. Fills out. */
	int (*custodian_create_staff)(void *self, const char *email,
				      const char *name, const char *phone,
				      const char *password_hash,
				      struct keryu_custodian *out);
	/* Every custodian, oldest first (by created_at, then id), skipping
	 * offset and writing at most max to out; search (NULL or "": all)
	 * keeps those whose email or name contains it, ignoring case. The
	 * rows' password_hash is "". */
	int (*custodian_list)(void *self, const char *search, int offset,
			      struct keryu_custodian *out, size_t max,
			      size_t *n);
	/* Sets is_active; deactivating also ends every session of the
	 * custodian (an inactive one cannot log in). ENOTFOUND when absent. */
	int (*custodian_set_active)(void *self, const char *id, bool active);

	void *reserved[16];
};

#endif
