"""The blocking server: :func:`serve` and :class:`Server`."""

from __future__ import annotations

import selectors
import socket
import ssl as ssl_module
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from ..logs import log_handshake_failure, logger
from ..protocol.connection import Connection as CoreConnection
from ..protocol.connection import Role, State
from ..protocol.events import Event, HandshakeFailed
from ..protocol.exceptions import ArgumentError, ConnectionClosed
from ..protocol.frames import CloseCode
from ..protocol.http import Request, Response
from ..protocol.options import Options
from .connection import Connection
from .engine import Engine
from .transport import Transport

__all__ = ["Server", "serve"]


Handler = Callable[[Connection], Any]


class Server:
    """A listening WebSocket server; each connection runs ``handler(connection)`` in a thread.

    When the handler returns, the connection is closed with 1000; when it
    raises, with 1011 (the exception is logged). Made by :func:`serve`.

    Args:
        handler: called once per connection, in that connection's thread.
        sock: the listening socket (the server owns it from now on).
        options: the options of every connection.
    """

    def __init__(self, handler: Handler, sock: socket.socket, options: Options) -> None:
        self.handler = handler
        #: The listening socket.
        self.socket = sock
        self.options = options
        self._lock = threading.Lock()
        self._connections: set[Connection] = set()
        self._threads: set[threading.Thread] = set()
        self._serving = threading.Lock()  # held while serve_forever runs
        self._stopping = False
        # shutdown() wakes serve_forever through this pair: closing a socket
        # does not reliably wake a thread that waits on it.
        self._wake_in, self._wake_out = socket.socketpair()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.socket.getsockname()[1])

    def serve_forever(self) -> None:
        """Accept connections until :meth:`shutdown` is called (from another thread)."""
        with self._serving, selectors.DefaultSelector() as selector:
            if self._stopping:
                return  # shut down already: the listening socket is closed
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_in, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._stopping:
                        self._accept()

    def _accept(self) -> None:
        try:
            sock, _ = self.socket.accept()
        except OSError as exc:  # the client left first, or out of descriptors
            logger.debug("accept failed: %s", exc)
            return
        thread = threading.Thread(target=self._handle, args=(sock,), daemon=True)
        thread.name = f"airsocket-handler-{thread.name}"
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def shutdown(self) -> None:
        """Stop serving: stop accepting, close connections with 1001, wait for the handlers.

        Call it from another thread than the one in :meth:`serve_forever`
        (a handler's thread will do).
        """
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            connections = list(self._connections)
        self._wake_out.send(b"\0")
        with self._serving:  # serve_forever has returned
            self.socket.close()
        for connection in connections:
            connection.engine.start_close(CloseCode.GOING_AWAY)
        with self._lock:
            threads = list(self._threads)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join()
        self._wake_in.close()
        self._wake_out.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # ------------------------------------------------------------------
    # One connection's thread

    def _handle(self, sock: socket.socket) -> None:
        connection = None
        try:
            connection = self._open(sock)
            if connection is not None:
                self._run(connection)
        except Exception:  # a bug here must not go unnoticed, nor stop the server
            logger.exception("serving a connection failed")
            if connection is None:
                sock.close()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _open(self, sock: socket.socket) -> Connection | None:
        """Run TLS and the opening handshake; None if it failed or was refused."""
        options = self.options
        timeout = options.open_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = Transport(sock, options.ssl, server_side=True)
        except OSError:  # the client is gone already
            sock.close()
            return None
        try:
            early = transport.handshake_tls(deadline)
            engine = Engine(CoreConnection(Role.SERVER, options), transport)
            connection = Connection(engine)
            events = engine.handshake(deadline, early)
            accepted = self._answer(connection, events[0])
            if accepted is None:
                engine.abandon()
                return None
            engine.start(accepted[1:])
        except OSError as exc:  # TLS failed, timeout, reset: nothing to answer
            logger.debug("opening handshake failed: %s", exc)
            transport.close()
            return None
        return connection

    def _answer(self, connection: Connection, event: Event) -> list[Event] | None:
        """Accept or refuse the upgrade request; None if refused (the answer is queued)."""
        core = connection.engine.core
        if isinstance(event, HandshakeFailed):
            logger.debug("invalid upgrade request: %s", event.error)
            return None  # the core queued its HTTP error response
        assert core.request is not None, "RequestReceived carries the request"
        events = core.answer_request(self._process_request(connection, core.request))
        if core.state is State.OPEN:
            return events
        for failed in events:
            if isinstance(failed, HandshakeFailed):
                log_handshake_failure(failed.error)
        return None

    def _process_request(
        self, connection: Connection, request: Request
    ) -> Response | BaseException | None:
        hook = self.options.process_request
        if hook is None:
            return None
        try:
            answer = hook(connection, request)
        except Exception as exc:  # a failing hook is a server error, not a crash
            return exc
        if answer is None or isinstance(answer, Response):
            return answer
        logger.error("process_request returned %r, not a Response or None", answer)
        return TypeError("process_request must return a Response or None")

    def _run(self, connection: Connection) -> None:
        with self._lock:
            stopping = self._stopping
            self._connections.add(connection)
        if stopping:  # shutdown() began during the handshake
            connection.engine.start_close(CloseCode.GOING_AWAY)
        code = CloseCode.NORMAL_CLOSURE
        try:
            self.handler(connection)
        except ConnectionClosed as exc:  # the peer left: nothing went wrong here
            logger.debug("connection handler ended: %s", exc)
        except Exception:
            logger.exception("connection handler failed")
            code = CloseCode.INTERNAL_ERROR
        finally:
            connection.close(code)
            with self._lock:
                self._connections.discard(connection)


def serve(
    handler: Handler,
    host: str | None = None,
    port: int | None = None,
    *,
    sock: socket.socket | None = None,
    subprotocols: Sequence[str] | None = None,
    **options: Any,
) -> Server:
    """Listen for WebSocket connections; call :meth:`Server.serve_forever` to accept them.

    ::

        def echo(ws):
            for message in ws:
                ws.send(message)

        with airsocket.sync.serve(echo, "127.0.0.1", 8765) as server:
            server.serve_forever()

    Args:
        handler: ``handler(connection)``, run in a thread per connection.
        host: the address to listen on (None: all interfaces, IPv6 and IPv4
            where the system allows both on one socket).
        port: the TCP port (0 or None: any free port; read ``server.port``).
        sock: an already listening socket to serve on instead.
        subprotocols: subprotocols accepted, in order of preference.
        **options: any :class:`airsocket.Options` field, and on the server
            ``select_subprotocol``, ``origins`` and
            ``process_request(connection, request)``, which may return an
            :class:`airsocket.Response` to answer plain HTTP (None: go on
            with the upgrade). ``ssl`` is the server's ``ssl.SSLContext``.

    Raises:
        ArgumentError: an unknown option or an invalid value.
        OSError: the address could not be bound.
    """
    settings = Options.build(subprotocols=subprotocols, **options)
    if settings.ssl is not None and not isinstance(settings.ssl, ssl_module.SSLContext):
        raise ArgumentError("ssl must be an ssl.SSLContext")
    if sock is None:
        sock = _listen(host, port or 0)
    return Server(handler, sock, settings)


def _listen(host: str | None, port: int) -> socket.socket:
    if not host:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
        return socket.create_server(("", port))
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family)
