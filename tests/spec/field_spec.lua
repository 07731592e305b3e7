-- Running in the field (docs/field.md): long script paths, modules from
-- the script's folder, lia check loading every module, handler budgets,
-- SIGTERM while a handler is stuck, quarantine, the memory cap.
local H = require "tests.spec.helper"

local function line_of(path, marker)
	local n = 0
	for l in io.lines(path) do
		n = n + 1
		if l:find(marker, 1, true) then return n end
	end
end

-- how many times the Lua pattern pat matches s
local function count_pat(s, pat)
	local n = 0
	for _ in s:gmatch(pat) do n = n + 1 end
	return n
end

-- Under --quarantine 3, the handler on the line marked `marker` fails
-- three times (its errors match `pat`), is disabled, and is the only one:
-- the script's other timer goes on to print STILL RUNNING.
local function expect_disabled(script, marker, pat)
	local line = line_of(script, marker)
	local lia = H.lia_spawn { "run", "--quarantine", "3", script }
	assert.truthy(lia:wait_for("STILL RUNNING\n", 10), H.dump(lia))
	local err = lia:stderr()
	assert.equal(3, count_pat(err, pat), err)
	assert.equal(1, H.count(err, script .. ":" .. line .. ": handler disabled: it failed 3 times within a minute"), err)
	assert.equal(1, H.count(err, "handler disabled"), err)
	assert.equal(0, lia:stop())
end

-- lia ARGS run from the root directory
local function lia_at_root(args)
	local t = {}
	for i, a in ipairs(args) do t[i] = H.q(a) end
	return H.run("sh -c " .. H.q("cd / && exec " .. H.q(H.lia) .. " " .. table.concat(t, " ")))
end

-- a folder whose path is longer than Lua's LUA_IDSIZE (60 bytes)
local function long_dir()
	local d = H.tmp(string.rep("d", 40) .. "/" .. H.uniq(string.rep("e", 30)))
	assert(os.execute("mkdir -p " .. H.q(d)))
	return d
end

describe("field safety", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("lia check and lia run name the whole path of a script in a long folder", function()
		local d = long_dir()
		local bad = H.write(d .. "/bad.lua", "x = = 1\n")
		local r = H.lia_run { "check", bad }
		assert.equal(1, r.status)
		assert.equal(bad .. ":1: unexpected symbol near '='", r.err:match("^[^\n]*"))
		r = H.lia_run { "run", bad }
		assert.equal(1, r.status)
		assert.truthy(r.err:find(bad .. ":1:", 1, true), r.err)
		-- a runtime error with a traceback (-v) names the full path on every line
		local boom = H.write(d .. "/boom.lua", "local function f()\n\terror('boom')\nend\nf()\n")
		r = H.lia_run { "run", "-v", boom }
		assert.equal(1, r.status)
		assert.truthy(r.err:find(boom .. ":2: boom", 1, true), r.err)
		assert.truthy(r.err:find("\t" .. boom .. ":4: in main chunk", 1, true), r.err)
		assert.falsy(r.err:find("...", 1, true), r.err)
		-- dofile'd files too
		local other = H.write(d .. "/other.lua", "local x = 1\nerror('in other')\n")
		local main = H.write(d .. "/df.lua", "dofile(" .. string.format("%q", other) .. ")\n")
		r = H.lia_run { "run", main }
		assert.equal(1, r.status)
		assert.truthy(r.err:find(other .. ":2: in other", 1, true), r.err)
	end)

	it("require finds modules in the script's folder whatever the working directory", function()
		local d = long_dir()
		H.write(d .. "/helpers.lua", "return { answer = 42 }\n")
		local main = H.write(d .. "/main.lua",
			"local h = require 'helpers'\nprint('ANSWER', h.answer)\nlia.stop(0)\n")
		local r = lia_at_root { "run", main }
		assert.equal(0, r.status, r.err)
		assert.equal("ANSWER\t42\n", r.out)
	end)

	it("lia check loads every required module and reports the first error as file:line", function()
		local d = long_dir()
		local helpers = H.write(d .. "/helpers.lua", "local M = {}\nfunction M.f(\nreturn M\n")
		local main = H.write(d .. "/main.lua", "local h = require 'helpers'\n")
		local r = lia_at_root { "check", main }
		assert.equal(1, r.status)
		assert.equal(helpers .. ":3: <name> or '...' expected near 'return'", r.err:match("^[^\n]*"))
		-- a runtime error in a module's body, too
		H.write(helpers, "local M = {}\nlocal x = nil + 1\nreturn M\n")
		r = lia_at_root { "check", main }
		assert.equal(1, r.status)
		assert.truthy(r.err:find("^" .. helpers:gsub("%p", "%%%0") .. ":2: attempt to perform arithmetic"),
			r.err)
		H.write(helpers, "return {}\n")
		r = lia_at_root { "check", main }
		assert.equal(0, r.status, r.err)
		assert.equal("ok\n", r.out)
	end)

	it("a stuck handler is stopped after its budget; keep-alive and other handlers go on", function()
		local id = H.uniq("budget")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", keepalive = 1 }
c:on("connect", function(c) c:subscribe("b/${ID}", 1) end)
c:on("message", function(c, msg)
	if msg.payload == "spin" then
		local n = 0
		while true do n = n + 1 end -- SPIN
	end
	print("GOT", msg.payload)
end)
c:connect()
]], { ID = id })
		local line = line_of(script, "-- SPIN")
		local lia = H.lia_spawn { "run", "--handler-budget", "300", "--quarantine", "0", script }
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		local t0 = H.now()
		-- five stuck handlers in a row: 1.5 s of spinning with a 1 s keep-alive
		for _ = 1, 5 do broker:pub("-q 1 -t b/" .. id .. " -m spin") end
		broker:pub("-q 1 -t b/" .. id .. " -m after")
		assert.truthy(lia:wait_for("GOT\tafter\n", 15), H.dump(lia, broker))
		local err = lia:stderr()
		assert.equal(5, H.count(err, script .. ":" .. line .. ": handler exceeded its 300 ms budget"), err)
		-- the session stayed: one CONNECT, no keep-alive timeout at the broker
		assert.equal(1, count_pat(broker:log(), "New client connected from [^\n]* as " .. id:gsub("%p", "%%%0")), broker:log())
		assert.falsy(broker:log():find(id .. " has exceeded timeout", 1, true), broker:log())
		assert.truthy(H.now() - t0 >= 1.5)
		assert.equal(0, lia:stop())
	end)

	it("the budget reaches into coroutines the handler made, and a caught error comes back", function()
		local script = H.script([[
local timer = require "lia.timer"
timer.after(10, function()
	local co = coroutine.wrap(function()
		while true do end -- INNER
	end)
	while true do pcall(co) end
end)
timer.after(10, function()
	while true do
		pcall(function() while true do end end)
	end
end)
timer.after(3000, function() print("STILL SERVING") end)
]])
		local inner = line_of(script, "-- INNER")
		local lia = H.lia_spawn { "run", "--handler-budget", "200", script }
		assert.truthy(lia:wait_for("STILL SERVING\n", 10), H.dump(lia))
		local err = lia:stderr()
		assert.equal(2, count_pat(err, "handler exceeded its 200 ms budget"), err)
		-- nothing is left to run after the last timer: lia ends by itself
		-- (a SIGTERM here would race that exit and could find the signal
		-- unblocked on the way out: status 143)
		assert.equal(0, lia:wait(10), H.dump(lia))
	end)

	it("time in one long C call does not count; Lua running away after it does", function()
		local script = H.script([[
require("lia.timer").after(10, function()
	os.execute("sleep 0.8")     -- one blocking C call, longer than the budget
	print("AFTER THE CALL")
	io.stdout:flush()
	while true do end -- SPIN
end)
require("lia.timer").after(2000, function() lia.stop(0) end)
]])
		local r = H.lia_run { "run", "--handler-budget", "300", script }
		assert.equal(0, r.status, r.err)
		assert.equal("AFTER THE CALL\n", r.out)
		assert.equal(1, count_pat(r.err, ":" .. line_of(script, "-- SPIN") .. ": handler exceeded its 300 ms budget"), r.err)
	end)

	it("a main chunk that never returns is stopped too: at start-up, and in a reload's check", function()
		local stuck = H.script("local n = 0\nwhile true do n = n + 1 end -- STUCK\n")
		local r = H.lia_run { "run", "--no-watch", "--handler-budget", "300", stuck }
		assert.equal(1, r.status, r.err)
		assert.truthy(r.err:find(stuck .. ":2: handler exceeded its 300 ms budget", 1, true), r.err)
		-- the running scripts go on when the new main chunk is stuck
		local id = H.uniq("stuckmain")
		local body = "require('lia.timer').every(20, function() print('TICK ${V}') end)\n${MORE}"
		local script = H.script(body, { V = "one", MORE = "" }, id .. ".lua")
		local lia = H.lia_spawn { "run", "--no-watch", "--handler-budget", "300", script }
		assert.truthy(lia:wait_for("TICK one\n", 5), H.dump(lia))
		H.script(body, { V = "two", MORE = "while true do end\n" }, id .. ".lua")
		lia:kill("HUP")
		assert.truthy(lia:wait_for("reload refused", 5, "stderr"), H.dump(lia))
		assert.truthy(lia:stderr():find(script .. ":2: handler exceeded its 300 ms budget", 1, true), lia:stderr())
		local n = H.count(lia:stdout(), "TICK one\n")
		assert.truthy(H.wait(function() return H.count(lia:stdout(), "TICK one\n") > n + 3 end, 5), H.dump(lia))
		assert.falsy(lia:stdout():find("TICK two", 1, true))
		assert.equal(0, lia:stop())
	end)

	it("SIGTERM is honoured within 1 s while a handler is stuck (no budget)", function()
		local script = H.script([[
local timer = require "lia.timer"
timer.after(10, function()
	print("SPINNING")
	io.stdout:flush()
	while true do end
end)
]])
		local lia = H.lia_spawn { "run", "--handler-budget", "0", script }
		assert.truthy(lia:wait_for("SPINNING\n", 5), H.dump(lia))
		H.sleep(0.2)    -- nothing to observe: let it spin a little
		local t0 = H.now()
		lia:kill("TERM")
		assert.truthy(H.wait(function() return not lia:alive() end, 5), H.dump(lia))
		local dt = H.now() - t0
		assert.truthy(dt < 1, "stopped after " .. dt .. " s")
		assert.truthy(lia:stderr():find("handler stopped: SIGTERM is pending", 1, true), lia:stderr())
	end)

	it("the configuration file sets the limits; the command line wins", function()
		local script = H.script([[
require("lia.timer").after(10, function() while true do end end)
require("lia.timer").after(2500, function() lia.stop(0) end)
]])
		local conf = H.write(H.tmp(H.uniq("field") .. ".conf"),
			"handler_budget = 300\nmemory_limit = 32\nquarantine = 2\nwatch = false\n")
		local r = H.lia_run { "run", "--config", conf, script }
		assert.equal(0, r.status, r.err)
		assert.truthy(r.err:find("handler exceeded its 300 ms budget", 1, true), r.err)
		r = H.lia_run { "run", "--config", conf, "--handler-budget", "200", script }
		assert.truthy(r.err:find("handler exceeded its 200 ms budget", 1, true), r.err)
		local bad = H.write(H.tmp(H.uniq("field") .. ".conf"), "health_errors = 0\n")
		r = H.lia_run { "check", "--config", bad }
		assert.equal(1, r.status)
		assert.equal(bad .. ":1: health_errors: '0' is not a number in 1..1000000", r.err:match("^[^\n]*"))
	end)

	it("a handler failing N times within a minute is disabled and reported once", function()
		local script = H.script([[
local timer = require "lia.timer"
local n = 0
timer.every(10, function() -- TICK
	n = n + 1
	error("tick " .. n)
end)
local ok = 0
timer.every(10, function()
	ok = ok + 1
	if ok == 50 then print("STILL RUNNING") end
end)
]])
		expect_disabled(script, "-- TICK", ": tick %d")
	end)

	it("a handler that waits and then fails is the one disabled, on a reused coroutine too", function()
		-- the host reuses the coroutines of handlers that returned: the
		-- failure must be counted against the function that failed, not
		-- the one that ran on that coroutine before
		local script = H.script([[
local timer = require "lia.timer"
local n = 0
timer.every(10, function() -- WAITS
	n = n + 1
	lia.sleep(1)
	error("late " .. n)
end)
local ok = 0
timer.every(5, function()
	ok = ok + 1
	if ok == 60 then print("STILL RUNNING") end
end)
]])
		expect_disabled(script, "-- WAITS", ": late %d")
	end)

	it("a handler that allocates without bound gets a memory error; the session stays", function()
		local id = H.uniq("mem")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}" }
c:on("connect", function(c) c:subscribe("m/${ID}", 1) end)
c:on("message", function(c, msg)
	if msg.payload == "grow" then
		local t = {}
		while true do t[#t + 1] = string.rep("x", 4096) .. #t end -- GROW
	end
	print("GOT", msg.payload, collectgarbage("count") < 16 * 1024)
end)
c:connect()
]], { ID = id })
		local line = line_of(script, "-- GROW")
		local lia = H.lia_spawn { "run", "--memory-limit", "16", "--handler-budget", "0", script }
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		local t0 = H.now()
		broker:pub("-q 1 -t m/" .. id .. " -m grow")
		broker:pub("-q 1 -t m/" .. id .. " -m after")
		assert.truthy(lia:wait_for("GOT\tafter\ttrue\n", 10), H.dump(lia, broker))
		local err = lia:stderr()
		assert.truthy(err:find(script .. ":" .. line .. ": not enough memory (limit 16 MB)", 1, true), err)
		assert.equal(1, count_pat(broker:log(), "New client connected from [^\n]* as " .. id:gsub("%p", "%%%0")), broker:log())
		assert.truthy(lia:alive())
		assert.equal(0, lia:stop())
	end)
end)

describe("refused connections", function()
	local broker
	setup(function()
		broker = H.broker()
		broker:stop()
		-- the same broker, without anonymous access: CONNACK 5 on 3.1.1
		local text = broker.conf_text
		broker.conf_text = function(self)
			return (text(self):gsub("allow_anonymous true", "allow_anonymous false"))
		end
		broker:start()
	end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("a refused CONNACK runs connect_failed and disconnect, never connect; one error line", function()
		local id = H.uniq("refused")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}",
	reconnect = { min = 0.05, max = 0.1 } }
c:on("connect", function(c, ack) print("CONNECTED", ack.reason) end)
local fails = 0
c:on("connect_failed", function(c, ack)
	fails = fails + 1
	print("FAILED", ack.reason, ack.reason_name, ack.permanent)
	if fails == 3 then lia.stop(2) end
end)
c:on("disconnect", function(c, info) print("DISCONNECT", info.reason, info.reason_name) end)
c:connect()
]], { ID = id })
		local r = H.lia_run { "run", script }
		assert.equal(2, r.status, r.out .. r.err)
		assert.falsy(r.out:find("CONNECTED", 1, true), r.out)
		assert.equal(3, H.count(r.out, "FAILED\t5\tnot_authorized\ttrue\n"), r.out)
		assert.equal(3, H.count(r.out, "DISCONNECT\t5\tnot_authorized\n"), r.out)
		-- permanent: at error level once, not at every attempt
		assert.equal(1, H.count(r.err, " error mqtt " .. id .. ": connection refused by broker: not_authorized"), r.err)
	end)

	it("a client that gives up after a refusal for good: lia run exits 1, not 0", function()
		local id = H.uniq("giveup")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", reconnect = false }
c:on("connect_failed", function(c, ack) print("FAILED", ack.reason_name, ack.permanent) end)
c:connect()
]], { ID = id })
		local r = H.lia_run { "run", "--no-watch", script }
		assert.equal(1, r.status, r.out .. r.err)
		assert.equal("FAILED\tnot_authorized\ttrue\n", r.out)
		assert.equal(1, H.count(r.err, " error nothing left to run: the broker refused mqtt " .. id ..
			": not_authorized (0x05), which retrying will not heal"), r.err)
		-- a script that closes the refused client itself has decided: 0
		local ok = H.script([[
local c = require("lia.mqtt").client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}",
	reconnect = false, username = "nobody" }
c:on("connect_failed", function(c) c:close() end)
c:connect()
]], { ID = id .. "b" }, id .. "b.lua")
		r = H.lia_run { "run", "--no-watch", ok }
		assert.equal(0, r.status, r.out .. r.err)
	end)

	it("global-handler mode: on_connect never runs for a refusal, on_disconnect does", function()
		local script = H.script([[
local n = 0
function on_connect(c, ack) print("ON_CONNECT", ack.reason) end
function on_disconnect(c, info)
	n = n + 1
	print("ON_DISCONNECT", info.reason, info.reason_name)
	if n == 2 then lia.stop(3) end
end
]])
		local r = H.lia_run { "run", "-h", H.host, "-p", tostring(broker.port), script }
		assert.equal(3, r.status, r.out .. r.err)
		assert.falsy(r.out:find("ON_CONNECT", 1, true), r.out)
		assert.equal(2, H.count(r.out, "ON_DISCONNECT\t5\tnot_authorized\n"), r.out)
	end)

	it("the packaged main.lua neither logs connected nor queues online when refused", function()
		local lia = H.lia_spawn { "run", "-d", "--no-watch", "--config", H.root .. "/packaging/lia.conf.sample",
			"-h", H.host, "-p", tostring(broker.port), H.root .. "/packaging/main.lua" }
		assert.truthy(H.wait(function()
			return H.count(lia:stderr(), "connection refused by broker: not_authorized") >= 3
		end, 15), H.dump(lia, broker))
		assert.equal(0, lia:stop())
		local err = lia:stderr()
		assert.falsy(err:find("connected as", 1, true), err)
		assert.equal(1, H.count(err, " error mqtt "), err)
		assert.falsy(broker:log():find("Received PUBLISH", 1, true), broker:log())
	end)
end)
