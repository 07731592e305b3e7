-- The fleet agent (docs/fleet.md): the retained status topic (online,
-- offline through the will and at a clean stop, errors, state changes),
-- and the command topic with v5 request/response and reply_to.
local H = require "tests.spec.helper"
local cjson = require "cjson"

-- the last JSON document sub printed for topic (mosquitto_sub -v lines)
local function last_doc(sub, topic)
	local doc
	for l in sub:stdout():gmatch("[^\n]+") do
		local t, payload = l:match("^(%S+) (.*)$")
		if t == topic then
			local ok, d = pcall(cjson.decode, payload)
			if ok then doc = d end
		end
	end
	return doc
end

-- wait until a status document for topic satisfies pred; returns it
local function wait_doc(sub, topic, pred, timeout)
	return H.wait(function()
		local d = last_doc(sub, topic)
		return d and pred(d) and d
	end, timeout or 10)
end

describe("fleet status and commands", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	local function agent(id, script, extra)
		local args = { "run", "-h", H.host, "-p", tostring(broker.port), "-i", id, "--fleet",
			"--data-dir", H.tmp(id .. ".data") }
		for _, a in ipairs(extra or {}) do args[#args + 1] = a end
		args[#args + 1] = script
		return H.lia_spawn(args)
	end

	it("publishes a retained online status with errors counted per script, offline at a clean stop", function()
		local id = H.uniq("dev")
		local script = H.script([[
local timer = require "lia.timer"
timer.after(50, function() error("boom") end)
]], nil, id .. ".lua")
		local sub = broker:sub("-v -t " .. H.q("lia/" .. id .. "/status"))
		local p = agent(id, script, { "--status-interval", "1" })
		local topic = "lia/" .. id .. "/status"
		local d = wait_doc(sub, topic, function(x) return x.errors_total == 1 end)
		assert.truthy(d, p:output() .. sub:stdout())
		assert.is_true(d.online)
		assert.equal(id, d.id)
		assert.truthy(d.version:match("^%d+%.%d+%.%d+"))
		assert.equal("running", d.state)
		assert.equal(1, d.errors[script], cjson.encode(d))
		assert.equal(script .. ":2: boom", d.last_error)
		assert.is_number(d.uptime)
		assert.truthy(d.lua_memory > 1000)
		assert.equal(0, d.queue)
		assert.equal(0, d.reconnects)
		-- a late subscriber gets the retained one
		local r = H.run(string.format("mosquitto_sub -h %s -p %d -C 1 -W 5 -t %s", H.host,
			broker.port, H.q(topic)))
		assert.is_true(cjson.decode(r.out).online, r.out .. r.err)
		-- the interval (1 s) publishes again: uptime grows
		assert.truthy(wait_doc(sub, topic, function(x) return x.online and x.uptime >= 1 end))
		assert.equal(0, p:stop())
		assert.truthy(wait_doc(sub, topic, function(x) return x.online == false end))
		r = H.run(string.format("mosquitto_sub -h %s -p %d -C 1 -W 5 -t %s", H.host,
			broker.port, H.q(topic)))
		assert.is_false(cjson.decode(r.out).online, r.out .. r.err)
	end)

	it("says offline through the will when the agent dies, and publishes a reload", function()
		local id = H.uniq("dev")
		local script = H.script("print('v1')\n", nil, id .. ".lua")
		local topic = "lia/" .. id .. "/status"
		local sub = broker:sub("-v -t " .. H.q(topic))
		local p = agent(id, script)
		assert.truthy(wait_doc(sub, topic, function(x) return x.online end), p:output())
		H.write(script, "print('v2')\n")
		p:kill("HUP")
		local d = wait_doc(sub, topic, function(x) return x.state == "reloaded" end)
		assert.truthy(d, p:output() .. sub:stdout())
		assert.equal(script, d.detail)
		p:kill("KILL")
		assert.truthy(wait_doc(sub, topic, function(x) return x.online == false end, 60),
			sub:stdout())
	end)

	it("says safe_mode in the status after a start-up that crashed (--safe-mode-after 1)", function()
		local id = H.uniq("dev")
		local script = H.script("os.exit(9, false)\n", nil, id .. ".lua")
		local data = H.tmp(id .. ".data")
		local r = H.lia_run { "run", "--no-watch", "--safe-mode-after", "1", "--data-dir", data, script }
		assert.equal(9, r.status, r.out .. r.err)
		local topic = "lia/" .. id .. "/status"
		local sub = broker:sub("-v -t " .. H.q(topic))
		local p = H.lia_spawn { "run", "--no-watch", "--safe-mode-after", "1", "-h", H.host,
			"-p", tostring(broker.port), "-i", id, "--fleet", "--data-dir", data, script }
		local d = wait_doc(sub, topic, function(x) return x.online end)
		assert.truthy(d, p:output() .. sub:stdout())
		assert.equal("safe_mode", d.state, cjson.encode(d))
		assert.truthy(d.detail:find("safe mode", 1, true), d.detail)
		assert.equal(0, p:stop())
	end)

	it("answers status on lia/<id>/cmd by v5 response topic and by reply_to", function()
		local id = H.uniq("dev")
		local script = H.script("print('up')\n", nil, id .. ".lua")
		local p = agent(id, script, { "--fleet-prefix", "site1/lia" })
		assert(broker:subscribed(id .. "-fleet"), p:output())
		-- v5: mosquitto_rr sends the response topic and correlation data
		local r = H.run(string.format("mosquitto_rr -h %s -p %d -t %s -e %s -m status -W 10",
			H.host, broker.port, H.q("site1/lia/" .. id .. "/cmd"), H.q("resp/" .. id)))
		assert.equal(0, r.status, r.out .. r.err)
		local a = cjson.decode(r.out)
		assert.is_true(a.ok)
		assert.equal("status", a.cmd)
		assert.is_true(a.status.online)
		-- 3.1.1: reply_to in the payload
		local sub = broker:sub("-t " .. H.q("answers/" .. id))
		broker:pub(string.format("-V 311 -t %s -m %s", H.q("site1/lia/" .. id .. "/cmd"),
			H.q(cjson.encode { cmd = "nope", reply_to = "answers/" .. id, from = "ops-1" })))
		assert.truthy(sub:wait_for("\n", 10), sub:output())
		a = cjson.decode(sub:stdout())
		assert.is_false(a.ok)
		assert.truthy(a.error:find("unknown command", 1, true))
		-- every command and its caller is logged
		assert.truthy(p:wait_for("fleet: command 'nope' from ops-1", 5, "stderr"), p:output())
		assert.truthy(p:stderr():find("fleet: command 'status' from", 1, true), p:output())
	end)

	it("sends warnings and errors to lia/<id>/log, rate-limited, and answers log-tail and state-get", function()
		local id = H.uniq("dev")
		local script = H.script([[
local timer = require "lia.timer"
function on_connect(c) c:subscribe("go/" .. c.client_id, 1) end
function on_message(c, msg)
	if msg.payload == "one" then error("first failure") end
	-- a burst of 200 that the rate limit must thin out
	for i = 1, 200 do timer.after(0, function() error("burst " .. i) end) end
end
]], nil, id .. ".lua")
		local topic = "lia/" .. id .. "/log"
		local sub = broker:sub("-t " .. H.q(topic))
		local p = agent(id, script, { "--quarantine", "0", "--health-errors", "1000" })
		-- the errors come once both connections are up (lines logged before
		-- the fleet connection stay in the local log only)
		assert(broker:subscribed(id), p:output())
		assert(broker:subscribed(id .. "-fleet"), p:output())
		broker:pub("-t " .. H.q("go/" .. id) .. " -m one")
		assert.truthy(sub:wait_for("first failure", 10), p:output() .. sub:stdout())
		local first
		for l in sub:stdout():gmatch("[^\n]+") do
			local d = cjson.decode(l)
			if d.line:find("first failure", 1, true) then first = d end
		end
		assert.equal("error", first.level)
		assert.equal(id, first.id)
		assert.equal(script .. ":4: first failure", first.line)
		-- info lines (the connect line) stay home at the default level (warn)
		assert.falsy(sub:stdout():find("connected", 1, true))
		-- the burst: all 200 reach the local log, far fewer the broker
		local t0 = H.now()
		broker:pub("-t " .. H.q("go/" .. id) .. " -m burst")
		assert(H.wait(function() return H.count(p:stderr(), "burst ") >= 200 end, 30), p:output())
		local marker = broker:barrier(sub, topic)
		assert(marker)
		local elapsed = H.now() - t0
		local sent = H.count(sub:stdout(), "burst ")
		-- at most the burst of 20 plus 5 a second, however slow the machine
		assert.truthy(sent >= 10 and sent <= 20 + 5 * (elapsed + 1), "burst lines sent: " .. sent ..
			" in " .. elapsed .. " s")
		assert.truthy(sent < 200)
		-- log-tail: the last lines of the agent's log, any level
		local r = H.run(string.format("mosquitto_rr -h %s -p %d -t %s -e %s -m %s -W 10",
			H.host, broker.port, H.q("lia/" .. id .. "/cmd"), H.q("resp/" .. id), H.q("log-tail 5")))
		assert.equal(0, r.status, r.out .. r.err)
		local a = cjson.decode(r.out)
		assert.is_true(a.ok)
		assert.equal(5, #a.lines)
		-- state-get: a key nobody set
		r = H.run(string.format("mosquitto_rr -h %s -p %d -t %s -e %s -m %s -W 10",
			H.host, broker.port, H.q("lia/" .. id .. "/cmd"), H.q("resp/" .. id),
			H.q(cjson.encode { cmd = "state-get", key = "nope" })))
		a = cjson.decode(r.out)
		assert.is_false(a.ok)
		assert.equal("no such key", a.error)
	end)

	it("runs reload, rollback and restart on lia/<id>/cmd, and state-get returns what lia.state keeps", function()
		local id = H.uniq("dev")
		local dir = H.tmp(id .. ".scripts")
		os.execute("mkdir -p " .. H.q(dir))
		local script = H.write(dir .. "/main.lua", [[
local state = require "lia.state"
state.set("colour", "blue")
state.flush()
print("v1")
]])
		local topic = "lia/" .. id .. "/status"
		local sub = broker:sub("-v -t " .. H.q(topic))
		local p = agent(id, script, { "--health-window", "1", "--no-watch" })
		assert(broker:subscribed(id .. "-fleet"), p:output())
		local function rr(payload)
			local r = H.run(string.format("mosquitto_rr -h %s -p %d -t %s -e %s -m %s -W 10",
				H.host, broker.port, H.q("lia/" .. id .. "/cmd"), H.q("resp/" .. id), H.q(payload)))
			assert.equal(0, r.status, r.out .. r.err)
			return cjson.decode(r.out)
		end
		-- v1 lived its health window: the good copy
		assert.truthy(wait_doc(sub, topic, function(x) return x.good end), p:output() .. sub:stdout())
		local a = rr(cjson.encode { cmd = "state-get", key = "colour", from = "ops-2" })
		assert.is_true(a.ok, cjson.encode(a))
		assert.equal("colour", a.key)
		assert.truthy(a.value:find("blue", 1, true), cjson.encode(a))
		-- reload: the edited script runs (no inotify: --no-watch), the status says reloaded
		H.write(script, "print('v2')\n")
		assert.is_true(rr("reload").ok)
		assert.truthy(p:wait_for("v2\n", 10), p:output())
		assert.truthy(wait_doc(sub, topic, function(x) return x.state == "reloaded" end), sub:stdout())
		-- rollback: back to the good copy (v1) at once
		assert.is_true(rr("rollback").ok)
		assert.truthy(wait_doc(sub, topic, function(x) return x.state == "rolled_back" end),
			p:output() .. sub:stdout())
		assert.truthy(H.wait(function() return H.count(p:stdout(), "v1\n") >= 2 end, 10), p:output())
		assert.truthy(p:stderr():find("fleet: command 'state-get' from ops-2", 1, true), p:output())
		-- restart: lia re-executes itself; the fleet connection comes up a
		-- second time (not under qemu-user: the re-executed binary is the
		-- emulated one, which the kernel cannot exec there)
		if os.getenv("LIA_EMULATED") then return end
		assert.is_true(rr("restart").ok)
		assert.truthy(H.wait(function()
			return H.count(p:stderr(), "fleet: command 'restart'") == 1 and
				H.count(p:stderr(), "-fleet, status on") >= 2
		end, 20), p:output())
		assert.truthy(wait_doc(sub, topic, function(x) return x.online and x.uptime < 5 and
			x.state ~= "rolled_back" end, 20), sub:stdout())
	end)

	it("refuses a tampered, unsigned or too large bundle and accepts the same one re-encoded", function()
		local id = H.uniq("dev")
		local keys = H.tmp(id .. ".keys")
		os.execute("mkdir -p " .. H.q(keys .. "/trusted"))
		assert.equal(0, H.lia_run({ "keygen", keys .. "/ops" }).status)
		os.execute("cp " .. H.q(keys .. "/ops.pub") .. " " .. H.q(keys .. "/trusted/"))
		local base = H.tmp(id .. ".base")
		os.execute("mkdir -p " .. H.q(base))
		local script = H.write(base .. "/main.lua", "print('base')\n")
		local p = agent(id, script, { "--trusted-dir", keys .. "/trusted", "--health-window", "1" })
		local results = broker:sub("-t " .. H.q("lia/" .. id .. "/deploy/result"))
		assert(broker:subscribed(id .. "-fleet"), p:output())
		local app = H.write(H.tmp(id .. "-app.lua"), "print('app')\n")
		local out = H.tmp(id .. ".json")
		local r = H.lia_run { "bundle", "sign", "--key", keys .. "/ops.key", "--id", "t1",
			"--version", "1", "-o", out, app }
		assert.equal(0, r.status, r.err)
		local b = cjson.decode(H.read(out))
		local topic = "lia/" .. id .. "/deploy"
		local n = 0
		local function send(doc)
			local f = H.write(H.tmp(H.uniq("b") .. ".json"), type(doc) == "string" and doc or cjson.encode(doc))
			broker:pub("-t " .. H.q(topic) .. " -f " .. H.q(f))
			n = n + 1
			assert(H.wait(function() return H.count(results:stdout(), "\n") >= n end, 10), results:stdout())
			local last
			for l in results:stdout():gmatch("[^\n]+") do last = l end
			return cjson.decode(last)
		end
		-- a changed file: the signature no longer verifies
		local tampered = cjson.decode(H.read(out))
		local name = next(tampered.files)
		tampered.files[name] = "cHJpbnQoJ2V2aWwnKQo="   -- print('evil')
		local res = send(tampered)
		assert.equal("refused", res.result)
		assert.truthy(res.reason:find("does not verify", 1, true), res.reason)
		-- no signature at all
		local unsigned = cjson.decode(H.read(out))
		unsigned.sig = nil
		res = send(unsigned)
		assert.equal("refused", res.result)
		assert.equal("the bundle has no signature", res.reason)
		-- more than 1 MiB
		local big = cjson.decode(H.read(out))
		big.padding = string.rep("x", 1024 * 1024)
		res = send(big)
		assert.equal("refused", res.result)
		assert.truthy(res.reason:find("more than the limit of 1048576 (1 MiB)", 1, true), res.reason)
		-- lia bundle push says so itself, before it connects
		local bigfile = H.write(H.tmp(id .. "-big.json"), cjson.encode(big))
		r = H.lia_run { "bundle", "push", "-h", H.host, "-p", tostring(broker.port), "--id", id, bigfile }
		assert.equal(1, r.status, r.out .. r.err)
		assert.truthy(r.err:find("more than the limit of 1048576 (1 MiB)", 1, true), r.err)
		assert.falsy(r.out:find("pushed", 1, true), r.out)
		-- nothing changed: no bundle stored, the first script still the one
		local data = H.tmp(id .. ".data")
		local function stored()
			local r = H.run("ls -A " .. H.q(data .. "/bundles") .. " 2>/dev/null")
			return r.out
		end
		assert.equal("", stored())
		assert.falsy(p:stdout():find("evil", 1, true), p:output())
		-- the same bundle re-encoded by another JSON writer (other key order), on lia/all/deploy
		local status = broker:sub("-v -t " .. H.q("lia/" .. id .. "/status"))
		topic = "lia/all/deploy"
		res = send(b)
		broker:pub("-r -n -t lia/all/deploy")
		assert.equal("committed", res.result, cjson.encode(res))
		assert.equal("t1", res.bundle)
		assert.truthy(p:wait_for("app\n", 5), p:output())
		-- stored whole under its id and hash (no .new- folder left), named by the status
		assert.equal("t1-" .. res.hash:sub(1, 16) .. "\n", stored())
		local d = wait_doc(status, "lia/" .. id .. "/status", function(x)
			return x.bundle and x.bundle.id == "t1" end)
		assert.truthy(d, status:stdout())
		assert.equal(res.hash, d.bundle.hash)
		assert.equal("1", d.bundle.version)
	end)

	it("is turned on by the configuration file too (fleet = true, fleet_prefix, fleet_group)", function()
		local id = H.uniq("dev")
		local conf = H.write(H.tmp(id .. ".conf"), table.concat({
			"host = " .. H.host, "port = " .. broker.port, "client_id = " .. id,
			"fleet = true", "fleet_prefix = cfg/lia", "fleet_group = a,b", "status_interval = 5",
			"fleet_log_level = error", "" }, "\n"))
		local script = H.script("print('up')\n", nil, id .. ".lua")
		local topic = "cfg/lia/" .. id .. "/status"
		local sub = broker:sub("-v -t " .. H.q(topic))
		local p = H.lia_spawn { "run", "--config", conf, "--data-dir", H.tmp(id .. ".data"), script }
		local d = wait_doc(sub, topic, function(x) return x.online end)
		assert.truthy(d, p:output() .. sub:stdout())
		assert.same({ "a", "b" }, d.groups)
		-- fleet_log_level = error: the command line (a warning) stays home
		local log = broker:sub("-t " .. H.q("cfg/lia/" .. id .. "/log"))
		assert(broker:subscribed(id .. "-fleet"), p:output())
		broker:pub("-t " .. H.q("cfg/lia/" .. id .. "/cmd") .. " -m status")
		assert.truthy(p:wait_for("fleet: command 'status'", 10, "stderr"), p:output())
		assert(broker:barrier(log, "cfg/lia/" .. id .. "/log"))
		assert.falsy(log:stdout():find("fleet: command", 1, true), log:stdout())
		local r = H.lia_run { "run", "--fleet-log-level", "loud", script }
		assert.equal(1, r.status)
		assert.truthy(r.err:find("--fleet-log-level: 'loud' is not error, warn, info or debug", 1, true), r.err)
	end)
end)

-- The mosquitto ACL of docs/fleet.md, taken from the page as it is: the
-- device works under it (status, commands and their answers, a deploy and
-- its result) and another device can neither command it nor deploy to it.
describe("fleet under the ACL of docs/fleet.md", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("lets the operator see, command and deploy, and refuses another device", function()
		local doc = H.read(H.root .. "/docs/fleet.md")
		local acl_text = doc:match("With `acl_file`.-\n\n```\n(.-)```")
		assert.truthy(acl_text and acl_text:find("pattern write lia/%u/status", 1, true), "no ACL in docs/fleet.md")
		local id, other = H.uniq("dev"), H.uniq("dev")
		local acl = H.write(H.tmp(id .. ".acl"), acl_text)
		local pw = H.tmp(id .. ".passwd")
		for i, u in ipairs { "ops", id, other } do
			local r = H.run(string.format("mosquitto_passwd -b %s %s %s %s", i == 1 and "-c" or "",
				H.q(pw), H.q(u), H.q(u .. "-pw")))
			assert.equal(0, r.status, r.out .. r.err)
		end
		local broker = H.broker("password_file " .. pw .. "\nacl_file " .. acl)
		local ops = string.format("-h %s -p %d -u ops -P ops-pw", H.host, broker.port)
		local keys = H.tmp(id .. ".keys")
		os.execute("mkdir -p " .. H.q(keys .. "/trusted"))
		assert.equal(0, H.lia_run({ "keygen", keys .. "/ops" }).status)
		os.execute("cp " .. H.q(keys .. "/ops.pub") .. " " .. H.q(keys .. "/trusted/"))
		local watch = H.spawn(string.format("mosquitto_sub %s -v -t 'lia/+/status' -t 'lia/+/deploy/result'", ops))
		local script = H.script("print('base')\n", nil, id .. ".lua")
		local p = H.lia_spawn { "run", "-h", H.host, "-p", tostring(broker.port), "-i", id,
			"-u", id, "-P", id .. "-pw", "--fleet", "--trusted-dir", keys .. "/trusted",
			"--health-window", "1", "--data-dir", H.tmp(id .. ".data"), script }
		-- its own status: written by the device, read by ops
		assert.truthy(watch:wait_for("lia/" .. id .. "/status {", 10), p:output() .. watch:output())
		assert(broker:subscribed(id .. "-fleet"), p:output())
		-- another device commands it: the broker drops it; then ops does, answer under reply/
		local r = H.run(string.format("mosquitto_pub -h %s -p %d -u %s -P %s -q 1 -t %s -m %s",
			H.host, broker.port, H.q(other), H.q(other .. "-pw"), H.q("lia/" .. id .. "/cmd"),
			H.q(cjson.encode { cmd = "status", from = "forged-by-other" })))
		assert.equal(0, r.status, r.out .. r.err)
		r = H.run(string.format("mosquitto_rr %s -t %s -e %s -m %s -W 10", ops,
			H.q("lia/" .. id .. "/cmd"), H.q("lia/" .. id .. "/reply/ops"),
			H.q(cjson.encode { cmd = "status", from = "ops-1" })))
		assert.equal(0, r.status, r.out .. r.err)
		assert.is_true(cjson.decode(r.out).ok, r.out)
		assert.truthy(p:wait_for("fleet: command 'status' from ops-1", 10, "stderr"), p:output())
		assert.falsy(p:stderr():find("forged-by-other", 1, true), p:output())
		-- a deploy from another device is dropped; ops's is committed and its result read
		local app = H.write(H.tmp(id .. "-app.lua"), "print('acl app')\n")
		local out = H.tmp(id .. ".json")
		assert.equal(0, H.lia_run({ "bundle", "sign", "--key", keys .. "/ops.key", "--id", "acl1",
			"--version", "1", "-o", out, app }).status)
		r = H.run(string.format("mosquitto_pub -h %s -p %d -u %s -P %s -q 1 -t %s -f %s",
			H.host, broker.port, H.q(other), H.q(other .. "-pw"), H.q("lia/" .. id .. "/deploy"), H.q(out)))
		assert.equal(0, r.status, r.out .. r.err)
		r = H.lia_run({ "bundle", "push", "-h", H.host, "-p", tostring(broker.port), "-u", "ops",
			"-P", "ops-pw", "--id", id, "--timeout", "30", out }, { timeout = 60 })
		assert.equal(0, r.status, r.out .. r.err .. p:output())
		assert.truthy(r.out:find(id .. ": committed", 1, true), r.out)
		assert.truthy(watch:wait_for('"bundle":"acl1"', 10), watch:output())
		-- the device handled one deploy only: ops's (the other device's was dropped by the broker)
		assert.equal(1, H.count(p:stderr(), " bytes on lia/" .. id .. "/deploy"), p:output())
	end)
end)
