-- lia.cli.format - lia sub's output: -v, -N, -F format strings (the whole
-- %-spec and @ time specs of `man mosquitto_sub`, 2.0.11) and %j / %J /
-- --pretty JSON, which lia.clijson builds with libcjson exactly as
-- mosquitto_sub does. Pure functions over a message table, so the output
-- is the same whatever the transport.
local clijson = require "lia.clijson"

local M = {}

local function props(msg) return msg.properties or {} end

local function user_props(msg)
	local t = {}
	for _, kv in ipairs(props(msg).user_list or {}) do t[#t + 1] = kv[1] .. ":" .. kv[2] end
	return table.concat(t, " ")
end

local function hex(s, fmt)
	return (s:gsub(".", function(c) return string.format(fmt, c:byte()) end))
end

-- now: seconds and nanoseconds (clijson.now, CLOCK_REALTIME)
local function iso(sec)
	return os.date("%Y-%m-%dT%H:%M:%S", sec) .. os.date("%z", sec)
end

-- The values of the %-parameters; numeric ones are numbers (0 padding
-- applies to them), absent properties are "".
local params = {
	A = function(m) return props(m).topic_alias or "" end,
	C = function(m) return props(m).content_type or "" end,
	D = function(m) return props(m).correlation_data or "" end,
	E = function(m) return props(m).message_expiry_interval or "" end,
	F = function(m) return props(m).payload_format_indicator or "" end,
	l = function(m) return #m.payload end,
	m = function(m) return m.mid or 0 end,
	P = user_props,
	p = function(m) return m.payload end,
	q = function(m) return m.qos end,
	R = function(m) return props(m).response_topic or "" end,
	r = function(m) return m.retain and 1 or 0 end,
	S = function(m)
		local s = props(m).subscription_identifier
		if type(s) == "table" then s = s[1] end
		return s or ""
	end,
	t = function(m) return m.topic end,
	x = function(m) return hex(m.payload, "%02x") end,
	X = function(m) return hex(m.payload, "%02X") end,
	I = function(_, now) return iso(now.sec) end,
	U = function(_, now) return string.format("%d.%09d", now.sec, now.nsec) end,
}
local widths = { A = true, C = true, E = true, F = true, I = true, l = true, m = true, p = true,
	R = true, S = true, t = true, x = true, X = true }
local zero_pad = { A = true, E = true, F = true, l = true, m = true, S = true, X = true, x = true }

-- %[flags][width][.precision]X with mosquitto's padding rules.
local function pad(v, conv, flags, width, prec)
	local s = tostring(v)
	if not widths[conv] then return s end
	if prec ~= "" and (conv == "C" or conv == "I" or conv == "R" or conv == "t") then
		s = s:sub(1, tonumber(prec))
	end
	local w = tonumber(width) or 0
	if #s >= w then return s end
	if flags:find("-", 1, true) then return s .. string.rep(" ", w - #s) end
	if flags:find("0", 1, true) and zero_pad[conv] then return string.rep("0", w - #s) .. s end
	return string.rep(" ", w - #s) .. s
end

local escapes = { ["\\"] = "\\", ["0"] = "\0", a = "\a", e = "\27", n = "\n", r = "\r",
	t = "\t", v = "\v" }

-- One message through a -F format: the text, or nil and an error line
-- (a %J payload that is not JSON).
function M.format(fmt, msg, pretty, now)
	now = now or clijson.now()
	local out, i, n = {}, 1, #fmt
	while i <= n do
		local c = fmt:sub(i, i)
		if c == "%" and i < n then
			local flags, width, prec, conv, j = fmt:match("^([0%-]*)(%d*)%.?(%d*)(.)()", i + 1)
			if conv == "%" then
				out[#out + 1] = "%"
			elseif conv == "j" or conv == "J" then
				local s, err = clijson.message(msg, conv == "j", pretty, now.sec, now.nsec)
				if not s then return nil, err end
				out[#out + 1] = s
			elseif params[conv] then
				out[#out + 1] = pad(params[conv](msg, now), conv, flags, width, prec)
			else
				out[#out + 1] = "%" .. flags .. width .. conv
			end
			i = j
		elseif c == "@" and i < n then
			local x = fmt:sub(i + 1, i + 1)
			if x == "@" then out[#out + 1] = "@"
			elseif x == "N" then out[#out + 1] = string.format("%09d", now.nsec)
			else out[#out + 1] = os.date("%" .. x, now.sec) end
			i = i + 2
		elseif c == "\\" and i < n then
			local x = fmt:sub(i + 1, i + 1)
			out[#out + 1] = escapes[x] or ("\\" .. x)
			i = i + 2
		else
			out[#out + 1] = c
			i = i + 1
		end
	end
	return table.concat(out)
end

-- The whole output of one message as mosquitto_sub prints it, "" for none.
function M.message(a, msg)
	local eol = a.no_newline and "" or "\n"
	if a.format then
		-- as mosquitto_sub: a %J that fails still ends its line
		local s, err = M.format(a.format, msg, a.pretty)
		return (s or "") .. eol, err
	end
	if a.verbose then
		if #msg.payload == 0 then return a.no_newline and "" or (msg.topic .. " (null)\n") end
		return msg.topic .. " " .. msg.payload .. eol
	end
	if #msg.payload == 0 then return "" end
	return msg.payload .. eol
end

return M
