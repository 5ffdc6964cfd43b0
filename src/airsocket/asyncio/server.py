"""The asyncio server: :func:`serve` and :class:`Server`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any

from ..logs import logger
from ..protocol.exceptions import ConnectionClosed
from ..protocol.frames import CloseCode
from ..protocol.http import Request
from ..protocol.options import Options
from .adoption import BacklogDrain, adopts_sockets
from .connection import Connection
from .engine import Engine, server_engine
from .transport import Acceptor, lean_loop

__all__ = ["Server", "serve"]


Handler = Callable[[Connection], Awaitable[Any]]


class Server:
    """A listening WebSocket server; each connection runs ``handler(connection)``.

    When the handler returns, the connection is closed with 1000; when it
    raises, with 1011 (the exception is logged). Made by :func:`serve`.
    """

    def __init__(self, handler: Handler, options: Options) -> None:
        self.handler = handler
        self.options = options
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acceptor: Acceptor | None = None
        self._drain: BacklogDrain | None = None
        self._forever: asyncio.Future[None] | None = None
        # Bound once: a bound method made per connection is one more object
        # for the cyclic GC to visit while the connection lives (bench "hs_conc").
        self._on_open = self._opened
        self._forget_task = self._tasks.discard

    def engine_factory(self) -> Engine:
        """Make the engine (and connection) for one accepted TCP connection."""
        assert self._loop is not None, "start() ran"
        engine = server_engine(self.options, self._loop)
        connection = Connection(engine, self._on_open)
        hook = self.options.process_request
        if hook is not None:
            engine.request_hook = _bind_hook(hook, connection)
        return engine

    def _engine_and_drain(self) -> Engine:
        # libuv accepts one connection a loop iteration: the others waiting
        # are accepted now.
        engine = self.engine_factory()
        if self._drain is not None:
            self._drain.drain()
        return engine

    def _opened(self, connection: Connection) -> None:
        # Called by the connection as the handshake succeeds: no future's
        # callback and no loop iteration in between (bench "hs_seq").
        self.connections.add(connection)
        task = connection.engine.loop.create_task(self._run_handler(connection))
        self._tasks.add(task)
        task.add_done_callback(self._forget_task)

    async def _run_handler(self, connection: Connection) -> None:
        code = CloseCode.NORMAL_CLOSURE
        try:
            await self.handler(connection)
        except ConnectionClosed:
            pass  # the peer went away while the handler waited: not a handler failure
        except Exception:
            logger.exception("connection handler failed")
            code = CloseCode.INTERNAL_ERROR
        finally:
            try:
                if not connection.engine.closed.done():  # it is when the client closed
                    await connection.close(code)
            finally:
                self.connections.discard(connection)

    async def start(self, host: str | None, port: int | None, sock: socket.socket | None) -> None:
        """Listen on ``host``:``port`` (or adopt the listening ``sock``)."""
        # Kept: asyncio.get_running_loop() is a getpid() system call per
        # accepted connection on Python 3.11.
        self._loop = loop = asyncio.get_running_loop()
        # Plain TCP on asyncio's own loop: asyncio binds and listens, the
        # connections run on SocketTransport (see transport.py for the figure).
        lean = self.options.ssl is None and lean_loop(loop)
        # Plain TCP on uvloop: what libuv leaves in the backlog is accepted
        # with each connection it accepts (see adoption.py for the figure).
        draining = self.options.ssl is None and adopts_sockets(loop)
        where: dict[str, Any] = (
            {"sock": sock} if sock is not None else {"host": host, "port": port or 0}
        )
        self._server = await loop.create_server(
            self._engine_and_drain if draining else self.engine_factory,
            ssl=self.options.ssl,
            start_serving=not lean,
            **where,
        )
        if draining:
            self._drain = BacklogDrain(loop, self._server.sockets, self.engine_factory)
        elif lean:
            listeners = [getattr(s, "_sock", s) for s in self._server.sockets]
            if all(isinstance(s, socket.socket) for s in listeners):
                self._acceptor = Acceptor(loop, listeners, self.engine_factory)
            else:  # an asyncio that wraps its sockets otherwise: its own accepting
                await self._server.start_serving()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets."""
        return tuple(self._server.sockets) if self._server is not None else ()

    def close(self, close_connections: bool = True) -> None:
        """Stop listening; close open connections with 1001 (going away)."""
        if self._acceptor is not None:
            self._acceptor.close()
        if self._drain is not None:
            self._drain.close()
            self._drain = None
        if self._forever is not None and not self._forever.done():
            self._forever.cancel()
        if self._server is not None:
            self._server.close()
        if close_connections:
            for connection in list(self.connections):
                connection.engine.close(CloseCode.GOING_AWAY)

    async def wait_closed(self) -> None:
        """Wait until the server and every handler are done."""
        if self._server is not None:
            await self._server.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def serve_forever(self) -> None:
        """Serve until cancelled, then close."""
        assert self._server is not None and self._loop is not None, "start() ran"
        try:
            if self._acceptor is None:
                await self._server.serve_forever()
            else:  # asyncio's would start its own accepting
                self._forever = self._loop.create_future()
                await self._forever
        finally:
            self.close()
            await self.wait_closed()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()


def _bind_hook(hook: Callable[..., Any], connection: Connection) -> Callable[[Request], Any]:
    def bound(request: Request) -> Any:
        return hook(connection, request)

    return bound


class serve:
    """Start a WebSocket server: ``await serve(...)`` or ``async with serve(...)``.

    Args:
        handler: ``async def handler(connection)``, run once per connection.
        host: the address to listen on (None: all interfaces).
        port: the TCP port (0: any free port; read it from ``server.sockets``).
        sock: an already listening socket to serve on instead.
        subprotocols: subprotocols accepted, in order of preference.
        **options: any :class:`airsocket.Options` field, and on the server
            ``select_subprotocol``, ``process_request(connection, request)``
            (return a :class:`airsocket.Response` to answer plain HTTP), ``origins``.
    """

    def __init__(
        self,
        handler: Handler,
        host: str | None = None,
        port: int | None = None,
        *,
        sock: socket.socket | None = None,
        subprotocols: list[str] | None = None,
        **options: Any,
    ) -> None:
        self.server = Server(handler, Options.build(subprotocols=subprotocols, **options))
        self._where = (host, port, sock)

    async def _start(self) -> Server:
        await self.server.start(*self._where)
        return self.server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._start().__await__()

    async def __aenter__(self) -> Server:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.close()
        await self.server.wait_closed()
