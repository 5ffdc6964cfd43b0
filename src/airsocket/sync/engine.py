"""The engine of a blocking connection: a socket, one reader thread, a lock.

Who does what:

- the **reader thread** (one per connection) waits for input or for its
  next deadline (keepalive ping, overdue pong, close timeout), feeds the
  core, queues what the core wants written, and puts messages in a bounded
  queue. While the queue holds ``max_queue`` messages it stops reading, so
  that TCP pushes back on the peer;
- **application threads** call the :class:`~.connection.Connection`, which
  calls the engine.

``lock`` guards the core, the TLS object, the message queue and the output
list, and is only held for work that never blocks. Writing to the socket,
which blocks while the peer does not read, happens under the write lock of
:class:`~.transport.Output`; the reader only *tries* that lock: it never
waits behind a blocked ``send``, so it keeps reading (and the core keeps
answering) while another thread waits for the peer.
"""

from __future__ import annotations

import collections
import threading
import time

from ..logs import logger
from ..protocol.connection import Connection as CoreConnection
from ..protocol.connection import State
from ..protocol.events import BinaryMessage, ConnectionFailed, Event, Pong, TextMessage
from ..protocol.exceptions import InvalidState
from ..protocol.frames import CloseCode
from ..protocol.keepalive import Keepalive, Pings
from .transport import Output, Transport, remaining

__all__ = ["Engine", "Message"]


Message = str | bytes


class Ping:
    """A ping waiting for its pong, as the blocking ``ping()`` waits for it.

    Attributes:
        sent: when it left.
        rtt: seconds until its pong came; None while waiting, and for good
            if the connection closed first.
        done: set when the pong came or the connection closed.
    """

    __slots__ = ("done", "rtt", "sent")

    def __init__(self, sent: float) -> None:
        self.sent = sent
        self.rtt: float | None = None
        self.done = threading.Event()


class Engine:
    """Drives one sans-I/O connection over one socket, with a reader thread.

    Args:
        core: the sans-I/O connection (a client has called ``connect()``).
        transport: the connected socket.
    """

    def __init__(self, core: CoreConnection, transport: Transport) -> None:
        self.core = core
        self.options = core.options
        self.transport = transport
        #: Seconds of the last ping's round trip (keepalive included); 0 before any.
        self.latency = 0.0
        #: What ended the connection abnormally, if anything.
        self.error: BaseException | None = None
        #: Guards the core, the TLS object, the queues; never held while blocking.
        self.lock = threading.Lock()
        #: Set once the connection is closed (TCP included).
        self.closed = threading.Event()
        #: The reader thread, once started.
        self.thread: threading.Thread | None = None
        self._readable = threading.Condition(self.lock)  # a message, or the end
        self._space = threading.Condition(self.lock)  # room in the queue, or the end
        self._messages: collections.deque[Message] = collections.deque()
        self._output = Output(transport, self.lock)
        self._pings: Pings[Ping] = Pings()
        self._keepalive = Keepalive(None, None, 0.0)
        self._close_deadline: float | None = None
        self._failure_deadline: float | None = None
        #: The thread that last asked for a message.
        self.consumer: threading.Thread | None = None
        self._answers_done = False  # nothing queued will be answered: hold nothing
        self._aborted = False
        self._done = False

    @property
    def done(self) -> bool:
        """Whether the connection is closed (the codes are final)."""
        return self._done

    # ------------------------------------------------------------------
    # Opening (before the reader thread exists)

    def handshake(self, deadline: float | None, early: bytes = b"") -> list[Event]:
        """Write what the core queued, then read until it reports handshake progress.

        Args:
            deadline: when ``open_timeout`` passes (``time.monotonic``), or None.
            early: plaintext that arrived with the TLS handshake.

        Returns:
            RequestReceived (server), Opened and what came with it (client),
            or HandshakeFailed.

        Raises:
            TimeoutError: ``deadline`` passed.
            OSError: the socket failed.
        """
        data, eof = early, False
        while True:
            with self.lock:
                events = self._feed(data, eof)
            self.flush(wait=True)
            if events:
                return events
            self.transport.sock.settimeout(remaining(deadline, "opening handshake"))
            raw = self.transport.recv()
            with self.lock:
                data, eof = self.transport.decode(raw)

    def start(self, events: list[Event]) -> None:
        """Write the core's output and start the reader thread: the connection is open.

        Args:
            events: what the core returned with or after Opened (early messages).
        """
        self.transport.sock.settimeout(None)  # blocking: sendall waits for the peer
        now = time.monotonic()
        with self.lock:
            options = self.options
            self._keepalive = Keepalive(options.ping_interval, options.ping_timeout, now)
            self._queue_output()
            self._deliver(events, now)
        self.flush(wait=True)
        name = f"airsocket-reader-{self.transport.remote_address}"
        self.thread = threading.Thread(target=self._read_forever, name=name, daemon=True)
        self.thread.start()

    def abandon(self) -> None:
        """After a failed or refused handshake: write the answer, drain, close.

        Reading until the peer's EOF (at most ``close_timeout``) keeps the
        close from resetting the connection, which could destroy the answer.
        """
        with self.lock:
            self._queue_output()
        try:
            self.flush(wait=True)
            self.transport.sock.settimeout(self.options.close_timeout)
            while self.transport.recv():
                pass
        except OSError:
            pass  # the peer went away or took too long: close anyway
        self.transport.close()

    # ------------------------------------------------------------------
    # What the connection calls

    def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Queue a message and write it; blocks while the peer does not read.

        Raises:
            ConnectionClosed: the connection is closing or closed.
            ArgumentError: ``message`` is neither str nor bytes-like (the core tells).
        """
        with self.lock:
            try:
                self.core.send(message)
            except InvalidState:
                raise self.core.closed_error() from None
            self._queue_output()
        if not self.flush(wait=True):
            raise self.core.closed_error() from self.error

    def receive(self, deadline: float | None) -> Message:
        """Return the next message, waiting until ``deadline`` (None: no limit).

        Raises:
            TimeoutError: ``deadline`` passed.
            ConnectionClosed: the connection is closed.
        """
        self.consumer = threading.current_thread()
        while True:
            with self.lock:
                message = self._take(deadline)
            if message is not None:
                return message
            self.flush()  # the failure applied by _take queued a close frame

    def _take(self, deadline: float | None) -> Message | None:
        # Called with the lock held; None means "write the output, then retry".
        messages = self._messages
        while not messages:
            if self._done:
                raise self.core.closed_error()
            if self.core.input_pending:
                # The application has answered what came before the violation
                # (it asks for more): now the connection fails (docs/sansio.md).
                self._apply_failure(time.monotonic())
                return None
            self._readable.wait(self._wait_time(deadline))
        message = messages.popleft()
        if not messages:
            self.core.hold_input = False
        self._space.notify()
        return message

    def _wait_time(self, deadline: float | None) -> float | None:
        # A thread waiting for messages also keeps the close timer: the
        # reader may be asleep with no deadline when this thread's recv
        # started the closing handshake (by applying a pending failure).
        now = time.monotonic()
        left = remaining(deadline, "waiting for a message")
        close_at = self._check_closing(now)
        if close_at is None:
            return left
        return close_at - now if left is None else min(left, close_at - now)

    def ping(self, data: bytes | None) -> Ping:
        """Send a PING (a random payload if ``data`` is None); returns its waiter.

        Raises:
            ConnectionClosed: the connection is closing or closed.
            ArgumentError: the payload is over 125 bytes.
            InvalidState: a ping with this payload is already waiting.
        """
        with self.lock:
            if self.core.state is not State.OPEN:
                raise self.core.closed_error()
            ping = self._send_ping(data, time.monotonic())
        self.flush(wait=True)
        return ping

    def forget_ping(self, ping: Ping) -> None:
        """Stop waiting for ``ping``'s pong (its payload may be used again)."""
        with self.lock:
            self._pings.discard(ping)

    def start_close(self, code: int, reason: str = "") -> None:
        """Send a close frame if the connection is open; does not wait.

        Raises:
            ArgumentError: ``code`` may not be sent or ``reason`` is too long.
        """
        with self.lock:
            if self.core.state is State.OPEN:
                self.core.send_close(code, reason)
                self._queue_output()
                self._space.notify_all()  # a paused reader must read the peer's close
        self.flush()

    def abort(self) -> None:
        """Drop the connection now (the reader then finishes)."""
        with self.lock:
            self._abort_locked()

    def stop_holding(self) -> None:
        """Hold no close or failure behind queued messages any more.

        For an application that waits for the close and has no other thread
        reading: the messages still queued will get no answer before the
        close, so the peer's close need not wait for them (it would wait
        ``close_timeout``). They stay for ``recv``.
        """
        with self.lock:
            self._answers_done = True
            if self.core.input_pending:
                self._apply_failure(time.monotonic())
        self.flush()

    def wait_closed(self) -> None:
        """Wait until the connection is closed and the reader thread ended."""
        self.closed.wait()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # ------------------------------------------------------------------
    # The reader thread

    def _read_forever(self) -> None:
        try:
            while self._read_once():
                pass
        except Exception as exc:  # a bug must not leave recv() waiting forever
            logger.exception("the reader thread failed")
            self.error = exc
        finally:
            self._finish()

    def _read_once(self) -> bool:
        """Wait for input or the next deadline and handle it; False at the end."""
        timeout = self._run_timers(time.monotonic())
        with self.lock:
            if self._paused():
                self._space.wait(timeout)
                return True
        if not self.transport.wait_readable(timeout):
            return True
        try:
            if self._read_in_place():
                return True
            raw = self.transport.recv()
            with self.lock:
                data, eof = self.transport.decode(raw)
        except OSError as exc:  # reset by the peer, or a corrupt TLS stream
            self.error = self.error or exc
            data, eof = b"", True
        with self.lock:
            self._deliver(self._feed(data, eof), time.monotonic())
        self.flush()
        return not eof

    def _read_in_place(self) -> bool:
        """Read into the large message arriving, if any; whether anything was read.

        The transport reads straight into the bytes object that becomes the
        message (``Connection.receive_buffer``), as the asyncio engine does,
        where each read was a bytes object copied into the message. Only this
        thread feeds the core, so the view stays valid outside the lock.
        """
        if not self.transport.reads_in_place:
            return False
        with self.lock:
            view = self.core.receive_buffer()
        if view is None:
            return False
        with view:
            size = self.transport.recv_into(view)
        if not size:
            return False  # the end of the stream: recv() sees it too
        with self.lock:
            self.core.receive_into(size)
        return True

    def _paused(self) -> bool:
        # Backpressure: with max_queue messages unread, stop reading. Once our
        # close frame is out, read on: the peer's close must come in.
        full = len(self._messages) >= self.options.max_queue > 0
        return full and self.core.close_sent is None and not self._aborted

    def _run_timers(self, now: float) -> float | None:
        """Act on what is due at ``now``; return the seconds until the next deadline."""
        with self.lock:
            # In this order: the first two may start the closing handshake,
            # whose timer the third arms.
            deadlines = [
                self._check_keepalive(now),
                self._check_failure(now),
                self._check_closing(now),
            ]
        self.flush()
        upcoming = [deadline for deadline in deadlines if deadline is not None]
        return max(0.0, min(upcoming) - now) if upcoming else None

    def _check_closing(self, now: float) -> float | None:
        # close_timeout bounds the closing handshake and the wait for EOF.
        timeout = self.options.close_timeout
        if self.core.state is State.OPEN or timeout is None or self._aborted:
            return None
        if self._close_deadline is None:
            self._close_deadline = now + timeout
        if now < self._close_deadline:
            return self._close_deadline
        self._abort_locked()
        return None

    def _check_failure(self, now: float) -> float | None:
        # A violation waits behind messages until the application asks for
        # more, or close_timeout passes (an application that stopped reading).
        timeout = self.options.close_timeout
        if not self.core.input_pending:
            return None
        if self._answers_done:
            self._apply_failure(now)
            return None
        if timeout is None:
            return None
        if self._failure_deadline is None:
            self._failure_deadline = now + timeout
        if now < self._failure_deadline:
            return self._failure_deadline
        self._apply_failure(now)
        return None

    def _check_keepalive(self, now: float) -> float | None:
        keepalive = self._keepalive
        if self.core.state is not State.OPEN:
            return None
        if keepalive.overdue(now):
            self.core.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            self._queue_output()
            return None
        if keepalive.ping_due(now):
            self._send_ping(None, now)
            keepalive.ping_sent(now)
        return keepalive.deadline()

    def _finish(self) -> None:
        with self.lock:
            self.core.receive_eof()
            self._done = True
            self._aborted = self._output.stopped = True
            for ping in self._pings.cancel_all():
                ping.done.set()  # without an rtt: ping() raises ConnectionClosed
            self._readable.notify_all()
            self._space.notify_all()
        self.transport.abort()  # wakes a send blocked on a peer that went away
        self._output.close()
        self.closed.set()

    def _abort_locked(self) -> None:
        self._aborted = self._output.stopped = True
        self.transport.abort()
        self._space.notify_all()

    # ------------------------------------------------------------------
    # Core plumbing (called with the lock held unless said otherwise)

    def _feed(self, data: bytes, eof: bool) -> list[Event]:
        # b"" is not fed: receive_data(b"") means "apply the pending failure".
        events = self.core.receive_data(data) if data else []
        if eof:
            events += self.core.receive_eof()
        self._queue_output()
        return events

    def _deliver(self, events: list[Event], now: float) -> None:
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BinaryMessage:
                self._queue_message(event.data)  # type: ignore[attr-defined]
            elif kind is Pong:
                self._settle_pings(event.data, now)  # type: ignore[attr-defined]
            elif kind is ConnectionFailed:
                self.error = event.error  # type: ignore[attr-defined]
                logger.debug("failing the connection: %s", self.error)
            # Ping and CloseReceived: the core has queued the answer already.

    def _queue_message(self, message: Message) -> None:
        if self.core.close_sent is not None and len(self._messages) >= self.options.max_queue > 0:
            return  # we are closing and the application is not reading: keep memory bounded
        self._messages.append(message)
        self.core.hold_input = True
        self._readable.notify()

    def _apply_failure(self, now: float) -> None:
        self._failure_deadline = None
        self._deliver(self.core.receive_data(b""), now)
        self._queue_output()

    def _send_ping(self, data: bytes | None, now: float) -> Ping:
        data = self._pings.payload(data)
        self.core.send_ping(data)  # raises for a payload over 125 bytes: nothing recorded yet
        self._queue_output()
        ping = Ping(now)
        self._pings.add(data, now, ping)
        return ping

    def _settle_pings(self, data: bytes, now: float) -> None:
        for ping, rtt in self._pings.settle(data, now):
            ping.rtt = rtt
            ping.done.set()
            self._keepalive.pong_received()  # any answer shows the peer is alive
            self.latency = rtt

    def _queue_output(self) -> None:
        self._output.queue(self.core.data_to_send())

    def flush(self, wait: bool = False) -> bool:
        """Write what is queued (see :class:`Output`); False if the socket failed."""
        if self._output.flush(wait):
            return True
        self.error = self.error or self._output.error
        self.abort()
        return False
