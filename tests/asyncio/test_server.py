"""Tests of airsocket.asyncio.server: serve(), Server, hooks and hostile clients."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from aio_helpers import (
    RawPeer,
    close_payload,
    echo,
    eventually,
    frame,
    ipv6_available,
    port_of,
    step,
    upgrade_request,
    ws_url,
)

import airsocket


async def assert_echoes(ws: airsocket.Connection, message: str = "still here") -> None:
    """``ws`` is open and its server still answers."""
    await ws.send(message)
    assert await step(ws.recv()) == message


async def http_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` on a new connection; return the response and check EOF."""
    peer = await RawPeer.open(port)
    peer.send(request)
    response = await peer.read_response()
    assert await peer.at_eof(), "the server must end the connection after refusing"
    return response


def ws_url_of_port(port: int) -> str:
    return f"ws://127.0.0.1:{port}/"


def plain_get(path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


class TestServeForms:
    def test_await_serve(self, run):
        async def main():
            server = await airsocket.serve(echo, "127.0.0.1", 0)
            port = port_of(server)
            try:
                async with airsocket.connect(ws_url(server)) as ws:
                    await assert_echoes(ws)
            finally:
                server.close()
                await server.wait_closed()
            with pytest.raises(OSError):
                await airsocket.connect(ws_url_of_port(port), open_timeout=1)

        run(main())

    def test_server_is_an_async_context_manager(self, run):
        async def main():
            async with await airsocket.serve(echo, "127.0.0.1", 0) as server:
                url = ws_url(server)
                async with airsocket.connect(url) as ws:
                    await assert_echoes(ws)
            with pytest.raises(OSError):
                await airsocket.connect(url, open_timeout=1)

        run(main())

    def test_server_before_start(self, run):
        server = airsocket.serve(echo, "127.0.0.1", 0).server
        assert server.sockets == ()
        server.close()  # nothing to stop yet
        run(server.wait_closed())

    def test_adopts_a_listening_socket(self, run):
        async def main():
            sock = socket.create_server(("127.0.0.1", 0))
            async with airsocket.serve(echo, sock=sock) as server:
                assert server.sockets[0].getsockname() == sock.getsockname()
                async with airsocket.connect(ws_url(server)) as ws:
                    await assert_echoes(ws)

        run(main())

    @pytest.mark.skipif(not ipv6_available(), reason="IPv6 is not available on this machine")
    def test_ipv6(self, run):
        async def main():
            async with airsocket.serve(echo, "::1", 0) as server:
                assert server.sockets[0].family == socket.AF_INET6
                async with airsocket.connect(ws_url(server)) as ws:
                    assert ws.local_address[0] == "::1"
                    await assert_echoes(ws)

        run(main())

    def test_wss(self, run, tls):
        server_ctx, client_ctx = tls

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                url = ws_url(server, "wss").replace("127.0.0.1", "localhost")
                async with airsocket.connect(url, ssl=client_ctx) as ws:
                    await assert_echoes(ws)
                    # A TLS transport cannot half-close: the server's close
                    # ends the stream with a full close instead.
                    await ws.send("")
                    assert await ws.recv() == ""
                assert ws.close_code == 1000

        run(main())


class TestHandlerLifetime:
    def test_returning_handler_closes_with_1000(self, run):
        async def handler(ws):
            await ws.send("bye")

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                async with airsocket.connect(ws_url(server)) as ws:
                    assert [m async for m in ws] == ["bye"]
                    assert ws.close_code == 1000
                await eventually(lambda: not server.connections)

        run(main())

    def test_raising_handler_closes_with_1011(self, run, caplog):
        async def handler(ws):
            raise ValueError("handler bug")

        async def main():
            async with (
                airsocket.serve(handler, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    async for _ in ws:
                        pass
                assert info.value.code == 1011
                # the server keeps serving
                async with airsocket.connect(ws_url(server)) as other:
                    with pytest.raises(airsocket.ConnectionClosedError):
                        await other.recv()

        with caplog.at_level(logging.ERROR, logger="airsocket"):
            run(main())
        assert "connection handler failed" in caplog.text
        assert "handler bug" in caplog.text

    def test_peer_closing_under_the_handler_is_not_a_failure(self, run, caplog):
        finished = []

        async def handler(ws):
            try:
                await ws.recv()  # the client closes instead of sending
            finally:
                finished.append(ws.close_code)

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                async with airsocket.connect(ws_url(server)) as ws:
                    await ws.close(1001)
                await eventually(lambda: bool(finished))

        with caplog.at_level(logging.DEBUG, logger="airsocket"):
            run(main())
        assert finished == [1001]
        assert "connection handler failed" not in caplog.text

    def test_close_sends_1001_to_open_connections(self, run):
        async def main():
            server = await airsocket.serve(echo, "127.0.0.1", 0)
            async with airsocket.connect(ws_url(server)) as ws:
                await assert_echoes(ws)
                server.close()
                with pytest.raises(airsocket.ConnectionClosedOK) as info:
                    await step(ws.recv())
                assert info.value.code == 1001
            await step(server.wait_closed())

        run(main())

    def test_close_can_leave_connections_open(self, run):
        async def main():
            server = await airsocket.serve(echo, "127.0.0.1", 0)
            url = ws_url(server)
            async with airsocket.connect(url) as ws:
                server.close(close_connections=False)
                await assert_echoes(ws)
                with pytest.raises(OSError):
                    await airsocket.connect(url, open_timeout=1)
            await step(server.wait_closed())

        run(main())

    def test_serve_forever_until_cancelled(self, run):
        async def main():
            server = await airsocket.serve(echo, "127.0.0.1", 0)
            forever = asyncio.ensure_future(server.serve_forever())
            async with airsocket.connect(ws_url(server)) as ws:
                await assert_echoes(ws)
                forever.cancel()
                with pytest.raises(airsocket.ConnectionClosedOK) as info:
                    await step(ws.recv())
                assert info.value.code == 1001
            with pytest.raises(asyncio.CancelledError):
                await forever
            assert not server.connections  # serve_forever waited for the handlers

        run(main())


class TestEndOfTheTcpConnection:
    """How the server ends its TCP stream (RFC 6455 7.1.1, 7.1.7)."""

    def test_a_failing_server_reads_on_so_the_data_in_flight_cannot_reset_it(self, run):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, close_timeout=600) as server:
                peer = await RawPeer.open(port_of(server))
                await peer.upgrade()
                # A violation, then 4 MiB the server will never parse, all in
                # flight before the peer reads: closing the socket with them
                # unread would answer with RST, which may destroy the close
                # frame before the peer reads it.
                peer.send(frame(3, b"") + frame(2, bytes(65536)) * 64)
                assert await peer.read_close() == (1002, "")
                assert await peer.at_eof()
                peer.close()
                await eventually(lambda: not server.connections)

        run(main())


class TestProcessRequest:
    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_response_answers_plain_http(self, run, kind):
        def answer(path):
            if path == "/health":
                return airsocket.Response(200, "OK", airsocket.Headers({"X-Ok": "1"}), b"fine\n")
            return None

        def sync_hook(connection, request):
            assert isinstance(connection, airsocket.Connection)
            return answer(request.path)

        async def async_hook(connection, request):
            await asyncio.sleep(0)
            return answer(request.path)

        hook = sync_hook if kind == "sync" else async_hook

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, process_request=hook) as server:
                request = upgrade_request("/health")
                status, headers, body = await http_exchange(port_of(server), request)
                assert (status, headers["x-ok"], body) == (200, "1", b"fine\n")
                # None: the upgrade proceeds on the same port
                async with airsocket.connect(ws_url(server, path="/chat")) as ws:
                    await assert_echoes(ws)
                # a WebSocket client refused by the hook sees the status
                with pytest.raises(airsocket.InvalidStatus) as info:
                    await airsocket.connect(ws_url(server, path="/health"))
                assert info.value.response.status == 200
                assert not server.connections

        run(main())

    def test_plain_get_reaches_the_hook(self, run):
        def hook(connection, request):
            return airsocket.Response(200, "OK", body=b"page\n")

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, process_request=hook) as server:
                status, _, body = await http_exchange(port_of(server), plain_get("/"))
                assert (status, body) == (200, b"page\n")

        run(main())

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_raising_hook_is_a_500_and_the_server_goes_on(self, run, kind, caplog):
        def sync_hook(connection, request):
            if request.path == "/bad":
                raise RuntimeError("hook bug")

        async def async_hook(connection, request):
            sync_hook(connection, request)

        hook = sync_hook if kind == "sync" else async_hook

        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0, process_request=hook) as server,
                airsocket.connect(ws_url(server)) as good,
            ):
                with pytest.raises(airsocket.InvalidStatus) as info:
                    await airsocket.connect(ws_url(server, path="/bad"))
                assert info.value.response.status == 500
                await assert_echoes(good)

        with caplog.at_level(logging.ERROR, logger="airsocket"):
            run(main())
        assert "process_request failed" in caplog.text

    def test_hook_raising_a_handshake_error_sets_the_status(self, run):
        def hook(connection, request):
            raise airsocket.InvalidOrigin("not from here")

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, process_request=hook) as server:
                status, _, _ = await http_exchange(port_of(server), upgrade_request())
                assert status == 403

        run(main())

    def test_cancelled_async_hook_is_a_500(self, run):
        async def hook(connection, request):
            raise asyncio.CancelledError

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, process_request=hook) as server:
                status, _, _ = await http_exchange(port_of(server), upgrade_request())
                assert status == 500

        run(main())

    def test_hook_returning_a_future(self, run):
        def hook(connection, request):
            future = asyncio.get_running_loop().create_future()
            future.set_result(airsocket.Response(204, "No Content"))
            return future

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, process_request=hook) as server:
                status, _, _ = await http_exchange(port_of(server), upgrade_request())
                assert status == 204

        run(main())

    def test_client_gone_before_the_hook_answers(self, run):
        answered = []

        async def hook(connection, request):
            if request.path == "/slow":
                await connection.wait_closed()  # the client hangs up meanwhile
                answered.append(connection.state)
            return None  # accepting now must be a no-op, not an error

        async def handler(ws):
            assert ws.request.path != "/slow", "the handler must not run"

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0, process_request=hook) as server:
                peer = await RawPeer.open(port_of(server))
                peer.send(upgrade_request("/slow"))
                await asyncio.sleep(0)
                peer.close()
                await eventually(lambda: bool(answered))
                assert answered == [airsocket.State.CLOSED]
                assert not server.connections
                async with airsocket.connect(ws_url(server)) as ws:
                    await ws.wait_closed()

        run(main())


class TestNegotiation:
    def test_subprotocol_in_the_clients_order(self, run):
        async def handler(ws):
            await ws.send(ws.subprotocol or "none")

        async def main():
            async with airsocket.serve(
                handler, "127.0.0.1", 0, subprotocols=["superchat", "chat"]
            ) as server:
                async with airsocket.connect(ws_url(server), subprotocols=["chat", "x"]) as ws:
                    assert ws.subprotocol == "chat"
                    assert await ws.recv() == "chat"
                async with airsocket.connect(ws_url(server), subprotocols=["x", "y"]) as ws:
                    assert ws.subprotocol is None
                    assert await ws.recv() == "none"
                async with airsocket.connect(ws_url(server)) as ws:
                    assert ws.subprotocol is None

        run(main())

    def test_select_subprotocol(self, run):
        calls = []

        def select(offered, supported):
            calls.append((offered, supported))
            return offered[-1]

        async def main():
            async with (
                airsocket.serve(
                    echo, "127.0.0.1", 0, subprotocols=["a"], select_subprotocol=select
                ) as server,
                airsocket.connect(ws_url(server), subprotocols=["b", "c"]) as ws,
            ):
                assert ws.subprotocol == "c"
            assert calls == [(["b", "c"], ["a"])]

        run(main())

    def test_select_subprotocol_choosing_badly_is_a_500(self, run, caplog):
        def select(offered, supported):
            return "never-offered" if offered else None

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, select_subprotocol=select) as server:
                with pytest.raises(airsocket.InvalidStatus) as info:
                    await airsocket.connect(ws_url(server), subprotocols=["b"])
                assert info.value.response.status == 500
                async with airsocket.connect(ws_url(server), compression=None) as ws:
                    assert ws.subprotocol is None

        with caplog.at_level(logging.ERROR, logger="airsocket"):
            run(main())
        assert "accepting the upgrade failed" in caplog.text

    def test_select_subprotocol_refusing_is_a_400(self, run):
        # handshake.select_subprotocol documents NegotiationError as the way
        # for the callback to refuse: that is the client's fault, not ours.
        def select(offered, supported):
            raise airsocket.NegotiationError("no common subprotocol")

        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, select_subprotocol=select) as server:
                with pytest.raises(airsocket.InvalidStatus) as info:
                    await airsocket.connect(ws_url(server), subprotocols=["b"])
                assert info.value.response.status == 400

        run(main())

    def test_origins(self, run):
        async def main():
            origins = ["https://good.example", None]
            async with airsocket.serve(echo, "127.0.0.1", 0, origins=origins) as server:
                good = [("Origin", "https://good.example")]
                async with airsocket.connect(ws_url(server), extra_headers=good) as ws:
                    await assert_echoes(ws)
                async with airsocket.connect(ws_url(server)) as ws:  # no Origin: None allowed
                    await assert_echoes(ws)
                bad = {"Origin": "https://evil.example"}
                with pytest.raises(airsocket.InvalidStatus) as info:
                    await airsocket.connect(ws_url(server), extra_headers=bad)
                assert info.value.response.status == 403

        run(main())

    def test_extra_headers_reach_the_client(self, run):
        async def main():
            headers = {"X-Server-Id": "7"}
            async with (
                airsocket.serve(echo, "127.0.0.1", 0, extra_headers=headers) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                assert ws.response.headers["X-Server-Id"] == "7"
                assert ws.response.status == 101

        run(main())

    @pytest.mark.parametrize("compression", ["deflate", None])
    def test_compression_both_ways(self, run, compression):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server), compression=compression) as ws,
            ):
                negotiated = ws.response.headers.get("Sec-WebSocket-Extensions")
                assert (negotiated is not None) == (compression is not None)
                await assert_echoes(ws, "z" * 5000)

        run(main())


BAD_HEADS = [
    pytest.param(plain_get(), 400, id="not-an-upgrade"),
    pytest.param(b"garbage\r\n\r\n", 400, id="bad-request-line"),
    pytest.param(upgrade_request(key="short"), 400, id="bad-key"),
    pytest.param(upgrade_request("/", "Bad Header: x"), 400, id="bad-header-name"),
    pytest.param(upgrade_request(method="POST"), 405, id="post"),
    pytest.param(upgrade_request(version="8"), 426, id="version-8"),
    pytest.param(upgrade_request("/", "X-Pad: " + "a" * 9000), 431, id="line-too-long"),
    pytest.param(
        upgrade_request("/", *(f"X-{i}: {'b' * 100}" for i in range(200))),
        431,
        id="head-too-long",
    ),
    pytest.param(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20000, 431, id="head-never-ends"),
]


class TestHostileHandshakes:
    @pytest.mark.parametrize(("request_bytes", "status"), BAD_HEADS)
    def test_refused_with_status(self, run, request_bytes, status):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0) as server:
                async with airsocket.connect(ws_url(server)) as good:
                    answer, headers, _ = await http_exchange(port_of(server), request_bytes)
                    assert answer == status
                    assert headers["connection"].endswith("close")
                    if status == 426:
                        assert headers["sec-websocket-version"] == "13"
                    if status == 405:
                        assert headers["allow"] == "GET"
                    await assert_echoes(good)
                await eventually(lambda: not server.connections)

        run(main())

    def test_silent_client_is_dropped_after_open_timeout(self, run):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0, open_timeout=0.05) as server:
                peer = await RawPeer.open(port_of(server))
                assert await peer.at_eof()
                half = await RawPeer.open(port_of(server))
                half.send(b"GET / HTTP/1.1\r\n")
                assert await half.at_eof()
                assert not server.connections  # never opened

        run(main())

    def test_client_gone_during_handshake(self, run):
        async def handler(ws):
            raise AssertionError("the handler must not run")

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                peer = await RawPeer.open(port_of(server))
                peer.send(upgrade_request()[:20])
                peer.close()
                async with airsocket.connect(ws_url(server)) as ws:
                    await ws.wait_closed()

        run(main())


#: Frames that break RFC 6455, sent right after a good handshake.
BAD_FRAMES = [
    pytest.param(frame(1, b"\xce\xba\xff"), 1007, id="invalid-utf8"),
    pytest.param(frame(1, b"ok\xc3", fin=False) + frame(0, b"\x28"), 1007, id="utf8-across"),
    pytest.param(frame(8, close_payload(1000) + b"\xff"), 1007, id="close-reason-utf8"),
    pytest.param(frame(1, b"unmasked", mask=None), 1002, id="unmasked"),
    pytest.param(frame(3, b""), 1002, id="reserved-opcode"),
    pytest.param(frame(11, b""), 1002, id="reserved-control-opcode"),
    pytest.param(frame(1, b"x", rsv=2), 1002, id="rsv2"),
    pytest.param(frame(1, b"x", rsv=4), 1002, id="rsv1-without-deflate"),
    pytest.param(frame(0, b"x"), 1002, id="orphan-continuation"),
    pytest.param(frame(1, b"a", fin=False) + frame(1, b"b"), 1002, id="interleaved"),
    pytest.param(frame(9, b"p" * 126), 1002, id="long-ping"),
    pytest.param(frame(9, b"p", fin=False), 1002, id="fragmented-ping"),
    pytest.param(frame(8, b"\x03"), 1002, id="one-byte-close"),
    pytest.param(frame(8, close_payload(999)), 1002, id="close-code-999"),
    pytest.param(frame(2, b"x" * 2000), 1009, id="too-big"),
    pytest.param(frame(2, b"", length=2**40), 1009, id="too-big-by-header"),
    pytest.param(frame(1, b"x" * 600, fin=False) + frame(0, b"y" * 600), 1009, id="too-big-sum"),
]


class TestHostileFrames:
    @pytest.mark.parametrize(("bad", "code"), BAD_FRAMES)
    def test_closed_with_the_rfc_code(self, run, bad, code):
        errors = []

        async def handler(ws):
            try:
                async for message in ws:
                    await ws.send(message)
            except airsocket.ConnectionClosedError as exc:
                errors.append(exc)

        async def main():
            async with (
                airsocket.serve(
                    handler, "127.0.0.1", 0, max_message_size=1024, compression=None
                ) as server,
                airsocket.connect(ws_url(server)) as good,
            ):
                peer = await RawPeer.open(port_of(server))
                await peer.upgrade()
                peer.send(bad)
                assert await peer.read_close() == (code, "")
                peer.send(frame(8, close_payload(code)))  # echo, as a peer should
                assert await peer.at_eof()
                peer.close()
                await assert_echoes(good)
                await eventually(lambda: bool(errors))
                await assert_echoes(good, "still")

        run(main())
        [error] = errors
        # A failing endpoint reads nothing more (RFC 6455 7.1.7), so the
        # peer's echo is not seen: the code received is 1006.
        assert (error.code, error.sent_code) == (1006, code)
        assert isinstance(error.cause, airsocket.ProtocolError)
        assert error.cause.close_code == code

    def test_peer_that_vanishes_after_a_violation(self, run):
        errors = []

        async def handler(ws):
            try:
                await ws.recv()
            except airsocket.ConnectionClosedError as exc:
                errors.append(exc)

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                peer = await RawPeer.open(port_of(server))
                await peer.upgrade()
                peer.send(frame(1, b"\xff"))
                assert await peer.read_close() == (1007, "")
                peer.close()
                await eventually(lambda: bool(errors))

        run(main())
        [error] = errors
        assert (error.code, error.sent_code) == (1006, 1007)

    def test_messages_before_a_violation_are_delivered_first(self, run):
        received = []

        async def handler(ws):
            try:
                async for message in ws:
                    received.append(message)
                    await ws.send(message)
            except airsocket.ConnectionClosedError as exc:
                received.append(exc.sent_code)

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0, compression=None) as server:
                peer = await RawPeer.open(port_of(server))
                await peer.upgrade()
                peer.send(frame(1, b"one") + frame(1, b"two") + frame(3))
                assert await peer.read_frame() == (True, 1, b"one")
                assert await peer.read_frame() == (True, 1, b"two")
                assert await peer.read_close() == (1002, "")
                assert await peer.at_eof()
                peer.close()
                await eventually(lambda: len(received) == 3)

        run(main())
        assert received == ["one", "two", 1002]
