#!/bin/sh
# valgrind.sh BUILD_DIR - a long QoS 1 and QoS 2 session through a real
# mosquitto under valgrind's memcheck: every message must arrive and
# nothing may leak or touch memory it should not. Prints
# "valgrind: N passed, N failed".
set -u
build=${1:-build}
n=${VALGRIND_N:-20000}
dir=$(mktemp -d)
trap 'stop_broker; rm -rf "$dir"' EXIT INT TERM
. "$(dirname "$0")/broker.sh"
pass=0
fail=0
if ! command -v valgrind >/dev/null; then
	echo "valgrind: not installed"
	echo "valgrind: 0 passed, 1 failed"
	exit 1
fi
start_broker "$dir" || { echo "valgrind: 0 passed, 1 failed"; exit 1; }
for q in 1 2; do
	if valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
			--error-exitcode=99 "$build/tools/bench" -p "$port" -n "$n" -q "$q" -t 120 \
			>"$dir/out" 2>&1; then
		pass=$((pass + 1))
		echo "valgrind qos=$q: clean, $(grep -o 'received [0-9]*' "$dir/out")"
	else
		fail=$((fail + 1))
		echo "valgrind qos=$q: FAILED"
		sed 's/^/    /' "$dir/out" | tail -n 40
	fi
done
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
