-- bench_spec.lua - `make bench` measures and is not part of `make test`;
-- this runs its driver end to end in a tiny configuration (lia and
-- mosquitto_pub only, a few hundred messages) so that it cannot rot, and
-- regenerates a README section from its JSON.
local H = require "tests.spec.helper"
local cjson = require "cjson"

describe("make bench", function()
	teardown(H.cleanup)

	it("runs tests/bench.py end to end and tests/bench_readme.py renders its JSON", function()
		local dir = H.tmp()
		local json = dir .. "/bench.json"
		local shim = dir .. "/copycount.so"
		assert(os.execute(string.format("cc -O2 -fPIC -shared -fno-builtin -fno-tree-loop-distribute-patterns "
			.. "-o %s %s/tests/tools/copycount.c -ldl", H.q(shim), H.q(H.root))))
		-- the round-trip floor is the native tool beside lia (make
		-- build-tests); an emulated lia's tier measures no floor: qemu's
		-- would be the emulator's
		local floor_bin = not os.getenv("LIA_EMULATED") and H.lia:gsub("/lia$", "") .. "/tools/rtt_floor"
		local cmd = string.format("cd %s && BENCH_RTT_FLOOR=%s BENCH_LIA=%s BENCH_JSON=%s BENCH_N=300 BENCH_M=500 BENCH_RTT=20 "
			.. "BENCH_REPS=1 BENCH_RTT_REPS=1 BENCH_HANDLERS=10 BENCH_PEERS='lia_lua lia_pub mosquitto_pub' "
			.. "BENCH_COPYCOUNT=%s BENCH_LARGE=65536:1:3 BENCH_CLIENTS=20 BENCH_WINDOW=1100 "
			.. "BENCH_FLOOD=2000 BENCH_RECONNECTS=20 "
			.. "timeout 600 python3 tests/bench.py %s >%s/out 2>&1", -- a guard: about 30 s idle
			H.q(H.root), H.q(floor_bin or "/nonexistent"), H.q(H.lia), H.q(json), H.q(shim), H.q(dir), H.q(dir))
		local ok = os.execute(cmd)
		assert(ok, "bench.py failed:\n" .. tostring(H.read(dir .. "/out")))
		local text = H.read(json)
		assert.is_string(text, "no " .. json)
		local d = cjson.decode(text)
		for q = 0, 2 do
			local row = d["publish_qos" .. q]
			for _, peer in ipairs { "lia_lua", "lia_pub", "mosquitto_pub" } do
				-- a run that failed has the reason (exit status, the output's tail)
				assert.is_nil(row[peer].error, peer .. " qos " .. q .. ": " .. tostring(row[peer].error))
				assert.is_true(row[peer].us_per_msg > 0, peer .. " qos " .. q)
				-- user CPU alone, within the whole (ticks: 0 possible in 300 messages)
				local user = row[peer].user_us_per_msg
				assert.is_true(user >= 0 and user <= row[peer].us_per_msg + 1e-9, peer .. " qos " .. q)
				-- peak RSS is polled every 2 ms: a 300-message run can end
				-- before the first sample on a busy machine (it did under
				-- stress-ng); then there is none, never a zero
				local rss = row[peer].peak_rss_kb
				assert.is_true(rss == nil or rss == cjson.null or rss > 0, peer .. " qos " .. q)
			end
			assert.is_number(d.ratios["publish_qos" .. q .. " lia_lua/mosquitto_pub"])
		end
		-- three placements: free, broker and client on one CPU, on two
		local places = { "", "_core" }
		if H.run("nproc").out:match("%d+") ~= "1" then places[#places + 1] = "_cross" end
		for _, place in ipairs(places) do
			for q = 0, 1 do
				local key = "rtt_qos" .. q .. place
				local row = d[key]
				assert.is_table(row, "no " .. key)
				assert.is_nil(row.lia_lua.error, tostring(row.lia_lua.error))
				assert.is_true(row.lia_lua.p50_us > 0 and row.lia_lua.p99_us >= row.lia_lua.p50_us, key)
				for _, name in ipairs { "floor", "floor_epoll" } do
					local floor = row[name]
					if floor_bin then
						assert.is_table(floor, "no " .. name .. " from " .. floor_bin)
						assert.is_nil(floor.error, tostring(floor.error))
						assert.is_true(floor.p50_us > 0 and floor.p99_us >= floor.p50_us, key)
					else
						assert.is_nil(floor)
					end
					-- the floor is no peer: no ratio, never "lia is behind"
					assert.is_nil(d.ratios[key .. " p50_us lia_lua/" .. name])
				end
			end
		end
		assert.is_true(d.idle.lia_lua.vmrss_kb > 0)
		assert.is_true(d.delivery.us_per_msg > 0)
		assert.is_true(d.delivery.user_us_per_msg >= 0 and d.delivery.sys_us_per_msg >= 0)
		-- the same stream into mosquitto_sub, sampled from /proc
		local peer = d.delivery_mosquitto_sub
		assert.is_nil(peer.error, tostring(peer.error))
		assert.is_true(peer.us_per_msg >= 0 and peer.user_us_per_msg >= 0 and peer.sys_us_per_msg >= 0)
		assert.is_true(d.dispatch_10.us_per_msg > 0)
		-- the store's cost: both runs of each row measured, the cost derived
		for _, k in ipairs { "qos1_w100", "qos2_w20" } do
			local row = d.store[k]
			for _, persist in ipairs { "false", "true" } do
				assert.is_nil(row[persist].error, k .. " persist " .. persist .. ": " .. tostring(row[persist].error))
				-- (user time alone is sampled per clock tick: 0 is possible in so short a run)
				assert.is_true(row[persist].us_per_msg > 0 and row[persist].user_us_per_msg >= 0, k)
				assert.is_true(row[persist].msg_per_s > 0, k)
			end
			assert.is_number(row.cost_cpu_pct, k)
		end
		-- large: the shim counted the payload's copies (a publisher copies it
		-- at least once into its packet, a subscriber once into a Lua string)
		-- (skipped, and said so, when lia is an ASan build or emulated: no LD_PRELOAD there)
		local big = d.large_65536
		assert.is_nil(big.error, big.error)
		local asan = H.run("ldd " .. H.q(H.lia)).out:find("libasan", 1, true) ~= nil
		if asan or os.getenv("LIA_EMULATED") then
			assert.is_string(big.skipped)
		else
			assert.is_true(big.pub_copies >= 1 and big.sub_copies >= 1, cjson.encode(big))
			assert.is_true(big.pub_us_per_msg > 0 and big.mb_per_s > 0)
		end
		assert.are.equal(20, d.many_clients.clients)
		assert.is_true(d.many_clients.msgs > 0 and d.many_clients.rss_kb > 0, cjson.encode(d.many_clients))
		for _, k in ipairs { "flood_qos0", "reconnects" } do
			assert.is_nil(d[k].error, k .. ": " .. tostring(d[k].error))
			assert.are.equal(10, #d[k].rss_kb, k)
			assert.is_true(d[k].rss_max_kb >= d[k].rss_first_kb, k)
		end

		local readme = dir .. "/README.md"
		local f = assert(io.open(readme, "w"))
		f:write("# x\n\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n\nafter\n")
		f:close()
		assert(os.execute(string.format("python3 %s/tests/bench_readme.py %s %s >/dev/null",
			H.q(H.root), H.q(json), H.q(readme))))
		text = H.read(readme)
		assert.not_matches("\nold\n", text)
		assert.matches("| QoS 1 µs/msg |", text, 1, true)
		assert.matches("lia_lua/mosquitto_pub", text, 1, true)
		assert.matches("| 64 KiB", text, 1, true)
		assert.matches("| QoS 1, window 100 | ", text, 1, true)
		assert.matches("| 20 clients in one lia", text, 1, true)
		assert.matches("| 2000 QoS 0 messages", text, 1, true)
		assert.matches("| QoS 1, free | ", text, 1, true)
		assert.matches("| QoS 0, one CPU | ", text, 1, true)
		if floor_bin then
			assert.matches("| floor: one blocking socket |", text, 1, true)
		end
		assert.matches("\nafter\n$", text)
	end)

	-- tests/bench.sh's topic-alias rows: the wire bytes per message of one
	-- v5 publisher on a long topic, without and with topic_aliases = "auto"
	it("the topic-alias rows: fewer wire bytes per message with aliases, the bytes saved counted", function()
		-- tests/tools/bench is built for the host only, not by the cross tier
		if os.getenv("LIA_EMULATED") then pending("no tools/bench under emulation") return end
		local broker = H.broker()
		local bench = H.lia:gsub("/lia$", "") .. "/tools/bench"
		local long = "site-17/building-b/floor-3/room-312/sensor-0042/temperature"
		local rows = {}
		for _, a in ipairs { "", "-A" } do
			local f = assert(io.popen(string.format("timeout 120 %s -p %d -n 300 -q 1 -s 32 -t 60 -V 5 -T %s %s 2>&1",
				H.q(bench), broker.port, long, a)))
			local out = f:read("a")
			assert(f:close(), "bench " .. a .. " failed:\n" .. out)
			local bytes, aliased, saved = out:match("aliases %a+: ([%d.]+) wire bytes/msg %((%d+) aliased, (%-?%d+) bytes saved%)")
			assert.truthy(bytes, out)
			rows[#rows + 1] = { bytes = tonumber(bytes), aliased = tonumber(aliased), saved = tonumber(saved) }
		end
		assert.equal(0, rows[1].aliased)
		assert.equal(0, rows[1].saved)
		assert.truthy(rows[2].aliased >= 290, rows[2].aliased)  -- all but the first, which names the topic
		assert.truthy(rows[2].saved > 0)
		-- each aliased PUBLISH carries 3 bytes of alias instead of the 62-byte topic name
		assert.truthy(rows[2].bytes < rows[1].bytes - 40, rows[1].bytes .. " -> " .. rows[2].bytes)
	end)
end)
