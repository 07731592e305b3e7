#!/usr/bin/env python3
"""bench.py BUILD_DIR - what users compare: lia next to mosquitto's clients,
Eclipse Paho (Python and C) and MQTT.js, through one local mosquitto.

Each publisher is a child process that connects, publishes N messages of
SIZE bytes at QoS 0/1/2 and exits; its CPU (user + system, from wait4) per
message, its msg/s and its peak RSS are the median of REPS runs. CPU
includes the process start and the connection (the same for every peer in
kind; "start -> CONNACK" shows what that costs). Round trips: each client
publishes to a topic it subscribes to, one message at a time, timing each
with its own monotonic clock: where the scheduler puts it, pinned with the
broker to one CPU (what the client itself adds), and on the other CPU than
the broker (every wake-up across CPUs). Delivery and dispatch: a Lua handler counts
M messages sent by mosquitto_pub; the script's os.clock() (process CPU)
between the first and the last message, per message.

The Lua clients run with persist = false: like every peer here, they keep
their session in memory (with a client id and a data directory lia would
otherwise write QoS 1/2 messages to SQLite and sync before sending them,
which is a different guarantee and costs ~15 ms per round trip here).

The store's cost (lia only): the Lua-loop publisher with persist = true
against the same script with persist = false, QoS 1 at a 100-message
window and QoS 2 at 20, CPU (user + system, and user alone) and msg/s.

Large and many (lia only): 256 KiB and 10 MiB payloads at QoS 1 from a Lua
publisher to a Lua subscriber, with the bytes each copies in user space per
message counted by an LD_PRELOAD shim (tests/tools/copycount.c: memcpy,
memmove and moving reallocs of at least 4 KiB) over two runs of N1 and N2
messages, (C(N2) - C(N1)) / (N2 - N1), so start-up and the first message's
buffer growth cancel out (the first message is reported too); 1 000 clients
in one lia process, each publishing once a second (process CPU over a
window, VmRSS); 1 M QoS 0 messages from one Lua loop and 1 000 connect /
disconnect cycles of one client, VmRSS sampled along the way (flat: last
sample minus first).

Writes the table to stdout and BUILD_DIR/bench.json. Environment:
BENCH_N (20000), BENCH_M (100000 delivered), BENCH_RTT (2000 round trips),
BENCH_REPS (3), BENCH_RTT_REPS (5), BENCH_SIZE (64), BENCH_HANDLERS ("10 1000 10000"),
BENCH_PEERS (all: "lia_lua lia_pub mosquitto_pub paho_py paho_c mqttjs"),
BENCH_LARGE ("262144:4:16 10485760:1:3", SIZE:N1:N2), BENCH_CLIENTS (1000),
BENCH_WINDOW (5000 ms), BENCH_FLOOD (1000000), BENCH_RECONNECTS (1000),
BENCH_LIA (BUILD_DIR/lia), BENCH_JSON (BUILD_DIR/bench.json),
BENCH_COPYCOUNT (BUILD_DIR/tools/copycount.so), BENCH_RTT_FLOOR
(BUILD_DIR/tools/rtt_floor; the row is left out when it is not built),
BENCH_ONLY (all: "publishers
store rtt idle delivery large many", the parts to run).
A peer that is not installed is reported as missing, not as zero.
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
LIA = os.environ.get("BENCH_LIA") or os.path.join(BUILD, "lia")
NODE_DIR = os.path.join(BUILD, "bench-node")
N = int(os.environ.get("BENCH_N", "20000"))
M = int(os.environ.get("BENCH_M", "100000"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
RTT = int(os.environ.get("BENCH_RTT", "2000"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
RTT_REPS = int(os.environ.get("BENCH_RTT_REPS", "5"))
IDLE_REPS = int(os.environ.get("BENCH_IDLE_REPS", "9"))
SIZE = int(os.environ.get("BENCH_SIZE", "64"))
HANDLERS = [int(x) for x in os.environ.get("BENCH_HANDLERS", "10 1000 10000").split()]
PEERS = os.environ.get("BENCH_PEERS", "lia_lua lia_pub mosquitto_pub paho_py paho_c mqttjs").split()
LARGE = [tuple(int(x) for x in spec.split(":"))
         for spec in os.environ.get("BENCH_LARGE", "262144:4:16 10485760:1:3").split()]
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1000"))
WINDOW = int(os.environ.get("BENCH_WINDOW", "5000"))
FLOOD = int(os.environ.get("BENCH_FLOOD", "1000000"))
RECONNECTS = int(os.environ.get("BENCH_RECONNECTS", "1000"))
DEADLINE = 120.0
TMP = tempfile.mkdtemp(prefix="lia-bench.")
PORT = 0
BROKER = None
HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's python3 (python3-paho-mqtt), not whatever python runs this script
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
PAHO_C = os.path.join(BUILD, "tools", "bench_paho")
PAHO_C_ASYNC = os.path.join(BUILD, "tools", "bench_paho_async")
# the round trip with nothing but a blocking socket, or one socket and
# epoll (tests/tools/rtt_floor.c)
RTT_FLOOR = os.environ.get("BENCH_RTT_FLOOR") or os.path.join(BUILD, "tools", "rtt_floor")
COPYCOUNT = os.environ.get("BENCH_COPYCOUNT") or os.path.join(BUILD, "tools", "copycount.so")


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- broker ---------------------------------------------------------------
def start_broker():
    """mosquitto on a free loopback port; returns (process, log path) once
    it accepts connections."""
    global PORT, BROKER
    for _ in range(8):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            PORT = s.getsockname()[1]
        conf = os.path.join(TMP, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                    "max_queued_messages 0\nmax_inflight_messages 0\n" % PORT)
        log = os.path.join(TMP, "mosquitto.log")
        p = subprocess.Popen(["mosquitto", "-c", conf], stdout=open(log, "w"), stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end and p.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", PORT), 0.2).close()
                BROKER = p
                return p, log
            except OSError:
                time.sleep(0.02)
        p.kill()
        p.wait()
    die("cannot start mosquitto: " + open(log).read())


# ---- running children -----------------------------------------------------
def run_measured(argv, stdin_path=None, env=None, cwd=None, timed_user=False):
    """Runs argv to completion; returns (cpu seconds, wall seconds, peak RSS kB, stdout),
    and the user seconds alone as a fifth item when timed_user.
    Peak RSS is the child's VmHWM polled while it runs: wait4's ru_maxrss
    would count the forked python before exec."""
    out = os.path.join(TMP, "out")
    env = env or dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=open(stdin_path) if stdin_path else subprocess.DEVNULL,
                         stdout=open(out, "w"), stderr=subprocess.STDOUT, env=env, cwd=cwd)
    end, hwm = t0 + DEADLINE, 0
    while True:
        hwm = max(hwm, vm(p.pid, "VmHWM:") or 0)
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > end:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            raise RuntimeError("%s: timed out after %ds" % (argv[0], DEADLINE))
        time.sleep(0.002)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    text = open(out).read()
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(argv[:3]), p.returncode, text[-400:]))
    if timed_user:
        return ru.ru_utime + ru.ru_stime, wall, hwm, text, ru.ru_utime
    return ru.ru_utime + ru.ru_stime, wall, hwm, text


def vm(pid, field):
    """A size line of /proc/PID/status in kB, or None once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def uri():
    return "mqtt://127.0.0.1:%d" % PORT


# ---- the publishers -------------------------------------------------------
LUA_PUB = r"""
local mqtt = require "lia.mqtt"
-- drop = "new": a full queue refuses the publish (the loop waits), it does
-- not drop the oldest message; every one of the N messages is sent
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-lua", reconnect = false, persist = false,
	drop = "new" }
c:on("connect", function(c)
	local payload, last = string.rep("x", %(size)d), nil
	for i = 1, %(n)d do
		local tok, err = c:publish("bench/lua", payload, { qos = %(qos)d })
		while not tok do
			-- the queue is full: wait until it drained, then retry
			c:drain(5000)
			tok, err = c:publish("bench/lua", payload, { qos = %(qos)d })
		end
		last = tok  -- QoS 0: true (no token), QoS 1/2: a token
	end
	assert(c:drain(60000))
	if last ~= true then assert(last:wait(60000)) end
	local st = c:stats()
	assert(st.dropped == 0 and st.queued == 0, "messages dropped or left")
	c:disconnect()
	lia.stop(0)
end)
c:connect()
"""

PAHO_PY_PUB = r"""
import sys, paho.mqtt.client as mqtt
port, n, qos, size = map(int, sys.argv[1:5])
c = mqtt.Client(client_id="bench-paho-py")
c.max_queued_messages_set(0)
c.connect("127.0.0.1", port)
c.loop_start()
payload = b"x" * size
info = None
for _ in range(n):
    info = c.publish("bench/paho", payload, qos)
info.wait_for_publish(60)
c.disconnect()
c.loop_stop()
"""

MQTTJS_PUB = r"""
const mqtt = require("mqtt");
const [port, n, qos, size] = process.argv.slice(2).map(Number);
const c = mqtt.connect({ host: "127.0.0.1", port, clientId: "bench-mqttjs", reconnectPeriod: 0 });
const payload = Buffer.alloc(size, "x");
let sent = 0, done = 0;
const window = 1000;
function more() {
  while (sent < n && sent - done < window) {
    sent++;
    c.publish("bench/js", payload, { qos }, () => { if (++done === n) c.end(false, () => process.exit(0)); else more(); });
  }
}
c.on("connect", more);
c.on("error", (e) => { console.error(e.message); process.exit(1); });
"""


def lines_file():
    path = os.path.join(TMP, "lines")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(("x" * SIZE + "\n") * N)
    return path


def have_mqttjs():
    return shutil.which("node") and os.path.isdir(os.path.join(NODE_DIR, "node_modules", "mqtt"))


def publisher(peer, qos):
    """argv, stdin, cwd for one publisher run, or None when not installed."""
    p = str(PORT)
    if peer == "lia_lua":
        s = write("pub%d.lua" % qos, LUA_PUB % {"uri": uri(), "size": SIZE, "n": N, "qos": qos})
        return [LIA, "run", "--no-watch", s], None, None
    if peer == "lia_pub":
        return [LIA, "pub", "-h", "127.0.0.1", "-p", p, "-q", str(qos), "-t", "bench/liapub", "-l"], lines_file(), None
    if peer == "mosquitto_pub" and shutil.which("mosquitto_pub"):
        return ["mosquitto_pub", "-h", "127.0.0.1", "-p", p, "-q", str(qos), "-t", "bench/mosq", "-l"], lines_file(), None
    if peer == "paho_py":
        return [PY, write("paho_pub.py", PAHO_PY_PUB), p, str(N), str(qos), str(SIZE)], None, None
    # Paho C: the synchronous client at QoS 0 (its fastest there), the
    # asynchronous one at QoS 1/2 with lia's and mosquitto_pub's window of
    # 20 (the synchronous one sleeps 100 ms per message there; see
    # tests/tools/bench_paho_async.c)
    if peer == "paho_c" and qos == 0 and os.access(PAHO_C, os.X_OK):
        return [PAHO_C, p, str(N), str(qos), str(SIZE)], None, None
    if peer == "paho_c" and qos > 0 and os.access(PAHO_C_ASYNC, os.X_OK):
        return [PAHO_C_ASYNC, p, str(N), str(qos), str(SIZE), "20"], None, None
    if peer == "mqttjs" and have_mqttjs():
        return ["node", write("pub.js", MQTTJS_PUB), p, str(N), str(qos), str(SIZE)], None, NODE_DIR
    return None


def bench_publishers(results):
    for qos in (0, 1, 2):
        for peer in PEERS:
            spec = publisher(peer, qos)
            key = "publish_qos%d" % qos
            if spec is None:
                results.setdefault(key, {})[peer] = None
                continue
            argv, stdin, cwd = spec
            runs = []
            try:
                for _ in range(REPS):
                    cpu, wall, rss, _, user = run_measured(argv, stdin, cwd=cwd, timed_user=True)
                    runs.append((cpu, wall, rss, user))
            except RuntimeError as e:
                print("bench: %s qos %d: %s" % (peer, qos, e), file=sys.stderr)
                results.setdefault(key, {})[peer] = {"error": str(e)[:200]}
                continue
            # the median run by CPU; its user CPU alone is what the client
            # does, without the kernel's share of moving the bytes and of
            # each sleep and wake-up (from the same run, so never above it)
            mid = sorted(runs)[(len(runs) - 1) // 2]
            r = {"us_per_msg": mid[0] * 1e6 / N,
                 "user_us_per_msg": mid[3] * 1e6 / N,
                 "msg_per_s": N / statistics.median(w for _, w, _, _ in runs),
                 # polled every 2 ms: a run that ended before the first
                 # sample (a short one on a busy machine) has none
                 "peak_rss_kb": int(statistics.median(m for _, _, m, _ in runs if m)) if any(m for _, _, m, _ in runs) else None}
            results.setdefault(key, {})[peer] = r
            print("  publish qos %d %-14s %8.2f us/msg %9.0f msg/s %7s kB" %
                  (qos, peer, r["us_per_msg"], r["msg_per_s"], r["peak_rss_kb"] or "-"), flush=True)


# ---- the crash-safe store's cost (issue 10) -----------------------------------
# The Lua-loop publisher alone, the same script with persist = true (its
# session in DATADIR/lia.db: WAL, synchronous = FULL, one commit per loop
# turn, before any byte leaves) and persist = false, at a 100-message window
# (QoS 2: 20, mosquitto's default in-flight quota, which MQTT 3.1.1 cannot
# announce). CPU is user + system of the lia process: the store adds user
# time (SQLite) and takes system time away (a turn that waits for its fsync
# gathers more messages, so fewer, larger writes to the socket), so both are
# reported.
LUA_STORE_PUB = r"""
local mqtt = require "lia.mqtt"
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-store", reconnect = false,
	clean = false, persist = %(persist)s, max_inflight = %(window)d, drop = "new" }
c:on("connect", function(c)
	local payload, last = string.rep("x", %(size)d), nil
	for i = 1, %(n)d do
		local tok = c:publish("bench/store", payload, { qos = %(qos)d })
		while not tok do
			c:drain(5000)
			tok = c:publish("bench/store", payload, { qos = %(qos)d })
		end
		last = tok
	end
	assert(c:drain(60000))
	assert(last:wait(60000))
	assert(%(persist)s == false or last.stored, "the last publish was not stored")
	c:disconnect()
	lia.stop(0)
end)
c:connect()
"""


def bench_store(results):
    out = results.setdefault("store", {})
    for qos, window in ((1, 100), (2, 20)):
        row = {}
        for persist in ("false", "true"):
            s = write("store%d%s.lua" % (qos, persist), LUA_STORE_PUB % {
                "uri": uri(), "size": SIZE, "n": N, "qos": qos, "window": window, "persist": persist})
            runs = []
            try:
                for _ in range(REPS):
                    d = os.path.join(TMP, "store-data")
                    shutil.rmtree(d, ignore_errors=True)
                    os.makedirs(d)
                    runs.append(run_measured([LIA, "run", "--no-watch", "--data-dir", d, s], timed_user=True))
            except RuntimeError as e:
                print("bench: store qos %d persist %s: %s" % (qos, persist, e), file=sys.stderr)
                row[persist] = {"error": str(e)[:200]}
                continue
            cpu = statistics.median(r[0] for r in runs)
            user = statistics.median(r[4] for r in runs)
            row[persist] = {"us_per_msg": cpu * 1e6 / N, "user_us_per_msg": user * 1e6 / N,
                            "msg_per_s": N / statistics.median(r[1] for r in runs)}
            r = row[persist]
            print("  store qos %d w=%-3d persist=%-5s %8.2f us/msg (user %5.2f) %9.0f msg/s" %
                  (qos, window, persist, r["us_per_msg"], r["user_us_per_msg"], r["msg_per_s"]), flush=True)
        off, on = row.get("false") or {}, row.get("true") or {}
        if "us_per_msg" in off and "us_per_msg" in on:
            row["cost_cpu_pct"] = round((on["us_per_msg"] / off["us_per_msg"] - 1) * 100, 1)
            row["cost_user_us_per_msg"] = round(on["user_us_per_msg"] - off["user_us_per_msg"], 2)
            row["cost_rate_pct"] = round((on["msg_per_s"] / off["msg_per_s"] - 1) * 100, 1)
            print("  store qos %d w=%d cost: %+.0f %% CPU per message (user %+.2f us/msg), %+.0f %% msg/s%s" %
                  (qos, window, row["cost_cpu_pct"], row["cost_user_us_per_msg"], row["cost_rate_pct"],
                   "; goal < 30 %% CPU: %s" % ("met" if row["cost_cpu_pct"] < 30 else "NOT met")
                   if qos == 1 else ""), flush=True)
        out["qos%d_w%d" % (qos, window)] = row


# ---- round trips ------------------------------------------------------------
LUA_RTT = r"""
local mqtt = require "lia.mqtt"
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-lua-rtt", reconnect = false, persist = false }
local got = lia.cond()
local samples, t0 = {}, 0
c:on("connect", function(c)
	assert(c:subscribe("bench/rtt/lua", %(qos)d, function()
		samples[#samples + 1] = lia.now_us() - t0
		got:signal(true)
	end):wait(5000))
	local payload = string.rep("x", %(size)d)
	for _ = 1, %(n)d do
		t0 = lia.now_us()
		c:publish("bench/rtt/lua", payload, { qos = %(qos)d })
		assert(got:wait(5000), "round trip lost")
	end
	table.sort(samples)
	print(string.format("rtt %%d %%d", samples[#samples // 2 + 1], samples[math.ceil(#samples * 0.99)]))
	c:disconnect()
	lia.stop(0)
end)
c:connect()
"""

PAHO_PY_RTT = r"""
import socket, sys, threading, time, paho.mqtt.client as mqtt
port, n, qos, size = map(int, sys.argv[1:5])
got, samples, t0 = threading.Event(), [], [0.0]
def on_message(c, u, m):
    samples.append((time.monotonic_ns() - t0[0]) // 1000); got.set()
c = mqtt.Client(client_id="bench-paho-rtt")
c.on_message = on_message
c.connect("127.0.0.1", port)
# lia, MQTT.js and the broker set TCP_NODELAY; paho 1.6 does not, and
# Nagle would add ~40 ms at QoS 1: compare the clients, not that default
c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.loop_start()
c.subscribe("bench/rtt/py", qos)[1]
time.sleep(0.2)
payload = b"x" * size
for _ in range(n):
    got.clear(); t0[0] = time.monotonic_ns()
    c.publish("bench/rtt/py", payload, qos)
    if not got.wait(5): sys.exit("round trip lost")
samples.sort()
print("rtt %d %d" % (samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]))
c.disconnect(); c.loop_stop()
"""

MQTTJS_RTT = r"""
const mqtt = require("mqtt");
const [port, n, qos, size] = process.argv.slice(2).map(Number);
const c = mqtt.connect({ host: "127.0.0.1", port, clientId: "bench-js-rtt", reconnectPeriod: 0 });
const payload = Buffer.alloc(size, "x");
const samples = []; let t0 = 0n;
function once() { t0 = process.hrtime.bigint(); c.publish("bench/rtt/js", payload, { qos }); }
c.on("message", () => {
  samples.push(Number((process.hrtime.bigint() - t0) / 1000n));
  if (samples.length < n) return once();
  samples.sort((a, b) => a - b);
  console.log(`rtt ${samples[samples.length >> 1]} ${samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]}`);
  c.end(false, () => process.exit(0));
});
c.on("connect", () => c.subscribe("bench/rtt/js", { qos }, once));
"""


def rtt_argv(peer, qos):
    """The command line of one round-trip client, or None when it is not here."""
    args = [str(PORT), str(RTT), str(qos), str(SIZE)]
    if peer in ("floor", "floor_epoll"):
        extra = ["epoll"] if peer == "floor_epoll" else []
        return [RTT_FLOOR] + args + extra if os.access(RTT_FLOOR, os.X_OK) else None
    if peer not in PEERS:
        return None
    if peer == "lia_lua":
        return [LIA, "run", "--no-watch", write("rtt.lua", LUA_RTT % {"uri": uri(), "qos": qos, "n": RTT, "size": SIZE})]
    if peer == "paho_py":
        return [PY, write("rtt.py", PAHO_PY_RTT)] + args
    if peer == "mqttjs" and have_mqttjs():
        return ["node", write("rtt.js", MQTTJS_RTT)] + args
    return None


def rtt_once(argv, cpu):
    """One client's p50 and p99, pinned to cpu when it is not None."""
    cwd = NODE_DIR if argv[0] == "node" else None
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    _, _, _, out = run_measured(argv, cwd=cwd)
    line = [l for l in out.splitlines() if l.startswith("rtt ")][-1].split()
    return int(line[1]), int(line[2])


# where the broker and the client run: key suffix, broker CPU, client CPU
RTT_PLACEMENTS = [("", None, None), ("_core", 0, 0), ("_cross", 0, 1)]


def bench_rtt(results):
    """Round trips through the broker of a Lua handler, paho-python and
    MQTT.js, and the floor: the same round trip with one blocking socket
    and no client around it, which is what the machine and the broker
    cost; and that floor waiting in epoll_wait before each recv, as a
    client with an event loop does.

    Three placements. "rtt_qosN": where the scheduler puts the client. In a
    VM a wake-up across vCPUs costs tens of microseconds, and whether the
    client lands beside the broker is a coin the kernel tosses once per run,
    so this row is bimodal. "_core": the broker and the client pinned to one
    CPU, which shows what each client itself adds. "_cross": the broker on
    CPU 0 and the client on CPU 1, every wake-up across CPUs. Each rep runs
    every client once, in turn, so a slow spell of the machine falls on all
    of them; a p99 of 2 000 round trips is the 20th worst, so the numbers
    are medians of RTT_REPS runs."""
    everyone = set(range(os.cpu_count() or 1))
    for suffix, broker_cpu, client_cpu in RTT_PLACEMENTS:
        if client_cpu is not None and client_cpu not in everyone:
            continue
        if broker_cpu is not None:
            os.sched_setaffinity(BROKER.pid, {broker_cpu})
        try:
            for qos in (0, 1):
                rtt_placement(results, "rtt_qos%d%s" % (qos, suffix), qos, client_cpu)
        finally:
            os.sched_setaffinity(BROKER.pid, everyone)


def rtt_placement(results, key, qos, cpu):
    peers = [(p, rtt_argv(p, qos)) for p in ("lia_lua", "paho_py", "mqttjs", "floor", "floor_epoll")]
    samples = {p: [] for p, argv in peers if argv}
    errors = {}
    for _ in range(RTT_REPS):
        for peer, argv in peers:
            if argv and peer not in errors:
                try:
                    samples[peer].append(rtt_once(argv, cpu))
                except (RuntimeError, IndexError) as e:
                    print("bench: rtt %s: %s" % (peer, e), file=sys.stderr)
                    errors[peer] = {"error": str(e)[:200]}
    for peer, got in samples.items():
        r = errors.get(peer) or {"p50_us": int(statistics.median(s[0] for s in got)),
                                 "p99_us": int(statistics.median(s[1] for s in got)),
                                 "p50_runs": sorted(s[0] for s in got)}
        results.setdefault(key, {})[peer] = r
        print("  %-15s %-8s %s" % (key, peer, r), flush=True)


# ---- idle RSS and start -> CONNACK -------------------------------------------
# the idle agent is a hundred-line field script, as in issue #13's table
# (a client with a will, JSON commands, telemetry on a timer): what it costs
# on top of a bare client is part of the number
LUA_IDLE = os.path.join(HERE, "tools", "idle_agent.lua")

PAHO_PY_IDLE = r"""
import sys, time, paho.mqtt.client as mqtt
c = mqtt.Client(client_id="bench-idle-py")
c.on_connect = lambda *a: print("connected", flush=True)
c.connect("127.0.0.1", int(sys.argv[1]))
c.loop_forever()
"""


def vmrss(pid):
    return vm(pid, "VmRSS:")


def wait_line(p, marker, seconds):
    """Reads p's stdout until a line containing marker, within seconds."""
    import select
    buf, end = b"", time.monotonic() + seconds
    while marker.encode() not in buf:
        left = end - time.monotonic()
        if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
            raise RuntimeError("%s: no %r within %ds" % (p.args[0], marker, seconds))
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError("%s ended before %r" % (p.args[0], marker))
        buf += chunk


def idle(argv, marker):
    """Starts argv, waits for `marker` on its stdout (the CONNACK), then for
    the resident size to settle; returns (ms to CONNACK, VmRSS kB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        wait_line(p, marker, 30)
        ms = (time.monotonic() - t0) * 1000
        # the resident size right after connecting, and again once it stops changing
        rss, end = vmrss(p.pid), time.monotonic() + 3
        while time.monotonic() < end:
            time.sleep(0.2)
            now = vmrss(p.pid)
            if now == rss:
                break
            rss = now
        return ms, rss
    finally:
        p.kill()
        p.wait()


def bench_idle(results):
    rows = {}
    os.environ["BENCH_URI"] = uri()
    # its path is the same in every run and each start is killed: without
    # --safe-mode-after 0 the fourth would run in safe mode, without the script
    rows["lia_lua"] = [LIA, "run", "--no-watch", "--safe-mode-after", "0", LUA_IDLE], "idle agent ready"
    if shutil.which("mosquitto_sub"):
        rows["mosquitto_sub"] = ["stdbuf", "-oL", "mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", str(PORT), "-t", "bench/idle"], "CONNACK"
    rows["paho_py"] = [PY, write("idle.py", PAHO_PY_IDLE), str(PORT)], "connected"
    for peer, (argv, marker) in rows.items():
        try:
            # the resident size moves by ±100 kB between starts (which of
            # libc's pages the kernel maps around each fault): a median of
            # IDLE_REPS starts (a start takes well under a second), and the
            # range beside it in the JSON
            runs = [idle(argv, marker) for _ in range(IDLE_REPS)]
            ms = statistics.median(m for m, _ in runs)
            rsses = [r for _, r in runs]
            rss = int(statistics.median(rsses))
            results.setdefault("idle", {})[peer] = {"connack_ms": round(ms, 1), "vmrss_kb": rss,
                                                    "vmrss_kb_range": [min(rsses), max(rsses)]}
            print("  idle %-14s start->CONNACK %6.1f ms  VmRSS %6d kB (%d..%d, %d starts)"
                  % (peer, ms, rss, min(rsses), max(rsses), len(rsses)), flush=True)
        except RuntimeError as e:
            results.setdefault("idle", {})[peer] = {"error": str(e)}


# ---- delivery into Lua and dispatch -------------------------------------------
LUA_SINK = r"""
local mqtt = require "lia.mqtt"
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-sink", reconnect = false, persist = false }
local m, count, t0, u0, s0 = %(m)d, 0, 0, 0, 0
-- user and system clock ticks of this process (/proc/self/stat, fields 14
-- and 15): os.clock() is their sum, the split says whose time it is
local function ticks()
	local f = assert(io.open("/proc/self/stat"))
	local rest = f:read("a"):match("%%) (.*)")
	f:close()
	local v = {}
	for x in rest:gmatch("%%S+") do v[#v + 1] = x end
	return tonumber(v[12]), tonumber(v[13])
end
local function count_one()
	count = count + 1
	if count == 1 then t0 = os.clock() u0, s0 = ticks()
	elseif count == m then
		local u1, s1 = ticks()
		print(string.format("cpu %%.3f ticks %%d %%d", (os.clock() - t0) * 1e6 / (m - 1), u1 - u0, s1 - s0))
		io.stdout:flush()
		lia.stop(0)
	end
end
c:on("connect", function(c)
	local k = %(handlers)d
	if k == 0 then
		c:on("message", count_one)
		assert(c:subscribe("bench/sink/0", 0):wait(10000))
	else
		-- k per-filter handlers; the messages match the last one subscribed
		for i = 1, k do
			local tok = c:subscribe("bench/sink/" .. (k - i), 0, i == k and count_one or function() end)
			if i %% 100 == 0 or i == k then assert(tok:wait(30000)) end
		end
	end
	print("ready")
	io.stdout:flush()
end)
c:connect()
"""


def bench_delivery(results):
    if "lia_lua" not in PEERS:
        return
    path = os.path.join(TMP, "sink_lines")
    with open(path, "w") as f:
        f.write(("x" * SIZE + "\n") * M)
    for k in [0] + HANDLERS:
        s = write("sink.lua", LUA_SINK % {"uri": uri(), "m": M, "handlers": k})
        p = subprocess.Popen([LIA, "run", "--no-watch", s], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        key = "delivery" if k == 0 else "dispatch_%d" % k
        try:
            wait_line(p, "ready", 60)
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(PORT), "-q", "0",
                            "-t", "bench/sink/0", "-l"], stdin=open(path), check=True, timeout=DEADLINE)
            out, _ = p.communicate(timeout=DEADLINE)
            words = out.decode().split("cpu ")[1].split()
            us, user, system = float(words[0]), int(words[2]), int(words[3])
            p.wait(DEADLINE)
            results[key] = {"us_per_msg": us, "handlers": k,
                            "user_us_per_msg": round(user * 1e6 / CLK_TCK / (M - 1), 2),
                            "sys_us_per_msg": round(system * 1e6 / CLK_TCK / (M - 1), 2)}
            print("  %-16s %s us/msg (user %s)" % (key, us, results[key]["user_us_per_msg"]), flush=True)
        except (subprocess.SubprocessError, ValueError, IndexError, RuntimeError) as e:
            results[key] = {"error": str(e)[:200]}
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    bench_delivery_peer(results, path)


def proc_ticks(pid):
    """User and system clock ticks of a running process (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]), int(rest[12])


def bench_delivery_peer(results, path):
    """The same stream into mosquitto_sub, a C client that only prints each
    payload (to a file): the kernel's share of receiving it, which no
    client escapes. Its CPU is sampled from /proc between the first probe
    it printed and the last of the M messages."""
    if not shutil.which("mosquitto_sub"):
        return
    out = os.path.join(TMP, "sub_out")
    p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(PORT), "-t", "bench/sink/0",
                          "-t", "bench/sink/probe"], stdout=open(out, "w"), stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 30
        while b"probe" not in open(out, "rb").read():
            if time.monotonic() > end:
                raise RuntimeError("mosquitto_sub: never subscribed")
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(PORT), "-t", "bench/sink/probe",
                            "-m", "probe"], check=True, timeout=DEADLINE)
            time.sleep(0.05)
        u0, s0 = proc_ticks(p.pid)
        want = os.path.getsize(out) + M * (SIZE + 1)
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(PORT), "-q", "0",
                        "-t", "bench/sink/0", "-l"], stdin=open(path), check=True, timeout=DEADLINE)
        end = time.monotonic() + DEADLINE
        while os.path.getsize(out) < want:
            if time.monotonic() > end:
                raise RuntimeError("mosquitto_sub: %d of %d bytes" % (os.path.getsize(out), want))
            time.sleep(0.01)
        u1, s1 = proc_ticks(p.pid)
        r = {"us_per_msg": round((u1 - u0 + s1 - s0) * 1e6 / CLK_TCK / M, 2),
             "user_us_per_msg": round((u1 - u0) * 1e6 / CLK_TCK / M, 2),
             "sys_us_per_msg": round((s1 - s0) * 1e6 / CLK_TCK / M, 2)}
    except (subprocess.SubprocessError, OSError, RuntimeError) as e:
        r = {"error": str(e)[:200]}
    finally:
        p.kill()
        p.wait()
    results["delivery_mosquitto_sub"] = r
    print("  delivery into mosquitto_sub %s" % r, flush=True)


# ---- large payloads: bytes copied per message ---------------------------------
LUA_BIG_PUB = r"""
local mqtt = require "lia.mqtt"
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-big-pub", reconnect = false, persist = false }
c:on("connect", function(c)
	local payload, last = string.rep("x", %(size)d), nil
	for _ = 1, %(n)d do
		local tok = c:publish("bench/big", payload, { qos = 1 })
		while not tok do
			if last then last:wait(60000) else lia.sleep(1) end
			tok = c:publish("bench/big", payload, { qos = 1 })
		end
		last = tok
	end
	assert(last:wait(120000))
	c:disconnect()
	lia.stop(0)
end)
c:connect()
"""

LUA_BIG_SUB = r"""
local mqtt = require "lia.mqtt"
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-big-sub", reconnect = false,
	persist = false, max_packet_size = %(size)d + 4096 }
local got = 0
c:on("connect", function(c)
	assert(c:subscribe("bench/big", 1, function(c, msg)
		assert(#msg.payload == %(size)d, "short payload")
		got = got + 1
		if got == %(n)d then
			c:disconnect()
			lia.stop(0)
		end
	end):wait(10000))
	print("ready")
	io.stdout:flush()
end)
c:connect()
"""


def copies(path):
    with open(path) as f:
        return int(f.read().split()[1])


def big_run(size, n):
    """One subscriber and one publisher of n messages of size bytes; returns
    (publisher cpu s, wall s, publisher bytes copied, subscriber bytes copied,
    subscriber cpu s)."""
    pub_cc, sub_cc = os.path.join(TMP, "pub.cc"), os.path.join(TMP, "sub.cc")
    env = dict(os.environ, LD_PRELOAD=COPYCOUNT)
    v = {"uri": uri(), "size": size, "n": n}
    sub = subprocess.Popen([LIA, "run", "--no-watch", write("big_sub.lua", LUA_BIG_SUB % v)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           env=dict(env, COPYCOUNT_OUT=sub_cc))
    try:
        wait_line(sub, "ready", 30)
        cpu, wall, _, _ = run_measured([LIA, "run", "--no-watch", write("big_pub.lua", LUA_BIG_PUB % v)],
                                       env=dict(env, COPYCOUNT_OUT=pub_cc))
        _, status, ru = os.wait4(sub.pid, 0)
        sub.returncode = os.waitstatus_to_exitcode(status)
        if sub.returncode != 0:
            raise RuntimeError("subscriber exited %d" % sub.returncode)
        return cpu, wall, copies(pub_cc), copies(sub_cc), ru.ru_utime + ru.ru_stime
    finally:
        if sub.returncode is None:
            sub.kill()
            sub.wait()


def bench_large(results):
    if "lia_lua" not in PEERS:
        return
    # AddressSanitizer must be the first library loaded: no LD_PRELOAD shim
    ldd = subprocess.run(["ldd", LIA], capture_output=True, text=True).stdout
    why = ("%s is not built" % COPYCOUNT if not os.access(COPYCOUNT, os.R_OK) else
           "a sanitizer build cannot take the copy-counting shim" if "libasan" in ldd else
           "an emulated lia (qemu-user) cannot take the host's shim"
           if os.environ.get("LIA_EMULATED") else None)
    for size, n1, n2 in LARGE:
        key = "large_%d" % size
        if why:
            results[key] = {"size": size, "skipped": why}
            print("  %-16s skipped: %s" % (key, why), flush=True)
            continue
        try:
            a, b = big_run(size, n1), big_run(size, n2)
            d = n2 - n1
            r = {"size": size, "n": n2,
                 "pub_copied_per_msg": (b[2] - a[2]) / d, "sub_copied_per_msg": (b[3] - a[3]) / d,
                 "pub_first_copied": a[2] / n1, "sub_first_copied": a[3] / n1,
                 "pub_us_per_msg": b[0] * 1e6 / n2, "sub_us_per_msg": b[4] * 1e6 / n2,
                 "mb_per_s": size * n2 / b[1] / 1e6}
            r["pub_copies"] = round(r["pub_copied_per_msg"] / size, 2)
            r["sub_copies"] = round(r["sub_copied_per_msg"] / size, 2)
        except (RuntimeError, OSError, ValueError, IndexError) as e:
            print("bench: large %d: %s" % (size, e), file=sys.stderr)
            r = {"error": str(e)[:200]}
        results[key] = r
        print("  %-16s %s" % (key, {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)


# ---- many clients, long runs, reconnects ---------------------------------------
LUA_RSS = r"""
local function rss()
	local f = assert(io.open("/proc/self/status"))
	local kb = f:read("a"):match("VmRSS:%%s*(%%d+)")
	f:close()
	return tonumber(kb)
end
"""

LUA_MANY = LUA_RSS + r"""
local mqtt, timer = require "lia.mqtt", require "lia.timer"
local n, up, sent = %(clients)d, 0, 0
local payload = string.rep("x", 64)
local t0 = lia.now_us()
local function window()
	local cpu0, sent0, w0 = os.clock(), sent, lia.now_us()
	timer.after(%(window)d, function()
		print(string.format("many cpu %%.4f sent %%d secs %%.3f rss %%d", os.clock() - cpu0,
			sent - sent0, (lia.now_us() - w0) / 1e6, rss()))
		io.stdout:flush()
		lia.stop(0)
	end)
end
for i = 1, n do
	local c = mqtt.client { uri = "%(uri)s", client_id = "bench-many-" .. i, reconnect = false, persist = false }
	c:on("connect", function(c)
		up = up + 1
		timer.every(1000, function()
			if c:publish("bench/many/" .. i, payload, { qos = 0 }) then sent = sent + 1 end
		end)
		if up == n then
			print(string.format("connected %%d ms %%.0f rss %%d", n, (lia.now_us() - t0) / 1000, rss()))
			io.stdout:flush()
			timer.after(1000, window)   -- every client's timer has started
		end
	end)
	c:connect()
end
"""

LUA_FLOOD = LUA_RSS + r"""
local mqtt = require "lia.mqtt"
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-flood", reconnect = false, persist = false,
	drop = "new" }
c:on("connect", function(c)
	local payload, samples = string.rep("x", 64), {}
	local step = %(n)d // 10
	for i = 1, %(n)d do
		-- QoS 0 without a token: a full queue refuses (drop = "new"), and
		-- c:drain() waits until it went out
		while not c:publish("bench/flood", payload, { qos = 0 }) do c:drain(5000) end
		if i %% step == 0 then samples[#samples + 1] = rss() end
	end
	assert(c:drain(60000))
	print("rss " .. table.concat(samples, " "))
	io.stdout:flush()
	c:disconnect()
	lia.stop(0)
end)
c:connect()
"""

LUA_RECONNECT = LUA_RSS + r"""
local mqtt = require "lia.mqtt"
local c = mqtt.client { uri = "%(uri)s", client_id = "bench-reconnect", reconnect = false, persist = false }
local n, samples, step = 0, {}, %(n)d // 10
c:on("connect", function(c)
	n = n + 1
	if n %% step == 0 then samples[#samples + 1] = rss() end
	if n < %(n)d then
		c:disconnect()
		return
	end
	print("rss " .. table.concat(samples, " "))
	io.stdout:flush()
	lia.stop(0)
end)
c:on("disconnect", function(c) if n < %(n)d then c:connect() end end)
c:connect()
"""


def rss_samples(out):
    line = [l for l in out.splitlines() if l.startswith("rss ")][-1]
    return [int(x) for x in line.split()[1:]]


def flat_row(samples, n, wall):
    return {"n": n, "seconds": round(wall, 2), "rss_kb": samples,
            "rss_first_kb": samples[0], "rss_last_kb": samples[-1], "rss_max_kb": max(samples),
            "rss_growth_kb": samples[-1] - samples[0]}


def bench_many(results):
    if "lia_lua" not in PEERS:
        return
    try:
        s = write("many.lua", LUA_MANY % {"uri": uri(), "clients": CLIENTS, "window": WINDOW})
        _, wall, _, out = run_measured([LIA, "run", "--no-watch", s])
        con = [l for l in out.splitlines() if l.startswith("connected ")][-1].split()
        f = [l for l in out.splitlines() if l.startswith("many ")][-1].split()
        cpu, sent, secs, rss = float(f[2]), int(f[4]), float(f[6]), int(f[8])
        r = {"clients": CLIENTS, "connect_ms": float(con[3]), "rss_connected_kb": int(con[5]),
             "cpu_pct": round(cpu / secs * 100, 2), "msgs": sent, "secs": secs,
             "us_per_msg": round(cpu * 1e6 / sent, 2) if sent else None, "rss_kb": rss,
             "kb_per_client": round(rss / CLIENTS, 1)}
    except (RuntimeError, IndexError, ValueError) as e:
        print("bench: many: %s" % e, file=sys.stderr)
        r = {"error": str(e)[:200]}
    results["many_clients"] = r
    print("  many_clients     %s" % r, flush=True)
    for key, script, n in (("flood_qos0", LUA_FLOOD, FLOOD), ("reconnects", LUA_RECONNECT, RECONNECTS)):
        try:
            _, wall, _, out = run_measured([LIA, "run", "--no-watch", write(key + ".lua", script % {"uri": uri(), "n": n})])
            r = flat_row(rss_samples(out), n, wall)
        except (RuntimeError, IndexError, ValueError) as e:
            print("bench: %s: %s" % (key, e), file=sys.stderr)
            r = {"error": str(e)[:200]}
        results[key] = r
        print("  %-16s %s" % (key, r), flush=True)


# ---- the table ----------------------------------------------------------------
def ratio(a, b):
    return round(a / b, 2) if a and b else None


def summarize(results):
    """Ratios lia / peer: below 1 means lia uses less (CPU, time, memory)."""
    ratios = {}
    for qos in (0, 1, 2):
        row = results.get("publish_qos%d" % qos, {})
        lua = (row.get("lia_lua") or {}).get("us_per_msg")
        for peer, r in row.items():
            if peer != "lia_lua" and r and "us_per_msg" in r:
                ratios["publish_qos%d lia_lua/%s" % (qos, peer)] = ratio(lua, r["us_per_msg"])
    for key in ("rtt_qos%d%s" % (q, p[0]) for p in RTT_PLACEMENTS for q in (0, 1)):
        row = results.get(key, {})
        lua = row.get("lia_lua") or {}
        for peer, r in row.items():
            # the floor is no peer: lia's distance from it is its own row
            if peer not in ("lia_lua", "floor", "floor_epoll") and r and "p50_us" in r:
                for q in ("p50_us", "p99_us"):
                    ratios["%s %s lia_lua/%s" % (key, q, peer)] = ratio(lua.get(q), r[q])
    lua, peer = results.get("delivery") or {}, results.get("delivery_mosquitto_sub") or {}
    for k in ("us_per_msg", "user_us_per_msg"):
        if k in lua and k in peer:
            ratios["delivery %s lia_lua/mosquitto_sub" % k] = ratio(lua[k], peer[k])
    row = results.get("idle", {})
    lua = row.get("lia_lua") or {}
    for peer, r in row.items():
        if peer != "lia_lua" and "vmrss_kb" in r:
            ratios["idle_vmrss lia_lua/%s" % peer] = ratio(lua.get("vmrss_kb"), r["vmrss_kb"])
    results["ratios"] = ratios


def open_files():
    """1 000 clients need more than the usual 1 024 descriptors, in lia
    and in the broker (both inherit this process's limit)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


PARTS = [("publishers", bench_publishers), ("store", bench_store), ("rtt", bench_rtt),
         ("idle", bench_idle), ("delivery", bench_delivery), ("large", bench_large),
         ("many", bench_many)]
ONLY = os.environ.get("BENCH_ONLY", " ".join(n for n, _ in PARTS)).split()


def main():
    if not os.access(LIA, os.X_OK):
        die("%s is not built (make)" % LIA)
    open_files()
    broker, _ = start_broker()
    t0 = time.monotonic()
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "machine": "%s, %d cores" % (os.uname().machine, os.cpu_count()),
               "mosquitto": subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.split("\n")[0],
               "n": N, "m": M, "rtt_n": RTT, "reps": REPS, "rtt_reps": RTT_REPS, "size": SIZE}
    print("bench: %s; %s; %d messages of %d bytes, median of %d" %
          (results["machine"], results["mosquitto"], N, SIZE, REPS), flush=True)
    try:
        for name, part in PARTS:
            if name in ONLY:
                part(results)
    finally:
        broker.terminate()
        broker.wait()
        shutil.rmtree(TMP, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - t0, 1)
    summarize(results)
    for k, v in results["ratios"].items():
        print("  ratio %-42s %s" % (k, v))
    out = os.environ.get("BENCH_JSON") or os.path.join(BUILD, "bench.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    print("bench: %.0f s; wrote %s" % (results["seconds"], out))


if __name__ == "__main__":
    main()
