#!/bin/sh
# fleet_walkthrough.sh - the walk-through of docs/fleet.md (run by
# tests/spec/fleet_docs_spec.lua): a key pair, one device, a signed bundle
# pushed as a staged rollout and committed, the fleet at a glance.
#   LIA=lia BROKER=localhost PORT=1883 WORK=/tmp/fleet-demo sh fleet_walkthrough.sh
# (HEALTH: the health window in seconds, default 30; the test uses 1)
set -e
: "${LIA:=lia}" "${BROKER:=localhost}" "${PORT:=1883}" "${WORK:=/tmp/fleet-demo}" "${HEALTH:=30}"
EX=$(dirname "$0")
mkdir -p "$WORK/keys" "$WORK/trusted.d" "$WORK/device"

# 1. a key pair for whoever deploys; the devices trust its public half
"$LIA" keygen "$WORK/keys/ops"
cp "$WORK/keys/ops.pub" "$WORK/trusted.d/"

# 2. a device in group "kitchen", with its first script
echo 'print("first script")' > "$WORK/device/main.lua"
"$LIA" run -h "$BROKER" -p "$PORT" -i pi-kitchen --fleet --fleet-group kitchen \
	--trusted-dir "$WORK/trusted.d" --data-dir "$WORK/device/data" --health-window "$HEALTH" \
	"$WORK/device/main.lua" > "$WORK/device/out" 2> "$WORK/device/log" &
DEVICE=$!
trap 'kill $DEVICE; wait $DEVICE' EXIT

# 3. its retained status says it is online
mosquitto_sub -h "$BROKER" -p "$PORT" -t lia/pi-kitchen/status -C 1 -W 30 | grep '"online":true'

# 4. sign the app as a bundle, push it to the group through one canary;
#    push waits for each device's result and exits 1 when one rolls back
"$LIA" bundle sign --key "$WORK/keys/ops.key" --id kitchen-app-2 --version 2 \
	-o "$WORK/app.json" "$EX/fleet_app.lua"
"$LIA" bundle push -h "$BROKER" -p "$PORT" --group kitchen --canary 1 --then-all "$WORK/app.json"

# 5. the fleet at a glance
"$LIA" fleet -h "$BROKER" -p "$PORT" --once
