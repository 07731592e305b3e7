/*
 * lfleet_log.c - the fleet agent's remote log (docs/fleet.md): every line
 * the agent logs at or above --fleet-log-level (default warn) goes to
 * lia/<id>/log as JSON, at most LOG_RATE lines a second with bursts of
 * LOG_BURST (the rest are counted and the count rides on the next line
 * sent: a script failing in a loop cannot flood the broker), and the last
 * LOG_RING lines of any level are kept for the log-tail command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lcjson.h"

#include "lfleet.h"
#include "log.h"

#define LOG_RING 100
#define LOG_RATE 5
#define LOG_BURST 20

static struct {
	int level;
	char ring[LOG_RING][256];
	unsigned head, count;
	double tokens;
	struct timespec last;
	unsigned dropped;
} lg;

static double since_last(void)
{
	struct timespec now;
	double d;
	clock_gettime(CLOCK_MONOTONIC, &now);
	d = (double)(now.tv_sec - lg.last.tv_sec) + (double)(now.tv_nsec - lg.last.tv_nsec) / 1e9;
	lg.last = now;
	return d;
}

static bool take_token(void)
{
	lg.tokens += since_last() * LOG_RATE;
	if (lg.tokens > LOG_BURST)
		lg.tokens = LOG_BURST;
	if (lg.tokens < 1)
		return false;
	lg.tokens -= 1;
	return true;
}

static void send_line(int level, const char *line)
{
	cJSON *o = cJSON_CreateObject();
	char *text;
	if (!o)
		return;
	cJSON_AddStringToObject(o, "id", lfleet_id());
	cJSON_AddStringToObject(o, "level", log_level_name(level));
	cJSON_AddStringToObject(o, "line", line);
	cJSON_AddNumberToObject(o, "time", (double)time(NULL));
	if (lg.dropped)
		cJSON_AddNumberToObject(o, "dropped", lg.dropped);
	if ((text = cJSON_PrintUnformatted(o))) {
		lfleet_publish("log", text, false);
		lg.dropped = 0;
		free(text);
	}
	cJSON_Delete(o);
}

static void tap(int level, const char *line, void *ud)
{
	(void)ud;
	snprintf(lg.ring[lg.head], sizeof lg.ring[0], "%s %s", log_level_name(level), line);
	lg.head = (lg.head + 1) % LOG_RING;
	if (lg.count < LOG_RING)
		lg.count++;
	if (level > lg.level || !lfleet_online())
		return;
	if (take_token())
		send_line(level, line);
	else
		lg.dropped++;
}

void lfleet_log_start(int level)
{
	lg.level = level;
	lg.tokens = LOG_BURST;
	since_last();
	log_set_tap(tap, NULL);
}

void lfleet_log_stop(void)
{
	log_set_tap(NULL, NULL);
}

void lfleet_log_tail(cJSON *lines, unsigned n)
{
	if (n > lg.count)
		n = lg.count;
	for (unsigned i = 0; i < n; i++) {
		unsigned at = (lg.head + LOG_RING - n + i) % LOG_RING;
		cJSON_AddItemToArray(lines, cJSON_CreateString(lg.ring[at]));
	}
}
