-- lia.ha - Home Assistant MQTT discovery.
--
--   local ha = require "lia.ha"
--   local c = mqtt.client{ uri = ..., client_id = "garden-pi", will = ha.will("garden-pi") }
--   local dev = ha.device{ client = c, id = "garden-pi", name = "Garden Pi" }
--   local t = dev:sensor{ id = "temp", name = "Temperature", unit = "°C",
--                         device_class = "temperature" }
--   dev:switch{ id = "relay", name = "Relay", on = function(e, value) ... end }
--   c:connect()
--   t:set(21.5)
--
-- Each entity's config goes retained to
-- <prefix>/<component>/<node_id>/<object_id>/config with a device block
-- and unique_id "<node_id>_<object_id>"; its state to lia/<node_id>/<object_id>/state
-- (retained, so a restarted Home Assistant sees it at once) and commands
-- come from lia/<node_id>/<object_id>/set. Availability is
-- lia/<node_id>/availability: "online" (retained) at every connect, and
-- "offline" by the broker through the client's will (ha.will). When Home
-- Assistant comes back (<prefix>/status "online") everything is announced
-- again. entity:remove() publishes the empty retained config that deletes
-- the entity in Home Assistant.
--
-- ha.device takes the client's "connect" event; pass on_connect = fn(c, ack)
-- for your own.
local cjson = require "cjson"

local M = {}

local function sanitize(s)
	return (tostring(s):gsub("[^%w_-]", "_"))
end

local function availability_topic(node_id, base)
	return (base or ("lia/" .. node_id)) .. "/availability"
end

-- ha.will(id [, base]): the will for the client, so that the broker marks
-- every entity of device id unavailable when lia is gone.
function M.will(id, base)
	return { topic = availability_topic(sanitize(id), base), payload = "offline", qos = 1,
		retain = true }
end

-- What each component adds to the common config, and how it reads a
-- command. opts keys copied into the config under HA's names.
local OPTION_KEYS = {
	unit = "unit_of_measurement", device_class = "device_class", state_class = "state_class",
	icon = "icon", entity_category = "entity_category", value_template = "value_template",
	expire_after = "expire_after", min = "min", max = "max", step = "step", mode = "mode",
	suggested_display_precision = "suggested_display_precision", enabled_by_default =
	"enabled_by_default", force_update = "force_update",
}

local COMPONENTS = {
	sensor = { state = true },
	binary_sensor = { state = true, onoff = true },
	switch = { state = true, command = true, onoff = true },
	number = { state = true, command = true },
	button = { command = true },
}

local Device, Entity = {}, {}
Device.__index, Entity.__index = Device, Entity

-- Per client: its devices, and whether the connect / status wiring is done.
local clients = setmetatable({}, { __mode = "k" })

local function publish(c, topic, payload, retain)
	local ok, err = c:publish(topic, payload, { qos = 1, retain = retain })
	if not ok then lia.log.warn("lia.ha: publish " .. topic .. ": " .. tostring(err)) end
end

local function state_payload(e, v)
	if e.onoff then return v and e.payload_on or e.payload_off end
	if type(v) == "table" then return cjson.encode(v) end
	return tostring(v)
end

function Entity:_announce()
	local c = self.dev.client
	if self.dev.discovery then publish(c, self.config_topic, cjson.encode(self.config), true) end
	if self.value ~= nil then publish(c, self.state_topic, state_payload(self, self.value), true) end
end

-- entity:set(value): publish the state (a number, string, boolean for
-- binary_sensor / switch, a table as JSON). Kept for re-announcing.
function Entity:set(v)
	if self.removed then return nil, "entity removed" end
	if not self.state_topic then error("lia.ha: a " .. self.component .. " has no state", 2) end
	self.value = v
	return self.dev.client:publish(self.state_topic, state_payload(self, v), { qos = 1, retain = true })
end

function Entity:get() return self.value end

-- entity:remove(): the empty retained config (Home Assistant deletes the
-- entity) and its retained state cleared; no more commands.
function Entity:remove()
	if self.removed then return end
	self.removed = true
	local dev, c = self.dev, self.dev.client
	for i, e in ipairs(dev.entities) do
		if e == self then table.remove(dev.entities, i) break end
	end
	if self.command_topic then c:unsubscribe(self.command_topic) end
	if dev.discovery then publish(c, self.config_topic, "", true) end
	if self.state_topic then publish(c, self.state_topic, "", true) end
end

-- A command from Home Assistant: parse, call on(e, value), and confirm the
-- state unless the callback returned false.
local function command(e, payload)
	local v
	if e.component == "button" then
		if payload ~= e.config.payload_press then return end
		v = true
	elseif e.onoff then
		if payload == e.payload_on then v = true
		elseif payload == e.payload_off then v = false
		else
			return lia.log.warn(string.format("lia.ha: %s: unexpected command %q", e.config.name, payload))
		end
	else
		v = tonumber(payload)
		local min, max = e.config.min, e.config.max
		if not v or (min and v < min) or (max and v > max) then
			return lia.log.warn(string.format("lia.ha: %s: bad number %q", e.config.name, payload))
		end
	end
	local r = e.on and e.on(e, v)
	if r ~= false and e.state_topic then e:set(v) end
end

function Device:_add(component, opts)
	local kind = COMPONENTS[component]
	if type(opts) ~= "table" or not opts.id then
		error("lia.ha: " .. component .. "{ id = ..., name = ... } expected", 3)
	end
	local object_id = sanitize(opts.id)
	for _, o in ipairs(self.entities) do
		if o.object_id == object_id and o.component == component then
			error("lia.ha: " .. component .. " " .. object_id .. " exists already", 3)
		end
	end
	local base = self.base .. "/" .. object_id
	local e = setmetatable({ dev = self, component = component, object_id = object_id,
		on = opts.on, onoff = kind.onoff, value = opts.initial }, Entity)
	e.config_topic = string.format("%s/%s/%s/%s/config", self.prefix, component, self.node_id, object_id)
	local cfg = {
		name = opts.name or opts.id,
		unique_id = self.node_id .. "_" .. object_id,
		object_id = self.node_id .. "_" .. object_id,
		availability_topic = self.availability,
		payload_available = "online", payload_not_available = "offline",
		device = self.block,
	}
	for k, key in pairs(OPTION_KEYS) do
		if opts[k] ~= nil then cfg[key] = opts[k] end
	end
	if kind.state then e.state_topic = base .. "/state"; cfg.state_topic = e.state_topic end
	if kind.command then e.command_topic = base .. "/set"; cfg.command_topic = e.command_topic end
	if kind.onoff then
		e.payload_on, e.payload_off = opts.payload_on or "ON", opts.payload_off or "OFF"
		cfg.payload_on, cfg.payload_off = e.payload_on, e.payload_off
	end
	if component == "button" then cfg.payload_press = opts.payload_press or "PRESS" end
	for k, v in pairs(opts.config or {}) do cfg[k] = v end   -- any other HA key
	e.config = cfg
	self.entities[#self.entities + 1] = e
	if e.command_topic then
		self.client:subscribe(e.command_topic, 1, function(_, msg) command(e, msg.payload) end)
	end
	if self.client:is_connected() then e:_announce() end
	return e
end

-- dev:sensor{ id, name, unit, device_class, state_class, icon, ... }
function Device:sensor(o) return self:_add("sensor", o) end
-- dev:binary_sensor{ id, name, device_class, payload_on, payload_off }: set(true/false)
function Device:binary_sensor(o) return self:_add("binary_sensor", o) end
-- dev:switch{ id, name, on = fn(e, bool) [-> false: do not confirm] }
function Device:switch(o) return self:_add("switch", o) end
-- dev:number{ id, name, min, max, step, mode, on = fn(e, n) }
function Device:number(o) return self:_add("number", o) end
-- dev:button{ id, name, on = fn(e) }
function Device:button(o) return self:_add("button", o) end

-- Availability online, every config and every known state.
function Device:announce()
	publish(self.client, self.availability, "online", true)
	for _, e in ipairs(self.entities) do e:_announce() end
end

function Device:remove()
	while self.entities[1] do self.entities[1]:remove() end
	publish(self.client, self.availability, "offline", true)
end

-- Connect and Home Assistant's birth message announce every device of c.
local function wire(c, opts)
	local st = clients[c]
	if st then return st end
	st = { devices = {} }
	clients[c] = st
	local function all() for _, d in ipairs(st.devices) do d:announce() end end
	c:on("connect", function(cl, ack)
		all()
		if st.on_connect then st.on_connect(cl, ack) end
	end)
	c:subscribe(opts.prefix .. "/status", 1, function(_, msg)
		if msg.payload == "online" then all() end
	end)
	return st
end

-- ha.device{ client, id, name, manufacturer, model, sw_version, area,
--            prefix = "homeassistant", base = "lia/<id>", on_connect,
--            discovery = true (false: the same topics, no configs) }
function M.device(opts)
	if type(opts) ~= "table" or not opts.client or not opts.id then
		error("lia.ha: ha.device{ client = c, id = ..., name = ... } expected", 2)
	end
	local node_id = sanitize(opts.id)
	local dev = setmetatable({
		client = opts.client, node_id = node_id, entities = {},
		prefix = opts.prefix or "homeassistant",
		base = opts.base or ("lia/" .. node_id),
		discovery = opts.discovery ~= false,
	}, Device)
	dev.availability = availability_topic(node_id, opts.base)
	dev.block = {
		identifiers = { node_id }, name = opts.name or opts.id,
		manufacturer = opts.manufacturer or "lia", model = opts.model or "lia (Lua IoT Agent)",
		sw_version = opts.sw_version or lia.version, suggested_area = opts.area,
	}
	local st = wire(opts.client, dev)
	st.devices[#st.devices + 1] = dev
	if opts.on_connect then st.on_connect = opts.on_connect end
	if opts.client:is_connected() then publish(opts.client, dev.availability, "online", true) end
	return dev
end

return M
