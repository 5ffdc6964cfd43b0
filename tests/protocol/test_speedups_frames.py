"""Differential tests of ``_speedups.scan_frames`` and ``_speedups.frame``.

Both are checked against the pure-Python reference they stand in for:
``frame`` against :func:`airsocket.protocol.frames.serialize_frame`, and
``scan_frames`` against :meth:`Connection.receive_data` of an OPEN core fed
the prefix the scan consumed. Input streams are built bit by bit by
:func:`helpers.wire_frame`, never by the code under test.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airsocket.protocol.connection import Connection, Role, State
from airsocket.protocol.events import BinaryMessage, ConnectionFailed, Event, TextMessage
from airsocket.protocol.frames import CloseCode, serialize_frame
from airsocket.protocol.options import MAX_MESSAGE_SIZE_LIMIT, Options

from .helpers import MASK, wire_frame

speedups: Any = pytest.importorskip("airsocket._speedups")

OTHER_MASK = b"\x00\xff\x5a\xa5"
BIG = 64 * 1024 * 1024
INVALID_UTF8 = [
    b"\xff",
    b"\xc0\x80",  # overlong NUL
    b"\xe2\x82",  # truncated at the end
    b"\xed\xa0\x80",  # a UTF-16 surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\x80",  # a lone continuation byte
]


def pattern(n: int, seed: int = 0) -> bytes:
    """``n`` bytes of every value, deterministic."""
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def core(role: Role, max_size: int = BIG) -> Connection:
    """An OPEN core of ``role`` without compression (RSV1 is a violation)."""
    conn = Connection(role, Options(compression=None, max_message_size=max_size))
    conn.state = State.OPEN
    return conn


def scan(
    buf: bytes, pos: int = 0, role: Role = Role.SERVER, max_size: int = BIG
) -> tuple[int, list[Event]]:
    events: list[Event] = []
    end: int = speedups.scan_frames(
        buf, pos, role is Role.SERVER, max_size, events, TextMessage, BinaryMessage
    )
    return end, events


def reference(buf: bytes, role: Role, max_size: int = BIG) -> list[Event]:
    """The events of the pure-Python core for ``buf``."""
    return core(role, max_size).receive_data(buf)


def check_types(events: list[Event]) -> None:
    for event in events:
        if isinstance(event, TextMessage):
            assert type(event.data) is str
        else:
            assert isinstance(event, BinaryMessage)
            assert type(event.data) is bytes


# ----------------------------------------------------------------------
# frame()


LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 64, 125, 126, 127, 65535, 65536, 70000]


def payload_variants(data: bytes) -> list[bytes | bytearray | memoryview]:
    """The same bytes as bytes, bytearray, memoryview and an offset slice."""
    padded = bytearray(b"\xee" * 3 + data + b"\xee")
    return [data, bytearray(data), memoryview(data), memoryview(padded)[3 : 3 + len(data)]]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("opcode", [0, 1, 2, 8, 9, 10])
@pytest.mark.parametrize("rsv1", [False, True])
@pytest.mark.parametrize("mask", [None, MASK, OTHER_MASK])
def test_frame_matches_serialize_frame(n: int, opcode: int, rsv1: bool, mask: bytes | None) -> None:
    data = pattern(n, opcode)
    expected = serialize_frame(opcode, data, rsv1=rsv1, mask=mask)
    for value in payload_variants(data):
        result = speedups.frame(opcode, value, mask, rsv1)
        assert type(result) is bytes
        assert result == expected


@given(
    opcode=st.integers(0, 15),
    data=st.binary(max_size=300),
    mask=st.none() | st.binary(min_size=4, max_size=4),
    rsv1=st.booleans(),
)
def test_frame_matches_serialize_frame_random(
    opcode: int, data: bytes, mask: bytes | None, rsv1: bool
) -> None:
    expected = serialize_frame(opcode, data, rsv1=rsv1, mask=mask)
    assert speedups.frame(opcode, data, mask, rsv1) == expected


def test_frame_header_fields() -> None:
    # Independent of serialize_frame: RFC 6455 5.2 drawn by the helpers.
    for n in (0, 125, 126, 65535, 65536):
        data = pattern(n)
        assert speedups.frame(2, data, None, False) == wire_frame(2, data)
        assert speedups.frame(1, data, MASK, False) == wire_frame(1, data, mask=MASK)
        assert speedups.frame(1, data, None, True) == wire_frame(1, data, rsv=0b100)


def test_frame_large_masked() -> None:
    # Above the size from which the GIL is released while masking.
    data = pattern(200_000)
    assert speedups.frame(2, data, MASK, False) == serialize_frame(2, data, mask=MASK)


def test_frame_accepts_bytes_like_mask_and_truthy_rsv1() -> None:
    expected = serialize_frame(1, b"hello", rsv1=True, mask=MASK)
    assert speedups.frame(1, b"hello", bytearray(MASK), 1) == expected
    assert speedups.frame(1, b"hello", memoryview(MASK), "yes") == expected


def test_masker_bad_arguments() -> None:
    with pytest.raises(TypeError):
        speedups.Masker(b"not callable")
    masker = speedups.Masker(bytes)  # bytes(n): n zero bytes
    for args in [(2, b""), (2, b"", False, None), ("2", b"", False), (2, 3, False)]:
        with pytest.raises(TypeError):
            masker.frame(*args)
    for opcode in (-1, 16):
        with pytest.raises(ValueError, match="opcode"):
            masker.frame(opcode, b"", False)
    assert masker.frame(2, b"ab", False) == b"\x82\x82\x00\x00\x00\x00ab"


def test_masker_failing_draw_leaves_it_usable() -> None:
    answers: list[Any] = [OSError("no entropy"), b"\x01" * 64]

    def source(n: int) -> bytes:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return bytes(answer)

    masker = speedups.Masker(source)
    with pytest.raises(OSError, match="no entropy"):
        masker.frame(2, b"", False)
    assert masker.key() == b"\x01" * 4


def test_masker_in_a_reference_cycle_is_collected() -> None:
    import gc
    import weakref

    class Source:
        def __call__(self, n: int) -> bytes:
            return bytes(n)

    source = Source()
    source.masker = speedups.Masker(source)  # type: ignore[attr-defined]
    gone = weakref.ref(source)
    del source
    gc.collect()
    assert gone() is None


def test_frame_bad_arguments() -> None:
    with pytest.raises(TypeError):
        speedups.frame(1, b"")
    with pytest.raises(TypeError):
        speedups.frame(1, b"", None, False, None)
    with pytest.raises(TypeError):
        speedups.frame("1", b"", None, False)
    with pytest.raises(TypeError):
        speedups.frame(1, "text", None, False)
    with pytest.raises(ValueError, match="opcode"):
        speedups.frame(16, b"", None, False)
    with pytest.raises(ValueError, match="opcode"):
        speedups.frame(-1, b"", None, False)
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.frame(1, b"", b"abc", False)
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.frame(1, b"", b"abcde", False)


# ----------------------------------------------------------------------
# scan_frames(): streams of frames, simple and not


@dataclasses.dataclass(frozen=True)
class Spec:
    """One frame of a generated stream, and whether scan_frames may take it."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv: int = 0
    right_mask: bool = True  # masked as the receiving role expects
    length: int | None = None  # an announced length without its payload

    def wire(self, role: Role) -> bytes:
        masked = (role is Role.SERVER) == self.right_mask
        return wire_frame(
            self.opcode,
            self.payload,
            fin=self.fin,
            rsv=self.rsv,
            mask=MASK if masked else None,
            length=self.length,
        )

    def simple(self, max_size: int) -> bool:
        if not (self.fin and self.rsv == 0 and self.opcode in (1, 2) and self.right_mask):
            return False
        if self.length is not None or len(self.payload) > max_size:
            return False
        if self.opcode == 1:
            try:
                self.payload.decode()
            except UnicodeDecodeError:
                return False
        return True


def sized(n: int) -> bytes:
    return pattern(n, n)


def ascii_sized(n: int) -> bytes:
    return bytes(0x20 + (i * 7) % 95 for i in range(n))


EDGE_SIZES = st.sampled_from([0, 1, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536])
binary_payloads = st.binary(max_size=200) | EDGE_SIZES.map(sized)
text_payloads = (
    st.text(max_size=80).map(str.encode)
    | EDGE_SIZES.map(ascii_sized)
    | st.tuples(st.text(max_size=20), st.sampled_from(INVALID_UTF8), st.text(max_size=20)).map(
        lambda t: t[0].encode() + t[1] + t[2].encode()
    )
    | st.binary(max_size=40)
)
data_specs = st.one_of(
    binary_payloads.map(lambda p: Spec(2, p)),
    text_payloads.map(lambda p: Spec(1, p)),
)
odd_specs = st.one_of(
    # control frames, valid or not
    st.builds(Spec, st.sampled_from([8, 9, 10]), st.binary(max_size=10)),
    st.builds(Spec, st.sampled_from([9, 10]), st.binary(max_size=10), fin=st.just(False)),
    # fragments
    st.builds(Spec, st.sampled_from([1, 2]), st.binary(max_size=10), fin=st.just(False)),
    st.builds(Spec, st.just(0), st.binary(max_size=10), fin=st.booleans()),
    # reserved bits, unknown opcodes
    st.builds(Spec, st.sampled_from([1, 2]), st.binary(max_size=10), rsv=st.integers(1, 7)),
    st.builds(Spec, st.sampled_from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), st.binary(max_size=5)),
    # the wrong mask bit for the role
    st.builds(Spec, st.sampled_from([1, 2]), st.binary(max_size=10), right_mask=st.just(False)),
    # lengths with the top bit set, or more than anyone sends
    st.builds(
        Spec,
        st.sampled_from([1, 2]),
        st.just(b""),
        length=st.sampled_from([1 << 63, (1 << 64) - 1, (1 << 63) - 1, 1 << 40]),
    ),
)
streams = st.lists(st.one_of(data_specs, data_specs, odd_specs), max_size=12)
max_sizes = st.one_of(st.integers(0, 300), st.sampled_from([MAX_MESSAGE_SIZE_LIMIT, BIG]))


def expected_stop(
    specs: list[Spec], wires: list[bytes], lead: int, size: int, max_size: int
) -> int:
    """Where the scan must stop: after the leading simple frames whole in ``size`` bytes."""
    pos = lead
    for spec, wire in zip(specs, wires, strict=True):
        end = pos + len(wire)
        if end > size or not spec.simple(max_size):
            break
        pos = end
    return pos


@settings(deadline=None, max_examples=400)
@given(
    specs=streams,
    role=st.sampled_from([Role.SERVER, Role.CLIENT]),
    max_size=max_sizes,
    lead=st.binary(max_size=12),
    cut=st.integers(0, 12),
)
def test_scan_matches_pure_python(
    specs: list[Spec], role: Role, max_size: int, lead: bytes, cut: int
) -> None:
    wires = [spec.wire(role) for spec in specs]
    whole = lead + b"".join(wires)
    buf = whole[: max(len(lead), len(whole) - cut)]  # a truncated tail, often
    stop, events = scan(buf, len(lead), role, max_size)
    # (a) it stops exactly at the first frame that is not simple or not whole
    assert stop == expected_stop(specs, wires, len(lead), len(buf), max_size)
    # (b) its events are the pure core's for the prefix it consumed
    assert events == reference(buf[len(lead) : stop], role, max_size)
    check_types(events)


@settings(deadline=None, max_examples=100)
@given(specs=st.lists(data_specs, max_size=6), role=st.sampled_from([Role.SERVER, Role.CLIENT]))
def test_scan_every_cut(specs: list[Spec], role: Role) -> None:
    # (c) Sliced at every byte of the last frames: never reads past the end,
    # never takes a frame that is not whole.
    wires = [spec.wire(role) for spec in specs]
    whole = b"".join(wires)
    for size in range(max(0, len(whole) - 300), len(whole) + 1):
        buf = whole[:size]
        stop, events = scan(buf, 0, role)
        assert stop == expected_stop(specs, wires, 0, size, BIG)
        assert events == reference(buf[:stop], role)


def frame_ends(frames: list[bytes]) -> list[int]:
    ends, pos = [], 0
    for data in frames:
        pos += len(data)
        ends.append(pos)
    return ends


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
def test_scan_cut_just_before_each_end(role: Role) -> None:
    mask = MASK if role is Role.SERVER else None
    frames = [
        wire_frame(2, sized(n), mask=mask) for n in (0, 1, 125, 126, 127, 65535, 65536, 70000)
    ] + [wire_frame(1, ascii_sized(n), mask=mask) for n in (0, 3, 125, 126, 65536)]
    whole = b"".join(frames)
    ends = frame_ends(frames)
    starts = [0, *ends[:-1]]
    full_stop, full_events = scan(whole, 0, role)
    assert full_stop == len(whole)
    assert full_events == reference(whole, role)
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        # every byte of the header (2 to 14 bytes), and the last bytes of the payload
        cuts = {*range(start, min(end, start + 15)), end - 2, end - 1}
        for size in sorted(c for c in cuts if start <= c < end):
            stop, events = scan(whole[:size], 0, role)
            assert stop == start
            assert events == full_events[:index]
        # and a pos inside the buffer: resume at that frame
        stop, events = scan(whole[: end - 1], start, role)
        assert (stop, events) == (start, [])
        stop, events = scan(whole[:end], start, role)
        assert (stop, events) == (end, full_events[index : index + 1])


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize("bad", INVALID_UTF8)
def test_scan_stops_before_invalid_utf8(role: Role, bad: bytes) -> None:
    mask = MASK if role is Role.SERVER else None
    good = wire_frame(1, "héllo wörld".encode(), mask=mask)
    for at in range(0, 140):
        text = b"a" * at + bad + b"b" * (139 - at)
        buf = good + wire_frame(1, text, mask=mask) + good
        stop, events = scan(buf, 0, role)
        assert stop == len(good)
        assert events == [TextMessage("héllo wörld")]
        # The pure core, fed the rest, fails the connection with 1007.
        conn = core(role)
        result = conn.receive_data(buf)
        assert result == events
        assert conn.input_pending
        [failed] = conn.receive_data(b"")
        assert isinstance(failed, ConnectionFailed)
        assert failed.error.close_code == CloseCode.INVALID_DATA


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
def test_scan_non_ascii_at_every_position(role: Role) -> None:
    # The ASCII check reads blocks, words and a tail: a non-ASCII character
    # anywhere must be found and decoded.
    mask = MASK if role is Role.SERVER else None
    for n in range(0, 140):  # 64-byte blocks, then words, then a tail
        for at in range(n + 1):
            text = "a" * at + "é" + "z" * (n - at)
            buf = wire_frame(1, text.encode(), mask=mask)
            assert scan(buf, 0, role) == (len(buf), [TextMessage(text)])


def test_scan_long_non_ascii_text() -> None:
    # Longer than the stack buffer of the masked non-ASCII path.
    for text in ("é" * 600, "a" * 5000 + "€", "€" * 30000):
        buf = wire_frame(1, text.encode(), mask=MASK)
        assert scan(buf) == (len(buf), [TextMessage(text)])


def test_scan_max_size_is_inclusive() -> None:
    buf = wire_frame(2, b"x" * 100, mask=MASK)
    assert scan(buf, max_size=100) == (len(buf), [BinaryMessage(b"x" * 100)])
    assert scan(buf, max_size=99) == (0, [])


def test_scan_appends_and_stops_at_control_frames() -> None:
    data = wire_frame(2, b"one", mask=MASK)
    ping = wire_frame(9, b"", mask=MASK)
    events: list[Event] = [TextMessage("before")]
    buf = data + ping + data
    stop = speedups.scan_frames(buf, 0, True, BIG, events, TextMessage, BinaryMessage)
    assert stop == len(data)
    assert events == [TextMessage("before"), BinaryMessage(b"one")]
    # Resumed after the ping, the rest is taken.
    stop = speedups.scan_frames(
        buf, stop + len(ping), True, BIG, events, TextMessage, BinaryMessage
    )
    assert stop == len(buf)
    assert events[-1] == BinaryMessage(b"one")


def test_scan_empty_and_end() -> None:
    assert scan(b"") == (0, [])
    buf = wire_frame(2, b"abc", mask=MASK)
    assert scan(buf, len(buf)) == (len(buf), [])
    assert scan(buf[:1]) == (0, [])


def test_scan_calls_the_classes_given() -> None:
    calls: list[tuple[str, object]] = []

    def text(value: str) -> str:
        calls.append(("text", value))
        return "T"

    def binary(value: bytes) -> str:
        calls.append(("binary", value))
        return "B"

    buf = wire_frame(1, b"hi", mask=MASK) + wire_frame(2, b"yo", mask=MASK)
    events: list[str] = []
    assert speedups.scan_frames(buf, 0, True, BIG, events, text, binary) == len(buf)
    assert events == ["T", "B"]
    assert calls == [("text", "hi"), ("binary", b"yo")]


def test_scan_builds_class_events_without_calling_init() -> None:
    class Tracked:
        __slots__ = ("data",)
        inits = 0

        def __init__(self, data: object) -> None:
            Tracked.inits += 1
            self.data = data

    buf = wire_frame(1, b"hi", mask=MASK) + wire_frame(2, b"yo", mask=MASK)
    events: list[Tracked] = []
    assert speedups.scan_frames(buf, 0, True, BIG, events, Tracked, Tracked) == len(buf)
    assert [(type(e), e.data) for e in events] == [(Tracked, "hi"), (Tracked, b"yo")]
    assert Tracked.inits == 0


def test_scan_propagates_a_class_without_a_data_slot() -> None:
    class NoData:
        __slots__ = ()

    buf = wire_frame(2, b"yo", mask=MASK)
    with pytest.raises(AttributeError):
        speedups.scan_frames(buf, 0, True, BIG, [], NoData, NoData)


def test_scan_propagates_errors_of_the_classes() -> None:
    def boom(value: object) -> object:
        raise RuntimeError("boom")

    buf = wire_frame(1, b"hi", mask=MASK)
    with pytest.raises(RuntimeError, match="boom"):
        speedups.scan_frames(buf, 0, True, BIG, [], boom, boom)


def test_scan_bad_arguments() -> None:
    buf = wire_frame(2, b"abc", mask=MASK)
    args: tuple[object, ...] = (True, BIG, [], TextMessage, BinaryMessage)
    with pytest.raises(TypeError, match="7 or 8 arguments"):
        speedups.scan_frames(buf, 0)
    with pytest.raises(TypeError, match="7 or 8 arguments"):
        speedups.scan_frames(buf, 0, *args, None, None)
    with pytest.raises(TypeError, match="bytes"):
        speedups.scan_frames(bytearray(buf), 0, *args)
    with pytest.raises(TypeError, match="bytes"):
        speedups.scan_frames(memoryview(buf), 0, *args)
    with pytest.raises(ValueError, match="pos"):
        speedups.scan_frames(buf, -1, *args)
    with pytest.raises(ValueError, match="pos"):
        speedups.scan_frames(buf, len(buf) + 1, *args)
    with pytest.raises(ValueError, match="max_size"):
        speedups.scan_frames(buf, 0, True, -1, [], TextMessage, BinaryMessage)
    with pytest.raises(OverflowError):
        speedups.scan_frames(buf, 0, True, 1 << 64, [], TextMessage, BinaryMessage)
    with pytest.raises(TypeError, match="list"):
        speedups.scan_frames(buf, 0, True, BIG, (), TextMessage, BinaryMessage)


# ----------------------------------------------------------------------
# Whole compressed frames (RSV1), given an inflate callable


class Inflater:
    """A stand-in for the codec: records what it is given, returns a fixed map."""

    def __init__(self, results: dict[bytes, object]) -> None:
        self.results = results
        self.calls: list[bytes] = []

    def __call__(self, payload: bytes) -> object:
        self.calls.append(payload)
        result = self.results[payload]
        if isinstance(result, Exception):
            raise result
        return result


RSV1 = 0b100


def scan_inflating(buf: bytes, inflate: object, max_size: int = BIG) -> tuple[int, list[Event]]:
    events: list[Event] = []
    end: int = speedups.scan_frames(
        buf, 0, True, max_size, events, TextMessage, BinaryMessage, inflate
    )
    return end, events


def test_scan_inflates_whole_compressed_frames() -> None:
    inflate = Inflater({b"t": "héllo".encode(), b"b": b"\x00\xffbinary"})
    buf = (
        wire_frame(1, b"t", rsv=RSV1, mask=MASK)
        + wire_frame(2, b"b", rsv=RSV1, mask=OTHER_MASK)
        + wire_frame(2, b"plain", mask=MASK)
    )
    assert scan_inflating(buf, inflate) == (
        len(buf),
        [TextMessage("héllo"), BinaryMessage(b"\x00\xffbinary"), BinaryMessage(b"plain")],
    )
    assert inflate.calls == [b"t", b"b"]  # unmasked before inflating


def test_scan_bounds_compressed_frames_by_inflate_not_max_size() -> None:
    payload = pattern(300)
    inflate = Inflater({payload: b"small"})
    buf = wire_frame(2, payload, rsv=RSV1, mask=MASK)
    assert scan_inflating(buf, inflate, max_size=10) == (len(buf), [BinaryMessage(b"small")])


def test_scan_without_inflate_stops_at_a_compressed_frame() -> None:
    plain = wire_frame(2, b"plain", mask=MASK)
    buf = plain + wire_frame(2, b"b", rsv=RSV1, mask=MASK)
    assert scan(buf) == (len(plain), [BinaryMessage(b"plain")])
    assert scan_inflating(buf, None) == (len(plain), [BinaryMessage(b"plain")])


@pytest.mark.parametrize(
    "frame",
    [
        wire_frame(2, b"b", rsv=RSV1 | 0b010, mask=MASK),  # RSV2 too
        wire_frame(2, b"b", rsv=RSV1 | 0b001, mask=MASK),  # RSV3 too
        wire_frame(2, b"b", rsv=RSV1, fin=False, mask=MASK),  # a first fragment
        wire_frame(0, b"b", rsv=RSV1, mask=MASK),  # a continuation
        wire_frame(9, b"b", rsv=RSV1, mask=MASK),  # a control frame
        wire_frame(2, b"b", rsv=RSV1),  # unmasked from a client
        wire_frame(2, b"b", rsv=RSV1, mask=MASK)[:-1],  # not whole yet
    ],
    ids=["rsv2", "rsv3", "not-fin", "continuation", "ping", "unmasked", "partial"],
)
def test_scan_leaves_other_rsv1_frames_to_the_caller(frame: bytes) -> None:
    inflate = Inflater({})
    assert scan_inflating(frame, inflate) == (0, [])
    assert inflate.calls == []


def test_scan_propagates_what_inflate_raises_after_the_messages_before() -> None:
    inflate = Inflater({b"bad": ValueError("not deflate")})
    events: list[Event] = []
    buf = wire_frame(2, b"ok", mask=MASK) + wire_frame(2, b"bad", rsv=RSV1, mask=MASK)
    with pytest.raises(ValueError, match="not deflate"):
        speedups.scan_frames(buf, 0, True, BIG, events, TextMessage, BinaryMessage, inflate)
    assert events == [BinaryMessage(b"ok")]


@pytest.mark.parametrize("bad", INVALID_UTF8)
def test_scan_raises_for_invalid_utf8_once_inflated(bad: bytes) -> None:
    # Not left to the caller: the decompressor has already taken the frame.
    inflate = Inflater({b"t": b"ok " + bad})
    with pytest.raises(UnicodeDecodeError):
        scan_inflating(wire_frame(1, b"t", rsv=RSV1, mask=MASK), inflate)


def test_scan_wants_bytes_from_inflate() -> None:
    inflate = Inflater({b"t": bytearray(b"x")})
    with pytest.raises(TypeError, match="inflate must return bytes"):
        scan_inflating(wire_frame(1, b"t", rsv=RSV1, mask=MASK), inflate)
