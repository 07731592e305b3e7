#!/bin/sh
# stress.sh BUILD_DIR ASAN_BUILD_DIR [RUNS] - make test-stress: the unit,
# spec and conformance tiers, plain and ASan+UBSan (tests/run.sh with
# LIA_CORE_TIERS=1), RUNS times in a row (default 3) while stress-ng keeps
# both cores busy, as on a development machine doing other work. Every run
# must pass: a test that only passes on an idle machine is a defect.
# Prints one line per run (time, result) and ends with
# "stress: N passed, N failed" (runs).
set -u
build=${1:-build}
asan=${2:-build-asan}
runs=${3:-3}
hogs=${STRESS_CPUS:-2}
if ! command -v stress-ng >/dev/null; then
	echo "stress: stress-ng is not installed (make deps)"
	echo "stress: 0 passed, 1 failed"
	exit 1
fi
mkdir -p "$build"
stress-ng --cpu "$hogs" --quiet >/dev/null 2>&1 &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
pass=0 fail=0
i=1
while [ "$i" -le "$runs" ]; do
	log=$build/stress-$i.log
	t0=$(date +%s)
	LIA_CORE_TIERS=1 sh tests/run.sh "$build" "$asan" >"$log" 2>&1
	rc=$?
	t1=$(date +%s)
	last=$(tail -n 1 "$log")
	echo "stress run $i/$runs (stress-ng --cpu $hogs): $last, $((t1 - t0)) s (log: $log)"
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		grep -E -A 12 'FAILED' "$log" | head -n 60 | sed 's/^/    /'
	fi
	i=$((i + 1))
done
echo "stress: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
