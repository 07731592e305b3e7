-- /etc/lia/main.lua - the script the lia service runs. Saving an edit (or
-- `sudo systemctl reload lia`) reloads it live, keeping the MQTT session;
-- watch `journalctl -u lia -f` (docs/field.md). It may require modules
-- from /etc/lia.
-- The default client (global `mqtt`) comes from /etc/lia/lia.conf; its id
-- is this machine's host name unless client_id is set there.
-- More examples: /usr/share/lia/examples/ (GPIO, serial, I2C, telemetry).
local timer = require "lia.timer"

local id = mqtt.client_id
local base = "lia/" .. id

function on_connect(client)
	lia.log.info("connected as", id)
	client:publish(base .. "/status", "online", { qos = 1, retain = true })
	client:subscribe(base .. "/ping", 1)
end

function on_message(client, msg)
	if msg.topic == base .. "/ping" then
		client:publish(base .. "/pong", msg.payload, { qos = 1 })
	end
end

-- uptime every 60 seconds
timer.every(60000, function()
	local f = io.open("/proc/uptime")
	local up = f and f:read("n")
	if f then f:close() end
	mqtt:publish(base .. "/uptime", tostring(up), { qos = 0 })
end)
