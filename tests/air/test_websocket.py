"""WebSocket as a client over real sockets: connect, messages, PING/PONG, close codes, errors.

The server side (start_server) is in test_websocket_server.py, TLS in
test_websocket_tls.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from typing import Any

import pytest
from air_helpers import (
    MASK,
    RawServer,
    Recorder,
    accept_upgrade,
    close_frame,
    echo,
    frame,
    free_port,
    header,
    open_client,
    port_of,
    read_frame,
    read_head,
    run,
    settle,
    step,
    switching,
)

import airsocket
from airsocket import ArgumentError, InvalidState, Opcode, WebSocket, WebSocketEvent


def serve_echo(**options: Any) -> Any:
    """An asyncio airsocket echo server on 127.0.0.1."""
    return airsocket.serve(echo, "127.0.0.1", 0, **options)


def url_of(server: airsocket.Server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{port_of(server)}{path}"


# ----------------------------------------------------------------------
# Constants


def test_format_constants_are_the_opcodes() -> None:
    assert (WebSocket.fmtTEXT, WebSocket.fmtBINARY, WebSocket.fmtCLOSE) == (1, 2, 8)
    assert (WebSocket.fmtPING, WebSocket.fmtPONG) == (9, 10)
    for name in ("TEXT", "BINARY", "CLOSE", "PING", "PONG"):
        assert getattr(WebSocket, f"fmt{name}") is getattr(WebSocket, f"FMT_{name}")
        assert getattr(WebSocket, f"fmt{name}") is Opcode[name]


def test_options_are_those_of_the_asyncio_api() -> None:
    ws = WebSocket(max_message_size=2**63 - 1, compression=None, open_timeout=3)
    assert ws.options.max_message_size == 2**63 - 1
    assert ws.options.compression is None
    assert WebSocket().options.max_message_size == 64 * 1024 * 1024
    with pytest.raises(ArgumentError):
        WebSocket(max_message_size=2**63)
    with pytest.raises(ArgumentError):
        WebSocket(no_such_option=1)


def test_close_reason_is_zero_before_any_close_and_read_only() -> None:
    ws = WebSocket()
    assert ws.close_reason == 0
    with pytest.raises(AttributeError):
        ws.close_reason = 1000  # type: ignore[misc]


def test_no_ping_is_sent_unless_ping_interval_is_set() -> None:
    # AIR: "It is up to the developer to implement any outgoing PING messages".
    assert WebSocket().options.ping_interval is None

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        opcode, payload = await read_frame(reader)  # the keepalive PING
        assert opcode == 0x9
        writer.write(frame(0xA, payload))
        assert await read_frame(reader) == (0x8, (1000).to_bytes(2, "big"))
        writer.write(close_frame(1000))

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, recorder = await open_client(server.url, ping_interval=0.05)
            pong = await recorder.wait("websocketData")
            assert pong.format == WebSocket.fmtPONG  # its PONG is dispatched too
            ws.close()
            await server.finished()

    run(main())


# ----------------------------------------------------------------------
# connect


def test_connect_dispatches_connect_and_the_chosen_protocol_is_readable() -> None:
    async def main() -> None:
        async with serve_echo(subprotocols=["superchat", "chat"]) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(url_of(server, "/testing"), ["chat", "superchat"])
            assert recorder.events == []  # connect() returns at once; events come later
            await recorder.wait("connect")
            assert ws.protocol == "chat"  # the first the client offered that the server has
            assert ws.connected
            assert ws.response is not None and ws.response.status == 101
            assert ws.request is not None and ws.request.path == "/testing"
            assert ws.remote_address[:2] == ("127.0.0.1", port_of(server))
            # plain TCP on the default loop: the asyncio client's own transport
            from airsocket.asyncio.transport import SocketTransport

            assert ws._engine is not None and type(ws._engine.transport) is SocketTransport
            ws.close()

    run(main())


def test_connect_without_protocols_has_no_protocol() -> None:
    async def main() -> None:
        async with serve_echo(subprotocols=["chat"]) as server:
            ws, _ = await open_client(url_of(server))
            assert ws.protocol is None
            assert ws.request is not None and header_of(ws, "Sec-WebSocket-Protocol") is None
            ws.close()

    run(main())


def header_of(ws: WebSocket, name: str) -> str | None:
    assert ws.request is not None
    return ws.request.headers.get(name)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "ftp://127.0.0.1/",
        "127.0.0.1:80",
        "not a url",
        "ws://",
        "ws://127.0.0.1/#fragment",
        "ws://127.0.0.1:99999/",
        42,
        None,
    ],
)
def test_connect_with_an_invalid_url_raises_argument_error(url: Any) -> None:
    async def main() -> None:
        ws = WebSocket()
        with pytest.raises(ArgumentError):
            ws.connect(url)
        assert not ws.connected
        await settle()

    run(main())


@pytest.mark.parametrize("protocols", ["chat", ["a b"], ["x", "x"], [1], [""], 5])
def test_connect_with_invalid_protocols_raises_argument_error(protocols: Any) -> None:
    async def main() -> None:
        ws = WebSocket()
        recorder = Recorder(ws)
        with pytest.raises(ArgumentError):
            ws.connect(f"ws://127.0.0.1:{free_port()}/", protocols)
        await settle()
        assert recorder.events == []  # nothing was attempted

    run(main())


def test_connect_with_ssl_option_and_ws_url_raises_argument_error() -> None:
    async def main() -> None:
        ws = WebSocket(ssl=airsocket_ssl_context())
        with pytest.raises(ArgumentError):
            ws.connect("ws://127.0.0.1:1/")

    run(main())


def airsocket_ssl_context() -> Any:
    import ssl

    return ssl.create_default_context()


def test_connect_while_connecting_or_open_raises_argument_error() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(url_of(server))
            with pytest.raises(ArgumentError):
                ws.connect(url_of(server))  # connecting
            await recorder.wait("connect")
            with pytest.raises(ArgumentError):
                ws.connect(url_of(server))  # open
            assert recorder.types == ["connect"]
            ws.close()

    run(main())


def test_connect_outside_an_event_loop_raises_invalid_state() -> None:
    with pytest.raises(InvalidState):
        WebSocket().connect("ws://127.0.0.1:1/")


def test_a_websocket_can_connect_again_after_its_close_event() -> None:
    async def main() -> None:
        closing = asyncio.Event()

        async def handler(conn: airsocket.Connection) -> None:
            if closing.is_set():
                await echo(conn)
            else:
                closing.set()
                await conn.close(4000)

        async with airsocket.serve(handler, "127.0.0.1", 0) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(url_of(server))
            await recorder.wait("close")
            assert ws.close_reason == 4000
            ws.connect(url_of(server))
            await recorder.wait("connect", 2)
            ws.send_message(WebSocket.fmtTEXT, "again")
            assert (await recorder.wait("websocketData")).string_data == "again"
            ws.close()

    run(main())


# ----------------------------------------------------------------------
# Messages


def test_text_message_has_string_data_and_utf8_data() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))
            ws.send_message(WebSocket.fmtTEXT, "héllo ☃")
            event = await recorder.wait("websocketData")
            assert isinstance(event, WebSocketEvent)
            assert event.format == WebSocket.fmtTEXT and event.format.name == "TEXT"
            assert event.string_data == "héllo ☃"
            assert event.data == "héllo ☃".encode()
            ws.close()

    run(main())


def test_binary_message_has_bytes_and_no_string_data() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))
            ws.send_message(WebSocket.fmtBINARY, b"\x00\xff\x10")
            ws.send_message(WebSocket.fmtBINARY, bytearray(b"ba"))
            ws.send_message(WebSocket.fmtBINARY, memoryview(b"xmvx")[1:3])
            ws.send_message(WebSocket.fmtBINARY, "snow ☃")  # a str is sent as its UTF-8
            events = [await recorder.wait("websocketData", n) for n in (1, 2, 3, 4)]
            assert [event.data for event in events] == [
                b"\x00\xff\x10",
                b"ba",
                b"mv",
                "snow ☃".encode(),
            ]
            for event in events:
                assert event.format == WebSocket.fmtBINARY and event.format.name == "BINARY"
                assert event.string_data is None
            ws.close()

    run(main())


def test_utf8_bytes_sent_as_text_arrive_as_text() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))
            ws.send_message(WebSocket.fmtTEXT, "☃".encode())
            event = await recorder.wait("websocketData")
            assert event.format == WebSocket.fmtTEXT and event.string_data == "☃"
            ws.close()

    run(main())


def test_messages_of_zero_bytes() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))
            ws.send_message(WebSocket.fmtTEXT, "")
            ws.send_message(WebSocket.fmtBINARY, b"")
            text = await recorder.wait("websocketData", 1)
            binary = await recorder.wait("websocketData", 2)
            assert (text.format, text.string_data, text.data) == (Opcode.TEXT, "", b"")
            assert (binary.format, binary.string_data, binary.data) == (Opcode.BINARY, None, b"")
            ws.close()

    run(main())


def test_a_message_of_max_message_size_arrives_and_one_byte_more_is_refused_with_1009() -> None:
    limit = 300_000

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        writer.write(frame(0x2, b"a" * limit))
        writer.write(frame(0x1, "é".encode() * (limit // 2)))  # text: the limit is in bytes
        writer.write(frame(0x2, b"b" * (limit + 1)))
        assert await read_frame(reader) == (0x8, (1009).to_bytes(2, "big"))
        writer.write(close_frame(1009))

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, recorder = await open_client(server.url, max_message_size=limit, compression=None)
            assert len((await recorder.wait("websocketData")).data) == limit
            assert (await recorder.wait("websocketData", 2)).string_data == "é" * (limit // 2)
            await recorder.wait("close")
            assert ws.close_reason == 1009
            assert len(recorder.of("websocketData")) == 2  # the big one was never delivered
            await server.finished()

    run(main())


@pytest.mark.parametrize("data", [None, 42, 1.5, ["x"], {"a": 1}, object()])
def test_send_message_with_invalid_data_raises_argument_error(data: Any) -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, _ = await open_client(url_of(server))
            for opcode in (WebSocket.fmtTEXT, WebSocket.fmtBINARY, WebSocket.fmtPING):
                with pytest.raises(ArgumentError):
                    ws.send_message(opcode, data)
            ws.close()

    run(main())


@pytest.mark.parametrize("opcode", [0, 3, 7, 11, 15, 255, -1, "TEXT", None, True, 1.0])
def test_send_message_with_an_unknown_opcode_raises_argument_error(opcode: Any) -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, _ = await open_client(url_of(server))
            with pytest.raises(ArgumentError):
                ws.send_message(opcode, "x")
            ws.close()

    run(main())


def test_send_message_with_close_raises_argument_error_and_sends_nothing() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))
            with pytest.raises(ArgumentError, match="close"):
                ws.send_message(WebSocket.fmtCLOSE, b"\x03\xe8")
            ws.send_message(WebSocket.fmtTEXT, "still open")
            assert (await recorder.wait("websocketData")).string_data == "still open"
            ws.close()

    run(main())


def test_send_message_of_invalid_utf8_as_text_raises_argument_error() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, _ = await open_client(url_of(server))
            with pytest.raises(ArgumentError):
                ws.send_message(WebSocket.fmtTEXT, b"\xff\xfe")
            ws.close()

    run(main())


def test_send_message_when_not_open_raises_argument_error() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await reader.read()

    async def main() -> None:
        ws = WebSocket()
        with pytest.raises(ArgumentError):
            ws.send_message(WebSocket.fmtTEXT, "never connected")
        async with RawServer(never_answer) as server:
            ws.connect(server.url)
            with pytest.raises(ArgumentError):
                ws.send_message(WebSocket.fmtTEXT, "connecting")
            ws.close()
        async with serve_echo() as echo_server:
            ws, _ = await open_client(url_of(echo_server))
            ws.close()
            with pytest.raises(ArgumentError):
                ws.send_message(WebSocket.fmtTEXT, "after close()")

    run(main())


def test_send_message_after_the_peer_closed_raises_argument_error() -> None:
    async def handler(conn: airsocket.Connection) -> None:
        await conn.close(4001)

    async def main() -> None:
        async with airsocket.serve(handler, "127.0.0.1", 0) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(url_of(server))
            await recorder.wait("close")
            with pytest.raises(ArgumentError):
                ws.send_message(WebSocket.fmtBINARY, b"late")

    run(main())


def test_send_message_refuses_while_a_peer_that_does_not_read_is_far_behind() -> None:
    # sendMessage cannot wait: past 16 x write_limit unsent bytes it raises,
    # sends nothing, and works again once the peer has read.
    reading = asyncio.Event()
    received: list[tuple[int, bytes]] = []

    async def slow_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Small kernel buffers both ways: what fills them is read back frame
        # by frame in a debug loop, a few ms each (a 32 MiB tcp_rmem let
        # 4 MiB through, 7 s of reading on a slow machine).
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        await accept_upgrade(reader, writer)
        await reading.wait()
        while (frame := await read_frame(reader))[0] != 0x8:
            received.append(frame)
        writer.write(close_frame(1000))

    async def main() -> None:
        async with RawServer(slow_reader) as server:
            ws, _ = await open_client(server.url, write_limit=4096)
            sock = ws._engine.transport.get_extra_info("socket")  # type: ignore[union-attr]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
            chunk = bytes(range(256)) * 16  # 4 KiB
            sent = 0
            with pytest.raises(ArgumentError, match="not reading"):
                for _ in range(10_000):  # the kernel's buffers fill first
                    ws.send_message(WebSocket.fmtBINARY, chunk)
                    sent += 1
            unsent = ws._engine.unsent_bytes()  # type: ignore[union-attr]
            assert 16 * 4096 < unsent <= 16 * 4096 + len(chunk) + 14
            reading.set()

            async def drained() -> None:
                while ws._engine.unsent_bytes():  # type: ignore[union-attr]
                    await asyncio.sleep(0.005)

            await step(drained())
            ws.send_message(WebSocket.fmtBINARY, b"after")
            ws.close()
            await server.finished()
            assert received == [(0x2, chunk)] * sent + [(0x2, b"after")]

    run(main())


def test_control_frames_carry_at_most_125_bytes() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        assert await read_frame(reader) == (0x9, b"p" * 125)
        assert await read_frame(reader) == (0xA, b"q" * 125)
        assert await read_frame(reader) == (0x8, (1000).to_bytes(2, "big"))
        writer.write(close_frame(1000))

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, _ = await open_client(server.url)
            for opcode in (WebSocket.fmtPING, WebSocket.fmtPONG):
                with pytest.raises(ArgumentError):
                    ws.send_message(opcode, b"x" * 126)
            ws.send_message(WebSocket.fmtPING, b"p" * 125)
            ws.send_message(WebSocket.fmtPONG, "q" * 125)
            ws.close()
            await server.finished()

    run(main())


# ----------------------------------------------------------------------
# PING and PONG


def test_a_ping_is_answered_with_its_payload_before_it_is_dispatched() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        assert await read_frame(reader) == (0x1, b"ready")
        writer.write(frame(0x9, b"abc"))
        # The listener answers the PING with a message: the PONG is before it.
        assert await read_frame(reader) == (0xA, b"abc")
        assert await read_frame(reader) == (0x1, b"seen abc")
        writer.write(frame(0xA, b"xyz"))  # an unsolicited PONG
        assert await read_frame(reader) == (0x8, (1000).to_bytes(2, "big"))
        writer.write(close_frame(1000))

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, recorder = await open_client(server.url)

            def on_data(event: WebSocketEvent) -> None:
                if event.format == WebSocket.fmtPING:
                    ws.send_message(WebSocket.fmtTEXT, "seen " + event.data.decode())

            ws.add_event_listener(WebSocketEvent.DATA, on_data)
            ws.send_message(WebSocket.fmtTEXT, "ready")
            ping = await recorder.wait("websocketData", 1)
            assert ping.format == WebSocket.fmtPING and ping.format.name == "PING"
            assert (ping.data, ping.string_data) == (b"abc", None)
            pong = await recorder.wait("websocketData", 2)
            assert pong.format == WebSocket.fmtPONG and pong.format.name == "PONG"
            assert (pong.data, pong.string_data) == (b"xyz", None)
            ws.close()
            await server.finished()

    run(main())


def test_our_ping_comes_back_as_a_pong_event() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))
            ws.send_message(WebSocket.fmtPING, "tick")
            pong = await recorder.wait("websocketData")
            assert (pong.format, pong.data) == (Opcode.PONG, b"tick")
            ws.close()

    run(main())


# ----------------------------------------------------------------------
# close


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, "1000", None, True, 1000.0]
)
def test_close_with_an_invalid_code_raises_argument_error(code: Any) -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, _ = await open_client(url_of(server))
            with pytest.raises(ArgumentError):
                ws.close(code)
            assert ws.connected  # nothing happened
            ws.close()

    run(main())
    with pytest.raises(ArgumentError):
        WebSocket().close(code)  # checked even when not connected


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1014, 3000, 4999])
def test_local_close_sends_the_code_and_dispatches_no_close_event(code: int) -> None:
    received: list[int | None] = []
    recorders: list[Recorder] = []
    sockets: list[WebSocket] = []

    async def main() -> None:
        handled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def handler(conn: airsocket.Connection) -> None:
            await conn.wait_closed()
            received.append(conn.close_code)
            handled.set_result(None)

        server = await airsocket.serve(handler, "127.0.0.1", 0)
        ws = WebSocket()
        sockets.append(ws)
        recorders.append(Recorder(ws))
        ws.connect(url_of(server))
        await recorders[0].wait("connect")
        ws.close(code)
        assert not ws.connected
        assert ws.close_reason == code
        await step(handled)
        server.close()
        await server.wait_closed()

    # airsocket.run returns only once the client's TCP connection is closed,
    # so anything the close could have dispatched has been dispatched.
    airsocket.run(main)
    assert received == [code]
    assert recorders[0].types == ["connect"]
    assert sockets[0].close_reason == code


def test_close_from_the_connect_listener_closes_the_connection() -> None:
    # The connect event may come before the task that made the TCP connection
    # has resumed: close() must close the connection, not only that task.
    async def main() -> None:
        for _ in range(5):
            handled: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

            async def handler(conn: airsocket.Connection, done: Any = handled) -> None:
                await conn.wait_closed()
                done.set_result(conn.close_code)

            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                ws = WebSocket()
                recorder = Recorder(ws)
                ws.add_event_listener("connect", lambda event, ws=ws: ws.close(3003))
                ws.connect(url_of(server))
                assert await step(handled) == 3003
                assert recorder.types == ["connect"]

    run(main())


def test_close_drops_the_connection_after_close_timeout_when_the_peer_never_answers() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        assert await read_frame(reader) == (0x8, (1000).to_bytes(2, "big"))
        # No answer: the client gives up and drops the connection (EOF or reset).
        with contextlib.suppress(ConnectionResetError):
            assert await step(reader.read()) == b""

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, recorder = await open_client(server.url, close_timeout=0.05)
            ws.close()
            await server.finished()
            await settle()
            assert recorder.types == ["connect"]

    run(main())


def test_close_while_connecting_abandons_the_attempt_without_events() -> None:
    got_request = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        got_request.set()
        assert await step(reader.read()) == b""  # the client went away

    async def main() -> None:
        async with RawServer(handler) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(server.url)
            await step(got_request.wait())
            ws.close(3000)
            await server.finished()
            await settle()
            assert recorder.events == []
            assert ws.close_reason == 3000

    run(main())


def test_close_before_tcp_connects_dispatches_nothing_from_that_attempt() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(f"ws://127.0.0.1:{free_port()}/")  # would be refused
            ws.close()
            assert ws.close_reason == 1000
            ws.connect(url_of(server))
            await recorder.wait("connect")
            await settle()
            assert recorder.types == ["connect"]  # no ioError from the first attempt
            ws.close()

    run(main())


def test_close_when_never_connected_does_nothing() -> None:
    ws = WebSocket()
    ws.close()
    assert ws.close_reason == 0


def test_close_event_carries_the_peer_code() -> None:
    async def handler(conn: airsocket.Connection) -> None:
        await conn.close(4001, "bye")

    async def main() -> None:
        async with airsocket.serve(handler, "127.0.0.1", 0) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(url_of(server))
            event = await recorder.wait("close")
            assert recorder.types == ["connect", "close"]
            assert ws.close_reason == 4001
            assert (event.target, event.bubbles, event.cancelable) == (ws, False, False)
            assert not ws.connected

    run(main())


def test_close_event_reason_is_1005_when_the_peer_frame_had_no_code() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        writer.write(close_frame(None))
        assert await read_frame(reader) == (0x8, b"")  # echoed without a code
        writer.close()

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, recorder = await open_client(server.url)
            await recorder.wait("close")
            assert ws.close_reason == 1005
            await server.finished()

    run(main())


def test_close_event_reason_is_1006_when_the_connection_dropped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        writer.transport.abort()

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, recorder = await open_client(server.url)
            await recorder.wait("close")
            assert ws.close_reason == 1006
            assert recorder.types == ["connect", "close"]

    run(main())


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        (frame(0x1, b"\xce\xbd\xff"), 1007),  # invalid UTF-8
        (frame(0x3, b""), 1002),  # reserved opcode
        (frame(0x2, b"x", mask=MASK), 1002),  # servers must not mask
        (bytes([0x92, 0x01]) + b"x", 1002),  # RSV3 without an extension
        (frame(0x9, b"p" * 126), 1002),  # control frame over 125 bytes
        (frame(0x0, b"x"), 1002),  # continuation of nothing
    ],
)
def test_a_bad_frame_closes_with_the_rfc_code_and_dispatches_close(sent: bytes, code: int) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        writer.write(sent)
        assert await read_frame(reader) == (0x8, code.to_bytes(2, "big"))
        writer.write(close_frame(code))

    async def main() -> None:
        async with RawServer(handler) as server:
            ws, recorder = await open_client(server.url)
            await recorder.wait("close")
            assert ws.close_reason == code
            assert recorder.of("websocketData") == []
            await server.finished()

    run(main())


# ----------------------------------------------------------------------
# Failed upgrades


@pytest.mark.parametrize("status", [403, 404])
def test_a_refused_upgrade_closes_and_keeps_the_http_answer(status: int) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(
            f"HTTP/1.1 {status} Nope\r\nX-Why: testing\r\nContent-Length: 3\r\n\r\nno\n".encode()
        )
        await writer.drain()
        assert await step(reader.read()) == b""  # the client closed the connection

    async def main() -> None:
        async with RawServer(handler) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(server.url)
            await recorder.wait("close")
            assert recorder.types == ["close"]
            assert ws.close_reason == 1006
            assert ws.response is not None
            assert ws.response.status == status
            assert ws.response.headers["X-Why"] == "testing"
            await server.finished()

    run(main())


@pytest.mark.parametrize(
    "extra",
    [
        {"accept": "c2VjcmV0IGlzIHdyb25nIQ=="},  # a wrong Sec-WebSocket-Accept
        {"lines": ("Sec-WebSocket-Protocol: other",)},  # a subprotocol not offered
        {"lines": ("Sec-WebSocket-Extensions: x-unknown",)},  # an extension not offered
        {"lines": ("Sec-WebSocket-Protocol: chat, other",)},  # two subprotocols
    ],
)
def test_an_upgrade_that_breaks_the_protocol_closes_with_1002(extra: dict[str, Any]) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        key = header(head, "Sec-WebSocket-Key")
        assert key is not None
        writer.write(switching(key, *extra.get("lines", ()), accept=extra.get("accept")))
        await writer.drain()
        assert await step(reader.read()) == b""

    async def main() -> None:
        async with RawServer(handler) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(server.url, ["chat"])
            await recorder.wait("close")
            assert recorder.types == ["close"]
            assert ws.close_reason == 1002
            assert ws.response is not None and ws.response.status == 101
            await server.finished()

    run(main())


def test_a_server_that_closes_before_answering_dispatches_close_1006() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)

    async def main() -> None:
        async with RawServer(handler) as server:
            ws = WebSocket()
            recorder = Recorder(ws)
            ws.connect(server.url)
            await recorder.wait("close")
            assert recorder.types == ["close"]
            assert ws.close_reason == 1006
            assert ws.response is None

    run(main())


# ----------------------------------------------------------------------
# ioError


def test_a_refused_port_dispatches_io_error_with_its_errno() -> None:
    async def main() -> None:
        ws = WebSocket()
        recorder = Recorder(ws)
        ws.connect(f"ws://127.0.0.1:{free_port()}/")
        event = await recorder.wait("ioError")
        assert event.error_id == errno.ECONNREFUSED
        assert event.text
        assert (event.target, event.cancelable) == (ws, False)
        await settle()
        assert recorder.types == ["ioError"]  # no close event: it never opened
        assert not ws.connected

    run(main())


def test_a_host_that_does_not_resolve_dispatches_io_error() -> None:
    async def main() -> None:
        ws = WebSocket(open_timeout=5)
        recorder = Recorder(ws)
        ws.connect("ws://nonexistent.invalid/")
        event = await recorder.wait("ioError")
        assert event.error_id != 0  # the resolver's code, or ETIMEDOUT
        assert event.text
        await settle()
        assert recorder.types == ["ioError"]

    run(main())


def test_a_handshake_that_times_out_dispatches_io_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        assert await step(reader.read()) == b""  # never answered; the client gave up

    async def main() -> None:
        async with RawServer(handler) as server:
            ws = WebSocket(open_timeout=0.1)
            recorder = Recorder(ws)
            ws.connect(server.url)
            event = await recorder.wait("ioError")
            assert event.error_id == errno.ETIMEDOUT
            await server.finished()
            await settle()
            assert recorder.types == ["ioError"]

    run(main())


# ----------------------------------------------------------------------
# Listeners and the connection


def test_a_coroutine_listener_may_answer_after_awaiting() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))

            async def answer(event: WebSocketEvent) -> None:
                await asyncio.sleep(0)
                if event.string_data == "question":
                    ws.send_message(WebSocket.fmtTEXT, "answer")

            ws.add_event_listener(WebSocketEvent.DATA, answer)
            ws.send_message(WebSocket.fmtTEXT, "question")
            assert (await recorder.wait("websocketData", 2)).string_data == "answer"
            ws.close()

    run(main())


def test_sends_from_a_listener_keep_their_order() -> None:
    async def main() -> None:
        async with serve_echo() as server:
            ws, recorder = await open_client(url_of(server))

            def burst(event: WebSocketEvent) -> None:
                if event.string_data == "go":
                    for n in range(50):
                        ws.send_message(WebSocket.fmtTEXT, str(n))

            ws.add_event_listener(WebSocketEvent.DATA, burst)
            ws.send_message(WebSocket.fmtTEXT, "go")
            await recorder.wait("websocketData", 51)
            texts = [event.string_data for event in recorder.of("websocketData")]
            assert texts == ["go", *map(str, range(50))]
            ws.close()

    run(main())
