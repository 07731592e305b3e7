-- lia.cron - five-field cron expressions in the local time zone.
--
--   local cron = require "lia.cron"
--   local spec = assert(cron.parse("*/5 * * * *"))
--   local t = cron.next(spec, os.time())   -- epoch seconds of the next run
--
-- Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
-- jan..dec), day of week (0-7 or sun..sat, 0 and 7 are Sunday). Each field
-- is *, a value, a range a-b, a step */n or a-b/n, or a comma list of
-- those. @yearly @annually @monthly @weekly @daily @midnight @hourly too.
-- As in cron(8): when both day fields are restricted, a day matching
-- either one runs.
--
-- Daylight saving time follows cronie: a time that does not exist (the
-- hour skipped in spring) runs at the change instead; in the hour that
-- repeats in autumn, a job with a fixed hour runs once (the first time),
-- a job whose hour field is * runs in both passes, as its minutes come.
--
-- lia.timer uses this module for timer.cron(expr, fn) and timer.at("07:30", fn).
local M = {}

local FIELDS = {
	{ name = "minute", lo = 0, hi = 59 },
	{ name = "hour", lo = 0, hi = 23 },
	{ name = "day of month", lo = 1, hi = 31 },
	{ name = "month", lo = 1, hi = 12, names = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5,
		jun = 6, jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 } },
	{ name = "day of week", lo = 0, hi = 7, names = { sun = 0, mon = 1, tue = 2, wed = 3,
		thu = 4, fri = 5, sat = 6 } },
}

local MACROS = {
	["@yearly"] = "0 0 1 1 *", ["@annually"] = "0 0 1 1 *", ["@monthly"] = "0 0 1 * *",
	["@weekly"] = "0 0 * * 0", ["@daily"] = "0 0 * * *", ["@midnight"] = "0 0 * * *",
	["@hourly"] = "0 * * * *",
}

-- How far next() looks before it says "never" (a 31st of February).
local HORIZON = 8 * 366 * 86400

local function value(f, s)
	local n = tonumber(s)
	if not n and f.names then n = f.names[s:lower()] end
	if not n or n ~= math.floor(n) or n < f.lo or n > f.hi then
		return nil, string.format("%s: %q is not in %d-%d", f.name, s, f.lo, f.hi)
	end
	return math.tointeger(n)
end

-- One comma-separated item: *, v, a-b, with an optional /step.
local function item(f, s, set)
	local range, step = s:match("^([^/]+)/(%d+)$")
	if not range then range = s end
	step = tonumber(step or 1)
	if step < 1 then return nil, f.name .. ": step must be 1 or more" end
	local lo, hi
	if range == "*" then
		lo, hi = f.lo, f.hi
	else
		local a, b = range:match("^([^-]+)-([^-]+)$")
		local err
		lo, err = value(f, a or range)
		if not lo then return nil, err end
		hi = lo
		if b then
			hi, err = value(f, b)
			if not hi then return nil, err end
			if hi < lo then return nil, string.format("%s: range %s goes backwards", f.name, range) end
		elseif s:find("/", 1, true) then
			hi = f.hi              -- "5/15": from 5 to the end, as cronie reads it
		end
	end
	for v = lo, hi, step do set[v] = true end
	return true
end

local function field(f, s)
	local set = {}
	for part in (s .. ","):gmatch("([^,]*),") do
		if part == "" then return nil, f.name .. ": empty list item" end
		local ok, err = item(f, part, set)
		if not ok then return nil, err end
	end
	return set
end

-- parse(expr) -> spec, or nil and a message naming the field at fault.
function M.parse(expr)
	if type(expr) ~= "string" then return nil, "cron expression must be a string" end
	local text = MACROS[expr:lower()] or expr
	local parts = {}
	for p in text:gmatch("%S+") do parts[#parts + 1] = p end
	if #parts ~= 5 then
		return nil, string.format("%q: 5 fields expected (minute hour day month weekday), got %d",
			expr, #parts)
	end
	local spec = { expr = expr }
	for i, f in ipairs(FIELDS) do
		local set, err = field(f, parts[i])
		if not set then return nil, string.format("%q: %s", expr, err) end
		spec[i] = set
	end
	spec[5][0] = spec[5][0] or spec[5][7]
	spec.dom_any = parts[3]:sub(1, 1) == "*"
	spec.dow_any = parts[5]:sub(1, 1) == "*"
	spec.hour_any = parts[2] == "*"
	return spec
end

local function day_ok(spec, w)
	local dom, dow = spec[3][w.day], spec[5][w.wday - 1]
	if spec.dom_any or spec.dow_any then
		return (spec.dom_any or dom) and (spec.dow_any or dow)
	end
	return dom or dow
end

-- Does the wall-clock time w (os.date "*t") match?
local function matches(spec, w)
	return spec[4][w.month] and day_ok(spec, w) and spec[2][w.hour] and spec[1][w.min]
end

-- Epoch seconds of a local wall time (os.time normalises overflowing fields).
local function at(y, m, d, h, mi)
	return os.time{ year = y, month = m, day = d, hour = h, min = mi, sec = 0 }
end

-- Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
local function days(y, m, d)
	y = m <= 2 and y - 1 or y
	local era = y // 400
	local yoe = y - era * 400
	local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
	return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

-- A wall time as minutes on a clock without zones: to see what a DST jump
-- skipped (os.date "!*t" of those minutes * 60 gives the fields back).
local function wall_minutes(w)
	return days(w.year, w.month, w.day) * 1440 + w.hour * 60 + w.min
end

-- A wall time skipped between epoch e0 (last seen) and e1 that matches:
-- then the job runs at e1, the change (cronie's rule for the spring gap).
local function skipped_match(spec, e0, e1)
	local m0, m1 = wall_minutes(os.date("*t", e0)), wall_minutes(os.date("*t", e1))
	local step = (e1 - e0) // 60
	for m = m0 + step, m1 - 1 do
		if matches(spec, os.date("!*t", m * 60)) then return true end
	end
	return false
end

-- The same wall time already happened about an hour (or half) earlier:
-- the repeated autumn hour, second pass.
local function repeated(w, e)
	for _, back in ipairs({ 3600, 1800 }) do
		local p = os.date("*t", e - back)
		if p.hour == w.hour and p.min == w.min and p.day == w.day then return true end
	end
	return false
end

-- next(spec, after) -> epoch seconds (a whole minute) of the first run
-- strictly after `after`, or nil when none comes within eight years.
function M.next(spec, after)
	local e = (math.floor(after) // 60 + 1) * 60
	local limit = e + HORIZON
	local prev               -- set after a step of a minute or to the next hour
	while e <= limit do
		if prev and skipped_match(spec, prev, e) then return e end
		local w = os.date("*t", e)
		local n
		prev = nil
		if not spec[4][w.month] then
			n = at(w.year, w.month + 1, 1, 0, 0)
		elseif not day_ok(spec, w) then
			n = at(w.year, w.month, w.day + 1, 0, 0)
		elseif not spec[2][w.hour] then
			n, prev = e + (60 - w.min) * 60, e
		elseif not spec[1][w.min] or (not spec.hour_any and repeated(w, e)) then
			n, prev = e + 60, e
		else
			return e
		end
		if n <= e then n = e + 60 end   -- a zone whose midnight is in a gap
		e = n
	end
	return nil
end

-- daily("07:30") -> the cron expression "30 7 * * *", or nil and why.
function M.daily(hhmm)
	local h, m = tostring(hhmm):match("^(%d%d?):(%d%d)$")
	h, m = tonumber(h), tonumber(m)
	if not h or h > 23 or m > 59 then
		return nil, string.format("%q: HH:MM expected (00:00 to 23:59)", tostring(hhmm))
	end
	return string.format("%d %d * * *", m, h)
end

-- ---- timer.cron / timer.at (lia.timer calls install with its module) ----

-- The wall clock the timers read: lia.time(). Tests may replace it.
M.clock = function() return lia.time() end

-- Wake at least once a minute (seconds; tests may lower it): lia's timers
-- run on the monotonic clock, and the wall clock may jump (NTP setting the
-- time after a Pi boots).
M.max_wait = 60

local Cron = {}
Cron.__index = Cron

local function arm(self, timer)
	local wait = math.max(0, math.min(self.due - M.clock(), M.max_wait))
	self.t = timer.after(math.ceil(wait * 1000), function() self:_tick(timer) end)
end

function Cron:_tick(timer)
	if not self.due then return end
	local now = M.clock()
	if now < self.due then return arm(self, timer) end
	-- runs missed while the clock jumped ahead are not caught up: one run now
	self.due = M.next(self.spec, math.max(self.due, now))
	if self.due then arm(self, timer) end
	self.fn(self)
end

-- t:next() -> epoch seconds (wall clock) of the next run, nil once stopped.
function Cron:next() return self.due end
function Cron:active() return self.due ~= nil end
function Cron:stop()
	self.due = nil
	if self.t then self.t:stop() end
end
Cron.__close = Cron.stop
function Cron:__tostring()
	return string.format("lia.timer.cron (%s, %s)", self.expr,
		self.due and os.date("next %Y-%m-%d %H:%M", self.due) or "stopped")
end

function M.install(timer)
	-- timer.cron(expr, fn): fn(t) at every time expr matches, local time.
	function timer.cron(expr, fn)
		local spec, err = M.parse(expr)
		if not spec then error("timer.cron: " .. err, 2) end
		if type(fn) ~= "function" then error("timer.cron: function expected", 2) end
		local self = setmetatable({ expr = expr, spec = spec, fn = fn }, Cron)
		self.due = M.next(spec, M.clock())
		if not self.due then error("timer.cron: " .. expr .. " never matches", 2) end
		arm(self, timer)
		return self
	end

	-- timer.at("07:30", fn): every day at that local time.
	function timer.at(hhmm, fn)
		local expr, err = M.daily(hhmm)
		if not expr then error("timer.at: " .. err, 2) end
		if type(fn) ~= "function" then error("timer.at: function expected", 2) end
		local t = timer.cron(expr, fn)
		t.expr = hhmm
		return t
	end
end

return M
