-- lia.cli - lia pub and lia sub (mosquitto_pub / mosquitto_sub look-alikes;
-- their client options are lia.cli.opts, which lia run's default client
-- uses alone). main.c parses the
-- command line; the host calls cli.pub(args) / cli.sub(args) as the main
-- coroutine, with args as lua/args.c builds it.
local mqtt = require "lia.mqtt"
local timer = require "lia.timer"

local M = {}

local E_QUEUE_FULL = mqtt.E_QUEUE_FULL

local cli_opts = require "lia.cli.opts"

local function die(cmd, msg, status)
	io.stderr:write("lia ", cmd, ": ", tostring(msg), "\n")
	io.stderr:flush()
	lia.stop(status or 1)
end

-- The client of lia pub / lia sub, created inside a protected call so that
-- a bad option ends in one line, not a traceback.
local function new_client(cmd, a, reconnect)
	local o = cli_opts.client_opts(a)
	o.reconnect = reconnect
	o.trace = a.debug
	-- a full queue refuses the new message and pub -l waits in c:drain():
	-- the default, dropping the oldest, lost lines mosquitto_pub -l never loses
	if cmd == "pub" then o.drop = "new" end
	local ok, c = pcall(mqtt.client, o)
	if not ok then
		return nil, (tostring(c):gsub("^[^:]*:%d+: ", ""):gsub("^mqtt%.client: ", ""))
	end
	if a.debug then
		-- -d: the packet trace on stdout, as mosquitto_pub/_sub print it
		c:on("log", function(_, _, line)
			if line:sub(1, 7) == "Client " then
				if a.before_trace then a.before_trace(line) end
				io.stdout:write(line, "\n")
				io.stdout:flush()
			end
		end)
	end
	return c
end

-- Connect once, as mosquitto_pub/_sub do: nothing listening ends with 1
-- (unless --retry: keep trying), a refusing CONNACK with its reason code
-- (5 for not authorized in 3.1.1, 0x87 in 5), as their exit status.
-- true, or nil, message, status.
local function connect(c, a)
	local cond, done = lia.cond(), false
	local function signal(...)
		-- a refusing CONNACK is followed by its disconnect: the first says why
		if not done then cond:signal(...) end
		done = true
	end
	c:on("connect", function() signal(true) end)
	-- a refusing CONNACK fires connect_failed, then its disconnect
	c:on("connect_failed", function(_, ack)
		signal(nil, string.format("connection refused by broker: %s (0x%02x)",
			ack.reason_name, ack.reason), ack.reason)
	end)
	c:on("disconnect", function(_, info)
		if not info.connected and not (a.retry and info.will_reconnect) then
			signal(nil, info.message, 1)
		end
	end)
	c:connect()
	local ok, err, status = cond:wait()
	c:on("connect", nil)
	c:on("connect_failed", nil)
	c:on("disconnect", nil)
	return ok, err, status
end

local function read_file(path)
	local f, err = io.open(path, "rb")
	if not f then return nil, err end
	local s = f:read("a")
	f:close()
	return s
end

-- pub -l: every stdin line is a message, read through the loop. QoS 0
-- publishes have no token (true): c:drain() is the back-pressure.
local function pub_lines(a, c, topic, opts)
	local stdin = require "lia.stdin"
	local last
	for line in stdin.lines() do
		local tok, err, code = c:publish(topic, line, opts)
		while not tok and code == E_QUEUE_FULL do
			-- the offline queue is full: let the broker catch up; a lost
			-- connection without --retry never drains it
			if not c:drain(1000) and not a.retry and not c:is_connected() then
				return nil, "connection lost with " .. c:stats().queued .. " messages unsent"
			end
			tok, err, code = c:publish(topic, line, opts)
		end
		if not tok then return nil, err end
		last = tok
	end
	local ok, err = c:drain(30000)  -- QoS 0: written, so the DISCONNECT follows it
	if ok and last ~= true and last then ok, err = last:wait(30000) end
	if not ok then return nil, "publish failed: " .. tostring(err) end
	return true
end

local function payload_of(a)
	if a.mode == "m" then return a.message end
	if a.mode == "n" then return "" end
	if a.mode == "s" then return io.stdin:read("a") or "" end
	if a.mode == "f" then return read_file(a.file) end
end

-- --repeat N [--repeat-delay S]: N publishes, each token waited for.
local function pub_repeat(a, c, topic, payload, opts)
	local toks = {}
	for i = 1, a.rep or 1 do
		if i > 1 and a.repeat_delay_ms then lia.sleep(a.repeat_delay_ms) end
		local tok, perr = c:publish(topic, payload, opts)
		if not tok then return nil, perr end
		toks[i] = tok
	end
	for _, tok in ipairs(toks) do
		local ok, terr = tok:wait(30000)
		if not ok then return nil, "publish failed: " .. tostring(terr) end
	end
	return true
end

function M.pub(a)
	local topic = a.topics[1]
	local props = cli_opts.properties(a)
	-- --repeat waits for each token (QoS 0: written); -l has none at QoS 0
	local opts = { qos = a.qos or 0, retain = a.retain, properties = props.publish,
		token = a.mode ~= "l" or nil }
	local say = a.quiet and function(_, _, st) lia.stop(st or 1) end or die
	local payload, err = payload_of(a)
	if not payload and a.mode ~= "l" then return say("pub", err) end
	local c
	c, err = new_client("pub", a, a.retry and { min = 0.5, max = 10 } or false)
	if not c then return say("pub", err) end
	local ok, status
	ok, err, status = connect(c, a)
	if not ok then
		c:close()
		return say("pub", err, status)
	end
	if a.mode == "l" then
		ok, err = pub_lines(a, c, topic, opts)
	else
		ok, err = pub_repeat(a, c, topic, payload, opts)
	end
	mqtt.close(c)
	if not ok then return say("pub", err) end
	lia.stop(0)
end

-- The topics lia sub has seen, for shell completion (packaging/completion):
-- ${XDG_CACHE_HOME:-~/.cache}/lia/topics, one a line, the newest last, at
-- most TOPICS_MAX. A cache: when it cannot be written, nothing is said.
local TOPICS_MAX = 1000

local function topic_cache()
	local base = os.getenv("XDG_CACHE_HOME")
	if not base or base == "" then
		local home = os.getenv("HOME")
		if not home or home == "" then return nil end
		base = home .. "/.cache"
	end
	local dir = base .. "/lia"
	local path, seen, list = dir .. "/topics", {}, {}
	local f = io.open(path, "r")
	if f then
		for line in f:lines() do
			if not seen[line] then seen[line] = true; list[#list + 1] = line end
		end
		f:close()
	else
		os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
	end
	if #list > TOPICS_MAX then       -- keep the newest
		f = io.open(path, "w")
		if f then
			f:write(table.concat(list, "\n", #list - TOPICS_MAX + 1), "\n")
			f:close()
		end
	end
	return function(topic)
		if seen[topic] or topic:find("\n", 1, true) then return end
		seen[topic] = true
		local out = io.open(path, "a")
		if out then out:write(topic, "\n"); out:close() end
	end
end

-- Is topic one that -T filters out?
local function filtered(a, topic)
	for _, f in ipairs(a.filter_out) do
		if mqtt.matches(f, topic) then return true end
	end
	return false
end

-- The per-message part of lia sub: what -R, --retained-only, -T,
-- --remove-retained, -C and the output options make of one message.
local function on_message(a, c, st)
	local out, fmt = io.stdout, require "lia.cli.format"
	local remember = topic_cache() or function() end
	local function handle(_, msg)
		if st.stopping then return end
		remember(msg.topic)
		if a.retained_only and not msg.retain then
			st.stopping = true
			return lia.stop(0)
		end
		if (a.skip_retained and msg.retain) or filtered(a, msg.topic) then return end
		if a.remove_retained and msg.retain then
			c:publish(msg.topic, "", { qos = 1, retain = true })
		end
		local s, err = fmt.message(a, msg)
		if err and not a.quiet then io.stderr:write(err, "\n") end
		out:write(s)
		out:flush()
		st.n = st.n + 1
		if a.count and st.n >= a.count then
			st.stopping = true
			lia.stop(0)
		end
	end
	if a.debug then
		-- -d: a message is printed after its packet's trace lines, as
		-- mosquitto_sub does. The trace reaches us as posted log events,
		-- after the message: hold each message until its "received PUBLISH"
		-- line is out, and print it before the next packet's (or, for the
		-- last one, once the posted events have been delivered).
		local held = {}
		local function flush()
			while held[1] and held[1].traced do handle(nil, table.remove(held, 1).msg) end
		end
		a.before_trace = function(line)
			if not line:find(" received PUBLISH ", 1, true) then return end
			flush()
			for _, h in ipairs(held) do
				if not h.traced then h.traced = true; break end
			end
		end
		return function(_, msg)
			held[#held + 1] = { msg = msg }
			timer.after(0, flush)
		end
	end
	return handle
end

local function subscribe(a, c, st)
	local list, props = {}, cli_opts.properties(a)
	for i, f in ipairs(a.topics) do list[i] = { f, a.qos or 0 } end
	-- -D subscribe / unsubscribe: the properties of the one SUBSCRIBE and UNSUBSCRIBE
	if props.subscribe and list[1] then
		list[1][2] = { qos = a.qos or 0, properties = props.subscribe }
	end
	local tok, err = c:subscribe(list)
	if not tok then return nil, err end
	if #a.unsub > 0 then c:unsubscribe(a.unsub, props.unsubscribe and { properties = props.unsubscribe }) end
	c:on("subscribe", function(_, mid, codes)
		if mid ~= tok.mid then return end
		if a.debug and not a.quiet then
			io.stdout:write("Subscribed (mid: ", mid, "): ", table.concat(codes, ", "), "\n")
		end
		if a.exit_on_suback then
			st.stopping = true
			lia.stop(0)
		end
	end)
	return true
end

function M.sub(a)
	local say = a.quiet and function(_, _, st) lia.stop(st or 1) end or die
	local c, err = new_client("sub", a, { min = 0.5, max = 10 })
	if not c then return say("sub", err) end
	local st = { n = 0, stopping = false }
	c:on("message", on_message(a, c, st))
	local ok, status
	ok, err, status = connect(c, a)
	if not ok then
		c:close()
		return say("sub", err, status)
	end
	-- after CONNACK: one queued before it would be sent twice (queued and
	-- restored), and retained messages would arrive twice
	local serr
	ok, serr = subscribe(a, c, st)
	if not ok then return say("sub", serr) end
	c:on("disconnect", function(_, info)
		if not st.stopping and info.will_reconnect and not a.quiet then
			io.stderr:write("lia sub: ", info.message, "; retrying\n")
		end
	end)
	if a.timeout then
		timer.after(a.timeout * 1000, function()
			if st.stopping then return end
			st.stopping = true
			if not a.quiet then io.stderr:write("Timed out\n") end
			lia.stop(27)
		end)
	end
end

-- lia bundle push, lia fleet (docs/fleet.md)
function M.bundle_push(a) return require("lia.fleet.cli").push(a) end
function M.fleet(a) return require("lia.fleet.cli").fleet(a) end

return M
