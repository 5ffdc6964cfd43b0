"""Frames on the wire (RFC 6455 section 5): opcodes, close codes, headers.

Parsing lives in :mod:`connection`'s receive loop (one flat loop over the
buffer is the hot path); this module holds the pieces both directions share:
the constants, the header serializer and the close-frame payload.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Iterator

from .exceptions import ArgumentError, InvalidPayload, ProtocolError
from .masking import Masker as _CMasker
from .masking import apply_mask
from .masking import frame as _c_frame

__all__ = [
    "SHORT_HEADERS",
    "CloseCode",
    "Masker",
    "MaskerPython",
    "Opcode",
    "build_frame",
    "build_frame_python",
    "flat_payload",
    "frame_header",
    "is_sendable_close_code",
    "is_valid_close_code",
    "parse_close",
    "serialize_close",
    "serialize_frame",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 5.2); also the AIR ``format`` of a WebSocketEvent."""

    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(enum.IntEnum):
    """Close status codes (RFC 6455 7.4.1 and the IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


#: Largest payload of a control frame (RFC 6455 5.5).
MAX_CONTROL_PAYLOAD = 125

_HEAD_7 = struct.Struct("!BB").pack
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack
_CLOSE_CODE = struct.Struct("!H")


def _short_headers(mask_bit: int) -> dict[int, tuple[bytes, ...]]:
    """The headers of final text and binary frames of fewer than 126 bytes, by opcode and length."""
    return {
        opcode: tuple(_HEAD_7(0x80 | opcode, mask_bit | length) for length in range(126))
        for opcode in (0x1, 0x2)
    }


#: ``SHORT_HEADERS[opcode][length]``: the header of an unmasked, final frame of
#: fewer than 126 bytes, built once: the lookup costs a third of a struct.pack
#: (the small-message echo sends one per message; bench "burst").
SHORT_HEADERS = _short_headers(0)
#: The same with the mask bit set, for a client's frames (MaskerPython.frame).
_MASKED_HEADERS = _short_headers(0x80)


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame on the wire (RFC 6455 7.4).

    1005, 1006 and 1015 are reserved for reporting and MUST NOT be sent
    (RFC 6455 7.4.1); 1004 and 1016-2999 are reserved or unassigned.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


#: Local callers may send exactly the codes that are valid on the wire.
is_sendable_close_code = is_valid_close_code


def flat_payload(payload: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """Return ``payload`` as single bytes: ``len()`` of the result is its size on the wire.

    A memoryview of wider items (``cast("I")``) or of several dimensions is
    cast to bytes; anything else is returned as it is. A frame's length is
    its payload's bytes, where ``len()`` of such a view counts its items.

    Raises:
        ArgumentError: a memoryview that is not C-contiguous (its bytes are
            not one run).
    """
    if type(payload) is not memoryview:
        return payload
    if not payload.c_contiguous:
        raise ArgumentError("a memoryview payload must be C-contiguous")
    if payload.ndim == 1 and payload.itemsize == 1:
        return payload
    return payload.cast("B")


def serialize_frame(
    opcode: int,
    payload: bytes | bytearray | memoryview,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bytes | None = None,
) -> bytes:
    """Return one whole frame: header, masking key and (masked) payload.

    Args:
        opcode: the frame's opcode.
        payload: the application data.
        fin: whether this is the last frame of its message.
        rsv1: the "compressed" bit of permessage-deflate (RFC 7692 6).
        mask: the 4-byte masking key; a client MUST mask (RFC 6455 5.3).
    """
    if type(payload) is memoryview:
        payload = flat_payload(payload)
    head = frame_header(opcode, len(payload), fin=fin, rsv1=rsv1, masked=mask is not None)
    if mask is None:
        return head + payload
    return head + mask + apply_mask(payload, mask)


def build_frame_python(
    opcode: int, payload: bytes | bytearray | memoryview, mask: bytes | None, rsv1: bool, /
) -> bytes:
    """A final frame, as :func:`serialize_frame` makes it: the pure-Python ``build_frame``."""
    return serialize_frame(opcode, payload, rsv1=rsv1, mask=mask)


#: ``build_frame(opcode, payload, mask, rsv1)``: one whole final frame. The C
#: version builds it in one allocation: 48 ns against 264 ns for a masked
#: 64-byte frame (bench/micro_frames.py).
build_frame = _c_frame if _c_frame is not None else build_frame_python

_KEYS = struct.Struct("4s")


def _keys(random_bytes: Callable[[int], bytes]) -> Iterator[bytes]:
    """Yield 4-byte keys cut from draws of ``random_bytes``: 64 bytes, then 1 KiB at a time."""
    size = 64
    while True:
        pool = random_bytes(size)
        if len(pool) != size:
            raise ValueError(f"random_bytes({size}) returned {len(pool)} bytes")
        for (key,) in _KEYS.iter_unpack(pool):
            yield key
        size = 1024


class MaskerPython:
    """A client's masking keys and the frames masked with them: the pure-Python ``Masker``.

    RFC 6455 5.3 wants unpredictable keys; one ``os.urandom`` call per frame
    costs a system call, so keys are cut from pooled draws. A generator's
    ``__next__`` over ``struct.iter_unpack`` costs 66 ns a key, against 149 ns
    for an object slicing its pool in ``__call__``. The first draw is small:
    many connections send a few frames, a close among them, and drawing
    1 KiB costs 2.0 us against 0.4 for 64 bytes (bench "hs_conc", client).
    A draw that fails, or returns another size, raises and ends this masker
    (its generator is done: later calls raise StopIteration); the C one
    draws again at the next call.

    Args:
        random_bytes: ``f(n) -> n`` strong random bytes (tests inject a fixed source).
    """

    __slots__ = ("key",)

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None:
        #: ``key()``: the next 4-byte masking key.
        self.key: Callable[[], bytes] = _keys(random_bytes).__next__

    def frame(self, opcode: int, payload: bytes | bytearray | memoryview, rsv1: bool, /) -> bytes:
        """Return one whole frame masked with the next key."""
        mask = self.key()
        length = len(payload)
        if length < 126 and not rsv1 and type(payload) is bytes and opcode in _MASKED_HEADERS:
            # A short message: a header looked up, not packed through
            # serialize_frame's calls (with apply_mask's own fast path: pure
            # client, bench/micro_client.py on uvloop, best of 6 interleaved
            # runs: 3.40 -> 3.01 us a message of "burst").
            return _MASKED_HEADERS[opcode][length] + mask + apply_mask(payload, mask)
        return build_frame(opcode, payload, mask, rsv1)


#: ``Masker(random_bytes)``: ``key()`` and ``frame(opcode, payload, rsv1)``
#: for a client. The C version draws the key and builds the frame in one
#: call: the generator's key cost 130 ns of the 1.33 us a client spends on a
#: message in process (bench "burst", client).
Masker: type[MaskerPython] = _CMasker if _CMasker is not None else MaskerPython


def frame_header(
    opcode: int, length: int, *, fin: bool = True, rsv1: bool = False, masked: bool = False
) -> bytes:
    """Return the header of a frame (RFC 6455 5.2), without the masking key."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return _HEAD_7(first, mask_bit | length)
    if length < 65536:
        return _HEAD_16(first, mask_bit | 126, length)
    return _HEAD_64(first, mask_bit | 127, length)


def serialize_close(code: int | None, reason: str = "") -> bytes:
    """Return the payload of a close frame (RFC 6455 5.5.1).

    ``code`` None sends an empty close frame (received as 1005).

    Raises:
        ArgumentError: the code may not be sent, or the reason is too long
            or not encodable as UTF-8.
    """
    if code is None:
        if reason:
            raise ArgumentError("a close reason needs a close code")
        return b""
    if not isinstance(code, int) or not is_sendable_close_code(code):
        raise ArgumentError(f"invalid close code {code!r}: use 1000-1003, 1007-1014 or 3000-4999")
    if not isinstance(reason, str):
        raise ArgumentError("the close reason must be a str")
    try:
        encoded = reason.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate: local misuse, not a crash
        raise ArgumentError("the close reason is not encodable as UTF-8") from exc
    if len(encoded) > MAX_CONTROL_PAYLOAD - 2:
        raise ArgumentError("the close reason is longer than 123 bytes in UTF-8")
    return _CLOSE_CODE.pack(code) + encoded


def parse_close(payload: bytes) -> tuple[int, str]:
    """Return ``(code, reason)`` from a received close payload; 1005 if empty.

    Raises:
        ProtocolError: one byte of payload, or a code not valid on the wire.
        InvalidPayload: a reason that is not UTF-8 (RFC 6455 5.5.1: 1007).
    """
    if not payload:
        return CloseCode.NO_STATUS_RCVD, ""
    if len(payload) == 1:
        raise ProtocolError("close frame with a one-byte payload")
    (code,) = _CLOSE_CODE.unpack_from(payload)
    if not is_valid_close_code(code):
        raise ProtocolError(f"invalid close code {code}")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError as exc:
        raise InvalidPayload("close reason is not valid UTF-8") from exc
    return code, reason
