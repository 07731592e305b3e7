-- MQTT 5 enhanced authentication (issue #16): SCRAM-SHA-256 built in, a
-- script's own method through auth.on_challenge, c:reauthenticate(),
-- against tests/tools/v5_server.py (which checks the SCRAM proof itself
-- with Python's hashlib, an implementation independent of lia's).
local H = require "tests.spec.helper"

local SERVER = H.root .. "/tests/tools/v5_server.py"

local function v5_server(...)
	local args = { ... }
	for i, a in ipairs(args) do args[i] = H.q(a) end
	local p = H.spawn("python3 " .. H.q(SERVER) .. " " .. table.concat(args, " "))
	assert(p:wait_for("LISTEN ", 5), H.dump(p))
	return p, tonumber(p:stdout():match("LISTEN (%d+)"))
end

describe("enhanced authentication", function()
	teardown(H.cleanup)
	after_each(H.reap)

	local scram_client = [[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", protocol = 5, reconnect = false,
	auth = { method = "SCRAM-SHA-256", username = "${U}", password = "${PW}" } }
c:on("connect", function(c, ack)
	print("CONNECT", ack.reason, ack.properties.authentication_method)
	if ack.reason == 0 then print("REAUTH", c:reauthenticate()) end
end)
c:on("auth", function(c, info)
	print("AUTHDONE", info.reason, info.reauth)
	c:disconnect()
end)
c:on("disconnect", function(c, info) print("DISC", info.reason, info.message) end)
c:connect()
]]

	it("SCRAM-SHA-256: the server checks our proof, we check its signature, then re-auth", function()
		local srv, port = v5_server("scram", "alice", "s3cret")
		local p = H.lia_spawn({ "run", H.script(scram_client, { P = port, U = "alice", PW = "s3cret" }) })
		assert.truthy(p:wait_for("AUTHDONE\t0\ttrue\n", 10), H.dump(p) .. H.dump(srv))
		local out = p:stdout()
		assert.truthy(out:find("CONNECT\t0\tSCRAM-SHA-256\nREAUTH\ttrue\n", 1, true), out)
		assert.equal(2, H.count(srv:stdout(), "SCRAM OK\n"), srv:stdout())
		assert.truthy(srv:wait_for("GOT DISCONNECT 0x00", 5), srv:stdout())
		-- the password never goes over the wire in clear
		assert.falsy(srv:stdout():find("s3cret", 1, true))
	end)

	it("SCRAM-SHA-256 with a wrong password: refused, one clear line", function()
		local srv, port = v5_server("scram", "alice", "s3cret")
		local p = H.lia_spawn({ "run", H.script(scram_client, { P = port, U = "alice", PW = "nope" }) })
		assert.truthy(p:wait_for("DISC\t134", 10), H.dump(p) .. H.dump(srv))
		assert.truthy(srv:stdout():find("SCRAM BAD PROOF", 1, true), srv:stdout())
		assert.truthy(p:stderr():find("refused by broker: bad_user_name_or_password (0x86)", 1, true),
			p:stderr())
	end)

	it("a script's own method: on_challenge returns each reply; c:reauthenticate() runs it again", function()
		local srv, port = v5_server("challenge")
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local replies = { c1 = "r1", c2 = "r2" }
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", protocol = 5, reconnect = false,
	auth = { method = "TEST", data = "hello", on_challenge = function(c, data, props)
		print("CHALLENGE", data, props.authentication_method)
		return replies[data]
	end } }
c:on("connect", function(c, ack)
	print("CONNECT", ack.reason)
	print("REAUTH", c:reauthenticate())
	print("AGAIN", c:reauthenticate())
end)
c:on("auth", function(c, info) print("AUTHDONE", info.reason, info.reauth) c:disconnect() end)
c:connect()
]], { P = port }) })
		assert.truthy(p:wait_for("AUTHDONE\t0\ttrue\n", 10), H.dump(p) .. H.dump(srv))
		local out = p:stdout()
		assert.truthy(out:find("CHALLENGE\tc1\tTEST\nCONNECT\t0\nREAUTH\ttrue\n", 1, true), out)
		assert.truthy(out:find("AGAIN\tnil\tcannot re-authenticate now", 1, true), out)
		assert.truthy(out:find("CHALLENGE\tc2\tTEST\n", 1, true), out)
		local so = srv:stdout()
		assert.truthy(so:find("METHOD TEST DATA hello\n", 1, true), so)
		assert.truthy(so:find("REPLY r1\n", 1, true) and so:find("REPLY r2\n", 1, true), so)
	end)

	it("on_challenge returning nil gives up: the connection closes (0x87)", function()
		local srv, port = v5_server("challenge")
		local p = H.lia_spawn({ "run", H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${P}", protocol = 5, reconnect = false,
	auth = { method = "TEST", on_challenge = function() return nil end } }
c:on("connect", function() print("CONNECTED") end)
c:on("disconnect", function(c, info) print("DISC", info.reason, info.message) end)
c:connect()
]], { P = port }) })
		assert.truthy(p:wait_for("DISC\t135\tprotocol error: authentication given up", 10),
			H.dump(p) .. H.dump(srv))
		assert.falsy(p:stdout():find("CONNECTED", 1, true))
	end)

	it("scripts/examples/docs_scram.lua authenticates and re-authenticates", function()
		local srv, port = v5_server("scram", "alice", "s3cret")
		local r = H.lia_run({ "run", H.root .. "/scripts/examples/docs_scram.lua" },
			{ env = { BROKER = "mqtt://127.0.0.1:" .. port, MQTT_USER = "alice", MQTT_PASS = "s3cret" } })
		assert.equal(0, r.status, r.out .. r.err .. srv:stdout())
		assert.truthy(r.out:find("authenticated:\tsuccess\nre-authenticate:\ttrue\nre-authenticated:\tsuccess\n",
			1, true), r.out .. r.err)
	end)

	it("misuse raises with the option's name", function()
		local r = H.lia_run({ "run", H.script([[
local mqtt = require "lia.mqtt"
print(pcall(mqtt.client, { protocol = 5, auth = { method = "SCRAM-SHA-256" } }))
print(pcall(mqtt.client, { protocol = 4, auth = { method = "TEST" } }))
print(pcall(mqtt.client, { protocol = 5, auth = { method = "TEST", bogus = 1 } }))
lia.stop()
]]) })
		assert.truthy(r.out:find("SCRAM-SHA-256 needs auth.username and auth.password", 1, true), r.out)
		assert.truthy(r.out:find("needs protocol = 5", 1, true), r.out)
		assert.truthy(r.out:find("unknown option 'auth.bogus'", 1, true), r.out)
	end)
end)
