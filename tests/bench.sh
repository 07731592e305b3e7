#!/bin/sh
# bench.sh BUILD_DIR - throughput and latency of lia against a real
# mosquitto on a free loopback port, next to libmosquitto's own clients
# (mosquitto_pub/mosquitto_sub) moving the same messages through the same
# broker. Numbers are for this machine only; compare rows, not runs.
#   BENCH_N (default 50000), BENCH_SIZE (default 64)
set -u
build=${1:-build}
n=${BENCH_N:-50000}
size=${BENCH_SIZE:-64}
dir=$(mktemp -d)
trap 'stop_broker; rm -rf "$dir"' EXIT INT TERM

. "$(dirname "$0")/broker.sh"
start_broker "$dir" || exit 1
echo "bench: mosquitto $(mosquitto -h 2>/dev/null | head -n 1 | awk '{print $3}') on 127.0.0.1:$port; $n messages of $size bytes; $(nproc) cores"

for q in 0 1 2; do
	"$build/tools/bench" -p "$port" -n "$n" -q "$q" -s "$size" -t 60
done

# libmosquitto: mosquitto_sub counts, mosquitto_pub -l sends one message a line
payload=$(head -c "$size" /dev/zero | tr '\0' 'x')
yes "$payload" | head -n "$n" >"$dir/lines"
for q in 0 1 2; do
	mosquitto_sub -h 127.0.0.1 -p "$port" -q "$q" -t "bench/mosq$q" -C "$n" >/dev/null &
	spid=$!
	sleep 0.3
	t0=$(date +%s.%N)
	mosquitto_pub -h 127.0.0.1 -p "$port" -q "$q" -t "bench/mosq$q" -l <"$dir/lines"
	# QoS 0 may be dropped by the broker when the subscriber lags: bound the wait
	timeout 30 sh -c "while kill -0 $spid 2>/dev/null; do sleep 0.01; done"
	t1=$(date +%s.%N)
	kill $spid 2>/dev/null
	awk -v n="$n" -v a="$t0" -v b="$t1" -v q="$q" -v s="$size" \
		'BEGIN { d = b - a; printf "mosq  qos=%d v=4 size=%d n=%d: %.0f msg/s (mosquitto_pub -l to mosquitto_sub -C)\n", q, s, n, n / d }'
done
