#!/bin/sh
# cross-deps.sh ARCH - what `make cross ARCH=...` and the emulated test tier
# need: Debian's cross compiler and qemu-user, the target's -dev packages,
# and build-sysroot/ARCH (packaging/sysroot.sh): the target's libc, libssl,
# lua5.4 and the C modules busted uses, the root qemu runs binaries in.
#   arm64: the -dev packages through multiarch (dpkg --add-architecture);
#          when that fails, into the sysroot as for armhf.
#   armhf: the -dev packages go into the sysroot too: this mirror's armhf
#          index fails to update (apt-get update exits 100 and breaks native
#          apt), so armhf is never added to the system's architectures.
set -eu
arch=$1
root=$(cd "$(dirname "$0")/.." && pwd)
# the runtime libraries lia and the test tools load (libsystemd0, libsqlite3-0,
# libcjson1 and libcurl4 with what they load: sysroot.sh takes no
# dependencies, so the closure is spelt out (apt-cache depends --recurse, bookworm)
RUNTIME="libc6 libssl3 libsystemd0 libsqlite3-0 libcjson1 libcap2 libgcrypt20 libgpg-error0
 liblz4-1 liblzma5 libzstd1 lua5.4 libreadline8 libtinfo6 lua-term lua-system lua-filesystem lua-cjson"
RUNTIME="$RUNTIME libcurl4 libbrotli1 libgssapi-krb5-2 libidn2-0 libldap-2.5-0 libnghttp2-14
 libpsl5 librtmp1 libssh2-1 zlib1g libcom-err2 libk5crypto3 libkrb5-3 libkrb5support0
 libkeyutils1 libsasl2-2 libsasl2-modules-db libdb5.3 libgnutls30 libhogweed6 libnettle8 libgmp10
 libp11-kit0 libtasn1-6 libunistring2 libffi8 libgcc-s1 gcc-12-base"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
DEV="libssl-dev liblua5.4-dev libserialport-dev lua-cjson-dev libsystemd-dev libsqlite3-dev
 libcjson-dev libcurl4-openssl-dev"
case $arch in
arm64)
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		echo "deps: dpkg --add-architecture arm64"
		$SUDO dpkg --add-architecture arm64
	fi
	if sh "$root/tests/deps.sh" gcc-aarch64-linux-gnu qemu-user-static \
			liblua5.4-dev:arm64 libssl-dev:arm64 libserialport-dev:arm64 lua-cjson-dev:arm64 \
			libsystemd-dev:arm64 libsqlite3-dev:arm64 libcjson-dev:arm64 libcurl4-openssl-dev:arm64; then
		sh "$root/packaging/sysroot.sh" arm64 "$root/build-sysroot/arm64" $RUNTIME
	else
		# The arm64 index could not be had (a mirror mid-sync): take arm64
		# out of apt again so native apt keeps working, and build against
		# a sysroot as armhf does (the Makefile sees its -dev headers).
		echo "deps: arm64 multiarch failed; using a sysroot instead" >&2
		$SUDO dpkg --remove-architecture arm64 2>/dev/null || true
		sh "$root/tests/deps.sh" gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
		sh "$root/packaging/sysroot.sh" arm64 "$root/build-sysroot/arm64" $RUNTIME $DEV
	fi
	;;
armhf)
	sh "$root/tests/deps.sh" gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static
	sh "$root/packaging/sysroot.sh" armhf "$root/build-sysroot/armhf" $RUNTIME $DEV
	;;
*)
	echo "cross-deps: ARCH must be arm64 or armhf, not '$arch'" >&2
	exit 1
	;;
esac
