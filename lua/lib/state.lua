-- lia.state - values a script keeps across restarts, crashes and power cuts:
--   local state = require "lia.state"
--   local n = state.get("boots", 0) + 1
--   state.set("boots", n)
-- Strings, numbers (integers stay integers), booleans and tables (as JSON)
-- in the process's database (DATADIR/lia.db, table `state`), written in the
-- loop turn's transaction: one fsync per turn however many set() calls it
-- made. Without a data directory the values live in memory (one warning).
local db = require "lia.state.db"
local cjson = require "cjson"

local M = {}
local mem -- the fallback without a data directory

local function memory()
	if not mem then
		mem = {}
		io.stderr:write("lia.state: no data directory: values are kept in memory only\n")
	end
	return mem
end

local function check_key(k)
	if type(k) ~= "string" or k == "" then
		error("lia.state: key must be a non-empty string, got " .. type(k), 3)
	end
end

local function encode(v)
	local t = type(v)
	if t == "string" then return "s", v end
	if t == "boolean" then return "b", v and "1" or "0" end
	if t == "number" then
		if math.type(v) == "integer" then return "i", tostring(v) end
		return "n", string.format("%.17g", v)
	end
	if t == "table" then
		local ok, s = pcall(cjson.encode, v)
		if not ok then error("lia.state: cannot store this table: " .. tostring(s), 3) end
		return "j", s
	end
	error("lia.state: cannot store a " .. t .. " (strings, numbers, booleans, tables)", 3)
end

-- JSON has one number type: integral values come back as integers, as
-- they went in (a table's 3 stays 3, not 3.0)
local function integers(v)
	if type(v) == "table" then
		for k, x in pairs(v) do v[k] = integers(x) end
		return v
	end
	if math.type(v) == "float" and v == math.floor(v) and v >= -2^53 and v <= 2^53 then
		return math.tointeger(v)
	end
	return v
end

local function decode(kind, s)
	if kind == "s" then return s end
	if kind == "b" then return s == "1" end
	if kind == "i" then return math.tointeger(tonumber(s)) end
	if kind == "n" then return tonumber(s) end
	if kind == "j" then return integers(cjson.decode(s)) end
	return nil
end

-- get(key [, default]): the stored value, or default when there is none.
function M.get(key, default)
	check_key(key)
	if not db.path() then
		local v = memory()[key]
		if v == nil then return default end
		return decode(v[1], v[2])
	end
	local kind, s = db.get(key)
	if kind == nil then
		if s ~= nil then error(s, 2) end
		return default
	end
	local v = decode(kind, s)
	if v == nil then return default end
	return v
end

-- set(key, value): true, or nil + message (a full disk ...). set(key, nil)
-- deletes.
function M.set(key, value)
	check_key(key)
	if value == nil then return M.delete(key) end
	local kind, s = encode(value)
	if not db.path() then
		memory()[key] = { kind, s }
		return true
	end
	return db.set(key, kind, s)
end

function M.delete(key)
	check_key(key)
	if not db.path() then
		memory()[key] = nil
		return true
	end
	return db.delete(key)
end

-- keys([prefix]): the keys (starting with prefix), sorted.
function M.keys(prefix)
	if prefix ~= nil and type(prefix) ~= "string" then
		error("lia.state: prefix must be a string", 2)
	end
	if not db.path() then
		local t = {}
		for k in pairs(memory()) do
			if not prefix or k:sub(1, #prefix) == prefix then t[#t + 1] = k end
		end
		table.sort(t)
		return t
	end
	return db.keys(prefix)
end

-- flush(): make every set() so far durable now instead of at the end of
-- the loop turn; true, or nil + message.
function M.flush()
	if not db.path() then return true end
	return db.flush()
end

-- path(): the database file, or nil when values live in memory.
function M.path() return db.path() end

return M
