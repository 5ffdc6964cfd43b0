"""The asyncio client: :func:`connect`."""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Generator
from types import TracebackType
from typing import Any

from ..protocol.options import Options
from ..protocol.uri import parse_uri
from ..tls import client_ssl_context
from .connection import Connection
from .engine import Engine, client_engine
from .transport import SocketTransport, connect_socket, lean_loop

__all__ = ["connect", "open_connection", "open_transport"]


async def open_connection(uri: str, options: Options) -> Connection:
    """Open a client connection to ``uri``, bounded by ``open_timeout``.

    Raises:
        InvalidURI: ``uri`` is not a ws:// or wss:// URL.
        InvalidHandshake: the server refused or botched the upgrade.
        OSError: TCP or TLS failed (``ssl.SSLCertVerificationError`` included).
        TimeoutError: ``open_timeout`` passed.
    """
    wsuri = parse_uri(uri)
    context = client_ssl_context(wsuri, options)
    engine = client_engine(wsuri, options, asyncio.get_running_loop())
    connection = Connection(engine)

    async def opening() -> None:
        await open_transport(engine, wsuri.host, wsuri.port, context)
        assert engine.opened is not None, "a client engine's"
        await engine.opened

    try:
        if sys.version_info >= (3, 11):
            # In this task: wait_for() would run opening() in a task of its
            # own, three loop iterations more a handshake; the same CPU, but
            # client "hs_seq" takes 2 % more wall time with it.
            async with asyncio.timeout(options.open_timeout):
                await opening()
        else:
            await asyncio.wait_for(opening(), options.open_timeout)
    except asyncio.TimeoutError:
        engine.abort()
        raise TimeoutError(f"timed out opening {uri}") from None
    except BaseException:
        engine.abort()
        raise
    return connection


async def open_transport(
    engine: Engine, host: str, port: int, context: ssl.SSLContext | None
) -> None:
    """Connect TCP (and TLS with ``context``) to ``host``:``port``, ``engine`` as the protocol.

    Plain TCP on asyncio's own loop runs on our transport (see transport.py),
    anything else on the loop's. Returns once the transport is made: the
    engine has written its request. The AIR client opens its connections
    here too (default loop: hs_conc 1.25 -> 1.07x picows).

    Raises:
        OSError: TCP or TLS failed (``ssl.SSLCertVerificationError`` included).
    """
    loop = engine.loop
    if context is None and lean_loop(loop):
        sock, peername = await connect_socket(loop, host, port)
        SocketTransport(loop, sock, engine, peername).start()
    else:
        await loop.create_connection(
            lambda: engine,
            host,
            port,
            ssl=context,
            server_hostname=host if context is not None else None,
        )


class connect:
    """Connect to a WebSocket server: ``await connect(url)`` or ``async with connect(url)``.

    Args:
        uri: a ws:// or wss:// URL.
        subprotocols: subprotocols to offer, in order of preference.
        **options: any :class:`airsocket.Options` field (compression,
            max_message_size, open_timeout, ssl, extra_headers, ...).
    """

    def __init__(self, uri: str, *, subprotocols: list[str] | None = None, **options: Any) -> None:
        self.uri = uri
        self.options = Options.build(subprotocols=subprotocols, **options)
        self._connection: Connection | None = None

    def __await__(self) -> Generator[Any, None, Connection]:
        return open_connection(self.uri, self.options).__await__()

    async def __aenter__(self) -> Connection:
        self._connection = await open_connection(self.uri, self.options)
        return self._connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None, "__aenter__ ran"
        await self._connection.close()
