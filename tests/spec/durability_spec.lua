-- durability_spec.lua - nothing lost on a crash (docs/durability.md):
-- kill -9 at random moments through a real mosquitto with a persistent
-- session, both directions; the offline queue across a kill with the broker
-- down; the persist = false decision; lia.state; recovery of a bad store.
-- KILLS (default 200, split over QoS 1 and QoS 2) sets the number of kills.
local H = require "tests.spec.helper"

local agent = H.root .. "/tests/durability/agent.lua"
local kills = tonumber(os.getenv("KILLS") or "200")

local function sql(dir, q)
	local p = io.popen("sqlite3 " .. H.q(dir .. "/lia.db") .. " " .. H.q(q) .. " 2>&1")
	local s = p:read("a"); p:close(); return s
end

local function lia(dir, script, env)
	return H.lia_spawn({ "run", "--data-dir", dir, script }, { env = env })
end

-- every "S a b" a run printed: messages a..b were reported stored
local function stored_set(outs)
	local set, n = {}, 0
	for _, s in ipairs(outs) do
		for a, b in s:gmatch("S (%d+) (%d+)\n") do
			for i = tonumber(a), tonumber(b) do
				if not set[i] then set[i], n = true, n + 1 end
			end
		end
	end
	return set, n
end

local function counts(text)
	local c = {}
	for l in text:gmatch("[^\n]+") do c[l] = (c[l] or 0) + 1 end
	return c
end

local function kill_run(qos, nkills)
	local broker = H.broker("max_queued_messages 1000000")
	local dir = H.tmp(H.uniq("data"))
	local id = H.uniq("dur")
	local total, inbound = 1000000, 4000 * (qos == 2 and 1 or 1)
	local env = { QOS = qos, TOTAL = total, BROKER = broker:uri(), ID = id, BURST = 10 }
	local sub = broker:sub(string.format("-q %d -t 'out/#'", qos))
	-- the first run makes the broker session (and its subscription)
	local p = lia(dir, agent, env)
	assert(broker:subscribed(id, 10), H.dump(p, broker))
	p:kill("KILL"); p:wait()
	local feeder = H.spawn(string.format("sh -c 'seq 1 %d | mosquitto_pub -h %s -p %d -q %d -l -t in/x -i %s'",
		inbound, H.host, broker.port, qos, H.uniq("feed")))
	local outs = { p:stdout() }
	for _ = 1, nkills do
		p = lia(dir, agent, env)
		-- a random moment is the point of this test: nothing to wait for
		H.sleep(math.random() * 0.3)
		p:kill("KILL")
		assert(p:wait(5), "lia did not die")
		outs[#outs + 1] = p:stdout()
	end
	-- stop publishing: what the last runs stored must still arrive
	local set, nstored = stored_set(outs)
	local last = 0
	for i in pairs(set) do if i > last then last = i end end
	env.TOTAL = math.max(last, sql(dir, "select value from state where key='next'"):match("%d+") - 1)
	assert(feeder:wait(60) == 0, "feeder: " .. feeder:output())
	p = lia(dir, agent, env)
	local got_in = H.wait(function()
		return p:stdout():find("DRAINED", 1, true) and
			tonumber(sql(dir, "select count(*) from state where key like 'in:%'"):match("%d+")) >= inbound
	end, 120)
	assert(got_in, "not drained: " .. H.dump(p, broker) .. "\n" ..
		sql(dir, "select count(*) from state where key like 'in:%'"))
	local subout = H.wait(function()
		local c = counts(sub:stdout())
		for i in pairs(set) do if not c[tostring(i)] then return nil end end
		return c
	end, 30) or counts(sub:stdout())
	p:stop()
	-- outbound: no stored publish lost; QoS 2: none twice
	local lost, dups = 0, 0
	for i in pairs(set) do if not subout[tostring(i)] then lost = lost + 1 end end
	for _, n in pairs(subout) do if n > 1 then dups = dups + n - 1 end end
	-- inbound: every message counted in lia.state, QoS 2 exactly once
	local in_missing, in_dups = 0, 0
	local rows = {}
	for k, v in sql(dir, "select key, value from state where key like 'in:%'"):gmatch("in:(%d+)|(%d+)") do
		rows[tonumber(k)] = tonumber(v)
	end
	for i = 1, inbound do
		if not rows[i] then in_missing = in_missing + 1
		elseif rows[i] > 1 then in_dups = in_dups + rows[i] - 1 end
	end
	print(string.format("durability QoS %d: %d kills, %d publishes reported stored, %d lost, "
		.. "%d duplicates out; %d inbound, %d missing, %d handled twice", qos, nkills, nstored,
		lost, dups, inbound, in_missing, in_dups))
	sub:stop()
	broker:stop()
	return { lost = lost, dups = dups, in_missing = in_missing, in_dups = in_dups, stored = nstored }
end

describe("durability", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("kill -9 at random moments, QoS 1: no stored publish lost, duplicates counted", function()
		local r = kill_run(1, kills // 2)
		assert.is_true(r.stored > 0)
		assert.are.equal(0, r.lost)
		assert.are.equal(0, r.in_missing)
	end)

	it("kill -9 at random moments, QoS 2: nothing lost, nothing twice, both directions", function()
		local r = kill_run(2, kills - kills // 2)
		assert.is_true(r.stored > 0)
		assert.are.equal(0, r.lost)
		assert.are.equal(0, r.dups)
		assert.are.equal(0, r.in_missing)
		assert.are.equal(0, r.in_dups)
	end)
end)
