#!/bin/sh
# install.sh - install this lia bundle as the .deb would (run as root from
# the unpacked tarball): /usr/bin/lia, /etc/lia/ (kept when present),
# /usr/share/lia/examples, /lib/systemd/system/lia.service, and the lia
# user in groups gpio, dialout, i2c. Needs libssl3 (on Raspberry Pi OS).
# Then: systemctl enable --now lia; journalctl -u lia -f
set -eu
cd "$(dirname "$0")"
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo ./install.sh)" >&2; exit 1; }
install -m 755 lia /usr/bin/lia
install -d /etc/lia /usr/share/lia/examples /lib/systemd/system
[ -e /etc/lia/lia.conf ] || install -m 640 lia.conf.sample /etc/lia/lia.conf
[ -e /etc/lia/main.lua ] || install -m 640 main.lua /etc/lia/main.lua
install -m 644 examples/*.lua /usr/share/lia/examples/
install -m 644 lia.service /lib/systemd/system/lia.service
install -d /usr/share/man/man1 /usr/share/bash-completion/completions /usr/share/zsh/vendor-completions
install -m 644 lia.1 /usr/share/man/man1/lia.1
install -m 644 lia.bash /usr/share/bash-completion/completions/lia
install -m 644 _lia /usr/share/zsh/vendor-completions/_lia
sh ./postinst configure
/usr/bin/lia check --config /etc/lia/lia.conf /etc/lia/main.lua
echo "installed; enable with: systemctl enable --now lia"
