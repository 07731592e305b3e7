#!/bin/sh
# run.sh BUILD_DIR - run every test tier and add the results up.
#
#   1. unit tests: every executable in BUILD_DIR/tests/; each prints
#      "<name>: N passed, N failed" and exits non-zero on failure. A binary
#      that crashes, times out or prints no such line counts as 1 failed.
#   2. busted specs: tests/spec/*_spec.lua, one busted process per file (so a
#      hung or crashing file costs only itself), TAP output, LIA=<abs lia>.
#      A file whose busted run fails without a "not ok" line counts as 1 failed.
#
# Prints a summary per tier and ends with exactly "N passed, N failed";
# exits non-zero when anything failed.
set -u

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
case $build in /*) ;; *) build="$root/$build" ;; esac

UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}
SPEC_TIMEOUT=${SPEC_TIMEOUT:-300}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lia-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

unit_pass=0 unit_fail=0
for t in "$build"/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	timeout -k 5 "$UNIT_TIMEOUT" "$t" >"$tmp/out" 2>&1
	rc=$?
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
	if [ -z "$line" ]; then
		p=0 f=1
		why="no result line (exit status $rc)"
	else
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
		f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
		why="exit status $rc"
		# Passed every test but still failed (sanitizer report at exit...).
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	fi
	if [ "$f" -ne 0 ]; then
		echo "--- $name FAILED ($why):"
		sed 's/^/    /' "$tmp/out"
	fi
	echo "unit $name: $p passed, $f failed"
	unit_pass=$((unit_pass + p))
	unit_fail=$((unit_fail + f))
done
echo "== unit tests: $unit_pass passed, $unit_fail failed"

spec_pass=0 spec_fail=0
lua=$(command -v lua5.4 || command -v lua)
busted=$(command -v busted)
if [ -z "$busted" ] || [ -z "$lua" ]; then
	echo "--- busted or lua5.4 not installed: the specs count as 1 failed"
	spec_fail=1
elif [ ! -x "$build/lia" ]; then
	echo "--- $build/lia does not exist: the specs count as 1 failed"
	spec_fail=1
else
	mkdir -p tests/tmp
	for s in tests/spec/*_spec.lua; do
		[ -f "$s" ] || continue
		name=$(basename "$s" .lua)
		LIA="$build/lia" timeout -k 10 "$SPEC_TIMEOUT" \
			"$lua" "$busted" -o TAP "$s" >"$tmp/out" 2>&1
		rc=$?
		p=$(grep -c '^ok ' "$tmp/out")
		f=$(grep -c '^not ok ' "$tmp/out")
		why="exit status $rc"
		[ "$rc" -eq 124 ] && why="timed out after ${SPEC_TIMEOUT}s"
		if [ "$rc" -ne 0 ] && { [ "$f" -eq 0 ] || [ "$rc" -ge 124 ]; }; then
			f=$((f + 1))
		fi
		if [ "$f" -ne 0 ]; then
			echo "--- $name FAILED ($why):"
			# The TAP lines that failed and their diagnostics, not the passes.
			awk '/^not ok /{show=1} /^ok /{show=0} show' "$tmp/out" | sed 's/^/    /'
			grep -q '^not ok ' "$tmp/out" || sed 's/^/    /' "$tmp/out"
		fi
		echo "spec $name: $p passed, $f failed"
		spec_pass=$((spec_pass + p))
		spec_fail=$((spec_fail + f))
	done
fi
echo "== busted specs: $spec_pass passed, $spec_fail failed"

pass=$((unit_pass + spec_pass))
fail=$((unit_fail + spec_fail))
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
