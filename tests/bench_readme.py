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


def table(d):
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
        out.append("| QoS %d msg/s, peak RSS kB | " % q + " | ".join(
            cell(row.get(p), "%.0f, %d", "msg_per_s", "peak_rss_kb") if p in row else "" for p in PUB) + " |")
    for q in (0, 1):
        row = d.get("rtt_qos%d" % q, {})
        out.append("| round trip QoS %d p50 / p99 µs | " % q + " | ".join(
            cell(row.get(p), "%d / %d", "p50_us", "p99_us") if p in row else "" for p in PUB) + " |")
    out += ["", "| idle, connected | start → CONNACK ms | VmRSS kB |", "|---|---|---|"]
    for p, r in d.get("idle", {}).items():
        out.append("| %s | %s | %s |" % (NAMES.get(p, p), cell(r, "%.1f", "connack_ms"), cell(r, "%d", "vmrss_kb")))
    out += ["", "| into a Lua handler, QoS 0, 3.1.1 | µs/msg (CPU) |", "|---|---|"]
    for k in sorted((k for k in d if k == "delivery" or k.startswith("dispatch_")),
                    key=lambda k: d[k].get("handlers", 0)):
        r = d[k]
        what = "one `message` handler" if k == "delivery" else "%d per-filter handlers" % r.get("handlers", 0)
        out.append("| %s | %s |" % (what, cell(r, "%.2f", "us_per_msg") if r.get("us_per_msg") is not None else "failed"))
    out += ["", "Ratios lia / peer (below 1: lia uses less):", ""]
    out += ["- %s: %s" % (k, v) for k, v in sorted(d.get("ratios", {}).items())]
    behind = [k for k, v in sorted(d.get("ratios", {}).items()) if v and v > 1]
    out += ["", "Where lia is behind in this run (ratio above 1): " +
            (", ".join(behind) if behind else "nowhere") + "."]
    return "\n".join(out)


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
