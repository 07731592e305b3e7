-- bridge.lua - relay messages from one broker to another.
--
-- Everything that matches BRIDGE_FILTER on the source broker (the one given
-- on the command line) is republished on the destination broker BRIDGE_TO
-- under BRIDGE_PREFIX, with the same payload, QoS and retain flag. While the
-- destination is down, messages wait in lia's offline queue.
--
-- Run it (source on localhost:1883, destination on localhost:1884):
--
--   lia run -h localhost -p 1883 -i bridge-1 scripts/examples/bridge.lua
--
-- Settings (globals, or the environment variables of the same name):
--   BRIDGE_TO      destination broker URI      (default mqtt://localhost:1884)
--   BRIDGE_FILTER  what to relay               (default sensors/#)
--   BRIDGE_PREFIX  put in front of each topic  (default bridged/)
local mqtt_mod = require "lia.mqtt"

local function setting(name, default)
	return _G[name] or (os and os.getenv and os.getenv(name)) or default
end

local to = setting("BRIDGE_TO", "mqtt://localhost:1884")
local filter = setting("BRIDGE_FILTER", "sensors/#")
local prefix = setting("BRIDGE_PREFIX", "bridged/")

local dest = mqtt_mod.client { uri = to, client_id = "lia-bridge-out-" .. math.random(1e6),
	reconnect = { min = 0.5, max = 30 } }
dest:on("connect", function() lia.log.info("bridge: connected to destination", to) end)
dest:connect()

function on_connect(client, ack)
	client:subscribe(filter, 1)
	lia.log.info("bridge: relaying", filter, "to", to, "under", prefix)
end

function on_message(client, msg)
	dest:publish(prefix .. msg.topic, msg.payload, { qos = msg.qos, retain = msg.retain })
end
