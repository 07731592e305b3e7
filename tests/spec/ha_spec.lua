-- lia.ha (lua/lib/ha.lua): Home Assistant MQTT discovery, checked by a paho
-- peer playing Home Assistant (tests/tools/ha_peer.py: a schema of HA's
-- required keys, commands, the restart case), the will, removal.
local H = require "tests.spec.helper"
local cjson = require "cjson"

local EX = H.root .. "/scripts/examples/"

describe("lia.ha", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	local function run_example(id)
		return H.lia_spawn({ "run", "--hw", "sim", EX .. "ha_basic.lua" },
			{ env = { BROKER = broker:uri(), DEVICE_ID = id } })
	end

	local function peer(id, count)
		-- Debian's python3 (python3-paho-mqtt), whatever python3 comes first in PATH
		return H.run(string.format("/usr/bin/python3 %s %s %d %s %d", H.q(H.root .. "/tests/tools/ha_peer.py"),
			H.host, broker.port, id, count), { timeout = 60 })
	end

	it("ha_basic.lua: configs valid for Home Assistant, commands followed, re-announced after an HA restart", function()
		local id = H.uniq("ha")
		local lia = run_example(id)
		local r = peer(id, 4)
		assert.equal(0, r.status, r.out .. r.err .. H.dump(lia, broker))
		for _, l in ipairs({ "config switch relay ok", "config sensor cpu_temp ok",
				"config number interval ok", "config button blink ok", "available",
				"command switch relay ON ok", "command switch relay OFF ok",
				"command number interval 2 ok", "nothing announced on offline", "reannounced after restart", "PEER OK" }) do
			assert.truthy(r.out:find(l .. "\n", 1, true), l .. " in:\n" .. r.out)
		end
		assert.truthy(lia:alive(), H.dump(lia, broker))
	end)

	it("the config carries the device block, stable unique ids and the topics", function()
		local id = H.uniq("hacfg")
		local lia = run_example(id)
		local sub = broker:sub(string.format("-t 'homeassistant/switch/%s/relay/config' -C 1", id))
		assert.equal(0, sub:wait(10), H.dump(lia, broker))
		local cfg = cjson.decode(sub:stdout())
		assert.equal(id .. "_relay", cfg.unique_id)
		assert.same({ id }, cfg.device.identifiers)
		assert.equal("lia " .. id, cfg.device.name)
		assert.equal("Raspberry Pi", cfg.device.model)
		assert.equal("lia/" .. id .. "/relay/set", cfg.command_topic)
		assert.equal("lia/" .. id .. "/relay/state", cfg.state_topic)
		assert.equal("lia/" .. id .. "/availability", cfg.availability_topic)
		assert.equal("ON", cfg.payload_on)
		-- the same ids after a restart of lia
		lia:stop()
		local lia2 = run_example(id)
		local sub2 = broker:sub(string.format("-t 'homeassistant/switch/%s/relay/config' -C 1", id))
		assert.equal(0, sub2:wait(10), H.dump(lia2, broker))
		assert.same(cfg, cjson.decode(sub2:stdout()))
	end)

	it("the will marks the device offline when lia dies, online again when it is back", function()
		local id = H.uniq("hawill")
		local lia = run_example(id)
		local sub = broker:sub(string.format("-t 'lia/%s/availability' -v", id))
		assert.truthy(sub:wait_for("availability online\n", 10), H.dump(lia, broker))
		lia:kill("KILL")
		assert.truthy(sub:wait_for("availability offline\n", 10), sub:stdout())
		local lia2 = run_example(id)
		assert.truthy(H.wait(function()
			return select(2, sub:stdout():gsub("availability online\n", "")) >= 2 end, 10),
			sub:stdout() .. H.dump(lia2, broker))
	end)

	it("a button calls its callback on payload_press only; a number takes numbers in min..max only", function()
		local id = H.uniq("habtn")
		local s = H.script([[
local mqtt, ha = require "lia.mqtt", require "lia.ha"
local c = mqtt.client{ uri = "${URI}", client_id = "${ID}", will = ha.will("${ID}") }
local dev = ha.device{ client = c, id = "${ID}", name = "Buttons" }
local presses = 0
dev:button{ id = "go", name = "Go", on = function(_, v) presses = presses + 1; print("pressed", presses, v) end }
dev:number{ id = "n", name = "N", min = 1, max = 10, on = function(_, v) print("number", v) end }
c:subscribe("test/${ID}/marker", 1, function() print("marker", presses); lia.stop() end)
c:connect()
]], { URI = broker:uri(), ID = id })
		local lia = H.lia_spawn({ "run", s })
		-- go/set, n/set, homeassistant/status, test/<id>/marker
		assert.truthy(broker:subscribed(id, 10, 4), H.dump(lia, broker))
		-- each acknowledged (QoS 1) before the next is sent: lia takes them in this order
		for _, m in ipairs({ { "go/set", "x" }, { "go/set", "PRESS" }, { "n/set", "11" }, { "n/set", "abc" },
				{ "n/set", "7" } }) do
			broker:pub(string.format("-q 1 -t lia/%s/%s -m %s", id, m[1], m[2]))
		end
		broker:pub(string.format("-q 1 -t test/%s/marker -m x", id))
		assert.equal(0, lia:wait(10), H.dump(lia, broker))
		assert.equal("pressed\t1\ttrue\nnumber\t7\nmarker\t1\n", lia:stdout(), H.dump(lia, broker))
		assert.truthy(lia:stderr():find('N: bad number "11"', 1, true), lia:stderr())
		assert.truthy(lia:stderr():find('N: bad number "abc"', 1, true), lia:stderr())
	end)

	it("removing an entity publishes an empty retained config and clears its state", function()
		local id = H.uniq("harm")
		local s = H.script([[
local mqtt, ha = require "lia.mqtt", require "lia.ha"
local c = mqtt.client{ uri = "${URI}", client_id = "${ID}", will = ha.will("${ID}") }
local dev = ha.device{ client = c, id = "${ID}", name = "Removal" }
local t = dev:sensor{ id = "temp", name = "T", unit = "°C", device_class = "temperature" }
dev:binary_sensor{ id = "door", name = "Door", device_class = "door", initial = true }
c:connect()
t:set(20.5)
c:subscribe("test/${ID}/remove", 1, function() t:remove(); print("removed", t:set(1)) end)
]], { URI = broker:uri(), ID = id })
		local lia = H.lia_spawn({ "run", s })
		local cfg_topic = string.format("homeassistant/sensor/%s/temp/config", id)
		local sub = broker:sub(string.format("-t %s -t 'lia/%s/+/state' -v", cfg_topic, id))
		assert.truthy(sub:wait_for("/temp/state 20.5\n", 10), sub:stdout() .. H.dump(lia, broker))
		assert.truthy(sub:stdout():find("/door/state ON\n", 1, true), sub:stdout())
		assert.truthy(sub:stdout():find(cfg_topic .. " {", 1, true), sub:stdout())
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		broker:pub(string.format("-t test/%s/remove -m x", id))
		assert.truthy(lia:wait_for("removed\tnil\tentity removed\n", 10), H.dump(lia, broker))
		assert.truthy(H.wait(function()
			return sub:stdout():find(cfg_topic .. " (null)\n", 1, true) and
				sub:stdout():find("/temp/state (null)\n", 1, true) end, 10), sub:stdout())
		-- retained: nothing left for a Home Assistant that subscribes now
		local late = broker:sub(string.format("-t %s -t 'lia/%s/temp/state' -W 1", cfg_topic, id))
		late:wait(5)
		assert.equal("", late:stdout())
		assert.truthy(H.run(string.format("mosquitto_sub -h %s -p %d -t 'homeassistant/binary_sensor/%s/door/config' -C 1 -W 5",
			H.host, broker.port, id)).out:find('"device_class":"door"', 1, true))
	end)
end)
