"""The connection core on the wire: framing, masking, fragmentation, control
frames, UTF-8 and size limits (RFC 6455 5, 8.1, 10.4).

Every input is fed whole and byte by byte (:func:`helpers.feed`); symmetric
rules run in both roles.
"""

from __future__ import annotations

import pytest

from airsocket.protocol import connection
from airsocket.protocol.connection import Connection, Role, State
from airsocket.protocol.events import (
    BinaryMessage,
    CloseReceived,
    Ping,
    Pong,
    TextMessage,
)
from airsocket.protocol.exceptions import (
    ArgumentError,
    InvalidPayload,
    InvalidState,
    PayloadTooBig,
    ProtocolError,
)
from airsocket.protocol.handshake import accept_key
from airsocket.protocol.masking import PayloadBufferPython
from airsocket.protocol.options import MAX_MESSAGE_SIZE_LIMIT

from .helpers import (
    ACCEPT,
    MASK,
    RESPONSE,
    ROLES,
    URI,
    CountingRandom,
    Wire,
    apply_mask,
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
    receive,
    traced_peak,
    wire_frame,
)


def client_key(client: Connection) -> str:
    """The Sec-WebSocket-Key a client sent."""
    assert client.request is not None
    key = client.request.headers["Sec-WebSocket-Key"]
    return key


def failed(code: int, kind: type[ProtocolError] = ProtocolError) -> object:
    """What :func:`describe` makes of the ConnectionFailed of ``kind`` and ``code``."""
    return ("ConnectionFailed", kind, code)


def close_frame_from(role: Role, code: int) -> bytes:
    """The close frame a core of ``role`` sends with ``code`` and no reason."""
    payload = code.to_bytes(2, "big")
    return wire_frame(0x8, payload, mask=MASK if role is Role.CLIENT else None)


def failure_wire(role: Role, code: int) -> Wire:
    """What failing the connection writes (RFC 6455 7.1.7): a close frame,
    then END_OF_STREAM from a server (it closes TCP first, 7.1.1)."""
    return Wire(close_frame_from(role, code), role is Role.SERVER)


def _no_payload_buffer(size: int) -> PayloadBufferPython:
    raise MemoryError(f"no {size} bytes")


@pytest.fixture(params=["parts", "python-buffer", "c-buffer"])
def payload_buffer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with each way a large binary frame is received, whatever the build.

    The buffers fill one payload object as data arrives, the pure one or
    the C one. "parts" keeps the list of chunks, as when no buffer of the
    frame's length can be allocated.
    """
    if request.param == "parts":
        monkeypatch.setattr(connection, "PayloadBuffer", _no_payload_buffer)
    else:
        if request.param == "c-buffer":
            speedups = pytest.importorskip("airsocket._speedups")
            buffer_class = speedups.PayloadBuffer
        else:
            buffer_class = PayloadBufferPython
        monkeypatch.setattr(connection, "PayloadBuffer", buffer_class)
    return str(request.param)


class TestRFC6455Section5_7Examples:
    """The examples of RFC 6455 5.7, byte for byte."""

    def test_single_frame_unmasked_text(self) -> None:
        # FIN + text, length 5, "Hello"
        fed = feed(opener(Role.CLIENT), bytes.fromhex("81 05 48 65 6c 6c 6f"))
        assert fed.events == [TextMessage("Hello")]
        assert fed.wire == Wire()

    def test_single_frame_masked_text(self) -> None:
        # FIN + text, MASK + length 5, key 37fa213d, "Hello" masked
        fed = feed(opener(Role.SERVER), bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))
        assert fed.events == [TextMessage("Hello")]

    def test_fragmented_unmasked_text(self) -> None:
        # text without FIN, length 3, "Hel"; FIN + continuation, length 2, "lo"
        data = bytes.fromhex("01 03 48 65 6c") + bytes.fromhex("80 02 6c 6f")
        fed = feed(opener(Role.CLIENT), data)
        assert fed.events == [TextMessage("Hello")]
        assert fed.at == [len(data) - 1]

    def test_unmasked_ping_and_masked_pong(self) -> None:
        # FIN + ping, length 5, "Hello" in; the client's answer: FIN + pong,
        # MASK + length 5, key 37fa213d, "Hello" masked (the RFC's very bytes)
        fed = feed(opener(Role.CLIENT), bytes.fromhex("89 05 48 65 6c 6c 6f"))
        assert fed.events == [Ping(b"Hello")]
        assert fed.wire == Wire(bytes.fromhex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"))

    def test_256_bytes_binary_16_bit_length(self) -> None:
        # FIN + binary, length 126 then the 16-bit length 0x0100, 256 bytes
        payload = bytes(range(256))
        fed = feed(opener(Role.CLIENT), bytes.fromhex("82 7e 01 00") + payload)
        assert fed.events == [BinaryMessage(payload)]

    def test_64_kib_binary_64_bit_length(self, payload_buffer: str) -> None:
        # FIN + binary, length 127 then the 64-bit length 0x10000, 65536 bytes
        payload = bytes(range(256)) * 256
        data = bytes.fromhex("82 7f 00 00 00 00 00 01 00 00") + payload
        fed = feed(opener(Role.CLIENT), data)
        assert fed.events == [BinaryMessage(payload)]


class TestRFC6455Section5_2BaseFraming:
    @ROLES
    @pytest.mark.parametrize(
        ("opcode", "payload", "event"),
        [
            (0x1, "Grüße".encode(), TextMessage("Grüße")),
            (0x2, b"\x00\xff", BinaryMessage(b"\x00\xff")),
            (0x9, b"are you there", Ping(b"are you there")),
            (0xA, b"yes", Pong(b"yes")),
            (0x8, b"\x03\xe8bye", CloseReceived(1000, "bye")),
        ],
        ids=["text", "binary", "ping", "pong", "close"],
    )
    def test_every_opcode(self, role: Role, opcode: int, payload: bytes, event: object) -> None:
        fed = feed(opener(role), frame_to(role, opcode, payload))
        assert fed.events == [event]

    @ROLES
    @pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
    def test_reserved_opcodes_fail_with_1002(self, role: Role, opcode: int) -> None:
        # RFC 6455 5.2: an unknown opcode MUST fail the connection.
        fed = feed(opener(role), frame_to(role, opcode, b"x"))
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.at == [1]  # as soon as the 2-byte base header is in
        assert fed.wire == failure_wire(role, 1002)
        assert fed.conn.state is State.CLOSING

    @ROLES
    @pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536])
    @pytest.mark.parametrize("opcode", [0x1, 0x2])
    def test_7_16_and_64_bit_lengths(
        self, role: Role, opcode: int, length: int, payload_buffer: str
    ) -> None:
        payload = b"a" * length
        data = frame_to(role, opcode, payload)
        assert len(data) == header_size(role, length) + length
        fed = feed(opener(role), data)
        event = TextMessage(payload.decode()) if opcode == 1 else BinaryMessage(payload)
        assert fed.events == [event]
        assert fed.at == [len(data) - 1]

    def test_length_encodings(self) -> None:
        # The builder's headers, checked once against hand-written bytes:
        # FIN + binary, length 125 | 126 + 16-bit 126 | 127 + 64-bit 65536.
        assert wire_frame(2, b"a" * 125)[:2] == bytes.fromhex("82 7d")
        assert wire_frame(2, b"a" * 126)[:4] == bytes.fromhex("82 7e 00 7e")
        assert wire_frame(2, b"a" * 65536)[:10] == bytes.fromhex("82 7f 00 00 00 00 00 01 00 00")

    @ROLES
    def test_64_bit_length_with_the_most_significant_bit_set_fails(self, role: Role) -> None:
        # RFC 6455 5.2: "the most significant bit MUST be 0".
        # FIN + binary, (MASK +) length 127, 64-bit length 0x8000000000000000
        mask_bit = 0x80 if role is Role.SERVER else 0
        data = bytes([0x82, mask_bit | 0x7F]) + bytes.fromhex("80 00 00 00 00 00 00 00")
        fed = feed(opener(role), data + (MASK if role is Role.SERVER else b""))
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.at == [9]  # as soon as the length is known

    @ROLES
    @pytest.mark.parametrize("rsv", [0b010, 0b001, 0b011], ids=["RSV2", "RSV3", "RSV2+3"])
    @pytest.mark.parametrize("opcode", [0x1, 0x9])
    def test_rsv2_and_rsv3_fail_with_1002(self, role: Role, rsv: int, opcode: int) -> None:
        # RFC 6455 5.2: a nonzero reserved bit no extension defined MUST fail.
        fed = feed(opener(role), frame_to(role, opcode, b"x", rsv=rsv))
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.at == [1]

    @ROLES
    @pytest.mark.parametrize("opcode", [0x1, 0x2])
    def test_rsv1_without_deflate_fails_with_1002(self, role: Role, opcode: int) -> None:
        fed = feed(opener(role), frame_to(role, opcode, b"x", rsv=0b100))
        assert [describe(e) for e in fed.events] == [failed(1002)]

    @ROLES
    def test_many_frames_in_one_read(self, role: Role) -> None:
        data = b"".join(
            [
                frame_to(role, 0x1, b"one"),
                frame_to(role, 0x2, b"two"),
                frame_to(role, 0xA, b""),
                frame_to(role, 0x1, b""),
                frame_to(role, 0x2, b""),
            ]
        )
        fed = feed(opener(role), data)
        assert fed.events == [
            TextMessage("one"),
            BinaryMessage(b"two"),
            Pong(b""),
            TextMessage(""),
            BinaryMessage(b""),
        ]

    @ROLES
    def test_header_split_across_reads_waits_for_the_rest(self, role: Role) -> None:
        data = frame_to(role, 0x2, b"z" * 300)  # 16-bit length
        for cut in range(1, header_size(role, 300)):
            conn = opened(role)
            assert conn.receive_data(data[:cut]) == []
            assert conn.receive_data(data[cut:]) == [BinaryMessage(b"z" * 300)]

    @ROLES
    def test_empty_reads_change_nothing(self, role: Role) -> None:
        conn = opened(role)
        data = frame_to(role, 0x1, b"abcdef")
        assert conn.receive_data(b"") == []
        assert conn.receive_data(data[:3]) == []
        assert conn.receive_data(b"") == []
        assert conn.receive_data(data[3:-2]) == []
        assert conn.receive_data(b"") == []
        assert conn.receive_data(data[-2:]) == [TextMessage("abcdef")]


class TestRFC6455Section5_3ClientToServerMasking:
    def test_server_fails_on_unmasked_frame(self) -> None:
        # RFC 6455 5.1: a server MUST close on an unmasked frame (1002).
        # FIN + text, no MASK, length 2, "hi"
        fed = feed(opener(Role.SERVER), bytes.fromhex("81 02 68 69"))
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.at == [1]  # the MASK bit is in the second byte
        assert fed.wire == failure_wire(Role.SERVER, 1002)

    def test_client_fails_on_masked_frame(self) -> None:
        # RFC 6455 5.1: a client MUST close on a masked frame.
        # FIN + text, MASK + length 5, key 37fa213d, "Hello" masked
        fed = feed(opener(Role.CLIENT), bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.wire == failure_wire(Role.CLIENT, 1002)

    def test_client_masks_with_the_injected_key(self) -> None:
        client = opened(Role.CLIENT)
        client.send_text("Hello")
        # FIN + text, MASK + length 5, key 37fa213d, "Hello" masked (RFC 6455 5.7)
        assert drain(client) == Wire(bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))

    def test_server_does_not_mask(self) -> None:
        server = opened(Role.SERVER)
        server.send_text("Hello")
        # FIN + text, length 5, "Hello"
        assert drain(server) == Wire(bytes.fromhex("81 05 48 65 6c 6c 6f"))

    def test_each_frame_takes_the_next_key_from_the_source(self) -> None:
        # Keys are sliced from a 64-byte draw (16 frames), then from 1 KiB
        # draws (256 frames each); the first draw, of 16 bytes, is the
        # handshake key.
        source = CountingRandom()
        client = Connection(Role.CLIENT, make_options(), random_bytes=source)
        client.connect(URI)
        drain(client)
        client.receive_data(
            RESPONSE.replace(ACCEPT.encode(), accept_key(client_key(client)).encode())
        )
        for _ in range(16 + 256 + 1):
            client.send_ping(b"")
        frames = parse_frames(drain(client).data)
        assert source.draws == [16, 64, 1024, 1024]
        assert [f.mask for f in frames[:16]] == [b"\x02" * 4] * 16
        assert [f.mask for f in frames[16:272]] == [b"\x03" * 4] * 256
        assert frames[272].mask == b"\x04" * 4

    @pytest.mark.parametrize("cut", [1, 2, 3, 5, 7])
    def test_partial_masked_payload_is_unmasked_at_the_right_key_offset(self, cut: int) -> None:
        server = opened(Role.SERVER)
        payload = "δοκιμή, masked".encode()
        data = wire_frame(0x1, payload, mask=bytes.fromhex("01 23 45 67"))
        events = []
        for i in range(0, len(data), cut):
            events += server.receive_data(data[i : i + cut])
        assert events == [TextMessage(payload.decode())]


class TestRFC6455Section5_4Fragmentation:
    @ROLES
    def test_text_split_inside_a_character(self, role: Role) -> None:
        encoded = "añ€😀".encode()  # 1, 2, 3 and 4-byte sequences
        data = b"".join(
            frame_to(role, 0x1 if i == 0 else 0x0, encoded[i : i + 1], fin=i == len(encoded) - 1)
            for i in range(len(encoded))
        )
        fed = feed(opener(role), data)
        assert fed.events == [TextMessage("añ€😀")]

    @ROLES
    def test_binary_in_fragments_with_empty_ones(self, role: Role) -> None:
        data = (
            frame_to(role, 0x2, b"", fin=False)
            + frame_to(role, 0x0, b"ab", fin=False)
            + frame_to(role, 0x0, b"", fin=False)
            + frame_to(role, 0x0, b"c" * 200, fin=True)
        )
        fed = feed(opener(role), data)
        assert fed.events == [BinaryMessage(b"ab" + b"c" * 200)]

    @ROLES
    def test_a_fragmented_binary_message_is_bytes_held_once(self, role: Role) -> None:
        # Assembled in one growing buffer whose bytes object becomes the
        # message: not the message twice over, as its parts and their join.
        size, piece = 4 << 20, 1 << 16
        payload = bytes(range(256)) * (size // 256)
        data = b"".join(
            frame_to(role, 0x0 if at else 0x2, payload[at : at + piece], fin=at + piece == size)
            for at in range(0, size, piece)
        )
        reads = chunks(data, piece)
        conn = opened(role)
        events, peak = traced_peak(
            lambda: [event for read in reads for event in conn.receive_data(read)]
        )
        assert events == [BinaryMessage(payload)]
        assert type(events[0].data) is bytes  # type: ignore[attr-defined]
        assert peak < 1.5 * size

    @ROLES
    def test_control_frames_interleaved(self, role: Role) -> None:
        # RFC 6455 5.4: control frames MAY be injected between fragments.
        data = (
            frame_to(role, 0x1, b"frag", fin=False)
            + frame_to(role, 0x9, b"p1")
            + frame_to(role, 0x0, b"ment", fin=False)
            + frame_to(role, 0xA, b"p2")
            + frame_to(role, 0x0, b"ed", fin=True)
            + frame_to(role, 0x2, b"next")
        )
        fed = feed(opener(role), data)
        assert fed.events == [
            Ping(b"p1"),
            Pong(b"p2"),
            TextMessage("fragmented"),
            BinaryMessage(b"next"),
        ]
        mask = MASK if role is Role.CLIENT else None
        assert fed.wire == Wire(wire_frame(0xA, b"p1", mask=mask))

    @ROLES
    def test_close_between_fragments_abandons_the_message(self, role: Role) -> None:
        data = frame_to(role, 0x1, b"half", fin=False) + frame_to(role, 0x8, b"\x03\xe8")
        fed = feed(opener(role), data)
        assert fed.events == [CloseReceived(1000, "")]

    @ROLES
    @pytest.mark.parametrize("opcode", [0x1, 0x2])
    def test_continuation_without_a_message_fails(self, role: Role, opcode: int) -> None:
        # RFC 6455 5.4: a continuation frame must continue something.
        data = frame_to(role, opcode, b"done") + frame_to(role, 0x0, b"more")
        fed = feed(opener(role), data)
        assert [describe(e) for e in fed.events] == [
            TextMessage("done") if opcode == 1 else BinaryMessage(b"done"),
            failed(1002),
        ]

    @ROLES
    @pytest.mark.parametrize("second", [0x1, 0x2])
    def test_new_data_frame_inside_a_message_fails(self, role: Role, second: int) -> None:
        data = frame_to(role, 0x1, b"start", fin=False) + frame_to(role, second, b"again")
        fed = feed(opener(role), data)
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.at == [len(frame_to(role, 0x1, b"start")) + 1]

    @ROLES
    def test_messages_after_a_fragmented_one_start_afresh(self, role: Role) -> None:
        data = (
            frame_to(role, 0x1, b"\xe2\x82", fin=False)
            + frame_to(role, 0x0, b"\xac")
            + frame_to(role, 0x1, b"plain")
            + frame_to(role, 0x2, b"b", fin=False)
            + frame_to(role, 0x0, b"in")
        )
        fed = feed(opener(role), data)
        assert fed.events == [TextMessage("€"), TextMessage("plain"), BinaryMessage(b"bin")]


class TestRFC6455Section5_5ControlFrames:
    @ROLES
    def test_pong_is_queued_before_the_ping_is_returned(self, role: Role) -> None:
        conn = opened(role)
        events = conn.receive_data(frame_to(role, 0x9, b"tick"))
        assert events == [Ping(b"tick")]
        # RFC 6455 5.5.2/5.5.3: the PONG carries the PING's application data.
        mask = MASK if role is Role.CLIENT else None
        # outgoing is what data_to_send() returns next: the engine reads it
        # where wants_write would cost a call.
        assert conn.wants_write and conn.outgoing == [wire_frame(0xA, b"tick", mask=mask)]
        assert conn.data_to_send() == [wire_frame(0xA, b"tick", mask=mask)]
        assert not conn.wants_write and conn.outgoing == []

    @ROLES
    def test_ping_of_125_bytes_is_answered(self, role: Role) -> None:
        fed = feed(opener(role), frame_to(role, 0x9, b"p" * 125))
        assert fed.events == [Ping(b"p" * 125)]
        assert parse_frames(fed.wire.data) == [
            parse_frames(wire_frame(0xA, b"p" * 125, mask=MASK if role is Role.CLIENT else None))[0]
        ]

    @ROLES
    @pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
    def test_control_payload_over_125_bytes_fails(self, role: Role, opcode: int) -> None:
        # RFC 6455 5.5: all control frames MUST have a payload of 125 bytes or less.
        fed = feed(opener(role), frame_to(role, opcode, b"\x03\xe8" + b"p" * 124))
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.at == [1]  # length 126 is in the second byte

    @ROLES
    @pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
    def test_fragmented_control_frame_fails(self, role: Role, opcode: int) -> None:
        # RFC 6455 5.5: control frames MUST NOT be fragmented.
        fed = feed(opener(role), frame_to(role, opcode, b"", fin=False))
        assert [describe(e) for e in fed.events] == [failed(1002)]

    @ROLES
    def test_control_frame_with_rsv1_fails_even_with_deflate(self, role: Role) -> None:
        # RFC 7692 6: RSV1 means "compressed" on the first frame of a data
        # message only.
        pair = open_pair(make_options(compression="deflate"), make_options(compression="deflate"))
        conn = pair[0] if role is Role.CLIENT else pair[1]
        assert conn.compression is not None
        events = receive(conn, frame_to(role, 0x9, b"", rsv=0b100))
        assert [describe(e) for e in events] == [failed(1002)]

    @ROLES
    def test_pong_gets_no_answer(self, role: Role) -> None:
        fed = feed(opener(role), frame_to(role, 0xA, b"unsolicited"))
        assert fed.events == [Pong(b"unsolicited")]
        assert fed.wire == Wire()

    @ROLES
    def test_send_ping_and_pong(self, role: Role) -> None:
        conn = opened(role)
        conn.send_ping(b"x" * 125)
        conn.send_pong()
        mask = MASK if role is Role.CLIENT else None
        # FIN + ping, length 125, payload; FIN + pong, length 0
        assert drain(conn) == Wire(
            wire_frame(0x9, b"x" * 125, mask=mask) + wire_frame(0xA, b"", mask=mask)
        )

    @ROLES
    @pytest.mark.parametrize("method", ["send_ping", "send_pong"])
    def test_control_payload_over_125_bytes_is_refused(self, role: Role, method: str) -> None:
        conn = opened(role)
        with pytest.raises(ArgumentError):
            getattr(conn, method)(b"x" * 126)
        assert drain(conn) == Wire()


class TestRFC6455Section5_6DataFrames:
    @ROLES
    def test_send_text_and_binary(self, role: Role) -> None:
        conn = opened(role)
        conn.send_text("Grüße")
        conn.send_binary(bytearray(b"\x00\x01"))
        conn.send_binary(memoryview(b"\x02\x03"))
        mask = MASK if role is Role.CLIENT else None
        assert drain(conn) == Wire(
            wire_frame(0x1, "Grüße".encode(), mask=mask)
            + wire_frame(0x2, b"\x00\x01", mask=mask)
            + wire_frame(0x2, b"\x02\x03", mask=mask)
        )

    @ROLES
    def test_send_tells_text_from_binary_by_type(self, role: Role) -> None:
        class Text(str):
            pass

        class Data(bytes):
            pass

        conn = opened(role)
        for message in ["Grüße", Text("sub"), b"\x00", bytearray(b"\x01"), memoryview(b"\x02")]:
            conn.send(message)
        conn.send(Data(b"\x03"))
        mask = MASK if role is Role.CLIENT else None
        assert drain(conn) == Wire(
            wire_frame(0x1, "Grüße".encode(), mask=mask)
            + wire_frame(0x1, b"sub", mask=mask)
            + b"".join(wire_frame(0x2, bytes([i]), mask=mask) for i in range(4))
        )

    @ROLES
    @pytest.mark.parametrize("message", [None, 3, ["a"], {"a": 1}])
    def test_send_refuses_what_is_neither_text_nor_bytes(self, role: Role, message: object) -> None:
        conn = opened(role)
        with pytest.raises(ArgumentError, match="cannot send"):
            conn.send(message)  # type: ignore[arg-type]
        conn.state = State.CLOSED  # the type is told first, whatever the state
        with pytest.raises(ArgumentError, match="cannot send"):
            conn.send(message)  # type: ignore[arg-type]
        assert drain(conn) == Wire()

    @ROLES
    def test_send_text_and_send_binary_take_their_kind_only(self, role: Role) -> None:
        conn = opened(role)
        with pytest.raises(ArgumentError, match="as text"):
            conn.send_text(b"bytes")  # type: ignore[arg-type]
        with pytest.raises(ArgumentError, match="as binary"):
            conn.send_binary("text")  # type: ignore[arg-type]
        assert drain(conn) == Wire()

    @ROLES
    @pytest.mark.parametrize("size", [400, 80_000, 400_000])
    def test_a_view_of_wider_items_is_sent_as_its_bytes(self, role: Role, size: int) -> None:
        # A bytes-like payload is its bytes: a view of 4-byte items must not
        # be framed with its item count as its length.
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        conn = opened(role)
        conn.send_binary(memoryview(payload).cast("I"))
        mask = MASK if role is Role.CLIENT else None
        assert drain(conn) == Wire(wire_frame(0x2, payload, mask=mask))

    @ROLES
    def test_a_view_that_is_not_contiguous_is_refused(self, role: Role) -> None:
        conn = opened(role)
        with pytest.raises(ArgumentError, match="contiguous"):
            conn.send_binary(memoryview(b"abcdef")[::2])
        assert drain(conn) == Wire()

    @ROLES
    def test_a_control_payload_is_measured_in_bytes(self, role: Role) -> None:
        conn = opened(role)
        conn.send_ping(memoryview(b"pingpong").cast("I"))
        with pytest.raises(ArgumentError):
            conn.send_pong(memoryview(bytes(128)).cast("I"))  # 32 items, 128 bytes
        mask = MASK if role is Role.CLIENT else None
        assert drain(conn) == Wire(wire_frame(0x9, b"pingpong", mask=mask))

    @ROLES
    def test_text_that_utf8_cannot_encode_is_refused(self, role: Role) -> None:
        conn = opened(role)
        with pytest.raises(ArgumentError, match="not valid Unicode"):
            conn.send_text("lone \ud800 surrogate")
        assert drain(conn) == Wire(b"")

    def test_large_server_payload_leaves_apart_from_its_header(self) -> None:
        server = opened(Role.SERVER)
        payload = b"L" * (64 * 1024)
        server.send_binary(payload)
        # FIN + binary, length 127, 64-bit length 65536 | the payload itself
        out = server.data_to_send()
        assert out[0] == bytes.fromhex("82 7f 00 00 00 00 00 01 00 00")
        assert out[1] is payload  # not copied
        server.send_binary(bytearray(payload))  # not bytes: one piece
        [frame] = server.data_to_send()
        assert frame == out[0] + payload

    @pytest.mark.parametrize("length", [65535, 65536, 200_003])
    def test_large_client_payload_leaves_apart_from_its_header(self, length: int) -> None:
        client = opened(Role.CLIENT)
        payload = bytes(range(256)) * (length // 256) + b"L" * (length % 256)
        client.send_binary(payload)
        out = client.data_to_send()
        assert b"".join(out) == wire_frame(2, payload, mask=MASK)
        if length < 65536:
            assert len(out) == 1  # one piece: header, key and masked payload
        else:
            # FIN + binary, MASK + 127, the 64-bit length, the key | the masked payload
            assert out[0] == bytes.fromhex("82 ff") + length.to_bytes(8, "big") + MASK
            assert [len(piece) for piece in out[1:]] == [length]  # the masked payload


class TestPreparedFrames:
    """send_prepared(): one frame made once, queued on many server connections."""

    def test_a_server_queues_it_as_is(self) -> None:
        server = opened(Role.SERVER)
        assert server.takes_prepared
        frame = bytes.fromhex("81 05 48 65 6c 6c 6f")  # FIN + text, length 5, "Hello"
        server.send_prepared(frame)
        assert server.data_to_send() == [frame]

    def test_not_for_a_client_a_compressor_or_a_closed_connection(self) -> None:
        frame = bytes.fromhex("81 00")
        client = opened(Role.CLIENT)  # its frames must be masked, each its own key
        _, server = open_pair(
            make_options(compression="deflate"), make_options(compression="deflate")
        )
        closing = opened(Role.SERVER)
        closing.send_close()
        for conn in (client, server, closing, Connection(Role.SERVER)):
            assert not conn.takes_prepared
            drain(conn)
            with pytest.raises(InvalidState):
                conn.send_prepared(frame)
            assert not conn.wants_write


class TestRFC6455Section8_1Utf8:
    """Invalid UTF-8 in a text message fails with 1007 at the first bad byte."""

    @ROLES
    @pytest.mark.parametrize(
        "payload",
        [
            b"\xff",  # never in UTF-8
            b"\xc0\xaf",  # overlong "/"
            b"ok\x80",  # continuation byte without a lead
            b"\xed\xa0\x80",  # UTF-16 surrogate U+D800
            b"\xf4\x90\x80\x80",  # beyond U+10FFFF
            b"\xce\xba\xe1\xbd",  # truncated at the end of the message
        ],
    )
    def test_invalid_text_fails_with_1007(self, role: Role, payload: bytes) -> None:
        data = frame_to(role, 0x1, payload)
        fed = feed(opener(role), data)
        assert [describe(e) for e in fed.events] == [failed(1007, InvalidPayload)]
        assert fed.wire == failure_wire(role, 1007)
        assert isinstance(fed.conn.failure, InvalidPayload)

    @ROLES
    @pytest.mark.parametrize(
        ("payload", "bad"),
        [
            (b"hello \xff world", 6),
            (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80 more", 12),
            (b"abc\xed\xa0\x80def", 4),  # ED A0: a surrogate from the second byte
            (b"abc\xe0\x80\x80", 4),  # E0 80: overlong from the second byte
        ],
    )
    def test_fails_at_the_first_invalid_byte_of_a_partial_frame(
        self, role: Role, payload: bytes, bad: int
    ) -> None:
        assert first_invalid_utf8(payload) == bad
        data = frame_to(role, 0x1, payload)
        fed = feed(opener(role), data)
        assert [describe(e) for e in fed.events] == [failed(1007, InvalidPayload)]
        # Before the frame is complete: at the bad byte itself.
        assert fed.at == [header_size(role, len(payload)) + bad]

    @ROLES
    def test_fails_at_the_first_invalid_byte_of_a_fragmented_message(self, role: Role) -> None:
        first = frame_to(role, 0x1, "κόσμε".encode(), fin=False)
        second = frame_to(role, 0x0, b"ok\xed", fin=False)
        third = frame_to(role, 0x0, b"\xbf\xbf rest", fin=True)
        fed = feed(opener(role), first + second + third)
        assert [describe(e) for e in fed.events] == [failed(1007, InvalidPayload)]
        # ED BF is a surrogate: the first byte of the third payload is bad.
        assert fed.at == [len(first) + len(second) + header_size(role, 7)]

    @ROLES
    def test_valid_text_in_one_byte_fragments(self, role: Role) -> None:
        text = "κόσμε \U0001f600 \u20ac \ud7ff \ue000 \U0010ffff"
        encoded = text.encode()
        data = b"".join(
            frame_to(role, 0x0 if i else 0x1, encoded[i : i + 1], fin=i == len(encoded) - 1)
            for i in range(len(encoded))
        )
        fed = feed(opener(role), data)
        assert fed.events == [TextMessage(text)]

    @ROLES
    def test_binary_is_not_checked(self, role: Role) -> None:
        fed = feed(opener(role), frame_to(role, 0x2, b"\xff\xed\xa0\x80"))
        assert fed.events == [BinaryMessage(b"\xff\xed\xa0\x80")]


class TestRFC6455Section10_4SizeLimits:
    """max_message_size, enforced from the frame header, before buffering."""

    @ROLES
    @pytest.mark.parametrize("length", [11, 200, 70000])
    @pytest.mark.parametrize("opcode", [0x1, 0x2])
    def test_a_header_announcing_too_much_fails_at_once(
        self, role: Role, opcode: int, length: int, payload_buffer: str
    ) -> None:
        # Only the header is sent: the failure must not wait for the payload.
        header = frame_to(role, opcode, length=length)
        fed = feed(opener(role, make_options(max_message_size=10)), header)
        assert [describe(e) for e in fed.events] == [failed(1009, PayloadTooBig)]
        assert fed.at == [len(header) - 1]
        assert fed.wire == failure_wire(role, 1009)

    @ROLES
    @pytest.mark.parametrize("opcode", [0x1, 0x2])
    def test_exactly_the_limit_is_accepted(
        self, role: Role, opcode: int, payload_buffer: str
    ) -> None:
        data = frame_to(role, opcode, b"0123456789")
        fed = feed(opener(role, make_options(max_message_size=10)), data)
        assert [type(e) for e in fed.events] == [TextMessage if opcode == 1 else BinaryMessage]

    @ROLES
    def test_the_limit_applies_to_the_sum_of_the_fragments(self, role: Role) -> None:
        first = frame_to(role, 0x2, b"123456", fin=False)
        ping = frame_to(role, 0x9, b"control frames do not count")
        second = frame_to(role, 0x0, b"7890")
        third = frame_to(role, 0x0, b"X")
        options = make_options(max_message_size=10)
        fed = feed(opener(role, options), first + ping + second + frame_to(role, 0x2, b"Y"))
        assert fed.events == [
            Ping(b"control frames do not count"),
            BinaryMessage(b"1234567890"),
            BinaryMessage(b"Y"),
        ]
        second_open = frame_to(role, 0x0, b"7890", fin=False)
        fed = feed(opener(role, options), first + second_open + third)
        assert [describe(e) for e in fed.events] == [failed(1009, PayloadTooBig)]
        assert fed.at == [len(first) + len(second_open) + header_size(role, 1) - 1]

    @ROLES
    def test_zero_allows_only_empty_messages(self, role: Role) -> None:
        data = frame_to(role, 0x1, b"") + frame_to(role, 0x2, b"x")
        fed = feed(opener(role, make_options(max_message_size=0)), data)
        assert [describe(e) for e in fed.events] == [TextMessage(""), failed(1009, PayloadTooBig)]

    @ROLES
    @pytest.mark.parametrize("length", [2**62, 2**63 - 1])
    def test_a_huge_announced_frame_without_a_limit_is_not_allocated(
        self, role: Role, length: int, payload_buffer: str
    ) -> None:
        # With no practical limit a header may announce up to 2**63 - 1 bytes:
        # nothing of that size may be allocated before the bytes arrive, and
        # failing to reserve it (MemoryError; OverflowError past what a bytes
        # object can hold) must not raise out of the core.
        conn = opened(role, make_options(max_message_size=MAX_MESSAGE_SIZE_LIMIT))
        assert conn.receive_data(frame_to(role, 0x2, length=length)) == []
        assert conn.receive_data(apply_mask(b"abc", MASK) if role is Role.SERVER else b"abc") == []
        assert conn.receive_eof() == []
        assert conn.state is State.CLOSED


class TestReadingStraightIntoTheMessage:
    """receive_buffer() / receive_into(): a large payload read in place."""

    @ROLES
    @pytest.mark.parametrize("first", [1, 2, 5])  # payload bytes that came with the header
    def test_reads_into_the_view_then_the_last_byte_completes(
        self, role: Role, first: int, payload_buffer: str
    ) -> None:
        payload = bytes(range(256)) * 40 + b"end"
        wire = frame_to(role, 0x2, payload)
        start = len(wire) - len(payload)
        conn = opened(role)
        assert conn.receive_data(wire[: start + first]) == []
        at = start + first
        reads = 0
        while (view := conn.receive_buffer()) is not None:
            # The engine asks for a view only while frame_left says a frame is under way.
            assert conn.frame_left > len(view)
            size = min(len(view), 1001)  # reads of odd sizes: the mask turns
            view[:size] = wire[at : at + size]
            view.release()
            conn.receive_into(size)
            at += size
            reads += 1
        if payload_buffer == "parts":
            assert reads == 0  # the pure build keeps its list of parts
        else:
            assert reads > 0 and at == len(wire) - 1  # one byte short of the end
        assert conn.receive_data(wire[at:]) == [BinaryMessage(payload)]
        assert conn.receive_buffer() is None
        assert conn.frame_left == 0

    @ROLES
    def test_frame_left_counts_the_payload_still_to_come(self, role: Role) -> None:
        conn = opened(role)
        assert conn.frame_left == 0
        wire = frame_to(role, 0x2, b"z" * 300)
        conn.receive_data(wire[:-120])
        assert conn.frame_left == 120
        conn.receive_data(wire[-120:-20])
        assert conn.frame_left == 20
        assert conn.receive_data(wire[-20:]) == [BinaryMessage(b"z" * 300)]
        assert conn.frame_left == 0

    @ROLES
    def test_no_view_between_frames_for_text_or_after_a_failure(
        self, role: Role, payload_buffer: str
    ) -> None:
        conn = opened(role)
        assert conn.receive_buffer() is None
        text = frame_to(role, 0x1, b"x" * 1000)
        conn.receive_data(text[:100])
        assert conn.receive_buffer() is None  # text is validated as it comes
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x2, b"x" * 1000)[:50])
        conn.receive_eof()
        assert conn.state is State.CLOSED
        assert conn.receive_buffer() is None
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x2, b"x" * 1000)[:50])
        conn.fail(1011, "going away")
        assert conn.receive_buffer() is None  # what follows our close is discarded

    @ROLES
    def test_receive_into_without_room_is_refused(self, role: Role, payload_buffer: str) -> None:
        conn = opened(role)
        with pytest.raises(ValueError, match="receive_buffer"):
            conn.receive_into(1)
        wire = frame_to(role, 0x2, b"y" * 500)
        conn.receive_data(wire[:-400])
        if payload_buffer != "parts":
            with pytest.raises(ValueError, match="receive_buffer"):
                conn.receive_into(400)  # the last byte must come through receive_data
        assert conn.receive_data(wire[-400:]) == [BinaryMessage(b"y" * 500)]
