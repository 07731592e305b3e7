-- lia.reload - what a live reload needs on the Lua side.
--
-- fingerprint(opts): a canonical text of a client's options table. A
-- reload keeps a live MQTT connection only for a client created again with
-- the same client id, broker and the same fingerprint (any other change of
-- options means a new connection). Functions count by kind only: a reload
-- makes new ones.
local M = {}

local function ser(v, depth)
	local t = type(v)
	if t == "table" then
		if depth > 8 then return "{...}" end
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys, function(a, b)
			if type(a) ~= type(b) then return type(a) < type(b) end
			if type(a) == "number" or type(a) == "string" then return a < b end
			return tostring(a) < tostring(b)
		end)
		local out = {}
		for i, k in ipairs(keys) do out[i] = ser(k, depth + 1) .. "=" .. ser(v[k], depth + 1) end
		return "{" .. table.concat(out, ",") .. "}"
	elseif t == "string" then
		return string.format("%q", v)
	elseif t == "number" or t == "boolean" or t == "nil" then
		return tostring(v)
	end
	return t
end

function M.fingerprint(opts)
	return ser(opts, 0)
end

return M
