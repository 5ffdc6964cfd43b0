"""Tests of airsocket.asyncio.connection: the awaitable Connection."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aio_helpers import (
    STEP_TIMEOUT,
    RawPeer,
    accept_upgrade,
    close_payload,
    echo,
    eventually,
    frame,
    port_of,
    raw_server,
    step,
    ws_url,
)

import airsocket
from airsocket.asyncio.connection import Connection
from airsocket.asyncio.engine import Engine
from airsocket.protocol.connection import Connection as Core
from airsocket.protocol.connection import Role


class Served:
    """An airsocket server whose handler hands its connections to the test."""

    def __init__(self, handler=None, **options):
        self.connections: asyncio.Queue[airsocket.Connection] = asyncio.Queue()
        self.release = asyncio.Event()
        self.handler = handler
        self.options = options
        self.server: airsocket.Server | None = None

    async def _handler(self, ws):
        await self.connections.put(ws)
        if self.handler is not None:
            await self.handler(ws)
        else:
            await self.release.wait()

    async def __aenter__(self):
        self.server = await airsocket.serve(self._handler, "127.0.0.1", 0, **self.options)
        return self

    async def __aexit__(self, *exc_info):
        self.release.set()
        self.server.close()
        await step(self.server.wait_closed())

    @property
    def url(self):
        return ws_url(self.server)

    async def accepted(self):
        return await step(self.connections.get())


class TestMessages:
    def test_text_and_binary(self, run):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                for message in ["", "héllo ✓", b"", b"\x00\x01\xff"]:
                    await ws.send(message)
                    assert await ws.recv() == message
                await ws.send(bytearray(b"ba"))
                assert await ws.recv() == b"ba"
                await ws.send(memoryview(b"xmemoryx")[1:-1])
                assert await ws.recv() == b"memory"
                big = "big" * 100_000
                await ws.send(big)
                assert await ws.recv() == big

        run(main())

    @pytest.mark.parametrize("compression", [None, "deflate"])
    def test_a_view_of_wider_items_is_sent_as_its_bytes(self, run, compression):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0, compression=compression) as server,
                airsocket.connect(ws_url(server), compression=compression) as ws,
            ):
                for size in (400, 400_000):  # a short frame and a split one
                    wide = bytes(range(200)) * (size // 200)
                    await ws.send(memoryview(wide).cast("I"))
                    assert await ws.recv() == wide

        run(main())

    def test_send_refuses_other_types(self, run):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                for wrong in (42, None, ["list"]):
                    with pytest.raises(airsocket.ArgumentError, match="str or bytes"):
                        await ws.send(wrong)
                with pytest.raises(TypeError):
                    await ws.send(3.5)
                await ws.send("fine")
                assert await ws.recv() == "fine"

        run(main())

    def test_async_for_ends_on_a_normal_close(self, run):
        async def handler(ws):
            for i in range(3):
                await ws.send(str(i))
            await ws.close(1000, "done")

        async def main():
            async with (
                airsocket.serve(handler, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                assert [m async for m in ws] == ["0", "1", "2"]
                assert (ws.close_code, ws.close_reason) == (1000, "done")
                # later calls keep saying how it ended
                with pytest.raises(airsocket.ConnectionClosedOK):
                    await ws.recv()
                with pytest.raises(airsocket.ConnectionClosedOK):
                    await ws.send("too late")

        run(main())

    def test_async_for_raises_on_1011(self, run):
        async def handler(ws):
            await ws.send("last")
            raise RuntimeError("crash")

        async def main():
            async with (
                airsocket.serve(handler, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                seen = []
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    async for message in ws:
                        seen.append(message)
                assert seen == ["last"]
                assert info.value.code == 1011
                assert ws.close_code == 1011

        run(main())

    def test_async_for_raises_on_1006(self, run):
        async def drops(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            peer.send(frame(1, b"one", mask=None))
            peer.close()  # no close frame

        async def main():
            async with (
                raw_server(drops) as port,
                airsocket.connect(f"ws://127.0.0.1:{port}/") as ws,
            ):
                seen = []
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    async for message in ws:
                        seen.append(message)
                assert seen == ["one"]
                assert info.value.code == 1006
                assert ws.close_code == 1006
                assert ws.state is airsocket.State.CLOSED

        run(main())

    def test_async_for_over_a_backlog(self, run):
        async def handler(ws):
            for i in range(12):
                await ws.send(str(i))

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                ws = await airsocket.connect(ws_url(server), close_timeout=60)
                await step(ws.wait_closed())  # all 12 wait in the queue
                assert [m async for m in ws] == [str(i) for i in range(12)]

        run(main())

    def test_connection_is_an_async_context_manager(self, run):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0) as server:
                async with await airsocket.connect(ws_url(server)) as ws:
                    await ws.send("x")
                    assert await ws.recv() == "x"
                assert ws.state is airsocket.State.CLOSED
                assert ws.close_code == 1000

        run(main())

    def test_recv_delivers_queued_messages_before_the_close(self, run):
        async def handler(ws):
            await ws.send("a")
            await ws.send("b")

        async def main():
            async with (
                airsocket.serve(handler, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server), close_timeout=60) as ws,
            ):
                await step(ws.wait_closed())
                assert await ws.recv() == "a"
                assert await ws.recv() == "b"
                with pytest.raises(airsocket.ConnectionClosedOK):
                    await ws.recv()

        run(main())

    def test_only_one_recv_at_a_time(self, run):
        async def main():
            async with Served() as served, airsocket.connect(served.url) as ws:
                first = asyncio.ensure_future(ws.recv())
                await asyncio.sleep(0)
                with pytest.raises(RuntimeError, match="already waiting"):
                    await ws.recv()
                peer = await served.accepted()
                await peer.send("for the first")
                assert await step(first) == "for the first"

        run(main())

    def test_recv_again_after_a_cancelled_recv(self, run):
        # A timeout around recv() cancels it: the next recv() waits and gets
        # the message (it raised "already waiting" before), and nothing is lost.
        async def main():
            async with Served() as served, airsocket.connect(served.url) as ws:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.01)
                second = asyncio.ensure_future(ws.recv())
                await asyncio.sleep(0)
                with pytest.raises(RuntimeError, match="already waiting"):
                    await ws.recv()  # the second one does wait
                peer = await served.accepted()
                await peer.send("one")
                await peer.send("two")
                assert await step(second) == "one"
                cancelled = asyncio.ensure_future(ws.__anext__())
                await asyncio.sleep(0)
                assert cancelled.done()  # "two" was queued: no wait
                assert cancelled.result() == "two"
                waiting = asyncio.ensure_future(ws.__anext__())
                await asyncio.sleep(0)
                waiting.cancel()
                await peer.send("three")
                assert [m async for m in _first(ws, 1)] == ["three"]

        run(main())


async def _first(ws, count):
    async for message in ws:
        yield message
        count -= 1
        if not count:
            return


class TestPing:
    def test_ping_returns_the_round_trip_time(self, run):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server), ping_interval=None) as ws,
            ):
                assert ws.latency == 0.0
                latency = await ws.ping()
                assert isinstance(latency, float)
                assert latency > 0.0
                assert ws.latency == latency
                assert isinstance(await ws.ping(b"payload"), float)

        run(main())

    def test_same_payload_twice_is_refused(self, run):
        async def main():
            async with Served() as served, airsocket.connect(served.url) as ws:
                # Pause the server's reading so the first PING waits.
                peer = await served.accepted()
                peer.engine.pause_reading()
                first = asyncio.ensure_future(ws.ping(b"same"))
                await asyncio.sleep(0)
                with pytest.raises(airsocket.InvalidState):
                    await ws.ping(b"same")
                peer.engine.resume_reading()
                assert await step(first) >= 0.0

        run(main())

    def test_ping_on_a_closed_connection(self, run):
        async def main():
            async with airsocket.serve(echo, "127.0.0.1", 0) as server:
                ws = await airsocket.connect(ws_url(server))
                await ws.close()
                with pytest.raises(airsocket.ConnectionClosedOK):
                    await ws.ping()

        run(main())

    def test_ping_waiting_when_the_connection_drops(self, run):
        async def ignores_pings(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await peer.read_frame()  # the PING; no PONG comes back
            peer.close()

        async def main():
            async with raw_server(ignores_pings) as port:
                url = f"ws://127.0.0.1:{port}/"
                async with airsocket.connect(url, ping_interval=None) as ws:
                    with pytest.raises(airsocket.ConnectionClosedError) as info:
                        await step(ws.ping())
                    assert info.value.code == 1006

        run(main())

    def test_cancelling_ping_leaves_the_connection_usable(self, run):
        async def main():
            async with Served() as served, airsocket.connect(served.url) as ws:
                peer = await served.accepted()
                peer.engine.pause_reading()
                waiting = asyncio.ensure_future(ws.ping())
                await asyncio.sleep(0)
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                peer.engine.resume_reading()
                assert await step(ws.ping()) >= 0.0

        run(main())


class TestClose:
    def test_close_code_and_reason_reach_the_peer(self, run):
        async def main():
            async with Served() as served, airsocket.connect(served.url) as ws:
                peer = await served.accepted()
                assert ws.close_code is None
                assert ws.close_reason is None
                await ws.close(4000, "custom reason")
                await step(peer.wait_closed())
                assert (peer.close_code, peer.close_reason) == (4000, "custom reason")
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    await peer.recv()
                assert (info.value.code, info.value.reason) == (4000, "custom reason")
                # our side sent 4000 and got it echoed
                assert ws.close_code == 4000
                # closing again does nothing
                await ws.close(1000)

        run(main())

    def test_invalid_close_code(self, run):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server)) as ws,
            ):
                for code in (999, 1005, 1006, 5000):
                    with pytest.raises(airsocket.ArgumentError):
                        await ws.close(code)
                assert ws.state is airsocket.State.OPEN
                await ws.send("still open")
                assert await ws.recv() == "still open"

        run(main())

    def test_close_timeout_when_the_peer_never_answers(self, run):
        async def never_answers(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await peer.read_close()
            await peer.reader.read()  # keeps the connection, never echoes

        async def main():
            async with raw_server(never_answers) as port:
                url = f"ws://127.0.0.1:{port}/"
                ws = await airsocket.connect(url, close_timeout=0.05)
                await step(ws.close(1000, "bye"))
                assert ws.state is airsocket.State.CLOSED
                assert ws.close_code == 1006  # no close frame came back
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    await ws.recv()
                assert (info.value.code, info.value.sent_code) == (1006, 1000)

        run(main())

    def test_server_drops_a_client_that_never_closes_tcp(self, run):
        # After the closing handshake the server waits close_timeout for the
        # client's EOF, then aborts.
        async def main():
            async with Served(close_timeout=0.05) as served:
                peer = await RawPeer.open(port_of(served.server))
                await peer.upgrade()
                ws = await served.accepted()
                peer.send(frame(8, close_payload(1000, "bye")))
                assert await peer.read_close() == (1000, "")
                await step(ws.wait_closed())
                assert (ws.close_code, ws.close_reason) == (1000, "bye")
                assert ws.state is airsocket.State.CLOSED

        run(main())

    def test_no_close_timeout(self, run):
        async def main():
            async with (
                airsocket.serve(echo, "127.0.0.1", 0) as server,
                airsocket.connect(ws_url(server), close_timeout=None) as ws,
            ):
                await ws.close()
                assert ws.close_code == 1000

        run(main())

    def test_a_cancelled_wait_for_the_close_leaves_the_other_waits(self, run):
        # Timeouts around close() and wait_closed(): each gives up alone, and
        # the waits that gave up are not kept (a loop of them grows nothing).
        async def never_answers(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await peer.read_close()
            await gate.wait()
            peer.send(frame(8, close_payload(1000), mask=None))  # then closes TCP

        gate = asyncio.Event()

        async def main():
            async with raw_server(never_answers) as port:
                ws = await airsocket.connect(f"ws://127.0.0.1:{port}/", close_timeout=None)
                closing = asyncio.ensure_future(ws.close())
                waiting = asyncio.ensure_future(ws.wait_closed())
                for _ in range(50):
                    with pytest.raises(asyncio.TimeoutError):
                        await asyncio.wait_for(ws.wait_closed(), 0.001)
                closing.cancel()
                await asyncio.sleep(0)
                assert closing.cancelled() and not waiting.done()
                assert not ws.engine.closed.done()
                assert len(ws.engine._close_waiters._futures) == 1  # waiting's, no more
                gate.set()
                await step(waiting)
                await step(ws.close())  # closed: returns at once
                assert ws.close_code == 1000

        run(main())


class TestBackpressure:
    def test_send_waits_while_the_peer_does_not_read(self, run):
        received = []
        gate = asyncio.Event()  # bound to the test's loop when first awaited (3.10+)

        async def slow_reader(peer: RawPeer) -> None:
            await accept_upgrade(peer)
            await gate.wait()
            while chunk := await peer.reader.read(1 << 20):
                received.append(len(chunk))

        async def main():
            async with raw_server(slow_reader) as port:
                url = f"ws://127.0.0.1:{port}/"
                ws = await airsocket.connect(
                    url, write_limit=4096, compression=None, close_timeout=0.5
                )
                sock = ws.engine.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                chunk = b"x" * 65536
                blocked = None
                for _ in range(2000):  # at most 128 MiB; the buffers fill far sooner
                    sending = asyncio.ensure_future(ws.send(chunk))
                    # Once every buffer on the way is full, nothing moves
                    # until the peer reads: a send then stays pending.
                    await asyncio.wait([sending], timeout=0.05)
                    if not sending.done():
                        blocked = sending
                        break
                    sending.result()
                assert blocked is not None, "send never waited"
                assert ws.engine.write_paused
                gate.set()
                await step(blocked)
                ws.engine.abort()
                await ws.wait_closed()

        run(main())
        assert received, "the peer read what was sent"

    def test_reading_pauses_while_max_queue_messages_wait(self, run):
        # 64 KiB messages: more than one read's worth, so that they arrive in
        # several reads and the pause has something left to hold back.
        messages = [bytes([i]) * 65536 for i in range(40)]

        async def main():
            async with (
                Served(max_queue=4, compression=None) as served,
                airsocket.connect(served.url, compression=None) as ws,
            ):
                peer = await served.accepted()
                sending = asyncio.ensure_future(_send_all(ws, messages))
                await eventually(lambda: peer.engine.reading_paused)
                held = peer.backlog()
                assert 4 <= held < 40
                assert not peer.engine.transport.is_reading()
                for _ in range(20):  # reads the loop could make: none is
                    await asyncio.sleep(0)
                assert peer.backlog() == held
                got = [await step(peer.recv()) for _ in range(40)]
                assert got == messages
                await step(sending)
                assert not peer.engine.reading_paused
                assert peer.engine.transport.is_reading()

        run(main())

    def test_unbounded_queue(self, run):
        async def main():
            async with Served(max_queue=0) as served, airsocket.connect(served.url) as ws:
                peer = await served.accepted()
                for i in range(40):
                    await ws.send(str(i))
                await ws.send("end")
                await eventually(lambda: peer.backlog() == 41)
                assert not peer.engine.reading_paused

        run(main())

    def test_sends_while_messages_wait_are_coalesced(self, run):
        async def main():
            async with Served() as served, airsocket.connect(served.url) as ws:
                peer = await served.accepted()
                await ws.send("a")
                await ws.send("b")
                await eventually(lambda: peer.backlog() == 2)
                writes = []
                transport = peer.engine.transport
                original = transport.write
                transport.write = lambda data: (writes.append(data), original(data))
                assert await peer.recv() == "a"
                # "b" still waits: these two sends leave in one write
                await peer.send("1")
                await peer.send("2")
                assert writes == []
                assert await peer.recv() == "b"
                await asyncio.sleep(0)  # the deferred write runs at the next iteration
                assert len(writes) == 1
                assert [await ws.recv(), await ws.recv()] == ["1", "2"]
                del transport.write

        run(main())


async def _send_all(ws, messages):
    for message in messages:
        await ws.send(message)


class TestPendingFailure:
    def test_violation_waits_for_the_application_then_times_out(self, run):
        async def main():
            async with Served(close_timeout=0.05, compression=None) as served:
                peer = await RawPeer.open(port_of(served.server))
                await peer.upgrade()
                ws = await served.accepted()
                peer.send(frame(1, b"kept") + frame(1, b"\xff"))
                # The handler does not read: the failure still comes, after
                # close_timeout, with the RFC code.
                assert await peer.read_close() == (1007, "")
                assert await peer.at_eof()
                peer.close()
                await step(ws.wait_closed())
                assert await ws.recv() == "kept"
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.sent_code == 1007
                assert isinstance(info.value.cause, airsocket.InvalidPayload)

        run(main())


class TestCloseBehindMessages:
    """The peer's close waits behind unread messages only for a task that may answer them.

    Each client has a close_timeout of 60 s, and ``step`` bounds each wait at
    5 s: a close held for the timeout fails the test.
    """

    def test_wait_closed_answers_a_close_that_came_before_it(self, run):
        closed_codes = []

        async def handler(ws):
            await ws.send("a")
            await ws.close(4000, "bye")
            closed_codes.append(ws.close_code)

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                ws = await airsocket.connect(ws_url(server), close_timeout=60)
                await eventually(lambda: ws.engine.core.input_pending)
                await step(ws.wait_closed())
                assert (ws.close_code, ws.close_reason) == (4000, "bye")
                assert await ws.recv() == "a"
                with pytest.raises(airsocket.ConnectionClosedError):
                    await ws.recv()  # 4000 is not a normal closure
                await eventually(lambda: bool(closed_codes))

        run(main())
        assert closed_codes == [4000]  # our echo reached the server

    def test_wait_closed_answers_a_close_that_comes_while_it_waits(self, run):
        go = asyncio.Event()

        async def handler(ws):
            await ws.recv()  # nothing reaches the client before it waits in recv()
            await ws.send("first")
            await ws.send("second")
            await go.wait()
            await ws.close(4000)

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                ws = await airsocket.connect(ws_url(server), close_timeout=60)
                await ws.send("ready")
                assert await ws.recv() == "first"  # waited: this task is the consumer
                await eventually(lambda: ws.backlog() == 1)
                asyncio.get_running_loop().call_soon(go.set)  # once it waits below
                async with asyncio.timeout(STEP_TIMEOUT):  # in this task, not a new one
                    await ws.wait_closed()
                assert ws.close_code == 4000
                assert await ws.recv() == "second"

        run(main())

    def test_another_task_reading_keeps_the_close_behind_its_answers(self, run):
        served = []
        answered = asyncio.Event()
        gate = asyncio.Event()

        async def answer(ws):
            async for message in ws:
                await gate.wait()  # busy with "a" when the close comes
                await ws.send(message.upper())
            answered.set()

        async def handler(ws):
            served.append(ws)
            consumer = asyncio.ensure_future(answer(ws))
            await asyncio.sleep(0)  # the consumer waits for a message
            await ws.wait_closed()
            await consumer

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0, compression=None) as server:
                peer = await RawPeer.open(port_of(server))
                await peer.upgrade()
                await eventually(lambda: bool(served))
                ws = served[0]
                peer.send(frame(1, b"a") + frame(1, b"b") + frame(8, close_payload(1000)))
                await eventually(lambda: ws.engine.core.input_pending)
                await asyncio.sleep(0)  # the engine looks at the backlog again
                assert ws.state is airsocket.State.OPEN  # the close waits for the answers
                gate.set()
                assert await peer.read_frame() == (True, 1, b"A")
                assert await peer.read_frame() == (True, 1, b"B")
                assert await peer.read_close() == (1000, "")
                await step(answered.wait())
                peer.close()

        run(main())

    def test_a_consumer_task_that_ended_answers_nothing(self, run):
        async def handler(ws):
            await ws.send("first")
            await ws.recv()  # the client's "ready": its reader has ended
            await ws.send("second")
            await ws.close(4000)

        async def read_one(ws):
            async for message in ws:
                return message

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                ws = await airsocket.connect(ws_url(server), close_timeout=60)
                assert await asyncio.ensure_future(read_one(ws)) == "first"
                await ws.send("ready")
                await eventually(lambda: ws.engine.core.input_pending)
                async with asyncio.timeout(STEP_TIMEOUT):
                    await ws.wait_closed()
                assert ws.close_code == 4000
                assert await ws.recv() == "second"

        run(main())

    def test_a_cancelled_wait_closed_lets_the_close_wait_again(self, run):
        async def main():
            async with Served(compression=None, close_timeout=60) as served:
                peer = await RawPeer.open(port_of(served.server))
                await peer.upgrade()
                ws = await served.accepted()
                peer.send(frame(1, b"a"))
                await eventually(lambda: ws.backlog() == 1)
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0):
                        await ws.wait_closed()
                assert ws.backlog() == 1
                peer.send(frame(8, close_payload(1000)))
                await eventually(lambda: ws.engine.core.input_pending)
                assert ws.state is airsocket.State.OPEN  # held behind "a"
                assert await ws.recv() == "a"
                await step(ws.wait_closed())
                assert await peer.read_close() == (1000, "")
                peer.close()

        run(main())


class TestProperties:
    def test_introspection(self, run):
        async def main():
            async with Served(subprotocols=["chat"]) as served:
                async with airsocket.connect(served.url + "path?q=1", subprotocols=["chat"]) as ws:
                    peer = await served.accepted()
                    assert ws.state is airsocket.State.OPEN
                    assert ws.subprotocol == peer.subprotocol == "chat"
                    assert ws.request.path == peer.request.path == "/path?q=1"
                    assert ws.response.status == peer.response.status == 101
                    assert ws.local_address == peer.remote_address
                    assert ws.remote_address == peer.local_address
                    assert repr(ws) == f"<airsocket Connection OPEN {ws.remote_address}>"
                await peer.wait_closed()
                assert repr(peer).startswith("<airsocket Connection CLOSED")

        run(main())

    def test_addresses_without_a_transport(self, run):
        async def main():
            detached = Connection(Engine(Core(Role.CLIENT), None, asyncio.get_running_loop()))
            assert detached.remote_address is None
            assert detached.local_address is None
            assert detached.state is airsocket.State.CONNECTING

        run(main())
