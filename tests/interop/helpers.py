"""What the interoperability tests share: payloads, our server, the Node peer.

Every wait is bounded by :data:`TIMEOUT`, so that a peer that stays silent
fails its test with a message instead of hanging until pytest-timeout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import airsocket

T = TypeVar("T")

#: Seconds any single step may take; generous for 16 MiB through deflate on 2 cores.
TIMEOUT = 30.0
MiB = 1024 * 1024
BIG = 16 * MiB
#: A peer's own limit must be above BIG (aiohttp defaults to 4 MiB, websockets to 1 MiB).
PEER_MAX_SIZE = 32 * MiB

NODE_DIR = Path(__file__).parent / "node"
NODE_PEER = NODE_DIR / "peer.js"

# Non-ASCII on purpose: a peer that mixes up characters and bytes shows here.
TEXT = "héllo wörld ✓ 🚀"
# Compresses well, so that permessage-deflate has something to do.
COMPRESSIBLE = "airsocket speaks permessage-deflate. " * 30_000


async def bounded(awaitable: Awaitable[T], timeout: float = TIMEOUT) -> T:
    """Await with a time limit; asyncio.timeout() would need Python 3.11."""
    return await asyncio.wait_for(awaitable, timeout)


def sha256(data: str | bytes) -> str:
    """Hex digest of a message as it travels: text as UTF-8."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _big_payloads() -> tuple[bytes, str]:
    # Random, so that neither deflate nor an off-by-a-chunk bug can hide a
    # corruption; the text is base64 of random bytes, 16 MiB of ASCII.
    binary = os.urandom(BIG)
    text = base64.b64encode(os.urandom(BIG * 3 // 4)).decode()
    assert len(text) == BIG
    return binary, text


BIG_BINARY, BIG_TEXT = _big_payloads()

#: (id, message) pairs every peer must round trip exactly, in both directions.
MESSAGES: list[tuple[str, str | bytes]] = [
    ("text", TEXT),
    ("binary", bytes(range(256)) * 4),
    ("empty-text", ""),
    ("empty-binary", b""),
    ("compressible-text", COMPRESSIBLE),
    ("big-binary", BIG_BINARY),
    ("big-text", BIG_TEXT),
]


def extension_names(header: str | None) -> list[str]:
    """The extension names of a Sec-WebSocket-Extensions value, parameters dropped."""
    if not header:
        return []
    return [item.split(";")[0].strip().lower() for item in header.split(",")]


# ----------------------------------------------------------------------
# Our server


@dataclasses.dataclass
class ConnectionRecord:
    """What a server (ours or a Python peer's) saw on one connection.

    Read it after :meth:`finished`; headers are the server's own type.
    """

    path: str
    subprotocol: str | None
    request_headers: Any
    response_headers: Any
    received: list[str | bytes] = dataclasses.field(default_factory=list)
    latency: float | None = None
    close_code: int | None = None
    close_reason: str | None = None
    error: BaseException | None = None
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def finished(self) -> ConnectionRecord:
        """Wait until the handler has returned and the connection is closed."""
        await bounded(self.done.wait())
        return self


class OurServer:
    """airsocket's server, with a behaviour picked by the request path.

    ``/echo`` (any other path too) echoes every message; ``/close/CODE/REASON``
    closes at once with that code and reason; ``/ping`` pings the client,
    sends ``"pong received"`` once the PONG is back, then echoes. With
    ``page``, a plain GET of ``/`` is answered with that HTML through
    ``process_request``. Make and use it on one event loop.
    """

    def __init__(self, *, page: str | None = None, **options: Any) -> None:
        if page is not None:
            options["process_request"] = self._serve_page
        self.page = page
        self.options = options
        self.port = 0
        self._records: asyncio.Queue[ConnectionRecord] | None = None
        self._serve: airsocket.serve | None = None

    def url(self, path: str = "/echo") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> OurServer:
        self._records = asyncio.Queue()
        self._serve = airsocket.serve(self._handle, "127.0.0.1", 0, **self.options)
        server = await self._serve.__aenter__()
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._serve is not None
        await bounded(self._serve.__aexit__(None, None, None))

    async def next_connection(self) -> ConnectionRecord:
        """The record of the next connection our handler runs for."""
        assert self._records is not None
        return await bounded(self._records.get())

    def _serve_page(self, connection: Any, request: airsocket.Request) -> Any:
        if request.headers.get("Upgrade") is None and request.path == "/":
            assert self.page is not None
            headers = airsocket.Headers([("Content-Type", "text/html; charset=utf-8")])
            return airsocket.Response(200, "OK", headers, self.page.encode())
        return None

    async def _handle(self, ws: airsocket.Connection) -> None:
        assert ws.request is not None and ws.response is not None
        assert self._records is not None
        record = ConnectionRecord(
            path=ws.request.path,
            subprotocol=ws.subprotocol,
            request_headers=ws.request.headers,
            response_headers=ws.response.headers,
        )
        self._records.put_nowait(record)
        try:
            if record.path.startswith("/close/"):
                _, _, code, reason = record.path.split("/", 3)
                await ws.close(int(code), unquote(reason))
                return
            if record.path == "/ping":
                record.latency = await ws.ping(b"airsocket")
                await ws.send("pong received")
            async for message in ws:
                record.received.append(message)
                await ws.send(message)
        except airsocket.ConnectionClosed as exc:
            record.error = exc
        finally:
            # The handler's return closes with 1000; wait for that close to be
            # over so that the codes below are final.
            with contextlib.suppress(Exception):
                await bounded(ws.close())
            record.close_code = ws.close_code
            record.close_reason = ws.close_reason
            record.done.set()


# ----------------------------------------------------------------------
# Node's ws, driven through pipes


class NodePeer:
    """One ``node peer.js`` process: commands in on stdin, events out on stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        #: Every event read so far, in order, including the ones skipped by ``next``.
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, node: str, *args: str) -> NodePeer:
        process = await asyncio.create_subprocess_exec(
            node,
            str(NODE_PEER),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=4 * MiB,
        )
        return cls(process)

    async def next(self, kind: str) -> dict[str, Any]:
        """The next event of ``kind``; events of other kinds are kept in ``events``."""
        assert self.process.stdout is not None
        while True:
            line = await bounded(self.process.stdout.readline())
            if not line:
                raise AssertionError(
                    f"node peer ended while waiting for {kind!r}; "
                    f"events {self.events!r}; stderr {await self._stderr()!r}"
                )
            event = json.loads(line)
            self.events.append(event)
            if event["event"] == kind:
                return event

    async def command(self, op: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        await bounded(self.process.stdin.drain())

    async def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            await self.command("send", text=message)
        else:
            await self.command("send", base64=base64.b64encode(message).decode())

    async def stop(self) -> None:
        """End the process: closing stdin makes it exit; kill it if it does not."""
        process = self.process
        if process.returncode is None:
            assert process.stdin is not None
            with contextlib.suppress(OSError):
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()

    async def _stderr(self) -> bytes:
        assert self.process.stderr is not None
        try:
            return await asyncio.wait_for(self.process.stderr.read(), 5)
        except asyncio.TimeoutError:
            return b"<stderr still open>"


@contextlib.asynccontextmanager
async def node_peer(node: str, *args: str) -> AsyncIterator[NodePeer]:
    """Run ``node peer.js ARGS`` for the block; it is stopped on the way out."""
    peer = await NodePeer.start(node, *args)
    try:
        yield peer
    finally:
        await peer.stop()


def assert_same(got: object, sent: str | bytes) -> None:
    """``got == sent``, type included, with a short message for 16 MiB payloads."""
    assert type(got) is type(sent), f"{type(got).__name__} instead of {type(sent).__name__}"
    assert isinstance(got, (str, bytes))
    assert len(got) == len(sent), f"length {len(got)} instead of {len(sent)}"
    assert sha256(got) == sha256(sent), "same length, different content"


def assert_message_event(event: dict[str, Any], message: str | bytes) -> None:
    """Check a Node ``message`` event against the message that was sent."""
    assert event["binary"] is isinstance(message, bytes)
    raw = message.encode() if isinstance(message, str) else message
    assert event["length"] == len(raw)
    assert event["sha256"] == sha256(message)


def run(main: Callable[[], Awaitable[T]], timeout: float = 100.0) -> T:
    """asyncio.run for a test body: the tests are plain functions, no plugin.

    The bound is below pytest-timeout's 120 s so that a hung test fails with
    a traceback of where it waited rather than being killed.
    """
    return asyncio.run(asyncio.wait_for(main(), timeout))


class LoopThread:
    """An asyncio event loop in a thread of its own.

    For tests whose main thread is busy elsewhere (Playwright's sync API
    runs its own loop there): coroutines are handed over with :meth:`run`.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="interop-loop")
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        """Run ``coroutine`` on the loop and return its result (bounded)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()
