/* The bus against a real broker: this test starts its own mosquitto on a
 * free loopback port and fails (does not skip) when it cannot. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Reads the file at path into a static buffer. */
static const char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Two processes with the same [kernel] instance load the same module:
 * same client id. The broker hands the session to the newcomer and tells
 * the old client "session taken over" (0x8E); reconnecting would take it
 * back and the two would kick each other forever. */
static void test_session_taken_over(void **unused)
{
	char path[] = "/tmp/keryu-bus-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct bus *first = new_bus("t9", "twin"), *second = new_bus("t9", "twin");
	bool first_dropped, up[2], gone[2];
	int publish_rc, ready_rc, loser;
	const char *log;

	(void)unused;
	assert_true(fd >= 0 && saved >= 0);
	/* The log lines are part of what is tested: catch stderr, and give
	 * it back before any assertion can jump out. */
	dup2(fd, STDERR_FILENO);
	connect_ready(first);
	connect_ready(second);
	first_dropped = wait_connected(first, false, 3000);
	/* A few reconnect delays (100 ms, rounded up to 1 s): the first
	 * comes back and kicks the second out, the second comes back... */
	for (int waited = 0; waited < 8000; waited += 50) {
		if (bus_taken_over(first) != bus_taken_over(second) &&
		    bus_connected(bus_taken_over(first) ? second : first))
			break;
		sleep_ms(50);
	}
	/* and then it stays so, for longer than a reconnect delay */
	sleep_ms(1500);
	up[0] = bus_connected(first);
	up[1] = bus_connected(second);
	gone[0] = bus_taken_over(first);
	gone[1] = bus_taken_over(second);
	/* Which one gives up depends on whose "online" looks newer, and both
	 * may have connected within the same millisecond. */
	loser = gone[0] ? 0 : 1;
	publish_rc = bus_publish(loser ? second : first, "t9/x", "x", 1, 1,
				 false);
	ready_rc = bus_wait_ready(loser ? second : first, 100);
	bus_free(first);
	bus_free(second);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	log = slurp(path);
	unlink(path);
	fputs(log, stderr);

	assert_true(first_dropped); /* the broker let the second in */
	/* exactly one gave up; the other stays connected */
	assert_true(gone[0] != gone[1]);
	assert_false(up[loser]);
	assert_true(up[1 - loser]);
	/* one that gave up says so, and does not queue in vain */
	assert_int_equal(publish_rc, KERYU_EIO);
	assert_int_equal(ready_rc, KERYU_EIO);
	assert_non_null(strstr(log,
			       " error twin bus.session_taken_over module=twin "
			       "client_id=t9-twin hint=\"give each keryud its "
			       "own [kernel] instance\"\n"));
	/* once: nobody came back to kick the other again */
	assert_int_equal(count(log, "bus.session_taken_over"), 1);
	assert_true(count(log, "twin bus.connected") <= 5);
}

/* A broker that says so: MQTT v5 DISCONNECT with reason 0x8E "session
 * taken over" (mosquitto 2.0 does not send it, other brokers do). A
 * minimal one here: accept, CONNACK, then that DISCONNECT. */
static int accept_within(int lfd, int timeout_ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	return poll(&p, 1, timeout_ms) == 1 ? accept(lfd, NULL, NULL) : -1;
}

static void test_disconnect_session_taken_over(void **unused)
{
	static const unsigned char connack[] = {0x20, 0x03, 0x00, 0x00, 0x00};
	static const unsigned char taken[] = {0xE0, 0x02, 0x8E, 0x00};
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t salen = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd, again;
	struct bus_url url = {0};
	struct bus_params p = {.url = &url, .instance = "t10", .module = "twin",
			       .session_expiry_s = 0, .keepalive_s = 5,
			       .reconnect_min_ms = 100, .reconnect_max_ms = 100};
	struct bus *b;
	char buf[256];

	(void)unused;
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	strcpy(url.host, "127.0.0.1");
	url.port = ntohs(sa.sin_port);
	b = bus_new(&p);
	assert_non_null(b);
	assert_int_equal(bus_connect(b), 0);
	cfd = accept_within(lfd, 3000);
	assert_true(cfd >= 0);
	assert_true(read(cfd, buf, sizeof(buf)) > 0); /* CONNECT */
	assert_int_equal(write(cfd, connack, sizeof(connack)), sizeof(connack));
	assert_true(wait_connected(b, true, 3000));
	assert_int_equal(write(cfd, taken, sizeof(taken)), sizeof(taken));
	assert_true(wait_connected(b, false, 3000));
	for (int waited = 0; !bus_taken_over(b) && waited < 3000; waited += 20)
		sleep_ms(20);
	assert_true(bus_taken_over(b));
	/* no reconnect: it would kick the other process out */
	again = accept_within(lfd, 2500);
	assert_int_equal(again, -1);
	assert_int_equal(bus_wait_ready(b, 100), KERYU_EIO);
	bus_free(b);
	close(cfd);
	close(lfd);
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

static void test_topic_class(void **unused)
{
	static const char *const names[KERYU_BUS_CLASSES] =
		KERYU_BUS_CLASS_NAMES;

	(void)unused;
	assert_int_equal(bus_topic_class("keryu/v1/scan/abc"), KERYU_BUS_SCAN);
	assert_int_equal(bus_topic_class("keryu/v1/alarm/1"), KERYU_BUS_ALARM);
	assert_int_equal(bus_topic_class("keryu/v1/notify/whatsapp"),
			 KERYU_BUS_NOTIFY);
	assert_int_equal(bus_topic_class("keryu/v1/delivery/9"),
			 KERYU_BUS_DELIVERY);
	assert_int_equal(bus_topic_class("keryu/v1/report/2"),
			 KERYU_BUS_REPORT);
	assert_int_equal(bus_topic_class("keryu/v1/system/i/http"),
			 KERYU_BUS_SYSTEM);
	assert_int_equal(bus_topic_class("keryu/v1/audit/x/y"),
			 KERYU_BUS_AUDIT);
	/* the class with nothing after it still names it */
	assert_int_equal(bus_topic_class("keryu/v1/scan"), KERYU_BUS_SCAN);
	/* prefixes, longer words, other versions and roots: other */
	assert_int_equal(bus_topic_class("keryu/v1/scans/x"), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class("keryu/v1/sca/x"), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class("keryu/v1/"), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class("keryu/v1//scan"), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class("keryu/v2/scan/x"), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class("x/keryu/v1/scan/x"), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class("KERYU/v1/scan/x"), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class(""), KERYU_BUS_OTHER);
	assert_int_equal(bus_topic_class(NULL), KERYU_BUS_OTHER);
	assert_string_equal(names[KERYU_BUS_SCAN], "scan");
	assert_string_equal(names[KERYU_BUS_AUDIT], "audit");
	assert_string_equal(names[KERYU_BUS_OTHER], "other");
}

static void test_counts(void **unused)
{
	struct inbox in = INBOX_INIT;
	struct bus *sub = new_bus("tcnt", "sub"), *pub = new_bus("tcnt", "pub");
	struct keryu_bus_counts cs = {0}, cp = {0}, both = {0};

	(void)unused;
	assert_int_equal(bus_subscribe(sub, "keryu/v1/scan/+", 1, collect, &in),
			 0);
	assert_int_equal(
		bus_subscribe(sub, "keryu/v1/notify/#", 1, collect, &in), 0);
	assert_int_equal(bus_subscribe(sub, "tcnt/#", 1, collect, &in), 0);
	connect_ready(sub);
	connect_ready(pub);

	assert_int_equal(bus_publish(pub, "keryu/v1/scan/q1", "a", 1, 1, false),
			 0);
	assert_int_equal(bus_publish_wait(pub, "keryu/v1/scan/q2", "b", 1, 3000),
			 0);
	assert_int_equal(
		bus_publish_wait(pub, "keryu/v1/notify/log", "c", 1, 3000), 0);
	assert_int_equal(bus_publish_wait(pub, "tcnt/x", "d", 1, 3000), 0);
	/* refused publishes are not counted */
	assert_int_equal(bus_publish(pub, "keryu/v1/scan/#", "x", 1, 1, false),
			 KERYU_EINVAL);
	assert_int_equal(inbox_wait(&in, 4, 3000), 4);

	bus_counts_add(sub, &cs);
	bus_counts_add(pub, &cp);
	assert_int_equal(cs.in[KERYU_BUS_SCAN], 2);
	assert_int_equal(cs.in[KERYU_BUS_NOTIFY], 1);
	assert_int_equal(cs.in[KERYU_BUS_OTHER], 1);
	assert_int_equal(cs.out[KERYU_BUS_SCAN], 0);
	assert_int_equal(cs.in[KERYU_BUS_DELIVERY], 0);
	assert_int_equal(cp.out[KERYU_BUS_SCAN], 2);
	assert_int_equal(cp.out[KERYU_BUS_NOTIFY], 1);
	assert_int_equal(cp.out[KERYU_BUS_OTHER], 1);
	assert_int_equal(cp.in[KERYU_BUS_SCAN], 0);
	/* the retained "online" of each connect */
	assert_true(cs.out[KERYU_BUS_SYSTEM] >= 1);
	assert_true(cp.out[KERYU_BUS_SYSTEM] >= 1);

	/* bus_counts_add adds: the host sums every module's client */
	bus_counts_add(sub, &both);
	bus_counts_add(pub, &both);
	assert_int_equal(both.in[KERYU_BUS_SCAN], 2);
	assert_int_equal(both.out[KERYU_BUS_SCAN], 2);
	assert_int_equal(both.out[KERYU_BUS_SYSTEM],
			 cs.out[KERYU_BUS_SYSTEM] + cp.out[KERYU_BUS_SYSTEM]);
	bus_free(pub);
	bus_free(sub);
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
		cmocka_unit_test(test_session_taken_over),
		cmocka_unit_test(test_disconnect_session_taken_over),
		cmocka_unit_test(test_no_broker_times_out),
		cmocka_unit_test(test_no_bus),
		cmocka_unit_test(test_topic_class),
		cmocka_unit_test(test_counts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
