-- lia.drivers.sht3x - Sensirion SHT30/31/35 humidity and temperature
-- (I2C, 0x44 or 0x45): single shot, high repeatability, no clock
-- stretching (command 0x2400), each word checked by its CRC-8 (datasheet
-- 4.12: polynomial 0x31, init 0xFF; CRC(0xBEEF) = 0x92).
local M = {
	default_addr = 0x44,
	measurements = {
		{ key = "temperature", name = "Temperature", unit = "°C", device_class = "temperature" },
		{ key = "humidity", name = "Humidity", unit = "%", device_class = "humidity" },
	},
}

function M.crc8(s)
	local crc = 0xFF
	for i = 1, #s do
		crc = crc ~ s:byte(i)
		for _ = 1, 8 do
			crc = (crc & 0x80) ~= 0 and ((crc << 1) ~ 0x31) & 0xFF or (crc << 1) & 0xFF
		end
	end
	return crc
end

-- The six bytes of a measurement -> degrees C, % RH, or nil and why.
function M.decode(b)
	if #b ~= 6 then return nil, "short read" end
	if M.crc8(b:sub(1, 2)) ~= b:byte(3) or M.crc8(b:sub(4, 5)) ~= b:byte(6) then
		return nil, "CRC mismatch"
	end
	local t, h = string.unpack(">I2", b, 1), string.unpack(">I2", b, 4)
	return -45 + 175 * t / 65535, 100 * h / 65535
end

function M.open(dev)
	local s = {}
	function s.read()
		local ok, err, code = dev:write("\x24\x00")
		if not ok then return nil, err, code end
		lia.sleep(16)                   -- 15.5 ms at high repeatability
		local b
		b, err, code = dev:read(6)
		if not b then return nil, err, code end
		local t, h = M.decode(b)
		if not t then return nil, h, "EIO" end
		return { temperature = t, humidity = h }
	end
	return s
end

return M
