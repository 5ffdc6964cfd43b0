"""The blocking WebSocket connection: the public face of an :class:`~.engine.Engine`."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from ..protocol.connection import Connection as CoreConnection
from ..protocol.exceptions import ArgumentError, ConnectionClosedOK
from ..protocol.frames import CloseCode
from ..protocol.info import ConnectionInfo
from .engine import Engine, Message

__all__ = ["Connection"]


class Connection(ConnectionInfo):
    """A WebSocket connection whose methods block; share it between threads freely.

    Made by :func:`airsocket.sync.connect` (client) or handed to a
    :func:`airsocket.sync.serve` handler (server). Iterate over it to receive
    messages until the peer closes normally.

    Args:
        engine: drives the connection (made by ``connect`` or the server).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: The peer's address, as the socket reports it.
        self.remote_address: Any = engine.transport.remote_address
        #: Our address, as the socket reports it.
        self.local_address: Any = engine.transport.local_address

    def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a message: str as text, bytes-like as binary.

        Blocks while the peer does not read: nothing is buffered beyond the
        kernel's send buffer, so a slow peer slows the sender down.

        Raises:
            ConnectionClosed: the connection is closing or closed.
            ArgumentError: ``message`` is neither str nor bytes-like.
        """
        self.engine.send(message)

    def recv(self, timeout: float | None = None) -> Message:
        """Return the next message: str for text, bytes for binary.

        Args:
            timeout: seconds to wait (None: until a message or the end).

        Raises:
            TimeoutError: no message came within ``timeout``.
            ConnectionClosed: the connection is closed (OK or Error subclass).
        """
        return self.engine.receive(None if timeout is None else time.monotonic() + timeout)

    def __iter__(self) -> Connection:
        return self

    def __next__(self) -> Message:
        try:
            return self.recv()
        except ConnectionClosedOK:
            raise StopIteration from None

    def ping(self, data: bytes | None = None, timeout: float | None = None) -> float:
        """Send a PING and return the seconds until its PONG came back.

        Args:
            data: the payload (at most 125 bytes); a random one if None.
            timeout: seconds to wait for the PONG (None: no limit).

        Raises:
            TimeoutError: no PONG within ``timeout``.
            ConnectionClosed: the connection closed before the PONG came.
            ArgumentError: ``data`` is not bytes-like or over 125 bytes.
            InvalidState: a ping with this payload is already waiting.
        """
        if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
            raise ArgumentError(f"a ping payload is bytes, not {type(data).__name__}")
        ping = self.engine.ping(None if data is None else bytes(data))
        if not ping.done.wait(timeout):
            self.engine.forget_ping(ping)
            raise TimeoutError(f"no pong within {timeout} seconds")
        if ping.rtt is None:
            raise self.engine.core.closed_error()
        self.engine.latency = ping.rtt
        return ping.rtt

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Close with ``code`` and ``reason``; returns when TCP is closed.

        Waits at most ``close_timeout`` for the peer, then drops the
        connection. Does nothing more if the connection is already closing.

        Raises:
            ArgumentError: ``code`` may not be sent or ``reason`` is too long.
        """
        engine = self.engine
        if engine.thread is None:  # still opening (e.g. from process_request)
            engine.transport.abort()
            return
        engine.start_close(code, reason)
        if not engine.closed.wait(engine.options.close_timeout):
            engine.abort()
        engine.wait_closed()

    def wait_closed(self) -> None:
        """Wait until the connection is closed (TCP included).

        Messages still queued stay for ``recv``. When no other thread reads
        them, the peer's close is answered at once rather than held behind
        them (for answers that no one will send).
        """
        consumer = self.engine.consumer
        if consumer is None or consumer is threading.current_thread() or not consumer.is_alive():
            self.engine.stop_holding()
        self.engine.wait_closed()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def _core(self) -> CoreConnection:
        return self.engine.core

    @property
    def _ended(self) -> bool:
        return self.engine.done

    @property
    def latency(self) -> float:
        """Seconds of the last ping's round trip (keepalive included); 0 before any."""
        return self.engine.latency

    def __repr__(self) -> str:
        return f"<airsocket.sync Connection {self.state.name} {self.remote_address}>"
