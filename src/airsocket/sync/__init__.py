"""The blocking API: :func:`connect`, :func:`serve`, :class:`Connection`, :class:`Server`.

Every method blocks and may be called from any thread::

    from airsocket.sync import connect

    with connect("ws://127.0.0.1:8765/") as ws:
        ws.send("hi")
        print(ws.recv(timeout=5), ws.ping())

Each connection has one reader thread that feeds the sans-I/O core, answers
pings and runs the keepalive and close timers; a server also runs each
handler in a thread of its own. Options and exceptions are those of the
asyncio API.
"""

from __future__ import annotations

from .client import connect
from .connection import Connection
from .server import Server, serve

__all__ = ["Connection", "Server", "connect", "serve"]
