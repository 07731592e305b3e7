-- docs/field.md stays true: its examples are the very files in
-- scripts/examples/ and they do what the page says.
local H = require "tests.spec.helper"

local EX = H.root .. "/scripts/examples/"

local function line_of(path, marker)
	local n = 0
	for l in io.lines(path) do
		n = n + 1
		if l:find(marker, 1, true) then return n end
	end
end

describe("docs/field.md", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("shows field_reload.lua and field_limits.lua verbatim", function()
		local text = H.read(H.root .. "/docs/field.md")
		for _, f in ipairs { "field_reload.lua", "field_limits.lua" } do
			assert.truthy(text:find(H.read(EX .. f), 1, true), f .. " is not shown verbatim")
		end
	end)

	it("field_reload.lua: an edit takes over the same session", function()
		local id = H.uniq("fieldrl")
		local script = H.write(H.tmp(id .. ".lua"), H.read(EX .. "field_reload.lua"))
		local acks = broker:sub("-q 1 -t field/" .. id .. "/ack")
		local lia = H.lia_watch { "run", "-h", H.host, "-p", tostring(broker.port), "-i", id,
			"--data-dir", H.tmp(id .. ".data"), script }
		assert.truthy(lia:wait_for("connected\t1\tnew\n", 5), H.dump(lia, broker))
		assert.truthy(broker:subscribed(id), broker:log())
		broker:pub("-q 1 -t field/" .. id .. "/cmd -m one")
		assert.truthy(acks:wait_for("one by v1\n", 5), H.dump(lia, broker))
		H.write(script, (H.read(script):gsub('VERSION = "1"', 'VERSION = "2"')))
		assert.truthy(lia:wait_for("connected\t2\treloaded\n", 5), H.dump(lia, broker))
		broker:pub("-q 1 -t field/" .. id .. "/cmd -m two")
		assert.truthy(acks:wait_for("two by v2\n", 5), H.dump(lia, broker))
		assert.equal(1, H.count(broker:log(), "Sending CONNACK to " .. id .. " "), broker:log())
		assert.equal(1, H.count(broker:log(), "Sending SUBACK to " .. id .. "\n"), broker:log())
		assert.equal(0, lia:stop())
	end)

	it("field_limits.lua: both runaways stopped with file:line, ten heartbeats", function()
		local f = EX .. "field_limits.lua"
		local r = H.lia_run { "run", "--handler-budget", "500", "--memory-limit", "8", f }
		assert.equal(0, r.status, r.out .. r.err)
		assert.truthy(r.out:find("heartbeat\t10\n", 1, true), r.out)
		assert.truthy(r.err:find(f .. ":" .. line_of(f, "while true do end") ..
			": handler exceeded its 500 ms budget", 1, true), r.err)
		assert.truthy(r.err:find(f .. ":" .. line_of(f, "mb .. #t") ..
			": not enough memory (limit 8 MB)", 1, true), r.err)
	end)
end)
