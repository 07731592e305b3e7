-- nmea_telemetry.lua - read a GPS receiver's NMEA sentences from a serial
-- port and publish each position fix (from $GPGGA / $GNGGA) on
-- lia/<id>/gps, QoS 0:
--   {"lat":52.516300,"lon":13.377700,"alt":34.5,"sats":8,"time":"123519.00"}
-- Sentences with a wrong checksum are counted and dropped.
--
-- On the board:   lia run -h localhost -i pi-1 scripts/examples/nmea_telemetry.lua
-- Simulated:      lia run --sim scripts/examples/sim_models.lua -h localhost -i pi-1 \
--                     scripts/examples/nmea_telemetry.lua
--
-- GPS_PORT (default /dev/ttyUSB0) and GPS_BAUD (9600) may be set as
-- globals before dofile.
local serial = require "lia.serial"

GPS_PORT = GPS_PORT or "/dev/ttyUSB0"
GPS_BAUD = GPS_BAUD or 9600

local port = assert(serial.open{ path = GPS_PORT, baud = GPS_BAUD })
local bad = 0

local function valid(line)
	local body, sum = line:match("^%$([^*]+)%*(%x%x)$")
	if not body then return nil end
	local x = 0
	for i = 1, #body do x = x ~ body:byte(i) end
	return x == tonumber(sum, 16) and body
end

-- "4807.038","N" -> 48.1173
local function degrees(v, hemi, width)
	if not v or v == "" then return nil end
	local d, m = tonumber(v:sub(1, width)), tonumber(v:sub(width + 1))
	local deg = d + m / 60
	return (hemi == "S" or hemi == "W") and -deg or deg
end

port:on_line(function(line)
	local body = valid(line)
	if not body then
		bad = bad + 1
		lia.log.debug("nmea: bad sentence", line, "(" .. bad .. " so far)")
		return
	end
	local f = {}
	for field in (body .. ","):gmatch("([^,]*),") do f[#f + 1] = field end
	if not (f[1] == "GPGGA" or f[1] == "GNGGA") or f[7] == "0" then return end
	local lat, lon = degrees(f[3], f[4], 2), degrees(f[5], f[6], 3)
	if not (lat and lon and mqtt.client_id) then return end
	mqtt:publish("lia/" .. mqtt.client_id .. "/gps", string.format(
		'{"lat":%.6f,"lon":%.6f,"alt":%s,"sats":%d,"time":"%s"}',
		lat, lon, tonumber(f[10]) or "null", tonumber(f[8]) or 0, f[2]))
end)

function on_connect(client)
	lia.log.info("nmea_telemetry: reading", GPS_PORT, "at", GPS_BAUD, "baud")
end
