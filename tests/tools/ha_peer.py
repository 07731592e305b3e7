#!/usr/bin/python3
"""ha_peer.py HOST PORT NODE_ID COUNT - plays Home Assistant against lia.ha.

With paho-mqtt (Debian python3-paho-mqtt): subscribes to homeassistant/#
and lia/NODE_ID/#, waits for COUNT discovery configs of NODE_ID,
checks each against SCHEMA (the keys HA's MQTT discovery requires per
component, their types, the topic layout, unique ids), checks that the
device is available, sends every switch and number a command and waits
for the state to follow, then restarts "Home Assistant" (homeassistant/status
offline, after which nothing may be announced, then online) and waits for
every config and the availability to be published again (live, not
retained). Prints one line per check and "PEER OK" at the end, exit 0; "FAIL what" and exit 1 at the first problem.
"""
import json
import re
import sys
import threading
import time

import paho.mqtt.client as mqtt

TOPIC_RE = re.compile(r"^homeassistant/([a-z_]+)/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)/config$")
STR, NUM, BOOL, LIST, DICT = str, (int, float), bool, list, dict

# From Home Assistant's MQTT discovery documentation: keys every entity
# that belongs to a device needs (unique_id and a device with identifiers
# for the device registry), then the required keys per component, and the
# types of the optional keys lia sends.
COMMON_REQUIRED = {"unique_id": STR, "device": DICT, "name": STR}
COMMON_OPTIONAL = {"object_id": STR, "availability_topic": STR, "payload_available": STR,
                   "payload_not_available": STR, "unit_of_measurement": STR, "device_class": STR,
                   "state_class": STR, "icon": STR, "entity_category": STR, "value_template": STR,
                   "expire_after": NUM, "enabled_by_default": BOOL, "force_update": BOOL,
                   "suggested_display_precision": NUM}
SCHEMA = {
    "sensor": {"required": {"state_topic": STR}, "optional": {}},
    "binary_sensor": {"required": {"state_topic": STR},
                      "optional": {"payload_on": STR, "payload_off": STR}},
    "switch": {"required": {"command_topic": STR},
               "optional": {"state_topic": STR, "payload_on": STR, "payload_off": STR}},
    "number": {"required": {"command_topic": STR},
               "optional": {"state_topic": STR, "min": NUM, "max": NUM, "step": NUM, "mode": STR}},
    "button": {"required": {"command_topic": STR}, "optional": {"payload_press": STR}},
}
SENSOR_STATE_CLASSES = {"measurement", "total", "total_increasing"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
NUMBER_MODES = {"auto", "box", "slider"}


class Fail(Exception):
    pass


def check_topic_value(key, v):
    if key.endswith("_topic") and (not v or "+" in v or "#" in v):
        raise Fail(f"{key} {v!r} is not a topic name")


def validate(component, node, obj, cfg):
    if component not in SCHEMA:
        raise Fail(f"unknown component {component}")
    s = SCHEMA[component]
    allowed = dict(COMMON_REQUIRED, **COMMON_OPTIONAL, **s["required"], **s["optional"])
    for key, typ in dict(COMMON_REQUIRED, **s["required"]).items():
        if key not in cfg:
            raise Fail(f"{component}/{obj}: required key {key} missing")
    for key, v in cfg.items():
        if key not in allowed:
            raise Fail(f"{component}/{obj}: key {key} not valid for a {component}")
        typ = allowed[key]
        if not isinstance(v, typ) or (typ == NUM and isinstance(v, bool)):
            raise Fail(f"{component}/{obj}: {key} has type {type(v).__name__}")
        check_topic_value(key, v)
    dev = cfg["device"]
    ids = dev.get("identifiers")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise Fail(f"{component}/{obj}: device.identifiers must be a non-empty list of strings")
    if not isinstance(dev.get("name"), str):
        raise Fail(f"{component}/{obj}: device.name missing")
    if cfg.get("state_class") and cfg["state_class"] not in SENSOR_STATE_CLASSES:
        raise Fail(f"{component}/{obj}: state_class {cfg['state_class']}")
    if cfg.get("entity_category") and cfg["entity_category"] not in ENTITY_CATEGORIES:
        raise Fail(f"{component}/{obj}: entity_category {cfg['entity_category']}")
    if component == "number":
        if cfg.get("mode") and cfg["mode"] not in NUMBER_MODES:
            raise Fail(f"number/{obj}: mode {cfg['mode']}")
        if cfg.get("min", 0) >= cfg.get("max", 100):
            raise Fail(f"number/{obj}: min must be below max")
    if "availability_topic" in cfg and cfg["availability_topic"] != f"lia/{node}/availability":
        raise Fail(f"{component}/{obj}: availability_topic {cfg['availability_topic']}")


class Peer:
    def __init__(self, host, port, node):
        self.node = node
        self.cond = threading.Condition()
        self.msgs = []          # (topic, payload str, retain)
        self.c = mqtt.Client(client_id=f"ha-peer-{node}", protocol=mqtt.MQTTv311)
        self.c.on_message = self.on_message
        self.c.connect(host, int(port), 30)
        self.c.subscribe([("homeassistant/#", 1), (f"lia/{node}/#", 1)])
        self.c.loop_start()

    def on_message(self, _c, _u, m):
        with self.cond:
            self.msgs.append((m.topic, m.payload.decode("utf-8"), bool(m.retain)))
            self.cond.notify_all()

    def wait(self, what, pred, timeout=10):
        """Wait until pred(msgs) is true; returns its value."""
        end = time.time() + timeout
        with self.cond:
            while True:
                r = pred(self.msgs)
                if r:
                    return r
                left = end - time.time()
                if left <= 0:
                    raise Fail(f"timeout waiting for {what}; got {[t for t, _, _ in self.msgs]}")
                self.cond.wait(left)

    def pub(self, topic, payload):
        self.c.publish(topic, payload, qos=1).wait_for_publish()


def configs_of(node, msgs, retained=None, since=0):
    out = {}
    for topic, payload, retain in msgs[since:]:
        m = TOPIC_RE.match(topic)
        if m and m.group(2) == node and payload and (retained is None or retain == retained):
            out[topic] = (m.group(1), m.group(3), payload)
    return out


def main():
    host, port, node, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    p = Peer(host, port, node)
    # retained when lia announced before we subscribed, live when after
    got = p.wait(f"{count} configs", lambda ms: (lambda c: c if len(c) >= count else None)(
        configs_of(node, ms)))
    uids, entities = set(), []
    for topic, (component, obj, payload) in sorted(got.items()):
        try:
            cfg = json.loads(payload)
        except ValueError as e:
            raise Fail(f"{topic}: not JSON: {e}")
        validate(component, node, obj, cfg)
        if cfg["unique_id"] in uids:
            raise Fail(f"unique_id {cfg['unique_id']} twice")
        uids.add(cfg["unique_id"])
        entities.append((component, obj, cfg))
        print(f"config {component} {obj} ok", flush=True)
    avail = f"lia/{node}/availability"
    p.wait("availability online", lambda ms: [m for m in ms if m[0] == avail and m[1] == "online"])
    print("available", flush=True)
    for component, obj, cfg in entities:
        if component == "switch":
            cmds = [(cfg.get("payload_on", "ON"), cfg.get("payload_on", "ON")),
                    (cfg.get("payload_off", "OFF"), cfg.get("payload_off", "OFF"))]
        elif component == "number":
            v = cfg.get("min", 0) + cfg.get("step", 1)
            cmds = [(str(v), v)]
        else:
            continue
        for cmd, want in cmds:
            n = len(p.msgs)
            p.pub(cfg["command_topic"], cmd)
            st = cfg.get("state_topic")
            if st:
                def seen(ms, st=st, want=want, n=n):
                    for t, pl, _ in ms[n:]:
                        if t == st and (pl == want or (not isinstance(want, str) and
                                                       float(pl) == float(want))):
                            return True
                    return False
                p.wait(f"{st} = {want}", seen)
            print(f"command {component} {obj} {cmd} ok", flush=True)
    # Home Assistant restarts: its will says offline, then its birth message online
    n = len(p.msgs)
    p.pub("homeassistant/status", "offline")
    switch = next((cfg for component, _, cfg in entities
                   if component == "switch" and cfg.get("state_topic")), None)
    if switch:
        # "offline" announces nothing: a command sent after it is followed
        # (lia takes them in order), and no config may come before its state
        on = switch.get("payload_on", "ON")
        p.pub(switch["command_topic"], on)
        at = p.wait(f"{switch['state_topic']} = {on} after offline", lambda ms: next(
            (i for i in range(n, len(ms)) if ms[i][0] == switch["state_topic"] and ms[i][1] == on),
            None))
        if configs_of(node, p.msgs[:at], False, n):
            raise Fail("configs announced on homeassistant/status offline")
        print("nothing announced on offline", flush=True)
    n = len(p.msgs)
    p.pub("homeassistant/status", "online")
    p.wait("configs announced again", lambda ms: len(configs_of(node, ms, False, n)) >= count)
    p.wait("availability again", lambda ms: [m for m in ms[n:] if m[0] == avail and m[1] == "online"])
    print("reannounced after restart", flush=True)
    p.c.loop_stop()
    p.c.disconnect()
    print("PEER OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL {e}", flush=True)
        sys.exit(1)
