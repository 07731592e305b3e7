-- telemetry.lua - publish this machine's load average, memory use and uptime
-- (read from /proc) every INTERVAL seconds, QoS 1, under lia/<id>/telemetry/.
-- It is what `make demo` runs.
--
-- Run it against a broker, with a will that marks the device offline:
--
--   lia run -h localhost -i pi-1 --will-topic lia/pi-1/status \
--       --will-payload offline --will-retain scripts/examples/telemetry.lua
--
-- and watch it with:  lia sub -v -t 'lia/#'
--
-- Topics:
--   lia/<id>/status               "online" when connected (retained); the will says "offline"
--   lia/<id>/telemetry/load       "0.08 0.12 0.10"   (1, 5 and 15 minute load average)
--   lia/<id>/telemetry/memory     {"total_kb":8039808,"available_kb":6120424,"used_pct":23.9}
--   lia/<id>/telemetry/uptime     "86400.25"         (seconds since boot)
--
-- <id> is the client id (-i; give the will topic the same id).
-- INTERVAL (seconds, default 2) may be set by a script that sets the global
-- and then runs this one with dofile.
local timer = require "lia.timer"

INTERVAL = INTERVAL or 2

local function read(path)
	local f = io.open(path, "r")
	if not f then return nil end
	local s = f:read("a")
	f:close()
	return s
end

local function load_average()
	local a, b, c = (read("/proc/loadavg") or ""):match("^(%S+) (%S+) (%S+)")
	return a and (a .. " " .. b .. " " .. c)
end

local function memory()
	local m = read("/proc/meminfo") or ""
	local total = tonumber(m:match("MemTotal:%s+(%d+)"))
	local avail = tonumber(m:match("MemAvailable:%s+(%d+)"))
	if not total or not avail then return nil end
	return string.format('{"total_kb":%d,"available_kb":%d,"used_pct":%.1f}',
		total, avail, 100 * (total - avail) / total)
end

local function uptime()
	return (read("/proc/uptime") or ""):match("^(%S+)")
end

local device                  -- the client id, known once connected
local ticker

local function publish_all()
	local base = "lia/" .. device .. "/telemetry/"
	-- in this order, every time (pairs' order differs between 32- and
	-- 64-bit builds): a reader may take uptime as the end of a round
	for _, m in ipairs { { "load", load_average() }, { "memory", memory() }, { "uptime", uptime() } } do
		if m[2] then mqtt:publish(base .. m[1], m[2], { qos = 1 }) end
	end
end

function on_connect(client, ack)
	device = client.client_id
	client:publish("lia/" .. device .. "/status", "online", { qos = 1, retain = true })
	lia.log.info("telemetry: publishing to lia/" .. device .. "/telemetry/ every", INTERVAL, "s")
	publish_all()
	-- One timer for the life of the script; while the broker is away the
	-- QoS 1 messages wait in the offline queue and go out on reconnect.
	ticker = ticker or timer.every(math.floor(INTERVAL * 1000), publish_all)
end
