"""Tests for airsocket.protocol.zlib_streams and the airsocket._deflate_speedups extension.

Every behaviour is checked on the pure-Python streams and, when it was
built, on the C ones; both must give the same bytes.
"""

from __future__ import annotations

import os
import threading
import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airsocket.protocol import zlib_streams
from airsocket.protocol.zlib_streams import DeflaterPython, InflaterPython

from .helpers import speedups_flag

TAIL = b"\x00\x00\xff\xff"
TEXT = b'{"id": 12345, "name": "airsocket", "tags": ["a", "b", "c"], "ok": true}' * 60


def c_module() -> Any:
    try:
        import airsocket._deflate_speedups as module
    except ImportError:
        return None
    return module


C = c_module()
IMPLS = [pytest.param((DeflaterPython, InflaterPython), id="python")]
if C is not None:
    IMPLS.append(pytest.param((C.Deflater, C.Inflater), id="c"))


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    pair: tuple[Any, Any] = request.param
    return pair


def zlib_reference(chunks: list[tuple[bytes, int]], wbits: int = 15) -> list[bytes]:
    """What Python's zlib writes for each (message, flush mode), tail stripped."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -wbits, 8)
    out = []
    for data, mode in chunks:
        whole = compressor.compress(data) + compressor.flush(mode)
        out.append(whole[:-4] if whole else whole)
    return out


# -- Deflater ---------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True])
def test_compress_is_zlib_output_without_the_tail(impl: tuple[Any, Any], full: bool) -> None:
    deflater = impl[0](1, 15, 8)
    mode = zlib.Z_FULL_FLUSH if full else zlib.Z_SYNC_FLUSH
    messages = [TEXT, b"x", TEXT[:100], bytes(range(256)) * 64]
    got = [deflater.compress(m, full) for m in messages]
    assert got == zlib_reference([(m, mode) for m in messages])


def test_full_flush_output_equals_a_fresh_compressor(impl: tuple[Any, Any]) -> None:
    # RFC 7692 7.1.1.1: without context takeover each message starts with an
    # empty window, which is why one emptied compressor may be shared.
    deflater = impl[0](1, 15, 8)
    deflater.compress(TEXT, True)
    assert deflater.compress(TEXT, True) == impl[0](1, 15, 8).compress(TEXT, True)


def test_sync_flush_keeps_the_window(impl: tuple[Any, Any]) -> None:
    deflater = impl[0](1, 15, 8)
    first = deflater.compress(TEXT, False)
    assert len(deflater.compress(TEXT, False)) < len(first)


def test_empty_message(impl: tuple[Any, Any]) -> None:
    deflater = impl[0](1, 12, 5)
    # An empty stored block, stripped: one octet, also right after a flush
    # (where zlib alone writes nothing). An empty payload would leave the
    # peer's inflater inside the stored block its 00 00 ff ff opens.
    for full in (False, False, True, True, False):
        assert deflater.compress(b"", full) == b"\x00"
    inflater = impl[1](12)
    assert inflater.inflate(b"\x00", True, 10) == b""
    assert inflater.inflate(deflater.compress(TEXT, False), True, 1 << 20) == TEXT


def test_accepts_any_bytes_like(impl: tuple[Any, Any]) -> None:
    expected = impl[0](1, 15, 8).compress(TEXT, True)
    for value in (bytearray(TEXT), memoryview(TEXT), memoryview(b"??" + TEXT)[2:]):
        assert impl[0](1, 15, 8).compress(value, True) == expected


def test_large_message_round_trip(impl: tuple[Any, Any]) -> None:
    # Over the size from which the C version releases the GIL; incompressible
    # data makes the output outgrow a guessed buffer.
    data = os.urandom(300_000) + TEXT * 50
    deflater, inflater = impl[0](6, 15, 9), impl[1](15)
    reference = zlib.compressobj(6, zlib.DEFLATED, -15, 9)
    out = deflater.compress(data, False)
    assert out + TAIL == reference.compress(data) + reference.flush(zlib.Z_SYNC_FLUSH)
    assert inflater.inflate(out, True, len(data) + 1) == data


@pytest.mark.parametrize("wbits", [8, 16, -15])
def test_window_bits_out_of_range(impl: tuple[Any, Any], wbits: int) -> None:
    with pytest.raises(ValueError):
        impl[0](1, wbits, 8)
    with pytest.raises(ValueError):
        impl[1](wbits)


@pytest.mark.parametrize(("level", "memlevel"), [(10, 8), (-2, 8), (1, 0), (1, 10)])
def test_bad_level_or_memlevel(impl: tuple[Any, Any], level: int, memlevel: int) -> None:
    with pytest.raises(ValueError):
        impl[0](level, 15, memlevel)


def test_not_bytes_like(impl: tuple[Any, Any]) -> None:
    with pytest.raises(TypeError):
        impl[0](1, 15, 8).compress("text", True)
    with pytest.raises(TypeError):
        impl[1](15).inflate("text", True, 10)


# -- Inflater ---------------------------------------------------------------


def compressed(data: bytes, wbits: int = 15) -> bytes:
    return zlib_reference([(data, zlib.Z_SYNC_FLUSH)], wbits)[0]


def test_inflate_whole_message(impl: tuple[Any, Any]) -> None:
    inflater = impl[1](15)
    assert inflater.inflate(compressed(TEXT), True, 1 << 20) == TEXT
    assert not inflater.eof


def test_inflate_frame_by_frame(impl: tuple[Any, Any]) -> None:
    # Fragments are fed without the tail; the last one appends it.
    data = compressed(TEXT)
    inflater = impl[1](15)
    pieces = [data[:10], data[10:11], b"", data[11:]]
    out = b"".join(inflater.inflate(p, i == 3, 1 << 20) for i, p in enumerate(pieces))
    assert out == TEXT


def test_context_carries_over_between_messages(impl: tuple[Any, Any]) -> None:
    deflater, inflater = impl[0](1, 15, 8), impl[1](15)
    for _ in range(3):
        assert inflater.inflate(deflater.compress(TEXT, False), True, 1 << 20) == TEXT


def test_limit_is_never_exceeded(impl: tuple[Any, Any]) -> None:
    # A bomb: 8 MiB of zeros; the inflater stops at the limit.
    bomb = compressed(bytes(8 << 20))
    inflater = impl[1](15)
    assert len(inflater.inflate(bomb, True, 1000)) == 1000
    assert len(impl[1](15).inflate(bomb, True, 1)) == 1


def test_output_exactly_at_the_limit_minus_one(impl: tuple[Any, Any]) -> None:
    assert impl[1](15).inflate(compressed(TEXT), True, len(TEXT) + 1) == TEXT
    assert len(impl[1](15).inflate(compressed(TEXT), True, len(TEXT))) == len(TEXT)


def test_limit_below_one(impl: tuple[Any, Any]) -> None:
    with pytest.raises(ValueError):
        impl[1](15).inflate(compressed(TEXT), True, 0)


def test_invalid_data_raises_zlib_error(impl: tuple[Any, Any]) -> None:
    with pytest.raises(zlib.error, match="while decompressing data"):
        impl[1](15).inflate(b"\xff\xff\xff\xff", True, 1 << 20)


def test_final_block_then_padding(impl: tuple[Any, Any]) -> None:
    # RFC 7692 7.2.3.4: a message may end in a BFINAL block; what follows is
    # skipped, and so is every later input.
    finished = zlib.compressobj(1, zlib.DEFLATED, -15)
    data = finished.compress(b"Hello") + finished.flush(zlib.Z_FINISH)
    inflater = impl[1](15)
    assert inflater.inflate(data + b"\x00", True, 100) == b"Hello"
    assert inflater.eof
    assert inflater.inflate(compressed(TEXT), True, 1 << 20) == b""


def test_window_of_nine_bits_inflates_its_own_output(impl: tuple[Any, Any]) -> None:
    deflater, inflater = impl[0](1, 9, 8), impl[1](9)
    assert inflater.inflate(deflater.compress(TEXT, False), True, 1 << 20) == TEXT


@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=5), st.booleans())
def test_c_and_python_agree(messages: list[bytes], full: bool) -> None:
    if C is None:
        pytest.skip("the C extension was not built")
    py_d, c_d = DeflaterPython(1, 12, 5), C.Deflater(1, 12, 5)
    py_i, c_i = InflaterPython(12), C.Inflater(12)
    for message in messages:
        out = c_d.compress(message, full)
        assert out == py_d.compress(message, full)
        if out:
            assert c_i.inflate(out, True, 1 << 16) == py_i.inflate(out, True, 1 << 16) == message


def test_a_stream_in_use_by_another_thread_refuses() -> None:
    if C is None:
        pytest.skip("the C extension was not built")
    # The GIL is released from 64 KiB on; a second thread calling the same
    # object meanwhile must get an error, not corrupt zlib's state.
    deflater = C.Deflater(9, 15, 9)
    data = os.urandom(4 << 20)
    errors: list[BaseException] = []
    started = threading.Event()

    def compress_while_the_other_runs() -> None:
        started.wait()
        for _ in range(200_000):
            try:
                deflater.compress(b"x", False)
            except RuntimeError as exc:
                errors.append(exc)
                return

    other = threading.Thread(target=compress_while_the_other_runs)
    other.start()
    started.set()
    try:
        for _ in range(10):
            deflater.compress(data, False)
            if errors:
                break
    finally:
        other.join()
    assert errors, "the other thread never saw the stream busy"
    assert "in use by another thread" in str(errors[0])


# -- selection --------------------------------------------------------------


def test_names_are_consistent_with_flag() -> None:
    if zlib_streams.SPEEDUPS:
        assert C is not None
        assert zlib_streams.Deflater is C.Deflater
        assert zlib_streams.Inflater is C.Inflater
    else:
        assert zlib_streams.Deflater is DeflaterPython
        assert zlib_streams.Inflater is InflaterPython


def import_flag(value: str | None, prelude: str = "") -> str:
    return speedups_flag("airsocket.protocol.zlib_streams", value, prelude)


def test_env_switch_disables() -> None:
    assert import_flag("1") == "False"


def test_env_switch_unset() -> None:
    if C is None:
        pytest.skip("the C extension was not built")
    assert import_flag(None) == "True"


def test_missing_extension_falls_back() -> None:
    prelude = "import sys; sys.modules['airsocket._deflate_speedups'] = None; "
    assert import_flag(None, prelude) == "False"
