-- relay_command.lua - drive a relay (or an LED) on a GPIO output from MQTT.
--
--   lia/<id>/relay/set     "on", "off", "toggle" (or "1", "0")
--   lia/<id>/relay/state   "on" / "off", retained, after every change
--
-- On the board:   lia run -h localhost -i pi-1 scripts/examples/relay_command.lua
-- Simulated:      lia run --hw sim -h localhost -i pi-1 scripts/examples/relay_command.lua
-- Try it:         lia pub -h localhost -t lia/pi-1/relay/set -m on
--
-- RELAY_CHIP (default "gpiochip0") and RELAY_LINE (default 17) may be set
-- as globals before dofile; RELAY_ACTIVE_LOW for boards whose relay
-- closes on a low level.
local gpio = require "lia.gpio"

RELAY_CHIP = RELAY_CHIP or "gpiochip0"
RELAY_LINE = RELAY_LINE or 17

local relay = assert(gpio.output{ chip = RELAY_CHIP, line = RELAY_LINE, initial = 0,
	active_low = RELAY_ACTIVE_LOW or false })

local actions = {
	on = function() return relay:write(1) end,
	["1"] = function() return relay:write(1) end,
	off = function() return relay:write(0) end,
	["0"] = function() return relay:write(0) end,
	toggle = function() return relay:toggle() end,
}

local function report(client)
	local state = relay:read() == 1 and "on" or "off"
	client:publish("lia/" .. client.client_id .. "/relay/state", state, { qos = 1, retain = true })
end

function on_connect(client)
	client:subscribe("lia/" .. client.client_id .. "/relay/set", 1)
	report(client)
end

function on_message(client, msg)
	local act = actions[msg.payload]
	if not act then
		lia.log.warn("relay_command: unknown command", msg.payload)
		return
	end
	local ok, err = act()
	if not ok then lia.log.error("relay_command:", err) end
	report(client)
end
