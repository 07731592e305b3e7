-- lia.drivers.tmp102 - TI TMP102 temperature sensor (I2C, 0x48..0x4B).
-- Register 0x00: 12 bits, two's complement, 0.0625 degrees C per bit,
-- left-justified in two bytes (datasheet 7.5.1, normal mode).
--
--   local s = require("lia.drivers.tmp102").open(bus:device(0x48))
--   local v, err, code = s:read()      -- { temperature = 21.5 }
local M = {
	default_addr = 0x48,
	measurements = {
		{ key = "temperature", name = "Temperature", unit = "°C", device_class = "temperature" },
	},
}

function M.decode(bytes)
	return (string.unpack(">i2", bytes) // 16) * 0.0625
end

function M.open(dev)
	local s = {}
	function s.read()
		local raw, err, code = dev:read_reg(0x00, 2)
		if not raw then return nil, err, code end
		return { temperature = M.decode(raw) }
	end
	return s
end

return M
