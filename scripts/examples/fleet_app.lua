-- fleet_app.lua - the app of the fleet walk-through (docs/fleet.md): the
-- main file of a bundle is an ordinary lia script.
local timer = require "lia.timer"
local VERSION = "2"

print("fleet app", VERSION)
timer.every(60000, function() print("still here", VERSION) end)
