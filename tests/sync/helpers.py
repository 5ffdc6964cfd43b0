"""Helpers for the blocking API's tests: servers in threads, raw-socket peers, TLS.

Peers that misbehave on purpose are written by hand over real sockets on
127.0.0.1, so the bytes each test sends are exactly the bytes it shows.
Every wait is bounded by STEP: a test that should pass never comes near it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import queue
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import trustme

import airsocket
import airsocket.sync
from airsocket.sync import Server

#: Bound of one wait that should end quickly (a read, a join).
STEP = 5.0
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def echo(ws: airsocket.sync.Connection) -> None:
    """The echo handler."""
    for message in ws:
        ws.send(message)


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """Run ``server.serve_forever()`` in a thread; shut it down on the way out."""
    thread = threading.Thread(target=server.serve_forever, name="test-serve-forever")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(STEP)
        assert not thread.is_alive(), "serve_forever did not return"


@contextlib.contextmanager
def sync_server(handler: Callable[..., Any] = echo, **options: Any) -> Iterator[Server]:
    """A running airsocket.sync server on 127.0.0.1."""
    with airsocket.sync.serve(handler, "127.0.0.1", 0, **options) as server, running(server):
        yield server


def url(server: Server, scheme: str = "ws", path: str = "/") -> str:
    """The URL of ``server`` on 127.0.0.1."""
    return f"{scheme}://127.0.0.1:{server.port}{path}"


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) trusting a throwaway CA for 127.0.0.1."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


# ----------------------------------------------------------------------
# The asyncio API in a thread, for interop


@contextlib.contextmanager
def asyncio_server(handler: Callable[[Any], Awaitable[None]], **options: Any) -> Iterator[int]:
    """Run ``airsocket.serve(handler)`` in a thread of its own; yields the port."""
    ready: queue.Queue[tuple[asyncio.AbstractEventLoop, asyncio.Event, int]] = queue.Queue()

    async def main() -> None:
        stop = asyncio.Event()
        async with airsocket.serve(handler, "127.0.0.1", 0, **options) as server:
            port = server.sockets[0].getsockname()[1]
            ready.put((asyncio.get_running_loop(), stop, port))
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="test-asyncio-server")
    thread.start()
    loop, stop, port = ready.get(timeout=STEP)
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(STEP)
        assert not thread.is_alive(), "the asyncio server did not stop"


# ----------------------------------------------------------------------
# Hand-made peers


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    """One unmasked frame, as a server sends it."""
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        header = struct.pack("!BB", first, len(payload))
    elif len(payload) < 1 << 16:
        header = struct.pack("!BBH", first, 126, len(payload))
    else:
        header = struct.pack("!BBQ", first, 127, len(payload))
    return header + payload


def accept_for(key: str) -> str:
    """Sec-WebSocket-Accept for ``key`` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class RawPeer:
    """One end of a TCP connection that speaks bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(STEP)
        self._buffer = b""

    def read_exactly(self, size: int) -> bytes:
        """Read ``size`` bytes (fails at EOF)."""
        while len(self._buffer) < size:
            data = self.sock.recv(65536)
            assert data, "unexpected EOF"
            self._buffer += data
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def read_head(self) -> str:
        """Read an HTTP head, through the blank line."""
        while b"\r\n\r\n" not in self._buffer:
            data = self.sock.recv(65536)
            assert data, "unexpected EOF"
            self._buffer += data
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        return head.decode("latin-1")

    def read_frame(self) -> tuple[int, bytes]:
        """Read one frame: (opcode, unmasked payload)."""
        first, second = self.read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.read_exactly(8))
        mask = self.read_exactly(4) if second & 0x80 else None
        payload = self.read_exactly(length)
        if mask is not None and payload:
            repeated = (mask * (length // 4 + 1))[:length]
            value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
            payload = value.to_bytes(length, "big")
        return first & 0x0F, payload

    def drain(self, size: int) -> None:
        """Read and drop ``size`` bytes."""
        size -= len(self._buffer)
        self._buffer = b""
        chunk = bytearray(1 << 20)
        while size > 0:
            got = self.sock.recv_into(chunk, min(size, len(chunk)))
            assert got, "unexpected EOF"
            size -= got

    def read_close(self) -> tuple[int, str]:
        """Read frames until a close frame; return its code and reason."""
        while True:
            opcode, payload = self.read_frame()
            if opcode == 8:
                (code,) = struct.unpack("!H", payload[:2])
                return code, payload[2:].decode()

    def at_eof(self) -> bool:
        """Read and drop everything until EOF; True when it came."""
        with contextlib.suppress(ConnectionError):
            while self.sock.recv(65536):
                pass
        return True

    def send(self, data: bytes) -> None:
        """Write ``data``."""
        self.sock.sendall(data)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


@contextlib.contextmanager
def raw_server(
    answer: Callable[[RawPeer], None] | None = None,
) -> Iterator[tuple[int, queue.Queue[RawPeer]]]:
    """Listen on 127.0.0.1; a thread accepts one client and runs ``answer(peer)``.

    By default ``answer`` accepts the upgrade. Yields the port and a queue
    that receives the peer once answered.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    peers: queue.Queue[RawPeer] = queue.Queue()
    answer = answer or accept_upgrade

    def serve() -> None:
        with contextlib.suppress(OSError):  # the test ended without a client
            sock, _ = listener.accept()
            peer = RawPeer(sock)
            answer(peer)
            peers.put(peer)

    listener.settimeout(STEP)
    thread = threading.Thread(target=serve, name="test-raw-server")
    thread.start()
    try:
        yield listener.getsockname()[1], peers
    finally:
        thread.join(STEP)
        listener.close()
        while not peers.empty():
            peers.get().close()


def accept_upgrade(peer: RawPeer) -> None:
    """Read the client's upgrade request and accept it (no extension)."""
    head = peer.read_head()
    key = next(
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")
        if line.lower().startswith("sec-websocket-key:")
    )
    peer.send(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept_for(key)}\r\n\r\n".encode()
    )


@contextlib.contextmanager
def raw_connection(**options: Any) -> Iterator[tuple[airsocket.sync.Connection, RawPeer]]:
    """A client connected to a hand-made peer that accepted the upgrade.

    ``close_timeout`` defaults to 0.05 s: the peer never answers a close frame.
    """
    options.setdefault("close_timeout", 0.05)
    with (
        raw_server() as (port, peers),
        airsocket.sync.connect(f"ws://127.0.0.1:{port}/", **options) as ws,
    ):
        yield ws, peers.get(timeout=STEP)
