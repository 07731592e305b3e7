-- agent.lua - the script the kill -9 tests run (tests/spec/durability_spec.lua):
-- both directions at once.
--   out: publishes out/N (QoS = QOS env) in bursts; N continues from
--        lia.state "next", set in the same turn as the publishes, so a
--        message is in the store exactly when "next" went past it.
--        Prints "S a b" once publishes a..b are stored. START (env) makes
--        N begin there instead: the kill test gives every run its own range,
--        so a burst reported stored but lost is never published again by
--        the next run (which would hide the loss).
--   in:  counts every message of in/# in lia.state "in:N" (in the same
--        transaction as the QoS 2 PUBREC state): exactly once means 1.
-- Prints "DRAINED" when TOTAL messages have been published and nothing is
-- queued or in flight any more.
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"
local state = require "lia.state"

local qos = tonumber(os.getenv("QOS") or "1")
local total = tonumber(os.getenv("TOTAL") or "5000")
local burst = tonumber(os.getenv("BURST") or "20")
local c = mqtt.client{
	uri = os.getenv("BROKER"), client_id = os.getenv("ID") or "dur", clean = false,
	max_queued = 100000, keepalive = 10,   -- max_inflight: 20, as mosquitto
}
c:on("message", function(_, m)
	local k = "in:" .. m.payload
	state.set(k, state.get(k, 0) + 1)
end)
c:subscribe("in/#", qos)
c:connect()
local start = tonumber(os.getenv("START") or "")
if start and start > state.get("next", 1) then state.set("next", start) end
print("START " .. state.get("next", 1))
io.stdout:flush()

local drained = false
timer.every(5, function()
	local n = state.get("next", 1)
	if n > total then
		local st = c:stats()
		if not drained and st.queued == 0 and st.inflight == 0 and c:stats().connects > 0 then
			drained = true
			print("DRAINED")
		end
		return
	end
	if c:stats().queued > 2000 then return end   -- broker down: do not pile up
	local last, tok = math.min(n + burst - 1, total), nil
	for i = n, last do tok = c:publish("out/" .. i, tostring(i), qos) end
	state.set("next", last + 1)
	-- one transaction holds the burst and "next": the last token's stored
	-- stands for all of them
	if tok:wait("stored") then print("S " .. n .. " " .. last) end
end)
