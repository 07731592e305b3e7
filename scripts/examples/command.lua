-- command.lua - answer commands sent over MQTT (request/response).
--
-- Subscribes to lia/<id>/cmd/<name> and replies to each command:
--   ping        -> "pong"
--   echo        -> the request payload
--   uptime      -> seconds since boot (from /proc/uptime)
--   time        -> wall clock seconds (lia.time())
--   anything else -> "error: unknown command <name>"
-- The reply goes to the request's v5 response_topic (with its
-- correlation_data copied back) when there is one, else to
-- lia/<id>/reply/<name>.
--
-- <id> is the client id (-i).
--
-- Run it:     lia run -h localhost -i pi-1 -V 5 scripts/examples/command.lua
-- Ask it:     lia sub -v -t 'lia/pi-1/reply/#' &
--             lia pub -t lia/pi-1/cmd/ping -m ''
-- or, v5 request/response with mosquitto_rr:
--             mosquitto_rr -V 5 -t lia/pi-1/cmd/echo -e my/answers -m hello
local function first_line(path)
	local f = io.open(path, "r")
	if not f then return nil end
	local s = f:read("l")
	f:close()
	return s
end

local device                  -- the client id, known once connected

local commands = {
	ping = function() return "pong" end,
	echo = function(payload) return payload end,
	uptime = function()
		local s = first_line("/proc/uptime")
		return s and s:match("^(%S+)") or "error: no /proc/uptime"
	end,
	time = function() return string.format("%.3f", lia.time()) end,
}

function on_connect(client, ack)
	device = client.client_id
	client:subscribe("lia/" .. device .. "/cmd/+", 1)
	lia.log.info("command: waiting for commands on lia/" .. device .. "/cmd/+")
end

function on_message(client, msg)
	local name = msg.topic:match("/cmd/([^/]+)$")
	if not name then return end
	local fn = commands[name]
	local reply = fn and fn(msg.payload) or ("error: unknown command " .. name)
	local props = msg.properties or {}
	local opts = { qos = 1 }
	local topic = props.response_topic
	if topic then
		opts.properties = { correlation_data = props.correlation_data }
	else
		topic = "lia/" .. device .. "/reply/" .. name
	end
	client:publish(topic, reply, opts)
end
