#!/usr/bin/python3
# proxy.py - a TCP proxy that makes the network bad on purpose, for the
# fault-injection tier (tests/faults/faults.py imports it; it also runs on
# its own: proxy.py LISTEN_PORT UPSTREAM_PORT [--cut MIN MAX] [--seed N]).
#
# Every byte is relayed in order, but:
#   - each chunk read is split at random byte boundaries and the pieces are
#     written separately, with a random delay (0..max_delay s) before each,
#     so the peer sees MQTT packets torn at every possible offset;
#   - with cut=(min, max), every link is cut a random min..max seconds after
#     it was accepted: both sockets closed (FIN) or aborted (RST) at random;
#   - hold() stops relaying on every link and keeps the sockets open, the
#     way a dead NAT entry or a pulled cable looks: a half-open link that
#     only a keep-alive can find; release() lets new links through again.
# Python 3 standard library only (asyncio).
import argparse
import asyncio
import random


class Link:
    def __init__(self, proxy, creader, cwriter):
        self.proxy = proxy
        self.creader, self.cwriter = creader, cwriter
        self.ureader = self.uwriter = None
        self.closed = False

    def close(self, abort=False):
        if self.closed:
            return
        self.closed = True
        for w in (self.cwriter, self.uwriter):
            if w is None:
                continue
            if abort:
                w.transport.abort()
            else:
                w.close()
        self.proxy.links.discard(self)

    async def pump(self, reader, writer):
        p = self.proxy
        try:
            while not self.closed:
                data = await reader.read(65536)
                if not data:
                    break
                while p.held and not self.closed:
                    await p.release_event.wait()
                for piece in p.pieces(data):
                    if p.max_delay:
                        await asyncio.sleep(p.rng.uniform(0, p.max_delay))
                    if self.closed:
                        return
                    writer.write(piece)
                    p.bytes += len(piece)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        self.close()

    async def cutter(self, lo, hi):
        await asyncio.sleep(self.proxy.rng.uniform(lo, hi))
        if self.closed or self.proxy.held:
            return
        self.proxy.cuts += 1
        self.close(abort=self.proxy.rng.random() < 0.5)

    async def run(self):
        p = self.proxy
        try:
            self.ureader, self.uwriter = await asyncio.open_connection(p.up_host, p.up_port)
        except OSError:
            self.close()
            return
        p.accepted += 1
        tasks = [asyncio.ensure_future(self.pump(self.creader, self.uwriter)),
                 asyncio.ensure_future(self.pump(self.ureader, self.cwriter))]
        if p.cut:
            tasks.append(asyncio.ensure_future(self.cutter(*p.cut)))
        await asyncio.wait(tasks[:2], return_when=asyncio.ALL_COMPLETED)
        for t in tasks[2:]:
            t.cancel()


class Proxy:
    """Listen on 127.0.0.1:port (0: a free one) and relay to up_port."""

    def __init__(self, up_port, cut=None, max_delay=0.002, seed=None, up_host="127.0.0.1"):
        self.up_host, self.up_port = up_host, up_port
        self.cut, self.max_delay = cut, max_delay
        self.rng = random.Random(seed)
        self.links = set()
        self.held = False
        self.release_event = asyncio.Event()
        self.cuts = self.accepted = self.bytes = 0
        self.server = None
        self.port = None

    def pieces(self, data):
        """data split at 0..3 random byte boundaries."""
        if len(data) < 2:
            return [data]
        k = self.rng.randint(0, min(3, len(data) - 1))
        at = sorted(self.rng.sample(range(1, len(data)), k))
        return [data[i:j] for i, j in zip([0] + at, at + [len(data)])]

    async def start(self, port=0):
        async def accept(r, w):
            link = Link(self, r, w)
            self.links.add(link)
            await link.run()
        self.server = await asyncio.start_server(accept, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def hold(self):
        """Half-open every link from now on: nothing relayed, nothing closed."""
        self.held = True
        self.release_event.clear()

    def release(self):
        """Drop the held links (they are dead to both ends) and relay again."""
        self.held = False
        for link in list(self.links):
            link.close(abort=True)
        self.release_event.set()

    async def stop(self):
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        for link in list(self.links):
            link.close(abort=True)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listen_port", type=int)
    ap.add_argument("upstream_port", type=int)
    ap.add_argument("--cut", type=float, nargs=2, metavar=("MIN", "MAX"))
    ap.add_argument("--delay", type=float, default=0.002)
    ap.add_argument("--seed", type=int)
    a = ap.parse_args()
    p = await Proxy(a.upstream_port, cut=a.cut, max_delay=a.delay, seed=a.seed).start(a.listen_port)
    print("proxy: 127.0.0.1:%d -> %d" % (p.port, a.upstream_port), flush=True)
    while True:
        await asyncio.sleep(5)
        print("proxy: %d links, %d cuts, %d bytes" % (p.accepted, p.cuts, p.bytes), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
