"""Tests of airsocket.protocol.frames: opcodes, close codes, frame headers
and close payloads (RFC 6455 5 and 7.4)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airsocket.protocol.exceptions import ArgumentError, InvalidPayload, ProtocolError
from airsocket.protocol.frames import (
    MAX_CONTROL_PAYLOAD,
    SHORT_HEADERS,
    CloseCode,
    Masker,
    MaskerPython,
    Opcode,
    frame_header,
    is_sendable_close_code,
    is_valid_close_code,
    parse_close,
    serialize_close,
    serialize_frame,
)

from .helpers import MASK, Frame, parse_frames, wire_frame


class TestRFC6455Section5_2Constants:
    def test_opcodes(self) -> None:
        assert {op.name: op.value for op in Opcode} == {
            "CONT": 0x0,
            "TEXT": 0x1,
            "BINARY": 0x2,
            "CLOSE": 0x8,
            "PING": 0x9,
            "PONG": 0xA,
        }

    def test_close_codes(self) -> None:
        # RFC 6455 7.4.1 and the IANA registry (1012-1015).
        assert [int(code) for code in CloseCode] == [
            1000,
            1001,
            1002,
            1003,
            1005,
            1006,
            1007,
            1008,
            1009,
            1010,
            1011,
            1012,
            1013,
            1014,
            1015,
        ]
        assert MAX_CONTROL_PAYLOAD == 125


class TestRFC6455Section5_2FrameHeader:
    @pytest.mark.parametrize(
        ("length", "header"),
        [
            (0, "82 00"),  # FIN + binary, length 0
            (125, "82 7d"),  # the largest 7-bit length
            (126, "82 7e 00 7e"),  # 126: a 16-bit length follows
            (65535, "82 7e ff ff"),  # the largest 16-bit length
            (65536, "82 7f 00 00 00 00 00 01 00 00"),  # 127: a 64-bit length follows
            (2**63 - 1, "82 7f 7f ff ff ff ff ff ff ff"),  # MSB stays 0 (RFC 6455 5.2)
        ],
    )
    def test_minimal_length_encoding(self, length: int, header: str) -> None:
        assert frame_header(2, length) == bytes.fromhex(header)

    @pytest.mark.parametrize(
        ("kwargs", "header"),
        [
            ({}, "81 03"),  # FIN + text
            ({"fin": False}, "01 03"),  # text, more to come
            ({"rsv1": True}, "c1 03"),  # FIN + RSV1 + text
            ({"masked": True}, "81 83"),  # FIN + text, MASK
            ({"fin": False, "rsv1": True, "masked": True}, "41 83"),
        ],
    )
    def test_flags(self, kwargs: dict[str, bool], header: str) -> None:
        assert frame_header(1, 3, **kwargs) == bytes.fromhex(header)

    def test_short_headers_table(self) -> None:
        for opcode in (1, 2):
            assert len(SHORT_HEADERS[opcode]) == 126
            for length in range(126):
                assert SHORT_HEADERS[opcode][length] == frame_header(opcode, length)


class TestRFC6455Section5_2SerializeFrame:
    def test_rfc_examples(self) -> None:
        # RFC 6455 5.7: unmasked and masked "Hello"
        assert serialize_frame(1, b"Hello") == bytes.fromhex("81 05 48 65 6c 6c 6f")
        assert serialize_frame(1, b"Hello", mask=MASK) == bytes.fromhex(
            "81 85 37 fa 21 3d 7f 9f 4d 51 58"
        )
        # RFC 6455 5.7: a fragmented message: "Hel" then "lo"
        assert serialize_frame(1, b"Hel", fin=False) == bytes.fromhex("01 03 48 65 6c")
        assert serialize_frame(0, b"lo") == bytes.fromhex("80 02 6c 6f")

    @pytest.mark.parametrize("payload", [bytearray(b"abc"), memoryview(b"abc")])
    def test_bytes_like_payloads(self, payload: bytearray | memoryview) -> None:
        assert serialize_frame(2, payload) == bytes.fromhex("82 03 61 62 63")
        assert serialize_frame(2, payload, mask=MASK) == wire_frame(2, b"abc", mask=MASK)

    @pytest.mark.parametrize("mask", [None, MASK])
    def test_a_view_of_wider_items_is_framed_as_its_bytes(self, mask: bytes | None) -> None:
        payload = bytes(range(200))  # 50 four-byte items
        frame = serialize_frame(2, memoryview(payload).cast("I"), mask=mask)
        assert frame == wire_frame(2, payload, mask=mask)

    def test_a_view_that_is_not_contiguous_is_refused(self) -> None:
        with pytest.raises(ArgumentError, match="contiguous"):
            serialize_frame(2, memoryview(b"abcdef")[::2])

    @given(
        opcode=st.sampled_from([0, 1, 2, 8, 9, 10]),
        payload=st.binary(max_size=70000),
        fin=st.booleans(),
        rsv1=st.booleans(),
        mask=st.none() | st.binary(min_size=4, max_size=4),
    )
    def test_matches_the_reference_builder(
        self, opcode: int, payload: bytes, fin: bool, rsv1: bool, mask: bytes | None
    ) -> None:
        frame = serialize_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=mask)
        rsv = 0b100 if rsv1 else 0
        assert frame == wire_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask)
        assert parse_frames(frame) == [Frame(opcode, payload, fin, rsv, mask)]


class Draws:
    """A random source that records its draws and numbers their bytes."""

    def __init__(self) -> None:
        self.draws: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        start = len(self.draws) * 37
        drawn = bytes((start + i * 11) & 0xFF for i in range(n))
        self.draws.append(drawn)
        return drawn


MASKERS = sorted({MaskerPython, Masker}, key=lambda cls: cls.__module__)


@pytest.mark.parametrize("masker_class", MASKERS, ids=lambda cls: cls.__module__)
class TestRFC6455Section5_3Masker:
    def test_keys_are_cut_in_order_from_draws_of_64_then_1kib(self, masker_class: Any) -> None:
        source = Draws()
        masker = masker_class(source)
        keys = [masker.key() for _ in range(16 + 256 + 1)]
        assert [len(drawn) for drawn in source.draws] == [64, 1024, 1024]
        pooled = b"".join(source.draws)
        assert keys == [pooled[i : i + 4] for i in range(0, 4 * len(keys), 4)]

    @pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
    @pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
    def test_frame_is_the_frame_masked_with_the_next_key(
        self, masker_class: Any, size: int, kind: Any
    ) -> None:
        source = Draws()
        masker = masker_class(source)
        data = bytes((i * 7) & 0xFF for i in range(size))
        first = masker.frame(Opcode.BINARY, kind(data), False)
        second = masker.frame(Opcode.TEXT, kind(data), True)
        third = masker.frame(Opcode.PING, kind(data[:125]), False)
        key_one, key_two, key_three = (source.draws[0][i : i + 4] for i in (0, 4, 8))
        assert first == serialize_frame(Opcode.BINARY, data, mask=key_one)
        assert second == serialize_frame(Opcode.TEXT, data, rsv1=True, mask=key_two)
        assert third == serialize_frame(Opcode.PING, data[:125], mask=key_three)
        assert masker.key() == source.draws[0][12:16]  # frames and keys share the sequence

    def test_a_draw_of_another_size_is_an_error(self, masker_class: Any) -> None:
        masker = masker_class(lambda n: bytes(n - 4))
        with pytest.raises(ValueError, match=r"random_bytes\(64\) returned 60 bytes"):
            masker.key()


class TestRFC6455Section7_4CloseCodes:
    @pytest.mark.parametrize(
        "code", [1000, 1001, 1002, 1003, 1007, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
    )
    def test_valid(self, code: int) -> None:
        assert is_valid_close_code(code)
        assert is_sendable_close_code(code)

    @pytest.mark.parametrize(
        "code", [-1, 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 65536]
    )
    def test_invalid(self, code: int) -> None:
        assert not is_valid_close_code(code)
        assert not is_sendable_close_code(code)


class TestRFC6455Section5_5_1ClosePayload:
    def test_serialize(self) -> None:
        # 2-byte code in network order, then the UTF-8 reason
        assert serialize_close(1000) == bytes.fromhex("03 e8")
        assert serialize_close(CloseCode.GOING_AWAY, "bye") == bytes.fromhex("03 e9 62 79 65")
        assert serialize_close(4999, "é") == bytes.fromhex("13 87 c3 a9")
        assert serialize_close(None) == b""
        assert serialize_close(3000, "r" * 123) == b"\x0b\xb8" + b"r" * 123

    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            (None, "x"),  # a reason needs a code
            (1005, ""),
            (1006, ""),
            (1015, ""),
            (0, ""),
            (5000, ""),
            ("1000", ""),
            (1000.0, ""),
            (1000, b"bytes"),
            (1000, "r" * 124),
            (1000, "€" * 42),  # 126 bytes in UTF-8
            (1000, "lone \ud800"),  # a surrogate: not encodable as UTF-8
        ],
    )
    def test_serialize_refuses(self, code: object, reason: object) -> None:
        with pytest.raises(ArgumentError):
            serialize_close(code, reason)  # type: ignore[arg-type]

    def test_parse(self) -> None:
        assert parse_close(b"") == (1005, "")
        assert parse_close(bytes.fromhex("03 e8")) == (1000, "")
        assert parse_close(bytes.fromhex("0f a0") + "ошибка".encode()) == (4000, "ошибка")

    def test_parse_one_byte(self) -> None:
        with pytest.raises(ProtocolError) as info:
            parse_close(b"\x03")
        assert info.value.close_code == 1002

    @pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
    def test_parse_invalid_code(self, code: int) -> None:
        with pytest.raises(ProtocolError) as info:
            parse_close(code.to_bytes(2, "big"))
        assert type(info.value) is ProtocolError
        assert info.value.close_code == 1002

    def test_parse_invalid_reason(self) -> None:
        with pytest.raises(InvalidPayload) as info:
            parse_close(b"\x03\xe8\xed\xa0\x80")
        assert info.value.close_code == 1007
        assert isinstance(info.value.__cause__, UnicodeDecodeError)

    @given(
        code=st.sampled_from([1000, 1001, 1002, 1003])
        | st.integers(1007, 1014)
        | st.integers(3000, 4999),
        reason=st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    )
    def test_round_trip(self, code: int, reason: str) -> None:
        if len(reason.encode()) > 123:
            with pytest.raises(ArgumentError):
                serialize_close(code, reason)
        else:
            assert parse_close(serialize_close(code, reason)) == (code, reason)
