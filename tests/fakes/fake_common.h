/* fake_common: what the fake provider servers (fake_whatsapp, fake_twilio)
 * share, so that both behave the same where the tests expect them to:
 * the common flags (--port, --record, --mode, --delay-ms,
 * --timeout-hold-ms), the loopback server that prints "listening <port>",
 * request bodies, the --mode script each notification walks with its own
 * cursor, JSON-line records, /_control/count and /_control/mode, and the
 * POST their signed callbacks go out with.
 *
 * A fake is one server per process, so this state is the process's: the
 * functions below read and change it under their own lock and may be
 * called from any thread once fake_init has run. What a provider answers,
 * records and signs stays in its own file. */
#ifndef KERYU_FAKE_COMMON_H
#define KERYU_FAKE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>

#define FAKE_MAX_STEPS 64

enum fake_step_kind {
	FAKE_OK,      /* answer as the provider does for an accepted send */
	FAKE_ERROR,   /* the provider's error arg (its own code) */
	FAKE_HTTP,    /* HTTP status arg with an empty body */
	FAKE_DROP,    /* close the connection without an answer */
	FAKE_TIMEOUT, /* hold fake_hold_ms(), then treat it as sent */
};

struct fake_step {
	enum fake_step_kind kind;
	long arg; /* error code or HTTP status */
};

/* A request's body as it arrived; too_big when it went over the server's
 * max_body (body then holds what came before). */
struct fake_request {
	char *body;
	size_t len;
	bool too_big;
};

/* Answers one complete request; the body is the server's, valid for the
 * call. Returning MHD_NO closes the connection without an answer. */
typedef enum MHD_Result (*fake_handler)(struct MHD_Connection *c,
					const char *method, const char *url,
					const struct fake_request *q);

/* Names the fake in its messages ("fake_twilio: cannot listen...") and
 * gives the usage function that bad flags and values end in (it must
 * exit). Call first. */
void fake_init(const char *name, void (*usage)(void));

/* Takes one of the common flags: --port, --record FILE (appended; exits 1
 * when it cannot be opened), --mode, --delay-ms, --timeout-hold-ms.
 * Returns true when taken, false when flag is none of them; a bad value
 * ends in usage(). */
bool fake_option(const char *flag, const char *value);

/* s as a whole number in [min, max]; anything else ends in usage(). */
long fake_number(const char *s, long min, long max);

/* Opens path for appending; exits 1 with perror when it cannot. */
FILE *fake_open_append(const char *path);

long fake_delay_ms(void); /* --delay-ms, default 0 */
long fake_hold_ms(void);  /* --timeout-hold-ms, default 3000 */

long long fake_now_ms(void);  /* wall clock, ms since the epoch */
long long fake_mono_ms(void); /* CLOCK_MONOTONIC, ms */

/* Sleeps ms in slices, returning early once the server is stopping, so
 * that stopping does not wait out a long hold. */
void fake_sleep_ms(long ms);

/* True once a signal asked the server to stop. */
bool fake_stopping(void);

/* strdup that aborts when out of memory; NULL gives "". */
char *fake_strdup(const char *s);

/* Parses a step or "seq:<step>,<step>,..." (see the fakes' --mode) and
 * makes it the script, restarting every notification's cursor. Returns 0,
 * or -1 (and changes nothing) when s is not one. */
int fake_set_mode(const char *s);

/* The step for this request of notification nid (NULL or "": requests
 * without one share a cursor), advancing its cursor; after the last step
 * the last step repeats. */
struct fake_step fake_next_step(const char *nid);

/* "ok", "error:<code>", "http:<status>", "drop" or "timeout". */
void fake_step_text(const struct fake_step *st, char *out, size_t size);

/* Counts one message request for /_control/count. */
void fake_count_message(void);

/* Queues status with body (copied; its content type type, left out when
 * body is empty). Returns MHD_NO when it could not. */
enum MHD_Result fake_answer(struct MHD_Connection *c, unsigned status,
			    const char *type, const char *body);

/* fake_answer of o as compact JSON; takes o (NULL: MHD_NO). */
enum MHD_Result fake_answer_json(struct MHD_Connection *c, unsigned status,
				 cJSON *o);

/* Answers GET /_control/count and POST /_control/mode (body as
 * fake_set_mode takes it: 200 "ok", or 400 "bad mode"). Returns false,
 * leaving *rc alone, for any other request. */
bool fake_control(struct MHD_Connection *c, const char *method,
		  const char *path, const struct fake_request *q,
		  enum MHD_Result *rc);

/* The body as a string without trailing white space, cut to size - 1. */
void fake_body_text(const struct fake_request *q, char *buf, size_t size);

/* Adds key: v, or key: null when v is NULL. */
void fake_json_str(cJSON *o, const char *key, const char *v);

/* The --record file, NULL when not recording. */
FILE *fake_record_file(void);

/* Appends o as one compact JSON line to f and flushes it (nothing when f
 * is NULL); lines from different threads do not mix. Does not take o. */
void fake_write_json(FILE *f, const cJSON *o);

/* Blocks SIGINT and SIGTERM in this thread and every thread it starts
 * from now on (fake_serve's wait takes them) and ignores SIGPIPE. A fake
 * that starts threads of its own calls it first; fake_serve calls it too. */
void fake_block_signals(void);

/* Serves handler on 127.0.0.1:--port (one thread per connection), prints
 * "listening <port>" once ready, and returns after SIGINT or SIGTERM with
 * the server stopped (fake_stopping() true from before the stop). Bodies
 * over max_body bytes arrive too_big. Returns 0, or 1 (with a message)
 * when it cannot listen. */
int fake_serve(size_t max_body, fake_handler handler);

/* A handle for callback POSTs: no signals, these timeouts and user agent,
 * answers discarded. NULL when out of memory; the caller cleans it up. */
CURL *fake_curl(const char *user_agent, long connect_ms, long timeout_ms);

/* POSTs body to url with headers on curl. Returns the HTTP status, 0 when
 * there was no answer. */
long fake_post(CURL *curl, const char *url, struct curl_slist *headers,
	       const char *body);

/* Frees the script's cursors and closes the --record file. Only once no
 * other thread of the fake runs. */
void fake_cleanup(void);

#endif
