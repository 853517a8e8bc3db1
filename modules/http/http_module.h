/* Private to the http module: its state, and the request/response shapes
 * that keep the handlers free of libmicrohttpd so unit tests can call them
 * without a socket. */
#ifndef KERYU_HTTP_MODULE_H
#define KERYU_HTTP_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <semaphore.h>
#include <stdatomic.h>
#include <pthread.h>

#include <keryu/accounts.h>
#include <keryu/admin.h>
#include <keryu/module.h>
#include <keryu/qr.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "html.h"

#define HTTP_MAX_ALLOWED_HOSTS 32
#define HTTP_HOST_NAME_MAX 256
#define HTTP_MAX_PROXIES 16
#define HTTP_CHANNELS_MAX 16 /* names in [http] contact_channels */

#define HTTP_API_KEY_LEN 32

/* The JSON API's state (http_api*.c): the [http] api_* options
 * (http_config.c) and the access tokens' HS256 key, derived from the
 * secret at init. Written before the server starts, only read after. */
struct http_api_conf {
	long long max_bytes;  /* api_max_bytes: largest request body */
	int access_ttl_s;     /* api_access_ttl_s: JWT lifetime */
	int refresh_ttl_s;    /* api_refresh_ttl_s: refresh token lifetime */
	int rate_per_ip;      /* api_rate_per_ip per 60 s, 0 unlimited */
	int rate_per_token;   /* api_rate_per_token per 60 s, 0 unlimited */
	unsigned char key[HTTP_API_KEY_LEN]; /* http_api_jwt_key(secret) */
};

struct http_server; /* the libmicrohttpd side, http_server.c */
struct MHD_Connection;

#define HTTP_SESSION_COOKIE "keryu_session"
/* room for the rest of a photo upload's multipart form */
#define HTTP_PHOTO_FORM_SLACK 65536
#define HTTP_SECRET_MAX 256
#define HTTP_BLOCK_KEY 96
#define HTTP_BLOCKS_MAX 4096
#define HTTP_COUNTS_MAX 8192
/* /metrics (http_metrics.c): route classes are the router's patterns, a
 * bounded set (about 60), each with the few statuses it answers */
#define HTTP_METRIC_ROUTES 128
#define HTTP_METRIC_STATUSES 16
#define HTTP_METRIC_BUCKETS 12 /* 0.001 .. 5 seconds, then +Inf */

struct http_ctx {
	keryu_mod *m;
	const struct keryu_host *host;
	const struct keryu_storage *storage;
	const struct keryu_qr *qr; /* tag images; NULL answers them 503 */

	char bind[64];
	int port; /* 0 asks the kernel for a free port (tests only) */
	int threads;
	long long max_body;
	long long form_max_bytes; /* any POST body but a photo upload's */
	int max_connections, max_conn_per_ip; /* 0: no per-IP limit */
	int scan_ack_timeout_ms;
	/* lower case, port-less; none means any Host is accepted */
	char allowed_hosts[HTTP_MAX_ALLOWED_HOSTS][HTTP_HOST_NAME_MAX];
	size_t n_allowed_hosts;
	/* peers whose X-Forwarded-For is believed; IPv4 as v4-mapped */
	unsigned char trusted_proxies[HTTP_MAX_PROXIES][16];
	size_t n_trusted_proxies;

	/* accounts: sessions, codes and the pages that use them */
	const struct keryu_accounts *accounts;
	unsigned char secret[HTTP_SECRET_MAX]; /* HMAC key for tokens, codes,
						  rate-limit keys */
	size_t secret_len;
	bool secure_cookies; /* public_url is https:// */
	int session_idle_s, session_max_s;
	char verify_channel[32];
	char verify_template[128];
	char verify_language[16];

	/* [http] contact_channels: what the contact form offers, in order.
	 * Each is a name that can be a topic level; the *_opts arrays are
	 * http_select's value, label, ..., NULL (fallback_opts starts with
	 * "", "None") and point into contact_channel and static labels */
	char contact_channel[HTTP_CHANNELS_MAX][32];
	size_t n_contact_channels;
	const char *channel_opts[2 * HTTP_CHANNELS_MAX + 1];
	const char *fallback_opts[2 * HTTP_CHANNELS_MAX + 3];

	/* subjects, contacts, tags and alarms pages; NULL (those pages
	 * answer 503) only when the service is missing */
	const struct keryu_subjects *subjects;
	/* staff pages, API tokens, audit log, templates, settings; NULL
	 * (those pages answer 503) only when the service is missing */
	const struct keryu_admin *admin;
	char photo_dir[1024];
	long long photo_max_bytes;
	int photo_dirfd; /* photo_dir, open from start; -1 before */

	/* argon2id takes 64 MiB per hash: at most two at once */
	sem_t pwhash_slots;
	bool pwhash_slots_ready;
	/* how long a request waits for a slot before it is answered 503:
	 * waiting blocks an MHD thread and every connection on it */
	int pwhash_wait_ms;
	pthread_mutex_t dummy_lock;
	char dummy_hash[256]; /* verified against for unknown emails */

	/* login-failure keys whose limit is reached, until their window
	 * ends: the accounts service can only count a hit, not peek, and
	 * only failures are counted, so a login checks here first */
	pthread_mutex_t block_lock;
	struct http_block {
		char key[HTTP_BLOCK_KEY];
		long long until; /* epoch seconds */
	} blocks[HTTP_BLOCKS_MAX];

	/* scan-page and API limits (http_count_hit, http_finder.c):
	 * fixed-window counters in this process's memory, so a request
	 * costs no database write; each http process counts its own share */
	pthread_mutex_t count_lock;
	struct http_count {
		uint64_t key;	  /* hash of the key's text; 0: free */
		long long window; /* start of its window, epoch seconds */
		int hits;
	} counts[HTTP_COUNTS_MAX];
	int scan_limit_ip, scan_limit_tag, scan_limit_window_s;
	int finder_token_ttl_s; /* lifetime of the scan page's token */

	struct http_api_conf api; /* the JSON API under /api/v1/ */

	/* webhooks (http_webhooks.c) read their keys with host->global():
	 * [whatsapp] app_secret, verify_token, [twilio] auth_token; the
	 * raw body cap of a webhook post (not bound by max_body) */
	long long webhook_max_bytes;

	/* [http] metrics_token: "" lets only loopback clients read
	 * /metrics; else a Bearer token is required */
	char metrics_token[HTTP_SECRET_MAX];
	/* requests by route class (http_metrics.c) */
	pthread_mutex_t metrics_lock;
	struct http_route_metric {
		const char *route; /* a static pattern; NULL: free */
		struct {
			unsigned code; /* 0: free */
			unsigned long long n;
		} status[HTTP_METRIC_STATUSES];
		/* per bucket, not cumulative; [HTTP_METRIC_BUCKETS] is +Inf */
		unsigned long long bucket[HTTP_METRIC_BUCKETS + 1];
		unsigned long long n;
		double sum;
	} metrics[HTTP_METRIC_ROUTES];

	struct http_server *server; /* NULL while not started */
	atomic_bool started;        /* the daemon is accepting (/readyz) */
};

/* ---- http_form.c ---- */
/* A parsed form (or query string): fields in arrival order, and the file
 * parts of a multipart body, kept in memory. Everything is owned by the
 * form and freed by http_form_free(). */
struct http_field {
	char *name;
	char *value; /* NUL-terminated; len excludes the NUL */
	size_t len;
};

struct http_file {
	char *name;         /* the form field */
	char *filename;     /* as the client sent it; never a path to use */
	char *content_type; /* "" when the part had none */
	unsigned char *data;
	size_t len;
};

struct http_form {
	struct http_field *fields;
	size_t n_fields, cap_fields;
	struct http_file *files;
	size_t n_files, cap_files;
};

void http_form_init(struct http_form *f);
void http_form_free(struct http_form *f);
/* Adds a field (new is true) or appends to the last field added (new is
 * false, as a form arriving in pieces does). Returns 0 or KERYU_ENOMEM. */
int http_form_add(struct http_form *f, const char *name, const char *data,
		  size_t len, bool is_new);
/* Same for a file part. content_type may be NULL. */
int http_form_add_file(struct http_form *f, const char *name,
		       const char *filename, const char *content_type,
		       const char *data, size_t len, bool is_new);
/* The first value of name, or NULL when absent (f may be NULL). */
const char *http_form_get(const struct http_form *f, const char *name);
/* The first file part of field name, or NULL. */
const struct http_file *http_form_file(const struct http_form *f,
				       const char *name);
/* Fills f from a query string "a=1&b=%20x" (no leading "?"). Returns 0,
 * KERYU_EINVAL for a bad %-escape or a NUL, KERYU_ENOMEM. */
int http_form_parse_query(struct http_form *f, const char *qs);
/* Copies the value of cookie name from a Cookie header into out. False
 * when absent, malformed or too long for out. */
bool http_cookie_get(const char *header, const char *name, char *out,
		     size_t size);
/* Writes s %-encoded for a query string value into out (size bytes).
 * False when it does not fit. */
bool http_url_encode(const char *s, char *out, size_t size);

/* ---- http_body.c (libmicrohttpd's MHD_PostProcessor) ---- */
/* Reads a POST body of content type application/x-www-form-urlencoded
 * or multipart/form-data into a form, in pieces as MHD hands them over. */
struct http_body;
/* Returns the reader, or NULL with *status set: 400 for a content type
 * that is not a form, 413 for a declared length over max_body, 500 out of
 * memory. A request without a body or content type gets an empty form. */
struct http_body *http_body_begin(struct MHD_Connection *c, long long max_body,
				  unsigned *status);
/* Feeds one piece. Returns 0, 400 (malformed), 413 (over max_body).
 * After an error the rest is to be discarded. */
unsigned http_body_feed(struct http_body *b, const char *data, size_t size);
/* Ends the body: moves the form into out (initialised by the caller).
 * Returns 0 or 400 when the body ended early (a cut multipart). Frees b. */
unsigned http_body_end(struct http_body *b, struct http_form *out);
/* Frees a reader that will not be ended (connection gone). NULL is fine. */
void http_body_free(struct http_body *b);

struct http_request {
	const char *method;
	const char *path;       /* decoded path, without the query string */
	const char *host;       /* Host header; NULL when absent */
	const char *user_agent; /* User-Agent header; NULL when absent */
	const char *cookie;     /* Cookie header; NULL when absent */
	const char *content_type; /* NULL when absent */
	const char *origin;     /* Origin header; NULL when absent */
	const char *accept_language; /* Accept-Language; NULL when absent */
	const char *client_ip;  /* text form; NULL when unknown */
	bool loopback; /* the client (after trusted proxies) is 127/8 or ::1 */
	const char *authorization; /* Authorization header; NULL when absent */
	const struct http_form *query; /* parsed query string; may be NULL */
	const struct http_form *form;  /* POST body; NULL for other methods */
};

struct http_response {
	unsigned status;
	const char *content_type; /* static string */
	const char *allow;        /* Allow header (405), static, or NULL */
	bool no_store;            /* Cache-Control: no-store */
	char set_cookie[256];     /* Set-Cookie value, "" for none */
	char location[512];       /* Location (redirects), "" for none */
	int retry_after;          /* Retry-After seconds (429), 0 for none */
	char disposition[160];    /* Content-Disposition, "" for none */
	/* Content-Security-Policy replacing the default one, "" for the
	 * default (the scan page allows its own inline script by hash) */
	char csp[256];
	/* WWW-Authenticate (401), static, or NULL */
	const char *www_authenticate;
	struct html body;         /* the full body, also for HEAD: the server
				     drops it and keeps Content-Length */
};

/* ---- http_config.c ---- */
/* Reads and checks the module's options into ctx. Returns 0 or
 * KERYU_EINVAL after logging the offending key. */
int http_config_load(struct http_ctx *ctx);
/* The label shown for a channel name: built in for whatsapp, sms, twilio
 * and log, else the name itself (not copied: lives as long as name). */
const char *http_channel_label(const char *name);
/* True when name is one of [http] contact_channels. */
bool http_channel_offered(const struct http_ctx *ctx, const char *name);

/* ---- http_router.c ---- */
void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);
/* Answers one request into r (initialised by the caller, who frees it).
 * Never fails: errors become error pages. */
void http_route(struct http_ctx *ctx, const struct http_request *req,
		struct http_response *r);
/* True when a POST to path is read and handled; false when the router
 * refuses it whatever the body (so the body is never read). */
bool http_route_takes_post(const char *path);
/* The largest body a POST to path may send: max_body for a photo upload,
 * else form_max_bytes (never more than max_body). */
long long http_route_body_limit(const struct http_ctx *ctx, const char *path);
/* True when path is a page only a logged-in custodian may use. */
bool http_route_needs_login(const char *path);
/* The route class of path for /metrics: the matching route's pattern
 * (a "*" for each id: /subjects/qr/<uuid>/scan/ is counted under the
 * scan page's pattern), "other" when nothing matches. Always a static string, one of a bounded set. */
const char *http_route_class(const char *path);
/* True when host (a Host header, with or without port) is acceptable. */
bool http_host_allowed(const struct http_ctx *ctx, const char *host);

/* ---- http_page.c ---- */
/* Writes the common head of every HTML page; body_class is "ok" or "err". */
void http_page_begin(struct html *h, const char *body_class);
void http_page_end(struct html *h);
/* Makes r a complete HTML error page: status, a heading and one paragraph
 * (both escaped). */
void http_page_error(struct http_response *r, unsigned status,
		     const char *heading, const char *text);

/* ---- http_ack.c ---- */
/* A public POST that carries its own capability (an ack or finder token)
 * from a page of another site is refused when the browser says so
 * (Origin). No Origin, or "null", is let through: browsers send "null"
 * for our own forms, as every page of ours says Referrer-Policy:
 * no-referrer; the token stays the real check. */
bool http_origin_ok(const struct http_ctx *ctx,
		    const struct http_request *req);

/* ---- http_finder.c (issue 5: the finder's side) ---- */
/* Fills out with a finder token for the scan event_id of tag qr, valid
 * [http] finder_token_ttl_s; "" when there is no secret. */
void http_finder_token(struct http_ctx *ctx, const char *event_id,
		       const char *qr, char out[KERYU_ACK_TOKEN_LEN]);
/* The scan page's rate limits, per client address and per tag ([http]
 * scan_limit_per_ip, scan_limit_per_tag, per scan_limit_window_s). True
 * when this scan may go on; false when r was filled with a 429 page in
 * lang with Retry-After: nothing is published then. */
bool http_scan_allowed(struct http_ctx *ctx, const struct http_request *req,
		       const char *qr, const char *lang,
		       struct http_response *r);
/* Counts one hit of key under kind in ctx->counts, fixed windows of
 * window_s aligned to the epoch, in this process's memory (the scan
 * page's limits and the API's). True when the hit is within max (or max
 * or window_s is 0, or key is NULL or ""); else *retry_after gets the
 * seconds left in the window and nothing is counted. */
bool http_count_hit(struct http_ctx *ctx, const char *kind, const char *key,
		    int max, int window_s, int *retry_after);
/* Storage's notification status (PENDING ... FAILED, any case) as the
 * word the finder's page and its status JSON use: "sent", "delivered",
 * "read", "queued" (ERROR too: being tried again), "pending", "failed";
 * "none" for "" or NULL (nobody could be notified), "pending" for
 * anything else. Static strings. */
const char *http_finder_status_word(const char *status);
/* Hex SHA-256 of a secret-derived salt and the client address (the scan
 * event's ip_hash); "" when the address is unknown. */
void http_ip_hash(struct http_ctx *ctx, const struct http_request *req,
		  char out[65]);

/* ---- http_scan.c ---- */
/* GET /subjects/qr/<segment>/scan/: segment is the raw path segment.
 * HEAD gets the page a GET whose alert went out would get, and publishes
 * nothing. */
void http_scan(struct http_ctx *ctx, const struct http_request *req,
	       const char *segment, struct http_response *r);

/* ---- http_health.c ---- */
void http_health(struct http_ctx *ctx, struct http_response *r);
/* GET /readyz: 200 when the database answers, the bus is connected and
 * the server has started; else 503 naming what is down. */
void http_ready(struct http_ctx *ctx, struct http_response *r);

/* ---- http_metrics.c ---- */
/* Counts one answered request of a route class (http_route_class) with
 * its status and how long it took. A class or status past the table's
 * room is dropped (never happens with the router's bounded set). */
void http_metrics_observe(struct http_ctx *ctx, const char *route,
			  unsigned status, double seconds);
/* Writes the Prometheus text of the request table and, when sm is not
 * NULL, the storage figures (db_up says whether they were read). */
void http_metrics_render(struct http_ctx *ctx,
			 const struct keryu_storage_metrics *sm, bool db_up,
			 struct html *h);
/* Writes v as a Prometheus label value: \\, \" and \n escaped. */
void http_metrics_label(struct html *h, const char *v);
/* True when req may read /metrics: with no metrics_token a loopback
 * client; with one, "Authorization: Bearer <token>" (constant time). */
bool http_metrics_allowed(const struct http_ctx *ctx,
			  const struct http_request *req, unsigned *status);
/* GET /metrics: 403 (no token set, not loopback) or 401 (token set, not
 * given) as text; else the exposition, text/plain; version=0.0.4. */
void http_metrics(struct http_ctx *ctx, const struct http_request *req,
		  struct http_response *r);

/* ---- http_server.c ---- */
/* Starts libmicrohttpd on ctx->bind:ctx->port. Returns 0, KERYU_EINVAL for
 * a bind address that is not an IP literal, KERYU_EIO when the daemon
 * does not start (port in use...), KERYU_ENOMEM. */
int http_server_start(struct http_ctx *ctx);
/* The port actually bound (useful with port 0); 0 when not started. */
uint16_t http_server_port(const struct http_ctx *ctx);
/* The client address for rate limits, as text into out (size >= 64):
 * when peer is one of trusted_proxies, the right-most address of xff
 * (X-Forwarded-For, may be NULL) that is not itself a trusted proxy; the
 * peer otherwise, or when that entry is not an IP literal. IPv6 clients
 * are grouped by /64 ("2001:db8:1:2::/64"), as one host holds a /64.
 * out is "" when peer is NULL or not an IP. */
void http_client_ip(const struct http_ctx *ctx, const char *peer,
		    const char *xff, char *out, size_t size);
/* Stops accepting, lets in-flight requests finish, frees the daemon.
 * Safe to call when not started. */
void http_server_stop(struct http_ctx *ctx);
/* libmicrohttpd's panic handler (cls is the http_ctx): logs the panic
 * through the host, then abort()s. Never returns: MHD treats the code
 * after a panic as unreachable. Not static only so a test can call it. */
_Noreturn void http_server_panic(void *cls, const char *file,
				 unsigned int line, const char *reason);

/* ---- http_session.c ---- */
/* The session a request carries, if any. */
struct http_session {
	bool exists;    /* a live session row (maybe anonymous) */
	bool logged_in; /* its custodian exists and is active */
	char token_hash[KERYU_HASH_HEX];
	struct keryu_session row;
	struct keryu_custodian who; /* valid when logged_in */
};

/* Reads [kernel] secret_key as the HMAC key, or makes a random one (and
 * logs that sessions will not survive a restart). Returns 0. */
int http_secret_load(struct http_ctx *ctx);
/* out = hex HMAC-SHA-256(secret_key, data). */
void http_hmac_hex(const struct http_ctx *ctx, const char *data,
		   char out[KERYU_HASH_HEX]);
/* Finds the live session named by the request's cookie. Returns 0 (with
 * s->exists false when there is none) or the service's error. */
int http_session_load(struct http_ctx *ctx, const struct http_request *req,
		      struct http_session *s);
/* Replaces s with a new session (who NULL: anonymous): the old row is
 * deleted first, a new token and CSRF value made, the cookie set on r.
 * Returns 0 or the service's error. */
int http_session_start(struct http_ctx *ctx, struct http_session *s,
		       const struct keryu_custodian *who,
		       struct http_response *r);
/* Starts an anonymous session when s has none, so a form has a CSRF
 * token. */
int http_session_ensure(struct http_ctx *ctx, struct http_session *s,
			struct http_response *r);
/* Deletes the session and clears the cookie. */
int http_session_end(struct http_ctx *ctx, struct http_session *s,
		     struct http_response *r);
/* Sets r's Set-Cookie for token, kept max_age seconds (token NULL clears
 * the cookie). */
void http_session_cookie(const struct http_ctx *ctx, struct http_response *r,
			 const char *token, int max_age);
/* True when the form's csrf field equals the session's (constant time). */
bool http_csrf_ok(const struct http_session *s, const struct http_form *f);

/* ---- http_pwhash.c ---- */
int http_pwhash_init(struct http_ctx *ctx);
void http_pwhash_cleanup(struct http_ctx *ctx);
/* Makes the dummy hash now rather than on the first unknown login. */
void http_pwhash_warm(struct http_ctx *ctx);
/* argon2id hash of password into out (crypto_pwhash_STRBYTES = 128).
 * Returns 0, KERYU_ENOMEM, or KERYU_ETIMEDOUT when two others kept
 * hashing for pwhash_wait_ms (the caller answers 503). */
int http_pwhash(struct http_ctx *ctx, const char *password, char out[128]);
/* Sets *ok when password matches hash. hash NULL or "" verifies against a
 * dummy hash, so that the time taken does not tell the account exists,
 * and sets *ok false. Returns 0 or KERYU_ETIMEDOUT (no slot freed up in
 * pwhash_wait_ms; *ok is false and nothing was verified). */
int http_pwhash_check(struct http_ctx *ctx, const char *hash,
		      const char *password, bool *ok);
/* http_pwhash_check's *ok; false also when no slot freed up. */
bool http_pwhash_verify(struct http_ctx *ctx, const char *hash,
			const char *password);

/* ---- http_page.c (layout) ---- */
/* Head, navigation (Dashboard, Account, Log out for a custodian) and
 * <main><h1>title</h1>. */
void http_layout_begin(struct html *h, const char *title,
		       const struct http_session *s);
void http_layout_end(struct html *h);
/* Makes r a 303 See Other to path, which must be one of ours: a relative
 * path starting with one "/" (callers validate user-given ones first). */
void http_redirect(struct http_response *r, const char *path);
/* True when next is a safe local redirect target: starts with "/" but
 * not "//" or "/\\", and has no control characters. */
bool http_next_valid(const char *next);

/* ---- http_account.c / http_account_password.c ---- */
/* What an /account page handler gets. */
#define HTTP_PAGE_ARGS 2
#define HTTP_PAGE_ARG_MAX 64

struct http_page {
	struct http_ctx *ctx;
	const struct http_request *req;
	struct http_session *s;
	struct http_response *r;
	/* the "*" segments of the route's path, in order ("" when unused) */
	char arg[HTTP_PAGE_ARGS][HTTP_PAGE_ARG_MAX];
};

/* A page of the site: a handler sees GET/HEAD and POST; a POST reaches it
 * only with a valid CSRF token. A "*" segment in a path matches one
 * segment holding a UUID, handed to the handler as p->arg[0], p->arg[1] in
 * order. */
struct http_page_route {
	const char *path;
	void (*fn)(struct http_page *p);
	bool get, post;
	bool login; /* visitors are sent to the login form */
	bool staff; /* a logged-in custodian who is not staff gets 403 */
};

/* ---- http_admin*.c ---- */
/* The staff pages under /admin/ (every one has .login and .staff). */
extern const struct http_page_route http_admin_routes[];
extern const size_t http_admin_n_routes;

/* ---- http_audit.c ---- */
/* Stores an audit entry through the admin service: source "web", "api",
 * "cli" or "system"; actor the custodian who acted (NULL for a visitor,
 * then actor_email is the address they typed, or NULL); action, target
 * and a printf summary of what changed (never a password, token, code,
 * phone number or medical field; NULL for none). Then publishes ids only
 * on keryu/v1/audit (qos 1, not waited for). Returns 0, or the storage
 * error (logged; the caller's action stands either way). */
int http_audit(struct http_ctx *ctx, const struct http_request *req,
	       const char *source, const struct keryu_custodian *actor,
	       const char *actor_email, const char *action,
	       const char *target_type, const char *target_id,
	       const char *summary_fmt, ...) KERYU_PRINTF(9, 10);

/* True when the logged-in custodian's phone is verified; otherwise makes
 * p's response a 403 page linking /account/verify and returns false. */
bool http_phone_verified_or_page(struct http_page *p);

void http_landing(struct http_page *p);
void http_signup(struct http_page *p);
void http_verify(struct http_page *p);
void http_verify_resend(struct http_page *p);
void http_login(struct http_page *p);
void http_logout(struct http_page *p);
void http_account_home(struct http_page *p);
void http_password_change(struct http_page *p);
void http_reset(struct http_page *p);
void http_reset_confirm(struct http_page *p);

/* ---- http_code.c ---- */
/* Issues a one-time code of purpose to custodian and hands it to the
 * verify channel. Returns 0, KERYU_ECONFLICT (one was sent less than a
 * minute ago), or another error (nothing usable was sent). */
int http_code_send(struct http_ctx *ctx, const char *custodian_id,
		   enum keryu_code_purpose purpose);
/* The same for an emergency contact's phone (KERYU_CODE_CONTACT): the
 * code goes to the contact's number, contact_id scoped to custodian_id
 * (KERYU_ENOTFOUND otherwise). */
int http_code_send_contact(struct http_ctx *ctx, const char *custodian_id,
			   const char *contact_id);
/* hex HMAC of a 6-digit code, as stored. */
void http_code_hash(const struct http_ctx *ctx, const char *code,
		    char out[KERYU_HASH_HEX]);
/* Counts one hit on "<what>:<kind>:<HMAC(subject)>". True when allowed;
 * otherwise r is a 429 page with Retry-After (or 503 when the service
 * failed) and the caller must do nothing else. */
bool http_rate_ok(struct http_ctx *ctx, const char *what, const char *kind,
		  const char *subject, int window_s, int max,
		  struct http_response *r);

/* Failure blocks (http_account.c): a key whose failure limit was reached
 * is kept until its window ends, so a blocked client is refused before
 * any work. Seconds until key's block ends, 0 when it is not blocked. */
int http_blocked(struct http_ctx *ctx, const char *key);
/* Blocks key until the epoch second until (the oldest block gives way
 * when the table is full). */
void http_block_set(struct http_ctx *ctx, const char *key, long long until);

/* ---- http_ack.c ---- */
/* GET/HEAD /ack/<token>: a page with one "I'm on my way" button that
 * POSTs back to the same address; POST /ack/<token> acknowledges the
 * alarm of the token's notification (storage->alarm_acknowledge) and
 * publishes an alarm event "acknowledged". Nothing is changed by a GET:
 * link previewers and mail scanners fetch links. 404 for a bad token,
 * 410 for an expired one (each counted as a failure of the client's
 * address: 429 past the limit), 403 for a POST whose Origin is another
 * site, 503 when the storage service or secret_key is missing. token is
 * the raw path segment (may be cut or empty). */
void http_ack(struct http_ctx *ctx, const struct http_request *req,
	      const char *token, struct http_response *r);
/* True when path is "/ack/<segment>" (one segment, no trailing "/");
 * copies the segment (cut to fit size) into token. */
bool http_ack_path(const char *path, char *token, size_t size);

/* ---- http_tags.c: a tag's QR image (the tag pages and the API) ---- */
/* Makes r the QR code of tag t, encoding its scan URL, as a PNG (png
 * true) or an SVG: 200, image/png or image/svg+xml, Content-Disposition
 * "<disposition>; filename=\"keryu-tag-<short code>.<png|svg>\""
 * (disposition "inline" or "attachment"). Returns 0, KERYU_ENOTFOUND
 * without a qr service, or the qr service's error; r is untouched on
 * failure. */
int http_tag_image(struct http_ctx *ctx, const struct keryu_tag *t, bool png,
		   const char *disposition, struct http_response *r);

/* ---- http_subject_form.c: dates ---- */
enum http_date_problem {
	HTTP_DATE_OK = 0,
	HTTP_DATE_SHAPE,  /* not YYYY-MM-DD (NULL too) */
	HTTP_DATE_NO_DAY, /* no such day: 2021-02-29, month 13, year 0 */
};
/* Whether d is a real day of the Gregorian calendar written YYYY-MM-DD
 * (the subject form's date of birth, the API's dates). */
enum http_date_problem http_date_check(const char *d);

/* ---- http_subjects.c, http_subject_form.c, http_photo.c,
 *      http_contacts.c ---- */
/* The custodian's subjects: list, create, view, edit, delete, photo,
 * privacy and emergency contacts. p->arg[0] is the subject's id, p->arg[1]
 * a contact's; anything not the session custodian's is a 404. */
void http_subject_list(struct http_page *p);
void http_subject_new(struct http_page *p);
void http_subject_view(struct http_page *p);
void http_subject_edit(struct http_page *p);
void http_subject_delete(struct http_page *p);
void http_subject_privacy(struct http_page *p);
void http_subject_photo(struct http_page *p);
void http_subject_photo_image(struct http_page *p);
void http_contacts(struct http_page *p);
void http_contact_new(struct http_page *p);
void http_contact_delete(struct http_page *p);
void http_contact_up(struct http_page *p);
void http_contact_down(struct http_page *p);
void http_contact_verify(struct http_page *p);
void http_contact_resend(struct http_page *p);
/* Creates photo_dir (mode 0700, parents too) when missing and opens it
 * for the photo pages. Returns 0 or KERYU_EIO (logged). */
int http_photo_dir_open(struct http_ctx *ctx);
/* Closes it; safe when not open. */
void http_photo_dir_close(struct http_ctx *ctx);

#endif
