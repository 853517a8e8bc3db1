/* keryu: administration commands that run one module in-process, without
 * the bus (migrations, QR codes), with keryud's configuration.
 *
 * Exit codes: 0 success, 1 the command failed, 2 bad usage or
 * configuration. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <keryu/events.h>
#include <keryu/qr.h>

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

/* Parses the common options and, when out is not NULL, "-o FILE".
 * Before the command (top) it stops at the first word; after it, options
 * and arguments may come in any order. Returns -1 to go on, or the exit
 * code. */
static int parse(int argc, char **argv, const char *help, bool top,
		 struct common *c, const char **out)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"module-dir", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int ch;

	optind = 0; /* glibc: start afresh on a new argv */
	opterr = 0; /* our own message names the program, not the command */
	while ((ch = getopt_long(argc, argv, top ? "+" : "o:", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c': c->config = optarg; break;
		case 'd': c->module_dir = optarg; break;
		case 'o':
			if (!out)
				goto bad;
			*out = optarg;
			break;
		case 'v':
			if (!top)
				goto bad;
			puts(PROG " " KERYU_VERSION);
			return 0;
		case 'h': fputs(help, stdout); return 0;
		default: goto bad;
		}
	}
	return -1;
bad:
	fprintf(stderr, PROG ": bad option \"%s\"\n%s", argv[optind - 1], help);
	return 2;
}

/* For commands that take no argument besides options. */
static int parse_plain(int argc, char **argv, const char *help,
		       struct common *c)
{
	int rc = parse(argc, argv, help, false, c, NULL);

	if (rc < 0 && optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n%s",
			argv[optind], help);
		return 2;
	}
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
	int rc = parse_plain(argc, argv, usage_check, c);

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
	int rc = parse_plain(argc, argv, usage_migrate, c);

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
	const char *out = NULL, *uuid;
	const struct keryu_qr *qr;
	struct config *cfg;
	struct kernel *k;
	int rc = parse(argc, argv, usage_qr, false, c, &out);

	if (rc >= 0)
		return rc;
	if (argc - optind != 1 || !out) {
		fputs(usage_qr, stderr);
		return 2;
	}
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

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv, struct common *c);
	} cmds[] = {
		{"migrate", cmd_migrate},
		{"qr", cmd_qr},
		{"check-config", cmd_check_config},
	};
	struct common c = {0};
	int rc;

	rc = parse(argc, argv, usage, true, &c, NULL);
	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0)
			return cmds[i].run(argc - optind, argv + optind, &c);
	}
	fprintf(stderr, PROG ": unknown command \"%s\"\n%s", argv[optind],
		usage);
	return 2;
}
