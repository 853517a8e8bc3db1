/* What staff change at run time without a restart: the settings and the
 * message templates kept in the database (admin.h). The due thread reads
 * both from the admin service every round, so a change applies within
 * one tick_ms; the bus thread then picks templates from this copy, so a
 * scan costs no query for them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms_module.h"

static const char *const setting_keys[] = KERYU_SETTING_KEYS;
#define N_KEYS (sizeof(setting_keys) / sizeof(setting_keys[0]))
#define BAD_UNKNOWN (1u << 31)

/* admin.h: 1..31 of a-z, 0-9, '_' and '-' (fallback_channel may be "") */
static bool channel_ok(const char *v, bool empty_ok)
{
	size_t n = strlen(v);

	if (n == 0)
		return empty_ok;
	return n < 32 &&
	       strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool int_ok(const char *v, long max, int *out)
{
	char *end;
	long x;

	if (*v < '0' || *v > '9')
		return false; /* no sign, no space */
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x > max)
		return false;
	*out = (int)x;
	return true;
}

/* Applies one row to out; false when its value is not allowed. */
static bool apply(struct alarms_settings *out, size_t key, const char *v)
{
	switch (key) {
	case 0:
		if (!channel_ok(v, false))
			return false;
		snprintf(out->channel, sizeof(out->channel), "%s", v);
		return true;
	case 1:
		if (!channel_ok(v, true))
			return false;
		/* "" deletes the row (keryu.conf's fallback applies again),
		 * so "no fallback" over a configured one is spelt "none" */
		if (strcmp(v, KERYU_SETTING_NONE) == 0)
			v = "";
		snprintf(out->fallback_channel, sizeof(out->fallback_channel),
			 "%s", v);
		return true;
	case 2: return int_ok(v, 86400, &out->cooldown_s);
	case 3: return int_ok(v, 86400, &out->escalate_after_s);
	case 4: return int_ok(v, 604800, &out->ack_timeout_s);
	case 5: return int_ok(v, 36500, &out->finder_days);
	case 6: return int_ok(v, 36500, &out->alarm_days);
	case 7: return int_ok(v, 36500, &out->audit_days);
	default: return false;
	}
}

unsigned alarms_settings_overlay(const struct alarms_settings *conf,
				 const struct keryu_setting *rows, size_t n,
				 struct alarms_settings *out)
{
	unsigned bad = 0;
	size_t i, k;

	*out = *conf;
	for (i = 0; i < n; i++) {
		for (k = 0; k < N_KEYS; k++)
			if (strcmp(rows[i].key, setting_keys[k]) == 0)
				break;
		if (k == N_KEYS)
			bad |= BAD_UNKNOWN;
		else if (!apply(out, k, rows[i].value))
			bad |= 1u << k;
	}
	return bad;
}

const struct keryu_template *
alarms_template_pick(const struct keryu_template *rows, size_t n,
		     const char *event, const char *channel)
{
	const struct keryu_template *any = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].event, event) != 0)
			continue;
		if (strcmp(rows[i].channel, channel) == 0)
			return rows[i].approved ? &rows[i] : NULL;
		if (!rows[i].channel[0])
			any = &rows[i];
	}
	return any && any->approved ? any : NULL;
}

/* The next item of a comma-separated list: its start and length, and
 * where the one after begins (NULL at the end). */
static const char *item(const char *s, size_t *len, const char **next)
{
	const char *comma = strchr(s, ',');

	*len = comma ? (size_t)(comma - s) : strlen(s);
	*next = comma ? comma + 1 : NULL;
	return s;
}

bool alarms_params_name(const char *list, const char *var)
{
	const char *s = *list ? list : NULL, *next;
	size_t len;

	for (; s; s = next) {
		const char *it = item(s, &len, &next);

		if (len == strlen(var) && strncmp(it, var, len) == 0)
			return true;
	}
	return false;
}

int alarms_params_assemble(const char *list, const struct alarms_var *vars,
			   size_t nvars, struct keryu_notify_event *n)
{
	const char *pick[KERYU_NOTIFY_MAX_PARAMS];
	bool used[16] = {false};
	const char *s = *list ? list : NULL, *next;
	size_t count = 0, len, v;

	if (nvars > sizeof(used) / sizeof(used[0]))
		return KERYU_EINVAL;
	for (; s; s = next) {
		const char *it = item(s, &len, &next);

		for (v = 0; v < nvars; v++)
			if (len == strlen(vars[v].name) &&
			    strncmp(it, vars[v].name, len) == 0)
				break;
		if (v == nvars || used[v] || count == KERYU_NOTIFY_MAX_PARAMS)
			return KERYU_EINVAL;
		used[v] = true;
		pick[count++] = vars[v].value;
	}
	for (v = 0; v < count; v++)
		snprintf(n->params[v], sizeof(n->params[v]), "%s", pick[v]);
	n->param_count = (int)count;
	return 0;
}

/* True when rc is a failure of admin's list of what. A lasting failure is
 * logged once, then its end; *flag remembers which (due thread only). */
static bool failed(struct alarms_ctx *ctx, bool *flag, const char *what,
		   int rc, size_t n)
{
	if (rc && !*flag)
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.admin.failed",
			       "list=%s error=\"%s\" kept=last", what,
			       keryu_strerror(rc));
	else if (!rc && *flag)
		ctx->host->log(ctx->m, KERYU_LOG_INFO, "alarms.admin.recovered",
			       "list=%s rows=%zu", what, n);
	*flag = rc != 0;
	return rc != 0;
}

static void refresh_settings(struct alarms_ctx *ctx)
{
	const struct keryu_admin *ad = ctx->admin;
	struct keryu_setting rows[KERYU_SETTINGS_MAX + 8];
	struct alarms_settings next;
	size_t n = 0, k;
	unsigned bad, fresh;
	int rc = ad->setting_list(ad->self, rows, sizeof(rows) / sizeof(rows[0]),
				  &n);

	if (failed(ctx, &ctx->settings_failing, "settings", rc, n))
		return;
	bad = alarms_settings_overlay(&ctx->conf, rows, n, &next);
	/* service and schema check values on the way in: a bad one was
	 * written around them (SQL by hand); said once, not every tick */
	fresh = bad & ~ctx->bad_settings;
	for (k = 0; k < N_KEYS; k++)
		if (fresh & (1u << k))
			ctx->host->log(ctx->m, KERYU_LOG_WARN,
				       "alarms.setting.invalid",
				       "key=%s using=keryu.conf", setting_keys[k]);
	if (fresh & BAD_UNKNOWN)
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.setting.unknown",
			       "ignored=true");
	ctx->bad_settings = bad;
	pthread_mutex_lock(&ctx->live_lock);
	ctx->live = next;
	pthread_mutex_unlock(&ctx->live_lock);
}

static void refresh_templates(struct alarms_ctx *ctx)
{
	const struct keryu_admin *ad = ctx->admin;
	struct keryu_template *rows = malloc(sizeof(*rows) * KERYU_TEMPLATES_MAX);
	size_t n = 0;
	int rc = rows ? ad->template_list(ad->self, rows, KERYU_TEMPLATES_MAX,
					  &n)
		      : KERYU_ENOMEM;

	if (failed(ctx, &ctx->templates_failing, "templates", rc, n)) {
		free(rows);
		return;
	}
	if (n > KERYU_TEMPLATES_MAX)
		n = KERYU_TEMPLATES_MAX;
	pthread_mutex_lock(&ctx->live_lock);
	memcpy(ctx->templates, rows, n * sizeof(*rows));
	ctx->n_templates = n;
	pthread_mutex_unlock(&ctx->live_lock);
	free(rows);
}

void alarms_live_refresh(struct alarms_ctx *ctx)
{
	refresh_settings(ctx);
	refresh_templates(ctx);
}

void alarms_live_settings(struct alarms_ctx *ctx, struct alarms_settings *out)
{
	pthread_mutex_lock(&ctx->live_lock);
	*out = ctx->live;
	pthread_mutex_unlock(&ctx->live_lock);
}

void alarms_live_policy(struct alarms_ctx *ctx, struct alarms_policy *out)
{
	struct alarms_settings s;

	alarms_live_settings(ctx, &s);
	memset(out, 0, sizeof(*out));
	memcpy(out->channel, s.channel, sizeof(out->channel));
	memcpy(out->fallback_channel, s.fallback_channel,
	       sizeof(out->fallback_channel));
	out->p.channel = out->channel;
	out->p.fallback_channel = out->fallback_channel;
	out->p.cooldown_s = s.cooldown_s;
	out->p.escalate_after_s = s.escalate_after_s;
	out->p.ack_timeout_s = s.ack_timeout_s;
	out->p.lease_s = ctx->lease_s;
	out->p.max_redrives = ctx->max_redrives;
}

bool alarms_live_template(struct alarms_ctx *ctx, const char *event,
			  const char *channel, struct keryu_template *out)
{
	const struct keryu_template *t;

	pthread_mutex_lock(&ctx->live_lock);
	t = alarms_template_pick(ctx->templates, ctx->n_templates, event,
				 channel);
	if (t)
		*out = *t;
	pthread_mutex_unlock(&ctx->live_lock);
	return t != NULL;
}

void alarms_template_fill(struct alarms_ctx *ctx, const char *event,
			  const struct keryu_template *t, const char *conf_name,
			  const char *conf_list, const struct alarms_var *vars,
			  size_t nvars, struct keryu_notify_event *n)
{
	if (t && alarms_params_assemble(t->parameters, vars, nvars, n) == 0) {
		snprintf(n->template_name, sizeof(n->template_name), "%s",
			 t->name);
		snprintf(n->language, sizeof(n->language), "%s", t->language);
		return;
	}
	if (t)
		ctx->host->log(ctx->m, KERYU_LOG_WARN, "alarms.template.unusable",
			       "event=%s channel=%s name=%s using=keryu.conf",
			       event, t->channel, t->name);
	/* the built-in lists name only variables every caller passes */
	alarms_params_assemble(conf_list, vars, nvars, n);
	snprintf(n->template_name, sizeof(n->template_name), "%s", conf_name);
	snprintf(n->language, sizeof(n->language), "%s", ctx->language);
}
