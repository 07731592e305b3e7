#!/usr/bin/python3
"""http_server.py - a local HTTP server for lia.http's tests (loopback only).

Prints "listening PORT" once bound (port 0: the kernel picks one). Threaded,
so a slow answer does not hold the others up.
  GET  /get            200, JSON {"method", "path", "headers"} of the request
  POST|PUT /echo       200, the request body back, its Content-Type echoed
  GET  /slow?ms=N      waits N ms, then 200 "slow"
  GET  /status/N       status N, body "status N"
  GET  /redirect       302 to /get
  GET  /big?n=N        N bytes of "x"
  GET  /headers        200 with two Set-Cookie headers and X-Lia: yes
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="text/plain", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def route(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path == "/get":
            return self.reply(200, json.dumps({"method": self.command, "path": self.path,
                                               "headers": dict(self.headers.items())}),
                              "application/json")
        if u.path == "/echo":
            n = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(n)
            return self.reply(200, body, self.headers.get("Content-Type", "text/plain"),
                              [("X-Method", self.command)])
        if u.path == "/slow":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000)
            return self.reply(200, "slow")
        if u.path.startswith("/status/"):
            n = int(u.path.split("/")[2])
            return self.reply(n, f"status {n}")
        if u.path == "/redirect":
            return self.reply(302, "", extra=[("Location", "/get")])
        if u.path == "/big":
            return self.reply(200, "x" * int(q.get("n", ["1000"])[0]))
        if u.path == "/headers":
            return self.reply(200, "h", extra=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                                               ("X-Lia", "yes")])
        return self.reply(404, "not found")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = route


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    srv.daemon_threads = True
    print(f"listening {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
