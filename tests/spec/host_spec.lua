-- The script host: errors in handlers, timers, lia.sleep in coroutines,
-- per-filter handlers versus on("message"), global-handler mode, lia.*.
local H = require "tests.spec.helper"

-- line number of the first line of text containing marker
local function line_of(path, marker)
	local n = 0
	for l in io.lines(path) do
		n = n + 1
		if l:find(marker, 1, true) then return n end
	end
end

describe("script host", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("an error in on_message is logged with file:LINE and the session goes on", function()
		local id = H.uniq("err")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}" }
c:on("connect", function(c) c:subscribe("e/${ID}/#", 1) end)
c:on("message", function(c, msg)
	if msg.payload == "boom" then
		error("kaboom " .. msg.payload) -- MARK
	end
	print("GOT", msg.payload)
end)
c:connect()
]], { ID = id })
		local line = line_of(script, "-- MARK")
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		for _, m in ipairs { "one", "boom", "two" } do
			broker:pub(string.format("-q 1 -t 'e/%s/x' -m %s", id, m))
		end
		assert.truthy(lia:wait_for("GOT\ttwo\n", 5), H.dump(lia, broker))
		assert.truthy(lia:stdout():find("GOT\tone\n", 1, true), H.dump(lia))
		local err = lia:stderr()
		local where = script:match("[^/]+$") .. ":" .. line .. ":"
		local logline
		for _, l in ipairs(H.lines(err)) do
			if l:find(where, 1, true) and l:find("kaboom boom", 1, true) then logline = l end
		end
		assert.truthy(logline, "no error line naming " .. where .. " in:\n" .. err)
		assert.truthy(logline:match(" error "), logline)
		assert.is_true(lia:alive())
		-- the session is the same one: no reconnect happened
		assert.equal(1, H.count(broker:log(), "Sending CONNACK to " .. id .. " "), broker:log())
	end)

	it("a script requires a C module that takes the Lua API from lia, and only that", function()
		-- as Debian's lua-* modules do: built against the headers, linked
		-- with no liblua. It also defines a function named as one of lia's
		-- own (xalloc_live): only the Lua API is exported (lua/lua-api.dynlist),
		-- so the module's call must reach its own, never lia's.
		local dir = H.tmp(H.uniq("cmod"))
		os.execute("mkdir -p " .. H.q(dir))
		local src = H.write(dir .. "/cmod.c", [[
#include <lua.h>
#include <lauxlib.h>
long xalloc_live(void) { return -7; }
static int add(lua_State *L)
{
	lua_pushinteger(L, luaL_checkinteger(L, 1) + luaL_checkinteger(L, 2));
	return 1;
}
static int own(lua_State *L)
{
	lua_pushinteger(L, xalloc_live());
	return 1;
}
int luaopen_cmod(lua_State *L)
{
	static const luaL_Reg f[] = { { "add", add }, { "own", own }, { NULL, NULL } };
	luaL_newlib(L, f);
	return 1;
}
]])
		local cflags = H.run("pkg-config --cflags lua5.4").out:gsub("%s+$", "")
		-- the module is built for the lia under test (the cross tier's is
		-- arm64 or armhf, under qemu)
		local triplet = ({ arm64 = "aarch64-linux-gnu", armhf = "arm-linux-gnueabihf" })[os.getenv("LIA_EMULATED") or ""]
		local compiler = triplet and triplet .. "-gcc" or "cc"
		if triplet then  -- luaconf.h's multiarch part: multiarch, or the tier's sysroot
			cflags = cflags .. " -I/usr/include/" .. triplet .. " -I" .. H.q(H.root .. "/build-sysroot/"
				.. os.getenv("LIA_EMULATED") .. "/usr/include/" .. triplet)
		end
		local cc = H.run(string.format("%s -shared -fPIC %s -o %s %s", compiler, cflags, H.q(dir .. "/cmod.so"), H.q(src)))
		assert.is_true(cc.ok, cc.err)
		local script = H.write(dir .. "/use.lua", [[
package.cpath = "]] .. dir .. [[/?.so;" .. package.cpath
local m = require "cmod"
print("ADD", m.add(40, 2), "OWN", m.own())
]])
		local r = H.lia_run({ "run", script })
		assert.equal(0, r.status, r.err)
		assert.truthy(r.out:find("ADD\t42\tOWN\t-7\n", 1, true), r.out .. r.err)
	end)

	it("timers: every, after and stop", function()
		local script = H.script([[
local timer = require "lia.timer"
local ticks = 0
local t0 = lia.now()
local t
t = timer.every(100, function()
	ticks = ticks + 1
	if ticks < 3 then return end
	t:stop()
	print("STOPPED", ticks)
	-- 400 ms to show the stopped timer stays quiet (4 periods; an absence
	-- cannot be waited for)
	timer.after(400, function()
		print("LATER", ticks, lia.now() - t0)
		lia.stop()
	end)
end)
]])
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia))
		local out = lia:stdout()
		local stopped = tonumber(out:match("STOPPED\t(%d+)\n"))
		local later, elapsed = out:match("LATER\t(%d+)\t(%d+)\n")
		assert.truthy(stopped and later, out)
		assert.equal(3, stopped)
		assert.equal(stopped, tonumber(later), "the timer ticked after stop()")
		-- timers never fire early; how late is up to the machine's load
		assert.is_true(tonumber(elapsed) >= 700, out)
	end)

	it("a timer may stop itself from its own callback", function()
		local script = H.script([[
local timer = require "lia.timer"
local n = 0
local t
t = timer.every(20, function()
	n = n + 1
	if n < 3 then return end
	t:stop()
	-- 200 ms (10 periods) to show it stays stopped: an absence
	timer.after(200, function() print("N", n); lia.stop() end)
end)
]])
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia))
		assert.equal("N\t3\n", lia:stdout())
	end)

	it("lia.sleep inside a handler does not block other handlers", function()
		local script = H.script([[
local timer = require "lia.timer"
local t0 = lia.now()
timer.after(10, function()
	print("A sleeping")
	lia.sleep(600)
	print("A woke", lia.now() - t0)
end)
timer.after(100, function() print("B ran", lia.now() - t0) end)
timer.after(900, function() lia.stop() end)
]])
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia))
		local lines = H.lines(lia:stdout())
		assert.equal("A sleeping", lines[1], lia:stdout())
		local b = tonumber((lines[2] or ""):match("^B ran\t(%d+)$"))
		local a = tonumber((lines[3] or ""):match("^A woke\t(%d+)$"))
		assert.truthy(a and b, lia:stdout())
		-- B ran while A slept (the order of the lines); neither came early.
		-- No upper bounds: how late a timer fires is up to the machine's load.
		assert.is_true(b >= 90, "B ran early: " .. b)
		assert.is_true(a >= 600, "sleep(600) took " .. a)
	end)

	-- handlers run in coroutines the host reuses: a waiting one is never
	-- handed to another handler, a failed one never again, and one back in
	-- the pool is dead to a script that kept it
	it("handler coroutines are reused, but not one that waits or one that failed", function()
		local script = H.script([[
local timer = require "lia.timer"
local a_co, b_done, failed = nil, false, nil
local asleep = {}
local runs, distinct, seen = 0, 0, {}
timer.after(10, function()
	a_co = coroutine.running()
	asleep[a_co] = true
	lia.sleep(100)
	asleep[a_co] = nil
	print("A woke in its own", coroutine.running() == a_co)
end)
timer.after(20, function()
	local me = coroutine.running()
	asleep[me] = true
	lia.sleep(200)
	asleep[me] = nil
	-- A returned before this woke (its timer is due first)
	print("A's", coroutine.status(a_co), coroutine.resume(a_co))
	b_done = true
end)
timer.after(30, function()
	failed = coroutine.running()
	error("on purpose")
end)
local t
t = timer.every(15, function()
	local co = coroutine.running()
	runs = runs + 1
	if not seen[co] then seen[co], distinct = true, distinct + 1 end
	if asleep[co] then print("SHARED a waiting coroutine") end
	if co == failed then print("REUSED a failed coroutine") end
	if runs >= 20 and b_done then
		t:stop()
		print("DISTINCT", distinct)
		lia.stop()
	end
end)
]])
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(10), H.dump(lia))
		local out = lia:stdout()
		assert.truthy(out:find("A woke in its own\ttrue\n", 1, true), H.dump(lia))
		assert.truthy(out:find("A's\tdead\tfalse\tcannot resume dead coroutine\n", 1, true), H.dump(lia))
		assert.falsy(out:find("SHARED", 1, true), H.dump(lia))
		assert.falsy(out:find("REUSED", 1, true), H.dump(lia))
		-- 20 or more runs of the every-handler, which returns each time, in a
		-- few coroutines (new ones only while others wait or after a failure)
		local distinct = tonumber(out:match("DISTINCT\t(%d+)\n"))
		assert.truthy(distinct and distinct <= 4, H.dump(lia))
		assert.truthy(lia:stderr():find("on purpose", 1, true), H.dump(lia))
	end)

	it("lia.sleep in the main chunk yields to the loop", function()
		local script = H.script([[
local timer = require "lia.timer"
local fired = false
timer.after(50, function() fired = true end)
lia.sleep(200)
print("FIRED", fired)
lia.stop()
]])
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia))
		assert.equal("FIRED\ttrue\n", lia:stdout())
	end)

	it("lia.now is monotonic integer ms, lia.time wall clock seconds, lia.log.* to stderr", function()
		local script = H.script([[
local a = lia.now()
print("NOW", math.type(a), a >= 0)
print("TIME", math.type(lia.time()), math.abs(lia.time() - os.time()) < 5)
lia.log.info("hello", 42, true)
lia.log.warn("careful")
lia.log.error("bad")
lia.stop()
]])
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia))
		assert.equal("NOW\tinteger\ttrue\nTIME\tfloat\ttrue\n", lia:stdout())
		local err = lia:stderr()
		assert.truthy(err:match("%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d info hello 42 true\n"), err)
		assert.truthy(err:match("%d%d%.%d%d%d warn careful\n"), err)
		assert.truthy(err:match("%d%d%.%d%d%d error bad\n"), err)
	end)

	it("an error in a timer is logged with file:LINE and timers keep running", function()
		local script = H.script([[
local timer = require "lia.timer"
local n = 0
timer.every(50, function()
	n = n + 1
	if n == 2 then error("timer failed") end -- MARK
	if n == 5 then print("FIVE"); lia.stop() end
end)
]])
		local line = line_of(script, "-- MARK")
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia))
		assert.equal("FIVE\n", lia:stdout())
		local where = script:match("[^/]+$") .. ":" .. line .. ": timer failed"
		assert.truthy(lia:stderr():find(where, 1, true), lia:stderr())
	end)

	it("per-filter handlers take their messages; on('message') gets the rest", function()
		local id = H.uniq("route")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}" }
c:on("message", function(c, msg) print("GENERAL", msg.topic) end)
c:on("connect", function(c)
	c:subscribe("r/${ID}/plus/+", 1, function(c, msg) print("PLUS", msg.topic) end)
	c:subscribe("r/${ID}/hash/#", 1, function(c, msg) print("HASH", msg.topic) end)
	c:subscribe("r/${ID}/other", 1)
end)
c:connect()
]], { ID = id })
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(broker:subscribed(id, 5, 3), H.dump(lia, broker))
		local pre = "r/" .. id
		-- the second /other is a barrier: what the broker sent before it is in
		for _, t in ipairs { "/plus/a", "/hash/a/b/c", "/hash", "/other", "/plus/a/deeper", "/other" } do
			broker:pub(string.format("-q 1 -t '%s%s' -m x", pre, t))
		end
		assert.truthy(H.wait_for(function()
			return H.count(lia:stdout(), "GENERAL\t" .. pre .. "/other\n") == 2
		end, 10), H.dump(lia, broker))
		local got = H.lines(lia:stdout())
		table.remove(got, #got)
		table.sort(got)
		-- "#" also matches the parent level (r/ID/hash); "+" is exactly one level
		-- and r/ID/plus/a/deeper matches no subscription at all.
		local want = { "GENERAL\t" .. pre .. "/other", "HASH\t" .. pre .. "/hash",
			"HASH\t" .. pre .. "/hash/a/b/c", "PLUS\t" .. pre .. "/plus/a" }
		table.sort(want)
		assert.same(want, got)
	end)

	-- more matches than fit in route()'s stack arrays (8 filters, 512 bytes
	-- of copies): the rest are copied to the heap, every handler runs once
	it("a message matching many per-filter handlers, some with long filters, reaches each once", function()
		local id = H.uniq("many")
		local long = string.rep("x", 300)
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}" }
local L = "${LONG}"
local filters = { "n/${ID}/" .. L, "n/${ID}/#", "n/${ID}/+", "n/#", "+/${ID}/" .. L, "+/${ID}/+",
	"+/+/+", "#", "+/#", "n/+/#", "+/${ID}/#", "n/+/" .. L, "n/+/+" }
c:on("message", function(c, msg) print("GENERAL", msg.topic) end)
c:on("connect", function(c)
	for i, f in ipairs(filters) do
		local tok = c:subscribe(f, 0, function(c, msg) print("GOT", i, #msg.topic) end)
		if i == #filters then tok:wait(5000) print("READY") end
	end
end)
c:connect()
]], { ID = id, LONG = long })
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(lia:wait_for("READY\n", 5), H.dump(lia, broker))
		local topic = "n/" .. id .. "/" .. long
		broker:pub(string.format("-q 1 -t '%s' -m x", topic))
		assert.truthy(H.wait_for(function() return H.count(lia:stdout(), "GOT\t") >= 13 end, 10),
			H.dump(lia, broker))
		for i = 1, 13 do
			assert.equal(1, H.count(lia:stdout(), "GOT\t" .. i .. "\t" .. #topic .. "\n"), H.dump(lia))
		end
		assert.falsy(lia:stdout():find("GENERAL", 1, true), H.dump(lia))
	end)

	it("global-handler mode: on_connect/on_message globals with -h/-p/-i", function()
		local id = H.uniq("glob")
		local script = H.script([[
function on_connect(client, ack)
	print("ON_CONNECT", client == mqtt, ack.reason)
	client:subscribe("g/${ID}/#", 1)
end
function on_message(client, msg)
	print("ON_MESSAGE", msg.topic, msg.payload, msg.qos)
	mqtt:publish("g-out/${ID}", "echo " .. msg.payload, { qos = 1 })
end
]], { ID = id })
		local sub = broker:sub(string.format("-q 1 -t 'g-out/%s' -C 1", id))
		local lia = H.lia_spawn({ "run", "-h", "127.0.0.1", "-p", broker.port, "-i", id, "-q", "1", script })
		assert.truthy(lia:wait_for("ON_CONNECT\ttrue\t0\n", 5), H.dump(lia, broker))
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		broker:pub(string.format("-q 1 -t 'g/%s/in' -m ping", id))
		assert.truthy(lia:wait_for("ON_MESSAGE\tg/" .. id .. "/in\tping\t1\n", 5), H.dump(lia, broker))
		assert.equal(0, sub:wait(5), H.dump(lia, broker))
		assert.equal("echo ping\n", sub:stdout())
	end)

	it("global-handler mode: on_disconnect is called when the broker goes away", function()
		local id = H.uniq("gdis")
		local script = H.script([[
function on_connect(client, ack) print("UP") end
function on_disconnect(client, info) print("DOWN", type(info.message)) end
]])
		local b2 = H.broker()
		local lia = H.lia_spawn({ "run", "-h", "127.0.0.1", "-p", b2.port, "-i", id, script })
		assert.truthy(lia:wait_for("UP\n", 5), H.dump(lia, b2))
		b2:stop()
		assert.truthy(lia:wait_for("DOWN\tstring\n", 5), H.dump(lia))
		assert.is_true(lia:alive())
	end)

	it("the default client connects when the script uses the global mqtt", function()
		local id = H.uniq("gm")
		local sub = broker:sub(string.format("-q 1 -t 'gm/%s' -C 1", id))
		local script = H.script([[
local timer = require "lia.timer"
timer.every(100, function() mqtt:publish("gm/${ID}", "tick", { qos = 1 }) end)
]], { ID = id })
		local lia = H.lia_spawn({ "run", "-p", broker.port, "-h", "127.0.0.1", script })
		assert.equal(0, sub:wait(5), H.dump(lia, broker))
		assert.equal("tick\n", sub:stdout())
	end)

	it("a plain script with no broker and no handlers runs without connecting", function()
		local script = H.script([[
print("RAN")
require("lia.timer").after(100, function() lia.stop() end)
]])
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia))
		assert.equal("RAN\n", lia:stdout())
	end)

	it("lia run -v adds a traceback to handler errors", function()
		local script = H.script([[
local function inner() error("deep failure") end
require("lia.timer").after(10, function() inner() end)
require("lia.timer").after(200, function() lia.stop() end)
]], nil, "traced.lua")
		local r = H.lia_run { "run", "-v", script }
		assert.equal(0, r.status, r.err)
		assert.truthy(r.err:find("traced.lua:1: deep failure", 1, true), r.err)
		assert.truthy(r.err:find("traceback", 1, true), r.err)
		local plain = H.lia_run { "run", script }
		assert.truthy(plain.err:find("traced.lua:1: deep failure", 1, true), plain.err)
		assert.falsy(plain.err:find("traceback", 1, true), plain.err)
	end)
end)
