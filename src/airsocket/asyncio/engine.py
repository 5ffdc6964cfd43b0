"""The asyncio engine: an ``asyncio.Protocol`` that drives the sans-I/O core.

It owns the transport, the deadlines (open, close, keepalive) and flow
control, and reports to exactly one listener (:class:`Listener`). It never awaits:
the awaitable API (:mod:`.connection`) and the AIR API are listeners on top.

Writes are coalesced: what the core produces while the engine handles one
``data_received`` (PONGs, close echoes, and what listeners send from their
callbacks) leaves in one write. Outside ``data_received``, a send is
written at once if it is the first since the application last waited for
input (``data_received``, or ``recv`` about to wait); the sends that follow
it are joined and written when the application yields to the loop, when it
waits in ``recv``, or as soon as they pass 64 KiB. One ``write`` system call
costs 5-6 us here, parsing a 64-byte frame about 1.2 us: coalescing is what
lets a server answer a burst of 256 frames with one write, and a client send
a burst of 256 messages with two (bench/README.md, "burst"). No callback is
scheduled for a lone send: one more loop iteration per message costs a
round trip 15 % (bench "roundtrip"). Past 64 KiB, what leaves at once is
gathered into one system call, not joined (see ``_write_gathered``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any, Protocol, cast

from ..logs import log_handshake_failure, logger
from ..protocol.connection import END_OF_STREAM, Connection, Role, State
from ..protocol.events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    HandshakeFailed,
    Opened,
    Ping,
    Pong,
    RequestReceived,
    TextMessage,
)
from ..protocol.exceptions import InvalidHandshake, WebSocketError
from ..protocol.frames import CloseCode, Opcode, is_sendable_close_code
from ..protocol.http import Request, Response
from ..protocol.keepalive import Keepalive, Pings
from ..protocol.options import Options
from ..protocol.states import Chunk
from ..protocol.uri import WebSocketURI
from ..tls import plaintext_pieces
from .alarms import Alarm, AlarmClock, alarm_clock
from .waiters import Waiters

# CloseCode, Opcode, State and is_sendable_close_code are re-exported for the
# AIR layer, which may not import the core's connection and frames modules.
__all__ = [
    "CloseCode",
    "Engine",
    "Listener",
    "NullListener",
    "Opcode",
    "State",
    "client_engine",
    "is_sendable_close_code",
    "server_engine",
]


# Enum members cost 60 ns a lookup on Python 3.11: _flush runs per write.
_CLOSING = State.CLOSING

#: Bytes a read may take when no large message is arriving. Each such read
#: is copied into a bytes object for the core: at 256 KiB (asyncio's own
#: size) those copies page-faulted their memory in afresh, 29 faults a
#: message at 1 MiB; from 128 KiB down, 2 (bench "large1m": 515 -> 405
#: us/MiB). A burst of 256 small frames (18 KiB) still takes one read.
_READ_SIZE = 64 * 1024
_thread_state = threading.local()


def _shared_read_buffer() -> memoryview:
    """Return this thread's read buffer: reads are handed on before the next."""
    try:
        return _thread_state.read_buffer  # type: ignore[no-any-return]
    except AttributeError:
        view = _thread_state.read_buffer = memoryview(bytearray(_READ_SIZE))
        return view


_writev = getattr(os, "writev", None)  # not on Windows

#: Above this many bytes, queued chunks are written one by one instead of
#: joined: joining would copy a large payload only to save a system call.
_JOIN_LIMIT = 64 * 1024


class Listener(Protocol):
    """What the engine reports to; implemented by each public API."""

    def on_open(self) -> None:
        """The opening handshake succeeded."""

    def on_message(self, data: str | bytes) -> None:
        """A whole message arrived (str for text, bytes for binary)."""

    def on_ping(self, data: bytes) -> None:
        """A PING arrived; its PONG is already written."""

    def on_pong(self, data: bytes) -> None:
        """A PONG arrived."""

    def backlog(self) -> int:
        """How many delivered messages the application has not consumed yet."""

    def on_close(self, error: BaseException | None) -> None:
        """The connection is closed (TCP included); read codes from the engine.

        ``error`` is what went wrong, if anything: an ``InvalidHandshake``, a
        ``ProtocolError`` we failed the connection with, or an ``OSError``.
        """


class Engine(asyncio.BufferedProtocol):
    """Drives one :class:`Connection` over one asyncio transport.

    Args:
        core: the sans-I/O connection (a client has already called connect()).
        listener: receives the events; may be set later, before the transport.
        loop: the running event loop.
    """

    def __init__(
        self,
        core: Connection,
        listener: Listener | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.core = core
        self.listener: Listener = listener if listener is not None else _IGNORED
        self.loop = loop
        self.options = core.options
        self.transport: asyncio.Transport | None = None
        #: A client's: resolved when the handshake succeeds, failed with the
        #: handshake error. None for a server, which waits for no future
        #: (fewer objects a connection for the cyclic GC to visit, bench "hs_conc").
        self.opened: asyncio.Future[None] | None = (
            loop.create_future() if core.role is Role.CLIENT else None
        )
        #: Resolved when the TCP connection is closed.
        self.closed: asyncio.Future[None] = loop.create_future()
        self._close_waiters: Waiters | None = None  # made by the first wait_closed()
        self.error: BaseException | None = None
        #: Server: called with the Request; may return a Response to refuse it.
        self.request_hook: Callable[[Request], Any] | None = None
        self._receiving = False
        #: A send was written since the application last waited for input.
        self._sent_since_wait = False
        #: A call to ``flush_deferred`` is scheduled.
        self._flush_scheduled = False
        #: Bytes (characters for text) of sends held for ``flush_deferred``.
        self._deferred = 0
        #: Whether the transport's buffer is over ``write_limit``.
        self.write_paused = False
        self._drain_waiters: Waiters | None = None  # made by the first blocked send
        # One alarm for all the deadlines, set for the earliest (see _wake_at),
        # on the loop's one clock for every connection (see alarms.py).
        self._clock: AlarmClock = alarm_clock(loop)
        self._alarm: Alarm | None = None
        self._alarm_at = 0.0
        self._open_deadline: float | None = None
        self._close_deadline: float | None = None
        self._failure_deadline: float | None = None
        self._pings: Pings[asyncio.Future[float]] | None = None  # made by the first ping()
        self._keepalive = Keepalive(None, None, 0.0)
        #: Seconds of the last PING's round trip, keepalive included; 0 before any.
        self.latency = 0.0
        #: Whether reading is paused (the application's queue is full).
        self.reading_paused = False
        self._read_view: memoryview | None = None
        # The loop thread's read buffer (see get_buffer), looked up once the
        # transport is made: an engine may be built on another thread.
        self._shared_buffer: memoryview
        self._into_payload = False
        #: The transport writes a list in one system call without joining it.
        self._gathers = False
        #: The transport is TLS.
        self._encrypts = False

    # ------------------------------------------------------------------
    # asyncio.BufferedProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the handshake timer and write the client's request."""
        # uvloop's transports are not asyncio.Transport subclasses, hence the cast.
        self.transport = transport = cast(asyncio.Transport, transport)
        limit = self.options.write_limit
        transport.set_write_buffer_limits(high=limit, low=limit // 4)
        # See _write_gathered: whether writelines() joins the list.
        self._gathers = type(transport).writelines is not asyncio.WriteTransport.writelines
        self._encrypts = transport.get_extra_info("sslcontext") is not None
        self._shared_buffer = _shared_read_buffer()
        if self.options.open_timeout is not None:
            self._open_deadline = self.loop.time() + self.options.open_timeout
            self._wake_at(self._open_deadline)
        if self.core.wants_write:  # a client's request; a server has nothing to say yet
            self._flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport reads next.

        Into the large message that is arriving, if any: its own bytes, so
        no read of it lands in a temporary. Otherwise into a buffer that
        every connection of this thread shares, so that an idle connection
        holds no read buffer (bench "rss").
        """
        core = self.core
        # Asked only inside a frame: between frames, one call fewer a read
        # (with the other calls cut from a message's path in bench/README's
        # "13 Python calls fewer": micro_client.py --roundtrip on uvloop,
        # pure 11.1-13.3 -> 9.8-11.1 us, C 8.1-9.9 -> 7.3-8.4).
        view = core.receive_buffer() if core.frame_left else None
        self._into_payload = view is not None
        if view is None:
            view = self._shared_buffer
        self._read_view = view
        return view

    def buffer_updated(self, nbytes: int) -> None:
        """The transport read ``nbytes`` into the buffer from ``get_buffer``."""
        view = self._read_view
        assert view is not None, "buffer_updated() follows get_buffer()"
        self._read_view = None  # no view of a message outlives its read
        if self._into_payload:
            self.core.receive_into(nbytes)
        else:
            # data_received's body, not a call of it: the read of every small
            # message (one of the 13 calls cut, see get_buffer).
            self._received(self.core.receive_data(view[:nbytes].tobytes()))

    def data_received(self, data: bytes) -> None:
        """Feed the core, write what it queued, then hand events up."""
        self._received(self.core.receive_data(data))

    def _received(self, events: list[Event]) -> None:
        core = self.core
        self._sent_since_wait = False
        if core.outgoing:
            self._flush()  # the PONG is on the wire before the PING is dispatched
        if events:
            self._receiving = True
            try:
                self._dispatch(events)
            finally:
                self._receiving = False
            if core.outgoing:
                self._flush()
        if core.input_pending:
            self.loop.call_soon(self.apply_pending_input, False)

    def apply_pending_input(self, idle: bool = True) -> None:
        """Fail the connection for a violation that waited behind messages.

        The application answers the messages that came before the violation
        first, so that its answers precede our close frame. The AIR API has
        answered them during dispatch; an awaitable listener calls this with
        ``idle`` once it has consumed its backlog. ``close_timeout`` bounds the
        wait for a listener that never does.
        """
        if not self.core.input_pending:
            return
        if not idle and self.listener.backlog():
            if self._failure_deadline is None:
                self._failure_deadline = self.loop.time() + (self.options.close_timeout or 10.0)
                self._wake_at(self._failure_deadline)
            return
        self._failure_deadline = None
        self.data_received(b"")

    def eof_received(self) -> bool | None:
        """The peer ended its stream; let the transport close."""
        self._dispatch(self.core.receive_eof())
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Finish: stop the timers, settle the futures, tell the listener."""
        self.core.receive_eof()
        if self._alarm is not None:
            self._clock.cancel(self._alarm)
            self._alarm = None
        if self.error is None and exc is not None:
            self.error = exc
        opened = self.opened
        if opened is not None and not opened.done():
            opened.set_exception(self._opening_error())
            opened.exception()  # the failure is also reported to on_close
        if self._pings is not None:
            for waiter in self._pings.cancel_all():
                if not waiter.done():
                    waiter.cancel()
        self._wake_drain()
        if not self.closed.done():
            self.closed.set_result(None)
        if self._close_waiters is not None:
            self._close_waiters.wake_all()
        listener, self.listener = self.listener, _IGNORED
        # The listener is told once and left: the engine and its listener
        # refer to each other, and without that cycle a finished connection
        # is freed by reference counting, not by the cyclic GC (which took
        # 19 % of a server's CPU in the bench "hs_conc" on uvloop).
        listener.on_close(self.error)

    def pause_writing(self) -> None:
        """The transport's buffer is over ``write_limit``."""
        self.write_paused = True

    def resume_writing(self) -> None:
        """The transport's buffer drained below a quarter of ``write_limit``."""
        self.write_paused = False
        self._wake_drain()

    # ------------------------------------------------------------------
    # Events

    def _dispatch(self, events: list[Event]) -> None:
        listener = self.listener
        for event in events:
            kind = type(event)
            if kind is BinaryMessage or kind is TextMessage:
                listener.on_message(event.data)  # type: ignore[attr-defined]
            elif kind is Ping:
                listener.on_ping(event.data)  # type: ignore[attr-defined]
            elif kind is Pong:
                self._pong_received(event.data)  # type: ignore[attr-defined]
                listener.on_pong(event.data)  # type: ignore[attr-defined]
            elif kind is Opened:
                self._opened()
            elif kind is RequestReceived:
                self._request_received(event.request)  # type: ignore[attr-defined]
            elif kind is HandshakeFailed:
                self.error = error = event.error  # type: ignore[attr-defined]
                log_handshake_failure(error)
                self._flush()
                if self.core.role is Role.CLIENT and self.transport is not None:
                    self.transport.close()
            elif kind is ConnectionFailed:
                self.error = event.error  # type: ignore[attr-defined]
                logger.debug("failing the connection: %s", event.error)  # type: ignore[attr-defined]
            else:
                assert kind is CloseReceived, f"unexpected event {event!r}"
                if self.core.role is Role.CLIENT:
                    # The server closes TCP right after its close frame (RFC
                    # 6455 7.1.1): our transport reads its end at once.
                    expect_eof = getattr(self.transport, "expect_eof", None)
                    if expect_eof is not None:
                        expect_eof()

    def _opened(self) -> None:
        self._open_deadline = None  # the timer stays: it wakes for the next deadline
        opened = self.opened
        if opened is not None and not opened.done():
            opened.set_result(None)
        options = self.options
        self._keepalive = Keepalive(options.ping_interval, options.ping_timeout, self.loop.time())
        self._arm_keepalive()
        self.listener.on_open()

    def _request_received(self, request: Request) -> None:
        hook = self.request_hook
        if hook is None:
            self._answer_request(None)
            return
        try:
            answer = hook(request)
        except Exception as exc:  # a failing hook is a server error, not a crash
            self._answer_request(exc)
            return
        if asyncio.iscoroutine(answer) or isinstance(answer, asyncio.Future):
            task = asyncio.ensure_future(answer)
            task.add_done_callback(self._request_hook_done)
        else:
            self._answer_request(answer)

    def _request_hook_done(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            self._answer_request(asyncio.CancelledError())
        elif task.exception() is not None:
            self._answer_request(task.exception())
        else:
            self._answer_request(task.result())

    def _answer_request(self, answer: Any) -> None:
        if self.core.state is not State.CONNECTING or self.transport is None:
            return  # the connection went away while the hook ran
        if answer is not None and not isinstance(answer, (Response, BaseException)):
            logger.error("process_request returned %r, not a Response or None", answer)
            answer = TypeError("process_request must return a Response or None")
        events = self.core.answer_request(answer)
        self._flush()
        self._dispatch(events)

    # ------------------------------------------------------------------
    # Sending

    def send(self, data: str | bytes | bytearray | memoryview, defer: bool = False) -> None:
        """Send a message: str as text, bytes-like as binary.

        Written at once if it is the first send since the application last
        waited for input and not ``defer`` (the caller knows more follow);
        otherwise joined with the sends around it (see the module's doc).

        Raises:
            InvalidState: the connection is not OPEN.
            ArgumentError: ``data`` is neither str nor bytes-like.
        """
        core = self.core
        core.send(data)
        if not (defer or self._sent_since_wait or self._receiving):
            self._sent_since_wait = True
            self._write(core.data_to_send())  # _flush's body: one of the 13 calls cut (get_buffer)
            return
        # Held for one write (bench "burst", client role: 256 sends in 2
        # writes, not 256), but never more than 64 KiB: then backpressure
        # and unsent_bytes() see it.
        self._deferred += len(data)
        if self._deferred > _JOIN_LIMIT:
            self._flush()
        elif self._receiving:
            return  # written as data_received ends
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush_deferred)

    def send_prepared(self, frame: bytes) -> None:
        """Send a frame made once for many connections (see ``broadcast``)."""
        self.core.send_prepared(frame)
        if not self._receiving:
            self._flush()

    def flush_deferred(self, waits: bool = False) -> None:
        """Write what deferred sends queued; the application waits for input next.

        ``waits``: it is about to wait (``recv``); then also apply what waited
        behind its messages (``apply_pending_input``), in the same call.
        """
        self._flush_scheduled = False
        self._sent_since_wait = False
        core = self.core
        if core.outgoing:
            self._flush()
        if waits and core.input_pending:
            self.apply_pending_input()

    def send_frame_control(self, opcode: int, data: bytes) -> None:
        """Send a PING (9) or PONG (10) with ``data``.

        Raises:
            ArgumentError: ``data`` is over 125 bytes.
            InvalidState: the connection is not OPEN.
        """
        if opcode == 9:
            self.core.send_ping(data)
        else:
            self.core.send_pong(data)
        if not self._receiving:
            self._flush()

    def unsent_bytes(self) -> int:
        """Bytes sent and not yet taken by the socket: held for this loop
        iteration's write, or in the transport's buffer."""
        transport = self.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        return buffered + self._deferred

    def ping(self, data: bytes | None = None) -> asyncio.Future[float]:
        """Send a PING; the future gives the seconds until its PONG came back.

        Raises:
            InvalidState: the connection is not OPEN.
        """
        if self._pings is None:
            self._pings = Pings()
        data = self._pings.payload(data)
        self.send_frame_control(9, data)
        waiter: asyncio.Future[float] = self.loop.create_future()
        self._pings.add(data, self.loop.time(), waiter)
        return waiter

    def _pong_received(self, data: bytes) -> None:
        if self._pings is None:
            return  # a PONG nobody asked for
        for waiter, rtt in self._pings.settle(data, self.loop.time()):
            if not waiter.done():
                waiter.set_result(rtt)
            # Kept here, not by whoever awaits the waiter: keepalive pings
            # have no awaiter, and they are what measures an idle connection.
            self.latency = rtt
            self._keepalive.pong_received()  # any answer shows the peer is alive
            self._arm_keepalive()

    def close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake; ``closed`` resolves when TCP is closed.

        Does nothing if the connection is already closing. Raises
        ``ArgumentError`` for a code that may not be sent.
        """
        core = self.core
        if core.state is State.OPEN:
            core.send_close(code, reason)
            self._flush()
        elif core.state is State.CONNECTING:
            self.abort()

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection from our side with ``code`` (e.g. 1011)."""
        self.core.fail(code, reason)
        self._flush()

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    async def drain(self) -> None:
        """Wait while the transport's buffer is over ``write_limit``."""
        while self.write_paused and self.transport is not None and not self.closed.done():
            if self._drain_waiters is None:
                self._drain_waiters = Waiters(self.loop)
            await self._drain_waiters.wait()

    def _wake_drain(self) -> None:
        if self._drain_waiters is not None:
            self._drain_waiters.wake_all()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed.

        Cancelling one such wait (a timeout around ``close()``) cancels no
        other, and leaves ``closed`` pending.
        """
        if not self.closed.done():
            if self._close_waiters is None:
                self._close_waiters = Waiters(self.loop)
            await self._close_waiters.wait()

    def pause_reading(self) -> None:
        """Stop reading from the transport (the application's queue is full)."""
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the transport again."""
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()

    # ------------------------------------------------------------------
    # Writing and timers

    def _flush(self) -> None:
        self._write(self.core.data_to_send())

    def _write(self, out: list[Chunk]) -> None:
        """Write what the core queued (``data_to_send()``), in order."""
        self._deferred = 0
        transport = self.transport
        if transport is None or not out:
            return
        if len(out) == 1 and 0 < len(out[0]) <= _JOIN_LIMIT:
            transport.write(out[0])
        else:
            end = END_OF_STREAM in out
            chunks = [chunk for chunk in out if chunk]
            if sum(map(len, chunks)) <= _JOIN_LIMIT:
                data = b"".join(chunks)
                # The last bytes and the FIN behind them in one segment, where
                # the transport can (SocketTransport.write_with_eof).
                with_eof = getattr(transport, "write_with_eof", None) if end and data else None
                if with_eof is not None:
                    with_eof(data)
                elif data:  # not only the end of the stream
                    transport.write(data)
            else:
                # Views: what the socket does not take at once is copied into
                # the transport's buffer once, not sliced first (the selector
                # transport's data[n:] copies bytes, not views).
                self._write_gathered([memoryview(c) if len(c) > _JOIN_LIMIT else c for c in chunks])
            if end:
                self._end_stream(transport)
        if self._close_deadline is None and self.core.state >= _CLOSING:
            self._arm_close_timer()

    def _write_gathered(self, views: list[Any]) -> None:
        """Write ``views`` (chunks past 64 KiB, and what goes with them) in order.

        In one system call, nothing copied: a large message's header and
        payload (bench "large1m": 566 -> 528 us/MiB on asyncio, 513 -> 476
        on uvloop). uvloop, TLS and Python 3.12's selector transport take a
        list as it is (``writelines``). Python 3.11's would join it: while
        its buffer is empty and it is open, a ``writev`` straight to its
        socket cannot overtake anything and the socket is still its own;
        what the socket does not take, and any error, goes through
        ``transport.write``, which buffers the rest or reports the error.
        """
        transport = self.transport
        assert transport is not None, "_flush() checked"
        if self._encrypts:
            # A write a piece: TLS encrypts each and passes it on before the
            # next (see tls.ENCRYPT_SIZE), where a list went into its memory
            # BIO whole. Not once the transport is lost: asyncio's TLS counts
            # every write then, and logs each past the fifth.
            if transport.is_closing():
                return
            for view in views:
                for piece in plaintext_pieces(view):
                    transport.write(piece)
            return
        if self._gathers:
            transport.writelines(views)
            return
        sent = 0
        sock = transport.get_extra_info("socket")
        if (
            _writev is not None
            and sock is not None
            and not transport.is_closing()
            and not transport.get_write_buffer_size()
            and transport.get_extra_info("sslcontext") is None  # never around TLS
        ):
            # Would block, or failed: transport.write retries and reports.
            with contextlib.suppress(OSError):
                sent = _writev(sock.fileno(), views)
        for view in views:
            size = len(view)
            if sent >= size:
                sent -= size
            else:
                transport.write(view[sent:] if sent else view)
                sent = 0

    def _end_stream(self, transport: asyncio.Transport) -> None:
        # Close frames went both ways: the peer sends nothing more (RFC 6455
        # 5.5.1), so close at once: a server's shutdown, read of the peer's
        # end and loop wake-up fewer a connection (bench "hs_conc" server on
        # uvloop 0.91-0.92x in 16 interleaved runs). A peer that sends anyway
        # gets a RST behind our close frame (docs/design.md). Otherwise
        # half-close (FIN) and keep reading: closing with unread input would
        # send a RST that can destroy our close frame in flight.
        if self.core.close_exchanged or not transport.can_write_eof():
            transport.close()
        else:
            transport.write_eof()
        self._arm_close_timer()

    def _arm_close_timer(self) -> None:
        if self._close_deadline is None:
            timeout = self.options.close_timeout
            self._close_deadline = self.loop.time() + (timeout if timeout is not None else 3600.0)
            self._wake_at(self._close_deadline)

    def _wake_at(self, when: float) -> None:
        """Have the alarm ring by ``when``.

        One alarm a connection, moved only for an earlier deadline: a
        deadline that passes or moves later (the handshake done, a PONG)
        leaves it, and it rings for nothing once. A timer for each of the
        open, keepalive and close deadlines, each armed and cancelled, cost
        a server 3-4 us a connection (bench "hs_conc": uvloop 79.4 -> 76.0,
        asyncio 108.2 -> 104.0). The one timer left cost about as much
        again, hence one clock for the alarms of every connection on a
        loop (see alarms.py).
        """
        alarm = self._alarm
        if alarm is not None:
            if self._alarm_at <= when:
                return
            self._clock.cancel(alarm)
        self._alarm_at = when
        self._alarm = self._clock.set(when, self._deadline_reached)

    def _deadline_reached(self, now: float) -> None:
        self._alarm = None
        if self._open_deadline is not None and now >= self._open_deadline:
            self._open_deadline = None
            if self.core.state is State.CONNECTING:
                self.error = TimeoutError("timed out during the opening handshake")
                self.abort()
        if self._close_deadline is not None and now >= self._close_deadline:
            self.abort()
        if self._failure_deadline is not None and now >= self._failure_deadline:
            self._failure_deadline = None
            self.apply_pending_input()
        if self.core.state is State.OPEN:
            self._keepalive_due(now)
        if self.closed.done():
            return
        deadlines = [self._open_deadline, self._failure_deadline]
        if self.core.state is State.OPEN:  # the keepalive's deadline outlives OPEN
            deadlines.append(self._keepalive.deadline())
        if self._close_deadline is not None and now < self._close_deadline:
            deadlines.append(self._close_deadline)  # once passed, it has aborted
        pending = [when for when in deadlines if when is not None]
        if pending:
            self._wake_at(min(pending))

    def _opening_error(self) -> BaseException:
        error = self.error
        if isinstance(error, (WebSocketError, OSError)):
            return error
        return InvalidHandshake("connection closed during the opening handshake")

    def _arm_keepalive(self) -> None:
        deadline = self._keepalive.deadline()
        if deadline is not None:
            self._wake_at(deadline)

    def _keepalive_due(self, now: float) -> None:
        keepalive = self._keepalive
        if keepalive.overdue(now):
            self.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        elif keepalive.ping_due(now):
            self.ping()
            keepalive.ping_sent(now)


def client_engine(uri: WebSocketURI, options: Options, loop: asyncio.AbstractEventLoop) -> Engine:
    """Make a client engine whose core has queued the upgrade request for ``uri``.

    Used by the asyncio client and by the AIR API (which may not build the
    core itself). Connect a transport to it next, e.g. with
    ``client.open_transport``.

    Raises:
        ArgumentError: a subprotocol or extra header cannot be sent.
    """
    core = Connection(Role.CLIENT, options)
    core.connect(uri)
    return Engine(core, None, loop)


def server_engine(options: Options, loop: asyncio.AbstractEventLoop) -> Engine:
    """Make a server engine waiting for an upgrade request; give it an accepted transport."""
    return Engine(Connection(Role.SERVER, options), None, loop)


class NullListener:
    """Ignores everything: stands in until the real listener is attached, or after it left."""

    def on_open(self) -> None:
        """Ignore."""

    def on_message(self, data: str | bytes) -> None:
        """Ignore."""

    def on_ping(self, data: bytes) -> None:
        """Ignore."""

    def on_pong(self, data: bytes) -> None:
        """Ignore."""

    def backlog(self) -> int:
        """Nothing is held."""
        return 0

    def on_close(self, error: BaseException | None) -> None:
        """Ignore."""


#: The stand-in listener: stateless, so one serves every engine.
_IGNORED = NullListener()
