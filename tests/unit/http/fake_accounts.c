#include "fake_accounts.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

struct fake_accounts_state fake_accounts_state;

#define S (&fake_accounts_state)

static struct keryu_custodian *find(const char *id, const char *email)
{
	int i;

	for (i = 0; i < S->n_custodians; i++)
		if ((id && strcmp(S->custodians[i].id, id) == 0) ||
		    (email && strcmp(S->custodians[i].email, email) == 0))
			return &S->custodians[i];
	return NULL;
}

static int fa_create(void *self, const char *email, const char *name,
		     const char *phone, const char *password_hash,
		     struct keryu_custodian *out)
{
	struct keryu_custodian *c;

	(void)self;
	S->creates++;
	if (S->rc)
		return S->rc;
	if (find(NULL, email))
		return KERYU_ECONFLICT;
	if (S->n_custodians == FA_MAX)
		return KERYU_EIO;
	c = &S->custodians[S->n_custodians++];
	memset(c, 0, sizeof(*c));
	keryu_uuid_new(c->id);
	snprintf(c->email, sizeof(c->email), "%s", email);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->phone, sizeof(c->phone), "%s", phone);
	snprintf(c->password_hash, sizeof(c->password_hash), "%s",
		 password_hash);
	c->is_active = true;
	*out = *c;
	return 0;
}

static int fa_get(void *self, const char *id, struct keryu_custodian *out)
{
	struct keryu_custodian *c = find(id, NULL);

	(void)self;
	if (S->rc)
		return S->rc;
	if (!c)
		return KERYU_ENOTFOUND;
	*out = *c;
	return 0;
}

static int fa_by_email(void *self, const char *email,
		       struct keryu_custodian *out)
{
	struct keryu_custodian *c = find(NULL, email);

	(void)self;
	S->by_email++;
	if (S->rc)
		return S->rc;
	if (!c)
		return KERYU_ENOTFOUND;
	*out = *c;
	return 0;
}

static int fa_set_password(void *self, const char *id, const char *hash,
			   const char *keep)
{
	struct keryu_custodian *c = find(id, NULL);
	size_t i;

	(void)self;
	S->set_passwords++;
	if (S->rc)
		return S->rc;
	if (!c)
		return KERYU_ENOTFOUND;
	snprintf(c->password_hash, sizeof(c->password_hash), "%s", hash);
	S->last_keep_null = keep == NULL;
	snprintf(S->last_keep, sizeof(S->last_keep), "%s", keep ? keep : "");
	for (i = 0; i < sizeof(S->sessions) / sizeof(S->sessions[0]); i++)
		if (S->sessions[i].used &&
		    strcmp(S->sessions[i].custodian_id, id) == 0 &&
		    (!keep || strcmp(S->sessions[i].token_hash, keep) != 0))
			S->sessions[i].used = false;
	return 0;
}

static int fa_session_create(void *self, const char *token_hash,
			     const char *custodian_id, const char *csrf,
			     int64_t expiry)
{
	size_t i;

	(void)self;
	(void)expiry;
	S->session_creates++;
	if (S->rc)
		return S->rc;
	for (i = 0; i < sizeof(S->sessions) / sizeof(S->sessions[0]); i++) {
		struct fa_session *s = &S->sessions[i];

		if (s->used)
			continue;
		s->used = true;
		snprintf(s->token_hash, sizeof(s->token_hash), "%s",
			 token_hash);
		snprintf(s->custodian_id, sizeof(s->custodian_id), "%s",
			 custodian_id ? custodian_id : "");
		snprintf(s->csrf, sizeof(s->csrf), "%s", csrf);
		return 0;
	}
	return KERYU_EIO;
}

static struct fa_session *session_find(const char *hash)
{
	size_t i;

	for (i = 0; i < sizeof(S->sessions) / sizeof(S->sessions[0]); i++)
		if (S->sessions[i].used &&
		    strcmp(S->sessions[i].token_hash, hash) == 0)
			return &S->sessions[i];
	return NULL;
}

static int fa_session_get(void *self, const char *token_hash, int64_t idle,
			  struct keryu_session *out)
{
	struct fa_session *s = session_find(token_hash);

	(void)self;
	(void)idle;
	S->session_gets++;
	if (S->rc)
		return S->rc;
	if (!s)
		return KERYU_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	snprintf(out->custodian_id, sizeof(out->custodian_id), "%s",
		 s->custodian_id);
	snprintf(out->csrf, sizeof(out->csrf), "%s", s->csrf);
	return 0;
}

static int fa_session_delete(void *self, const char *token_hash)
{
	struct fa_session *s = session_find(token_hash);

	(void)self;
	S->session_deletes++;
	if (S->rc)
		return S->rc;
	if (s)
		s->used = false;
	return 0;
}

static int fa_code_issue(void *self, const char *custodian_id,
			 enum keryu_code_purpose purpose, const char *contact,
			 const char *code_hash, const char *channel, int ttl,
			 int max_tries, int resend,
			 struct keryu_code_issued *out)
{
	struct keryu_custodian *c = find(custodian_id, NULL);
	size_t i;

	(void)self;
	(void)contact;
	(void)channel;
	(void)ttl;
	(void)resend;
	S->code_issues++;
	if (S->rc)
		return S->rc;
	if (S->code_issue_rc)
		return S->code_issue_rc;
	if (!c)
		return KERYU_ENOTFOUND;
	for (i = 0; i < FA_MAX; i++)
		if (S->codes[i].live &&
		    strcmp(S->codes[i].custodian_id, custodian_id) == 0 &&
		    S->codes[i].purpose == purpose)
			S->codes[i].live = false;
	for (i = 0; i < FA_MAX; i++) {
		struct fa_code *k = &S->codes[i];

		if (k->live)
			continue;
		memset(k, 0, sizeof(*k));
		k->live = true;
		snprintf(k->custodian_id, sizeof(k->custodian_id), "%s",
			 custodian_id);
		k->purpose = purpose;
		snprintf(k->hash, sizeof(k->hash), "%s", code_hash);
		k->max_tries = max_tries;
		keryu_uuid_new(out->notification_id);
		snprintf(out->recipient, sizeof(out->recipient), "%s",
			 c->phone);
		return 0;
	}
	return KERYU_EIO;
}

static int fa_code_check(void *self, const char *custodian_id,
			 enum keryu_code_purpose purpose, const char *contact,
			 const char *code_hash, enum keryu_code_check *res)
{
	size_t i;

	(void)self;
	(void)contact;
	S->code_checks++;
	if (S->rc)
		return S->rc;
	for (i = 0; i < FA_MAX; i++) {
		struct fa_code *k = &S->codes[i];

		if (!k->live || strcmp(k->custodian_id, custodian_id) != 0 ||
		    k->purpose != purpose)
			continue;
		if (k->tries >= k->max_tries) { /* as storage: spent */
			*res = KERYU_CODE_TOO_MANY;
			return 0;
		}
		if (strcmp(k->hash, code_hash) == 0) {
			k->live = false;
			*res = KERYU_CODE_OK;
			if (purpose == KERYU_CODE_PHONE)
				find(custodian_id, NULL)->phone_verified =
					true;
			return 0;
		}
		k->tries++;
		*res = KERYU_CODE_WRONG;
		return 0;
	}
	*res = KERYU_CODE_EXPIRED;
	return 0;
}

static int fa_rate_hit(void *self, const char *key, int window, int max,
		       bool *allowed)
{
	(void)self;
	(void)window;
	S->rate_hits++;
	snprintf(S->last_rate_key, sizeof(S->last_rate_key), "%s", key);
	if (S->rc)
		return S->rc;
	*allowed = S->rate_allowed;
	if (S->rate_count) {
		size_t i;

		for (i = 0; i < 64; i++) {
			if (!S->rate_keys[i].key[0])
				snprintf(S->rate_keys[i].key,
					 sizeof(S->rate_keys[i].key), "%s",
					 key);
			if (strcmp(S->rate_keys[i].key, key) == 0) {
				if (++S->rate_keys[i].hits > max)
					*allowed = false;
				break;
			}
		}
	}
	return 0;
}

const struct keryu_accounts fake_accounts = {
	.struct_size = sizeof(struct keryu_accounts),
	.custodian_create = fa_create,
	.custodian_get = fa_get,
	.custodian_by_email = fa_by_email,
	.custodian_set_password = fa_set_password,
	.session_create = fa_session_create,
	.session_get = fa_session_get,
	.session_delete = fa_session_delete,
	.code_issue = fa_code_issue,
	.code_check = fa_code_check,
	.rate_hit = fa_rate_hit,
};

void fake_accounts_reset(void)
{
	memset(S, 0, sizeof(*S));
	S->rate_allowed = true;
}

struct keryu_custodian *fake_accounts_add(const char *email,
					  const char *name,
					  const char *password, bool verified)
{
	struct keryu_custodian *c = &S->custodians[S->n_custodians++];

	memset(c, 0, sizeof(*c));
	keryu_uuid_new(c->id);
	snprintf(c->email, sizeof(c->email), "%s", email);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->phone, sizeof(c->phone), "%s", "+16505551234");
	if (crypto_pwhash_str(c->password_hash, password, strlen(password),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		c->password_hash[0] = '\0';
	c->phone_verified = verified;
	c->is_active = true;
	return c;
}

int fake_accounts_sessions(const char *custodian_id)
{
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(S->sessions) / sizeof(S->sessions[0]); i++)
		if (S->sessions[i].used &&
		    (!custodian_id ||
		     strcmp(S->sessions[i].custodian_id, custodian_id) == 0))
			n++;
	return n;
}
