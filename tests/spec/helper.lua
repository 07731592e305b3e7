-- helper.lua - what the busted specs share: a real mosquitto on a free
-- loopback port, background processes (lia, mosquitto_sub ...) with their
-- output in files, polling with a deadline, temporary scripts.
--
--   local H = require "tests.spec.helper"
--   describe("x", function()
--     local broker
--     setup(function() broker = H.broker() end)
--     teardown(H.cleanup)            -- kills every process, removes the temp dir
--     after_each(H.reap)             -- kills what the test left running
--     ...
--   end)
--
-- Processes are started through `sh -c 'setsid env --default-signal sh -c
-- "exec CMD" & echo $! >pidfile; wait $!; echo $? >statusfile'`: the pid is
-- the command itself (so signals reach it), its own process group (setsid),
-- with default signal dispositions (SIGINT is not ignored), and the waiting
-- shell records the exit status and reaps the child.
local system = require "system"

local H = {}

local function dirname(p) return (p:match("^(.*)/[^/]*$") or ".") end
local here = dirname(debug.getinfo(1, "S").source:sub(2))
H.root = (function()
	local p = io.popen("cd '" .. here .. "/../..' && pwd")
	local r = p:read("l"); p:close(); return r
end)()
H.lia = os.getenv("LIA") or (H.root .. "/build/lia")
H.host = "127.0.0.1"

function H.q(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function H.read(path)
	local f = io.open(path, "rb")
	if not f then return nil end
	local s = f:read("a"); f:close(); return s
end

function H.write(path, s)
	local f = assert(io.open(path, "wb"))
	f:write(s); f:close()
	return path
end

function H.exists(path)
	local f = io.open(path, "rb")
	if f then f:close() return true end
	return false
end

function H.sleep(s) system.sleep(s) end
function H.now() return system.gettime() end

-- wait(fn, timeout): call fn every 20 ms until it returns a true value or
-- the deadline passes; returns fn's values or nil.
function H.wait(fn, timeout, interval)
	local deadline = system.gettime() + (timeout or 5)
	while true do
		local r = table.pack(fn())
		if r[1] then return table.unpack(r, 1, r.n) end
		if system.gettime() > deadline then return nil end
		system.sleep(interval or 0.02)
	end
end

-- wait_for(cond, deadline): the same, under the name the house style uses.
-- Tests wait for the condition they check; deadline (seconds) is only a
-- failure guard, so make it generous: a passing run never waits it out.
H.wait_for = H.wait

-- count(s, plain) - how many times plain occurs in s
function H.count(s, plain)
	local n, i = 0, 1
	if not s then return 0 end
	while true do
		local a, b = s:find(plain, i, true)
		if not a then return n end
		n, i = n + 1, b + 1
	end
end

function H.lines(s)
	local t = {}
	for l in (s or ""):gmatch("([^\n]*)\n") do t[#t + 1] = l end
	return t
end

-- ---- temporary directory ----
local tmpdir
function H.tmp(name)
	if not tmpdir then
		local p = io.popen("mkdir -p " .. H.q(H.root .. "/tests/tmp") ..
			" && mktemp -d " .. H.q(H.root .. "/tests/tmp/spec.XXXXXX"))
		tmpdir = p:read("l"); p:close()
		assert(tmpdir and tmpdir ~= "", "cannot create a temp dir")
	end
	return name and (tmpdir .. "/" .. name) or tmpdir
end

local seq = 0
function H.uniq(prefix)
	seq = seq + 1
	return string.format("%s-%d-%d", prefix or "t", math.random(100000, 999999), seq)
end

-- script(text, vars) - write a Lua script into the temp dir; ${NAME} in the
-- text is replaced by vars.NAME (PORT defaults to the first broker the spec
-- started, HOST to 127.0.0.1).
function H.script(text, vars, name)
	vars = vars or {}
	local path = H.tmp(name or (H.uniq("script") .. ".lua"))
	text = text:gsub("%${(%w+)}", function(k)
		local v = vars[k]
		if v == nil and k == "PORT" and H.default_broker then v = H.default_broker.port end
		if v == nil and k == "HOST" then v = H.host end
		return v ~= nil and tostring(v) or nil
	end)
	return H.write(path, text)
end

-- ---- processes ----
local procs = {}

local Proc = {}
Proc.__index = Proc

-- spawn(cmd, opts) - start a shell command line in the background.
-- opts.stdin: a file to read stdin from (default /dev/null).
function H.spawn(cmd, opts)
	opts = opts or {}
	local id = H.uniq("p")
	local p = setmetatable({
		cmd = cmd,
		out = H.tmp(id .. ".out"), err = H.tmp(id .. ".err"),
		pidfile = H.tmp(id .. ".pid"), statusfile = H.tmp(id .. ".status"),
	}, Proc)
	-- os.execute's "&" leaves SIGINT/SIGQUIT ignored, and a shell cannot
	-- undo that: env --default-signal does, then sh execs cmd (same pid).
	local inner = string.format(
		"setsid env --default-signal sh -c %s <%s >%s 2>%s & echo $! >%s; wait $!; echo $? >%s",
		H.q("exec " .. cmd), H.q(opts.stdin or "/dev/null"), H.q(p.out), H.q(p.err),
		H.q(p.pidfile), H.q(p.statusfile))
	os.execute("sh -c " .. H.q(inner) .. " >/dev/null 2>&1 &")
	local pid = H.wait(function()
		local s = H.read(p.pidfile)
		return s and tonumber(s:match("%d+"))
	end, 5)
	assert(pid, "could not start: " .. cmd)
	p.pid = pid
	procs[#procs + 1] = p
	return p
end

function Proc:stdout() return H.read(self.out) or "" end
function Proc:stderr() return H.read(self.err) or "" end
function Proc:output() return self:stdout() .. self:stderr() end

-- status(): the exit status once the process ended (128+N when killed by
-- signal N), else nil.
function Proc:status()
	local s = H.read(self.statusfile)
	return s and tonumber(s:match("%d+"))
end

function Proc:alive() return self:status() == nil end

function Proc:kill(sig)
	os.execute(string.format("kill -%s %d 2>/dev/null", sig or "TERM", self.pid))
end

-- wait(timeout): the exit status, or nil if still running at the deadline.
function Proc:wait(timeout)
	return H.wait(function() return self:status() end, timeout or 5)
end

-- kill_group(sig): signal the whole process group (setsid made the
-- command a group leader), so what a shell script started goes too.
-- (not "kill -SIG -- -PID": dash, the /bin/sh os.execute runs, rejects it)
function Proc:kill_group(sig)
	os.execute(string.format("kill -%s -%d 2>/dev/null", sig or "TERM", self.pid))
end

-- stop(): TERM, then KILL (the process and its group) if it does not exit
-- within grace seconds.
function Proc:stop(grace)
	if not self:alive() then self:kill_group("KILL") return self:status() end
	self:kill("TERM")
	local st = self:wait(grace or 2)
	if st then self:kill_group("KILL") return st end
	self:kill("KILL")
	self:kill_group("KILL")
	return self:wait(2)
end

-- wait_for(text, timeout, stream): wait until the process' stdout (or
-- "stderr" / "both") contains text (plain); returns true or nil.
function Proc:wait_for(text, timeout, stream)
	return H.wait(function()
		local s = stream == "stderr" and self:stderr()
			or stream == "both" and self:output() or self:stdout()
		return s:find(text, 1, true) ~= nil
	end, timeout or 5)
end

-- run(cmd, opts) - run a command to completion (with a timeout):
-- returns { out, err, status }. opts.stdin: a string fed to stdin.
function H.run(cmd, opts)
	opts = opts or {}
	local id = H.uniq("r")
	local out, err = H.tmp(id .. ".out"), H.tmp(id .. ".err")
	local input = "/dev/null"
	if opts.stdin then input = H.write(H.tmp(id .. ".in"), opts.stdin) end
	local ok, how, code = os.execute(string.format("timeout -k 2 %s %s <%s >%s 2>%s",
		tostring(opts.timeout or 15), cmd, H.q(input), H.q(out), H.q(err)))
	local status = code
	if how == "signal" then status = 128 + code end
	return { out = H.read(out) or "", err = H.read(err) or "", status = status, ok = ok }
end

-- ---- lia ----
local function argstr(args)
	if type(args) == "string" then return args end
	local t = {}
	for i, a in ipairs(args) do t[i] = H.q(a) end
	return table.concat(t, " ")
end

-- "env K=V ... " for opts.env (a table), or ""
local function envstr(opts)
	if not (opts and opts.env) then return "" end
	local t = {}
	for k, v in pairs(opts.env) do t[#t + 1] = H.q(k .. "=" .. tostring(v)) end
	table.sort(t)
	return "env " .. table.concat(t, " ") .. " "
end

-- `lia run` reloads when any .lua file in its script's folder changes, and a
-- spec writes all its scripts into one temp folder: a lia still running
-- would reload (resubscribe, republish) whenever the next case writes its
-- script, at a moment that depends on the machine's load. So `lia run`
-- gets --no-watch here unless opts.watch says the case tests the watch.
local function unwatched(args, opts)
	if opts and opts.watch then return args end
	if type(args) == "string" then
		return (args:gsub("^run ", "run --no-watch ", 1))
	end
	if args[1] ~= "run" then return args end
	for _, a in ipairs(args) do
		if a == "--no-watch" then return args end
	end
	local t = { "run", "--no-watch" }
	for i = 2, #args do t[#t + 1] = args[i] end
	return t
end

-- lia_spawn(args, opts): start `lia ARGS` in the background
-- (opts.env: extra environment variables; opts.watch: keep the script
-- folder watch of `lia run`).
function H.lia_spawn(args, opts)
	return H.spawn(envstr(opts) .. H.q(H.lia) .. " " .. argstr(unwatched(args, opts)), opts)
end

-- lia_watch(args, opts): lia_spawn with the folder watch kept, for the
-- cases that test reload on a file change.
function H.lia_watch(args, opts)
	opts = opts or {}
	opts.watch = true
	return H.lia_spawn(args, opts)
end

-- lia_run(args, opts): run `lia ARGS` to completion.
function H.lia_run(args, opts)
	return H.run(envstr(opts) .. H.q(H.lia) .. " " .. argstr(unwatched(args, opts)), opts)
end

-- ---- mosquitto ----
local Broker = {}
Broker.__index = Broker
local brokers = {}

function Broker:conf_text()
	return table.concat({
		"listener " .. self.port .. " " .. H.host,
		self.listener_conf or "",   -- per-listener lines (TLS files ...)
		"allow_anonymous true",
		"persistence false",
		"user root", -- as root, do not drop to user mosquitto (it could not write the log)
		"log_dest file " .. self.logfile,
		"log_type all",
		"connection_messages true",
		"log_timestamp true",
		"",
	}, "\n")
end

-- start(): start mosquitto on self.port (a new one if port is nil); returns
-- true, or nil + reason when the port could not be bound.
function Broker:start_on(port)
	self.port = port
	self.starts = self.starts + 1
	self.logfile = H.tmp(string.format("%s-%d.log", self.id, self.starts))
	self.conf = H.write(H.tmp(self.id .. ".conf"), self:conf_text())
	self.proc = H.spawn("mosquitto -c " .. H.q(self.conf))
	local up = H.wait(function()
		local log = H.read(self.logfile) or ""
		if log:find("mosquitto version [%d.]+ running") then return "up" end
		if not self.proc:alive() then return "dead" end
	end, 5)
	if up == "up" then return true end
	self.proc:stop()
	return nil, (H.read(self.logfile) or "") .. self.proc:output()
end

function Broker:start()
	if self.port then
		local ok, err = self:start_on(self.port)
		if not ok then
			-- The port may still be held by the previous instance: retry briefly.
			ok = H.wait(function() return (self:start_on(self.port)) end, 5, 0.2)
		end
		assert(ok, "mosquitto did not restart on port " .. self.port .. ": " .. tostring(err))
		return self
	end
	local err
	for _ = 1, 10 do
		local ok
		ok, err = self:start_on(math.random(20000, 40000))
		if ok then return self end
	end
	error("mosquitto did not start: " .. tostring(err))
end

function Broker:stop()
	if self.proc then self.proc:stop(3) end
end

function Broker:restart()
	self:stop()
	return self:start()
end

function Broker:log() return H.read(self.logfile) or "" end

-- wait_log(text, timeout): wait for plain text to appear in the broker log.
function Broker:wait_log(text, timeout)
	return H.wait(function() return self:log():find(text, 1, true) ~= nil end, timeout or 5)
end

-- subscribed(client_id): wait until the broker acknowledged a SUBSCRIBE
-- from client_id (n-th time when n is given).
function Broker:subscribed(client_id, timeout, n)
	return H.wait(function()
		return H.count(self:log(), "Sending SUBACK to " .. client_id .. "\n") >= (n or 1)
	end, timeout or 5)
end

function Broker:connected(client_id, timeout, n)
	return H.wait(function()
		return H.count(self:log(), "Sending CONNACK to " .. client_id .. " ") >= (n or 1)
	end, timeout or 5)
end

-- barrier(sub, topic, timeout): publish a fresh marker on topic (which sub,
-- a mosquitto_sub from Broker:sub, is subscribed to) and wait until sub
-- printed it. One broker delivers in order on one connection, so whatever
-- the broker sent sub before the marker (a will, a duplicate, a message
-- that should not be there) has arrived by then: the way to check that
-- something did NOT happen without sleeping. Returns the marker, or nil.
function Broker:barrier(sub, topic, timeout)
	local marker = H.uniq("barrier")
	self:pub(string.format("-q 1 -t %s -m %s", H.q(topic), marker))
	if sub:wait_for(marker .. "\n", timeout or 10) then return marker end
	return nil
end

function Broker:uri() return "mqtt://" .. H.host .. ":" .. self.port end

-- sub(args): start mosquitto_sub against this broker with a fresh client id
-- and wait until it is subscribed. args: a string of extra arguments.
function Broker:sub(args, opts)
	local id = H.uniq("msub")
	local p = H.spawn(string.format("mosquitto_sub -h %s -p %d -i %s %s",
		H.host, self.port, id, args), opts)
	p.client_id = id
	assert(self:subscribed(id), "mosquitto_sub did not subscribe: " .. p:output())
	return p
end

-- pub(args): run mosquitto_pub to completion against this broker.
function Broker:pub(args)
	local r = H.run(string.format("mosquitto_pub -h %s -p %d %s", H.host, self.port, args))
	assert(r.status == 0, "mosquitto_pub failed: " .. r.out .. r.err)
	return r
end

-- broker([listener_conf]): a mosquitto on a free port; listener_conf adds
-- lines to its listener (e.g. cafile/certfile/keyfile for a TLS-only one).
function H.broker(listener_conf)
	local b = setmetatable({ id = H.uniq("mosq"), starts = 0, listener_conf = listener_conf }, Broker)
	brokers[#brokers + 1] = b
	H.default_broker = H.default_broker or b
	return b:start()
end

-- reap(): stop every process still running, except brokers.
function H.reap()
	for _, p in ipairs(procs) do
		local is_broker = false
		for _, b in ipairs(brokers) do if b.proc == p then is_broker = true end end
		if not is_broker then p:stop(2) end
	end
end

-- cleanup(): stop every process and remove the temp dir (KEEP_TMP=1 keeps it).
function H.cleanup()
	H.reap()
	for _, b in ipairs(brokers) do b:stop() end
	brokers, procs = {}, {}
	H.default_broker = nil
	if tmpdir and os.getenv("KEEP_TMP") == nil then
		os.execute("rm -rf " .. H.q(tmpdir))
		tmpdir = nil
	end
end

-- A readable dump of a process for assertion messages.
function H.dump(p, broker)
	local s = string.format("cmd: %s\nstatus: %s\nstdout:\n%s\nstderr:\n%s",
		p.cmd, tostring(p:status()), p:stdout(), p:stderr())
	if broker then s = s .. "\nbroker log (tail):\n" .. broker:log():sub(-3000) end
	return s
end

return H
