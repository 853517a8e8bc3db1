/* The public scan page. A scan of an active tag is published on the bus
 * and acknowledged by the broker BEFORE the finder is told the family is
 * being notified: the page never promises an alert that was not handed
 * over, nor calls one failed that is still queued. Nothing about the
 * subject but the first name is shown. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keryu/events.h>

#include "http_module.h"

static void not_active(struct http_response *r)
{
	http_page_error(r, 404, "This tag is not active",
			"This tag is not linked to anyone at the moment.");
}

static void alert_failed(struct http_response *r)
{
	http_page_error(r, 503, "The alert could not be sent",
			"We could not notify this person's family right now. "
			"If they need help, please call your local emergency "
			"services.");
}

/* The broker did not acknowledge in time, but the bus client keeps the
 * QoS 1 message and sends it once the broker answers: the alert may well
 * still go out, so the page must not say it failed, nor that it went. */
static void alert_unconfirmed(struct http_response *r)
{
	http_page_error(r, 503, "The alert is queued but not yet confirmed",
			"Your scan was recorded and the alert to this person's "
			"family is queued, but it has not been confirmed yet. "
			"Please also call your local emergency services if they "
			"need help.");
}

static void scanned_page(struct http_response *r, const char *first_name)
{
	struct html *h = &r->body;

	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	http_page_begin(h, "ok");
	html_raw(h, "<p class=\"small\">You scanned the tag of</p>\n<h1>");
	html_text(h, first_name && *first_name ? first_name : "this person");
	html_raw(h, "</h1>\n<p><strong>Their family is being notified now."
		    "</strong></p>\n"
		    "<p>If you can, please stay with them until help arrives."
		    "</p>\n<p class=\"small\">If they need urgent help, call "
		    "your local emergency services.</p>\n");
	http_page_end(h);
}

void http_scan(struct http_ctx *ctx, const struct http_request *req,
	       const char *segment, struct http_response *r)
{
	const struct keryu_host *host = ctx->host;
	const struct keryu_storage *st = ctx->storage;
	struct keryu_tag_info tag;
	struct keryu_scan_event ev;
	char qr[KERYU_UUID_LEN];
	char *json;
	size_t i;
	int rc;

	r->no_store = true;
	if (!keryu_uuid_valid(segment)) {
		host->log(ctx->m, KERYU_LOG_DEBUG, "http.scan",
			  "qr=- event=- status=404 reason=malformed");
		not_active(r);
		return;
	}
	for (i = 0; i < KERYU_UUID_LEN; i++)
		qr[i] = (char)tolower((unsigned char)segment[i]);

	memset(&tag, 0, sizeof(tag));
	rc = st ? st->tag_lookup(st->self, qr, &tag) : KERYU_EIO;
	if (rc == KERYU_ENOTFOUND) {
		host->log(ctx->m, KERYU_LOG_INFO, "http.scan",
			  "qr=%s event=- status=404 reason=inactive", qr);
		not_active(r);
		return;
	}
	if (rc != 0) {
		host->log(ctx->m, KERYU_LOG_ERROR, "http.scan",
			  "qr=%s event=- status=503 reason=storage error=\"%s\"",
			  qr, keryu_strerror(rc));
		http_page_error(r, 503, "Temporarily unavailable",
				"This page cannot be shown right now. If the "
				"person needs help, please call your local "
				"emergency services.");
		return;
	}

	/* HEAD answers what GET would when the alert goes out, but a HEAD
	 * (link checkers, previews, monitoring) is not someone scanning the
	 * tag, so it never raises an alarm. */
	if (req->method && strcmp(req->method, "HEAD") == 0) {
		host->log(ctx->m, KERYU_LOG_INFO, "http.scan",
			  "qr=%s event=- status=200 method=HEAD", qr);
		scanned_page(r, tag.first_name);
		return;
	}

	memset(&ev, 0, sizeof(ev));
	keryu_uuid_new(ev.event_id);
	keryu_now_iso(ev.at);
	memcpy(ev.qr_uuid, qr, sizeof(qr));
	/* the header is whatever bytes the client sent; the event (and the
	 * database text column behind it) needs valid UTF-8 */
	keryu_utf8_copy(ev.user_agent, sizeof(ev.user_agent), req->user_agent);
	/* ip_hash stays "" until a salt is configured */

	json = keryu_scan_event_encode(&ev);
	if (!json) {
		rc = KERYU_ENOMEM;
	} else {
		char topic[128];

		snprintf(topic, sizeof(topic), "%s%s", KERYU_TOPIC_SCAN, qr);
		rc = host->publish_wait(ctx->m, topic, json, strlen(json),
					ctx->scan_ack_timeout_ms);
		free(json);
	}
	if (rc == KERYU_ETIMEDOUT) {
		host->log(ctx->m, KERYU_LOG_WARN, "http.scan",
			  "qr=%s event=%s status=503 reason=unconfirmed "
			  "error=\"%s\"",
			  qr, ev.event_id, keryu_strerror(rc));
		alert_unconfirmed(r);
		return;
	}
	if (rc != 0) {
		host->log(ctx->m, KERYU_LOG_ERROR, "http.scan",
			  "qr=%s event=%s status=503 reason=publish error=\"%s\"",
			  qr, ev.event_id, keryu_strerror(rc));
		alert_failed(r);
		return;
	}
	host->log(ctx->m, KERYU_LOG_INFO, "http.scan",
		  "qr=%s event=%s status=200", qr, ev.event_id);
	scanned_page(r, tag.first_name);
}
