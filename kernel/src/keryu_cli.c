/* keryu: administration commands that run one module in-process, without
 * the bus (migrations, QR codes, custodians, exports, retention), with
 * keryud's configuration. Errors are one line on stderr.
 *
 * Exit codes: 0 success, 1 the command failed, 2 bad usage or
 * configuration. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <sodium.h>

#include <keryu/accounts.h>
#include <keryu/admin.h>
#include <keryu/events.h>
#include <keryu/qr.h>
#include <keryu/storage.h>
#include <keryu/subjects.h>

#include "bus.h"

#include "config.h"
#include "kernel.h"
#include "log.h"

#define PROG "keryu"

static const char usage[] =
	"usage: keryu [--config PATH] [--module-dir DIR] <command> [args]\n"
	"\n"
	"commands:\n"
	"  migrate                  apply pending database migrations\n"
	"  qr <uuid> -o FILE        write the QR code of a tag (.png or .svg)\n"
	"  check-config             print the effective configuration\n"
	"  check                    configuration, database and broker reachable\n"
	"  createsuperuser          create a staff custodian\n"
	"  custodian list|deactivate\n"
	"                           list custodians, or deactivate one\n"
	"  export alarms            every alarm as CSV on stdout\n"
	"  purge                    apply the retention: finder data, alarms,\n"
	"                           audit entries\n"
	"\n"
	"  keryu <command> --help   help on one command\n"
	"  keryu --version          print the version\n";

static const char usage_migrate[] =
	"usage: keryu migrate\n"
	"Loads the storage module with [storage] migrate_on_start = true,\n"
	"applies every pending migration, and exits.\n";

static const char usage_qr[] =
	"usage: keryu qr <uuid> -o FILE\n"
	"Writes the QR code of the tag's scan URL to FILE, as PNG or SVG\n"
	"according to its extension.\n";

static const char usage_check[] =
	"usage: keryu check-config\n"
	"Prints the effective configuration of the kernel, the bus and every\n"
	"configured module, secrets masked; exits 2 if it is invalid.\n";

/* Options common to every command. */
struct common {
	const char *config;
	const char *module_dir;
};

/* The options of one command; which ones it takes is the mask given to
 * parse(). */
enum {
	OPT_OUT = 1u << 0,
	OPT_EMAIL = 1u << 1,
	OPT_PHONE = 1u << 2,
	OPT_NAME = 1u << 3,
	OPT_PW_STDIN = 1u << 4,
	OPT_SEARCH = 1u << 5,
	OPT_SINCE = 1u << 6,
	OPT_UNTIL = 1u << 7,
	OPT_DAYS = 1u << 8,
	OPT_FINDER_DAYS = 1u << 9,
	OPT_ALARM_DAYS = 1u << 10,
	OPT_AUDIT_DAYS = 1u << 11,
};

struct opts {
	const char *out, *email, *phone, *name, *search, *since, *until,
		*days, *finder_days, *alarm_days, *audit_days;
	bool pw_stdin;
};

/* Prints "keryu: <what>: <message> (see keryu <what> --help)" and returns
 * 2: the one line a bad usage gets. */
static int usage_error(const char *what, const char *fmt, ...)
	KERYU_PRINTF(2, 3);
static int usage_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see " PROG " %s --help)\n", what);
	return 2;
}

/* Parses the common options and those of allowed into o (which may be
 * NULL when allowed is 0). Before the command (top) it stops at the first
 * word; after it, options and arguments may come in any order. Returns -1
 * to go on, or the exit code. */
static int parse(int argc, char **argv, const char *what, const char *help,
		 bool top, struct common *c, unsigned allowed, struct opts *o)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"module-dir", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"email", required_argument, NULL, 256 + 1},
		{"phone", required_argument, NULL, 256 + 2},
		{"name", required_argument, NULL, 256 + 3},
		{"password-stdin", no_argument, NULL, 256 + 4},
		{"search", required_argument, NULL, 256 + 5},
		{"since", required_argument, NULL, 256 + 6},
		{"until", required_argument, NULL, 256 + 7},
		{"days", required_argument, NULL, 256 + 8},
		{"finder-days", required_argument, NULL, 256 + 9},
		{"alarm-days", required_argument, NULL, 256 + 10},
		{"audit-days", required_argument, NULL, 256 + 11},
		{0},
	};
	int ch, li;

	optind = 0; /* glibc: start afresh on a new argv */
	optopt = 0;
	opterr = 0; /* our own message names the program, not the command */
	while ((ch = getopt_long(argc, argv, top ? "+" : "o:", opts, &li)) !=
	       -1) {
		/* a known option this command does not take; argv[optind - 1]
		 * may be its value, so name it from the table */
		if (ch > 256 && !(allowed & (1u << (ch - 256))))
			return usage_error(what, "bad option \"--%s\"",
					   opts[li].name);
		switch (ch) {
		case 'c': c->config = optarg; break;
		case 'd': c->module_dir = optarg; break;
		case 'o':
			if (!(allowed & OPT_OUT))
				goto bad;
			o->out = optarg;
			break;
		case 'v':
			if (!top)
				goto bad;
			puts(PROG " " KERYU_VERSION);
			return 0;
		case 'h': fputs(help, stdout); return 0;
		case 256 + 1: o->email = optarg; break;
		case 256 + 2: o->phone = optarg; break;
		case 256 + 3: o->name = optarg; break;
		case 256 + 4: o->pw_stdin = true; break;
		case 256 + 5: o->search = optarg; break;
		case 256 + 6: o->since = optarg; break;
		case 256 + 7: o->until = optarg; break;
		case 256 + 8: o->days = optarg; break;
		case 256 + 9: o->finder_days = optarg; break;
		case 256 + 10: o->alarm_days = optarg; break;
		case 256 + 11: o->audit_days = optarg; break;
		default:
			/* getopt's '?' with optopt set: a known option
			 * without its value */
			if (!top && (optopt == 'o' || optopt > 256))
				return usage_error(what,
						   "option \"%s\" needs a value",
						   argv[optind - 1]);
			goto bad;
		}
	}
	return -1;
bad:
	if (top) {
		fprintf(stderr, PROG ": bad option \"%s\" (see " PROG
				" --help)\n",
			argv[optind - 1]);
		return 2;
	}
	return usage_error(what, "bad option \"%s\"", argv[optind - 1]);
}

/* For commands that take no argument besides options. */
static int parse_plain(int argc, char **argv, const char *what,
		       const char *help, struct common *c, unsigned allowed,
		       struct opts *o)
{
	int rc = parse(argc, argv, what, help, false, c, allowed, o);

	if (rc < 0 && optind < argc)
		return usage_error(what, "unexpected argument \"%s\"",
				   argv[optind]);
	return rc;
}

/* Loads the configuration and the modules given (NULL: the configured
 * ones), with one optional override. Prints the error and returns NULL. */
static struct kernel *load(const struct common *c, const char *modules,
			   const char *const set[3], struct config **cfg)
{
	const char *const all[] = {
		"kernel", "modules", modules,
		"kernel", "module_dir", c->module_dir,
		set ? set[0] : "", set ? set[1] : "", set ? set[2] : NULL,
		NULL};
	char err[1024];
	struct kernel *k;

	if (kernel_open(c->config, all, cfg, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return NULL;
	}
	return k;
}

static int cmd_check_config(int argc, char **argv, struct common *c)
{
	struct config *cfg;
	struct kernel *k;
	int rc = parse_plain(argc, argv, "check-config", usage_check, c, 0,
			     NULL);

	if (rc >= 0)
		return rc;
	k = load(c, NULL, NULL, &cfg);
	if (k)
		kernel_print_config(k, stdout);
	kernel_free(k);
	config_free(cfg);
	return k ? 0 : 2;
}

static int cmd_migrate(int argc, char **argv, struct common *c)
{
	static const char *const force[3] = {"storage", "migrate_on_start",
					     "true"};
	struct config *cfg;
	struct kernel *k;
	int rc = parse_plain(argc, argv, "migrate", usage_migrate, c, 0, NULL);

	if (rc >= 0)
		return rc;
	k = load(c, "storage", force, &cfg);
	if (!k) {
		config_free(cfg);
		return 2;
	}
	rc = kernel_start(k, false);
	if (rc != 0)
		fprintf(stderr, PROG ": migrate: %s\n", kernel_error(k));
	kernel_free(k);
	config_free(cfg);
	return rc == 0 ? 0 : 1;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcasecmp(s + n - m, suffix) == 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	if (!ok)
		unlink(path); /* a truncated image is worse than none */
	return ok ? 0 : -1;
}

/* Renders and writes; returns the exit code. */
static int render_qr(const struct keryu_qr *qr, const char *uuid,
		     const char *path)
{
	char url[2048];
	void *data = NULL;
	size_t len = 0;
	int rc;

	rc = qr->scan_url(qr->self, uuid, url, sizeof(url));
	if (rc == 0 && ends_with(path, ".png"))
		rc = qr->png(qr->self, url, (unsigned char **)&data, &len);
	else if (rc == 0)
		rc = qr->svg(qr->self, url, (char **)&data, &len);
	if (rc != 0) {
		fprintf(stderr, PROG ": qr: cannot render the code: %s\n",
			keryu_strerror(rc));
		return 1;
	}
	rc = write_file(path, data, len);
	free(data);
	if (rc != 0) {
		fprintf(stderr, PROG ": qr: cannot write %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	printf("%s: %s\n", path, url);
	return 0;
}

static int cmd_qr(int argc, char **argv, struct common *c)
{
	struct opts o = {0};
	const char *out, *uuid;
	const struct keryu_qr *qr;
	struct config *cfg;
	struct kernel *k;
	int rc = parse(argc, argv, "qr", usage_qr, false, c, OPT_OUT, &o);

	if (rc >= 0)
		return rc;
	out = o.out;
	if (argc - optind != 1 || !out)
		return usage_error("qr", "needs one tag UUID and -o FILE");
	uuid = argv[optind];
	if (!keryu_uuid_valid(uuid)) {
		fprintf(stderr, PROG ": qr: \"%s\" is not a UUID\n", uuid);
		return 2;
	}
	if (!ends_with(out, ".png") && !ends_with(out, ".svg")) {
		fprintf(stderr, PROG ": qr: %s: the file name must end in .png "
				"or .svg\n",
			out);
		return 2;
	}
	k = load(c, "qr", NULL, &cfg);
	if (!k) {
		config_free(cfg);
		return 2;
	}
	rc = kernel_start(k, false);
	if (rc != 0) {
		fprintf(stderr, PROG ": qr: %s\n", kernel_error(k));
		rc = 1;
	} else if (!(qr = kernel_service(k, KERYU_SERVICE_QR)) ||
		   qr->struct_size < sizeof(struct keryu_qr)) {
		fprintf(stderr, PROG ": qr: module qr offers no usable \"%s\" "
				"service\n",
			KERYU_SERVICE_QR);
		rc = 1;
	} else {
		rc = render_qr(qr, uuid, out);
	}
	kernel_free(k);
	config_free(cfg);
	return rc;
}

/* ---- the administration commands ---- */

static const char usage_check_all[] =
	"usage: keryu check\n"
	"Checks that the configuration is valid, the database is reachable\n"
	"(storage ping) and the broker accepts a connection; prints one line\n"
	"per part, and exits 1 naming what failed.\n";

static const char usage_createsuperuser[] =
	"usage: keryu createsuperuser --email E --phone +E164 [--name N]\n"
	"                             [--password-stdin]\n"
	"Creates an active staff custodian whose phone counts as verified.\n"
	"On a terminal, asks for what the options leave out; the password is\n"
	"read from stdin (first line) with --password-stdin, never from the\n"
	"command line. The name defaults to the email's local part.\n";

static const char usage_custodian[] =
	"usage: keryu custodian list [--search TEXT]\n"
	"       keryu custodian deactivate <email|uuid>\n"
	"list: one custodian a line, tab-separated: id, email, name, active,\n"
	"staff, created (oldest first); --search keeps those whose email or\n"
	"name contains TEXT, ignoring case.\n"
	"deactivate: the custodian can no longer log in; their sessions end.\n";

static const char usage_export[] =
	"usage: keryu export alarms [--since YYYY-MM-DD] [--until YYYY-MM-DD]\n"
	"Writes every custodian's alarms scanned in the given UTC days\n"
	"(inclusive) as CSV (RFC 4180) on stdout, oldest first: alarm_id,\n"
	"scanned_at, subject_id, notification_status, acknowledged_at,\n"
	"resolved_at, joined_alarm_id.\n";

static const char usage_purge[] =
	"usage: keryu purge [--finder-days N] [--alarm-days N] [--audit-days N]\n"
	"Applies the retention, in batches, and prints the rows purged per\n"
	"kind:\n"
	"  finder data  the location, address hash, browser and words of the\n"
	"               alarms scanned more than N days ago are cleared\n"
	"  alarms       alarms scanned more than N days ago are deleted, with\n"
	"               their notifications and timeline\n"
	"  audit        audit log entries older than N days are deleted\n"
	"Each N (1 to 36500) defaults to the setting staff stored\n"
	"(finder_retention_days, alarm_retention_days, audit_retention_days),\n"
	"else to the [alarms] option of that name; 0 there keeps that kind\n"
	"for good. --days N is --finder-days N (kept for older scripts).\n";

/* The kernel with the storage module started without the bus, and its
 * services. */
struct store {
	struct config *cfg;
	struct kernel *k;
	const struct keryu_storage *st;
	const struct keryu_accounts *ac;
	const struct keryu_subjects *sj;
};

static void store_close(struct store *s)
{
	kernel_free(s->k);
	config_free(s->cfg);
	memset(s, 0, sizeof(*s));
}

/* The command's own line is what the user reads (one line on error, the
 * result on success): the modules' log lines would bury it. */
static void quiet_logs(void)
{
	log_set_level((enum keryu_log_level)(KERYU_LOG_ERROR + 1));
}

/* Starts storage; returns 0, or the exit code after printing the line. */
static int store_open(const struct common *c, const char *what,
		      struct store *s)
{
	memset(s, 0, sizeof(*s));
	s->k = load(c, "storage", NULL, &s->cfg);
	if (!s->k) {
		config_free(s->cfg);
		s->cfg = NULL;
		return 2;
	}
	quiet_logs();
	if (kernel_start(s->k, false) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", what, kernel_error(s->k));
		store_close(s);
		return 1;
	}
	s->st = kernel_service(s->k, KERYU_SERVICE_STORAGE);
	s->ac = kernel_service(s->k, KERYU_SERVICE_ACCOUNTS);
	s->sj = kernel_service(s->k, KERYU_SERVICE_SUBJECTS);
	if (!s->st || !s->ac || !s->sj ||
	    s->ac->struct_size < sizeof(struct keryu_accounts) ||
	    s->sj->struct_size < sizeof(struct keryu_subjects)) {
		fprintf(stderr, PROG ": %s: the storage module is too old for "
				"this command\n",
			what);
		store_close(s);
		return 1;
	}
	return 0;
}

/* ---- check ---- */

static void on_connack(struct mosquitto *mosq, void *arg, int rc)
{
	(void)mosq;
	*(int *)arg = rc;
}

/* Connects to the broker of [bus] url and disconnects. Returns 0, or -1
 * with the reason in err. */
static int broker_ping(const struct config *cfg, char *err, size_t errlen)
{
	struct bus_url url;
	struct mosquitto *mosq;
	int connack = -1, rc, timeout_s;
	time_t until;

	if (bus_parse_url(config_get(cfg, "bus", "url"), &url) != 0) {
		snprintf(err, errlen, "[bus] url is not an mqtt:// URL");
		return -1;
	}
	timeout_s = (int)config_get_int(cfg, "kernel", "connect_timeout_s");
	if (timeout_s <= 0 || timeout_s > 10)
		timeout_s = 10;
	mosquitto_lib_init();
	mosq = mosquitto_new(NULL, true, &connack);
	if (!mosq) {
		snprintf(err, errlen, "out of memory");
		mosquitto_lib_cleanup();
		return -1;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_callback_set(mosq, on_connack);
	if (url.user[0])
		mosquitto_username_pw_set(mosq, url.user,
					  url.pass[0] ? url.pass : NULL);
	rc = mosquitto_connect(mosq, url.host, url.port, 30);
	until = time(NULL) + timeout_s;
	while (rc == MOSQ_ERR_SUCCESS && connack < 0 && time(NULL) < until)
		rc = mosquitto_loop(mosq, 200, 1);
	if (rc == MOSQ_ERR_SUCCESS && connack == 0) {
		mosquitto_disconnect(mosq);
		mosquitto_loop(mosq, 200, 1);
	} else if (rc == MOSQ_ERR_ERRNO) {
		snprintf(err, errlen, "%s:%d: %s", url.host, url.port,
			 strerror(errno));
	} else if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "%s:%d: %s", url.host, url.port,
			 mosquitto_strerror(rc));
	} else if (connack < 0) {
		snprintf(err, errlen, "%s:%d: no answer in %d s", url.host,
			 url.port, timeout_s);
	} else {
		snprintf(err, errlen, "%s:%d: refused: %s", url.host, url.port,
			 mosquitto_reason_string(connack));
	}
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return rc == MOSQ_ERR_SUCCESS && connack == 0 ? 0 : -1;
}

static int cmd_check(int argc, char **argv, struct common *c)
{
	char names[512], err[1024], failed[2048] = "";
	struct config *cfg;
	struct kernel *k;
	int rc = parse_plain(argc, argv, "check", usage_check_all, c, 0, NULL);

	if (rc >= 0)
		return rc;
	/* the configured modules, so that every section is validated */
	k = load(c, NULL, NULL, &cfg);
	if (!k) {
		config_free(cfg);
		puts("config: FAILED");
		return 1; /* load printed the line */
	}
	kernel_module_names(k, names, sizeof(names));
	printf("config: ok (modules %s)\n", names);
	kernel_free(k);
	config_free(cfg);
	fflush(stdout);

	k = load(c, "storage", NULL, &cfg);
	if (!k) {
		config_free(cfg);
		return 1;
	}
	quiet_logs();
	if (kernel_start(k, false) != 0) {
		snprintf(failed, sizeof(failed), "database: %s",
			 kernel_error(k));
	} else {
		const struct keryu_storage *st =
			kernel_service(k, KERYU_SERVICE_STORAGE);

		rc = st ? st->ping(st->self) : KERYU_ENOTFOUND;
		if (rc != 0)
			snprintf(failed, sizeof(failed),
				 "database: ping failed: %s",
				 keryu_strerror(rc));
	}
	puts(failed[0] ? "database: FAILED" : "database: ok");
	fflush(stdout);
	if (broker_ping(cfg, err, sizeof(err)) != 0) {
		size_t n = strlen(failed);

		snprintf(failed + n, sizeof(failed) - n, "%sbroker: %s",
			 n ? "; " : "", err);
		puts("broker: FAILED");
	} else {
		puts("broker: ok");
	}
	kernel_free(k);
	config_free(cfg);
	if (failed[0]) {
		fflush(stdout);
		fprintf(stderr, PROG ": check: %s\n", failed);
		return 1;
	}
	return 0;
}

/* ---- createsuperuser ---- */

/* Reads one line from f into buf without its line ending. Returns false
 * at end of input or when the line does not fit. */
static bool read_line(FILE *f, char *buf, size_t size)
{
	size_t n;

	if (!fgets(buf, (int)size, f))
		return false;
	n = strlen(buf);
	if (n && buf[n - 1] != '\n' && !feof(f))
		return false; /* longer than buf */
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return true;
}

/* Asks on the terminal; echo off for a secret. */
static bool prompt(const char *label, bool secret, char *buf, size_t size)
{
	struct termios old, quiet;
	bool ok, echo_off = false;

	fprintf(stderr, "%s: ", label);
	fflush(stderr);
	if (secret && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	ok = read_line(stdin, buf, size);
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return ok;
}

static int cmd_createsuperuser(int argc, char **argv, struct common *c)
{
	static const char *const what = "createsuperuser";
	char email[255], phone[32], name[101], pw[256], pw2[256],
		hash[crypto_pwhash_STRBYTES];
	bool tty = isatty(STDIN_FILENO);
	struct keryu_custodian out;
	struct opts o = {0};
	struct store s;
	size_t n;
	int rc = parse_plain(argc, argv, what, usage_createsuperuser, c,
			     OPT_EMAIL | OPT_PHONE | OPT_NAME | OPT_PW_STDIN,
			     &o);

	if (rc >= 0)
		return rc;
	/* everything is checked before the database is touched */
	if (o.email)
		snprintf(email, sizeof(email), "%s", o.email);
	else if (!tty || o.pw_stdin || !prompt("Email", false, email, sizeof(email)))
		return usage_error(what, "--email is required");
	for (char *p = email; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	n = strlen(email);
	if (n < 3 || n >= sizeof(email) - 1 || !strchr(email, '@') ||
	    strchr(email, '@') == email || !strchr(email, '@')[1] ||
	    strchr(strchr(email, '@') + 1, '@') || strpbrk(email, " \t"))
		return usage_error(what, "\"%s\" is not an email address",
				   email);
	if (o.phone)
		snprintf(phone, sizeof(phone), "%s", o.phone);
	else if (!tty || o.pw_stdin ||
		 !prompt("Phone (+E.164)", false, phone, sizeof(phone)))
		return usage_error(what, "--phone is required");
	if (!keryu_e164_valid(phone))
		return usage_error(what, "the phone must be in E.164 form, "
					 "like +16505551234");
	if (o.name)
		snprintf(name, sizeof(name), "%s", o.name);
	else
		snprintf(name, sizeof(name), "%.*s",
			 (int)(strchr(email, '@') - email), email);
	if (!name[0] || strlen(name) > 100)
		return usage_error(what, "the name must be 1 to 100 bytes");
	if (sodium_init() < 0) {
		fprintf(stderr, PROG ": %s: libsodium failed to start\n", what);
		return 1;
	}
	if (o.pw_stdin) {
		if (!read_line(stdin, pw, sizeof(pw)))
			return usage_error(what, "no password on stdin");
	} else if (!tty) {
		return usage_error(what, "give the password with "
					 "--password-stdin");
	} else {
		if (!prompt("Password", true, pw, sizeof(pw)) ||
		    !prompt("Password (again)", true, pw2, sizeof(pw2)))
			return usage_error(what, "no password given");
		rc = strcmp(pw, pw2);
		sodium_memzero(pw2, sizeof(pw2));
		if (rc != 0) {
			sodium_memzero(pw, sizeof(pw));
			return usage_error(what, "the passwords differ");
		}
	}
	/* the web sign-up's rule (http_password_problem) */
	n = strlen(pw);
	if (n < 10 || n > 128) {
		sodium_memzero(pw, sizeof(pw));
		return usage_error(what, "the password must be 10 to 128 "
					 "characters long");
	}
	/* exactly what the http module stores (http_pwhash.c), so the web
	 * login verifies it */
	rc = crypto_pwhash_str(hash, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			       crypto_pwhash_MEMLIMIT_INTERACTIVE);
	sodium_memzero(pw, sizeof(pw));
	if (rc != 0) {
		fprintf(stderr, PROG ": %s: out of memory hashing the "
				"password\n",
			what);
		return 1;
	}
	rc = store_open(c, what, &s);
	if (rc)
		return rc;
	rc = s.ac->custodian_create_staff(s.ac->self, email, name, phone, hash,
					  &out);
	store_close(&s);
	if (rc == KERYU_ECONFLICT) {
		fprintf(stderr, PROG ": %s: %s is already taken\n", what,
			email);
		return 1;
	}
	if (rc == KERYU_EINVAL)
		return usage_error(what, "the email, name or phone is not "
					 "valid");
	if (rc) {
		fprintf(stderr, PROG ": %s: %s\n", what, keryu_strerror(rc));
		return 1;
	}
	printf("created staff custodian %s %s\n", out.id, out.email);
	return 0;
}

/* ---- custodian list | deactivate ---- */

static int custodian_list(int argc, char **argv, struct common *c)
{
	static const char *const what = "custodian list";
	struct keryu_custodian rows[200];
	struct opts o = {0};
	struct store s;
	int offset = 0;
	size_t n;
	int rc = parse_plain(argc, argv, what, usage_custodian, c, OPT_SEARCH,
			     &o);

	if (rc >= 0)
		return rc;
	if (o.search && strlen(o.search) > 254)
		return usage_error(what, "--search is too long");
	rc = store_open(c, what, &s);
	if (rc)
		return rc;
	do {
		rc = s.ac->custodian_list(s.ac->self, o.search, offset, rows,
					  sizeof(rows) / sizeof(rows[0]), &n);
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s\t%s\t%s\t%s\t%s\t%s\n", rows[i].id,
			       rows[i].email, rows[i].name,
			       rows[i].is_active ? "true" : "false",
			       rows[i].is_staff ? "true" : "false",
			       rows[i].created_at);
		offset += (int)n;
	} while (!rc && n == sizeof(rows) / sizeof(rows[0]));
	store_close(&s);
	if (rc == KERYU_EINVAL)
		return usage_error(what, "--search is not valid UTF-8");
	if (rc) {
		fprintf(stderr, PROG ": %s: %s\n", what, keryu_strerror(rc));
		return 1;
	}
	return 0;
}

static int custodian_deactivate(int argc, char **argv, struct common *c)
{
	static const char *const what = "custodian deactivate";
	struct keryu_custodian cu;
	char key[255];
	struct store s;
	int rc = parse(argc, argv, what, usage_custodian, false, c, 0, NULL);

	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return usage_error(what, "needs one email or UUID");
	if (strlen(argv[optind]) >= sizeof(key))
		return usage_error(what, "no such email or UUID");
	snprintf(key, sizeof(key), "%s", argv[optind]);
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	rc = store_open(c, what, &s);
	if (rc)
		return rc;
	rc = keryu_uuid_valid(key) ? s.ac->custodian_get(s.ac->self, key, &cu)
				   : s.ac->custodian_by_email(s.ac->self, key,
							      &cu);
	if (!rc && cu.is_active)
		rc = s.ac->custodian_set_active(s.ac->self, cu.id, false);
	store_close(&s);
	if (rc == KERYU_ENOTFOUND || rc == KERYU_EINVAL) {
		fprintf(stderr, PROG ": %s: no custodian \"%s\"\n", what,
			argv[optind]);
		return 1;
	}
	if (rc) {
		fprintf(stderr, PROG ": %s: %s\n", what, keryu_strerror(rc));
		return 1;
	}
	printf("deactivated %s %s\n", cu.id, cu.email);
	return 0;
}

static int cmd_custodian(int argc, char **argv, struct common *c)
{
	int rc;

	/* "keryu custodian --help" and friends, before a subcommand */
	if (argc < 2 || argv[1][0] == '-') {
		rc = parse(argc, argv, "custodian", usage_custodian, false, c,
			   0, NULL);
		if (rc >= 0)
			return rc;
		return usage_error("custodian", "needs list or deactivate");
	}
	if (strcmp(argv[1], "list") == 0)
		return custodian_list(argc - 1, argv + 1, c);
	if (strcmp(argv[1], "deactivate") == 0)
		return custodian_deactivate(argc - 1, argv + 1, c);
	return usage_error("custodian", "unknown subcommand \"%s\"", argv[1]);
}

/* ---- export alarms ---- */

/* YYYY-MM-DD naming a real day. */
static bool day_valid(const char *s)
{
	struct tm tm = {0};
	const char *end;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end)
		return false;
	{
		struct tm t = tm;

		t.tm_isdst = 0;
		if (timegm(&t) == (time_t)-1)
			return false;
		return t.tm_mday == tm.tm_mday && t.tm_mon == tm.tm_mon;
	}
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a
 * line break, with quotes doubled. */
static void csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	fputs(last ? "\r\n" : ",", stdout);
}

static int cmd_export(int argc, char **argv, struct common *c)
{
	static const char *const what = "export alarms";
	struct keryu_alarm_export rows[500];
	char after[KERYU_UUID_LEN] = "";
	struct opts o = {0};
	struct store s;
	size_t n;
	long total = 0;
	int rc;

	if (argc < 2 || argv[1][0] == '-') {
		rc = parse(argc, argv, "export", usage_export, false, c, 0,
			   NULL);
		if (rc >= 0)
			return rc;
		return usage_error("export", "needs what to export: alarms");
	}
	if (strcmp(argv[1], "alarms") != 0)
		return usage_error("export", "cannot export \"%s\"", argv[1]);
	rc = parse_plain(argc - 1, argv + 1, what, usage_export, c,
			 OPT_SINCE | OPT_UNTIL, &o);
	if (rc >= 0)
		return rc;
	if (o.since && !day_valid(o.since))
		return usage_error(what, "--since \"%s\" is not a YYYY-MM-DD day",
				   o.since);
	if (o.until && !day_valid(o.until))
		return usage_error(what, "--until \"%s\" is not a YYYY-MM-DD day",
				   o.until);
	if (o.since && o.until && strcmp(o.since, o.until) > 0)
		return usage_error(what, "--since is after --until");
	rc = store_open(c, what, &s);
	if (rc)
		return rc;
	fputs("alarm_id,scanned_at,subject_id,notification_status,"
	      "acknowledged_at,resolved_at,joined_alarm_id\r\n",
	      stdout);
	/* page by page: memory stays one page however many alarms */
	do {
		rc = s.sj->alarms_export(s.sj->self, o.since, o.until, after,
					 rows, sizeof(rows) / sizeof(rows[0]),
					 &n);
		for (size_t i = 0; !rc && i < n; i++) {
			csv_field(rows[i].id, false);
			csv_field(rows[i].scanned_at, false);
			csv_field(rows[i].subject_id, false);
			csv_field(rows[i].notification_status, false);
			csv_field(rows[i].acknowledged_at, false);
			csv_field(rows[i].resolved_at, false);
			csv_field(rows[i].joined_alarm_id, true);
		}
		if (!rc && n)
			memcpy(after, rows[n - 1].id, sizeof(after));
		total += (long)n;
	} while (!rc && n == sizeof(rows) / sizeof(rows[0]));
	store_close(&s);
	if (rc) {
		fprintf(stderr, PROG ": %s: failed after %ld rows: %s\n", what,
			total, keryu_strerror(rc));
		return 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": %s: cannot write: %s\n", what,
			strerror(errno));
		return 1;
	}
	return 0;
}

/* ---- purge ---- */

/* One kind of row keryu purge deletes or clears. */
struct retention {
	const char *key;  /* the setting and the [alarms] option */
	const char *flag; /* its command-line override */
	int what;         /* admin's KERYU_PURGE_*, 0 for the finder data */
	/* the output: "<done> N <rows> older than D days<extra> (<from>)",
	 * or "<kept> kept for good (<from> = 0): nothing to purge" */
	const char *done, *rows, *extra, *kept;
	const char *arg;  /* the flag's value, NULL when not given */
	long days;        /* 0: kept for good */
	char from[64];    /* where days came from, for the output */
};

/* Reads a flag's value: 1..36500. Returns 0 or the usage error's code. */
static int days_arg(const char *what, struct retention *r)
{
	char *end;

	errno = 0;
	r->days = strtol(r->arg, &end, 10);
	if (errno || end == r->arg || *end || r->days < 1 || r->days > 36500)
		return usage_error(what, "%s must be a whole number of days, 1 "
					 "to 36500",
				   r->flag);
	snprintf(r->from, sizeof(r->from), "%s", r->flag);
	return 0;
}

/* For each kind without a flag, keryu.conf's value. Returns 0 or 2 after
 * printing the line. */
static int retention_conf(const struct common *c, struct retention *r,
			  size_t nr)
{
	struct config *cfg;
	struct kernel *k;
	size_t i;

	/* [alarms] is declared by the alarms module: load it (not start
	 * it) for its validated values and defaults */
	k = load(c, "storage,alarms", NULL, &cfg);
	if (!k) {
		config_free(cfg);
		return 2;
	}
	for (i = 0; i < nr; i++) {
		if (r[i].arg)
			continue; /* the flag's, read before */
		r[i].days = (long)config_get_int(cfg, "alarms", r[i].key);
		snprintf(r[i].from, sizeof(r[i].from), "[alarms] %s", r[i].key);
	}
	kernel_free(k);
	config_free(cfg);
	return 0;
}

/* For each kind without a flag, the setting staff stored over keryu.conf's
 * value, as the alarms module applies them. Returns 0 or 1 after printing
 * the line. */
static int retention_settings(const char *what, const struct keryu_admin *ad,
			      struct retention *r, size_t nr)
{
	struct keryu_setting rows[KERYU_SETTINGS_MAX + 8];
	size_t n = 0, i, j;
	char *end;
	long v;
	int rc = ad->setting_list(ad->self, rows,
				  sizeof(rows) / sizeof(rows[0]), &n);

	if (rc) {
		fprintf(stderr, PROG ": %s: cannot read the settings: %s\n",
			what, keryu_strerror(rc));
		return 1;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < nr; j++) {
			if (r[j].arg || strcmp(rows[i].key, r[j].key) != 0)
				continue;
			/* the service checked it on the way in; a value
			 * written around it is not trusted */
			errno = 0;
			v = strtol(rows[i].value, &end, 10);
			if (errno || end == rows[i].value || *end || v < 0 ||
			    v > 36500)
				continue;
			r[j].days = v;
			snprintf(r[j].from, sizeof(r[j].from), "setting %s",
				 r[j].key);
		}
	return 0;
}

/* Deletes in batches of 1000 until fewer come back: no one statement
 * holds locks on a large backlog. */
static int purge_batches(const struct keryu_admin *ad, int kind, long days,
			 long *total)
{
	long rows;
	int rc;

	*total = 0;
	do {
		rows = 0;
		rc = ad->purge(ad->self, kind, (int)days, 1000, &rows);
		if (rc)
			return rc;
		*total += rows;
	} while (rows >= 1000);
	return 0;
}

static int cmd_purge(int argc, char **argv, struct common *c)
{
	static const char *const what = "purge";
	struct opts o = {0};
	struct retention r[] = {
		{.key = "finder_retention_days", .flag = "--finder-days",
		 .done = "cleared the finder data of", .rows = "alarms",
		 .extra = "", .kept = "finder data is"},
		{.key = "alarm_retention_days", .flag = "--alarm-days",
		 .what = KERYU_PURGE_ALARMS, .done = "deleted", .rows = "alarms",
		 .extra = ", with their notifications", .kept = "alarms are"},
		{.key = "audit_retention_days", .flag = "--audit-days",
		 .what = KERYU_PURGE_AUDIT, .done = "deleted",
		 .rows = "audit entries", .extra = "",
		 .kept = "audit entries are"},
	};
	const struct keryu_admin *ad;
	struct store s;
	long rows = 0;
	size_t i;
	int rc = parse_plain(argc, argv, what, usage_purge, c,
			     OPT_DAYS | OPT_FINDER_DAYS | OPT_ALARM_DAYS |
				     OPT_AUDIT_DAYS,
			     &o);

	if (rc >= 0)
		return rc;
	if (o.days && o.finder_days)
		return usage_error(what, "--days is --finder-days: give one");
	r[0].arg = o.finder_days ? o.finder_days : o.days;
	if (o.days)
		r[0].flag = "--days";
	r[1].arg = o.alarm_days;
	r[2].arg = o.audit_days;
	/* bad flags are usage errors before anything is opened */
	for (i = 0; i < 3; i++)
		if (r[i].arg && (rc = days_arg(what, &r[i])) != 0)
			return rc;
	rc = retention_conf(c, r, 3);
	if (!rc)
		rc = store_open(c, what, &s);
	if (rc)
		return rc;
	ad = kernel_service(s.k, KERYU_SERVICE_ADMIN);
	if (!ad || ad->struct_size < offsetof(struct keryu_admin, reserved) ||
	    !ad->purge || !ad->setting_list) {
		fprintf(stderr, PROG ": %s: the storage module is too old for "
				"this command\n",
			what);
		store_close(&s);
		return 1;
	}
	rc = retention_settings(what, ad, r, 3);
	if (rc) {
		store_close(&s);
		return rc;
	}
	for (i = 0; i < 3 && !rc; i++) {
		if (r[i].days <= 0) {
			printf("%s kept for good (%s = 0): nothing to purge\n",
			       r[i].kept, r[i].from);
			continue;
		}
		rc = r[i].what ? purge_batches(ad, r[i].what, r[i].days, &rows)
			       : s.st->purge_finder_data(s.st->self,
							 (int)r[i].days, &rows);
		if (!rc)
			printf("%s %ld %s older than %ld days%s (%s)\n",
			       r[i].done, rows, r[i].rows, r[i].days,
			       r[i].extra, r[i].from);
	}
	store_close(&s);
	if (rc) {
		fprintf(stderr, PROG ": %s: %s\n", what, keryu_strerror(rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv, struct common *c);
	} cmds[] = {
		{"migrate", cmd_migrate},
		{"qr", cmd_qr},
		{"check-config", cmd_check_config},
		{"check", cmd_check},
		{"createsuperuser", cmd_createsuperuser},
		{"custodian", cmd_custodian},
		{"export", cmd_export},
		{"purge", cmd_purge},
	};
	struct common c = {0};
	int rc;

	rc = parse(argc, argv, "", usage, true, &c, 0, NULL);
	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		fputs(PROG ": no command (see " PROG " --help)\n", stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0)
			return cmds[i].run(argc - optind, argv + optind, &c);
	}
	fprintf(stderr, PROG ": unknown command \"%s\" (see " PROG " --help)\n",
		argv[optind]);
	return 2;
}
