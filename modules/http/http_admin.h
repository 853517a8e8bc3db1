/* Private to the staff pages under /admin/ (http_admin*.c). The router
 * lets only a logged-in staff custodian in (every route has .login and
 * .staff) and checks the CSRF token of every POST. A page reaches another
 * custodian's rows through the admin service (staff-wide lists, owner_of)
 * and then the scoped subjects calls with the owner's id, so the scoping
 * rules of the custodians' own pages keep applying. Every POST that
 * changes something writes an audit entry (http_audit). */
#ifndef KERYU_HTTP_ADMIN_H
#define KERYU_HTTP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <keryu/admin.h>

#include "html_form.h"
#include "http_account.h"
#include "http_module.h"

#define HTTP_ADMIN_PAGE_SIZE 25
#define HTTP_ADMIN_URL_MAX 1024

/* ---- http_admin.c: shared ---- */
/* The admin service, or NULL after making r a 503 page. */
const struct keryu_admin *http_admin_service(struct http_page *p);
/* The head of a staff page (layout, styles, the section links); status
 * and no-store as http_form_page. False with a 503 page when no session
 * could be made. */
bool http_admin_begin(struct http_page *p, const char *title,
		      unsigned status);
/* Appends "name=<value %-encoded>&" to url (size bytes) when value is
 * not "". False when it does not fit (url is then unchanged). */
bool http_admin_url_add(char *url, size_t size, const char *name,
			const char *value);
/* Previous/next links: base is a list URL ending in "?" or "&" with the
 * filters, "page=N" is appended. total < 0: unknown (more says whether a
 * next page exists). */
void http_admin_pager(struct html *h, const char *base, int page, int total,
		      bool more);
/* A form of one button posting to action with the session's CSRF token
 * and, when back is not NULL, a hidden "back" field. */
void http_admin_button(struct http_page *p, const char *action,
		       const char *label, const char *back);
/* The local /admin/ path a POST's "back" field names, else dflt. */
const char *http_admin_back(const struct http_page *p, const char *dflt);
/* 303 to path with "notice=<notice>" appended ("?" or "&"). */
void http_admin_done(struct http_page *p, const char *path,
		     const char *notice);
/* The page's "*" segment as a lower-case UUID in id; false after making r
 * the 404 page (the router lets only UUIDs through, but says nothing of
 * their case). */
bool http_admin_id(struct http_page *p, char id[KERYU_UUID_LEN]);
/* After a staff-wide list call: KERYU_EINVAL becomes an error of field
 * (NULL: the form) in e, shown on the page with a 400; any other error
 * makes r a 503 page (logged under event) and returns false. */
bool http_admin_listed(struct http_page *p, int rc, struct html_errors *e,
		       const char *field, const char *event);
/* Logs the service error under event and makes r a 503 page; 404 for
 * KERYU_ENOTFOUND. */
void http_admin_fail(struct http_page *p, const char *event, int rc);
/* "yes"/"no" text of b, for summaries. */
const char *http_admin_bool(bool b);

/* ---- http_admin_people.c: custodians ---- */
void http_admin_custodians(struct http_page *p);
void http_admin_custodian(struct http_page *p);
void http_admin_custodian_deactivate(struct http_page *p);
void http_admin_custodian_reactivate(struct http_page *p);
void http_admin_staff_grant(struct http_page *p);
void http_admin_staff_revoke(struct http_page *p);
void http_admin_reset_phone(struct http_page *p);

/* ---- http_admin_records.c: subjects, tags, alarms ---- */
void http_admin_subjects(struct http_page *p);
void http_admin_subject(struct http_page *p);
void http_admin_tags(struct http_page *p);
void http_admin_tag_deactivate(struct http_page *p);
void http_admin_tag_activate(struct http_page *p);
void http_admin_alarms(struct http_page *p);
void http_admin_alarm(struct http_page *p);
void http_admin_alarm_resolve(struct http_page *p);

/* ---- http_admin_config.c: templates, settings ---- */
void http_admin_templates(struct http_page *p);
void http_admin_template_delete(struct http_page *p);
void http_admin_settings(struct http_page *p);

/* ---- http_admin_ops.c: deliveries, audit log ---- */
void http_admin_deliveries(struct http_page *p);
void http_admin_delivery_retry(struct http_page *p);
void http_admin_audit(struct http_page *p);
/* The newest audit entries matching f (f->limit of them at most 100) as
 * a list; writes "None." when there are none. Returns 0 or the error
 * (nothing written then). */
int http_admin_audit_rows(struct http_page *p,
			  const struct keryu_audit_filter *f);

#endif
