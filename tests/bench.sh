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
trap 'kill $bpid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

for try in 1 2 3 4 5 6 7 8; do
	port=$(( (($$ + try * 7919) % 20000) + 40000 ))
	printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$dir/m.conf"
	mosquitto -c "$dir/m.conf" >"$dir/m.log" 2>&1 &
	bpid=$!
	sleep 0.3
	if kill -0 $bpid 2>/dev/null; then break; fi
done
kill -0 $bpid 2>/dev/null || { echo "bench: cannot start mosquitto"; cat "$dir/m.log"; exit 1; }
echo "bench: mosquitto $(mosquitto -h 2>/dev/null | head -n 1 | awk '{print $3}') on 127.0.0.1:$port; $n messages of $size bytes; $(nproc) cores"

for q in 0 1 2; do
	"$build/tools/bench" -p "$port" -n "$n" -q "$q" -s "$size" -t 60
done

# libmosquitto: mosquitto_sub counts, mosquitto_pub -l sends one message a line
payload=$(head -c "$size" /dev/zero | tr '\0' 'x')
i=0
: >"$dir/lines"
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
