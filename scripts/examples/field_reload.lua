-- field_reload.lua - a script that lives through live reloads: save an
-- edit (or run systemctl reload lia) and the new handlers take over on the
-- same MQTT session, with no new CONNECT and no message lost.
--   lia run -h localhost -i field-demo scripts/examples/field_reload.lua
--   mosquitto_pub -t field/field-demo/cmd -m hello
local VERSION = "1"

function on_connect(client, ack)
	-- after a reload the connection is kept: ack.reloaded is true, and a
	-- filter the session already has is not subscribed again
	print("connected", VERSION, ack.reloaded and "reloaded" or "new")
	client:subscribe("field/" .. client.client_id .. "/cmd", 1)
end

function on_message(client, msg)
	print("command", VERSION, msg.payload)
	client:publish("field/" .. client.client_id .. "/ack", msg.payload .. " by v" .. VERSION, 1)
end

function on_disconnect(client, info)
	-- a refused CONNACK ends here too (on_connect never runs for it)
	print("disconnected", info.reason, info.reason_name)
end
