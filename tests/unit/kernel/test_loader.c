/* Module loading, dependency order and the lifecycle, with the test
 * modules of test_module.c. Each module appends its calls to the file
 * named by KERYU_TEST_TRACE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "kernel.h"

static char trace_path[256];
static struct config *cfg;
static struct kernel *k;

static int setup(void **unused)
{
	int fd;

	(void)unused;
	snprintf(trace_path, sizeof(trace_path), "/tmp/keryu-trace-XXXXXX");
	fd = mkstemp(trace_path);
	assert_true(fd >= 0);
	close(fd);
	setenv("KERYU_TEST_TRACE", trace_path, 1);
	cfg = NULL;
	k = NULL;
	return 0;
}

static int teardown(void **unused)
{
	(void)unused;
	kernel_free(k);
	config_free(cfg);
	unlink(trace_path);
	unsetenv("KERYU_TEST_TRACE");
	return 0;
}

/* Loads modules from the test module directory; returns kernel_load's
 * code. extra, when not NULL, is {section, key, value} set beforehand. */
static int load(const char *modules, const char *const *extra)
{
	char err[512];

	cfg = config_new();
	assert_non_null(cfg);
	assert_int_equal(config_set(cfg, "kernel", "modules", modules), 0);
	assert_int_equal(config_set(cfg, "kernel", "module_dir",
				    KERYU_TEST_MODULE_DIR),
			 0);
	for (; extra && extra[0]; extra += 3)
		assert_int_equal(config_set(cfg, extra[0], extra[1], extra[2]), 0);
	assert_int_equal(kernel_config(cfg, err, sizeof(err)), 0);
	k = kernel_new(cfg);
	assert_non_null(k);
	return kernel_load(k);
}

static char *trace(void)
{
	static char buf[4096];
	FILE *f = fopen(trace_path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void expect_load_error(const char *modules, const char *message)
{
	assert_int_equal(load(modules, NULL), KERYU_EINVAL);
	assert_non_null(strstr(kernel_error(k), message));
	/* one line, naming the problem */
	assert_null(strchr(kernel_error(k), '\n'));
}

static void test_lifecycle_order(void **unused)
{
	char names[256];

	(void)unused;
	assert_int_equal(load("tm_consumer, tm_plain ,tm_provider", NULL), 0);
	kernel_module_names(k, names, sizeof(names));
	/* the provider moves ahead of its consumer; the rest keep list order */
	assert_string_equal(names, "tm_provider,tm_consumer,tm_plain");
	assert_int_equal(kernel_start(k, false), 0);
	kernel_stop(k, 1000);
	assert_string_equal(trace(),
			    "init tm_provider greeting=hello count=3\n"
			    "init tm_consumer greeting=hello count=3\n"
			    "service thing found\n"
			    "init tm_plain greeting=hello count=3\n"
			    "probe provide=-3 service=null\n"
			    "start tm_provider\n"
			    "start tm_consumer\n"
			    "start tm_plain\n"
			    "stop tm_plain\n"
			    "stop tm_consumer\n"
			    "stop tm_provider\n"
			    "cleanup tm_plain\n"
			    "cleanup tm_consumer\n"
			    "cleanup tm_provider\n");
	assert_non_null(kernel_service(k, "thing"));
	assert_null(kernel_service(k, "undeclared"));
}

static void test_module_config(void **unused)
{
	static const char *const set[] = {"tm_plain", "greeting", "hi there",
					  "whatsapp", "timeout_ms", "abc", NULL};

	(void)unused;
	/* [whatsapp] is not loaded here: its bad value is none of our
	 * business (a worker may share the file) */
	assert_int_equal(load("tm_plain", set), 0);
	assert_int_equal(kernel_start(k, false), 0);
	assert_non_null(strstr(trace(), "init tm_plain greeting=hi there count=3"));
}

/* host->global reads only what module.h lists, never another module's
 * section (where its secrets are). */
static void test_global_is_limited(void **unused)
{
	static const char *const set[] = {
		"storage", "database_url", "postgresql://u:pw@db/keryu",
		"whatsapp", "token", "tok-secret",
		"http", "public_url", "https://keryu.example",
		"kernel", "secret_key", "sk",
		"kernel", "instance", "box1",
		NULL};
	const struct keryu_host *h;
	keryu_mod *m;

	(void)unused;
	assert_int_equal(load("tm_plain", set), 0);
	h = &k->host;
	m = &k->mods[0];
	assert_string_equal(h->global(m, "http", "public_url"),
			    "https://keryu.example");
	assert_string_equal(h->global(m, "kernel", "instance"), "box1");
	assert_string_equal(h->global(m, "kernel", "secret_key"), "sk");
	assert_string_equal(h->global(m, "kernel", "debug"), "false");
	assert_non_null(strstr(h->global(m, "bus", "url"), "mqtt://"));
	assert_null(h->global(m, "storage", "database_url"));
	assert_null(h->global(m, "whatsapp", "token"));
	assert_null(h->global(m, "kernel", "modules"));
	assert_null(h->global(m, "bus", "keepalive_s"));
	assert_null(h->global(m, "tm_plain", "greeting"));
	assert_null(h->global(m, NULL, "url"));
	assert_null(h->global(m, "bus", NULL));
}

/* keryud and the keryu CLI share this start: file, overrides, checks,
 * modules. */
static void test_kernel_open(void **unused)
{
	const char *const set[] = {
		"kernel", "modules", "tm_plain",
		"kernel", "module_dir", KERYU_TEST_MODULE_DIR,
		"tm_plain", "count", NULL, /* skipped */
		NULL};
	const char *const bad[] = {
		"kernel", "modules", "tm_plain",
		"kernel", "module_dir", KERYU_TEST_MODULE_DIR,
		"tm_plain", "count", "abc",
		NULL};
	const char *const missing[] = {
		"kernel", "modules", "tm_plain,nosuch",
		"kernel", "module_dir", KERYU_TEST_MODULE_DIR,
		NULL};
	char path[] = "/tmp/keryu-open-XXXXXX", err[512], names[64];
	int fd = mkstemp(path);

	(void)unused;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[tm_plain]\ngreeting = from file\n", 32), 32);
	close(fd);

	assert_int_equal(kernel_open(path, set, &cfg, &k, err, sizeof(err)), 0);
	kernel_module_names(k, names, sizeof(names));
	assert_string_equal(names, "tm_plain");
	assert_string_equal(config_get(cfg, "tm_plain", "greeting"), "from file");
	assert_int_equal(config_get_int(cfg, "tm_plain", "count"), 3);
	kernel_free(k);
	config_free(cfg);

	/* failures leave a message and nothing to free */
	k = (struct kernel *)1;
	assert_int_equal(kernel_open(path, bad, &cfg, &k, err, sizeof(err)),
			 KERYU_EINVAL);
	assert_null(k);
	assert_null(cfg);
	assert_string_equal(err, "config: [tm_plain] count: \"abc\" is not an "
				 "integer");
	assert_int_equal(kernel_open(path, missing, &cfg, &k, err, sizeof(err)),
			 KERYU_EINVAL);
	assert_null(k);
	assert_non_null(strstr(err, "module nosuch: cannot open"));
	assert_int_equal(kernel_open("/nonexistent/keryu.conf", set, &cfg, &k,
				     err, sizeof(err)),
			 KERYU_EINVAL);
	assert_non_null(strstr(err, "cannot open /nonexistent/keryu.conf"));
	unlink(path);
}

static void test_module_config_invalid(void **unused)
{
	static const char *const set[] = {"tm_plain", "count", "99", NULL};

	(void)unused;
	assert_int_equal(load("tm_plain", set), KERYU_EINVAL);
	assert_string_equal(kernel_error(k),
			    "config: [tm_plain] count: 99 is not between 1 and 10");
}

static void test_module_config_unknown(void **unused)
{
	static const char *const set[] = {"tm_plain", "colour", "red", NULL};

	(void)unused;
	assert_int_equal(load("tm_plain", set), KERYU_EINVAL);
	assert_string_equal(kernel_error(k),
			    "config: [tm_plain] colour: unknown option");
}

static void test_wrong_abi(void **unused)
{
	(void)unused;
	expect_load_error("tm_plain,tm_badabi",
			  "module tm_badabi was built for ABI 7, keryud speaks 1");
}

static void test_no_symbol(void **unused)
{
	(void)unused;
	expect_load_error("tm_nosym", "module tm_nosym: ");
	assert_non_null(strstr(kernel_error(k), "exports no symbol keryu_module"));
}

static void test_missing_file(void **unused)
{
	(void)unused;
	expect_load_error("tm_nowhere", "module tm_nowhere: cannot open: ");
}

static void test_misnamed(void **unused)
{
	(void)unused;
	expect_load_error("tm_misnamed",
			  "module tm_misnamed: descriptor names it \"other\"");
}

static void test_bad_module_name(void **unused)
{
	(void)unused;
	expect_load_error("../tm_plain",
			  "config: [kernel] modules: \"../tm_plain\" is not a "
			  "module name");
}

static void test_listed_twice(void **unused)
{
	(void)unused;
	expect_load_error("tm_plain,tm_plain", "module tm_plain is listed twice");
}

static void test_service_twice(void **unused)
{
	(void)unused;
	expect_load_error("tm_provider,tm_provider2",
			  "service \"thing\" is provided by both module "
			  "tm_provider and module tm_provider2");
}

static void test_missing_service(void **unused)
{
	(void)unused;
	expect_load_error("tm_plain,tm_orphan",
			  "module tm_orphan requires service \"nothing\", which "
			  "no listed module provides");
}

static void test_cycle(void **unused)
{
	(void)unused;
	expect_load_error("tm_cyca,tm_cycb", "dependency cycle");
}

static void test_init_fails(void **unused)
{
	(void)unused;
	assert_int_equal(load("tm_provider,tm_initfail,tm_plain", NULL), 0);
	assert_int_equal(kernel_start(k, false), KERYU_EIO);
	assert_string_equal(kernel_error(k),
			    "module tm_initfail: init failed: unavailable");
	/* nothing started, so nothing stops; what was initialised is cleaned
	 * up in reverse; a module whose init failed cleaned up after itself */
	assert_string_equal(trace(),
			    "init tm_provider greeting=hello count=3\n"
			    "init tm_initfail greeting=hello count=3\n"
			    "cleanup tm_provider\n");
}

static void test_start_fails(void **unused)
{
	(void)unused;
	assert_int_equal(load("tm_plain,tm_startfail,tm_provider", NULL), 0);
	assert_int_equal(kernel_start(k, false), KERYU_EINVAL);
	assert_string_equal(kernel_error(k),
			    "module tm_startfail: start failed: invalid");
	assert_string_equal(trace(),
			    "init tm_plain greeting=hello count=3\n"
			    "probe provide=-3 service=null\n"
			    "init tm_startfail greeting=hello count=3\n"
			    "init tm_provider greeting=hello count=3\n"
			    "start tm_plain\n"
			    "start tm_startfail\n"
			    "stop tm_plain\n"
			    "cleanup tm_provider\n"
			    "cleanup tm_startfail\n"
			    "cleanup tm_plain\n");
}

static void test_service_not_provided(void **unused)
{
	(void)unused;
	assert_int_equal(load("tm_consumer,tm_lazy", NULL), 0);
	assert_int_equal(kernel_start(k, false), KERYU_ERR);
	assert_string_equal(kernel_error(k),
			    "module tm_lazy: init did not provide service "
			    "\"thing\"");
	assert_string_equal(trace(), "init tm_lazy greeting=hello count=3\n"
				     "cleanup tm_lazy\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_lifecycle_order),
		T(test_module_config),
		T(test_global_is_limited),
		T(test_kernel_open),
		T(test_module_config_invalid),
		T(test_module_config_unknown),
		T(test_wrong_abi),
		T(test_no_symbol),
		T(test_missing_file),
		T(test_misnamed),
		T(test_bad_module_name),
		T(test_listed_twice),
		T(test_service_twice),
		T(test_missing_service),
		T(test_cycle),
		T(test_init_fails),
		T(test_start_fails),
		T(test_service_not_provided),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
