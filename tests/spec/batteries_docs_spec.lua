-- docs/batteries.md stays true: every ```lua block compiles, the examples
-- it shows are the very files in scripts/examples/ (which their specs
-- run), and each "-- run:" block prints, with lia run --hw sim, exactly
-- the ```text block that follows it.
local H = require "tests.spec.helper"

describe("docs/batteries.md", function()
	teardown(H.cleanup)
	local text = assert(H.read(H.root .. "/docs/batteries.md"))

	it("every ```lua block compiles", function()
		local n = 0
		for code in text:gmatch("```lua\n(.-)```") do
			n = n + 1
			local r = H.lia_run { "check", "--compile", H.write(H.tmp(H.uniq("block") .. ".lua"), code) }
			assert.equal(0, r.status, "block " .. n .. ": " .. r.err .. "\n" .. code)
		end
		assert.is_true(n >= 8)
	end)

	it("shows the examples verbatim", function()
		for _, f in ipairs { "json_command.lua", "ha_basic.lua", "http_fetch.lua", "schedule.lua", "ha_device.lua" } do
			local code = assert(H.read(H.root .. "/scripts/examples/" .. f))
			assert.truthy(text:find(code, 1, true), f .. " is not shown verbatim in docs/batteries.md")
		end
	end)

	it("the runnable blocks print what the page shows", function()
		local n = 0
		for code, expected in text:gmatch("```lua\n(%-%- run:.-)```\n\n```text\n(.-)```") do
			n = n + 1
			local r = H.lia_run { "run", "--hw", "sim", H.write(H.tmp(H.uniq("run") .. ".lua"), code) }
			assert.equal(0, r.status, r.err .. "\n" .. code)
			assert.equal(expected, r.out, code)
		end
		assert.equal(1, n)
	end)

	it("the README's quick start shows the Home Assistant example verbatim", function()
		local readme = assert(H.read(H.root .. "/README.md"))
		local quick = assert(readme:match("\n## Quick start\n(.-)\n## "), "README.md: no ## Quick start")
		local code = assert(H.read(H.root .. "/scripts/examples/ha_device.lua"))
		assert.truthy(quick:find("```lua\n" .. code .. "```", 1, true),
			"scripts/examples/ha_device.lua is not shown verbatim in the README's quick start")
	end)

	it("is linked from docs/lua-api.md and the README", function()
		assert.truthy(H.read(H.root .. "/docs/lua-api.md"):find("(batteries.md)", 1, true))
		assert.truthy(H.read(H.root .. "/README.md"):find("(docs/batteries.md)", 1, true))
	end)
end)
