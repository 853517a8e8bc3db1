/* The HTTP side of the whatsapp module: a bounded queue feeding one worker
 * thread that drives libcurl's multi interface, so up to max_in_flight
 * requests are on the wire at once over kept-alive connections. */
#ifndef WHATSAPP_SENDER_H
#define WHATSAPP_SENDER_H

#include <keryu/events.h>

struct whatsapp_sender;

struct whatsapp_sender_config {
	const char *url;   /* full messages URL; copied */
	const char *token; /* bearer token; copied, never logged */
	long timeout_ms;
	long connect_timeout_ms;
	int max_in_flight; /* 1..4096 */
};

/* Called on the worker thread once per finished attempt. req is the request
 * as submitted; res holds status, provider_message_id, error_code and
 * error_text only. http_status is 0 when no answer came; latency_ms is the
 * time the HTTP exchange took. Both pointers are valid during the call. */
typedef void (*whatsapp_result_fn)(void *arg,
				   const struct keryu_notify_event *req,
				   const struct keryu_delivery_event *res,
				   long http_status, long latency_ms);

/* Sets *out to a sender that is not running yet. Returns 0, KERYU_EINVAL
 * (bad config), KERYU_ENOMEM, KERYU_ERR (libcurl failed to initialise).
 * Free with whatsapp_sender_free. */
int whatsapp_sender_new(const struct whatsapp_sender_config *cfg,
			whatsapp_result_fn fn, void *arg,
			struct whatsapp_sender **out);

/* Starts the worker thread. Returns 0 or KERYU_ERR. */
int whatsapp_sender_start(struct whatsapp_sender *s);

/* Queues a copy of req with its JSON body (taken over: freed by the sender
 * in every case). When the queue is full, waits up to wait_ms for room.
 * Returns 0, KERYU_ECONFLICT (stopping), KERYU_ETIMEDOUT (still full). */
int whatsapp_sender_submit(struct whatsapp_sender *s,
			   const struct keryu_notify_event *req, char *body,
			   int wait_ms);

/* Stops taking requests, keeps working until everything queued has been
 * answered or deadline_ms have passed, then abandons the rest without a
 * result (see the worker) and joins the thread. Safe to call twice. */
void whatsapp_sender_stop(struct whatsapp_sender *s, int deadline_ms);

/* Stops (deadline 0) if still running and frees everything. NULL is fine. */
void whatsapp_sender_free(struct whatsapp_sender *s);

#endif
