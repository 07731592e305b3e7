-- lia.cron (lua/lib/cron.lua): the five-field parser, next() across DST
-- changes in real zones (tzdata), and timer.cron / timer.at in lia.
local H = require "tests.spec.helper"
package.path = H.root .. "/lua/lib/?.lua;" .. package.path
local cron = require "cron"

-- Run next() in `lia run` under TZ=tz: the embedded module, the real zone.
-- cases: { { expr, "YYYY-MM-DD HH:MM" start (local), n } } -> lines of
-- "expr: t1 | t2 ..." as "%Y-%m-%d %H:%M %Z".
local function next_in(tz, cases)
	local code = { 'local cron = require "lia.cron"' }
	for _, c in ipairs(cases) do
		local y, mo, d, h, mi = c[2]:match("^(%d+)-(%d+)-(%d+) (%d+):(%d+)$")
		code[#code + 1] = string.format([[
do
	local s = assert(cron.parse(%q))
	local t = os.time{ year = %s, month = %s, day = %s, hour = %s, min = %s, sec = 0 }
	local out = {}
	for _ = 1, %d do
		t = cron.next(s, t)
		out[#out + 1] = t and os.date("%%Y-%%m-%%d %%H:%%M %%Z", t) or "never"
		if not t then break end
	end
	print(%q .. ": " .. table.concat(out, " | "))
end]], c[1], y, mo, d, h, mi, c[3] or 3, c[1])
	end
	code[#code + 1] = "lia.stop()"
	local r = H.lia_run({ "run", H.script(table.concat(code, "\n")) }, { env = { TZ = tz } })
	assert.equal(0, r.status, r.out .. r.err)
	return H.lines(r.out)
end

describe("lia.cron", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("is loaded at the first use of timer.cron or timer.at, not with lia.timer; lia run loads no lia.cli", function()
		local r = H.lia_run({ "run", H.script([[
local timer = require "lia.timer"
print(package.loaded["lia.cron"] == nil, package.loaded["lia.cli"] == nil, mqtt ~= nil)
print(type(timer.at), package.loaded["lia.cron"] ~= nil, type(timer.cron), timer.nosuch)
lia.stop()
]]) })
		assert.equal(0, r.status, r.out .. r.err)
		assert.same({ "true\ttrue\ttrue", "function\ttrue\tfunction\tnil" }, H.lines(r.out))
	end)

	describe("parse", function()
		it("accepts values, ranges, steps, lists, names and macros", function()
			local s = assert(cron.parse("*/15 9-17/4 1,15 jan-mar MON-fri"))
			assert.same({ [0] = true, [15] = true, [30] = true, [45] = true }, s[1])
			assert.same({ [9] = true, [13] = true, [17] = true }, s[2])
			assert.same({ [1] = true, [15] = true }, s[3])
			assert.same({ true, true, true }, s[4])
			assert.same({ [1] = true, [2] = true, [3] = true, [4] = true, [5] = true }, s[5])
			local w = assert(cron.parse("0 0 * * 7"))
			assert.is_true(w[5][0])        -- 7 is Sunday too
			assert.same(cron.parse("0 * * * *")[1], cron.parse("@hourly")[1])
			assert.truthy(cron.parse("@daily"))
			local st = assert(cron.parse("5/20 * * * *"))
			assert.same({ [5] = true, [25] = true, [45] = true }, st[1])
		end)

		it("rejects bad expressions with a message naming the field", function()
			local cases = {
				{ "61 * * * *", 'minute: "61" is not in 0-59' },
				{ "* 24 * * *", 'hour: "24" is not in 0-23' },
				{ "* * 0 * *", 'day of month: "0" is not in 1-31' },
				{ "* * * foo *", 'month: "foo" is not in 1-12' },
				{ "* * * * 8", 'day of week: "8" is not in 0-7' },
				{ "* * * *", "5 fields expected" },
				{ "* * * * * *", "5 fields expected" },
				{ "*/0 * * * *", "step must be 1 or more" },
				{ "5-1 * * * *", "range 5-1 goes backwards" },
				{ "1,,2 * * * *", "empty list item" },
			}
			for _, c in ipairs(cases) do
				local s, err = cron.parse(c[1])
				assert.is_nil(s, c[1])
				assert.truthy(err:find(c[2], 1, true), c[1] .. " -> " .. tostring(err))
			end
			assert.is_nil((cron.parse(42)))
		end)

		it("daily turns HH:MM into an expression", function()
			assert.equal("30 7 * * *", cron.daily("07:30"))
			assert.equal("0 0 * * *", cron.daily("0:00"))
			assert.is_nil((cron.daily("24:00")))
			assert.is_nil((cron.daily("7:5")))
		end)
	end)

	describe("next", function()
		it("steps, weekdays, day-of-month OR day-of-week, leap days, never (UTC)", function()
			local out = next_in("UTC", {
				{ "*/5 * * * *", "2026-01-01 00:03", 3 },
				{ "0 9 * * mon-fri", "2026-01-02 10:00", 3 },  -- Friday
				{ "0 0 13 * 5", "2026-01-01 00:00", 3 },       -- the 13th or a Friday
				{ "0 0 29 2 *", "2026-01-01 00:00", 2 },
				{ "0 0 31 2 *", "2026-01-01 00:00", 1 },
				{ "59 23 31 12 *", "2026-12-31 23:59", 1 },
			})
			assert.same({
				"*/5 * * * *: 2026-01-01 00:05 UTC | 2026-01-01 00:10 UTC | 2026-01-01 00:15 UTC",
				"0 9 * * mon-fri: 2026-01-05 09:00 UTC | 2026-01-06 09:00 UTC | 2026-01-07 09:00 UTC",
				"0 0 13 * 5: 2026-01-02 00:00 UTC | 2026-01-09 00:00 UTC | 2026-01-13 00:00 UTC",
				"0 0 29 2 *: 2028-02-29 00:00 UTC | 2032-02-29 00:00 UTC",
				"0 0 31 2 *: never",
				"59 23 31 12 *: 2027-12-31 23:59 UTC",
			}, out)
		end)

		it("Europe/Berlin: the skipped spring hour runs at the change, the repeated autumn hour once or twice", function()
			local out = next_in("Europe/Berlin", {
				{ "30 2 * * *", "2026-03-29 01:00", 2 },    -- 02:30 does not exist that night
				{ "*/20 * * * *", "2026-03-29 01:30", 3 },
				{ "30 2 * * *", "2026-10-25 00:00", 2 },    -- 02:30 happens twice: once
				{ "*/20 * * * *", "2026-10-25 02:30", 5 },  -- hour *: both passes
				{ "0 12 * * *", "2026-03-28 13:00", 2 },    -- a 23-hour day between
			})
			assert.same({
				"30 2 * * *: 2026-03-29 03:00 CEST | 2026-03-30 02:30 CEST",
				"*/20 * * * *: 2026-03-29 01:40 CET | 2026-03-29 03:00 CEST | 2026-03-29 03:20 CEST",
				"30 2 * * *: 2026-10-25 02:30 CEST | 2026-10-26 02:30 CET",
				"*/20 * * * *: 2026-10-25 02:40 CEST | 2026-10-25 02:00 CET | 2026-10-25 02:20 CET" ..
					" | 2026-10-25 02:40 CET | 2026-10-25 03:00 CET",
				"0 12 * * *: 2026-03-29 12:00 CEST | 2026-03-30 12:00 CEST",
			}, out)
		end)

		it("America/New_York and Australia/Lord_Howe (a 30-minute DST shift)", function()
			assert.same({
				"30 2 * * *: 2026-03-08 03:00 EDT | 2026-03-09 02:30 EDT",
				"30 1 * * *: 2026-11-01 01:30 EDT | 2026-11-02 01:30 EST",
			}, next_in("America/New_York", {
				{ "30 2 * * *", "2026-03-08 00:00", 2 },
				{ "30 1 * * *", "2026-11-01 00:00", 2 },
			}))
			-- Lord Howe goes from +10:30 to +11 at 02:00 on the first Sunday in
			-- October: 02:15 does not exist; back at 02:00 in April: 01:45 twice
			assert.same({
				"15 2 * * *: 2026-10-04 02:30 +11 | 2026-10-05 02:15 +11",
				"45 1 * * *: 2026-04-05 01:45 +11 | 2026-04-06 01:45 +1030",
			}, next_in("Australia/Lord_Howe", {
				{ "15 2 * * *", "2026-10-04 00:00", 2 },
				{ "45 1 * * *", "2026-04-05 00:00", 2 },
			}))
		end)
	end)

	describe("timer.cron and timer.at", function()
		it("fire on the wall-clock minute, t:next() says when, stop() stops", function()
			-- cron.clock is moved so that the next minute starts 0.3 s from now:
			-- the test waits for the firing, not for a real minute. A jump of the
			-- wall clock (NTP) is noticed at the next wake-up (max_wait).
			local s = H.script([[
local timer, cron = require "lia.timer", require "lia.cron"
local real, off = cron.clock, nil
off = (60 - lia.time() % 60) - 0.3
cron.clock = function() return real() + off end
cron.max_wait = 0.2           -- a jump is seen at the next wake-up: 0.2 s here
local n = 0
local t = timer.cron("* * * * *", function(t)
	n = n + 1
	print("fired", n, math.floor(cron.clock()) % 60, t:next() - t:next() % 60 == t:next())
	if n == 1 then
		off = off + 59.5      -- the clock jumps to just before the next minute
	else
		t:stop()
		print("stopped", t:active(), t:next())
		lia.stop()
	end
end)
print("next", t:next() % 60 == 0, t:next() - cron.clock() < 1)
local a = timer.at("07:30", function() end)
print("at", os.date("%H:%M", a:next()), tostring(a):match("^lia.timer.cron %(07:30, next"))
a:stop()
print(pcall(timer.at, "25:00", print))
print(pcall(timer.cron, "* * * *", print))
]])
			local r = H.lia_run({ "run", s })
			assert.equal(0, r.status, r.out .. r.err)
			assert.same({
				"next\ttrue\ttrue",
				"at\t07:30\tlia.timer.cron (07:30, next",
				'false\ttimer.at: "25:00": HH:MM expected (00:00 to 23:59)',
				'false\ttimer.cron: "* * * *": 5 fields expected (minute hour day month weekday), got 4',
				"fired\t1\t0\ttrue",
				"fired\t2\t0\ttrue",
				"stopped\tfalse\tnil",
			}, H.lines(r.out))
		end)
	end)
end)

describe("schedule.lua", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("publishes each job's next run at connect, then runs them on the clock", function()
		local id = H.uniq("sched")
		local sub = broker:sub(string.format("-t 'lia/%s/schedule/#' -v", id))
		-- the wall clock as the example sees it starts 0.5 s before a minute,
		-- so REPORT = every minute runs at once (cron.clock, cron.max_wait)
		local wrapper = H.script(string.format([[
local cron = require "lia.cron"
local real = cron.clock
local off = (60 - lia.time() %% 60) - 0.5
cron.clock = function() return real() + off end
cron.max_wait = 0.2
REPORT = "* * * * *"
dofile(%q)
]], H.root .. "/scripts/examples/schedule.lua"))
		local lia = H.lia_spawn({ "run", "-h", H.host, "-p", broker.port, "-i", id, wrapper },
			{ env = { TZ = "Europe/Berlin" } })
		assert.truthy(sub:wait_for("/schedule/report ran ", 10), sub:stdout() .. H.dump(lia, broker))
		local out = sub:stdout()
		assert.truthy(out:find("/schedule/morning next %d+%-%d+%-%d+T07:30:00%+0[12]00\n"), out)
		assert.truthy(out:find("/schedule/evening next %d+%-%d+%-%d+T22:00:00%+0[12]00\n"), out)
		assert.truthy(out:find("/schedule/report next %d+%-%d+%-%d+T%d%d:%d%d:00%+0[12]00\n"), out)
	end)
end)
