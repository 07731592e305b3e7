-- idle_agent.lua - the script make bench measures an idle agent with: about
-- a hundred lines of what a field script holds (a client with a will,
-- commands in JSON with per-filter handlers, telemetry on a timer, a
-- little state), connected and then waiting. It prints "idle agent ready"
-- once its first telemetry went out (a line no log line of lia's has: in
-- safe mode lia runs no script but still connects); the bench reads VmRSS
-- after that, and kills it, hence --safe-mode-after 0:
--
--   BENCH_URI=mqtt://127.0.0.1:1883 lia run --no-watch --safe-mode-after 0 tests/tools/idle_agent.lua
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"

local ID = "bench-idle-lua"
local BASE = "lia/" .. ID .. "/"
local INTERVAL_MS = 60000

local c = mqtt.client {
	uri = os.getenv("BENCH_URI") or "mqtt://127.0.0.1:1883",
	client_id = ID,
	persist = false,
	will = { topic = BASE .. "status", payload = "offline", qos = 1, retain = true },
}

local relays = { pump = false, fan = false, light = false }
local counters = { commands = 0, rejected = 0, telemetry = 0 }
local started = os.time()

local function read(path)
	local f = io.open(path, "r")
	if not f then return nil end
	local s = f:read("a")
	f:close()
	return s
end

local function load_average()
	return (read("/proc/loadavg") or ""):match("^(%S+)")
end

local function memory_kb()
	local m = read("/proc/meminfo") or ""
	return tonumber(m:match("MemAvailable:%s+(%d+)"))
end

local function reply(kind, body)
	c:publish(BASE .. "reply/" .. kind, body, { qos = 1 })
end

local function reject(kind, why)
	counters.rejected = counters.rejected + 1
	reply(kind, { error = why })
end

local function publish_state()
	c:publish(BASE .. "relays", relays, { qos = 1, retain = true })
end

local function publish_telemetry()
	counters.telemetry = counters.telemetry + 1
	c:publish(BASE .. "telemetry", {
		load = tonumber(load_average()),
		available_kb = memory_kb(),
		uptime_s = os.time() - started,
		counters = counters,
	}, { qos = 1 })
end

-- {"relay":"pump","on":true}
local function on_relay(_, msg)
	local cmd = msg:json()
	if type(cmd) ~= "table" or relays[cmd.relay] == nil then
		return reject("relay", "want {\"relay\": name, \"on\": bool}")
	end
	counters.commands = counters.commands + 1
	relays[cmd.relay] = cmd.on == true
	publish_state()
	reply("relay", { relay = cmd.relay, on = relays[cmd.relay] })
end

local ticker

-- {"interval_s":30}
local function on_config(_, msg)
	local cmd = msg:json()
	local s = type(cmd) == "table" and tonumber(cmd.interval_s)
	if not s or s < 1 or s > 86400 then
		return reject("config", "interval_s must be 1..86400")
	end
	INTERVAL_MS = math.floor(s * 1000)
	if ticker then ticker:stop() end
	ticker = timer.every(INTERVAL_MS, publish_telemetry)
	reply("config", { interval_s = s })
end

c:on("connect", function(client)
	client:publish(BASE .. "status", "online", { qos = 1, retain = true })
	client:subscribe(BASE .. "cmd/relay", 1, on_relay)
	client:subscribe(BASE .. "cmd/config", 1, on_config)
	publish_state()
	publish_telemetry()
	ticker = ticker or timer.every(INTERVAL_MS, publish_telemetry)
	print("idle agent ready")
	io.stdout:flush()
end)
c:on("disconnect", function(_, info)
	lia.log.warn("broker gone:", info.reason_name or info.reason)
end)
c:connect()
