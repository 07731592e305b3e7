-- MQTT 5 completeness (issue #16): subscription identifiers, topic aliases
-- both ways, against mosquitto and against tests/tools/v5_server.py, a
-- scripted server for what mosquitto never sends (aliases to clients).
local H = require "tests.spec.helper"

local SERVER = H.root .. "/tests/tools/v5_server.py"

-- a scripted server; returns the process and its port
local function v5_server(...)
	local args = { ... }
	for i, a in ipairs(args) do args[i] = H.q(a) end
	local p = H.spawn("python3 " .. H.q(SERVER) .. " " .. table.concat(args, " "))
	assert(p:wait_for("LISTEN ", 5), H.dump(p))
	return p, tonumber(p:stdout():match("LISTEN (%d+)"))
end

describe("mqtt 5", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	describe("subscription identifiers", function()
		it("subscribe sends the ids; mosquitto's copies carry them", function()
			local topic = H.uniq("sid")
			local id = H.uniq("sid")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", protocol = 5 }
c:on("connect", function(c)
	assert(c:subscribe("s/${T}/#", { qos = 1, properties = { subscription_id = 7 } }):wait(5000))
	assert(c:subscribe("s/${T}/+", { qos = 1, properties = { subscription_id = 9,
		user = { why = "test" } } }):wait(5000))
	print("READY")
end)
c:on("message", function(c, msg)
	print("IDS", table.concat(msg.subscription_ids, ","), msg.topic)
end)
c:connect()
]], { ID = id, T = topic }) })
			assert.truthy(p:wait_for("READY\n", 5), H.dump(p, broker))
			broker:pub("-V 5 -q 1 -t s/" .. topic .. "/x -m hi")
			-- mosquitto 2.0 sends one copy per matching subscription
			assert.truthy(p:wait_for("IDS\t7\ts/" .. topic .. "/x\n", 5), H.dump(p, broker))
			assert.truthy(p:wait_for("IDS\t9\ts/" .. topic .. "/x\n", 5), H.dump(p, broker))
		end)

		it("msg.subscription_ids lists every id of one message (not only the last)", function()
			local srv, port = v5_server("multi-id")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", protocol = 5, reconnect = false }
c:on("connect", function(c) c:subscribe("m/#", { qos = 0, properties = { subscription_id = 7 } }) end)
c:on("message", function(c, msg)
	print("IDS", table.concat(msg.subscription_ids, ","), msg.properties.subscription_identifier)
	c:disconnect()
end)
c:connect()
]], { P = port }) })
			assert.truthy(p:wait_for("IDS\t7,9\t", 5), H.dump(p) .. H.dump(srv))
		end)

		it("per-filter handlers are found by id, even for $share filters", function()
			local topic = H.uniq("shr")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", protocol = 5 }
c:on("connect", function(c)
	assert(c:subscribe("$share/g/${T}/#", { qos = 1, properties = { subscription_id = 3 } },
		function(c, msg) print("SHARED", msg.topic, msg.payload) end):wait(5000))
	assert(c:subscribe("${T}/plain", 1, function(c, msg) print("PLAIN", msg.topic) end):wait(5000))
	print("READY")
end)
c:on("message", function(c, msg) print("FALLBACK", msg.topic) end)
c:connect()
]], { T = topic }) })
			assert.truthy(p:wait_for("READY\n", 5), H.dump(p, broker))
			broker:pub("-V 5 -q 1 -t " .. topic .. "/a -m one")
			assert.truthy(p:wait_for("SHARED\t" .. topic .. "/a\tone\n", 5), H.dump(p, broker))
			broker:pub("-V 5 -q 1 -t " .. topic .. "/plain -m two")
			assert.truthy(p:wait_for("PLAIN\t" .. topic .. "/plain\n", 5), H.dump(p, broker))
			-- the $share subscription matches too, by id: once each, no fallback
			assert.truthy(p:wait_for("SHARED\t" .. topic .. "/plain\ttwo\n", 5), H.dump(p, broker))
			assert.falsy(p:stdout():find("FALLBACK", 1, true), p:stdout())
		end)

		it("unsubscribe sends v5 properties", function()
			local topic = H.uniq("uns")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", protocol = 5 }
c:on("connect", function(c)
	assert(c:subscribe("${T}", 1):wait(5000))
	print("UNSUB", c:unsubscribe("${T}", { properties = { user = { k = "v" } } }):wait(5000))
	print("BAD", pcall(c.unsubscribe, c, "${T}", { properties = { topic_alias = 1 } }))
	c:disconnect()
end)
c:connect()
]], { T = topic }) })
			assert.truthy(p:wait_for("UNSUB\ttrue\n", 5), H.dump(p, broker))
			assert.truthy(p:wait_for("BAD\tfalse", 5), H.dump(p))
		end)
	end)

	it("scripts/examples/docs_mqtt5.lua: failover list, id-routed $share handler, auto aliases", function()
		local r = H.lia_run({ "run", H.root .. "/scripts/examples/docs_mqtt5.lua" },
			{ env = { BROKER = broker:uri(), BROKER2 = "mqtt://127.0.0.1:1" } })
		assert.equal(0, r.status, r.out .. r.err)
		assert.truthy(r.out:find("connected to\t" .. broker:uri() .. "\n", 1, true), r.out)
		assert.truthy(r.out:find("got\tdocs/mqtt5/temperature\t10\tids\t42\n", 1, true), r.out)
		assert.truthy(r.out:find("aliased\t8\tsaved\ttrue\n", 1, true), r.out)
	end)

	it("c:disconnect(reason, properties): 0x04 publishes the will, 0 does not", function()
		local topic = H.uniq("will")
		local sub = broker:sub("-V 5 -q 1 -t 'will/" .. topic .. "/#' -F '%t %p' -C 1")
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local function client(name)
	return mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", protocol = 5, reconnect = false,
		will = { topic = "will/${T}/" .. name, payload = "gone", qos = 1 } }
end
local a, b = client("plain"), client("with")
local n = 0
local function up(c)
	n = n + 1
	if n < 2 then return end
	print("PLAIN", a:disconnect(0, { reason_string = "bye" }))
	print("WITH", b:disconnect(0x04, { reason_string = "bye", user = { k = "v" } }))
end
a:on("connect", up)
b:on("connect", up)
a:connect()
b:connect()
]], { T = topic }) })
		assert.equal(0, sub:wait(10000), H.dump(p, broker) .. sub:output())
		-- only the will of the client that disconnected with 0x04
		assert.equal(("will/%s/with gone\n"):format(topic), sub:stdout())
		assert.truthy(p:wait_for("WITH", 5), H.dump(p))
		assert.truthy(p:stdout():find("PLAIN\ttrue", 1, true), p:stdout())
		assert.truthy(p:stdout():find("WITH\ttrue", 1, true), p:stdout())
	end)

	describe("topic aliases", function()
		it("explicit: with a topic, then by alias only; topic_alias = 0 returns nil, message", function()
			local topic = H.uniq("ta")
			local sub = broker:sub("-V 5 -q 1 -t 'ta/" .. topic .. "/#' -F '%t %p' -C 3")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", protocol = 5 }
c:on("connect", function(c)
	print("A", c:publish("ta/${T}/x", "1", { qos = 1, properties = { topic_alias = 1 } }):wait(5000))
	print("B", c:publish("", "2", { qos = 1, properties = { topic_alias = 1 } }):wait(5000))
	print("C", c:publish("", "3", { qos = 0, properties = { topic_alias = 1 } }) ~= nil)
	print("ZERO", c:publish("ta/${T}/x", "z", { properties = { topic_alias = 0 } }))
	print("UNKNOWN", c:publish("", "u", { properties = { topic_alias = 2 } }))
	local st = c:stats()
	print("STATS", st.alias_out, st.alias_out_max)
end)
c:connect()
]], { T = topic }) })
			assert.equal(0, sub:wait(5000), H.dump(p, broker) .. sub:output())
			assert.equal(("ta/%s/x 1\nta/%s/x 2\nta/%s/x 3\n"):format(topic, topic, topic), sub:stdout())
			assert.truthy(p:wait_for("STATS", 5), H.dump(p))
			local out = p:stdout()
			assert.truthy(out:find("A\ttrue\nB\ttrue\nC\ttrue\n", 1, true), out)
			assert.truthy(out:find("ZERO\tnil\ttopic_alias must be an integer 1..65535", 1, true), out)
			assert.truthy(out:find("UNKNOWN\tnil\ttopic alias has no topic yet", 1, true), out)
			-- mosquitto's default max_topic_alias is 10
			assert.truthy(out:find("STATS\t2\t10\n", 1, true), out)
		end)

		it("auto: the topics published most get aliases, bytes saved in c:stats()", function()
			local topic = H.uniq("auto") .. "/a/rather/long/topic/name/for/a/sensor"
			local sub = broker:sub("-V 5 -q 1 -t '" .. topic .. "/#' -F '%t %p' -C 40")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", protocol = 5, topic_aliases = "auto" }
c:on("connect", function(c)
	local last
	for i = 1, 20 do
		last = c:publish("${T}/temp", tostring(i), 1)
		c:publish("${T}/hum", tostring(i), 1)
	end
	last:wait(5000)
	local st = c:stats()
	print("STATS", st.alias_out, st.alias_bytes_saved)
	-- a reconnect forgets every alias: the next publish carries its topic
	c:disconnect()
end)
c:connect()
]], { T = topic }) })
			assert.equal(0, sub:wait(10000), H.dump(p, broker) .. sub:output())
			local lines = H.lines(sub:stdout())
			assert.equal(40, #lines)
			local n = 0
			for _, l in ipairs(lines) do
				if l:find(topic .. "/temp ", 1, true) == 1 then n = n + 1 end
			end
			assert.equal(20, n)
			assert.truthy(p:wait_for("STATS", 5), H.dump(p))
			local out, saved = p:stdout():match("STATS\t(%d+)\t(%-?%d+)\n")
			-- the first of each topic goes with its topic (seen once), the
			-- second sets the alias, the 18 others go by alias only
			assert.equal("36", out, p:stdout())
			assert.truthy(tonumber(saved) > 36 * #topic, p:stdout())
		end)

		it("a mapping is per connection: the DUP resend after a reconnect carries the topic", function()
			local srv, port = v5_server("dup-alias")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", client_id = "dupc", protocol = 5,
	clean = false, session_expiry = 300, topic_aliases = "auto", reconnect = { min = 0.1, max = 0.2 } }
local n = 0
c:on("connect", function(c, ack)
	n = n + 1
	if n == 1 then
		c:publish("d/t", "1", 1)
		c:publish("d/t", "2", 1)
		c:publish("d/t", "3", 1)
	end
end)
c:connect()
]], { P = port }) })
			-- 1 goes with its topic (seen once), 2 sets alias 1, 3 goes by alias
			-- only and is never acknowledged; the link drops
			assert.truthy(srv:wait_for("PUBLISH dup=0 topic=- alias=1 payload=3\n", 5), H.dump(srv) .. H.dump(p))
			assert.truthy(srv:wait_for("PUBLISH dup=1 topic=d/t", 10), H.dump(srv) .. H.dump(p))
			local out = srv:stdout()
			assert.truthy(out:find("PUBLISH dup=0 topic=d/t alias=- payload=1\n", 1, true), out)
			assert.truthy(out:find("PUBLISH dup=0 topic=d/t alias=1 payload=2\n", 1, true), out)
			assert.falsy(out:find("PUBLISH dup=1 topic=-", 1, true), out)
		end)

		it("incoming: honoured up to topic_alias_maximum, reset per connection, 0x94 over it", function()
			local srv, port = v5_server("alias")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", protocol = 5, reconnect = false,
	properties = { topic_alias_maximum = 4 } }
c:on("connect", function(c) c:subscribe("a/#", 0) end)
c:on("message", function(c, msg) print("MSG", msg.topic, msg.payload) end)
c:on("disconnect", function(c, info) print("DISC", info.reason, info.message) end)
c:connect()
]], { P = port }) })
			assert.truthy(srv:wait_for("GOT DISCONNECT 0x94\n", 5), H.dump(srv) .. H.dump(p))
			assert.truthy(srv:stdout():find("ALIAS_MAX 4\n", 1, true), srv:stdout())
			assert.truthy(p:wait_for("DISC\t148", 5), H.dump(p))
			local out = p:stdout()
			assert.truthy(out:find("MSG\ta/b\tone\nMSG\ta/b\ttwo\n", 1, true), out)
			assert.falsy(out:find("three", 1, true), out)
			assert.truthy(p:stderr():find("topic alias 9; our Topic Alias Maximum is 4", 1, true),
				p:stderr())
		end)

		it("incoming: an alias never given a topic is a protocol error (0x82)", function()
			local srv, port = v5_server("alias-unknown")
			local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", protocol = 5, reconnect = false,
	properties = { topic_alias_maximum = 4 } }
c:on("connect", function(c) c:subscribe("a/#", 0) end)
c:on("message", function(c, msg) print("MSG", msg.topic) end)
c:connect()
]], { P = port }) })
			assert.truthy(srv:wait_for("GOT DISCONNECT 0x82\n", 5), H.dump(srv) .. H.dump(p))
			assert.falsy(p:stdout():find("MSG", 1, true), p:stdout())
		end)
	end)

	it("a broker without shared subscriptions (0x9E): the $share filter is dropped, also from the store", function()
		local srv, port = v5_server("no-share")
		local dir = H.tmp(H.uniq("noshare"))
		local id = H.uniq("noshare")
		local function start(subs)
			return H.lia_spawn({ "run", "--data-dir", dir, H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", protocol = 5, client_id = "${ID}",
	clean = false, session_expiry = 600, reconnect = { min = 0.05, max = 0.2 } }
for f in ("${SUBS}"):gmatch("%S+") do c:subscribe(f, 1) end
c:on("subscribe", function(c, mid, codes) print("SUBACK", codes[1]) end)
c:connect()
]], { P = port, ID = id, SUBS = subs }) })
		end
		local p = start("$share/g/x plain/x")
		-- $share/g/x: DISCONNECT 0x9E (as ejabberd does), its token fails with
		-- 0x9E; after the reconnect only plain/x goes out, and is granted
		assert.truthy(p:wait_for("SUBACK\t158\n", 15), H.dump(p) .. H.dump(srv))
		assert.truthy(p:wait_for("SUBACK\t0\n", 15), H.dump(p) .. H.dump(srv))
		assert.truthy(p:stderr():find("subscription to $share/g/x dropped", 1, true), p:stderr())
		assert.equal(0, p:stop())
		-- the next start (same id, same data directory) does not send it again
		local q = start("plain/y")
		assert.truthy(q:wait_for("SUBACK\t0\n", 15), H.dump(q) .. H.dump(srv))
		assert.equal(0, q:stop())
		local subs = {}
		for line in srv:stdout():gmatch("SUBSCRIBE ([^\n]*)") do subs[#subs + 1] = line end
		assert.equal(1, H.count(srv:stdout(), "$share/g/x"), srv:stdout())
		assert.truthy(subs[1]:find("$share/g/x", 1, true), srv:stdout())
		for i = 2, #subs do assert.falsy(subs[i]:find("$share", 1, true), srv:stdout()) end
		assert.truthy(srv:stdout():find("SUBSCRIBE plain/y\n", 1, true), srv:stdout())
		-- and no filter went out twice on one connection
		local seen = {}
		for line in srv:stdout():gmatch("[^\n]+") do
			if line:find("^CONNECT ") then seen = {} end
			local f = line:match("^SUBSCRIBE (.*)")
			if f then
				assert.falsy(seen[f], "sent twice: " .. f .. "\n" .. srv:stdout())
				seen[f] = true
			end
		end
	end)
end)
