#!/usr/bin/python3
# ws_bridge.py WS_PORT MQTT_PORT [--cert FILE --key FILE] [--fragment N] [--ping SECONDS]
#
# A WebSocket front for a plain mosquitto (Debian's 2.0.11 is built without
# websockets), for the transport tests: accepts the "mqtt" subprotocol (as
# a WebSocket broker must; websockify refuses it), relays binary messages
# both ways. --fragment N sends every message to the client as fragments of
# N bytes; --ping S pings the client every S seconds and drops it when a pong
# is 4 S late.
# Needs Debian's python3-websockets; runs with /usr/bin/python3.
import argparse
import asyncio
import ssl

import websockets

ap = argparse.ArgumentParser()
ap.add_argument("ws_port", type=int)
ap.add_argument("mqtt_port", type=int)
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--fragment", type=int, default=0)
ap.add_argument("--ping", type=float, default=None)
args = ap.parse_args()


async def relay(ws, path=None):
    reader, writer = await asyncio.open_connection("127.0.0.1", args.mqtt_port)

    async def up():
        async for msg in ws:
            if isinstance(msg, str):
                break
            writer.write(msg)
            await writer.drain()

    async def down():
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if args.fragment:
                n = args.fragment
                await ws.send([data[i:i + n] for i in range(0, len(data), n)])
            else:
                await ws.send(data)

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    writer.close()
    await ws.close()


async def main():
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    async with websockets.serve(relay, "127.0.0.1", args.ws_port, subprotocols=["mqtt"], ssl=ctx,
                                ping_interval=args.ping, ping_timeout=args.ping * 4 if args.ping else None, max_size=None,
                                compression=None):
        await asyncio.Future()

asyncio.run(main())
