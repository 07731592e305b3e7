-- Deployment: the configuration file (lia run/check --config, $LIA_CONFIG),
-- the journal log format, SIGHUP reload, and the packaged sample
-- configuration and /etc/lia/main.lua (packaging/) against mosquitto.
local H = require "tests.spec.helper"

-- LIA_EMULATED: tests/cross/run.sh runs this under qemu-user, which cannot
-- re-execute a target binary without binfmt_misc (the SIGHUP reload).
local emulated = os.getenv("LIA_EMULATED")

local function hostname()
	local p = io.popen("hostname")
	local h = p:read("l"); p:close()
	return h
end

local function conf(text, vars)
	return H.script(text, vars, H.uniq("lia") .. ".conf")
end

describe("deployment", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("lia check --config: ok for the packaged sample, with its main.lua", function()
		local r = H.lia_run { "check", "--config", H.root .. "/packaging/lia.conf.sample",
			H.root .. "/packaging/main.lua" }
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal("ok\n", r.out)
	end)

	it("lia check --config: every mistake is one file:line: message, exit 1", function()
		local cases = {
			{ "broker = mqtt://x\nport = 70000\n", ":2: port: '70000' is not a number in 1..65535" },
			{ "# c\n\ncolour = blue\n", ":3: unknown key 'colour'" },
			{ "broker mqtt://x\n", ":1: expected key = value, got 'broker mqtt://x'" },
			{ "protocol = 6\n", ":1: protocol: '6' is not 31, 311 or 5" },
			{ "will.retain = maybe\n", ":1: will.retain: 'maybe' is not true or false" },
			{ "log_level = loud\n", ":1: log_level: 'loud' is not error, warn, info or debug" },
			{ "hw = gpio\n", ":1: hw: 'gpio' is not linux or sim" },
			{ "password = \"abc\n", ":1: password: unterminated \"" },
			{ "username =\n", ":1: username: missing value (use \"\" for an empty one)" },
		}
		for _, c in ipairs(cases) do
			local path = conf(c[1])
			local r = H.lia_run { "check", "--config", path }
			assert.equal(1, r.status, c[1])
			assert.equal(path .. c[2], r.err:match("^[^\n]*"), c[1])
		end
		local r = H.lia_run { "check", "--config", H.tmp("missing.conf") }
		assert.equal(1, r.status)
		assert.truthy(r.err:find("missing.conf: No such file or directory", 1, true), r.err)
	end)

	it("the configuration and the command line take the same values, with the same reasons", function()
		-- { key = value, the same on the command line, the reason both give }
		local cases = {
			{ "port = 70000", { "-p", "70000" }, "'70000' is not a number in 1..65535" },
			{ "keepalive = -1", { "-k", "-1" }, "'-1' is not a number in 0..65535" },
			{ "session_expiry = 4294967296", { "-x", "4294967296" }, "'4294967296' is not a number in 0..4294967295" },
			{ "protocol = 6", { "-V", "6" }, "'6' is not 31, 311 or 5" },
			{ "handler_budget = x", { "--handler-budget", "x" }, "'x' is not a number in 0..3600000" },
			{ "log_format = xml", { "--log-format", "xml" }, "'xml' is not text or journal" },
			{ "hw = gpio", { "--hw", "gpio" }, "'gpio' is not linux or sim" },
		}
		local script = H.script("-- nothing\n")
		for _, c in ipairs(cases) do
			local path = conf(c[1] .. "\n")
			local r = H.lia_run { "check", "--config", path }
			assert.equal(1, r.status, c[1])
			assert.truthy(r.err:find(c[3], 1, true), c[1] .. ": " .. r.err)
			local args = { "run" }
			for _, x in ipairs(c[2]) do args[#args + 1] = x end
			args[#args + 1] = script
			r = H.lia_run(args)
			assert.equal(1, r.status, table.concat(args, " "))
			assert.truthy(r.err:find(c[2][1] .. ": " .. c[3], 1, true), table.concat(args, " ") .. ": " .. r.err)
		end
		-- and what one takes, the other takes: mqttv311 and 4 are 3.1.1 both ways
		for _, v in ipairs { "mqttv311", "4", "5", "31" } do
			local r = H.lia_run { "check", "--config", conf("protocol = " .. v .. "\n") }
			assert.equal(0, r.status, v .. ": " .. r.err)
		end
	end)

	it("lia check --config checks the configuration's script too", function()
		local bad = H.script("x = = 1\n")
		local r = H.lia_run { "check", "--config", conf("script = " .. bad .. "\n") }
		assert.equal(1, r.status)
		assert.truthy(r.err:find(bad .. ":1:", 1, true), r.err)
	end)

	it("lia run --config: broker from the file, the command line wins, id = host name", function()
		local topic = H.uniq("cfg")
		local script = H.script([[
function on_connect(c)
	print("ID", c.client_id)
	c:publish("${T}", "hello", { qos = 1 })
end
]], { T = topic })
		local sub = broker:sub("-t " .. topic)
		-- a dead broker in the file, the real one on the command line
		local path = conf([[
# the deployed agent
broker = mqtt://${HOST}:1
keepalive = 30
log_level = warn
]])
		local lia = H.lia_spawn { "run", "--config", path, "-h", H.host, "-p", tostring(broker.port),
			script }
		assert.truthy(lia:wait_for("ID\t" .. hostname() .. "\n", 10), H.dump(lia, broker))
		assert.truthy(sub:wait_for("hello\n", 10), H.dump(lia, broker))
		assert.truthy(broker:connected(hostname()), broker:log())
		-- log_level = warn: no "info" lines
		assert.falsy(lia:stderr():find(" info ", 1, true), lia:stderr())
	end)

	it("LIA_CONFIG names the file; client_id and the script come from it", function()
		local id = H.uniq("envcfg")
		local script = H.script([[
function on_connect(c) print("ID", c.client_id) lia.stop() end
]])
		local path = conf("broker = mqtt://${HOST}:${PORT}\nclient_id = " .. id ..
			"\nscript = " .. script .. "\n")
		local r = H.lia_run({ "run" }, { env = { LIA_CONFIG = path } })
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal("ID\t" .. id .. "\n", r.out)
	end)

	it("--log-format journal: <N> priority prefixes, no timestamps", function()
		local script = H.script([[
lia.log.info("hello")
lia.log.warn("careful")
lia.log.error("bad")
lia.stop()
]])
		local r = H.lia_run { "run", "--log-format", "journal", script }
		assert.equal(0, r.status, r.err)
		assert.truthy(r.err:find("<6>info hello\n", 1, true), r.err)
		assert.truthy(r.err:find("<4>warn careful\n", 1, true), r.err)
		assert.truthy(r.err:find("<3>error bad\n", 1, true), r.err)
		r = H.lia_run { "run", "--log-format", "xml", script }
		assert.equal(1, r.status)
		assert.truthy(r.err:find("--log-format: 'xml' is not text or journal", 1, true), r.err)
	end)

	it("SIGHUP reloads the script in-process (same pid, same connection); a broken one is refused",
		function()
			local id = H.uniq("hup")
			local body = [[
function on_connect(c, ack) print("CONNECTED ${V}", ack.reloaded) end
]]
			local script = H.script(body, { V = "one" }, id .. ".lua")
			local will = H.uniq("will")
			local wsub = broker:sub("-t " .. will)
			local lia = H.lia_spawn { "run", "--no-watch", "-h", H.host, "-p", tostring(broker.port),
				"-i", id, "--will-topic", will, "--will-payload", "gone", script }
			assert.truthy(lia:wait_for("CONNECTED one\tnil\n", 10), H.dump(lia, broker))
			H.script(body, { V = "two" }, id .. ".lua")
			lia:kill("HUP")
			assert.truthy(lia:wait_for("CONNECTED two\ttrue\n", 10), H.dump(lia, broker))
			assert.truthy(lia:alive())
			assert.equal(1, H.count(broker:log(), "Sending CONNACK to " .. id .. " "), broker:log())
			-- a script that no longer compiles: the running one goes on
			H.write(script, "x = = 1\n")
			lia:kill("HUP")
			assert.truthy(lia:wait_for("reload refused", 5, "stderr"), H.dump(lia))
			assert.truthy(lia:stderr():find(script .. ":1: unexpected symbol", 1, true), lia:stderr())
			assert.truthy(lia:alive())
			assert.equal(0, lia:stop())
			H.sleep(0.3)    -- a will would come right away: nothing else to wait for
			assert.equal("", wsub:stdout())
		end)

	if not emulated then
		it("SIGHUP after the configuration file changed re-executes lia (same pid, clean DISCONNECT, no will)",
			function()
				local id = H.uniq("hupconf")
				local will = H.uniq("will")
				local script = H.script("function on_connect(c) print('CONNECTED') end\n", nil, id .. ".lua")
				local cfg = conf("broker = mqtt://${HOST}:${PORT}\nclient_id = ${ID}\n", { ID = id })
				local wsub = broker:sub("-t " .. will)
				local lia = H.lia_spawn { "run", "--no-watch", "--config", cfg, "--will-topic", will,
					"--will-payload", "gone", script }
				assert.truthy(lia:wait_for("CONNECTED\n", 10), H.dump(lia, broker))
				local pid = lia.pid
				H.sleep(1.1)    -- a new modification time, at whole-second file systems too
				H.write(cfg, H.read(cfg) .. "keepalive = 30\n")
				lia:kill("HUP")
				assert.truthy(broker:connected(id, 10, 2), H.dump(lia, broker))
				assert.truthy(broker:wait_log("Client " .. id .. " disconnected", 5), broker:log())
				assert.truthy(lia:stderr():find("changed: restarting lia to read it", 1, true), lia:stderr())
				assert.truthy(lia:alive())
				assert.equal(0, lia:stop())
				local mark = broker:barrier(wsub, will)
				assert.truthy(mark, wsub:stdout())
				assert.equal(mark .. "\n", wsub:stdout())   -- no will before it
			end)
	end

	it("the packaged lia.conf and main.lua answer a ping", function()
		local lia = H.lia_spawn { "run", "--config", H.root .. "/packaging/lia.conf.sample",
			"-h", H.host, "-p", tostring(broker.port), H.root .. "/packaging/main.lua" }
		local base = "lia/" .. hostname()
		assert.truthy(broker:subscribed(hostname(), 10), H.dump(lia, broker))
		local sub = broker:sub("-v -t '" .. base .. "/#'")
		broker:pub("-q 1 -t " .. base .. "/ping -m 42")
		assert.truthy(sub:wait_for(base .. "/pong 42\n", 10), H.dump(lia, broker))
		assert.truthy(sub:stdout():find(base .. "/status online\n", 1, true), sub:stdout())
	end)
end)
