-- docs_mqtt5.lua - MQTT 5 in one script (docs/lua-api.md): a failover
-- list, a subscription identifier that finds its handler (even for a
-- $share filter, which no topic matches), automatic topic aliases and the
-- bytes they saved.
--
--   BROKER=mqtt://broker.local:1883 lia run scripts/examples/docs_mqtt5.lua
local mqtt = require "lia.mqtt"

local c = mqtt.client {
	-- tried in order; the reconnect backoff applies between rounds only
	uri = { os.getenv("BROKER") or "mqtt://localhost:1883", os.getenv("BROKER2") or "mqtt://localhost:1884" },
	protocol = 5,
	follow_redirect = true,     -- a v5 Server Reference moves the client
	topic_aliases = "auto",     -- the topics published most go by number
}

c:on("connect", function(c, ack)
	print("connected to", ack.uri)
	c:subscribe("$share/docs/docs/mqtt5/#", { qos = 1, properties = { subscription_id = 42 } },
		function(c, msg)
			print("got", msg.topic, msg.payload, "ids", table.concat(msg.subscription_ids, ","))
			if msg.payload == "10" then
				local st = c:stats()
				print("aliased", st.alias_out, "saved", st.alias_bytes_saved > 0)
				lia.stop()
			end
		end):wait(5000)
	for i = 1, 10 do
		c:publish("docs/mqtt5/temperature", tostring(i), 1)
	end
end)
c:connect()
