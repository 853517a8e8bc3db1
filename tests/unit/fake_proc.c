/* fake_proc: see fake_proc.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "fake_proc.h"

#define MAX_ARGS 32

int fake_proc_start(struct fake_proc *f, const char *bin,
		    const char *const *args)
{
	const char *argv[MAX_ARGS + 6];
	int fds[2], fd, n, i = 0;
	char line[64] = "";
	FILE *in;

	snprintf(f->record, sizeof(f->record), "/tmp/fake_rec_XXXXXX");
	fd = mkstemp(f->record);
	if (fd < 0 || pipe(fds) != 0)
		return -1;
	close(fd);
	argv[i++] = bin;
	argv[i++] = "--port";
	argv[i++] = "0";
	argv[i++] = "--record";
	argv[i++] = f->record;
	for (n = 0; args && args[n] && n < MAX_ARGS; n++)
		argv[i++] = args[n];
	argv[i] = NULL;
	f->pid = fork();
	if (f->pid < 0)
		return -1;
	if (f->pid == 0) {
		/* never outlive the test, even when it crashes */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	if (!in || !fgets(line, sizeof(line), in) ||
	    sscanf(line, "listening %d", &n) != 1) {
		fprintf(stderr, "%s did not start\n", bin);
		return -1;
	}
	fclose(in);
	f->port = n;
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", n);
	return 0;
}

void fake_proc_stop(struct fake_proc *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	if (f->record[0])
		unlink(f->record);
}

static size_t keep(char *p, size_t s, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), len = s * n;

	if (have + len < 256) {
		memcpy(buf + have, p, len);
		buf[have + len] = '\0';
	}
	return len;
}

long fake_proc_control(const struct fake_proc *f, const char *path,
		       const char *post, char out[256])
{
	CURL *c = curl_easy_init();
	char url[128];
	long status = 0;

	out[0] = '\0';
	if (!c)
		return 0;
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

void fake_proc_set_mode(const struct fake_proc *f, const char *mode)
{
	char out[256];

	assert_int_equal(fake_proc_control(f, "/_control/mode", mode, out), 200);
}

long fake_proc_count(const struct fake_proc *f)
{
	char out[256];

	assert_int_equal(fake_proc_control(f, "/_control/count", NULL, out),
			 200);
	return strtol(out, NULL, 10);
}

void fake_proc_wait_count(const struct fake_proc *f, long n, int max_ms)
{
	int i;

	for (i = 0; i < max_ms / 10 && fake_proc_count(f) < n; i++)
		usleep(10000);
	assert_int_equal(fake_proc_count(f), n);
}
