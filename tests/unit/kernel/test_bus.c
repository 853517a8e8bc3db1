/* The bus against a real broker: this test starts its own mosquitto on a
 * free loopback port and fails (does not skip) when it cannot. */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "bus.h"

static struct test_broker broker;
static int port;

static void sleep_ms(int ms)
{
	struct timespec t = {.tv_sec = ms / 1000,
			     .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

static int group_setup(void **unused)
{
	(void)unused;
	if (test_broker_init(&broker) != 0)
		return -1;
	port = broker.port;
	return 0;
}

static int group_teardown(void **unused)
{
	(void)unused;
	test_broker_free(&broker);
	return 0;
}

/* ---- helpers ---- */

static struct bus *new_bus(const char *instance, const char *module)
{
	struct bus_url url = {.port = port};
	struct bus_params p = {
		.url = &url,
		.instance = instance,
		.module = module,
		.session_expiry_s = 300,
		.keepalive_s = 5,
		.reconnect_min_ms = 100,
		.reconnect_max_ms = 1000,
	};
	struct bus *b;

	strcpy(url.host, "127.0.0.1");
	b = bus_new(&p);
	assert_non_null(b);
	return b;
}

static void connect_ready(struct bus *b)
{
	assert_int_equal(bus_connect(b), 0);
	assert_int_equal(bus_wait_ready(b, 5000), 0);
	assert_true(bus_connected(b));
}

#define INBOX_MAX 16

struct inbox {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	char topic[INBOX_MAX][128];
	char payload[INBOX_MAX][256];
};

#define INBOX_INIT                                                             \
	{                                                                      \
		.lock = PTHREAD_MUTEX_INITIALIZER,                             \
		.cond = PTHREAD_COND_INITIALIZER                               \
	}

static void collect(void *arg, const char *topic, const void *payload,
		    size_t len)
{
	struct inbox *in = arg;

	pthread_mutex_lock(&in->lock);
	if (in->n < INBOX_MAX) {
		snprintf(in->topic[in->n], sizeof(in->topic[0]), "%s", topic);
		snprintf(in->payload[in->n], sizeof(in->payload[0]), "%.*s",
			 (int)len, (const char *)payload);
	}
	in->n++;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

/* Waits until the inbox holds at least n messages; returns how many. */
static int inbox_wait(struct inbox *in, int n, int timeout_ms)
{
	struct timespec deadline;
	int got;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&in->lock);
	while (in->n < n &&
	       pthread_cond_timedwait(&in->cond, &in->lock, &deadline) == 0)
		;
	got = in->n;
	pthread_mutex_unlock(&in->lock);
	return got;
}

/* Index of the first message whose payload holds needle, or -1. */
static int inbox_find(struct inbox *in, const char *needle)
{
	int found = -1;

	pthread_mutex_lock(&in->lock);
	for (int i = 0; i < in->n && i < INBOX_MAX && found < 0; i++) {
		if (strstr(in->payload[i], needle))
			found = i;
	}
	pthread_mutex_unlock(&in->lock);
	return found;
}

static bool wait_find(struct inbox *in, const char *needle, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (inbox_find(in, needle) >= 0)
			return true;
		sleep_ms(20);
	}
	return inbox_find(in, needle) >= 0;
}

static bool wait_connected(struct bus *b, bool up, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (bus_connected(b) == up)
			return true;
		sleep_ms(20);
	}
	return bus_connected(b) == up;
}

/* ---- tests ---- */

/* First, while this process has no other thread: fork a client that
 * dies without saying goodbye. */
static void test_last_will(void **unused)
{
	struct inbox in = INBOX_INIT;
	struct bus *watch;
	pid_t child;
	int status;

	(void)unused;
	child = fork();
	if (child == 0) {
		struct bus *b = new_bus("willtest", "dies");

		if (bus_connect(b) != 0 || bus_wait_ready(b, 5000) != 0)
			_exit(1);
		sleep_ms(200); /* let the retained "online" reach the broker */
		_exit(0);      /* no DISCONNECT: the broker sends the will */
	}
	assert_true(child > 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	watch = new_bus("willtest", "watch");
	assert_int_equal(bus_subscribe(watch, "keryu/v1/system/willtest/dies", 1,
				       collect, &in),
			 0);
	connect_ready(watch);
	assert_true(wait_find(&in, "\"state\":\"offline\"", 5000));
	assert_non_null(strstr(in.payload[inbox_find(&in, "offline")],
			       "\"module\":\"dies\""));
	bus_free(watch);
}

static void test_publish_wait_and_dispatch(void **unused)
{
	struct inbox plain = INBOX_INIT, shared = INBOX_INIT, other = INBOX_INIT;
	struct bus *sub = new_bus("t1", "sub"), *pub = new_bus("t1", "pub");

	(void)unused;
	assert_int_equal(bus_subscribe(sub, "t1/plain/#", 1, collect, &plain), 0);
	assert_int_equal(
		bus_subscribe(sub, "$share/workers/t1/shared/+", 1, collect,
			      &shared),
		0);
	assert_int_equal(bus_subscribe(sub, "t1/other", 0, collect, &other), 0);
	connect_ready(sub);
	connect_ready(pub);

	assert_int_equal(bus_publish_wait(pub, "t1/shared/x", "one", 3, 3000), 0);
	assert_int_equal(bus_publish_wait(pub, "t1/plain/a/b", "two", 3, 3000), 0);
	assert_int_equal(inbox_wait(&shared, 1, 3000), 1);
	assert_int_equal(inbox_wait(&plain, 1, 3000), 1);
	assert_string_equal(shared.topic[0], "t1/shared/x");
	assert_string_equal(shared.payload[0], "one");
	assert_string_equal(plain.topic[0], "t1/plain/a/b");
	assert_string_equal(plain.payload[0], "two");
	/* a filter that does not match gets nothing */
	assert_int_equal(bus_publish(pub, "t1/other/deeper", "x", 1, 1, false),
			 0);
	assert_int_equal(bus_publish_wait(pub, "t1/plain/c", "three", 5, 3000),
			 0);
	assert_int_equal(inbox_wait(&plain, 2, 3000), 2);
	assert_int_equal(inbox_wait(&other, 1, 200), 0);
	assert_int_equal(inbox_wait(&shared, 2, 200), 1);

	/* bad arguments change nothing */
	assert_int_equal(bus_publish(pub, "t1/#", "x", 1, 1, false),
			 KERYU_EINVAL);
	assert_int_equal(bus_publish(pub, "t1/x", "x", 1, 2, false),
			 KERYU_EINVAL);
	assert_int_equal(bus_subscribe(sub, "t1/#/x", 1, collect, &other),
			 KERYU_EINVAL);
	bus_free(pub);
	bus_free(sub);
}

struct echo {
	struct bus *b;
	atomic_int rc;
};

static void publish_wait_from_callback(void *arg, const char *topic,
				       const void *payload, size_t len)
{
	struct echo *e = arg;

	(void)topic;
	atomic_store(&e->rc, bus_publish_wait(e->b, "t8/echo", payload,
					      len, 2000));
}

static void test_publish_wait_refused_on_bus_thread(void **unused)
{
	struct echo e = {.rc = 1};
	struct bus *pub = new_bus("t8", "pub");
	int waited = 0;

	(void)unused;
	e.b = new_bus("t8", "echo");
	assert_int_equal(bus_subscribe(e.b, "t8/in", 1,
				       publish_wait_from_callback, &e),
			 0);
	connect_ready(e.b);
	connect_ready(pub);
	assert_int_equal(bus_publish_wait(pub, "t8/in", "x", 1, 3000), 0);
	while (atomic_load(&e.rc) == 1 && waited < 3000) {
		sleep_ms(10);
		waited += 10;
	}
	/* at once, not after the 2 s it could never have waited out */
	assert_true(waited < 1000);
	assert_int_equal(atomic_load(&e.rc), KERYU_EINVAL);
	bus_free(pub);
	bus_free(e.b);
}

static void test_subscribe_after_connect(void **unused)
{
	struct inbox in = INBOX_INIT;
	struct bus *b = new_bus("t2", "late"), *pub = new_bus("t2", "pub");

	(void)unused;
	connect_ready(b);
	connect_ready(pub);
	assert_int_equal(bus_subscribe(b, "t2/late", 1, collect, &in), 0);
	assert_int_equal(bus_wait_ready(b, 3000), 0); /* its SUBACK came */
	assert_int_equal(bus_publish_wait(pub, "t2/late", "hi", 2, 3000), 0);
	assert_int_equal(inbox_wait(&in, 1, 3000), 1);
	bus_free(pub);
	bus_free(b);
}

static void test_session_survives_disconnect(void **unused)
{
	struct inbox first = INBOX_INIT, second = INBOX_INIT;
	struct bus *b = new_bus("t3", "sleeper"), *pub = new_bus("t3", "pub");

	(void)unused;
	assert_int_equal(bus_subscribe(b, "t3/queue", 1, collect, &first), 0);
	connect_ready(b);
	bus_disconnect(b, 2000);
	bus_free(b);

	connect_ready(pub);
	assert_int_equal(bus_publish_wait(pub, "t3/queue", "while away", 10,
					  3000),
			 0);

	/* same instance and module: same client id, same session */
	b = new_bus("t3", "sleeper");
	assert_int_equal(bus_subscribe(b, "t3/queue", 1, collect, &second), 0);
	connect_ready(b);
	assert_int_equal(inbox_wait(&second, 1, 5000), 1);
	assert_string_equal(second.payload[0], "while away");
	assert_int_equal(first.n, 0);
	bus_free(b);
	bus_free(pub);
}

static void test_system_status(void **unused)
{
	struct inbox live = INBOX_INIT, late = INBOX_INIT;
	struct bus *watch = new_bus("t4", "watch"), *m = new_bus("t4", "m1"),
		   *watch2;

	(void)unused;
	assert_int_equal(bus_subscribe(watch, "keryu/v1/system/t4/m1", 1,
				       collect, &live),
			 0);
	connect_ready(watch);
	connect_ready(m);
	assert_true(wait_find(&live, "\"state\":\"online\"", 3000));
	assert_non_null(strstr(live.payload[0], "\"v\":1"));
	assert_non_null(strstr(live.payload[0], "\"instance\":\"t4\""));
	assert_non_null(strstr(live.payload[0], "\"module\":\"m1\""));
	assert_non_null(strstr(live.payload[0], "\"at\":\""));

	bus_disconnect(m, 2000);
	assert_true(wait_find(&live, "\"state\":\"offline\"", 3000));
	assert_false(bus_connected(m));

	/* a subscriber arriving later sees the retained state */
	watch2 = new_bus("t4", "watch2");
	assert_int_equal(bus_subscribe(watch2, "keryu/v1/system/t4/m1", 1,
				       collect, &late),
			 0);
	connect_ready(watch2);
	assert_true(wait_find(&late, "\"state\":\"offline\"", 3000));
	assert_int_equal(inbox_find(&late, "\"state\":\"online\""), -1);
	bus_free(watch2);
	bus_free(m);
	bus_free(watch);
}

static void test_broker_restart(void **unused)
{
	struct inbox in = INBOX_INIT;
	struct bus *b = new_bus("t5", "survivor"), *pub;

	(void)unused;
	assert_int_equal(bus_subscribe(b, "t5/after", 1, collect, &in), 0);
	connect_ready(b);

	test_broker_stop(&broker);
	assert_true(wait_connected(b, false, 3000));
	/* no PUBACK while the broker is away */
	assert_int_equal(bus_publish_wait(b, "t5/queued", "x", 1, 300),
			 KERYU_ETIMEDOUT);

	assert_int_equal(test_broker_start(&broker), 0);
	assert_true(wait_connected(b, true, 5000));
	/* the restarted broker forgot the session: ready means the kernel
	 * subscribed again and got its SUBACK */
	assert_int_equal(bus_wait_ready(b, 3000), 0);
	pub = new_bus("t5", "pub");
	connect_ready(pub);
	assert_int_equal(bus_publish_wait(pub, "t5/after", "back", 4, 3000), 0);
	assert_int_equal(inbox_wait(&in, 1, 3000), 1);
	assert_string_equal(in.payload[0], "back");
	bus_free(pub);
	bus_free(b);
}

static void test_no_broker_times_out(void **unused)
{
	struct bus_url url = {.port = test_free_port()};
	struct bus_params p = {.url = &url, .instance = "t6", .module = "lonely",
			       .session_expiry_s = 0, .keepalive_s = 5,
			       .reconnect_min_ms = 100, .reconnect_max_ms = 100};
	struct bus *b;

	(void)unused;
	strcpy(url.host, "127.0.0.1");
	b = bus_new(&p);
	assert_non_null(b);
	assert_int_equal(bus_connect(b), 0); /* keeps trying in the background */
	assert_int_equal(bus_wait_ready(b, 300), KERYU_ETIMEDOUT);
	assert_false(bus_connected(b));
	bus_free(b);
}

static void test_no_bus(void **unused)
{
	struct bus_params p = {.url = NULL, .instance = "t7", .module = "cli"};
	struct inbox in = INBOX_INIT;
	struct bus *b = bus_new(&p);

	(void)unused;
	assert_non_null(b);
	assert_int_equal(bus_subscribe(b, "t7/x", 1, collect, &in), 0);
	assert_int_equal(bus_connect(b), 0);
	assert_int_equal(bus_wait_ready(b, 10), 0);
	assert_false(bus_connected(b));
	assert_int_equal(bus_publish(b, "t7/x", "x", 1, 1, false), KERYU_EIO);
	assert_int_equal(bus_publish_wait(b, "t7/x", "x", 1, 10), KERYU_EIO);
	bus_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_will),
		cmocka_unit_test(test_publish_wait_and_dispatch),
		cmocka_unit_test(test_subscribe_after_connect),
		cmocka_unit_test(test_publish_wait_refused_on_bus_thread),
		cmocka_unit_test(test_session_survives_disconnect),
		cmocka_unit_test(test_system_status),
		cmocka_unit_test(test_broker_restart),
		cmocka_unit_test(test_no_broker_times_out),
		cmocka_unit_test(test_no_bus),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
