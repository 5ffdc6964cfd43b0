"""Property tests of the connection core (hypothesis): round trips of random
messages in both roles, and arbitrary input that must never raise."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airsocket.protocol.connection import Connection, Role, State
from airsocket.protocol.events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    HandshakeFailed,
    Ping,
    TextMessage,
)
from airsocket.protocol.exceptions import InvalidPayload

from .helpers import (
    MASK,
    Wire,
    chunks,
    describe,
    drain,
    feed,
    first_invalid_utf8,
    frame_to,
    header_size,
    make_options,
    open_pair,
    opened,
    opener,
    parse_frames,
    pump,
    receive,
    wire_frame,
)

roles = st.sampled_from(list(Role))
chunk_sizes = st.none() | st.integers(1, 64)
messages = st.lists(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=300) | st.binary(max_size=300),
    max_size=8,
)
# Bytes that exercise every branch of a UTF-8 decoder: ASCII, continuation
# bytes at the edges of their ranges, every kind of lead byte, and invalid ones.
utf8_alphabet = st.sampled_from(
    [
        *(0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF),
        *(0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF),
    ]
)


def expected(message: str | bytes) -> Event:
    return TextMessage(message) if isinstance(message, str) else BinaryMessage(message)


def send(conn: Connection, message: str | bytes) -> None:
    if isinstance(message, str):
        conn.send_text(message)
    else:
        conn.send_binary(message)


def split_points(data: st.DataObject, size: int) -> list[int]:
    cuts = data.draw(st.lists(st.integers(0, size), max_size=4))
    return sorted({0, size, *cuts})


class TestRoundTrips:
    @given(
        sender=roles,
        batch=messages,
        chunk=chunk_sizes,
        compression=st.sampled_from([None, "deflate"]),
    )
    @settings(deadline=None)
    def test_two_cores_back_to_back(
        self, sender: Role, batch: list[str | bytes], chunk: int | None, compression: str | None
    ) -> None:
        options = make_options(compression=compression, compression_min_size=0)
        client, server = open_pair(options, options)
        conn, peer = (client, server) if sender is Role.CLIENT else (server, client)
        for message in batch:
            send(conn, message)
        conn.send_close(1000)
        mine, theirs = pump(conn, peer, chunk)
        assert theirs == [*map(expected, batch), CloseReceived(1000, "")]
        assert mine == [CloseReceived(1000, "")]
        assert client.state is State.CLOSED  # the server ended the stream

    @given(receiver=roles, batch=messages, data=st.data())
    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_fragmented_messages_with_pings_between(
        self, receiver: Role, batch: list[str | bytes], data: st.DataObject
    ) -> None:
        stream = b""
        events: list[Event] = []
        pongs = b""
        for n, message in enumerate(batch):
            payload = message.encode() if isinstance(message, str) else message
            points = split_points(data, len(payload))  # inside characters too
            pieces = [payload[a:b] for a, b in itertools.pairwise(points)] or [b""]
            for i, piece in enumerate(pieces):
                opcode = (1 if isinstance(message, str) else 2) if i == 0 else 0
                stream += frame_to(receiver, opcode, piece, fin=i == len(pieces) - 1)
                if i < len(pieces) - 1 and data.draw(st.booleans()):
                    ping = b"%d.%d" % (n, i)
                    stream += frame_to(receiver, 0x9, ping)
                    events.append(Ping(ping))
                    mask = MASK if receiver is Role.CLIENT else None
                    pongs += wire_frame(0xA, ping, mask=mask)
            events.append(expected(message))
        conn = opened(receiver)
        got: list[Event] = []
        for piece in chunks(stream, data.draw(chunk_sizes)):
            got += receive(conn, piece)
        assert got == events
        assert drain(conn) == Wire(pongs)

    @given(receiver=roles, payload=st.lists(utf8_alphabet, max_size=12).map(bytes))
    @settings(deadline=None)
    def test_text_fails_at_the_first_invalid_byte(self, receiver: Role, payload: bytes) -> None:
        # Against an oracle written from Unicode's table 3-7, byte by byte.
        fed = feed(opener(receiver), frame_to(receiver, 0x1, payload))
        bad = first_invalid_utf8(payload)
        if bad is None:
            assert fed.events == [TextMessage(payload.decode())]
        else:
            assert [describe(e) for e in fed.events] == [("ConnectionFailed", InvalidPayload, 1007)]
            head = header_size(receiver, len(payload))
            # A truncated sequence can only be known bad at the message's end.
            assert fed.at == [head + min(bad, len(payload) - 1)]


frames = st.builds(
    lambda opcode, payload, fin, rsv, masked, extra: wire_frame(
        opcode,
        payload,
        fin=fin,
        rsv=rsv,
        mask=MASK if masked else None,
        length=None if extra is None else max(0, len(payload) + extra),
    )[: None if extra is None or extra >= 0 else extra],
    opcode=st.sampled_from([0, 1, 2, 8, 9, 10]) | st.integers(0, 15),
    payload=st.binary(max_size=140) | st.sampled_from([b"\x03\xe8", b"\xff", b"\xed\xa0\x80"]),
    fin=st.booleans() | st.just(True),
    rsv=st.just(0) | st.integers(0, 7),
    masked=st.booleans(),
    extra=st.none() | st.integers(-3, 3),
)


class TestArbitraryInput:
    """Peer input never raises: it becomes events (DESIGN.md, "Errors")."""

    @staticmethod
    def check(conn: Connection, data: bytes, chunk: int | None) -> list[Event]:
        events: list[Event] = []
        wire = Wire()
        for piece in chunks(data, chunk):
            events += receive(conn, piece)
            wire = wire.then(drain(conn))
        events += conn.receive_eof()
        wire = wire.then(drain(conn))
        assert conn.state is State.CLOSED
        assert all(isinstance(event, Event) for event in events)
        failures = [e for e in events if isinstance(e, (ConnectionFailed, HandshakeFailed))]
        assert len(failures) <= 1
        if failures:
            assert events[-1] is failures[0]
        return events

    @given(data=st.binary(max_size=600), chunk=chunk_sizes)
    @settings(deadline=None)
    def test_bytes_to_an_open_server(self, data: bytes, chunk: int | None) -> None:
        self.check(opened(Role.SERVER), data, chunk)

    @given(data=st.binary(max_size=600), chunk=chunk_sizes, role=roles)
    @settings(deadline=None)
    def test_bytes_during_the_handshake(self, data: bytes, chunk: int | None, role: Role) -> None:
        conn = Connection(role, make_options())
        if role is Role.CLIENT:
            conn.connect("ws://example.com/")
            drain(conn)
        self.check(conn, data, chunk)

    @given(
        stream=st.lists(frames, max_size=6).map(b"".join),
        role=roles,
        compression=st.booleans(),
        chunk=chunk_sizes,
    )
    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_frames_to_either_role(
        self, stream: bytes, role: Role, compression: bool, chunk: int | None
    ) -> None:
        if compression:
            options = make_options(compression="deflate", max_message_size=1000)
            client, server = open_pair(options, options)
            conn = client if role is Role.CLIENT else server
        else:
            conn = opened(role, make_options(max_message_size=1000))
        self.check(conn, stream, chunk)

    @given(stream=st.lists(frames, max_size=4).map(b"".join), role=roles)
    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_whole_and_bytewise_agree(self, stream: bytes, role: Role) -> None:
        fed = feed(opener(role, make_options(max_message_size=100)), stream)
        for frame in parse_frames(fed.wire.data):
            # Whatever the core writes is well formed and masked as its role must.
            assert (frame.mask is not None) is (role is Role.CLIENT)
            assert frame.opcode in (0x8, 0xA)
