-- sim_models.lua - the simulated board the hardware examples run on:
--
--   lia run --sim scripts/examples/sim_models.lua -h localhost -i pi-1 \
--       scripts/examples/i2c_temperature.lua
--
--   /dev/i2c-1 0x48    a TI TMP102 temperature sensor, around 21.5 C
--   /dev/ttyUSB0       a u-blox GPS sending NMEA GGA + RMC once a second
--   gpiochip0 line 27  a push button (to ground, bouncing) pressed every 3 s
--   gpiochip0 line 17  free for an LED or a relay (its writes are recorded)
local models = require "lia.sim.models"

models.tmp102{ bus = "/dev/i2c-1", addr = 0x48, celsius = 21.5, wander = 0.2 }
models.nmea{ path = "/dev/ttyUSB0", interval_ms = 1000 }
models.button{ chip = "gpiochip0", line = 27, every_ms = 3000 }
