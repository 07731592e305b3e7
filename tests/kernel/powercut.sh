#!/bin/sh
# powercut.sh OUT - power cuts (docs/durability.md): boot the kernel tier's
# VM (tests/kernel/build.sh must have run) with an ext4 virtual disk, let
# lia store publishes and lia.state values on it, kill the VM (kill -9 of
# qemu: the guest loses everything it had not written through) at CUTS
# random moments (default 50), boot again each time. Every boot first prints
# what the store holds; the publishes lia reported stored before a cut must
# all be there, and the store must open every time. Ends with
# "powercut: N passed, N failed".
set -u
out=${1:-build/kernel}
cuts=${CUTS:-50}
img=$out/disk.img
start=$(date +%s)
accel="-accel ${KERNEL_ACCEL:-tcg} -accel tcg"
kernel=$out/vmlinuz
[ -f "$out/vmlinux" ] && kernel=$out/vmlinux    # build.sh: the PVH boot
rm -f "$img" "$out"/cut*.txt "$out"/cut*.log
truncate -s 32M "$img"
mkfs.ext4 -q -F -O ^metadata_csum,^64bit "$img" || { echo "powercut: 0 passed, 1 failed (mkfs.ext4)"; exit 1; }
boot() {
	exec qemu-system-x86_64 $accel -m 256 -smp 1 -nographic -no-reboot -net none -kernel "$kernel" \
		-initrd "$out/initrd.cpio.gz" -drive file="$img",format=raw,if=virtio \
		-append "console=ttyS0 panic=-1 loglevel=3 lia.powercut=$1" </dev/null >"$2" 2>&1
}
fail=0
i=1
while [ "$i" -le "$cuts" ]; do
	boot run "$out/cut$i.log" &
	qpid=$!
	t=0
	while ! grep -aq 'powercut: running' "$out/cut$i.log" 2>/dev/null; do
		t=$((t + 1))
		if [ "$t" -gt 1200 ] || ! kill -0 "$qpid" 2>/dev/null; then
			echo "powercut: boot $i did not start lia:"; tail -n 20 "$out/cut$i.log"
			fail=$((fail + 1)); break
		fi
		sleep 0.05
	done
	# a random moment is the point: nothing to wait for
	sleep "$(awk -v s="$i$$" 'BEGIN { srand(s); printf "%.3f", rand() * 1.5 }')"
	kill -9 "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	tr -d '\r' <"$out/cut$i.log" >"$out/cut$i.txt"
	i=$((i + 1))
done
boot check "$out/cutfinal.log" &
qpid=$!
(sleep 120; kill -9 "$qpid" 2>/dev/null) &
guard=$!
wait "$qpid"
kill "$guard" 2>/dev/null
tr -d '\r' <"$out/cutfinal.log" >"$out/cut$i.txt"
# boot k's CHECK line against the last "S n" of boot k-1
pass=0
k=2
while [ "$k" -le "$i" ]; do
	prev=$(grep -ao '^S [0-9]*' "$out/cut$((k - 1)).txt" | tail -n 1 | cut -d' ' -f2)
	prev=${prev:-0}
	check=$(grep -a '^CHECK ' "$out/cut$k.txt" | head -n 1)
	q=$(echo "$check" | sed -n 's/.*queued=\([0-9]*\).*/\1/p')
	nx=$(echo "$check" | sed -n 's/.*next=\([0-9]*\).*/\1/p')
	v=$(echo "$check" | sed -n 's/.*v=\([0-9]*\).*/\1/p')
	if [ -z "$check" ] || grep -aq 'unusable\|mount failed' "$out/cut$k.txt" ||
			[ "$q" -lt "$prev" ] || [ "$v" -lt "$prev" ] || [ "$q" -ne $((nx - 1)) ] ||
			! echo "$check" | grep -q 'persistent=true'; then
		echo "not ok - boot $k: stored up to $prev before the cut, then: ${check:-no CHECK line}"
		grep -a 'unusable\|mount failed' "$out/cut$k.txt"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
	k=$((k + 1))
done
echo "powercut: $cuts cuts, last check: $(grep -a '^CHECK ' "$out/cut$i.txt"), $(( $(date +%s) - start )) s"
echo "powercut: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
