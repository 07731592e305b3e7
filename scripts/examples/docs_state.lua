-- docs_state.lua - what survives a crash or a power cut: a boot counter in
-- lia.state, and a QoS 1 reading once its token says "stored".
local mqtt = require "lia.mqtt"
local state = require "lia.state"

local boots = state.get("boots", 0) + 1
state.set("boots", boots)
print("boot", boots)

local c = mqtt.client{
	uri = os.getenv("BROKER") or "mqtt://localhost",
	client_id = "docs-state",   -- a stable id: the store is kept per client id and broker
	clean = false,
	max_queued = 10000, max_age = 24 * 3600, drain_rate = 50,
}
c:connect()
local tok = c:publish("lia/docs/boot", tostring(boots), 1)
print("stored", tok:wait("stored"))     -- on disk: survives kill -9 and power loss
print("acked", tok:wait(5000))          -- and the broker has it
local st = c:stats()
print("queued", st.queued, "dropped", st.dropped, "persistent", st.persistent)
lia.stop()
