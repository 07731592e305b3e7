-- The life of a session: will on a crash but not on a clean stop, exit
-- status, reconnect with backoff after the broker restarts, automatic
-- re-subscription, messages queued while offline.
local H = require "tests.spec.helper"

local function will_script(id)
	return H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", keepalive = 30,
	will = { topic = "w/${ID}/status", payload = "offline", qos = 1, retain = false } }
c:on("connect", function(c) print("CONNECTED") end)
c:connect()
]], { ID = id })
end

describe("session", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("the will is delivered when lia is killed with -9", function()
		local id = H.uniq("will")
		local sub = broker:sub(string.format("-q 1 -t 'w/%s/#' -F '%%q %%t %%p' -C 1", id))
		local lia = H.lia_spawn({ "run", will_script(id) })
		assert.truthy(lia:wait_for("CONNECTED\n", 5), H.dump(lia, broker))
		lia:kill("KILL")
		assert.equal(137, lia:wait(2))
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal(string.format("1 w/%s/status offline\n", id), sub:stdout())
	end)

	for _, sig in ipairs { "TERM", "INT" } do
		it("SIGTERM/SIGINT: clean DISCONNECT, no will, exit status 0 (" .. sig .. ")", function()
			local id = H.uniq("term")
			local sub = broker:sub(string.format("-q 1 -t 'w/%s/#' -v", id))
			local lia = H.lia_spawn({ "run", will_script(id) })
			assert.truthy(lia:wait_for("CONNECTED\n", 5), H.dump(lia, broker))
			lia:kill(sig)
			assert.equal(0, lia:wait(3), H.dump(lia, broker))
			assert.truthy(broker:wait_log("Received DISCONNECT from " .. id, 5), broker:log())
			local mark = broker:barrier(sub, "w/" .. id .. "/mark")
			assert.truthy(mark, sub:stdout())
			assert.equal("w/" .. id .. "/mark " .. mark .. "\n", sub:stdout(),
				"the will was published:\n" .. broker:log())
		end)
	end

	it("lia.stop() leaves the loop, disconnects cleanly and exits 0", function()
		local id = H.uniq("stop")
		local sub = broker:sub(string.format("-q 1 -t 'w/%s/#' -v", id))
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}",
	will = { topic = "w/${ID}/status", payload = "offline", qos = 1 } }
c:on("connect", function(c)
	c:publish("w/${ID}/last", "bye", { qos = 1 }):wait(5000)
	lia.stop()
end)
c:connect()
]], { ID = id })
		local lia = H.lia_spawn({ "run", script })
		assert.equal(0, lia:wait(5), H.dump(lia, broker))
		assert.truthy(broker:wait_log("Received DISCONNECT from " .. id, 5), broker:log())
		local mark = broker:barrier(sub, "w/" .. id .. "/mark")
		assert.truthy(mark, sub:stdout())
		assert.equal(string.format("w/%s/last bye\nw/%s/mark %s\n", id, id, mark), sub:stdout())
	end)

	it("reconnects after a broker restart, re-subscribes, delivers what was queued", function()
		local id = H.uniq("rc")
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}",
	reconnect = { min = 0.2, max = 1 }, keepalive = 5 }
local n, queued = 0, false
c:on("connect", function(c, ack) n = n + 1; print("CONNECTED", n) end)
c:on("disconnect", function(c, info)
	print("DISCONNECTED")
	if not queued then
		queued = true
		-- offline now: these wait in the queue until the next connection
		for i = 1, 3 do
			assert(c:publish("q/${ID}/" .. i, "queued " .. i, { qos = 1, retain = true }))
		end
		print("QUEUED")
	end
end)
c:on("message", function(c, msg) print("GOT", msg.topic, msg.payload) end)
c:connect()
c:subscribe("in/${ID}/#", 1)    -- subscribed once, never again by the script
]], { ID = id })
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		broker:pub(string.format("-q 1 -t 'in/%s/a' -m before", id))
		assert.truthy(lia:wait_for("GOT\tin/" .. id .. "/a\tbefore\n", 5), H.dump(lia, broker))

		broker:stop()
		assert.truthy(lia:wait_for("QUEUED\n", 5), H.dump(lia))
		broker:start()              -- same port, empty broker (no persistence)
		local t0 = H.now()          -- from the broker being up, not from its start
		assert.truthy(lia:wait_for("CONNECTED\t2\n", 10), H.dump(lia, broker))
		-- max = 1 s: the next attempt is due within a second; 3 s leaves room
		-- for the connect itself on a loaded machine
		assert.is_true(H.now() - t0 < 3, "reconnect took too long with max = 1 s")

		-- re-subscribed by itself: a message published after the restart arrives
		assert.truthy(broker:subscribed(id), "no re-subscription:\n" .. H.dump(lia, broker))
		broker:pub(string.format("-q 1 -t 'in/%s/b' -m after", id))
		assert.truthy(lia:wait_for("GOT\tin/" .. id .. "/b\tafter\n", 5), H.dump(lia, broker))

		-- the queued messages reached the new broker (retained, so a late
		-- subscriber can check them)
		local r = H.run(string.format(
			"mosquitto_sub -h 127.0.0.1 -p %d -q 1 -t 'q/%s/#' -v -C 3 -W 10", broker.port, id))
		assert.equal(0, r.status, r.err .. H.dump(lia, broker))
		local got = H.lines(r.out)
		table.sort(got)
		assert.same({ "q/" .. id .. "/1 queued 1", "q/" .. id .. "/2 queued 2",
			"q/" .. id .. "/3 queued 3" }, got)
		assert.is_true(lia:alive())
	end)

	it("keeps retrying while the broker is down and connects when it comes up", function()
		local id = H.uniq("late")
		broker:stop()
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}",
	reconnect = { min = 0.2, max = 1 } }
c:on("connect", function(c) print("CONNECTED") end)
c:connect()
]], { ID = id })
		local lia = H.lia_spawn({ "run", script })
		-- it has tried, failed and is trying again (two failures logged)
		assert.truthy(H.wait_for(function()
			return H.count(lia:stderr(), "reconnecting in") >= 2
		end, 10), H.dump(lia))
		assert.is_true(lia:alive(), H.dump(lia))
		assert.falsy(lia:stdout():find("CONNECTED", 1, true))
		broker:start()
		assert.truthy(lia:wait_for("CONNECTED\n", 4), H.dump(lia, broker))
	end)

	it("reconnect = false: after a loss the client stays down; disconnect and log events fire", function()
		local id = H.uniq("norc")
		local b2 = H.broker()
		local script = H.script([[
local mqtt = require "lia.mqtt"
local c = mqtt.client{ uri = "mqtt://127.0.0.1:${PORT}", client_id = "${ID}", reconnect = false }
local n = 0
c:on("log", function(c, level, line) print("LOG", type(level), type(line)) end)
c:on("connect", function(c) n = n + 1; print("CONNECTED", n) end)
c:on("disconnect", function(c, info)
	print("DISCONNECTED", type(info.message), info.by_server, c:is_connected())
end)
c:connect()
]], { ID = id, PORT = b2.port })
		local lia = H.lia_spawn({ "run", script })
		assert.truthy(lia:wait_for("CONNECTED\t1\n", 5), H.dump(lia, b2))
		b2:stop()
		assert.truthy(lia:wait_for("DISCONNECTED\tstring\t", 5), H.dump(lia))
		assert.truthy(lia:stdout():find("\tfalse\n", 1, true), H.dump(lia))
		b2:start()
		-- An absence: no reconnect. 1.5 s is past the default backoff's first
		-- retry (min = 1 s), when a reconnecting client would be back.
		H.sleep(1.5)
		assert.falsy(lia:stdout():find("CONNECTED\t2", 1, true), "reconnected: " .. H.dump(lia))
		assert.equal(0, H.count(b2:log(), "as " .. id .. " "), b2:log())
		assert.truthy(lia:stdout():find("LOG\t", 1, true), "no log event: " .. H.dump(lia))
		-- a client that will not reconnect is nothing that can run: lia run ends, 0 (#14)
		assert.equal(0, lia:wait(5), H.dump(lia))
	end)
end)
