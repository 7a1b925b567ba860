#!/usr/bin/env python3
"""Holds N idle HTTP/2 (h2c, prior knowledge) connections open to a server, for scripts/bench.

    idle_connections.py PORT N

Each connection sends the client preface and an empty SETTINGS frame, acknowledges the server's
SETTINGS, then stays silent. Prints "ready N" once all are established, and keeps them until
terminated. The connections cost curve measures a fixed-rate load on a few connections while the
others are open (h2load's --rps clients tick in step, so 1000 h2load clients at 1 req/s each
would be 1000-request bursts, not 1000 connections).
"""
import asyncio
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


async def hold(port, connected):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(PREFACE)
    await writer.drain()
    connected.release()
    acked = False
    while True:
        data = await reader.read(65536)
        if not data:
            return
        if not acked:
            writer.write(SETTINGS_ACK)
            await writer.drain()
            acked = True


async def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    connected = asyncio.Semaphore(0)
    tasks = []
    for _ in range(count):
        tasks.append(asyncio.create_task(hold(port, connected)))
        await asyncio.sleep(0)
    for _ in range(count):
        await connected.acquire()
    print(f"ready {count}", flush=True)
    await asyncio.gather(*tasks)
    sys.exit("a connection was closed by the server")


if __name__ == "__main__":
    asyncio.run(main())
