#!/usr/bin/env python3
"""v5_server.py - a scripted MQTT 5 server for spec tests: one scenario per
run, each connection handled in turn, every decision printed as one line on
stdout ("LISTEN port", "CONNECT id", "GOT DISCONNECT 0x94", ...) so a spec
waits for lines, never for time. Loopback only; exits after the scenario or
after 60 s.

  v5_server.py SCENARIO [ARG]
    alias          PUBLISH a/b with alias 1, then by alias only, then alias 9
                   (over lia's maximum): expects DISCONNECT 0x94
    alias-unknown  PUBLISH with alias 2 and no topic: expects DISCONNECT 0x82
    scram USER PASS    SCRAM-SHA-256 enhanced auth (RFC 5802/7677), then
                   re-authentication when the client starts one
    challenge      method TEST: AUTH 0x18 "c1", wants "r1", CONNACK; on
                   re-auth AUTH 0x18 "c2", wants "r2", AUTH 0x00
    redirect PORT  CONNACK 0x9D (server moved) with Server Reference
                   127.0.0.1:PORT
    disconnect-redirect PORT   CONNACK ok, then DISCONNECT 0x9C with the
                   reference
"""
import base64, hashlib, hmac, os, socket, struct, sys, threading

def out(*a):
    print(*a, flush=True)

def varint(n):
    b = bytearray()
    while True:
        d = n % 128
        n //= 128
        b.append(d | (0x80 if n else 0))
        if not n:
            return bytes(b)

def read_varint(buf, i):
    mult, val = 1, 0
    for _ in range(4):
        d = buf[i]; i += 1
        val += (d & 127) * mult
        if not d & 128:
            return val, i
        mult *= 128
    raise ValueError("varint")

def s(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">H", len(b)) + b

def packet(t, flags, body):
    return bytes([t << 4 | flags]) + varint(len(body)) + body

def props(*items):
    b = b"".join(items)
    return varint(len(b)) + b

def p_str(pid, v): return bytes([pid]) + s(v)
def p_u16(pid, v): return bytes([pid]) + struct.pack(">H", v)

def recv_packet(conn, buf):
    while True:
        if len(buf) >= 2:
            try:
                rem, i = read_varint(buf, 1)
            except IndexError:
                rem = None
            if rem is not None and len(buf) >= i + rem:
                p = bytes(buf[:i + rem]); del buf[:i + rem]
                return p[0] >> 4, p[0] & 15, p[i:]
        d = conn.recv(65536)
        if not d:
            return None, None, None
        buf += d

def parse_props(body, i):
    n, i = read_varint(body, i)
    end, res = i + n, {}
    while i < end:
        pid = body[i]; i += 1
        if pid in (0x15, 0x03, 0x08, 0x1C, 0x1F, 0x12, 0x1A):      # strings
            l = struct.unpack(">H", body[i:i+2])[0]; res[pid] = body[i+2:i+2+l].decode(); i += 2 + l
        elif pid in (0x16, 0x09):                                    # binary
            l = struct.unpack(">H", body[i:i+2])[0]; res[pid] = body[i+2:i+2+l]; i += 2 + l
        elif pid == 0x26:
            l = struct.unpack(">H", body[i:i+2])[0]; i += 2 + l
            l = struct.unpack(">H", body[i:i+2])[0]; i += 2 + l
        elif pid in (0x11, 0x02, 0x18, 0x27):
            res[pid] = struct.unpack(">I", body[i:i+4])[0]; i += 4
        elif pid in (0x21, 0x22, 0x23, 0x13):
            res[pid] = struct.unpack(">H", body[i:i+2])[0]; i += 2
        elif pid == 0x0B:
            res[pid], i = read_varint(body, i)
        else:
            res[pid] = body[i]; i += 1
    return res, end

def parse_connect(body):
    i = 2 + struct.unpack(">H", body[:2])[0]
    i += 1
    flags = body[i]; i += 1
    i += 2                                   # keep alive
    pr, i = parse_props(body, i)
    l = struct.unpack(">H", body[i:i+2])[0]
    cid = body[i+2:i+2+l].decode()
    return cid, pr

def connack(reason, *pitems, present=0):
    return packet(2, 0, bytes([present, reason]) + props(*pitems))

def auth(reason, *pitems):
    return packet(15, 0, bytes([reason]) + props(*pitems))

def publish(topic, payload, *pitems):
    return packet(3, 0, s(topic) + props(*pitems) + payload)

def expect_disconnect(conn, buf):
    while True:
        t, f, body = recv_packet(conn, buf)
        if t is None:
            out("CLOSED")
            return
        if t == 14:
            out("GOT DISCONNECT 0x%02x" % (body[0] if body else 0))
            return
        out("GOT", t)

def wait_subscribe(conn, buf):
    while True:
        t, f, body = recv_packet(conn, buf)
        if t is None:
            return False
        if t == 8:
            pid = body[:2]
            conn.sendall(packet(9, 0, pid + props() + b"\x00"))
            out("SUBSCRIBED")
            return True

# ---- scenarios ----

def sc_alias(conn, buf, cid, pr, args):
    out("ALIAS_MAX", pr.get(0x22, 0))
    conn.sendall(connack(0))
    if not wait_subscribe(conn, buf):
        return
    conn.sendall(publish("a/b", b"one", p_u16(0x23, 1)))
    conn.sendall(publish("", b"two", p_u16(0x23, 1)))
    conn.sendall(publish("a/c", b"three", p_u16(0x23, 9)))
    expect_disconnect(conn, buf)

def sc_alias_unknown(conn, buf, cid, pr, args):
    conn.sendall(connack(0))
    if not wait_subscribe(conn, buf):
        return
    conn.sendall(publish("", b"lost", p_u16(0x23, 2)))
    expect_disconnect(conn, buf)

def scram_server(conn, buf, first, user, password, method):
    """RFC 5802 server side; first = client-first-message. Returns the
    server-final-message, or None after a failure (already reported)."""
    gs2, bare = first.split(",", 2)[:2], first.split(",", 2)[2]
    attrs = dict(kv.split("=", 1) for kv in bare.split(","))
    if attrs.get("n") != user:
        out("SCRAM BAD USER", attrs.get("n"))
        return None, None
    salt, iters = b"lia-test-salt", 4096
    nonce = attrs["r"] + base64.b64encode(os.urandom(12)).decode()
    server_first = "r=%s,s=%s,i=%d" % (nonce, base64.b64encode(salt).decode(), iters)
    return server_first, (bare, salt, iters, nonce)

def scram_check(final, user, password, state):
    bare, salt, iters, nonce = state
    server_first = "r=%s,s=%s,i=%d" % (nonce, base64.b64encode(salt).decode(), iters)
    without_proof, proof = final.rsplit(",p=", 1)
    attrs = dict(kv.split("=", 1) for kv in without_proof.split(","))
    if attrs.get("r") != nonce or attrs.get("c") != "biws":
        return None
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    ckey = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(ckey).digest()
    auth_msg = (bare + "," + server_first + "," + without_proof).encode()
    sig = hmac.new(stored, auth_msg, "sha256").digest()
    want = base64.b64encode(bytes(a ^ b for a, b in zip(ckey, sig))).decode()
    if proof != want:
        return None
    skey = hmac.new(salted, b"Server Key", "sha256").digest()
    return "v=" + base64.b64encode(hmac.new(skey, auth_msg, "sha256").digest()).decode()

def scram_exchange(conn, buf, pr, args, reauth):
    user, password = args[0], args[1]
    method = pr.get(0x15)
    out("METHOD", method)
    if method != "SCRAM-SHA-256":
        conn.sendall(connack(0x8C) if not reauth else packet(14, 0, b"\x8c\x00"))
        return False
    server_first, state = scram_server(conn, buf, pr.get(0x16, b"").decode(), user, password, method)
    if not server_first:
        conn.sendall(connack(0x86) if not reauth else packet(14, 0, b"\x87\x00"))
        return False
    conn.sendall(auth(0x18, p_str(0x15, method), p_str(0x16, server_first)))
    t, f, body = recv_packet(conn, buf)
    if t != 15 or body[0] != 0x18:
        out("SCRAM EXPECTED AUTH, GOT", t)
        return False
    apr, _ = parse_props(body, 1)
    final = scram_check(apr.get(0x16, b"").decode(), user, password, state)
    if not final:
        out("SCRAM BAD PROOF")
        conn.sendall(connack(0x86) if not reauth else packet(14, 0, b"\x87\x00"))
        return False
    out("SCRAM OK")
    if reauth:
        conn.sendall(auth(0x00, p_str(0x15, method), p_str(0x16, final)))
    else:
        conn.sendall(connack(0, p_str(0x15, method), p_str(0x16, final)))
    return True

def serve_reauth(conn, buf, handler):
    while True:
        t, f, body = recv_packet(conn, buf)
        if t is None:
            out("CLOSED")
            return
        if t == 15:
            apr, _ = parse_props(body, 1)
            out("REAUTH 0x%02x" % body[0])
            if handler(apr):
                out("REAUTH OK")
        elif t == 12:
            conn.sendall(packet(13, 0, b""))
        elif t == 14:
            out("GOT DISCONNECT 0x%02x" % (body[0] if body else 0))
            return

def sc_scram(conn, buf, cid, pr, args):
    if scram_exchange(conn, buf, pr, args, False):
        serve_reauth(conn, buf, lambda apr: scram_exchange(conn, buf, apr, args, True))

def challenge_round(conn, buf, method, ask, want, done):
    conn.sendall(auth(0x18, p_str(0x15, method), p_str(0x16, ask)))
    t, f, body = recv_packet(conn, buf)
    if t != 15:
        out("EXPECTED AUTH, GOT", t)
        return False
    apr, _ = parse_props(body, 1)
    got = apr.get(0x16, b"").decode()
    out("REPLY", got)
    if got != want:
        conn.sendall(done(0x87))
        return False
    conn.sendall(done(0))
    return True

def sc_challenge(conn, buf, cid, pr, args):
    method = pr.get(0x15)
    out("METHOD", method, "DATA", pr.get(0x16, b"").decode())
    ok = challenge_round(conn, buf, method, "c1", "r1",
        lambda r: connack(r, p_str(0x15, method)))
    if ok:
        serve_reauth(conn, buf, lambda apr: challenge_round(conn, buf, method, "c2", "r2",
            lambda r: auth(0, p_str(0x15, method)) if r == 0 else packet(14, 0, bytes([r, 0]))))

def sc_redirect(conn, buf, cid, pr, args):
    conn.sendall(connack(0x9D, p_str(0x1C, "127.0.0.1:" + args[0])))
    out("REDIRECTED")

def sc_disconnect_redirect(conn, buf, cid, pr, args):
    conn.sendall(connack(0))
    if wait_subscribe(conn, buf):
        conn.sendall(packet(14, 0, b"\x9c" + props(p_str(0x1C, "127.0.0.1:" + args[0]))))
        out("REDIRECTED")

def sc_multi_id(conn, buf, cid, pr, args):
    conn.sendall(connack(0))
    if wait_subscribe(conn, buf):
        conn.sendall(publish("m/x", b"both", varint_prop(0x0B, 7), varint_prop(0x0B, 9)))
        expect_disconnect(conn, buf)

def varint_prop(pid, v):
    return bytes([pid]) + varint(v)

def parse_publish(f, body):
    l = struct.unpack(">H", body[:2])[0]
    topic, i = body[2:2+l].decode(), 2 + l
    pid = None
    if (f >> 1) & 3:
        pid = struct.unpack(">H", body[i:i+2])[0]; i += 2
    pr, i = parse_props(body, i)
    return topic, pid, pr, body[i:]

conn_count = [0]
def sc_dup_alias(conn, buf, cid, pr, args):
    """first connection: Topic Alias Maximum 5, PUBACK only the first
    PUBLISH, then drop the link; second: session present, show the resend"""
    conn_count[0] += 1
    first = conn_count[0] == 1
    conn.sendall(connack(0, p_u16(0x22, 5), present=0 if first else 1))
    while True:
        t, f, body = recv_packet(conn, buf)
        if t is None:
            out("CLOSED")
            return
        if t != 3:
            continue
        topic, pid, ppr, payload = parse_publish(f, body)
        out("PUBLISH dup=%d topic=%s alias=%s payload=%s" % ((f >> 3) & 1, topic or "-",
            ppr.get(0x23, "-"), payload.decode()))
        if first and topic:
            conn.sendall(packet(4, 0, struct.pack(">H", pid)))
        elif first:
            return          # the aliased one stays unacknowledged: close
        else:
            conn.sendall(packet(4, 0, struct.pack(">H", pid)))

def sub_filters(body):
    i = 2
    _, i = parse_props(body, i)
    res = []
    while i < len(body):
        l = struct.unpack(">H", body[i:i+2])[0]
        res.append(body[i+2:i+2+l].decode())
        i += 2 + l + 1
    return res

def sc_no_share(conn, buf, cid, pr, args):
    """a broker without shared subscriptions: DISCONNECT 0x9E for a
    SUBSCRIBE with a $share filter, SUBACK for the others; each SUBSCRIBE
    printed with its filters"""
    conn.sendall(connack(0))
    while True:
        t, f, body = recv_packet(conn, buf)
        if t is None:
            out("CLOSED")
            return
        if t == 8:
            filters = sub_filters(body)
            out("SUBSCRIBE " + " ".join(filters))
            if any(x.startswith("$share/") for x in filters):
                conn.sendall(packet(14, 0, b"\x9e\x00"))
                conn.close()
                return
            conn.sendall(packet(9, 0, body[:2] + props() + bytes(len(filters))))
        elif t == 12:
            conn.sendall(packet(13, 0, b""))
        elif t == 14:
            out("GOT DISCONNECT 0x%02x" % (body[0] if body else 0))
            return

SCENARIOS = { "no-share": sc_no_share, "multi-id": sc_multi_id, "dup-alias": sc_dup_alias, "alias": sc_alias, "alias-unknown": sc_alias_unknown, "scram": sc_scram,
    "challenge": sc_challenge, "redirect": sc_redirect,
    "disconnect-redirect": sc_disconnect_redirect }

def main():
    name, args = sys.argv[1], sys.argv[2:]
    fn = SCENARIOS[name]
    threading.Timer(60, lambda: os._exit(2)).start()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    out("LISTEN", ls.getsockname()[1])
    while True:
        conn, _ = ls.accept()
        buf = bytearray()
        t, f, body = recv_packet(conn, buf)
        if t != 1:
            conn.close()
            continue
        cid, pr = parse_connect(body)
        out("CONNECT", cid)
        try:
            fn(conn, buf, cid, pr, args)
        except (ConnectionError, OSError) as e:
            out("CLOSED", e)
        conn.close()

if __name__ == "__main__":
    main()
