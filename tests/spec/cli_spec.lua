-- The command line: --version, --help, bad usage, `lia check`, script load
-- errors, and `lia pub` / `lia sub` against a real mosquitto.
local H = require "tests.spec.helper"

local version = (H.read(H.root .. "/VERSION") or ""):match("%S+")

describe("lia command line", function()
	teardown(H.cleanup)
	after_each(H.reap)

	it("--version prints the version from VERSION and exits 0", function()
		local r = H.lia_run { "--version" }
		assert.equal(0, r.status, r.err)
		assert.truthy(r.out:find(version, 1, true), r.out)
	end)

	it("--help prints usage naming every command and exits 0", function()
		local r = H.lia_run { "--help" }
		assert.equal(0, r.status, r.err)
		for _, cmd in ipairs { "run", "pub", "sub", "check" } do
			assert.truthy(r.out:find(cmd, 1, true), "no '" .. cmd .. "' in:\n" .. r.out)
		end
	end)

	for _, cmd in ipairs { "run", "pub", "sub", "check" } do
		it("lia " .. cmd .. " --help exits 0 with usage", function()
			local r = H.lia_run { cmd, "--help" }
			assert.equal(0, r.status, r.out .. r.err)
			assert.truthy((r.out .. r.err):lower():find("usage", 1, true), r.out .. r.err)
		end)
	end

	it("a bad option exits 1 with one line on stderr", function()
		for _, args in ipairs { { "--no-such-option" }, { "run", "--no-such-option", "x.lua" },
			{ "pub", "--bogus" }, { "no-such-command" } } do
			local r = H.lia_run(args)
			assert.equal(1, r.status, table.concat(args, " ") .. ": " .. r.out .. r.err)
			assert.truthy(#r.err > 0, table.concat(args, " ") .. ": nothing on stderr")
		end
	end)

	it("lia pub without a topic is bad usage (exit 1)", function()
		local r = H.lia_run { "pub", "-m", "x", "-p", "1" }
		assert.equal(1, r.status, r.out .. r.err)
	end)

	it("lia check: ok for a good script", function()
		local s = H.script("local x = 1\nprint(x)\n")
		local r = H.lia_run { "check", s }
		assert.equal(0, r.status, r.err)
		assert.equal("ok\n", r.out)
	end)

	it("lia check: a syntax error names file:line and exits 1", function()
		local s = H.script("local x = 1\n\nlocal y = = 2\n", nil, "broken.lua")
		local r = H.lia_run { "check", s }
		assert.equal(1, r.status, r.out .. r.err)
		local all = r.out .. r.err
		assert.truthy(all:find("broken.lua:3:", 1, true), all)
		assert.equal(1, #H.lines(all), "more than one line:\n" .. all)
	end)

	it("lia check does not run the script", function()
		local marker = H.tmp(H.uniq("ran"))
		local s = H.script("io.open('" .. marker .. "', 'w'):close()\n")
		local r = H.lia_run { "check", s }
		assert.equal(0, r.status, r.err)
		assert.is_false(H.exists(marker))
	end)

	it("lia check of a missing file exits 1", function()
		local r = H.lia_run { "check", H.tmp("does-not-exist.lua") }
		assert.equal(1, r.status)
		assert.truthy((r.out .. r.err):find("does-not-exist.lua", 1, true), r.out .. r.err)
	end)

	it("lia run: a script with a syntax error exits 1 with file:line", function()
		local s = H.script("print('a')\nlocal = 3\n", nil, "loadfail.lua")
		local r = H.lia_run { "run", s }
		assert.equal(1, r.status, r.out .. r.err)
		assert.truthy(r.err:find("loadfail.lua:2:", 1, true), r.err)
		assert.equal("", r.out, "the script must not have run")
	end)

	it("lia run: a runtime error in the main chunk exits 1 with file:line", function()
		local s = H.script("local t = nil\n\nprint(t.x)\n", nil, "mainfail.lua")
		local r = H.lia_run { "run", s }
		assert.equal(1, r.status, r.out .. r.err)
		assert.truthy(r.err:find("mainfail.lua:3:", 1, true), r.err)
	end)

	it("lia run: a missing script exits 1", function()
		local r = H.lia_run { "run", H.tmp("nope.lua") }
		assert.equal(1, r.status, r.out .. r.err)
		assert.truthy(r.err:find("nope.lua", 1, true), r.err)
	end)
end)

describe("lia pub and lia sub", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	local function lia_pub(args, opts)
		local a = { "pub", "-h", "127.0.0.1", "-p", tostring(broker.port) }
		for _, x in ipairs(args) do a[#a + 1] = x end
		local r = H.lia_run(a, opts)
		assert.equal(0, r.status, "lia " .. table.concat(a, " ") .. ": " .. r.out .. r.err)
		return r
	end

	for qos = 0, 2 do
		it("lia pub -t -m -q " .. qos, function()
			local t = H.uniq("cp")
			local sub = broker:sub(string.format("-q 2 -t '%s' -F '%%q %%r %%t %%p' -C 1", t))
			lia_pub { "-t", t, "-m", "hello world", "-q", tostring(qos) }
			assert.equal(0, sub:wait(5), H.dump(sub, broker))
			assert.equal(string.format("%d 0 %s hello world\n", qos, t), sub:stdout())
		end)
	end

	it("lia pub -r publishes retained", function()
		local t = H.uniq("cr")
		lia_pub { "-t", t, "-m", "sticky", "-r", "-q", "1" }
		local r = H.run(string.format("mosquitto_sub -h 127.0.0.1 -p %d -t '%s' -F '%%r %%p' -C 1 -W 10",
			broker.port, t))
		assert.equal(0, r.status, r.err)
		assert.equal("1 sticky\n", r.out)
	end)

	it("lia pub -l sends each stdin line as a message", function()
		local t = H.uniq("cl")
		local sub = broker:sub(string.format("-q 1 -t '%s' -C 3", t))
		lia_pub({ "-t", t, "-l", "-q", "1" }, { stdin = "first\nsecond\nthird\n" })
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("first\nsecond\nthird\n", sub:stdout())
	end)

	it("lia pub -n sends a zero-length message", function()
		local t = H.uniq("cn")
		local sub = broker:sub(string.format("-t '%s' -F '%%l|%%p' -C 1", t))
		lia_pub { "-t", t, "-n" }
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("0|\n", sub:stdout())
	end)

	it("lia pub -s sends all of stdin as one message; -f a file", function()
		local t = H.uniq("cs")
		local sub = broker:sub(string.format("-t '%s' -F '%%l' -C 2", t))
		lia_pub({ "-t", t, "-s" }, { stdin = "a\nb\nc" })
		local f = H.write(H.tmp(H.uniq("f")), "file\ncontent\n")
		lia_pub { "-t", t, "-f", f }
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("5\n13\n", sub:stdout())
	end)

	it("lia pub -V 5 and -i set the protocol and client id", function()
		local t, id = H.uniq("cv"), H.uniq("pubid")
		local sub = broker:sub(string.format("-t '%s' -C 1", t))
		lia_pub { "-t", t, "-m", "v5", "-V", "5", "-i", id }
		assert.equal(0, sub:wait(5))
		assert.truthy(broker:log():find("as " .. id .. " (p5,", 1, true), broker:log())
	end)

	it("lia pub --will-topic is sent in CONNECT; a clean pub does not fire it", function()
		local t = H.uniq("cw")
		local sub = broker:sub(string.format("-t '%s/#' -v", t))
		lia_pub { "-t", t .. "/m", "-m", "x", "--will-topic", t .. "/will", "--will-payload", "gone" }
		local mark = broker:barrier(sub, t .. "/mark")
		assert.truthy(mark, sub:stdout())
		assert.equal(t .. "/m x\n" .. t .. "/mark " .. mark .. "\n", sub:stdout())
	end)

	it("lia pub to a port with no broker fails with exit 1 and one line", function()
		local b = H.broker()
		local port = b.port
		b:stop()
		local r = H.lia_run({ "pub", "-h", "127.0.0.1", "-p", tostring(port), "-t", "x", "-m", "y" },
			{ timeout = 20 })
		assert.equal(1, r.status, r.out .. r.err)
		assert.truthy(#r.err > 0)
	end)

	it("lia sub -v -C 2 prints 'topic payload' and exits 0 after 2 messages", function()
		local t, id = H.uniq("sv"), H.uniq("subid")
		local sub = H.lia_spawn { "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id,
			"-t", t .. "/#", "-v", "-C", "2" }
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		broker:pub(string.format("-t '%s/a' -m 'one two'", t))
		broker:pub(string.format("-t '%s/b' -m three", t))
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal(t .. "/a one two\n" .. t .. "/b three\n", sub:stdout())
	end)

	it("lia sub without -v prints the payload only; several -t", function()
		local t, id = H.uniq("sp"), H.uniq("subid")
		local sub = H.lia_spawn { "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id,
			"-t", t .. "/x", "-t", t .. "/y", "-C", "2" }
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		broker:pub(string.format("-t '%s/x' -m px", t))
		broker:pub(string.format("-t '%s/y' -m py", t))
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("px\npy\n", sub:stdout())
	end)

	it("lia sub -N prints no newline", function()
		local t, id = H.uniq("sn"), H.uniq("subid")
		local sub = H.lia_spawn { "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id,
			"-t", t, "-N", "-C", "2" }
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		broker:pub(string.format("-t '%s' -m ab", t))
		broker:pub(string.format("-t '%s' -m cd", t))
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("abcd", sub:stdout())
	end)

	it("lia sub -q 2 -V 5 receives at QoS 2 over MQTT v5", function()
		local t, id = H.uniq("sq"), H.uniq("subid")
		local sub = H.lia_spawn { "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id,
			"-t", t, "-q", "2", "-V", "5", "-C", "1" }
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		broker:pub(string.format("-q 2 -t '%s' -m exactly-once", t))
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("exactly-once\n", sub:stdout())
		local log = broker:log()
		assert.truthy(log:find("as " .. id .. " (p5,", 1, true), log)
		assert.truthy(log:find("Received PUBCOMP from " .. id, 1, true)
			or log:find("Received PUBREC from " .. id, 1, true), log)
	end)

	it("lia sub -W 1 exits 27 when nothing arrives", function()
		local t0 = H.now()
		local r = H.lia_run { "sub", "-h", "127.0.0.1", "-p", tostring(broker.port),
			"-t", H.uniq("sw"), "-W", "1" }
		assert.equal(27, r.status, r.out .. r.err)
		-- not before the second (the upper bound is lia_run's own timeout)
		assert.is_true(H.now() - t0 >= 0.9)
	end)

	it("lia sub -R skips retained messages", function()
		local t, id = H.uniq("sr"), H.uniq("subid")
		broker:pub(string.format("-r -t '%s' -m old", t))
		local sub = H.lia_spawn { "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id,
			"-t", t, "-R", "-C", "1" }
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		broker:pub(string.format("-t '%s' -m new", t))
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("new\n", sub:stdout())
	end)

	it("lia sub prints messages as they arrive (not buffered until exit)", function()
		local t, id = H.uniq("sf"), H.uniq("subid")
		local sub = H.lia_spawn { "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id, "-t", t }
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		broker:pub(string.format("-t '%s' -m live", t))
		assert.truthy(sub:wait_for("live\n", 3), H.dump(sub, broker))
		sub:kill("TERM")
		assert.equal(0, sub:wait(3))
	end)

	it("lia pub | lia sub: the two tools talk to each other", function()
		local t, id = H.uniq("pp"), H.uniq("subid")
		local sub = H.lia_spawn { "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id,
			"-t", t, "-C", "1", "-v" }
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		lia_pub { "-t", t, "-m", "ping", "-q", "1" }
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal(t .. " ping\n", sub:stdout())
	end)

	it("--broker URI and -L URI select the broker", function()
		for _, opt in ipairs { "--broker", "-L" } do
			local t = H.uniq("cu")
			local sub = broker:sub(string.format("-t '%s' -C 1", t))
			local r = H.lia_run { "pub", opt, "mqtt://127.0.0.1:" .. broker.port, "-t", t, "-m", opt }
			assert.equal(0, r.status, r.err)
			assert.equal(0, sub:wait(5))
			assert.equal(opt .. "\n", sub:stdout())
		end
	end)
end)
