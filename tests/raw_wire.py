"""WebSocket bytes by hand: frames, opening handshakes, reading them back; a free port.

The raw peers of the asyncio, AIR and blocking tests (``aio_helpers``,
``air_helpers``, ``sync/helpers.py``) write and read the wire through these
helpers, so that a test shows the bytes it sends without going through the
code under test. Header lines are passed without their CRLF, one string a
line. Nothing here touches ``airsocket``.

Importable as ``raw_wire`` (``pythonpath = ["tests"]`` in pyproject.toml),
like ``loop_support``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import struct
from collections.abc import Generator

#: RFC 6455 1.3: appended to Sec-WebSocket-Key before hashing.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: A fixed masking key for hand-made client frames; any key is valid.
MASK = b"\x37\xfa\x21\x3d"
#: The Sec-WebSocket-Key of hand-made upgrade requests.
KEY = base64.b64encode(b"0123456789abcdef").decode()

#: What :func:`parse_frame` returns: (FIN, opcode, unmasked payload).
FrameParts = tuple[bool, int, bytes]


# ----------------------------------------------------------------------
# Frames


def mask_bytes(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the repeated 4-byte ``mask`` (RFC 6455 5.3); its own inverse."""
    if not payload:
        return b""
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """One frame (RFC 6455 5.2): FIN, RSV bits (0-7), opcode; unmasked unless ``mask``.

    ``length`` overrides the length written in the header (to lie about it).
    """
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        head = struct.pack("!BB", first, mask_bit | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    if mask is None:
        return head + payload
    return head + mask + mask_bytes(payload, mask)


def close_payload(code: int | None, reason: str | bytes = b"") -> bytes:
    """The payload of a close frame: ``code`` and ``reason`` (text as UTF-8); empty for None."""
    if code is None:
        return b""
    return struct.pack("!H", code) + (reason.encode() if isinstance(reason, str) else reason)


def close_frame(code: int | None, reason: str | bytes = b"", *, mask: bytes | None = None) -> bytes:
    """A close frame with ``code`` (no payload when None) and ``reason``."""
    return frame(0x8, close_payload(code, reason), mask=mask)


def parse_frame() -> Generator[int, bytes, FrameParts]:
    """Read one frame without I/O: yields how many bytes it needs next and is sent them.

    Returns (through StopIteration) FIN, the opcode and the unmasked payload.
    :func:`read_frame` drives it over an asyncio stream; a blocking peer
    drives it over its socket the same way.
    """
    first, second = yield 2
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", (yield 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", (yield 8))
    mask = (yield 4) if second & 0x80 else None
    payload = yield length
    if mask is not None:
        payload = mask_bytes(payload, mask)
    return bool(first & 0x80), first & 0x0F, payload


async def read_frame(reader: asyncio.StreamReader, *, timeout: float) -> FrameParts:
    """Read one frame from ``reader``: (FIN, opcode, unmasked payload).

    Each read must come within ``timeout`` seconds.
    """
    parser = parse_frame()
    need = next(parser)
    while True:
        data = await asyncio.wait_for(reader.readexactly(need), timeout)
        try:
            need = parser.send(data)
        except StopIteration as done:
            return done.value


# ----------------------------------------------------------------------
# Opening handshakes


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for ``key`` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def _head(*lines: str) -> bytes:
    """An HTTP head: ``lines`` joined by CRLF, then the blank line."""
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def upgrade_request(
    path: str = "/",
    *extra: str,
    method: str = "GET",
    host: str = "127.0.0.1",
    key: str = KEY,
    version: str = "13",
) -> bytes:
    """A client's upgrade request, with the ``extra`` header lines last."""
    return _head(
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        f"Sec-WebSocket-Version: {version}",
        *extra,
    )


def switching(key: str, *extra: str, accept: str | None = None) -> bytes:
    """A 101 response to ``key`` with the ``extra`` header lines last.

    ``accept`` replaces the right Sec-WebSocket-Accept (to send a wrong one).
    """
    return _head(
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept if accept is not None else accept_key(key)}",
        *extra,
    )


def parse_head(head: str) -> tuple[str, dict[str, str]]:
    """Split an HTTP head into its first line and its headers.

    Header names are lower-cased; of a repeated name, the first value is kept.
    """
    first, *lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
    return first, headers


def header(head: str, name: str) -> str | None:
    """The value of header ``name`` in ``head`` (case-insensitive), or None."""
    return parse_head(head)[1].get(name.lower())


def answer_upgrade(request_head: str, *extra: str, accept: str | None = None) -> bytes:
    """The 101 response accepting the upgrade request ``request_head`` (see :func:`switching`)."""
    key = header(request_head, "Sec-WebSocket-Key")
    assert key is not None, request_head
    return switching(key, *extra, accept=accept)


async def read_head(reader: asyncio.StreamReader, *, timeout: float) -> str:
    """Read an HTTP head from ``reader``, through the blank line, as text (Latin-1).

    It must come within ``timeout`` seconds.
    """
    return (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)).decode("latin-1")


# ----------------------------------------------------------------------
# Sockets


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def segments_sent(sock: socket.socket) -> int:
    """Linux's count of the TCP segments ``sock`` sent (``tcpi_segs_out``, Linux 4.2+)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, _SEGS_OUT_OFFSET)[0])


#: Where ``tcpi_segs_out`` is in Linux's ``struct tcp_info``: 8 bytes of
#: small fields, 24 32-bit counters, then 4 64-bit ones.
_SEGS_OUT_OFFSET = 8 + 24 * 4 + 4 * 8
