-- lia.gpio on the simulated backend (lia run --hw sim), driven by lia.sim:
-- outputs, inputs, edges with timestamps and sequence numbers, debounce,
-- the rate limit, discovery, errors (nil, message, code) and misuse (raises).
local H = require "tests.spec.helper"

-- Run a script on the simulated hardware; it ends with lia.stop().
local function sim(text, extra)
	local script = H.script(text)
	local args = { "run", "--hw", "sim" }
	for _, a in ipairs(extra or {}) do args[#args + 1] = a end
	args[#args + 1] = script
	return H.lia_run(args), script
end

local function ok_run(text, extra)
	local r = sim(text, extra)
	assert.equal(0, r.status, r.out .. r.err)
	return r.out, r.err
end

describe("lia.gpio (sim)", function()
	teardown(H.cleanup)

	it("outputs: initial value, write, toggle, read; the sim records the levels", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local led = assert(gpio.output{ chip = "gpiochip0", line = 17, initial = 1 })
print("read", led:read())
print("write", led:write(0), led:read())
led:toggle(); print("toggle", led:read())
led:write(true); led:write(false)
print("levels", table.concat(sim.gpio("gpiochip0", 17):writes(), ","))
print("now", sim.gpio("gpiochip0", 17):get(), sim.gpio("GPIO17"):requested())
print(tostring(led))
led:close()
print("after close", sim.gpio("GPIO17"):requested(), tostring(led))
lia.stop()
]])
		assert.equal("read\t1\nwrite\ttrue\t0\ntoggle\t1\nlevels\t1,0,1,1,0\nnow\t0\ttrue\n"
			.. "lia.gpio.line (gpiochip0:17 GPIO17 output)\nafter close\tfalse\tlia.gpio.line (closed)\n", out)
	end)

	it("active-low and open-drain outputs: the line sees the inverted level", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local relay = assert(gpio.output{ chip = 0, line = 5, initial = 0, active_low = true, drive = "open-drain" })
relay:write(1)
print(relay:read(), table.concat(sim.gpio("gpiochip0", 5):writes(), ","))
local src = assert(gpio.output{ chip = 0, line = 6, drive = "open-source" })
print(src:read())
lia.stop()
]])
		assert.equal("1\t1,0\n0\n", out)
	end)

	it("inputs: bias, levels the sim drives, active-low, lines by name", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local up = assert(gpio.input{ chip = "gpiochip0", line = 1, bias = "pull-up" })
local down = assert(gpio.input{ chip = "/dev/gpiochip0", line = 2, bias = "pull-down" })
local named = assert(gpio.input{ line = "GPIO3", active_low = true, bias = "disable" })
print(up:read(), down:read(), named:read())
sim.gpio("gpiochip0", 1):set(0); sim.gpio("gpiochip0", 2):set(1); sim.gpio("GPIO3"):set(1)
print(up:read(), down:read(), named:read())
sim.gpio("gpiochip0", 1):set(nil)       -- floats back to its pull-up
print(up:read(), named:info().chip, named:info().line, named:info().name, named:info().direction)
lia.stop()
]])
		assert.equal("1\t0\t1\n0\t1\t0\n1\tgpiochip0\t3\tGPIO3\tinput\n", out)
	end)

	it("edge events: edge, value, timestamps, sequence numbers, line, through the loop", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local timer = require "lia.timer"
local btn = assert(gpio.input{ chip = "gpiochip0", line = 27, bias = "pull-up", edge = "both" })
local last = 0
btn:on_edge(function(ev)
	assert(ev.timestamp_ns > last); last = ev.timestamp_ns
	print(ev.edge, ev.value, ev.seqno, ev.line_seqno, ev.line, ev.chip, ev.name, ev.dropped)
	if ev.seqno == 6 then lia.stop() end
end)
local b = sim.gpio("gpiochip0", 27)
b:set(1)            -- pull-up already reads 1: no edge
b:set(0); b:set(1)
print("queued")     -- the handlers run later, from the loop
timer.after(50, function()
	b:pulse{ count = 2, width_ms = 1, period_ms = 5 }
end)
timer.after(10000, function() print("TIMEOUT"); lia.stop(1) end)  -- a guard
]])
		assert.equal("queued\n"
			.. "falling\t0\t1\t1\t27\tgpiochip0\tGPIO27\tnil\n"
			.. "rising\t1\t2\t2\t27\tgpiochip0\tGPIO27\tnil\n"
			.. "falling\t0\t3\t3\t27\tgpiochip0\tGPIO27\tnil\n"
			.. "rising\t1\t4\t4\t27\tgpiochip0\tGPIO27\tnil\n"
			.. "falling\t0\t5\t5\t27\tgpiochip0\tGPIO27\tnil\n"
			.. "rising\t1\t6\t6\t27\tgpiochip0\tGPIO27\tnil\n", out)
	end)

	it("edge = rising / falling deliver only those; pulse timestamps keep their spacing", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local timer = require "lia.timer"
local r = assert(gpio.input{ chip = 0, line = 10, bias = "pull-down", edge = "rising" })
local f = assert(gpio.input{ chip = 0, line = 11, bias = "pull-up", edge = "falling" })
local ts = {}
local nf = 0
local function done()
	if #ts < 3 or nf < 2 then return end
	print("gaps", (ts[2] - ts[1]) // 1000000, (ts[3] - ts[2]) // 1000000)
	lia.stop()
end
r:on_edge(function(ev) ts[#ts + 1] = ev.timestamp_ns; print("r", ev.edge); done() end)
f:on_edge(function(ev) nf = nf + 1; print("f", ev.edge); done() end)
sim.gpio("gpiochip0", 10):pulse{ count = 3, width_ms = 2, period_ms = 10 }
sim.gpio("gpiochip0", 11):pulse{ count = 2, width_ms = 2, period_ms = 10 }
timer.after(10000, function() print("TIMEOUT"); lia.stop(1) end)  -- a guard
]])
		assert.equal("r\trising\nr\trising\nr\trising\nf\tfalling\nf\tfalling\ngaps\t10\t10\n", out)
	end)

	it("debounce_ms: a bouncing contact gives one edge per press", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local timer = require "lia.timer"
local btn = assert(gpio.input{ chip = 0, line = 27, bias = "pull-up", edge = "falling", debounce_ms = 20 })
print("debounce", btn:info().debounce)
local n = 0
btn:on_edge(function(ev) n = n + 1 end)
local b = sim.gpio("gpiochip0", 27)
-- press: five falling edges within 5 ms; 100 ms later a second press
b:pulse{ count = 5, width_ms = 0.5, period_ms = 1, level = 0 }
b:pulse{ count = 5, width_ms = 0.5, period_ms = 1, level = 0, start_ns = lia.now() * 1000000 + 100000000 }
-- the edges are queued at once but read over several loop turns: poll
-- until both presses are in (a third, wrong one would come in with them)
local poll
poll = timer.every(20, function()
	if n < 2 then return end
	poll:stop()
	timer.after(50, function() print("presses", n); lia.stop() end)
end)
]])
		assert.equal("debounce\tlia\npresses\t2\n", out)
	end)

	it("rate_limit: an edge storm reaches Lua at most rate_limit times a second; drops are counted", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local timer = require "lia.timer"
local line = assert(gpio.input{ chip = 0, line = 4, edge = "both", rate_limit = 50 })
local n, dropped = 0, 0
line:on_edge(function(ev) n = n + 1; dropped = dropped + (ev.dropped or 0) end)
-- 1000 edges within 0.5 s of timestamps, queued at once (the queue holds 1024)
sim.gpio("gpiochip0", 4):pulse{ count = 500, width_ms = 0.25, period_ms = 1 }
-- the queue is read over several loop turns: done when every edge was
-- either delivered or dropped
timer.every(20, function()
	if n + line:info().dropped < 1000 then return end
	print("delivered", n, "info dropped", line:info().dropped)
	lia.stop()
end)
]])
		assert.equal("delivered\t50\tinfo dropped\t950\n", out)
	end)

	it("gpio.chips() and gpio.lines(chip) list the simulated chips and who uses a line", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
sim.chip{ name = "gpiochip1", label = "expander", lines = { "RELAY1", "RELAY2", "LED" } }
for _, c in ipairs(gpio.chips()) do print(c.name, c.label, c.lines) end
local led = assert(gpio.output{ line = "LED", consumer = "me" })
print(led)
for _, l in ipairs(gpio.lines("gpiochip1")) do print(l.line, l.name, l.used, l.direction) end
print(#gpio.lines(0))
lia.stop()
]])
		assert.equal("gpiochip0\tlia-sim\t32\ngpiochip1\texpander\t3\n"
			.. "lia.gpio.line (gpiochip1:2 LED output)\n"
			.. "0\tRELAY1\tfalse\tinput\n1\tRELAY2\tfalse\tinput\n2\tLED\ttrue\toutput\n32\n", out)
	end)

	it("a missing chip, line or name, or a busy line: nil, message, code", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
print(gpio.output{ chip = "gpiochip9", line = 17 })
print(gpio.input{ chip = "gpiochip0", line = 99 })
print(gpio.input{ line = "NOPE" })
print(gpio.lines("gpiochip9"))
local a = assert(gpio.output{ chip = 0, line = 8 })
print(gpio.input{ chip = 0, line = 8 })
a:close()
print(gpio.input{ chip = 0, line = 8 } ~= nil)
lia.stop()
]])
		assert.equal("nil\tgpiochip9: no such device\tENODEV\n"
			.. "nil\tgpiochip0: no line 99\tENODEV\n"
			.. "nil\tNOPE: no such line\tENODEV\n"
			.. "nil\tgpiochip9: no such device\tENODEV\n"
			.. "nil\tgpiochip0:8: line busy (held by \"lia\")\tEBUSY\n"
			.. "true\n", out)
	end)

	it("misuse raises", function()
		local out = ok_run([[
local gpio = require "lia.gpio"
local function try(f, ...) local ok, e = pcall(f, ...); print(ok, (tostring(e):gsub("^.-:%d+: ", ""))) end
try(gpio.output, "gpiochip0")
try(gpio.output, { chip = 0 })
try(gpio.output, { line = 3 })
try(gpio.input, { chip = 0, line = 1, bias = "sideways" })
try(gpio.input, { chip = 0, line = 1, edge = "up" })
try(gpio.output, { chip = 0, line = 1, initial = 2 })
local i = assert(gpio.input{ chip = 0, line = 1 })
try(i.write, i, 1)
try(i.on_edge, i, function() end)
try(i.on_edge, i, 42)
local o = assert(gpio.output{ chip = 0, line = 2 })
try(o.write, o, 2)
do local c <close> = o end
try(o.read, o)
o:close()           -- closing twice is fine
lia.stop()
]])
		local lines = H.lines(out)
		assert.equal(11, #lines, out)
		for _, l in ipairs(lines) do assert.truthy(l:match("^false\t"), out) end
		assert.truthy(out:find("table expected", 1, true), out)
		assert.truthy(out:find("line (an offset or a name) expected", 1, true), out)
		assert.truthy(out:find("a line offset needs a chip", 1, true), out)
		assert.truthy(out:find("invalid bias 'sideways'", 1, true), out)
		assert.truthy(out:find("invalid edge 'up'", 1, true), out)
		assert.truthy(out:find("gpio 0:1 is an input", 1, true) or out:find("gpiochip0:1 is an input", 1, true), out)
		assert.truthy(out:find("on_edge needs edge", 1, true), out)
		assert.truthy(out:find("0 or 1 expected", 1, true), out)
		assert.truthy(out:find("attempt to use a closed GPIO line", 1, true), out)
	end)

	it("an error in an edge handler is logged with file:line and the next edge still runs", function()
		local r, script = sim([[
local gpio = require "lia.gpio"
local sim = require "lia.sim"
local timer = require "lia.timer"
local n = 0
local b = assert(gpio.input{ chip = 0, line = 9, edge = "rising" })
b:on_edge(function(ev)
	n = n + 1
	if n == 1 then error("first edge fails") end
	print("edge", n)
	lia.stop()
end)
sim.gpio("gpiochip0", 9):pulse{ count = 2 }
timer.after(10000, function() print("TIMEOUT"); lia.stop(1) end)  -- a guard
]])
		assert.equal(0, r.status, r.err)
		assert.equal("edge\t2\n", r.out)
		assert.truthy(r.err:find(script:match("[^/]+$") .. ":8: first edge fails", 1, true), r.err)
	end)

	it("--sim loads a models file first; its errors name file:line", function()
		local models = H.script('local sim = require "lia.sim"\nsim.chip{ name = "gpiochip4", lines = 2 }\n')
		local out = ok_run([[
local gpio = require "lia.gpio"
print(gpio.chips()[2].name, gpio.backend)
lia.stop()
]], { "--sim", models })
		assert.equal("gpiochip4\tsim\n", out)
		local bad = H.script('local x = nil\nx.y = 1\n')
		local script = H.script("lia.stop()\n")
		local r = H.lia_run { "run", "--sim", bad, script }
		assert.equal(1, r.status)
		assert.truthy(r.err:find(bad:match("[^/]+$") .. ":2:", 1, true), r.err)
	end)

	it("lia.sim needs --hw sim; --hw takes linux or sim", function()
		local script = H.script('print(pcall(require, "lia.sim"))\nlia.stop()\n')
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.err)
		assert.truthy(r.out:find("false\tlia.sim needs the simulated hardware: lia run --hw sim", 1, true), r.out)
		r = H.lia_run { "run", "--hw", "gpio", script }
		assert.equal(1, r.status)
		assert.truthy(r.err:find("--hw: 'gpio' is not linux or sim", 1, true), r.err)
		r = H.lia_run { "run", "--hw", "linux", "--sim", script, script }
		assert.equal(1, r.status)
		assert.truthy(r.err:find("--sim needs --hw sim", 1, true), r.err)
	end)

	it("the linux backend: a chip that does not exist is nil, message, ENODEV", function()
		local script = H.script([[
local gpio = require "lia.gpio"
print(gpio.backend, gpio.output{ chip = "gpiochip99", line = 1 })
print(gpio.input{ chip = "/dev/gpiochip98", line = 0 })
print(type(gpio.chips()))
lia.stop()
]])
		local r = H.lia_run { "run", "--hw", "linux", script }
		assert.equal(0, r.status, r.err)
		assert.equal("linux\tnil\tgpiochip99: no such device\tENODEV\n"
			.. "nil\tgpiochip98: no such device\tENODEV\ntable\n", r.out)
	end)
end)
