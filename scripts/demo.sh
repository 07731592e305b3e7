#!/bin/sh
# demo.sh - what `make demo` runs: a private mosquitto on a free loopback
# port, lia running scripts/examples/telemetry.lua against it, a second lia
# reading a (simulated) TMP102 temperature sensor over I2C with
# scripts/examples/i2c_temperature.lua on `--sim sim_models.lua`, and
# `lia sub -v -t 'lia/#'` printing everything both publish.
# Ctrl-C stops them all and exits 0.
#
#   DEMO_SECONDS=N   stop by itself after N seconds (the tests use this)
#   LIA=path         the lia binary (default ./lia)
set -u
cd "$(dirname "$0")/.." || exit 1
LIA=${LIA:-./lia}
ID=${DEMO_ID:-demo}
[ -x "$LIA" ] || { echo "demo: $LIA not found; run make first" >&2; exit 1; }
command -v mosquitto >/dev/null || { echo "demo: mosquitto is not installed (make deps)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lia-demo.XXXXXX") || exit 1
mpid="" spid="" rpid="" hpid=""

# stop PID: TERM, wait up to 3 s, then KILL.
stop() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

finish() {
	trap '' INT TERM
	echo
	echo "demo: stopping"
	# lia first, so its clean DISCONNECT reaches the broker (no will).
	stop "$rpid"
	stop "$hpid"
	sleep 0.2
	stop "$spid"
	stop "$mpid"
	rm -rf "$tmp"
	exit "${1:-0}"
}
trap 'finish 0' INT TERM

# A free port: try random ones until mosquitto says it is running.
try=0
while :; do
	try=$((try + 1))
	port=$(awk -v s="$$$try" 'BEGIN { srand(s); print 20000 + int(rand() * 20000) }')
	cat >"$tmp/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
user root
log_dest file $tmp/mosquitto.log
EOF
	: >"$tmp/mosquitto.log"
	mosquitto -c "$tmp/mosquitto.conf" >/dev/null 2>&1 &
	mpid=$!
	i=0
	while [ $i -lt 50 ] && kill -0 "$mpid" 2>/dev/null &&
		! grep -q " running" "$tmp/mosquitto.log"; do
		sleep 0.1; i=$((i + 1))
	done
	grep -q " running" "$tmp/mosquitto.log" && break
	stop "$mpid"; mpid=""
	if [ $try -ge 10 ]; then
		echo "demo: mosquitto did not start:" >&2; cat "$tmp/mosquitto.log" >&2
		finish 1
	fi
done

"$LIA" sub -h 127.0.0.1 -p "$port" -v -t 'lia/#' &
spid=$!
sleep 0.3
"$LIA" run -h 127.0.0.1 -p "$port" -i "$ID" -q 1 \
	--will-topic "lia/$ID/status" --will-payload offline --will-qos 1 --will-retain \
	scripts/examples/telemetry.lua &
rpid=$!
"$LIA" run --sim scripts/examples/sim_models.lua -h 127.0.0.1 -p "$port" -i "$ID-sensor" -q 1 \
	scripts/examples/i2c_temperature.lua 2>"$tmp/sensor.log" &
hpid=$!

echo "demo: mosquitto is listening on 127.0.0.1:$port."
echo "demo: lia runs scripts/examples/telemetry.lua as client '$ID' (load, memory, uptime every 2 s);"
echo "demo: a second lia, client '$ID-sensor', runs scripts/examples/i2c_temperature.lua on the"
echo "demo: simulated board (--sim scripts/examples/sim_models.lua): a TMP102 on /dev/i2c-1 at 0x48;"
echo "demo: 'lia sub -v -t lia/#' prints every message below as 'topic payload'. Ctrl-C stops."

if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS" &
	wait $!
	finish 0
fi
# Wait until Ctrl-C, or until lia exits by itself.
wait "$rpid"
status=$?
rpid=""
echo "demo: lia exited with status $status"
finish "$status"
