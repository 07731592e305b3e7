-- docs_client.lua - the lia.mqtt client API in one script (docs/lua-api.md).
-- It connects, subscribes, publishes to itself with v5 properties, waits for
-- the acknowledgement, prints what it got and stops.
--
--   BROKER=mqtt://localhost:1883 lia run scripts/examples/docs_client.lua
local mqtt = require "lia.mqtt"

local c = mqtt.client {
	uri = os.getenv("BROKER") or "mqtt://localhost:1883",
	client_id = "docs-client-" .. math.random(1e6),
	protocol = 5,
	will = { topic = "docs/client/status", payload = "offline", qos = 1 },
	reconnect = { min = 1, max = 30 },
}

local received = false

c:on("connect", function(c, ack)
	print("connected", ack.reason_name, "session present:", ack.session_present)
	-- a per-filter handler: only messages matching docs/client/+ come here
	c:subscribe("docs/client/+", 1, function(c, msg)
		local p = msg.properties
		print("got", msg.topic, msg.payload, "qos", msg.qos,
			"content type", p.content_type, "user.unit", p.user.unit)
		received = true
	end)
	local tok = c:publish("docs/client/temp", "21.5", { qos = 1, properties = {
		content_type = "text/plain", user = { unit = "C" } } })
	-- tok:wait and lia.sleep pause this handler only; the message handler runs meanwhile
	local ok = tok:wait(5000)
	while not received do lia.sleep(10) end
	print("published mid", tok.mid, "acknowledged:", ok)
	c:disconnect()
	lia.stop()
end)

c:on("disconnect", function(c, info)
	print("disconnected:", info.reason_name)
end)

c:connect()
