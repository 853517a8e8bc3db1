/* The storage module: owns the PostgreSQL pool and the schema, and offers
 * the "storage" (keryu/storage.h), "accounts" (keryu/accounts.h),
 * "subjects" (keryu/subjects.h) and "admin" (keryu/admin.h) services to the
 * modules in its process. */
#include <stdlib.h>
#include <string.h>

#include <keryu/accounts.h>
#include <keryu/admin.h>
#include <keryu/module.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "storage_migrate.h"
#include "storage_pool.h"
#include "storage_service.h"

struct storage_state {
	struct storage_pool *pool;
	struct keryu_storage iface;
	struct keryu_accounts accounts;
	struct keryu_subjects subjects;
	struct keryu_admin admin;
};

static const struct keryu_option options[] = {
	{"database_url", KERYU_OPT_URL,
	 "postgresql://keryu@127.0.0.1:5432/keryu",
	 "PostgreSQL connection URL (libpq); the DATABASE_URL environment "
	 "variable sets it",
	 KERYU_OPT_SECRET | KERYU_OPT_REQUIRED, 0, 0},
	{"pool_size", KERYU_OPT_INT, "4",
	 "database connections shared by this process's modules", 0, 1, 64},
	{"migrate_on_start", KERYU_OPT_BOOL, "true",
	 "apply pending schema migrations when the module starts", 0, 0, 0},
	{"connect_timeout_s", KERYU_OPT_INT, "10",
	 "seconds to keep trying to reach the database at start-up, and to "
	 "wait for a free connection",
	 0, 1, 3600},
	{0},
};

static const char *const provides[] = {KERYU_SERVICE_STORAGE,
				       KERYU_SERVICE_ACCOUNTS,
				       KERYU_SERVICE_SUBJECTS,
				       KERYU_SERVICE_ADMIN, NULL};

static void fill_accounts(struct keryu_accounts *a, struct storage_pool *pool)
{
	a->struct_size = sizeof(*a);
	a->self = pool;
	a->custodian_create = storage_custodian_create;
	a->custodian_get = storage_custodian_get;
	a->custodian_by_email = storage_custodian_by_email;
	a->custodian_set_password = storage_custodian_set_password;
	a->session_create = storage_session_create;
	a->session_get = storage_session_get;
	a->session_delete = storage_session_delete;
	a->code_issue = storage_code_issue;
	a->code_check = storage_code_check;
	a->rate_hit = storage_rate_hit;
	a->custodian_create_staff = storage_custodian_create_staff;
	a->custodian_list = storage_custodian_list;
	a->custodian_set_active = storage_custodian_set_active;
}

static void fill_subjects(struct keryu_subjects *s, struct storage_pool *pool)
{
	s->struct_size = sizeof(*s);
	s->self = pool;
	s->subject_list = storage_subject_list;
	s->subject_get = storage_subject_get;
	s->subject_create = storage_subject_create;
	s->subject_update = storage_subject_update;
	s->subject_delete = storage_subject_delete;
	s->subject_set_photo = storage_subject_set_photo;
	s->tag_create = storage_tag_create;
	s->tag_list = storage_tag_list;
	s->tag_get = storage_tag_get;
	s->tag_set_active = storage_tag_set_active;
	s->tag_by_code = storage_tag_by_code;
	s->contact_list = storage_contact_list;
	s->contact_add = storage_contact_add;
	s->contact_delete = storage_contact_delete;
	s->contact_move = storage_contact_move;
	s->alarm_list = storage_alarm_list;
	s->alarm_get = storage_alarm_get;
	s->alarm_timeline = storage_alarm_timeline;
	s->alarm_resolve = storage_alarm_resolve;
	s->alarm_acknowledge = storage_alarm_acknowledge_page;
	s->dashboard = storage_dashboard;
	s->subject_set_public = storage_subject_set_public;
	s->subject_set_missing = storage_subject_set_missing;
	s->alarms_export = storage_alarms_export;
	s->stats = storage_stats;
}

static void fill_admin(struct keryu_admin *a, struct storage_pool *pool)
{
	a->struct_size = sizeof(*a);
	a->self = pool;
	a->audit_append = storage_audit_append;
	a->audit_list = storage_audit_list;
	a->template_list = storage_template_list;
	a->template_get = storage_template_get;
	a->template_put = storage_template_put;
	a->template_delete = storage_template_delete;
	a->setting_list = storage_setting_list;
	a->setting_set = storage_setting_set;
	a->custodian_set_staff = storage_custodian_set_staff;
	a->custodian_reset_phone = storage_custodian_reset_phone;
	a->owner_of = storage_owner_of;
	a->subjects_all = storage_subjects_all;
	a->tags_all = storage_tags_all;
	a->alarms_all = storage_alarms_all;
	a->deliveries_failed = storage_deliveries_failed;
	a->notification_retry = storage_notification_retry;
	a->refresh_create = storage_refresh_create;
	a->refresh_rotate = storage_refresh_rotate;
	a->refresh_revoke = storage_refresh_revoke;
	a->refresh_revoke_all = storage_refresh_revoke_all;
	a->purge = storage_purge;
}

static int storage_init(keryu_mod *m, const struct keryu_host *host,
			void **state)
{
	struct storage_pool_config cfg;
	struct storage_state *s;
	int rc;

	*state = NULL;
	cfg.url = host->config(m, "database_url");
	cfg.size = (int)host->config_int(m, "pool_size");
	cfg.connect_timeout_s = (int)host->config_int(m, "connect_timeout_s");
	if (!cfg.url || !strstr(cfg.url, "://") || cfg.size < 1 ||
	    cfg.size > 64 || cfg.connect_timeout_s < 1) {
		host->log(m, KERYU_LOG_ERROR, "storage.bad_config",
			  "pool_size=%d connect_timeout_s=%d", cfg.size,
			  cfg.connect_timeout_s);
		return KERYU_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return KERYU_ENOMEM;
	rc = storage_pool_open(host, m, &cfg, &s->pool);
	if (!rc && host->config_bool(m, "migrate_on_start"))
		rc = storage_migrate(s->pool);
	if (rc) {
		storage_pool_free(s->pool);
		free(s);
		return rc;
	}
	s->iface.struct_size = sizeof(s->iface);
	s->iface.self = s->pool;
	s->iface.ping = storage_ping;
	s->iface.tag_lookup = storage_tag_lookup;
	s->iface.alarm_from_scan = storage_alarm_from_scan;
	s->iface.notification_queued = storage_notification_queued;
	s->iface.notification_result = storage_notification_result;
	s->iface.notify_due = storage_notify_due;
	s->iface.alarm_acknowledge = storage_alarm_acknowledge;
	s->iface.tag_public = storage_tag_public;
	s->iface.finder_attach = storage_finder_attach;
	s->iface.finder_status = storage_finder_status;
	s->iface.followups = storage_followups;
	s->iface.purge_finder_data = storage_purge_finder_data;
	s->iface.metrics = storage_metrics;
	fill_accounts(&s->accounts, s->pool);
	fill_subjects(&s->subjects, s->pool);
	fill_admin(&s->admin, s->pool);
	rc = host->provide(m, KERYU_SERVICE_STORAGE, &s->iface);
	if (!rc)
		rc = host->provide(m, KERYU_SERVICE_ACCOUNTS, &s->accounts);
	if (!rc)
		rc = host->provide(m, KERYU_SERVICE_SUBJECTS, &s->subjects);
	if (!rc)
		rc = host->provide(m, KERYU_SERVICE_ADMIN, &s->admin);
	if (rc) {
		storage_pool_free(s->pool);
		free(s);
		return rc;
	}
	*state = s;
	return 0;
}

static int storage_start(void *state)
{
	(void)state;
	return 0;
}

static void storage_stop(void *state, int deadline_ms)
{
	/* Calls in flight belong to other modules, which stop before us. */
	(void)state;
	(void)deadline_ms;
}

static void storage_cleanup(void *state)
{
	struct storage_state *s = state;

	if (!s)
		return;
	storage_pool_free(s->pool);
	free(s);
}

KERYU_MODULE_DEFINE(.name = "storage",
		    .description = "PostgreSQL pool, schema migrations, and the "
				   "storage, accounts, subjects and admin "
				   "services",
		    .provides = provides, .options = options,
		    .init = storage_init, .start = storage_start,
		    .stop = storage_stop, .cleanup = storage_cleanup);
