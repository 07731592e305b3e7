-- lia.mqtt.helpers - the one-shot helpers of lia.mqtt, in Lua on top of the
-- client and its tokens (paho's publish.single, publish.multiple and
-- subscribe.simple). lia.mqtt calls the returned function with its module
-- table. They wait (yield), so call them from the main chunk, a handler or
-- a timer. Failures return nil and one line saying why.

local client_keys = {
	uri = true, host = true, port = true, client_id = true, protocol = true, clean = true,
	session_expiry = true, keepalive = true, username = true, password = true, will = true,
	reconnect = true, max_inflight = true, max_queued = true, properties = true,
	manual_ack = true, connect_timeout = true, max_packet_size = true,
	tls = true, ws = true, proxy = true,
}

local DISCONNECT_MS = 3000

local cjson_safe = require "cjson.safe"

return function(mqtt, message)
	-- msg:json(): the payload decoded (tables, numbers, strings, booleans;
	-- JSON null is cjson.null), or nil and cjson's message on bad JSON.
	if message then
		function message.json(msg)
			if type(msg) ~= "table" or type(msg.payload) ~= "string" then
				error("msg:json(): call it on a message", 2)
			end
			return cjson_safe.decode(msg.payload)
		end
	end

	-- The client options in opts (the rest: qos, retain, msg_count... are ours).
	local function client_opts(opts)
		local o = {}
		for k, v in pairs(opts or {}) do
			if client_keys[k] then o[k] = v end
		end
		if o.reconnect == nil then o.reconnect = false end
		return o
	end

	-- mqtt.open(opts): a connected client, or nil and why. No retry unless
	-- opts.reconnect asks for it.
	function mqtt.open(opts)
		local c = mqtt.client(client_opts(opts))
		local cond = lia.cond()
		c:on("connect", function() cond:signal(true) end)
		-- a refused CONNACK (the "disconnect" that follows comes too late)
		c:on("connect_failed", function(_, ack)
			cond:signal(nil, "connection refused: " .. ack.reason_name)
		end)
		c:on("disconnect", function(_, info)
			if not info.connected then cond:signal(nil, info.message) end
		end)
		c:connect()
		local timeout = ((opts and opts.connect_timeout) or 10) * 1000 + 1000
		local ok, err = cond:wait(timeout)
		c:on("connect", nil)
		c:on("connect_failed", nil)
		c:on("disconnect", nil)
		if not ok then
			c:close()
			return nil, err == "timeout" and "no connection within the timeout" or err
		end
		return c
	end

	-- Send DISCONNECT and wait until it is flushed, then free the client.
	function mqtt.close(c)
		if c:is_connected() then
			local cond = lia.cond()
			c:on("disconnect", function() cond:signal(true) end)
			c:disconnect()
			cond:wait(DISCONNECT_MS)
		end
		c:close()
	end

	local function publish_all(c, msgs, opts)
		local toks = {}
		for i, m in ipairs(msgs) do
			local topic, payload, qos, retain, props
			if type(m) == "table" and m.topic then
				topic, payload, qos, retain, props = m.topic, m.payload, m.qos, m.retain, m.properties
			elseif type(m) == "table" then
				topic, payload, qos, retain = m[1], m[2], m[3], m[4]
			else
				error("mqtt.multiple: message " .. i .. " is not a table", 3)
			end
			-- a token at QoS 0 too: the disconnect waits until each is written
			local tok, err = c:publish(topic, payload, {
				qos = qos or opts.qos or 0, retain = retain or opts.retain or false,
				properties = props or opts.properties, token = true })
			if not tok then return nil, err end
			toks[#toks + 1] = tok
		end
		local timeout = (opts.timeout or 30) * 1000
		for _, tok in ipairs(toks) do
			local ok, err = tok:wait(timeout)
			if not ok then return nil, "publish failed: " .. tostring(err) end
		end
		return true
	end

	-- mqtt.multiple(msgs, opts): msgs is a list of {topic=, payload=, qos=,
	-- retain=, properties=} or {topic, payload, qos, retain}. true | nil, err
	function mqtt.multiple(msgs, opts)
		opts = opts or {}
		local c, err = mqtt.open(opts)
		if not c then return nil, err end
		local ok, perr = publish_all(c, msgs, opts)
		mqtt.close(c)
		return ok, perr
	end

	-- mqtt.single(topic, payload, opts): one message. true | nil, err
	function mqtt.single(topic, payload, opts)
		opts = opts or {}
		return mqtt.multiple({ { topic = topic, payload = payload } }, opts)
	end

	-- mqtt.simple(filters, opts): subscribe, wait for opts.msg_count
	-- messages (default 1) and return the message, or a list of them when
	-- msg_count > 1. opts.retained = false skips retained messages;
	-- opts.timeout (seconds) gives up with nil, "timeout".
	function mqtt.simple(filters, opts)
		opts = opts or {}
		local want = opts.msg_count or 1
		local c, err = mqtt.open(opts)
		if not c then return nil, err end
		local got, cond = {}, lia.cond()
		c:on("message", function(_, msg)
			if opts.retained == false and msg.retain then return end
			if #got < want then
				got[#got + 1] = msg
				if #got == want then cond:signal(true) end
			end
		end)
		local list = {}
		if type(filters) == "string" then filters = { filters } end
		for i, f in ipairs(filters) do list[i] = { f, opts.qos or 0 } end
		local tok, serr = c:subscribe(list)
		local ok = tok ~= nil
		if ok then
			ok, serr = tok:wait((opts.timeout or 30) * 1000)
			if not ok then serr = "subscribe failed: " .. tostring(serr) end
		end
		if ok then
			ok, serr = cond:wait(opts.timeout and opts.timeout * 1000)
		end
		mqtt.close(c)
		if not ok then return nil, serr end
		if want == 1 then return got[1] end
		return got
	end
end
