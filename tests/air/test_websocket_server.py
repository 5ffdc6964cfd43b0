"""WebSocket as a server (start_server) over real sockets, adopted from a ServerSocket."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from typing import Any

import pytest
from air_helpers import (
    KEY,
    MASK,
    AirServer,
    Certificates,
    Recorder,
    accept_key,
    close_frame,
    echo_setup,
    frame,
    header,
    raw_client,
    read_frame,
    read_head,
    run,
    settle,
    step,
)

import airsocket
from airsocket import ArgumentError, InvalidState, WebSocket


def url(server: AirServer, path: str = "/", scheme: str = "ws") -> str:
    return f"{scheme}://127.0.0.1:{server.port}{path}"


def test_start_server_answers_the_upgrade_and_dispatches_connect() -> None:
    async def main() -> None:
        server = AirServer(echo_setup).start()
        client = await step(
            airsocket.connect(url(server, "/chat?room=1"), extra_headers={"X-Test": "yes"})
        )
        ws, recorder = await server.accepted()
        await recorder.wait("connect")
        assert ws.connected
        assert ws.request_path == "/chat?room=1"
        assert ws.request_headers is not None and ws.request_headers["X-Test"] == "yes"
        assert ws.remote_address == client.local_address
        assert ws.response is not None and ws.response.status == 101
        await client.send("echo me")
        assert await step(client.recv()) == "echo me"
        await client.send(b"\x01\x02")
        assert await step(client.recv()) == b"\x01\x02"
        await client.close()
        server.close()

    run(main())


@pytest.mark.parametrize("lean", [True, False], ids=["our-transport", "the-loops-transport"])
def test_plain_tcp_on_the_default_loop_runs_on_our_transport(
    lean: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A socket that cannot be set up for our transport (reset meanwhile)
    # goes the loop's own way, which reports the failure; here it works.
    from airsocket.air import websocket as websocket_module
    from airsocket.asyncio.transport import SocketTransport

    if not lean:

        def reset(sock: socket.socket) -> None:
            raise ConnectionResetError("reset meanwhile")

        monkeypatch.setattr(websocket_module, "prepare_socket", reset)

    async def main() -> None:
        server = AirServer(echo_setup).start()
        client = await step(airsocket.connect(url(server)))
        ws, recorder = await server.accepted()
        await recorder.wait("connect")
        transport = ws._engine.transport
        assert (type(transport) is SocketTransport) is lean
        await client.send("echo me")
        assert await step(client.recv()) == "echo me"
        await client.close()
        await recorder.wait("close")
        server.close()

    run(main())


def test_request_info_is_none_before_the_request() -> None:
    ws = WebSocket()
    assert (ws.request_path, ws.request_headers, ws.remote_address) == (None, None, None)
    assert (ws.request, ws.response) == (None, None)


@pytest.mark.parametrize(
    ("accepted", "offered", "chosen"),
    [
        (["b", "a"], ["a", "b"], "a"),  # the first one the client offered
        (["b", "c"], ["a", "b", "c"], "b"),
        (("b",), ["a", "b"], "b"),
        ("b", ["a", "b"], "b"),
        ("z", ["a", "b"], None),  # nothing in common: no subprotocol
        (None, ["a", "b"], None),
    ],
)
def test_server_protocol_selection(accepted: Any, offered: list[str], chosen: str | None) -> None:
    async def main() -> None:
        def setup(ws: WebSocket) -> None:
            ws.protocol = accepted
            assert ws.protocol == (list(accepted) if isinstance(accepted, tuple) else accepted)

        server = AirServer(setup).start()
        client = await step(airsocket.connect(url(server), subprotocols=offered))
        assert client.subprotocol == chosen
        ws, recorder = await server.accepted()
        await recorder.wait("connect")
        assert ws.protocol == chosen
        await client.close()
        server.close()

    run(main())


def test_server_protocol_may_be_set_right_after_start_server() -> None:
    async def main() -> None:
        server = AirServer().start()
        server.server.remove_event_listener("connect", server._connection)
        sockets: list[WebSocket] = []

        def adopt(event: Any) -> None:
            ws = WebSocket()
            ws.start_server(event.socket)
            ws.protocol = "late"  # the request is read on a later loop iteration
            sockets.append(ws)

        server.server.add_event_listener("connect", adopt)
        client = await step(airsocket.connect(url(server), subprotocols=["early", "late"]))
        assert client.subprotocol == "late"
        await client.close()
        server.close()
        for ws in sockets:
            ws.close()

    run(main())


def test_server_protocol_is_read_only_once_the_handshake_is_done() -> None:
    async def main() -> None:
        server = AirServer(lambda ws: setattr(ws, "protocol", "chat")).start()
        client = await step(airsocket.connect(url(server), subprotocols=["chat"]))
        ws, recorder = await server.accepted()
        await recorder.wait("connect")
        with pytest.raises(ArgumentError):
            ws.protocol = "other"
        assert ws.protocol == "chat"
        await client.close()
        await recorder.wait("close")
        with pytest.raises(ArgumentError):
            ws.protocol = "other"  # still the negotiated one until the next connection
        server.close()

    run(main())


@pytest.mark.parametrize("value", ["", 42, [1], ["ok", ""], b"chat", [b"chat"]])
def test_server_protocol_rejects_invalid_values(value: Any) -> None:
    ws = WebSocket()
    with pytest.raises(ArgumentError):
        ws.protocol = value
    assert ws.protocol is None


def test_client_protocol_is_the_one_the_server_chose() -> None:
    async def main() -> None:
        server = AirServer(lambda ws: setattr(ws, "protocol", ["v2", "v1"])).start()
        client = WebSocket()
        recorder = Recorder(client)
        client.connect(url(server), ["v1", "v2"])
        await recorder.wait("connect")
        assert client.protocol == "v1"
        with pytest.raises(ArgumentError):
            client.protocol = "v2"
        client.close()
        server.close()

    run(main())


def test_a_plain_http_request_is_answered_400_closed_and_close_is_dispatched() -> None:
    async def main() -> None:
        server = AirServer().start()
        reader, writer = await step(asyncio.open_connection("127.0.0.1", server.port))
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await read_head(reader)
        assert head.startswith("HTTP/1.1 400 ")
        await step(reader.read())  # the body, then the server ends the stream
        assert reader.at_eof()
        writer.close()
        ws, recorder = await server.accepted()
        await recorder.wait("close")
        assert recorder.types == ["close"]
        assert ws.close_reason == 1002
        assert ws.response is not None and ws.response.status == 400
        server.close()

    run(main())


def test_a_request_with_another_version_is_answered_426() -> None:
    async def main() -> None:
        server = AirServer().start()
        _reader, writer, head = await raw_client(server.port, "/", "Sec-WebSocket-Version: 8")
        assert head.startswith("HTTP/1.1 426 "), head
        assert header(head, "Sec-WebSocket-Version") == "13"
        writer.close()
        _ws, recorder = await server.accepted()
        await recorder.wait("close")
        assert recorder.types == ["close"]
        server.close()

    run(main())


def test_garbage_instead_of_a_request_is_answered_400() -> None:
    async def main() -> None:
        server = AirServer().start()
        reader, writer = await step(asyncio.open_connection("127.0.0.1", server.port))
        writer.write(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        head = await read_head(reader)
        assert head.startswith("HTTP/1.1 400 ")
        writer.close()
        _, recorder = await server.accepted()
        await recorder.wait("close")
        server.close()

    run(main())


def test_a_client_that_leaves_before_its_request_dispatches_close_1006() -> None:
    async def main() -> None:
        server = AirServer().start()
        _, writer = await step(asyncio.open_connection("127.0.0.1", server.port))
        writer.close()
        ws, recorder = await server.accepted()
        await recorder.wait("close")
        assert recorder.types == ["close"]
        assert ws.close_reason == 1006
        server.close()

    run(main())


def test_the_server_close_event_carries_the_client_code() -> None:
    async def main() -> None:
        server = AirServer().start()
        client = await step(airsocket.connect(url(server)))
        ws, recorder = await server.accepted()
        await recorder.wait("connect")
        await client.close(4321)
        await recorder.wait("close")
        assert ws.close_reason == 4321
        assert recorder.types == ["connect", "close"]
        server.close()

    run(main())


def test_a_server_local_close_reaches_the_client_and_dispatches_nothing() -> None:
    async def main() -> None:
        server = AirServer().start()
        client = await step(airsocket.connect(url(server)))
        ws, recorder = await server.accepted()
        await recorder.wait("connect")
        ws.close(1001)
        await step(client.wait_closed())
        assert client.close_code == 1001
        await settle()
        assert recorder.types == ["connect"]
        assert ws.close_reason == 1001
        server.close()

    run(main())


def test_the_server_answers_pings_and_reports_pongs() -> None:
    async def main() -> None:
        server = AirServer().start()
        reader, writer, head = await raw_client(server.port)
        assert header(head, "Sec-WebSocket-Accept") == accept_key(KEY)
        ws, recorder = await server.accepted()
        await recorder.wait("connect")
        writer.write(frame(0x9, b"ping!", mask=MASK))
        assert await read_frame(reader) == (0xA, b"ping!")
        ping = await recorder.wait("websocketData")
        assert (ping.format.name, ping.data) == ("PING", b"ping!")
        ws.send_message(WebSocket.fmtPING, b"yours")
        assert await read_frame(reader) == (0x9, b"yours")
        writer.write(frame(0xA, b"yours", mask=MASK))
        pong = await recorder.wait("websocketData", 2)
        assert (pong.format.name, pong.data) == ("PONG", b"yours")
        writer.write(close_frame(1000, mask=MASK))
        assert await read_frame(reader) == (0x8, (1000).to_bytes(2, "big"))
        writer.close()
        await recorder.wait("close")
        assert ws.close_reason == 1000
        server.close()

    run(main())


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        (frame(0x1, b"x"), 1002),  # clients must mask
        (frame(0x1, b"\xed\xa0\x80", mask=MASK), 1007),  # a UTF-16 surrogate in UTF-8
        (frame(0x2, b"y" * 65, mask=MASK), 1009),  # over max_message_size=64
    ],
)
def test_a_bad_frame_from_the_client_closes_with_the_rfc_code(sent: bytes, code: int) -> None:
    async def main() -> None:
        server = AirServer(max_message_size=64).start()
        reader, writer, _ = await raw_client(server.port)
        ws, recorder = await server.accepted()
        writer.write(sent)
        assert await read_frame(reader) == (0x8, code.to_bytes(2, "big"))
        await step(reader.read())  # the server ends the TCP connection first
        writer.close()
        await recorder.wait("close")
        assert ws.close_reason == code
        assert recorder.types == ["connect", "close"]
        server.close()

    run(main())


def test_start_server_argument_errors() -> None:
    async def main() -> None:
        ws = WebSocket()
        with pytest.raises(ArgumentError):
            ws.start_server(None)
        with pytest.raises(ArgumentError):
            ws.start_server("127.0.0.1:80")
        with socket.socket() as unconnected, pytest.raises(ArgumentError):
            ws.start_server(unconnected)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(ArgumentError):
            ws.start_server(udp)
        server = AirServer().start()
        client = await step(airsocket.connect(url(server)))
        adopted, recorder = await server.accepted()
        await recorder.wait("connect")
        with socket.create_connection(("127.0.0.1", server.port)) as other:
            with pytest.raises(ArgumentError):
                adopted.start_server(other)  # already serving a connection
            with pytest.raises(ArgumentError):
                WebSocket(ssl="not a context").start_server(other)
        await client.close()
        server.close()

    run(main())


def test_start_server_outside_an_event_loop_raises_invalid_state() -> None:
    left, right = socket.socketpair()
    with left, right, pytest.raises(InvalidState):
        WebSocket().start_server(left)


def test_start_server_refuses_a_tls_socket_whose_handshake_ran(tmp_path: Any) -> None:
    certificates = Certificates()
    left, right = socket.socketpair()
    client_side: list[ssl.SSLSocket] = []

    def client() -> None:
        context = certificates.client
        context.check_hostname = False
        client_side.append(context.wrap_socket(right))

    thread = threading.Thread(target=client)
    thread.start()
    server_side = certificates.server.wrap_socket(left, server_side=True)
    thread.join(10)
    try:

        async def main() -> None:
            with pytest.raises(ArgumentError, match="handshake"):
                WebSocket().start_server(server_side)

        run(main())
    finally:
        server_side.close()
        for sock in client_side:
            sock.close()
        right.close()


def test_tls_from_a_plain_socket_and_the_ssl_option() -> None:
    certificates = Certificates()

    async def main() -> None:
        server = AirServer(echo_setup, ssl=certificates.server).start()
        client = await step(airsocket.connect(url(server, scheme="wss"), ssl=certificates.client))
        await client.send("over TLS")
        assert await step(client.recv()) == "over TLS"
        await client.close()
        server.close()

    run(main())
