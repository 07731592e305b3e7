# broker.sh - sourced by the shell test tools: start_broker DIR starts a
# mosquitto on a free loopback port (trying several), setting $port and
# $bpid, and returns once its log says it is running; stop_broker stops it;
# wait_subscribed FILTER waits until a client subscribed to FILTER (the
# log has subscriptions). Never a public broker. $BROKER_CONF: more lines
# for its configuration.

# wait_log TEXT [SECONDS]: until the broker log has TEXT (fixed string), or
# the broker died, or SECONDS (default 10, a failure guard) passed.
wait_log() {
	_end=$(( $(date +%s) + ${2:-10} ))
	while ! grep -qF -- "$1" "$_dir/mosquitto.log" 2>/dev/null; do
		kill -0 "$bpid" 2>/dev/null || return 1
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.02      # the polling interval, not a decision
	done
}

start_broker() {
	_dir=$1
	for _try in 1 2 3 4 5 6 7 8; do
		port=$(( (($$ + _try * 7919 + $(date +%N | sed 's/^0*//;s/^$/0/') % 1000) % 20000) + 40000 ))
		printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_type subscribe\n%s\n' \
			"$port" "${BROKER_CONF:-}" >"$_dir/mosquitto.conf"
		mosquitto -c "$_dir/mosquitto.conf" >"$_dir/mosquitto.log" 2>&1 &
		bpid=$!
		if wait_log " running"; then
			return 0
		fi
		kill "$bpid" 2>/dev/null
		wait "$bpid" 2>/dev/null
	done
	echo "cannot start mosquitto:" >&2
	cat "$_dir/mosquitto.log" >&2
	return 1
}

wait_subscribed() {
	wait_log " $1" "${2:-10}"
}

stop_broker() {
	[ -n "${bpid:-}" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
	bpid=
}
