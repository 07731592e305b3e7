-- Live reload (docs/field.md): in-process, MQTT sessions kept, subscriptions
-- diffed, connect handlers run with ack.reloaded, refused loads keep the old
-- scripts, rollback to the last good copy, safe mode, hardware re-acquired.
local H = require "tests.spec.helper"

local function count_pat(s, pat)
	local n = 0
	for _ in s:gmatch(pat) do n = n + 1 end
	return n
end

local function esc(s) return (s:gsub("%p", "%%%0")) end

-- the CONNECT packets client id made at the broker
local function connects(broker, id)
	return count_pat(broker:log(), "New client connected from [^\n]* as " .. esc(id) .. " ")
end

-- pad a script to about n lines (the reload figure is for a 100-line script)
local function padded(text, n)
	local lines = { text }
	local have = select(2, text:gsub("\n", ""))
	for i = have + 1, n do lines[#lines + 1] = string.format("local function pad%d(x) return x + %d end", i, i) end
	return table.concat(lines, "\n") .. "\n"
end

describe("live reload", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	local stream = [[
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}" }
c:on("connect", function(c, ack)
	print("CONNECT ${V}", ack.reloaded)
	c:subscribe("in/${ID}", 1)
	c:subscribe("${V}/${ID}", 1)
end)
c:on("message", function(c, m) print("IN ${V} " .. m.payload) end)
local n = 0
timer.every(5, function()
	if not c:is_connected() or n >= 2000 then return end
	n = n + 1
	local p = "${V}-" .. n
	if c:publish("out/${ID}", p, 1) then print("OUT " .. p) end
end)
c:connect()
]]

	it("SIGHUP and a file change during QoS 1 streams both ways: 0 lost, 0 new CONNECTs", function()
		local id = H.uniq("reload")
		local script = H.script(padded(stream, 100), { ID = id, V = "v1" }, id .. ".lua")
		local out = broker:sub("-q 1 -t out/" .. id)
		local lia = H.lia_watch { "run", "--data-dir", H.tmp(id .. ".data"), script }
		assert.truthy(lia:wait_for("OUT v1-20\n", 10), H.dump(lia, broker))
		assert.truthy(broker:subscribed(id, 5, 2), broker:log())
		-- 600 inbound QoS 1 messages at about 2 ms intervals
		local feeder = H.spawn("sh -c " .. H.q(string.format("for i in $(seq 1 600); do echo m$i; " ..
			"sleep 0.002; done | mosquitto_pub -h %s -p %d -q 1 -l -t in/%s", H.host, broker.port, id)))
		assert.truthy(lia:wait_for("IN v1 m100\n", 10), H.dump(lia, broker))
		H.script(padded(stream, 100), { ID = id, V = "v2" }, id .. ".lua")
		assert.truthy(lia:wait_for("CONNECT v2\ttrue\n", 10), H.dump(lia, broker))
		assert.truthy(lia:wait_for("OUT v2-20\n", 10), H.dump(lia, broker))
		H.script(padded(stream, 100), { ID = id, V = "v3" }, id .. ".lua")
		lia:kill("HUP")     -- and SIGHUP on top of the file change: one reload or two
		assert.truthy(lia:wait_for("CONNECT v3\ttrue\n", 10), H.dump(lia, broker))
		assert.truthy(feeder:wait(30), "feeder did not end")
		assert.truthy(lia:wait_for("IN v3 m600\n", 15), H.dump(lia, broker))
		local so = lia:stdout()
		-- inbound: every message handled once by one of the versions
		for i = 1, 600 do
			local n = count_pat(so, "IN v%d m" .. i .. "\n")
			assert.equal(1, n, "m" .. i .. " handled " .. n .. " times")
		end
		-- outbound: every publish the scripts made arrives
		assert.equal(0, lia:stop())
		local sent = {}
		for p in so:gmatch("OUT ([^\n]+)\n") do sent[#sent + 1] = p end
		assert.truthy(#sent > 60)
		assert.truthy(H.wait(function()
			local got = out:stdout()
			for _, p in ipairs(sent) do
				if not got:find("\n" .. p .. "\n", 1, true) and got:sub(1, #p + 1) ~= p .. "\n" then return false end
			end
			return true
		end, 10), "not every OUT arrived")
		-- one CONNECT for the whole run; in/ID subscribed once, v1/ and v2/ dropped
		local log = broker:log()
		assert.equal(1, connects(broker, id), log)
		assert.equal(1, count_pat(log, "\n[^\n]*in/" .. esc(id) .. " %(QoS 1%)"), log)
		assert.truthy(log:find("Received UNSUBSCRIBE from " .. id, 1, true), log)
		-- the figure: trigger -> new handlers running (goal < 100 ms)
		-- every reload within a generous guard (a loaded machine), the best
		-- one within the issue's 100 ms
		local err = lia:stderr()
		local best
		for why, ms in err:gmatch("info (%a+): [^\n]* running in ([%d.]+) ms") do
			print(string.format("reload figure (%s, 100-line script): %s ms", why, ms))
			assert.truthy(tonumber(ms) < 1000, err)
			best = math.min(best or math.huge, tonumber(ms))
		end
		assert.truthy(best, err)
		assert.truthy(best < 100, "the fastest reload took " .. tostring(best) .. " ms")
	end)

	it("a load that fails keeps the old scripts running and logs file:line once", function()
		local id = H.uniq("refuse")
		local body = [[
local timer = require "lia.timer"
timer.every(20, function() print("TICK ${V}") end)
]]
		local script = H.script(body, { V = "one" }, id .. ".lua")
		local lia = H.lia_spawn { "run", "--no-watch", "--data-dir", H.tmp(id .. ".data"), script }
		assert.truthy(lia:wait_for("TICK one\n", 5), H.dump(lia))
		-- a module the main chunk requires does not compile
		local mod = H.write(H.tmp(id .. "_mod.lua"), "return {\n")
		H.script("local m = require '" .. id .. "_mod'\n" .. body, { V = "two" }, id .. ".lua")
		lia:kill("HUP")
		assert.truthy(lia:wait_for("reload refused", 5, "stderr"), H.dump(lia))
		local err = lia:stderr()
		assert.equal(1, H.count(err, mod .. ":2: unexpected symbol near <eof>"), err)
		local before = H.count(lia:stdout(), "TICK one\n")
		assert.truthy(H.wait(function() return H.count(lia:stdout(), "TICK one\n") > before + 3 end, 5))
		assert.falsy(lia:stdout():find("TICK two", 1, true))
		-- fixed: the reload goes through
		H.write(mod, "return {}\n")
		lia:kill("HUP")
		assert.truthy(lia:wait_for("TICK two\n", 5), H.dump(lia))
		assert.equal(0, lia:stop())
	end)

	it("--no-watch: a file change does not reload; SIGHUP does", function()
		local id = H.uniq("nowatch")
		local body = "require('lia.timer').every(20, function() print('V ${V}') end)\n"
		local script = H.script(body, { V = "one" }, id .. ".lua")
		local lia = H.lia_spawn { "run", "--no-watch", "--data-dir", H.tmp(id .. ".data"), script }
		assert.truthy(lia:wait_for("V one\n", 5), H.dump(lia))
		H.script(body, { V = "two" }, id .. ".lua")
		-- nothing to observe but time: a watched folder reloads within 200 ms
		H.sleep(0.8)
		assert.falsy(lia:stdout():find("V two", 1, true))
		lia:kill("HUP")
		assert.truthy(lia:wait_for("V two\n", 5), H.dump(lia))
		assert.equal(0, lia:stop())
	end)

	it("global-handler mode keeps the default client; on_connect runs with ack.reloaded", function()
		local id = H.uniq("global")
		local body = [[
function on_connect(c, ack)
	print("ON_CONNECT ${V}", ack.reloaded)
	c:subscribe("g/${ID}", 1)
end
function on_message(c, m) print("MSG ${V} " .. m.payload) end
]]
		local script = H.script(body, { V = "one", ID = id }, id .. ".lua")
		local lia = H.lia_watch { "run", "-h", H.host, "-p", tostring(broker.port), "-i", id,
			"--data-dir", H.tmp(id .. ".data"), script }
		assert.truthy(lia:wait_for("ON_CONNECT one\tnil\n", 5), H.dump(lia, broker))
		assert.truthy(broker:subscribed(id), broker:log())
		H.script(body, { V = "two", ID = id }, id .. ".lua")
		assert.truthy(lia:wait_for("ON_CONNECT two\ttrue\n", 5), H.dump(lia, broker))
		broker:pub("-q 1 -t g/" .. id .. " -m hi")
		assert.truthy(lia:wait_for("MSG two hi\n", 5), H.dump(lia, broker))
		assert.equal(1, connects(broker, id), broker:log())
		assert.equal(1, H.count(broker:log(), "Sending SUBACK to " .. id .. "\n"), broker:log())
		assert.equal(0, lia:stop())
	end)

	it("a client the new scripts no longer create gets a clean DISCONNECT (no will)", function()
		local id = H.uniq("gone")
		local will = H.uniq("will")
		local body = [[
local mqtt = require "lia.mqtt"
${MAKE}
require("lia.timer").every(20, function() print("ALIVE ${V}") end)
]]
		local make = string.format('local c = mqtt.client{ uri = "mqtt://127.0.0.1:%d", client_id = "%s", ' ..
			'will = { topic = "%s", payload = "gone" } }\nc:connect()', broker.port, id, will)
		local wsub = broker:sub("-t " .. will)
		local script = H.script(body, { V = "one", MAKE = make }, id .. ".lua")
		local lia = H.lia_watch { "run", "--data-dir", H.tmp(id .. ".data"), script }
		assert.truthy(broker:connected(id), H.dump(lia, broker))
		H.script(body, { V = "two", MAKE = "" }, id .. ".lua")
		assert.truthy(lia:wait_for("ALIVE two\n", 5), H.dump(lia, broker))
		assert.truthy(broker:wait_log("Client " .. id .. " disconnected", 5), broker:log())
		assert.equal(0, lia:stop())
		H.sleep(0.3)    -- a will would come right away: nothing else to wait for
		assert.equal("", wsub:stdout())
	end)

	it("errors in the health window roll back to the last good copy", function()
		local id = H.uniq("rollback")
		local data = H.tmp(id .. ".data")
		local good = [[
require("lia.timer").every(20, function() print("GOOD") end)
]]
		local bad = [[
require("lia.timer").every(20, function() error("broken") end)
]]
		local script = H.script(good, nil, id .. ".lua")
		local lia = H.lia_spawn { "run", "--no-watch", "--health-window", "1", "--health-errors", "3",
			"--data-dir", data, script }
		-- the start-up window passes: the scripts are kept as the last good copy
		assert.truthy(lia:wait_for("is good; a copy is kept", 5, "stderr"), H.dump(lia))
		H.script(bad, nil, id .. ".lua")
		lia:kill("HUP")
		assert.truthy(lia:wait_for("rolling back to the last good copy", 5, "stderr"), H.dump(lia))
		local n = H.count(lia:stdout(), "GOOD\n")
		assert.truthy(H.wait(function() return H.count(lia:stdout(), "GOOD\n") > n + 3 end, 5), H.dump(lia))
		local err = lia:stderr()
		assert.equal(3, H.count(err, ": broken"), err)
		assert.equal(0, lia:stop())
	end)

	it("reloaded scripts that kill lia in the health window: the next start runs the good copy", function()
		local id = H.uniq("probation")
		local data = H.tmp(id .. ".data")
		local good = "require('lia.timer').every(20, function() print('GOOD') end)\n"
		local script = H.script(good, nil, id .. ".lua")
		local lia = H.lia_spawn { "run", "--no-watch", "--health-window", "1", "--data-dir", data, script }
		assert.truthy(lia:wait_for("is good; a copy is kept", 5, "stderr"), H.dump(lia))
		-- the reload is accepted (the main chunk returns), then a timer kills lia
		H.script("require('lia.timer').after(50, function() print('CRASH') io.stdout:flush() " ..
			"os.exit(9, false) end)\n", nil, id .. ".lua")
		lia:kill("HUP")
		assert.equal(9, lia:wait(10), H.dump(lia))
		assert.truthy(lia:stdout():find("CRASH\n", 1, true), H.dump(lia))
		-- as systemd's Restart= would: the same command line
		lia = H.lia_spawn { "run", "--no-watch", "--health-window", "1", "--data-dir", data, script }
		assert.truthy(lia:wait_for("GOOD\n", 5), H.dump(lia))
		assert.truthy(lia:stderr():find("health: lia died within 1 s of a reload: rolling back to the last good copy", 1, true),
			lia:stderr())
		assert.falsy(lia:stdout():find("CRASH", 1, true))
		assert.equal(0, lia:stop())
		-- the rollback is used once: the next start runs the user's scripts again
		H.script("print('USER') lia.stop(0)\n", nil, id .. ".lua")
		local r = H.lia_run { "run", "--no-watch", "--data-dir", data, script }
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal("USER\n", r.out)
	end)

	it("three start-ups in a row that crash: safe mode with the last good copy", function()
		local id = H.uniq("safe")
		local data = H.tmp(id .. ".data")
		local script = H.script("require('lia.timer').every(20, function() print('GOOD') end)\n", nil, id .. ".lua")
		local lia = H.lia_spawn { "run", "--no-watch", "--health-window", "1", "--data-dir", data, script }
		assert.truthy(lia:wait_for("is good; a copy is kept", 5, "stderr"), H.dump(lia))
		assert.equal(0, lia:stop())
		-- now the script kills the process at start-up (as a crash would)
		H.script("io.stdout:write('CRASH\\n') io.stdout:flush() os.exit(9, false)\n", nil, id .. ".lua")
		for _ = 1, 3 do
			local r = H.lia_run { "run", "--no-watch", "--data-dir", data, script }
			assert.equal(9, r.status, r.out .. r.err)
		end
		lia = H.lia_spawn { "run", "--no-watch", "--data-dir", data, script }
		assert.truthy(lia:wait_for("GOOD\n", 5), H.dump(lia))
		assert.truthy(lia:stderr():find("3 start-ups in a row did not last 30 s: safe mode, running the last good copy", 1, true),
			lia:stderr())
		assert.falsy(lia:stdout():find("CRASH", 1, true))
		assert.equal(0, lia:stop())
	end)

	it("safe mode without a good copy runs no script; the default client stays connected", function()
		local id = H.uniq("safe0")
		local data = H.tmp(id .. ".data")
		local script = H.script("os.exit(9, false)\n", nil, id .. ".lua")
		for _ = 1, 3 do
			local r = H.lia_run { "run", "--no-watch", "--data-dir", data, script }
			assert.equal(9, r.status, r.out .. r.err)
		end
		local lia = H.lia_spawn { "run", "--no-watch", "-h", H.host, "-p", tostring(broker.port), "-i", id,
			"--data-dir", data, script }
		assert.truthy(broker:connected(id), H.dump(lia, broker))
		assert.truthy(lia:stderr():find("safe mode, running no script", 1, true), lia:stderr())
		assert.equal(0, lia:stop())
	end)

	it("--safe-mode-after 0: crashes in a row never lead to safe mode; 1: the first does", function()
		local id = H.uniq("nosafe")
		local data = H.tmp(id .. ".data")
		local script = H.script("io.stdout:write('RAN\\n') io.stdout:flush() os.exit(9, false)\n", nil,
			id .. ".lua")
		for _ = 1, 5 do
			local r = H.lia_run { "run", "--no-watch", "--safe-mode-after", "0", "--data-dir", data, script }
			assert.equal(9, r.status, r.out .. r.err)
			assert.equal("RAN\n", r.out)
		end
		local data1 = H.tmp(id .. ".data1")
		local r = H.lia_run { "run", "--no-watch", "--safe-mode-after", "1", "--data-dir", data1, script }
		assert.equal(9, r.status, r.out .. r.err)
		local lia = H.lia_spawn { "run", "--no-watch", "--safe-mode-after", "1", "-h", H.host,
			"-p", tostring(broker.port), "-i", id, "--data-dir", data1, script }
		assert.truthy(broker:connected(id), H.dump(lia, broker))
		assert.truthy(lia:stderr():find("1 start-ups in a row did not last 30 s: safe mode", 1, true), lia:stderr())
		assert.equal(0, lia:stop())
	end)

	it("hardware handles of the old scripts are released before the new ones take them", function()
		local id = H.uniq("hw")
		local body = [[
local gpio = require "lia.gpio"
local line = assert(gpio.output{ chip = "gpiochip0", line = 3 })
print("HAVE LINE ${V}")
-- something that can still run: lia run would end once nothing can
require("lia.timer").every(60000, function() end)
]]
		local script = H.script(body, { V = "one" }, id .. ".lua")
		local lia = H.lia_watch { "run", "--hw", "sim", "--data-dir", H.tmp(id .. ".data"), script }
		assert.truthy(lia:wait_for("HAVE LINE one\n", 5), H.dump(lia))
		H.script(body, { V = "two" }, id .. ".lua")
		assert.truthy(lia:wait_for("HAVE LINE two\n", 5), H.dump(lia))
		assert.falsy(lia:stderr():find("busy", 1, true), lia:stderr())
		assert.equal(0, lia:stop())
	end)

	it("packaging/lia.service: Type=notify, a watchdog, systemctl reload is SIGHUP", function()
		local unit = {}
		for l in io.lines(H.root .. "/packaging/lia.service") do
			local k, v = l:match("^(%w+)=(.*)$")
			if k then unit[k] = v end
		end
		assert.equal("notify", unit.Type)
		-- READY=1 and WATCHDOG=1 come from lia's own pid
		assert.truthy(unit.NotifyAccess == "main" or unit.NotifyAccess == "all", unit.NotifyAccess)
		local dog = tonumber((unit.WatchdogSec or ""):match("^(%d+)s?$"))
		assert.truthy(dog and dog > 0, unit.WatchdogSec)
		-- what the reload tests above send: SIGHUP to lia itself
		assert.truthy((unit.ExecReload or ""):match("^%S*kill %-HUP %$MAINPID$"), unit.ExecReload)
		assert.truthy((unit.ExecStart or ""):match("^%S*/lia run "), unit.ExecStart)
		-- lia check --config with the unit's files before every start
		assert.truthy((unit.ExecStartPre or ""):match("^%S*/lia check "), unit.ExecStartPre)
		-- $STATE_DIRECTORY (the data directory: last good copy, crash count)
		assert.truthy(unit.StateDirectory and unit.StateDirectory ~= "", unit.StateDirectory)
	end)

	it("systemd: READY=1 once running, RELOADING=1 then READY=1 around a reload, WATCHDOG=1", function()
		-- a fake $NOTIFY_SOCKET: a unix datagram socket whose messages the test reads
		local sock = H.tmp(H.uniq("notify") .. ".sock")
		local srv = H.spawn("python3 -u -c " .. H.q([[
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("BOUND")
while True:
    print(s.recv(4096).decode().replace("\n", " "))
]]) .. " " .. H.q(sock))
		assert.truthy(srv:wait_for("BOUND\n", 5), srv:output())
		local id = H.uniq("notify")
		local body = "require('lia.timer').every(50, function() print('V ${V}') end)\n"
		local script = H.script(body, { V = "one" }, id .. ".lua")
		local lia = H.lia_spawn({ "run", "--no-watch", "--data-dir", H.tmp(id .. ".data"), script },
			{ env = { NOTIFY_SOCKET = sock, WATCHDOG_USEC = 200000 } })
		assert.truthy(srv:wait_for("READY=1 STATUS=" .. script .. "\n", 5), srv:output() .. lia:output())
		assert.truthy(H.wait(function() return H.count(srv:stdout(), "WATCHDOG=1\n") >= 3 end, 5),
			srv:output())
		H.script(body, { V = "two" }, id .. ".lua")
		lia:kill("HUP")
		assert.truthy(lia:wait_for("V two\n", 5), H.dump(lia))
		assert.truthy(H.wait(function()
			return srv:stdout():find("RELOADING=1 MONOTONIC_USEC=%d+\n.-READY=1\n") ~= nil
		end, 5), srv:output())
		assert.equal(0, lia:stop())
	end)
end)
