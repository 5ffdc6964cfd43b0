"""Tests of airsocket.asyncio.poller: one epoll for a server's connections.

Real sockets on 127.0.0.1 (and socket pairs for the Poller alone); the loop
is asyncio's own, which watches the Poller's epoll as one descriptor.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
from aio_helpers import echo, eventually, port_of, step

import airsocket
from airsocket.asyncio.poller import Poller

pytestmark = pytest.mark.skipif(not hasattr(__import__("select"), "epoll"), reason="Linux only")


def ready_pair() -> tuple[socket.socket, socket.socket]:
    """A socket pair whose first end has a byte to read."""
    ours, peer = socket.socketpair()
    peer.send(b"x")
    return ours, peer


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


class TestWatching:
    def test_a_reader_runs_while_its_socket_is_readable(self, run):
        async def main() -> None:
            poller = Poller(asyncio.get_running_loop())
            ours, peer = socket.socketpair()
            calls: list[bytes] = []
            with ours, peer:
                poller.add_reader(ours.fileno(), lambda: calls.append(ours.recv(10)))
                assert len(poller) == 1
                await asyncio.sleep(0)
                assert calls == []  # nothing to read: not called
                peer.send(b"one")
                await eventually(lambda: calls == [b"one"])
                assert poller.remove_reader(ours.fileno()) is True
                assert poller.remove_reader(ours.fileno()) is False
                assert len(poller) == 0
                peer.send(b"two")
                for _ in range(3):
                    await asyncio.sleep(0)
                assert calls == [b"one"]  # not watched any more
            poller.close()
            assert poller.closed

        run(main())

    def test_a_reader_and_a_writer_on_one_descriptor(self, run):
        async def main() -> None:
            poller = Poller(asyncio.get_running_loop())
            ours, peer = socket.socketpair()
            reads: list[bytes] = []
            writes: list[int] = []
            fd = ours.fileno()
            with ours, peer:
                poller.add_reader(fd, lambda: reads.append(ours.recv(10)))
                poller.add_writer(fd, lambda: writes.append(1))  # writable at once
                await eventually(lambda: len(writes) > 0)
                assert poller.remove_writer(fd) is True
                assert poller.remove_writer(fd) is False
                peer.send(b"still read")
                await eventually(lambda: reads == [b"still read"])
                count = len(writes)
                await asyncio.sleep(0)
                assert len(writes) == count  # the writer is gone
                assert poller.remove_reader(fd) is True
                assert len(poller) == 0
            poller.close()

        run(main())

    def test_what_epoll_cannot_watch_is_refused_and_not_kept(self, run):
        async def main() -> None:
            poller = Poller(asyncio.get_running_loop())
            # epoll refuses regular files
            with open(__file__, "rb") as regular_file, pytest.raises(PermissionError):
                poller.add_reader(regular_file.fileno(), lambda: None)
            assert len(poller) == 0
            poller.close()
            assert poller.closed

        run(main())

    def test_an_error_on_the_socket_wakes_its_writer(self, run):
        # A writer waits for room; a reset peer means there never will be:
        # the writer is woken to find out, as the loop's selector does.
        async def main() -> None:
            poller = Poller(asyncio.get_running_loop())
            with socket.create_server(("127.0.0.1", 0)) as listener:
                ours = socket.create_connection(listener.getsockname())
                peer, _ = listener.accept()
            ours.setblocking(False)
            with ours, peer:
                with pytest.raises(BlockingIOError):
                    while True:
                        ours.send(b"x" * 65536)
                woken: list[int] = []
                poller.add_writer(ours.fileno(), lambda: woken.append(1))
                await asyncio.sleep(0)
                assert woken == []  # full: not writable
                peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
                peer.close()  # a reset
                await eventually(lambda: len(woken) > 0)
                with pytest.raises(ConnectionResetError):
                    ours.send(b"x")
                poller.remove_writer(ours.fileno())
            poller.close()

        run(main())


class TestCallbacks:
    def test_a_failing_callback_is_reported_and_the_others_run(self, run):
        async def main() -> None:
            loop = asyncio.get_running_loop()
            reported: list[dict[str, Any]] = []
            loop.set_exception_handler(lambda loop, context: reported.append(context))
            poller = Poller(loop)
            (first, first_peer), (second, second_peer) = ready_pair(), ready_pair()
            ran: list[str] = []

            def failing() -> None:
                ran.append("failing")
                raise ValueError("a bug in one connection")

            with first, first_peer, second, second_peer:
                poller.add_reader(first.fileno(), failing)
                poller.add_reader(second.fileno(), lambda: ran.append("other"))
                await eventually(lambda: "failing" in ran and "other" in ran)
                poller.remove_reader(first.fileno())
                poller.remove_reader(second.fileno())
            poller.close()
            assert isinstance(reported[0]["exception"], ValueError)
            assert "failing" in reported[0]["message"]

        run(main())

    def test_a_descriptor_removed_by_an_earlier_callback_is_not_called(self, run):
        async def main() -> None:
            poller = Poller(asyncio.get_running_loop())
            pairs = [ready_pair(), ready_pair()]
            ran: list[int] = []

            def make(index: int) -> Any:
                def callback() -> None:
                    ran.append(index)
                    for ours, _ in pairs:  # the first to run removes both
                        poller.remove_reader(ours.fileno())

                return callback

            for index, (ours, _) in enumerate(pairs):
                poller.add_reader(ours.fileno(), make(index))
            await eventually(lambda: len(ran) > 0)
            for _ in range(3):
                await asyncio.sleep(0)
            assert len(ran) == 1  # both were ready in the same poll
            for pair in pairs:
                for sock in pair:
                    sock.close()
            poller.close()

        run(main())


class TestClosing:
    def test_close_waits_for_the_last_descriptor(self, run):
        async def main() -> None:
            poller = Poller(asyncio.get_running_loop())
            ours, peer = ready_pair()
            with ours, peer:
                poller.add_reader(ours.fileno(), lambda: None)
                poller.close()
                assert not poller.closed
                poller.remove_reader(ours.fileno())
                assert poller.closed

        run(main())

    def test_a_descriptor_watched_after_close_opens_a_new_epoll(self, run):
        # A connection that paused reading is not watched, and may resume
        # after its server stopped listening.
        async def main() -> None:
            poller = Poller(asyncio.get_running_loop())
            poller.close()
            assert poller.closed
            ours, peer = ready_pair()
            called = asyncio.get_running_loop().create_future()
            with ours, peer:
                poller.add_reader(ours.fileno(), lambda: called.done() or called.set_result(1))
                assert not poller.closed
                await step(called)
                poller.remove_reader(ours.fileno())
                assert poller.closed  # closing still holds

        run(main())

    def test_a_server_leaves_no_descriptor_open(self, run):
        # Connections outlive the listening they came from; the server's
        # epoll closes with the last of them.
        async def main() -> None:
            before = open_descriptors()
            server = await airsocket.serve(echo, "127.0.0.1", 0)
            async with airsocket.connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                server.close(close_connections=False)
                await ws.send("still served")
                assert await step(ws.recv()) == "still served"
            await step(server.wait_closed())
            await eventually(lambda: open_descriptors() == before)

        run(main())
