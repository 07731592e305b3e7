-- docs_tls.lua - a TLS client (docs/lua-api.md, docs/transports.md): the
-- broker's certificate is checked against CA (the system store when unset)
-- and against the host name, on every connect. It publishes one message to
-- itself, shows the TLS reconnect with reload_tls() and stops.
--
--   BROKER=mqtts://broker.local:8883 CA=/etc/lia/ca.crt lia run scripts/examples/docs_tls.lua
local mqtt = require "lia.mqtt"

local c = mqtt.client {
	uri = os.getenv("BROKER") or "mqtts://localhost:8883",
	tls = {
		ca_file = os.getenv("CA"),          -- nil: the system's CA store
		cert = os.getenv("CERT"),           -- client certificate, if the broker asks
		key = os.getenv("KEY"),
		min_version = "tlsv1.2",
	},
	reconnect = { min = 0.5, max = 30 },
}

local connects = 0
c:on("connect", function(c)
	connects = connects + 1
	print("connected over TLS", connects)
	if connects == 1 then
		c:subscribe("docs/tls", 1, function(c, msg)
			print("got", msg.payload)
			-- certificate files changed on disk? use them now, keeping the session
			print("reload", c:reload_tls())
		end):wait(5000)
		c:publish("docs/tls", "sealed", { qos = 1 })
	else
		lia.stop()
	end
end)
c:on("disconnect", function(c, info)
	if not info.connected then print("cannot connect:", info.message) end
end)
c:connect()
