"""airsocket: RFC 6455 and RFC 7692 WebSockets for Python.

Three APIs share one sans-I/O protocol core:

- the AIR ``WebSocket`` API (events, ``connect``, ``start_server``),
- the asyncio API (:func:`connect`, :func:`serve`),
- the blocking API (:mod:`airsocket.sync`).
"""

from __future__ import annotations

from .air import (
    Event,
    EventDispatcher,
    IOErrorEvent,
    SecurityErrorEvent,
    ServerSocket,
    ServerSocketConnectEvent,
    WebSocket,
    WebSocketEvent,
    run,
)
from .asyncio import Connection, Server, broadcast, connect, serve
from .protocol.connection import State
from .protocol.exceptions import (
    ArgumentError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidHeader,
    InvalidOrigin,
    InvalidPayload,
    InvalidState,
    InvalidStatus,
    InvalidURI,
    InvalidVersion,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
    SecurityError,
    WebSocketError,
)
from .protocol.frames import CloseCode, Opcode
from .protocol.http import Headers, Request, Response
from .protocol.options import Options

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "CloseCode",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "Event",
    "EventDispatcher",
    "Headers",
    "IOErrorEvent",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidOrigin",
    "InvalidPayload",
    "InvalidState",
    "InvalidStatus",
    "InvalidURI",
    "InvalidVersion",
    "NegotiationError",
    "Opcode",
    "Options",
    "PayloadTooBig",
    "ProtocolError",
    "Request",
    "Response",
    "SecurityError",
    "SecurityErrorEvent",
    "Server",
    "ServerSocket",
    "ServerSocketConnectEvent",
    "State",
    "WebSocket",
    "WebSocketError",
    "WebSocketEvent",
    "__version__",
    "broadcast",
    "connect",
    "run",
    "serve",
]
