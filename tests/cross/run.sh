#!/bin/sh
# tests/cross/run.sh ARCH - the emulated tier: the cross-built lia and C unit
# tests of build-ARCH/ under qemu-user, in the root build-sysroot/ARCH
# (packaging/cross-deps.sh makes both). Ends with
# "cross-ARCH: N passed, N failed"; exits non-zero when anything failed.
#
#   unit    every binary in build-ARCH/tests/ under qemu
#   spec    busted specs with LIA set to the emulated lia; busted (the
#           harness) and mosquitto run natively, the emulated lia talks to
#           mosquitto over loopback. LIA_EMULATED=ARCH tells
#           the specs: the SIGHUP reload re-executes lia, which qemu-user
#           cannot do without binfmt_misc (not mounted here), so that test
#           is left out under emulation.
#   conformance  the MQTT corpus through the emulated core
#
# Every spec by default (about a minute per architecture on 2 cores);
# CROSS_SPECS="cli_spec host_spec" runs only those.
# armhf runs with -cpu cortex-a7: Debian armhf is ARMv7 (Pi 2 and later).
set -u
arch=${1:?usage: run.sh arm64|armhf}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
build=$root/build-$arch
sysroot=$root/build-sysroot/$arch
case $arch in
arm64) qemu="qemu-aarch64-static" ;;
armhf) qemu="qemu-arm-static -cpu cortex-a7" ;;
*) echo "cross-$arch: unknown ARCH"; echo "cross-$arch: 0 passed, 1 failed"; exit 1 ;;
esac
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
SPEC_TIMEOUT=${SPEC_TIMEOUT:-600}
CROSS_SPECS=${CROSS_SPECS:-}
CONFORMANCE_DIR=${CONFORMANCE_DIR:-$root/../shared/conformance/mosquitto-client-sequences}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lia-cross.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
pass=0 fail=0
start=$(date +%s)

emu() { echo "$qemu -L $sysroot"; }

# The emulated lia as one executable path, for the specs' $LIA. exec keeps
# the pid: signals the specs send reach qemu, which passes them on.
cat >"$tmp/lia" <<EOS
#!/bin/sh
exec $(emu) $build/lia "\$@"
EOS
chmod +x "$tmp/lia"

result() {  # result LABEL PASSED FAILED
	echo "$1: $2 passed, $3 failed"
	pass=$((pass + $2)) fail=$((fail + $3))
}

if [ ! -x "$build/lia" ] || [ ! -d "$sysroot" ]; then
	echo "--- $build/lia or $sysroot missing (make cross-build-tests ARCH=$arch)"
	result "cross-$arch" 0 1
	exit 1
fi

# unit tests: "<name>: N passed, N failed" each
for t in "$build"/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	# shellcheck disable=SC2046
	timeout -k 5 "$UNIT_TIMEOUT" $(emu) "$t" >"$tmp/out" 2>&1
	rc=$?
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
	p=$(echo "$line" | sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/p')
	f=$(echo "$line" | sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/p')
	[ -z "$line" ] && p=0 f=1
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	[ "$f" -ne 0 ] && { echo "--- unit $name FAILED (exit status $rc):"; sed 's/^/    /' "$tmp/out" | tail -n 40; }
	result "unit $name" "$p" "$f"
done

# specs
specs=$CROSS_SPECS
[ -z "$specs" ] && specs=$(cd tests/spec && ls ./*_spec.lua | sed 's|^\./||; s|\.lua$||')
busted=$(command -v busted)
# busted is the harness, not what is tested: it runs natively (the host's
# lua5.4), only lia and the unit tests run under qemu. Emulating busted as
# well made the spec half of this tier several times slower.
lua=$(command -v lua5.4 || command -v lua)
mkdir -p tests/tmp
for name in $specs; do
	s=tests/spec/$name.lua
	[ -f "$s" ] || { echo "--- $s does not exist"; result "spec $name" 0 1; continue; }
	# shellcheck disable=SC2046
	# each spec file its own data directory (tests/run.sh says why)
	rm -rf "$tmp/state-$name"
	STATE_DIRECTORY="$tmp/state-$name" LIA="$tmp/lia" LIA_EMULATED=$arch timeout -k 10 "$SPEC_TIMEOUT" \
		"$lua" "$busted" -o TAP "$s" >"$tmp/out" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$tmp/out")
	f=$(grep -c '^not ok ' "$tmp/out")
	if [ "$rc" -ne 0 ] && { [ "$f" -eq 0 ] || [ "$rc" -ge 124 ]; }; then
		f=$((f + 1))
	fi
	if [ "$f" -ne 0 ]; then
		echo "--- spec $name FAILED (exit status $rc):"
		awk '/^not ok /{show=1} /^ok /{show=0} show' "$tmp/out" | sed 's/^/    /'
		grep -q '^not ok ' "$tmp/out" || sed 's/^/    /' "$tmp/out" | tail -n 40
	fi
	result "spec $name" "$p" "$f"
done

# the conformance corpus through the emulated core
if [ -z "$CROSS_SPECS" ] && [ -x "$build/tools/conformance" ] && [ -d "$CONFORMANCE_DIR" ]; then
	# shellcheck disable=SC2046
	timeout -k 5 "$UNIT_TIMEOUT" $(emu) "$build/tools/conformance" "$CONFORMANCE_DIR" >"$tmp/out" 2>&1
	rc=$?
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
	p=$(echo "$line" | sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/p')
	f=$(echo "$line" | sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/p')
	[ -z "$line" ] && p=0 f=1
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	[ "$f" -ne 0 ] && { echo "--- conformance FAILED (exit status $rc):"; tail -n 40 "$tmp/out"; }
	result "conformance" "$p" "$f"
fi

echo "cross-$arch took $(( $(date +%s) - start ))s"
echo "cross-$arch: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
