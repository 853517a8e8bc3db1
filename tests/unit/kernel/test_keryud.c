/* keryud as a process, against a real mosquitto and the test modules:
 * exit codes, one-line errors, signals and the shutdown watchdog. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

static struct test_broker broker;
static char out_path[300], trace_path[300];

struct run {
	pid_t pid;
	const char *path; /* its output */
	char out[1 << 16];
};

static int now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000L);
}

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
	snprintf(out_path, sizeof(out_path), "%s/keryud.out", broker.dir);
	snprintf(trace_path, sizeof(trace_path), "%s/trace", broker.dir);
	return 0;
}

static int group_teardown(void **unused)
{
	(void)unused;
	unlink(out_path);
	unlink(trace_path);
	test_broker_free(&broker);
	return 0;
}

/* Starts keryud with args (NULL-terminated) and env ("NAME=VALUE",
 * NULL-terminated) in the broker's directory, output to out. */
static void spawn_to(struct run *r, const char *out, const char *const *args,
		     const char *const *env)
{
	char url[64];

	snprintf(url, sizeof(url), "mqtt://127.0.0.1:%d", broker.port);
	r->path = out;
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		const char *argv[16] = {"keryud"};
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int n = 1;

		if (fd < 0 || chdir(broker.dir) != 0)
			_exit(99);
		dup2(fd, 1);
		dup2(fd, 2);
		unsetenv("MQTT_URL");
		unsetenv("DEBUG");
		setenv("KERYU_BUS_URL", url, 1);
		setenv("KERYU_KERNEL_MODULE_DIR", KERYU_TEST_MODULE_DIR, 1);
		setenv("KERYU_KERNEL_INSTANCE", "kt", 1);
		setenv("KERYU_TEST_TRACE", trace_path, 1);
		for (; env && *env; env++)
			putenv((char *)*env);
		for (; args && *args && n < 15; args++)
			argv[n++] = *args;
		argv[n] = NULL;
		execv(KERYUD, (char *const *)argv);
		_exit(98);
	}
}

/* As spawn_to, output to out_path, after clearing the trace. */
static void spawn(struct run *r, const char *const *args,
		  const char *const *env)
{
	unlink(out_path);
	unlink(trace_path);
	spawn_to(r, out_path, args, env);
}

static const char *slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static const char *output(struct run *r)
{
	return slurp(r->path, r->out, sizeof(r->out));
}

static bool wait_output(struct run *r, const char *needle, int timeout_ms)
{
	int end = now_ms() + timeout_ms;

	while (!strstr(output(r), needle)) {
		if (now_ms() > end)
			return false;
		sleep_ms(20);
	}
	return true;
}

/* The exit code (128 + n for signal n), or -1 if it did not exit in time
 * (then it is killed). */
static int wait_exit(struct run *r, int timeout_ms)
{
	int end = now_ms() + timeout_ms, status;

	while (waitpid(r->pid, &status, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
			return -1;
		}
		sleep_ms(10);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

static void test_bad_config_is_one_line(void **unused)
{
	static const char *const args[] = {"--modules", "tm_plain", NULL};
	static const char *const env[] = {"KERYU_TM_PLAIN_COUNT=abc", NULL};
	struct run r;

	(void)unused;
	spawn(&r, args, env);
	assert_int_equal(wait_exit(&r, 5000), 2);
	assert_string_equal(output(&r), "keryud: config: [tm_plain] count: "
					"\"abc\" is not an integer\n");
}

static void test_unknown_module(void **unused)
{
	static const char *const args[] = {"--modules", "tm_plain,nosuch", NULL};
	struct run r;

	(void)unused;
	spawn(&r, args, NULL);
	assert_int_equal(wait_exit(&r, 5000), 2);
	assert_non_null(strstr(output(&r), "keryud: module nosuch: cannot open"));
	assert_ptr_equal(strchr(r.out, '\n'), r.out + strlen(r.out) - 1);
}

static void test_check_config(void **unused)
{
	static const char *const args[] = {"--check-config", "--modules",
					   "tm_plain", NULL};
	static const char *const env[] = {"KERYU_KERNEL_SECRET_KEY=hush",
					  "KERYU_TM_PLAIN_GREETING=hey", NULL};
	struct run r;

	(void)unused;
	spawn(&r, args, env);
	assert_int_equal(wait_exit(&r, 5000), 0);
	output(&r);
	assert_non_null(strstr(r.out, "[tm_plain] greeting = hey  # a string\n"));
	assert_non_null(strstr(r.out, "[tm_plain] count = 3  # an integer\n"));
	assert_non_null(strstr(r.out, "[kernel] secret_key = ********  #"));
	assert_non_null(strstr(r.out, "[kernel] instance = kt  #"));
	assert_non_null(strstr(r.out, "[bus] url = mqtt://127.0.0.1:"));
	assert_null(strstr(r.out, "hush"));
	assert_null(strstr(r.out, "kernel.started")); /* nothing ran */
}

static void test_no_broker(void **unused)
{
	static const char *const args[] = {"--modules", "tm_plain", NULL};
	char env_url[64];
	const char *env[] = {env_url, "KERYU_KERNEL_CONNECT_TIMEOUT_S=1", NULL};
	struct run r;
	const char *last;

	(void)unused;
	snprintf(env_url, sizeof(env_url), "KERYU_BUS_URL=mqtt://127.0.0.1:%d",
		 test_free_port());
	spawn(&r, args, env);
	assert_int_equal(wait_exit(&r, 20000), 1);
	output(&r);
	r.out[strlen(r.out) - 1] = '\0';
	last = strrchr(r.out, '\n');
	last = last ? last + 1 : r.out;
	assert_non_null(strstr(last, "keryud: bus: no answer from the broker at "
				     "127.0.0.1:"));
	assert_non_null(strstr(last, "within 1 s (module tm_plain)"));
	assert_null(strstr(r.out, "kernel.started"));
}

static void test_signal_while_waiting_for_broker(void **unused)
{
	static const char *const args[] = {"--modules", "tm_plain", NULL};
	char env_url[64], trace[1024];
	const char *env[] = {env_url, "KERYU_KERNEL_CONNECT_TIMEOUT_S=30", NULL};
	struct run r;
	int t0;

	(void)unused;
	snprintf(env_url, sizeof(env_url), "KERYU_BUS_URL=mqtt://127.0.0.1:%d",
		 test_free_port());
	spawn(&r, args, env);
	assert_true(wait_output(&r, "bus.connect_failed", 5000));
	t0 = now_ms();
	kill(r.pid, SIGTERM);
	assert_int_equal(wait_exit(&r, 3000), 1);
	assert_true(now_ms() - t0 < 2000); /* not the 30 s timeout */
	assert_non_null(strstr(output(&r), "keryud: start-up interrupted while "
					   "waiting for the broker\n"));
	/* what was initialised was cleaned up */
	assert_string_equal(slurp(trace_path, trace, sizeof(trace)),
			    "init tm_plain greeting=hello count=3\n"
			    "probe provide=-3 service=null\n"
			    "cleanup tm_plain\n");
}

static void test_sigterm_stops_in_reverse(void **unused)
{
	static const char *const args[] = {"--modules", "tm_consumer,tm_provider",
					   NULL};
	char trace[4096];
	struct run r;

	(void)unused;
	spawn(&r, args, NULL);
	assert_true(wait_output(&r, "info kernel kernel.started "
				    "modules=tm_provider,tm_consumer instance=kt",
				10000));
	kill(r.pid, SIGTERM);
	assert_int_equal(wait_exit(&r, 10000), 0);
	output(&r);
	assert_non_null(strstr(r.out, "info kernel kernel.stopping signal=TERM\n"));
	assert_non_null(strstr(r.out, "info kernel kernel.stopped\n"));
	assert_non_null(strstr(slurp(trace_path, trace, sizeof(trace)),
			       "stop tm_consumer\nstop tm_provider\n"
			       "cleanup tm_consumer\ncleanup tm_provider\n"));
}

static void test_watchdog_ends_a_hung_shutdown(void **unused)
{
	static const char *const args[] = {"--modules", "tm_slowstop", NULL};
	static const char *const env[] = {"KERYU_KERNEL_SHUTDOWN_TIMEOUT_S=1",
					  NULL};
	struct run r;
	int t0;

	(void)unused;
	spawn(&r, args, env);
	assert_true(wait_output(&r, "kernel.started", 10000));
	t0 = now_ms();
	kill(r.pid, SIGTERM);
	/* the module's stop sleeps 3 s; the watchdog ends it after 1 s */
	assert_int_equal(wait_exit(&r, 2500), 1);
	assert_true(now_ms() - t0 >= 900);
	assert_non_null(strstr(output(&r), "error kernel kernel.shutdown_timeout"));
	assert_null(strstr(r.out, "kernel.stopped"));
}

static void test_second_signal_exits_at_once(void **unused)
{
	static const char *const args[] = {"--modules", "tm_slowstop", NULL};
	struct run r;

	(void)unused;
	spawn(&r, args, NULL);
	assert_true(wait_output(&r, "kernel.started", 10000));
	kill(r.pid, SIGINT);
	assert_true(wait_output(&r, "kernel.stopping signal=INT", 2000));
	kill(r.pid, SIGTERM);
	assert_int_equal(wait_exit(&r, 1500), 130);
	assert_non_null(strstr(output(&r), "kernel.killed"));
}

/* Two keryud with the same [kernel] instance load the same module: the
 * same bus client id, which the broker gives to whichever connected last.
 * Instead of kicking each other out forever, one of them says why and
 * exits 1 through the normal shutdown; the other carries on. */
static void test_same_instance_twice(void **unused)
{
	static const char *const args[] = {"--modules", "tm_plain", NULL};
	static const char *const env[] = {"KERYU_BUS_RECONNECT_MAX_MS=1000",
					  NULL};
	struct run r[2];
	char out2[320];
	int end, status, loser = -1;

	(void)unused;
	snprintf(out2, sizeof(out2), "%s/keryud2.out", broker.dir);
	spawn(&r[0], args, env);
	assert_true(wait_output(&r[0], "kernel.started", 10000));
	spawn_to(&r[1], out2, args, env);
	end = now_ms() + 15000;
	while (loser < 0 && now_ms() < end) {
		for (int i = 0; i < 2 && loser < 0; i++) {
			if (waitpid(r[i].pid, &status, WNOHANG) == r[i].pid)
				loser = i;
		}
		sleep_ms(20);
	}
	if (loser < 0) {
		kill(r[0].pid, SIGKILL);
		kill(r[1].pid, SIGKILL);
		waitpid(r[0].pid, NULL, 0);
		waitpid(r[1].pid, NULL, 0);
	}
	assert_true(loser >= 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	output(&r[loser]);
	assert_non_null(strstr(r[loser].out,
			       "error tm_plain bus.session_taken_over "
			       "module=tm_plain client_id=kt-tm_plain hint=\"give "
			       "each keryud its own [kernel] instance\"\n"));
	assert_non_null(strstr(r[loser].out, "error kernel kernel.stopping "
					     "reason=bus_session_taken_over\n"));
	/* the other one is still there, and stops cleanly */
	sleep_ms(1500);
	kill(r[1 - loser].pid, SIGTERM);
	assert_int_equal(wait_exit(&r[1 - loser], 10000), 0);
	assert_null(strstr(output(&r[1 - loser]), "session_taken_over"));
	unlink(out2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config_is_one_line),
		cmocka_unit_test(test_unknown_module),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_no_broker),
		cmocka_unit_test(test_signal_while_waiting_for_broker),
		cmocka_unit_test(test_sigterm_stops_in_reverse),
		cmocka_unit_test(test_watchdog_ends_a_hung_shutdown),
		cmocka_unit_test(test_second_signal_exits_at_once),
		cmocka_unit_test(test_same_instance_twice),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
