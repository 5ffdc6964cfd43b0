"""airsocket against aiohttp (ClientSession.ws_connect and web.WebSocketResponse)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp import WSMsgType, web

import airsocket

from .helpers import (
    COMPRESSIBLE,
    MESSAGES,
    PEER_MAX_SIZE,
    TEXT,
    ConnectionRecord,
    OurServer,
    assert_same,
    bounded,
    extension_names,
    run,
)

pytestmark = pytest.mark.interop

MESSAGE_IDS = [name for name, _ in MESSAGES]
MESSAGE_VALUES = [message for _, message in MESSAGES]


async def their_recv(ws: Any) -> str | bytes:
    """The next data message from an aiohttp WebSocket; anything else fails the test."""
    msg = await bounded(ws.receive())
    if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
        return msg.data  # type: ignore[no-any-return]
    raise AssertionError(f"expected a message, got {msg!r}")


async def their_send(ws: Any, message: str | bytes) -> None:
    if isinstance(message, str):
        await ws.send_str(message)
    else:
        await ws.send_bytes(message)


@contextlib.asynccontextmanager
async def their_connect(url: str, **options: Any) -> AsyncIterator[Any]:
    """aiohttp's client, with room for the big messages."""
    options.setdefault("max_msg_size", PEER_MAX_SIZE)
    async with aiohttp.ClientSession() as session, session.ws_connect(url, **options) as ws:
        yield ws


class TheirServer:
    """An aiohttp.web server that behaves like :class:`OurServer`, path for path."""

    def __init__(self, *, protocols: tuple[str, ...] = (), compress: bool = True) -> None:
        self.protocols = protocols
        self.compress = compress
        self.port = 0
        self._records: asyncio.Queue[ConnectionRecord] = asyncio.Queue()
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "/echo") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> TheirServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await bounded(self._runner.cleanup())

    async def next_connection(self) -> ConnectionRecord:
        return await bounded(self._records.get())

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        pinging = request.path == "/ping"
        ws = web.WebSocketResponse(
            protocols=self.protocols,
            compress=self.compress,
            max_msg_size=PEER_MAX_SIZE,
            # Without autoping, the PONG to our own PING reaches the handler.
            autoping=not pinging,
        )
        await ws.prepare(request)
        record = ConnectionRecord(
            path=request.path,
            subprotocol=ws.ws_protocol,
            request_headers=request.headers,
            response_headers=ws.headers,
        )
        self._records.put_nowait(record)
        try:
            if record.path.startswith("/close/"):
                _, _, code, reason = record.path.split("/", 3)
                await ws.close(code=int(code), message=unquote(reason).encode())
                return ws
            if pinging:
                loop = asyncio.get_running_loop()
                sent = loop.time()
                await ws.ping(b"aiohttp")
                pong = await bounded(ws.receive())
                assert (pong.type, pong.data) == (WSMsgType.PONG, b"aiohttp"), pong
                record.latency = loop.time() - sent
                await ws.send_str("pong received")
            while True:
                msg = await bounded(ws.receive())
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    record.received.append(msg.data)
                    await their_send(ws, msg.data)
                elif msg.type is WSMsgType.CLOSE:
                    record.close_code, record.close_reason = msg.data, msg.extra
                    break
                else:
                    record.error = AssertionError(f"unexpected {msg!r}")
                    break
        finally:
            await ws.close()
            if record.close_code is None:
                record.close_code = ws.close_code
            record.done.set()
        return ws


# ----------------------------------------------------------------------
# Messages


@pytest.mark.parametrize("message", MESSAGE_VALUES, ids=MESSAGE_IDS)
def test_our_client_their_server_round_trip(message: str | bytes) -> None:
    async def main() -> None:
        async with TheirServer() as server:
            async with airsocket.connect(server.url()) as ws:
                await ws.send(message)
                assert_same(await bounded(ws.recv()), message)
            record = await (await server.next_connection()).finished()
        assert record.error is None
        assert len(record.received) == 1
        assert_same(record.received[0], message)
        assert record.close_code == 1000

    run(main)


@pytest.mark.parametrize("message", MESSAGE_VALUES, ids=MESSAGE_IDS)
def test_their_client_our_server_round_trip(message: str | bytes) -> None:
    async def main() -> None:
        async with OurServer() as server:
            async with their_connect(server.url()) as ws:
                await their_send(ws, message)
                assert_same(await their_recv(ws), message)
            record = await (await server.next_connection()).finished()
        assert len(record.received) == 1
        assert_same(record.received[0], message)
        assert record.close_code == 1000

    run(main)


# ----------------------------------------------------------------------
# Ping and pong


def test_our_client_ping_their_server() -> None:
    async def main() -> None:
        async with TheirServer() as server, airsocket.connect(server.url()) as ws:
            latency = await bounded(ws.ping())
            assert isinstance(latency, float)
            assert 0 < latency < 30
            await ws.send("after ping")
            assert await bounded(ws.recv()) == "after ping"

    run(main)


def test_their_server_ping_is_answered_by_our_client() -> None:
    async def main() -> None:
        async with TheirServer() as server:
            async with airsocket.connect(server.url("/ping")) as ws:
                assert await bounded(ws.recv()) == "pong received"
            record = await (await server.next_connection()).finished()
        assert isinstance(record.latency, float)

    run(main)


def test_our_server_ping_their_client() -> None:
    async def main() -> None:
        async with OurServer() as server:
            async with their_connect(server.url("/ping")) as ws:
                assert await their_recv(ws) == "pong received"
            record = await (await server.next_connection()).finished()
        assert isinstance(record.latency, float)
        assert 0 < record.latency < 30

    run(main)


def test_their_client_ping_is_answered_by_our_server() -> None:
    async def main() -> None:
        async with OurServer() as server, their_connect(server.url(), autoping=False) as ws:
            await ws.ping(b"from aiohttp")
            pong = await bounded(ws.receive())
            assert (pong.type, pong.data) == (WSMsgType.PONG, b"from aiohttp")

    run(main)


# ----------------------------------------------------------------------
# Subprotocols


def test_our_client_subprotocol_chosen_by_their_server() -> None:
    async def main() -> None:
        async with TheirServer(protocols=("superchat",)) as server:
            async with airsocket.connect(server.url(), subprotocols=["chat", "superchat"]) as ws:
                assert ws.subprotocol == "superchat"
            record = await server.next_connection()
        assert record.subprotocol == "superchat"

    run(main)


def test_our_client_no_common_subprotocol_with_their_server() -> None:
    # aiohttp accepts the upgrade without a subprotocol when none matches.
    async def main() -> None:
        async with TheirServer(protocols=("superchat",)) as server:
            async with airsocket.connect(server.url(), subprotocols=["chat"]) as ws:
                assert ws.subprotocol is None
                assert ws.response is not None
                assert "Sec-WebSocket-Protocol" not in ws.response.headers
                await ws.send("still works")
                assert await bounded(ws.recv()) == "still works"
            record = await server.next_connection()
        assert record.subprotocol is None

    run(main)


def test_their_client_subprotocol_chosen_by_our_server() -> None:
    async def main() -> None:
        async with OurServer(subprotocols=["superchat", "chat"]) as server:
            async with their_connect(server.url(), protocols=("chat", "superchat")) as ws:
                assert ws.protocol == "chat"
            record = await server.next_connection()
        assert record.subprotocol == "chat"

    run(main)


def test_their_client_no_common_subprotocol_our_server_accepts_without() -> None:
    async def main() -> None:
        async with OurServer(subprotocols=["superchat"]) as server:
            async with their_connect(server.url(), protocols=("chat",)) as ws:
                assert ws.protocol is None
                await their_send(ws, "still works")
                assert await their_recv(ws) == "still works"
            record = await server.next_connection()
        assert record.subprotocol is None
        assert "Sec-WebSocket-Protocol" not in record.response_headers

    run(main)


# ----------------------------------------------------------------------
# Close codes and reasons


def test_their_server_close_code_reaches_our_client() -> None:
    async def main() -> None:
        async with TheirServer() as server, airsocket.connect(server.url("/close/4000/bye")) as ws:
            with pytest.raises(airsocket.ConnectionClosed) as caught:
                await bounded(ws.recv())
            assert (caught.value.code, caught.value.reason) == (4000, "bye")

    run(main)


def test_our_client_close_code_reaches_their_server() -> None:
    async def main() -> None:
        async with TheirServer() as server:
            ws = await airsocket.connect(server.url())
            await bounded(ws.close(4001, "later"))
            record = await (await server.next_connection()).finished()
        assert (record.close_code, record.close_reason) == (4001, "later")

    run(main)


def test_their_client_close_code_reaches_our_server() -> None:
    async def main() -> None:
        async with OurServer() as server:
            async with their_connect(server.url()) as ws:
                await ws.close(code=4000, message=b"bye")
            record = await (await server.next_connection()).finished()
        assert (record.close_code, record.close_reason) == (4000, "bye")

    run(main)


def test_our_server_close_code_reaches_their_client() -> None:
    async def main() -> None:
        async with OurServer() as server, their_connect(server.url("/close/4001/later")) as ws:
            msg = await bounded(ws.receive())
            assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 4001, "later")
            assert ws.close_code == 4001

    run(main)


# ----------------------------------------------------------------------
# permessage-deflate

COMPRESSION_CASES = [
    pytest.param("deflate", True, True, id="both"),
    pytest.param(None, True, False, id="ours-off"),
    pytest.param("deflate", False, False, id="theirs-off"),
]


@pytest.mark.parametrize(("ours", "theirs", "negotiated"), COMPRESSION_CASES)
def test_our_client_their_server_compression(
    ours: str | None, theirs: bool, negotiated: bool
) -> None:
    async def main() -> None:
        async with (
            TheirServer(compress=theirs) as server,
            airsocket.connect(server.url(), compression=ours) as ws,
        ):
            assert ws.response is not None
            header = ws.response.headers.get("Sec-WebSocket-Extensions")
            assert extension_names(header) == (["permessage-deflate"] if negotiated else [])
            for message in (COMPRESSIBLE, COMPRESSIBLE.encode(), TEXT, b"\x00" * 40):
                await ws.send(message)
                assert_same(await bounded(ws.recv()), message)

    run(main)


@pytest.mark.parametrize(("ours", "theirs", "negotiated"), COMPRESSION_CASES)
def test_their_client_our_server_compression(
    ours: str | None, theirs: bool, negotiated: bool
) -> None:
    async def main() -> None:
        async with OurServer(compression=ours) as server:
            # aiohttp offers permessage-deflate when compress is a window size.
            async with their_connect(server.url(), compress=15 if theirs else 0) as ws:
                assert bool(ws.compress) is negotiated
                for message in (COMPRESSIBLE, COMPRESSIBLE.encode(), TEXT, b"\x00" * 40):
                    await their_send(ws, message)
                    assert_same(await their_recv(ws), message)
            record = await (await server.next_connection()).finished()
        header = record.response_headers.get("Sec-WebSocket-Extensions")
        assert extension_names(header) == (["permessage-deflate"] if negotiated else [])

    run(main)
