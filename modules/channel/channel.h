/* keryu_channel: the delivery engine every HTTP channel module links
 * (static library, built into each module's .so).
 *
 * A module describes its provider with a struct channel_provider (how to
 * build the HTTP request for a delivery request, how to read the answer);
 * the engine does the rest, the same way for every provider:
 *
 *   - the bus callback (channel_on_notify): decode, drop duplicates, queue;
 *   - a bounded queue feeding ONE worker thread that drives libcurl's multi
 *     interface, at most max_in_flight requests on the wire at once, with
 *     connect and total timeouts;
 *   - a token bucket (rate_per_s) that holds the engine's send rate: use one
 *     engine per sending number/account whose rate the provider limits;
 *   - in-memory retries: full-jitter exponential backoff from retry_base_ms,
 *     max_attempts attempts in total (the request's attempt counts), and a
 *     per-recipient hold for answers like Meta's 131056 (pair rate limit)
 *     that delays only that recipient;
 *   - idempotency: a request whose event_id this engine took on before, or
 *     whose (notification_id, attempt) is queued, in flight or scheduled
 *     for retry here, sends nothing; one whose attempt was settled here
 *     recently (the last 2048 attempts) sends nothing either, and that
 *     attempt's result is published again (a re-drive means the alarms
 *     module never recorded it);
 *   - one result per attempt, published with keryu_delivery_publish on
 *     keryu/v1/delivery/<notification_id> (see "Results" below).
 *
 * One module may run several channels (twilio: "twilio" and "sms"): give
 * each its own engine (own rate, own subscription), or subscribe one engine
 * to both topics and let build() look at req->channel.
 *
 * Threads: channel_on_notify/channel_submit run on the caller's (bus)
 * thread; build, parse and every publish and log line of a result run on
 * the engine's worker thread. The provider callbacks must therefore not
 * touch state the bus thread writes without their own locking.
 *
 * Results (struct keryu_delivery_event, retry_in_ms as in events.h):
 *   CHANNEL_SENT          "sent", retry_in_ms -1
 *   CHANNEL_RETRY,        "error" and retry_in_ms = the wait (>= 1) when
 *   CHANNEL_RETRY_AFTER     attempt < max_attempts: the engine itself makes
 *                           attempt + 1 after that wait; else "failed"
 *                           (attempts exhausted), retry_in_ms -1
 *   CHANNEL_PERMANENT     "failed", retry_in_ms -1
 *   CHANNEL_OPERATOR      "failed", retry_in_ms -1, logged as an error
 *                           (bad credentials, missing permission...)
 *   CHANNEL_UNKNOWN       "error", never resent by the engine: retry_in_ms
 *                           0, or -1 when attempt >= max_attempts
 * Transport failures are classified by the engine, not the provider: no
 * connection / nothing sent ("network", "internal") is CHANNEL_RETRY; a
 * timeout after the request went out ("timeout") and an answer too large
 * to read ("bad_response") are CHANNEL_UNKNOWN.
 *
 * At channel_stop's deadline, whatever is still queued, in flight or
 * scheduled for retry is dropped WITHOUT a result: the notification stays
 * QUEUED and the alarms module's lease re-drives it.
 */
#ifndef KERYU_CHANNEL_H
#define KERYU_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keryu/events.h>
#include <keryu/module.h>

/* What an attempt's answer means. */
enum channel_verdict {
	CHANNEL_SENT = 0,    /* the provider accepted the message */
	CHANNEL_RETRY,       /* transient: retry on the backoff schedule */
	CHANNEL_RETRY_AFTER, /* transient for this recipient only: hold every
			      * request to the same "to" for retry_after_ms,
			      * then retry; other recipients are unaffected */
	CHANNEL_PERMANENT,   /* another attempt cannot succeed */
	CHANNEL_OPERATOR,    /* permanent until the operator fixes the
			      * credentials or permissions */
	CHANNEL_UNKNOWN,     /* the message may have gone out: never resent
			      * here; the status webhook settles it */
};

#define CHANNEL_MAX_HEADERS 4

/* One HTTP request, filled by channel_provider.build. Every non-NULL
 * pointer is malloc'd by build and freed by the engine with free(), in
 * every case (also when build fails). NULL means "the engine's default"
 * (channel_config) for url, content_type and userpwd. */
struct channel_request {
	char *url;                          /* POSTed to */
	char *body;                         /* required, NUL-terminated */
	char *content_type;                 /* e.g. "application/x-www-form-urlencoded" */
	char *userpwd;                      /* "user:password", HTTP Basic */
	char *headers[CHANNEL_MAX_HEADERS]; /* extra "Name: value" lines */
};

/* An answer read by channel_provider.parse. */
struct channel_answer {
	enum channel_verdict verdict;
	/* CHANNEL_RETRY_AFTER only: how long to hold the recipient, ms. */
	unsigned retry_after_ms;
	/* status is filled by the engine from the verdict; parse fills
	 * provider_message_id (for CHANNEL_SENT), error_code and error_text
	 * (texts too long are truncated; numbers a recipient could be
	 * identified by must already be redacted: results are published).
	 * The envelope (ids, attempt, channel, at) is the engine's. */
	struct keryu_delivery_event result;
};

struct channel_provider {
	/* Fills *out for req (zeroed by the engine before the call). Returns
	 * 0, KERYU_EINVAL (this request can never be sent: published as
	 * "failed", error_code "invalid_request"), or another negative code
	 * (KERYU_ENOMEM...: treated as a transport failure "internal", i.e.
	 * retried). Called on the worker thread. */
	int (*build)(void *arg, const struct keryu_notify_event *req,
		     struct channel_request *out);
	/* Reads an HTTP answer (status and body, body NUL-terminated, len
	 * without the NUL, body "" when empty) for req into *out (zeroed by
	 * the engine before the call). Must always set out->verdict. Called
	 * on the worker thread. */
	void (*parse)(void *arg, const struct keryu_notify_event *req,
		      long http_status, const char *body, size_t len,
		      struct channel_answer *out);
	void *arg; /* passed to both, owned by the module */
};

struct channel_config {
	const struct keryu_host *host; /* publishes and logs through it */
	keryu_mod *m;
	/* Prefix of the engine's log events ("whatsapp" -> whatsapp.sent,
	 * whatsapp.error, whatsapp.failed, whatsapp.duplicate...); copied. */
	const char *name;
	const char *url;          /* default URL, may be NULL when build
				   * always sets one; copied */
	const char *content_type; /* default; NULL = "application/json";
				   * copied */
	const char *userpwd;      /* default Basic credentials or NULL;
				   * copied, never logged */
	/* Headers sent with every request ("Authorization: Bearer ..."),
	 * NULL-terminated list or NULL; copied, never logged. */
	const char *const *headers;
	long timeout_ms;         /* total time of one HTTP exchange, > 0 */
	long connect_timeout_ms; /* > 0 */
	int max_in_flight;       /* 1..4096 */
	unsigned retry_base_ms;  /* ceiling of the first retry's wait, >= 1 */
	int max_attempts;        /* total attempts, 1..100 */
	double rate_per_s;       /* sends per second, 0 = no limit */
	/* Requests waiting beyond those on the wire (each a few KiB while
	 * it waits); 0 = 4 x max_in_flight. */
	size_t queue_max;
	/* How long channel_on_notify waits for room in a full queue before
	 * dropping the request (it is then neither remembered nor answered:
	 * a redelivery or the alarms lease sends it). 0 = no wait. Keep it 0
	 * for a bus callback: while it waits, the module's bus thread sends
	 * nothing, results and keepalives included. */
	int submit_wait_ms;
};

/* The engine's settings as module options. A module that runs engines
 * puts these entries in its options table (the keys and ranges are the
 * engine's; defaults and help that differ between modules are
 * arguments) and fills its channel_config with channel_config_read. */
#define CHANNEL_OPT_TIMEOUT_MS                                              \
	{"timeout_ms", KERYU_OPT_INT, "10000",                              \
	 "total time allowed for one HTTP request", 0, 100, 600000}
#define CHANNEL_OPT_CONNECT_TIMEOUT_MS                                      \
	{"connect_timeout_ms", KERYU_OPT_INT, "3000",                       \
	 "time allowed to connect to the API", 0, 10, 600000}
#define CHANNEL_OPT_MAX_IN_FLIGHT(def, help)                                \
	{"max_in_flight", KERYU_OPT_INT, def, help, 0, 1, 4096}
#define CHANNEL_OPT_QUEUE_MAX                                               \
	{"queue_max", KERYU_OPT_INT, "4000",                                \
	 "requests held in memory waiting for a slot (4000 are 50 s at 80/s, "\
	 "under the alarms lease); beyond it a request is dropped and sent "  \
	 "again when its lease runs out", 0, 1, 1000000}
#define CHANNEL_OPT_RETRY_BASE_MS(help)                                     \
	{"retry_base_ms", KERYU_OPT_INT, "60000", help, 0, 1, 3600000}
#define CHANNEL_OPT_MAX_ATTEMPTS(help)                                      \
	{"max_attempts", KERYU_OPT_INT, "3", help, 0, 1, 100}
#define CHANNEL_OPT_RATE_PER_S(help)                                        \
	{"rate_per_s", KERYU_OPT_INT, "80", help, 0, 0, 100000}
/* Read by the module itself, for channel_subscribe. */
#define CHANNEL_OPT_GROUP(def)                                              \
	{"group", KERYU_OPT_STR, def,                                       \
	 "shared subscription group that splits requests between workers", 0, \
	 0, 0}

/* Sets cfg's host and m, the settings above (timeout_ms, connect_timeout_ms,
 * max_in_flight, queue_max, retry_base_ms, max_attempts, rate_per_s) from
 * m's config, and submit_wait_ms to 0 (never hold the bus thread: it also
 * carries the results out). Leaves the other fields alone. Cannot fail:
 * the kernel has checked the values against the ranges above. */
void channel_config_read(const struct keryu_host *host, keryu_mod *m,
			 struct channel_config *cfg);

struct channel;

/* Sets *out to an engine that is not running yet. cfg and provider are
 * copied (provider->arg is not: it must outlive the engine). Returns 0,
 * KERYU_EINVAL (a config value out of range, no build or parse),
 * KERYU_ENOMEM, KERYU_ERR (libcurl failed to initialise). *out is NULL on
 * failure. Free with channel_free. */
int channel_new(const struct channel_config *cfg,
		const struct channel_provider *provider, struct channel **out);

/* Subscribes the engine to $share/<group>/keryu/v1/notify/<channel_name>
 * (QoS 1) through cfg->host, with channel_on_notify as the callback. Call
 * from the module's init or start, once per channel name. Returns 0,
 * KERYU_EINVAL (group or channel_name not a valid topic level), or what
 * host->subscribe returns. */
int channel_subscribe(struct channel *c, const char *group,
		      const char *channel_name);

/* Starts the worker thread. Returns 0, or KERYU_ERR (already started or
 * stopped, or the thread could not be created). */
int channel_start(struct channel *c);

/* A keryu_bus_fn, arg being the struct channel: decodes a notify event
 * and hands it to channel_submit; logs a malformed payload, a duplicate
 * or a drop (one line each, ids only). */
void channel_on_notify(void *arg, const char *topic, const void *payload,
		       size_t len);

/* Takes a copy of req on. Returns 0 when it was queued, or when it is a
 * duplicate (*duplicate then true, if not NULL): its event_id was taken on
 * before, or its (notification_id, attempt) is queued, in flight or
 * scheduled for retry, or was settled recently (its result is then
 * published again); nothing is sent for a duplicate. Failure returns
 * (nothing queued, nothing remembered, nothing published):
 * KERYU_ECONFLICT (stopping), KERYU_ETIMEDOUT (queue still full after
 * wait_ms), KERYU_ENOMEM. */
int channel_submit(struct channel *c, const struct keryu_notify_event *req,
		   int wait_ms, bool *duplicate);

/* Stops taking requests, keeps working until everything queued or in
 * flight has been answered or deadline_ms have passed, then drops the rest
 * without a result (retries still scheduled are dropped at once) and joins
 * the worker. Safe to call twice and on an engine never started. */
void channel_stop(struct channel *c, int deadline_ms);

/* Stops (deadline 0) if still running and frees everything. NULL is fine. */
void channel_free(struct channel *c);

/* Counters for benchmarks and tests; a snapshot, taken under the lock. */
struct channel_stats {
	unsigned long long sent, retried, failed, unknown, duplicates,
		dropped;
	size_t queued, in_flight, scheduled;
};
void channel_stats(struct channel *c, struct channel_stats *out);

/* ---- pure parts, exposed for unit tests ---- */

/* The longest wait channel_backoff_ms returns: one hour, in ms. */
#define CHANNEL_BACKOFF_CAP_MS 3600000u

/* Full-jitter exponential backoff before attempt + 1: a value in
 * [0, min(base_ms * 2^(attempt-1), CHANNEL_BACKOFF_CAP_MS)], picked by
 * random (0 gives 0, UINT32_MAX the upper bound) so that tests can be
 * deterministic. attempt < 1 counts as 1. */
unsigned channel_backoff_ms(unsigned base_ms, int attempt, uint32_t random);

/* A token bucket: rate tokens a second, holding at most burst. */
struct channel_bucket {
	double rate, burst, tokens;
	uint64_t last_ms;
};

/* Starts full. rate <= 0 makes a bucket that never limits. burst < 1
 * counts as 1. */
void channel_bucket_init(struct channel_bucket *b, double rate, double burst,
			 uint64_t now_ms);

/* Takes one token when there is one and returns 0; otherwise takes
 * nothing and returns how many ms until there will be one (>= 1). now_ms
 * must not go backwards (an earlier value counts as last time's). */
unsigned channel_bucket_take(struct channel_bucket *b, uint64_t now_ms);

#endif
