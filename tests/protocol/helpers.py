"""Shared helpers of the protocol core's tests.

What DESIGN.md ("Tests") asks of every core test lives here once:

- wire literals built bit by bit by :func:`wire_frame`, independently of
  ``frames.py`` (a test that built its input with the code under test would
  prove nothing), and read back by :func:`parse_frames`;
- a deterministic random source (:func:`rfc_random`): the key of RFC 6455
  1.3 and the masking key of RFC 6455 5.7, injected, never patched in;
- :func:`feed`: every input fed whole and then one byte at a time, asserting
  the same events, the same bytes out and the same final state;
- :func:`pump`: two cores wired back to back, END_OF_STREAM honoured by a
  ``receive_eof()`` on the other side.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import pytest

from airsocket.protocol.connection import END_OF_STREAM, Connection, Role
from airsocket.protocol.events import (
    ConnectionFailed,
    Event,
    HandshakeFailed,
    Opened,
    RequestReceived,
)
from airsocket.protocol.http import Response
from airsocket.protocol.options import Options

#: The masking key of RFC 6455 5.7's examples.
MASK = bytes.fromhex("37fa213d")
#: The 16 random bytes behind RFC 6455 1.3's Sec-WebSocket-Key.
NONCE = b"the sample nonce"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # base64 of NONCE
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3: base64(SHA-1(KEY + GUID))
URI = "ws://server.example.com/chat"

# The opening handshake of RFC 6455 1.3, as a client sends it: request
# line, Host, Upgrade, Connection, Sec-WebSocket-Key, Origin,
# Sec-WebSocket-Protocol, Sec-WebSocket-Version, blank line.
REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
# What our client sends for URI with the test options (no subprotocols, no
# User-Agent): request line, Host, Upgrade, Connection, Sec-WebSocket-Key,
# Sec-WebSocket-Version, blank line.
CLIENT_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
# The server's answer to KEY without a subprotocol: status line, Upgrade,
# Connection, Sec-WebSocket-Accept, blank line.
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)


def rfc_random(n: int) -> bytes:
    """A random source that yields RFC 6455's example values.

    The 16-byte draw of ``connect()`` gets the nonce of 1.3 (so the key is
    KEY); the pooled draws of the masking keys get the key of 5.7 repeated
    (so every frame a client sends is masked with MASK).
    """
    if n == 16:
        return NONCE
    return (MASK * (n // 4 + 1))[:n]


class CountingRandom:
    """A random source whose every draw differs: draw k is byte k repeated.

    Lets a test see which draw a masking key came from.
    """

    def __init__(self) -> None:
        self.draws: list[int] = []

    def __call__(self, n: int) -> bytes:
        self.draws.append(n)
        return bytes([len(self.draws)]) * n


def make_options(**changes: Any) -> Options:
    """The tests' defaults: no compression, no User-Agent or Server header.

    Without compression RSV1 is a violation; without the product header the
    handshake bytes are exactly RFC 6455 1.3's.
    """
    return Options.build(Options(compression=None, user_agent=None), **changes)


# ----------------------------------------------------------------------
# Frames, built and read bit by bit


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` (RFC 6455 5.3), the slow obvious way."""
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def wire_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """One frame as RFC 6455 5.2 draws it.

    Byte 0 is FIN, RSV1, RSV2, RSV3 (``rsv`` as a 3-bit number: 0b100 is
    RSV1) and the opcode; byte 1 the MASK bit and the 7-bit length (126: a
    16-bit length follows, 127: a 64-bit one); then the masking key and the
    (masked) payload. ``length`` overrides the announced length (for
    headers announcing more than is sent).
    """
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes([first, mask_bit | n])
    elif n < 1 << 16:
        head = bytes([first, mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([first, mask_bit | 127]) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + apply_mask(payload, mask)


def frame_to(role: Role, opcode: int, payload: bytes = b"", **kwargs: Any) -> bytes:
    """A frame as the peer of a ``role`` connection sends it.

    A server receives masked frames (key MASK), a client unmasked ones
    (RFC 6455 5.1).
    """
    mask = MASK if role is Role.SERVER else None
    return wire_frame(opcode, payload, mask=kwargs.pop("mask", mask), **kwargs)


def header_size(role: Role, length: int) -> int:
    """Bytes before the payload of a frame received by ``role``."""
    size = 2 if length < 126 else 4 if length < 1 << 16 else 10
    return size + (4 if role is Role.SERVER else 0)


@dataclasses.dataclass(frozen=True)
class Frame:
    """A frame read back by :func:`parse_frames`."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv: int = 0
    mask: bytes | None = None


def parse_frames(data: bytes) -> list[Frame]:
    """Read whole frames from ``data`` (asserting nothing is left over)."""
    frames = []
    pos = 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        length = second & 0x7F
        pos += 2
        if length == 126:
            length = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
        mask = None
        if second & 0x80:
            mask = data[pos : pos + 4]
            pos += 4
        payload = data[pos : pos + length]
        assert len(payload) == length, "truncated frame"
        pos += length
        if mask is not None:
            payload = apply_mask(payload, mask)
        frames.append(Frame(first & 0x0F, payload, bool(first & 0x80), (first >> 4) & 7, mask))
    return frames


# ----------------------------------------------------------------------
# Bytes out


@dataclasses.dataclass(frozen=True)
class Wire:
    """What a core wrote: the bytes, and whether END_OF_STREAM followed them."""

    data: bytes = b""
    eof: bool = False

    def then(self, later: Wire) -> Wire:
        """Append what was written later; nothing may follow END_OF_STREAM."""
        assert not (self.eof and (later.data or later.eof)), "written after END_OF_STREAM"
        return Wire(self.data + later.data, later.eof or self.eof)


def drain(conn: Connection) -> Wire:
    """Take ``data_to_send()``, checking that END_OF_STREAM comes once, last."""
    out = conn.data_to_send()
    for chunk in out:
        assert isinstance(chunk, (bytes, bytearray))  # states.Chunk
    ends = [i for i, chunk in enumerate(out) if chunk == END_OF_STREAM]
    assert ends in ([], [len(out) - 1]), f"END_OF_STREAM must be last and single: {out!r}"
    return Wire(b"".join(out), bool(ends))


# ----------------------------------------------------------------------
# Bytes in


def receive(conn: Connection, data: bytes) -> list[Event]:
    """The integrator's loop: feed ``data``, then apply a waiting failure.

    ``input_pending`` asks for ``receive_data(b"")`` once the events
    returned have been handled (here: at once).
    """
    events = conn.receive_data(data)
    if conn.input_pending:
        events += conn.receive_data(b"")
        assert not conn.input_pending
    return events


def describe(event: Event) -> object:
    """A value equal for equal events: exceptions and HTTP objects by content."""
    if isinstance(event, ConnectionFailed):
        return ("ConnectionFailed", type(event.error), event.error.close_code)
    if isinstance(event, HandshakeFailed):
        error = event.error
        return ("HandshakeFailed", type(error), error.http_status, describe_http(event.response))
    if isinstance(event, RequestReceived):
        request = event.request
        return ("RequestReceived", request.method, request.path, request.headers.items())
    if isinstance(event, Opened):
        return ("Opened", event.subprotocol, describe_http(event.response))
    return event  # messages, pings and closes compare by value


def describe_http(response: Response | None) -> object:
    if response is None:
        return None
    return (response.status, response.reason, response.headers.items(), response.body)


Respond = Callable[[Connection, Event], list[Event]]


def accept_requests(conn: Connection, event: Event) -> list[Event]:
    """A :data:`Respond` hook that accepts every upgrade request at once."""
    return conn.accept() if isinstance(event, RequestReceived) else []


@dataclasses.dataclass
class Fed:
    """The outcome of :func:`feed`.

    ``at[i]`` is the index of the input byte whose arrival returned
    ``events[i]`` when the input was fed one byte at a time.
    """

    events: list[Event]
    at: list[int]
    wire: Wire
    conn: Connection


def _run(
    conn: Connection, pieces: Iterable[bytes], respond: Respond | None
) -> tuple[list[Event], list[int], Wire]:
    events: list[Event] = []
    at: list[int] = []
    wire = Wire()
    for index, piece in enumerate(pieces):
        new = receive(conn, piece)
        pos = 0
        while pos < len(new):  # hooks may add events (accept() returns Opened...)
            if respond is not None:
                new[pos + 1 : pos + 1] = respond(conn, new[pos])
            pos += 1
        events += new
        at += [index] * len(new)
        wire = wire.then(drain(conn))
    return events, at, wire


def feed(make: Callable[[], Connection], data: bytes, respond: Respond | None = None) -> Fed:
    """Feed ``data`` whole to one fresh core, then byte by byte to another.

    Asserts that both runs return the same events, write the same bytes and
    end in the same state; returns the whole run, with the byte indexes of
    the bytewise run.
    """
    whole = make()
    events, _, wire = _run(whole, [data], respond)
    split = make()
    split_events, at, split_wire = _run(split, [data[i : i + 1] for i in range(len(data))], respond)
    assert [describe(e) for e in split_events] == [describe(e) for e in events]
    assert split_wire == wire
    assert split.state is whole.state
    assert split.close_sent == whole.close_sent
    assert split.close_received == whole.close_received
    return Fed(events, at, wire, whole)


# ----------------------------------------------------------------------
# Opened cores, alone or back to back


def opened(role: Role, options: Options | None = None) -> Connection:
    """A core of ``role`` in OPEN state, the handshake's bytes drained.

    A server is opened with RFC 6455 1.3's request, a client by the matching
    101 response; both handshakes are literals, not the other core's output.
    """
    options = options if options is not None else make_options()
    conn = Connection(role, options, random_bytes=rfc_random)
    if role is Role.SERVER:
        [request] = conn.receive_data(REQUEST)
        assert isinstance(request, RequestReceived)
        [event] = conn.accept()
    else:
        conn.connect(URI)
        assert drain(conn) == Wire(CLIENT_REQUEST)
        [event] = conn.receive_data(RESPONSE)
    assert isinstance(event, Opened)
    drain(conn)
    return conn


def opener(role: Role, options: Options | None = None) -> Callable[[], Connection]:
    """A factory of :func:`opened` cores, for :func:`feed`."""
    return lambda: opened(role, options)


def open_pair(
    client_options: Options | None = None,
    server_options: Options | None = None,
    random_bytes: Callable[[int], bytes] = rfc_random,
) -> tuple[Connection, Connection]:
    """A client and a server that did the opening handshake with each other."""
    client = Connection(Role.CLIENT, client_options or make_options(), random_bytes=random_bytes)
    server = Connection(Role.SERVER, server_options or make_options())
    client.connect(URI)
    [request] = receive(server, drain(client).data)
    assert isinstance(request, RequestReceived)
    [server_open] = server.accept()
    [client_open] = receive(client, drain(server).data)
    assert isinstance(server_open, Opened)
    assert isinstance(client_open, Opened)
    return client, server


def chunks(data: bytes, size: int | None) -> list[bytes]:
    """``data`` cut into pieces of ``size`` bytes (None: one piece)."""
    if size is None or not data:
        return [data] if data else []
    return [data[i : i + size] for i in range(0, len(data), size)]


def pump(a: Connection, b: Connection, chunk: int | None = None) -> tuple[list[Event], list[Event]]:
    """Carry bytes both ways until both cores are quiet.

    END_OF_STREAM from one side becomes ``receive_eof()`` on the other, after
    the bytes written before it. Returns the events of ``a`` and of ``b``.
    """
    got: dict[int, list[Event]] = {id(a): [], id(b): []}
    ended: set[int] = set()
    while a.wants_write or b.wants_write:
        for src, dst in ((a, b), (b, a)):
            if not src.wants_write:
                continue
            assert id(src) not in ended, "written after END_OF_STREAM"
            wire = drain(src)
            for piece in chunks(wire.data, chunk):
                got[id(dst)] += receive(dst, piece)
            if wire.eof:
                ended.add(id(src))
                got[id(dst)] += dst.receive_eof()
    return got[id(a)], got[id(b)]


def only(events: Sequence[Event], kind: type[Event]) -> list[Any]:
    """The events of one kind."""
    return [event for event in events if isinstance(event, kind)]


#: Parametrize a test over both roles.
ROLES = pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)


def first_invalid_utf8(data: bytes) -> int | None:
    """Where strict UTF-8 decoding of ``data`` must fail, or None if it is valid.

    The index of the first byte that no well-formed sequence allows at its
    place (Unicode 15, 3.9, table 3-7), or ``len(data)`` if the data ends in
    the middle of a sequence. Written apart from any codec, as the oracle of
    the "fail at the first invalid byte" tests.
    """
    # (lead byte range) -> (range of the second byte, count of continuation bytes)
    i = 0
    while i < len(data):
        lead = data[i]
        if lead < 0x80:
            i += 1
            continue
        if 0xC2 <= lead <= 0xDF:
            second, count = (0x80, 0xBF), 1
        elif lead == 0xE0:
            second, count = (0xA0, 0xBF), 2  # no overlong 3-byte forms
        elif lead == 0xED:
            second, count = (0x80, 0x9F), 2  # no UTF-16 surrogates
        elif 0xE1 <= lead <= 0xEF:
            second, count = (0x80, 0xBF), 2
        elif lead == 0xF0:
            second, count = (0x90, 0xBF), 3  # no overlong 4-byte forms
        elif 0xF1 <= lead <= 0xF3:
            second, count = (0x80, 0xBF), 3
        elif lead == 0xF4:
            second, count = (0x80, 0x8F), 3  # nothing beyond U+10FFFF
        else:
            return i  # 80-C1 cannot start a sequence, F5-FF never appear
        for k in range(1, count + 1):
            if i + k >= len(data):
                return len(data)
            low, high = second if k == 1 else (0x80, 0xBF)
            if not low <= data[i + k] <= high:
                return i + k
        i += count + 1
    return None


def speedups_flag(module: str, value: str | None, prelude: str = "") -> str:
    """Print ``module.SPEEDUPS`` from a fresh interpreter.

    ``AIRSOCKET_NO_SPEEDUPS`` is set to ``value`` (None: unset), and
    ``prelude`` runs before the import.
    """
    env = dict(os.environ)
    env.pop("AIRSOCKET_NO_SPEEDUPS", None)
    if value is not None:
        env["AIRSOCKET_NO_SPEEDUPS"] = value
    code = f"{prelude}import {module} as m; print(m.SPEEDUPS)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


_T = TypeVar("_T")


def traced_peak(work: Callable[[], _T]) -> tuple[_T, int]:
    """Run ``work()``; return its result and the peak of memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
