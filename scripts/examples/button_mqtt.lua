-- button_mqtt.lua - a push button on a GPIO line (to ground, internal
-- pull-up, debounced) publishes each press on lia/<id>/button:
--   {"press":3,"timestamp_ns":123456789012,"seqno":5}
--
-- On the board:   lia run -h localhost -i pi-1 scripts/examples/button_mqtt.lua
-- Simulated:      lia run --sim scripts/examples/sim_models.lua -h localhost -i pi-1 \
--                     scripts/examples/button_mqtt.lua
--
-- BUTTON_CHIP (default "gpiochip0") and BUTTON_LINE (default 27, or a line
-- name such as "GPIO27") may be set as globals before dofile.
local gpio = require "lia.gpio"

BUTTON_CHIP = BUTTON_CHIP or "gpiochip0"
BUTTON_LINE = BUTTON_LINE or 27

local button = assert(gpio.input{ chip = BUTTON_CHIP, line = BUTTON_LINE, bias = "pull-up",
	edge = "falling", debounce_ms = 20 })
local presses = 0

button:on_edge(function(ev)
	presses = presses + 1
	local id = mqtt.client_id
	mqtt:publish("lia/" .. id .. "/button", string.format(
		'{"press":%d,"timestamp_ns":%d,"seqno":%d}', presses, ev.timestamp_ns, ev.seqno),
		{ qos = 1 })
end)

function on_connect(client)
	lia.log.info("button_mqtt: watching", tostring(button))
end
