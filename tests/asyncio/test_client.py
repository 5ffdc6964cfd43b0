"""Tests of airsocket.asyncio.client: connect(), TLS, URLs and handshake failures."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from aio_helpers import (
    RawPeer,
    accept_upgrade,
    echo,
    eventually,
    free_port,
    ipv6_available,
    raw_server,
    step,
    ws_url,
)

import airsocket


class TestConnectForms:
    def test_await_connect(self, run):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0) as server:
                ws = await airsocket.connect(ws_url(server))
                assert ws.state is airsocket.State.OPEN
                await ws.send("hello")
                assert await ws.recv() == "hello"
                await ws.close()
                assert ws.state is airsocket.State.CLOSED

        run(main())

    def test_async_with_closes_on_exit(self, run):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0) as server:
                async with airsocket.connect(ws_url(server)) as ws:
                    await ws.send(b"\x00\xff")
                    assert await ws.recv() == b"\x00\xff"
                assert ws.state is airsocket.State.CLOSED
                assert ws.close_code == 1000

        run(main())

    def test_async_with_closes_when_the_body_raises(self, run):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0) as server:
                with pytest.raises(KeyError):
                    async with airsocket.connect(ws_url(server)) as ws:
                        raise KeyError("boom")
                assert ws.state is airsocket.State.CLOSED

        run(main())

    def test_unknown_option_is_refused_at_once(self):
        with pytest.raises(airsocket.ArgumentError, match="no_such_option"):
            airsocket.connect("ws://127.0.0.1:1/", no_such_option=1)

    def test_extra_headers_reach_the_server(self, run):
        async def main():
            seen = []

            async def handler(ws):
                seen.append(ws.request.headers.get_all("X-Trace"))

            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                headers = [("X-Trace", "1"), ("X-Trace", "2")]
                async with airsocket.connect(ws_url(server), extra_headers=headers) as ws:
                    await ws.wait_closed()
            assert seen == [["1", "2"]]

        run(main())

    def test_user_info_becomes_basic_authorization(self, run):
        async def main():
            seen = []

            async def handler(ws):
                seen.append(ws.request.headers["Authorization"])

            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                url = ws_url(server).replace("ws://", "ws://user:pass@")
                async with airsocket.connect(url) as ws:
                    await ws.wait_closed()
            assert seen == ["Basic dXNlcjpwYXNz"]

        run(main())


class TestAddresses:
    def test_ipv4(self, run):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                assert ws.remote_address[0] == "127.0.0.1"
                await ws.send("v4")
                assert await ws.recv() == "v4"

        run(main())

    @pytest.mark.skipif(not ipv6_available(), reason="IPv6 is not available on this machine")
    def test_ipv6(self, run):
        async def main():
            async with airsocket.serve(echo, "::1", 0) as server:
                url = ws_url(server)
                assert url.startswith("ws://[::1]:")
                async with airsocket.connect(url) as ws:
                    assert ws.remote_address[0] == "::1"
                    await ws.send("v6")
                    assert await ws.recv() == "v6"

        run(main())

    def test_refused_connection_raises_oserror(self, run):
        async def main():
            with pytest.raises(ConnectionRefusedError):
                await airsocket.connect(f"ws://127.0.0.1:{free_port()}/")

        run(main())

    @pytest.mark.parametrize(
        "url",
        ["http://127.0.0.1/", "ws://", "127.0.0.1:80", "ws://127.0.0.1:99999/", "ws://[::1/"],
    )
    def test_invalid_uri(self, run, url):
        async def main():
            with pytest.raises(airsocket.InvalidURI):
                await airsocket.connect(url)
            with pytest.raises(airsocket.InvalidURI):
                async with airsocket.connect(url):
                    pass

        run(main())


class TestTLS:
    def test_wss_round_trip(self, run, tls):
        server_ctx, client_ctx = tls

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                url = ws_url(server, "wss").replace("127.0.0.1", "localhost")
                async with airsocket.connect(url, ssl=client_ctx) as ws:
                    assert ws.engine.transport.get_extra_info("ssl_object") is not None
                    await ws.send("secret")
                    assert await ws.recv() == "secret"
                    await ws.close(1000, "done")
                assert ws.close_code == 1000
                assert ws.state is airsocket.State.CLOSED

        run(main())

    def test_wss_verifies_by_default(self, run, tls):
        server_ctx, _ = tls

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                url = ws_url(server, "wss").replace("127.0.0.1", "localhost")
                # The default context does not trust the throwaway CA.
                with pytest.raises(ssl.SSLCertVerificationError):
                    await airsocket.connect(url)

        # asyncio reports the aborted TLS handshake on the server side itself.
        run(main(), ignore=("Error on transport creation for incoming connection",))

    def test_ssl_for_ws_url_is_an_argument_error(self, run, tls):
        _, client_ctx = tls

        async def main():
            with pytest.raises(airsocket.ArgumentError, match="wss://"):
                await airsocket.connect("ws://127.0.0.1:1/", ssl=client_ctx)

        run(main())


class TestOpenTimeout:
    def test_server_that_never_answers(self, run):
        async def silent(peer: RawPeer) -> None:
            await peer.reader.read()  # accepts, reads, never answers

        async def main():
            async with raw_server(silent) as port:
                with pytest.raises(TimeoutError):
                    await airsocket.connect(f"ws://127.0.0.1:{port}/", open_timeout=0.1)

        run(main())

    def test_server_that_answers_half_a_head(self, run):
        async def slow(peer: RawPeer) -> None:
            await peer.read_head()
            peer.send(b"HTTP/1.1 101 Switching Protocols\r\n")
            await peer.reader.read()

        async def main():
            async with raw_server(slow) as port:
                with pytest.raises(TimeoutError):
                    async with airsocket.connect(f"ws://127.0.0.1:{port}/", open_timeout=0.1):
                        pass

        run(main())

    def test_a_cancelled_connect_is_cancelled_not_timed_out(self, run):
        # A cancel from outside during the opening handshake stays a cancel
        # (the open_timeout runs in the caller's task), and the connection
        # is dropped.
        dropped = []
        got_request = asyncio.Event()

        async def silent(peer: RawPeer) -> None:
            await peer.read_head()
            got_request.set()
            dropped.append(await peer.reader.read() == b"")

        async def main():
            async with raw_server(silent) as port:
                url = f"ws://127.0.0.1:{port}/"
                opening = asyncio.ensure_future(airsocket.connect(url, open_timeout=5))
                await step(got_request.wait())
                opening.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await opening
                await eventually(lambda: dropped == [True])

        run(main())

    def test_an_outer_timeout_drops_the_connection(self, run):
        dropped = []

        async def silent(peer: RawPeer) -> None:
            await peer.read_head()
            dropped.append(await peer.reader.read() == b"")

        async def main():
            async with raw_server(silent) as port:
                url = f"ws://127.0.0.1:{port}/"
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(airsocket.connect(url, open_timeout=10), 0.05)
                await eventually(lambda: dropped == [True])

        run(main())

    def test_no_open_timeout(self, run):
        # open_timeout=None must not arm a timer; the handshake still completes.
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server), open_timeout=None, ping_interval=None) as ws,
            ):
                assert ws.engine._open_deadline is None
                assert ws.engine._alarm is None  # and nothing else wants one
                await ws.send("x")
                assert await ws.recv() == "x"

        run(main())


class TestHandshakeFailures:
    def test_404_is_invalid_status_with_the_response(self, run):
        async def not_found(peer: RawPeer) -> None:
            await peer.read_head()
            peer.send(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 9\r\n\r\nno socket"
            )
            await peer.reader.read()

        async def main():
            async with raw_server(not_found) as port:
                with pytest.raises(airsocket.InvalidStatus) as info:
                    await airsocket.connect(f"ws://127.0.0.1:{port}/")
            response = info.value.response
            assert response.status == 404
            assert response.headers["Content-Type"] == "text/plain"
            assert isinstance(info.value, airsocket.InvalidHandshake)

        run(main())

    def test_bad_accept_key(self, run):
        async def wrong_key(peer: RawPeer) -> None:
            await accept_upgrade(peer, accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            await peer.reader.read()

        async def main():
            async with raw_server(wrong_key) as port:
                with pytest.raises(airsocket.InvalidHandshake, match="Accept"):
                    await airsocket.connect(f"ws://127.0.0.1:{port}/")

        run(main())

    def test_subprotocol_not_offered(self, run):
        async def chooses(peer: RawPeer) -> None:
            await accept_upgrade(peer, "Sec-WebSocket-Protocol: other")
            await peer.reader.read()

        async def main():
            async with raw_server(chooses) as port:
                with pytest.raises(airsocket.NegotiationError):
                    await airsocket.connect(f"ws://127.0.0.1:{port}/", subprotocols=["chat"])

        run(main())

    def test_extension_not_offered(self, run):
        async def deflates(peer: RawPeer) -> None:
            await accept_upgrade(peer, "Sec-WebSocket-Extensions: permessage-deflate")
            await peer.reader.read()

        async def main():
            async with raw_server(deflates) as port:
                with pytest.raises(airsocket.NegotiationError):
                    await airsocket.connect(f"ws://127.0.0.1:{port}/", compression=None)

        run(main())

    def test_server_hangs_up_during_handshake(self, run):
        async def hangs_up(peer: RawPeer) -> None:
            await peer.read_head()

        async def main():
            async with raw_server(hangs_up) as port:
                with pytest.raises(airsocket.InvalidHandshake, match="closed"):
                    await airsocket.connect(f"ws://127.0.0.1:{port}/")

        run(main())

    def test_frames_right_after_the_101_are_delivered(self, run):
        # The server may send a message in the same segment as its 101.
        async def eager(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            peer.send(b"\x81\x05early")
            await peer.reader.read()

        async def main():
            async with raw_server(eager) as port:
                ws = await airsocket.connect(f"ws://127.0.0.1:{port}/", close_timeout=0.05)
                assert await step(ws.recv()) == "early"
                ws.engine.abort()
                await ws.wait_closed()

        run(main())
