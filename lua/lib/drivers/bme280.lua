-- lia.drivers.bme280 - Bosch BME280 temperature, humidity and pressure
-- (I2C, 0x76 or 0x77), in forced mode: one measurement per read, x1
-- oversampling, filter off (the datasheet's "weather monitoring" setting).
-- Compensation: the datasheet's floating-point formulas (BME280 datasheet
-- section 8.1; the temperature and pressure ones are BMP280's).
--
--   local s = assert(require("lia.drivers.bme280").open(bus:device(0x76)))
--   local v = s:read()   -- { temperature = 25.08, humidity = 41.2, pressure = 1006.53 } (hPa)
local M = {
	default_addr = 0x76,
	chip_id = 0x60,
	measurements = {
		{ key = "temperature", name = "Temperature", unit = "°C", device_class = "temperature" },
		{ key = "humidity", name = "Humidity", unit = "%", device_class = "humidity" },
		{ key = "pressure", name = "Pressure", unit = "hPa", device_class = "pressure" },
	},
}

local REG_ID, REG_CALIB1, REG_H1, REG_CALIB2 = 0xD0, 0x88, 0xA1, 0xE1
local REG_CTRL_HUM, REG_STATUS, REG_CTRL_MEAS, REG_DATA = 0xF2, 0xF3, 0xF4, 0xF7

-- The calibration words from 0x88..0x9F (24 bytes), 0xA1, 0xE1..0xE7 (7).
function M.calibration(c1, h1, c2)
	local k = {}
	k.T1, k.T2, k.T3, k.P1, k.P2, k.P3, k.P4, k.P5, k.P6, k.P7, k.P8, k.P9 =
		string.unpack("<I2i2i2I2i2i2i2i2i2i2i2i2", c1)
	k.H1 = h1:byte(1)
	local e3, e4, e5, e6, e7 = c2:byte(3, 7)
	k.H2 = string.unpack("<i2", c2)
	k.H3 = e3
	k.H4 = (string.unpack("b", string.char(e4)) * 16) | (e5 & 0x0F)
	k.H5 = (string.unpack("b", string.char(e6)) * 16) | (e5 >> 4)
	k.H6 = string.unpack("b", string.char(e7))
	return k
end

-- Temperature in degrees C and t_fine, from the raw 20-bit adc_T. t_fine
-- stays a float here (the integer formulas truncate it): with it the
-- pressure of the datasheet's worked example comes out as its 100653.27 Pa.
function M.temperature(k, adc_T)
	local var1 = (adc_T / 16384.0 - k.T1 / 1024.0) * k.T2
	local d = adc_T / 131072.0 - k.T1 / 8192.0
	local var2 = d * d * k.T3
	return (var1 + var2) / 5120.0, var1 + var2
end

-- Pressure in Pa from the raw 20-bit adc_P and t_fine.
function M.pressure(k, adc_P, t_fine)
	local var1 = t_fine / 2.0 - 64000.0
	local var2 = var1 * var1 * k.P6 / 32768.0
	var2 = var2 + var1 * k.P5 * 2.0
	var2 = var2 / 4.0 + k.P4 * 65536.0
	var1 = (k.P3 * var1 * var1 / 524288.0 + k.P2 * var1) / 524288.0
	var1 = (1.0 + var1 / 32768.0) * k.P1
	if var1 == 0 then return 0 end             -- avoid a division by zero
	local p = 1048576.0 - adc_P
	p = (p - var2 / 4096.0) * 6250.0 / var1
	var1 = k.P9 * p * p / 2147483648.0
	var2 = p * k.P8 / 32768.0
	return p + (var1 + var2 + k.P7) / 16.0
end

-- Relative humidity in % from the raw 16-bit adc_H and t_fine.
function M.humidity(k, adc_H, t_fine)
	local h = t_fine - 76800.0
	h = (adc_H - (k.H4 * 64.0 + k.H5 / 16384.0 * h)) *
		(k.H2 / 65536.0 * (1.0 + k.H6 / 67108864.0 * h * (1.0 + k.H3 / 67108864.0 * h)))
	h = h * (1.0 - k.H1 * h / 524288.0)
	return math.max(0.0, math.min(100.0, h))
end

-- The 8 data bytes (0xF7..0xFE) to raw adc_P, adc_T, adc_H.
function M.raw(b)
	local p1, p2, p3, t1, t2, t3, h1, h2 = b:byte(1, 8)
	return (p1 << 12) | (p2 << 4) | (p3 >> 4), (t1 << 12) | (t2 << 4) | (t3 >> 4), (h1 << 8) | h2
end

-- open(dev) -> sensor, or nil, message, code (no answer, or not a BME280).
function M.open(dev)
	local id, err, code = dev:read_reg(REG_ID, 1)
	if not id then return nil, err, code end
	if id:byte() ~= M.chip_id then
		return nil, string.format("chip id 0x%02x: not a BME280 (0x60)", id:byte()), "ENODEV"
	end
	local c1, h1, c2
	c1, err, code = dev:read_reg(REG_CALIB1, 24)
	if c1 then h1, err, code = dev:read_reg(REG_H1, 1) end
	if h1 then c2, err, code = dev:read_reg(REG_CALIB2, 7) end
	if not c2 then return nil, err, code end
	local k = M.calibration(c1, h1, c2)
	local s = { calibration = k }
	function s.read()
		local ok, e, c = dev:write_reg(REG_CTRL_HUM, 0x01)          -- humidity x1
		if ok then ok, e, c = dev:write_reg(REG_CTRL_MEAS, 0x25) end -- T x1, P x1, forced
		if not ok then return nil, e, c end
		lia.sleep(10)                   -- 9.3 ms at most for x1/x1/x1 (datasheet 9.1)
		for _ = 1, 10 do
			local st = dev:read_reg(REG_STATUS, 1)
			if st and st:byte() & 0x08 == 0 then break end
			lia.sleep(2)
		end
		local b
		b, e, c = dev:read_reg(REG_DATA, 8)
		if not b then return nil, e, c end
		local adc_P, adc_T, adc_H = M.raw(b)
		local t, t_fine = M.temperature(k, adc_T)
		return { temperature = t, pressure = M.pressure(k, adc_P, t_fine) / 100,
			humidity = M.humidity(k, adc_H, t_fine) }
	end
	return s
end

return M
