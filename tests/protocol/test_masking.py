"""Tests for airsocket.protocol.masking and the airsocket._speedups extension."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airsocket.protocol import masking
from airsocket.protocol.masking import (
    apply_mask_into_python,
    apply_mask_python,
)

from .helpers import speedups_flag, traced_peak

MASK = b"\x8a\x3f\x00\xf1"
LARGE_SIZES = [1023, 4095, 4096, 4097, 65535, 65536, 65537, 1 << 20, (1 << 20) + 3]


def reference(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 5.3, literally."""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def payload(n: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


@pytest.fixture
def speedups() -> ModuleType:
    module: ModuleType = pytest.importorskip("airsocket._speedups")
    return module


def variants(data: bytes) -> list[bytes | bytearray | memoryview]:
    """The same bytes as bytes, bytearray, memoryview and an offset slice."""
    padded = bytearray(b"\xee" * 3 + data + b"\xee")
    return [data, bytearray(data), memoryview(data), memoryview(padded)[3 : 3 + len(data)]]


# -- pure Python ------------------------------------------------------------


@pytest.mark.parametrize("n", [*range(71), *LARGE_SIZES])
def test_python_matches_reference(n: int) -> None:
    data = payload(n)
    expected = reference(data, MASK)
    for value in variants(data):
        result = apply_mask_python(value, MASK)
        assert type(result) is bytes
        assert result == expected


@pytest.mark.parametrize("n", [65537, 4 << 20])
def test_a_large_payload_is_masked_into_the_bytes_returned(n: int) -> None:
    # 64 KiB at a time into the result: never the payload twice over (its
    # masked pieces and their join), whose pages the allocator faulted in
    # again call after call.
    data = payload(n)
    result, peak = traced_peak(lambda: apply_mask_python(data, MASK))
    assert result == reference(data, MASK)
    assert type(result) is bytes
    assert peak < n + (256 << 10)


def test_empty() -> None:
    assert apply_mask_python(b"", MASK) == b""
    assert masking.apply_mask(b"", MASK) == b""


@pytest.mark.parametrize("n", [64, 512, 4096, 70_000])
def test_python_multibyte_memoryview(n: int) -> None:
    data = payload(n)
    wide = memoryview(data).cast("I")
    assert apply_mask_python(wide, MASK) == reference(data, MASK)


@pytest.mark.parametrize("n", [32, 512, 4096, 70_000])
def test_python_two_dimensional_memoryview(n: int) -> None:
    # len() of a 2-D view counts rows, not bytes.
    data = payload(n)
    grid = memoryview(data).cast("B", (n // 16, 16))
    assert apply_mask_python(grid, MASK) == reference(data, MASK)


@pytest.mark.parametrize("n", [0, 17, 130, 5000])
def test_python_strided_memoryview(n: int) -> None:
    data = payload(2 * n)
    assert apply_mask_python(memoryview(data)[::2], MASK) == reference(data[::2], MASK)


@given(st.binary(max_size=10_000), st.binary(min_size=4, max_size=4))
def test_python_mask_twice_is_identity(data: bytes, mask: bytes) -> None:
    assert apply_mask_python(apply_mask_python(data, mask), mask) == data


@pytest.mark.parametrize("bad", [b"", b"abc", b"abcde", b"\x00" * 8])
def test_python_bad_mask(bad: bytes) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask_python(b"hello", bad)
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask_into_python(b"hello", bad, bytearray(5))


# -- C extension ------------------------------------------------------------


@pytest.mark.parametrize("n", [*range(71), *LARGE_SIZES])
def test_c_matches_python(speedups: ModuleType, n: int) -> None:
    data = payload(n)
    expected = apply_mask_python(data, MASK)
    for value in variants(data):
        result = speedups.apply_mask(value, MASK)
        assert type(result) is bytes
        assert result == expected


@pytest.mark.parametrize("start", range(9))
def test_c_misaligned_slices(speedups: ModuleType, start: int) -> None:
    buf = bytearray(payload(300))
    for n in (0, 1, 7, 8, 9, 31, 64, 200):
        view = memoryview(buf)[start : start + n]
        assert speedups.apply_mask(view, MASK) == reference(bytes(view), MASK)


def test_c_accepts_bytes_like_mask(speedups: ModuleType) -> None:
    data = payload(50)
    expected = reference(data, MASK)
    assert speedups.apply_mask(data, bytearray(MASK)) == expected
    assert speedups.apply_mask(data, memoryview(MASK)) == expected


@given(st.binary(max_size=10_000), st.binary(min_size=4, max_size=4))
def test_c_mask_twice_is_identity(data: bytes, mask: bytes) -> None:
    speedups = pytest.importorskip("airsocket._speedups")
    once = speedups.apply_mask(data, mask)
    assert once == apply_mask_python(data, mask)
    assert speedups.apply_mask(once, mask) == data


@pytest.mark.parametrize("bad", [b"", b"abc", b"abcde", b"\x00" * 8])
def test_c_bad_mask(speedups: ModuleType, bad: bytes) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask(b"hello", bad)
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask(b"hello", bytearray(bad))
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask_into(b"hello", bad, bytearray(5))


def test_c_bad_arguments(speedups: ModuleType) -> None:
    with pytest.raises(TypeError):
        speedups.apply_mask("text", MASK)
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data")
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data", MASK, 0)
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data", 1234)


def test_c_rejects_non_contiguous(speedups: ModuleType) -> None:
    with pytest.raises((TypeError, BufferError, ValueError)):
        speedups.apply_mask(memoryview(payload(16))[::2], MASK)


# -- apply_mask_into, both implementations ------------------------------------


def into_functions() -> list[Callable[..., None]]:
    functions: list[Callable[..., None]] = [apply_mask_into_python]
    try:
        from airsocket import _speedups
    except ImportError:
        pass
    else:
        functions.append(_speedups.apply_mask_into)
    return functions


INTO_SIZES = [0, 1, 5, 8, 17, 64, 200, 767, 768, 4096, 65536, 65537, 65539, 70_000, 131_075]


@pytest.mark.parametrize("into", into_functions())
@pytest.mark.parametrize("n", INTO_SIZES)
@pytest.mark.parametrize("offset", [0, 1, 3, 8])
def test_into(into: Callable[..., None], n: int, offset: int) -> None:
    data = payload(n)
    for value in variants(data):
        out = bytearray(b"\xaa" * (offset + n + 5))
        into(value, MASK, out, offset)
        assert out[:offset] == b"\xaa" * offset
        assert out[offset : offset + n] == reference(data, MASK)
        assert out[offset + n :] == b"\xaa" * 5
        assert len(out) == offset + n + 5


@pytest.mark.parametrize("into", into_functions())
@pytest.mark.parametrize("n", INTO_SIZES)
def test_into_memoryview_out(into: Callable[..., None], n: int) -> None:
    data = payload(n)
    for value in variants(data):
        out = bytearray(b"\xaa" * (n + 7))
        into(value, MASK, memoryview(out)[2:], 3)
        assert out == b"\xaa" * 5 + reference(data, MASK) + b"\xaa" * 2


@pytest.mark.parametrize("into", into_functions())
@pytest.mark.parametrize("n", [16, 4096, 65537, 65538, 65539, 65540, 131_073])
def test_into_exported_bytearray(into: Callable[..., None], n: int) -> None:
    # Chunks are never so short that a lane is empty: an empty strided slice
    # assignment would try to resize the exported bytearray.
    data = payload(n)
    out = bytearray(n + 2)
    with memoryview(out):
        for value in (data, memoryview(data)):
            into(value, MASK, out, 1)
            assert out[1 : n + 1] == reference(data, MASK)


@pytest.mark.parametrize("into", into_functions())
@pytest.mark.parametrize("n", [32, 4096, 70_000])
def test_into_other_formats(into: Callable[..., None], n: int) -> None:
    data = payload(n)
    for value in (memoryview(data).cast("I"), memoryview(data).cast("B", (n // 16, 16))):
        out = bytearray(n + 1)
        into(value, MASK, out, 1)
        assert out[1:] == reference(data, MASK)


@pytest.mark.parametrize("into", into_functions())
def test_into_default_offset_and_memoryview_out(into: Callable[..., None]) -> None:
    data = payload(33)
    out = bytearray(40)
    into(data, MASK, memoryview(out)[2:35])
    assert out[2:35] == reference(data, MASK)
    wide = bytearray(40)
    into(data[:32], MASK, memoryview(wide).cast("I"))
    assert wide[:32] == reference(data[:32], MASK)


@pytest.mark.parametrize("into", into_functions())
@pytest.mark.parametrize("shift", [-5, -1, 0, 1, 5])
@pytest.mark.parametrize("n", [100, 1000, 70_000])
@pytest.mark.parametrize("view_out", [False, True], ids=["bytearray", "memoryview"])
def test_into_overlap(into: Callable[..., None], shift: int, n: int, view_out: bool) -> None:
    buf = bytearray(payload(n + 20))
    original = bytes(buf)
    src_start = 10
    out = memoryview(buf) if view_out else buf
    into(memoryview(buf)[src_start : src_start + n], MASK, out, src_start + shift)
    expected = bytearray(original)
    expected[src_start + shift : src_start + shift + n] = reference(
        original[src_start : src_start + n], MASK
    )
    assert buf == expected


@pytest.mark.parametrize("into", into_functions())
@pytest.mark.parametrize("n", [100, 1000, 70_000])
def test_into_itself(into: Callable[..., None], n: int) -> None:
    buf = bytearray(payload(n))
    into(buf, MASK, buf)
    assert buf == reference(payload(n), MASK)


@pytest.mark.parametrize("into", into_functions())
def test_into_errors(into: Callable[..., None]) -> None:
    data = payload(10)
    with pytest.raises(ValueError, match="room"):
        into(data, MASK, bytearray(9))
    with pytest.raises(ValueError, match="room"):
        into(data, MASK, bytearray(12), 3)
    with pytest.raises(ValueError, match="room"):
        into(data, MASK, bytearray(12), 100)
    with pytest.raises(ValueError, match="negative"):
        into(data, MASK, bytearray(12), -1)
    with pytest.raises(TypeError):
        into(data, MASK, b"\x00" * 10)
    with pytest.raises(TypeError):
        into(data, MASK, memoryview(b"\x00" * 10))
    out = bytearray(9)
    with pytest.raises(ValueError):
        into(data, MASK, out)
    assert out == bytearray(9)


# -- selection --------------------------------------------------------------


def test_apply_mask_is_consistent_with_flag() -> None:
    if masking.SPEEDUPS:
        speedups = pytest.importorskip("airsocket._speedups")
        assert masking.apply_mask is speedups.apply_mask
        assert masking.apply_mask_into is speedups.apply_mask_into
    else:
        assert masking.apply_mask is apply_mask_python
        assert masking.apply_mask_into is apply_mask_into_python


def import_flag(value: str | None, prelude: str = "") -> str:
    return speedups_flag("airsocket.protocol.masking", value, prelude)


@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_env_switch_disables(value: str) -> None:
    assert import_flag(value) == "False"


@pytest.mark.parametrize("value", [None, "", "0"])
def test_env_switch_unset(value: str | None) -> None:
    pytest.importorskip("airsocket._speedups")
    assert import_flag(value) == "True"


def test_missing_extension_falls_back() -> None:
    # A None entry in sys.modules makes the import raise ImportError.
    assert import_flag(None, "import sys; sys.modules['airsocket._speedups'] = None; ") == "False"
