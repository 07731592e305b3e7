-- durability_spec.lua - nothing lost on a crash (docs/durability.md):
-- kill -9 at random moments through a real mosquitto with a persistent
-- session, both directions; the offline queue across a kill with the broker
-- down; the persist = false decision; lia.state; recovery of a bad store.
-- KILLS (default 200, split over QoS 1 and QoS 2) sets the number of kills.
local H = require "tests.spec.helper"
-- Every lia here is killed on purpose, again and again: --safe-mode-after 0.

local agent = H.root .. "/tests/durability/agent.lua"
-- fewer under ASan, where every start costs much more
local kills = tonumber(os.getenv("KILLS") or (H.lia:find("asan", 1, true) and "40" or "200"))

local function sql(dir, q)
	local p = io.popen("sqlite3 " .. H.q(dir .. "/lia.db") .. " " .. H.q(q) .. " 2>&1")
	local s = p:read("a"); p:close(); return s
end

local function lia(dir, script, env)
	return H.lia_spawn({ "run", "--safe-mode-after", "0", "--data-dir", dir, script }, { env = env })
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

-- Every other run's SQLite waits before each WAL write and after each
-- fdatasync (tests/tools/slowwal.c, built by make build-tests): it widens
-- the windows a random kill must hit to catch a wrongly ordered store from
-- microseconds to milliseconds. Not under ASan (its runtime must be the first
-- preloaded library) or qemu-user (a host library in a guest process).
local slowwal = H.lia:gsub("[^/]*$", "") .. "tools/slowwal.so"
if H.lia:find("asan", 1, true) or os.getenv("LIA_EMULATED") then slowwal = nil end

local function kill_run(qos, nkills)
	local broker = H.broker("max_queued_messages 1000000")
	local dir = H.tmp(H.uniq("data"))
	local id = H.uniq("dur")
	local total, inbound = 1000000000, 4000
	local env = { QOS = qos, TOTAL = total, BROKER = broker:uri(), ID = id, BURST = 10 }
	local sub = broker:sub(string.format("-q %d -t 'out/#'", qos))
	-- the first run makes the broker session (and its subscription)
	local p = lia(dir, agent, env)
	assert(broker:subscribed(id, 10), H.dump(p, broker))
	p:kill("KILL"); p:wait()
	local feeder = H.spawn(string.format("sh -c 'seq 1 %d | mosquitto_pub -h %s -p %d -q %d -l -t in/x -i %s'",
		inbound, H.host, broker.port, qos, H.uniq("feed")))
	local outs = { p:stdout() }
	if slowwal then
		local f = io.open(slowwal)
		assert(f, slowwal .. " is missing (make build-tests builds it)")
		f:close()
	end
	for k = 1, nkills do
		-- each run its own range of numbers: a burst reported stored and then
		-- lost is not published again by the next run
		env.START = k * 100000 + 1
		env.LD_PRELOAD = slowwal and k % 2 == 1 and slowwal or nil
		p = lia(dir, agent, env)
		-- a random moment is the point of this test: nothing to wait for
		H.sleep(math.random() * 0.3)
		p:kill("KILL")
		assert(p:wait(5), "lia did not die")
		outs[#outs + 1] = p:stdout()
	end
	-- stop publishing: what the last runs stored must still arrive
	local set, nstored = stored_set(outs)
	env.TOTAL, env.START, env.LD_PRELOAD = 0, nil, nil
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
	print(string.format("# measured: durability QoS %d: %d kills, %d publishes reported stored, %d lost, "
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

-- a mosquitto that keeps its sessions across its own restarts
local function persistent_broker()
	local b = H.broker()
	local dir = H.tmp(H.uniq("mosqdb")) .. "/"
	os.execute("mkdir -p " .. H.q(dir))
	local base = b.conf_text
	b.conf_text = function(self)
		return (base(self):gsub("persistence false", "persistence true\npersistence_location "
			.. dir .. "\nmax_queued_messages 100000\nautosave_interval 0"))
	end
	b:restart()
	return b
end

describe("offline queue", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("1000 QoS 1 publishes stored with the broker down survive kill -9 and arrive once, in order", function()
		local broker = persistent_broker()
		local sid = H.uniq("keeper")
		-- a subscriber whose persistent session the broker keeps while it is down
		local r = H.run(string.format("mosquitto_sub -h %s -p %d -i %s -c -q 1 -t 'off/#' -W 1",
			H.host, broker.port, sid))
		assert(broker:subscribed(sid), r.out .. r.err)
		broker:stop()
		local dir = H.tmp(H.uniq("data"))
		local id = H.uniq("off")
		local script = H.script([[
			local mqtt = require "lia.mqtt"
			local c = mqtt.client{ uri = "${URI}", client_id = "${ID}", clean = false,
				max_queued = 5000, reconnect = { min = 0.05, max = 0.2 } }
			c:connect()
			if os.getenv("PUBLISH") then
				local tok
				for i = 1, 1000 do tok = c:publish("off/t", tostring(i), 1) end
				print("stored", tok:wait("stored"), c:stats().queued)
			end
			c:on("connect", function() print("connected") end)
			local ended = false
			require("lia.timer").every(20, function()
				local st = c:stats()
				if not ended and st.connects > 0 and st.queued == 0 and st.inflight == 0 then
					-- everything acknowledged, nothing left to resend: a
					-- duplicate of 1..1000 would arrive before END
					ended = true
					c:publish("off/t", "END", 1)
					print("DRAINED")
				end
			end)
		]], { URI = broker:uri(), ID = id })
		local p = H.lia_spawn({ "run", "--safe-mode-after", "0", "--data-dir", dir, script }, { env = { PUBLISH = 1 } })
		assert(p:wait_for("stored\ttrue\t1000", 10), H.dump(p))
		-- the depth is logged when it reaches 1000 (then at each doubling)
		assert(p:wait_for("offline queue: 1000 messages", 10, "stderr"), H.dump(p))
		p:kill("KILL"); p:wait()
		p = H.lia_spawn({ "run", "--safe-mode-after", "0", "--data-dir", dir, script })
		assert(p:wait_for("store: 1000 messages", 10, "stderr"), H.dump(p))
		broker:start()
		assert(p:wait_for("DRAINED", 30), H.dump(p, broker))
		local sub = H.spawn(string.format("mosquitto_sub -h %s -p %d -i %s -c -q 1 -t 'off/#' -C 1001 -W 20",
			H.host, broker.port, sid))
		assert(sub:wait(25) == 0, H.dump(sub, broker))
		local got = H.lines(sub:stdout())
		assert.are.equal(1001, #got)
		for i = 1, 1000 do
			if got[i] ~= tostring(i) then error("message " .. i .. " is " .. tostring(got[i])) end
		end
		assert.are.equal("END", got[1001])
	end)

	it("drops the oldest beyond max_queued / max_queued_bytes, expires by max_age, counts in stats", function()
		local dir = H.tmp(H.uniq("data"))
		local script = H.script([[
			local mqtt = require "lia.mqtt"
			local c = mqtt.client{ uri = "mqtt://127.0.0.1:1", client_id = "q-${N}",
				max_queued = 10, max_queued_bytes = 400 }
			c:connect()     -- port 1: stays offline, retrying
			local first = c:publish("q/t", "0", 1)
			for i = 1, 20 do assert(c:publish("q/t", tostring(i), 1)) end
			print("first", first:wait(1000))
			local st = c:stats()
			print("stats", st.queued, st.dropped, st.persistent)
			for i = 1, 10 do assert(c:publish("q/t", string.rep("x", 100), 1)) end
			st = c:stats()
			print("bytes", st.queued, st.queued_bytes <= 400, st.dropped)
			local d = mqtt.client{ uri = "mqtt://127.0.0.1:1", client_id = "n-${N}", max_queued = 2,
				drop = "new" }
			d:connect()
			d:publish("q/t", "a", 1); d:publish("q/t", "b", 1)
			print("new", d:publish("q/t", "c", 1))
			os.exit(0)
		]], { N = H.uniq("x") })
		local r = H.lia_run({ "run", "--safe-mode-after", "0", "--data-dir", dir, script })
		assert.matches("first\tnil\tdropped: queue full", r.out, nil, true)
		assert.matches("stats\t10\t11\ttrue", r.out, nil, true)
		assert.matches("bytes\t%d+\ttrue\t%d+", r.out)
		assert.matches("new\tnil\toffline queue full", r.out, nil, true)
		-- the first drop is logged (then every 1000th)
		assert.matches("offline queue full (10 messages", r.err, nil, true)
	end)

	it("max_age drops what waited too long; drain_rate paces the backlog", function()
		local broker = H.broker()
		local script = H.script([[
			local mqtt = require "lia.mqtt"
			local c = mqtt.client{ uri = "${URI}", client_id = "${ID}", max_age = 0.2, persist = false }
			local old = c:publish("age/t", "old", 1)
			lia.sleep(400)
			c:connect()
			print("old", old:wait(5000))
			print("expired", c:stats().expired)
			local d = mqtt.client{ uri = "${URI}", client_id = "${ID}-d", drain_rate = 100,
				persist = false }
			local toks = {}
			for i = 1, 50 do toks[i] = d:publish("age/t", tostring(i), 1) end
			local t0 = lia.now()
			d:connect()
			for i = 1, 50 do assert(toks[i]:wait(10000)) end
			print("drained", lia.now() - t0)
			os.exit(0)
		]], { URI = broker:uri(), ID = H.uniq("age") })
		local sub = broker:sub("-q 1 -t 'age/#'")
		local r = H.lia_run({ "run", script }, { timeout = 30 })
		local took = tonumber(r.out:match("drained\t(%d+)") or "0") / 1000
		assert.matches("old\tnil\texpired: older than max_age", r.out, nil, true)
		assert.matches("expired\t1", r.out, nil, true)
		-- 50 messages at 100/s take at least 0.49 s: a lower bound only, which
		-- a busy machine cannot break
		assert.is_true(took >= 0.49, "drained in " .. took .. " s")
		assert(H.wait(function() return #H.lines(sub:stdout()) >= 50 end, 10), sub:output())
		assert.falsy(sub:stdout():find("old", 1, true))
	end)
end)

describe("store", function()
	teardown(H.cleanup)
	after_each(H.reap)

	local session_script = [[
		local mqtt = require "lia.mqtt"
		local c = mqtt.client{ uri = "${URI}", client_id = "${ID}", clean = false, persist = ${P} }
		c:on("connect", function(_, a) print("session_present", a.session_present) end)
		c:subscribe("s/#", 2)
		c:connect()
	]]

	it("persist = false, clean = false: a broker session lia has no state for is not resumed", function()
		local broker = H.broker()
		local id = H.uniq("np")
		local script = H.script(session_script, { URI = broker:uri(), ID = id, P = "false" })
		local p = H.lia_spawn({ "run", script })
		assert(p:wait_for("session_present\tfalse", 10), H.dump(p, broker))
		p:kill("KILL"); p:wait()
		-- the broker keeps that session; a new process has no state for it
		p = H.lia_spawn({ "run", script })
		assert(p:wait_for("reconnecting with a clean start", 10, "stderr"), H.dump(p, broker))
		assert(p:wait_for("session_present\tfalse", 10), H.dump(p, broker))
		assert.falsy(p:stdout():find("session_present\ttrue", 1, true))
		-- and within one process, a reconnect resumes the session it now holds
		broker:restart()
		assert(p:wait_for("session_present\tfalse\nsession_present\tfalse", 10), H.dump(p, broker))
	end)

	-- Discarding a stale broker session replaces the connection twice before
	-- "connect"; with reconnect = false lia.mqtt took the first of those
	-- disconnects for the end of the client and let go of it: no token of
	-- the publishes made after "connect" ever completed.
	for _, persist in ipairs({ "false", "true" }) do
		it("reconnect = false, clean = false, persist = " .. persist ..
				": publishes after a stale session was discarded complete", function()
			local broker = H.broker()
			local id = H.uniq("rf")
			local dir = H.tmp(H.uniq("data"))
			local stale = H.script(session_script, { URI = broker:uri(), ID = id, P = "false" })
			local p = H.lia_spawn({ "run", stale })
			assert(p:wait_for("session_present\tfalse", 10), H.dump(p, broker))
			p:kill("KILL"); p:wait()
			local script = H.script([[
				local mqtt = require "lia.mqtt"
				local c = mqtt.client { uri = "${URI}", client_id = "${ID}", clean = false,
					persist = ${P}, reconnect = false }
				c:on("connect", function(c)
					local toks = {}
					for i = 1, 50 do toks[i] = assert(c:publish("rf/t", "m" .. i, { qos = 1 })) end
					local done = 0
					for i = 1, 50 do if toks[i]:wait(20000) then done = done + 1 end end
					print("COMPLETED", done)
					lia.stop(0)
				end)
				c:connect()
			]], { URI = broker:uri(), ID = id, P = persist })
			p = H.lia_spawn({ "run", "--data-dir", dir, script })
			assert(p:wait_for("COMPLETED", 60), H.dump(p, broker))
			assert(p:stderr():find("no state for", 1, true), H.dump(p, broker))
			assert.truthy(p:stdout():find("COMPLETED\t50", 1, true), H.dump(p, broker))
		end)
	end

	it("with a store, the next process resumes the session (session present)", function()
		local broker = H.broker()
		local dir = H.tmp(H.uniq("data"))
		local script = H.script(session_script, { URI = broker:uri(), ID = H.uniq("wp"), P = "true" })
		local p = H.lia_spawn({ "run", "--safe-mode-after", "0", "--data-dir", dir, script })
		assert(p:wait_for("session_present\tfalse", 10), H.dump(p, broker))
		p:kill("KILL"); p:wait()
		p = H.lia_spawn({ "run", "--safe-mode-after", "0", "--data-dir", dir, script })
		assert(p:wait_for("session_present\ttrue", 10), H.dump(p, broker))
	end)

	it("lia.state values survive kill -9", function()
		local dir = H.tmp(H.uniq("data"))
		local script = H.script([[
			local state = require "lia.state"
			local n = state.get("n", 0)
			print("START", n, state.get("t", {}).n, state.get("s"))
			require("lia.timer").every(2, function()
				n = n + 1
				state.set("n", n)
				state.set("t", { n = n, list = { 1, 2, 3 } })
				state.set("s", "v" .. n)
				if n % 5 == 0 then assert(state.flush()); print("FLUSHED", n) end
			end)
		]])
		local last = 0
		for _ = 1, 10 do
			local p = H.lia_spawn({ "run", "--safe-mode-after", "0", "--data-dir", dir, script })
			assert(p:wait_for("START", 10), H.dump(p))
			local start = tonumber(p:stdout():match("START\t(%d+)"))
			-- every value flushed before the kill is there after it
			assert.is_true(start >= last, "started at " .. start .. " after flushing " .. last)
			local t, s = p:stdout():match("START\t%d+\t(%S+)\t(%S+)")
			if start > 0 then
				assert.are.equal(tostring(start), t)
				assert.are.equal("v" .. start, s)
			end
			H.sleep(math.random() * 0.2)    -- a random moment: the point of the test
			p:kill("KILL"); p:wait()
			for f in p:stdout():gmatch("FLUSHED\t(%d+)") do last = math.max(last, tonumber(f)) end
		end
		assert.is_true(last > 0)
	end)

	it("lia.state keeps each type, delete and keys(prefix); config data_dir places the store; tok.stored", function()
		local dir = H.tmp(H.uniq("cfgdata"))
		local conf = H.tmp(H.uniq("lia")) .. ".conf"
		H.write(conf, "data_dir = " .. dir .. "\n")
		local script = H.script([[
			local state = require "lia.state"
			if os.getenv("FIRST") then
				assert(state.set("a.s", "text")); assert(state.set("a.i", 42))
				assert(state.set("a.f", 0.25)); assert(state.set("a.b", false))
				assert(state.set("b.t", { x = { 1, 2 }, y = "z" })); assert(state.set("a.gone", 1))
				assert(state.delete("a.gone"))
				local c = require("lia.mqtt").client{ uri = "mqtt://127.0.0.1:1", client_id = "${ID}" }
				c:connect()     -- port 1: stays queued, and stored
				local tok = c:publish("t", "x", 1)
				print("before", tok.stored)
				print("stored", tok:wait("stored"), tok.stored)
				os.exit(0)
			end
			local t = state.get("b.t")
			print("got", state.get("a.s"), math.type(state.get("a.i")), state.get("a.i"), state.get("a.f"),
				state.get("a.b"), t.x[2], t.y, state.get("a.gone", "none"))
			print("keys", table.concat(state.keys("a."), ","), #state.keys())
			os.exit(0)
		]], { ID = H.uniq("st") })
		local r = H.lia_run({ "run", "--safe-mode-after", "0", "--config", conf, script }, { env = { FIRST = 1 } })
		assert.matches("before\tfalse\nstored\ttrue\ttrue", r.out, nil, true)
		-- the configuration's data_dir wins over $STATE_DIRECTORY (set by tests/run.sh)
		local f = io.open(dir .. "/lia.db")
		assert(f, "no lia.db in the configured data_dir: " .. r.err); f:close()
		r = H.lia_run({ "run", "--safe-mode-after", "0", "--config", conf, script })
		assert.matches("got\ttext\tinteger\t42\t0.25\tfalse\t2\tz\tnone", r.out, nil, true)
		assert.matches("keys\ta.b,a.f,a.i,a.s\t5", r.out, nil, true)
	end)

	it("group commit: a stream of QoS 1 publishes and state.set calls costs far fewer fsyncs than messages", function()
		local broker = H.broker()
		local dir = H.tmp(H.uniq("data"))
		local n = 2000
		local script = H.script([[
			local state = require "lia.state"
			local c = require("lia.mqtt").client{ uri = "${URI}", client_id = "${ID}",
				max_inflight = 100, max_queued = 100000 }
			c:connect()
			local toks = {}
			for i = 1, ${N} do toks[i] = c:publish("gc/t", tostring(i), 1); state.set("n", i) end
			for i = 1, ${N} do assert(toks[i]:wait(60000)) end
			print("DONE", toks[${N}].stored, state.get("n"))
			os.exit(0)
		]], { URI = broker:uri(), ID = H.uniq("gc"), N = n })
		local trace = H.tmp(H.uniq("strace"))
		local r = H.run(string.format("strace -f -c -e trace=fsync,fdatasync -o %s %s run --safe-mode-after 0 "
			.. "--data-dir %s %s", H.q(trace), H.q(H.lia), H.q(dir), H.q(script)), { timeout = 120 })
		assert.matches("DONE\ttrue\t" .. n, r.out, nil, true)
		local syncs = 0
		for line in (H.read(trace) or ""):gmatch("[^\n]+") do
			local calls = line:match("^%s*[%d.]+%s+[%d.]+%s+%d+%s+(%d+).*%sf%a*sync$")
			if calls then syncs = syncs + tonumber(calls) end
		end
		print(string.format("# measured: group commit: %d fsyncs for %d QoS 1 publishes and %d state.set (%.3f per message)",
			syncs, n, n, syncs / n))
		-- one commit per message would be at least n (add) + n (remove);
		-- the bench measures about 0.02 per message at this window
		assert.is_true(syncs > 0, H.read(trace))
		assert.is_true(syncs < n / 4, syncs .. " fsyncs for " .. n .. " messages")
	end)

	local function recovers(prepare, expect)
		local dir = H.tmp(H.uniq("data"))
		os.execute("mkdir -p " .. H.q(dir))
		prepare(dir .. "/lia.db")
		local script = H.script([[
			local state = require "lia.state"
			print("got", state.get("k", "none"), state.set("k", "v"))
			state.flush()   -- os.exit does not wait for the end of the loop turn
			os.exit(0)
		]])
		local r = H.lia_run({ "run", "--safe-mode-after", "0", "--data-dir", dir, script })
		assert.matches("got\tnone\ttrue", r.out, nil, true)
		local lines = 0
		for l in r.err:gmatch("[^\n]+") do
			if l:find("unusable", 1, true) then lines = lines + 1 end
		end
		assert.are.equal(1, lines, r.err)
		assert.matches(expect, r.err)
		local ls = io.popen("ls " .. H.q(dir)):read("a")
		assert.matches("lia%.db%.bad%-", ls)
		-- the next start uses the fresh store quietly
		r = H.lia_run({ "run", "--safe-mode-after", "0", "--data-dir", dir, H.script([[
			print("again", require("lia.state").get("k")) os.exit(0) ]]) })
		assert.matches("again\tv", r.out, nil, true)
		assert.falsy(r.err:find("unusable", 1, true))
	end

	it("a garbage store is moved aside with one log line", function()
		recovers(function(db) H.write(db, string.rep("not a database\n", 500)) end, "not a database")
	end)

	it("a truncated store is moved aside", function()
		recovers(function(db)
			assert(os.execute("sqlite3 " .. H.q(db) .. " 'create table t(x); "
				.. "insert into t select randomblob(3000) from generate_series(1, 50);' 2>/dev/null || "
				.. "sqlite3 " .. H.q(db) .. " \"create table t(x); with recursive r(i) as (select 1 union all "
				.. "select i + 1 from r where i < 50) insert into t select randomblob(3000) from r;\""))
			os.execute("truncate -s 20000 " .. H.q(db))
		end, "unusable")
	end)

	it("a store from a newer lia is moved aside", function()
		recovers(function(db)
			assert(os.execute("sqlite3 " .. H.q(db) .. " 'pragma user_version = 99; create table x(y);'"))
		end, "schema version 99 is newer")
	end)

	-- Another process holds an exclusive lock on lia.db (as a lia that is
	-- exiting does for its checkpoint): a locked store is not a bad one.
	-- The holder takes the lock, says LOCKED, and lets go once the file
	-- named by its second argument says ASK (lia is about to open the
	-- store) and HOLD seconds more have passed, or never with HOLD < 0.
	local HOLDER = [[
import sqlite3, sys, time, os
db, trigger, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
h = sqlite3.connect(db, isolation_level=None)
h.execute("create table if not exists state(key text primary key, kind text not null, value text not null) without rowid")
h.execute("insert or replace into state values('k', 's', 'kept')")
h.execute("pragma user_version = 1")
h.execute("begin exclusive")
print("LOCKED", flush=True)
while hold < 0 or b"ASK" not in open(trigger, "rb").read():
    time.sleep(0.02)
time.sleep(hold)
h.execute("commit")
print("RELEASED", flush=True)
h.close()
]]
	local function locked(hold)
		local dir = H.tmp(H.uniq("data"))
		os.execute("mkdir -p " .. H.q(dir))
		local holder_py = H.tmp(H.uniq("holder") .. ".py")
		H.write(holder_py, HOLDER)
		local script = H.script([[
			local f = assert(io.open(os.getenv("TRIGGER"), "w"))
			f:write("ASK") f:close()
			local state = require "lia.state"
			print("got", state.get("k", "none"))
			os.exit(0)
		]])
		local trigger = H.write(H.tmp(H.uniq("trigger")), "")
		local holder = H.spawn(string.format("python3 %s %s %s %s", H.q(holder_py),
			H.q(dir .. "/lia.db"), H.q(trigger), tostring(hold)))
		assert.truthy(holder:wait_for("LOCKED", 10), holder:output())
		local r = H.lia_run({ "run", "--safe-mode-after", "0", "--data-dir", dir, script },
			{ env = { TRIGGER = trigger }, timeout = 60 })
		if hold >= 0 then assert.truthy(holder:wait_for("RELEASED", 10), holder:output()) end
		holder:stop()
		return r, io.popen("ls " .. H.q(dir)):read("a")
	end

	it("a store another process holds for a moment is waited for, not moved aside", function()
		local r, ls = locked(1)
		assert.matches("got\tkept", r.out, nil, true)
		assert.falsy(r.err:find("unusable", 1, true), r.err)
		assert.falsy(ls:find("bad", 1, true), ls)
	end)

	it("a store locked for longer: one error line, the file left alone, lia runs from memory", function()
		local r, ls = locked(-1)
		assert.matches("got\tnone", r.out, nil, true)
		assert.are.equal(1, H.count(r.err, "database is locked"), r.err)
		assert.matches("database is locked for over 5 s: another process holds it", r.err, nil, true)
		assert.matches("nothing is kept across restarts", r.err, nil, true)
		assert.falsy(r.err:find("unusable", 1, true), r.err)
		assert.falsy(ls:find("bad", 1, true), ls)
	end)
end)

describe("full disk", function()
	teardown(H.cleanup)
	after_each(H.reap)

	-- a real small tmpfs (the test runs as root); skipped where mount is refused
	it("turns stored into an error the script sees; lia goes on from memory", function()
		local dir = H.tmp(H.uniq("small"))
		os.execute("mkdir -p " .. H.q(dir))
		if not os.execute("mount -t tmpfs -o size=256k tmpfs " .. H.q(dir) .. " 2>/dev/null") then
			print("full disk: cannot mount a tmpfs here (not root?): skipped")
			return
		end
		finally(function() os.execute("umount -l " .. H.q(dir)) end)
		local broker = H.broker()
		local port = broker.port
		broker:stop()
		local script = H.script([[
			local mqtt = require "lia.mqtt"
			local c = mqtt.client{ uri = "${URI}", client_id = "${ID}", max_queued = 10000,
				reconnect = { min = 0.05, max = 0.2 } }
			c:connect()
			local payload = string.rep("x", 2000)
			local toks, failed = {}, nil
			for batch = 1, 100 do
				local tok
				for i = 1, 10 do
					tok = assert(c:publish("full/t", tostring(#toks + 1), 1))
					toks[#toks + 1] = tok
				end
				local ok, why = tok:wait("stored")
				if not ok then failed = why break end
			end
			print("FULL", #toks, failed)
			-- still accepted, in memory
			for i = 1, 10 do toks[#toks + 1] = assert(c:publish("full/t", tostring(#toks + 1), 1)) end
			print("LATER", toks[#toks]:wait("stored"))
			for _, t in ipairs(toks) do assert(t:wait(20000)) end
			print("ALL", #toks)
		]], { URI = "mqtt://127.0.0.1:" .. port, ID = H.uniq("full") })
		local p = H.lia_spawn({ "run", "--safe-mode-after", "0", "--data-dir", dir, script })
		assert(p:wait_for("FULL", 20), H.dump(p))
		local n = tonumber(p:stdout():match("FULL\t(%d+)"))
		assert.matches("FULL\t%d+\tnot stored: database or disk is full", p:stdout())
		-- a loop turn later: the next commit fails too (waited for, not assumed)
		assert(p:wait_for("LATER", 20), H.dump(p))
		assert.matches("LATER\tnil\tnot stored: database or disk is full", p:stdout(), nil, true)
		assert.matches("commit failed", p:stderr(), nil, true)
		broker:start()
		assert(p:wait_for("ALL\t" .. (n + 10), 30), H.dump(p, broker))
		assert(p:alive())
	end)
end)

describe("docs_state.lua", function()
	teardown(H.cleanup)
	it("counts boots in lia.state and publishes a stored reading", function()
		local broker = H.broker()
		local dir = H.tmp(H.uniq("data"))
		local ex = H.root .. "/scripts/examples/docs_state.lua"
		for boot = 1, 2 do
			local r = H.lia_run({ "run", "--safe-mode-after", "0", "--data-dir", dir, ex }, { env = { BROKER = broker:uri() } })
			assert.matches("boot\t" .. boot .. "\nstored\ttrue\nacked\ttrue\nqueued\t0\tdropped\t0\tpersistent\ttrue",
				r.out, nil, true)
		end
	end)
end)
