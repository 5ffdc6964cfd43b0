"""PayloadBuffer, C and pure Python: a payload filled in place, then handed over."""

from __future__ import annotations

import os
from typing import Any

import pytest

from airsocket.protocol.masking import PayloadBufferPython, apply_mask_python

from .helpers import traced_peak

MASK = b"\x37\xfa\x21\x3d"
MiB = 1 << 20


def buffer_classes() -> list[Any]:
    classes: list[Any] = [PayloadBufferPython]
    try:
        from airsocket._speedups import PayloadBuffer
    except ImportError:  # pragma: no cover - a build without the accelerator
        pass
    else:
        classes.append(PayloadBuffer)
    return classes


@pytest.fixture(params=buffer_classes(), ids=lambda cls: cls.__module__)
def cls(request: pytest.FixtureRequest) -> Any:
    return request.param


def test_write_with_and_without_mask_then_take(cls: Any) -> None:
    buffer = cls(10)
    buffer.write(0, b"abcd")
    buffer.write(4, apply_mask_python(b"efghij", MASK), MASK)
    assert buffer.take() == b"abcdefghij"


def test_read_into_the_view_then_unmask_in_place(cls: Any) -> None:
    data = bytes(range(100))
    buffer = cls(100)
    with buffer.view() as view:
        assert len(view) == 100 and not view.readonly
        view[:] = apply_mask_python(data, MASK)
    buffer.unmask(0, 37, MASK)
    turned = MASK[37 % 4 :] + MASK[: 37 % 4]  # the key lines up with byte 37
    buffer.unmask(37, 63, turned)
    assert buffer.take() == data


def test_take_while_a_view_is_held_hands_over_a_copy(cls: Any) -> None:
    buffer = cls(4)
    view = buffer.view()
    view[:] = b"abcd"
    taken = buffer.take()
    view[0:1] = b"X"  # the holder may still write: the bytes given away stay as they were
    assert taken == b"abcd"
    view.release()


@pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, 5), (3, 2), (0, -1)])
def test_unmask_outside_the_payload_is_refused(cls: Any, offset: int, length: int) -> None:
    buffer = cls(4)
    with pytest.raises(ValueError, match="past the end"):
        buffer.unmask(offset, length, MASK)


@pytest.mark.parametrize(("offset", "size"), [(-1, 1), (0, 5), (3, 2)])
@pytest.mark.parametrize("mask", [None, MASK])
def test_write_outside_the_payload_is_refused(
    cls: Any, offset: int, size: int, mask: bytes | None
) -> None:
    buffer = cls(4)
    buffer.write(0, b"abcd")
    with pytest.raises(ValueError, match="past the end"):
        buffer.write(offset, b"x" * size, mask)
    assert buffer.take() == b"abcd"


def test_nothing_works_after_take(cls: Any) -> None:
    buffer = cls(4)
    buffer.take()
    with pytest.raises(ValueError, match="taken"):
        buffer.write(0, b"a")
    with pytest.raises(ValueError, match="taken"):
        buffer.unmask(0, 1, MASK)
    with pytest.raises(ValueError, match="taken"):
        buffer.take()
    with pytest.raises((ValueError, BufferError), match="taken"):
        buffer.view()


def rotated(mask: bytes, offset: int) -> bytes:
    """The key that lines up with byte ``offset`` of the payload."""
    turn = offset & 3
    return mask[turn:] + mask[:turn]


def test_large_masked_writes_while_a_view_is_held(cls: Any) -> None:
    # As the connection writes: memoryviews of the bytes it read, at any
    # offset, while an event loop may still hold a view of the payload.
    data = bytes((i * 7 + 3) & 0xFF for i in range(200_003))
    masked = apply_mask_python(data, MASK)
    buffer = cls(len(data))
    held = buffer.view()
    offset = 0
    for size in (1, 70_001, 5, 65_537, 1_000, 3):
        buffer.write(offset, memoryview(masked)[offset : offset + size], rotated(MASK, offset))
        offset += size
    buffer.write(offset, bytearray(masked[offset:]), rotated(MASK, offset))
    held.release()
    assert buffer.take() == data


def test_large_unmask_in_place(cls: Any) -> None:
    data = bytes((i * 7 + 3) & 0xFF for i in range(150_001))
    buffer = cls(len(data))
    with buffer.view() as view:
        view[:] = apply_mask_python(data, MASK)
    for offset, size in ((0, 70_003), (70_003, 1), (70_004, 79_997)):
        buffer.unmask(offset, size, rotated(MASK, offset))
    assert buffer.take() == data


def test_filled_in_place_and_handed_over_without_a_copy(cls: Any) -> None:
    # The bytes object handed over is the one the writes filled: nothing
    # else the size of the payload is allocated (a buffer and a final copy
    # would peak at twice the payload).
    data = bytes(range(256)) * (4 * MiB // 256)
    masked = apply_mask_python(data, MASK)

    def fill_and_take() -> bytes:
        buffer = cls(len(data))
        for offset in range(0, len(data), 65536):  # 64 KiB reads, as a loop hands them over
            buffer.write(offset, memoryview(masked)[offset : offset + 65536], MASK)
        return buffer.take()

    taken, peak = traced_peak(fill_and_take)
    assert taken == data
    assert type(taken) is bytes
    assert peak < 1.25 * len(data)


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads Linux's /proc")
def test_a_new_buffer_commits_no_memory(cls: Any) -> None:
    # A header may announce a large payload that never comes: its buffer
    # takes memory only as data arrives.
    before = resident_bytes()
    buffer = cls(256 * MiB)
    buffer.write(0, b"x" * 100)
    assert resident_bytes() - before < 16 * MiB
    buffer.write(200 * MiB, b"y" * (8 * MiB))
    assert resident_bytes() - before >= 8 * MiB  # the measure sees what arrives
    del buffer
