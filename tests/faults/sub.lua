-- sub.lua - the subscriber of the fault-injection tier (tests/faults/faults.py):
-- a persistent session (clean = false) on FILTER at QOS through URI, kept
-- by this one process across every reconnect. Prints "SUBSCRIBED" at the
-- SUBACK, "CONNECTED n" per connection and "M payload" per message.
local mqtt = require "lia.mqtt"

local c = mqtt.client {
	uri = os.getenv("URI"), client_id = os.getenv("ID"), clean = false,
	keepalive = tonumber(os.getenv("KEEPALIVE") or "30"),
	reconnect = { min = 0.01, max = 0.05 },
}
local connects = 0
c:on("connect", function(c, ack)
	connects = connects + 1
	print("CONNECTED", connects, ack.session_present)
end)
c:on("disconnect", function(c, info) print("DISCONNECTED", info.message) end)
c:on("subscribe", function() print("SUBSCRIBED") end)
c:on("message", function(c, msg) print("M", msg.payload) end)
c:subscribe(os.getenv("FILTER"), tonumber(os.getenv("QOS")))
c:connect()
