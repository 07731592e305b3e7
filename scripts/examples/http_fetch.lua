-- http_fetch.lua - lia.http: fetch a JSON document, post a reading, and
-- keep publishing over MQTT while a request waits (the request yields its
-- own handler only).
--
--   URL=http://127.0.0.1:8000 lia run -h localhost -i pi-1 scripts/examples/http_fetch.lua
--
-- URL (the server, default http://127.0.0.1:8000) from the environment;
-- it is asked for /get and /echo. Publishes on lia/<id>/http:
--   "get 200 GET", "post 200 {"celsius":21.5}", then "done".
local http = require "lia.http"

local base = os.getenv("URL") or "http://127.0.0.1:8000"

function on_connect(client)
	local topic = "lia/" .. client.client_id .. "/http"
	local status, body, headers = http.request{ url = base .. "/get", timeout = 10,
		headers = { Accept = "application/json" } }
	if not status then
		client:publish(topic, "error " .. body)      -- body is the message here
		return
	end
	local doc = require("cjson.safe").decode(body)
	client:publish(topic, string.format("get %d %s %s", status, doc and doc.method, headers["content-type"]))
	-- a table body goes out as JSON, with Content-Type: application/json
	status, body = http.request{ url = base .. "/echo", method = "POST", body = { celsius = 21.5 } }
	client:publish(topic, string.format("post %s %s", status, body))
	client:publish(topic, "done", { qos = 1 })
end
