/* A throwaway mosquitto for tests; see broker.h. */
#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int test_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		p = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

int test_broker_start(struct test_broker *b)
{
	struct timespec tick = {.tv_nsec = 10 * 1000000L};

	if (access(TEST_MOSQUITTO, X_OK) != 0) {
		fprintf(stderr, "test: %s: %s (install mosquitto)\n",
			TEST_MOSQUITTO, strerror(errno));
		return -1;
	}
	b->pid = fork();
	if (b->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(TEST_MOSQUITTO, "mosquitto", "-c", b->conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; b->pid > 0 && i < 500; i++) {
		if (port_open(b->port))
			return 0;
		if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
			fprintf(stderr, "test: mosquitto exited at start\n");
			b->pid = -1;
			return -1;
		}
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "test: mosquitto does not listen on %d\n", b->port);
	return -1;
}

int test_broker_init(struct test_broker *b)
{
	FILE *f;

	memset(b, 0, sizeof(*b));
	b->pid = -1;
	snprintf(b->dir, sizeof(b->dir), "/tmp/keryu-broker-XXXXXX");
	b->port = test_free_port();
	if (!mkdtemp(b->dir) || b->port < 0)
		return -1;
	snprintf(b->conf, sizeof(b->conf), "%s/mosquitto.conf", b->dir);
	f = fopen(b->conf, "w");
	if (!f)
		return -1;
	/* No persistence: a restart forgets every session. */
	fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\n"
		   "persistence false\nlog_dest none\n",
		b->port);
	fclose(f);
	return test_broker_start(b);
}

void test_broker_stop(struct test_broker *b)
{
	if (b->pid <= 0)
		return;
	kill(b->pid, SIGTERM);
	waitpid(b->pid, NULL, 0);
	b->pid = -1;
}

void test_broker_free(struct test_broker *b)
{
	test_broker_stop(b);
	unlink(b->conf);
	rmdir(b->dir);
}
