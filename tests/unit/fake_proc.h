/* fake_proc: a fake provider server (tests/fakes: fake_whatsapp,
 * fake_twilio) run as a child process for a unit test, on a free loopback
 * port, recording into a temporary file; and the control requests the
 * tests make to it. Uses cmocka's asserts, so call from a test (or, for
 * start and stop, a setup or teardown). */
#ifndef KERYU_FAKE_PROC_H
#define KERYU_FAKE_PROC_H

#include <sys/types.h>

struct fake_proc {
	pid_t pid;
	int port;
	char record[64]; /* the --record file */
	char base[64];   /* http://127.0.0.1:<port>, no trailing slash */
};

/* Starts bin with --port 0 --record <new temporary file> and then args
 * (NULL-terminated, may be NULL), and waits for its "listening <port>"
 * line. The child gets SIGTERM when the test process dies. Returns 0, or
 * -1 (with a line on stderr) when it did not start. */
int fake_proc_start(struct fake_proc *f, const char *bin,
		    const char *const *args);

/* Stops the child (SIGTERM, waited for) and removes its record file.
 * Safe on one never started or already stopped. */
void fake_proc_stop(struct fake_proc *f);

/* GETs path (POSTs post when not NULL) on the fake; its answer (up to 255
 * bytes) goes into out. Returns the HTTP status, 0 when there was none. */
long fake_proc_control(const struct fake_proc *f, const char *path,
		       const char *post, char out[256]);

/* POST /_control/mode; asserts it was taken. */
void fake_proc_set_mode(const struct fake_proc *f, const char *mode);

/* GET /_control/count: message requests the fake has received. */
long fake_proc_count(const struct fake_proc *f);

/* Waits, up to max_ms, until the fake has received n message requests;
 * asserts that it has exactly n then. */
void fake_proc_wait_count(const struct fake_proc *f, long n, int max_ms);

#endif
