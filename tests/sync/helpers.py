"""Helpers for the blocking API's tests: servers in threads, raw-socket peers, TLS.

Peers that misbehave on purpose are written by hand over real sockets on
127.0.0.1, so the bytes each test sends are exactly the bytes it shows.
Every wait is bounded by STEP: a test that should pass never comes near it.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from raw_wire import answer_upgrade, frame, parse_frame  # noqa: F401 (frame: re-exported)

#: Bound of one wait that should end quickly (a read, a join).
STEP = 5.0


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
# Hand-made peers (their bytes built by raw_wire)


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
        parser = parse_frame()
        need = next(parser)
        while True:
            try:
                need = parser.send(self.read_exactly(need))
            except StopIteration as done:
                _, opcode, payload = done.value
                return opcode, payload

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
    peer.send(answer_upgrade(peer.read_head()))


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
