"""The ActionScript spellings: one table, the same descriptors, and ported code that runs."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from air_helpers import Certificates, echo, free_port, run, settle, step

import airsocket
from airsocket import (
    Event,
    EventDispatcher,
    IOErrorEvent,
    SecurityErrorEvent,
    ServerSocket,
    WebSocket,
    WebSocketEvent,
)
from airsocket.air import aliases

# The spellings API.md promises, on the class that first has each.
PROMISED = {
    "addEventListener": EventDispatcher,
    "removeEventListener": EventDispatcher,
    "dispatchEvent": EventDispatcher,
    "hasEventListener": EventDispatcher,
    "willTrigger": EventDispatcher,
    "startServer": WebSocket,
    "sendMessage": WebSocket,
    "closeReason": WebSocket,
    "preventDefault": Event,
    "isDefaultPrevented": Event,
    "stringData": WebSocketEvent,
    "errorID": IOErrorEvent,
    "localPort": ServerSocket,
    "localAddress": ServerSocket,
}


@pytest.mark.parametrize(("alias", "cls"), PROMISED.items())
def test_every_promised_spelling_exists(alias: str, cls: type) -> None:
    assert hasattr(cls, alias)


def test_each_alias_is_the_very_descriptor_of_its_name() -> None:
    for cls, table in aliases.ALIASES.items():
        for alias, name in table.items():
            assert inspect.getattr_static(cls, alias) is inspect.getattr_static(cls, name)


def test_aliases_come_from_the_table_not_from_written_methods() -> None:
    import airsocket.air.dispatcher as dispatcher_module
    import airsocket.air.websocket as websocket_module

    for module in (dispatcher_module, websocket_module):
        source = inspect.getsource(module)
        assert "def addEventListener" not in source and "def sendMessage" not in source


def test_install_applies_a_table_to_any_class() -> None:
    class Thing:
        __slots__ = ("some_slot",)

        def do_it(self) -> str:
            return "done"

        @property
        def some_value(self) -> int:
            return 7

    aliases.install({Thing: {"doIt": "do_it", "someValue": "some_value", "someSlot": "some_slot"}})
    thing = Thing()
    thing.someSlot = "written via the alias"  # type: ignore[attr-defined]
    assert thing.some_slot == "written via the alias"
    assert (thing.doIt(), thing.someValue) == ("done", 7)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        aliases.install({Thing: {"missing": "no_such_name"}})


def test_event_spellings() -> None:
    event = Event("x", cancelable=True)
    assert not event.isDefaultPrevented()  # type: ignore[attr-defined]
    event.preventDefault()  # type: ignore[attr-defined]
    assert event.isDefaultPrevented()  # type: ignore[attr-defined]
    data = WebSocketEvent(string_data="text")
    assert data.stringData == "text"  # type: ignore[attr-defined]
    error = IOErrorEvent(error_id=61)
    assert error.errorID == 61  # type: ignore[attr-defined]
    assert SecurityErrorEvent(error_id=10).errorID == 10  # type: ignore[attr-defined]
    target = EventDispatcher()
    target.dispatch_event(event)
    assert event.currentTarget is target  # type: ignore[attr-defined]


def test_dispatcher_spellings() -> None:
    dispatcher: Any = EventDispatcher()
    seen: list[str] = []

    def listener(event: Event) -> None:
        seen.append(event.type)

    assert not dispatcher.hasEventListener("x") and not dispatcher.willTrigger("x")
    dispatcher.addEventListener("x", listener, False, 0, False)
    assert dispatcher.hasEventListener("x") and dispatcher.willTrigger("x")
    assert dispatcher.dispatchEvent(Event("x"))
    dispatcher.removeEventListener("x", listener)
    dispatcher.dispatchEvent(Event("x"))
    assert seen == ["x"]


def test_ported_client_code_runs_over_a_real_connection() -> None:
    async def main() -> None:
        async with airsocket.serve(echo, "127.0.0.1", 0, subprotocols=["chat"]) as server:
            port = server.sockets[0].getsockname()[1]
            ws: Any = WebSocket()
            received: list[str] = []
            done = asyncio.Event()

            def on_connect(event: Any) -> None:
                ws.sendMessage(WebSocket.fmtTEXT, "ported")

            def on_data(event: Any) -> None:
                received.append(event.stringData)
                ws.close()
                done.set()

            ws.addEventListener(Event.CONNECT, on_connect)
            ws.addEventListener(WebSocketEvent.DATA, on_data)
            ws.connect(f"ws://127.0.0.1:{port}/", ["chat"])
            await step(done.wait())
            assert received == ["ported"]
            assert ws.protocol == "chat" and ws.closeReason == 1000

    run(main())


def test_ported_error_handling_reads_error_id() -> None:
    async def main() -> None:
        ws: Any = WebSocket()
        errors: list[int] = []
        failed = asyncio.Event()

        def on_error(event: Any) -> None:
            errors.append(event.errorID)
            failed.set()

        ws.addEventListener(IOErrorEvent.IO_ERROR, on_error)
        ws.connect(f"ws://127.0.0.1:{free_port()}/")
        await step(failed.wait())
        assert errors and errors[0] != 0

    run(main())


def test_ported_certificate_handling_uses_prevent_default() -> None:
    certificates = Certificates()

    async def main() -> None:
        async with airsocket.serve(echo, "127.0.0.1", 0, ssl=certificates.wrong_host()) as server:
            port = server.sockets[0].getsockname()[1]
            ws: Any = WebSocket(ssl=certificates.client)
            connected = asyncio.Event()

            def on_certificate(event: Any) -> None:
                event.preventDefault()
                assert event.isDefaultPrevented()

            ws.addEventListener(SecurityErrorEvent.CERTIFICATE_ERROR, on_certificate)
            ws.addEventListener(Event.CONNECT, lambda event: connected.set())
            ws.connect(f"wss://localhost:{port}/")
            await step(connected.wait())
            ws.close()

    run(
        main(),
        ignore=("SSL handshake failed", "Error on transport creation for incoming connection"),
    )


def test_ported_server_code_runs_over_a_real_connection() -> None:
    async def main() -> None:
        server: Any = ServerSocket()
        adopted: list[Any] = []

        def on_connection(event: Any) -> None:
            ws: Any = WebSocket()
            ws.addEventListener(
                WebSocketEvent.DATA, lambda e: ws.sendMessage(WebSocket.fmtTEXT, e.stringData)
            )
            ws.startServer(event.socket)
            adopted.append(ws)

        server.addEventListener("connect", on_connection)
        server.bind(0, "127.0.0.1")
        assert server.localAddress == "127.0.0.1" and server.localPort == server.local_port
        server.listen()
        client = await step(airsocket.connect(f"ws://127.0.0.1:{server.localPort}/"))
        await client.send("echo")
        assert await step(client.recv()) == "echo"
        await client.close(4004)
        while adopted[0].closeReason == 0:
            await asyncio.sleep(0)
        assert adopted[0].closeReason == 4004
        server.close()
        await settle()
        assert not server.listening

    run(main())
