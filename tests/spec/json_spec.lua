-- JSON in scripts: cjson / cjson.safe built in, msg:json(), c:publish with a
-- table payload, and scripts/examples/json_command.lua against a real broker.
local H = require "tests.spec.helper"
local cjson = require "cjson"

describe("json", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("cjson and cjson.safe are built in: encode, decode, errors", function()
		local s = H.script([[
-- built in: in package.preload before any package.cpath search
assert(type(package.preload["cjson"]) == "function" and type(package.preload["cjson.safe"]) == "function")
local cjson, safe = require "cjson", require "cjson.safe"
local t = cjson.decode('{"a":[1,2,{"b":null}],"s":"\\u00e9"}')
assert(t.a[2] == 2 and t.a[3].b == cjson.null and t.s == "\195\169")
assert(cjson.encode({ x = 1 }) == '{"x":1}')
local v, err = safe.decode("{bad")
assert(v == nil and err:find("Expected object key string"), err)
assert(not pcall(cjson.decode, "{bad"))
print("ok")
lia.stop()
]])
		local r = H.lia_run({ "run", s })
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal("ok\n", r.out)
	end)

	it("json_command.lua: msg:json() decodes, a table payload goes out as JSON, bad JSON answers an error", function()
		local id = H.uniq("json")
		local sub = broker:sub(string.format("-t 'lia/%s/json/reply'", id))
		local lia = H.lia_spawn({ "run", "-h", H.host, "-p", broker.port, "-i", id,
			H.root .. "/scripts/examples/json_command.lua" })
		assert.truthy(broker:subscribed(id), H.dump(lia, broker))
		local t = "lia/" .. id .. "/json/cmd"
		broker:pub(string.format("-t %s -m '{\"op\":\"add\",\"args\":[1,2,3.5]}'", t))
		broker:pub(string.format("-t %s -m '{\"op\":\"mul\",\"args\":[2,3'", t))
		broker:pub(string.format("-t %s -m '{\"op\":\"mul\",\"args\":[2,3]}'", t))
		broker:pub(string.format("-t %s -m '{\"op\":\"pow\",\"args\":[]}'", t))
		assert.truthy(H.wait(function() return #H.lines(sub:stdout()) >= 4 end, 5),
			H.dump(lia, broker) .. sub:stdout())
		local got = {}
		for _, l in ipairs(H.lines(sub:stdout())) do got[#got + 1] = cjson.decode(l) end
		assert.same({ op = "add", result = 6.5 }, got[1])
		assert.truthy(got[2].error:find("^bad JSON: "), got[2].error)
		assert.same({ op = "mul", result = 6 }, got[3])
		assert.same({ error = "unknown op pow" }, got[4])
		assert.truthy(lia:alive())
	end)

	it("msg:json() on a non-JSON payload returns nil and a message; a function in a table payload raises", function()
		local id = H.uniq("jbad")
		local s = H.script([[
local c = mqtt
function on_connect(client)
	client:subscribe("lia/${ID}/x", 1)
	local ok, err = pcall(client.publish, client, "lia/${ID}/y", { f = print })
	print("raise", ok, err and err:match("Cannot serialise") ~= nil)
	client:publish("lia/${ID}/x", "not json")
end
function on_message(client, msg)
	local v, err = msg:json()
	print("json", v, type(err))
	lia.stop()
end
]], { ID = id })
		local r = H.lia_run({ "run", "-h", H.host, "-p", broker.port, "-i", id, s })
		assert.equal(0, r.status, r.out .. r.err)
		assert.truthy(r.out:find("raise\tfalse\ttrue\n", 1, true), r.out .. r.err)
		assert.truthy(r.out:find("json\tnil\tstring\n", 1, true), r.out .. r.err)
	end)
end)
