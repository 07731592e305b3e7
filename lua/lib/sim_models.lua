-- lia.sim.models - ready-made simulated devices for lia run --hw sim
-- (require "lia.sim.models" in a --sim models file or a script).
--
--   local models = require "lia.sim.models"
--   local t = models.tmp102{ bus = "/dev/i2c-1", addr = 0x48, celsius = 21.5, wander = 0.25 }
--   t.set(30)                   -- the next read says 30.0 degrees C
--   models.nmea{ path = "/dev/ttyUSB0", interval_ms = 1000 }
--   models.button{ chip = "gpiochip0", line = 27, every_ms = 3000 }
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

return M
