-- pub.lua - the publisher of the fault-injection tier (tests/faults/faults.py).
-- Publishes TOPIC with payloads "1", "2", ... at QOS through URI; how many
-- and when is read from stdin, one number per line ("100": publish the next
-- 100), so the driver can pace the stream by what the network did. Prints
-- "CONNECTED n" per connection and "ACKED n" once n messages were
-- acknowledged, whenever that count reaches a line's total. The line "end"
-- publishes "END", which the subscriber receives after everything before.
local mqtt = require "lia.mqtt"
local stdin = require "lia.stdin"

local qos = tonumber(os.getenv("QOS"))
local topic = os.getenv("TOPIC")
local c = mqtt.client {
	uri = os.getenv("URI"), client_id = os.getenv("ID"), clean = false,
	keepalive = tonumber(os.getenv("KEEPALIVE") or "30"),
	reconnect = { min = 0.01, max = 0.05 }, max_queued = 1000000,
}
local connects, sent, acked, failed = 0, 0, 0, 0
c:on("connect", function(c, ack)
	connects = connects + 1
	print("CONNECTED", connects, ack.session_present)
end)
c:on("disconnect", function(c, info) print("DISCONNECTED", info.message) end)
c:on("publish", function(c, mid, ok)
	if ok then acked = acked + 1 else failed = failed + 1 end
	if acked + failed == sent then print("ACKED", acked, failed) end
	-- (the END marker makes acked + failed pass sent: nothing printed)
end)
c:connect()
for line in stdin.lines() do
	if line == "end" then       -- a marker behind everything: "END"
		assert(c:publish(topic, "END", { qos = qos }))
	end
	for _ = 1, tonumber(line) or 0 do
		sent = sent + 1
		assert(c:publish(topic, tostring(sent), { qos = qos }))
	end
end
