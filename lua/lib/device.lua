-- lia.device - declarative devices: a table maps GPIO outputs and inputs,
-- I2C sensors and serial lines to MQTT topics and Home Assistant entities.
--
--   require("lia.device"){
--     id = "relay-pi", name = "Relay board", broker = "mqtt://localhost",
--     outputs = { relay = { line = "GPIO17", name = "Relay", safe = 0 } },
--     inputs  = { door = { line = "GPIO27", bias = "pull-up", active_low = true,
--                          debounce_ms = 20, device_class = "door" } },
--     sensors = { room = { driver = "bme280", addr = 0x76, interval = 30 } },
--     serial  = { meter = { path = "/dev/ttyUSB0", baud = 9600 } },
--   }
--
-- Topics (lia.ha's): lia/<id>/<key>/state, lia/<id>/<key>/set for outputs,
-- lia/<id>/<key>_<quantity>/state for sensors, lia/<id>/availability.
-- Home Assistant discovery unless ha = false. Outputs take their `safe`
-- level (0 or 1) whenever the broker connection is lost and keep it until
-- a new command; at start they are at `initial` (default: safe, else 0).
-- Returns a table with client, ha (the lia.ha device), entities by key,
-- lines (the GPIO handles) and ports (the serial ports).
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"
local ha = require "lia.ha"

local DRIVERS = "tmp102, bme280, sht3x, ads1115"

local function fail(where, msg)
	error("lia.device: " .. where .. ": " .. msg, 3)
end

local function gpio_spec(where, o)
	if type(o) ~= "table" then fail(where, "a table expected") end
	if o.line == nil then fail(where, "line expected (\"GPIO17\" or an offset with chip)") end
	return { chip = o.chip, line = o.line, active_low = o.active_low, consumer = o.consumer or "lia" }
end

local function open_output(d, key, o)
	local gpio = require "lia.gpio"
	local where = "outputs." .. key
	local spec = gpio_spec(where, o)
	if o.safe ~= nil and o.safe ~= 0 and o.safe ~= 1 then fail(where, "safe must be 0 or 1") end
	spec.initial = o.initial or o.safe or 0
	spec.drive = o.drive
	local line, err = gpio.output(spec)
	if not line then fail(where, err) end
	d.lines[key] = line
	local e = d.ha:switch{ id = key, name = o.name or key, initial = spec.initial == 1,
		payload_on = o.payload_on, payload_off = o.payload_off, icon = o.icon,
		on = function(_, on)
			local ok, werr = line:write(on and 1 or 0)
			if not ok then
				lia.log.error("lia.device: " .. where .. ": " .. tostring(werr))
				return false
			end
		end }
	d.entities[key] = e
	if o.safe ~= nil then d.safe[#d.safe + 1] = { line = line, entity = e, level = o.safe } end
end

local function open_input(d, key, o)
	local gpio = require "lia.gpio"
	local where = "inputs." .. key
	local spec = gpio_spec(where, o)
	spec.bias = o.bias
	spec.edge = "both"
	spec.debounce_ms = o.debounce_ms or 20
	local line, err = gpio.input(spec)
	if not line then fail(where, err) end
	d.lines[key] = line
	local e = d.ha:binary_sensor{ id = key, name = o.name or key, device_class = o.device_class,
		payload_on = o.payload_on, payload_off = o.payload_off, icon = o.icon,
		initial = line:read() == 1 }
	d.entities[key] = e
	-- lia's debounce passes the first edge and drops those within
	-- debounce_ms after it: a change inside that window (a quick second
	-- press) is caught by reading the level once the window is over.
	-- Only changes are published: that check can read a new level before
	-- the edge event for it is delivered (the level changes in one loop
	-- pass, the event comes in the next), and the event then reports
	-- nothing new.
	local check
	local function report(v)
		if v ~= e.value then e:set(v) end
	end
	line:on_edge(function(ev)
		report(ev.value == 1)
		if check then check:stop() end
		check = timer.after(spec.debounce_ms + 5, function() report(line:read() == 1) end)
	end)
end

-- Round to `precision` decimals for the state (2 by default).
local function rounded(v, precision)
	local f = 10 ^ (precision or 2)
	local r = math.floor(v * f + 0.5) / f
	return math.tointeger(r) or r       -- 52, not 52.0
end

local function open_sensor(d, key, o)
	local i2c = require "lia.i2c"
	local where = "sensors." .. key
	if type(o) ~= "table" then fail(where, "a table expected") end
	local ok, drv = pcall(require, "lia.drivers." .. tostring(o.driver))
	if not ok then fail(where, string.format("unknown driver %q (%s)", tostring(o.driver), DRIVERS)) end
	local bus, err, code = i2c.open(o.bus or "/dev/i2c-1")
	if not bus then fail(where, tostring(err)) end
	local s
	-- a check (lia check, and before a live reload) runs this chunk with
	-- stand-ins for the hardware: the sensor is not probed then
	if not lia.checking then
		s, err, code = drv.open(bus:device(o.addr or drv.default_addr), o)
		if not s then
			-- a sensor missing at start is logged and retried: it may come later
			lia.log.warn("lia.device: " .. where .. ": " .. tostring(err), code)
		end
	end
	local ents = {}
	for _, m in ipairs((s and s.measurements) or drv.measurements_for and o.channels and
			drv.measurements_for(o.channels) or drv.measurements) do
		local id = key .. "_" .. m.key
		ents[m.key] = d.ha:sensor{ id = id, name = (o.name or key) .. " " .. m.name, unit = m.unit,
			device_class = m.device_class, state_class = "measurement",
			expire_after = o.expire_after or math.floor((o.interval or 30) * 3) }
		d.entities[id] = ents[m.key]
	end
	local last_err
	local function read()
		if not s then
			s, err = drv.open(bus:device(o.addr or drv.default_addr), o)
			if not s then return end
		end
		local v, rerr, rcode = s.read()
		if not v then
			if rerr ~= last_err then lia.log.warn("lia.device: " .. where .. ": " .. tostring(rerr), rcode) end
			last_err = rerr
			return
		end
		if last_err then lia.log.info("lia.device: " .. where .. ": reading again") end
		last_err = nil
		for k, x in pairs(v) do
			if ents[k] then ents[k]:set(rounded(x, o.precision)) end
		end
	end
	d.timers[#d.timers + 1] = timer.every(math.floor((o.interval or 30) * 1000), read)
	timer.after(0, read)
end

local function open_serial(d, key, o)
	local serial = require "lia.serial"
	local where = "serial." .. key
	if type(o) ~= "table" or not o.path then fail(where, "path expected") end
	local port, err = serial.open{ path = o.path, baud = o.baud, delimiter = o.delimiter,
		parity = o.parity, data_bits = o.data_bits, stop_bits = o.stop_bits, flow = o.flow }
	if not port then fail(where, tostring(err)) end
	d.ports[key] = port
	local e = d.ha:sensor{ id = key, name = o.name or key, icon = o.icon or "mdi:serial-port" }
	d.entities[key] = e
	port:on_line(function(line) e:set(line) end)
	if o.writable then
		-- lia/<id>/<key>/write: each payload goes out, with the delimiter
		d.client:subscribe(d.ha.base .. "/" .. key .. "/write", 1, function(_, msg)
			port:write(msg.payload .. (o.delimiter or "\n"))
		end)
	end
end

-- Outputs to their safe level while the broker is gone.
-- (The disconnect event comes for every failed reconnect too: one log line.)
local function go_safe(d)
	local changed = false
	for _, s in ipairs(d.safe) do
		if s.line:read() ~= s.level then
			s.line:write(s.level)
			changed = true
		end
		s.entity.value = s.level == 1      -- announced as such at the reconnect
	end
	if changed then lia.log.warn("lia.device: broker connection lost: outputs in their safe state") end
end

local function sorted_keys(t)
	local k = {}
	for name in pairs(t or {}) do k[#k + 1] = name end
	table.sort(k)
	return k
end

return function(cfg)
	if type(cfg) ~= "table" or not cfg.id then error("lia.device: { id = ..., ... } expected", 2) end
	local d = { entities = {}, lines = {}, ports = {}, timers = {}, safe = {} }
	local client = cfg.client
	if not client then
		local opts = type(cfg.broker) == "table" and cfg.broker or { uri = cfg.broker or "mqtt://localhost" }
		opts.client_id = opts.client_id or cfg.id
		opts.will = opts.will or ha.will(cfg.id)
		client = mqtt.client(opts)
	end
	d.client = client
	d.ha = ha.device{ client = client, id = cfg.id, name = cfg.name, model = cfg.model,
		manufacturer = cfg.manufacturer, area = cfg.area, discovery = cfg.ha ~= false,
		on_connect = cfg.on_connect }
	for _, k in ipairs(sorted_keys(cfg.outputs)) do open_output(d, k, cfg.outputs[k]) end
	for _, k in ipairs(sorted_keys(cfg.inputs)) do open_input(d, k, cfg.inputs[k]) end
	for _, k in ipairs(sorted_keys(cfg.sensors)) do open_sensor(d, k, cfg.sensors[k]) end
	for _, k in ipairs(sorted_keys(cfg.serial)) do open_serial(d, k, cfg.serial[k]) end
	client:on("disconnect", function(_, info)
		go_safe(d)
		if cfg.on_disconnect then cfg.on_disconnect(client, info) end
	end)
	if not cfg.client then client:connect() end
	return d
end
