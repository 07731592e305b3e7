-- TLS from scripts and the command line against a real mosquitto TLS
-- listener, with certificates made for this run by tests/tls/mkcerts.sh.
-- (The full verification matrix is in tests/unit/test_tls.c.)
local H = require "tests.spec.helper"

describe("TLS", function()
	local broker, certs, port
	setup(function()
		certs = H.tmp(H.uniq("certs"))
		local r = H.run("sh " .. H.q(H.root .. "/tests/tls/mkcerts.sh") .. " " .. H.q(certs), { timeout = 60 })
		assert(r.status == 0, "mkcerts failed: " .. r.out .. r.err)
		broker = H.broker(table.concat({
			"cafile " .. certs .. "/ca.crt",
			"certfile " .. certs .. "/server.crt",
			"keyfile " .. certs .. "/server.key",
		}, "\n"))
		port = tostring(broker.port)
	end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("lia pub --cafile reaches lia sub --cafile over mqtts", function()
		local t = H.uniq("tls")
		local sub = H.lia_spawn({ "sub", "-h", "localhost", "-p", port, "--cafile", certs .. "/ca.crt",
			"-i", t, "-t", t, "-C", "1", "-q", "1" })
		assert.truthy(broker:subscribed(t, 5), broker:log())
		local r = H.lia_run({ "pub", "-h", "localhost", "-p", port, "--cafile", certs .. "/ca.crt",
			"-t", t, "-m", "secret hello", "-q", "1" })
		assert.equal(0, r.status, r.err)
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("secret hello\n", sub:stdout())
	end)

	it("an unknown CA is refused with a line that says so, exit 1", function()
		local r = H.lia_run({ "pub", "-h", "localhost", "-p", port, "--cafile", certs .. "/ca2.crt",
			"-t", "x", "-m", "no" })
		assert.equal(1, r.status)
		assert.matches("certificate verify failed", r.err)
	end)

	it("the IP SAN is accepted; a name the certificate lacks is refused", function()
		local r = H.lia_run({ "pub", "-h", "127.0.0.1", "-p", port, "--cafile", certs .. "/ca.crt",
			"-t", "x", "-m", "ip ok" })
		assert.equal(0, r.status, r.err)
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtts://127.0.0.1:${TLSPORT}", reconnect = false,
	tls = { ca_file = "${CA}", server_name = "other.example" } }
c:on("disconnect", function(c, info) print("DOWN " .. info.message); lia.stop() end)
c:connect()
]], { TLSPORT = port, CA = certs .. "/ca.crt" })
		r = H.lia_run({ "run", script }, { timeout = 10 })
		assert.matches("DOWN .*hostname mismatch", r.out, r.err)
	end)

	it("--insecure connects without a CA and warns", function()
		local r = H.lia_run({ "pub", "-d", "-h", "localhost", "-p", port, "--insecure", "-t", "x", "-m", "m" })
		assert.equal(0, r.status, r.err)
		assert.matches("insecure", r.err)
	end)

	it("scripts: tls options, a QoS 2 round trip, reload_tls reconnects", function()
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtts://localhost:${TLSPORT}", tls = { ca_file = "${CA}" },
	reconnect = { min = 0.1, max = 0.5 } }
local n = 0
c:on("connect", function(c)
	n = n + 1
	print("CONNECTED " .. n)
	if n == 1 then
		c:subscribe("tls/${ID}", 2, function(c, msg)
			print("GOT " .. msg.payload .. " " .. msg.qos)
			print("RELOAD", c:reload_tls())
		end):wait(5000)
		c:publish("tls/${ID}", "over tls", { qos = 2 })
	else
		lia.stop()
	end
end)
c:connect()
local plain = mqtt.client{ uri = "mqtt://localhost:1" }
print("PLAIN", plain:reload_tls())
print("BAD", pcall(mqtt.client, { tls = { bogus = 1 } }))
]], { TLSPORT = port, CA = certs .. "/ca.crt", ID = H.uniq("s") })
		local r = H.lia_run({ "run", script }, { timeout = 10 })
		assert.equal(0, r.status, r.out .. r.err)
		assert.matches("PLAIN\tnil\tnot a TLS client", r.out)
		assert.matches("BAD\tfalse\t.*unknown option 'tls.bogus'", r.out)
		assert.matches("GOT over tls 2\nRELOAD\ttrue\n", r.out)
		assert.matches("CONNECTED 2", r.out)
	end)

	-- a large QoS 1 PUBLISH is written from the message's own bytes
	-- (core/client_pin.c), through partial TLS writes
	it("a 5 MiB QoS 1 payload goes over TLS and comes back whole", function()
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtts://localhost:${TLSPORT}", tls = { ca_file = "${CA}" }, reconnect = false,
	max_packet_size = 8 * 1024 * 1024 }
local parts = {}
for i = 1, 5 * 1024 do parts[i] = string.format("%07d", i) .. string.rep(string.char(65 + i % 26), 1017) end
local big = table.concat(parts)
c:on("connect", function(c)
	c:subscribe("tls/${ID}", 1, function(c, msg)
		print("GOT " .. #msg.payload .. " " .. tostring(msg.payload == big))
		lia.stop()
	end):wait(5000)
	print("ACKED", c:publish("tls/${ID}", big, { qos = 1 }):wait(20000))
end)
c:connect()
]], { TLSPORT = port, CA = certs .. "/ca.crt", ID = H.uniq("big") })
		local r = H.lia_run({ "run", script }, { timeout = 60 })
		assert.equal(0, r.status, r.out .. r.err)
		assert.matches("GOT 5242880 true", r.out, 1, true)
	end)

	it("docs_tls.lua runs as documented", function()
		local r = H.lia_run({ "run", H.root .. "/scripts/examples/docs_tls.lua" }, { timeout = 10,
			env = { BROKER = "mqtts://localhost:" .. port, CA = certs .. "/ca.crt" } })
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal("connected over TLS\t1\ngot\tsealed\nreload\ttrue\nconnected over TLS\t2\n", r.out)
	end)
end)
