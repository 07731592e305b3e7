#!/bin/sh
# deps.sh PKG... - install the Debian packages that are missing (as root, or
# through sudo). Quiet and fast when everything is there already.
# PKG may be arch-qualified (liblua5.4-dev:arm64). An unqualified name means
# the native package (or an Architecture: all one): `dpkg -s NAME` cannot be
# asked, it fails with "ambiguous package name" as soon as a foreign
# instance (multiarch arm64 -dev packages) is installed next to the native one.
native=$(dpkg --print-architecture)
installed() {
	case $1 in
	*:*) want=${1#*:} ;;
	*) want=$native ;;
	esac
	dpkg-query -W -f='${db:Status-Abbrev} ${Architecture}\n' "$1" 2>/dev/null |
		grep -Eq "^ii +($want|all)\$"
}
missing=""
for p in "$@"; do
	installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "deps: apt-get update failed; trying the install anyway" >&2
$SUDO apt-get install -y -qq --no-install-recommends $missing
