/*
 * bench_paho_async.c - the Eclipse Paho C publisher for tests/bench.py at
 * QoS 1/2: connects, keeps WINDOW messages in flight and exits once the
 * last of N completed.
 *
 * The asynchronous client (libpaho-mqtt3a), because the synchronous one
 * cannot go faster than 10 messages a second at QoS 1/2: in 1.3.12
 * MQTTClient_waitForCompletion waits in MQTTClient_yield(100), which loops
 * for its whole 100 ms whatever arrives. MQTTAsync has its own trap: an
 * acknowledgement that frees a place in the window does not wake the send
 * thread (only a new command or its 1 s timer does), so queueing all N
 * messages up front trickles. Sending the next message from each one's
 * onSuccess callback, as Paho's own examples chain their calls, keeps the
 * window full and the send thread awake; that is done here.
 *
 *   bench_paho_async PORT N QOS SIZE WINDOW
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTAsync.h>

static MQTTAsync client;
static long total, sent, completed;
static int qos, size, window;
static char *payload;
static int done_pipe[2]; /* the callbacks' thread tells main() the end */

static void finish(char status)
{
	if (write(done_pipe[1], &status, 1) != 1)
		_exit(2);
}

static void send_failed(void *ctx, MQTTAsync_failureData *r)
{
	(void)ctx;
	fprintf(stderr, "bench_paho_async: message failed: %s\n", r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : 0));
	finish(1);
}

static void send_next(void);

static void send_done(void *ctx, MQTTAsync_successData *r)
{
	(void)ctx;
	(void)r;
	if (++completed == total)
		finish(0);
	else
		send_next();
}

static void send_next(void)
{
	if (sent == total)
		return;
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
	o.onSuccess = send_done;
	o.onFailure = send_failed;
	sent++;
	int rc = MQTTAsync_send(client, "bench/pahoc", size, payload, qos, 0, &o);
	if (rc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "bench_paho_async: send: %s\n", MQTTAsync_strerror(rc));
		finish(1);
	}
}

static void connected(void *ctx, MQTTAsync_successData *r)
{
	(void)ctx;
	(void)r;
	for (int i = 0; i < window; i++)
		send_next();
}

static void connect_failed(void *ctx, MQTTAsync_failureData *r)
{
	(void)ctx;
	fprintf(stderr, "bench_paho_async: cannot connect: %s\n", r && r->message ? r->message : "refused");
	finish(1);
}

static void connection_lost(void *ctx, char *cause)
{
	(void)ctx;
	fprintf(stderr, "bench_paho_async: connection lost: %s\n", cause ? cause : "closed");
	finish(1);
}

static void disconnected(void *ctx, MQTTAsync_successData *r)
{
	(void)ctx;
	(void)r;
	finish(0);
}

static int arrived(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
	(void)ctx;
	(void)len;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench_paho_async PORT N QOS SIZE WINDOW\n");
		return 2;
	}
	char uri[64];
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%s", argv[1]);
	total = atol(argv[2]);
	qos = atoi(argv[3]);
	size = atoi(argv[4]);
	window = atoi(argv[5]);
	if (total < 1 || qos < 0 || qos > 2 || size < 0 || window < 1 || pipe(done_pipe) != 0)
		return 2;
	payload = malloc((size_t)size + 1);
	if (!payload)
		return 2;
	memset(payload, 'x', (size_t)size);

	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	o.keepAliveInterval = 60;
	o.cleansession = 1;
	o.maxInflight = window;
	o.onSuccess = connected;
	o.onFailure = connect_failed;
	if (MQTTAsync_create(&client, uri, "bench-paho-c", MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS ||
	    MQTTAsync_setCallbacks(client, NULL, connection_lost, arrived, NULL) != MQTTASYNC_SUCCESS ||
	    MQTTAsync_connect(client, &o) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "bench_paho_async: cannot connect to %s\n", uri);
		return 1;
	}
	char status = 1;
	if (read(done_pipe[0], &status, 1) != 1)
		status = 2;
	/* a clean DISCONNECT, as every other publisher in the bench sends */
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	d.timeout = 10000;
	d.onSuccess = disconnected;
	char ignored;
	if (status == 0 && MQTTAsync_disconnect(client, &d) == MQTTASYNC_SUCCESS && read(done_pipe[0], &ignored, 1) != 1)
		status = 2;
	MQTTAsync_destroy(&client);
	free(payload);
	return status;
}
