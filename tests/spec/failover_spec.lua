-- Failover and redirection (issue #16): uri as a list, tried in order
-- with the backoff only between rounds; v5 Server References followed
-- when follow_redirect = true; c.uri and the "connect" event name the
-- broker in use.
local H = require "tests.spec.helper"

local SERVER = H.root .. "/tests/tools/v5_server.py"

local function v5_server(...)
	local args = { ... }
	for i, a in ipairs(args) do args[i] = H.q(a) end
	local p = H.spawn("python3 " .. H.q(SERVER) .. " " .. table.concat(args, " "))
	assert(p:wait_for("LISTEN ", 5), H.dump(p))
	return p, tonumber(p:stdout():match("LISTEN (%d+)"))
end

-- a loopback port nobody listens on (bound, then closed)
local function dead_port()
	local srv, port = v5_server("redirect", "1")
	srv:stop()
	return port
end

describe("failover", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("uri list: a dead first broker is skipped at once, not after the backoff", function()
		local b = H.broker()
		local dead = dead_port()
		local t0 = H.now()
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = { "mqtt://127.0.0.1:${D}", "mqtt://127.0.0.1:${P}" },
	reconnect = { min = 30, max = 60 } }
c:on("connect", function(c, ack) print("CONNECT", ack.uri, c.uri) end)
c:connect()
]], { D = dead, P = b.port }) })
		local want = ("CONNECT\tmqtt://127.0.0.1:%d\tmqtt://127.0.0.1:%d\n"):format(b.port, b.port)
		assert.truthy(p:wait_for(want, 10), H.dump(p, b))
		-- the reconnect backoff is 30 s: only the round order can explain this
		assert.truthy(H.now() - t0 < 20, "took " .. (H.now() - t0))
	end)

	it("a lost broker: the next one in the list within the backoff, subscriptions sent again", function()
		local a, b = H.broker(), H.broker()
		local topic = H.uniq("fo")
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = { "mqtt://127.0.0.1:${A}", "mqtt://127.0.0.1:${B}" },
	client_id = "${ID}", reconnect = { min = 0.5, max = 1 } }
c:on("connect", function(c, ack) print("CONNECT", ack.uri) c:subscribe("${T}", 1) end)
c:on("message", function(c, msg) print("MSG", msg.payload, c.uri) end)
c:connect()
]], { A = a.port, B = b.port, ID = H.uniq("fo"), T = topic }) })
		assert.truthy(p:wait_for("CONNECT\tmqtt://127.0.0.1:" .. a.port .. "\n", 10), H.dump(p, a))
		a:stop()
		assert.truthy(p:wait_for("CONNECT\tmqtt://127.0.0.1:" .. b.port .. "\n", 10), H.dump(p, b))
		assert.truthy(H.wait(function() return b:log():find("Sending SUBACK", 1, true) end, 10), b:log())
		b:pub("-q 1 -t " .. topic .. " -m after")
		assert.truthy(p:wait_for("MSG\tafter\tmqtt://127.0.0.1:" .. b.port .. "\n", 10), H.dump(p, b))
	end)

	it("follow_redirect: CONNACK 0x9D with a Server Reference moves the client", function()
		local b = H.broker()
		local srv, port = v5_server("redirect", tostring(b.port))
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${S}", protocol = 5, follow_redirect = true,
	reconnect = { min = 30, max = 60 } }
c:on("connect", function(c, ack) print("CONNECT", ack.reason, ack.uri) end)
c:on("connect_failed", function(c, ack) print("CONNECT", ack.reason, ack.uri) end)
c:connect()
]], { S = port }) })
		assert.truthy(p:wait_for("CONNECT\t157\tmqtt://127.0.0.1:" .. port .. "\n", 10), H.dump(p))
		assert.truthy(p:wait_for("CONNECT\t0\tmqtt://127.0.0.1:" .. b.port .. "\n", 10), H.dump(p, b))
		assert.truthy(p:stderr():find("following the server reference to mqtt://127.0.0.1:" .. b.port,
			1, true), p:stderr())
	end)

	it("without follow_redirect the reference is only logged", function()
		local b = H.broker()
		local srv, port = v5_server("redirect", tostring(b.port))
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${S}", protocol = 5, reconnect = false }
c:on("connect", function(c, ack) print("CONNECT", ack.reason) end)
c:on("disconnect", function(c, info) print("DISC", info.will_reconnect) end)
c:connect()
]], { S = port }) })
		assert.truthy(p:wait_for("DISC\tfalse\n", 10), H.dump(p))
		assert.truthy(p:stderr():find("broker names another server (127.0.0.1:" .. b.port ..
			"); follow_redirect is off", 1, true), p:stderr())
		assert.falsy(b:log():find("New client", 1, true))
	end)

	it("follow_redirect: DISCONNECT 0x9C with a reference, and subscriptions follow", function()
		local b = H.broker()
		local srv, port = v5_server("disconnect-redirect", tostring(b.port))
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${S}", protocol = 5, follow_redirect = true,
	reconnect = { min = 30, max = 60 } }
c:subscribe("r/#", 1)
c:on("connect", function(c, ack) print("CONNECT", ack.uri) end)
c:on("disconnect", function(c, info) print("DISC", info.reason) end)
c:connect()
]], { S = port }) })
		assert.truthy(p:wait_for("DISC\t156\n", 10), H.dump(p) .. H.dump(srv))
		assert.truthy(p:wait_for("CONNECT\tmqtt://127.0.0.1:" .. b.port .. "\n", 10), H.dump(p, b))
		assert.truthy(H.wait(function() return b:log():find("Sending SUBACK", 1, true) end, 10), b:log())
	end)

	it("a bad entry in the list is a clear error", function()
		local r = H.lia_run({ "run", H.script([[
local mqtt = require "lia.mqtt"
print(pcall(mqtt.client, { uri = { "mqtt://127.0.0.1:1883", "bogus://x" } }))
print(pcall(mqtt.client, { uri = {} }))
lia.stop()
]]) })
		assert.truthy(r.out:find("false\tmqtt.client: ", 1, true), r.out)
		assert.truthy(r.out:find("bogus", 1, true), r.out)
		assert.truthy(r.out:find("a URI or a list of 1 to 64 URIs expected", 1, true), r.out)
	end)
end)
