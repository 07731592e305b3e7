#!/bin/sh
# dist.sh ARCH BINARY VERSION - the release bundle and the Debian package of
# a cross-built lia, in dist/:
#   lia-VERSION-linux-ARCH.tar.gz  lia (stripped), install.sh, lia.service,
#                                  lia.conf.sample, main.lua, examples/,
#                                  README.md, LICENSE
#   lia_VERSION_ARCH.deb           /usr/bin/lia, /etc/lia/{lia.conf,main.lua},
#                                  /usr/share/lia/examples, the unit, the lia
#                                  user (postinst); depends on libssl3 (loaded
#                                  with dlopen, as are libcurl4, libsqlite3-0
#                                  and libsystemd0: still hard dependencies)
# Made with dpkg-deb --root-owner-group: no fakeroot needed.
set -eu
arch=$1 bin=$2 version=$3
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case $arch in
arm64) triplet=aarch64-linux-gnu ;;
armhf) triplet=arm-linux-gnueabihf ;;
*) echo "dist: ARCH must be arm64 or armhf" >&2; exit 1 ;;
esac
out=$root/dist
work=$out/.work-$arch
name=lia-$version-linux-$arch
rm -rf "$work"
mkdir -p "$work" "$out"
strip=$triplet-strip
command -v "$strip" >/dev/null || strip=strip

# ---- tarball ----
t=$work/$name
mkdir -p "$t/examples"
"$strip" -o "$t/lia" "$bin"
chmod 755 "$t/lia"
cp packaging/lia.service packaging/lia.conf.sample packaging/main.lua packaging/install.sh \
	README.md LICENSE "$t/"
cp packaging/debian/postinst "$t/postinst"
cp scripts/examples/*.lua "$t/examples/"
cp docs/lia.1 packaging/completion/lia.bash packaging/completion/_lia "$t/"
chmod 755 "$t/install.sh" "$t/postinst"
tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"

# ---- .deb ----
d=$work/deb
install -d "$d/DEBIAN" "$d/usr/bin" "$d/etc/lia" "$d/usr/share/lia/examples" \
	"$d/lib/systemd/system" "$d/usr/share/doc/lia"
install -m 755 "$t/lia" "$d/usr/bin/lia"
install -m 644 packaging/lia.conf.sample "$d/etc/lia/lia.conf"
install -m 644 packaging/main.lua "$d/etc/lia/main.lua"
install -m 644 scripts/examples/*.lua "$d/usr/share/lia/examples/"
install -m 644 packaging/lia.service "$d/lib/systemd/system/lia.service"
install -m 644 README.md "$d/usr/share/doc/lia/README.md"
install -d "$d/usr/share/man/man1" "$d/usr/share/bash-completion/completions" \
	"$d/usr/share/zsh/vendor-completions"
gzip -9n <docs/lia.1 >"$d/usr/share/man/man1/lia.1.gz"
chmod 644 "$d/usr/share/man/man1/lia.1.gz"
install -m 644 packaging/completion/lia.bash "$d/usr/share/bash-completion/completions/lia"
install -m 644 packaging/completion/_lia "$d/usr/share/zsh/vendor-completions/_lia"
install -m 644 LICENSE "$d/usr/share/doc/lia/copyright"
install -m 644 packaging/debian/conffiles "$d/DEBIAN/conffiles"
install -m 755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$d/DEBIAN/"
# the newest glibc symbol version the binary needs
glibc=$(readelf -W --dyn-syms "$t/lia" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	-e "s/@GLIBC@/${glibc:-2.17}/" packaging/debian/control.in > "$d/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$d" "$out/lia_${version}_$arch.deb" >/dev/null
rm -rf "$work"
for f in "$out/$name.tar.gz" "$out/lia_${version}_$arch.deb"; do
	echo "dist: $f ($(stat -c %s "$f") bytes)"
done
