-- lia.mqtt module functions: matches (truth table), the one-shot helpers
-- single / multiple / simple, client options.
local H = require "tests.spec.helper"

-- filter, topic, expected
local MATCHES = {
	{ "a/b/c", "a/b/c", true },
	{ "a/b/c", "a/b", false },
	{ "a/b", "a/b/c", false },
	{ "a/+/c", "a/b/c", true },
	{ "a/+/c", "a/b/d", false },
	{ "a/+/c", "a//c", true },
	{ "a/+", "a/", true },
	{ "a/+", "a", false },
	{ "+", "a", true },
	{ "+", "a/b", false },
	{ "+/+", "/a", true },
	{ "+", "/a", false },
	{ "#", "a", true },
	{ "#", "a/b/c", true },
	{ "#", "/", true },
	{ "a/#", "a", true },
	{ "a/#", "a/b", true },
	{ "a/#", "a/b/c", true },
	{ "a/#", "ab", false },
	{ "a/#", "b/a", false },
	{ "a/+/#", "a/b", true },
	{ "a/+/#", "a", false },
	{ "+/b/#", "x/b/y/z", true },
	{ "A/b", "a/b", false },
	{ "a/b/", "a/b/", true },
	{ "a/b/", "a/b", false },
	{ "#", "$SYS/x", false },
	{ "+/x", "$SYS/x", false },
	{ "$SYS/#", "$SYS/x", true },
	{ "$SYS/+", "$SYS/x", true },
	{ "sport/tennis/+", "sport/tennis/player1", true },
	{ "sport/tennis/+", "sport/tennis/player1/ranking", false },
	{ "sport/#", "sport", true },
}

describe("lia.mqtt functions", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("mqtt.matches follows the MQTT topic matching rules", function()
		local rows = {}
		for i, m in ipairs(MATCHES) do
			rows[i] = string.format("{ %q, %q },", m[1], m[2])
		end
		local script = H.script([[
local mqtt = require "lia.mqtt"
for _, m in ipairs{
]] .. table.concat(rows, "\n") .. [[
} do
	print(m[1] .. " " .. m[2] .. " " .. tostring(mqtt.matches(m[1], m[2])))
end
lia.stop()
]])
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.err)
		local got = H.lines(r.out)
		local bad = {}
		for i, m in ipairs(MATCHES) do
			local want = m[1] .. " " .. m[2] .. " " .. tostring(m[3])
			if got[i] ~= want then
				bad[#bad + 1] = string.format("matches(%q, %q): got %s, want %s",
					m[1], m[2], tostring(got[i] and got[i]:match("(%S+)$")), tostring(m[3]))
			end
		end
		assert.equal(#MATCHES, #got, r.out)
		assert.same({}, bad)
	end)

	it("mqtt.single publishes one message and returns", function()
		local t = H.uniq("single")
		local sub = broker:sub(string.format("-q 1 -t '%s' -F '%%q %%r %%p' -C 1", t))
		local script = H.script([[
local mqtt = require "lia.mqtt"
local ok, err = mqtt.single("${T}", "just once", { uri = "mqtt://127.0.0.1:${PORT}", qos = 1, retain = true })
print("SINGLE", ok, err)
lia.stop()
]], { T = t })
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("1 0 just once\n", sub:stdout())
		assert.truthy(r.out:find("SINGLE\ttrue", 1, true), r.out)
		-- retain was honoured
		local r2 = H.run(string.format("mosquitto_sub -h 127.0.0.1 -p %d -t '%s' -F '%%r %%p' -C 1 -W 10",
			broker.port, t))
		assert.equal("1 just once\n", r2.out)
	end)

	it("mqtt.multiple publishes a list of messages", function()
		local t = H.uniq("multi")
		local sub = broker:sub(string.format("-q 2 -t '%s/#' -F '%%q %%t %%p' -C 3", t))
		local script = H.script([[
local mqtt = require "lia.mqtt"
local ok, err = mqtt.multiple({
	{ topic = "${T}/a", payload = "A", qos = 0 },
	{ topic = "${T}/b", payload = "B", qos = 1 },
	{ topic = "${T}/c", payload = "C", qos = 2 },
}, { uri = "mqtt://127.0.0.1:${PORT}" })
print("MULTIPLE", ok, err)
lia.stop()
]], { T = t })
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal(0, sub:wait(5), H.dump(sub, broker) .. r.out .. r.err)
		local got = H.lines(sub:stdout())
		table.sort(got)
		assert.same({ "0 " .. t .. "/a A", "1 " .. t .. "/b B", "2 " .. t .. "/c C" }, got)
	end)

	it("mqtt.simple waits for one message and returns it", function()
		local t, id = H.uniq("simple"), H.uniq("simpleid")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local msg = mqtt.simple("${T}/#", { uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", qos = 1 })
print("SIMPLE", msg.topic, msg.payload, msg.qos)
lia.stop()
]], { T = t, ID = id })
		local lia = H.lia_spawn { "run", script }
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		broker:pub(string.format("-q 1 -t '%s/x' -m first", t))
		assert.equal(0, lia:wait(5), H.dump(lia, broker))
		assert.equal("SIMPLE\t" .. t .. "/x\tfirst\t1\n", lia:stdout())
	end)

	it("mqtt.simple with msg_count returns a list", function()
		local t, id = H.uniq("simple"), H.uniq("simpleid")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local msgs = mqtt.simple({ "${T}/a", "${T}/b" }, { uri = "mqtt://127.0.0.1:${PORT}",
	client_id = "${ID}", msg_count = 2 })
for i, m in ipairs(msgs) do print("MSG", i, m.topic, m.payload) end
lia.stop()
]], { T = t, ID = id })
		local lia = H.lia_spawn { "run", script }
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		broker:pub(string.format("-q 1 -t '%s/a' -m one", t))
		broker:pub(string.format("-q 1 -t '%s/b' -m two", t))
		assert.equal(0, lia:wait(5), H.dump(lia, broker))
		assert.equal(string.format("MSG\t1\t%s/a\tone\nMSG\t2\t%s/b\ttwo\n", t, t), lia:stdout())
	end)

	it("host/port options instead of uri, protocol 3 and 4", function()
		local t = H.uniq("hp")
		local sub = broker:sub(string.format("-t '%s/#' -v -C 2", t))
		local script = H.script([[
local mqtt = require "lia.mqtt"
local n = 0
for _, proto in ipairs{ 3, 4 } do
	local c = mqtt.client{ host = "127.0.0.1", port = ${PORT}, client_id = "${T}-" .. proto, protocol = proto }
	c:on("connect", function(c)
		c:publish("${T}/" .. proto, "p" .. proto, { qos = 1 }):wait(5000)
		c:disconnect()
		n = n + 1
		if n == 2 then lia.stop() end
	end)
	c:connect()
end
]], { T = t })
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		local got = H.lines(sub:stdout())
		table.sort(got)
		assert.same({ t .. "/3 p3", t .. "/4 p4" }, got)
		local log = broker:log()
		assert.truthy(log:find("as " .. t .. "-3 (p1,", 1, true), log)   -- MQTT 3.1
		assert.truthy(log:find("as " .. t .. "-4 (p2,", 1, true), log)   -- MQTT 3.1.1
	end)

	it("a client with a bad uri is refused with a clear error", function()
		local script = H.script([[
local mqtt = require "lia.mqtt"
local res = table.pack(pcall(mqtt.client, { uri = "nonsense://x:y:z" }))
local c, msg
if res[1] then c, msg = res[2], res[3] else msg = res[2] end
print("BADURI", c == nil, type(msg))
lia.stop()
]])
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.err)
		assert.equal("BADURI\ttrue\tstring\n", r.out)
	end)

	it("a client method called on anything but a client raises a clear error; on another client it works", function()
		-- the methods check self against the clients' metatable they carry:
		-- another userdata (a cond, a timer), a table, nil must not pass
		local script = H.script([[
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"
local a = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "self-a" }
local b = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "self-b" }
local t = timer.after(60000, function() end)
for _, bad in ipairs { lia.cond(), t, {}, "x" } do
	local ok, err = pcall(a.publish, bad, "t/x", "p")
	print("BAD", ok, (err:gsub("^[^:]*:%d+: ", "")))
end
local ok, err = pcall(a.stats)
print("NIL", ok, (err:gsub("^[^:]*:%d+: ", "")))
print("OTHER", b.close == a.close, pcall(a.is_connected, b))
print("TOSTRING", tostring(b):match("^lia.mqtt.client %(") ~= nil)
t:stop()
lia.stop()
]])
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.err)
		local bad = "\tfalse\tbad argument #1 to '?' (lia.mqtt.client expected, got "
		assert.equal("BAD" .. bad .. "lia.cond)\nBAD" .. bad .. "lia.timer)\nBAD" .. bad .. "table)\nBAD"
			.. bad .. "string)\nNIL" .. bad .. "no value)\nOTHER\ttrue\ttrue\tfalse\nTOSTRING\ttrue\n", r.out)
	end)

	it("client.client_id, .uri and .protocol read back the options (id generated if none)", function()
		local script = H.script([[
local mqtt = require "lia.mqtt"
local a = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "given-id", protocol = 5 }
local b = mqtt.client{ host = "127.0.0.1", port = ${PORT} }
print("A", a.client_id, a.uri, a.protocol)
print("B", type(b.client_id), #b.client_id > 0, b.uri, b.protocol)
lia.stop()
]])
		local r = H.lia_run { "run", script }
		assert.equal(0, r.status, r.err)
		local p = broker.port
		assert.equal(string.format("A\tgiven-id\tmqtt://127.0.0.1:%d\t5\nB\tstring\ttrue\tmqtt://127.0.0.1:%d\t4\n",
			p, p), r.out)
	end)
end)
