"""permessage-deflate through two connection cores (RFC 7692), both roles."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable

import pytest

from airsocket.protocol.connection import Connection, Role
from airsocket.protocol.events import BinaryMessage, Ping, TextMessage
from airsocket.protocol.exceptions import InvalidPayload, PayloadTooBig, ProtocolError

from .helpers import (
    ROLES,
    describe,
    drain,
    feed,
    frame_to,
    make_options,
    open_pair,
    parse_frames,
    pump,
    receive,
)

DEFLATE = make_options(compression="deflate")
RSV1 = 0b100  # "this message is compressed" (RFC 7692 6)
TEXT = "a compressible sentence, " * 8


def pair(role: Role, options: object = DEFLATE) -> tuple[Connection, Connection]:
    """(the core of ``role``, its peer), both with compression negotiated."""
    client, server = open_pair(options, options)  # type: ignore[arg-type]
    assert client.compression is not None
    assert server.compression is not None
    return (client, server) if role is Role.CLIENT else (server, client)


def receiver(role: Role, options: object = DEFLATE) -> Callable[[], Connection]:
    """A factory of fresh cores of ``role`` with compression, for feed()."""
    return lambda: pair(role, options)[0]


def compressed_for(role: Role, message: str | bytes) -> bytes:
    """The compressed payload a fresh peer of ``role`` sends for ``message``."""
    _, peer = pair(role)
    if isinstance(message, str):
        peer.send_text(message)
    else:
        peer.send_binary(message)
    [frame] = parse_frames(drain(peer).data)
    assert frame.rsv == RSV1
    return frame.payload


def raw_deflate(data: bytes) -> bytes:
    """``data`` compressed as RFC 7692 7.2.1 sends it: raw DEFLATE, sync
    flushed, without the final 00 00 ff ff; a 512-byte window fits any peer."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -9)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class TestRFC7692Section6Framing:
    @ROLES
    def test_messages_are_compressed_both_ways(self, role: Role) -> None:
        conn, peer = pair(role)
        conn.send_text(TEXT)
        conn.send_binary(TEXT.encode() * 2)
        wire = drain(conn)
        frames = parse_frames(wire.data)
        assert [(f.opcode, f.rsv) for f in frames] == [(1, RSV1), (2, RSV1)]
        assert sum(len(f.payload) for f in frames) < len(TEXT)
        assert receive(peer, wire.data) == [TextMessage(TEXT), BinaryMessage(TEXT.encode() * 2)]

    @ROLES
    def test_context_is_kept_between_messages(self, role: Role) -> None:
        conn, peer = pair(role)
        for _ in range(3):
            conn.send_text(TEXT)
        frames = parse_frames(drain(conn).data)
        # The later messages refer back to the first: far smaller.
        assert len(frames[2].payload) < len(frames[0].payload) // 4
        for frame in frames:
            assert receive(peer, frame_to(peer.role, 1, frame.payload, rsv=RSV1)) == [
                TextMessage(TEXT)
            ]

    @ROLES
    def test_short_messages_go_uncompressed(self, role: Role) -> None:
        conn, _peer = pair(role)
        conn.send_text("tiny")  # under compression_min_size
        [frame] = parse_frames(drain(conn).data)
        assert (frame.rsv, frame.payload) == (0, b"tiny")

    def test_large_compressed_server_message_leaves_in_one_piece(self) -> None:
        server, client = pair(Role.SERVER)
        server.send_binary(bytes(64 * 1024))
        [chunk] = server.data_to_send()
        assert receive(client, chunk) == [BinaryMessage(bytes(64 * 1024))]

    @ROLES
    def test_fed_whole_and_bytewise(self, role: Role) -> None:
        data = frame_to(role, 1, compressed_for(role, TEXT), rsv=RSV1)
        fed = feed(receiver(role), data)
        assert fed.events == [TextMessage(TEXT)]

    @ROLES
    @pytest.mark.parametrize("cuts", [(1,), (0, 5), (3, 4, 5), (-1,)])
    def test_fragmented_compressed_message(self, role: Role, cuts: tuple[int, ...]) -> None:
        # Only the first frame has RSV1; the payloads join into one stream.
        payload = compressed_for(role, TEXT)
        points = [0, *(c % len(payload) for c in cuts), len(payload)]
        pieces = [payload[a:b] for a, b in itertools.pairwise(points)]
        data = frame_to(role, 1, pieces[0], fin=False, rsv=RSV1)
        for i, piece in enumerate(pieces[1:], 1):
            data += frame_to(role, 9, b"between")
            data += frame_to(role, 0, piece, fin=i == len(pieces) - 1)
        fed = feed(receiver(role), data)
        assert fed.events[-1] == TextMessage(TEXT)
        assert fed.events[:-1] == [Ping(b"between")] * (len(pieces) - 1)

    @ROLES
    def test_empty_compressed_message(self, role: Role) -> None:
        data = frame_to(role, 2, b"", rsv=RSV1) + frame_to(role, 1, b"", rsv=RSV1, fin=False)
        data += frame_to(role, 0, b"")
        fed = feed(receiver(role), data)
        assert fed.events == [BinaryMessage(b""), TextMessage("")]

    @ROLES
    def test_uncompressed_messages_still_accepted(self, role: Role) -> None:
        fed = feed(receiver(role), frame_to(role, 1, b"plain"))
        assert fed.events == [TextMessage("plain")]

    @ROLES
    def test_rsv1_on_a_continuation_frame_fails(self, role: Role) -> None:
        # RFC 7692 6.1: RSV1 is set on the first frame of a message only.
        data = frame_to(role, 1, b"abc", fin=False) + frame_to(role, 0, b"def", rsv=RSV1)
        fed = feed(receiver(role), data)
        assert [describe(e) for e in fed.events] == [("ConnectionFailed", ProtocolError, 1002)]

    @ROLES
    @pytest.mark.parametrize("rsv", [0b010, 0b001])
    def test_rsv2_and_rsv3_still_fail(self, role: Role, rsv: int) -> None:
        fed = feed(receiver(role), frame_to(role, 1, b"abc", rsv=rsv | RSV1))
        assert [describe(e) for e in fed.events] == [("ConnectionFailed", ProtocolError, 1002)]


class TestRFC7692Section8Limits:
    """Inflated size is bounded by max_message_size (a "zip bomb" fails 1009)."""

    @ROLES
    def test_bomb_fails_with_1009(self, role: Role) -> None:
        bomb = raw_deflate(bytes(4 * 1024 * 1024))
        assert len(bomb) < 8 * 1024
        options = make_options(compression="deflate", max_message_size=1024 * 1024)
        fed = feed(receiver(role, options), frame_to(role, 2, bomb, rsv=RSV1))
        assert [describe(e) for e in fed.events] == [("ConnectionFailed", PayloadTooBig, 1009)]
        # Refused on the way: long before the whole frame had arrived.
        assert fed.at[0] < len(bomb) // 2

    @ROLES
    def test_the_limit_applies_to_the_whole_message(self, role: Role) -> None:
        # Two fragments inflating to 600 KiB each, with a 1 MiB limit.
        stream = raw_deflate(bytes(1200 * 1024))
        half = len(stream) // 2
        options = make_options(compression="deflate", max_message_size=1024 * 1024)
        data = frame_to(role, 2, stream[:half], fin=False, rsv=RSV1)
        data += frame_to(role, 0, stream[half:])
        conn = receiver(role, options)()
        assert [describe(e) for e in receive(conn, data)] == [
            ("ConnectionFailed", PayloadTooBig, 1009)
        ]
        # Just under the limit passes.
        stream = raw_deflate(bytes(1024 * 1024))
        conn = receiver(role, options)()
        assert receive(conn, frame_to(role, 2, stream, rsv=RSV1)) == [
            BinaryMessage(bytes(1024 * 1024))
        ]

    @ROLES
    def test_invalid_deflate_data_fails_with_1007(self, role: Role) -> None:
        # 0xff: BFINAL=1, BTYPE=11, a reserved block type.
        fed = feed(receiver(role), frame_to(role, 2, b"\xff\xff\xff", rsv=RSV1))
        assert [describe(e) for e in fed.events] == [("ConnectionFailed", InvalidPayload, 1007)]

    @ROLES
    def test_invalid_utf8_inside_compressed_text_fails_with_1007(self, role: Role) -> None:
        data = frame_to(role, 1, raw_deflate(b"valid then \xff"), rsv=RSV1)
        fed = feed(receiver(role), data)
        assert [describe(e) for e in fed.events] == [("ConnectionFailed", InvalidPayload, 1007)]


class TestRFC7692BackToBack:
    @ROLES
    @pytest.mark.parametrize("chunk", [None, 1, 7])
    def test_round_trip(self, role: Role, chunk: int | None) -> None:
        conn, peer = pair(role)
        messages = [TEXT, b"\x00" * 5000, "", "κόσμε" * 50, bytes(range(256)) * 3]
        for message in messages:
            if isinstance(message, str):
                conn.send_text(message)
            else:
                conn.send_binary(message)
        mine, theirs = pump(conn, peer, chunk)
        assert mine == []
        assert theirs == [
            TextMessage(m) if isinstance(m, str) else BinaryMessage(m) for m in messages
        ]
