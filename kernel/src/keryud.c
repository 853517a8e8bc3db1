/* keryud: the Keryu host process. Reads the configuration, loads the
 * modules, runs them until SIGTERM or SIGINT, and stops them in reverse.
 *
 * Exit codes: 0 clean stop, 1 start-up or shutdown failure or a stop
 * forced by a failure while running (another process took over a bus
 * client id), 2 bad configuration or usage, 130 a second signal during
 * shutdown. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "kernel.h"
#include "log.h"

#define PROG "keryud"

static const char usage[] =
	"usage: keryud [options]\n"
	"\n"
	"  --config PATH      configuration file (default config/keryu.conf)\n"
	"  --modules a,b,c    modules to load, overriding [kernel] modules\n"
	"  --module-dir DIR   where <module>.so files are\n"
	"  --check-config     print the effective configuration and exit\n"
	"  --version          print the version and exit\n"
	"  --help             print this help and exit\n"
	"\n"
	"Environment: KERYU_<SECTION>_<KEY> overrides any option, as do\n"
	"DATABASE_URL, MQTT_URL, KERYU_SECRET_KEY, DEBUG and ALLOWED_HOSTS;\n"
	"a .env file in the working directory is read too.\n";

struct args {
	const char *config;
	const char *modules;
	const char *module_dir;
	bool check;
};

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"modules", required_argument, NULL, 'm'},
		{"module-dir", required_argument, NULL, 'd'},
		{"check-config", no_argument, NULL, 'k'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': a->config = optarg; break;
		case 'm': a->modules = optarg; break;
		case 'd': a->module_dir = optarg; break;
		case 'k': a->check = true; break;
		case 'v': puts(PROG " " KERYU_VERSION); return 0;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* Configuration and module descriptors. Returns NULL after printing the
 * one-line error. */
static struct kernel *load(const struct args *a, struct config **cfg)
{
	const char *const set[] = {"kernel", "modules",    a->modules,
				   "kernel", "module_dir", a->module_dir,
				   NULL};
	char err[1024];
	struct kernel *k;

	if (kernel_open(a->config, set, cfg, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return NULL;
	}
	return k;
}

struct watchdog {
	int sigfd;
	int done[2]; /* pipe: closing the write end says "shutdown finished" */
	int timeout_ms;
	pthread_t thread;
};

/* Bounds the shutdown: a module that hangs in stop or cleanup must not
 * keep the process alive, and an impatient operator's second signal
 * ends it at once. */
static void *watchdog_run(void *arg)
{
	struct watchdog *w = arg;
	struct pollfd fds[2] = {{.fd = w->sigfd, .events = POLLIN},
				{.fd = w->done[0], .events = POLLIN}};
	int n;

	do
		n = poll(fds, 2, w->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n > 0 && fds[1].revents)
		return NULL;
	if (n > 0 && fds[0].revents) {
		log_write(KERYU_LOG_WARN, "kernel", "kernel.killed",
			  "reason=second_signal");
		_exit(130);
	}
	log_write(KERYU_LOG_ERROR, "kernel", "kernel.shutdown_timeout",
		  "timeout_ms=%d", w->timeout_ms);
	_exit(1);
}

/* Waits for SIGTERM or SIGINT, or for the kernel to fail on its own
 * (failed_fd). Returns the signal number, 0 for a failure, -1 on error. */
static int wait_signal(int sigfd, int failed_fd)
{
	struct pollfd fds[2] = {{.fd = sigfd, .events = POLLIN},
				{.fd = failed_fd, .events = POLLIN}};
	struct signalfd_siginfo si;

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (fds[0].revents)
			break;
		if (fds[1].revents)
			return 0;
	}
	while (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si)) {
		if (errno != EINTR)
			return -1;
	}
	return (int)si.ssi_signo;
}

static int run(struct kernel *k, struct config *cfg, int sigfd)
{
	struct watchdog w = {.sigfd = sigfd};
	char names[1024];
	int signo, rc;

	kernel_set_interrupt(k, sigfd);
	if (kernel_start(k, true) != 0) {
		fprintf(stderr, PROG ": %s\n", kernel_error(k));
		return 1;
	}
	kernel_module_names(k, names, sizeof(names));
	log_write(KERYU_LOG_INFO, "kernel", "kernel.started",
		  "modules=%s instance=%s", names,
		  config_get(cfg, "kernel", "instance"));

	signo = wait_signal(sigfd, kernel_failed_fd(k));
	if (signo == 0) /* the only cause so far; see kernel_failed_fd */
		log_write(KERYU_LOG_ERROR, "kernel", "kernel.stopping",
			  "reason=bus_session_taken_over");
	else
		log_write(KERYU_LOG_INFO, "kernel", "kernel.stopping",
			  "signal=%s", signo > 0 ? sigabbrev_np(signo) : "?");

	w.timeout_ms = (int)config_get_int(cfg, "kernel", "shutdown_timeout_s") *
		       1000;
	rc = pipe(w.done);
	if (rc == 0 && pthread_create(&w.thread, NULL, watchdog_run, &w) != 0) {
		close(w.done[0]);
		close(w.done[1]);
		rc = -1;
	}
	kernel_stop(k, w.timeout_ms);
	if (rc == 0) {
		close(w.done[1]);
		pthread_join(w.thread, NULL);
		close(w.done[0]);
	}
	return signo == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	struct config *cfg = NULL;
	struct kernel *k;
	sigset_t sigs;
	int sigfd, rc;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;

	/* Blocked before any thread exists, so that every thread inherits the
	 * mask and the signals can only arrive through the signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sigfd < 0) {
		fprintf(stderr, PROG ": signalfd: %s\n", strerror(errno));
		return 1;
	}

	k = load(&a, &cfg);
	if (!k) {
		config_free(cfg);
		return 2;
	}
	if (a.check) {
		kernel_print_config(k, stdout);
		rc = 0;
	} else {
		rc = run(k, cfg, sigfd);
	}
	kernel_free(k);
	config_free(cfg);
	if (!a.check && rc == 0)
		log_write(KERYU_LOG_INFO, "kernel", "kernel.stopped", NULL);
	close(sigfd);
	return rc;
}
