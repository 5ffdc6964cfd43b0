"""Tests of airsocket.asyncio.transport: the lean transport and its acceptor.

Each test drives a SocketTransport over one end of a real TCP connection on
127.0.0.1 and reads or writes the other end with a plain socket.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

import pytest
from aio_helpers import eventually, step

import airsocket
from airsocket.asyncio import transport as transport_module
from airsocket.asyncio.poller import Poller
from airsocket.asyncio.transport import Acceptor, SocketTransport, pending_connections
from raw_wire import segments_sent


class Recorder(asyncio.BufferedProtocol):
    """Records what the transport tells it."""

    def __init__(self, keep_open: bool = False) -> None:
        self.buffer = bytearray(4096)
        self.received = bytearray()
        self.events: list[Any] = []
        self.lost = asyncio.get_running_loop().create_future()
        self.keep_open = keep_open
        self.fail_on_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        if self.fail_on_data:
            raise ValueError("a bug in the protocol")
        self.received += self.buffer[:nbytes]

    def eof_received(self) -> bool:
        self.events.append("eof")
        return self.keep_open

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", exc))
        self.lost.set_result(exc)


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """(ours, the peer's): a connected TCP pair on 127.0.0.1, ours non-blocking."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    ours.setblocking(False)
    peer.settimeout(5.0)
    return ours, peer


#: Who watches the transports that started() makes: the loop, or a Poller
#: (set by the ``watcher`` fixture for the classes that use it).
_watcher = "loop"


@pytest.fixture(params=["loop", "poller"])
def watcher(request: pytest.FixtureRequest) -> Any:
    """Run the test with transports watched by the loop, then by a Poller."""
    global _watcher
    _watcher = request.param
    yield request.param
    _watcher = "loop"


class CountingReactor:
    """A reactor that records the reader calls made of it, and counts the read callbacks."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.ready_calls = 0

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        def counted() -> None:
            self.ready_calls += 1
            callback()

        self.calls.append("add_reader")
        self.inner.add_reader(fd, counted)

    def remove_reader(self, fd: int) -> bool:
        self.calls.append("remove_reader")
        return bool(self.inner.remove_reader(fd))

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        self.inner.add_writer(fd, callback)

    def remove_writer(self, fd: int) -> bool:
        return bool(self.inner.remove_writer(fd))


def started(keep_open: bool = False) -> tuple[SocketTransport, Recorder, socket.socket]:
    ours, peer = tcp_pair()
    protocol = Recorder(keep_open)
    loop = asyncio.get_running_loop()
    poller = Poller(loop) if _watcher == "poller" else None
    transport = SocketTransport(loop, ours, protocol, reactor=poller)
    transport.start()
    if poller is not None:
        poller.close()  # its epoll closes once the transport is done
    return transport, protocol, peer


def read_all(peer: socket.socket) -> bytes:
    """Everything the peer gets until our side's EOF."""
    chunks = []
    while chunk := peer.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await step(asyncio.get_running_loop().run_in_executor(None, function, *args))


@pytest.mark.usefixtures("watcher")
class TestReading:
    def test_data_then_eof_closes(self, run):
        async def main():
            transport, protocol, peer = started()
            with peer:
                peer.sendall(b"hello")
                await eventually(lambda: protocol.received == b"hello")
                peer.shutdown(socket.SHUT_WR)
                assert await step(protocol.lost) is None
            assert protocol.events == ["made", "eof", ("lost", None)]
            assert transport.is_closing()

        run(main())

    def test_eof_received_true_keeps_the_writing_side(self, run):
        async def main():
            transport, protocol, peer = started(keep_open=True)
            with peer:
                peer.shutdown(socket.SHUT_WR)
                await eventually(lambda: "eof" in protocol.events)
                assert not transport.is_closing()
                transport.write(b"after your eof")
                transport.close()
                assert await in_thread(read_all, peer) == b"after your eof"
                await step(protocol.lost)

        run(main())

    def test_paused_reading_delivers_nothing_until_resumed(self, run):
        async def main():
            transport, protocol, peer = started(keep_open=True)
            with peer:
                transport.pause_reading()
                assert not transport.is_reading()
                peer.sendall(b"held")
                for _ in range(5):
                    await asyncio.sleep(0)
                assert protocol.received == b""  # waited in the socket
                transport.resume_reading()
                await eventually(lambda: protocol.received == b"held")
                peer.shutdown(socket.SHUT_WR)
                await eventually(lambda: "eof" in protocol.events)
                transport.resume_reading()  # after the end of the stream: nothing to read
                assert not transport.is_reading()
                for _ in range(5):
                    await asyncio.sleep(0)
                assert protocol.events.count("eof") == 1
                transport.abort()
                await step(protocol.lost)

        run(main())

    def test_a_pause_stops_watching_only_when_data_comes(self, run):
        async def main():
            loop = asyncio.get_running_loop()
            ours, peer = tcp_pair()
            protocol = Recorder(keep_open=True)
            reactor = CountingReactor(Poller(loop) if _watcher == "poller" else loop)
            transport = SocketTransport(loop, ours, protocol, reactor=reactor)
            transport.start()
            with peer:
                transport.pause_reading()
                await asyncio.sleep(0)
                transport.resume_reading()  # nothing came: the reactor was not asked twice
                assert reactor.calls == ["add_reader"]
                transport.pause_reading()
                peer.sendall(b"held")
                await eventually(lambda: reactor.calls == ["add_reader", "remove_reader"])
                assert reactor.ready_calls == 1  # once, not again and again
                assert protocol.received == b""
                transport.resume_reading()
                await eventually(lambda: protocol.received == b"held")
                assert reactor.calls == ["add_reader", "remove_reader", "add_reader"]
                transport.abort()
                await step(protocol.lost)
            assert reactor.calls[-1] == "remove_reader"
            if isinstance(reactor.inner, Poller):
                reactor.inner.close()

        run(main())

    def test_a_reset_is_connection_lost_with_its_error(self, run):
        async def main():
            _, protocol, peer = started()
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.close()  # RST
            assert isinstance(await step(protocol.lost), ConnectionResetError)

        run(main())

    def test_a_failing_protocol_fails_its_connection_only(self, run):
        async def main():
            _, protocol, peer = started()
            with peer:
                protocol.fail_on_data = True
                peer.sendall(b"x")
                error = await step(protocol.lost)
                assert isinstance(error, ValueError)
                assert await in_thread(read_all, peer) == b""  # closed, not left hanging

        run(main())


@pytest.mark.usefixtures("watcher")
class TestWriting:
    def test_what_the_socket_does_not_take_is_buffered_with_flow_control(self, run):
        data = bytes(range(256)) * 40_000  # 10 MB: more than the socket buffers hold

        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.set_write_buffer_limits(high=64 * 1024)
                assert transport.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
                transport.write(data)
                assert transport.get_write_buffer_size() > 0
                assert protocol.events == ["made", "pause"]
                transport.write(b"and the end")  # queued behind
                transport.write_eof()
                got = await in_thread(read_all, peer)
                assert got == data + b"and the end"
                assert protocol.events == ["made", "pause", "resume"]
                assert transport.get_write_buffer_size() == 0
                transport.close()
                await step(protocol.lost)

        run(main())

    def test_close_sends_what_is_buffered_first(self, run):
        data = b"z" * 5_000_000

        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.write(data)
                transport.close()
                transport.write(b"ignored after close")
                assert not protocol.lost.done()
                assert await in_thread(read_all, peer) == data
                assert await step(protocol.lost) is None
                assert protocol.events.count(("lost", None)) == 1

        run(main())

    def test_nothing_is_written_after_write_eof(self, run):
        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.write(b"before")
                transport.write_eof()
                transport.write(b"after")
                transport.writelines([b"after", b"too"])
                assert await in_thread(read_all, peer) == b"before"
                assert not transport.is_closing()  # half-closed, not failed
                transport.close()
                assert await step(protocol.lost) is None

        run(main())

    @pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="Linux's TCP_INFO counts segments")
    @pytest.mark.parametrize("with_eof", [True, False])
    def test_write_with_eof_sends_the_fin_in_the_data_segment(self, run, with_eof):
        async def main():
            transport, protocol, peer = started()
            with peer:
                ours = transport.get_extra_info("socket")
                before = segments_sent(ours)
                if with_eof:
                    transport.write_with_eof(b"\x88\x02\x03\xe8")
                else:  # what the engine did before, and does on other transports
                    transport.write(b"\x88\x02\x03\xe8")
                    transport.write_eof()
                sent = segments_sent(ours) - before
                transport.write(b"after")  # nothing is written after the end
                transport.write_eof()
                assert await in_thread(read_all, peer) == b"\x88\x02\x03\xe8"
                assert sent == (1 if with_eof else 2)
                assert not transport.is_closing()  # half-closed: reading goes on
                peer.sendall(b"late")
                peer.shutdown(socket.SHUT_WR)
                await step(protocol.lost)
                assert protocol.received == b"late"

        run(main())

    def test_write_with_eof_behind_a_buffer_waits_its_turn(self, run):
        data = b"w" * 5_000_000  # more than the socket takes at once

        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.write(data)
                transport.write_with_eof(b"last")
                transport.write_with_eof(b"ignored after the end")
                assert await in_thread(read_all, peer) == data + b"last"
                transport.close()
                assert await step(protocol.lost) is None

        run(main())

    def test_write_with_eof_of_more_than_the_socket_takes(self, run):
        data = b"v" * 5_000_000

        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.write_with_eof(data)
                assert await in_thread(read_all, peer) == data
                transport.close()
                assert await step(protocol.lost) is None

        run(main())

    def test_abort_drops_what_is_buffered(self, run):
        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.write(b"y" * 5_000_000)
                transport.abort()
                transport.abort()
                assert await step(protocol.lost) is None
                assert transport.get_write_buffer_size() == 0
                received = await in_thread(read_all, peer)
                assert len(received) < 5_000_000
            assert protocol.events.count(("lost", None)) == 1

        run(main())

    @pytest.mark.parametrize("count", [3, 1500])  # 1500: over IOV_MAX, one sendmsg cannot take them
    def test_writelines_keeps_the_order(self, run, count):
        chunks = [bytes([i % 251]) * (i % 7 + 1) for i in range(count)]
        chunks[1] = memoryview(b"a view")

        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.writelines(chunks)
                transport.write_eof()
                assert await in_thread(read_all, peer) == b"".join(chunks)
                transport.close()
                await step(protocol.lost)

        run(main())

    def test_writelines_behind_a_buffer_waits_its_turn(self, run):
        big = b"b" * 5_000_000

        async def main():
            transport, protocol, peer = started()
            with peer:
                transport.write(big)
                transport.writelines([b"1", memoryview(b"23")])
                transport.write_eof()
                assert await in_thread(read_all, peer) == big + b"123"
                transport.close()
                await step(protocol.lost)

        run(main())

    def test_extra_info(self, run):
        async def main():
            transport, protocol, peer = started()
            peer_address = peer.getsockname()
            with peer:
                assert transport.get_extra_info("socket").fileno() >= 0
                assert transport.get_extra_info("peername") == peer.getsockname()
                assert transport.get_extra_info("sockname") == peer.getpeername()
                assert transport.get_extra_info("sslcontext", "none") == "none"
                assert transport.get_protocol() is protocol
                assert transport.can_write_eof()
                transport.abort()
                await step(protocol.lost)
            assert transport.get_extra_info("peername") == peer_address  # kept after the close

        run(main())


@pytest.mark.usefixtures("watcher")
class TestWriteErrors:
    """A write that meets a reset connection fails it: connection_lost gets the error."""

    @staticmethod
    def reset(peer: socket.socket) -> None:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()

    @pytest.mark.parametrize("how", ["write", "writelines"])
    def test_a_send_to_a_reset_connection(self, run, how):
        async def main():
            transport, protocol, peer = started()
            transport.pause_reading()  # so that the write, not a read, meets the reset
            self.reset(peer)
            for _ in range(100):  # until the kernel refuses (the first send may pass)
                if transport.is_closing():
                    break
                if how == "write":
                    transport.write(b"x")
                else:
                    transport.writelines([b"x", b"y"])
                await asyncio.sleep(0)
            assert isinstance(await step(protocol.lost), OSError)

        run(main())

    def test_a_buffered_write_to_a_reset_connection(self, run):
        async def main():
            transport, protocol, peer = started()
            transport.pause_reading()
            transport.write(b"w" * 10_000_000)  # far more than the socket holds
            assert transport.get_write_buffer_size() > 0
            self.reset(peer)
            assert isinstance(await step(protocol.lost), OSError)
            assert transport.get_write_buffer_size() == 0

        run(main())


def recording_factory() -> tuple[list[Recorder], Callable[[], Recorder]]:
    """A protocol factory making Recorders, and the list it keeps them in."""
    made: list[Recorder] = []

    def factory() -> Recorder:
        made.append(Recorder())
        return made[-1]

    return made, factory


class TestServer:
    def test_plain_server_on_the_default_loop_runs_on_it(self, run):
        transports = []
        reactors = []
        served = []

        async def handler(ws):
            transports.append(type(ws.engine.transport))
            reactors.append(type(ws.engine.transport._reactor))
            served.append(ws)
            await ws.send(await ws.recv())

        async def main():
            async with airsocket.serve(handler, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                async with airsocket.connect(f"ws://127.0.0.1:{port}/") as ws:
                    await ws.send("x")
                    assert await ws.recv() == "x"
                    client_address = ws.local_address
                await served[0].wait_closed()
                assert served[0].remote_address == client_address  # from accept(), kept

        run(main())
        assert transports == [SocketTransport]
        assert reactors == [Poller]  # the server's own epoll, not the loop's selector

    @pytest.mark.parametrize("request_sent", [True, False])
    def test_an_accepted_connection_reads_its_request_at_once(self, run, request_sent):
        async def main():
            loop = asyncio.get_running_loop()
            protocols, factory = recording_factory()

            listener = socket.create_server(("127.0.0.1", 0))
            acceptor = Acceptor(loop, [listener], factory)
            try:
                peer = socket.create_connection(listener.getsockname())
                with peer:
                    if request_sent:
                        peer.sendall(b"GET / HTTP/1.1\r\n")  # on loopback: here before accept
                    acceptor._accept(listener)  # as the loop calls it
                    [protocol] = protocols
                    # In the same callback, not from the loop's next poll.
                    assert protocol.received == (b"GET / HTTP/1.1\r\n" if request_sent else b"")
                    peer.sendall(b"more")
                    await eventually(lambda: protocol.received.endswith(b"more"))
            finally:
                acceptor.close()
                listener.close()
            await step(protocol.lost)

        run(main())

    def test_pending_connections_counts_the_accept_queue(self):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            assert pending_connections(listener) == 0
            peers = [socket.create_connection(listener.getsockname()) for _ in range(3)]
            try:
                assert pending_connections(listener) == 3
                listener.accept()[0].close()
                assert pending_connections(listener) == 2
            finally:
                for peer in peers:
                    peer.close()

    @pytest.mark.parametrize("known", [True, False])
    def test_a_batch_accepts_what_waits_with_no_failing_accept(self, run, monkeypatch, known):
        accepts: list[bool] = []

        class Listener(socket.socket):
            def accept(self) -> tuple[socket.socket, Any]:
                try:
                    accepted = super().accept()
                except BlockingIOError:
                    accepts.append(False)
                    raise
                accepts.append(True)
                return accepted

        async def main():
            loop = asyncio.get_running_loop()
            if not known:  # as where TCP_INFO is missing
                monkeypatch.setattr(transport_module, "_TCP_INFO", None)
            listener = Listener()
            listener.bind(("127.0.0.1", 0))
            made, factory = recording_factory()

            acceptor = Acceptor(loop, [listener], factory)
            peers = [socket.create_connection(listener.getsockname()) for _ in range(3)]
            try:
                acceptor._accept(listener)  # as the loop calls it
                # Where the kernel tells how many wait, no accept fails (5.5 us).
                assert accepts == [True, True, True] + ([] if known else [False])
                assert len(made) == 3
            finally:
                acceptor.close()
                listener.close()
                for peer in peers:
                    peer.close()
            for protocol in made:
                await step(protocol.lost)

        run(main())

    def test_out_of_descriptors_pauses_accepting_then_resumes(self, run, monkeypatch):
        attempts = []
        failing = [True]

        class Listener(socket.socket):
            def accept(self) -> tuple[socket.socket, Any]:
                attempts.append(failing[0])
                if failing[0]:
                    raise OSError(errno.EMFILE, "Too many open files")
                return super().accept()

        async def main():
            loop = asyncio.get_running_loop()
            resumed = asyncio.Event()
            # The pause outlasts the test; the test ends it itself: on a busy
            # machine 20 loop iterations may take longer than a short pause.
            monkeypatch.setattr(transport_module, "_ACCEPT_PAUSE", 3600.0)
            pauses: list[tuple[Any, tuple[Any, ...]]] = []
            call_later = loop.call_later

            def record(delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
                if delay == transport_module._ACCEPT_PAUSE:
                    pauses.append((callback, args))
                return call_later(delay, callback, *args)

            monkeypatch.setattr(loop, "call_later", record)
            listener = Listener()
            listener.bind(("127.0.0.1", 0))
            made, factory = recording_factory()

            acceptor = Acceptor(loop, [listener], factory)
            resume = acceptor._resume

            def resume_once_failing_stops(sock: socket.socket) -> None:
                failing[0] = False
                resume(sock)
                resumed.set()

            acceptor._resume = resume_once_failing_stops  # type: ignore[method-assign]
            try:
                with socket.create_connection(listener.getsockname()):
                    await eventually(lambda: bool(attempts))
                    for _ in range(20):
                        await asyncio.sleep(0)
                    assert attempts == [True]  # paused: not retried at every iteration
                    [(resume_later, args)] = pauses
                    resume_later(*args)  # the pause is over
                    await step(resumed.wait())
                    await eventually(lambda: bool(made))
                    assert attempts[:2] == [True, False]
            finally:
                acceptor.close()
                listener.close()
            for protocol in made:
                await step(protocol.lost)

        run(main())


class TestClient:
    def test_plain_client_on_the_default_loop_runs_on_it(self, run):
        async def main():
            async with airsocket.serve(echo_once, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                async with airsocket.connect(f"ws://127.0.0.1:{port}/") as ws:
                    assert type(ws.engine.transport) is SocketTransport
                    await ws.send("x")
                    assert await ws.recv() == "x"

        run(main())

    def test_a_name_is_resolved_and_its_addresses_tried_in_order(self, run, monkeypatch):
        async def main():
            loop = asyncio.get_running_loop()
            with socket.create_server(("127.0.0.1", 0)) as listener:
                port = listener.getsockname()[1]
                with socket.socket() as closed:  # a port nobody listens on
                    closed.bind(("127.0.0.1", 0))
                    dead = closed.getsockname()
                addresses = [dead, ("127.0.0.1", port)]

                async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
                    assert host == "name.test"
                    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in addresses]

                monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
                connecting = transport_module.connect_socket(loop, "name.test", port)
                sock, peername = await step(connecting)
                with sock:
                    assert sock.getpeername() == peername == ("127.0.0.1", port)
                    assert sock.getblocking() is False
                addresses[1] = dead
                with pytest.raises(OSError, match=r"could not connect to name\.test") as info:
                    await step(transport_module.connect_socket(loop, "name.test", port))
                assert str(info.value).count("Connect call failed") == 2  # each address

        run(main())

    def test_a_connect_done_at_once_waits_for_no_writer(self, run, monkeypatch):
        # On loopback the handshake is over when connect() returns EINPROGRESS.
        async def main():
            loop = asyncio.get_running_loop()
            writers: list[int] = []
            add_writer = loop.add_writer

            def record(fd: int, callback: Any, *args: Any) -> None:
                writers.append(fd)
                add_writer(fd, callback, *args)

            monkeypatch.setattr(loop, "add_writer", record)
            with socket.create_server(("127.0.0.1", 0)) as listener:
                address = listener.getsockname()
                sock, peername = await step(transport_module.connect_socket(loop, *address))
                with sock:
                    assert peername == address == sock.getpeername()
                    assert writers == []

        run(main())

    @pytest.mark.parametrize("listening", [True, False], ids=["accepted", "refused"])
    def test_a_connect_still_in_progress_waits_for_its_socket(self, run, monkeypatch, listening):
        # As with a remote peer: asked again, connect() answers EALREADY.
        monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: errno.EALREADY)

        async def main():
            loop = asyncio.get_running_loop()
            watched = loop._selector.get_map()  # type: ignore[attr-defined]
            before = set(watched)
            with socket.create_server(("127.0.0.1", 0)) as listener:
                address = listener.getsockname()
                if not listening:
                    listener.close()
                    with pytest.raises(ConnectionRefusedError, match="Connect call failed"):
                        await step(transport_module.connect_socket(loop, *address))
                    return
                sock, peername = await step(transport_module.connect_socket(loop, *address))
                with sock:
                    assert peername == sock.getpeername()
                    assert set(watched) == before  # its writer is gone

        run(main())

    def test_one_address_refused_is_its_own_error(self, run):
        async def main():
            with socket.socket() as closed:
                closed.bind(("127.0.0.1", 0))
                port = closed.getsockname()[1]
            loop = asyncio.get_running_loop()
            with pytest.raises(ConnectionRefusedError):
                await step(transport_module.connect_socket(loop, "127.0.0.1", port))

        run(main())

    def test_an_ipv6_address(self, run):
        try:
            listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
        except OSError:
            pytest.skip("no IPv6 loopback here")

        async def main():
            with listener:
                port = listener.getsockname()[1]
                loop = asyncio.get_running_loop()
                sock, peername = await step(transport_module.connect_socket(loop, "::1", port))
                with sock:
                    assert sock.family == socket.AF_INET6
                    assert sock.getpeername() == peername

        run(main())

    def test_a_cancelled_connect_closes_its_socket(self, run, monkeypatch):
        def open_descriptors() -> int:
            return len(os.listdir("/proc/self/fd"))

        async def main():
            loop = asyncio.get_running_loop()
            started = asyncio.Event()

            async def never(loop: Any, sock: socket.socket, address: Any) -> None:
                started.set()
                await asyncio.Event().wait()

            monkeypatch.setattr(transport_module, "_connect", never)
            before = open_descriptors()
            task = asyncio.ensure_future(transport_module.connect_socket(loop, "127.0.0.1", 9))
            await step(started.wait())
            assert open_descriptors() == before + 1  # its socket
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert open_descriptors() == before

        if not os.path.isdir("/proc/self/fd"):
            pytest.skip("no /proc here to count descriptors")
        run(main())

    def test_a_connect_cancelled_while_pending_lets_go_of_its_socket(self, run):
        # A listener whose accept queue is full drops SYNs (Linux), so the
        # connect stays in progress: cancelled there, the socket is closed
        # and the loop no longer watches it.
        def open_descriptors() -> int:
            return len(os.listdir("/proc/self/fd"))

        async def main():
            loop = asyncio.get_running_loop()
            watched = loop._selector.get_map()  # type: ignore[attr-defined]
            with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
                address = listener.getsockname()
                fillers = []
                try:
                    for _ in range(3):  # the queue holds one or two; the rest wait
                        filler = socket.socket()
                        filler.setblocking(False)
                        filler.connect_ex(address)
                        fillers.append(filler)
                    before, watched_before = open_descriptors(), len(watched)
                    task = asyncio.ensure_future(
                        transport_module.connect_socket(loop, "127.0.0.1", address[1])
                    )
                    await eventually(lambda: len(watched) == watched_before + 1)
                    assert not task.done() and open_descriptors() == before + 1
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                    assert open_descriptors() == before and len(watched) == watched_before
                finally:
                    for filler in fillers:
                        filler.close()

        if not os.path.isdir("/proc/self/fd"):
            pytest.skip("no /proc here to count descriptors")
        run(main())


async def echo_once(ws: Any) -> None:
    await ws.send(await ws.recv())
