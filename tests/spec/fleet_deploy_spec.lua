-- A fleet of ten lia agents on one mosquitto (docs/fleet.md): signed
-- bundles committed by all ten, an unknown key refused by all, a canary
-- that rolls back stops the rollout, a device offline during the push
-- commits the retained deploy when it comes back, lia fleet shows the ten.
-- Every wait is on a message (results, statuses), never a sleep.
local H = require "tests.spec.helper"
local cjson = require "cjson"

local N = 10

-- the JSON documents sub printed (-v: "topic payload" lines) by topic
local function docs(sub)
	local t = {}
	for l in sub:stdout():gmatch("[^\n]+") do
		local topic, payload = l:match("^(%S+) (.*)$")
		local ok, d = pcall(cjson.decode, payload or "")
		if ok and type(d) == "table" then
			t[#t + 1] = { topic = topic, doc = d }
		end
	end
	return t
end

-- the results of bundle id, by device
local function results(sub, bundle)
	local r = {}
	for _, m in ipairs(docs(sub)) do
		if m.topic:match("/deploy/result$") and m.doc.bundle == bundle then r[m.doc.id] = m.doc end
	end
	return r
end

local function count(t)
	local n = 0
	for _ in pairs(t) do n = n + 1 end
	return n
end

-- the last status of each device
local function statuses(sub)
	local s = {}
	for _, m in ipairs(docs(sub)) do
		if m.topic:match("/status$") then s[m.doc.id] = m.doc end
	end
	return s
end

describe("a fleet of ten agents", function()
	local broker, group, trusted, ids, agents, sub, keydir
	local base_script

	local function start(i)
		local id = ids[i]
		agents[i] = H.lia_spawn { "run", "-h", H.host, "-p", tostring(broker.port), "-i", id,
			"--fleet", "--fleet-group", group, "--trusted-dir", trusted,
			"--health-window", "1", "--health-errors", "1", "--no-watch",
			"--data-dir", H.tmp(id .. ".data"), base_script }
	end

	local function sign(name, key, version, main_text)
		local f = H.write(H.tmp(name .. "-main.lua"), main_text)
		local out = H.tmp(name .. ".json")
		local r = H.lia_run { "bundle", "sign", "--key", key, "--id", name, "--version", version,
			"--main", name .. "-main.lua", "-o", out, f }
		assert.equal(0, r.status, r.out .. r.err)
		return out
	end

	local function push(args)
		local cmd = { "bundle", "push", "-h", H.host, "-p", tostring(broker.port), "--timeout", "60" }
		for _, a in ipairs(args) do cmd[#cmd + 1] = a end
		return H.lia_run(cmd, { timeout = 90 })
	end

	local function all_good(n)
		return H.wait(function()
			local s, k = statuses(sub), 0
			for _, id in ipairs(ids) do if s[id] and s[id].online and s[id].good then k = k + 1 end end
			return k >= (n or N)
		end, 60)
	end

	setup(function()
		broker = H.broker()
		group = H.uniq("g"):gsub("-", "")
		keydir = H.tmp("keys")
		trusted = H.tmp("trusted.d")
		os.execute("mkdir -p " .. H.q(keydir) .. " " .. H.q(trusted))
		assert.equal(0, H.lia_run({ "keygen", keydir .. "/ops" }).status)
		assert.equal(0, H.lia_run({ "keygen", keydir .. "/stranger" }).status)
		os.execute("cp " .. H.q(keydir .. "/ops.pub") .. " " .. H.q(trusted .. "/"))
		-- its own folder: the good copy holds the .lua files of the script's folder
		os.execute("mkdir -p " .. H.q(H.tmp("base")))
		base_script = H.script("print('base')\n", nil, "base/fleet-base.lua")
		sub = broker:sub("-v -t 'lia/+/status' -t 'lia/+/deploy/result'")
		ids, agents = {}, {}
		for i = 1, N do
			ids[i] = string.format("%s-dev%02d", group, i)
			start(i)
		end
		-- a good copy to roll back to: every device lived one health window
		assert(all_good(), "not all ten reported a good copy: " .. sub:stdout())
	end)
	teardown(H.cleanup)

	it("lia fleet shows the ten", function()
		local r = H.lia_run { "fleet", "-h", H.host, "-p", tostring(broker.port), "--once" }
		assert.equal(0, r.status, r.err)
		for _, id in ipairs(ids) do
			local line = r.out:match("(" .. id:gsub("%-", "%%-") .. "[^\n]*)")
			assert.truthy(line, r.out)
			assert.truthy(line:find(" online ", 1, true), line)
		end
		-- piped: plain lines, no terminal control codes
		assert.falsy(r.out:find("\27", 1, true), r.out)
		-- on a terminal (script(1) gives it one): a table with a header, redrawn in place
		r = H.run(string.format("script -qec %s /dev/null", H.q(string.format(
			"%s fleet -h %s -p %d --timeout 2", H.q(H.lia), H.host, broker.port))), { timeout = 20 })
		assert.equal(0, r.status, r.out .. r.err)
		assert.truthy(r.out:find("\27[H\27[2J", 1, true), r.out)
		assert.truthy(r.out:find("ID%s+ONLINE%s+VERSION%s+LIA%s+UPTIME%s+ERRORS%s+LAST SEEN"), r.out)
		for _, id in ipairs(ids) do assert.truthy(r.out:find(id, 1, true), r.out) end
	end)

	it("refuses a bundle signed by an unknown key, on all ten", function()
		local b = sign("stranger1", keydir .. "/stranger.key", "1", "print('evil')\n")
		local r = push { "--group", group, b }
		assert.equal(1, r.status, r.out .. r.err)
		-- push heard every result through the broker; the subscriber has
		-- printed them all once a marker published after them is back
		assert(broker:barrier(sub, "lia/barrier/deploy/result"))
		local got = results(sub, "stranger1")
		assert.equal(N, count(got), sub:stdout())
		for _, id in ipairs(ids) do
			assert.equal("refused", got[id].result)
			assert.truthy(got[id].reason:find("does not verify with any key in " .. trusted, 1, true),
				got[id].reason)
		end
		broker:pub("-r -n -t " .. H.q("lia/group/" .. group .. "/deploy"))
	end)

	it("rolls a failing bundle back on the canary and never sends it to the other nine", function()
		local b = sign("broken1", keydir .. "/ops.key", "1", [[
local timer = require "lia.timer"
timer.after(50, function() error("broken bundle") end)
]])
		-- every deploy topic the nine could get it on: their own, the group's, all
		local deploys = broker:sub("-v -t 'lia/+/deploy' -t 'lia/group/+/deploy'")
		assert(broker:barrier(deploys, "lia/barrier/deploy"))
		local r = push { "--group", group, "--canary", "1", "--then-all", b }
		assert.equal(1, r.status, r.out .. r.err)
		local canary = ids[1]
		-- what push published precedes the marker: the bundle went to the canary's topic only
		assert(broker:barrier(deploys, "lia/barrier/deploy"))
		local carried = {}
		for l in deploys:stdout():gmatch("[^\n]+") do
			local t, payload = l:match("^(%S+) (.*)$")
			if t and payload and payload:find('"broken1"', 1, true) then carried[#carried + 1] = t end
		end
		assert.same({ "lia/" .. canary .. "/deploy" }, carried)
		assert.truthy(r.out:find("stopped: the canary " .. canary .. " rolled_back", 1, true), r.out)
		assert.truthy(r.out:find("broken bundle", 1, true), r.out)
		-- the results before a fresh marker are all there is
		assert(broker:barrier(sub, "lia/barrier/deploy/result"))
		local got = results(sub, "broken1")
		assert.equal(1, count(got), sub:stdout())
		assert.equal("rolled_back", got[canary].result)
		-- the canary runs its good copy again and says so
		assert(H.wait(function()
			local s = statuses(sub)[canary]
			return s and s.state == "rolled_back" and s.errors_total >= 1
		end, 20), sub:stdout())
	end)

	it("commits a signed bundle on all ten, the one offline during the push when it comes back", function()
		local off = N
		assert.equal(0, agents[off]:stop())
		assert(H.wait(function()
			local s = statuses(sub)[ids[off]]
			return s and s.online == false
		end, 20))
		local b = sign("app2", keydir .. "/ops.key", "2", "print('app v2')\n")
		local r = push { "--group", group, "--canary", "1", "--then-all", b }
		assert.equal(0, r.status, r.out .. r.err)
		assert.truthy(r.out:find(ids[off] .. ": offline", 1, true), r.out)
		assert(broker:barrier(sub, "lia/barrier/deploy/result"))
		assert.equal(N - 1, count(results(sub, "app2")), sub:stdout())
		start(off)
		assert(H.wait(function() return results(sub, "app2")[ids[off]] end, 60), sub:stdout())
		local got = results(sub, "app2")
		for _, id in ipairs(ids) do assert.equal("committed", got[id].result, id) end
		-- every status names the bundle; the new scripts ran
		assert(H.wait(function()
			local s, k = statuses(sub), 0
			for _, id in ipairs(ids) do
				if s[id] and s[id].bundle and s[id].bundle.version == "2" then k = k + 1 end
			end
			return k == N
		end, 30), sub:stdout())
		for i = 1, N do assert.truthy(agents[i]:wait_for("app v2", 10), agents[i]:output()) end
	end)
end)
