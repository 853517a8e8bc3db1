/* /metrics and /readyz without a socket: the exposition's lines, label
 * escaping, cumulative histogram buckets, bounded route classes, and who
 * may read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keryu/events.h>
#include <keryu/module.h>

#include "fake_accounts.h"
#include "fake_host.h"
#include "fake_storage.h"
#include "html.h"
#include "http_module.h"
#include "http_test_util.h"

extern const struct keryu_module keryu_module;

#define QR "0b7f3c1e-9a52-4c1d-8f3e-2a6b9c0d1e2f"
#define ID "11111111-2222-4333-8444-555555555555"

static struct http_ctx *ctx;
static struct http_response resp;

static int setup_with(const char *token)
{
	fake_host_reset(&keryu_module);
	fake_storage_reset(QR, "Ana");
	http_test_offer_services();
	if (token)
		fake_host_set("metrics_token", token);
	if (http_test_start(&ctx, &resp) != 0)
		return -1;
	return 0;
}

static int setup(void **st)
{
	(void)st;
	return setup_with(NULL);
}

static int setup_token(void **st)
{
	(void)st;
	return setup_with("s3cret-Token");
}

static int teardown(void **st)
{
	(void)st;
	http_test_stop(&ctx, &resp);
	return 0;
}

static void get(const char *path, bool loopback, const char *auth)
{
	struct http_request req = {.method = "GET",
				   .path = path,
				   .client_ip = loopback ? "127.0.0.1"
							 : "203.0.113.9",
				   .loopback = loopback,
				   .authorization = auth};

	http_test_route(ctx, &req, &resp);
	assert_non_null(resp.body.buf);
}

static bool has_line(const char *line)
{
	const char *b = resp.body.buf, *p = b;
	size_t n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == b || p[-1] == '\n') && p[n] == '\n')
			return true;
		p += n;
	}
	return false;
}

static void route_classes_are_bounded(void **st)
{
	(void)st;
	assert_string_equal(http_route_class("/subjects/qr/" QR "/scan/"),
			    "/subjects/qr/*/scan/");
	assert_string_equal(http_route_class("/subjects/qr/anything/scan/"),
			    "/subjects/qr/*/scan/");
	assert_string_equal(http_route_class("/subjects/" ID "/"),
			    "/subjects/*/");
	assert_string_equal(http_route_class("/subjects/" ID "/contacts/" ID
					     "/verify"),
			    "/subjects/*/contacts/*/verify");
	assert_string_equal(http_route_class("/healthz"), "/healthz");
	assert_string_equal(http_route_class("/metrics"), "/metrics");
	assert_string_equal(http_route_class("/ack/abc.def"), "/ack/*");
	assert_string_equal(http_route_class("/t/ABCD"), "/t/*");
	/* ids that are not UUIDs and unknown paths are never echoed */
	assert_string_equal(http_route_class("/subjects/123/"), "other");
	assert_string_equal(http_route_class("/wp-admin/" ID), "other");
	assert_string_equal(http_route_class(NULL), "other");
}

static void label_escaping(void **st)
{
	struct html h;
	size_t len;
	char *s;

	(void)st;
	html_init(&h);
	http_metrics_label(&h, "a\\b\"c\nd<e>");
	s = html_take(&h, &len);
	assert_string_equal(s, "a\\\\b\\\"c\\nd<e>");
	free(s);
}

static void histogram_is_cumulative(void **st)
{
	(void)st;
	http_metrics_observe(ctx, "/x", 200, 0.0005);
	http_metrics_observe(ctx, "/x", 200, 0.003);
	http_metrics_observe(ctx, "/x", 404, 0.2);
	http_metrics_observe(ctx, "/x", 200, 9);
	get("/metrics", true, NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type,
			    "text/plain; version=0.0.4; charset=utf-8");
	assert_true(resp.no_store);
	assert_true(has_line("# TYPE keryu_http_requests_total counter"));
	assert_true(has_line(
		"keryu_http_requests_total{route=\"/x\",status=\"200\"} 3"));
	assert_true(has_line(
		"keryu_http_requests_total{route=\"/x\",status=\"404\"} 1"));
	assert_true(has_line("# TYPE keryu_http_request_duration_seconds "
			     "histogram"));
	assert_true(has_line("keryu_http_request_duration_seconds_bucket{"
			     "route=\"/x\",le=\"0.001\"} 1"));
	assert_true(has_line("keryu_http_request_duration_seconds_bucket{"
			     "route=\"/x\",le=\"0.0025\"} 1"));
	assert_true(has_line("keryu_http_request_duration_seconds_bucket{"
			     "route=\"/x\",le=\"0.005\"} 2"));
	assert_true(has_line("keryu_http_request_duration_seconds_bucket{"
			     "route=\"/x\",le=\"0.25\"} 3"));
	assert_true(has_line("keryu_http_request_duration_seconds_bucket{"
			     "route=\"/x\",le=\"5\"} 3"));
	assert_true(has_line("keryu_http_request_duration_seconds_bucket{"
			     "route=\"/x\",le=\"+Inf\"} 4"));
	assert_true(has_line("keryu_http_request_duration_seconds_count{"
			     "route=\"/x\"} 4"));
	assert_true(has_line("keryu_http_request_duration_seconds_sum{"
			     "route=\"/x\"} 9.203500"));
}

static void storage_figures(void **st)
{
	struct keryu_storage_metrics *m = &fake_storage_state.metrics;

	(void)st;
	snprintf(m->channels[0].channel, sizeof(m->channels[0].channel),
		 "log");
	m->channels[0].status[4] = 3; /* DELIVERED */
	snprintf(m->channels[1].channel, sizeof(m->channels[1].channel),
		 "we\"ird");
	m->channels[1].status[6] = 1; /* FAILED */
	m->n_channels = 2;
	m->retries = 5;
	m->queue_depth = 2;
	m->pool_busy = 1;
	m->pool_idle = 3;
	get("/metrics", true, NULL);
	assert_int_equal(resp.status, 200);
	assert_true(has_line("keryu_database_up 1"));
	assert_true(has_line(
		"keryu_deliveries_total{channel=\"log\",status=\"DELIVERED\"} 3"));
	assert_true(has_line(
		"keryu_deliveries_total{channel=\"log\",status=\"PENDING\"} 0"));
	assert_true(has_line("keryu_deliveries_total{channel=\"we\\\"ird\","
			     "status=\"FAILED\"} 1"));
	assert_true(has_line("keryu_delivery_retries_total 5"));
	assert_true(has_line("keryu_delivery_queue_depth 2"));
	assert_true(has_line("keryu_db_pool_connections{state=\"busy\"} 1"));
	assert_true(has_line("keryu_db_pool_connections{state=\"idle\"} 3"));

	/* the database down: said so, and no made-up zeros */
	fake_storage_state.metrics_rc = KERYU_EIO;
	get("/metrics", true, NULL);
	assert_int_equal(resp.status, 200);
	assert_true(has_line("keryu_database_up 0"));
	assert_null(strstr(resp.body.buf, "keryu_deliveries_total{"));
	assert_null(strstr(resp.body.buf, "keryu_delivery_queue_depth "));
}

static void bus_counts(void **st)
{
	struct keryu_bus_counts c = {0};
	struct keryu_host older;
	const struct keryu_host *real = ctx->host;

	(void)st;
	c.in[KERYU_BUS_SCAN] = 7;
	c.out[KERYU_BUS_SCAN] = 5;
	c.out[KERYU_BUS_NOTIFY] = 2;
	c.in[KERYU_BUS_OTHER] = 1;
	fake_host_set_bus_counts(&c);
	get("/metrics", true, NULL);
	assert_int_equal(resp.status, 200);
	assert_true(has_line("# TYPE keryu_bus_messages_total counter"));
	assert_true(has_line(
		"keryu_bus_messages_total{direction=\"in\",class=\"scan\"} 7"));
	assert_true(has_line(
		"keryu_bus_messages_total{direction=\"out\",class=\"scan\"} 5"));
	assert_true(has_line("keryu_bus_messages_total{direction=\"out\","
			     "class=\"notify\"} 2"));
	assert_true(has_line(
		"keryu_bus_messages_total{direction=\"in\",class=\"other\"} 1"));
	/* every class, both ways, zeros included */
	assert_true(has_line("keryu_bus_messages_total{direction=\"in\","
			     "class=\"audit\"} 0"));
	assert_true(has_line("keryu_bus_messages_total{direction=\"out\","
			     "class=\"delivery\"} 0"));

	/* a kernel whose host table ends before bus_counts */
	older = *real;
	older.struct_size = (uint32_t)offsetof(struct keryu_host, bus_counts);
	ctx->host = &older;
	get("/metrics", true, NULL);
	ctx->host = real;
	assert_int_equal(resp.status, 200);
	assert_true(has_line("keryu_database_up 1"));
	assert_null(strstr(resp.body.buf, "keryu_bus_messages_total"));
}

static void loopback_only_without_token(void **st)
{
	(void)st;
	get("/metrics", false, NULL);
	assert_int_equal(resp.status, 403);
	assert_int_equal(fake_storage_state.metrics_calls, 0);
	/* a token means nothing when none is configured */
	get("/metrics", false, "Bearer anything");
	assert_int_equal(resp.status, 403);
	get("/metrics", true, NULL);
	assert_int_equal(resp.status, 200);
}

static void token_required_when_set(void **st)
{
	(void)st;
	get("/metrics", true, NULL); /* loopback is not enough then */
	assert_int_equal(resp.status, 401);
	get("/metrics", false, "Bearer wrong");
	assert_int_equal(resp.status, 401);
	get("/metrics", false, "Bearer s3cret-Toke");
	assert_int_equal(resp.status, 401);
	get("/metrics", false, "Bearer s3cret-Token2");
	assert_int_equal(resp.status, 401);
	get("/metrics", false, "Basic s3cret-Token");
	assert_int_equal(resp.status, 401);
	assert_int_equal(fake_storage_state.metrics_calls, 0);
	assert_true(fake_host_log_contains("http.metrics_refused status=401"));
	assert_false(fake_host_log_contains("s3cret"));
	get("/metrics", false, "Bearer s3cret-Token");
	assert_int_equal(resp.status, 200);
	get("/metrics", false, "bearer s3cret-Token");
	assert_int_equal(resp.status, 200);
}

static void readyz(void **st)
{
	(void)st;
	/* not started: the server is down */
	get("/readyz", false, NULL);
	assert_int_equal(resp.status, 503);
	assert_string_equal(resp.content_type, "application/json");
	assert_true(resp.no_store);
	assert_string_equal(resp.body.buf,
			    "{\"status\":\"not_ready\",\"database\":\"ok\","
			    "\"bus\":\"ok\",\"server\":\"down\"}\n");
	atomic_store(&ctx->started, true);
	get("/readyz", false, NULL);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.buf,
			    "{\"status\":\"ready\",\"database\":\"ok\","
			    "\"bus\":\"ok\",\"server\":\"ok\"}\n");
	fake_storage_state.ping_rc = KERYU_EIO;
	get("/readyz", false, NULL);
	assert_int_equal(resp.status, 503);
	assert_non_null(strstr(resp.body.buf, "\"database\":\"down\""));
	fake_storage_state.ping_rc = 0;
	fake_host_set_connected(false);
	get("/readyz", false, NULL);
	assert_int_equal(resp.status, 503);
	assert_non_null(strstr(resp.body.buf, "\"bus\":\"down\""));
	atomic_store(&ctx->started, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_classes_are_bounded),
		cmocka_unit_test(label_escaping),
		cmocka_unit_test_setup_teardown(histogram_is_cumulative, setup,
						teardown),
		cmocka_unit_test_setup_teardown(storage_figures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bus_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(loopback_only_without_token,
						setup, teardown),
		cmocka_unit_test_setup_teardown(token_required_when_set,
						setup_token, teardown),
		cmocka_unit_test_setup_teardown(readyz, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
