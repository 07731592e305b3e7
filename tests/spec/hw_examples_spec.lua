-- The hardware examples in scripts/examples/ on the simulated board
-- (--sim scripts/examples/sim_models.lua or models of the test's own),
-- against a real mosquitto.
local H = require "tests.spec.helper"

local EX = H.root .. "/scripts/examples/"

describe("hardware examples (sim)", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	local function run(id, script, models)
		return H.lia_spawn({ "run", "--sim", models or (EX .. "sim_models.lua"), "-h", "127.0.0.1",
			"-p", broker.port, "-i", id, script })
	end

	it("i2c_temperature.lua publishes the TMP102's temperature every INTERVAL", function()
		local id = H.uniq("temp")
		local sub = broker:sub(string.format("-t 'lia/%s/#' -v", id))
		local wrapper = H.script(string.format("INTERVAL = 0.2\ndofile(%q)\n", EX .. "i2c_temperature.lua"))
		local lia = run(id, wrapper)
		assert.truthy(H.wait(function() return #H.lines(sub:stdout()) >= 3 end, 5), H.dump(lia, broker))
		for _, l in ipairs(H.lines(sub:stdout())) do
			local t = tonumber(l:match("^lia/" .. id:gsub("%p", "%%%0") .. "/temperature (%-?%d+%.%d%d)$"))
			assert.truthy(t and t > 15 and t < 28, l)
		end
	end)

	it("i2c_temperature.lua reports a sensor that does not answer and recovers", function()
		local id = H.uniq("tnack")
		local models = H.script([[
local models = require "lia.sim.models"
local timer = require "lia.timer"
local t = models.tmp102{ celsius = -5.25 }
t.dev:nack(true)
timer.after(500, function() t.dev:nack(false) end)
]])
		local sub = broker:sub(string.format("-t 'lia/%s/#' -v", id))
		local wrapper = H.script(string.format("INTERVAL = 0.2\ndofile(%q)\n", EX .. "i2c_temperature.lua"))
		local lia = run(id, wrapper, models)
		assert.truthy(sub:wait_for("/temperature -5.25\n", 5), H.dump(lia, broker) .. sub:stdout())
		assert.truthy(sub:stdout():find(string.format(
			"lia/%s/temperature/error /dev/i2c-1: 0x48: no acknowledge (ENXIO)\n", id), 1, true), sub:stdout())
	end)

	it("button_mqtt.lua publishes one message per (bouncing) press", function()
		local id = H.uniq("btn")
		local models = H.script([[
local models = require "lia.sim.models"
local timer = require "lia.timer"
local b = models.button{ chip = "gpiochip0", line = 27, bounce = 4 }
timer.after(300, b.press)
timer.after(600, b.press)
]])
		local sub = broker:sub(string.format("-t 'lia/%s/button' -v", id))
		local lia = run(id, EX .. "button_mqtt.lua", models)
		assert.truthy(H.wait(function() return #H.lines(sub:stdout()) >= 2 end, 5), H.dump(lia, broker))
		-- An absence: no third message from the bounces of press 2, which
		-- lia got in one batch with it (its publishes come from lia's own
		-- connection, so a mosquitto_pub barrier would not order them).
		H.sleep(0.3)
		local lines = H.lines(sub:stdout())
		assert.equal(2, #lines, sub:stdout())
		assert.truthy(lines[1]:match('/button {"press":1,"timestamp_ns":%d+,"seqno":1}$'), lines[1])
		-- the sequence numbers count every edge, bounces included: a press
		-- is 5 bouncing falling edges and the final one, so press 2 starts at 7
		assert.truthy(lines[2]:match('/button {"press":2,"timestamp_ns":%d+,"seqno":7}$'), lines[2])
	end)

	it("relay_command.lua drives the output from MQTT and reports the state", function()
		local id = H.uniq("relay")
		local wrapper = H.script(string.format([[
local sim = require "lia.sim"
local timer = require "lia.timer"
dofile(%q)
local seen = 0
timer.every(20, function()
	local w = sim.gpio("gpiochip0", 17):writes()
	for i = seen + 1, #w do print("level", w[i]) end
	seen = #w
end)
]], EX .. "relay_command.lua"))
		local sub = broker:sub(string.format("-t 'lia/%s/relay/state' -v", id))
		local lia = H.lia_spawn({ "run", "--hw", "sim", "-h", "127.0.0.1", "-p", broker.port, "-i", id, wrapper })
		assert.truthy(sub:wait_for("relay/state off\n", 5), H.dump(lia, broker))
		broker:pub(string.format("-t 'lia/%s/relay/set' -m on", id))
		assert.truthy(sub:wait_for("relay/state on\n", 5), H.dump(lia, broker))
		broker:pub(string.format("-t 'lia/%s/relay/set' -m toggle", id))
		assert.truthy(H.wait(function() return H.count(sub:stdout(), "relay/state off\n") >= 2 end, 5),
			sub:stdout())
		broker:pub(string.format("-t 'lia/%s/relay/set' -m dance", id))
		assert.truthy(lia:wait_for("unknown command dance", 5, "stderr"), H.dump(lia))
		assert.truthy(lia:wait_for("level\t0\nlevel\t1\nlevel\t0\n", 5), H.dump(lia))
	end)

	it("nmea_telemetry.lua turns the GPS model's sentences into position messages", function()
		local id = H.uniq("gps")
		local sub = broker:sub(string.format("-t 'lia/%s/gps' -v", id))
		local lia = run(id, EX .. "nmea_telemetry.lua")
		assert.truthy(H.wait(function() return #H.lines(sub:stdout()) >= 2 end, 6), H.dump(lia, broker))
		for _, l in ipairs(H.lines(sub:stdout())) do
			local lat, lon = l:match('/gps {"lat":([%d.]+),"lon":([%d.]+),"alt":34.5,"sats":8,"time":"%d+%.00"}$')
			assert.truthy(lat, l)
			assert.truthy(math.abs(lat - 52.5163) < 0.01 and math.abs(lon - 13.3777) < 0.01, l)
		end
		assert.truthy(lia:stderr():find("sim: serial port /dev/ttyUSB0 is the pty /dev/pts/", 1, true), lia:stderr())
	end)
end)
