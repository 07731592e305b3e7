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

# The cost of the crash-safe store (docs/durability.md): the publisher's
# session in SQLite (WAL, synchronous=FULL, one commit per loop turn) or in
# memory, at a 100-message window (QoS 2: 20, mosquitto's default in-flight
# quota, which MQTT 3.1.1 cannot announce); fsyncs counted by strace.
for q in 1 2; do
	w=100
	[ "$q" = 2 ] && w=20
	for st in memory sqlite; do
		rm -rf "$dir/store"; mkdir -p "$dir/store"
		set -- -p "$port" -n "$n" -q "$q" -s "$size" -t 60 -w "$w"
		[ "$st" = sqlite ] && set -- "$@" -S "$dir/store"
		"$build/tools/bench" "$@"
	done
	if command -v strace >/dev/null 2>&1; then
		rm -rf "$dir/store"; mkdir -p "$dir/store"
		strace -f -c -e trace=fsync,fdatasync -o "$dir/strace" \
			"$build/tools/bench" -p "$port" -n "$n" -q "$q" -s "$size" -t 60 -w "$w" -S "$dir/store" >/dev/null
		awk -v n="$n" -v q="$q" '$NF == "fsync" || $NF == "fdatasync" { c += $4 }
			END { printf "lia   qos=%d store=sqlite: %d fsyncs for %d messages (%.3f per message)\n", q, c, n, c / n }' "$dir/strace"
	fi
done

# The command-line clients: mosquitto_pub -l / mosquitto_sub -C (libmosquitto)
# next to lia pub -l / lia sub -C, the same lines through the same broker.
payload=$(head -c "$size" /dev/zero | tr '\0' 'x')
yes "$payload" | head -n "$n" >"$dir/lines"
# peer_run NAME SUB PUB: SUB counts n messages on a topic, PUB sends the lines
peer_run() {
	name=$1 q=$2 sub=$3 pub=$4
	$sub >/dev/null 2>&1 &
	spid=$!
	sleep 0.3
	t0=$(date +%s.%N)
	$pub <"$dir/lines"
	# QoS 0 may be dropped by the broker when the subscriber lags: bound the wait
	timeout 60 sh -c "while kill -0 $spid 2>/dev/null; do sleep 0.01; done"
	t1=$(date +%s.%N)
	kill $spid 2>/dev/null
	awk -v n="$n" -v a="$t0" -v b="$t1" -v q="$q" -v s="$size" -v who="$name" \
		'BEGIN { d = b - a; printf "%-5s qos=%d v=4 size=%d n=%d: %.0f msg/s (pub -l to sub -C)\n", who, q, s, n, n / d }'
}
lia=$build/lia
for q in 0 1 2; do
	peer_run mosq "$q" "mosquitto_sub -h 127.0.0.1 -p $port -q $q -t bench/mosq$q -C $n" \
		"mosquitto_pub -h 127.0.0.1 -p $port -q $q -t bench/mosq$q -l"
	[ -x "$lia" ] && peer_run "lia" "$q" "$lia sub -h 127.0.0.1 -p $port -q $q -t bench/lia$q -C $n" \
		"$lia pub -h 127.0.0.1 -p $port -q $q -t bench/lia$q -l"
done
