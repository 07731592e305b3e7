#!/bin/sh
# run.sh LIA - the broker tier: tests/brokers/*_spec.lua (mosquitto,
# RabbitMQ's MQTT plugin, ejabberd's mod_mqtt, a two-node ejabberd
# cluster), each a busted run; ends with "brokers: N passed, N failed".
# The Erlang brokers run from a private directory with a private epmd and
# are stopped by each spec's teardown (process group, then epmd), so
# nothing outlives the tier.
lia=${1:-build/lia}
lua=$(command -v lua5.4 || command -v lua)
busted=$(command -v busted)
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p tests/tmp
for s in tests/brokers/*_spec.lua; do
	name=$(basename "$s" .lua)
	# each spec file its own data directory (tests/run.sh says why)
	STATE_DIRECTORY="$tmp/state-$name" LIA="$lia" timeout -k 10 600 "$lua" "$busted" -o TAP "$s" >"$tmp/out" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$tmp/out")
	f=$(grep -c '^not ok ' "$tmp/out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$f" -ne 0 ]; then
		echo "--- $name FAILED (exit status $rc):"
		awk '/^not ok /{show=1} /^ok /{show=0} show' "$tmp/out" | sed 's/^/    /' | head -n 200
		grep -q '^not ok ' "$tmp/out" || sed 's/^/    /' "$tmp/out" | head -n 100
	fi
	grep -E '^cluster failover' "$tmp/out"
	echo "brokers $name: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
done
echo "brokers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
