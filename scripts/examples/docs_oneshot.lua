-- docs_oneshot.lua - mqtt.matches and the one-shot helpers single,
-- multiple and simple (docs/lua-api.md).
--
--   BROKER=mqtt://localhost:1883 lia run scripts/examples/docs_oneshot.lua
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"

local broker = { uri = os.getenv("BROKER") or "mqtt://localhost:1883" }

print("matches a/+/c a/b/c:", mqtt.matches("a/+/c", "a/b/c"))   -- true
print("matches a/# a:", mqtt.matches("a/#", "a"))               -- true
print("matches a/+ a/b/c:", mqtt.matches("a/+", "a/b/c"))       -- false

-- In 500 ms, another coroutine publishes: one message, then two at once.
timer.after(500, function()
	mqtt.single("docs/oneshot/first", "hello", { uri = broker.uri, qos = 1 })
	mqtt.multiple({
		{ topic = "docs/oneshot/second", payload = "two", qos = 1 },
		{ topic = "docs/oneshot/third", payload = "three", qos = 1 },
	}, { uri = broker.uri })
end)

-- Meanwhile the main chunk waits for three messages (simple yields).
local msgs = mqtt.simple("docs/oneshot/#", { uri = broker.uri, qos = 1, msg_count = 3 })
for _, m in ipairs(msgs) do print("received", m.topic, m.payload) end
lia.stop()
