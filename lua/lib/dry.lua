-- lia.dry - stand-ins for the hardware modules while scripts are checked
-- (lia check, and the check before a live reload): the running scripts may
-- hold the very lines and ports the new ones open, and a check must not
-- drive outputs. Every function returns a handle whose methods do nothing
-- and return 0; numeric keys are absent so ipairs() over a result ends.
local M = {}

local handle
local function nothing() return 0 end
handle = setmetatable({}, {
	__index = function(_, k)
		if type(k) == "number" then return nil end
		return nothing
	end,
	__call = function() return handle end,
	__close = function() end,
	__tostring = function() return "dry hardware handle" end,
})

function M.module(name)
	return setmetatable({}, {
		__index = function(_, k)
			if type(k) == "number" then return nil end
			return function() return handle end
		end,
		__tostring = function() return name .. " (dry run)" end,
	})
end

return M
