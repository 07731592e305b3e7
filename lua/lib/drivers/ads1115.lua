-- lia.drivers.ads1115 - TI ADS1115 16-bit ADC (I2C, 0x48..0x4B): single
-- shot conversions of the single-ended inputs AIN0..AIN3 at 128 SPS, the
-- comparator off. gain is the full scale in volts: 6.144, 4.096, 2.048
-- (default), 1.024, 0.512 or 0.256 (datasheet 9.6.3, the PGA field).
--
--   local adc = require("lia.drivers.ads1115").open(bus:device(0x48), { channels = { 0, 1 } })
--   adc:read()    -- { a0 = 1.6502, a1 = 0.0 } in volts
local M = {
	default_addr = 0x48,
	FSR = { [6.144] = 0, [4.096] = 1, [2.048] = 2, [1.024] = 3, [0.512] = 4, [0.256] = 5 },
}

M.FSR_VOLTS = { [0] = 6.144, 4.096, 2.048, 1.024, 0.512, 0.256 }

-- The config word that starts a conversion of AINch against GND.
function M.config(ch, pga)
	return 0x8000 | ((4 + ch) << 12) | (pga << 9) | 0x0100 | (4 << 5) | 0x0003
end

function M.volts(raw, pga)
	return raw * M.FSR_VOLTS[pga] / 32768
end

function M.measurements_for(channels)
	local m = {}
	for _, ch in ipairs(channels) do
		m[#m + 1] = { key = "a" .. ch, name = "AIN" .. ch, unit = "V", device_class = "voltage" }
	end
	return m
end
M.measurements = M.measurements_for({ 0, 1, 2, 3 })

function M.open(dev, opts)
	opts = opts or {}
	local pga = M.FSR[opts.gain or 2.048]
	if not pga then error("ads1115: gain must be 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256", 2) end
	local channels = opts.channels or { 0, 1, 2, 3 }
	local s = { measurements = M.measurements_for(channels) }
	local function convert(ch)
		local ok, err, code = dev:write_reg(0x01, string.pack(">I2", M.config(ch, pga)))
		if not ok then return nil, err, code end
		lia.sleep(8)                    -- 1/128 s
		for _ = 1, 10 do
			local cfg = dev:read_reg(0x01, 2)
			if cfg and string.unpack(">I2", cfg) & 0x8000 ~= 0 then break end
			lia.sleep(2)
		end
		local raw
		raw, err, code = dev:read_reg(0x00, 2)
		if not raw then return nil, err, code end
		return M.volts(string.unpack(">i2", raw), pga)
	end
	function s.read()
		local out = {}
		for _, ch in ipairs(channels) do
			local v, err, code = convert(ch)
			if not v then return nil, err, code end
			out["a" .. ch] = v
		end
		return out
	end
	return s
end

return M
