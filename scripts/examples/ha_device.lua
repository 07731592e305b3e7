-- ha_device.lua - a Raspberry Pi as a two-relay board plus a temperature
-- sensor in Home Assistant, without code: lia.device and MQTT discovery.
-- The relays open (safe = 0) whenever the broker is gone.
--   lia run scripts/examples/ha_device.lua             (BROKER, DEVICE_ID from the environment)
--   lia run --sim scripts/examples/sim_models.lua scripts/examples/ha_device.lua   (simulated)
require("lia.device"){
	id = os.getenv("DEVICE_ID") or "relay-pi",
	name = "Relay board",
	broker = os.getenv("BROKER") or "mqtt://localhost",
	outputs = {
		relay1 = { line = "GPIO17", name = "Relay 1", safe = 0 },
		relay2 = { line = "GPIO22", name = "Relay 2", safe = 0 },
	},
	sensors = { room = { driver = "tmp102", addr = 0x48, interval = 30, name = "Room" } },
}
