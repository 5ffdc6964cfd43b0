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
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import airsocket
import raw_wire
from loop_support import run_bounded as run_in_debug_loop
from raw_wire import (  # noqa: F401 (re-exported to the tests)
    KEY,
    MASK,
    accept_key,
    answer_upgrade,
    close_payload,
    free_port,
    parse_head,
    upgrade_request,
)

T = TypeVar("T")

#: Upper bound of one test's event loop run; far above what a passing test needs.
RUN_TIMEOUT = 20.0
#: Bound of a single wait inside a test (a read that should come quickly).
STEP_TIMEOUT = 5.0


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


def keeper(served: list[airsocket.Connection]) -> Callable[[airsocket.Connection], Awaitable[None]]:
    """A handler that hands its connection to the test and waits for the close."""

    async def handler(ws: airsocket.Connection) -> None:
        served.append(ws)
        await ws.wait_closed()

    return handler


async def served_connection(served: list[airsocket.Connection]) -> airsocket.Connection:
    """The first connection a :func:`keeper` handler was given (waiting for it)."""
    await eventually(lambda: bool(served))
    return served[0]


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
# Hand-made frames and handshakes (built by raw_wire)


def frame(opcode: int, payload: bytes = b"", *, mask: bytes | None = MASK, **fields: Any) -> bytes:
    """A frame as a client sends it: masked with MASK unless ``mask`` is None.

    ``fields`` are those of :func:`raw_wire.frame` (``fin``, ``rsv``, ``length``).
    """
    return raw_wire.frame(opcode, payload, mask=mask, **fields)


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

    async def read_head(self) -> str:
        """Read an HTTP head, through the blank line, as text."""
        return await raw_wire.read_head(self.reader, timeout=STEP_TIMEOUT)

    async def read_response(self) -> tuple[int, dict[str, str], bytes]:
        """Read an HTTP response: status, headers (lower-case names), body."""
        status_line, headers = parse_head(await self.read_head())
        length = int(headers.get("content-length", "0"))
        body = await step(self.reader.readexactly(length)) if length else b""
        return int(status_line.split()[1]), headers, body

    async def upgrade(self, path: str = "/", *extra: str) -> dict[str, str]:
        """Send a valid upgrade request and check that it is accepted."""
        self.send(upgrade_request(path, *extra))
        status, headers, _ = await self.read_response()
        assert status == 101, (status, headers)
        assert headers["sec-websocket-accept"] == accept_key(KEY)
        return headers

    async def read_frame(self) -> tuple[bool, int, bytes]:
        """Read one frame: (fin, opcode, unmasked payload)."""
        return await raw_wire.read_frame(self.reader, timeout=STEP_TIMEOUT)

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


async def accept_upgrade(peer: RawPeer, *extra: str, accept: str | None = None) -> str:
    """Server side: read the client's request and accept it; returns the head.

    ``extra`` header lines go in the 101 response; ``accept`` replaces its
    Sec-WebSocket-Accept.
    """
    head = await peer.read_head()
    peer.send(answer_upgrade(head, *extra, accept=accept))
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
