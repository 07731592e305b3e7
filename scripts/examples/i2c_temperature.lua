-- i2c_temperature.lua - read a TMP102 temperature sensor over I2C every
-- INTERVAL seconds and publish it, QoS 1, on lia/<id>/temperature
-- ("21.56", degrees C). A failed read is logged and published as an error
-- on lia/<id>/temperature/error; the next round tries again.
--
-- On the board (sensor on /dev/i2c-1 at 0x48):
--   lia run -h localhost -i pi-1 scripts/examples/i2c_temperature.lua
-- On a laptop, with the simulated sensor:
--   lia run --sim scripts/examples/sim_models.lua -h localhost -i pi-1 \
--       scripts/examples/i2c_temperature.lua
--
-- I2C_BUS, I2C_ADDR and INTERVAL may be set as globals by a script that
-- then runs this one with dofile.
local i2c = require "lia.i2c"
local timer = require "lia.timer"

INTERVAL = INTERVAL or 2
I2C_BUS = I2C_BUS or "/dev/i2c-1"
I2C_ADDR = I2C_ADDR or 0x48

local bus = assert(i2c.open(I2C_BUS))
local sensor = bus:device(I2C_ADDR)

-- The temperature register: 12 bits, two's complement, 1/16 degree,
-- left-justified in two bytes (MSB first).
local function read_celsius()
	local raw, err, code = sensor:read_reg(0x00, 2)
	if not raw then return nil, err, code end
	return (string.unpack(">i2", raw) // 16) * 0.0625
end

local device

local function publish()
	local c, err, code = read_celsius()
	if c then
		mqtt:publish("lia/" .. device .. "/temperature", string.format("%.2f", c), { qos = 1 })
	else
		lia.log.warn("temperature:", err, code)
		mqtt:publish("lia/" .. device .. "/temperature/error", err .. " (" .. code .. ")", { qos = 1 })
	end
end

local ticker
function on_connect(client)
	device = client.client_id
	lia.log.info("i2c_temperature: TMP102 at", I2C_BUS, string.format("0x%02x", I2C_ADDR),
		"every", INTERVAL, "s")
	publish()
	ticker = ticker or timer.every(math.floor(INTERVAL * 1000), publish)
end
