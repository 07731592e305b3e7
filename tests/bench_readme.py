#!/usr/bin/env python3
"""bench_readme.py BENCH_JSON README - rewrites the part of README between
<!-- bench:begin --> and <!-- bench:end --> from tests/bench.py's JSON, so
the published table is always one whole run of `make bench`. Leaves README
alone (and says so) when the markers are missing."""
import json, sys

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PUB = ["lia_lua", "lia_pub", "mosquitto_pub", "paho_py", "paho_c", "mqttjs"]
NAMES = {"lia_lua": "lia, Lua loop", "lia_pub": "lia pub -l", "mosquitto_pub": "mosquitto_pub -l",
         "paho_py": "paho-mqtt (Python)", "paho_c": "Paho C", "mqttjs": "MQTT.js",
         "mosquitto_sub": "mosquitto_sub"}


def cell(r, fmt, *keys):
    if r is None:
        return "not installed"
    if "error" in r:
        return "failed"
    if "skipped" in r:
        return "not measured"
    return fmt % tuple(r[k] for k in keys)


def user_cell(r):
    """User CPU alone; "-" in a JSON from before the bench measured it."""
    if isinstance(r, dict) and "us_per_msg" in r and "user_us_per_msg" not in r:
        return "-"
    return cell(r, "%.2f", "user_us_per_msg")


def table(d):
    # peak RSS is polled: a run too short for one sample has none ("-")
    for q in (0, 1, 2):
        for r in d.get("publish_qos%d" % q, {}).values():
            if isinstance(r, dict) and "msg_per_s" in r:
                r["peak_rss"] = "%d" % r["peak_rss_kb"] if r.get("peak_rss_kb") else "-"
    out = ["Measured by `make bench` on %s (%s, %s): %d messages of %d bytes per publisher, "
           "median of %d runs; CPU is user + system of the whole process, start included."
           % (d["date"], d["machine"], d["mosquitto"], d["n"], d["size"], d["reps"]), ""]
    out.append("| | " + " | ".join(NAMES[p] for p in PUB) + " |")
    out.append("|---" * (len(PUB) + 1) + "|")
    for q in (0, 1, 2):
        row = d.get("publish_qos%d" % q, {})
        out.append("| QoS %d µs/msg | " % q + " | ".join(
            cell(row.get(p), "%.2f", "us_per_msg") if p in row else "" for p in PUB) + " |")
    for q in (0, 1, 2):
        row = d.get("publish_qos%d" % q, {})
        out.append("| QoS %d user µs/msg | " % q + " | ".join(
            user_cell(row[p]) if p in row else "" for p in PUB) + " |")
    for q in (0, 1, 2):
        row = d.get("publish_qos%d" % q, {})
        out.append("| QoS %d msg/s, peak RSS kB | " % q + " | ".join(
            cell(row.get(p), "%.0f, %s", "msg_per_s", "peak_rss") if p in row else "" for p in PUB) + " |")
    out += round_trips(d)
    out += ["", "| idle, connected (lia: a 100-line agent, tests/tools/idle_agent.lua) | start → CONNACK ms | VmRSS kB |", "|---|---|---|"]
    for p, r in d.get("idle", {}).items():
        out.append("| %s | %s | %s |" % (NAMES.get(p, p), cell(r, "%.1f", "connack_ms"), cell(r, "%d", "vmrss_kb")))
    out += ["", "| into a Lua handler, QoS 0, 3.1.1 | µs/msg (CPU) | user | system |", "|---|---|---|---|"]
    for k in sorted((k for k in d if k == "delivery" or k.startswith("dispatch_")),
                    key=lambda k: d[k].get("handlers", 0)):
        r = d[k]
        what = "one `message` handler" if k == "delivery" else "%d per-filter handlers" % r.get("handlers", 0)
        out.append("| %s | %s |" % (what, " | ".join(
            "%.2f" % r[f] if r.get(f) is not None else ("failed" if "error" in r else "-")
            for f in ("us_per_msg", "user_us_per_msg", "sys_us_per_msg"))))
    peer = d.get("delivery_mosquitto_sub")
    if peer:
        out.append("| the same stream into mosquitto_sub (printing to a file) | %s |" % " | ".join(
            "%.2f" % peer[f] if peer.get(f) is not None else "failed"
            for f in ("us_per_msg", "user_us_per_msg", "sys_us_per_msg")))
    out += large_and_many(d)
    out += ["", "Ratios lia / peer (below 1: lia uses less):", ""]
    out += ["- %s: %s" % (k, v) for k, v in sorted(d.get("ratios", {}).items())]
    # lia pub -l is lia too: the Lua loop above it is no peer falling behind
    behind = [k for k, v in sorted(d.get("ratios", {}).items())
              if v and v > 1 and not k.endswith("/lia_pub")]
    out += ["", "Where lia is behind in this run (ratio above 1): " +
            (", ".join(behind) if behind else "nowhere") + "."]
    return "\n".join(out)


RTT_CLIENTS = ["lia_lua", "paho_py", "mqttjs", "floor", "floor_epoll"]
RTT_PLACES = [("", "free"), ("_core", "one CPU"), ("_cross", "two CPUs")]


def round_trips(d):
    """One row per placement and QoS; a JSON from before the placements has
    the free rows alone, and the floor in them when it was built."""
    rows = [(suffix, where, q) for suffix, where in RTT_PLACES for q in (0, 1)
            if d.get("rtt_qos%d%s" % (q, suffix))]
    if not rows:
        return []
    names = dict(NAMES, lia_lua="lia, Lua handler", floor="floor: one blocking socket",
                 floor_epoll="floor with epoll")
    out = ["", "| round trip p50 / p99 µs | " + " | ".join(names[p] for p in RTT_CLIENTS) + " |",
           "|---" * (len(RTT_CLIENTS) + 1) + "|"]
    for suffix, where, q in rows:
        row = d["rtt_qos%d%s" % (q, suffix)]
        out.append("| QoS %d, %s | " % (q, where) + " | ".join(
            cell(row.get(p), "%d / %d", "p50_us", "p99_us") if p in row else "" for p in RTT_CLIENTS) + " |")
    out += ["", "Free: where the scheduler puts each client. One CPU: the broker and the client "
            "pinned to CPU 0, which leaves what the client itself adds to a round trip. Two CPUs: "
            "the broker on CPU 0, the client on CPU 1, every wake-up crossing CPUs, which in a VM "
            "costs tens of microseconds. A free run of a one-thread client is one or the other, "
            "and keeps the placement its first round trips found: each process goes back to its "
            "own idle CPU. The same floor measured 7 µs in one broker's life and 70 µs in another's, "
            "blocked in recv, epoll_wait or poll alike; paho-python's two threads move between "
            "CPUs about twice a round trip and land in between. "
            "The floor (tests/tools/rtt_floor.c) is no client, only what the machine and the broker "
            "cost; with epoll it waits in epoll_wait before each recv, as a client with an event "
            "loop (lia, MQTT.js) must. The per-run p50s are in build/bench.json."]
    return out


def size_name(n):
    return "%d MiB" % (n >> 20) if n >= 1 << 20 else "%d KiB" % (n >> 10)


def large_and_many(d):
    """The large-payload, many-client and long-run rows (lia only)."""
    out = []
    large = sorted((v for k, v in d.items() if k.startswith("large_") and isinstance(v, dict)),
                   key=lambda r: r.get("size", 0))
    if large:
        out += ["", "| QoS 1, Lua publisher → Lua subscriber | copied / payload: publisher | subscriber | "
                "short run, all bytes / messages: publisher / subscriber | CPU µs/msg: publisher / "
                "subscriber | MB/s |", "|---|---|---|---|---|---|"]
        for r in large:
            if "error" in r or "skipped" in r:
                out.append("| %s | %s | | | | |" % (size_name(r.get("size", 0)),
                                                   "failed" if "error" in r else "not measured"))
                continue
            out.append("| %s × %d | %.2f | %.2f | %.2f / %.2f | %.0f / %.0f | %.1f |" % (
                size_name(r["size"]), r["n"], r["pub_copies"], r["sub_copies"],
                r["pub_first_copied"] / r["size"], r["sub_first_copied"] / r["size"],
                r["pub_us_per_msg"], r["sub_us_per_msg"], r["mb_per_s"]))
        out += ["", "Bytes copied in user space (memcpy, memmove, moving reallocs of 4 KiB or more, "
                "counted by tests/tools/copycount.c), per message from the difference of two runs; "
                "the short run's own ratio also holds start-up, building the payload string and growing "
                "the receive buffer."]
    store = d.get("store") or {}
    if store:
        out += ["", "| the store, Lua-loop publisher | persist = false | persist = true | cost |",
                "|---|---|---|---|"]
        for key, what in (("qos1_w100", "QoS 1, window 100"), ("qos2_w20", "QoS 2, window 20")):
            r = store.get(key) or {}
            off, on = r.get("false") or {}, r.get("true") or {}
            if "us_per_msg" not in off or "us_per_msg" not in on:
                out.append("| %s | failed | failed | |" % what)
                continue
            out.append("| %s | %.2f µs/msg (user %.2f), %.0f msg/s | %.2f µs/msg (user %.2f), %.0f msg/s | "
                       "%+.0f %% CPU (user %+.2f µs/msg), %+.0f %% msg/s |" % (
                           what, off["us_per_msg"], off["user_us_per_msg"], off["msg_per_s"],
                           on["us_per_msg"], on["user_us_per_msg"], on["msg_per_s"],
                           r["cost_cpu_pct"], r["cost_user_us_per_msg"], r["cost_rate_pct"]))
        out += ["", "CPU is user + system of the publisher's process; the store adds user time (SQLite) "
                "and saves system time (a turn that waits for its fsync sends more messages per write). "
                "Issue 10's goal: < 30 % at QoS 1, window 100."]
    m = d.get("many_clients")
    if m:
        out += ["", "| many and long | result |", "|---|---|"]
        if "error" in m:
            out.append("| %s clients in one process | failed |" % "1000")
        else:
            out.append("| %d clients in one lia, each publishing once a second | connected in %.0f ms; "
                       "CPU %.2f %% of a core (%.1f µs/msg); VmRSS %d kB (%.1f kB per client) |" % (
                           m["clients"], m["connect_ms"], m["cpu_pct"], m["us_per_msg"] or 0,
                           m["rss_kb"], m["kb_per_client"]))
    for key, what in (("flood_qos0", "QoS 0 messages from one Lua loop"),
                      ("reconnects", "connect / disconnect cycles of one client")):
        r = d.get(key)
        if not r:
            continue
        if "error" in r:
            out.append("| %s | failed |" % what)
        else:
            out.append("| %d %s | %.1f s; VmRSS %d → %d kB (max %d) over 10 samples |" % (
                r["n"], what, r["seconds"], r["rss_first_kb"], r["rss_last_kb"], r["rss_max_kb"]))
    return out


def main():
    d = json.load(open(sys.argv[1]))
    text = open(sys.argv[2]).read()
    if BEGIN not in text or END not in text:
        print("bench_readme: no %s ... %s in %s: left alone" % (BEGIN, END, sys.argv[2]))
        return
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(sys.argv[2], "w") as f:
        f.write(head + BEGIN + "\n" + table(d) + "\n" + END + tail)
    print("bench_readme: %s updated from %s" % (sys.argv[2], sys.argv[1]))


if __name__ == "__main__":
    main()
