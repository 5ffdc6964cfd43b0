"""Tests of airsocket.sync.connection: send, recv, ping, close, keepalive, backpressure."""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
from typing import Any

import pytest

from airsocket import ArgumentError, ConnectionClosedError, ConnectionClosedOK, InvalidState
from airsocket.sync import Connection, connect

from .helpers import STEP, RawPeer, frame, raw_connection, raw_server, sync_server, url

MiB = 1 << 20


class TestRoundTrips:
    @pytest.mark.parametrize("compression", ["deflate", None])
    @pytest.mark.parametrize(
        "message",
        ["hello", "h\u00e9llo \U0001f600", "", b"\x00\xff\x80", b"", b"\xa5" * MiB, "x" * MiB],
        ids=["text", "unicode", "empty-text", "binary", "empty-binary", "1MiB-binary", "1MiB-text"],
    )
    def test_echo(self, message: str | bytes, compression: str | None) -> None:
        with (
            sync_server(compression=compression) as server,
            connect(url(server), compression=compression) as ws,
        ):
            ws.send(message)
            reply = ws.recv(timeout=STEP)
        assert type(reply) is type(message)
        assert reply == message

    def test_large_messages_are_read_in_place(self, reads_in_place: list[int]) -> None:
        # Both ends read a large binary message straight into it over plain
        # TCP (the server unmasking, the client not), not into temporaries.
        data = bytes(range(256)) * (3 * MiB // 256) + b"end"
        with sync_server(compression=None) as server, connect(url(server), compression=None) as ws:
            ws.send(data)
            assert ws.recv(timeout=STEP) == data
        assert sum(reads_in_place) > 5 * MiB  # all but each end's first read and last byte

    def test_bytes_like_are_sent_as_binary(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            ws.send(bytearray(b"abc"))
            ws.send(memoryview(b"def"))
            assert ws.recv(timeout=STEP) == b"abc"
            assert ws.recv(timeout=STEP) == b"def"

    def test_many_messages_keep_their_order(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            for index in range(200):
                ws.send(str(index))
            assert [ws.recv(timeout=STEP) for _ in range(200)] == [str(i) for i in range(200)]

    def test_send_refuses_other_types(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            with pytest.raises(ArgumentError):
                ws.send(42)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                ws.send(None)  # type: ignore[arg-type]

    def test_threads_send_and_receive_at_once(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            received: list[str | bytes] = []
            reader = threading.Thread(
                target=lambda: received.extend(ws.recv(timeout=STEP) for _ in range(100))
            )
            reader.start()
            for index in range(100):
                ws.send(b"%d" % index)
            reader.join(STEP)
        assert received == [b"%d" % i for i in range(100)]


class TestRecv:
    def test_timeout_raises_and_the_message_still_comes(self) -> None:
        go = threading.Event()

        def late(ws: Connection) -> None:
            go.wait(STEP)
            ws.send("late")
            ws.recv()

        with sync_server(late) as server, connect(url(server)) as ws:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.05)
            go.set()
            assert ws.recv(timeout=STEP) == "late"

    def test_iteration_ends_on_a_normal_close(self) -> None:
        def three(ws: Connection) -> None:
            for message in ("a", b"b", "c"):
                ws.send(message)

        with sync_server(three) as server, connect(url(server)) as ws:
            assert list(ws) == ["a", b"b", "c"]
            assert ws.close_code == 1000

    def test_iteration_raises_on_an_error_close(self) -> None:
        def fail(ws: Connection) -> None:
            ws.send("one")
            ws.close(4001, "nope")

        with sync_server(fail) as server, connect(url(server)) as ws:
            received = []
            with pytest.raises(ConnectionClosedError) as caught:
                received.extend(ws)
        assert received == ["one"]
        assert (caught.value.code, caught.value.reason) == (4001, "nope")

    def test_recv_after_close_raises(self) -> None:
        with sync_server() as server:
            ws = connect(url(server))
            ws.close()
            with pytest.raises(ConnectionClosedOK):
                ws.recv()
            with pytest.raises(ConnectionClosedOK):
                ws.send("late")


class TestClose:
    def test_client_code_and_reason_reach_the_handler(self) -> None:
        seen: queue.Queue[BaseException] = queue.Queue()

        def record(ws: Connection) -> None:
            try:
                ws.recv()
            except Exception as exc:
                seen.put(exc)
                raise

        with sync_server(record) as server:
            with connect(url(server)) as ws:
                ws.close(4002, "bye")
            assert ws.close_code == 4002  # the echo: the code only (RFC 6455 5.5.1)
            error = seen.get(timeout=STEP)
        assert isinstance(error, ConnectionClosedError)
        assert (error.code, error.reason) == (4002, "bye")

    def test_server_code_and_reason_reach_the_client(self) -> None:
        with sync_server(lambda ws: ws.close(1001, "restart")) as server:
            with connect(url(server)) as ws, pytest.raises(ConnectionClosedOK) as caught:
                ws.recv(timeout=STEP)
            assert (ws.close_code, ws.close_reason) == (1001, "restart")
        assert (caught.value.code, caught.value.reason) == (1001, "restart")

    def test_codes_are_none_until_closed(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            assert (ws.close_code, ws.close_reason) == (None, None)
            assert ws.state.name == "OPEN"
        assert ws.state.name == "CLOSED"

    def test_invalid_code_is_refused(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            with pytest.raises(ArgumentError):
                ws.close(1006)
            ws.send("still open")
            assert ws.recv(timeout=STEP) == "still open"

    def test_close_timeout_drops_a_peer_that_never_answers(self) -> None:
        with raw_server() as (port, peers):
            ws = connect(f"ws://127.0.0.1:{port}/", close_timeout=0.05)
            peer = peers.get(timeout=STEP)
            ws.close()  # returns: the peer never echoes the close frame
            assert peer.read_close() == (1000, "")
        assert ws.close_code == 1006
        assert ws.state.name == "CLOSED"

    def test_close_is_idempotent(self) -> None:
        with sync_server() as server:
            ws = connect(url(server))
            ws.close()
            ws.close(4000)
        assert ws.close_code == 1000


class TestPing:
    def test_ping_returns_the_round_trip_time(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            rtt = ws.ping()
            assert isinstance(rtt, float)
            assert rtt >= 0
            assert ws.ping(b"payload", timeout=STEP) >= 0
            assert ws.latency >= 0

    def test_ping_times_out_without_a_pong(self) -> None:
        with raw_connection() as (ws, peer):
            with pytest.raises(TimeoutError):
                ws.ping(b"hello", timeout=0.05)
            assert peer.read_frame() == (9, b"hello")
            # The payload is free again once its caller stopped waiting.
            with pytest.raises(TimeoutError):
                ws.ping(b"hello", timeout=0.05)

    def test_a_pong_answers_earlier_pings_too(self) -> None:
        with raw_connection() as (ws, peer):
            results: queue.Queue[float] = queue.Queue()
            first = threading.Thread(target=lambda: results.put(ws.ping(b"1", timeout=STEP)))
            first.start()
            assert peer.read_frame() == (9, b"1")
            second = threading.Thread(target=lambda: results.put(ws.ping(b"2", timeout=STEP)))
            second.start()
            assert peer.read_frame() == (9, b"2")
            peer.send(frame(10, b"2"))  # RFC 6455 5.5.3: only the latest is answered
            first.join(STEP)
            second.join(STEP)
            assert results.qsize() == 2

    def test_duplicate_payload_is_refused(self) -> None:
        with raw_connection() as (ws, peer):
            waiting = threading.Thread(target=ws.ping, args=(b"same", STEP))
            waiting.start()
            assert peer.read_frame() == (9, b"same")  # so the ping is registered
            with pytest.raises(InvalidState):
                ws.ping(b"same")
            peer.send(frame(10, b"same"))
            waiting.join(STEP)
            assert not waiting.is_alive()

    def test_ping_payload_too_long(self) -> None:
        with sync_server() as server, connect(url(server)) as ws:
            with pytest.raises(ArgumentError):
                ws.ping(b"x" * 126)
            with pytest.raises(ArgumentError):
                ws.ping("text")  # type: ignore[arg-type]

    def test_ping_raises_when_the_connection_closes(self) -> None:
        with raw_server() as (port, peers):
            ws = connect(f"ws://127.0.0.1:{port}/")
            peer = peers.get(timeout=STEP)
            errors: queue.Queue[BaseException] = queue.Queue()

            def ping() -> None:
                try:
                    ws.ping(b"p", timeout=STEP)
                except BaseException as exc:
                    errors.put(exc)

            pinger = threading.Thread(target=ping)
            pinger.start()
            assert peer.read_frame() == (9, b"p")
            peer.close()
            pinger.join(STEP)
            ws.close()
        assert isinstance(errors.get_nowait(), ConnectionClosedError)


class TestKeepalive:
    def test_pings_go_on_while_pongs_come(self) -> None:
        with raw_connection(ping_interval=0.01, ping_timeout=STEP) as (ws, peer):
            for _ in range(3):
                opcode, payload = peer.read_frame()
                assert opcode == 9
                peer.send(frame(10, payload))
            assert peer.read_frame()[0] == 9  # the fourth: the third pong was taken
            assert ws.state.name == "OPEN"

    def test_a_missing_pong_fails_the_connection_with_1011(self) -> None:
        with raw_connection(ping_interval=0.02, ping_timeout=0.02) as (ws, peer):
            assert peer.read_frame()[0] == 9
            assert peer.read_close() == (1011, "")
            with pytest.raises(ConnectionClosedError) as caught:
                ws.recv(timeout=STEP)
        assert caught.value.sent_code == 1011
        assert caught.value.code == 1006  # the peer never closed


class TestBackpressure:
    def test_send_blocks_while_the_peer_does_not_read(self) -> None:
        total = 32 * MiB  # far more than the kernel's buffers on both sides
        with raw_connection(compression=None) as (ws, peer):
            done = threading.Event()

            def send_all() -> None:
                for _ in range(total // MiB):
                    ws.send(b"\0" * MiB)
                done.set()

            sender = threading.Thread(target=send_all)
            sender.start()
            assert not done.wait(0.2)  # blocked: the peer reads nothing
            assert peer.read_frame()[0] == 2
            # The rest: each frame has a 2-byte header, a 64-bit length, a mask.
            peer.drain(total - MiB + (total // MiB - 1) * 14)
            assert done.wait(STEP)
            sender.join(STEP)

    def test_reading_pauses_while_max_queue_messages_wait(self) -> None:
        go = threading.Event()
        count: queue.Queue[int] = queue.Queue()

        def slow(ws: Connection) -> None:
            go.wait(STEP)
            count.put(sum(1 for _ in ws))

        messages = 32
        with sync_server(slow, max_queue=1, compression=None) as server:
            with connect(url(server), compression=None) as ws:
                done = threading.Event()

                def send_all() -> None:
                    for _ in range(messages):
                        ws.send(b"\0" * MiB)
                    done.set()

                sender = threading.Thread(target=send_all)
                sender.start()
                assert not done.wait(0.2)  # the server holds one message and reads no more
                go.set()
                assert done.wait(STEP)
                sender.join(STEP)
            assert count.get(timeout=STEP) == messages


class TestPeerErrors:
    def test_messages_before_a_violation_come_first(self) -> None:
        with raw_connection() as (ws, peer):
            peer.send(frame(1, b"ok") + frame(1, b"\xff\xfe"))  # then invalid UTF-8
            assert ws.recv(timeout=STEP) == "ok"
            with pytest.raises(ConnectionClosedError) as caught:
                ws.recv(timeout=STEP)
            assert peer.read_close()[0] == 1007
        assert caught.value.sent_code == 1007

    def test_a_message_too_big_is_refused_with_1009(self) -> None:
        with raw_connection(max_message_size=10) as (ws, peer):
            peer.send(frame(2, b"x" * 11))
            with pytest.raises(ConnectionClosedError) as caught:
                ws.recv(timeout=STEP)
            assert peer.read_close()[0] == 1009
        assert caught.value.sent_code == 1009

    def test_the_peer_vanishing_ends_recv(self) -> None:
        with raw_connection() as (ws, peer):
            peer.send(frame(1, b"last"))
            peer.close()
            assert ws.recv(timeout=STEP) == "last"
            with pytest.raises(ConnectionClosedError) as caught:
                ws.recv(timeout=STEP)
        assert caught.value.code == 1006

    def test_a_reset_ends_the_connection_with_1006(self) -> None:
        with raw_connection() as (ws, peer):
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
            peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.close()
            with pytest.raises(ConnectionClosedError) as caught:
                ws.recv(timeout=STEP)
            with pytest.raises(ConnectionClosedError):
                ws.send("to nobody")
            with pytest.raises(ConnectionClosedError):
                ws.ping()
        assert caught.value.code == 1006

    def test_a_violation_fails_even_if_the_application_stops_reading(self) -> None:
        with raw_connection() as (ws, peer):
            peer.send(frame(1, b"unread") + frame(1, b"\xff"))
            # The close frame waits for the application to ask for more, or
            # for close_timeout (0.05 s here): it never asks.
            assert peer.read_close()[0] == 1007
            assert ws.recv(timeout=STEP) == "unread"
            with pytest.raises(ConnectionClosedError):
                ws.recv(timeout=STEP)

    def test_a_close_frame_from_the_peer_is_echoed(self) -> None:
        with raw_connection() as (ws, peer):
            peer.send(frame(8, struct.pack("!H", 1000) + b"done"))
            assert peer.read_close() == (1000, "")  # the code is echoed
            peer.close()  # the server ends TCP first (RFC 6455 7.1.1)
            with pytest.raises(ConnectionClosedOK):
                ws.recv(timeout=STEP)
            assert (ws.close_code, ws.close_reason) == (1000, "done")


def _until(predicate: Any) -> None:
    """Poll ``predicate`` from a test's own thread, bounded by STEP."""
    deadline = time.monotonic() + STEP
    while not predicate():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.001)


def _close_frame(code: int) -> bytes:
    return frame(8, struct.pack("!H", code))


def _wait_closed_echoes(ws: Connection, peer: RawPeer, code: int) -> None:
    """Call ``ws.wait_closed()`` in a thread: the peer reads the echo of its close, then EOF."""
    waiter = threading.Thread(target=ws.wait_closed)
    waiter.start()
    assert peer.read_close() == (code, "")  # the echo, before any answer
    peer.close()
    waiter.join(STEP)
    assert not waiter.is_alive()


class TestCloseBehindMessages:
    """The peer's close waits behind unread messages only for a thread that may answer them.

    The client's close_timeout is 60 s and each wait is bounded by STEP: a
    close held for the timeout fails the test.
    """

    def test_wait_closed_answers_a_close_that_came_before_it(self) -> None:
        with raw_connection(close_timeout=60) as (ws, peer):
            peer.send(frame(1, b"a") + _close_frame(4000))
            _until(lambda: ws.engine.core.input_pending)
            _wait_closed_echoes(ws, peer, 4000)
            assert ws.close_code == 4000
            assert ws.recv(timeout=STEP) == "a"  # still there for recv
            with pytest.raises(ConnectionClosedError):
                ws.recv(timeout=STEP)

    def test_wait_closed_answers_a_close_that_comes_while_it_waits(self) -> None:
        def read_then_wait(ws: Connection) -> None:
            assert ws.recv(timeout=STEP) == "first"  # this thread is the one that reads
            ws.wait_closed()

        with raw_connection(close_timeout=60) as (ws, peer):
            peer.send(frame(1, b"first") + frame(1, b"second"))
            waiter = threading.Thread(target=read_then_wait, args=(ws,))
            waiter.start()
            _until(lambda: ws.engine._answers_done)
            peer.send(_close_frame(4000))
            assert peer.read_close() == (4000, "")
            peer.close()
            waiter.join(STEP)
            assert not waiter.is_alive()
            assert ws.recv(timeout=STEP) == "second"

    def test_a_consumer_thread_that_ended_answers_nothing(self) -> None:
        with raw_connection(close_timeout=60) as (ws, peer):
            peer.send(frame(1, b"first"))
            reader = threading.Thread(target=ws.recv, args=(STEP,))
            reader.start()
            reader.join(STEP)
            assert ws.engine.consumer is reader and not reader.is_alive()
            peer.send(frame(1, b"second") + _close_frame(4000))
            _until(lambda: ws.engine.core.input_pending)
            _wait_closed_echoes(ws, peer, 4000)
            assert ws.recv(timeout=STEP) == "second"

    def test_another_thread_reading_keeps_the_close_behind_its_answers(self) -> None:
        gate = threading.Event()

        def answer(ws: Connection) -> None:
            for message in ws:
                gate.wait(STEP)  # busy with "a" when the close comes
                assert isinstance(message, str)
                ws.send(message.upper())

        with raw_connection(close_timeout=60) as (ws, peer):
            consumer = threading.Thread(target=answer, args=(ws,))
            consumer.start()
            _until(lambda: ws.engine.consumer is consumer)
            waiter = threading.Thread(target=ws.wait_closed)
            waiter.start()
            peer.send(frame(1, b"a") + frame(1, b"b") + _close_frame(1000))
            _until(lambda: ws.engine.core.input_pending)
            gate.set()
            assert peer.read_frame() == (1, b"A")
            assert peer.read_frame() == (1, b"B")
            assert peer.read_close() == (1000, "")
            peer.close()
            for thread in (consumer, waiter):
                thread.join(STEP)
                assert not thread.is_alive()
