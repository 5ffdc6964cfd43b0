"""Tests of airsocket.sync.transport: write coalescing, TLS in memory, the output queue."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from airsocket.sync.transport import JOIN_LIMIT, Output, Transport, coalesce, remaining
from raw_wire import segments_sent

from .helpers import STEP


class TestCoalesce:
    def test_small_chunks_are_joined(self) -> None:
        assert coalesce([b"a", b"bc", b"d"]) == [b"abcd"]

    def test_end_of_stream_stays_alone_and_in_place(self) -> None:
        assert coalesce([b"a", b"b", b"", b"c"]) == [b"ab", b"", b"c"]

    def test_large_chunks_are_not_copied(self) -> None:
        big = b"x" * JOIN_LIMIT
        chunks = coalesce([b"a", big, b"b"])
        assert chunks == [b"a", big, b"b"]
        assert chunks[1] is big

    def test_a_run_stops_at_the_limit(self) -> None:
        half = b"y" * (JOIN_LIMIT // 2 + 1)
        assert coalesce([half, half]) == [half, half]

    def test_nothing(self) -> None:
        assert coalesce([]) == []


def test_remaining() -> None:
    assert remaining(None, "x") is None
    with pytest.raises(TimeoutError, match="timed out: x"):
        remaining(0.0, "x")


def tls_pair(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> tuple[Transport, Transport]:
    """(client, server): TLS transports over a socket pair, their handshake done."""
    server_context, client_context = tls
    left, right = socket.socketpair()
    client = Transport(left, client_context, server_hostname="127.0.0.1")
    server = Transport(right, server_context, server_side=True)
    shaker = threading.Thread(target=server.handshake_tls, args=(None,))
    shaker.start()
    try:
        assert client.handshake_tls(None) == b""
    finally:
        shaker.join(STEP)
    return client, server


class TestTLSInMemory:
    def test_round_trip_and_close_notify(self, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        client, server = tls_pair(tls)
        try:
            for chunk in client.encode([b"hello ", b"world"]):
                client.sendall(chunk)
            received = b""
            while received != b"hello world":
                assert server.wait_readable(STEP)
                data, eof = server.decode(server.recv())
                assert not eof
                received += data
            for chunk in client.encode_end():
                client.sendall(chunk)
            client.end()
            eof = False
            while not eof:
                assert server.wait_readable(STEP)
                data, eof = server.decode(server.recv())
                assert data == b""
        finally:
            client.close()
            server.close()

    def test_plain_transport_passes_bytes_through(self) -> None:
        left, right = socket.socketpair()
        transport = Transport(left)
        try:
            assert transport.encode([b"a", b"b"]) == [b"a", b"b"]
            assert transport.encode_end() == []
            assert transport.pending_output() == []
            assert transport.decode(b"data") == (b"data", False)
            assert transport.decode(b"") == (b"", True)
        finally:
            transport.close()
            right.close()


class TestOutput:
    def test_a_broken_tls_session_fails_like_a_write(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        # The peer's stream ended without close_notify: TLS encrypts nothing
        # more. The output reports it as a failed write (send() then raises
        # ConnectionClosed), where SSLEOFError came out of send() and close().
        client, server = tls_pair(tls)
        client.end()  # a FIN, no close_notify
        eof = False
        while not eof:
            assert server.wait_readable(STEP)
            _, eof = server.decode(server.recv())
        lock = threading.Lock()
        output = Output(server, lock)
        try:
            with lock:
                output.queue([b"frame"])
                assert isinstance(output.error, ssl.SSLError)
                output.queue([b"close frame", b""])  # nothing more is tried
            assert not output.flush(wait=True)
            assert not output.flush(wait=False)
        finally:
            output.close()
            client.close()

    def test_writes_in_order_and_ends_the_stream(self) -> None:
        left, right = socket.socketpair()
        lock = threading.Lock()
        output = Output(Transport(left), lock)
        with lock:
            output.queue([b"one", b"two", b""])  # b"": END_OF_STREAM
        assert output.flush(wait=True)
        right.settimeout(STEP)
        received = b""
        while chunk := right.recv(100):  # until the FIN
            received += chunk
        assert received == b"onetwo"
        output.close()
        right.close()

    @pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="Linux's TCP_INFO counts segments")
    def test_the_end_rides_in_the_last_segment(self) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            right = socket.create_connection(listener.getsockname())
            left, _ = listener.accept()
        lock = threading.Lock()
        output = Output(Transport(left), lock)
        before = segments_sent(left)
        with lock:
            output.queue([b"\x88\x02\x03\xe8", b""])  # a close frame, then END_OF_STREAM
        assert output.flush(wait=True)
        assert segments_sent(left) - before == 1  # not the data, then a FIN of its own
        right.settimeout(STEP)
        assert right.recv(100) == b"\x88\x02\x03\xe8"
        assert right.recv(100) == b""
        output.close()
        right.close()

    def test_stopped_output_writes_nothing(self) -> None:
        left, right = socket.socketpair()
        lock = threading.Lock()
        output = Output(Transport(left), lock)
        with lock:
            output.queue([b"lost"])
            output.stopped = True
        assert output.flush(wait=True)
        left.shutdown(socket.SHUT_WR)
        right.settimeout(STEP)
        assert right.recv(100) == b""
        output.close()
        right.close()
