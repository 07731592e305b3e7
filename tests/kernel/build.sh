#!/bin/sh
# build.sh OUT LIA - build what the kernel tier boots, into OUT/:
#   gpio-sim.ko  the kernel's GPIO simulator, built out of tree from Debian's
#                linux-source against linux-headers (Debian's kernels have
#                CONFIG_GPIO_SIM and CONFIG_IRQ_SIM off, so kernel/irq/irq_sim.c
#                is linked into the module; its one call to the unexported
#                irq_to_desc() becomes generic_handle_irq(), which does the same)
#   initrd.cpio.gz  busybox (static), LIA and the libraries it links, the
#                modules (configfs, i2c-dev, i2c-stub, gpio-sim; virtio-blk and
#                ext4 for the power-cut test), tests/kernel/*
#   vmlinuz      the Debian kernel (linux-image-amd64)
# Everything comes from Debian packages: linux-image-amd64, linux-headers-amd64,
# linux-source, busybox-static, cpio (and qemu-system-x86 to run it).
set -eu
out=$1
lia=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The newest Debian kernel that has its headers installed.
kver=
for v in /boot/vmlinuz-*; do
	k=${v#/boot/vmlinuz-}
	[ -d "/lib/modules/$k/build" ] && [ -f "/lib/modules/$k/kernel/drivers/i2c/i2c-stub.ko" ] && kver=$k
done
[ -n "$kver" ] || { echo "build.sh: no kernel with headers (apt-get install linux-image-amd64 linux-headers-amd64)" >&2; exit 1; }
src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | tail -n 1)
[ -n "$src" ] || { echo "build.sh: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source)" >&2; exit 1; }
echo "$kver" >"$out/kver"
cp "/boot/vmlinuz-$kver" "$out/vmlinuz"
# and uncompressed: qemu boots an ELF vmlinux through its PVH entry, which
# skips the bzImage's xz decompression, about half of a boot under TCG (the
# power-cut test boots 51 times). run.sh and powercut.sh fall back to
# vmlinuz when this is absent.
rm -f "$out/vmlinux"
xzat=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$out/vmlinuz" | head -n 1 | cut -d: -f1)
if [ -n "$xzat" ] && grep -q '^CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null; then
	# xz stops at the stream's end and complains of the bytes after it
	tail -c +$((xzat + 1)) "$out/vmlinuz" | xz -dc >"$out/vmlinux.tmp" 2>/dev/null || true
	if [ "$(head -c 4 "$out/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		mv "$out/vmlinux.tmp" "$out/vmlinux"
	fi
	rm -f "$out/vmlinux.tmp"
fi

# ---- gpio-sim.ko ----
mod=$out/gpio-sim
if [ ! -f "$mod/gpio-sim.ko" ] || [ "$(cat "$mod/kver" 2>/dev/null)" != "$kver" ]; then
	rm -rf "$mod"
	mkdir -p "$mod/src"
	top=$(basename "$src" .tar.xz)
	tar -xJf "$src" -C "$mod/src" "$top/drivers/gpio/gpio-sim.c" "$top/drivers/gpio/gpiolib.h" \
		"$top/kernel/irq/irq_sim.c"
	cp "$mod/src/$top/drivers/gpio/gpio-sim.c" "$mod/gpio-sim-main.c"
	cp "$mod/src/$top/drivers/gpio/gpiolib.h" "$mod/src/$top/kernel/irq/irq_sim.c" "$mod/"
	sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$mod/irq_sim.c"
	printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' >"$mod/Kbuild"
	make -s -C "/lib/modules/$kver/build" M="$mod" modules >"$mod/build.log" 2>&1 ||
		{ cat "$mod/build.log" >&2; exit 1; }
	echo "$kver" >"$mod/kver"
fi

# ---- the initramfs ----
root=$out/root
rm -rf "$root"
mkdir -p "$root/bin" "$root/lib/modules" "$root/tests" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in sh mount umount mkdir echo cat ls insmod poweroff sleep grep sed basename sync dmesg tail; do
	ln -s busybox "$root/bin/$a"
done
cp "$lia" "$root/bin/lia"
# the shared libraries lia links (libc, ...) and those it loads when first
# needed (core/dynlib.c: SQLite for the store, OpenSSL), with what they
# link, at the same paths
dlopened=$(for so in libsqlite3.so.0 libcrypto.so.3 libssl.so.3; do
	ldconfig -p | awk -v s="$so" '$1 == s && /x86-64/ { print $NF; exit }'
done)
for f in "$lia" $dlopened; do
	echo "$f"
	ldd "$f" | awk '/=> \//{ print $3 } /^\t\/.*ld-linux/{ print $1 }'
done | sort -u | while read -r l; do
	[ "$l" = "$lia" ] && continue
	mkdir -p "$root$(dirname "$l")"
	cp -L "$l" "$root$l"
done
for m in kernel/fs/configfs/configfs.ko kernel/drivers/i2c/i2c-dev.ko kernel/drivers/i2c/i2c-stub.ko; do
	cp "/lib/modules/$kver/$m" "$root/lib/modules/"
done
# the power-cut test's virtual disk: virtio-blk and ext4, in load order
for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_pci_modern_dev \
		drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk \
		crypto/crc32c_generic lib/crc16 fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4; do
	cp "/lib/modules/$kver/kernel/$m.ko" "$root/lib/modules/"
done
cp "$mod/gpio-sim.ko" "$root/lib/modules/"
cp "$here"/init "$root/init"
chmod 755 "$root/init"
cp "$here"/*.lua "$root/tests/"
mkdir -p "$root/data"
cp "$here"/../durability/powercut.lua "$root/powercut.lua"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.cpio.gz"
