-- lia.cli - lia pub and lia sub (mosquitto_pub / mosquitto_sub look-alikes)
-- and the options of the default client of lia run. main.c parses the
-- command line; the host calls cli.pub(args) / cli.sub(args) as the main
-- coroutine, with args as lua/args.c builds it.
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"

local M = {}

local E_QUEUE_FULL = mqtt.E_QUEUE_FULL

-- Client options from the command line.
function M.client_opts(a)
	local o = {
		uri = a.uri, host = a.host, port = a.port, client_id = a.id,
		username = a.username, password = a.password, keepalive = a.keepalive,
		protocol = a.protocol, clean = a.clean, session_expiry = a.session_expiry,
	}
	if a.cafile or a.capath or a.cert or a.key or a.keypass or a.alpn or a.ciphers
			or a.tls_version or a.insecure then
		-- any TLS option turns TLS on, as in mosquitto_pub
		o.tls = { ca_file = a.cafile, ca_path = a.capath, cert = a.cert, key = a.key,
			key_password = a.keypass, alpn = a.alpn, ciphers = a.ciphers,
			min_version = a.tls_version, insecure = a.insecure or nil }
	end
	o.proxy = a.proxy
	if a.will_topic then
		o.will = { topic = a.will_topic, payload = a.will_payload or "",
			qos = a.will_qos or 0, retain = a.will_retain }
	end
	return o
end

local function die(cmd, msg)
	io.stderr:write("lia ", cmd, ": ", tostring(msg), "\n")
	io.stderr:flush()
	lia.stop(1)
end

local function read_file(path)
	local f, err = io.open(path, "rb")
	if not f then return nil, err end
	local s = f:read("a")
	f:close()
	return s
end

-- pub -l: every stdin line is a message, read through the loop.
local function pub_lines(a, c, topic, opts)
	local stdin = require "lia.stdin"
	local last
	for line in stdin.lines() do
		local tok, err, code = c:publish(topic, line, opts)
		while not tok and code == E_QUEUE_FULL do
			-- the offline queue is full: let the broker catch up
			if last then last:wait(1000) else lia.sleep(10) end
			tok, err, code = c:publish(topic, line, opts)
		end
		if not tok then return nil, err end
		last = tok
	end
	if last then
		local ok, err = last:wait(30000)
		if not ok then return nil, "publish failed: " .. tostring(err) end
	end
	return true
end

function M.pub(a)
	local topic = a.topics[1]
	local opts = { qos = a.qos or 0, retain = a.retain }
	local payload
	if a.mode == "m" then
		payload = a.message
	elseif a.mode == "n" then
		payload = ""
	elseif a.mode == "s" then
		payload = io.stdin:read("a") or ""
	elseif a.mode == "f" then
		local err
		payload, err = read_file(a.file)
		if not payload then return die("pub", err) end
	end
	local copts = M.client_opts(a)
	copts.reconnect = false
	local c, err = mqtt.open(copts)
	if not c then return die("pub", err) end
	local ok
	if a.mode == "l" then
		ok, err = pub_lines(a, c, topic, opts)
	else
		local toks = {}
		for i = 1, a.rep or 1 do
			local tok, perr = c:publish(topic, payload, opts)
			if not tok then ok, err = nil, perr; break end
			toks[i] = tok
			ok = true
		end
		for _, tok in ipairs(ok and toks or {}) do
			local tok_ok, terr = tok:wait(30000)
			if not tok_ok then ok, err = nil, "publish failed: " .. tostring(terr); break end
		end
	end
	mqtt.close(c)
	if not ok then return die("pub", err) end
	lia.stop(0)
end

function M.sub(a)
	local copts = M.client_opts(a)
	copts.reconnect = { min = 0.5, max = 10 }
	local c = mqtt.client(copts)
	local count, n = a.count, 0
	local out = io.stdout
	local stopping = false
	c:on("message", function(_, msg)
		if stopping or (a.skip_retained and msg.retain) then return end
		if a.verbose then
			out:write(msg.topic, " ", msg.payload)
		else
			out:write(msg.payload)
		end
		if not a.no_newline then out:write("\n") end
		out:flush()
		n = n + 1
		if count and n >= count then
			stopping = true
			lia.stop(0)
		end
	end)
	c:on("connect_failed", function(_, ack)
		io.stderr:write("lia sub: connection refused: ", ack.reason_name, "\n")
	end)
	c:on("disconnect", function(_, info)
		if not stopping and info.will_reconnect then
			io.stderr:write("lia sub: ", info.message, "; retrying\n")
		end
	end)
	local list = {}
	for i, f in ipairs(a.topics) do list[i] = { f, a.qos or 0 } end
	local tok, err = c:subscribe(list)
	if not tok then return die("sub", err) end
	c:connect()
	if a.timeout then
		timer.after(a.timeout * 1000, function()
			if stopping then return end
			stopping = true
			io.stderr:write("Timed out\n")
			lia.stop(27)
		end)
	end
end

return M
