"""wss:// over real sockets: verified by default, certificateError, securityError, TLS servers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from air_helpers import (
    AirServer,
    Certificates,
    RawServer,
    Recorder,
    echo,
    echo_setup,
    open_client,
    port_of,
    run,
    settle,
    step,
)

import airsocket
from airsocket import SecurityErrorEvent, WebSocket


@pytest.fixture(scope="module")
def certificates() -> Certificates:
    return Certificates()


def wss(port: int, host: str = "localhost") -> str:
    return f"wss://{host}:{port}/"


def test_wss_connect_with_protocols(certificates: Certificates) -> None:
    async def main() -> None:
        async with airsocket.serve(
            echo, "127.0.0.1", 0, ssl=certificates.server, subprotocols=["chat"]
        ) as server:
            ws, recorder = await open_client(
                wss(port_of(server)), ["superchat", "chat"], ssl=certificates.client
            )
            assert ws.protocol == "chat"
            ws.send_message(WebSocket.fmtTEXT, "secret")
            assert (await recorder.wait("websocketData")).string_data == "secret"
            ws.close()

    run(main())


def test_server_tls_through_server_socket_ssl(certificates: Certificates) -> None:
    async def main() -> None:
        server = AirServer(echo_setup, server_ssl=certificates.server).start()
        ws, recorder = await open_client(wss(server.port), ssl=certificates.client)
        ws.send_message(WebSocket.fmtBINARY, b"\x00tls")
        assert (await recorder.wait("websocketData")).data == b"\x00tls"
        adopted, server_recorder = await server.accepted()
        await server_recorder.wait("connect")
        assert adopted.request_path == "/"
        ws.close(4002)
        await server_recorder.wait("close")
        assert adopted.close_reason == 4002
        server.close()

    run(main())


def self_signed(certificates: Certificates, tmp_path: Path) -> ssl.SSLContext:
    from air_helpers import self_signed_context

    return self_signed_context(tmp_path)


def expired(certificates: Certificates, tmp_path: Path) -> ssl.SSLContext:
    return certificates.expired()


def wrong_host(certificates: Certificates, tmp_path: Path) -> ssl.SSLContext:
    return certificates.wrong_host()


# (how to build the server's context, the OpenSSL verify code it fails with)
BAD_CERTIFICATES = [
    pytest.param(self_signed, 18, id="self-signed"),  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    pytest.param(expired, 10, id="expired"),  # X509_V_ERR_CERT_HAS_EXPIRED
    pytest.param(wrong_host, 62, id="wrong-host"),  # X509_V_ERR_HOSTNAME_MISMATCH
]

ServerContext = Callable[[Certificates, Path], ssl.SSLContext]


def serve_tls(context: ssl.SSLContext) -> Any:
    return airsocket.serve(echo, "127.0.0.1", 0, ssl=context)


# A client that refuses the certificate aborts the server's TLS handshake; the
# server's loop reports that as an error we expect here.
EXPECTED = (
    "SSL handshake failed",
    "SSL handshake failed on verifying the certificate",
    "Error on transport creation for incoming connection",
)


@pytest.mark.parametrize(("make", "verify_code"), BAD_CERTIFICATES)
def test_a_bad_certificate_is_refused_by_default_with_close_1015(
    certificates: Certificates, tmp_path: Path, make: ServerContext, verify_code: int
) -> None:
    async def main() -> None:
        async with serve_tls(make(certificates, tmp_path)) as server:
            ws = WebSocket(ssl=certificates.client)
            recorder = Recorder(ws)
            ws.connect(wss(port_of(server)))
            event = await recorder.wait("close")
            assert recorder.types == ["certificateError", "close"]
            error = recorder.events[0]
            assert isinstance(error, SecurityErrorEvent)
            assert error.type == SecurityErrorEvent.CERTIFICATE_ERROR
            assert (error.cancelable, error.bubbles, error.target) == (True, False, ws)
            assert error.error_id == verify_code
            assert "certificate verify failed" in error.text
            assert not error.is_default_prevented()
            assert event.type == "close"
            assert ws.close_reason == 1015
            assert not ws.connected

    run(main(), ignore=EXPECTED)


@pytest.mark.parametrize(("make", "verify_code"), BAD_CERTIFICATES)
def test_a_bad_certificate_is_allowed_when_a_listener_prevents_the_default(
    certificates: Certificates, tmp_path: Path, make: ServerContext, verify_code: int
) -> None:
    async def main() -> None:
        async with serve_tls(make(certificates, tmp_path)) as server:
            ws = WebSocket(ssl=certificates.client)
            recorder = Recorder(ws)
            ws.add_event_listener(
                SecurityErrorEvent.CERTIFICATE_ERROR, lambda event: event.prevent_default()
            )
            ws.connect(wss(port_of(server)), ["chat"])
            await recorder.wait("connect")
            assert recorder.types == ["certificateError", "connect"]
            assert recorder.events[0].is_default_prevented()
            ws.send_message(WebSocket.fmtTEXT, "trusted anyway")
            assert (await recorder.wait("websocketData")).string_data == "trusted anyway"
            ws.close()

    run(main(), ignore=EXPECTED)


def test_the_default_context_verifies_too(certificates: Certificates) -> None:
    # No ssl option: the system's trust store, which does not know our CA.
    async def main() -> None:
        async with serve_tls(certificates.server) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(wss(port_of(server)))
            await recorder.wait("close")
            assert recorder.types == ["certificateError", "close"]
            assert ws.close_reason == 1015

    run(main(), ignore=EXPECTED)


def test_a_coroutine_listener_cannot_allow_a_certificate(certificates: Certificates) -> None:
    async def main() -> None:
        async with serve_tls(certificates.wrong_host()) as server:
            ws = WebSocket(ssl=certificates.client)
            recorder = Recorder(ws)

            async def too_late(event: SecurityErrorEvent) -> None:
                event.prevent_default()  # runs after the dispatch: no effect

            ws.add_event_listener(SecurityErrorEvent.CERTIFICATE_ERROR, too_late)
            ws.connect(wss(port_of(server)))
            await recorder.wait("close")
            assert ws.close_reason == 1015

    run(main(), ignore=EXPECTED)


def test_closing_from_the_certificate_listener_dispatches_nothing_more(
    certificates: Certificates,
) -> None:
    async def main() -> None:
        async with serve_tls(certificates.wrong_host()) as server:
            ws = WebSocket(ssl=certificates.client)
            recorder = Recorder(ws)
            ws.add_event_listener(SecurityErrorEvent.CERTIFICATE_ERROR, lambda event: ws.close())
            ws.connect(wss(port_of(server)))
            await recorder.wait("certificateError")
            await settle()
            assert recorder.types == ["certificateError"]
            assert ws.close_reason == 1000

    run(main(), ignore=EXPECTED)


def test_other_tls_failures_dispatch_security_error(certificates: Certificates) -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await step(reader.read(1))  # the ClientHello has begun: answer it in plain text
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async def main() -> None:
        async with RawServer(plain_http) as server:
            ws = WebSocket(ssl=certificates.client)
            recorder = Recorder(ws)
            ws.connect(wss(server.port))
            event = await recorder.wait_any("securityError", "ioError")
            assert event.type == SecurityErrorEvent.SECURITY_ERROR
            assert event.text
            await settle()
            assert recorder.types == ["securityError"]  # no close: it never opened

    run(main())


def test_a_tls_server_reports_a_client_that_is_not_tls(certificates: Certificates) -> None:
    async def main() -> None:
        server = AirServer(server_ssl=certificates.server).start()
        _reader, writer = await step(asyncio.open_connection("127.0.0.1", server.port))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _ws, recorder = await server.accepted()
        event = await recorder.wait_any("securityError", "ioError", "close")
        assert event.type == "securityError"
        writer.close()
        server.close()

    run(main())
