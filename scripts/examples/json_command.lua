-- json_command.lua - JSON in and out: decode a command, answer with a table.
--
--   lia/<id>/json/cmd     {"op":"add","args":[1,2,3]}  (or "mul")
--   lia/<id>/json/reply   {"op":"add","result":6}, or {"error":"..."} for a
--                         payload that is not JSON or an unknown op
--
-- msg:json() decodes the payload (nil and a message on bad JSON);
-- c:publish(topic, table) sends the table encoded as JSON. For anything
-- else JSON, require "cjson" (raises on bad input) or "cjson.safe"
-- (returns nil, message): both are built into lia.
--
-- Run it:   lia run -h localhost -i pi-1 scripts/examples/json_command.lua
-- Ask it:   lia pub -t lia/pi-1/json/cmd -m '{"op":"add","args":[1,2,3]}'
local ops = {
	add = function(a) local s = 0 for _, v in ipairs(a) do s = s + v end return s end,
	mul = function(a) local p = 1 for _, v in ipairs(a) do p = p * v end return p end,
}

function on_connect(client)
	client:subscribe("lia/" .. client.client_id .. "/json/cmd", 1)
end

function on_message(client, msg)
	local reply = "lia/" .. client.client_id .. "/json/reply"
	local cmd, err = msg:json()
	if type(cmd) ~= "table" then
		client:publish(reply, { error = "bad JSON: " .. tostring(err or "not an object") })
	elseif not ops[cmd.op] or type(cmd.args) ~= "table" then
		client:publish(reply, { error = "unknown op " .. tostring(cmd.op) })
	else
		client:publish(reply, { op = cmd.op, result = ops[cmd.op](cmd.args) }, { qos = 1 })
	end
end
