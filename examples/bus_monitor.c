/* bus_monitor: a live feed of a Keryu instance's bus, one line per event.
 *
 *   bus_monitor [-h host] [-p port] [-u user] [-P password]
 *
 * It subscribes to the alarm, delivery, report and system topics (see
 * docs/bus.md and docs/schemas/) and prints, for each message:
 *
 *   2026-11-25T12:34:56.789Z alarm    created   alarm=… subject=…
 *   2026-11-25T12:34:57.012Z delivery delivered notification=… attempt=1 channel=log
 *   2026-11-25T12:35:10.400Z report   location  alarm=…
 *   2026-11-25T12:33:01.000Z system   online    instance=host1 module=http
 *
 * It never subscribes to keryu/v1/notify/#: those requests carry the
 * recipients' phone numbers, and a monitoring feed has no need of them
 * (on a shared broker, give this client an ACL without that topic).
 *
 * The password is better given in the environment, KERYU_MONITOR_PASSWORD,
 * than with -P, where any local user can read it in the process list.
 *
 * A small example, not part of keryud: it uses only libmosquitto (MQTT
 * v5) and cJSON, and no Keryu header, so it can be copied out and built
 * against any installation.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

static const char *const filters[] = {
	"keryu/v1/alarm/#",
	"keryu/v1/delivery/#",
	"keryu/v1/report/#",
	"keryu/v1/system/#",
};
#define N_FILTERS (sizeof(filters) / sizeof(filters[0]))

/* Set by the signal handler, read by the main loop. */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Returns member name of o as text fit for a terminal, or "-" when it is
 * absent or not a string. Anyone who may publish on the broker controls
 * these bytes, so control characters (an escape sequence could rewrite the
 * operator's screen) become '?'. buf holds the result. */
static const char *field(const cJSON *o, const char *name, char *buf,
			 size_t size)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t i;

	if (!cJSON_IsString(it) || size == 0)
		return "-";
	snprintf(buf, size, "%s", it->valuestring);
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return buf[0] ? buf : "-";
}

/* Returns integer member name of o, or -1 when absent or not a number. */
static long num(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(it) ? (long)it->valuedouble : -1;
}

/* Prints one line for one payload. The topic's third level is the kind
 * of event; every payload carries "at" (docs/bus.md). */
static void print_event(const char *topic, const cJSON *o)
{
	char at[40], a[64], b[64], c[64], d[64];
	const char *kind = topic + strlen("keryu/v1/");

	field(o, "at", at, sizeof(at));
	if (strncmp(kind, "alarm/", 6) == 0) {
		printf("%s alarm    %-9s alarm=%s subject=%s\n", at,
		       field(o, "state", a, sizeof(a)),
		       field(o, "alarm_id", b, sizeof(b)),
		       field(o, "subject_id", c, sizeof(c)));
	} else if (strncmp(kind, "delivery/", 9) == 0) {
		printf("%s delivery %-9s notification=%s attempt=%ld channel=%s",
		       at, field(o, "status", a, sizeof(a)),
		       field(o, "notification_id", b, sizeof(b)),
		       num(o, "attempt"), field(o, "channel", c, sizeof(c)));
		/* failures say why; the error text may be long: the code is
		 * enough for a feed */
		if (cJSON_GetObjectItemCaseSensitive(o, "error_code"))
			printf(" error=%s", field(o, "error_code", d, sizeof(d)));
		if (num(o, "retry_in_ms") >= 0)
			printf(" retry_in_ms=%ld", num(o, "retry_in_ms"));
		putchar('\n');
	} else if (strncmp(kind, "report/", 7) == 0) {
		printf("%s report   %-9s alarm=%s\n", at,
		       field(o, "kind", a, sizeof(a)),
		       field(o, "alarm_id", b, sizeof(b)));
	} else if (strncmp(kind, "system/", 7) == 0) {
		printf("%s system   %-9s instance=%s module=%s\n", at,
		       field(o, "state", a, sizeof(a)),
		       field(o, "instance", b, sizeof(b)),
		       field(o, "module", c, sizeof(c)));
	}
}

static void on_message(struct mosquitto *mosq, void *arg,
		       const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	cJSON *o;

	(void)mosq;
	(void)arg;
	(void)props;
	/* Belt and braces: we never subscribe to it, but a broker-side
	 * bridge or a mistyped filter must not put phone numbers on screen. */
	if (strncmp(msg->topic, "keryu/v1/", 9) != 0 ||
	    strncmp(msg->topic, "keryu/v1/notify/", 16) == 0)
		return;
	/* An empty retained message clears a status topic: nothing to say. */
	if (msg->payloadlen == 0)
		return;
	o = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	/* Version 1 only; consumers ignore unknown fields, not unknown
	 * versions (docs/bus.md). */
	if (!cJSON_IsObject(o) || num(o, "v") != 1)
		fprintf(stderr, "bus_monitor: skipped a malformed payload\n");
	else
		print_event(msg->topic, o);
	cJSON_Delete(o);
	/* Line by line even into a pipe, so a feed read by another program
	 * is live. */
	fflush(stdout);
}

/* Subscribes on every (re)connection: the session is clean, so the
 * broker forgets our subscriptions whenever we drop. */
static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
		       const mosquitto_property *props)
{
	size_t i;

	(void)arg;
	(void)flags;
	(void)props;
	if (rc != 0) {
		fprintf(stderr, "bus_monitor: connection refused: %s\n",
			mosquitto_reason_string(rc));
		return;
	}
	for (i = 0; i < N_FILTERS; i++)
		if (mosquitto_subscribe_v5(mosq, NULL, filters[i], 1, 0,
					   NULL) != MOSQ_ERR_SUCCESS)
			fprintf(stderr, "bus_monitor: cannot subscribe %s\n",
				filters[i]);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bus_monitor [-h host] [-p port] [-u user] "
		   "[-P password]\n"
		   "Prints alarms, deliveries, reports and module status "
		   "from a Keryu bus.\n"
		   "The password is better given as KERYU_MONITOR_PASSWORD.\n");
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *user = NULL;
	const char *password = getenv("KERYU_MONITOR_PASSWORD");
	struct mosquitto *mosq;
	struct sigaction sa;
	long port = 1883;
	char *end;
	int opt, rc;

	/* -h is the host, as with mosquitto_sub; --help asks for usage. */
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "h:p:u:P:")) != -1) {
		switch (opt) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || port < 1 ||
			    port > 65535) {
				fprintf(stderr, "bus_monitor: bad port: %s\n",
					optarg);
				return 2;
			}
			break;
		case 'u':
			user = optarg;
			break;
		case 'P':
			password = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	mosquitto_lib_init();
	/* No client id (the library makes a random one) and a clean
	 * session: a monitor wants the live feed, not a backlog kept for it
	 * in the broker. Retained status messages still arrive first. */
	mosq = mosquitto_new(NULL, true, NULL);
	if (!mosq) {
		fprintf(stderr, "bus_monitor: out of memory\n");
		return 1;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(mosq, on_connect);
	mosquitto_message_v5_callback_set(mosq, on_message);
	if (user || password)
		mosquitto_username_pw_set(mosq, user, password);

	rc = mosquitto_connect_bind_v5(mosq, host, (int)port, 30, NULL, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bus_monitor: cannot connect to %s:%ld: %s\n",
			host, port, mosquitto_strerror(rc));
		mosquitto_destroy(mosq);
		mosquitto_lib_cleanup();
		return 1;
	}
	/* Our own loop rather than mosquitto_loop_forever(), so that a
	 * signal ends it within a second. A lost connection is retried
	 * every few seconds until the broker is back. */
	while (!stop) {
		rc = mosquitto_loop(mosq, 1000, 1);
		if (rc != MOSQ_ERR_SUCCESS && !stop) {
			fprintf(stderr, "bus_monitor: %s; reconnecting\n",
				mosquitto_strerror(rc));
			sleep(3);
			mosquitto_reconnect(mosq);
		}
	}
	mosquitto_disconnect_v5(mosq, 0, NULL);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return 0;
}
