-- field_limits.lua - what the handler budget and the memory limit do: a
-- runaway handler is stopped with its file:line, everything else goes on.
--   lia run --handler-budget 500 --memory-limit 8 scripts/examples/field_limits.lua
local timer = require "lia.timer"

local beats = 0
timer.every(100, function()
	beats = beats + 1
	print("heartbeat", beats)
	if beats == 10 then lia.stop(0) end
end)

timer.after(150, function()
	while true do end -- stopped: "handler exceeded its 500 ms budget"
end)

timer.after(450, function()
	local t, mb = {}, string.rep("x", 1 << 20)
	while true do
		t[#t + 1] = mb .. #t -- stopped: "not enough memory (limit 8 MB)"
	end
end)
