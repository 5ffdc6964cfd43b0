"""airsocket against Node's ws (tests/interop/node/peer.js, driven through pipes)."""

from __future__ import annotations

import base64

import pytest

import airsocket

from .helpers import (
    COMPRESSIBLE,
    MESSAGES,
    TEXT,
    NodePeer,
    OurServer,
    assert_message_event,
    assert_same,
    bounded,
    extension_names,
    node_peer,
    run,
)

pytestmark = pytest.mark.interop

MESSAGE_IDS = [name for name, _ in MESSAGES]
MESSAGE_VALUES = [message for _, message in MESSAGES]


async def listening(peer: NodePeer) -> str:
    """The echo URL of a Node server peer, once it listens."""
    port = (await peer.next("listening"))["port"]
    return f"ws://127.0.0.1:{port}/echo"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ----------------------------------------------------------------------
# Messages


@pytest.mark.parametrize("message", MESSAGE_VALUES, ids=MESSAGE_IDS)
def test_our_client_their_server_round_trip(node: str, message: str | bytes) -> None:
    async def main() -> None:
        async with node_peer(node, "server", "--deflate") as peer:
            async with airsocket.connect(await listening(peer)) as ws:
                await ws.send(message)
                assert_same(await bounded(ws.recv()), message)
            assert_message_event(await peer.next("message"), message)
            closed = await peer.next("close")
        assert closed["code"] == 1000

    run(main)


@pytest.mark.parametrize("message", MESSAGE_VALUES, ids=MESSAGE_IDS)
def test_their_client_our_server_round_trip(node: str, message: str | bytes) -> None:
    async def main() -> None:
        async with OurServer() as server, node_peer(node, "client", server.url()) as peer:
            await peer.next("open")
            await peer.send(message)
            assert_message_event(await peer.next("message"), message)
            await peer.command("close", code=1000, reason="")
            assert (await peer.next("close"))["code"] == 1000
            record = await (await server.next_connection()).finished()
        assert len(record.received) == 1
        assert_same(record.received[0], message)
        assert record.close_code == 1000

    run(main)


def test_small_messages_inline_content_matches(node: str) -> None:
    # The digests above could agree on a wrong frame type; check content too.
    async def main() -> None:
        async with OurServer() as server, node_peer(node, "client", server.url()) as peer:
            await peer.next("open")
            await peer.send(TEXT)
            await peer.send(b"\x00\xff\x80")
            text, binary = await peer.next("message"), await peer.next("message")
            assert (text["binary"], text["data"]) == (False, TEXT)
            assert (binary["binary"], binary["data"]) == (True, b64(b"\x00\xff\x80"))

    run(main)


# ----------------------------------------------------------------------
# Ping and pong


def test_our_client_ping_their_server(node: str) -> None:
    async def main() -> None:
        async with node_peer(node, "server") as peer:
            async with airsocket.connect(await listening(peer)) as ws:
                latency = await bounded(ws.ping(b"airsocket"))
                assert isinstance(latency, float)
                assert 0 < latency < 30
                await ws.send("after ping")
                assert await bounded(ws.recv()) == "after ping"
            assert (await peer.next("ping"))["base64"] == b64(b"airsocket")

    run(main)


def test_their_server_ping_is_answered_by_our_client(node: str) -> None:
    async def main() -> None:
        async with node_peer(node, "server") as peer, airsocket.connect(await listening(peer)):
            await peer.next("open")
            await peer.command("ping", base64=b64(b"from node"))
            assert (await peer.next("pong"))["base64"] == b64(b"from node")

    run(main)


def test_our_server_ping_their_client(node: str) -> None:
    async def main() -> None:
        async with OurServer() as server, node_peer(node, "client", server.url("/ping")) as peer:
            assert (await peer.next("ping"))["base64"] == b64(b"airsocket")
            assert (await peer.next("message"))["data"] == "pong received"
            await peer.command("close", code=1000, reason="")
            record = await (await server.next_connection()).finished()
        assert isinstance(record.latency, float)
        assert 0 < record.latency < 30

    run(main)


def test_their_client_ping_is_answered_by_our_server(node: str) -> None:
    async def main() -> None:
        async with OurServer() as server, node_peer(node, "client", server.url()) as peer:
            await peer.next("open")
            await peer.command("ping", base64=b64(b"from node"))
            assert (await peer.next("pong"))["base64"] == b64(b"from node")

    run(main)


# ----------------------------------------------------------------------
# Subprotocols


def test_our_client_subprotocol_chosen_by_their_server(node: str) -> None:
    async def main() -> None:
        async with node_peer(node, "server", "--protocols", "superchat") as peer:
            url = await listening(peer)
            async with airsocket.connect(url, subprotocols=["chat", "superchat"]) as ws:
                assert ws.subprotocol == "superchat"
                opened = await peer.next("open")
        assert opened["protocol"] == "superchat"
        assert opened["request_protocols"] == "chat, superchat"

    run(main)


def test_our_client_no_common_subprotocol_with_their_server(node: str) -> None:
    # Our peer.js answers "none" (handleProtocols returns false): ws then
    # accepts the upgrade without a Sec-WebSocket-Protocol header.
    async def main() -> None:
        async with node_peer(node, "server", "--protocols", "superchat") as peer:
            url = await listening(peer)
            async with airsocket.connect(url, subprotocols=["chat"]) as ws:
                assert ws.subprotocol is None
                assert ws.response is not None
                assert "Sec-WebSocket-Protocol" not in ws.response.headers
                await ws.send("still works")
                assert await bounded(ws.recv()) == "still works"
            assert (await peer.next("open"))["protocol"] == ""

    run(main)


def test_their_client_subprotocol_chosen_by_our_server(node: str) -> None:
    async def main() -> None:
        async with OurServer(subprotocols=["superchat", "chat"]) as server:
            args = ("client", server.url(), "--protocols", "chat,superchat")
            async with node_peer(node, *args) as peer:
                assert (await peer.next("open"))["protocol"] == "chat"
            record = await server.next_connection()
        assert record.subprotocol == "chat"

    run(main)


def test_their_client_no_common_subprotocol_with_our_server(node: str) -> None:
    # We accept without a subprotocol; ws's client then refuses the
    # connection itself ("Server sent no subprotocol") and drops it.
    async def main() -> None:
        async with OurServer(subprotocols=["superchat"]) as server:
            args = ("client", server.url(), "--protocols", "chat")
            async with node_peer(node, *args) as peer:
                error = await peer.next("error")
                closed = await peer.next("close")
                assert "subprotocol" in error["message"]
                assert closed["code"] == 1006
                assert not [event for event in peer.events if event["event"] == "open"]
            record = await (await server.next_connection()).finished()
        assert record.subprotocol is None
        assert "Sec-WebSocket-Protocol" not in record.response_headers
        assert record.close_code == 1006

    run(main)


# ----------------------------------------------------------------------
# Close codes and reasons


def test_their_server_close_code_reaches_our_client(node: str) -> None:
    async def main() -> None:
        async with node_peer(node, "server") as peer:
            async with airsocket.connect(await listening(peer)) as ws:
                await peer.next("open")
                await peer.command("close", code=4000, reason="bye")
                with pytest.raises(airsocket.ConnectionClosed) as caught:
                    await bounded(ws.recv())
                assert (caught.value.code, caught.value.reason) == (4000, "bye")
            # Our answer echoes the code, as RFC 6455 5.5.1 suggests.
            assert (await peer.next("close"))["code"] == 4000

    run(main)


def test_our_client_close_code_reaches_their_server(node: str) -> None:
    async def main() -> None:
        async with node_peer(node, "server") as peer:
            ws = await airsocket.connect(await listening(peer))
            await bounded(ws.close(4001, "later"))
            closed = await peer.next("close")
        assert (closed["code"], closed["reason"]) == (4001, "later")

    run(main)


def test_their_client_close_code_reaches_our_server(node: str) -> None:
    async def main() -> None:
        async with OurServer() as server, node_peer(node, "client", server.url()) as peer:
            await peer.next("open")
            await peer.command("close", code=4000, reason="bye")
            await peer.next("close")
            record = await (await server.next_connection()).finished()
        assert (record.close_code, record.close_reason) == (4000, "bye")

    run(main)


def test_our_server_close_code_reaches_their_client(node: str) -> None:
    async def main() -> None:
        async with (
            OurServer() as server,
            node_peer(node, "client", server.url("/close/4001/later")) as peer,
        ):
            closed = await peer.next("close")
        assert (closed["code"], closed["reason"]) == (4001, "later")

    run(main)


# ----------------------------------------------------------------------
# permessage-deflate


def check_wire_size(event: dict[str, object], negotiated: bool) -> None:
    """COMPRESSIBLE, the first message on its connection, came compressed or not.

    ``bytes_read`` counts everything the peer read from TCP so far.
    """
    read = event["bytes_read"]
    assert isinstance(read, int)
    if negotiated:
        assert read < len(COMPRESSIBLE) // 10
    else:
        assert read > len(COMPRESSIBLE)


COMPRESSION_CASES = [
    pytest.param("deflate", True, True, id="both"),
    pytest.param(None, True, False, id="ours-off"),
    pytest.param("deflate", False, False, id="theirs-off"),
]


@pytest.mark.parametrize(("ours", "theirs", "negotiated"), COMPRESSION_CASES)
def test_our_client_their_server_compression(
    node: str, ours: str | None, theirs: bool, negotiated: bool
) -> None:
    async def main() -> None:
        args = ("server", "--deflate") if theirs else ("server",)
        async with (
            node_peer(node, *args) as peer,
            airsocket.connect(await listening(peer), compression=ours) as ws,
        ):
            assert ws.response is not None
            header = ws.response.headers.get("Sec-WebSocket-Extensions")
            assert extension_names(header) == (["permessage-deflate"] if negotiated else [])
            opened = await peer.next("open")
            assert opened["extensions"] == ("permessage-deflate" if negotiated else "")
            for message in (COMPRESSIBLE, COMPRESSIBLE.encode(), TEXT, b"\x00" * 40):
                await ws.send(message)
                assert_same(await bounded(ws.recv()), message)
                event = await peer.next("message")
                assert_message_event(event, message)
                if message is COMPRESSIBLE:
                    check_wire_size(event, negotiated)

    run(main)


@pytest.mark.parametrize(("ours", "theirs", "negotiated"), COMPRESSION_CASES)
def test_their_client_our_server_compression(
    node: str, ours: str | None, theirs: bool, negotiated: bool
) -> None:
    async def main() -> None:
        async with OurServer(compression=ours) as server:
            args = ("client", server.url()) + (() if theirs else ("--no-deflate",))
            async with node_peer(node, *args) as peer:
                opened = await peer.next("open")
                assert extension_names(opened["response_extensions"]) == (
                    ["permessage-deflate"] if negotiated else []
                )
                for message in (COMPRESSIBLE, COMPRESSIBLE.encode(), TEXT, b"\x00" * 40):
                    await peer.send(message)
                    event = await peer.next("message")
                    assert_message_event(event, message)
                    if message is COMPRESSIBLE:
                        check_wire_size(event, negotiated)
            record = await server.next_connection()
        offered = record.request_headers.get("Sec-WebSocket-Extensions")
        assert extension_names(offered) == (["permessage-deflate"] if theirs else [])

    run(main)
