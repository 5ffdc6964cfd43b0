"""The engine's read paths on asyncio's own loop and on uvloop.

Reads go into a buffer shared by the thread's connections, or straight
into a large message as it arrives (``get_buffer``/``buffer_updated``);
uvloop still holds the buffer while it reports a read, asyncio does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from aio_helpers import (
    STEP_TIMEOUT,
    RawPeer,
    close_payload,
    echo,
    frame,
    keeper,
    make_tls,
    port_of,
    served_connection,
    step,
    upgrade_request,
    ws_url,
)

import airsocket
from airsocket.asyncio.engine import Engine
from airsocket.protocol.connection import Role
from airsocket.tls import ENCRYPT_SIZE

SIZES = [0, 125, 126, 70_000, 1 << 20, 3 * (1 << 20) + 1]


def loop_factories() -> list[Any]:
    factories: list[Any] = [pytest.param(asyncio.new_event_loop, id="asyncio")]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a test requirement
        pass
    else:
        factories.append(pytest.param(uvloop.new_event_loop, id="uvloop"))
    return factories


@pytest.fixture(params=loop_factories())
def run_on(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        with asyncio.Runner(loop_factory=request.param) as runner:
            return runner.run(asyncio.wait_for(coro, 60))

    return run


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_echo_of_every_size_both_ways(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any], compression: str | None
) -> None:
    async def main() -> None:
        options = {"compression": compression, "max_message_size": 4 << 20}
        async with (
            airsocket.serve(echo, "127.0.0.1", 0, **options) as server,
            airsocket.connect(ws_url(server), **options) as ws,
        ):
            for size in SIZES:
                data = os.urandom(size)
                await ws.send(data)
                assert await ws.recv() == data
                text = "é" * (size // 2)
                await ws.send(text)
                assert await ws.recv() == text

    run_on(main())


def test_back_to_back_large_messages_and_small_ones_between(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    # A read that ends one large message and starts the next, with small
    # messages in between: each message is whole and in order.
    async def main() -> None:
        async with (
            airsocket.serve(echo, "127.0.0.1", 0, compression=None) as server,
            airsocket.connect(ws_url(server), compression=None) as ws,
        ):
            messages = [os.urandom(300_000 + i) if i % 2 else bytes([i]) for i in range(12)]
            for message in messages:
                await ws.send(message)
            for message in messages:
                assert await ws.recv() == message

    run_on(main())


def test_large_messages_are_read_in_place(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any], reads_in_place: list[int]
) -> None:
    # In the C build and the pure one alike.
    async def main() -> None:
        async with (
            airsocket.serve(echo, "127.0.0.1", 0, compression=None) as server,
            airsocket.connect(ws_url(server), compression=None) as ws,
        ):
            data = os.urandom(1 << 20)
            await ws.send(data)
            assert await ws.recv() == data

    run_on(main())
    # both ends read most of the megabyte in place (server: masked, client: not)
    assert sum(reads_in_place) > 1 << 20


def test_large_and_small_messages_over_tls(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any], tls_writes: list[int]
) -> None:
    # TLS hands decrypted bytes to get_buffer/buffer_updated in slices of
    # the view it was given: each message still arrives whole. Large ones
    # are handed to TLS a piece at a time, each encrypted and passed on
    # before the next (see airsocket.tls.ENCRYPT_SIZE).
    server_context, client_context = make_tls()
    sizes = (10, 70_000, 1 << 20, 5, 3 << 20)

    async def main() -> None:
        async with (
            airsocket.serve(echo, "127.0.0.1", 0, ssl=server_context, compression=None) as server,
            airsocket.connect(ws_url(server, "wss"), ssl=client_context, compression=None) as ws,
        ):
            for size in sizes:
                data = os.urandom(size)
                await ws.send(data)
                assert await ws.recv() == data

    run_on(main())
    assert sum(tls_writes) > 2 * sum(sizes)  # both ways
    assert max(tls_writes) <= ENCRYPT_SIZE


def test_finished_connections_are_freed_without_the_cyclic_gc(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    # An engine and its listener refer to each other; the engine lets go of
    # the listener once it has told it of the close. Left to the cyclic GC,
    # every finished connection (about 45 objects) waited for a collection,
    # which took a fifth of a server's CPU in the bench's handshakes.
    async def exchange(url: str) -> None:
        async with airsocket.connect(url) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"

    async def main() -> list[Engine]:
        gc.collect()
        gc.disable()
        try:
            before = {id(o) for o in gc.get_objects() if isinstance(o, Engine)}
            async with airsocket.serve(echo, "127.0.0.1", 0) as server:
                for _ in range(3):
                    await exchange(ws_url(server))
            # Both sides' engines finished; none may be left for the GC.
            return [o for o in gc.get_objects() if isinstance(o, Engine) and id(o) not in before]
        finally:
            gc.enable()

    assert run_on(main()) == []


def test_a_task_that_ends_with_connection_closed_frees_its_connection(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    # The connection remembers the task that iterates over it (for
    # wait_closed); the ConnectionClosedError that task ends with holds its
    # frame, which holds the connection: the connection must let the task go.
    async def closer(ws: airsocket.Connection) -> None:
        await ws.close(4001)

    async def iterate(url: str) -> None:
        ws = await airsocket.connect(url)
        async for _ in ws:
            pass

    async def main() -> list[Engine]:
        gc.collect()
        gc.disable()
        try:
            async with airsocket.serve(closer, "127.0.0.1", 0) as server:
                before = {id(o) for o in gc.get_objects() if isinstance(o, Engine)}
                task = asyncio.ensure_future(iterate(ws_url(server)))
                ended_with = None
                try:  # nor pytest.raises nor step(): each keeps the traceback alive
                    await task
                except airsocket.ConnectionClosedError as exc:
                    ended_with = exc.code
                assert ended_with == 4001
                del task
                await asyncio.sleep(0)  # the loop lets go of the task's last callback
                return [
                    o
                    for o in gc.get_objects()
                    if isinstance(o, Engine) and id(o) not in before and o.core.role is Role.CLIENT
                ]
        finally:
            gc.enable()

    assert run_on(main()) == []


@pytest.mark.parametrize("closer", ["peer", "server"])
def test_the_server_closes_tcp_once_close_frames_crossed(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any], closer: str
) -> None:
    # The peer never ends its side: a server that half-closed would wait for
    # it until close_timeout (60 s), far past step()'s bound.
    async def main() -> None:
        served: list[airsocket.Connection] = []
        async with airsocket.serve(keeper(served), "127.0.0.1", 0, close_timeout=60) as server:
            peer = await RawPeer.open(port_of(server))
            await peer.upgrade()
            ws = await served_connection(served)
            if closer == "peer":
                peer.send(frame(8, b"\x03\xe8"))
                assert await peer.read_close() == (1000, "")
            else:
                closing = asyncio.ensure_future(ws.close(1001))
                assert await peer.read_close() == (1001, "")
                peer.send(frame(8, b"\x03\xe9"))
                await step(closing)
            assert await peer.at_eof()
            await step(ws.wait_closed())
            assert ws.close_code == (1000 if closer == "peer" else 1001)
            assert ws.state is airsocket.State.CLOSED

    run_on(main())


def _close_then_data(port: int) -> bytes:
    """A peer that breaks RFC 6455 5.5.1: data right behind its close frame.

    Returns what it reads back up to the end of the stream or a reset.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=STEP_TIMEOUT) as sock:
        sock.sendall(upgrade_request())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        sock.sendall(frame(8, close_payload(1000)))
        with contextlib.suppress(OSError):  # our socket may be closed already
            sock.sendall(frame(1, b"late") * 3)
        answer = head.partition(b"\r\n\r\n")[2]
        with contextlib.suppress(ConnectionResetError):  # the data hit a closed socket
            while chunk := sock.recv(4096):
                answer += chunk
        return answer


def test_a_peer_sending_after_its_close_frame_still_reads_ours(
    run_on: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    # The server closes at once after the echo; what the peer sends after its
    # close frame may meet a closed socket and a reset, which comes after our
    # close frame: on Linux the peer reads the frame first.
    async def main() -> None:
        async with airsocket.serve(echo, "127.0.0.1", 0) as server:
            port = port_of(server)
            loop = asyncio.get_running_loop()
            for _ in range(20):
                answer = await step(loop.run_in_executor(None, _close_then_data, port))
                assert answer == frame(8, close_payload(1000), mask=None)

    run_on(main())
