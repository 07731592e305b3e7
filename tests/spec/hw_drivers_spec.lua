-- The I2C sensor drivers (lua/lib/drivers/) on the simulated bus, against
-- their models (lua/lib/sim_models.lua) and the datasheets' formulas and
-- worked examples.
local H = require "tests.spec.helper"
package.path = H.root .. "/lua/lib/?.lua;" .. package.path
local bme280 = require "drivers.bme280"
local sht3x = require "drivers.sht3x"
local ads1115 = require "drivers.ads1115"

-- The datasheet's 32-bit integer humidity compensation (BME280 datasheet
-- 4.2.3, bme280_compensate_H_int32), an independent check of the driver's
-- floating-point one. >> on negative values is arithmetic in C: // here.
local function humidity_int32(k, adc_H, t_fine)
	local v = math.floor(t_fine) - 76800
	v = (((adc_H * 16384) - (k.H4 * 1048576) - (k.H5 * v)) + 16384) // 32768 *
		(((((((v * k.H6) // 1024) * (((v * k.H3) // 2048) + 32768)) // 1024) + 2097152) *
			k.H2 + 8192) // 16384)
	v = v - (((((v // 32768) * (v // 32768)) // 128) * k.H1) // 16)
	v = math.max(0, math.min(419430400, v))
	return (v // 4096) / 1024
end

-- The worked example's calibration (BMP280 datasheet 3.12) and the humidity
-- trimming values lia.sim.models.bme280 uses by default.
local K = {
	T1 = 27504, T2 = 26435, T3 = -1000,
	P1 = 36477, P2 = -10685, P3 = 3024, P4 = 2855, P5 = 140, P6 = -7, P7 = 15500,
	P8 = -14600, P9 = 6000,
	H1 = 75, H2 = 362, H3 = 0, H4 = 313, H5 = 50, H6 = 30,
}

-- run a script on the simulated board; it prints, then stops
local function sim_run(code)
	local r = H.lia_run({ "run", "--hw", "sim", H.script(code .. "\nlia.stop()\n") })
	assert.equal(0, r.status, r.out .. r.err)
	return H.lines(r.out), r
end

describe("I2C drivers", function()
	teardown(H.cleanup)

	it("BME280: the datasheet's worked example (adc_T 519888 -> 25.08 C, adc_P 415148 -> 100653.27 Pa)", function()
		local k = K
		local t, t_fine = bme280.temperature(k, 519888)
		assert.equal(128422, math.floor(t_fine))
		assert.near(25.08, t, 0.005)
		assert.near(100653.27, bme280.pressure(k, 415148, t_fine), 0.01)
	end)

	it("BME280: humidity agrees with the datasheet's integer formula", function()
		local k = K
		for _, adc_H in ipairs({ 20000, 26000, 30000, 35000, 40000 }) do
			for _, adc_T in ipairs({ 400000, 519888, 600000 }) do
				local _, t_fine = bme280.temperature(k, adc_T)
				assert.near(humidity_int32(k, adc_H, t_fine), bme280.humidity(k, adc_H, t_fine), 0.01)
			end
		end
	end)

	it("BME280 on the simulated bus: chip id, calibration read back, forced-mode reads", function()
		local out = sim_run([[
local i2c, models = require "lia.i2c", require "lia.sim.models"
local drv = require "lia.drivers.bme280"
local m = models.bme280{ addr = 0x76 }
local s = assert(drv.open(assert(i2c.open("/dev/i2c-1")):device(0x76)))
local k = s.calibration
print(k.T1, k.T2, k.T3, k.P9, k.H1, k.H2, k.H4, k.H5, k.H6)
local v = assert(s.read())
print(string.format("%.2f %.2f %.3f", v.temperature, v.pressure, v.humidity), m.measurements)
m.set(500000, 400000, 25000)
v = assert(s.read())
print(string.format("%.2f %.2f", v.temperature, v.pressure), m.measurements)
models.tmp102{ addr = 0x48 }
print(drv.open(assert(i2c.open("/dev/i2c-1")):device(0x48)))
print(drv.open(assert(i2c.open("/dev/i2c-1")):device(0x77)))
]])
		assert.equal("27504\t26435\t-1000\t6000\t75\t362\t313\t50\t30", out[1])
		local t, p, h = out[2]:match("^(%S+) (%S+) (%S+)\t1$")
		assert.equal("25.08", t)
		assert.equal("1006.53", p)
		local k = K
		local _, t_fine = bme280.temperature(k, 519888)
		assert.near(humidity_int32(k, 30000, t_fine), tonumber(h), 0.01)
		assert.truthy(out[3]:find("\t2$"), out[3])
		assert.truthy(out[4]:find("^nil\tchip id 0x.*not a BME280 %(0x60%)\tENODEV$"), out[4])
		assert.truthy(out[5]:find("^nil\t/dev/i2c%-1: 0x77: no acknowledge"), out[5])
	end)

	it("SHT3x: CRC-8 of the datasheet (0xBEEF -> 0x92), conversions, a bad CRC is an error", function()
		assert.equal(0x92, sht3x.crc8("\xBE\xEF"))
		local out = sim_run([[
local i2c, models = require "lia.i2c", require "lia.sim.models"
local drv = require "lia.drivers.sht3x"
local m = models.sht3x{ celsius = 22.5, humidity = 45 }
local s = drv.open(assert(i2c.open("/dev/i2c-1")):device(0x44))
local v = assert(s.read())
print(string.format("%.2f %.2f", v.temperature, v.humidity))
m.set(-10.25, 99.5)
v = assert(s.read())
print(string.format("%.2f %.2f", v.temperature, v.humidity))
m.corrupt(true)
print(s.read())
]])
		assert.same({ "22.50 45.00", "-10.25 99.50", "nil\tCRC mismatch\tEIO" }, out)
		-- the formulas: T = -45 + 175 * raw / 65535, RH = 100 * raw / 65535
		local t, h = sht3x.decode("\x66\x66" .. string.char(sht3x.crc8("\x66\x66")) ..
			"\x80\x00" .. string.char(sht3x.crc8("\x80\x00")))
		assert.near(-45 + 175 * 0x6666 / 65535, t, 1e-9)
		assert.near(100 * 0x8000 / 65535, h, 1e-9)
	end)

	it("ADS1115: config words, single-ended conversions at two gains", function()
		-- AIN0, FSR 2.048 V, single shot, 128 SPS, comparator off: 0xC583
		assert.equal(0xC583, ads1115.config(0, 2))
		assert.equal(0xF383, ads1115.config(3, 1))
		assert.near(2.048, ads1115.volts(32768, 2), 1e-12)
		local out = sim_run([[
local i2c, models = require "lia.i2c", require "lia.sim.models"
local drv = require "lia.drivers.ads1115"
local m = models.ads1115{ volts = { 1.65, 0.5, -0.25, 3.0 } }
local bus = assert(i2c.open("/dev/i2c-1"))
local a = drv.open(bus:device(0x48), { channels = { 0, 1, 2, 3 } })
local v = assert(a.read())
print(string.format("%.4f %.4f %.4f %.4f", v.a0, v.a1, v.a2, v.a3), m.conversions)
local b = drv.open(bus:device(0x48), { gain = 4.096, channels = { 3 } })
print(string.format("%.4f", assert(b.read()).a3))
print(pcall(drv.open, bus:device(0x48), { gain = 3 }))
]])
		-- 3.0 V clips at the largest code, 0x7FFF = 2.048 * 32767 / 32768
		assert.equal("1.6500 0.5000 -0.2500 2.0479\t4", out[1])
		assert.equal("3.0000", out[2])
		assert.truthy(out[3]:find("gain must be"), out[3])
	end)

	it("TMP102 driver", function()
		local out = sim_run([[
local i2c, models = require "lia.i2c", require "lia.sim.models"
local drv = require "lia.drivers.tmp102"
models.tmp102{ celsius = -5.25 }
print(assert(drv.open(assert(i2c.open("/dev/i2c-1")):device(0x48)).read()).temperature)
]])
		assert.same({ "-5.25" }, out)
	end)
end)
