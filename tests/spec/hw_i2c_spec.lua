-- lia.i2c on the simulated backend: register maps, Lua models, combined
-- transfers, scan, injected NACKs and delays, errors and misuse.
local H = require "tests.spec.helper"

local function ok_run(text)
	local r = H.lia_run { "run", "--hw", "sim", H.script(text) }
	assert.equal(0, r.status, r.out .. r.err)
	return r.out, r.err
end

describe("lia.i2c (sim)", function()
	teardown(H.cleanup)

	it("the TMP102 model: read_reg, write_reg, read, write, transfer (repeated start)", function()
		local out = ok_run([[
local i2c = require "lia.i2c"
local models = require "lia.sim.models"
local t = models.tmp102{ bus = "/dev/i2c-1", addr = 0x48, celsius = 25.0625 }
local bus = assert(i2c.open("/dev/i2c-1"))
local dev = bus:device(0x48)
print(bus, dev)
local raw = dev:read_reg(0x00, 2)
print(("%02x%02x"):format(raw:byte(1, 2)), models.tmp102_decode(raw))
t.set(-10.5)
print(models.tmp102_decode(dev:read_reg(0x00, 2)))
print(dev:write_reg(0x01, "\x61\xA0"), ("%02x%02x"):format(t.dev:reg(0x01):byte(1, 2)))
print(dev:write("\x03"), ("%02x%02x"):format(dev:read(2):byte(1, 2)))   -- pointer to T_HIGH
local a, b = dev:transfer{ { write = "\x02" }, { read = 2 } }
print(("%02x%02x"):format(a:byte(1, 2)), b)
print(dev:write_reg(0x02, 0x50), ("%q"):format(t.dev:reg(0x02)))         -- one byte as a number
print(dev:read_reg(0x01))                                                -- 1 byte by default
print(bus:transfer{ { addr = 0x48, write = "\x00" }, { addr = 0x48, read = 1 }, { addr = 0x48, read = 1 } } ~= nil)
print(t.dev:count() > 0, bus:info().plain_i2c)
lia.stop()
]])
		assert.equal("lia.i2c.bus (/dev/i2c-1)\tlia.i2c.device (/dev/i2c-1 0x48)\n"
			.. "1910\t25.0625\n-10.5\ntrue\t61a0\ntrue\t5000\n4b00\tnil\ntrue\t\"P\"\n"
			.. "a\ntrue\ntrue\ttrue\n", out)
	end)

	it("bus:scan() finds the simulated devices; i2c.open takes a number", function()
		local out = ok_run([[
local i2c = require "lia.i2c"
local sim = require "lia.sim"
sim.i2c(1, 0x48, { [0] = "\x19\x00" }); sim.i2c(1, 0x76); sim.i2c("/dev/i2c-3", 0x20)
print(table.concat(assert(i2c.open(1)):scan(), ","))
print(table.concat(assert(i2c.open("i2c-3")):scan(), ","))
lia.stop()
]])
		assert.equal("72,118\n32\n", out)
	end)

	it("Lua models: read and write functions; nil falls back to the registers, false NACKs", function()
		local out = ok_run([[
local i2c = require "lia.i2c"
local sim = require "lia.sim"
local log = {}
local counter = 0
sim.i2c(1, 0x10, {
	[0x05] = "reg5",
	read = function(n, ptr)
		if ptr == 0x05 then return nil end
		counter = counter + 1
		return string.rep(string.char(counter), n)
	end,
	write = function(bytes)
		log[#log + 1] = ("%02x"):rep(#bytes):format(bytes:byte(1, -1))
		if bytes == "\xff" then return false end
	end,
})
sim.i2c(1, 0x11, { read = function() error("model bug") end })
local bus = assert(i2c.open(1))
local d = bus:device(0x10)
print(("%q"):format(d:read(3)), ("%q"):format(d:read(1)))
print(d:read_reg(0x05, 4))
print(d:write("\xff"))
print(table.concat(log, " "))
print(bus:device(0x11):read(1))
lia.stop()
]])
		assert.equal('"\\1\\1\\1"\t"\\2"\nreg5\nnil\t/dev/i2c-1: 0x10: no acknowledge\tENXIO\n'
			.. '05 ff\nnil\t/dev/i2c-1: 0x11: input/output error\tEIO\n', out)
	end)

	it("errors: no such bus, no device, injected NACKs, delays past the timeout", function()
		local out = ok_run([[
local i2c = require "lia.i2c"
local sim = require "lia.sim"
local t = sim.i2c(1, 0x48, { [0] = "\x19\x00" })
print(i2c.open("/dev/i2c-9"))
print(i2c.open(7))
local bus = assert(i2c.open(1, { timeout_ms = 50 }))
print(bus:device(0x50):read(1))
t:nack(2)
print(bus:device(0x48):read_reg(0, 2))
print(bus:device(0x48):read_reg(0, 2))
print(#bus:device(0x48):read_reg(0, 2))
t:nack(true); print(bus:device(0x48):write("\0")); print(#bus:scan()); t:nack(false)
t:delay(20)
local t0 = lia.now()
print(#bus:device(0x48):read_reg(0, 2), lia.now() - t0 >= 40)    -- two messages, 20 ms each
t:delay(2000)
t0 = lia.now()
print(bus:device(0x48):read(2))
print(lia.now() - t0 < 1500)      -- gave up at the 50 ms timeout, not after the 2 s delay
lia.stop()
]])
		assert.equal("nil\t/dev/i2c-9: no such device\tENODEV\n"
			.. "nil\t/dev/i2c-7: no such device\tENODEV\n"
			.. "nil\t/dev/i2c-1: 0x50: no acknowledge (no device)\tENXIO\n"
			.. "nil\t/dev/i2c-1: 0x48: no acknowledge\tENXIO\n"
			.. "nil\t/dev/i2c-1: 0x48: no acknowledge\tENXIO\n"
			.. "2\n"
			.. "nil\t/dev/i2c-1: 0x48: no acknowledge\tENXIO\n0\n"
			.. "2\ttrue\n"
			.. "nil\t/dev/i2c-1: 0x48: timed out after 50 ms\tETIMEDOUT\n"
			.. "true\n", out)
	end)

	it("misuse raises", function()
		local out = ok_run([[
local i2c = require "lia.i2c"
local bus = assert(i2c.open(1))
local d = bus:device(0x48)
local function try(f, ...) local ok, e = pcall(f, ...); print(ok, (tostring(e):gsub("^.-:%d+: ", ""))) end
try(bus.device, bus, 0x80)
try(bus.device, bus, "x")
try(d.read_reg, d, 256, 1)
try(d.read, d, 0)
try(d.write_reg, d, 1, 300)
try(d.transfer, d, {})
try(d.transfer, d, { { read = 1, write = "x" } })
try(bus.transfer, bus, { { write = "x" } })
try(i2c.open, 1, { timeout_ms = 1 })
bus:close()
try(d.read, d, 1)
try(bus.scan, bus)
bus:close()
print(tostring(bus))
lia.stop()
]])
		local lines = H.lines(out)
		assert.equal(12, #lines, out)
		for i = 1, 11 do assert.truthy(lines[i]:match("^false\t"), out) end
		assert.truthy(out:find("7-bit address", 1, true), out)
		assert.truthy(out:find("register 0..255 expected", 1, true), out)
		assert.truthy(out:find("1 to 8 messages expected", 1, true), out)
		assert.truthy(out:find("each message has write or read", 1, true), out)
		assert.truthy(out:find("message addr 0x00..0x7f expected", 1, true), out)
		assert.truthy(out:find("attempt to use a device of a closed I2C bus", 1, true), out)
		assert.truthy(out:find("attempt to use a closed I2C bus", 1, true), out)
		assert.equal("lia.i2c.bus (closed)", lines[12])
	end)

	it("the linux backend: a bus that does not exist is nil, message, ENODEV", function()
		local script = H.script('local i2c = require "lia.i2c"\nprint(i2c.open("/dev/i2c-99"))\nprint(i2c.open(98))\nlia.stop()\n')
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.err)
		assert.equal("nil\t/dev/i2c-99: no such device\tENODEV\nnil\t/dev/i2c-98: no such device\tENODEV\n", r.out)
	end)
end)
