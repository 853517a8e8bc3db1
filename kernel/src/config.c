/* Configuration layers, validation and --check-config output; see config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "util.h"

#define DEFAULT_PATH "config/keryu.conf"
#define DOTENV_PATH ".env"

/* One value from one layer. section is NULL in the .env layer, whose keys
 * are environment variable names. */
struct kv {
	char *section;
	char *key;
	char *value;
	struct kv *next;
};

/* A section with an option table, resolved once by config_declare. */
struct section {
	char *name;
	const struct keryu_option *opts;
	size_t n;
	char **values; /* effective value of opts[i], never NULL */
	struct section *next;
};

struct config {
	struct kv *file;
	struct kv *dotenv;
	struct kv *overrides;
	struct kv *defaults;
	struct section *sections;
	char *path; /* the INI file read, for error messages */
};

/* Names people already use in twelve-factor deployments. */
static const struct {
	const char *env, *section, *key;
} common_names[] = {
	{"DATABASE_URL", "storage", "database_url"},
	{"MQTT_URL", "bus", "url"},
	{"KERYU_SECRET_KEY", "kernel", "secret_key"},
	{"DEBUG", "kernel", "debug"},
	{"ALLOWED_HOSTS", "http", "allowed_hosts"},
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	KERYU_PRINTF(3, 4);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return KERYU_EINVAL;
}

static bool same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static struct kv *kv_find(struct kv *list, const char *section,
			  const char *key)
{
	for (; list; list = list->next) {
		if (same(list->section, section) && strcmp(list->key, key) == 0)
			return list;
	}
	return NULL;
}

static const char *kv_get(struct kv *list, const char *section,
			  const char *key)
{
	struct kv *e = kv_find(list, section, key);

	return e ? e->value : NULL;
}

/* Later values replace earlier ones, as in any INI reader. */
static int kv_set(struct kv **list, const char *section, const char *key,
		  const char *value)
{
	struct kv *e = kv_find(*list, section, key);
	char *v = strdup(value);

	if (!v)
		return KERYU_ENOMEM;
	if (e) {
		free(e->value);
		e->value = v;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key)) ||
	    (section && !(e->section = strdup(section)))) {
		if (e)
			free(e->key);
		free(e);
		free(v);
		return KERYU_ENOMEM;
	}
	e->value = v;
	e->next = *list;
	*list = e;
	return 0;
}

static void kv_free(struct kv *list)
{
	while (list) {
		struct kv *next = list->next;

		free(list->section);
		free(list->key);
		free(list->value);
		free(list);
		list = next;
	}
}

static void section_free(struct section *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->values && i < s->n; i++)
		free(s->values[i]);
	free(s->values);
	free(s->name);
	free(s);
}

struct config *config_new(void)
{
	return calloc(1, sizeof(struct config));
}

void config_free(struct config *c)
{
	if (!c)
		return;
	kv_free(c->file);
	kv_free(c->dotenv);
	kv_free(c->overrides);
	kv_free(c->defaults);
	while (c->sections) {
		struct section *s = c->sections;

		c->sections = s->next;
		section_free(s);
	}
	free(c->path);
	free(c);
}

/* ---- reading ---- */

static int on_ini_value(void *user, const char *section, const char *key,
		       const char *value)
{
	struct config *c = user;

	return kv_set(&c->file, section, key, value) == 0; /* inih: 1 = ok */
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* KEY=VALUE lines; '#' starts a comment line; an optional "export " and
 * matching quotes around the value are dropped. */
static int load_dotenv(struct config *c, char *err, size_t errlen)
{
	FILE *f = fopen(DOTENV_PATH, "r");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		return fail(err, errlen, "config: cannot read %s: %s",
			    DOTENV_PATH, strerror(errno));
	}
	while (rc == 0 && getline(&line, &cap, f) > 0) {
		char *s = trim(line), *eq, *value;
		size_t len;

		lineno++;
		if (*s == '\0' || *s == '#')
			continue;
		if (strncmp(s, "export ", 7) == 0)
			s = trim(s + 7);
		eq = strchr(s, '=');
		if (!eq || eq == s) {
			rc = fail(err, errlen, "config: %s:%d: expected KEY=VALUE",
				  DOTENV_PATH, lineno);
			break;
		}
		*eq = '\0';
		value = trim(eq + 1);
		len = strlen(value);
		if (len >= 2 && (value[0] == '"' || value[0] == '\'') &&
		    value[len - 1] == value[0]) {
			value[len - 1] = '\0';
			value++;
		}
		rc = kv_set(&c->dotenv, NULL, trim(s), value);
	}
	free(line);
	fclose(f);
	return rc;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	const char *p = path ? path : DEFAULT_PATH;
	FILE *f = fopen(p, "r");
	int rc;

	if (!f && (path || errno != ENOENT))
		return fail(err, errlen, "config: cannot open %s: %s", p,
			    strerror(errno));
	if (f) {
		free(c->path);
		c->path = strdup(p);
		rc = ini_parse_file(f, on_ini_value, c);
		fclose(f);
		if (!c->path || rc == -2)
			return KERYU_ENOMEM;
		if (rc > 0)
			return fail(err, errlen, "config: %s:%d: cannot parse line",
				    p, rc);
		if (rc != 0)
			return fail(err, errlen, "config: cannot read %s", p);
	}
	return load_dotenv(c, err, errlen);
}

int config_set(struct config *c, const char *section, const char *key,
	       const char *value)
{
	return kv_set(&c->overrides, section, key, value);
}

int config_set_default(struct config *c, const char *section, const char *key,
		       const char *value)
{
	return kv_set(&c->defaults, section, key, value);
}

/* ---- resolving ---- */

/* KERYU_<SECTION>_<KEY>, upper case, anything else than [A-Z0-9] as '_'. */
static void env_name(char *buf, size_t size, const char *section,
		     const char *key)
{
	int n = snprintf(buf, size, "KERYU_%s_%s", section, key);

	for (int i = 0; i < n && (size_t)i < size - 1; i++) {
		unsigned char ch = (unsigned char)buf[i];

		buf[i] = isalnum(ch) ? (char)toupper(ch) : '_';
	}
}

static const char *common_name(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof(common_names) / sizeof(common_names[0]);
	     i++) {
		if (strcmp(common_names[i].section, section) == 0 &&
		    strcmp(common_names[i].key, key) == 0)
			return common_names[i].env;
	}
	return NULL;
}

/* The real environment beats .env; in each, the specific name beats the
 * common one. */
static const char *from_environment(const struct config *c,
				    const char *section, const char *key)
{
	const char *common = common_name(section, key);
	const char *v;
	char name[256];

	env_name(name, sizeof(name), section, key);
	if ((v = getenv(name)) != NULL)
		return v;
	if (common && (v = getenv(common)) != NULL)
		return v;
	if ((v = kv_get(c->dotenv, NULL, name)) != NULL)
		return v;
	if (common)
		return kv_get(c->dotenv, NULL, common);
	return NULL;
}

static const char *raw_value(const struct config *c, const char *section,
			     const char *key)
{
	const char *v = kv_get(c->overrides, section, key);

	if (!v)
		v = from_environment(c, section, key);
	if (!v)
		v = kv_get(c->file, section, key);
	if (!v)
		v = kv_get(c->defaults, section, key);
	return v;
}

static int parse_int(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0)
		return KERYU_EINVAL;
	return 0;
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"true", "yes", "on", "1"};
	static const char *no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return KERYU_EINVAL;
}

static int check_value(const char *section, const struct keryu_option *o,
		       const char *v, char *err, size_t errlen)
{
	/* Never echo a secret, not even a malformed one. */
	const char *shown = (o->flags & KERYU_OPT_SECRET) ? "********" : v;
	long long n;
	bool b;

	if (*v == '\0') {
		if (o->flags & KERYU_OPT_REQUIRED)
			return fail(err, errlen, "config: [%s] %s: is required",
				    section, o->key);
		return 0; /* an empty optional value reads as 0 / false / "" */
	}
	switch (o->type) {
	case KERYU_OPT_INT:
		if (parse_int(v, &n) != 0)
			return fail(err, errlen,
				    "config: [%s] %s: \"%s\" is not an integer",
				    section, o->key, shown);
		if ((o->min || o->max) && (n < o->min || n > o->max))
			return fail(err, errlen,
				    "config: [%s] %s: %s is not between %lld and %lld",
				    section, o->key, shown, o->min, o->max);
		break;
	case KERYU_OPT_BOOL:
		if (config_parse_bool(v, &b) != 0)
			return fail(err, errlen,
				    "config: [%s] %s: \"%s\" is not a boolean "
				    "(true/false)",
				    section, o->key, shown);
		break;
	case KERYU_OPT_URL:
		/* A URL may carry a password: say what is wrong, not what it is. */
		if (!strstr(v, "://"))
			return fail(err, errlen,
				    "config: [%s] %s: not a URL (expected scheme://...)",
				    section, o->key);
		break;
	case KERYU_OPT_STR:
		break;
	}
	return 0;
}

static const struct keryu_option *find_option(const struct keryu_option *opts,
					      const char *key)
{
	for (; opts && opts->key; opts++) {
		if (strcmp(opts->key, key) == 0)
			return opts;
	}
	return NULL;
}

/* Keys of the file and of overrides must be declared; environment
 * variables cannot be checked this way (KERYU_SECRET_KEY is a common name,
 * not section "secret"), so they are simply never looked up. */
static int check_unknown(const struct kv *list,
			 const char *section, const struct keryu_option *opts,
			 char *err, size_t errlen)
{
	for (; list; list = list->next) {
		if (same(list->section, section) && !find_option(opts, list->key))
			return fail(err, errlen, "config: [%s] %s: unknown option",
				    section, list->key);
	}
	return 0;
}

static struct section *find_section(const struct config *c, const char *name)
{
	for (struct section *s = c->sections; s; s = s->next) {
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

int config_declare(struct config *c, const char *section,
		   const struct keryu_option *opts, char *err, size_t errlen)
{
	struct section *s;
	int rc;

	if (find_section(c, section))
		return KERYU_ECONFLICT;
	rc = check_unknown(c->file, section, opts, err, errlen);
	if (rc == 0)
		rc = check_unknown(c->overrides, section, opts, err, errlen);
	if (rc != 0)
		return rc;

	s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(section)))
		goto nomem;
	s->opts = opts;
	while (opts && opts[s->n].key)
		s->n++;
	s->values = calloc(s->n + 1, sizeof(char *));
	if (!s->values)
		goto nomem;
	for (size_t i = 0; i < s->n; i++) {
		const char *v = raw_value(c, section, opts[i].key);

		if (!v)
			v = opts[i].def ? opts[i].def : "";
		s->values[i] = strdup(v);
		if (!s->values[i])
			goto nomem;
	}
	for (size_t i = 0; i < s->n; i++) {
		rc = check_value(section, &opts[i], s->values[i], err, errlen);
		if (rc != 0)
			goto out;
	}
	s->next = c->sections;
	c->sections = s;
	return 0;
nomem:
	fail(err, errlen, "config: out of memory");
	rc = KERYU_ENOMEM;
out:
	section_free(s);
	return rc;
}

/* ---- lookups ---- */

static const char *section_value(const struct section *s, const char *key,
				 const struct keryu_option **opt)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->opts[i].key, key) == 0) {
			if (opt)
				*opt = &s->opts[i];
			return s->values[i];
		}
	}
	return NULL;
}

const char *config_get(const struct config *c, const char *section,
		       const char *key)
{
	const struct section *s = find_section(c, section);

	return s ? section_value(s, key, NULL) : NULL;
}

const char *config_lookup(const struct config *c, const char *section,
			  const char *key)
{
	const struct section *s = find_section(c, section);

	return s ? section_value(s, key, NULL) : raw_value(c, section, key);
}

long long config_get_int(const struct config *c, const char *section,
			 const char *key)
{
	const struct section *s = find_section(c, section);
	const struct keryu_option *o = NULL;
	const char *v = s ? section_value(s, key, &o) : NULL;
	long long n;

	if (!v || o->type != KERYU_OPT_INT || parse_int(v, &n) != 0)
		return 0;
	return n;
}

bool config_get_bool(const struct config *c, const char *section,
		     const char *key)
{
	const struct section *s = find_section(c, section);
	const struct keryu_option *o = NULL;
	const char *v = s ? section_value(s, key, &o) : NULL;
	bool b;

	if (!v || o->type != KERYU_OPT_BOOL || config_parse_bool(v, &b) != 0)
		return false;
	return b;
}

/* "mqtt://user:pw@host" -> "mqtt://user:********@host". The userinfo is
 * found exactly as bus_parse_url finds it (url_userinfo): a password may
 * hold an unescaped '@'. A user without a password is shown as is. */
static void mask_url(const char *v, char *buf, size_t size)
{
	const char *user, *at, *colon;

	if (!url_userinfo(v, &user, &at) ||
	    !(colon = memchr(user, ':', (size_t)(at - user)))) {
		snprintf(buf, size, "%s", v);
		return;
	}
	snprintf(buf, size, "%.*s********%s", (int)(colon + 1 - v), v, at);
}

int config_print(const struct config *c, const char *section, FILE *out)
{
	const struct section *s = find_section(c, section);
	char shown[1024];

	if (!s)
		return KERYU_ENOTFOUND;
	for (size_t i = 0; i < s->n; i++) {
		const struct keryu_option *o = &s->opts[i];
		const char *v = s->values[i];

		if ((o->flags & KERYU_OPT_SECRET) && *v) {
			v = "********";
		} else if (o->type == KERYU_OPT_URL) {
			mask_url(v, shown, sizeof(shown));
			v = shown;
		}
		fprintf(out, "[%s] %s = %s", section, o->key, v);
		if (o->help && *o->help)
			fprintf(out, "  # %s", o->help);
		fputc('\n', out);
	}
	return 0;
}
