"""Optional C accelerator of airsocket: WebSocket payload masking, whole frames, HTTP heads.

Import :mod:`airsocket.protocol.masking` instead; it falls back to pure
Python when this extension is missing or disabled. :func:`scan_frames` and
:func:`frame` serve :mod:`airsocket.protocol.connection`'s hot path (and
:class:`Masker` a client's), :func:`split_head`, :func:`values_of` and :func:`serialize_fields`
:mod:`airsocket.protocol.http`'s parsing, lookups and serializing,
:func:`parse_upgrade` and :func:`accept_key` :mod:`airsocket.protocol.handshake`'s
usual request and accept key.
"""

from collections.abc import Callable
from typing import TypeVar

_E = TypeVar("_E")

def apply_mask(data: bytes | bytearray | memoryview, mask: bytes, /) -> bytes:
    """Return ``data`` XORed with the 4-byte masking key (RFC 6455 5.3)."""

def apply_mask_into(
    data: bytes | bytearray | memoryview,
    mask: bytes,
    out: bytearray | memoryview,
    offset: int = 0,
    /,
) -> None:
    """Write ``data`` XORed with ``mask`` into ``out[offset:offset + len(data)]``."""

class PayloadBuffer:
    """A payload of known size, filled by ``write`` and handed over by ``take``."""

    def __init__(self, size: int) -> None: ...
    def write(
        self, offset: int, data: bytes | bytearray | memoryview, mask: bytes | None = None, /
    ) -> None:
        """Copy ``data`` to ``offset``, XORed with ``mask`` when one is given."""

    def view(self) -> memoryview:
        """Return a writable view of the whole payload, to read into."""

    def unmask(self, offset: int, length: int, mask: bytes, /) -> None:
        """XOR ``length`` bytes from ``offset`` in place with ``mask``."""

    def take(self) -> bytes:
        """Return the payload (a copy while a view of it is still held)."""

class Masker:
    """A client's masking keys, cut from draws of ``random_bytes(n)``, and its masked frames."""

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None: ...
    def key(self) -> bytes:
        """Return the next 4-byte masking key."""

    def frame(self, opcode: int, payload: bytes | bytearray | memoryview, rsv1: bool, /) -> bytes:
        """Return one whole frame masked with the next key."""

def scan_frames(
    buf: bytes,
    pos: int,
    expect_mask: bool,
    max_size: int,
    events: list[_E],
    text_cls: Callable[[str], _E],
    binary_cls: Callable[[bytes], _E],
    inflate: Callable[[bytes], bytes] | None = None,
    /,
) -> int:
    """Parse the simple frames of ``buf`` from ``pos``; return the position after them.

    Simple: whole in ``buf``, FIN set, RSV1-3 clear, opcode 1 or 2, the mask
    bit equal to ``expect_mask``, at most ``max_size`` bytes of payload and,
    for text, valid UTF-8. Appends an event to ``events`` for each: for a
    class, an instance whose ``data`` attribute is set without calling
    ``__init__``; for another callable, ``text_cls(str)`` or
    ``binary_cls(bytes)``. Stops before the first other frame.

    With ``inflate``, a frame with RSV1 set (and otherwise simple, whatever
    its size) is simple too: its unmasked payload goes through ``inflate``,
    and text is then decoded as strict UTF-8. What ``inflate`` raises, and
    a UnicodeDecodeError, propagate: the decompressor has moved on.
    """

def frame(
    opcode: int,
    payload: bytes | bytearray | memoryview,
    mask: bytes | None,
    rsv1: bool,
    /,
) -> bytes:
    """Return one whole frame (FIN set), as ``frames.serialize_frame`` builds it."""

def split_head(
    head: bytes | bytearray | memoryview,
    max_head_size: int,
    max_line_size: int,
    max_header_count: int,
    /,
) -> tuple[str, list[tuple[str, str]], list[str]] | None:
    """Split a complete HTTP head into its first line, its fields and their lowercased names.

    None unless the head is within the limits and every header line is
    ``token ":" value``: exactly where :mod:`airsocket.protocol.http`'s
    Python path raises, which then names the error.
    """

def values_of(
    keys: list[str], items: list[tuple[str, str]], wanted: tuple[str, ...], /
) -> list[list[str]]:
    """For each name in ``wanted``, the values of the fields with that key, in order.

    ``keys`` and ``items`` as :class:`airsocket.protocol.http.Headers` keeps
    them; what ``Headers.values_of`` returns, in one call.
    """

def parse_upgrade(
    head: bytes | bytearray | memoryview,
    max_head_size: int,
    max_line_size: int,
    max_header_count: int,
    /,
) -> tuple[str, list[tuple[str, str]], list[str], str, list[str], list[str], list[str]] | None:
    """Split and check the usual upgrade request, as ``split_head`` and ``check_request`` would.

    ``(target, items, keys, key, origins, protocols, extensions)``, the last
    three the values of those fields; None for anything but a GET of
    HTTP/1.1 with no body, one non-empty Host, ``Upgrade: websocket``,
    ``Connection: Upgrade``, one Sec-WebSocket-Key of 16 bytes and
    ``Sec-WebSocket-Version: 13``.
    """

def accept_key(key: str, /) -> str | None:
    """The Sec-WebSocket-Accept value for ``key`` (SHA-1 and base64); None if it is not ASCII."""

def serialize_fields(items: list[tuple[str, str]], /) -> bytes | None:
    """The fields as ``name: value\\r\\n`` lines in ISO-8859-1; None unless all fit it."""
