"""The connection state machine: bytes in, events out; calls in, bytes out.

The integrator's loop (see docs/sansio.md)::

    conn = Connection(Role.CLIENT, options)
    conn.connect("ws://example.com/")          # queues the upgrade request
    write(conn.data_to_send())                  # always write before dispatching
    for event in conn.receive_data(read()):     # Opened, TextMessage, Ping, ...
        ...
    conn.receive_eof()                          # when the peer closed TCP

``data_to_send()`` returns the byte strings to write, in order;
:data:`END_OF_STREAM` among them means "half-close (or close) the transport
after writing what came before". The core never reads a clock: when
``state`` is CLOSING the I/O layer arms ``close_timeout`` and aborts the
transport when it expires.

Transitions (only this module and :mod:`.opening`, its opening-handshake
half, assign ``state``)::

    CONNECTING --handshake ok--> OPEN --close sent/received, failure--> CLOSING
    CONNECTING --handshake failed--> CLOSED
    OPEN, CLOSING --receive_eof()--> CLOSED

The core branches on the role for three things only: the handshake, masking
(RFC 6455 5.1: clients mask, servers do not) and who ends the TCP
connection first (RFC 6455 7.1.1: the server).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
from collections.abc import Callable
from typing import Any

from . import deflate, handshake
from .events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from .exceptions import (
    ArgumentError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidPayload,
    InvalidState,
    PayloadTooBig,
    ProtocolError,
)
from .frames import (
    MAX_CONTROL_PAYLOAD,
    SHORT_HEADERS,
    CloseCode,
    Masker,
    build_frame,
    flat_payload,
    frame_header,
    parse_close,
    serialize_close,
)
from .http import Request, Response
from .masking import PayloadBuffer, PayloadBufferPython, apply_mask
from .masking import scan_frames as _scan_frames
from .opening import OpeningHandshake
from .options import Options
from .states import END_OF_STREAM, Chunk, Role, State

__all__ = ["END_OF_STREAM", "Connection", "Role", "State"]

_OPEN_REQUIRED = "the connection is not open"
#: Unmasked payloads from this size on are queued apart from their header.
_SPLIT_SIZE = 64 * 1024
# Close codes of a normal ending (see closed_normally).
_NORMAL_CLOSE_CODES = frozenset(
    (CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY, CloseCode.NO_STATUS_RCVD)
)
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
#: ``Masker.frame``: ``(opcode, payload, rsv1) -> a frame masked with the next key``.
_MaskedFrame = Callable[[int, bytes | bytearray | memoryview, bool], bytes]


def _check_held_bytes(decoder: codecs.IncrementalDecoder) -> None:
    """Fail on ED A0-BF, the start of a UTF-16 surrogate, as soon as it is held.

    CPython's incremental decoder raises at every other invalid byte as it
    arrives but holds ED A0-BF until a third byte comes, although no valid
    UTF-8 has them (Unicode 3.9, table 3-7): without this check a text
    message would fail one byte late, and a fragment ending there would be
    accepted until the next one (DESIGN.md: fail on the first bad byte).
    """
    held = decoder.getstate()[0]
    if len(held) == 2 and held[0] == 0xED and held[1] >= 0xA0:
        raise InvalidPayload("invalid UTF-8 in a text message: a UTF-16 surrogate")


# Enum members cost 60 ns a lookup on Python 3.11, a module global 5 ns:
# the hot paths compare states with these.
_CONNECTING = State.CONNECTING
_OPEN = State.OPEN
_CLOSED = State.CLOSED


class Connection(OpeningHandshake):
    """A sans-I/O WebSocket connection, for either role.

    Args:
        role: client or server.
        options: limits and negotiation settings (defaults if None).
        random_bytes: the random source for keys and masks (tests inject one).
    """

    # Slots (with OpeningHandshake's): with more than 30 attributes an
    # instance dict is not shared any more and costs 1.5 KiB a connection
    # (bench "rss").
    __slots__ = (
        "_control_parts",
        "_decoder",
        "_discard",
        "_expect_mask",
        "_frame_fin",
        "_frame_mask",
        "_frame_offset",
        "_frame_opcode",
        "_held_close",
        "_masked_frame",
        "_max_size",
        "_msg_binary",
        "_msg_compressed",
        "_msg_opcode",
        "_msg_out",
        "_msg_parts",
        "_msg_wire",
        "_next_mask",
        "_payload",
        "_pending_failure",
        "close_received",
        "close_sent",
        "frame_left",
        "hold_input",
    )

    def __init__(
        self,
        role: Role,
        options: Options | None = None,
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.role = role
        self.options = options if options is not None else Options()
        self.state = State.CONNECTING
        #: The upgrade request (sent by a client, received by a server).
        self.request: Request | None = None
        #: The upgrade response (received by a client, sent by a server).
        self.response: Response | None = None
        #: The negotiated subprotocol, or None.
        self.subprotocol: str | None = None
        #: Server: ``f(offered, supported)`` choosing the subprotocol of this
        #: connection; ``options.select_subprotocol`` unless set before the
        #: request is accepted (the AIR API sets its own per connection,
        #: where building options for each cost 5.8 us).
        self.select_subprotocol: Callable[..., Any] | None = self.options.select_subprotocol
        #: ``(code, reason)`` of the close frame we sent, or None.
        self.close_sent: tuple[int, str] | None = None
        #: ``(code, reason)`` of the close frame we received, or None.
        self.close_received: tuple[int, str] | None = None
        #: The error that made us fail the connection, if any.
        self.failure: ProtocolError | InvalidHandshake | None = None
        self._random = random_bytes
        masker = Masker(random_bytes) if role is Role.CLIENT else None
        # RFC 6455 5.3: a client masks every frame; None for a server. The
        # methods are bound once: the send path calls them for every frame.
        self._next_mask: Callable[[], bytes] | None = None
        self._masked_frame: _MaskedFrame | None = None
        if masker is not None:
            self._next_mask = masker.key
            self._masked_frame = masker.frame
        self._expect_mask = role is Role.SERVER
        self._max_size = self.options.max_message_size
        self._deflate: deflate.PerMessageDeflate | None = None
        self._key = ""
        self._offer: handshake.ClientOffer | None = None
        self._awaiting_answer = False
        self._request_error: InvalidHandshake | None = None
        #: What to write, in order: what :meth:`data_to_send` returns next.
        #: Empty (false) when there is nothing. Read it, never change it: a
        #: bare attribute, where ``wants_write`` costs a call (the I/O layer
        #: looks at it several times a message).
        self.outgoing: list[Chunk] = []
        self._head = bytearray()
        self._tail = b""
        self._discard = False
        self._pending_failure: ProtocolError | None = None
        self._held_close: bytes | None = None
        #: Set while the application still holds undelivered messages: a
        #: violation then waits (see ``input_pending``) even when the call
        #: that found it returned no event.
        self.hold_input = False
        # The frame whose payload is still arriving (partial mode).
        #: Payload bytes of the frame in progress still to come; 0 between
        #: frames (the I/O layer asks for :meth:`receive_buffer` only then).
        self.frame_left = 0
        self._frame_opcode = 0
        self._frame_fin = False
        self._frame_mask: bytes | None = None
        self._frame_offset = 0
        # The pieces of a control frame or data message arriving in parts: a
        # list made when the first piece comes (a list a connection is one
        # more object for the cyclic GC to visit, bench "hs_conc").
        self._control_parts: list[bytes] | None = None
        self._payload: PayloadBufferPython | None = None
        # The data message being assembled from fragments.
        self._msg_opcode = 0
        self._msg_compressed = False
        self._msg_wire = 0
        self._msg_out = 0
        # A text message's decoded pieces, joined at the end.
        self._msg_parts: list[str] | None = None
        # A fragmented binary message's bytes, in one buffer that grows as
        # they come and whose bytes object becomes the message, not copied. A
        # list of parts and a join held the message twice at its end, and the
        # allocator gave that memory back and faulted it in again for every
        # message (1 MiB in 16 fragments, client core in process: 1.3 ms and
        # 480 faults -> 0.13 ms and none; in 256: 1.6 -> 0.31 ms; in 2: 66 ->
        # 73 us, where the join faulted nothing).
        self._msg_binary: io.BytesIO | None = None
        # Made by the first text message: many connections never get one.
        self._decoder: codecs.IncrementalDecoder | None = None

    # ------------------------------------------------------------------
    # What the I/O layer reads

    @property
    def close_code(self) -> int:
        """The peer's close code: 1005 if its frame had none, 1006 if none came."""
        if self.close_received is None:
            return CloseCode.ABNORMAL_CLOSURE
        return self.close_received[0]

    @property
    def close_reason(self) -> str:
        """The reason text of the peer's close frame ("" if none)."""
        return "" if self.close_received is None else self.close_received[1]

    @property
    def compression(self) -> deflate.PerMessageDeflate | None:
        """The negotiated permessage-deflate codec, or None."""
        return self._deflate

    def closed_error(self) -> ConnectionClosed:
        """The exception that tells the application how the connection ended.

        ``ConnectionClosedOK`` when close frames with 1000, 1001 or no code
        were exchanged both ways, else ``ConnectionClosedError``.
        """
        sent = self.close_sent[0] if self.close_sent is not None else None
        kind = ConnectionClosedOK if self.closed_normally else ConnectionClosedError
        return kind(self.close_code, self.close_reason, sent, self.failure)

    @property
    def close_exchanged(self) -> bool:
        """Whether close frames went both ways: the peer sends nothing more.

        RFC 6455 5.5.1: an endpoint sends nothing after its close frame. The
        I/O layer may then end the stream with a full close; after a failure
        or a refused handshake the peer may still be sending, and it
        half-closes and reads on.
        """
        return self.close_received is not None and self.close_sent is not None

    @property
    def closed_normally(self) -> bool:
        """Whether close frames with 1000, 1001 or no code went both ways.

        :meth:`closed_error` is then a ``ConnectionClosedOK``.
        """
        received, sent = self.close_received, self.close_sent
        return (
            received is not None
            and sent is not None
            and received[0] in _NORMAL_CLOSE_CODES
            and sent[0] in _NORMAL_CLOSE_CODES
        )

    @property
    def wants_write(self) -> bool:
        """Whether ``data_to_send()`` has something to return."""
        return bool(self.outgoing)

    def data_to_send(self) -> list[Chunk]:
        """Return (and forget) what to write, in order; see :data:`END_OF_STREAM`."""
        out = self.outgoing
        self.outgoing = []
        return out

    # ------------------------------------------------------------------
    # Receiving

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the transport; returns the events they complete.

        Write ``data_to_send()`` next (PONGs, close echoes), then handle the
        events. Peer errors never raise: they become :class:`ConnectionFailed`.
        """
        if self.state is _CONNECTING:
            return self._receive_head(data)
        events: list[Event] = []
        if data and (self._pending_failure is not None or self._held_close is not None):
            return events  # what follows a violation or a close frame is never read
        if self._pending_failure is not None:
            error, self._pending_failure = self._pending_failure, None
            self._fail(error, events)
            return events
        if self._held_close is not None:
            return self._release_close(events)
        if self._discard or self.state is _CLOSED:
            return events
        try:
            self._receive_frames(data, events)
        except ProtocolError as exc:
            error = exc
        except UnicodeDecodeError as exc:
            error = InvalidPayload(f"invalid UTF-8 in a text message: {exc.reason}")
            error.__cause__ = exc
        else:
            return events
        if events or self.hold_input:
            # Messages that came before the violation are delivered first, so
            # that what the application answers them with precedes our close
            # frame; the failure waits for the next call (see input_pending).
            self._pending_failure = error
            self._discard = True
        else:
            self._fail(error, events)
        return events

    def receive_buffer(self) -> memoryview | None:
        """Where the rest of a large binary frame may be read into, or None.

        While a binary message of known size arrives over several reads,
        the transport may read straight into the message's
        own bytes: write at most ``len(view)`` bytes at the start of the
        view, then call :meth:`receive_into` instead of :meth:`receive_data`.
        None: read as usual. Reading a megabyte into its message instead of
        into a temporary saves a copy and an allocation per read (bench
        "large1m").

        The view stops one byte short of the frame's end, so the read that
        completes the message goes through :meth:`receive_data`: the message
        is handed over once no view of it is held (an event loop may hold
        the buffer until after it reported the read).
        """
        payload = self._payload
        left = self.frame_left
        if payload is None or left < 2 or self._tail or self._discard or self.input_pending:
            return None
        offset = self._frame_offset
        with payload.view() as view:
            return view[offset : offset + left - 1]

    def receive_into(self, size: int) -> None:
        """``size`` bytes were read into the view from :meth:`receive_buffer`.

        Raises:
            ValueError: no such view is open, or ``size`` is out of its range.
        """
        payload = self._payload
        if payload is None or not 0 < size < self.frame_left:
            raise ValueError("receive_into() without the room from receive_buffer()")
        offset = self._frame_offset
        mask = self._mask_at(offset)
        if mask is not None:
            payload.unmask(offset, size, mask)
        self._frame_offset = offset + size
        self.frame_left -= size

    def _mask_at(self, offset: int) -> bytes | None:
        """The frame's masking key as it lines up with payload byte ``offset``."""
        mask = self._frame_mask
        if mask is None:
            return None
        turn = offset & 3
        return mask[turn:] + mask[:turn]

    @property
    def input_pending(self) -> bool:
        """Whether a violation or the peer's close frame waits behind events.

        Handle the events just returned (let the application answer them),
        then call ``receive_data(b"")``: it fails the connection (RFC 6455
        7.1.7) or takes the close frame (and queues its echo), and returns
        :class:`ConnectionFailed` or :class:`CloseReceived`. The answers thus
        precede our close frame; RFC 6455 5.5.1 lets an endpoint finish
        sending its current messages before it echoes a close.
        """
        return self._pending_failure is not None or self._held_close is not None

    def _release_close(self, events: list[Event]) -> list[Event]:
        payload, self._held_close = self._held_close, None
        assert payload is not None, "a held close frame"
        try:
            self._receive_control(8, payload, events)
        except ProtocolError as exc:  # an invalid code or reason: 1002 or 1007
            self._fail(exc, events)
        return events

    def receive_eof(self) -> list[Event]:
        """Tell the core the peer closed TCP; the state becomes CLOSED.

        Returns :class:`HandshakeFailed` if the handshake was not done yet.
        The close code to report is then :attr:`close_code` (1006 if no close
        frame came).
        """
        events: list[Event] = []
        if self.state is State.CONNECTING:
            events = self._handshake_failed(InvalidHandshake("connection closed during handshake"))
        self.state = State.CLOSED
        self._discard = True
        # The peer is gone: a violation still waiting would queue a close
        # frame after the end and move CLOSED back to CLOSING; and an I/O
        # layer polling input_pending would wait for it forever.
        self._pending_failure = None
        held, self._held_close = self._held_close, None
        if held is not None and self.close_received is None:
            with contextlib.suppress(ProtocolError):  # a bad one reports as 1006
                self.close_received = parse_close(held)
        return events

    def _receive_frames(self, data: bytes, events: list[Event]) -> None:
        # One flat loop over the buffer with offsets: the hot path. A flat
        # loop costs about 1 us per 64-byte masked frame; a generator per
        # frame about 3.7 us (DESIGN.md, "Speed").
        buf = self._tail + data if self._tail else data
        self._tail = b""
        pos = 0
        end = len(buf)
        if self.frame_left:
            pos = self._continue_frame(buf, 0, end, events)
        expect_mask = self._expect_mask
        scan = _scan_frames
        inflate = self._inflate_whole if self._deflate is not None else None
        while not self._discard:
            if scan is not None and not self._msg_opcode:
                # Whole, final text and binary frames in C, until the first
                # other frame, which the code below takes: 108 ns a 64-byte
                # frame against 559 (bench/micro_frames.py); compressed ones
                # too, inflated by the same method as below (bench "deflate").
                pos = scan(
                    buf,
                    pos,
                    expect_mask,
                    self._max_size,
                    events,
                    TextMessage,
                    BinaryMessage,
                    inflate,
                )
            avail = end - pos
            if avail < 2:
                break
            first = buf[pos]
            second = buf[pos + 1]
            opcode = first & 0x0F
            fin = first & 0x80
            rsv1 = first & 0x40
            length = second & 0x7F
            if first & 0x30:
                raise ProtocolError("reserved bits RSV2/RSV3 set without an extension")  # 5.2
            if opcode >= 8:
                if opcode > 10:
                    raise ProtocolError(f"unknown opcode {opcode:#x}")  # RFC 6455 5.2
                if not fin or rsv1 or length > MAX_CONTROL_PAYLOAD:
                    raise ProtocolError("control frames must be whole and at most 125 bytes")
            elif opcode > 2:
                raise ProtocolError(f"unknown opcode {opcode:#x}")  # RFC 6455 5.2
            elif opcode == 0:
                if not self._msg_opcode:
                    raise ProtocolError("continuation frame without a message to continue")
                if rsv1:
                    raise ProtocolError("RSV1 set on a continuation frame")  # RFC 7692 6
            elif self._msg_opcode:
                raise ProtocolError("new data frame before the fragmented message ended")
            elif rsv1 and self._deflate is None:
                raise ProtocolError("RSV1 set without permessage-deflate")  # RFC 6455 5.2
            header = 2
            if length == 126:
                if avail < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                header = 4
            elif length == 127:
                if avail < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise ProtocolError("frame length with the most significant bit set")
                header = 10
            if (second & 0x80) != (0x80 if expect_mask else 0):
                # RFC 6455 5.1: clients MUST mask, servers MUST NOT.
                raise ProtocolError("masked frame from a server or unmasked frame from a client")
            mask = None
            if expect_mask:
                if avail < header + 4:
                    break
                mask = buf[pos + header : pos + header + 4]
                header += 4
            if opcode < 8 and not (rsv1 or self._msg_compressed):
                self._msg_wire += length
                if self._msg_wire > self._max_size:
                    raise PayloadTooBig(
                        f"message of more than {self._max_size} bytes"
                    )  # checked from the header, before buffering
            start = pos + header
            stop = start + length
            if stop > end:
                self._begin_frame(opcode, bool(fin), bool(rsv1), mask, length)
                self._continue_frame(buf, start, end, events)
                return
            payload = buf[start:stop]
            if mask is not None:
                payload = apply_mask(payload, mask)
            pos = stop
            if opcode >= 8:
                if opcode == 8 and (events or self.hold_input) and self.close_sent is None:
                    # The peer's close waits until the messages before it are
                    # answered (see input_pending); nothing after it is read.
                    self._held_close = payload
                    self._discard = True
                    return
                self._receive_control(opcode, payload, events)
            elif fin and not self._msg_opcode:
                # The common case: a whole message in one frame, so no message
                # state; compressed, no incremental decoder either (bench
                # "deflate", client core in process: 5.3 -> 5.0 us to receive a
                # 4 KiB message).
                self._msg_wire = 0
                if rsv1:
                    payload = self._inflate_whole(payload)
                if opcode == 2:
                    events.append(BinaryMessage(payload))
                else:
                    events.append(TextMessage(payload.decode()))
            else:
                if opcode:
                    self._start_message(opcode, bool(rsv1))
                self._feed_message(payload, bool(fin), events)
        if pos < end and not self._discard:
            self._tail = buf[pos:end]

    def _inflate_whole(self, payload: bytes) -> bytes:
        """Inflate a whole compressed message that came in one frame."""
        assert self._deflate is not None, "RSV1 is refused without the extension"
        return self._deflate.decompress(payload, True, self._max_size)

    def _begin_frame(
        self, opcode: int, fin: bool, rsv1: bool, mask: bytes | None, length: int
    ) -> None:
        if 1 <= opcode <= 2:
            self._start_message(opcode, rsv1)
            if opcode == 2 and fin and not rsv1:
                # A whole binary message of known size arriving over several
                # reads: unmask every read straight into the bytes object that
                # becomes the message (no temporaries the size of the message,
                # no join). Its pages are committed only as data arrives.
                # A length no allocation can reserve (possible only with a
                # huge max_message_size; OverflowError past what a bytes object
                # can hold) keeps the list of parts instead, whose memory grows
                # only with the bytes that really arrive.
                with contextlib.suppress(MemoryError, OverflowError):
                    self._payload = PayloadBuffer(length)
        self._frame_opcode = opcode
        self._frame_fin = fin
        self._frame_mask = mask
        self.frame_left = length
        self._frame_offset = 0

    def _continue_frame(self, buf: bytes, pos: int, end: int, events: list[Event]) -> int:
        """Consume what ``buf[pos:end]`` holds of a frame in partial mode."""
        take = min(self.frame_left, end - pos)
        if self._payload is not None:
            return self._continue_payload(self._payload, buf, pos, take, events)
        chunk = buf[pos : pos + take]
        mask = self._mask_at(self._frame_offset)
        if mask is not None and chunk:
            chunk = apply_mask(chunk, mask)
        self._frame_offset += take
        self.frame_left -= take
        last = not self.frame_left
        if self._frame_opcode >= 8:
            parts = self._control_parts
            if parts is None:
                parts = self._control_parts = []
            parts.append(chunk)
            if last:
                payload = b"".join(parts)
                self._control_parts = None
                self._receive_control(self._frame_opcode, payload, events)
        else:
            # Text is validated chunk by chunk: an invalid byte fails the
            # connection at once, before the rest of the frame arrives.
            self._feed_message(chunk, self._frame_fin and last, events)
        return pos + take

    def _continue_payload(
        self, payload: PayloadBufferPython, buf: bytes, pos: int, take: int, events: list[Event]
    ) -> int:
        offset = self._frame_offset
        with memoryview(buf) as view:
            payload.write(offset, view[pos : pos + take], self._mask_at(offset))
        self._frame_offset = offset + take
        self.frame_left -= take
        if not self.frame_left:
            self._payload = None
            self._msg_opcode = 0
            self._msg_wire = 0
            events.append(BinaryMessage(payload.take()))
        return pos + take

    def _start_message(self, opcode: int, compressed: bool) -> None:
        self._msg_opcode = opcode
        self._msg_compressed = compressed
        self._msg_out = 0
        if opcode == 1:
            if self._decoder is None:
                self._decoder = _Utf8Decoder()
            else:
                self._decoder.reset()

    def _feed_message(self, chunk: bytes, last: bool, events: list[Event]) -> None:
        if self._msg_compressed:
            assert self._deflate is not None, "RSV1 is refused without the extension"
            chunk = self._deflate.decompress(chunk, last, self._max_size - self._msg_out)
            self._msg_out += len(chunk)
        if self._msg_opcode == 1:
            decoder = self._decoder
            assert decoder is not None, "made by _start_message"
            piece = decoder.decode(chunk, last)
            parts = self._msg_parts
            if parts is None:
                parts = self._msg_parts = []
            if piece:
                parts.append(piece)
            if not last:
                _check_held_bytes(decoder)
                return
            self._msg_parts = None
            events.append(TextMessage("".join(parts)))
        else:
            binary = self._msg_binary
            if last and binary is None:
                payload = chunk  # the whole message in one piece: no copy
            else:
                if binary is None:
                    binary = self._msg_binary = io.BytesIO()
                binary.write(chunk)
                if not last:
                    return
                self._msg_binary = None
                payload = binary.getvalue()
            events.append(BinaryMessage(payload))
        self._msg_opcode = 0
        self._msg_compressed = False
        self._msg_wire = 0

    def _receive_control(self, opcode: int, payload: bytes, events: list[Event]) -> None:
        if opcode == 9:
            if self.close_sent is None:
                self._send_frame(10, payload)  # RFC 6455 5.5.2: answer with the same data
            events.append(Ping(payload))
        elif opcode == 10:
            events.append(Pong(payload))
        else:
            code, reason = parse_close(payload)
            self.close_received = (code, reason)
            if self.close_sent is None:
                # RFC 6455 5.5.1: echo the status code received.
                echo = None if code == CloseCode.NO_STATUS_RCVD else code
                self._queue_close(echo, "")
            elif self.role is Role.SERVER:
                self.outgoing.append(END_OF_STREAM)
            self._discard = True  # RFC 6455 5.5.1: nothing more is read after a close
            events.append(CloseReceived(code, reason))

    # ------------------------------------------------------------------
    # Sending

    def send_prepared(self, frame: bytes) -> None:
        """Queue a whole frame made once for many connections (broadcast).

        Only for a server connection without compression, where a frame does
        not depend on the connection: ``frames.serialize_frame(opcode, data)``.

        Raises:
            InvalidState: the connection is not OPEN, masks, or compresses.
        """
        if self.state is not State.OPEN:
            raise InvalidState(_OPEN_REQUIRED)
        if self._next_mask is not None or self._deflate is not None:
            raise InvalidState("prepared frames need a server connection without compression")
        self.outgoing.append(frame)

    @property
    def takes_prepared(self) -> bool:
        """Whether :meth:`send_prepared` may be called now."""
        return self.state is State.OPEN and self._next_mask is None and self._deflate is None

    def send_text(self, data: str) -> None:
        """Queue a text message; then write ``data_to_send()``.

        Raises:
            ArgumentError: ``data`` is not a str, or holds a lone surrogate.
            InvalidState: the connection is not OPEN.
        """
        if not isinstance(data, str):
            raise ArgumentError(f"cannot send {type(data).__name__} as text: use str")
        self.send(data)

    def send_binary(self, data: bytes | bytearray | memoryview) -> None:
        """Queue a binary message; then write ``data_to_send()``.

        Raises:
            ArgumentError: ``data`` is not bytes-like.
            InvalidState: the connection is not OPEN.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ArgumentError(f"cannot send {type(data).__name__} as binary: use bytes")
        self.send(data)

    def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Queue a message, str as text and bytes-like as binary; then write ``data_to_send()``.

        The one place that tells text from binary, for every API. The APIs
        call it directly: one Python call on the hot path, where the type
        was told in the engine before (bench "burst").

        Raises:
            ArgumentError: ``data`` is neither str nor bytes-like, or is
                text with a lone surrogate.
            InvalidState: the connection is not OPEN.
        """
        kind = type(data)
        payload: bytes | bytearray | memoryview
        if kind is bytes or kind is bytearray or kind is memoryview:
            payload = data  # type: ignore[assignment]  # told by its exact type: the fast way
            opcode = 2
        elif isinstance(data, str):
            try:
                payload = data.encode()
            except UnicodeEncodeError as exc:  # a lone surrogate: not representable in UTF-8
                raise ArgumentError(f"text is not valid Unicode: {exc.reason}") from exc
            opcode = 1
        elif isinstance(data, (bytes, bytearray)):
            payload = data
            opcode = 2
        else:
            raise ArgumentError(f"cannot send {kind.__name__}: use str or bytes (bytes-like)")
        if self.state is not _OPEN:
            raise InvalidState(_OPEN_REQUIRED)
        if type(payload) is memoryview:
            payload = flat_payload(payload)  # len() counts bytes from here on
        rsv1 = False
        if self._deflate is not None:
            compressed = self._deflate.compress(payload)
            if compressed is not None:
                payload = compressed
                rsv1 = True
        length = len(payload)
        if self._masked_frame is not None:
            if length < _SPLIT_SIZE:
                self.outgoing.append(self._masked_frame(opcode, payload, rsv1))
            else:
                # Header and masked payload leave as two chunks, never joined:
                # joining copied the payload again only to put 14 bytes in
                # front of it, and its pages were faulted in afresh (no
                # accelerator, client, bench "large1m": 2.3-2.4 -> 1.1-1.3 ms
                # a MiB).
                assert self._next_mask is not None, "a client's masker has both"
                mask = self._next_mask()
                header = frame_header(opcode, length, rsv1=rsv1, masked=True) + mask
                self.outgoing += (header, apply_mask(payload, mask))
            return
        if length < 126 and not rsv1:
            self.outgoing.append(SHORT_HEADERS[opcode][length] + payload)
        elif length >= _SPLIT_SIZE and type(payload) is bytes:
            # Header and payload leave as two chunks: a large payload is not
            # copied only to put 10 bytes in front of it (bench: 1 MiB echo).
            self.outgoing += (frame_header(opcode, length, rsv1=rsv1), payload)
        else:
            self.outgoing.append(build_frame(opcode, payload, None, rsv1))

    def send_ping(self, data: bytes | bytearray | memoryview = b"") -> None:
        """Queue a PING (payload at most 125 bytes).

        Raises:
            ArgumentError: the payload is too long.
            InvalidState: the connection is not OPEN.
        """
        self._send_control(9, data)

    def send_pong(self, data: bytes | bytearray | memoryview = b"") -> None:
        """Queue an unsolicited PONG (payload at most 125 bytes).

        Raises:
            ArgumentError: the payload is too long.
            InvalidState: the connection is not OPEN.
        """
        self._send_control(10, data)

    def _send_control(self, opcode: int, data: bytes | bytearray | memoryview) -> None:
        if self.state is not State.OPEN:
            raise InvalidState(_OPEN_REQUIRED)
        if type(data) is memoryview:
            data = flat_payload(data)
        if len(data) > MAX_CONTROL_PAYLOAD:
            raise ArgumentError("a control frame carries at most 125 bytes")  # RFC 6455 5.5
        self._send_frame(opcode, data)

    def _send_frame(self, opcode: int, payload: bytes | bytearray | memoryview) -> None:
        mask = self._next_mask() if self._next_mask is not None else None
        self.outgoing.append(build_frame(opcode, payload, mask, False))

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 7.1.2); None sends no code.

        Raises:
            ArgumentError: the code may not be sent or the reason is too long.
            InvalidState: the connection is not OPEN.
        """
        payload = serialize_close(code, reason)
        if self.state is not State.OPEN:
            raise InvalidState(_OPEN_REQUIRED)
        self._queue_close(code, reason, payload)

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection from our side (e.g. a keepalive timeout, 1011).

        Queues a close frame if none was sent yet; a server also ends the stream.
        Nothing happens if the connection is already closing or closed.

        Raises:
            ArgumentError: ``code`` may not be sent (nothing is changed then).
        """
        if self.state is not State.OPEN:
            return
        error = ProtocolError(reason or f"failed with code {code}")
        error.close_code = code
        self._fail(error, [])
        # A violation that waited (input_pending) is moot now: applying it
        # later would report a second failure and end the stream twice; a
        # held close frame, an echo after our own close.
        self._pending_failure = None
        self._held_close = None

    def _fail(self, error: ProtocolError, events: list[Event]) -> None:
        # RFC 6455 7.1.7: send a close frame with the code, then end the
        # connection; the rest of the input is not parsed any more. The
        # close frame is queued first: fail() with a code that may not be
        # sent then raises ArgumentError before anything has changed.
        if self.close_sent is None:
            self._queue_close(error.close_code, "")
        self.failure = error
        self._discard = True
        if self.role is Role.SERVER:
            # Not queued before: END_OF_STREAM otherwise follows only a close
            # received (nothing is parsed after it), a refused handshake, or a
            # failure, which happens once.
            self.outgoing.append(END_OF_STREAM)
        events.append(ConnectionFailed(error))

    def _queue_close(self, code: int | None, reason: str, payload: bytes | None = None) -> None:
        if payload is None:
            payload = serialize_close(code, reason)
        self._send_frame(8, payload)
        self.close_sent = (CloseCode.NO_STATUS_RCVD if code is None else code, reason)
        self.state = State.CLOSING
        if self.role is Role.SERVER and self.close_received is not None:
            self.outgoing.append(END_OF_STREAM)  # RFC 6455 7.1.1: the server closes TCP first
