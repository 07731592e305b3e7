#!/bin/sh
# run.sh SECONDS FUZZER... - run each libFuzzer target for SECONDS from its
# seeds (tests/fuzz/corpus/NAME when checked in, else the MQTT seeds made
# from the conformance corpus in build-fuzz/seeds) and a per-target corpus
# it grows (build-fuzz/corpus-NAME). Prints "fuzz: N passed, N failed" (one
# per target).
secs=$1
shift
pass=0
fail=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus=build-fuzz/corpus-$name
	seeds=tests/fuzz/corpus/$name
	[ -d "$seeds" ] || seeds=build-fuzz/seeds
	mkdir -p "$corpus" build-fuzz/seeds
	if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=build-fuzz/"$name"- "$corpus" "$seeds" \
			>build-fuzz/"$name".log 2>&1; then
		echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' build-fuzz/"$name".log | tail -n 1 | grep -o '[0-9][0-9]*' || echo '?') runs in ${secs}s)"
		pass=$((pass + 1))
	else
		echo "fuzz $name: FAILED; see build-fuzz/$name.log and build-fuzz/$name-crash-*"
		tail -n 30 build-fuzz/"$name".log
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
