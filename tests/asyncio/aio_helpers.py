"""Helpers for the asyncio tests: a bounded runner, servers, raw-socket peers.

Every test is a plain function that calls ``run(coroutine)`` (a fixture of
conftest.py): the loop runs in
debug mode under a hard timeout, and any error the loop reports (a task
exception nobody retrieved, a callback that raised) fails the test. Peers that
misbehave on purpose are written by hand over real sockets on 127.0.0.1, so
the bytes each test sends are exactly the bytes it shows.

This directory has no ``__init__.py`` on purpose: a package named ``asyncio``
under ``tests/`` (which pytest puts on ``sys.path``) would shadow the stdlib.
So this module is imported by its own name, ``aio_helpers``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import airsocket
from loop_support import run_bounded as run_in_debug_loop

T = TypeVar("T")

#: Upper bound of one test's event loop run; far above what a passing test needs.
RUN_TIMEOUT = 20.0
#: Bound of a single wait inside a test (a read that should come quickly).
STEP_TIMEOUT = 5.0
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: A fixed masking key for hand-made client frames; any key is valid.
MASK = b"\x37\xfa\x21\x3d"
KEY = base64.b64encode(b"0123456789abcdef").decode()


def run_bounded(
    coro: Coroutine[Any, Any, T], timeout: float = RUN_TIMEOUT, ignore: tuple[str, ...] = ()
) -> T:
    """Run ``coro`` in a debug event loop; fail on loop errors or a timeout."""
    return run_in_debug_loop(coro, timeout, ignore)


async def step(awaitable: Awaitable[T]) -> T:
    """Await something that must finish soon (bounded by STEP_TIMEOUT)."""
    return await asyncio.wait_for(awaitable, STEP_TIMEOUT)


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait until ``predicate()`` holds: for effects that follow an awaited one
    by a loop iteration or a TCP round trip. Fails after STEP_TIMEOUT."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await step(poll())


# ----------------------------------------------------------------------
# airsocket servers


async def echo(ws: airsocket.Connection) -> None:
    """The echo handler."""
    async for message in ws:
        await ws.send(message)


def ws_url(server: airsocket.Server, scheme: str = "ws", path: str = "/") -> str:
    """The URL of the first listening socket of ``server``."""
    host, port = server.sockets[0].getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}{path}"


def port_of(server: airsocket.Server) -> int:
    """The TCP port ``server`` listens on."""
    port: int = server.sockets[0].getsockname()[1]
    return port


# ----------------------------------------------------------------------
# Hand-made frames and handshakes


def mask_bytes(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the repeated 4-byte ``mask`` (RFC 6455 5.3)."""
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
    mask: bytes | None = MASK,
    length: int | None = None,
) -> bytes:
    """One frame: FIN, RSV bits (0-7), opcode; masked unless ``mask`` is None.

    ``length`` overrides the length written in the header (to lie about it).
    """
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        header = struct.pack("!BB", first, mask_bit | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if mask is None:
        return header + payload
    return header + mask + mask_bytes(payload, mask)


def close_payload(code: int, reason: str = "") -> bytes:
    """The payload of a close frame."""
    return struct.pack("!H", code) + reason.encode()


def accept_for(key: str) -> str:
    """Sec-WebSocket-Accept for ``key`` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def upgrade_request(
    path: str = "/",
    *,
    method: str = "GET",
    host: str = "127.0.0.1",
    key: str = KEY,
    version: str = "13",
    extra: str = "",
) -> bytes:
    """A client upgrade request; ``extra`` holds more header lines (CRLF-ended)."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n"
    ).encode()


class RawPeer:
    """One end of a TCP connection that speaks bytes, for hand-made traffic."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, port: int, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> RawPeer:
        """Connect to ``host``:``port``."""
        reader, writer = await step(
            asyncio.open_connection(
                host, port, ssl=ssl_context, server_hostname="localhost" if ssl_context else None
            )
        )
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        """Write ``data`` (not waiting for it to drain)."""
        self.writer.write(data)

    async def read_head(self) -> bytes:
        """Read an HTTP head, through the blank line."""
        return await step(self.reader.readuntil(b"\r\n\r\n"))

    async def read_response(self) -> tuple[int, dict[str, str], bytes]:
        """Read an HTTP response: status, headers (lower-case names), body."""
        head = (await self.read_head()).decode("latin-1")
        status_line, *lines = head.split("\r\n")[:-2]
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await step(self.reader.readexactly(length)) if length else b""
        return int(status_line.split()[1]), headers, body

    async def upgrade(self, path: str = "/", extra: str = "") -> dict[str, str]:
        """Send a valid upgrade request and check that it is accepted."""
        self.send(upgrade_request(path, extra=extra))
        status, headers, _ = await self.read_response()
        assert status == 101, (status, headers)
        assert headers["sec-websocket-accept"] == accept_for(KEY)
        return headers

    async def read_frame(self) -> tuple[bool, int, bytes]:
        """Read one frame: (fin, opcode, unmasked payload)."""
        first, second = await step(self.reader.readexactly(2))
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await step(self.reader.readexactly(2)))
        elif length == 127:
            (length,) = struct.unpack("!Q", await step(self.reader.readexactly(8)))
        mask = await step(self.reader.readexactly(4)) if second & 0x80 else None
        payload = await step(self.reader.readexactly(length))
        if mask is not None:
            payload = mask_bytes(payload, mask)
        return bool(first & 0x80), first & 0x0F, payload

    async def read_close(self) -> tuple[int, str]:
        """Read frames until a close frame; return its code and reason."""
        while True:
            _, opcode, payload = await self.read_frame()
            if opcode == 8:
                (code,) = struct.unpack("!H", payload[:2])
                return code, payload[2:].decode()

    async def at_eof(self) -> bool:
        """Whether the peer ended the stream (reads and drops what is left)."""
        with contextlib.suppress(ConnectionError):
            while await step(self.reader.read(65536)):
                pass
        return self.reader.at_eof()

    def close(self) -> None:
        """Close our end."""
        self.writer.close()

    def reset(self) -> None:
        """Close our end with a TCP RST (SO_LINGER 0), not a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


@contextlib.asynccontextmanager
async def raw_server(
    callback: Callable[[RawPeer], Awaitable[None]], host: str = "127.0.0.1"
) -> AsyncIterator[int]:
    """A TCP server running ``callback(peer)`` per connection; yields its port."""
    tasks: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        writers.append(writer)
        try:
            await callback(RawPeer(reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client under test hung up: that is the test's business
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        # Closing a transport feeds EOF to its reader, which ends the callbacks
        # that wait for more input (cancelling them makes asyncio 3.11 report
        # the cancelled task as an error).
        for writer in writers:
            writer.close()
        if tasks:
            await asyncio.wait(tasks, timeout=STEP_TIMEOUT)
        for task in tasks:
            assert task.done(), "a raw server callback did not end"
        await server.wait_closed()


async def accept_upgrade(peer: RawPeer, extra: str = "", accept: str | None = None) -> str:
    """Server side: read the client's request and accept it; returns the head."""
    head = (await peer.read_head()).decode("latin-1")
    key = next(
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")
        if line.lower().startswith("sec-websocket-key:")
    )
    peer.send(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept or accept_for(key)}\r\n"
            f"{extra}\r\n"
        ).encode()
    )
    return head


# ----------------------------------------------------------------------
# TLS


def make_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) from a throwaway CA for localhost."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    return server, client


def ipv6_available() -> bool:
    """Whether ::1 can be bound on this machine."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port() -> int:
    """A TCP port that nothing listens on (closed right after it was bound)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
