"""The AIR event classes: constants, fields, defaults; and as real sockets dispatch them."""

from __future__ import annotations

import socket

import pytest
from air_helpers import AirServer, Recorder, echo, open_client, port_of, run, step

import airsocket
from airsocket import (
    Event,
    IOErrorEvent,
    Opcode,
    SecurityErrorEvent,
    ServerSocketConnectEvent,
    WebSocket,
    WebSocketEvent,
)
from airsocket.air import ErrorEvent


def test_type_constants_are_the_air_strings() -> None:
    assert (Event.CONNECT, Event.CLOSE) == ("connect", "close")
    assert WebSocketEvent.DATA == "websocketData"
    assert IOErrorEvent.IO_ERROR == "ioError"
    assert SecurityErrorEvent.SECURITY_ERROR == "securityError"
    assert SecurityErrorEvent.CERTIFICATE_ERROR == "certificateError"
    assert ServerSocketConnectEvent.CONNECT == "connect"


def test_event_fields_and_defaults() -> None:
    event = Event(Event.CLOSE)
    assert (event.type, event.bubbles, event.cancelable) == ("close", False, False)
    assert (event.target, event.current_target) == (None, None)
    assert not event.is_default_prevented()
    assert repr(event) == "<Event type='close'>"


def test_prevent_default_works_only_on_cancelable_events() -> None:
    plain = Event("x")
    plain.prevent_default()
    assert not plain.is_default_prevented()
    cancelable = Event("x", cancelable=True)
    cancelable.prevent_default()
    assert cancelable.is_default_prevented()


def test_websocket_event_text_data_is_the_utf8_of_string_data() -> None:
    event = WebSocketEvent(WebSocketEvent.DATA, format=Opcode.TEXT, string_data="é☃")
    assert event.data == "é☃".encode()
    assert event.format == WebSocket.fmtTEXT and event.format.name == "TEXT"
    assert "TEXT" in repr(event)


def test_websocket_event_binary_has_no_string_data() -> None:
    event = WebSocketEvent(WebSocketEvent.DATA, format=Opcode.BINARY, data=b"\x00" * 100)
    assert (event.data, event.string_data) == (b"\x00" * 100, None)
    assert repr(event).startswith("<WebSocketEvent type='websocketData' format=BINARY")
    assert WebSocketEvent().data == b""  # nothing given: empty


@pytest.mark.parametrize("cls", [ErrorEvent, IOErrorEvent, SecurityErrorEvent])
def test_error_events_carry_text_and_error_id(cls: type[ErrorEvent]) -> None:
    event = cls(text="it broke", error_id=111)
    assert (event.text, event.error_id) == ("it broke", 111)
    assert "it broke" in repr(event)
    assert cls().error_id == 0
    assert isinstance(event, ErrorEvent) and isinstance(event, Event)


def test_default_types_of_the_subclasses() -> None:
    assert IOErrorEvent().type == "ioError"
    assert SecurityErrorEvent().type == "securityError"
    assert ServerSocketConnectEvent().type == "connect"
    assert WebSocketEvent().type == "websocketData"


def test_server_socket_connect_event_carries_a_socket() -> None:
    with socket.socket() as sock:
        event = ServerSocketConnectEvent(ServerSocketConnectEvent.CONNECT, socket=sock)
        assert event.socket is sock
        assert "socket" in repr(event)


def test_events_are_slotted() -> None:
    event = WebSocketEvent()
    with pytest.raises(AttributeError):
        event.no_such_field = 1  # type: ignore[attr-defined]


def test_events_a_real_connection_dispatches() -> None:
    async def main() -> None:
        async with airsocket.serve(echo, "127.0.0.1", 0) as server:
            ws, recorder = await open_client(f"ws://127.0.0.1:{port_of(server)}/")
            ws.send_message(WebSocket.fmtTEXT, "x")
            await recorder.wait("websocketData")
            ws.close()
            for event in recorder.events:
                assert (event.target, event.current_target) == (ws, ws)
                assert (event.bubbles, event.cancelable) == (False, False)
            connect, data = recorder.events
            assert type(connect) is Event and connect.type == Event.CONNECT
            assert type(data) is WebSocketEvent and data.type == WebSocketEvent.DATA

    run(main())


def test_the_connect_event_of_a_server_socket() -> None:
    async def main() -> None:
        server = AirServer().start()
        recorder = Recorder(server.server, ("connect",))
        client = await step(airsocket.connect(f"ws://127.0.0.1:{server.port}/"))
        event = await recorder.wait("connect")
        assert type(event) is ServerSocketConnectEvent
        assert isinstance(event.socket, socket.socket)
        assert (event.target, event.bubbles, event.cancelable) == (server.server, False, False)
        await client.close()
        server.close()

    run(main())
