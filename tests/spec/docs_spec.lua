-- The documentation stays true: every Lua block in README.md and docs/*.md
-- compiles, and the docs_*.lua examples shown in docs/lua-api.md are the
-- very files examples_spec runs.
local H = require "tests.spec.helper"

local function lua_blocks(text)
	local blocks = {}
	for code in text:gmatch("```lua\n(.-)```") do blocks[#blocks + 1] = code end
	return blocks
end

describe("docs", function()
	teardown(H.cleanup)

	for _, doc in ipairs { "README.md", "docs/lua-api.md", "docs/cli.md", "docs/field.md" } do
		it(doc .. ": every ```lua block compiles (lia check)", function()
			local text = assert(H.read(H.root .. "/" .. doc), doc .. " is missing")
			for i, code in ipairs(lua_blocks(text)) do
				local f = H.write(H.tmp(H.uniq("block") .. ".lua"), code)
				local r = H.lia_run { "check", f }
				assert.equal(0, r.status, doc .. " block " .. i .. ": " .. r.out .. r.err .. "\n" .. code)
			end
		end)
	end

	it("docs/lua-api.md shows each docs_*.lua example verbatim", function()
		local text = H.read(H.root .. "/docs/lua-api.md")
		local p = io.popen("ls " .. H.q(H.root .. "/scripts/examples"))
		local n = 0
		for f in p:lines() do
			if f:match("^docs_.*%.lua$") then
				n = n + 1
				local code = H.read(H.root .. "/scripts/examples/" .. f)
				assert.truthy(text:find(code, 1, true), f .. " is not shown verbatim in docs/lua-api.md")
			end
		end
		p:close()
		assert.is_true(n >= 4)
	end)
end)
