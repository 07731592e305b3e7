-- docs_timer.lua - lia.timer and the global `lia` (docs/lua-api.md).
-- No broker needed:  lia run scripts/examples/docs_timer.lua
local timer = require "lia.timer"

local start = lia.now()                 -- monotonic milliseconds
lia.log.info("started at", os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(lia.time())))

local done = lia.cond()
local ticks = 0
local t
t = timer.every(100, function()
	ticks = ticks + 1
	if ticks == 3 then
		t:stop()                        -- a timer may stop itself
		done:signal(lia.now() - start)
	end
end)

-- cv:wait and lia.sleep pause this coroutine only; the timer keeps running.
local elapsed = done:wait()
print("3 ticks after", elapsed >= 300 and "at least 300 ms" or "too little")
lia.sleep(200)
print("slept", lia.now() - start >= 500 and "at least 500 ms" or "too little")
lia.stop()
