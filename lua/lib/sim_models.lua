-- lia.sim.models - ready-made simulated devices for lia run --hw sim
-- (require "lia.sim.models" in a --sim models file or a script).
--
--   local models = require "lia.sim.models"
--   local t = models.tmp102{ bus = "/dev/i2c-1", addr = 0x48, celsius = 21.5, wander = 0.25 }
--   t.set(30)                   -- the next read says 30.0 degrees C
--   models.nmea{ path = "/dev/ttyUSB0", interval_ms = 1000 }
--   models.button{ chip = "gpiochip0", line = 27, every_ms = 3000 }
--   models.bme280{ bus, addr = 0x76, adc_T, adc_P, adc_H, calibration }
--   models.sht3x{ bus, addr = 0x44, celsius, humidity }
--   models.ads1115{ bus, addr = 0x48, volts = { 1.65, 0, 0, 0 } }
local sim = require "lia.sim"
local timer = require "lia.timer"

local M = {}

-- ---- TI TMP102 (I2C temperature sensor, default address 0x48) ----
-- Registers (16 bits, MSB first): 0x00 temperature (12-bit two's
-- complement, 0.0625 degrees C per bit, left-justified), 0x01 configuration
-- (0x60A0 at power-up), 0x02 T_LOW (75 C), 0x03 T_HIGH (80 C). A write of
-- one byte sets the pointer; the next read returns that register.

-- The register bytes for a temperature, and back.
function M.tmp102_encode(celsius)
	local raw = math.floor(celsius / 0.0625 + 0.5)
	return string.pack(">I2", (raw * 16) & 0xFFFF)
end

function M.tmp102_decode(bytes)
	return (string.unpack(">i2", bytes) // 16) * 0.0625
end

-- opts: bus, addr, celsius (start value), wander (degrees C of random walk
-- per interval_ms, default 0: constant). Returns { dev = sim.i2c handle,
-- set = function(celsius), get = function() }.
function M.tmp102(opts)
	opts = opts or {}
	local celsius = opts.celsius or 21.5
	local dev = sim.i2c(opts.bus or "/dev/i2c-1", opts.addr or 0x48, {
		[0x00] = M.tmp102_encode(celsius),
		[0x01] = "\x60\xA0",
		[0x02] = M.tmp102_encode(75),
		[0x03] = M.tmp102_encode(80),
	})
	local m = { dev = dev }
	function m.set(c)
		celsius = c
		dev:reg(0x00, M.tmp102_encode(c))
	end
	function m.get() return celsius end
	if (opts.wander or 0) > 0 then
		m.timer = timer.every(opts.interval_ms or 1000, function()
			m.set(math.max(-40, math.min(125, celsius + (math.random() * 2 - 1) * opts.wander)))
		end)
	end
	return m
end

-- ---- an NMEA 0183 GPS receiver on a serial port ----

-- "*hh": the XOR of the characters between "$" and "*".
function M.nmea_checksum(body)
	local x = 0
	for i = 1, #body do x = x ~ body:byte(i) end
	return string.format("%02X", x)
end

function M.nmea_sentence(body)
	return "$" .. body .. "*" .. M.nmea_checksum(body) .. "\r\n"
end

local function ddmm(deg, width)
	local a = math.abs(deg)
	local d = math.floor(a)
	return string.format("%0" .. width .. "d%07.4f", d, (a - d) * 60)
end

-- GGA and RMC sentences for a position (lat, lon in degrees) at time t.
function M.nmea_fix(lat, lon, alt, sats, t)
	local hms = os.date("!%H%M%S", math.floor(t)) .. ".00"
	local date = os.date("!%d%m%y", math.floor(t))
	local la, ns = ddmm(lat, 2), lat >= 0 and "N" or "S"
	local lo, ew = ddmm(lon, 3), lon >= 0 and "E" or "W"
	return M.nmea_sentence(string.format("GPGGA,%s,%s,%s,%s,%s,1,%02d,0.9,%.1f,M,47.0,M,,",
		hms, la, ns, lo, ew, sats, alt))
		.. M.nmea_sentence(string.format("GPRMC,%s,A,%s,%s,%s,%s,0.4,54.7,%s,,,A",
		hms, la, ns, lo, ew, date))
end

-- opts: path (default /dev/ttyUSB0), interval_ms (1000), lat, lon, alt,
-- sats. The port looks like a u-blox USB receiver in serial.ports().
-- Returns { port = sim.serial handle, timer = the emitting timer }.
function M.nmea(opts)
	opts = opts or {}
	local port = sim.serial(opts.path or "/dev/ttyUSB0", {
		vid = 0x1546, pid = 0x01a7, manufacturer = "u-blox AG",
		product = "u-blox 7 - GPS/GNSS Receiver", description = "u-blox 7 - GPS/GNSS Receiver",
	})
	local lat, lon = opts.lat or 52.5163, opts.lon or 13.3777
	local m = { port = port }
	m.timer = timer.every(opts.interval_ms or 1000, function()
		lat, lon = lat + (math.random() - 0.5) * 1e-4, lon + (math.random() - 0.5) * 1e-4
		port:feed(M.nmea_fix(lat, lon, opts.alt or 34.5, opts.sats or 8, lia.time()))
	end)
	return m
end

-- ---- a push button (active low, with contact bounce) ----
-- opts: chip, line, every_ms (press period; nil: never by itself),
-- bounce (extra edges per press, default 2). Returns { press = function() }.
function M.button(opts)
	opts = opts or {}
	local line = sim.gpio(opts.chip or "gpiochip0", opts.line or 27)
	line:set(1)
	local m = { line = line }
	function m.press()
		line:pulse{ count = 1 + (opts.bounce or 2), width_ms = 0.5, period_ms = 1, level = 0 }
		line:set(0)
		timer.after(80, function() line:set(1) end)
	end
	if opts.every_ms then m.timer = timer.every(opts.every_ms, m.press) end
	return m
end

-- ---- register files for the sensors below: reads from the pointer on ----

-- A 256-byte register map with auto-increment (as Bosch sensors have).
local function regfile()
	local r = {}
	for i = 0, 255 do r[i] = 0 end
	return r
end

local function regs_read(r, ptr, n)
	local t = {}
	for i = 0, n - 1 do t[#t + 1] = string.char(r[(ptr + i) & 0xFF]) end
	return table.concat(t)
end

-- ---- Bosch BME280 (temperature, humidity, pressure; 0x76 / 0x77) ----
-- Default calibration and raw values: the datasheet's worked example for
-- temperature and pressure (BMP280 datasheet 3.12: adc_T 519888 -> 25.08 C,
-- adc_P 415148 -> 100653.27 Pa) and typical humidity trimming values.
M.bme280_example = {
	T1 = 27504, T2 = 26435, T3 = -1000,
	P1 = 36477, P2 = -10685, P3 = 3024, P4 = 2855, P5 = 140, P6 = -7, P7 = 15500,
	P8 = -14600, P9 = 6000,
	H1 = 75, H2 = 362, H3 = 0, H4 = 313, H5 = 50, H6 = 30,
	adc_T = 519888, adc_P = 415148, adc_H = 30000,
}

function M.bme280(opts)
	opts = opts or {}
	local k = setmetatable(opts.calibration or {}, { __index = M.bme280_example })
	local r = regfile()
	local function put(at, s) for i = 1, #s do r[at + i - 1] = s:byte(i) end end
	put(0x88, string.pack("<I2i2i2I2i2i2i2i2i2i2i2i2", k.T1, k.T2, k.T3, k.P1, k.P2, k.P3,
		k.P4, k.P5, k.P6, k.P7, k.P8, k.P9))
	r[0xA1] = k.H1
	put(0xE1, string.pack("<i2", k.H2))
	r[0xE3] = k.H3
	r[0xE4] = (k.H4 >> 4) & 0xFF
	r[0xE5] = (k.H4 & 0x0F) | ((k.H5 & 0x0F) << 4)
	r[0xE6] = (k.H5 >> 4) & 0xFF
	r[0xE7] = k.H6 & 0xFF
	r[0xD0] = 0x60
	local m = { regs = r, measurements = 0 }
	function m.set(adc_T, adc_P, adc_H)
		put(0xF7, string.char((adc_P >> 12) & 0xFF, (adc_P >> 4) & 0xFF, (adc_P & 0x0F) << 4,
			(adc_T >> 12) & 0xFF, (adc_T >> 4) & 0xFF, (adc_T & 0x0F) << 4,
			(adc_H >> 8) & 0xFF, adc_H & 0xFF))
	end
	m.set(opts.adc_T or k.adc_T, opts.adc_P or k.adc_P, opts.adc_H or k.adc_H)
	m.dev = sim.i2c(opts.bus or "/dev/i2c-1", opts.addr or 0x76, {
		read = function(n, ptr) return regs_read(r, ptr, n) end,
		write = function(bytes)
			-- register, value pairs
			for i = 1, #bytes - 1, 2 do
				r[bytes:byte(i)] = bytes:byte(i + 1)
				if bytes:byte(i) == 0xF4 and bytes:byte(i + 1) & 3 ~= 0 then
					m.measurements = m.measurements + 1
				end
			end
		end,
	})
	return m
end

-- ---- Sensirion SHT3x (humidity and temperature; 0x44 / 0x45) ----
local function sht_crc(s)
	local crc = 0xFF
	for i = 1, #s do
		crc = crc ~ s:byte(i)
		for _ = 1, 8 do
			crc = (crc & 0x80) ~= 0 and ((crc << 1) ~ 0x31) & 0xFF or (crc << 1) & 0xFF
		end
	end
	return crc
end

function M.sht3x_encode(celsius, rh)
	local t = math.floor((celsius + 45) * 65535 / 175 + 0.5)
	local h = math.floor(rh * 65535 / 100 + 0.5)
	local tw, hw = string.pack(">I2", t), string.pack(">I2", h)
	return tw .. string.char(sht_crc(tw)) .. hw .. string.char(sht_crc(hw))
end

-- opts: bus, addr, celsius (22.5), humidity (45); m.set(c, rh);
-- m.corrupt(true) flips a CRC bit in the answers.
function M.sht3x(opts)
	opts = opts or {}
	local celsius, rh, ready, bad = opts.celsius or 22.5, opts.humidity or 45, nil, false
	local m = {}
	function m.set(c, h) celsius, rh = c, h end
	function m.corrupt(on) bad = on end
	m.dev = sim.i2c(opts.bus or "/dev/i2c-1", opts.addr or 0x44, {
		write = function(bytes)
			if bytes == "\x24\x00" then
				ready = M.sht3x_encode(celsius, rh)
				if bad then ready = ready:sub(1, 2) .. string.char(ready:byte(3) ~ 1) .. ready:sub(4) end
			end
		end,
		read = function(n)
			local r = ready
			if not r then return false end       -- no measurement: NACK
			ready = nil
			return r:sub(1, n)
		end,
	})
	return m
end

-- ---- TI ADS1115 (16-bit ADC; 0x48..0x4B) ----
-- A conversion starts when the config register's OS bit is written; the
-- result (single-ended AIN0..3, the PGA's full scale) is ready at once.
function M.ads1115(opts)
	opts = opts or {}
	local volts = opts.volts or { 0, 0, 0, 0 }
	local reg = { [0] = 0, [1] = 0x8583, [2] = 0x8000, [3] = 0x7FFF }
	local fsr = { [0] = 6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256 }
	local m = { conversions = 0 }
	function m.set(ch, v) volts[ch + 1] = v end
	m.dev = sim.i2c(opts.bus or "/dev/i2c-1", opts.addr or 0x48, {
		write = function(bytes)
			local ptr = bytes:byte(1)
			if ptr == 1 and #bytes == 3 then
				local cfg = string.unpack(">I2", bytes, 2)
				reg[1] = cfg
				local mux, pga = (cfg >> 12) & 7, (cfg >> 9) & 7
				if cfg & 0x8000 ~= 0 and mux >= 4 then
					local raw = math.floor(volts[mux - 3] * 32768 / fsr[pga] + 0.5)
					reg[0] = math.max(-32768, math.min(32767, raw))
					m.conversions = m.conversions + 1
				end
			end
		end,
		read = function(n, ptr)
			return string.pack(">i2", reg[ptr & 3] > 32767 and reg[ptr & 3] - 65536 or reg[ptr & 3]):sub(1, n)
		end,
	})
	return m
end

return M
