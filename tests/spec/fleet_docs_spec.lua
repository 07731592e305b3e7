-- docs/fleet.md stays true: its walk-through is scripts/examples/
-- fleet_walkthrough.sh (shown verbatim), and running it against a real
-- mosquitto commits the bundle and shows the device in lia fleet.
local H = require "tests.spec.helper"

local EX = H.root .. "/scripts/examples/"

describe("docs/fleet.md", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)

	it("shows the walk-through and the app verbatim", function()
		local text = H.read(H.root .. "/docs/fleet.md")
		for _, f in ipairs { "fleet_walkthrough.sh", "fleet_app.lua" } do
			assert.truthy(text:find(H.read(EX .. f), 1, true), f .. " is not shown verbatim")
		end
	end)

	it("runs the walk-through: the bundle is committed and lia fleet shows it", function()
		local work = H.tmp("fleet-demo")
		local r = H.run(string.format("env LIA=%s BROKER=%s PORT=%d WORK=%s HEALTH=1 sh %s",
			H.q(H.lia), H.host, broker.port, H.q(work), H.q(EX .. "fleet_walkthrough.sh")),
			{ timeout = 60 })
		assert.equal(0, r.status, r.out .. r.err .. (H.read(work .. "/device/log") or ""))
		assert.truthy(r.out:find('"online":true', 1, true), r.out)
		assert.truthy(r.out:find("pi-kitchen: committed\n", 1, true), r.out)
		assert.truthy(r.out:match("pi%-kitchen%s+online%s+2%s"), r.out)
		assert.truthy((H.read(work .. "/device/out") or ""):find("fleet app\t2\n", 1, true))
	end)
end)
