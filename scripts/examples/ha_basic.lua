-- ha_basic.lua - a Raspberry Pi in Home Assistant with lia.ha: a relay
-- (switch) on GPIO 17, a CPU temperature sensor, a "blink" button and a
-- number for the sensor's interval. Everything shows up as one device.
--
--   BROKER=mqtt://homeassistant.local lia run scripts/examples/ha_basic.lua
--   simulated:  lia run --hw sim scripts/examples/ha_basic.lua
--
-- BROKER (mqtt://localhost) and DEVICE_ID (lia-pi) from the environment.
local mqtt, gpio, timer = require "lia.mqtt", require "lia.gpio", require "lia.timer"
local ha = require "lia.ha"

local id = os.getenv("DEVICE_ID") or "lia-pi"
local c = mqtt.client{ uri = os.getenv("BROKER") or "mqtt://localhost", client_id = id,
	will = ha.will(id) }       -- the broker says "offline" for us when we are gone
local dev = ha.device{ client = c, id = id, name = "lia " .. id, model = "Raspberry Pi" }

local relay = assert(gpio.output{ chip = "gpiochip0", line = 17, initial = 0 })
dev:switch{ id = "relay", name = "Relay", initial = false,
	on = function(_, on) relay:write(on and 1 or 0) end }

local function cpu_celsius()
	local f = io.open("/sys/class/thermal/thermal_zone0/temp")
	local v = f and tonumber(f:read("l")); if f then f:close() end
	return v and v / 1000 or 42.0           -- 42.0 where there is no sensor
end
local temp = dev:sensor{ id = "cpu_temp", name = "CPU temperature", unit = "°C",
	device_class = "temperature", state_class = "measurement" }

local interval = 10
local ticker
local function start()
	if ticker then ticker:stop() end
	ticker = timer.every(interval * 1000, function() temp:set(cpu_celsius()) end)
end
dev:number{ id = "interval", name = "Interval", min = 1, max = 3600, step = 1, unit = "s",
	initial = interval, on = function(_, n) interval = n; start() end }
dev:button{ id = "blink", name = "Blink", on = function()
	relay:toggle(); lia.sleep(200); relay:toggle()
end }

c:connect()
temp:set(cpu_celsius())
start()
