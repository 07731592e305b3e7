-- gpio_test.lua - lia.gpio's Linux backend (uAPI v2) against gpio-sim:
-- discovery, outputs, inputs with bias, edge events, debounce, errors.
-- init sets SIM_CHIP (gpiochipN: 8 lines, 3 = BUTTON, 5 = LED) and SIM_DEV.
local T = dofile("/tests/lib.lua")
local gpio = require "lia.gpio"
local timer = require "lia.timer"

local chip, dev = os.getenv("SIM_CHIP"), os.getenv("SIM_DEV")
local sysfs = "/sys/devices/platform/" .. dev .. "/" .. chip .. "/sim_gpio"
local function sim_value(off) return T.readf(sysfs .. off .. "/value") end
local function sim_pull(off, pull) T.writef(sysfs .. off .. "/pull", pull) end

T.eq("gpio: backend", "linux", gpio.backend)
local found
for _, c in ipairs(gpio.chips()) do if c.name == chip then found = c end end
T.check("gpio.chips() lists the gpio-sim chip", found and found.lines == 8, found and found.lines)
local lines = gpio.lines(chip)
T.eq("gpio.lines(): 8 lines", 8, #lines)
T.eq("gpio.lines(): line 3 is BUTTON", "BUTTON", lines[4] and lines[4].name)

-- outputs, by name across chips
local led = assert(gpio.output{ line = "LED", initial = 1, consumer = "lia-test" })
T.eq("output by name: chip and offset", chip .. ":5", led:info().chip .. ":" .. led:info().line)
T.eq("output initial 1 reaches the line", "1", sim_value(5))
led:write(0)
T.eq("write(0)", "0", sim_value(5))
led:toggle()
T.eq("toggle()", "1", sim_value(5))
T.eq("read() of an output", 1, led:read())
local l5 = gpio.lines(chip)[6]
T.check("gpio.lines(): LED used by lia-test, output", l5.used and l5.consumer == "lia-test"
	and l5.direction == "output", l5.used, l5.consumer, l5.direction)
local r, msg, code = gpio.input{ chip = chip, line = 5 }
T.check("a second request of a line is EBUSY", r == nil and code == "EBUSY", msg, code)
T.check("EBUSY names the consumer", msg and msg:find('held by "lia-test"', 1, true), msg)
-- by name: gpio.line, and the chip by its label (GPIO_V2_GET_LINEINFO_IOCTL)
local info = gpio.line("LED")
T.check("gpio.line(name): chip, offset, consumer", info and info.chip == chip and info.line == 5
	and info.used and info.consumer == "lia-test" and info.label == "lia-bank",
	info and info.chip, info and info.line, info and info.consumer, info and info.label)
info = gpio.line{ chip = "lia-bank", line = "BUTTON" }
T.check("gpio.line{ chip = label, line = name }", info and info.chip == chip and info.line == 3
	and not info.used, info and info.chip, info and info.line)
local _, lmsg, lcode = gpio.line{ chip = "no-such-label", line = "LED" }
T.check("gpio.line: an unknown label", lcode == "ENODEV" and lmsg:find("no such chip", 1, true), lmsg)
led:close()
local bylabel = assert(gpio.output{ chip = "lia-bank", line = "LED", initial = 0 })
T.eq("output on a chip given by its label", chip .. ":5",
	bylabel:info().chip .. ":" .. bylabel:info().line)
bylabel:close()
local al = assert(gpio.output{ chip = chip, line = 6, initial = 1, active_low = true })
T.eq("active-low output: 1 drives the line low", "0", sim_value(6))
al:close()

-- inputs: the bias pulls the simulated line
local up = assert(gpio.input{ chip = chip, line = 1, bias = "pull-up" })
local down = assert(gpio.input{ chip = chip, line = 2, bias = "pull-down" })
T.eq("input with pull-up reads 1", 1, up:read())
T.eq("input with pull-down reads 0", 0, down:read())
up:close(); down:close()

-- errors
r, msg, code = gpio.output{ chip = "gpiochip99", line = 0 }
T.check("missing chip: nil, message, ENODEV", r == nil and msg == "gpiochip99: no such device"
	and code == "ENODEV", msg, code)
r, msg, code = gpio.input{ chip = chip, line = 99 }
T.check("missing line: ENODEV", r == nil and code == "ENODEV", msg, code)
r, msg, code = gpio.input{ line = "NO-SUCH-LINE" }
T.check("missing line name: ENODEV", r == nil and code == "ENODEV", msg, code)

-- edge events with the kernel's timestamps and sequence numbers
local btn = assert(gpio.input{ chip = chip, line = "BUTTON", edge = "both", bias = "pull-down" })
local deb = assert(gpio.input{ chip = chip, line = 4, edge = "both", debounce_ms = 5 })
T.eq("debounce is the kernel's", "kernel", deb:info().debounce)
local evs = {}
local checked = false
local function check_edges()
	if checked then return end
	checked = true
	T.eq("three edges", 3, #evs)
	local e1, e2, e3 = evs[1] or {}, evs[2] or {}, evs[3] or {}
	T.check("edges rising, falling, rising", e1.edge == "rising" and e2.edge == "falling"
		and e3.edge == "rising", e1.edge, e2.edge, e3.edge)
	T.check("seqno 1, 2, 3", e1.seqno == 1 and e2.seqno == 2 and e3.seqno == 3, e1.seqno, e2.seqno, e3.seqno)
	T.check("timestamps increase, about 100 ms apart", e1.timestamp_ns and e2.timestamp_ns
		and e2.timestamp_ns > e1.timestamp_ns and e2.timestamp_ns - e1.timestamp_ns > 50e6,
		e1.timestamp_ns, e2.timestamp_ns)
	T.check("ev.line and ev.name", e1.line == 3 and e1.name == "BUTTON" and e1.chip == chip,
		e1.line, e1.name, e1.chip)
	T.eq("read() after the edges", 1, btn:read())
	btn:close()
	lia.stop()
end
-- checked when the third edge arrived; the long timer is only a guard
btn:on_edge(function(ev) evs[#evs + 1] = ev; if #evs == 3 then check_edges() end end)
timer.after(50, function() sim_pull(3, "pull-up") end)
timer.after(150, function() sim_pull(3, "pull-down") end)
timer.after(250, function() sim_pull(3, "pull-up") end)
timer.after(20000, check_edges)
