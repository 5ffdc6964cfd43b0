"""Tests of airsocket.asyncio.engine: the asyncio.Protocol that drives the core.

Timers (keepalive, open, close) run with tiny values and the tests assert the
outcome (codes, states, frames on the wire), never how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import struct
from collections.abc import AsyncIterator

import pytest
from aio_helpers import (
    RawPeer,
    accept_upgrade,
    close_payload,
    echo,
    eventually,
    frame,
    keeper,
    port_of,
    raw_server,
    served_connection,
    step,
    ws_url,
)

import airsocket
from airsocket.asyncio.engine import Engine, client_engine, server_engine
from airsocket.protocol.connection import Connection as Core
from airsocket.protocol.connection import Role, State
from airsocket.protocol.options import Options
from airsocket.protocol.uri import parse_uri
from airsocket.tls import ENCRYPT_SIZE


class WireLog:
    """Records, in order, what an engine writes and what its listener is told."""

    def __init__(self, engine: Engine) -> None:
        self.entries: list[tuple[str, object]] = []
        transport = engine.transport
        write = transport.write

        def logged_write(data):
            self.entries.append(("write", bytes(data)))
            write(data)

        transport.write = logged_write
        write_gathered = engine._write_gathered

        def logged_gathered(views):
            # one system call, so one write; its pieces kept apart too
            self.gathered.append([bytes(view) for view in views])
            self.entries.append(("write", b"".join(self.gathered[-1])))
            write_gathered(views)

        self.gathered: list[list[bytes]] = []

        engine._write_gathered = logged_gathered
        listener = engine.listener
        for name in ("on_message", "on_ping"):
            original = getattr(listener, name)

            def logged(data, name=name, original=original):
                self.entries.append((name, data))
                original(data)

            setattr(listener, name, logged)

    @property
    def writes(self) -> list[bytes]:
        """What was written, a write (or gathered write) at a time."""
        return [data for kind, data in self.entries if kind == "write"]


@contextlib.asynccontextmanager
async def served_engine() -> AsyncIterator[tuple[Engine, airsocket.Connection]]:
    """The engine of a served connection without compression, and its client."""
    served: list[airsocket.Connection] = []
    async with (
        airsocket.serve(keeper(served), "127.0.0.1", 0, compression=None) as server,
        airsocket.connect(ws_url(server), compression=None) as ws,
    ):
        yield (await served_connection(served)).engine, ws


@contextlib.asynccontextmanager
async def served_raw(**options: object) -> AsyncIterator[tuple[airsocket.Connection, RawPeer]]:
    """A served connection that its handler keeps open, and the raw peer that upgraded it."""
    served: list[airsocket.Connection] = []
    async with airsocket.serve(keeper(served), "127.0.0.1", 0, **options) as server:
        peer = await RawPeer.open(port_of(server))
        await peer.upgrade()
        yield await served_connection(served), peer


class TestKeepalive:
    def test_unanswered_pings_fail_the_client_with_1011(self, run):
        seen = []

        async def deaf(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            while True:
                _, opcode, payload = await peer.read_frame()
                seen.append(opcode)
                if opcode == 8:
                    seen.append(int.from_bytes(payload[:2], "big"))
                    peer.close()
                    return

        async def main():
            async with raw_server(deaf) as port:
                ws = await airsocket.connect(
                    f"ws://127.0.0.1:{port}/", ping_interval=0.01, ping_timeout=0.02
                )
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    await step(ws.recv())
                assert info.value.sent_code == 1011
                assert info.value.code == 1006
                assert "keepalive" in str(info.value.cause)

        run(main())
        assert seen[0] == 9  # a PING
        assert seen[-2:] == [8, 1011]  # then the close frame with 1011
        assert set(seen[:-2]) == {9}

    def test_unanswered_pings_fail_the_server_side_too(self, run):
        async def main():
            served = []
            async with airsocket.serve(
                keeper(served), "127.0.0.1", 0, ping_interval=0.01, ping_timeout=0.02
            ) as server:
                peer = await RawPeer.open(port_of(server))
                await peer.upgrade()
                assert await peer.read_close() == (1011, "")
                assert await peer.at_eof()  # the server ends the stream at once
                peer.close()
                ws = await served_connection(served)
                await step(ws.wait_closed())
                assert ws.engine.core.close_sent[0] == 1011

        run(main())

    def test_answered_pings_keep_the_connection_open(self, run):
        pings = []
        done = asyncio.Event()

        async def answers(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            while len(pings) < 5:
                _, opcode, payload = await peer.read_frame()
                assert opcode == 9
                pings.append(payload)
                peer.send(frame(10, payload, mask=None))
            done.set()
            await peer.reader.read()

        async def main():
            async with raw_server(answers) as port:
                url = f"ws://127.0.0.1:{port}/"
                # ping_timeout is generous on purpose: it is not what this
                # test checks, and a loaded machine may answer slowly.
                ws = await airsocket.connect(
                    url, ping_interval=0.005, ping_timeout=5.0, close_timeout=0.05
                )
                assert ws.latency == 0.0
                await step(done.wait())
                assert ws.state is airsocket.State.OPEN
                assert ws.latency > 0.0  # measured by the keepalive pings alone
                ws.engine.abort()
                await ws.wait_closed()

        run(main())
        assert len(set(pings)) == len(pings) == 5  # fresh payloads

    def test_keepalive_between_two_airsocket_peers(self, run):
        async def main():
            async with (
                airsocket.serve(
                    echo, "127.0.0.1", 0, ping_interval=0.005, ping_timeout=5.0
                ) as server,
                airsocket.connect(ws_url(server), ping_interval=0.005, ping_timeout=5.0) as ws,
            ):
                await eventually(lambda: ws.latency > 0.0)
                first = ws.latency
                await eventually(lambda: ws.latency != first)
                await ws.send("alive")
                assert await ws.recv() == "alive"
                assert ws.state is airsocket.State.OPEN

        run(main())

    def test_without_ping_timeout_pings_never_fail(self, run):
        pings = []

        async def deaf(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            while True:
                _, opcode, _ = await peer.read_frame()
                pings.append(opcode)
                if opcode == 8:
                    peer.send(frame(8, close_payload(1000), mask=None))
                    peer.close()
                    return

        async def main():
            async with raw_server(deaf) as port:
                url = f"ws://127.0.0.1:{port}/"
                ws = await airsocket.connect(url, ping_interval=0.005, ping_timeout=None)
                await eventually(lambda: len(pings) >= 4)
                assert ws.state is airsocket.State.OPEN
                await step(ws.close())
                assert ws.close_code == 1000

        run(main())
        assert pings[-1] == 8
        assert set(pings[:-1]) == {9}

    def test_no_ping_after_our_close_frame(self, run):
        after_close = []

        async def slow_closer(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await peer.read_close()
            # Collect what comes after the close frame; never answer it.
            while chunk := await peer.reader.read(4096):
                after_close.append(chunk)

        async def main():
            async with raw_server(slow_closer) as port:
                url = f"ws://127.0.0.1:{port}/"
                ws = await airsocket.connect(url, ping_interval=0.002, close_timeout=0.05)
                await step(ws.close())
                assert ws.close_code == 1006

        run(main())
        assert after_close == []  # RFC 6455 5.5.1: nothing is sent after a close

    def test_one_timer_wakes_for_deadlines_not_in_a_loop(self, run):
        # One timer serves the open, keepalive and close deadlines. Once the
        # connection is CLOSING the keepalive's deadline is past and stays
        # set: a timer re-armed for it would wake at every loop iteration
        # until the close deadline.
        states = []

        async def main():
            async with raw_server(slow_closer) as port:
                url = f"ws://127.0.0.1:{port}/"
                ws = await airsocket.connect(url, ping_interval=0.002, close_timeout=0.05)
                engine = ws.engine
                reached = engine._deadline_reached

                def counted(now: float) -> None:
                    states.append(engine.core.state)
                    reached(now)

                engine._deadline_reached = counted
                await eventually(lambda: len(states) >= 3)  # keepalive pings
                await step(ws.close())
                assert ws.close_code == 1006  # the close deadline aborted it
                assert engine._alarm is None

        async def slow_closer(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await peer.read_close()
            while await peer.reader.read(4096):
                pass

        run(main())
        assert states.count(airsocket.State.CLOSING) <= 2


class TestWrites:
    def test_pong_is_written_before_the_ping_is_dispatched(self, run):
        async def main():
            async with served_raw() as (ws, peer):
                log = WireLog(ws.engine)
                peer.send(frame(9, b"are you there"))
                assert await peer.read_frame() == (True, 10, b"are you there")
                await eventually(lambda: len(log.entries) >= 2)
                assert log.entries == [
                    ("write", frame(10, b"are you there", mask=None)),
                    ("on_ping", b"are you there"),
                ]
                peer.close()

        run(main())

    def test_pongs_of_one_read_leave_in_one_write(self, run):
        async def main():
            async with served_raw() as (ws, peer):
                log = WireLog(ws.engine)
                peer.send(b"".join(frame(9, bytes([i])) for i in range(50)))
                for i in range(50):
                    assert await peer.read_frame() == (True, 10, bytes([i]))
                # one data_received, most likely; never one write per PONG
                assert len(log.writes) < 50
                assert b"".join(log.writes) == b"".join(
                    frame(10, bytes([i]), mask=None) for i in range(50)
                )
                peer.close()

        run(main())

    def test_deferred_sends_share_a_write_and_big_ones_are_not_joined(self, run):
        async def main():
            async with served_engine() as (engine, ws):
                log = WireLog(engine)
                engine.send("a", defer=True)
                engine.send("b", defer=True)
                assert log.writes == []  # deferred to the end of this iteration
                engine.flush_deferred()
                assert log.writes == [frame(1, b"a", mask=None) + frame(1, b"b", mask=None)]
                engine.flush_deferred()  # nothing waits: no empty write
                assert len(log.writes) == 1
                assert [await ws.recv(), await ws.recv()] == ["a", "b"]

                big = b"x" * (70 * 1024)  # over the join limit: not copied into one
                engine.send(big, defer=True)
                engine.send(big, defer=True)
                await eventually(lambda: len(log.writes) > 1)
                # each past 64 KiB, so written at once: header and payload
                # (the core keeps them apart) in one gathered write, never
                # joined into one copy
                assert len(log.writes) == 3
                assert [list(map(len, pieces)) for pieces in log.gathered] == [[10, len(big)]] * 2
                assert b"".join(log.writes[1:]) == frame(2, big, mask=None) * 2
                assert [await ws.recv(), await ws.recv()] == [big, big]

        run(main())

    def test_first_send_of_an_iteration_leaves_at_once_the_rest_at_its_end(self, run):
        async def main():
            async with served_engine() as (engine, ws):
                log = WireLog(engine)
                engine.send("a")
                assert log.writes == [frame(1, b"a", mask=None)]  # no added latency
                for text in "bcd":
                    engine.send(text)
                assert len(log.writes) == 1  # the application has not yielded yet
                await asyncio.sleep(0)
                joined = b"".join(frame(1, t, mask=None) for t in (b"b", b"c", b"d"))
                assert log.writes[1:] == [joined]
                await asyncio.sleep(0)
                engine.send("e")  # a new iteration: at once again
                assert log.writes[2:] == [frame(1, b"e", mask=None)]
                assert [await ws.recv() for _ in range(5)] == list("abcde")

        run(main())

    def test_sends_held_for_the_iteration_are_written_past_64_kib(self, run):
        async def main():
            async with served_engine() as (engine, ws):
                log = WireLog(engine)
                chunk = b"x" * 1000
                engine.send(chunk)
                for _ in range(100):
                    engine.send(chunk)
                # never more than 64 KiB held back, so backpressure sees the rest
                held = 101 * len(frame(2, chunk, mask=None)) - sum(map(len, log.writes))
                assert 0 <= held <= 64 * 1024 + len(frame(2, chunk, mask=None))
                assert len(log.writes) >= 2
                assert [await ws.recv() for _ in range(101)] == [chunk] * 101

        run(main())

    def test_recv_writes_held_sends_before_it_waits(self, run):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0, compression=None) as server,
                airsocket.connect(ws_url(server), compression=None) as ws,
            ):
                log = WireLog(ws.engine)
                for i in range(256):  # the client's burst: 2 writes, not 256
                    await ws.send(bytes([i % 256]) * 64)
                assert len(log.writes) == 1
                for i in range(256):
                    assert await ws.recv() == bytes([i % 256]) * 64
                assert len(log.writes) == 2

        run(main())

    def test_listener_sends_during_dispatch_are_coalesced(self, run):
        class EchoListener:
            def __init__(self, engine):
                self.engine = engine
                self.closed = asyncio.get_running_loop().create_future()

            def on_open(self):
                pass

            def on_message(self, data):
                self.engine.send(data)
                if data == b"burst":
                    for _ in range(100):
                        self.engine.send(b"c" * 1000)
                if data == b"two":  # a frame made once, as broadcast() does
                    self.engine.send_prepared(frame(2, b"prepared", mask=None))

            def on_ping(self, data):
                self.engine.send_frame_control(10, b"extra")

            def on_pong(self, data):
                pass

            def backlog(self):
                return 0

            def on_close(self, error):
                self.closed.set_result(error)

        async def main():
            loop = asyncio.get_running_loop()
            listeners = []

            def factory():
                engine = Engine(Core(Role.SERVER, Options(compression=None)), None, loop)
                listeners.append(EchoListener(engine))
                engine.listener = listeners[-1]
                return engine

            server = await loop.create_server(factory, "127.0.0.1", 0)
            try:
                peer = await RawPeer.open(server.sockets[0].getsockname()[1])
                await peer.upgrade()
                log = WireLog(listeners[0].engine)
                peer.send(frame(1, b"one") + frame(9, b"p") + frame(2, b"two"))
                got = [await peer.read_frame() for _ in range(5)]
                assert got == [
                    (True, 10, b"p"),  # the automatic PONG goes first
                    (True, 1, b"one"),
                    (True, 10, b"extra"),
                    (True, 2, b"two"),
                    (True, 2, b"prepared"),
                ]
                assert len(log.writes) == 2  # the PONG, then everything the listener sent
                # A listener sending much from one message: written as it passes
                # 64 KiB, so that no more than that waits outside the transport.
                peer.send(frame(2, b"burst"))
                chunk = b"c" * 1000
                burst = [(True, 2, b"burst")] + [(True, 2, chunk)] * 100
                assert [await peer.read_frame() for _ in range(101)] == burst
                later = log.writes[2:]
                assert len(later) >= 2
                assert max(map(len, later)) <= 64 * 1024 + len(frame(2, chunk, mask=None))
                peer.send(frame(8, close_payload(1000)))
                assert await peer.read_close() == (1000, "")
                assert await peer.at_eof()
                peer.close()
                assert await step(listeners[0].closed) is None
            finally:
                server.close()
                await server.wait_closed()

        run(main())


class TestTheLastWrite:
    """What a server writes last goes with its end of the stream, where the transport can."""

    @pytest.mark.parametrize("who_closes", ["peer", "server", "failure"])
    def test_the_close_frame_and_the_end_leave_together(self, run, who_closes):
        async def main():
            async with served_raw() as (ws, peer):
                transport = ws.engine.transport
                calls: list[tuple[str, bytes]] = []
                for name in ("write", "write_with_eof", "write_eof", "close"):
                    original = getattr(transport, name)

                    def record(*args, name=name, original=original):
                        calls.append((name, *map(bytes, args)))
                        return original(*args)

                    setattr(transport, name, record)
                if who_closes == "peer":
                    peer.send(frame(8, close_payload(1000)))
                    assert await peer.read_frame() == (True, 8, close_payload(1000))
                    expected = [("write_with_eof", frame(8, close_payload(1000), mask=None))]
                    expected += [("close",)]
                elif who_closes == "failure":
                    peer.send(frame(3, b"a reserved opcode"))
                    assert await peer.read_frame() == (True, 8, close_payload(1002))
                    # Half-closed, and still reading: until the peer's end.
                    expected = [("write_with_eof", frame(8, close_payload(1002), mask=None))]
                    expected += [("write_eof",)]
                else:
                    closing = asyncio.ensure_future(ws.close(1001))
                    assert await peer.read_frame() == (True, 8, close_payload(1001))
                    peer.send(frame(8, close_payload(1001)))
                    await step(closing)
                    # Our close frame went alone (the peer's echo was still to come);
                    # the echo ended it: nothing left to write, so no FIN of its own.
                    expected = [("write", frame(8, close_payload(1001), mask=None)), ("close",)]
                assert await peer.reader.read() == b""  # the end, right behind
                peer.close()
                await step(ws.wait_closed())
                assert calls == expected

        run(main())


class JoiningTransport(asyncio.Transport):
    """A transport whose writelines() joins (the base class's), for _write_gathered."""

    def __init__(self, extra: dict[str, object]) -> None:
        super().__init__(extra)
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        pass


async def engine_on_socket(sock) -> Engine:
    """A server engine on an asyncio transport over ``sock`` (a socketpair end)."""
    loop = asyncio.get_running_loop()
    engine = server_engine(Options(compression=None), loop)
    await loop.create_connection(lambda: engine, sock=sock)
    return engine


def read_all(sock, size: int) -> bytes:
    """Read ``size`` bytes from a blocking socket (with a timeout)."""
    sock.settimeout(10)
    got = bytearray()
    while len(got) < size:
        chunk = sock.recv(size - len(got))
        assert chunk, "closed early"
        got += chunk
    return bytes(got)


class TestGatheredWrites:
    """Engine._write_gathered: chunks past 64 KiB in one system call, never joined."""

    def test_the_transport_chooses_how_a_list_is_written(self, run):
        async def main():
            a, b = socket.socketpair()
            with b:
                engine = await engine_on_socket(a)
                # Python 3.11's selector transport joins writelines(): bypassed
                joins = type(engine.transport).writelines is asyncio.WriteTransport.writelines
                assert engine._gathers is not joins
                engine.abort()

        run(main())

    @pytest.mark.parametrize("busy", [False, True])
    def test_what_the_socket_does_not_take_follows_in_order(self, run, busy):
        # A small send buffer and a peer that has not read yet: writev takes
        # part, the transport buffers the rest; or the transport is already
        # buffering, so nothing may overtake it.
        async def main():
            a, b = socket.socketpair()
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
            with b:
                engine = await engine_on_socket(a)
                first = os.urandom(300_000) if busy else b""
                if busy:
                    engine.transport.write(first)
                    assert engine.transport.get_write_buffer_size()
                views = [b"head", memoryview(os.urandom(200_000)), b"x" * 10, b"tail"]
                engine._write_gathered(views)
                expected = first + b"".join(bytes(v) for v in views)
                got = await asyncio.to_thread(read_all, b, len(expected))
                assert got == expected
                engine.abort()

        run(main())

    def test_a_failed_write_is_reported_by_the_transport(self, run):
        async def main():
            a, b = socket.socketpair()
            engine = await engine_on_socket(a)
            b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            b.close()  # the peer is gone: writev fails, transport.write reports it
            engine._write_gathered([b"head", memoryview(b"x" * 100_000)])
            await step(engine.closed)
            assert isinstance(engine.error, OSError)

        run(main())

    def test_a_lost_tls_transport_is_not_written_to(self, run):
        async def main():
            transport = JoiningTransport({"sslcontext": ssl.create_default_context()})
            engine = server_engine(Options(compression=None), asyncio.get_running_loop())
            engine.connection_made(transport)
            transport.closing = True
            engine._write_gathered([b"head", memoryview(b"y" * 200_000)])
            assert transport.written == []
            engine._clock.cancel(engine._alarm)

        run(main())

    @pytest.mark.parametrize(
        ("extra", "expected"),
        [
            ({}, [b"head", b"y" * 100_000]),
            # TLS takes a large chunk a piece at a time (tls.ENCRYPT_SIZE).
            (
                {"sslcontext": ssl.create_default_context()},
                [b"head", b"y" * ENCRYPT_SIZE, b"y" * (100_000 - ENCRYPT_SIZE)],
            ),
        ],
        ids=["no-socket", "tls"],
    )
    def test_no_socket_of_its_own_or_tls_goes_through_write(self, run, extra, expected):
        async def main():
            a, b = socket.socketpair()
            with a, b:
                if extra:
                    extra["socket"] = a
                transport = JoiningTransport(extra)
                engine = server_engine(Options(compression=None), asyncio.get_running_loop())
                engine.connection_made(transport)
                views = [b"head", memoryview(b"y" * 100_000)]
                engine._write_gathered(views)
                assert transport.written == expected  # never the raw socket
                b.setblocking(False)
                with pytest.raises(BlockingIOError):
                    b.recv(1)
                engine._clock.cancel(engine._alarm)

        run(main())


class TestEngineWithoutListener:
    def test_handshake_ping_and_close(self, run):
        async def main():
            served = []
            async with airsocket.serve(keeper(served), "127.0.0.1", 0) as server:
                loop = asyncio.get_running_loop()
                core = Core(Role.CLIENT, Options(ping_interval=None))
                core.connect(ws_url(server))
                engine = Engine(core, None, loop)
                assert engine.listener.backlog() == 0
                await loop.create_connection(lambda: engine, "127.0.0.1", port_of(server))
                await step(engine.opened)
                peer = await served_connection(served)
                await peer.send("ignored")  # dropped by the stand-in listener
                assert await step(peer.ping()) >= 0.0  # answered by the core
                assert await step(engine.ping()) >= 0.0
                engine.close(1000, "bye")
                await step(engine.closed)
                await step(peer.wait_closed())
                assert engine.core.close_code == 1000
                assert (peer.close_code, peer.close_reason) == (1000, "bye")

        run(main())


class TestFactories:
    def test_client_and_server_engines(self, run):
        async def main():
            loop = asyncio.get_running_loop()
            server_engines = []

            def factory():
                server_engines.append(server_engine(Options(), loop))
                return server_engines[-1]

            server = await loop.create_server(factory, "127.0.0.1", 0)
            try:
                port = server.sockets[0].getsockname()[1]
                client = client_engine(parse_uri(f"ws://127.0.0.1:{port}/x"), Options(), loop)
                assert client.core.role is Role.CLIENT
                await loop.create_connection(lambda: client, "127.0.0.1", port)
                await step(client.opened)
                [accepted] = server_engines
                # The server sent the 101 the client read; it has no future to wait on.
                assert accepted.opened is None
                assert accepted.core.state is State.OPEN
                assert accepted.core.role is Role.SERVER
                assert accepted.core.request.path == "/x"
                client.close()
                await step(asyncio.gather(client.closed, accepted.closed))
                assert accepted.core.close_code == 1000
            finally:
                server.close()
                await server.wait_closed()

        run(main())


async def _a_blocked_send(ws: airsocket.Connection) -> asyncio.Future[None]:
    """Send 64 KiB messages to a peer that does not read until one send waits to drain."""
    for _ in range(2000):
        sending = asyncio.ensure_future(ws.send(b"y" * 65536))
        await asyncio.sleep(0)
        if not sending.done():
            return sending
    raise AssertionError("no send waited for the buffer to drain")


class TestEngineCalls:
    def test_close_while_connecting_drops_the_connection(self, run):
        async def silent(peer: RawPeer) -> None:
            await peer.reader.read()

        async def main():
            async with raw_server(silent) as port:
                loop = asyncio.get_running_loop()
                core = Core(Role.CLIENT)
                core.connect(f"ws://127.0.0.1:{port}/")
                engine = Engine(core, None, loop)
                await loop.create_connection(lambda: engine, "127.0.0.1", port)
                engine.close()
                await step(engine.closed)
                with pytest.raises(airsocket.InvalidHandshake, match="opening handshake"):
                    await engine.opened
                engine.close()  # closed already: nothing happens

        run(main())

    def test_unsolicited_pong_and_unknown_pongs(self, run):
        async def main():
            served = []
            async with (
                airsocket.serve(keeper(served), "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server), ping_interval=None) as ws,
            ):
                engine = (await served_connection(served)).engine
                engine.send_frame_control(10, b"heartbeat")  # the client ignores it
                pending = ws.engine.ping(b"mine")
                assert await step(pending) >= 0.0
                with pytest.raises(airsocket.ArgumentError):
                    engine.send_frame_control(9, b"x" * 126)

        run(main())

    def test_a_pong_settles_earlier_pings_too(self, run):
        async def answers_last(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            for _ in range(3):
                _, opcode, payload = await peer.read_frame()
                assert opcode == 9
            peer.send(frame(10, payload, mask=None))  # RFC 6455 5.5.3: answer the last
            await peer.reader.read()

        async def main():
            async with raw_server(answers_last) as port:
                url = f"ws://127.0.0.1:{port}/"
                ws = await airsocket.connect(url, ping_interval=None, close_timeout=0.05)
                waiters = [ws.engine.ping(bytes([i])) for i in range(3)]
                waiters[0].cancel()  # given up on: the PONG settles the others
                latencies = await step(asyncio.gather(*waiters[1:]))
                assert all(latency >= 0.0 for latency in latencies)
                assert ws.latency == latencies[-1]
                # Every payload is free again: nothing waits any more.
                assert ws.engine._pings.cancel_all() == []
                ws.engine.abort()
                await ws.wait_closed()

        run(main())

    def test_peer_half_close_without_close_frame(self, run):
        async def main():
            async with served_raw() as (ws, peer):
                peer.writer.write_eof()
                await step(ws.wait_closed())
                assert ws.close_code == 1006
                assert ws.state is airsocket.State.CLOSED
                assert await peer.at_eof()

        run(main())

    def test_server_half_closes_after_failing_and_reads_on(self, run):
        async def main():
            async with served_raw(close_timeout=60) as (ws, peer):
                peer.send(frame(3))  # reserved opcode
                assert await peer.read_close() == (1002, "")
                assert await peer.at_eof()
                # The server still reads: our data is taken, not answered with a reset.
                assert ws.state is airsocket.State.CLOSING
                peer.send(frame(1, b"late"))
                peer.writer.write_eof()
                await step(ws.wait_closed())
                assert ws.close_code == 1006

        run(main())

    def test_peer_reset(self, run):
        async def main():
            async with served_raw() as (ws, peer):
                peer.reset()
                await step(ws.wait_closed())
                assert ws.close_code == 1006
                assert isinstance(ws.engine.error, ConnectionResetError)
                with pytest.raises(airsocket.ConnectionClosedError):
                    await ws.recv()

        run(main())

    def test_blocked_send_returns_when_the_connection_drops(self, run):
        async def stalls(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await gate.wait()
            peer.reset()

        gate = asyncio.Event()

        async def main():
            async with raw_server(stalls) as port:
                ws = await airsocket.connect(
                    f"ws://127.0.0.1:{port}/", write_limit=1024, compression=None
                )
                blocked = await _a_blocked_send(ws)
                also_blocked = asyncio.ensure_future(ws.send(b"z"))  # waits on the same drain
                await asyncio.sleep(0)
                assert not also_blocked.done()
                gate.set()
                await step(blocked)  # does not hang once the connection is gone
                await step(also_blocked)
                await step(ws.wait_closed())
                assert ws.close_code == 1006
                await ws.engine.drain()  # closed: returns at once

        run(main())

    def test_a_cancelled_blocked_send_leaves_the_others_waiting(self, run):
        # Senders blocked on the same drain: cancelling one (a timeout around
        # send()) must neither cancel the others nor the sends after it.
        received = []

        async def stalls_then_reads(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await gate.wait()
            while True:
                _, _, payload = await peer.read_frame()
                received.append(payload[:1])
                if payload == b"last":
                    return

        gate = asyncio.Event()

        async def main():
            async with raw_server(stalls_then_reads) as port:
                ws = await airsocket.connect(
                    f"ws://127.0.0.1:{port}/", write_limit=1024, compression=None
                )
                blocked = await _a_blocked_send(ws)
                also_blocked = asyncio.ensure_future(ws.send(b"z"))
                await asyncio.sleep(0)
                blocked.cancel()
                await asyncio.sleep(0)
                assert not also_blocked.done()  # still waiting, not cancelled with it
                gate.set()
                await step(also_blocked)
                await step(ws.send(b"last"))  # not the cancelled wait again
                await eventually(lambda: received[-1:] == [b"l"])
                assert b"z" in received
                await ws.close()

        run(main())

    def test_reading_resumes_after_the_transport_is_gone(self, run):
        # While reading is paused, the peer's close echo is not read: the
        # close timer drops the connection, and the queued messages stay
        # readable afterwards.
        async def main():
            served = []
            async with airsocket.serve(
                keeper(served), "127.0.0.1", 0, max_queue=1, close_timeout=0.05
            ) as server:
                peer = await RawPeer.open(port_of(server))
                await peer.upgrade()
                ws = await served_connection(served)
                peer.send(frame(1, b"a") + frame(1, b"b"))
                await eventually(lambda: ws.engine.reading_paused)
                ws.engine.close(1001)
                assert await peer.read_close() == (1001, "")
                peer.send(frame(8, close_payload(1001)))
                await step(ws.wait_closed())
                assert [await ws.recv(), await ws.recv()] == ["a", "b"]
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    await ws.recv()
                assert (info.value.code, info.value.sent_code) == (1006, 1001)
                peer.close()

        run(main())

    def test_pause_reading_before_a_transport(self, run):
        async def main():
            engine = Engine(Core(Role.SERVER), None, asyncio.get_running_loop())
            engine.pause_reading()
            engine.resume_reading()
            assert not engine.reading_paused
            assert not engine.write_paused
            await engine.drain()

        run(main())
