"""ServerSocket over real sockets: bind, listen, connect events, close, TLS."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import pytest
from air_helpers import Certificates, Recorder, run, settle, step

import airsocket
from airsocket import ArgumentError, InvalidState, ServerSocket, ServerSocketConnectEvent


def test_properties_before_bind() -> None:
    server = ServerSocket()
    assert (server.bound, server.listening) == (False, False)
    assert (server.local_port, server.local_address) == (0, "")
    assert server.ssl is None
    assert "unbound" in repr(server)
    server.close()  # not bound: nothing to do


@pytest.mark.parametrize("name", ["bound", "listening", "local_port", "local_address"])
def test_properties_are_read_only(name: str) -> None:
    with pytest.raises(AttributeError):
        setattr(ServerSocket(), name, 1)


def test_bind_listen_close() -> None:
    async def main() -> None:
        server = ServerSocket()
        server.bind(0, "127.0.0.1")
        assert server.bound and not server.listening
        assert server.local_address == "127.0.0.1" and server.local_port > 0
        port = server.local_port
        server.listen()
        assert server.listening
        assert f"127.0.0.1:{port} listening" in repr(server)
        server.listen()  # already listening: no-op
        with socket.create_connection(("127.0.0.1", port)):
            pass
        server.close()
        assert (server.bound, server.listening, server.local_port) == (False, False, 0)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        server.bind(port, "127.0.0.1")  # the port is free again at once
        assert server.local_port == port
        server.close()
        server.close()  # twice: no-op

    run(main())


def test_bind_defaults_to_all_ipv4_interfaces_and_a_free_port() -> None:
    server = ServerSocket()
    server.bind()
    try:
        assert server.local_address == "0.0.0.0" and server.local_port > 0
    finally:
        server.close()


def test_bind_ipv6() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    server = ServerSocket()
    try:
        server.bind(0, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert server.local_address == "::1"
    finally:
        server.close()


@pytest.mark.parametrize("port", [-1, 65536, "80", 80.0, None, True])
def test_bind_with_an_invalid_port_raises_argument_error(port: Any) -> None:
    with pytest.raises(ArgumentError):
        ServerSocket().bind(port, "127.0.0.1")


@pytest.mark.parametrize("address", ["localhost", "999.1.1.1", "", "127.0.0.1:80", None])
def test_bind_with_an_invalid_address_raises_argument_error(address: Any) -> None:
    with pytest.raises(ArgumentError):
        ServerSocket().bind(0, address)


def test_bind_twice_raises_invalid_state_and_a_port_in_use_raises_os_error() -> None:
    first = ServerSocket()
    first.bind(0, "127.0.0.1")
    try:
        with pytest.raises(InvalidState):
            first.bind(0, "127.0.0.1")
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            other.listen()
            second = ServerSocket()
            with pytest.raises(OSError):
                second.bind(other.getsockname()[1], "127.0.0.1")
            assert not second.bound
    finally:
        first.close()


def test_listen_errors() -> None:
    async def main() -> None:
        server = ServerSocket()
        with pytest.raises(InvalidState):
            server.listen()
        server.bind(0, "127.0.0.1")
        for backlog in (-1, "5", None, True):
            with pytest.raises(ArgumentError):
                server.listen(backlog)
        server.listen(5)
        server.close()

    run(main())


def test_listen_outside_an_event_loop_raises_invalid_state() -> None:
    server = ServerSocket()
    server.bind(0, "127.0.0.1")
    try:
        with pytest.raises(InvalidState):
            server.listen()
    finally:
        server.close()


def test_ssl_must_be_a_context() -> None:
    with pytest.raises(ArgumentError):
        ServerSocket(ssl="cert.pem")  # type: ignore[arg-type]


def test_each_accepted_connection_dispatches_connect_with_its_socket() -> None:
    async def main() -> None:
        server = ServerSocket()
        recorder = Recorder(server, ("connect",))
        server.bind(0, "127.0.0.1")
        server.listen()
        first = socket.create_connection(("127.0.0.1", server.local_port))
        second = socket.create_connection(("127.0.0.1", server.local_port))
        events = [await recorder.wait("connect", 1), await recorder.wait("connect", 2)]
        for event, client in zip(events, (first, second), strict=False):
            assert isinstance(event, ServerSocketConnectEvent)
            assert type(event.socket) is socket.socket
            assert event.socket.getpeername() == client.getsockname()
            event.socket.sendall(b"hi")
            assert client.recv(2) == b"hi"
            event.socket.close()
            client.close()
        server.close()

    run(main())


def test_connections_nobody_listens_for_are_closed() -> None:
    async def main() -> None:
        server = ServerSocket()
        server.bind(0, "127.0.0.1")
        server.listen()
        reader, writer = await step(asyncio.open_connection("127.0.0.1", server.local_port))
        assert await step(reader.read()) == b""  # closed by the server
        writer.close()
        server.close()

    run(main())


def test_closing_from_a_connect_listener_stops_accepting() -> None:
    async def main() -> None:
        server = ServerSocket()
        accepted: list[socket.socket] = []

        def on_connect(event: ServerSocketConnectEvent) -> None:
            assert event.socket is not None
            accepted.append(event.socket)
            server.close()

        server.add_event_listener("connect", on_connect)
        server.bind(0, "127.0.0.1")
        port = server.local_port
        server.listen(8)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        while not accepted:
            await asyncio.sleep(0)
        await settle()
        assert len(accepted) == 1 and not server.listening
        for sock in accepted + clients:
            sock.close()

    run(main())


def test_with_ssl_every_accepted_socket_is_a_tls_one() -> None:
    certificates = Certificates()

    async def main() -> None:
        server = ServerSocket(ssl=certificates.server)
        assert server.ssl is certificates.server
        recorder = Recorder(server, ("connect",))
        adopted: list[airsocket.WebSocket] = []

        def on_connect(event: ServerSocketConnectEvent) -> None:
            assert isinstance(event.socket, ssl.SSLSocket)
            assert event.socket.version() is None  # the handshake runs once adopted
            ws = airsocket.WebSocket()
            ws.start_server(event.socket)
            adopted.append(ws)

        server.add_event_listener("connect", on_connect)
        server.bind(0, "127.0.0.1")
        server.listen()
        url = f"wss://localhost:{server.local_port}/tls"
        client = await step(airsocket.connect(url, ssl=certificates.client))
        await recorder.wait("connect")
        await client.send("x")
        await client.close()
        assert adopted[0].request_path == "/tls"
        server.close()

    run(main())


def test_the_proactor_style_accept_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows' proactor loop has no add_reader: the ServerSocket then accepts
    # in a task. Refusing add_reader here runs that path on this platform.
    async def main() -> None:
        loop = asyncio.get_running_loop()

        def no_readers(*args: Any) -> None:
            raise NotImplementedError

        monkeypatch.setattr(loop, "add_reader", no_readers)
        server = ServerSocket()
        recorder = Recorder(server, ("connect",))
        server.bind(0, "127.0.0.1")
        server.listen()
        assert server.listening
        with socket.create_connection(("127.0.0.1", server.local_port)) as client:
            event = await recorder.wait("connect")
            assert event.socket.getpeername() == client.getsockname()
            event.socket.close()
        server.close()
        assert not server.listening
        await settle()

    run(main())
