"""Micro-benchmark: the Python a server spends on one connection, in process.

Run from the project root after ``pip install -e .``, pinned to one core::

    taskset -c 0 python bench/micro_connection.py [--loop uvloop] [--n 20000] [--no-gc]

What the bench's ``hs_conc`` costs a server beyond its system calls: each
connection made by ``Server.engine_factory``, given a transport that only
counts bytes, fed the bench's upgrade request, its handler started (the
echo of the bench servers), fed a close frame, then the end of the stream;
50 at a time, as ``hs_conc`` opens them. Prints the best of several rounds
in µs a connection (CPU time), and the objects the cyclic GC tracks for one
open connection. ``--no-gc`` switches the collector off, to tell its part.

Set ``AIRSOCKET_SRC`` to time another copy of the sources (say, the commit
before) and ``AIRSOCKET_NO_SPEEDUPS=1`` for the pure-Python path.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import os
import sys
import time
from typing import Any

if os.environ.get("AIRSOCKET_SRC"):
    sys.path.insert(0, os.environ["AIRSOCKET_SRC"])

from airsocket.asyncio.server import Server
from airsocket.protocol.options import Options

REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
# A masked close frame with code 1000, as the bench's client sends it.
CLOSE = b"\x88\x82\x00\x00\x00\x00\x03\xe8"
CONCURRENCY = 50
ROUNDS = 7


class CountingTransport:
    """What the engine calls on a transport; writes are only counted."""

    def __init__(self, protocol: Any) -> None:
        self.protocol: Any = protocol
        self.closing = False
        self.written = 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def writelines(self, chunks: list[bytes]) -> None:
        self.written += sum(map(len, chunks))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.protocol.loop.call_soon(self._lost)

    def _lost(self) -> None:
        # As a real transport does: it lets go of its protocol when done.
        protocol, self.protocol = self.protocol, None
        protocol.connection_lost(None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1234) if name in ("peername", "sockname") else default


def feed(engine: Any, data: bytes) -> None:
    """Hand ``data`` to the engine as a transport's read does."""
    buffer = engine.get_buffer(-1)
    buffer[: len(data)] = data
    engine.buffer_updated(len(data))


async def echo(connection: Any) -> None:
    async for message in connection:
        await connection.send(message)


async def one_batch(server: Server) -> list[Any]:
    """Open a batch of connections and start their handlers; return the engines."""
    engines = []
    for _ in range(CONCURRENCY):
        engine = server.engine_factory()
        engine.connection_made(CountingTransport(engine))
        feed(engine, REQUEST)
        engines.append(engine)
    await asyncio.sleep(0)  # the handlers start and wait in recv()
    return engines


async def close_batch(engines: list[Any]) -> None:
    for engine in engines:
        feed(engine, CLOSE)
    await asyncio.sleep(0)
    for engine in engines:
        if not engine.eof_received():
            engine.transport.close()
    for _ in range(3):  # connection_lost, the handlers' ends, their tasks' callbacks
        await asyncio.sleep(0)


async def cost(n: int) -> float:
    """CPU µs a connection over ``n`` connections."""
    server = Server(echo, Options())
    server._loop = asyncio.get_running_loop()
    start = time.process_time()
    for _ in range(n // CONCURRENCY):
        await close_batch(await one_batch(server))
    return (time.process_time() - start) / n * 1e6


async def tracked() -> tuple[float, collections.Counter[str]]:
    """GC-tracked objects that one open connection holds, and of which types."""
    server = Server(echo, Options())
    server._loop = asyncio.get_running_loop()
    gc.collect()
    before = {id(obj) for obj in gc.get_objects()}
    engines = await one_batch(server)
    gc.collect()
    kinds = collections.Counter(
        type(obj).__name__
        for obj in gc.get_objects()
        if id(obj) not in before and obj is not engines
    )
    await close_batch(engines)
    return sum(kinds.values()) / CONCURRENCY, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--n", type=int, default=20000, help="connections a round")
    parser.add_argument("--no-gc", action="store_true", help="switch the cyclic GC off")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        run: Any = uvloop.run
    else:
        run = asyncio.run
    objects, kinds = run(tracked())
    if args.no_gc:
        gc.disable()
    best = min(run(cost(args.n)) for _ in range(ROUNDS))
    print(f"{args.loop}, GC {'off' if args.no_gc else 'on'}: {best:.2f} us a connection")
    top = ", ".join(f"{name} {count / CONCURRENCY:g}" for name, count in kinds.most_common(8))
    print(f"GC-tracked objects an open connection holds: {objects:g} ({top}, ...)")


if __name__ == "__main__":
    main()
