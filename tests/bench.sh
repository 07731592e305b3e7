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
# no queue limit: with mosquitto's default (1000 messages) a subscriber a
# moment behind loses messages, sub -C never reaches n and the row only
# measures the 60 s guard (the mosquitto rows as much as lia's)
BROKER_CONF="max_queued_messages 0"
start_broker "$dir" || exit 1
echo "bench: mosquitto $(mosquitto -h 2>/dev/null | head -n 1 | awk '{print $3}') on 127.0.0.1:$port; $n messages of $size bytes; $(nproc) cores"

for q in 0 1 2; do
	"$build/tools/bench" -p "$port" -n "$n" -q "$q" -s "$size" -t 60
done

# MQTT 5 topic aliases: the wire bytes per message of one publisher on a
# 60-byte topic (a typical site/building/floor/room/device/quantity path),
# without and with topic_aliases = "auto" (mosquitto's limit: 10 aliases)
long=site-17/building-b/floor-3/room-312/sensor-0042/temperature
for a in "" -A; do
	"$build/tools/bench" -p "$port" -n "$n" -q 1 -s "$size" -t 60 -V 5 -T "$long" $a | tail -n 1
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
		"$build/tools/bench" "$@" | tee "$dir/row.$st"
	done
	# the store's cost, the two rows above compared (issue 10's goal: < 30 %
	# CPU at QoS 1 with a 100-message window); CPU is the process's, which
	# holds the publisher and the subscriber
	cat "$dir/row.memory" "$dir/row.sqlite" | awk -v q="$q" -v w="$w" '
		{ for (i = 1; i < NF; i++) { if ($(i + 1) == "msg/s,") r[NR] = $i; if ($(i + 1) == "us/msg") c[NR] = $i } }
		END { if (c[1] > 0 && r[1] > 0)
			printf "lia   qos=%d w=%d store cost: %+.0f %% CPU per message, %+.0f %% msg/s (sqlite against memory)%s\n",
				q, w, (c[2] / c[1] - 1) * 100, (r[2] / r[1] - 1) * 100,
				q == 1 ? ", publisher and subscriber together (the publisher alone: tests/bench.py, \"store\")" : "" }'
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
	# start publishing once the broker logged the subscription
	wait_subscribed "$(echo "$sub" | sed -E 's/.* -t ([^ ]+).*/\1/')" ||
		echo "bench: $name did not subscribe" >&2
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

# The handler budget (lua/lbudget.c: a SIGALRM timer armed when Lua starts
# running checks the monotonic clock; only a run over its budget gets a count
# hook): the same CPU-bound handlers with the budget and without
# (LIA_BUDGET_HOOK=0), best of three runs each.
cat >"$dir/cpu.lua" <<'LUA'
local timer = require "lia.timer"
local runs, t0 = 0, lia.now()
timer.every(0, function()
	local t, s = {}, 0
	for i = 1, 300000 do t[i % 64 + 1] = i; s = s + (t[(i * 7) % 64 + 1] or 0) % 13 end
	runs = runs + 1
	if runs == 20 then print(lia.now() - t0); lia.stop(0) end
end)
LUA
best_of() {
	best=
	for _ in 1 2 3; do
		ms=$(env "$@" "$lia" run --no-watch "$dir/cpu.lua" 2>/dev/null)
		[ -z "$best" ] || [ "$ms" -lt "$best" ] && best=$ms
	done
	echo "$best"
}
if [ -x "$lia" ]; then
	with=$(best_of LIA_BUDGET_HOOK=1)
	without=$(best_of LIA_BUDGET_HOOK=0)
	awk -v a="$with" -v b="$without" 'BEGIN { printf "lia   handler budget hook: %d ms with, %d ms without: %+.1f%%\n", a, b, (a - b) * 100 / b }'
fi
