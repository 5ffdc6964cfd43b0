"""Run a server until cancelled, saying where it listens: what every ``airsocket serve`` shares."""

from __future__ import annotations

from typing import Any

from .asyncio import serve
from .asyncio.server import Handler

__all__ = ["address", "serve_and_announce"]


async def serve_and_announce(
    handler: Handler, host: str, port: int, what: str, scheme: str, **options: Any
) -> None:
    """Serve ``handler`` until cancelled, once listening printing for each socket
    ``airsocket: WHAT on SCHEME://HOST:PORT/``.

    The line is flushed at once: tests and scripts read it from a pipe to
    learn the port (``--port 0`` picks a free one).
    """
    async with serve(handler, host, port, **options) as server:
        for sock in server.sockets:
            print(f"airsocket: {what} on {scheme}://{address(sock.getsockname())}/", flush=True)
        await server.serve_forever()


def address(name: tuple[str, int]) -> str:
    """``host:port`` of a socket name, the host in brackets if it is IPv6."""
    host, port = name[0], name[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
