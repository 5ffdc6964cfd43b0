"""PayloadBuffer, C and pure Python: a payload filled in place, then handed over."""

from __future__ import annotations

from typing import Any

import pytest

from airsocket.protocol.masking import PayloadBufferPython, apply_mask_python

MASK = b"\x37\xfa\x21\x3d"


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
