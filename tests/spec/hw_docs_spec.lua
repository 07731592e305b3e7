-- docs/hardware.md and docs/developing-with-sim.md stay true: every ```lua
-- block compiles, and each block that starts with "-- run:" prints, with
-- lia run --hw sim, exactly the ```text block that follows it.
local H = require "tests.spec.helper"

local DOCS = { "docs/hardware.md", "docs/developing-with-sim.md" }

describe("hardware docs", function()
	teardown(H.cleanup)

	for _, doc in ipairs(DOCS) do
		it(doc .. ": every ```lua block compiles", function()
			local text = assert(H.read(H.root .. "/" .. doc), doc .. " is missing")
			local n = 0
			for code in text:gmatch("```lua\n(.-)```") do
				n = n + 1
				local r = H.lia_run { "check", "--compile", H.write(H.tmp(H.uniq("block") .. ".lua"), code) }
				assert.equal(0, r.status, doc .. " block " .. n .. ": " .. r.err .. "\n" .. code)
			end
			assert.is_true(n > 0)
		end)
	end

	it("docs/hardware.md: the runnable examples print what the page shows", function()
		local text = H.read(H.root .. "/docs/hardware.md")
		local n = 0
		for code, expected in text:gmatch("```lua\n(%-%- run:.-)```\n\n```text\n(.-)```") do
			n = n + 1
			local r = H.lia_run { "run", "--hw", "sim", H.write(H.tmp(H.uniq("run") .. ".lua"), code) }
			assert.equal(0, r.status, r.err .. "\n" .. code)
			assert.equal(expected, r.out, code)
		end
		assert.equal(3, n)
	end)
end)
