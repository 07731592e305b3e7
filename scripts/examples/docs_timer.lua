-- docs_timer.lua - lia.timer and the global `lia` (docs/lua-api.md).
-- No broker needed:  lia run scripts/examples/docs_timer.lua
local timer = require "lia.timer"

local start = lia.now()                 -- monotonic milliseconds
lia.log.info("started at", os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(lia.time())))

local ticks = 0
local t = timer.every(100, function()
	ticks = ticks + 1
end)

timer.after(350, function()
	t:stop()
	print("ticks after 350 ms:", ticks)   -- 3
end)

-- lia.sleep yields this coroutine only; the timers above keep running.
lia.sleep(500)
print("slept", lia.now() - start >= 500 and "at least 500 ms" or "too little")
lia.stop()
