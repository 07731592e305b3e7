-- lia.fleet.cli (lua/lib/fleet_cli.lua) - lia bundle push and lia fleet (docs/fleet.md), run by
-- the host as lia.cli functions: the C side (lua/cli_bundle.c) hands over
-- the options in a.argv and whether stdout is a terminal in a.tty.
local mqtt = require "lia.mqtt"
local cjson = require "cjson.safe"

local M = {}

local function die(cmd, msg)
	io.stderr:write("lia ", cmd, ": ", tostring(msg), "\n")
	io.stderr:flush()
	lia.stop(1)
	return nil
end

-- Options: flags (no value) and valued ones; the rest are positional.
local FLAGS = { ["--all"] = true, ["--then-all"] = true, ["--once"] = true, ["--clear"] = true }
local VALUED = { ["-h"] = "host", ["-p"] = "port", ["-L"] = "uri", ["--broker"] = "uri",
	["--prefix"] = "prefix", ["--group"] = "group", ["--canary"] = "canary",
	["--timeout"] = "timeout", ["-u"] = "username", ["-P"] = "password", ["-i"] = "client_id" }

local function parse(cmd, argv)
	local o = { ids = {}, files = {} }
	local i = 1
	while i <= #argv do
		local a = argv[i]
		if FLAGS[a] then
			o[a:sub(3):gsub("-", "_")] = true
		elseif VALUED[a] then
			if argv[i + 1] == nil then return nil, a .. " needs a value" end
			o[VALUED[a]] = argv[i + 1]
			i = i + 1
		elseif a == "--id" then
			if argv[i + 1] == nil then return nil, a .. " needs a value" end
			o.ids[#o.ids + 1] = argv[i + 1]
			i = i + 1
		elseif a:sub(1, 1) == "-" then
			return nil, "unknown option " .. a .. " (see lia " .. cmd .. " --help, docs/fleet.md)"
		else
			o.files[#o.files + 1] = a
		end
		i = i + 1
	end
	o.prefix = o.prefix or "lia"
	o.timeout = o.timeout and tonumber(o.timeout)
	o.canary = o.canary and tonumber(o.canary)
	return o
end

local function connect(cmd, o)
	local ok, c = pcall(mqtt.client, { uri = o.uri, host = o.host, port = tonumber(o.port),
		client_id = o.client_id, username = o.username, password = o.password,
		reconnect = false, protocol = 5 })
	if not ok then return nil, tostring(c) end
	local up, err
	c:on("connect", function() up = true end)
	c:on("disconnect", function(_, info) if not up then err = info.message end end)
	c:connect()
	local waited = 0
	while not up and not err and waited < 10000 do lia.sleep(20); waited = waited + 20 end
	if not up then return nil, err or "no CONNACK within 10 s" end
	return c
end

-- wait until pred() is true or seconds pass; true or nil
local function wait(pred, seconds)
	local left = seconds * 1000
	while not pred() do
		if left <= 0 then return nil end
		lia.sleep(20)
		left = left - 20
	end
	return true
end

-- Every retained status under prefix: subscribe, then a marker message on
-- a topic of our own; the broker sends the retained ones before it.
local function statuses(c, o, devices)
	local marker = string.format("%s/.cli/%d-%d", o.prefix, os.time(), math.random(1e9))
	local seen = false
	c:subscribe(o.prefix .. "/+/status", 1, function(_, msg)
		local d = cjson.decode(msg.payload)
		local id = msg.topic:sub(#o.prefix + 2, -#"/status" - 1)
		if type(d) == "table" then
			d.seen = os.time()
			devices[id] = d
		end
		if o.on_status then o.on_status(id, d, msg.retain) end
	end):wait(10000)
	c:subscribe(marker, 1, function() seen = true end):wait(10000)
	c:publish(marker, "x", { qos = 1 })
	return wait(function() return seen end, 10)
end

local function member(d, group)
	if not group then return true end
	for _, g in ipairs(d.groups or {}) do if g == group then return true end end
	return false
end

-- ---- lia bundle push ----

-- Publish the bundle on topic (retained: a device offline now gets it
-- when it comes back) and wait for the results of ids.
local function deploy(c, o, topic, bundle, ids, results)
	c:publish(topic, bundle.text, { qos = 1, retain = true }):wait(30000)
	print(string.format("pushed %s %s to %s", bundle.id, bundle.version, topic))
	return wait(function()
		for _, id in ipairs(ids) do if not results[id] then return false end end
		return true
	end, o.timeout or 120)
end

local function report(ids, results)
	local failed
	for _, id in ipairs(ids) do
		local r = results[id]
		if not r then
			print(string.format("%s: no result within the timeout", id))
			failed = failed or id
		elseif r.result == "committed" then
			print(string.format("%s: committed", id))
		else
			print(string.format("%s: %s: %s", id, r.result, r.reason or ""))
			failed = failed or id
		end
	end
	return failed
end

local function read_bundle(cmd, path)
	local f, err = io.open(path or "", "rb")
	if not f then return nil, "cannot read the bundle: " .. tostring(err or path) end
	local text = f:read("a")
	f:close()
	-- the devices refuse more (lfleet_bundle.h BUNDLE_MAX_BYTES); far larger
	-- would be dropped by the broker or the agent's packet limit unreported
	if #text > 1024 * 1024 then
		return nil, string.format("%s: the bundle is %d bytes, more than the limit of 1048576 (1 MiB)",
			path, #text)
	end
	local b = cjson.decode(text)
	if type(b) ~= "table" or type(b.id) ~= "string" then
		return nil, path .. ": not a bundle (make one with lia bundle sign)"
	end
	return { text = text, id = b.id, version = tostring(b.version) }
end

-- The targets: --id ..., or the group's (or all) online devices from
-- their retained status.
local function targets(o, devices)
	if #o.ids > 0 then return o.ids end
	local ids, offline = {}, {}
	for id, d in pairs(devices) do
		if member(d, o.group) then
			if d.online then ids[#ids + 1] = id else offline[#offline + 1] = id end
		end
	end
	table.sort(ids)
	table.sort(offline)
	for _, id in ipairs(offline) do
		print(string.format("%s: offline, gets the retained deploy when it comes back", id))
	end
	return ids
end

local function push(a)
	local cmd = "bundle push"
	local o, err = parse(cmd, a.argv)
	if not o then return die(cmd, err) end
	if #o.files ~= 1 then return die(cmd, "one bundle file is needed (lia bundle sign -o FILE)") end
	if #o.ids == 0 and not o.all and not o.group then
		return die(cmd, "say where: --id DEV, --group G or --all")
	end
	local bundle
	bundle, err = read_bundle(cmd, o.files[1])
	if not bundle then return die(cmd, err) end
	local c
	c, err = connect(cmd, o)
	if not c then return die(cmd, err) end
	local results, devices = {}, {}
	c:subscribe(o.prefix .. "/+/deploy/result", 1, function(_, msg)
		local r = cjson.decode(msg.payload)
		if type(r) == "table" and r.bundle == bundle.id and r.id then results[r.id] = r end
	end):wait(10000)
	if not statuses(c, o, devices) then return die(cmd, "the broker did not answer") end
	local ids = targets(o, devices)
	local all_topic = o.group and (o.prefix .. "/group/" .. o.group .. "/deploy")
		or (o.prefix .. "/all/deploy")
	if #o.ids > 0 then
		for i = 2, #ids do
			c:publish(o.prefix .. "/" .. ids[i] .. "/deploy", bundle.text, { qos = 1, retain = true })
		end
		deploy(c, o, o.prefix .. "/" .. ids[1] .. "/deploy", bundle, ids, results)
		local failed = report(ids, results)
		mqtt.close(c)
		return lia.stop(failed and 1 or 0)
	end
	local rest = ids
	if o.canary then
		local canaries = {}
		rest = {}
		for i, id in ipairs(ids) do
			if i <= o.canary then canaries[#canaries + 1] = id else rest[#rest + 1] = id end
		end
		if #canaries == 0 then return die(cmd, "no online device to be the canary") end
		for _, id in ipairs(canaries) do
			deploy(c, o, o.prefix .. "/" .. id .. "/deploy", bundle, { id }, results)
		end
		local failed = report(canaries, results)
		for _, id in ipairs(canaries) do  -- a committed bundle runs: no retained copy needed
			c:publish(o.prefix .. "/" .. id .. "/deploy", "", { qos = 1, retain = true })
		end
		if failed then
			local r = results[failed]
			print(string.format("stopped: the canary %s %s; the other %d devices were not touched",
				failed, r and (r.result .. ": " .. (r.reason or "")) or "gave no result", #rest))
			mqtt.close(c)
			return lia.stop(1)
		end
		if not o.then_all then
			mqtt.close(c)
			return lia.stop(0)
		end
	end
	deploy(c, o, all_topic, bundle, rest, results)
	local failed = report(rest, results)
	mqtt.close(c)
	lia.stop(failed and 1 or 0)
end

function M.push(a)
	push(a)
end

-- ---- lia fleet ----

local function age(now, t)
	return t and string.format("%ds ago", now - t) or "-"
end

local function int(x)
	return math.type(x) and string.format("%d", math.floor(x)) or nil
end

local function row(id, d, now)
	local b = type(d.bundle) == "table" and d.bundle or {}
	return string.format("%-20s %-7s %-12s %-9s %8s %6s  %s", id, d.online and "online" or "offline",
		b.version or "-", d.version or "-", int(d.uptime) and (int(d.uptime) .. "s") or "-",
		int(d.errors_total) or "0", age(now, d.seen))
end

local HEADER = string.format("%-20s %-7s %-12s %-9s %8s %6s  %s", "ID", "ONLINE", "VERSION",
	"LIA", "UPTIME", "ERRORS", "LAST SEEN")

local function table_text(devices)
	local ids, now = {}, os.time()
	for id in pairs(devices) do ids[#ids + 1] = id end
	table.sort(ids)
	local lines = { HEADER }
	for _, id in ipairs(ids) do lines[#lines + 1] = row(id, devices[id], now) end
	return table.concat(lines, "\n") .. "\n", #ids
end

function M.fleet(a)
	local cmd = "fleet"
	local o, err = parse(cmd, a.argv)
	if not o then return die(cmd, err) end
	local c
	c, err = connect(cmd, o)
	if not c then return die(cmd, err) end
	local devices = {}
	local live = false
	if not a.tty then
		-- piped: one plain line per status message, the retained ones too
		o.on_status = function(id, d)
			if type(d) == "table" then io.stdout:write(row(id, d, os.time()), "\n") end
			io.stdout:flush()
		end
	end
	if not statuses(c, o, devices) then return die(cmd, "the broker did not answer") end
	if o.once then
		if a.tty then io.stdout:write(table_text(devices)) end
		mqtt.close(c)
		return lia.stop(0)
	end
	live = a.tty
	local left = o.timeout and o.timeout * 1000 or math.huge
	while left > 0 do
		if live then
			-- home, clear the screen, draw: the table refreshes in place
			io.stdout:write("\27[H\27[2J", table_text(devices))
			io.stdout:flush()
		end
		lia.sleep(1000)
		left = left - 1000
	end
	mqtt.close(c)
	lia.stop(0)
end

return M
