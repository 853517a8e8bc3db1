/* Shared set-up for the http unit tests (see http_test_util.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

void http_test_offer_services(void)
{
	fake_host_add_service(KERYU_SERVICE_STORAGE, &fake_storage);
	fake_accounts_reset();
	fake_host_add_service(KERYU_SERVICE_ACCOUNTS, &fake_accounts);
}

int http_test_start(struct http_ctx **ctx, struct http_response *resp)
{
	void *state = NULL;

	if (keryu_module.init(fake_mod(), fake_host(), &state) != 0)
		return -1;
	*ctx = state;
	http_response_init(resp);
	return 0;
}

void http_test_stop(struct http_ctx **ctx, struct http_response *resp)
{
	http_response_free(resp);
	keryu_module.cleanup(*ctx);
	*ctx = NULL;
	fake_host_reset(NULL);
}

void http_test_request(struct http_test_url *u, struct http_request *req,
		       const char *method, const char *url,
		       const char *form_qs)
{
	const char *q = strchr(url, '?');

	http_form_init(&u->query);
	http_form_init(&u->form);
	snprintf(u->path, sizeof(u->path), "%.*s",
		 (int)(q ? (size_t)(q - url) : strlen(url)), url);
	if (q)
		assert_int_equal(http_form_parse_query(&u->query, q + 1), 0);
	if (form_qs)
		assert_int_equal(http_form_parse_query(&u->form, form_qs), 0);
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = u->path;
	req->query = &u->query;
	req->form = strcmp(method, "POST") == 0 ? &u->form : NULL;
}

void http_test_url_free(struct http_test_url *u)
{
	http_form_free(&u->query);
	http_form_free(&u->form);
}

void http_test_route(struct http_ctx *ctx, const struct http_request *req,
		     struct http_response *resp)
{
	http_response_free(resp);
	http_response_init(resp);
	http_route(ctx, req, resp);
	assert_false(resp->body.failed);
}
