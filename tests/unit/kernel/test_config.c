/* Configuration: layers, environment names, validation, --check-config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus.h"
#include "config.h"
#include "kernel.h"

static const struct keryu_option opts[] = {
	{"name", KERYU_OPT_STR, "dflt", "a name", 0, 0, 0},
	{"timeout_ms", KERYU_OPT_INT, "100", "a timeout", 0, 1, 1000},
	{"enabled", KERYU_OPT_BOOL, "false", "a switch", 0, 0, 0},
	{"endpoint", KERYU_OPT_URL, "https://example.org", "a URL", 0, 0, 0},
	{"token", KERYU_OPT_STR, NULL, "a secret", KERYU_OPT_SECRET, 0, 0},
	{0},
};

static const struct keryu_option required_opts[] = {
	{"token", KERYU_OPT_STR, NULL, "must be set",
	 KERYU_OPT_SECRET | KERYU_OPT_REQUIRED, 0, 0},
	{0},
};

/* Variables a test may set; all cleared between tests. */
static const char *const env_names[] = {
	"KERYU_WHATSAPP_NAME", "KERYU_WHATSAPP_TIMEOUT_MS",
	"KERYU_WHATSAPP_ENABLED", "KERYU_WHATSAPP_TOKEN",
	"KERYU_STORAGE_DATABASE_URL", "DATABASE_URL", "MQTT_URL",
	"KERYU_SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "KERYU_HTTP_PUBLIC_URL",
	"KERYU_KERNEL_INSTANCE", "KERYU_KERNEL_LOG_LEVEL", "KERYU_BUS_URL",
	"KERYU_KERNEL_DEBUG", "KERYU_WHATSAPP_ENDPOINT",
};

static char tmpdir[256];
static char oldcwd[4096];
static char err[1024];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Every test runs in an empty directory of its own, with a clean
 * environment. */
static int setup(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
	assert_non_null(getcwd(oldcwd, sizeof(oldcwd)));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/keryu-config-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(chdir(tmpdir), 0);
	err[0] = '\0';
	return 0;
}

static int teardown(void **unused)
{
	char cmd[512];

	(void)unused;
	assert_int_equal(chdir(oldcwd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Loads config/keryu.conf (when text is not NULL) and declares
 * [whatsapp] with opts. Returns the config; *rc gets config_declare's. */
static struct config *load(const char *text, const struct keryu_option *o,
			   int *rc)
{
	struct config *c = config_new();

	assert_non_null(c);
	if (text) {
		assert_int_equal(mkdir("config", 0700), 0);
		write_file("config/keryu.conf", text);
	}
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	*rc = config_declare(c, "whatsapp", o, err, sizeof(err));
	return c;
}

static void test_defaults(void **unused)
{
	int rc;
	struct config *c = load(NULL, opts, &rc);

	(void)unused;
	assert_int_equal(rc, 0);
	assert_string_equal(config_get(c, "whatsapp", "name"), "dflt");
	assert_int_equal(config_get_int(c, "whatsapp", "timeout_ms"), 100);
	assert_false(config_get_bool(c, "whatsapp", "enabled"));
	assert_string_equal(config_get(c, "whatsapp", "token"), "");
	assert_null(config_get(c, "whatsapp", "nosuch"));
	assert_null(config_get(c, "nosection", "name"));
	config_free(c);
}

static void test_file_values(void **unused)
{
	int rc;
	struct config *c = load("; comment\n[whatsapp]\nname = from file\n"
				"timeout_ms = 250\nenabled = yes\n"
				"[other]\nwhatever = 1\n",
				opts, &rc);

	(void)unused;
	assert_int_equal(rc, 0);
	assert_string_equal(config_get(c, "whatsapp", "name"), "from file");
	assert_int_equal(config_get_int(c, "whatsapp", "timeout_ms"), 250);
	assert_true(config_get_bool(c, "whatsapp", "enabled"));
	/* a section nobody declared is readable as raw text, never checked */
	assert_string_equal(config_lookup(c, "other", "whatever"), "1");
	assert_null(config_lookup(c, "other", "missing"));
	config_free(c);
}

static void test_env_beats_file(void **unused)
{
	int rc;
	struct config *c;

	(void)unused;
	setenv("KERYU_WHATSAPP_TIMEOUT_MS", "700", 1);
	c = load("[whatsapp]\ntimeout_ms = 250\n", opts, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(config_get_int(c, "whatsapp", "timeout_ms"), 700);
	config_free(c);
}

static void test_dotenv(void **unused)
{
	int rc;
	struct config *c;

	(void)unused;
	write_file(".env", "# comment\n\nKERYU_WHATSAPP_NAME=\"quoted name\"\n"
			   "export KERYU_WHATSAPP_TIMEOUT_MS = 300\n"
			   "KERYU_WHATSAPP_ENABLED='on'\n");
	setenv("KERYU_WHATSAPP_TIMEOUT_MS", "400", 1); /* real env wins */
	c = load("[whatsapp]\nname = file\nenabled = false\n", opts, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(config_get(c, "whatsapp", "name"), "quoted name");
	assert_int_equal(config_get_int(c, "whatsapp", "timeout_ms"), 400);
	assert_true(config_get_bool(c, "whatsapp", "enabled"));
	config_free(c);
}

static void test_dotenv_malformed(void **unused)
{
	struct config *c = config_new();

	(void)unused;
	write_file(".env", "OK=1\njust words\n");
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), KERYU_EINVAL);
	assert_string_equal(err, "config: .env:2: expected KEY=VALUE");
	config_free(c);
}

static const struct keryu_option storage_opts[] = {
	{"database_url", KERYU_OPT_URL, "postgresql://localhost/keryu", "db",
	 KERYU_OPT_SECRET, 0, 0},
	{0},
};

static void test_common_names(void **unused)
{
	struct config *c = config_new();

	(void)unused;
	setenv("DATABASE_URL", "postgresql://common/db", 1);
	setenv("MQTT_URL", "mqtt://broker:1884", 1);
	setenv("KERYU_SECRET_KEY", "s3cret", 1);
	setenv("DEBUG", "1", 1);
	setenv("ALLOWED_HOSTS", "a.example,b.example", 1);
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	assert_int_equal(
		config_declare(c, "storage", storage_opts, err, sizeof(err)), 0);
	assert_int_equal(kernel_config(c, err, sizeof(err)), 0);
	assert_string_equal(config_get(c, "storage", "database_url"),
			    "postgresql://common/db");
	assert_string_equal(config_get(c, "bus", "url"), "mqtt://broker:1884");
	assert_string_equal(config_get(c, "kernel", "secret_key"), "s3cret");
	assert_true(config_get_bool(c, "kernel", "debug"));
	/* [http] is nobody's here, yet the common name reaches it */
	assert_string_equal(config_lookup(c, "http", "allowed_hosts"),
			    "a.example,b.example");
	config_free(c);
}

static void test_specific_beats_common(void **unused)
{
	struct config *c = config_new();

	(void)unused;
	setenv("DATABASE_URL", "postgresql://common/db", 1);
	setenv("KERYU_STORAGE_DATABASE_URL", "postgresql://specific/db", 1);
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	assert_int_equal(
		config_declare(c, "storage", storage_opts, err, sizeof(err)), 0);
	assert_string_equal(config_get(c, "storage", "database_url"),
			    "postgresql://specific/db");
	config_free(c);
}

static void test_dotenv_common_name_under_real_env(void **unused)
{
	struct config *c = config_new();

	(void)unused;
	write_file(".env", "DATABASE_URL=postgresql://dotenv/db\n");
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	assert_int_equal(
		config_declare(c, "storage", storage_opts, err, sizeof(err)), 0);
	assert_string_equal(config_get(c, "storage", "database_url"),
			    "postgresql://dotenv/db");
	config_free(c);

	setenv("DATABASE_URL", "postgresql://real/db", 1);
	c = config_new();
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	assert_int_equal(
		config_declare(c, "storage", storage_opts, err, sizeof(err)), 0);
	assert_string_equal(config_get(c, "storage", "database_url"),
			    "postgresql://real/db");
	config_free(c);
}

static void test_override_beats_env(void **unused)
{
	struct config *c = config_new();

	(void)unused;
	setenv("KERYU_WHATSAPP_NAME", "env", 1);
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	assert_int_equal(config_set(c, "whatsapp", "name", "forced"), 0);
	assert_int_equal(config_declare(c, "whatsapp", opts, err, sizeof(err)),
			 0);
	assert_string_equal(config_get(c, "whatsapp", "name"), "forced");
	config_free(c);
}

static void test_missing_files(void **unused)
{
	struct config *c = config_new();

	(void)unused;
	/* the default file may be absent, an explicit one may not */
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	assert_int_equal(config_load(c, "nosuch.conf", err, sizeof(err)),
			 KERYU_EINVAL);
	assert_string_equal(
		err, "config: cannot open nosuch.conf: No such file or directory");
	config_free(c);
}

static void test_syntax_error(void **unused)
{
	struct config *c = config_new();

	(void)unused;
	write_file("bad.conf", "[whatsapp]\nname = x\nthis line is wrong\n");
	assert_int_equal(config_load(c, "bad.conf", err, sizeof(err)),
			 KERYU_EINVAL);
	assert_string_equal(err, "config: bad.conf:3: cannot parse line");
	config_free(c);
}

static void expect_error(const char *file, const struct keryu_option *o,
			 const char *message)
{
	int rc;
	struct config *c = load(file, o, &rc);

	assert_int_equal(rc, KERYU_EINVAL);
	assert_string_equal(err, message);
	/* a refused section is not half-declared */
	assert_null(config_get(c, "whatsapp", "name"));
	config_free(c);
}

static void test_unknown_key(void **unused)
{
	(void)unused;
	expect_error("[whatsapp]\nnmae = x\n", opts,
		     "config: [whatsapp] nmae: unknown option");
}

static void test_bad_int(void **unused)
{
	(void)unused;
	expect_error("[whatsapp]\ntimeout_ms = abc\n", opts,
		     "config: [whatsapp] timeout_ms: \"abc\" is not an integer");
}

static void test_int_trailing_garbage(void **unused)
{
	(void)unused;
	expect_error("[whatsapp]\ntimeout_ms = 10ms\n", opts,
		     "config: [whatsapp] timeout_ms: \"10ms\" is not an integer");
}

static void test_int_range(void **unused)
{
	(void)unused;
	expect_error("[whatsapp]\ntimeout_ms = 1001\n", opts,
		     "config: [whatsapp] timeout_ms: 1001 is not between 1 and "
		     "1000");
}

static void test_int_range_from_env(void **unused)
{
	(void)unused;
	setenv("KERYU_WHATSAPP_TIMEOUT_MS", "0", 1);
	expect_error(NULL, opts,
		     "config: [whatsapp] timeout_ms: 0 is not between 1 and "
		     "1000");
}

static void test_bad_bool(void **unused)
{
	(void)unused;
	expect_error("[whatsapp]\nenabled = maybe\n", opts,
		     "config: [whatsapp] enabled: \"maybe\" is not a boolean "
		     "(true/false)");
}

static void test_bool_spellings(void **unused)
{
	static const char *yes[] = {"true", "YES", "on", "1"};
	static const char *no[] = {"false", "No", "off", "0"};
	bool b;

	(void)unused;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(config_parse_bool(yes[i], &b), 0);
		assert_true(b);
		assert_int_equal(config_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	assert_int_equal(config_parse_bool("", &b), KERYU_EINVAL);
	assert_int_equal(config_parse_bool("2", &b), KERYU_EINVAL);
}

static void test_bad_url(void **unused)
{
	(void)unused;
	/* the value is not echoed: a URL may carry a password */
	expect_error("[whatsapp]\nendpoint = user:pw@host\n", opts,
		     "config: [whatsapp] endpoint: not a URL (expected "
		     "scheme://...)");
}

static void test_required(void **unused)
{
	int rc;
	struct config *c;

	(void)unused;
	expect_error("[whatsapp]\ntoken =\n", required_opts,
		     "config: [whatsapp] token: is required");
	teardown(NULL);
	setup(NULL);
	setenv("KERYU_WHATSAPP_TOKEN", "abc", 1);
	c = load(NULL, required_opts, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(config_get(c, "whatsapp", "token"), "abc");
	config_free(c);
}

static char *print_section(struct config *c, const char *section)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(config_print(c, section, f), 0);
	fclose(f);
	return buf;
}

static void test_print_masks_secrets(void **unused)
{
	int rc;
	struct config *c;
	char *out;

	(void)unused;
	setenv("KERYU_WHATSAPP_TOKEN", "tok-very-secret", 1);
	setenv("MQTT_URL", "mqtt://user:hunter2@broker:1883", 1);
	c = load("[whatsapp]\nname = shown\n", opts, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(kernel_config(c, err, sizeof(err)), 0);
	out = print_section(c, "whatsapp");
	assert_null(strstr(out, "tok-very-secret"));
	assert_non_null(strstr(out, "[whatsapp] token = ********  # a secret\n"));
	assert_non_null(strstr(out, "[whatsapp] name = shown  # a name\n"));
	assert_non_null(strstr(out, "[whatsapp] timeout_ms = 100  # a timeout\n"));
	free(out);
	out = print_section(c, "bus");
	assert_null(strstr(out, "hunter2"));
	assert_non_null(strstr(out, "[bus] url = mqtt://user:********@broker:1883"));
	free(out);
	/* an empty secret shows as empty: nothing to hide, and it tells the
	 * operator that it is unset */
	out = print_section(c, "kernel");
	assert_non_null(strstr(out, "[kernel] secret_key =   # "));
	free(out);
	config_free(c);
}

/* The bus takes the password up to the LAST '@' (an unescaped '@' may be
 * in it); masking must cut at the same place or it prints the rest. */
static void test_print_masks_password_with_at(void **unused)
{
	struct bus_url u;
	struct config *c;
	char *out;
	int rc;

	(void)unused;
	setenv("MQTT_URL", "mqtt://user:se@cret@host", 1);
	setenv("KERYU_WHATSAPP_ENDPOINT", "https://u:p@ss@api.example/x@y", 1);
	c = load(NULL, opts, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(kernel_config(c, err, sizeof(err)), 0);
	assert_int_equal(bus_parse_url(config_get(c, "bus", "url"), &u), 0);
	assert_string_equal(u.user, "user");
	assert_string_equal(u.pass, "se@cret");
	assert_string_equal(u.host, "host");
	out = print_section(c, "bus");
	assert_null(strstr(out, "cret"));
	assert_non_null(strstr(out, "[bus] url = mqtt://user:********@host  #"));
	free(out);
	/* any URL option: an '@' after the first '/' is the path's */
	out = print_section(c, "whatsapp");
	assert_null(strstr(out, "ss@"));
	assert_non_null(strstr(
		out, "[whatsapp] endpoint = https://u:********@api.example/x@y  #"));
	free(out);
	config_free(c);
}

static void test_kernel_sections(void **unused)
{
	struct config *c = config_new();
	char host[256] = "";

	(void)unused;
	assert_int_equal(config_load(c, NULL, err, sizeof(err)), 0);
	assert_int_equal(kernel_config(c, err, sizeof(err)), 0);
	gethostname(host, sizeof(host));
	assert_string_equal(config_get(c, "kernel", "instance"), host);
	assert_string_equal(config_get(c, "kernel", "modules"),
			    "storage,qr,http,alarms,log");
	assert_int_equal(config_get_int(c, "kernel", "shutdown_timeout_s"), 10);
	assert_int_equal(config_get_int(c, "kernel", "connect_timeout_s"), 30);
	assert_string_equal(config_get(c, "bus", "url"), "mqtt://127.0.0.1:1883");
	assert_int_equal(config_get_int(c, "bus", "session_expiry_s"), 86400);
	assert_int_equal(config_get_int(c, "bus", "reconnect_min_ms"), 250);
	assert_int_equal(config_get_int(c, "bus", "reconnect_max_ms"), 10000);
	assert_true(strlen(config_get(c, "kernel", "module_dir")) > 0);
	config_free(c);
}

static void expect_kernel_error(const char *file, const char *message)
{
	struct config *c = config_new();

	write_file("k.conf", file);
	assert_int_equal(config_load(c, "k.conf", err, sizeof(err)), 0);
	assert_int_equal(kernel_config(c, err, sizeof(err)), KERYU_EINVAL);
	assert_string_equal(err, message);
	config_free(c);
}

static void test_kernel_errors(void **unused)
{
	(void)unused;
	expect_kernel_error("[kernel]\ninstance = a/b\n",
			    "config: [kernel] instance: \"a/b\" may only hold "
			    "letters, digits, '.', '_' and '-'");
	expect_kernel_error("[kernel]\nlog_level = loud\n",
			    "config: [kernel] log_level: \"loud\" is not one of "
			    "debug, info, warn, error");
	expect_kernel_error("[kernel]\nshutdown_timeout_s = 0\n",
			    "config: [kernel] shutdown_timeout_s: 0 is not "
			    "between 1 and 3600");
	expect_kernel_error("[kernel]\nverbose = 1\n",
			    "config: [kernel] verbose: unknown option");
	expect_kernel_error("[bus]\nurl = http://broker\n",
			    "config: [bus] url: expected "
			    "mqtt://[user[:password]@]host[:port]");
	expect_kernel_error("[bus]\nurl = mqtt://broker:99999\n",
			    "config: [bus] url: expected "
			    "mqtt://[user[:password]@]host[:port]");
}

static void test_bus_url(void **unused)
{
	struct bus_url u;

	(void)unused;
	assert_int_equal(bus_parse_url("mqtt://broker", &u), 0);
	assert_string_equal(u.host, "broker");
	assert_int_equal(u.port, 1883);
	assert_string_equal(u.user, "");
	assert_string_equal(u.pass, "");

	assert_int_equal(bus_parse_url("mqtt://me:p%40ss:w@10.0.0.1:2883/", &u),
			 0);
	assert_string_equal(u.host, "10.0.0.1");
	assert_int_equal(u.port, 2883);
	assert_string_equal(u.user, "me");
	assert_string_equal(u.pass, "p@ss:w");

	assert_int_equal(bus_parse_url("mqtt://only@[::1]:1884", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 1884);
	assert_string_equal(u.user, "only");

	assert_int_equal(bus_parse_url("mqtts://broker", &u), KERYU_EINVAL);
	assert_int_equal(bus_parse_url("mqtt://", &u), KERYU_EINVAL);
	assert_int_equal(bus_parse_url("mqtt://broker:", &u), KERYU_EINVAL);
	assert_int_equal(bus_parse_url("mqtt://broker:0", &u), KERYU_EINVAL);
	assert_int_equal(bus_parse_url("mqtt://broker:1x", &u), KERYU_EINVAL);
	assert_int_equal(bus_parse_url("mqtt://broker/path", &u), KERYU_EINVAL);
	assert_int_equal(bus_parse_url("mqtt://u:%zz@broker", &u), KERYU_EINVAL);
	assert_int_equal(bus_parse_url("mqtt://[::1", &u), KERYU_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_defaults),
		T(test_file_values),
		T(test_env_beats_file),
		T(test_dotenv),
		T(test_dotenv_malformed),
		T(test_common_names),
		T(test_specific_beats_common),
		T(test_dotenv_common_name_under_real_env),
		T(test_override_beats_env),
		T(test_missing_files),
		T(test_syntax_error),
		T(test_unknown_key),
		T(test_bad_int),
		T(test_int_trailing_garbage),
		T(test_int_range),
		T(test_int_range_from_env),
		T(test_bad_bool),
		T(test_bool_spellings),
		T(test_bad_url),
		T(test_required),
		T(test_print_masks_secrets),
		T(test_print_masks_password_with_at),
		T(test_kernel_sections),
		T(test_kernel_errors),
		T(test_bus_url),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
