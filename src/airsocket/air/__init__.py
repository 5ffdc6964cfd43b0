"""The AIR WebSocket API: ``WebSocket``, ``ServerSocket``, their events, ``run``.

A faithful Python form of AIR's ``air.net.WebSocket`` (see API.md, section 1):
event listeners instead of awaits, every call on the event loop's thread.
It is one listener of the asyncio engine, so it shares every protocol rule
with the asyncio API. The ActionScript spellings (``addEventListener``...)
are installed by :mod:`.aliases`.
"""

from __future__ import annotations

from . import aliases
from .dispatcher import EventDispatcher
from .events import (
    ErrorEvent,
    Event,
    IOErrorEvent,
    SecurityErrorEvent,
    ServerSocketConnectEvent,
    WebSocketEvent,
)
from .runtime import run
from .server_socket import ServerSocket
from .websocket import WebSocket

__all__ = [
    "ErrorEvent",
    "Event",
    "EventDispatcher",
    "IOErrorEvent",
    "SecurityErrorEvent",
    "ServerSocket",
    "ServerSocketConnectEvent",
    "WebSocket",
    "WebSocketEvent",
    "aliases",
    "run",
]
