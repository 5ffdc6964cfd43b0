"""broadcast(): one frame built once, written to every open connection."""

from __future__ import annotations

import asyncio

import airsocket
from airsocket.asyncio.broadcast import broadcast


def test_broadcast_reaches_every_open_connection_and_skips_closed_ones() -> None:
    async def main() -> None:
        connections: list[airsocket.Connection] = []
        everyone_in = asyncio.Event()

        async def handler(ws: airsocket.Connection) -> None:
            connections.append(ws)
            if len(connections) == 3:
                everyone_in.set()
            await ws.wait_closed()

        async with airsocket.serve(handler, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"ws://127.0.0.1:{port}/"
            clients = [await airsocket.connect(url) for _ in range(3)]
            await asyncio.wait_for(everyone_in.wait(), 10)
            await clients[2].close()
            await asyncio.wait_for(connections[2].wait_closed(), 10)
            assert broadcast(connections, "to all") == 2
            assert broadcast(connections, b"\x00\x01") == 2
            for client in clients[:2]:
                assert await asyncio.wait_for(client.recv(), 10) == "to all"
                assert await asyncio.wait_for(client.recv(), 10) == b"\x00\x01"
                await client.close()

    asyncio.run(main())


def test_broadcast_sends_per_connection_when_compression_is_negotiated() -> None:
    async def main() -> None:
        ready = asyncio.Event()
        held: list[airsocket.Connection] = []

        async def handler(ws: airsocket.Connection) -> None:
            held.append(ws)
            ready.set()
            await ws.wait_closed()

        async with airsocket.serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with airsocket.connect(f"ws://127.0.0.1:{port}/") as client:
                await asyncio.wait_for(ready.wait(), 10)
                assert held[0].engine.core.compression is not None
                assert broadcast(held, "compressed " * 20) == 1
                assert await asyncio.wait_for(client.recv(), 10) == "compressed " * 20

    asyncio.run(main())
