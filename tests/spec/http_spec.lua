-- lia.http (lua/lhttp.c): libcurl's multi-socket interface on lia's loop,
-- against a local python3 http.server on loopback (tests/tools/http_server.py).
local H = require "tests.spec.helper"
local cjson = require "cjson"

describe("lia.http", function()
	local broker, server, base
	setup(function()
		broker = H.broker()
		server = H.spawn("/usr/bin/python3 " .. H.q(H.root .. "/tests/tools/http_server.py"))
		assert.truthy(server:wait_for("listening ", 10), server:output())
		base = "http://127.0.0.1:" .. server:stdout():match("listening (%d+)")
	end)
	teardown(function()
		server:stop()
		H.cleanup()
	end)

	-- run a script that prints its results and stops
	local function run(code, vars)
		vars = vars or {}
		vars.BASE = base
		local r = H.lia_run({ "run", H.script(code, vars) })
		assert.equal(0, r.status, r.out .. r.err)
		return H.lines(r.out), r
	end

	-- lia links none of them: dlopen on first use (core/dynlib.h), so an
	-- agent on plain mqtt:// keeps them out of its resident memory
	it("libcurl is loaded when lia.http is first required; OpenSSL, SQLite and libcjson only when used", function()
		local out = run([[
local function mapped(name)
	local f = assert(io.open("/proc/self/maps"))
	local found = f:read("a"):find(name, 1, true) ~= nil
	f:close()
	return found
end
print(mapped("libcurl.so"), mapped("libssl.so"), mapped("libcrypto.so"), mapped("libsqlite3.so"), mapped("libsystemd.so"),
	mapped("libcjson.so"))
local http = require "lia.http"
print(mapped("libcurl.so.4"), type(http.curl_version))
require("lia.state").set("k", 1)
print(mapped("libsqlite3.so.0"))
-- libcjson: the fleet's C side and lia sub's JSON output (lia.clijson)
print(type(require("lia.clijson").message), mapped("libcjson.so.1"))
lia.stop()
]])
		assert.same({ "false\tfalse\tfalse\tfalse\tfalse\tfalse", "true\tstring", "true", "function\ttrue" }, out)
	end)

	it("GET: status, body, headers (lower-case names, repeats joined)", function()
		local out = run([[
local http, cjson = require "lia.http", require "cjson"
local s, b, h = http.request{ url = "${BASE}/get?x=1", headers = { ["X-Test"] = "yes", "X-List: 2" } }
local doc = cjson.decode(b)
print(s, doc.method, doc.path, doc.headers["X-Test"], doc.headers["X-List"], h["content-type"])
print(doc.headers["User-Agent"]:match("^lia/") ~= nil)
s, b, h = http.request{ url = "${BASE}/headers" }
print(s, b, h["set-cookie"], h["x-lia"])
s, b = http.request{ url = "${BASE}/status/404" }
print(s, b)
s, b = http.request{ url = "${BASE}/redirect" }
print(s, cjson.decode(b).path)
s, b = http.request{ url = "${BASE}/redirect", follow = false }
print(s)
s, b, h = http.request{ url = "${BASE}/get", method = "HEAD" }
print(s, #b, h["content-length"] ~= nil)
lia.stop()
]])
		assert.same({
			"200\tGET\t/get?x=1\tyes\t2\tapplication/json",
			"true",
			"200\th\ta=1, b=2\tyes",
			"404\tstatus 404",
			"200\t/get",
			"302",
			"200\t0\ttrue",
		}, out)
	end)

	it("POST and PUT: string bodies, table bodies as JSON", function()
		local out = run([[
local http = require "lia.http"
local s, b, h = http.request{ url = "${BASE}/echo", body = "a=1&b=2",
	headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }
print(s, b, h["content-type"], h["x-method"])
s, b, h = http.request{ url = "${BASE}/echo", method = "PUT", body = { n = 5 } }
print(s, b, h["content-type"], h["x-method"])
lia.stop()
]])
		assert.same({
			"200\ta=1&b=2\tapplication/x-www-form-urlencoded\tPOST",
			'200\t{"n":5}\tapplication/json\tPUT',
		}, out)
	end)

	it("a timeout, a refused connection, a bad URL, max_size: nil, message, kind; misuse raises", function()
		local out = run([[
local http = require "lia.http"
local t0 = lia.now()
print(http.request{ url = "${BASE}/slow?ms=3000", timeout = 0.3 })
print("waited", lia.now() - t0 < 2500)
print(http.request{ url = "http://127.0.0.1:1/" })
print(select(3, http.request{ url = "ftp://127.0.0.1/x" }))
print(http.request{ url = "${BASE}/big?n=5000", max_size = 1000 })
print(pcall(http.request, { timeout = 1 }))
print(pcall(http.request, { url = "${BASE}/get", body = 5 }))
lia.stop()
]])
		assert.equal("nil\t" .. base .. "/slow?ms=3000: timeout after 300 ms\ttimeout", out[1])
		assert.equal("waited\ttrue", out[2])
		assert.truthy(out[3]:find("^nil\thttp://127.0.0.1:1/: .*[Cc]ouldn't connect to server\tconnect$"), out[3])
		assert.equal("url", out[4])
		assert.equal("nil\t" .. base .. "/big?n=5000: response larger than max_size (1000 bytes)\ttoo_big", out[5])
		assert.truthy(out[6]:find("^false\t.*string expected, got nil"), out[6])
		assert.truthy(out[7]:find("^false\t.*body string or table expected"), out[7])
	end)

	it("https: the certificate is verified by default", function()
		-- a TLS server with a self-signed certificate on loopback
		local dir = H.tmp("tls")
		os.execute("mkdir -p " .. H.q(dir))
		assert.equal(0, H.run(string.format("openssl req -x509 -newkey rsa:2048 -nodes -days 1 " ..
			"-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s/k.pem -out %s/c.pem",
			H.q(dir), H.q(dir))).status)
		local srv = H.spawn(string.format("openssl s_server -quiet -www -accept 127.0.0.1:0 " ..
			"-cert %s/c.pem -key %s/k.pem", H.q(dir), H.q(dir)))
		-- s_server does not print its port with -quiet: find it by the pid
		local port = H.wait(function()
			local p = io.popen("ss -ltnp 2>/dev/null | grep 'pid=" .. srv.pid .. ",'")
			local s = p:read("a"); p:close()
			return s:match("127%.0%.0%.1:(%d+)")
		end, 10)
		assert.truthy(port, srv:output())
		local out = run(string.format([[
local http = require "lia.http"
local u = "https://127.0.0.1:%s/"
print(select(3, http.request{ url = u }))
print((http.request{ url = u, ca_file = %q }))
print((http.request{ url = u, insecure = true }))
lia.stop()
]], port, dir .. "/c.pem"))
		srv:stop()
		assert.same({ "tls", "200", "200" }, out)
	end)

	it("a slow request waits in its handler only: the MQTT stream goes on meanwhile", function()
		local id = H.uniq("http")
		local out = run([[
local mqtt, http, timer = require "lia.mqtt", require "lia.http", require "lia.timer"
local c = mqtt.client{ uri = "${URI}", client_id = "${ID}" }
local during, gap, last, busy = 0, 0, nil, false
c:on("connect", function(c)
	c:subscribe("lia/${ID}/stream", 0, function(_, msg)
		if busy then during = during + 1 end
		local now = lia.now()
		if busy and last then gap = math.max(gap, now - last) end
		last = now
	end):wait(5000)
	local n = 0
	timer.every(20, function() n = n + 1; c:publish("lia/${ID}/stream", tostring(n)) end)
	lia.sleep(200)
	busy = true
	local t0 = lia.now()
	local s, b = http.request{ url = "${BASE}/slow?ms=1500" }
	busy = false
	print(s, b, lia.now() - t0 >= 1400)
	print("during", during)
	print("gap", gap)
	lia.stop()
end)
c:connect()
]], { URI = broker:uri(), ID = id })
		assert.equal("200\tslow\ttrue", out[1])
		local during = tonumber(out[2]:match("during\t(%d+)"))
		local gap = tonumber(out[3]:match("gap\t(%d+)"))
		-- 1.5 s of a 20 ms stream is 75 messages; a blocking call would give 0
		-- and a gap of 1.5 s. Generous bounds for a busy machine.
		assert.truthy(during >= 20, out[2])
		assert.truthy(gap < 1000, out[3])
		print("http_spec: " .. during .. " stream messages during a 1.5 s request, largest gap " .. gap .. " ms")
	end)

	it("http_fetch.lua example", function()
		local id = H.uniq("hf")
		local sub = broker:sub(string.format("-t 'lia/%s/http' -v", id))
		local lia = H.lia_spawn({ "run", "-h", H.host, "-p", broker.port, "-i", id,
			H.root .. "/scripts/examples/http_fetch.lua" }, { env = { URL = base } })
		assert.truthy(sub:wait_for("/http done\n", 10), sub:stdout() .. H.dump(lia, broker))
		assert.same({
			"lia/" .. id .. "/http get 200 GET application/json",
			"lia/" .. id .. '/http post 200 {"celsius":21.5}',
			"lia/" .. id .. "/http done",
		}, H.lines(sub:stdout()))
		lia:stop()
	end)
end)
