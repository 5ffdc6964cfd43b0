"""Micro-benchmark: the Python a client spends on a message of the bench "burst", in process.

Run from the project root after ``pip install -e .``, pinned to one core::

    taskset -c 0 python bench/micro_client.py [--loop uvloop] [--bursts 400] [--roundtrip]

A client connection of the asyncio API over a transport that only counts
bytes: for each burst, 256 awaited ``send`` of 64 bytes, one loop iteration
(the deferred write), the 256 echoes fed in one read, 256 ``recv``. Prints
the best of several rounds in ns a message (CPU time). What the bench adds
to it is the system calls and the loop's polling, which this leaves out.

``--roundtrip``: the bench "roundtrip" instead, one 32-byte message at a
time: ``send``, then ``recv`` waits and the echo is fed from the next loop
iteration, which wakes it (ns a round trip).

Set ``AIRSOCKET_SRC`` to time another copy of the sources (say, the commit
before) and ``AIRSOCKET_NO_SPEEDUPS=1`` for the pure-Python path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from typing import Any

if os.environ.get("AIRSOCKET_SRC"):
    sys.path.insert(0, os.environ["AIRSOCKET_SRC"])

from micro_connection import CountingTransport, feed

from airsocket.asyncio.connection import Connection
from airsocket.asyncio.engine import client_engine
from airsocket.protocol.handshake import accept_key
from airsocket.protocol.options import Options
from airsocket.protocol.uri import parse_uri

BURST = 256
ROUNDS = 7


class RequestTransport(CountingTransport):
    """Counts bytes, and keeps the first write: the upgrade request."""

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol)
        self.request = b""

    def write(self, data: bytes) -> None:
        if not self.request:
            self.request = bytes(data)
        super().write(data)


async def opened_client() -> tuple[Connection, Any]:
    """A client connection, opened by the 101 its request asks for, and its engine."""
    loop = asyncio.get_running_loop()
    engine = client_engine(parse_uri("ws://127.0.0.1:9/"), Options(compression=None), loop)
    connection = Connection(engine)
    transport = RequestTransport(engine)
    engine.connection_made(transport)
    found = re.search(rb"Sec-WebSocket-Key: (\S+)", transport.request)
    assert found is not None, "the client sent no key"
    accept = accept_key(found.group(1).decode())
    response = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    feed(engine, response.encode())
    await engine.opened
    return connection, engine


async def cost(bursts: int) -> float:
    """CPU ns a message over ``bursts`` bursts, after a warm-up."""
    connection, engine = await opened_client()
    payload = os.urandom(64)
    echoes = (b"\x82\x40" + payload) * BURST
    send, recv = connection.send, connection.recv

    async def run(count: int) -> None:
        for _ in range(count):
            for _ in range(BURST):
                await send(payload)
            await asyncio.sleep(0)  # the deferred write goes out
            feed(engine, echoes)
            for _ in range(BURST):
                await recv()

    await run(20)
    start = time.process_time()
    await run(bursts)
    return (time.process_time() - start) / (bursts * BURST) * 1e9


async def roundtrip_cost(count: int) -> float:
    """CPU ns a round trip over ``count`` of them, after a warm-up."""
    connection, engine = await opened_client()
    loop = asyncio.get_running_loop()
    payload = os.urandom(32)
    echo = b"\x82\x20" + payload
    send, recv = connection.send, connection.recv

    async def run(count: int) -> None:
        for _ in range(count):
            await send(payload)
            loop.call_soon(feed, engine, echo)  # arrives while recv() waits
            await recv()

    await run(500)
    start = time.process_time()
    await run(count)
    return (time.process_time() - start) / count * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--bursts", type=int, default=400, help="bursts a round")
    parser.add_argument("--roundtrip", action="store_true", help="32 B round trips instead")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        run: Any = uvloop.run
    else:
        run = asyncio.run
    if args.roundtrip:
        best = min(run(roundtrip_cost(args.bursts * 50)) for _ in range(ROUNDS))
        print(f"{args.loop}: {best:.0f} ns a round trip")
    else:
        best = min(run(cost(args.bursts)) for _ in range(ROUNDS))
        print(f"{args.loop}: {best:.0f} ns a message")


if __name__ == "__main__":
    main()
