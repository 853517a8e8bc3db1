/* A fake accounts service for the http tests: a few custodians, sessions
 * and codes in memory, with call counters, so a test can tell that a
 * refused request changed nothing. */
#ifndef KERYU_TEST_HTTP_FAKE_ACCOUNTS_H
#define KERYU_TEST_HTTP_FAKE_ACCOUNTS_H

#include <stdbool.h>

#include <keryu/accounts.h>
#include <keryu/module.h>

#define FA_MAX 16

struct fa_session {
	bool used;
	char token_hash[KERYU_HASH_HEX];
	char custodian_id[KERYU_UUID_LEN]; /* "" anonymous */
	char csrf[65];
};

struct fa_code {
	bool live;
	char custodian_id[KERYU_UUID_LEN];
	enum keryu_code_purpose purpose;
	char hash[KERYU_HASH_HEX];
	int tries, max_tries;
};

struct fake_accounts_state {
	struct keryu_custodian custodians[FA_MAX];
	int n_custodians;
	struct fa_session sessions[FA_MAX * 4];
	struct fa_code codes[FA_MAX];
	int rc;           /* when non-zero, every call returns it */
	bool rate_allowed; /* what rate_hit answers (default true) */
	/* when set, rate_hit counts hits per key and honours max (and
	 * rate_allowed false still refuses) */
	bool rate_count;
	struct {
		char key[128];
		int hits;
	} rate_keys[64];
	int code_issue_rc; /* e.g. KERYU_ECONFLICT */
	/* counters */
	int creates, by_email, set_passwords, session_creates,
		session_deletes, session_gets, code_issues, code_checks,
		rate_hits;
	char last_rate_key[256];
	char last_keep[KERYU_HASH_HEX]; /* set_password's keep, "" for NULL */
	bool last_keep_null;
};

extern struct fake_accounts_state fake_accounts_state;
extern const struct keryu_accounts fake_accounts;

void fake_accounts_reset(void);
/* Adds a custodian with the given password (hashed for real). */
struct keryu_custodian *fake_accounts_add(const char *email,
					  const char *name,
					  const char *password,
					  bool verified);
/* Sessions alive; and how many belong to custodian_id. */
int fake_accounts_sessions(const char *custodian_id);

#endif
