"""The asyncio API: :func:`connect`, :func:`serve` and :class:`Connection`."""

from __future__ import annotations

from .broadcast import broadcast
from .client import connect
from .connection import Connection
from .server import Server, serve

__all__ = ["Connection", "Server", "broadcast", "connect", "serve"]
