"""The command line: ``airsocket serve [--chat]`` and ``airsocket connect URL``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Sequence

from ._serving import serve_and_announce
from .asyncio import Connection, connect
from .chat import run_chat_server
from .protocol.exceptions import ConnectionClosed, ConnectionClosedError

__all__ = ["main"]


async def echo(connection: Connection) -> None:
    """Send every message back as it came."""
    async for message in connection:
        await connection.send(message)


async def run_server(host: str, port: int, compression: str | None) -> None:
    """Serve the echo handler until cancelled."""
    await serve_and_announce(echo, host, port, "echo server", "ws", compression=compression)


async def run_client(url: str) -> int:
    """Send stdin lines, print messages received; returns the exit status.

    Ends at the end of stdin (closing with 1000) or when the server closes,
    whichever comes first; a close with an error code is reported on stderr
    with status 1.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    # A daemon thread, not run_in_executor: a read blocked on the terminal must
    # not keep the client alive after the server closed (asyncio.run joins its
    # executor's threads).
    threading.Thread(target=_read_lines, args=(loop, lines), daemon=True).start()
    try:
        async with connect(url) as connection:
            reader = asyncio.ensure_future(_print_messages(connection))
            while not reader.done():
                line = asyncio.ensure_future(lines.get())
                await asyncio.wait((line, reader), return_when=asyncio.FIRST_COMPLETED)
                if not line.done():  # the server closed first
                    line.cancel()
                    break
                text = line.result()
                if text is None:
                    break
                with contextlib.suppress(ConnectionClosed):  # closing: the reader says how
                    await connection.send(text)
            await connection.close()
            await reader
    except ConnectionClosedError as exc:
        print(f"airsocket: {exc}", file=sys.stderr)
        return 1
    return 0


async def _print_messages(connection: Connection) -> None:
    async for message in connection:
        print(f"< {message!r}" if isinstance(message, bytes) else f"< {message}", flush=True)


def _read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
    """Put stdin's lines (without the newline) on ``lines``, then None."""
    # os.read, not sys.stdin: a daemon thread blocked inside sys.stdin holds its
    # buffer's lock, which interpreter shutdown then waits for and aborts on.
    fd = sys.stdin.fileno()
    pending = b""
    try:
        while chunk := os.read(fd, 65536):
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                loop.call_soon_threadsafe(lines.put_nowait, line.decode(errors="replace"))
        if pending:
            loop.call_soon_threadsafe(lines.put_nowait, pending.decode(errors="replace"))
        loop.call_soon_threadsafe(lines.put_nowait, None)
    except RuntimeError:
        pass  # the loop is closed: the client ended first


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``airsocket`` command."""
    parser = argparse.ArgumentParser(prog="airsocket", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)
    about = "run an echo server, or with --chat a chat room with its browser page"
    server = commands.add_parser("serve", help=about, description=about)
    server.add_argument(
        "--chat",
        action="store_true",
        help="serve a chat room instead: a page at http://HOST:PORT/, WebSocket on the same port",
    )
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
            run = run_chat_server if args.chat else run_server
            asyncio.run(run(args.host, args.port, compression))
        else:
            return asyncio.run(run_client(args.url))
    return 0
