/* The "admin" service's configuration kept in the database
 * (keryu/admin.h): the providers' message templates per event and channel,
 * and the settings that override keryu.conf options at run time. Every
 * value is checked here against admin.h's rules before any SQL; the
 * schema's CHECKs are the second line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

/* ---- templates: validation ---- */

static const char *const template_events[] = KERYU_TEMPLATE_EVENTS;

/* The variables each event's template may name (admin.h), same order. */
static const char *const template_vars[][5] = {
	{"name", "time", "place", "link", NULL},
	{"name", "map", NULL},
	{"name", "situation", "words", NULL},
	{"code", NULL},
};

#define N_EVENTS (sizeof(template_events) / sizeof(template_events[0]))
#define PARAMS_MAX 8

static int event_index(const char *event)
{
	size_t i;

	for (i = 0; event && i < N_EVENTS; i++)
		if (strcmp(event, template_events[i]) == 0)
			return (int)i;
	return -1;
}

/* "" or a channel name: 1..31 of a-z, 0-9, '_', '-'. */
static bool channel_or_empty(const char *ch)
{
	return !ch[0] || storage_channel_valid(ch);
}

static bool template_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 127 && strspn(s, LOWER_DIGITS "_") == n;
}

static bool language_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 15 &&
	       strspn(s, LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") == n;
}

/* Comma-separated names from the event's list, each at most once, 0..8 of
 * them; no empty item, no space. */
static bool parameters_valid(int ev, const char *s)
{
	bool used[5] = {false};
	const char *item = s;
	int count = 0;

	if (!s[0])
		return true;
	for (;;) {
		size_t len = strcspn(item, ",");
		int j, found = -1;

		if (len == 0 || ++count > PARAMS_MAX)
			return false;
		for (j = 0; template_vars[ev][j]; j++)
			if (strlen(template_vars[ev][j]) == len &&
			    strncmp(template_vars[ev][j], item, len) == 0)
				found = j;
		if (found < 0 || used[found])
			return false;
		used[found] = true;
		if (!item[len])
			return true;
		item += len + 1;
	}
}

static bool template_valid(const struct keryu_template *t)
{
	int ev;

	if (!FIELD_OK(t->event) || !FIELD_OK(t->channel) ||
	    !FIELD_OK(t->name) || !FIELD_OK(t->language) ||
	    !FIELD_OK(t->parameters))
		return false;
	ev = event_index(t->event);
	return ev >= 0 && channel_or_empty(t->channel) &&
	       template_name_valid(t->name) && language_valid(t->language) &&
	       parameters_valid(ev, t->parameters);
}

/* NULL or "": unknown; else a uuid. */
static bool actor_valid(const char *actor_id)
{
	return !actor_id || !actor_id[0] || keryu_uuid_valid(actor_id);
}

/* ---- templates: queries ---- */

#define TEMPLATE_COLS                                                          \
	"event, channel, name, language, parameters, approved, "               \
	STORAGE_ISO_UTC("updated_at") ", coalesce(updated_by::text, '')"

static void fill_template(PGresult *r, int row, struct keryu_template *t)
{
	memset(t, 0, sizeof(*t));
	storage_copy_text(t->event, sizeof(t->event), PQgetvalue(r, row, 0));
	storage_copy_text(t->channel, sizeof(t->channel), PQgetvalue(r, row, 1));
	storage_copy_text(t->name, sizeof(t->name), PQgetvalue(r, row, 2));
	storage_copy_text(t->language, sizeof(t->language),
			  PQgetvalue(r, row, 3));
	storage_copy_text(t->parameters, sizeof(t->parameters),
			  PQgetvalue(r, row, 4));
	t->approved = strcmp(PQgetvalue(r, row, 5), "t") == 0;
	storage_copy_text(t->updated_at, sizeof(t->updated_at),
			  PQgetvalue(r, row, 6));
	storage_copy_text(t->updated_by, sizeof(t->updated_by),
			  PQgetvalue(r, row, 7));
}

struct tpl_list_call {
	const char *v[1]; /* limit */
	struct keryu_template *out;
	size_t n;
};

static int tpl_list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct tpl_list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	rc = storage_db_exec(p, c, "template.list",
			     "SELECT " TEMPLATE_COLS " FROM message_templates "
			     "ORDER BY event, channel LIMIT $1::int",
			     1, lc->v, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++)
		fill_template(r, i, &lc->out[i]);
	lc->n = (size_t)rows;
	PQclear(r);
	return 0;
}

int storage_template_list(void *self, struct keryu_template *out, size_t max,
			  size_t *n)
{
	struct tpl_list_call lc;
	char lim[16];
	int rc;

	if (n)
		*n = 0;
	if (!n || (max && !out))
		return KERYU_EINVAL;
	snprintf(lim, sizeof(lim), "%zu",
		 max < KERYU_TEMPLATES_MAX ? max : (size_t)KERYU_TEMPLATES_MAX);
	memset(&lc, 0, sizeof(lc));
	lc.v[0] = lim;
	lc.out = out;
	rc = storage_pool_run(self, "template_list", tpl_list_work, &lc);
	if (!rc)
		*n = lc.n;
	return rc;
}

struct tpl_get_call {
	const char *v[2]; /* event, channel */
	struct keryu_template *out;
};

static int tpl_get_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct tpl_get_call *gc = arg;
	PGresult *r;
	int rc;

	/* the channel's own row before the every-channel one ('' sorts
	 * last on "channel = ''") */
	rc = storage_db_row(p, c, "template.get",
			    "SELECT " TEMPLATE_COLS " FROM message_templates "
			    "WHERE event = $1 AND channel IN ($2, '') "
			    "ORDER BY channel = '' LIMIT 1",
			    2, gc->v, &r);
	if (rc)
		return rc;
	fill_template(r, 0, gc->out);
	PQclear(r);
	return 0;
}

int storage_template_get(void *self, const char *event, const char *channel,
			 struct keryu_template *out)
{
	struct tpl_get_call gc;

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!channel)
		channel = "";
	if (event_index(event) < 0 || !channel_or_empty(channel))
		return KERYU_EINVAL;
	gc.v[0] = event;
	gc.v[1] = channel;
	gc.out = out;
	return storage_pool_run(self, "template_get", tpl_get_work, &gc);
}

struct tpl_put_call {
	const char *v[7]; /* event, channel, name, language, parameters,
			   * approved, actor */
	struct keryu_template before;
};

static int tpl_put_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct tpl_put_call *pc = arg;
	PGresult *r;
	int rc;

	memset(&pc->before, 0, sizeof(pc->before));
	rc = storage_db_exec(p, c, "template.before",
			     "SELECT " TEMPLATE_COLS " FROM message_templates "
			     "WHERE event = $1 AND channel = $2 FOR UPDATE",
			     2, pc->v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1)
		fill_template(r, 0, &pc->before);
	PQclear(r);
	/* an actor deleted meanwhile is recorded as unknown */
	return storage_db_exec(
		p, c, "template.put",
		"INSERT INTO message_templates (event, channel, name, language, "
		"parameters, approved, updated_at, updated_by) "
		"VALUES ($1, $2, $3, $4, $5, $6::bool, now(), "
		"(SELECT id FROM custodians WHERE id = $7::uuid)) "
		"ON CONFLICT (event, channel) DO UPDATE SET name = $3, "
		"language = $4, parameters = $5, approved = $6::bool, "
		"updated_at = now(), updated_by = excluded.updated_by",
		7, pc->v, NULL);
}

int storage_template_put(void *self, const struct keryu_template *t,
			 const char *actor_id, struct keryu_template *before)
{
	struct storage_pool *p = self;
	struct tpl_put_call pc;
	int rc;

	if (before)
		memset(before, 0, sizeof(*before));
	if (!t || !template_valid(t) || !actor_valid(actor_id))
		return KERYU_EINVAL;
	memset(&pc, 0, sizeof(pc));
	pc.v[0] = t->event;
	pc.v[1] = t->channel;
	pc.v[2] = t->name;
	pc.v[3] = t->language;
	pc.v[4] = t->parameters;
	pc.v[5] = t->approved ? "true" : "false";
	pc.v[6] = actor_id && actor_id[0] ? actor_id : NULL;
	rc = storage_pool_run_tx(p, "template_put", tpl_put_work, &pc);
	if (rc)
		return rc;
	if (before)
		*before = pc.before;
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.template_put",
				  "event=%s channel=%s approved=%d new=%d",
				  t->event, t->channel[0] ? t->channel : "*",
				  t->approved, !pc.before.name[0]);
	return 0;
}

static int tpl_delete_work(struct storage_pool *p, PGconn *c, void *arg)
{
	const char *const *v = arg; /* event, channel */

	return storage_db_one(p, c, "template.delete",
			      "DELETE FROM message_templates "
			      "WHERE event = $1 AND channel = $2 RETURNING 1",
			      2, v);
}

int storage_template_delete(void *self, const char *event,
			    const char *channel)
{
	struct storage_pool *p = self;
	const char *v[2];
	int rc;

	if (!channel)
		channel = "";
	if (event_index(event) < 0 || !channel_or_empty(channel))
		return KERYU_EINVAL;
	v[0] = event;
	v[1] = channel;
	rc = storage_pool_run(p, "template_delete", tpl_delete_work, (void *)v);
	if (!rc)
		storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
					  "storage.template_deleted",
					  "event=%s channel=%s", event,
					  channel[0] ? channel : "*");
	return rc;
}

/* ---- settings ---- */

/* fallback_channel's "none" is its empty value, which deletes the row
 * like any key's: a stored value is always a channel or a number. */
enum setting_kind { KIND_CHANNEL, KIND_INT };

static const struct {
	const char *key;
	enum setting_kind kind;
	long max; /* KIND_INT: 0..max */
} setting_rules[] = {
	{"default_channel", KIND_CHANNEL, 0},
	{"fallback_channel", KIND_CHANNEL, 0},
	{"cooldown_s", KIND_INT, 86400},
	{"escalate_after_s", KIND_INT, 86400},
	{"ack_timeout_s", KIND_INT, 604800},
	{"finder_retention_days", KIND_INT, 36500},
	{"alarm_retention_days", KIND_INT, 36500},
	{"audit_retention_days", KIND_INT, 36500},
};

#define N_SETTINGS (sizeof(setting_rules) / sizeof(setting_rules[0]))

static int setting_index(const char *key)
{
	size_t i;

	for (i = 0; key && i < N_SETTINGS; i++)
		if (strcmp(key, setting_rules[i].key) == 0)
			return (int)i;
	return -1;
}

/* Checks value for the key's kind and writes the form stored: a channel
 * as given, a number in plain decimal ("007" is stored "7"). "" is the
 * caller's "delete". */
static bool setting_value(int k, const char *value, char out[64])
{
	char *end;
	long v;
	size_t len = strlen(value);

	if (setting_rules[k].kind != KIND_INT) {
		if (!storage_channel_valid(value))
			return false;
		storage_copy_text(out, 64, value);
		return true;
	}
	/* digits only: no sign, space or exponent strtol would take */
	if (len == 0 || len > 9 || strspn(value, "0123456789") != len)
		return false;
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || *end || v < 0 || v > setting_rules[k].max)
		return false;
	snprintf(out, 64, "%ld", v);
	return true;
}

#define SETTING_COLS                                                           \
	"key, value, " STORAGE_ISO_UTC("updated_at") ", "                      \
	"coalesce(updated_by::text, '')"

struct set_list_call {
	struct keryu_setting *out;
	size_t max, n;
};

static int set_list_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct set_list_call *lc = arg;
	PGresult *r;
	int rc, i, rows;

	rc = storage_db_exec(p, c, "setting.list",
			     "SELECT " SETTING_COLS " FROM settings "
			     "ORDER BY key",
			     0, NULL, &r);
	if (rc)
		return rc;
	rows = PQntuples(r);
	for (i = 0; i < rows && (size_t)i < lc->max; i++) {
		struct keryu_setting *s = &lc->out[i];

		memset(s, 0, sizeof(*s));
		storage_copy_text(s->key, sizeof(s->key), PQgetvalue(r, i, 0));
		storage_copy_text(s->value, sizeof(s->value),
				  PQgetvalue(r, i, 1));
		storage_copy_text(s->updated_at, sizeof(s->updated_at),
				  PQgetvalue(r, i, 2));
		storage_copy_text(s->updated_by, sizeof(s->updated_by),
				  PQgetvalue(r, i, 3));
		lc->n++;
	}
	PQclear(r);
	return 0;
}

int storage_setting_list(void *self, struct keryu_setting *out, size_t max,
			 size_t *n)
{
	struct set_list_call lc = {out, max, 0};
	int rc;

	if (n)
		*n = 0;
	if (!n || (max && !out))
		return KERYU_EINVAL;
	rc = storage_pool_run(self, "setting_list", set_list_work, &lc);
	if (!rc)
		*n = lc.n;
	return rc;
}

struct set_call {
	const char *v[3]; /* key, value (NULL: delete), actor */
	char before[64];
};

static int set_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct set_call *sc = arg;
	PGresult *r;
	int rc;

	sc->before[0] = '\0';
	rc = storage_db_exec(p, c, "setting.before",
			     "SELECT value FROM settings WHERE key = $1 "
			     "FOR UPDATE",
			     1, sc->v, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1)
		storage_copy_text(sc->before, sizeof(sc->before),
				  PQgetvalue(r, 0, 0));
	PQclear(r);
	if (sc->v[1])
		return storage_db_exec(
			p, c, "setting.set",
			"INSERT INTO settings (key, value, updated_at, "
			"updated_by) VALUES ($1, $2, now(), "
			"(SELECT id FROM custodians WHERE id = $3::uuid)) "
			"ON CONFLICT (key) DO UPDATE SET value = $2, "
			"updated_at = now(), updated_by = excluded.updated_by",
			3, sc->v, NULL);
	return storage_db_exec(p, c, "setting.delete",
			       "DELETE FROM settings WHERE key = $1", 1, sc->v,
			       NULL);
}

int storage_setting_set(void *self, const char *key, const char *value,
			const char *actor_id, char before[64])
{
	struct storage_pool *p = self;
	struct set_call sc;
	char stored[64];
	int k, rc;

	if (before)
		before[0] = '\0';
	k = setting_index(key);
	if (k < 0 || !value || !actor_valid(actor_id) ||
	    (value[0] && !setting_value(k, value, stored)))
		return KERYU_EINVAL;
	memset(&sc, 0, sizeof(sc));
	sc.v[0] = key;
	sc.v[1] = value[0] ? stored : NULL;
	sc.v[2] = actor_id && actor_id[0] ? actor_id : NULL;
	rc = storage_pool_run_tx(p, "setting_set", set_work, &sc);
	if (rc)
		return rc;
	if (before)
		storage_copy_text(before, 64, sc.before);
	storage_pool_host(p)->log(storage_pool_mod(p), KERYU_LOG_INFO,
				  "storage.setting_set", "key=%s value=%s", key,
				  value[0] ? stored : "(default)");
	return 0;
}
