-- erlang.lua - RabbitMQ (its MQTT plugin) and ejabberd (mod_mqtt) started
-- by the tests as ordinary processes: a private directory for config,
-- data, logs and the Erlang cookie, free loopback ports, and a private
-- epmd on its own port (ERL_EPMD_PORT), so nothing touches a system
-- broker and everything -- epmd too -- is stopped by the spec's teardown.
local H = require "tests.spec.helper"

local E = {}
local COOKIE = "liabrokertests"

-- a free loopback port (the kernel picks it; racy only in theory)
function E.free_port()
	local r = H.run([[python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
	return assert(tonumber(r.out:match("%d+")), r.err)
end

local Broker = {}
Broker.__index = Broker

function Broker:uri() return "mqtt://127.0.0.1:" .. self.port end

-- signal the process group of p: dash's kill takes "-SIG -PGID" but not
-- the "--" that helper.lua's kill_group passes
local function kill_group(p, sig)
	os.execute(string.format("kill -%s -%d 2>/dev/null", sig, p.pid))
end

-- stop(): the node's whole process group (inet_gethost ...); TERM, then
-- KILL after a grace period. erl_child_setup has its own session and
-- exits with the node.
function Broker:stop()
	if not self.proc then return end
	kill_group(self.proc, "TERM")
	if not self.proc:wait(10) then kill_group(self.proc, "KILL") self.proc:wait(5) end
	self.proc = nil
end

-- kill(): as a crash would, no chance to tell the cluster
function Broker:kill()
	if not self.proc then return end
	kill_group(self.proc, "KILL")
	assert(self.proc:wait(10), "node did not die")
	self.proc = nil
end

function Broker:log() return (H.read(self.logfile) or "") .. (self.proc and self.proc:output() or "") end

local Epmd = {}

-- epmd(): a private epmd in the foreground (so it can be stopped by pid)
function E.epmd()
	local port = E.free_port()
	local p = H.spawn("epmd -port " .. port)
	assert(H.wait(function()
		return H.run("epmd -port " .. port .. " -names").status == 0 or not p:alive()
	end, 10) and p:alive(), "epmd did not start: " .. p:output())
	return { port = port, proc = p, stop = function(self)
		kill_group(self.proc, "TERM")
		if not self.proc:wait(5) then kill_group(self.proc, "KILL") end
	end }
end

local function env(t)
	local parts = {}
	for k, v in pairs(t) do parts[#parts + 1] = k .. "=" .. H.q(v) end
	table.sort(parts)
	return "env " .. table.concat(parts, " ") .. " "
end

-- ---- RabbitMQ ----

local RABBIT = "/usr/lib/rabbitmq/bin/rabbitmq-server"

function E.have_rabbitmq() return H.exists(RABBIT) end

-- rabbitmq(epmd, name): one node with the MQTT plugin, anonymous logins
-- as guest from loopback.
function E.rabbitmq(epmd, name)
	local b = setmetatable({ name = name or H.uniq("rabbit"), kind = "rabbitmq" }, Broker)
	b.dir = H.tmp(b.name)
	os.execute("mkdir -p " .. H.q(b.dir))
	b.port, b.amqp, b.dist = E.free_port(), E.free_port(), E.free_port()
	H.write(b.dir .. "/rabbitmq.conf", table.concat({
		"listeners.tcp.default = 127.0.0.1:" .. b.amqp,
		"mqtt.listeners.tcp.default = 127.0.0.1:" .. b.port,
		"mqtt.allow_anonymous = true",
		"loopback_users = none",
		"log.console = true", "log.file = false", "" }, "\n"))
	H.write(b.dir .. "/enabled_plugins", "[rabbitmq_mqtt].\n")
	H.write(b.dir .. "/.erlang.cookie", COOKIE)
	os.execute("chmod 400 " .. H.q(b.dir .. "/.erlang.cookie"))
	b.node = b.name .. "@localhost"
	b.env = env({ HOME = b.dir, ERL_EPMD_PORT = epmd.port, RABBITMQ_NODENAME = b.node,
		RABBITMQ_DIST_PORT = b.dist, RABBITMQ_CONFIG_FILE = b.dir .. "/rabbitmq.conf",
		RABBITMQ_ENABLED_PLUGINS_FILE = b.dir .. "/enabled_plugins",
		RABBITMQ_MNESIA_BASE = b.dir .. "/mnesia", RABBITMQ_LOG_BASE = b.dir .. "/log",
		RABBITMQ_PID_FILE = b.dir .. "/pid", RABBITMQ_ADVANCED_CONFIG_FILE = b.dir .. "/advanced.config" })
	b.logfile = b.dir .. "/none"
	b.proc = H.spawn(b.env .. RABBIT)
	-- Erlang brokers start slowly on a busy machine: a generous guard
	assert(H.wait(function()
		return b.proc:stdout():find("Server startup complete", 1, true) or not b.proc:alive()
	end, 120) and b.proc:alive(), "rabbitmq did not start: " .. b.proc:output():sub(-3000))
	return b
end

-- ---- ejabberd ----

local function ejabberd_libs()
	local f = io.popen("ls -d /usr/lib/*/ejabberd-*/ebin 2>/dev/null")
	local ebin = f:read("l")
	f:close()
	return ebin and ebin:match("^(.*)/[^/]+/ebin$")
end

function E.have_ejabberd() return ejabberd_libs() ~= nil end

-- ejabberd(epmd, name): one node with mod_mqtt; anonymous logins (any
-- user name, any password).
function E.ejabberd(epmd, name)
	local b = setmetatable({ name = name or H.uniq("ejab"), kind = "ejabberd" }, Broker)
	b.dir = H.tmp(b.name)
	os.execute("mkdir -p " .. H.q(b.dir .. "/db"))
	b.port = E.free_port()
	H.write(b.dir .. "/ejabberd.yml", table.concat({
		"hosts:", "  - localhost", "loglevel: info",
		"auth_method: [anonymous]", "anonymous_protocol: login_anon",
		"allow_multiple_connections: true",
		"listen:", "  -", "    port: " .. b.port, '    ip: "127.0.0.1"', "    module: mod_mqtt",
		"modules:", "  mod_mqtt: {}", "" }, "\n"))
	b.node = b.name .. "@localhost"
	b.logfile = b.dir .. "/ejabberd.log"
	b.env = env({ HOME = b.dir, ERL_EPMD_PORT = epmd.port, ERL_LIBS = ejabberd_libs(),
		EJABBERD_CONFIG_PATH = b.dir .. "/ejabberd.yml", EJABBERD_LOG_PATH = b.logfile })
	b.proc = H.spawn(b.env .. "erl -sname " .. b.node .. " -setcookie " .. COOKIE ..
		" -noinput -mnesia dir " .. H.q('"' .. b.dir .. '/db"') .. " -s ejabberd")
	assert(H.wait(function()
		return (H.read(b.logfile) or ""):find("Start accepting TCP connections at 127.0.0.1:" .. b.port, 1, true)
			or not b.proc:alive()
	end, 60) and b.proc:alive(), "ejabberd did not start: " .. b:log():sub(-3000))
	return b
end

-- join(b, a): make ejabberd node b a member of a's cluster (mnesia copies
-- a's tables; b restarts its applications).
function E.ejabberd_join(b, a)
	local r = H.run(b.env .. "erl -sname " .. H.q(H.uniq("ctl") .. "@localhost") .. " -setcookie " ..
		COOKIE .. " -noinput -eval " .. H.q(string.format(
		'R = rpc:call(\'%s\', ejabberd_admin, join_cluster, [<<"%s">>]), io:format("~p~n", [R]), init:stop().',
		b.node, a.node)), { timeout = 60 })
	assert(r.out:find("ok", 1, true), "join_cluster: " .. r.out .. r.err)
	-- b's listener comes back after the restart of its applications
	assert(H.wait(function()
		return H.count(H.read(b.logfile) or "", "Start accepting TCP connections at 127.0.0.1:" .. b.port) >= 2
	end, 60), "ejabberd node did not come back after join: " .. b:log():sub(-3000))
	return r.out
end

return E
