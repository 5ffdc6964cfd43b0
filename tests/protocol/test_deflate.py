"""Tests of permessage-deflate (RFC 7692): the codec and the negotiation."""

from __future__ import annotations

import os
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airsocket.protocol import deflate
from airsocket.protocol.deflate import (
    PerMessageDeflate,
    client_accept,
    client_offer,
    server_accept,
)
from airsocket.protocol.exceptions import (
    ArgumentError,
    InvalidPayload,
    NegotiationError,
    PayloadTooBig,
)
from airsocket.protocol.options import Options

MiB = 1024 * 1024
UNLIMITED = 2**63 - 1
HELLO = bytes.fromhex("f2 48 cd c9 c9 07 00")  # "Hello", one fixed-Huffman block

Params = list[tuple[str, str | None]]


def parse_header(value: str) -> list[tuple[str, Params]]:
    """What handshake.py hands us: [(name, [(param, value or None)])]."""
    result: list[tuple[str, Params]] = []
    for item in value.split(","):
        name, *raw = (part.strip() for part in item.split(";"))
        params: Params = []
        for param in raw:
            key, eq, val = param.partition("=")
            params.append((key.strip(), val.strip().strip('"') if eq else None))
        result.append((name, params))
    return result


def inflate(codec: PerMessageDeflate, data: bytes, max_size: int = UNLIMITED) -> bytes:
    return codec.decompress(data, True, max_size)


def inflate_bytewise(codec: PerMessageDeflate, data: bytes) -> bytes:
    """Feed one byte a frame: zlib then checks distances against the window
    (within one call it accepts any distance into its own output)."""
    out = [codec.decompress(data[i : i + 1], False, UNLIMITED) for i in range(len(data))]
    return b"".join(out) + codec.decompress(b"", True, UNLIMITED)


def pmd(name: str = "permessage-deflate", *params: tuple[str, str | None]) -> tuple[str, Params]:
    return (name, list(params))


class TestSection7_2_3Examples:
    """The examples of RFC 7692 7.2.3, byte for byte."""

    def test_hello_one_block(self) -> None:
        # 7.2.3.1: "Hello" -> f2 48 cd c9 c9 07 00
        assert PerMessageDeflate().compress(b"Hello") == HELLO
        assert inflate(PerMessageDeflate(), HELLO) == b"Hello"

    def test_hello_fragmented(self) -> None:
        # 7.2.3.1: the same payload split over two frames
        codec = PerMessageDeflate()
        first = codec.decompress(HELLO[:3], False, UNLIMITED)
        assert first + codec.decompress(HELLO[3:], True, UNLIMITED) == b"Hello"

    def test_sharing_lz77_window(self) -> None:
        # 7.2.3.2: the second "Hello" is a back-reference into the first
        sender, receiver = PerMessageDeflate(), PerMessageDeflate()
        assert sender.compress(b"Hello") == HELLO
        assert sender.compress(b"Hello") == bytes.fromhex("f2 00 11 00 00")
        assert inflate(receiver, HELLO) == b"Hello"
        assert inflate(receiver, bytes.fromhex("f2 00 11 00 00")) == b"Hello"

    def test_block_with_no_compression(self) -> None:
        # 7.2.3.3: a stored block: header, LEN 5, NLEN, "Hello", then 00
        data = bytes.fromhex("00 05 00 fa ff 48 65 6c 6c 6f 00")
        assert inflate(PerMessageDeflate(), data) == b"Hello"

    def test_block_with_bfinal(self) -> None:
        # 7.2.3.4: BFINAL=1 block, then one octet holding a stored header;
        # the next message starts a new stream.
        codec = PerMessageDeflate()
        assert inflate(codec, bytes.fromhex("f3 48 cd c9 c9 07 00 00")) == b"Hello"
        assert inflate(codec, HELLO) == b"Hello"

    def test_bfinal_then_more_frames_skipped(self) -> None:
        codec = PerMessageDeflate()
        assert codec.decompress(bytes.fromhex("f3 48 cd c9 c9 07 00"), False, 10) == b"Hello"
        assert codec.decompress(b"\x00junk", False, 5) == b""
        assert codec.decompress(b"more junk", True, 5) == b""
        assert inflate(codec, HELLO) == b"Hello"

    def test_two_blocks(self) -> None:
        # 7.2.3.5: "He" flushed, then "llo"
        data = bytes.fromhex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")
        assert inflate(PerMessageDeflate(), data) == b"Hello"

    def test_empty_message(self) -> None:
        # 7.2.3.6: an empty message compresses to a single 00 octet
        sender, receiver = PerMessageDeflate(), PerMessageDeflate()
        assert sender.compress(b"") == b"\x00"
        assert inflate(receiver, b"\x00") == b""
        for message in (b"Hello", b"", b"Hello"):
            data = sender.compress(message)
            assert data is not None
            assert inflate(receiver, data) == message


class TestSection7_2_1Compression:
    def test_context_takeover_never_discards(self) -> None:
        # An incompressible message is still sent compressed: the peer's
        # window must see it, and it grows by a few bytes only.
        sender, receiver = PerMessageDeflate(), PerMessageDeflate()
        noise = os.urandom(64)
        data = sender.compress(noise)
        assert data is not None and len(noise) < len(data) <= len(noise) + 6
        assert inflate(receiver, data) == noise
        data = sender.compress(noise + b"!")
        assert data is not None and len(data) < 20  # refers to the first
        assert inflate(receiver, data) == noise + b"!"

    def test_no_context_takeover_sends_non_shrinking_uncompressed(self) -> None:
        sender = PerMessageDeflate(send_no_context_takeover=True)
        assert sender.compress(os.urandom(64)) is None
        assert sender.compress(b"Hello") is None  # 7 bytes compressed
        first = sender.compress(b"Hello" * 4)
        assert first is not None and len(first) < 20
        assert sender.compress(b"Hello" * 4) == first  # no reference to the last

    @pytest.mark.parametrize(("level", "bits", "mem_level"), [(1, 15, 8), (6, 12, 5), (9, 9, 1)])
    def test_no_context_takeover_output_is_a_fresh_compressors(
        self, level: int, bits: int, mem_level: int
    ) -> None:
        # Two connections take turns with one idle compressor, emptied with
        # Z_FULL_FLUSH: every message comes out as a new compressor's would,
        # so it inflates on its own (RFC 7692 7.1.1.1).
        senders = [
            PerMessageDeflate(
                send_no_context_takeover=True,
                send_window_bits=bits,
                level=level,
                mem_level=mem_level,
            )
            for _ in range(2)
        ]
        messages = [os.urandom(100) * 10, b"Hello" * 300, os.urandom(64), b"Hello" * 300]
        for i, message in enumerate(messages):
            fresh = zlib.compressobj(level, zlib.DEFLATED, -bits, mem_level)
            expected = (fresh.compress(message) + fresh.flush(zlib.Z_SYNC_FLUSH))[:-4]
            data = senders[i % 2].compress(message)
            if len(expected) >= len(message):
                assert data is None  # went uncompressed; the compressor is emptied all the same
                continue
            assert data == expected
            alone = zlib.decompressobj(-bits)
            assert alone.decompress(data + b"\x00\x00\xff\xff") == message
        kind = (level, bits, mem_level)
        assert len(deflate._IDLE_COMPRESSORS[kind]) == 1  # shared, not one each

    def test_min_size(self) -> None:
        sender = PerMessageDeflate(min_size=6)
        assert sender.compress(b"Hello") is None
        assert sender.compress(b"Hello!") is not None

    def test_window_8_compresses_with_9(self) -> None:
        # zlib refuses 8; with 9 it never reaches back more than 250 bytes.
        sender = PerMessageDeflate(send_window_bits=8)
        strict = zlib.decompressobj(-8)  # zlib inflates with 8 bits
        for size in (200, 250, 251, 300, 500):
            text = os.urandom(size) * 3
            data = sender.compress(text)
            assert data is not None
            data += b"\x00\x00\xff\xff"
            assert b"".join(strict.decompress(data[i : i + 1]) for i in range(len(data))) == text
        data = sender.compress(b"a" * 1000)
        assert data is not None and len(data) < 20

    def test_accepts_buffers(self) -> None:
        sender = PerMessageDeflate()
        assert sender.compress(memoryview(bytearray(b"Hello"))) == HELLO

    def test_window_is_honoured(self) -> None:
        # zlib reaches back at most the window minus 262 bytes: a repeat 500
        # bytes back is found with 10 bits (762), not with 9 (250).
        text = os.urandom(500) * 2
        data = PerMessageDeflate(send_window_bits=10).compress(text)
        assert data is not None and len(data) < 600
        assert inflate(PerMessageDeflate(receive_window_bits=10), data) == text
        data = PerMessageDeflate(send_window_bits=9).compress(text)
        assert data is not None and len(data) > 1000
        assert inflate(PerMessageDeflate(receive_window_bits=9), data) == text
        far = PerMessageDeflate(send_window_bits=15).compress(os.urandom(600) * 2)
        assert far is not None
        with pytest.raises(InvalidPayload):  # a 600-byte distance, 512 window
            inflate_bytewise(PerMessageDeflate(receive_window_bits=9), far)


class TestSection7_2_2Decompression:
    def test_no_context_takeover_resets_window(self) -> None:
        codec = PerMessageDeflate(receive_no_context_takeover=True)
        assert inflate(codec, HELLO) == b"Hello"
        with pytest.raises(InvalidPayload):  # refers to a window now gone
            inflate(codec, bytes.fromhex("f2 00 11 00 00"))

    def test_window_8_inflates_with_9(self) -> None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -10)
        text = os.urandom(300) * 2  # a distance of 300: more than 256
        data = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert inflate_bytewise(PerMessageDeflate(receive_window_bits=8), data[:-4]) == text

    def test_empty_payload(self) -> None:
        # RSV1 set, no payload bytes: an empty message; the window survives.
        codec = PerMessageDeflate()
        assert inflate(codec, HELLO) == b"Hello"
        assert inflate(codec, b"") == b""
        assert codec.decompress(b"", False, 10) == b""
        assert codec.decompress(b"", False, 10) == b""
        assert inflate(codec, b"") == b""
        assert inflate(codec, bytes.fromhex("f2 00 11 00 00")) == b"Hello"

    def test_empty_frames_around_data(self) -> None:
        codec = PerMessageDeflate()
        assert codec.decompress(b"", False, 10) == b""
        assert codec.decompress(HELLO, False, 10) == b"Hello"
        assert codec.decompress(b"", False, 5) == b""
        assert codec.decompress(b"", True, 5) == b""
        assert inflate(codec, bytes.fromhex("f2 00 11 00 00")) == b"Hello"

    @pytest.mark.parametrize(
        "data",
        [
            bytes.fromhex("ff ff ff"),  # BTYPE 11 is reserved
            bytes.fromhex("00 05 00"),  # LEN 5 but NLEN (from the tail) wrong
        ],
    )
    def test_corrupt_data(self, data: bytes) -> None:
        with pytest.raises(InvalidPayload) as info:
            inflate(PerMessageDeflate(), data)
        assert isinstance(info.value.__cause__, zlib.error)
        assert info.value.close_code == 1007

    def test_max_size_exact(self) -> None:
        assert inflate(PerMessageDeflate(), HELLO, 5) == b"Hello"
        with pytest.raises(PayloadTooBig) as info:
            inflate(PerMessageDeflate(), HELLO, 4)
        assert info.value.close_code == 1009

    @pytest.mark.parametrize("max_size", [0, -1])
    def test_max_size_zero(self, max_size: int) -> None:
        assert inflate(PerMessageDeflate(), b"\x00", max_size) == b""
        with pytest.raises(PayloadTooBig):
            inflate(PerMessageDeflate(), HELLO, max_size)

    def test_max_size_counts_the_tail(self) -> None:
        # The last symbols may only come out once the tail is appended: a
        # stored block whose NLEN arrives with the tail's first bytes.
        data = bytes.fromhex("00 05 00 fa ff 48 65 6c 6c 6f")
        codec = PerMessageDeflate()
        with pytest.raises(PayloadTooBig):
            codec.decompress(data, True, 4)

    def test_bomb(self) -> None:
        # 100 MiB of zeros in about 100 KiB; we may inflate 1 MiB of it.
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
        zeros = bytes(MiB)
        bomb = b"".join([compressor.compress(zeros) for _ in range(100)])
        bomb += compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
        assert len(bomb) < 120_000
        codec = PerMessageDeflate()
        tracemalloc.start()
        try:
            with pytest.raises(PayloadTooBig):
                codec.decompress(bomb, False, MiB)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * MiB
        with pytest.raises(PayloadTooBig):  # also when the frame ends it
            PerMessageDeflate().decompress(bomb, True, MiB)


class TestArguments:
    @pytest.mark.parametrize(
        "kwargs",
        [
            {"send_window_bits": 7},
            {"send_window_bits": 16},
            {"receive_window_bits": 7},
            {"receive_window_bits": True},
            {"level": 10},
            {"mem_level": 0},
            {"min_size": -1},
            {"min_size": 1.5},
        ],
    )
    def test_invalid(self, kwargs: dict[str, object]) -> None:
        with pytest.raises(ArgumentError):
            PerMessageDeflate(**kwargs)  # type: ignore[arg-type]

    def test_defaults(self) -> None:
        codec = PerMessageDeflate()
        assert codec.extension_name == "permessage-deflate"
        assert (codec.send_window_bits, codec.receive_window_bits) == (15, 15)
        assert not codec.send_no_context_takeover
        assert not codec.receive_no_context_takeover
        assert (codec.level, codec.mem_level, codec.min_size) == (6, 8, 0)


messages = st.lists(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.tuples(st.binary(min_size=1, max_size=40), st.integers(1, 200)).map(
            lambda pair: pair[0] * pair[1]
        ),
    ),
    max_size=6,
)


class TestRoundTrip:
    @settings(deadline=None, max_examples=300)
    @given(
        bits=st.integers(9, 15),
        no_context_takeover=st.booleans(),
        level=st.integers(-1, 9),
        mem_level=st.integers(1, 9),
        min_size=st.integers(0, 64),
        messages=messages,
        data=st.data(),
    )
    def test_round_trip(
        self,
        bits: int,
        no_context_takeover: bool,
        level: int,
        mem_level: int,
        min_size: int,
        messages: list[bytes],
        data: st.DataObject,
    ) -> None:
        sender = PerMessageDeflate(
            send_window_bits=bits,
            send_no_context_takeover=no_context_takeover,
            level=level,
            mem_level=mem_level,
            min_size=min_size,
        )
        receiver = PerMessageDeflate(
            receive_window_bits=bits, receive_no_context_takeover=no_context_takeover
        )
        for message in messages:
            payload = sender.compress(message)
            if payload is None:
                assert len(message) < min_size or no_context_takeover
                continue
            if no_context_takeover:
                assert len(payload) < len(message)
                assert inflate(PerMessageDeflate(receive_window_bits=bits), payload) == message
            cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=4)))
            pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
            out = [receiver.decompress(piece, False, UNLIMITED) for piece in pieces[:-1]]
            out.append(receiver.decompress(pieces[-1], True, UNLIMITED))
            assert b"".join(out) == message

    @settings(deadline=None)
    @given(message=st.binary(max_size=2000), cut=st.integers(0, 2000), size=st.integers(0, 300))
    def test_max_size_split(self, message: bytes, cut: int, size: int) -> None:
        payload = PerMessageDeflate().compress(message)
        assert payload is not None
        codec = PerMessageDeflate()
        try:
            first = codec.decompress(payload[:cut], False, size)
            rest = codec.decompress(payload[cut:], True, size - len(first))
        except PayloadTooBig:
            assert len(message) > size
        else:
            assert first + rest == message


class TestSection7_1ClientNegotiation:
    def test_offer_defaults(self) -> None:
        assert client_offer(Options()) == (
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        )

    def test_offer_window_15_no_context_takeover(self) -> None:
        options = Options(compression_window_bits=15, compression_context_takeover=False)
        assert client_offer(options) == (
            "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        )

    def test_offer_nothing(self) -> None:
        assert client_offer(Options(compression=None)) == ""

    def test_accept_nothing(self) -> None:
        assert client_accept([], Options()) is None
        assert client_accept([], Options(compression=None)) is None

    def test_accept_plain(self) -> None:
        codec = client_accept([pmd("Permessage-Deflate")], Options())
        assert codec is not None
        assert (codec.send_window_bits, codec.receive_window_bits) == (12, 15)
        assert not codec.send_no_context_takeover
        assert not codec.receive_no_context_takeover
        assert (codec.level, codec.mem_level, codec.min_size) == (6, 5, 32)

    def test_accept_all_params(self) -> None:
        response = pmd(
            "permessage-deflate",
            ("server_no_context_takeover", None),
            ("client_no_context_takeover", None),
            ("server_max_window_bits", "10"),
            ("client_max_window_bits", "9"),
        )
        codec = client_accept([response], Options(compression_level=1))
        assert codec is not None
        assert (codec.send_window_bits, codec.receive_window_bits) == (9, 10)
        assert codec.send_no_context_takeover and codec.receive_no_context_takeover
        assert codec.level == 1

    def test_accept_ignored_hint(self) -> None:
        # client_max_window_bits above our offer: we keep our smaller window
        response = pmd("permessage-deflate", ("client_max_window_bits", "15"))
        codec = client_accept([response], Options())
        assert codec is not None and codec.send_window_bits == 12

    def test_accept_window_8(self) -> None:
        response = pmd("permessage-deflate", ("client_max_window_bits", "8"))
        codec = client_accept([response], Options())
        assert codec is not None and codec.send_window_bits == 8

    def test_own_no_context_takeover(self) -> None:
        codec = client_accept([pmd()], Options(compression_context_takeover=False))
        assert codec is not None and codec.send_no_context_takeover

    def test_server_window_within_offer(self) -> None:
        response = pmd("permessage-deflate", ("server_max_window_bits", "12"))
        codec = client_accept([response], Options())
        assert codec is not None and codec.receive_window_bits == 12
        response = pmd("permessage-deflate", ("server_max_window_bits", "15"))
        codec = client_accept([response], Options(compression_window_bits=15))
        assert codec is not None and codec.receive_window_bits == 15

    @pytest.mark.parametrize(
        "extensions",
        [
            [pmd(), pmd()],
            [pmd(), ("x-other", [])],
            [("x-other", [])],
            [pmd("permessage-deflate", ("unknown", None))],
            [
                pmd(
                    "permessage-deflate",
                    ("server_no_context_takeover", None),
                    ("Server_No_Context_Takeover", None),
                )
            ],
            [pmd("permessage-deflate", ("client_no_context_takeover", "1"))],
            [pmd("permessage-deflate", ("server_max_window_bits", None))],
            [pmd("permessage-deflate", ("client_max_window_bits", None))],
            [pmd("permessage-deflate", ("client_max_window_bits", "7"))],
            [pmd("permessage-deflate", ("server_max_window_bits", "16"))],
            [pmd("permessage-deflate", ("server_max_window_bits", "09"))],
            [pmd("permessage-deflate", ("server_max_window_bits", " 9"))],
            [pmd("permessage-deflate", ("server_max_window_bits", ""))],
            # larger than the server_max_window_bits=12 we offered
            [pmd("permessage-deflate", ("server_max_window_bits", "13"))],
        ],
    )
    def test_accept_invalid(self, extensions: list[tuple[str, Params]]) -> None:
        with pytest.raises(NegotiationError) as info:
            client_accept(extensions, Options())
        assert info.value.http_status == 400

    def test_accept_not_offered(self) -> None:
        with pytest.raises(NegotiationError):
            client_accept([pmd()], Options(compression=None))


class TestSection7_1ServerNegotiation:
    def test_nothing(self) -> None:
        assert server_accept([pmd()], Options(compression=None)) is None
        assert server_accept([], Options()) is None
        assert server_accept([("x-webkit-deflate-frame", [])], Options()) is None

    def test_plain(self) -> None:
        accepted = server_accept([("x-other", []), pmd()], Options())
        assert accepted is not None
        response, codec = accepted
        assert response == "permessage-deflate; server_max_window_bits=12"
        assert (codec.send_window_bits, codec.receive_window_bits) == (12, 15)

    def test_plain_window_15(self) -> None:
        accepted = server_accept([pmd()], Options(compression_window_bits=15))
        assert accepted is not None and accepted[0] == "permessage-deflate"

    def test_browser_offer(self) -> None:
        offer = pmd("permessage-deflate", ("client_max_window_bits", None))
        accepted = server_accept([offer], Options())
        assert accepted is not None
        response, codec = accepted
        assert response == (
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        )
        assert (codec.send_window_bits, codec.receive_window_bits) == (12, 12)

    def test_all_params(self) -> None:
        offer = pmd(
            "permessage-deflate",
            ("server_no_context_takeover", None),
            ("client_no_context_takeover", None),
            ("server_max_window_bits", "10"),
            ("client_max_window_bits", "11"),
        )
        accepted = server_accept([offer], Options(compression_window_bits=15))
        assert accepted is not None
        response, codec = accepted
        assert response == (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
            " server_max_window_bits=10; client_max_window_bits=11"
        )
        assert (codec.send_window_bits, codec.receive_window_bits) == (10, 11)
        assert codec.send_no_context_takeover and codec.receive_no_context_takeover

    def test_window_15_offered(self) -> None:
        offer = pmd("permessage-deflate", ("server_max_window_bits", "15"))
        accepted = server_accept([offer], Options(compression_window_bits=15))
        assert accepted is not None
        assert accepted[0] == "permessage-deflate; server_max_window_bits=15"

    def test_own_no_context_takeover(self) -> None:
        accepted = server_accept([pmd()], Options(compression_context_takeover=False))
        assert accepted is not None
        assert accepted[0] == (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"
        )
        assert accepted[1].send_no_context_takeover

    def test_window_8(self) -> None:
        offer = pmd("permessage-deflate", ("server_max_window_bits", "8"))
        accepted = server_accept([offer], Options())
        assert accepted is not None
        assert accepted[0] == "permessage-deflate; server_max_window_bits=8"
        assert accepted[1].send_window_bits == 8

    @pytest.mark.parametrize(
        "bad",
        [
            [("unknown", None)],
            [("client_max_window_bits", None), ("client_max_window_bits", None)],
            [("server_no_context_takeover", "yes")],
            [("server_max_window_bits", None)],
            [("server_max_window_bits", "7")],
            [("client_max_window_bits", "0x0f")],
        ],
    )
    def test_bad_offer_declined(self, bad: Params) -> None:
        good = pmd("permessage-deflate", ("client_no_context_takeover", None))
        assert server_accept([("permessage-deflate", bad)], Options()) is None
        accepted = server_accept([("permessage-deflate", bad), good], Options())
        assert accepted is not None
        assert accepted[0] == (
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12"
        )

    def test_first_acceptable_offer_wins(self) -> None:
        offers = parse_header(
            "permessage-deflate; server_max_window_bits=10,"
            " permessage-deflate; server_max_window_bits=11"
        )
        accepted = server_accept(offers, Options())
        assert accepted is not None and accepted[1].send_window_bits == 10


class TestEndToEnd:
    @pytest.mark.parametrize(
        "client_options, server_options",
        [
            ({}, {}),
            ({"compression_window_bits": 15}, {"compression_window_bits": 9}),
            ({"compression_context_takeover": False}, {"compression_mem_level": 9}),
            ({"compression_window_bits": 10}, {"compression_context_takeover": False}),
        ],
    )
    def test_handshake_and_messages(
        self, client_options: dict[str, object], server_options: dict[str, object]
    ) -> None:
        client_opts = Options.build(compression_min_size=0, **client_options)
        server_opts = Options.build(compression_min_size=0, **server_options)
        accepted = server_accept(parse_header(client_offer(client_opts)), server_opts)
        assert accepted is not None
        response, server = accepted
        client = client_accept(parse_header(response), client_opts)
        assert client is not None
        texts = [b"Hello", b"Hello", b"", b"x" * 5000, os.urandom(100), b"Hello" * 50]
        for sender, receiver in ((client, server), (server, client)):
            for text in texts:
                data = sender.compress(text)
                assert data is None or inflate(receiver, data) == text
