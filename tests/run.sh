#!/bin/sh
# run.sh BUILD_DIR [ASAN_BUILD_DIR] - run every test tier and add the results up.
# run.sh --sanitizers ASAN_BUILD_DIR - only the asan-* tiers (make asan).
#
#   unit         every executable in BUILD_DIR/tests/; each prints
#                "<name>: N passed, N failed" and exits non-zero on failure. A
#                binary that crashes, times out or prints no such line counts
#                as 1 failed.
#   spec         tests/spec/*_spec.lua, one busted process per file (a hung or
#                crashing file costs only itself), TAP output, LIA=<abs lia>.
#                A file whose busted run fails without a "not ok" line counts
#                as 1 failed.
#   conformance  the 1 343-case corpus in ../shared (tests/tools/conformance.c)
#   valgrind     a long QoS 1/2 session under memcheck (tests/valgrind.sh)
#   faults       QoS 1/2 streams through a proxy that cuts, tears and holds
#                links, broker restarts, a short soak (tests/faults/faults.py;
#                LIA_NO_FAULTS=1 skips it)
#   fuzz         each libFuzzer target for FUZZ_TIME seconds, when built
#   kernel       GPIO/I2C Linux backends in a qemu VM (tests/kernel/run.sh;
#                LIA_NO_KERNEL=1 skips it)
#   cross ARCH   build-ARCH/ (make cross-build-tests) under qemu-user:
#                tests/cross/run.sh, when built
#   asan-*       unit, spec and conformance again with ASAN_BUILD_DIR
#
# LIA_CORE_TIERS=1: only unit, spec and conformance (and their asan-*
# runs): what make test-stress repeats under load (tests/stress.sh).
#
# Prints a summary per tier and ends with exactly "N passed, N failed";
# exits non-zero when anything failed.
set -u

only_asan=
if [ "${1:-}" = "--sanitizers" ]; then
	only_asan=1
	shift
	set -- "" "${1:-build-asan}"
fi
build=${1:-build}
asan=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
abs() { case $1 in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
[ -n "$build" ] && build=$(abs "$build")
[ -n "$asan" ] && asan=$(abs "$asan")

UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}
SPEC_TIMEOUT=${SPEC_TIMEOUT:-300}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-600}
FUZZ_TIME=${FUZZ_TIME:-15}
CONFORMANCE_DIR=${CONFORMANCE_DIR:-$root/../shared/conformance/mosquitto-client-sequences}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lia-run.XXXXXX") || exit 1
trap 'exit 130' INT TERM
trap '[ -n "${lane_pids:-}" ] && kill $lane_pids 2>/dev/null; rm -rf "$tmp"' EXIT

total_pass=0 total_fail=0
tier_pass=0 tier_fail=0
out=$tmp/out        # the last command's output; one per lane

add() { tier_pass=$((tier_pass + $1)); tier_fail=$((tier_fail + $2)); }

tier_t0=$(date +%s)
end_tier() {
	now=$(date +%s)
	echo "== $1: $tier_pass passed, $tier_fail failed ($((now - tier_t0)) s)"
	tier_t0=$now
	total_pass=$((total_pass + tier_pass))
	total_fail=$((total_fail + tier_fail))
	tier_pass=0 tier_fail=0
}

# counted LABEL CMD... - run a command whose last result line is
# "<word>: N passed, N failed"; no such line or a failing exit is a failure.
counted() {
	label=$1
	shift
	timeout -k 5 "$TOOL_TIMEOUT" "$@" >"$out" 2>&1
	rc=$?
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		p=0 f=1 why="no result line (exit status $rc)"
	else
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
		f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
		why="exit status $rc"
		# Passed every test but still failed (sanitizer report at exit...).
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	fi
	if [ "$f" -ne 0 ]; then
		echo "--- $label FAILED ($why):"
		sed 's/^/    /' "$out"
	fi
	echo "$label: $p passed, $f failed"
	add "$p" "$f"
}

run_unit() {
	for t in "$1"/tests/*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		counted "unit $(basename "$t")" "$t"
	done
}

run_specs() {
	lia=$1/lia
	lua=$(command -v lua5.4 || command -v lua)
	busted=$(command -v busted)
	if [ -z "$busted" ] || [ -z "$lua" ]; then
		echo "--- busted or lua5.4 not installed: the specs count as 1 failed"
		add 0 1
		return
	fi
	if [ ! -x "$lia" ]; then
		echo "--- $lia does not exist: the specs count as 1 failed"
		add 0 1
		return
	fi
	mkdir -p tests/tmp
	for s in tests/spec/*_spec.lua; do
		[ -f "$s" ] || continue
		name=$(basename "$s" .lua)
		# each spec file its own data directory (the store, crash counters):
		# nothing leaks between files or from an earlier run into this one
		rm -rf "$tmp/state-$name"
		STATE_DIRECTORY="$tmp/state-$name" LIA="$lia" timeout -k 10 "$SPEC_TIMEOUT" \
			"$lua" "$busted" -o TAP "$s" >"$out" 2>&1
		rc=$?
		p=$(grep -c '^ok ' "$out")
		f=$(grep -c '^not ok ' "$out")
		why="exit status $rc"
		[ "$rc" -eq 124 ] && why="timed out after ${SPEC_TIMEOUT}s"
		if [ "$rc" -ne 0 ] && { [ "$f" -eq 0 ] || [ "$rc" -ge 124 ]; }; then
			f=$((f + 1))
		fi
		if [ "$f" -ne 0 ]; then
			echo "--- $name FAILED ($why):"
			# The TAP lines that failed and their diagnostics, not the passes.
			awk '/^not ok /{show=1} /^ok /{show=0} show' "$out" | sed 's/^/    /'
			grep -q '^not ok ' "$out" || sed 's/^/    /' "$out"
		fi
		# figures a spec measured (TAP comments "# measured: ...")
		grep '^# measured: ' "$out" | sed 's/^# //'
		echo "spec $name: $p passed, $f failed"
		add "$p" "$f"
	done
}

run_conformance() {
	if [ ! -d "$CONFORMANCE_DIR" ]; then
		echo "--- no conformance corpus at $CONFORMANCE_DIR: counts as 1 failed"
		add 0 1
		return
	fi
	counted "conformance" "$1/tools/conformance" "$CONFORMANCE_DIR"
	grep -E '^(MISMATCH|STALE WAIVER)' "$out" | head -n 50
}

# Three lanes share the two cores: the suite's own tiers (unit, specs,
# conformance, then again under ASan) in this shell, and beside them the
# tiers that run lia inside something else (the fault proxy, the kernel
# VM, other brokers, qemu-user: armhf after the others in one lane, arm64
# and then the fuzz targets in the other), each with its own brokers,
# ports, VM and temporary files: none shares state with another. The lanes' reports are
# printed after this shell's; LIA_SERIAL=1 runs them one after the other.
lane_others() {
	out=$tmp/out.others
	total_pass=0 total_fail=0
	tier_t0=$(date +%s)
	counted "valgrind" sh tests/valgrind.sh "$build"
	end_tier "valgrind"
	if [ -z "${LIA_NO_FAULTS:-}" ]; then
		python=$(command -v /usr/bin/python3 || command -v python3)
		counted "faults" "$python" tests/faults/faults.py "$build/lia"
		grep -E '^(ok|FAILED) +faults ' "$out"
		end_tier "faults (cuts, half-open links, broker restarts, soak)"
	fi
	# the Linux GPIO and I2C backends against gpio-sim and i2c-stub in a VM
	if [ -z "${LIA_NO_KERNEL:-}" ] && [ -f tests/kernel/run.sh ]; then
		# a guard only: 50 power-cut boots under TCG beside the other lanes
		guard=$TOOL_TIMEOUT
		TOOL_TIMEOUT=${KERNEL_TIER_TIMEOUT:-1500}
		counted "kernel" sh tests/kernel/run.sh "$build/kernel" "$build/lia"
		TOOL_TIMEOUT=$guard
		end_tier "kernel VM (gpio-sim, i2c-stub)"
	fi
	# other brokers: RabbitMQ, ejabberd, an ejabberd cluster (make test-brokers)
	if [ -z "${LIA_NO_BROKERS:-}" ] && [ -f tests/brokers/run.sh ]; then
		counted "brokers" sh tests/brokers/run.sh "$build/lia"
		end_tier "other brokers (RabbitMQ, ejabberd, cluster)"
	fi
	cross_tier armhf
	echo "lane: $total_pass $total_fail"
}

# the cross builds (build-arm64/, build-armhf/) under qemu-user
cross_tier() {
	out=$tmp/out.$1
	if [ -x "build-$1/lia" ]; then
		# a guard only: under emulation, beside the other lanes, the tier
		# takes 6-10 minutes
		TOOL_TIMEOUT=${CROSS_TIMEOUT:-1800}
		counted "cross $1" sh tests/cross/run.sh "$1"
		end_tier "cross $1 (emulated)"
	fi
}

lane_arm64() {
	total_pass=0 total_fail=0
	tier_t0=$(date +%s)
	cross_tier arm64
	# the fuzz targets, each for FUZZ_TIME seconds, when built
	out=$tmp/out.fuzz
	fuzzers=
	for f in decode client uri ws_frame config cli scram alias bundle; do
		[ -x build-fuzz/fuzz_$f ] && fuzzers="$fuzzers build-fuzz/fuzz_$f"
	done
	if [ -n "$fuzzers" ]; then
		# shellcheck disable=SC2086 # one word per target
		counted "fuzz" sh tests/fuzz/run.sh "$FUZZ_TIME" $fuzzers
		end_tier "fuzz (${FUZZ_TIME}s a target)"
	fi
	echo "lane: $total_pass $total_fail"
}

# start_lane NAME CMD...: CMD's report into $tmp/lane.NAME, in the
# background unless LIA_SERIAL is set
lanes=
start_lane() {
	name=$1
	shift
	lanes="$lanes $name"
	if [ -n "${LIA_SERIAL:-}" ]; then
		"$@" >"$tmp/lane.$name" 2>&1
	else
		"$@" >"$tmp/lane.$name" 2>&1 &
		eval "lane_pid_$name=$!"
		lane_pids="${lane_pids:-} $!"
	fi
}

# end_lane NAME: wait for it, print its report, add its "lane: P F" line
# (a lane that ended without one counts as 1 failed)
end_lane() {
	eval "pid=\${lane_pid_$1:-}"
	[ -n "$pid" ] && wait "$pid"
	grep -v '^lane: ' "$tmp/lane.$1"
	line=$(grep '^lane: ' "$tmp/lane.$1" | tail -n 1)
	if [ -n "$line" ]; then
		# shellcheck disable=SC2086 # "lane: P F" into $1 $2 $3
		set -- $line
		total_pass=$((total_pass + $2))
		total_fail=$((total_fail + $3))
	else
		echo "--- lane $1 ended without its result: counts as 1 failed"
		total_fail=$((total_fail + 1))
	fi
}

if [ -z "$only_asan" ] && [ -z "${LIA_CORE_TIERS:-}" ]; then
	start_lane others lane_others
	start_lane arm64 lane_arm64
fi
if [ -z "$only_asan" ]; then
	run_unit "$build";             end_tier "unit tests"
	run_specs "$build";            end_tier "busted specs"
	run_conformance "$build";      end_tier "conformance"
fi
if [ -n "$asan" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	run_unit "$asan";              end_tier "unit tests (ASan+UBSan)"
	run_specs "$asan";             end_tier "busted specs (ASan+UBSan)"
	run_conformance "$asan";       end_tier "conformance (ASan+UBSan)"
fi
for name in $lanes; do
	end_lane "$name"
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
