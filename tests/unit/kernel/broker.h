/* A throwaway mosquitto for tests: its own config in a temporary
 * directory, a free loopback port, no persistence. */
#ifndef KERYU_TEST_BROKER_H
#define KERYU_TEST_BROKER_H

#include <sys/types.h>

#define TEST_MOSQUITTO "/usr/sbin/mosquitto"

struct test_broker {
	char dir[256];
	char conf[300];
	int port;
	pid_t pid;
};

/* A loopback TCP port nobody listens on right now, or -1. */
int test_free_port(void);
/* Writes the config and starts the broker; returns 0 once it accepts
 * connections, -1 (with a line on stderr) if mosquitto is missing or
 * does not come up. */
int test_broker_init(struct test_broker *b);
/* Starts it again on the same port after test_broker_stop. */
int test_broker_start(struct test_broker *b);
void test_broker_stop(struct test_broker *b);
/* Stops it and removes its directory. */
void test_broker_free(struct test_broker *b);

#endif
