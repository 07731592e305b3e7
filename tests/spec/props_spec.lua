-- MQTT v5 properties both ways: lia to lia, lia to mosquitto_sub -V 5,
-- mosquitto_pub -V 5 to lia.
local H = require "tests.spec.helper"

describe("v5 properties", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	local publisher = [[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", protocol = 5 }
c:on("connect", function(c)
	local tok = assert(c:publish("p/${TOPIC}/x", "with props", { qos = 1, properties = {
		user = { k = "v", room = "kitchen" }, content_type = "text/plain",
		response_topic = "p/${TOPIC}/reply", correlation_data = "id-42", message_expiry = 60 } }))
	print("SENT", tok:wait(5000))
end)
c:connect()
]]

	it("round trip from one lia script to another", function()
		local topic = H.uniq("rt")
		local rid = H.uniq("recv")
		local receiver = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", protocol = 5 }
c:on("connect", function(c) c:subscribe("p/${TOPIC}/#", 1) end)
c:on("message", function(c, msg)
	local p = msg.properties or {}
	local user = p.user or {}
	print("PAYLOAD", msg.payload)
	print("USER", user.k, user.room)
	print("CT", p.content_type)
	print("RT", p.response_topic)
	print("CD", p.correlation_data)
	print("EXPIRY", math.type(p.message_expiry), p.message_expiry)
	local pairs_seen = {}
	for _, kv in ipairs(p.user_list or {}) do pairs_seen[#pairs_seen + 1] = kv[1] .. "=" .. kv[2] end
	table.sort(pairs_seen)
	print("LIST", table.concat(pairs_seen, ","))
	print("DONE")
end)
c:connect()
]], { ID = rid, TOPIC = topic })
		local recv = H.lia_spawn({ "run", receiver })
		assert.truthy(broker:subscribed(rid), H.dump(recv, broker))
		local pub = H.lia_spawn({ "run", H.script(publisher, { ID = H.uniq("pub"), TOPIC = topic }) })
		assert.truthy(recv:wait_for("DONE\n", 5), H.dump(recv, broker) .. H.dump(pub))
		local out = recv:stdout()
		assert.truthy(out:find("PAYLOAD\twith props\n", 1, true), out)
		assert.truthy(out:find("USER\tv\tkitchen\n", 1, true), out)
		assert.truthy(out:find("CT\ttext/plain\n", 1, true), out)
		assert.truthy(out:find("RT\tp/" .. topic .. "/reply\n", 1, true), out)
		assert.truthy(out:find("CD\tid-42\n", 1, true), out)
		local expiry = tonumber(out:match("EXPIRY\tinteger\t(%d+)\n"))
		assert.truthy(expiry and expiry <= 60 and expiry >= 55, out)
		assert.truthy(out:find("LIST\tk=v,room=kitchen\n", 1, true), out)
		assert.truthy(pub:wait_for("SENT\ttrue\n", 2), H.dump(pub))
	end)

	it("mosquitto_sub -V 5 sees the properties on the wire", function()
		local topic = H.uniq("wire")
		local sub = broker:sub(string.format(
			"-V 5 -q 1 -t 'p/%s/#' -F '%%P|%%C|%%R|%%D|%%E|%%p' -C 1", topic))
		local pub = H.lia_spawn({ "run", H.script(publisher, { ID = H.uniq("pub"), TOPIC = topic }) })
		assert.equal(0, sub:wait(5), H.dump(pub, broker))
		local line = sub:stdout()
		local user, ct, rt, cd, exp, payload = line:match("^(.-)|(.-)|(.-)|(.-)|(%d+)|(.-)\n$")
		assert.truthy(user, line)
		-- user properties in any order
		local u = {}
		for kv in user:gmatch("%S+") do u[#u + 1] = kv end
		table.sort(u)
		assert.same({ "k:v", "room:kitchen" }, u)
		assert.equal("text/plain", ct)
		assert.equal("p/" .. topic .. "/reply", rt)
		assert.equal("id-42", cd)
		assert.truthy(tonumber(exp) >= 55 and tonumber(exp) <= 60, line)
		assert.equal("with props", payload)
	end)

	it("a lia script reads properties sent by mosquitto_pub -V 5", function()
		local id = H.uniq("in")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", protocol = 5 }
c:on("connect", function(c) c:subscribe("p/${ID}/#", 1) end)
c:on("message", function(c, msg)
	local p = msg.properties or {}
	print("GOT", msg.payload, (p.user or {}).a, p.content_type, p.response_topic,
		p.correlation_data, p.payload_format)
end)
c:connect()
]], { ID = id })
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		broker:pub(string.format("-V 5 -q 1 -t 'p/%s/x' -m hi -D publish user-property a b "
			.. "-D publish content-type app/x -D publish response-topic r/t "
			.. "-D publish correlation-data cid -D publish payload-format-indicator 1", id))
		assert.truthy(lia:wait_for("GOT\thi\tb\tapp/x\tr/t\tcid\t1\n", 5), H.dump(lia, broker))
	end)

	it("connect ack reports the v5 reason and properties", function()
		local id = H.uniq("ack")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", protocol = 5 }
c:on("connect", function(c, ack)
	print("ACK", ack.reason, ack.reason_name, ack.session_present, type(ack.properties))
end)
c:connect()
]], { ID = id })
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(lia:wait_for("ACK\t0\t", 5), H.dump(lia, broker))
		assert.truthy(lia:stdout():match("ACK\t0\t[%w ]+\tfalse\ttable\n"), H.dump(lia))
	end)
end)
