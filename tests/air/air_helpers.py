"""Helpers of the AIR tests: a bounded runner, an event recorder, raw peers, TLS.

Every test is a plain function that calls ``run(coroutine)``: the loop runs
in debug mode under a hard timeout, and any error the loop reports fails the
test. Misbehaving peers are written by hand over real sockets on 127.0.0.1,
so the bytes each test sends are the bytes it shows.

This directory has no ``__init__.py``: pytest puts it on ``sys.path`` and the
tests import this module by its name, ``air_helpers``.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import trustme

import airsocket
import raw_wire
from airsocket import WebSocket
from loop_support import run_bounded
from raw_wire import (  # noqa: F401 (re-exported to the tests)
    KEY,
    MASK,
    accept_key,
    answer_upgrade,
    close_frame,
    frame,
    free_port,
    header,
    switching,
    upgrade_request,
)

T = TypeVar("T")

#: Upper bound of one test's event loop run; far above what a passing test needs.
RUN_TIMEOUT = 30.0
#: Bound of one wait inside a test (an event that should come quickly).
STEP_TIMEOUT = 10.0
#: Every event type a WebSocket dispatches.
WS_EVENTS = (
    "connect",
    "close",
    "websocketData",
    "ioError",
    "securityError",
    "certificateError",
)


def run(
    coro: Coroutine[Any, Any, T], timeout: float = RUN_TIMEOUT, ignore: tuple[str, ...] = ()
) -> T:
    """Run ``coro`` in a debug event loop; fail on loop errors or a timeout."""
    return run_bounded(coro, timeout, ignore)


async def step(awaitable: Awaitable[T]) -> T:
    """Await something that must finish soon (bounded by STEP_TIMEOUT)."""
    return await asyncio.wait_for(awaitable, STEP_TIMEOUT)


class Recorder:
    """Records the events a dispatcher dispatches; waits for them."""

    def __init__(self, target: Any, types: tuple[str, ...] = WS_EVENTS) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()
        for kind in types:
            target.add_event_listener(kind, self._record)

    def _record(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    @property
    def types(self) -> list[str]:
        """The types of the events recorded, in order."""
        return [event.type for event in self.events]

    def of(self, kind: str) -> list[Any]:
        """The events of type ``kind``."""
        return [event for event in self.events if event.type == kind]

    async def wait(self, kind: str, count: int = 1) -> Any:
        """Wait until ``count`` events of ``kind`` were recorded; return the last."""

        async def waiting() -> Any:
            while len(self.of(kind)) < count:
                self._changed.clear()
                await self._changed.wait()
            return self.of(kind)[count - 1]

        return await step(waiting())

    async def wait_any(self, *kinds: str) -> Any:
        """Wait for the first event of one of ``kinds``; return it."""

        async def waiting() -> Any:
            while True:
                for event in self.events:
                    if event.type in kinds:
                        return event
                self._changed.clear()
                await self._changed.wait()

        return await step(waiting())


async def settle(loops: int = 20) -> None:
    """Let the loop run callbacks already due (to check that nothing else comes)."""
    for _ in range(loops):
        await asyncio.sleep(0)


# ----------------------------------------------------------------------
# airsocket peers (the asyncio API)


async def echo(ws: airsocket.Connection) -> None:
    """The echo handler."""
    async for message in ws:
        await ws.send(message)


def port_of(server: airsocket.Server) -> int:
    """The TCP port ``server`` listens on."""
    port: int = server.sockets[0].getsockname()[1]
    return port


# ----------------------------------------------------------------------
# Raw peers: bytes written by hand


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one frame; return (opcode, unmasked payload)."""
    _, opcode, payload = await raw_wire.read_frame(reader, timeout=STEP_TIMEOUT)
    return opcode, payload


async def read_head(reader: asyncio.StreamReader) -> str:
    """Read an HTTP head (up to the empty line) as text."""
    return await raw_wire.read_head(reader, timeout=STEP_TIMEOUT)


async def accept_upgrade(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *extra: str
) -> str:
    """Play a server: read the upgrade request, answer 101; return the request."""
    head = await read_head(reader)
    writer.write(answer_upgrade(head, *extra))
    await writer.drain()
    return head


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A TCP server on 127.0.0.1 running ``handler`` per connection; use with ``async with``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.done: asyncio.Future[None] | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.done is not None
        try:
            await self.handler(reader, writer)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # reported by finished(), not by the loop
            if not self.done.done():
                self.done.set_exception(exc)
        else:
            if not self.done.done():
                self.done.set_result(None)
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self.done = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self.done is not None
        self._server.close()
        if not self.done.done():
            self.done.cancel()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        """ws://127.0.0.1:port/"""
        return f"ws://127.0.0.1:{self.port}/"

    async def finished(self) -> None:
        """Wait for the first connection's handler to finish; raise what it raised."""
        assert self.done is not None
        await step(asyncio.shield(self.done))


async def raw_client(
    port: int, path: str = "/", *extra: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    """Connect and send an upgrade request; return reader, writer and the response head."""
    reader, writer = await step(asyncio.open_connection("127.0.0.1", port))
    writer.write(upgrade_request(path, *extra, host=f"127.0.0.1:{port}"))
    return reader, writer, await read_head(reader)


# ----------------------------------------------------------------------
# Open AIR connections


async def open_client(
    url: str, protocols: list[str] | None = None, **options: Any
) -> tuple[WebSocket, Recorder]:
    """Connect an AIR WebSocket and wait for its connect event."""
    ws = WebSocket(**options)
    recorder = Recorder(ws)
    ws.connect(url, protocols)
    event = await recorder.wait_any(
        "connect", "close", "ioError", "securityError", "certificateError"
    )
    assert event.type == "connect", recorder.events
    return ws, recorder


class AirServer:
    """A ServerSocket on 127.0.0.1 that adopts each connection with a WebSocket.

    ``setup(ws)`` runs on each new WebSocket before ``start_server``.
    """

    def __init__(self, setup: Callable[[WebSocket], None] | None = None, **options: Any) -> None:
        self.setup = setup
        self.options = options
        self.server = airsocket.ServerSocket(ssl=options.pop("server_ssl", None))
        self.sockets: list[WebSocket] = []
        self.recorders: list[Recorder] = []
        self._accepted = asyncio.Event()

    def _connection(self, event: Any) -> None:
        ws = WebSocket(**self.options)
        self.sockets.append(ws)
        self.recorders.append(Recorder(ws))
        if self.setup is not None:
            self.setup(ws)
        ws.start_server(event.socket)
        self._accepted.set()

    def start(self) -> AirServer:
        """Bind and listen; returns self."""
        self.server.add_event_listener("connect", self._connection)
        self.server.bind(0, "127.0.0.1")
        self.server.listen()
        return self

    @property
    def port(self) -> int:
        """The listening port."""
        return self.server.local_port

    async def accepted(self, count: int = 1) -> tuple[WebSocket, Recorder]:
        """Wait until ``count`` connections were adopted; return the last."""

        async def waiting() -> None:
            while len(self.sockets) < count:
                self._accepted.clear()
                await self._accepted.wait()

        await step(waiting())
        return self.sockets[count - 1], self.recorders[count - 1]

    def close(self) -> None:
        """Stop listening and close every adopted WebSocket."""
        self.server.close()
        for ws in self.sockets:
            ws.close()


def echo_setup(ws: WebSocket) -> None:
    """Echo every message back, as it came."""

    def on_data(event: Any) -> None:
        if event.format in (WebSocket.fmtTEXT, WebSocket.fmtBINARY):
            ws.send_message(event.format, event.string_data if event.format == 1 else event.data)

    ws.add_event_listener("websocketData", on_data)


# ----------------------------------------------------------------------
# TLS


class Certificates:
    """A throwaway CA, a server context for localhost and a client context trusting it."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.server = self.server_context(self.ca.issue_cert("localhost", "127.0.0.1"))
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)

    @staticmethod
    def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
        """A server context presenting ``cert``."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def expired(self) -> ssl.SSLContext:
        """A server context whose localhost certificate expired yesterday."""
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = self.ca.issue_cert(
            "localhost",
            not_before=now - datetime.timedelta(days=30),
            not_after=now - datetime.timedelta(days=1),
        )
        return self.server_context(cert)

    def wrong_host(self) -> ssl.SSLContext:
        """A server context whose valid certificate names another host."""
        return self.server_context(self.ca.issue_cert("example.org"))


def self_signed_context(tmp_path: Any) -> ssl.SSLContext:
    """A server context with a self-signed certificate for localhost (no CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "self-signed.pem"
    key_file = tmp_path / "self-signed.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context
