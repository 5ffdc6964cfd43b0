"""The blocking client: :func:`connect`."""

from __future__ import annotations

import socket
import ssl as ssl_module
import time
from collections.abc import Sequence
from typing import Any

from ..protocol.connection import Connection as CoreConnection
from ..protocol.connection import Role
from ..protocol.events import HandshakeFailed
from ..protocol.options import Options
from ..protocol.uri import WebSocketURI, parse_uri
from ..tls import client_ssl_context
from .connection import Connection
from .engine import Engine
from .transport import Transport

__all__ = ["connect"]


def connect(uri: str, *, subprotocols: Sequence[str] | None = None, **options: Any) -> Connection:
    """Open a WebSocket connection to ``uri``; returns once it is open.

    Use the connection as a context manager to close it on the way out::

        with airsocket.sync.connect("ws://127.0.0.1:8765/") as ws:
            ws.send("hi")
            print(ws.recv())

    Args:
        uri: a ws:// or wss:// URL (wss:// verifies the server's certificate
            with the system's CAs unless ``ssl`` gives another context).
        subprotocols: subprotocols to offer, in order of preference.
        **options: any :class:`airsocket.Options` field (compression,
            max_message_size, max_queue, open_timeout, close_timeout,
            ping_interval, ping_timeout, ssl, extra_headers, ...).

    Returns:
        The open connection.

    Raises:
        ArgumentError: an unknown option, an invalid value, or ``ssl`` for ws://.
        InvalidURI: ``uri`` is not a ws:// or wss:// URL.
        InvalidHandshake: the server refused (``InvalidStatus``) or botched the upgrade.
        TimeoutError: ``open_timeout`` passed (TCP, TLS and handshake together).
        OSError: TCP or TLS failed (``ssl.SSLCertVerificationError`` included).
    """
    settings = Options.build(subprotocols=subprotocols, **options)
    wsuri = parse_uri(uri)
    context = client_ssl_context(wsuri, settings)
    timeout = settings.open_timeout
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        sock = socket.create_connection((wsuri.host, wsuri.port), timeout=timeout)
    except TimeoutError:
        raise TimeoutError(f"timed out opening {uri}") from None
    try:
        return _open(sock, wsuri, context, settings, deadline)
    except TimeoutError:
        raise TimeoutError(f"timed out opening {uri}") from None


def _open(
    sock: socket.socket,
    wsuri: WebSocketURI,
    context: ssl_module.SSLContext | None,
    options: Options,
    deadline: float | None,
) -> Connection:
    try:
        # Frames are written whole: Nagle's algorithm would only delay the
        # small ones (pings, closes) behind an ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hostname = wsuri.host if context is not None else None
        transport = Transport(sock, context, server_hostname=hostname)
    except BaseException:
        sock.close()
        raise
    try:
        early = transport.handshake_tls(deadline)
        core = CoreConnection(Role.CLIENT, options)
        core.connect(wsuri)
        engine = Engine(core, transport)
        events = engine.handshake(deadline, early)
        if isinstance(events[0], HandshakeFailed):
            raise events[0].error
        connection = Connection(engine)
        engine.start(events[1:])
    except BaseException:
        transport.close()
        raise
    return connection
