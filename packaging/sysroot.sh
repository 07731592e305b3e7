#!/bin/sh
# sysroot.sh ARCH DIR PKG... - download Debian packages of architecture ARCH
# (arm64, armhf) and unpack them into DIR, without touching the system's
# dpkg architectures: apt runs on a private state in DIR/.apt (its own
# package lists, its own cache, an empty dpkg status), reading the system's
# sources. DIR then serves two purposes:
#   - a sysroot to build against (-I DIR/usr/include/<triplet>,
#     -L DIR/usr/lib/<triplet>, -Wl,-rpath-link) when the target's
#     multiarch -dev packages cannot be installed (armhf here: the armhf
#     index of the security mirror fails to update, apt-get update then exits
#     100 and native apt breaks once armhf is enabled);
#   - the root given to qemu-user with -L (libc, libssl, lua5.4 and the C
#     modules busted needs) to run target binaries on the build machine.
# Quiet and fast when DIR/.done lists the same packages already.
set -eu
arch=$1 dir=$2
shift 2
want="$arch $*"
[ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$want" ] && exit 0
apt="$dir/.apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$apt/parts"
: > "$apt/status"
# The system's sources, read through our own lists directory.
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] && cp "$f" "$apt/parts/"
done
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$apt/sources.list" || : > "$apt/sources.list"
APT_OPTS="-o APT::Architecture=$arch -o APT::Architectures::=$arch
 -o Dir::State::Lists=$apt/lists -o Dir::State::status=$apt/status
 -o Dir::Cache=$apt/cache -o Dir::Etc::SourceList=$apt/sources.list
 -o Dir::Etc::SourceParts=$apt/parts -o Debug::NoLocking=1
 -o APT::Sandbox::User=root -qq"
echo "sysroot: $arch packages into $dir"
# An index that fails (a mirror in the middle of a sync) is only a warning
# here: the other indexes still serve, and the system's apt is untouched.
# shellcheck disable=SC2086
apt-get $APT_OPTS update >"$apt/update.log" 2>&1 ||
	echo "sysroot: apt-get update reported errors (see $apt/update.log); going on" >&2
# shellcheck disable=SC2086
(cd "$apt/debs" && rm -f ./*.deb && apt-get $APT_OPTS download "$@")
for d in "$apt/debs"/*.deb; do
	dpkg-deb -x "$d" "$dir"
done
echo "$want" > "$dir/.done"
