"""airsocket against the websockets library (its asyncio client and server)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import unquote

import pytest
from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as their_serve
from websockets.exceptions import ConnectionClosed as TheirConnectionClosed

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


def their_connect(url: str, **options: Any) -> Any:
    """websockets' client, with room for the big messages."""
    options.setdefault("max_size", PEER_MAX_SIZE)
    return websockets_connect(url, **options)


class TheirServer:
    """A websockets server that behaves like :class:`OurServer`, path for path."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("max_size", PEER_MAX_SIZE)
        self.options = options
        self.port = 0
        self._records: asyncio.Queue[ConnectionRecord] = asyncio.Queue()
        self._serve: Any = None

    def url(self, path: str = "/echo") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> TheirServer:
        self._serve = their_serve(self._handle, "127.0.0.1", 0, **self.options)
        server = await self._serve.__aenter__()
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await bounded(self._serve.__aexit__(None, None, None))

    async def next_connection(self) -> ConnectionRecord:
        return await bounded(self._records.get())

    async def _handle(self, ws: ServerConnection) -> None:
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
                pong = await ws.ping(b"websockets")
                record.latency = await bounded(pong)
                await ws.send("pong received")
            async for message in ws:
                record.received.append(message)
                await ws.send(message)
        except TheirConnectionClosed as exc:
            record.error = exc
        finally:
            with contextlib.suppress(Exception):
                await bounded(ws.close())
            record.close_code = ws.close_code
            record.close_reason = ws.close_reason
            record.done.set()


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
        assert len(record.received) == 1
        assert_same(record.received[0], message)

    run(main)


@pytest.mark.parametrize("message", MESSAGE_VALUES, ids=MESSAGE_IDS)
def test_their_client_our_server_round_trip(message: str | bytes) -> None:
    async def main() -> None:
        async with OurServer() as server:
            async with their_connect(server.url()) as ws:
                await ws.send(message)
                assert_same(await bounded(ws.recv()), message)
            record = await (await server.next_connection()).finished()
        assert len(record.received) == 1
        assert_same(record.received[0], message)

    run(main)


def test_many_messages_keep_their_order_both_ways() -> None:
    # Pipelined sends with no wait in between: batching on either side must
    # neither reorder nor merge messages.
    sent: list[str | bytes] = [f"{i} {TEXT}" if i % 2 else bytes([i % 256]) * i for i in range(300)]

    async def main() -> None:
        async with TheirServer() as theirs, OurServer() as ours:
            async with airsocket.connect(theirs.url()) as ws:
                for message in sent:
                    await ws.send(message)
                assert [await bounded(ws.recv()) for _ in sent] == sent
            async with their_connect(ours.url()) as ws2:
                for message in sent:
                    await ws2.send(message)
                assert [await bounded(ws2.recv()) for _ in sent] == sent

    run(main)


# ----------------------------------------------------------------------
# Ping and pong


def test_our_client_ping_their_server() -> None:
    async def main() -> None:
        async with TheirServer() as server, airsocket.connect(server.url()) as ws:
            latency = await bounded(ws.ping())
            assert isinstance(latency, float)
            assert 0 < latency < 30
            assert ws.latency == latency
            # Still usable after the ping.
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
                assert await bounded(ws.recv()) == "pong received"
            record = await (await server.next_connection()).finished()
        assert isinstance(record.latency, float)
        assert 0 < record.latency < 30

    run(main)


def test_their_client_ping_is_answered_by_our_server() -> None:
    async def main() -> None:
        async with OurServer() as server, their_connect(server.url()) as ws:
            latency = await bounded(await ws.ping(b"from websockets"))
            assert isinstance(latency, float)

    run(main)


# ----------------------------------------------------------------------
# Subprotocols


def test_our_client_subprotocol_chosen_by_their_server() -> None:
    async def main() -> None:
        async with TheirServer(subprotocols=["superchat"]) as server:
            async with airsocket.connect(server.url(), subprotocols=["chat", "superchat"]) as ws:
                assert ws.subprotocol == "superchat"
                assert ws.response is not None
                assert ws.response.headers["Sec-WebSocket-Protocol"] == "superchat"
            record = await server.next_connection()
        assert record.subprotocol == "superchat"

    run(main)


def test_our_client_no_common_subprotocol_their_server_refuses() -> None:
    # websockets refuses the upgrade with 400 when it supports subprotocols
    # and the client offers none of them: we must report that status.
    async def main() -> None:
        async with TheirServer(subprotocols=["superchat"]) as server:
            with pytest.raises(airsocket.InvalidStatus) as caught:
                await airsocket.connect(server.url(), subprotocols=["chat"])
        assert caught.value.response.status == 400

    run(main)


def test_our_client_subprotocol_offered_to_server_without_any() -> None:
    async def main() -> None:
        async with (
            TheirServer() as server,
            airsocket.connect(server.url(), subprotocols=["chat"]) as ws,
        ):
            assert ws.subprotocol is None
            assert ws.response is not None
            assert "Sec-WebSocket-Protocol" not in ws.response.headers
            await ws.send("still works")
            assert await bounded(ws.recv()) == "still works"

    run(main)


def test_their_client_subprotocol_chosen_by_our_server() -> None:
    # We pick the first subprotocol in the client's order that we support.
    async def main() -> None:
        async with OurServer(subprotocols=["superchat", "chat"]) as server:
            async with their_connect(server.url(), subprotocols=["chat", "superchat"]) as ws:
                assert ws.subprotocol == "chat"
            record = await server.next_connection()
        assert record.subprotocol == "chat"

    run(main)


def test_their_client_no_common_subprotocol_our_server_accepts_without() -> None:
    async def main() -> None:
        async with OurServer(subprotocols=["superchat"]) as server:
            async with their_connect(server.url(), subprotocols=["chat"]) as ws:
                assert ws.subprotocol is None
                assert "Sec-WebSocket-Protocol" not in ws.response.headers
                await ws.send("still works")
                assert await bounded(ws.recv()) == "still works"
            record = await server.next_connection()
        assert record.subprotocol is None

    run(main)


# ----------------------------------------------------------------------
# Close codes and reasons


def test_their_server_close_code_reaches_our_client() -> None:
    async def main() -> None:
        async with TheirServer() as server, airsocket.connect(server.url("/close/4000/bye")) as ws:
            with pytest.raises(airsocket.ConnectionClosed) as caught:
                await bounded(ws.recv())
            await bounded(ws.wait_closed())
            assert (caught.value.code, caught.value.reason) == (4000, "bye")
            assert (ws.close_code, ws.close_reason) == (4000, "bye")

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
                await ws.close(4000, "bye")
            record = await (await server.next_connection()).finished()
        assert (record.close_code, record.close_reason) == (4000, "bye")
        assert isinstance(record.error, airsocket.ConnectionClosedError)

    run(main)


def test_our_server_close_code_reaches_their_client() -> None:
    async def main() -> None:
        async with OurServer() as server, their_connect(server.url("/close/4001/later")) as ws:
            with pytest.raises(TheirConnectionClosed) as caught:
                await bounded(ws.recv())
            assert caught.value.rcvd is not None
            assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (4001, "later")

    run(main)


# ----------------------------------------------------------------------
# permessage-deflate

COMPRESSION_CASES = [
    pytest.param("deflate", "deflate", True, id="both"),
    pytest.param(None, "deflate", False, id="ours-off"),
    pytest.param("deflate", None, False, id="theirs-off"),
]


@pytest.mark.parametrize(("ours", "theirs", "negotiated"), COMPRESSION_CASES)
def test_our_client_their_server_compression(
    ours: str | None, theirs: str | None, negotiated: bool
) -> None:
    async def main() -> None:
        async with (
            TheirServer(compression=theirs) as server,
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
    ours: str | None, theirs: str | None, negotiated: bool
) -> None:
    async def main() -> None:
        async with OurServer(compression=ours) as server:
            async with their_connect(server.url(), compression=theirs) as ws:
                header = ws.response.headers.get("Sec-WebSocket-Extensions")
                assert extension_names(header) == (["permessage-deflate"] if negotiated else [])
                for message in (COMPRESSIBLE, COMPRESSIBLE.encode(), TEXT, b"\x00" * 40):
                    await ws.send(message)
                    assert_same(await bounded(ws.recv()), message)
            record = await (await server.next_connection()).finished()
        offered = record.request_headers.get("Sec-WebSocket-Extensions")
        assert extension_names(offered) == (["permessage-deflate"] if theirs else [])
        assert record.response_headers.get("Sec-WebSocket-Extensions") == header

    run(main)
