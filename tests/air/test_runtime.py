"""airsocket.run: runs until every WebSocket and ServerSocket is closed; Ctrl-C closes them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from air_helpers import STEP_TIMEOUT, echo, header, switching

import airsocket
from airsocket import ArgumentError, ServerSocket, WebSocket, WebSocketEvent


class ThreadServer:
    """An airsocket asyncio server in its own thread and loop, recording close codes."""

    def __init__(self, handler: Any = None) -> None:
        self.codes: list[int | None] = []
        self.port = 0
        self._handler = handler or echo
        self._ready = threading.Event()
        self._ended = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _handle(self, conn: airsocket.Connection) -> None:
        try:
            await self._handler(conn)
        finally:
            await conn.wait_closed()
            with self._ended:
                self.codes.append(conn.close_code)
                self._ended.notify_all()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        async with airsocket.serve(self._handle, "127.0.0.1", 0, close_timeout=60) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def wait_codes(self, count: int) -> list[int | None]:
        """The close codes, once ``count`` connections have ended on the server."""
        with self._ended:
            assert self._ended.wait_for(lambda: len(self.codes) >= count, STEP_TIMEOUT)
            return list(self.codes)

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        assert self._ready.wait(STEP_TIMEOUT)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        stop = self._stop
        self._loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))
        self._thread.join(STEP_TIMEOUT)


@contextlib.contextmanager
def sigint_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_run_returns_when_every_socket_is_closed() -> None:
    log: list[str] = []

    def main() -> None:
        server = ServerSocket()

        def on_connection(event: Any) -> None:
            adopted = WebSocket()

            def on_data(e: WebSocketEvent) -> None:
                adopted.send_message(e.format, e.string_data)

            def on_close(e: Any) -> None:
                log.append(f"server closed {adopted.close_reason}")
                server.close()

            adopted.add_event_listener("websocketData", on_data)
            adopted.add_event_listener("close", on_close)
            adopted.start_server(event.socket)

        server.add_event_listener("connect", on_connection)
        server.bind(0, "127.0.0.1")
        server.listen()

        client = WebSocket()
        client.add_event_listener("connect", lambda e: client.send_message(1, "hello"))

        def on_reply(e: WebSocketEvent) -> None:
            log.append(f"client got {e.string_data}")
            client.close(4000)

        client.add_event_listener("websocketData", on_reply)
        client.connect(f"ws://127.0.0.1:{server.local_port}/")

    airsocket.run(main)
    assert log == ["client got hello", "server closed 4000"]


def test_run_accepts_a_coroutine_main() -> None:
    log: list[str] = []

    async def main() -> None:
        with ThreadServer() as server:
            ws = WebSocket()
            connected = asyncio.Event()
            ws.add_event_listener("connect", lambda e: connected.set())
            ws.connect(server.url)
            await asyncio.wait_for(connected.wait(), STEP_TIMEOUT)
            log.append("connected")
            ws.close()

    airsocket.run(main)
    assert log == ["connected"]


def test_run_without_main_returns_at_once() -> None:
    airsocket.run()
    airsocket.run(None)


def test_run_with_something_not_callable_raises_argument_error() -> None:
    with pytest.raises(ArgumentError):
        airsocket.run(42)  # type: ignore[arg-type]


def test_run_inside_a_running_loop_raises_runtime_error() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError):
            airsocket.run(lambda: None)

    asyncio.run(main())


def test_run_waits_for_coroutine_listeners() -> None:
    log: list[str] = []

    def main() -> None:
        ws = WebSocket()

        async def slow(event: Any) -> None:
            for _ in range(10):
                await asyncio.sleep(0)
            log.append("listener finished")

        ws.add_event_listener("custom", slow)
        ws.dispatch_event(airsocket.Event("custom"))

    airsocket.run(main)
    assert log == ["listener finished"]


def test_a_close_listener_that_reconnects_keeps_run_going() -> None:
    log: list[str] = []
    connections: list[airsocket.Connection] = []

    async def close_first(conn: airsocket.Connection) -> None:
        connections.append(conn)
        if len(connections) == 1:
            await conn.close(4000)
        else:
            await echo(conn)

    with ThreadServer(close_first) as server:

        def main() -> None:
            ws = WebSocket()

            def on_close(event: Any) -> None:
                log.append(f"closed {ws.close_reason}")
                ws.connect(server.url)

            def on_connect(event: Any) -> None:
                log.append("connected")
                if len(log) > 2:
                    ws.close()

            ws.add_event_listener("close", on_close)
            ws.add_event_listener("connect", on_connect)
            ws.connect(server.url)

        airsocket.run(main)
    assert log == ["connected", "closed 4000", "connected"]


def test_an_exception_in_main_closes_everything_with_1001_then_propagates() -> None:
    async def main() -> None:
        ws = WebSocket()
        connected = asyncio.Event()
        ws.add_event_listener("connect", lambda e: connected.set())
        ws.connect(server.url)
        await asyncio.wait_for(connected.wait(), STEP_TIMEOUT)
        raise LookupError("main failed")

    with ThreadServer() as server:
        with pytest.raises(LookupError, match="main failed"):
            airsocket.run(main)
        assert server.wait_codes(1) == [1001]


def test_an_exception_in_a_plain_main_propagates() -> None:
    def main() -> None:
        raise LookupError("plain main failed")

    with pytest.raises(LookupError, match="plain main failed"):
        airsocket.run(main)


def test_ctrl_c_closes_every_socket_with_1001_and_run_returns() -> None:
    log: list[str] = []

    async def main() -> None:
        server = ServerSocket()
        server.bind(0, "127.0.0.1")
        server.listen()
        ws = WebSocket()
        connected = asyncio.Event()
        ws.add_event_listener("connect", lambda e: connected.set())

        async def forever(event: Any) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                log.append("listener cancelled")
                raise

        ws.add_event_listener("custom", forever)
        ws.connect(thread_server.url)
        await asyncio.wait_for(connected.wait(), STEP_TIMEOUT)
        ws.dispatch_event(airsocket.Event("custom"))
        os.kill(os.getpid(), signal.SIGINT)
        log.append("main done")

    with sigint_restored(), ThreadServer() as thread_server:
        airsocket.run(main)
        assert thread_server.wait_codes(1) == [1001]
    assert log == ["main done", "listener cancelled"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_raises_keyboard_interrupt() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ws = WebSocket(close_timeout=60)
        connected = asyncio.Event()
        ws.add_event_listener("connect", lambda e: connected.set())
        ws.connect(peer.url)
        await asyncio.wait_for(connected.wait(), STEP_TIMEOUT)

        def second() -> None:
            os.kill(os.getpid(), signal.SIGINT)

        def first() -> None:
            os.kill(os.getpid(), signal.SIGINT)  # closes; the peer never answers
            loop.call_soon(loop.call_soon, second)  # after the close has started

        loop.call_soon(first)

    with sigint_restored(), SilentPeer() as peer:
        with pytest.raises(KeyboardInterrupt):
            airsocket.run(main)
        assert peer.received_close.wait(STEP_TIMEOUT)  # the first Ctrl-C did send a close


class SilentPeer:
    """A raw server thread: answers the upgrade, then reads without ever answering."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.received_close = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._conn: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        self._conn = conn
        conn.settimeout(STEP_TIMEOUT)
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        key = header(head.decode("latin-1"), "Sec-WebSocket-Key")
        assert key is not None
        conn.sendall(switching(key))
        with contextlib.suppress(OSError):
            first = conn.recv(1)  # a frame from the client: its close
            if first and first[0] & 0x0F == 0x8:
                self.received_close.set()

    def __enter__(self) -> SilentPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(STEP_TIMEOUT)
        if self._conn is not None:
            self._conn.close()
        self._listener.close()
