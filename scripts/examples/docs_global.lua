-- docs_global.lua - global-handler mode (docs/lua-api.md): define
-- on_connect / on_message and the client from the command line calls them.
-- The global `mqtt` is that client.
--
--   lia run -h localhost -p 1883 -i docs-global scripts/examples/docs_global.lua
function on_connect(client, ack)
	client:subscribe("docs/global/#", 1)
	mqtt:publish("docs/global/hello", "from on_connect", { qos = 1 })
end

function on_message(client, msg)
	print("on_message", msg.topic, msg.payload)
	lia.stop()
end

function on_disconnect(client, info)
	print("on_disconnect", info.message)
end
