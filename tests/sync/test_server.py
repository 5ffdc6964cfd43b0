"""Tests of airsocket.sync.server: serve(), Server, handlers, process_request, interop."""

from __future__ import annotations

import asyncio
import http.client
import logging
import queue
import socket
import ssl
import threading
from typing import Any

import pytest

import airsocket
from airsocket import (
    ArgumentError,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidStatus,
    Request,
    Response,
)
from airsocket.sync import Connection, connect, serve

from .helpers import STEP, RawPeer, running, sync_server, url


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A plain HTTP GET on 127.0.0.1: (status, body)."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=STEP)
    try:
        client.request("GET", path, headers=headers or {})
        response = client.getresponse()
        return response.status, response.read()
    finally:
        client.close()


class TestHandler:
    def test_returning_closes_with_1000(self) -> None:
        with sync_server(lambda ws: ws.send("hi")) as server, connect(url(server)) as ws:
            assert ws.recv(timeout=STEP) == "hi"
            with pytest.raises(ConnectionClosedOK):
                ws.recv(timeout=STEP)
            assert ws.close_code == 1000

    def test_raising_closes_with_1011_and_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        def broken(ws: Connection) -> None:
            raise ValueError("bug in the handler")

        with (
            caplog.at_level(logging.ERROR, logger="airsocket"),
            sync_server(broken) as server,
            connect(url(server)) as ws,
            pytest.raises(ConnectionClosedError) as caught,
        ):
            ws.recv(timeout=STEP)
        assert caught.value.code == 1011
        assert "connection handler failed" in caplog.text
        assert "bug in the handler" in caplog.text

    def test_connection_closed_in_the_handler_is_not_an_error(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        ended: queue.Queue[str] = queue.Queue()

        def reader(ws: Connection) -> None:
            try:
                ws.recv()
            finally:
                ended.put("done")

        with (
            caplog.at_level(logging.ERROR, logger="airsocket"),
            sync_server(reader) as server,
        ):
            with connect(url(server)) as ws:
                ws.close(4000)
            assert ended.get(timeout=STEP) == "done"
        assert "handler failed" not in caplog.text

    def test_each_connection_runs_in_its_own_thread(self) -> None:
        names: queue.Queue[str] = queue.Queue()

        def record(ws: Connection) -> None:
            names.put(threading.current_thread().name)
            ws.recv()

        with sync_server(record) as server, connect(url(server)), connect(url(server)):
            first, second = names.get(timeout=STEP), names.get(timeout=STEP)
        assert first != second


class TestProcessRequest:
    def test_plain_http_is_answered(self) -> None:
        def health(ws: Connection, request: Request) -> Response | None:
            if request.path == "/health":
                return Response(200, body=b"OK\n")
            return None

        with sync_server(process_request=health) as server:
            assert get(server.port, "/health") == (200, b"OK\n")
            with connect(url(server, path="/ws")) as ws:  # other paths still upgrade
                ws.send("still a websocket")
                assert ws.recv(timeout=STEP) == "still a websocket"

    def test_a_refusal_reaches_the_client(self) -> None:
        def deny(ws: Connection, request: Request) -> Response:
            return Response(403, body=b"go away")

        with sync_server(process_request=deny) as server, pytest.raises(InvalidStatus) as caught:
            connect(url(server))
        assert caught.value.response.status == 403

    def test_a_refusal_over_tls(self, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        def deny(ws: Connection, request: Request) -> Response:
            return Response(403, body=b"go away")

        server_context, client_context = tls
        with (
            sync_server(process_request=deny, ssl=server_context) as server,
            pytest.raises(InvalidStatus) as caught,
        ):
            connect(url(server, "wss"), ssl=client_context)
        assert caught.value.response.status == 403
        assert caught.value.response.body == b"go away"

    def test_a_failing_hook_answers_500(self, caplog: pytest.LogCaptureFixture) -> None:
        def broken(ws: Connection, request: Request) -> None:
            raise RuntimeError("hook bug")

        with (
            caplog.at_level(logging.ERROR, logger="airsocket"),
            sync_server(process_request=broken) as server,
        ):
            assert get(server.port, "/")[0] == 500
        assert "process_request failed" in caplog.text

    def test_a_hook_returning_something_else_answers_500(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with (
            caplog.at_level(logging.ERROR, logger="airsocket"),
            sync_server(process_request=lambda ws, request: 404) as server,
        ):
            assert get(server.port, "/")[0] == 500
        assert "not a Response or None" in caplog.text

    def test_the_hook_sees_the_connection_and_the_request(self) -> None:
        seen: list[Any] = []

        def record(ws: Connection, request: Request) -> None:
            seen.append((ws.request is request, request.headers["X-Test"], ws.state.name))

        with (
            sync_server(process_request=record) as server,
            connect(url(server), extra_headers={"X-Test": "1"}),
        ):
            pass
        assert seen == [(True, "1", "CONNECTING")]


class TestUpgradeChecks:
    def test_a_request_without_upgrade_gets_400(self) -> None:
        with sync_server() as server:
            status, body = get(server.port, "/")
        assert status == 400
        assert body

    def test_origins(self) -> None:
        with sync_server(origins=["https://good.example"]) as server:
            with pytest.raises(InvalidStatus) as caught:
                connect(url(server))
            assert caught.value.response.status == 403
            with connect(url(server), extra_headers={"Origin": "https://good.example"}) as ws:
                ws.send("welcome")
                assert ws.recv(timeout=STEP) == "welcome"

    def test_select_subprotocol(self) -> None:
        def last(offered: list[str], supported: list[str]) -> str | None:
            return offered[-1]

        with (
            sync_server(subprotocols=["a", "b"], select_subprotocol=last) as server,
            connect(url(server), subprotocols=["a", "b"]) as ws,
        ):
            assert ws.subprotocol == "b"

    def test_a_failing_select_subprotocol_answers_500(self) -> None:
        def broken(offered: list[str], supported: list[str]) -> str:
            raise RuntimeError("selection bug")

        with (
            sync_server(subprotocols=["a"], select_subprotocol=broken) as server,
            pytest.raises(InvalidStatus) as caught,
        ):
            connect(url(server), subprotocols=["a"])
        assert caught.value.response.status == 500

    def test_a_client_that_never_finishes_the_handshake_is_dropped(self) -> None:
        with (
            sync_server(open_timeout=0.05) as server,
            socket.create_connection(("127.0.0.1", server.port), timeout=STEP) as sock,
        ):
            peer = RawPeer(sock)
            peer.send(b"GET / HTTP/1.1\r\n")  # and nothing more
            assert peer.at_eof()


class TestServer:
    def test_shutdown_closes_connections_with_1001(self) -> None:
        server = serve(lambda ws: ws.recv(), "127.0.0.1", 0)
        with running(server):
            ws = connect(url(server))
            stopper = threading.Thread(target=server.shutdown)
            stopper.start()
            with pytest.raises(ConnectionClosedOK):
                ws.recv(timeout=STEP)
            stopper.join(STEP)
            assert not stopper.is_alive()
        assert ws.close_code == 1001
        ws.close()

    def test_serve_forever_after_shutdown_returns(self) -> None:
        server = serve(lambda ws: None, "127.0.0.1", 0)
        server.shutdown()
        server.serve_forever()
        server.shutdown()  # idempotent

    def test_serve_on_all_interfaces(self) -> None:
        with (
            serve(lambda ws: ws.send("any"), None, 0) as server,
            running(server),
            connect(url(server)) as ws,
        ):
            assert ws.recv(timeout=STEP) == "any"

    def test_serve_on_a_given_socket(self) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        with serve(lambda ws: ws.send("mine"), sock=sock) as server, running(server):
            assert server.socket is sock
            with connect(url(server)) as ws:
                assert ws.recv(timeout=STEP) == "mine"

    def test_invalid_options(self) -> None:
        with pytest.raises(ArgumentError):
            serve(lambda ws: None, "127.0.0.1", 0, max_queue=-1)
        with pytest.raises(ArgumentError):
            serve(lambda ws: None, "127.0.0.1", 0, ssl="yes")


class TestInterop:
    """The asyncio client against the blocking server."""

    def test_echo_ping_close(self) -> None:
        async def client(port: int) -> tuple[list[str | bytes], int | None]:
            replies: list[str | bytes] = []
            async with airsocket.connect(f"ws://127.0.0.1:{port}/") as ws:
                for message in ("text", b"bytes", "", b"\x07" * (1 << 20)):
                    await ws.send(message)
                    replies.append(await asyncio.wait_for(ws.recv(), STEP))
                await asyncio.wait_for(ws.ping(), STEP)
            return replies, ws.close_code

        with sync_server() as server:
            replies, code = asyncio.run(client(server.port))
        assert replies == ["text", b"bytes", "", b"\x07" * (1 << 20)]
        assert code == 1000

    def test_handler_error_reaches_the_asyncio_client(self) -> None:
        def broken(ws: Connection) -> None:
            ws.recv()
            raise RuntimeError("handler bug")

        async def client(port: int) -> int:
            async with airsocket.connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("trigger")
                with pytest.raises(airsocket.ConnectionClosedError) as caught:
                    await asyncio.wait_for(ws.recv(), STEP)
            return caught.value.code

        with sync_server(broken) as server:
            assert asyncio.run(client(server.port)) == 1011
