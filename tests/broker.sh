# broker.sh - sourced by the shell test tools: start_broker DIR starts a
# mosquitto on a free loopback port (trying several), setting $port and
# $bpid; stop_broker stops it. Never a public broker.
start_broker() {
	_dir=$1
	for _try in 1 2 3 4 5 6 7 8; do
		port=$(( (($$ + _try * 7919 + $(date +%N | sed 's/^0*//;s/^$/0/') % 1000) % 20000) + 40000 ))
		printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$_dir/mosquitto.conf"
		mosquitto -c "$_dir/mosquitto.conf" >"$_dir/mosquitto.log" 2>&1 &
		bpid=$!
		sleep 0.3
		if kill -0 "$bpid" 2>/dev/null; then
			return 0
		fi
	done
	echo "cannot start mosquitto:" >&2
	cat "$_dir/mosquitto.log" >&2
	return 1
}

stop_broker() {
	[ -n "${bpid:-}" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
	bpid=
}
