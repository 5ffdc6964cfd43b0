"""Tests of airsocket.sync.client: connect(), its options, TLS, failures, interop."""

from __future__ import annotations

import os
import socket
import ssl
import threading

import pytest

import airsocket
from airsocket import ArgumentError, ConnectionClosedOK, InvalidHandshake, InvalidStatus, InvalidURI
from airsocket.sync import connect
from airsocket.tls import ENCRYPT_SIZE

from .helpers import STEP, RawPeer, asyncio_server, raw_server, running, sync_server, url


class TestConnect:
    def test_handshake_results_are_exposed(self) -> None:
        with sync_server() as server, connect(url(server, path="/chat?room=1")) as ws:
            assert ws.state.name == "OPEN"
            assert ws.request is not None
            assert ws.request.path == "/chat?room=1"
            assert ws.response is not None
            assert ws.response.status == 101
            assert ws.remote_address[:2] == ("127.0.0.1", server.port)
            assert ws.local_address[0] == "127.0.0.1"
            assert ws.subprotocol is None
            assert "OPEN" in repr(ws)

    def test_subprotocol_negotiation(self) -> None:
        with (
            sync_server(subprotocols=["superchat"]) as server,
            connect(url(server), subprotocols=["chat", "superchat"]) as ws,
        ):
            assert ws.subprotocol == "superchat"

    def test_extra_headers_are_sent(self) -> None:
        with (
            sync_server() as server,
            connect(url(server), extra_headers={"X-Token": "secret"}) as ws,
        ):
            assert ws.request is not None
            assert ws.request.headers["X-Token"] == "secret"

    def test_ipv6(self) -> None:
        if not socket.has_ipv6:
            pytest.skip("no IPv6")
        try:
            server = airsocket.sync.serve(lambda ws: ws.send("v6"), "::1", 0)
        except OSError:
            pytest.skip("::1 is not available")

        with server, running(server), connect(f"ws://[::1]:{server.port}/") as ws:
            assert ws.recv(timeout=STEP) == "v6"
            assert ws.remote_address[0] == "::1"


class TestRefusals:
    def test_invalid_uri(self) -> None:
        with pytest.raises(InvalidURI):
            connect("http://127.0.0.1/")

    def test_ssl_for_ws_is_refused(self, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        with pytest.raises(ArgumentError):
            connect("ws://127.0.0.1:1/", ssl=tls[1])

    def test_ssl_must_be_a_context(self) -> None:
        with pytest.raises(ArgumentError):
            connect("wss://127.0.0.1:1/", ssl=True)

    def test_unknown_option(self) -> None:
        with pytest.raises(ArgumentError):
            connect("ws://127.0.0.1:1/", max_size=10)

    def test_connection_refused(self) -> None:
        with socket.create_server(("127.0.0.1", 0)) as probe:
            port = probe.getsockname()[1]
        with pytest.raises(ConnectionRefusedError):
            connect(f"ws://127.0.0.1:{port}/")

    def test_http_error_raises_invalid_status(self) -> None:
        def forbid(peer: RawPeer) -> None:
            peer.read_head()
            peer.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")

        with raw_server(forbid) as (port, _), pytest.raises(InvalidStatus) as caught:
            connect(f"ws://127.0.0.1:{port}/")
        assert caught.value.response.status == 403

    def test_bad_accept_key_raises_invalid_handshake(self) -> None:
        def botch(peer: RawPeer) -> None:
            peer.read_head()
            peer.send(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n"
            )

        with raw_server(botch) as (port, _), pytest.raises(InvalidHandshake):
            connect(f"ws://127.0.0.1:{port}/")

    def test_eof_during_handshake(self) -> None:
        def hang_up(peer: RawPeer) -> None:
            peer.read_head()
            peer.sock.shutdown(socket.SHUT_WR)

        with raw_server(hang_up) as (port, _), pytest.raises(InvalidHandshake):
            connect(f"ws://127.0.0.1:{port}/")

    def test_open_timeout(self) -> None:
        answered = threading.Event()

        def silent(peer: RawPeer) -> None:
            peer.read_head()
            answered.wait(STEP)  # never answers while the client waits

        with raw_server(silent) as (port, _):
            try:
                with pytest.raises(TimeoutError, match="timed out opening"):
                    connect(f"ws://127.0.0.1:{port}/", open_timeout=0.05)
            finally:
                answered.set()


class TestTLS:
    def test_wss_echo(self, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        server_context, client_context = tls
        with sync_server(ssl=server_context) as server:
            with connect(url(server, "wss"), ssl=client_context) as ws:
                ws.send("secret")
                assert ws.recv(timeout=STEP) == "secret"
                ws.send(b"\x01" * (1 << 20))
                assert ws.recv(timeout=STEP) == b"\x01" * (1 << 20)
                assert ws.ping(timeout=STEP) >= 0
            assert ws.close_code == 1000

    def test_large_messages_go_to_tls_a_piece_at_a_time(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext], tls_writes: list[int]
    ) -> None:
        # Each piece's ciphertext is taken before the next goes in: the memory
        # BIO never holds a whole megabyte (see airsocket.tls.ENCRYPT_SIZE).
        server_context, client_context = tls
        data = os.urandom(3 << 20)
        with (
            sync_server(ssl=server_context, compression=None) as server,
            connect(url(server, "wss"), ssl=client_context, compression=None) as ws,
        ):
            ws.send(data)
            assert ws.recv(timeout=STEP) == data
        assert sum(tls_writes) > 6 << 20  # both ways
        assert max(tls_writes) <= ENCRYPT_SIZE

    def test_server_close_over_tls(self, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        server_context, client_context = tls
        with (
            sync_server(lambda ws: ws.send("bye"), ssl=server_context) as server,
            connect(url(server, "wss"), ssl=client_context) as ws,
        ):
            assert list(ws) == ["bye"]
            assert ws.close_code == 1000

    def test_default_context_verifies_the_certificate(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        with sync_server(ssl=tls[0]) as server, pytest.raises(ssl.SSLCertVerificationError):
            connect(url(server, "wss"))

    def test_plain_client_against_tls_server_fails(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        with sync_server(ssl=tls[0]) as server, pytest.raises(InvalidHandshake):
            connect(url(server), open_timeout=STEP)


class TestInterop:
    """The blocking client against the asyncio server."""

    def test_echo_ping_close(self) -> None:
        async def echo(ws: airsocket.Connection) -> None:
            async for message in ws:
                await ws.send(message)

        with asyncio_server(echo) as port, connect(f"ws://127.0.0.1:{port}/") as ws:
            for message in ("text", b"bytes", "", b"\x00" * (1 << 20)):
                ws.send(message)
                assert ws.recv(timeout=STEP) == message
            assert ws.ping(timeout=STEP) >= 0
        assert ws.close_code == 1000

    def test_server_closes_with_a_reason(self) -> None:
        async def leave(ws: airsocket.Connection) -> None:
            await ws.close(1001, "going")

        with (
            asyncio_server(leave) as port,
            connect(f"ws://127.0.0.1:{port}/") as ws,
            pytest.raises(ConnectionClosedOK),
        ):
            ws.recv(timeout=STEP)
        assert (ws.close_code, ws.close_reason) == (1001, "going")

    def test_over_tls(self, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        async def greet(ws: airsocket.Connection) -> None:
            await ws.send(await ws.recv())

        server_context, client_context = tls
        with (
            asyncio_server(greet, ssl=server_context) as port,
            connect(f"wss://127.0.0.1:{port}/", ssl=client_context) as ws,
        ):
            ws.send("over tls")
            assert ws.recv(timeout=STEP) == "over tls"
        assert ws.close_code == 1000
