-- interop_spec.lua - lia against three broker implementations, really run
-- on loopback: mosquitto, RabbitMQ's MQTT plugin and ejabberd's mod_mqtt
-- (make test-brokers). Each scenario runs against every broker; where a
-- broker lacks a feature, the spec checks what it does instead (the
-- table in docs/brokers.md is this file's results).
local H = require "tests.spec.helper"
local E = require "tests.brokers.erlang"

-- What each broker does (docs/brokers.md). qos2: highest QoS granted;
-- v5: MQTT 5 accepted; share: $share/group/filter; sub_ids: subscription
-- identifiers sent; alias_max: its Topic Alias Maximum in CONNACK.
local BROKERS = {
	{ name = "mosquitto", start = function() return H.broker() end, opts = "",
		v5 = true, max_qos = 2, share = true, sub_ids = true, alias_max = 10 },
	{ name = "rabbitmq", have = E.have_rabbitmq, start = function(epmd) return E.rabbitmq(epmd) end,
		opts = "", v5 = false, max_qos = 1, share = false, no_pubrec = true },
	{ name = "ejabberd", have = E.have_ejabberd, start = function(epmd) return E.ejabberd(epmd) end,
		opts = 'username = "lia", password = "x",', v5 = true, max_qos = 2, share = false,
		share_disconnects = true, sub_ids = true, alias_max = 100 },
}

local function script(b, proto, text, vars)
	vars = vars or {}
	vars.URI = b.broker:uri()
	vars.PROTO = proto
	vars.OPTS = b.opts
	vars.ID = vars.ID or H.uniq(b.name)
	vars.T = vars.T or H.uniq("io")
	local prelude = [[
local mqtt = require "lia.mqtt"
local function client(extra)
	local o = { uri = "${URI}", protocol = ${PROTO}, ${OPTS} reconnect = { min = 0.2, max = 1 } }
	for k, v in pairs(extra or {}) do o[k] = v end
	return mqtt.client(o)
end
]]
	return H.script(prelude .. text, vars), vars
end

-- lia processes of the current test; H.reap would stop the Erlang
-- brokers too (they are not mosquitto), so each test stops only these
local mine = {}
-- --no-watch: the scripts of a test share one folder, and lia run reloads
-- on any .lua written there; a worker started before the next worker's
-- script was written ran its script twice (under load, the ejabberd $share
-- case's second SUBSCRIBE and second DISCONNECT 0x9E)
local function run(b, proto, text, vars)
	local path, v = script(b, proto, text, vars)
	local p = H.lia_spawn({ "run", "--no-watch", path })
	mine[#mine + 1] = p
	return p, v
end
local function reap_mine()
	for _, p in ipairs(mine) do p:stop(2) end
	mine = {}
end

-- the temp dir (and anything left) goes once every broker's block is done
teardown(H.cleanup)

for _, b in ipairs(BROKERS) do
	local available = not b.have or b.have()
	local describe_or_skip = available and describe or pending
	describe_or_skip(b.name, function()
		local epmd
		setup(function()
			if b.name ~= "mosquitto" then epmd = E.epmd() end
			b.broker = b.start(epmd)
		end)
		teardown(function()
			reap_mine()
			if b.broker then b.broker:stop() end
			if epmd then epmd:stop() end
		end)
		after_each(reap_mine)

		local protos = b.v5 and { 4, 5 } or { 4 }
		for _, proto in ipairs(protos) do
			for q = 0, 2 do
				it(("QoS %d both ways, MQTT %s"):format(q, proto == 5 and "5" or "3.1.1"), function()
					local p = run(b, proto, [[
local sub, pub = client{ client_id = "${ID}s" }, client{ client_id = "${ID}p" }
sub:on("subscribe", function(c, mid, codes) print("GRANTED", codes[1]) pub:connect() end)
sub:on("connect", function(c) c:subscribe("${T}", ${Q}) end)
pub:on("connect", function(c)
	-- token = true: at QoS 0 c:publish returns a token only when asked
	for i = 1, 3 do print("PUB", i, c:publish("${T}", "m" .. i, { qos = ${Q}, token = true }):wait(${W})) end
end)
sub:on("message", function(c, m) print("MSG", m.payload, m.qos) end)
sub:connect()
]], { Q = q, W = (q == 2 and b.no_pubrec) and 1000 or 10000 })
					local granted = math.min(q, b.max_qos)
					assert.truthy(p:wait_for("MSG\tm3\t" .. granted .. "\n", 30), H.dump(p))
					local out = p:stdout()
					assert.truthy(out:find("GRANTED\t" .. granted .. "\n", 1, true), out)
					assert.equal(3, H.count(out, "MSG\t"), out)
					if q == 2 and b.no_pubrec then
						-- RabbitMQ 3.10 delivers a QoS 2 publish but never sends
						-- the PUBREC: the publish does not complete
						assert.truthy(p:wait_for("PUB\t3\tnil\ttimeout\n", 10), out)
					else
						assert.truthy(p:wait_for("PUB\t3\ttrue\n", 10), out)
						assert.equal(3, H.count(p:stdout(), "\ttrue\n"), p:stdout())
					end
				end)
			end

			it("retained message, MQTT " .. proto, function()
				local p = run(b, proto, [[
local pub = client{ client_id = "${ID}p" }
pub:on("connect", function(c)
	print("PUB", c:publish("${T}", "kept", { qos = 1, retain = true }):wait(10000))
	local sub = client{ client_id = "${ID}s" }
	sub:on("connect", function(s) s:subscribe("${T}", 1) end)
	sub:on("message", function(s, m)
		print("MSG", m.payload, m.retain)
		-- clear it for the next run
		c:publish("${T}", "", { qos = 1, retain = true })
	end)
	sub:connect()
end)
pub:connect()
]])
				assert.truthy(p:wait_for("MSG\tkept\ttrue\n", 30), H.dump(p))
			end)

			it("will message on an unclean loss, MQTT " .. proto, function()
				local _, v = script(b, proto, "")
				local watcher = run(b, proto, [[
local w = client{ client_id = "${ID}w" }
w:on("connect", function(c) c:subscribe("${T}/will", 1) end)
w:on("subscribe", function() print("WATCHING") end)
w:on("message", function(c, m) print("WILL", m.payload) end)
w:connect()
]], { ID = v.ID, T = v.T })
				assert.truthy(watcher:wait_for("WATCHING\n", 30), H.dump(watcher))
				local victim = run(b, proto, [[
local c = client{ client_id = "${ID}v", keepalive = 5,
	will = { topic = "${T}/will", payload = "gone", qos = 1 } }
c:on("connect", function() print("UP") end)
c:connect()
]], { ID = v.ID, T = v.T })
				assert.truthy(victim:wait_for("UP\n", 30), H.dump(victim))
				victim:kill("KILL")
				assert.truthy(watcher:wait_for("WILL\tgone\n", 30), H.dump(watcher))
			end)

			it("persistent session: QoS 1 kept while away, MQTT " .. proto, function()
				local _, v = script(b, proto, "")
				local session = proto == 5 and "clean = false, session_expiry = 300" or "clean = false"
				local first = run(b, proto, [[
local c = client{ client_id = "${ID}k", ${S} }
c:on("connect", function(c) print("SUB", c:subscribe("${T}", 1):wait(10000)) c:disconnect() end)
c:on("disconnect", function() print("AWAY") end)
c:connect()
]], { ID = v.ID, T = v.T, S = session })
				assert.truthy(first:wait_for("AWAY\n", 30), H.dump(first))
				local pub = run(b, proto, [[
local c = client{ client_id = "${ID}p" }
c:on("connect", function(c)
	for i = 1, 3 do c:publish("${T}", "away" .. i, 1):wait(10000) end
	print("SENT")
	c:disconnect()
end)
c:connect()
]], { ID = v.ID, T = v.T })
				assert.truthy(pub:wait_for("SENT\n", 30), H.dump(pub))
				local back = run(b, proto, [[
local c = client{ client_id = "${ID}k", ${S} }
c:on("connect", function(c, ack) print("PRESENT", ack.session_present) end)
c:on("message", function(c, m) print("MSG", m.payload) end)
c:connect()
]], { ID = v.ID, T = v.T, S = session })
				assert.truthy(back:wait_for("MSG\taway3\n", 30), H.dump(back))
				local out = back:stdout()
				assert.truthy(out:find("PRESENT\ttrue\n", 1, true), out)
				assert.truthy(out:find("MSG\taway1\nMSG\taway2\nMSG\taway3\n", 1, true), out)
			end)

			it("re-subscribe after a reconnect without session, MQTT " .. proto, function()
				-- a second connection with the same client id makes the
				-- broker drop the first (session takeover)
				local _, v = script(b, proto, "")
				local p = run(b, proto, [[
local c = client{ client_id = "${ID}r" }
local n = 0
c:subscribe("${T}", 1)
c:on("connect", function(c, ack)
	n = n + 1
	print("CONNECT", n)
	if n == 1 then
		local intruder = client{ client_id = "${ID}r", reconnect = false }
		intruder:on("connect", function(i) i:disconnect() end)
		intruder:connect()
	end
end)
c:on("message", function(c, m) print("MSG", m.payload) end)
c:connect()
]], { ID = v.ID, T = v.T })
				assert.truthy(p:wait_for("CONNECT\t2\n", 30), H.dump(p))
				-- the re-subscribe has no event of its own: publish until
				-- lia gets one (the first may beat the SUBSCRIBE)
				local pub = run(b, proto, [[
local c = client{ client_id = "${ID}p" }
c:on("connect", function(c)
	for i = 1, 60 do c:publish("${T}", "again", 1):wait(10000) lia.sleep(500) end
end)
c:connect()
]], { ID = v.ID, T = v.T })
				assert.truthy(p:wait_for("MSG\tagain\n", 30), H.dump(p) .. H.dump(pub))
			end)
		end

		if not b.v5 then
			it("MQTT 5 is refused: one clear line", function()
				local p = run(b, 5, [[
local c = client{ client_id = "${ID}", reconnect = false }
c:on("connect", function(c, ack) print("CONNECT", ack.reason) end)
c:on("disconnect", function(c, info) print("DISC", info.connected, info.message) end)
c:connect()
]])
				assert.truthy(p:wait_for("DISC\tfalse\t", 30), H.dump(p))
			end)
		end

		if b.v5 then
			it("MQTT 5: user properties, subscription ids, topic aliases", function()
				local p = run(b, 5, [[
local sub, pub = client{ client_id = "${ID}s" }, client{ client_id = "${ID}p", topic_aliases = "auto" }
sub:on("connect", function(c)
	c:subscribe("${T}/#", { qos = 1, properties = { subscription_id = 5 } })
end)
sub:on("subscribe", function() pub:connect() end)
pub:on("connect", function(c, ack)
	print("ALIASMAX", ack.properties.topic_alias_maximum or 0)
	local t
	for i = 1, 5 do
		t = c:publish("${T}/x", "v" .. i, { qos = 1, properties = { user = { n = tostring(i) } } })
	end
	t:wait(10000)
	print("ALIASED", c:stats().alias_out)
end)
sub:on("message", function(c, m)
	print("MSG", m.payload, m.properties.user and m.properties.user.n, #m.subscription_ids,
		m.subscription_ids[1])
end)
sub:connect()
]])
				assert.truthy(p:wait_for("MSG\tv5\t", 30), H.dump(p))
				assert.truthy(p:wait_for("ALIASED", 10), H.dump(p))
				local out = p:stdout()
				assert.truthy(out:find("MSG\tv1\t1\t", 1, true), out)
				if b.sub_ids then
					assert.truthy(out:find("MSG\tv5\t5\t1\t5\n", 1, true), out)
				else
					assert.truthy(out:find("MSG\tv5\t5\t0\tnil\n", 1, true), out)
				end
				assert.truthy(out:find("ALIASMAX\t" .. b.alias_max .. "\n", 1, true), out)
				local aliased = tonumber(out:match("ALIASED\t(%d+)"))
				if b.alias_max > 0 then assert.truthy(aliased >= 3, out) else assert.equal(0, aliased) end
			end)
		end

		it("shared subscriptions: three workers, each message handled once", function()
			local _, v = script(b, b.v5 and 5 or 4, "")
			local workers = {}
			for w = 1, 3 do
				workers[w] = run(b, b.v5 and 5 or 4, [[
local c = client{ client_id = "${ID}w${W}" }
c:subscribe("$share/g/${T}", 1)     -- remembered: sent on every connect without session
c:on("subscribe", function(c, mid, codes) print("GRANTED", codes[1]) end)
c:on("disconnect", function(c, info) print("DISC", info.reason) end)
c:on("message", function(c, m) print("GOT", m.payload) end)
c:connect()
]], { ID = v.ID, T = v.T, W = w })
			end
			if b.share_disconnects then
				-- ejabberd: DISCONNECT 0x9E; lia drops the $share filter (one
				-- line) instead of sending it again after every reconnect
				for w = 1, 3 do
					assert.truthy(workers[w]:wait_for("DISC\t158\n", 30), H.dump(workers[w]))
					assert.truthy(workers[w]:wait_for("does not support shared subscriptions", 10, "stderr"),
						H.dump(workers[w]))
				end
				-- the reconnect after the drop, then a second to show a loop
				-- (nothing to wait for: a loop would be a second DISC 158)
				for w = 1, 3 do
					assert.truthy(H.wait(function()
						return H.count(workers[w]:stderr(), "connected to ") >= 2
					end, 30), H.dump(workers[w]))
				end
				H.sleep(1)
				for w = 1, 3 do
					assert.equal(1, H.count(workers[w]:stdout(), "DISC\t"), H.dump(workers[w]))
				end
				return
			end
			for w = 1, 3 do
				assert.truthy(workers[w]:wait_for("GRANTED\t", 30), H.dump(workers[w]))
			end
			if not b.share then
				-- refused (>= 128) or granted as a plain filter named "$share/..."
				for w = 1, 3 do
					local code = tonumber(workers[w]:stdout():match("GRANTED\t(%d+)"))
					assert.truthy(code, workers[w]:stdout())
				end
				return
			end
			local pub = run(b, b.v5 and 5 or 4, [[
local c = client{ client_id = "${ID}p" }
c:on("connect", function(c)
	local t
	for i = 1, 30 do t = c:publish("${T}", "n" .. i, 1) end
	t:wait(10000)
	print("SENT")
end)
c:connect()
]], { ID = v.ID, T = v.T })
			assert.truthy(pub:wait_for("SENT\n", 30), H.dump(pub))
			local seen, busy = {}, 0
			assert.truthy(H.wait(function()
				local n = 0
				for w = 1, 3 do n = n + H.count(workers[w]:stdout(), "GOT\t") end
				return n >= 30
			end, 30))
			for w = 1, 3 do
				local out = workers[w]:stdout()
				if out:find("GOT\t", 1, true) then busy = busy + 1 end
				for m in out:gmatch("GOT\t(n%d+)\n") do
					assert.falsy(seen[m], m .. " handled twice")
					seen[m] = true
				end
			end
			local n = 0
			for _ in pairs(seen) do n = n + 1 end
			assert.equal(30, n)
			assert.truthy(busy >= 2, "the stream was not spread")
		end)
	end)
end
