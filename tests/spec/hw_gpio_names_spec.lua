-- GPIO by name on the simulated board: gpio.line(name | { chip, line })
-- finds a line by its name or its chip's label, opens take a chip label,
-- and a line in use names its consumer.
local H = require "tests.spec.helper"

describe("gpio by name (sim)", function()
	teardown(H.cleanup)

	it("finds lines by name and chips by label; busy lines name their holder", function()
		local s = H.script([[
local gpio, sim = require "lia.gpio", require "lia.sim"
-- a Pi 5 as the kernel shows it: the header on a chip labelled pinctrl-rp1
sim.chip{ name = "gpiochip4", label = "pinctrl-rp1", lines = { "ID_SDA", "ID_SCL", "GPIO2", "GPIO17" } }
local function show(t)
	if not t then return "nil" end
	return string.format("%s %s %d %s %q %s %s", t.chip, t.label, t.line, t.name, t.consumer,
		t.used, t.direction)
end
print(show(gpio.line("GPIO2")))
print(show(gpio.line{ chip = "pinctrl-rp1", line = "GPIO17" }))
print(show(gpio.line{ chip = 4, line = 3 }))
print(gpio.line{ chip = "pinctrl-rp2", line = "GPIO17" })
print(gpio.line("GPIO99"))
print(gpio.line{ chip = "pinctrl-rp1", line = "GPIO99" })
local r = assert(gpio.output{ chip = "pinctrl-rp1", line = "GPIO17", consumer = "relay" })
print(r, show(gpio.line{ chip = "pinctrl-rp1", line = "GPIO17" }))
print(gpio.input{ chip = "pinctrl-rp1", line = "GPIO17" })
print(gpio.output{ chip = "pinctrl-rp9", line = "GPIO17" })
print(pcall(gpio.line, 5))
lia.stop()
]])
		local r = H.lia_run({ "run", "--hw", "sim", s })
		assert.equal(0, r.status, r.out .. r.err)
		assert.same({
			'gpiochip0 lia-sim 2 GPIO2 "" false input',
			'gpiochip4 pinctrl-rp1 3 GPIO17 "" false input',
			'gpiochip4 pinctrl-rp1 3 GPIO17 "" false input',
			"nil\tpinctrl-rp2: no such chip (neither a gpiochip name nor a label)\tENODEV",
			"nil\tGPIO99: no such line\tENODEV",
			"nil\tpinctrl-rp1:GPIO99: no such line\tENODEV",
			'lia.gpio.line (gpiochip4:3 GPIO17 output)\tgpiochip4 pinctrl-rp1 3 GPIO17 "relay" true output',
			'nil\tgpiochip4:3: line busy (held by "relay")\tEBUSY',
			"nil\tpinctrl-rp9: no such device\tENODEV",
		}, { table.unpack(H.lines(r.out), 1, 9) })
		assert.truthy(H.lines(r.out)[10]:find("^false\t.*line name or { chip, line } expected"), r.out)
	end)
end)
