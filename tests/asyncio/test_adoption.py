"""Tests of airsocket.asyncio.adoption: a server on uvloop accepts the connections
libuv leaves in the backlog at once, each on uvloop's own transport.

Real sockets on 127.0.0.1; the clients are plain blocking sockets, whose
connects complete in the kernel's listen backlog while the loop is busy.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Coroutine
from typing import Any

import pytest
from aio_helpers import (
    RUN_TIMEOUT,
    echo,
    eventually,
    ipv6_available,
    port_of,
    step,
    upgrade_request,
)

import airsocket
from airsocket.asyncio.adoption import BacklogDrain, adopt_socket, adopts_sockets
from loop_support import run_bounded

uvloop = pytest.importorskip("uvloop")


def run_on_uvloop(coro: Coroutine[Any, Any, Any]) -> Any:
    return run_bounded(coro, RUN_TIMEOUT, loop_factory=uvloop.new_event_loop)


def test_only_uvloop_adopts() -> None:
    for factory, adopts in ((uvloop.new_event_loop, True), (asyncio.new_event_loop, False)):
        loop = factory()
        try:
            assert adopts_sockets(loop) is adopts
        finally:
            loop.close()


def test_every_pending_connection_is_accepted_in_one_callback() -> None:
    # libuv itself accepts one connection a loop iteration (libuv PR 3696).
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with airsocket.serve(echo, "127.0.0.1", 0) as server:
            assert isinstance(server._drain, BacklogDrain)
            made: list[Any] = []
            at_next_iteration: list[int] = []
            factory = server.engine_factory

            def counting_factory() -> Any:
                if not made:  # call_soon from here runs at the loop's next iteration
                    loop.call_soon(lambda: at_next_iteration.append(len(made)))
                made.append(factory())
                return made[-1]

            server.engine_factory = counting_factory  # type: ignore[method-assign]
            server._drain._factory = counting_factory
            # Blocking connects: each waits in the backlog, the loop runs none of it.
            peers = [socket.create_connection(("127.0.0.1", port_of(server))) for _ in range(10)]
            try:
                for peer in peers:
                    peer.sendall(upgrade_request())
                await eventually(lambda: bool(at_next_iteration))
                assert at_next_iteration == [10]
                for peer in peers:
                    peer.settimeout(5)
                    assert peer.recv(4096).startswith(b"HTTP/1.1 101 ")
            finally:
                for peer in peers:
                    peer.close()

    run_on_uvloop(main())


def test_connections_run_on_uvloops_transport() -> None:
    async def main() -> None:
        served: list[airsocket.Connection] = []

        async def handler(ws: airsocket.Connection) -> None:
            served.append(ws)
            await echo(ws)

        async with (
            airsocket.serve(handler, "127.0.0.1", 0) as server,
            airsocket.connect(f"ws://127.0.0.1:{port_of(server)}/") as client,
        ):
            await client.send("hello")
            assert await step(client.recv()) == "hello"
            [connection] = served
            assert type(connection.engine.transport).__module__.startswith("uvloop")
            assert connection.remote_address[0] == "127.0.0.1"

    run_on_uvloop(main())


@pytest.mark.parametrize("given_socket", [False, True])
def test_closing_the_server_stops_listening(given_socket: bool) -> None:
    # The acceptor listens on duplicates of the server's descriptors: it closes them.
    async def main() -> None:
        sock = socket.create_server(("127.0.0.1", 0)) if given_socket else None
        where: dict[str, Any] = {"sock": sock} if sock else {"host": "127.0.0.1", "port": 0}
        async with airsocket.serve(echo, **where) as server:
            port = port_of(server)
            async with airsocket.connect(f"ws://127.0.0.1:{port}/") as client:
                await client.send(b"x")
                assert await step(client.recv()) == b"x"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

    run_on_uvloop(main())


def test_every_listening_socket_is_drained() -> None:
    # host None: one socket per address family, each with a backlog of its own.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with airsocket.serve(echo, None, 0) as server:
            drain = server._drain
            assert drain is not None
            assert len(drain._listeners) == len(server.sockets)
            drained: list[int] = []
            factory = drain._factory

            def counting_factory() -> Any:
                drained.append(1)
                return factory()

            drain._factory = counting_factory
            # Port 0: each family's socket got a port of its own.
            addresses = [
                ("::1" if s.family == socket.AF_INET6 else "127.0.0.1", s.getsockname()[1])
                for s in server.sockets
                if s.family != socket.AF_INET6 or ipv6_available()
            ]
            peers = [socket.create_connection(address) for address in addresses for _ in range(3)]
            try:
                for peer in peers:
                    peer.sendall(upgrade_request())
                    peer.setblocking(False)
                for peer in peers:
                    answer = await step(loop.sock_recv(peer, 4096))
                    assert answer.startswith(b"HTTP/1.1 101 ")
                # libuv accepted the first; the drain, every other on every socket.
                assert len(drained) == len(peers) - 1
            finally:
                for peer in peers:
                    peer.close()

    run_on_uvloop(main())


class Aborting(asyncio.Protocol):
    """Aborts its transport as soon as it has it."""

    def connection_made(self, transport: Any) -> None:  # uvloop's: no asyncio.Transport
        transport.abort()


def test_a_protocol_that_aborts_in_connection_made_is_no_loop_error() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with socket.create_server(("127.0.0.1", 0)) as listener:
            peer = socket.create_connection(listener.getsockname())
            with peer:
                accepted, _ = listener.accept()
                adopt_socket(loop, Aborting, accepted)
                peer.setblocking(False)
                assert await step(loop.sock_recv(peer, 1)) == b""

    run_on_uvloop(main())  # run_bounded fails on any loop error


def test_an_adoption_that_fails_after_its_first_step_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # uvloop fails the waiter when the transport closed before connection_made.
    async def main() -> None:
        waiter = asyncio.get_running_loop().create_future()

        class Loop:
            async def connect_accepted_socket(self, factory: Any, sock: Any) -> None:
                await waiter

        adopt_socket(Loop(), None, None)  # type: ignore[arg-type]
        waiter.set_exception(RuntimeError("closed Transport handle and unset waiter"))
        await eventually(lambda: "closed before it opened" in caplog.text)

    with caplog.at_level(logging.DEBUG, logger="airsocket"):
        run_bounded(main(), RUN_TIMEOUT)  # and no loop error


def test_a_failing_protocol_factory_does_not_stop_the_drain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        made: list[asyncio.Protocol] = []

        def factory() -> asyncio.Protocol:
            if not caplog.records:
                raise ValueError("a bug in the protocol factory")
            made.append(asyncio.Protocol())
            return made[-1]

        with socket.create_server(("127.0.0.1", 0)) as listener:
            drain = BacklogDrain(loop, [listener], factory)
            try:
                drain.drain()  # nothing waits: no accept (and no failing one)
                first = socket.create_connection(listener.getsockname())
                second = socket.create_connection(listener.getsockname())
                with first, second:
                    drain.drain()
                    first.settimeout(5)
                    assert first.recv(1) == b""  # closed by the drain
                    await eventually(lambda: bool(made))  # the second one runs
            finally:
                drain.close()
            assert listener.fileno() != -1  # the drain closed its duplicate only
        assert "could not start a connection" in caplog.text

    run_on_uvloop(main())
