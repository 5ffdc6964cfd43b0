"""The AIR ``ServerSocket`` (flash.net.ServerSocket): accepts TCP connections.

It hands each accepted ``socket.socket`` to its ``connect`` listeners in a
:class:`ServerSocketConnectEvent`; a listener makes a :class:`WebSocket`
and calls ``start_server(event.socket)``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl as ssl_module
from typing import Any

from ..logs import logger
from ..protocol.exceptions import ArgumentError, InvalidState
from . import _support, runtime
from .dispatcher import EventDispatcher
from .events import ServerSocketConnectEvent

__all__ = ["ServerSocket"]


#: Accepts handled per readiness callback, so that a flood of connections on
#: one listener cannot keep the loop from serving the others.
_ACCEPTS_PER_WAKEUP = 64
#: Seconds to stop accepting after an error such as "too many open files",
#: instead of spinning on a listener that stays readable.
_ACCEPT_RETRY_DELAY = 1.0


class ServerSocket(EventDispatcher):
    """A listening TCP socket that dispatches ``connect`` for each connection.

    Args:
        ssl: an ``ssl.SSLContext`` (server side) to make every accepted socket
            a TLS one: an ``ssl.SSLSocket`` whose handshake runs when a
            WebSocket adopts it with ``start_server``.

    Raises:
        ArgumentError: ``ssl`` is not an ``ssl.SSLContext``.
    """

    def __init__(self, ssl: ssl_module.SSLContext | None = None) -> None:
        super().__init__()
        if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
            raise ArgumentError("ssl must be an ssl.SSLContext")
        #: The TLS context given to the constructor, or None.
        self.ssl = ssl
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._reading = False

    def bind(self, local_port: int = 0, local_address: str = "0.0.0.0") -> None:
        """Bind to ``local_address`` (an IPv4 or IPv6 address) and ``local_port``.

        Args:
            local_port: 0 to 65535; 0 picks a free port (read :attr:`local_port`).
            local_address: the IP address to listen on; "0.0.0.0" means all
                IPv4 interfaces, "::" all IPv6 ones.

        Raises:
            ArgumentError: the port is out of range or the address is not an IP address.
            InvalidState: already bound (call :meth:`close` first).
            OSError: the system refused, e.g. the port is in use.
        """
        if isinstance(local_port, bool) or not isinstance(local_port, int):
            raise ArgumentError(f"local_port must be an int, not {local_port!r}")
        if not 0 <= local_port <= 65535:
            raise ArgumentError(f"local_port must be from 0 to 65535, not {local_port}")
        try:
            address = ipaddress.ip_address(local_address)
        except ValueError as exc:
            raise ArgumentError(f"local_address must be an IP address: {exc}") from exc
        if self._sock is not None:
            raise InvalidState("this ServerSocket is already bound; close() it first")
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if os.name != "nt":
                # Rebind a port at once after a restart, as servers do; on
                # Windows this option would let another process steal the port.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((str(address), local_port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._sock = sock

    def listen(self, backlog: int = 0) -> None:
        """Start accepting connections; each dispatches a ``connect`` event.

        Args:
            backlog: the length of the queue of pending connections; 0 lets
                the system choose its maximum.

        Raises:
            ArgumentError: ``backlog`` is negative or not an int.
            InvalidState: not bound, or no event loop is running.
        """
        if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 0:
            raise ArgumentError(f"backlog must be an int >= 0, not {backlog!r}")
        sock = self._sock
        if sock is None:
            raise InvalidState("bind() the ServerSocket before listen()")
        if self.listening:
            return
        loop = _support.running_loop("listen()")
        sock.listen(backlog or socket.SOMAXCONN)
        self._loop = loop
        try:
            loop.add_reader(sock.fileno(), self._accept_ready, sock)
            self._reading = True
        except NotImplementedError:  # the proactor loop of Windows has no readers
            self._task = loop.create_task(self._accept_forever(sock))
        runtime.track(self, self.close)

    def close(self) -> None:
        """Stop listening and release the port (a no-op when not bound)."""
        sock, loop = self._sock, self._loop
        self._sock = self._loop = None
        if sock is None:
            return
        if self._reading and loop is not None and not loop.is_closed():
            loop.remove_reader(sock.fileno())
        self._reading = False
        if self._task is not None:
            self._task.cancel()
            self._task = None
        sock.close()
        runtime.untrack(self)

    # ------------------------------------------------------------------

    def _accept_ready(self, sock: socket.socket) -> None:
        for _ in range(_ACCEPTS_PER_WAKEUP):
            if self._sock is not sock:
                return  # a listener closed us
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._pause_accepting(sock, exc)
                return
            self._accepted(conn)

    def _pause_accepting(self, sock: socket.socket, error: OSError) -> None:
        logger.warning("accepting a connection failed: %s", error)
        loop = self._loop
        if loop is None:
            return
        loop.remove_reader(sock.fileno())
        loop.call_later(_ACCEPT_RETRY_DELAY, self._resume_accepting, sock)

    def _resume_accepting(self, sock: socket.socket) -> None:
        if self._sock is sock and self._loop is not None and self._reading:
            self._loop.add_reader(sock.fileno(), self._accept_ready, sock)

    async def _accept_forever(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while self._sock is sock:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:
                if self._sock is not sock:
                    return
                logger.warning("accepting a connection failed: %s", exc)
                await asyncio.sleep(_ACCEPT_RETRY_DELAY)
                continue
            self._accepted(conn)

    def _accepted(self, conn: socket.socket) -> None:
        if not self.has_event_listener(ServerSocketConnectEvent.CONNECT):
            conn.close()  # no listener could ever take it
            return
        accepted: socket.socket = conn
        if self.ssl is not None:
            try:
                accepted = self.ssl.wrap_socket(
                    conn, server_side=True, do_handshake_on_connect=False
                )
            except (OSError, ValueError) as exc:
                logger.warning("cannot set up TLS on an accepted connection: %s", exc)
                conn.close()
                return
        self.dispatch_event(
            ServerSocketConnectEvent(ServerSocketConnectEvent.CONNECT, socket=accepted)
        )

    # ------------------------------------------------------------------

    @property
    def bound(self) -> bool:
        """Whether :meth:`bind` succeeded and :meth:`close` was not called since."""
        return self._sock is not None

    @property
    def listening(self) -> bool:
        """Whether connections are being accepted."""
        return self._sock is not None and (self._reading or self._task is not None)

    @property
    def local_port(self) -> int:
        """The bound port (0 when not bound)."""
        port: int = self._address()[1] if self._sock is not None else 0
        return port

    @property
    def local_address(self) -> str:
        """The bound IP address ("" when not bound)."""
        address: str = self._address()[0] if self._sock is not None else ""
        return address

    def _address(self) -> Any:
        assert self._sock is not None, "checked by the caller"
        return self._sock.getsockname()

    def __repr__(self) -> str:
        where = f"{self.local_address}:{self.local_port}" if self.bound else "unbound"
        state = " listening" if self.listening else ""
        return f"<airsocket.ServerSocket {where}{state}>"
