-- lia.serial on the simulated backend (a pty per port, driven by lia.sim)
-- and on the linux backend against a real pseudo-terminal pair (socat).
local H = require "tests.spec.helper"

local function ok_run(text, extra)
	local script = H.script(text)
	local args = { "run", "--hw", "sim" }
	for _, a in ipairs(extra or {}) do args[#args + 1] = a end
	args[#args + 1] = script
	local r = H.lia_run(args)
	assert.equal(0, r.status, r.out .. r.err)
	return r.out, r.err
end

describe("lia.serial (sim)", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("on_line splits at \\n (dropping \\r) across reads; the pty path is logged", function()
		local out, err = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
local timer = require "lia.timer"
local dev = sim.serial("/dev/ttyUSB0")
local port = assert(serial.open{ path = "/dev/ttyUSB0", baud = 9600, data_bits = 8,
	parity = "none", stop_bits = 1, flow = "none" })
print(port)
-- Each part is fed once the line before it arrived, so the lines are
-- split across reads whatever the machine's load; the last one stops.
local next_part = { "2*00\r\nno end yet", "\n" }
port:on_line(function(line)
	print("line", line)
	local part = table.remove(next_part, 1)
	if part then dev:feed(part) elseif line == "no end yet" then lia.stop() end
end)
dev:feed("$GPGGA,1*00\r\n$GPRMC,")
timer.after(10000, function() print("TIMEOUT"); lia.stop(1) end)  -- a guard
]])
		assert.equal("lia.serial.port (/dev/ttyUSB0)\nline\t$GPGGA,1*00\nline\t$GPRMC,2*00\nline\tno end yet\n", out)
		assert.truthy(err:match("sim: serial port /dev/ttyUSB0 is the pty /dev/pts/%d+"), err)
	end)

	it("on_line with another delimiter; on_data raw, by length, by a silence", function()
		local out = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
local timer = require "lia.timer"
local a, b, c = sim.serial("/dev/ttyS1"), sim.serial("/dev/ttyS2"), sim.serial("/dev/ttyS3")
local pa = assert(serial.open{ path = "/dev/ttyS1", delimiter = ";" })
local pb = assert(serial.open{ path = "/dev/ttyS2" })
local pc = assert(serial.open("/dev/ttyS3"))
pa:on_line(function(l) print("a", l) end)
local frames = {}
pb:on_data(function(f)
	frames[#frames + 1] = f
	if #frames == 3 then print("b", table.concat(frames, "|")); lia.stop() end
end, { length = 4 })
-- "kl" completes b's third frame only after c's frame came out
pc:on_data(function(f) print("c", f); b:feed("kl") end, { timeout = 300 })
a:feed("x=1;y=2;z")
b:feed("abcdefgh"); b:feed("ij")
c:feed("one ")
-- The silence that ends c's frame is the feature under test: the 15 ms
-- gap must stay under the 300 ms timeout (both timers of this one loop,
-- so only a pty delay of more than 285 ms could split "one frame").
timer.after(15, function() c:feed("frame") end)
timer.after(10000, function() print("TIMEOUT"); lia.stop(1) end)  -- a guard
]])
		assert.equal("a\tx=1\na\ty=2\nc\tone frame\nb\tabcd|efgh|ijkl\n", out)
	end)

	it("write reaches the device; a Lua model answers; read_line yields for the reply or times out", function()
		local out = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
local modem = sim.serial("/dev/ttyACM0")
modem:on_write(function(bytes)
	if bytes:find("AT\r\n", 1, true) then modem:feed("\r\nOK\r\n") end
end)
local port = assert(serial.open{ path = "/dev/ttyACM0", baud = 115200 })
print(port:write("AT\r\n"))
print("empty", port:read_line{ timeout = 1000 })
print("reply", port:read_line{ timeout = 1000 })
print("late", port:read_line{ timeout = 100 })
print("written", (modem:written():gsub("\r\n", "|")))
lia.stop()
]])
		assert.equal("true\nempty\t\nreply\tOK\nlate\tnil\t/dev/ttyACM0: timed out\tETIMEDOUT\nwritten\tAT|\n", out)
	end)

	it("write with back-pressure: a full output buffer is nil, EAGAIN; drain() waits until it is out", function()
		local out = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
local dev = sim.serial("/dev/ttyUSB3")
local port = assert(serial.open{ path = "/dev/ttyUSB3", buffer = 300000 })
local block = ("0123456789"):rep(20000)          -- 200 kB: more than the pty holds
print(port:write(block))
print("pending", port:pending() > 0)
print(port:write(block))                         -- would pass the 300 kB limit
local got = 0
dev:on_write(function(b) got = got + #b end)     -- the device starts reading
print("drain", port:drain{ timeout = 5000 })
print("pending", port:pending(), #dev:written())
lia.stop()
]])
		assert.equal("true\npending\ttrue\nnil\t/dev/ttyUSB3: output buffer full\tEAGAIN\n"
			.. "drain\ttrue\npending\t0\t200000\n", out)
	end)

	it("serial.ports() lists the simulated ports with USB VID/PID and description", function()
		local out = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
sim.serial("/dev/ttyUSB0", { vid = 0x1546, pid = 0x01a7, description = "u-blox 7 - GPS/GNSS Receiver",
	manufacturer = "u-blox AG" })
sim.serial("/dev/ttyAMA0")
local ports = serial.ports()
table.sort(ports, function(a, b) return a.path < b.path end)
for _, p in ipairs(ports) do
	print(p.path, p.transport, p.vid and string.format("%04x:%04x", p.vid, p.pid), p.manufacturer,
		(p.description:gsub("/dev/pts/%d+", "PTY")))
end
lia.stop()
]])
		assert.equal("/dev/ttyAMA0\tsim\tnil\tnil\tlia simulated port (PTY)\n"
			.. "/dev/ttyUSB0\tusb\t1546:01a7\tu-blox AG\tu-blox 7 - GPS/GNSS Receiver\n", out)
	end)

	it("the NMEA model of lia.sim.models feeds valid GGA and RMC sentences", function()
		local out = ok_run([[
local serial = require "lia.serial"
local models = require "lia.sim.models"
models.nmea{ path = "/dev/ttyUSB0", interval_ms = 50, lat = 48.1173, lon = -11.5167 }
local port = assert(serial.open{ path = "/dev/ttyUSB0" })
local n = 0
port:on_line(function(line)
	local body, sum = line:match("^%$([^*]+)%*(%x%x)$")
	print(body:sub(1, 5), models.nmea_checksum(body) == sum)
	n = n + 1
	if n == 4 then lia.stop() end
end)
]])
		assert.equal("GPGGA\ttrue\nGPRMC\ttrue\nGPGGA\ttrue\nGPRMC\ttrue\n", out)
	end)

	it("a missing or busy port: nil, message, code; misuse raises", function()
		local out = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
sim.serial("/dev/ttyS0")
print(serial.open{ path = "/dev/ttyUSB9" })
local p = assert(serial.open{ path = "/dev/ttyS0" })
print(serial.open{ path = "/dev/ttyS0" })
local function try(f, ...) local ok, e = pcall(f, ...); print(ok, (tostring(e):gsub("^.-:%d+: ", ""))) end
try(serial.open, { baud = 9600 })
try(serial.open, { path = "/dev/ttyS0", parity = "weird" })
try(serial.open, { path = "/dev/ttyS0", data_bits = 9 })
try(serial.open, { path = "/dev/ttyS0", flow = "magic" })
try(p.on_line, p, "not a function")
try(p.on_data, p, function() end, { length = 4, timeout = 10 })
try(p.write, p, {})
p:close()
try(p.write, p, "x")
try(p.read_line, p)
p:close()
print(tostring(p))
lia.stop()
]])
		local lines = H.lines(out)
		assert.equal("nil\t/dev/ttyUSB9: no such device\tENODEV", lines[1])
		assert.equal("nil\t/dev/ttyS0: already open\tEBUSY", lines[2])
		assert.equal(12, #lines, out)
		for i = 3, 11 do assert.truthy(lines[i]:match("^false\t"), out) end
		assert.truthy(out:find("invalid parity 'weird'", 1, true), out)
		assert.truthy(out:find("data_bits must be an integer in 5..8", 1, true), out)
		assert.truthy(out:find("attempt to use a closed serial port", 1, true), out)
		assert.equal("lia.serial.port (closed)", lines[12])
	end)

	it("lines buffered before on_line is set go to the new handler", function()
		local out = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
local timer = require "lia.timer"
local dev = sim.serial("/dev/ttyS6")
local p = assert(serial.open("/dev/ttyS6"))
dev:feed("a\nb\nc\n")
print("first", p:read_line{ timeout = 500 })
p:on_line(function(l) print("on_line", l); if l == "c" then lia.stop() end end)
print("set")
timer.after(10000, function() print("TIMEOUT"); lia.stop(1) end)  -- a guard
]])
		assert.equal("first\ta\nset\non_line\tb\non_line\tc\n", out)
	end)

	it("closing a port wakes a coroutine waiting in read_line", function()
		local out = ok_run([[
local serial = require "lia.serial"
local sim = require "lia.sim"
local timer = require "lia.timer"
sim.serial("/dev/ttyS5")
local p = assert(serial.open{ path = "/dev/ttyS5" })
timer.after(50, function() p:close() end)
print(p:read_line())
lia.stop()
]])
		assert.equal("nil\tserial port closed\tECANCELED\n", out)
	end)
end)

describe("lia.serial (linux backend, a real pty pair)", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("reads lines and writes bytes through socat's pseudo-terminals", function()
		local a, b = H.tmp("pty-a"), H.tmp("pty-b")
		local socat = H.spawn(string.format("socat pty,raw,echo=0,link=%s pty,raw,echo=0,link=%s",
			H.q(a), H.q(b)))
		assert.truthy(H.wait(function() return H.exists(a) and H.exists(b) end, 5), socat:output())
		local reader = H.spawn("cat " .. H.q(b))
		local script = H.script(string.format([[
local serial = require "lia.serial"
local port = assert(serial.open{ path = %q, baud = 115200, parity = "even", stop_bits = 2 })
print(serial.open{ path = %q })
port:on_line(function(line)
	print("got", line)
	if line == "quit" then port:write("bye\n"); port:drain(); lia.stop() end
end)
port:write("hello from lia\r\n")
]], a, a .. "-missing"))
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(reader:wait_for("hello from lia\r\n", 5), H.dump(lia))
		H.write(b, "one\r\ntwo\nquit\n")
		assert.equal(0, lia:wait(5), H.dump(lia))
		assert.equal("nil\t" .. a .. "-missing: no such device\tENODEV\ngot\tone\ngot\ttwo\ngot\tquit\n",
			lia:stdout())
		assert.truthy(reader:wait_for("bye\n", 5), reader:stdout())
		socat:stop()
	end)
end)
