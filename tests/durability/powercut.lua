-- powercut.lua - what the power-cut VM runs (tests/kernel/powercut.sh), with
-- its store on an ext4 virtual disk. First it prints what the store holds
-- after the last cut (CHECK ...); in the "run" phase it then publishes QoS 1
-- bursts (no broker: they stay queued, and stored) and sets lia.state in the
-- same turns, printing "S last" once a burst is stored, until the harness
-- kills the VM.
local mqtt = require "lia.mqtt"
local state = require "lia.state"
local timer = require "lia.timer"

local c = mqtt.client{ uri = "mqtt://10.0.2.2:1", client_id = "cut", clean = false,
	max_queued = 1000000, reconnect = { min = 60, max = 60 } }
local st = c:stats()
local v = state.get("v", { n = 0 })
print(string.format("CHECK queued=%d next=%d v=%d persistent=%s", st.queued, state.get("next", 1),
	v.n, tostring(st.persistent)))
if os.getenv("PHASE") ~= "run" then
	lia.stop()
	return
end
c:connect()     -- no network in the VM: the messages stay queued
local n = state.get("next", 1)
timer.every(5, function()
	local last, tok = n + 19, nil
	for i = n, last do tok = c:publish("cut/t", tostring(i), 1) end
	n = last + 1
	state.set("next", n)
	state.set("v", { n = last })
	if tok:wait("stored") then print("S " .. last) end
end)
print("powercut: running")
