"""The awaitable WebSocket connection: one listener of the engine."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

from ..protocol.connection import Connection as CoreConnection
from ..protocol.connection import State
from ..protocol.exceptions import InvalidState
from ..protocol.frames import CloseCode
from ..protocol.info import ConnectionInfo
from .engine import Engine

__all__ = ["Connection"]

Message = str | bytes


class Connection(ConnectionInfo):
    """A WebSocket connection with awaitable ``send``, ``recv``, ``ping``, ``close``.

    Made by :func:`airsocket.connect` (client) or handed to a
    :func:`airsocket.serve` handler (server). Iterate over it to receive
    messages until the peer closes normally.
    """

    def __init__(self, engine: Engine, opened: Callable[[Connection], None] | None = None) -> None:
        self.engine = engine
        engine.listener = self
        self._opened = opened
        self._messages: collections.deque[Message] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._max_queue = engine.options.max_queue
        # Reading resumes when no more than this many messages wait; above
        # it a message is only dequeued (see _take).
        self._resume_at = self._max_queue // 4
        # The task that last waited for a message or began iterating, and how
        # many coroutines wait for the close with no other task to read.
        self._consumer: asyncio.Task[Any] | None = None
        self._lone_close_waits = 0

    # ------------------------------------------------------------------
    # What the engine reports

    def on_open(self) -> None:
        """The handshake succeeded: tell whoever made us (the server starts its handler)."""
        if self._opened is not None:
            self._opened(self)

    def on_message(self, data: Message) -> None:
        """Queue a message for ``recv``; pause reading when ``max_queue`` is reached."""
        messages = self._messages
        if not messages:
            self.engine.core.hold_input = True
        messages.append(data)
        waiter = self._waiter
        if waiter is not None:  # _wake() inline: one of the 13 calls cut (Engine.get_buffer)
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if len(messages) == self._max_queue:  # crossing the limit, not every message past it
            self.engine.pause_reading()

    def on_ping(self, data: bytes) -> None:
        """PINGs are answered by the core."""

    def on_pong(self, data: bytes) -> None:
        """PONGs settle ``ping()`` in the engine."""

    def backlog(self) -> int:
        """Messages received that the application may still answer.

        Zero while it waits for the close and no other task reads: the
        messages still queued will get no answer before the close, so the
        peer's close need not wait for them (it would wait ``close_timeout``).
        """
        return 0 if self._lone_close_waits else len(self._messages)

    def on_close(self, error: BaseException | None) -> None:
        """Wake a pending ``recv`` so that it raises ConnectionClosed."""
        # Let go of the task: the ConnectionClosed it may end with would hold
        # its frame, and so this connection, in a cycle for the cyclic GC.
        self._consumer = None
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------
    # The API

    async def recv(self) -> Message:
        """Return the next message: str for text, bytes for binary.

        Raises:
            ConnectionClosed: the connection closed (OK or Error subclass).
            RuntimeError: another coroutine is already waiting in ``recv``.
        """
        messages = self._messages
        if len(messages) > self._resume_at + 1:
            # The common case in a busy loop: no call to _take (bench
            # "burst", client, bench/micro_client.py: 0.92x, 5 pairs).
            return messages.popleft()
        while not messages:
            waiter = self._input_waiter()
            if waiter is None:
                if messages:
                    break
                raise self.engine.core.closed_error()
            await waiter
        return self._take()

    def _input_waiter(self) -> asyncio.Future[None] | None:
        """With no message queued: the future to await, None if the connection is closed.

        A plain function, not a coroutine that recv() and __anext__ would
        await: one coroutine fewer each time the application waits.
        """
        engine = self.engine
        if engine.closed.done():
            return None
        if self._waiter is not None and not self._waiter.done():
            # A done waiter is a recv() that was cancelled (a timeout around
            # it): no one waits any more, and the next recv() may.
            raise RuntimeError("another coroutine is already waiting for the next message")
        engine.flush_deferred(True)
        if engine.closed.done():
            return None
        self._consumer = asyncio.current_task(engine.loop)
        self._waiter = waiter = engine.loop.create_future()
        return waiter

    def _take(self) -> Message:
        """Dequeue the next message (one is queued); resume reading below the low mark."""
        messages = self._messages
        data = messages.popleft()
        if not messages:
            self.engine.core.hold_input = False
        if self.engine.reading_paused and len(messages) <= self._resume_at:
            self.engine.resume_reading()
        return data

    async def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a message: str as text, bytes-like as binary.

        Waits while more than ``write_limit`` bytes wait to be written.
        Sends made while received messages are still queued are coalesced
        into one write at the end of this loop iteration (bench: "pipelined").

        Raises:
            ConnectionClosed: the connection is closing or closed.
            ArgumentError: ``message`` is neither str nor bytes-like.
        """
        engine = self.engine
        try:
            engine.send(message, bool(self._messages))
        except InvalidState:
            raise engine.core.closed_error() from None
        if engine.write_paused:
            await engine.drain()

    async def ping(self, data: bytes | None = None) -> float:
        """Send a PING and return the seconds until its PONG came back.

        Raises:
            ConnectionClosed: the connection closed before the PONG came.
        """
        if self.engine.core.state is not State.OPEN:
            raise self.engine.core.closed_error()
        waiter = self.engine.ping(data)
        try:
            return await asyncio.shield(waiter)
        except asyncio.CancelledError:
            if waiter.cancelled() and self.engine.closed.done():
                raise self.engine.core.closed_error() from None
            raise

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Close with ``code`` and ``reason``; returns when TCP is closed.

        Waits at most ``close_timeout`` for the peer, then drops the connection.
        """
        self.engine.close(code, reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed.

        Messages still queued stay for ``recv``. When no other task reads
        them, the peer's close is answered at once rather than held behind
        them (for answers that no one will send). Bound it with
        ``asyncio.timeout()``: on Python 3.11 ``asyncio.wait_for()`` runs it
        in a task of its own, which looks like another task waiting beside
        the reader.
        """
        engine = self.engine
        consumer = self._consumer
        if (
            consumer is not None
            and consumer is not asyncio.current_task(engine.loop)
            and not consumer.done()
        ):
            await engine.wait_closed()  # that task may still answer what it read
            return
        self._lone_close_waits += 1
        try:
            engine.apply_pending_input(False)
            await engine.wait_closed()
        finally:
            self._lone_close_waits -= 1

    def __aiter__(self) -> AsyncIterator[Message]:
        # The loop passed: 0.1 us where current_task() finds it in 0.35 (3.11).
        self._consumer = asyncio.current_task(self.engine.loop)
        return self

    async def __anext__(self) -> Message:
        messages = self._messages
        if len(messages) > self._resume_at + 1:
            # The common case in a busy loop, without a second coroutine
            # (bench "burst": 0.2 us a message); see recv.
            return messages.popleft()
        while not messages:
            waiter = self._input_waiter()
            if waiter is None:
                if messages:
                    break
                core = self.engine.core
                if core.closed_normally:
                    # No exception made only to be caught here: building and
                    # raising ConnectionClosedOK cost a server about a
                    # microsecond a connection (bench "hs_conc").
                    raise StopAsyncIteration
                raise core.closed_error()
            await waiter
        return self._take()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------
    # Properties

    @property
    def _core(self) -> CoreConnection:
        return self.engine.core

    @property
    def _ended(self) -> bool:
        return self.engine.closed.done()

    @property
    def latency(self) -> float:
        """Seconds of the last ping's round trip (keepalive included); 0 before any."""
        return self.engine.latency

    @property
    def remote_address(self) -> Any:
        """The peer's address, as the socket reports it."""
        transport = self.engine.transport
        return transport.get_extra_info("peername") if transport is not None else None

    @property
    def local_address(self) -> Any:
        """Our address, as the socket reports it."""
        transport = self.engine.transport
        return transport.get_extra_info("sockname") if transport is not None else None

    def __repr__(self) -> str:
        return f"<airsocket Connection {self.state.name} {self.remote_address}>"
