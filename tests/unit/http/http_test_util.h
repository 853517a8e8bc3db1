/* What the http unit tests share: the module started against the fake host
 * with the fake storage and accounts services, requests built from a url
 * and a urlencoded body, and one route call into a fresh response. Tests
 * keep their own state (context, response, cookies) and pass it in. */
#ifndef KERYU_HTTP_TEST_UTIL_H
#define KERYU_HTTP_TEST_UTIL_H

#include "http_module.h"

/* Offers the fake storage service and a freshly reset fake accounts service
 * on the fake host. The caller has already reset the host and the fake
 * storage (with the data its tests need). */
void http_test_offer_services(void);

/* Initialises the http module against the fake host as configured so far:
 * *ctx gets the module's context and *resp is made ready. Returns 0, or -1
 * if the module refused to start (then nothing needs freeing). */
int http_test_start(struct http_ctx **ctx, struct http_response *resp);

/* Undoes http_test_start: frees *resp, cleans the module up, sets *ctx to
 * NULL and empties the fake host. */
void http_test_stop(struct http_ctx **ctx, struct http_response *resp);

/* A request's parsed url and body. */
struct http_test_url {
	char path[512]; /* the url up to '?' */
	struct http_form query;
	struct http_form form;
};

/* Makes *req a request for method and url (which may carry "?query"),
 * with form_qs (NULL for none) as its urlencoded body when method is POST;
 * every other field of *req is zero for the caller to fill. *u holds the
 * parsed parts *req points to. Fails the running test if either does not
 * parse. Free with http_test_url_free once the request has been routed. */
void http_test_request(struct http_test_url *u, struct http_request *req,
		       const char *method, const char *url,
		       const char *form_qs);
void http_test_url_free(struct http_test_url *u);

/* Routes req into *resp after freeing what *resp held; fails the running
 * test if the body ran out of memory. */
void http_test_route(struct http_ctx *ctx, const struct http_request *req,
		     struct http_response *resp);

#endif
