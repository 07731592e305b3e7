/*
 * bench_paho.c - the Eclipse Paho C publisher for tests/bench.py: connects,
 * publishes N messages of SIZE bytes at QoS Q and exits once the last one
 * completed. paho_c_pub (paho.mqtt.c-examples) would be the obvious peer,
 * but it does not exit at the end of its input (1.3.12); this is the same
 * library, the synchronous client (libpaho-mqtt3c) used as its
 * MQTTClient_publish example does: at QoS 1/2 each message is waited for,
 * since without callbacks the library reads acknowledgements only inside
 * its own calls.
 *
 *   bench_paho PORT N QOS SIZE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTClient.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench_paho PORT N QOS SIZE\n");
		return 2;
	}
	char uri[64];
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%s", argv[1]);
	long n = atol(argv[2]);
	int qos = atoi(argv[3]), size = atoi(argv[4]), rc;
	char *payload = malloc((size_t)size + 1);
	if (!payload)
		return 2;
	memset(payload, 'x', (size_t)size);

	MQTTClient c;
	MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
	o.keepAliveInterval = 60;
	o.cleansession = 1;
	if (MQTTClient_create(&c, uri, "bench-paho-c", MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTCLIENT_SUCCESS ||
	    (rc = MQTTClient_connect(c, &o)) != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "bench_paho: cannot connect to %s\n", uri);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		MQTTClient_deliveryToken tok = 0;
		rc = MQTTClient_publish(c, "bench/pahoc", size, payload, qos, 0, &tok);
		if (rc != MQTTCLIENT_SUCCESS) {
			fprintf(stderr, "bench_paho: publish: %s\n", MQTTClient_strerror(rc));
			return 1;
		}
		if (qos > 0 && (rc = MQTTClient_waitForCompletion(c, tok, 10000)) != MQTTCLIENT_SUCCESS) {
			fprintf(stderr, "bench_paho: message %ld: %s\n", i, MQTTClient_strerror(rc));
			return 1;
		}
	}
	MQTTClient_disconnect(c, 10000);
	MQTTClient_destroy(&c);
	free(payload);
	return 0;
}
