"""Payload masking (RFC 6455 section 5.3).

Byte *i* of a masked payload is byte *i* of the data XORed with byte
``i % 4`` of the 4-byte masking key; masking and unmasking are the same
operation. The rest of airsocket calls :func:`apply_mask` (and
:func:`apply_mask_into`), which are the C versions from
``airsocket._speedups`` when that extension was built and is not disabled,
and the pure-Python versions here otherwise. :data:`SPEEDUPS` says which.

Set the environment variable ``AIRSOCKET_NO_SPEEDUPS`` to a non-empty value
other than ``"0"`` before the import to force the pure-Python versions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeAlias

__all__ = [
    "SPEEDUPS",
    "PayloadBuffer",
    "PayloadBufferPython",
    "apply_mask",
    "apply_mask_into",
    "apply_mask_into_python",
    "apply_mask_python",
    "frame",
    "scan_frames",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview

# Up to 16 bytes: the key is replicated by one multiplication and cut to
# length with a precomputed bit mask (about 300 ns a call, 8% less than
# building a repeated key with bytes * and a slice).
_SMALL = 16
_REPEAT4X4 = 0x00000001_00000001_00000001_00000001
_LOW_BITS = tuple((1 << (8 * n)) - 1 for n in range(_SMALL + 1))

# From 4 KiB on: four bytes.translate passes over the strided slices of a
# bytearray beat the big-int XOR (0.8-1.2 GB/s against 0.45 GB/s at 1 MiB,
# 0.6-1.0 against 0.33 GB/s at 16 MiB; the two are even at about 2 KiB).
_TRANSLATE_MIN = 4096
_IDENTITY = int.from_bytes(bytes(range(256)), "little")
_ONES = int.from_bytes(b"\x01" * 256, "little")


def _xor_table(k: int) -> bytes:
    """Return the ``bytes.translate`` table that XORs every byte with ``k``."""
    return (_IDENTITY ^ _ONES * k).to_bytes(256, "little")


def apply_mask_python(data: BytesLike, mask: bytes, /) -> bytes:
    """Return ``data`` XORed with the 4-byte masking key ``mask``.

    The pure-Python version of :func:`apply_mask`; the result is a new
    :class:`bytes` object of the same length (``b""`` for empty data).

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes long.
    """
    if len(mask) != 4:
        raise ValueError(f"mask must be 4 bytes long, got {len(mask)}")
    if type(data) is memoryview and data.itemsize != 1:
        data = data.cast("B")
    n = len(data)
    if n <= _SMALL:
        key = int.from_bytes(mask, "little") * _REPEAT4X4 & _LOW_BITS[n]
        return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")
    if n < _TRANSLATE_MIN:
        # The int.from_bytes XOR trick: three linear passes in C.
        keys = (mask * ((n + 3) >> 2))[:n]
        return (int.from_bytes(data, "little") ^ int.from_bytes(keys, "little")).to_bytes(
            n, "little"
        )
    out = bytearray(data)
    for i in range(4):
        out[i::4] = out[i::4].translate(_xor_table(mask[i]))
    return bytes(out)


def apply_mask_into_python(
    data: BytesLike, mask: bytes, out: bytearray | memoryview, offset: int = 0, /
) -> None:
    """Write ``data`` XORed with ``mask`` into ``out[offset:offset + len(data)]``.

    The pure-Python version of :func:`apply_mask_into`. ``out`` is a writable
    buffer with room for the data from ``offset``; it is never resized. It
    may overlap ``data``: the data is read in full before ``out`` is written.

    Raises:
        ValueError: ``mask`` is not 4 bytes long, ``offset`` is negative or
            ``out`` has too little room.
        TypeError: ``out`` is read-only.
    """
    masked = apply_mask_python(data, mask)
    with memoryview(out) as view, view.cast("B") as flat:
        if flat.readonly:
            raise TypeError("out must be a writable bytes-like object")
        if offset < 0:
            raise ValueError("offset must not be negative")
        end = offset + len(masked)
        if end > len(flat):
            room = max(len(flat) - offset, 0)
            raise ValueError(
                f"out has room for {room} bytes at offset {offset}, need {len(masked)}"
            )
        flat[offset:end] = masked


class PayloadBufferPython:
    """A payload of known size, filled by :meth:`write`, handed over by :meth:`take`.

    The pure-Python version of ``_speedups.PayloadBuffer``: a bytearray and a
    final copy, where the C version fills the very bytes object it hands over.
    """

    __slots__ = ("_buffer",)

    def __init__(self, size: int) -> None:
        self._buffer: bytearray | None = bytearray(size)

    def write(self, offset: int, data: BytesLike, mask: bytes | None = None, /) -> None:
        """Copy ``data`` to ``offset``, XORed with ``mask`` when one is given.

        Raises:
            ValueError: it does not fit, or the payload was already taken.
        """
        buffer = self._buffer
        if buffer is None:
            raise ValueError("the payload was already taken")
        if offset < 0 or offset + len(data) > len(buffer):
            raise ValueError("write past the end of the payload")
        if mask is None:
            buffer[offset : offset + len(data)] = data
        else:
            apply_mask_into(data, mask, buffer, offset)

    def view(self) -> memoryview:
        """Return a writable view of the whole payload, to read into.

        Raises:
            ValueError: the payload was already taken.
        """
        if self._buffer is None:
            raise ValueError("the payload was already taken")
        return memoryview(self._buffer)

    def unmask(self, offset: int, length: int, mask: bytes, /) -> None:
        """XOR ``length`` bytes from ``offset`` in place with ``mask``.

        Raises:
            ValueError: the range is not inside the payload, or it was taken.
        """
        buffer = self._buffer
        if buffer is None:
            raise ValueError("the payload was already taken")
        if offset < 0 or length < 0 or offset + length > len(buffer):
            raise ValueError("unmask past the end of the payload")
        with memoryview(buffer) as view:
            apply_mask_into(view[offset : offset + length], mask, buffer, offset)

    def take(self) -> bytes:
        """Return the payload as bytes and let go of it.

        Raises:
            ValueError: the payload was already taken.
        """
        buffer = self._buffer
        if buffer is None:
            raise ValueError("the payload was already taken")
        self._buffer = None
        return bytes(buffer)


def _speedups_allowed() -> bool:
    """Return whether ``AIRSOCKET_NO_SPEEDUPS`` leaves the C versions on."""
    return os.environ.get("AIRSOCKET_NO_SPEEDUPS", "") in ("", "0")


#: True when :func:`apply_mask` and :func:`apply_mask_into` are the C ones.
SPEEDUPS = False
apply_mask = apply_mask_python
apply_mask_into = apply_mask_into_python
PayloadBuffer: type[PayloadBufferPython] = PayloadBufferPython

if _speedups_allowed():
    try:
        from airsocket._speedups import PayloadBuffer as _CPayloadBuffer
        from airsocket._speedups import apply_mask as _c_apply_mask
        from airsocket._speedups import apply_mask_into as _c_apply_mask_into
    except ImportError:
        pass
    else:
        # C: ~23 GB/s at 1 MiB against ~0.8 GB/s pure (bench/micro_mask.py).
        apply_mask = _c_apply_mask
        apply_mask_into = _c_apply_mask_into
        # Large payloads unmasked straight into the message's own bytes:
        # see connection.py, "_continue_frame", for the figure.
        PayloadBuffer = _CPayloadBuffer  # type: ignore[assignment]
        SPEEDUPS = True

#: ``_speedups.scan_frames`` and ``_speedups.frame`` for connection.py's hot
#: path when the C versions are on, else None (also for an extension built
#: before they existed). Imported here, the one module allowed to import the
#: extension (pyproject.toml, import-linter contracts).
scan_frames: Callable[..., int] | None = None
frame: Callable[[int, BytesLike, bytes | None, bool], bytes] | None = None

if SPEEDUPS:
    try:
        from airsocket._speedups import frame as _c_frame
        from airsocket._speedups import scan_frames as _c_scan_frames
    except ImportError:
        pass
    else:
        scan_frames = _c_scan_frames
        frame = _c_frame
