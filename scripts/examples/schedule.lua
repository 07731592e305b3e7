-- schedule.lua - do things at clock times: a report every five minutes
-- (cron), a morning and an evening message (timer.at), in local time with
-- daylight saving handled. At connect it publishes when each runs next.
--
--   lia run -h localhost -i pi-1 scripts/examples/schedule.lua
--   TZ=Europe/Berlin lia run -h localhost -i pi-1 scripts/examples/schedule.lua
--
-- Publishes on lia/<id>/schedule/<name>: "next 2026-03-29T03:00:00+0200"
-- at connect, then "ran <time>" at each run. REPORT (a cron expression,
-- default "*/5 * * * *") may be set as a global before dofile.
local timer = require "lia.timer"

local function stamp(t) return os.date("%Y-%m-%dT%H:%M:%S%z", math.floor(t)) end

local jobs = {}
local device

local function job(name, t)
	jobs[#jobs + 1] = { name = name, t = t }
end

local function run(name)
	return function(t)
		if device then
			mqtt:publish("lia/" .. device .. "/schedule/" .. name, "ran " .. stamp(lia.time()), { qos = 1 })
		end
		lia.log.info("schedule:", name, "ran; next", stamp(t:next()))
	end
end

job("report", timer.cron(REPORT or "*/5 * * * *", run("report")))
job("morning", timer.at("07:30", run("morning")))
job("evening", timer.at("22:00", run("evening")))

function on_connect(client)
	device = client.client_id
	for _, j in ipairs(jobs) do
		client:publish("lia/" .. device .. "/schedule/" .. j.name, "next " .. stamp(j.t:next()), { qos = 1 })
	end
end
