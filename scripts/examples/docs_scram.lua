-- docs_scram.lua - MQTT 5 enhanced authentication with SCRAM-SHA-256
-- (docs/lua-api.md): the password never crosses the wire, and the broker
-- proves it knows it too. Then a re-authentication on the open connection.
--
--   BROKER=mqtt://broker.local:1883 MQTT_USER=alice MQTT_PASS=s3cret lia run scripts/examples/docs_scram.lua
local mqtt = require "lia.mqtt"

local c = mqtt.client {
	uri = os.getenv("BROKER") or "mqtt://localhost:1883",
	protocol = 5,
	auth = { method = "SCRAM-SHA-256", username = os.getenv("MQTT_USER") or "alice",
		password = os.getenv("MQTT_PASS") or "s3cret" },
	reconnect = false,
}

c:on("connect", function(c, ack)
	print("authenticated:", ack.reason_name)
	print("re-authenticate:", c:reauthenticate())
end)
c:on("auth", function(c, info)
	print("re-authenticated:", info.reason_name or info.reason)
	lia.stop()
end)
c:on("disconnect", function(c, info)
	if not info.connected then
		print("refused:", info.message)
		lia.stop(1)
	end
end)
c:connect()
