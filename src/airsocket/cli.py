"""The command line: ``airsocket serve`` and ``airsocket connect URL``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

from .asyncio import Connection, connect, serve

__all__ = ["main"]


async def echo(connection: Connection) -> None:
    """Send every message back as it came."""
    async for message in connection:
        await connection.send(message)


async def run_server(host: str, port: int, compression: str | None) -> None:
    """Serve the echo handler until cancelled."""
    async with serve(echo, host, port, compression=compression) as server:
        for sock in server.sockets:
            print(f"airsocket: echo server on ws://{_address(sock.getsockname())}/", flush=True)
        await server.serve_forever()


def _address(name: tuple[str, int]) -> str:
    host, port = name[0], name[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def run_client(url: str) -> int:
    """Send stdin lines, print messages received; returns the exit status."""
    loop = asyncio.get_running_loop()
    async with connect(url) as connection:

        async def printer() -> None:
            async for message in connection:
                print(
                    f"< {message!r}" if isinstance(message, bytes) else f"< {message}", flush=True
                )

        reader = asyncio.ensure_future(printer())
        while not reader.done():
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            await connection.send(line.rstrip("\n"))
        await connection.close()
        await reader
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``airsocket`` command."""
    parser = argparse.ArgumentParser(prog="airsocket", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("serve", help="run an echo server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    server.add_argument(
        "--no-compression", action="store_true", help="do not negotiate permessage-deflate"
    )
    client = commands.add_parser("connect", help="an interactive client")
    client.add_argument("url", help="ws:// or wss:// URL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        if args.command == "serve":
            compression = None if args.no_compression else "deflate"
            asyncio.run(run_server(args.host, args.port, compression))
        else:
            return asyncio.run(run_client(args.url))
    return 0
