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

import io
import os
from collections.abc import Callable, Iterator
from typing import TypeAlias, TypeVar

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
    "speedups_allowed",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview

_V = TypeVar("_V")


class _Memo(dict[int, _V]):
    """A dict that makes a missing value with the given function and keeps it."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[int], _V], /) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: int, /) -> _V:
        value = self[key] = self._make(key)
        return value


def _repeat_words(words: int, /) -> int:
    """Return the int whose ``words`` 32-bit little-endian words are all 1."""
    return int.from_bytes(b"\x01\x00\x00\x00" * words, "little")


# Up to 128 bytes: the key is the mask times a precomputed repunit of 32-bit
# words, cut to length with a precomputed bit mask: one multiplication where
# the key was built as bytes and converted (64 B: 467 -> 409 ns a call,
# 128 B: 528 -> 453 ns; 16 B and less stay at about 330 ns). The two tables
# take 26 KiB.
_SMALL = 128
_REPEAT = tuple(_repeat_words((n + 3) >> 2) for n in range(_SMALL + 1))
_LOW_BITS = tuple((1 << (8 * n)) - 1 for n in range(_SMALL + 1))

# Below 768 bytes: the same with whole words, the bytes past the data sliced
# off the result as bit masks that long are not kept (256 B: 812 -> 737 ns,
# 512 B: 1244 -> 1023 ns). The repunits are made as lengths come up, 160 of
# them at most (83 KiB).
_REPEAT_WORDS: _Memo[int] = _Memo(_repeat_words)

# From 768 bytes: four bytes.translate passes over the strided slices of a
# bytearray beat the big-int XOR (1 KiB: 1.78 against 1.85 us, 4 KiB: 4.0
# against 5.6 us; 1 MiB: 1.2 against 0.45 GB/s). Every step stays on
# bytearrays: bytearray.translate takes a third less time than
# bytes.translate, and a bytearray slice assignment copies any other value
# into a new bytearray first. The 256 tables (81 KiB) are kept as mask bytes
# come up: making four was 1.3 us of a 5.2 us call at 4 KiB (4 KiB: 5.2 ->
# 4.0 us; 1 KiB: 2.25 -> 1.78 us, where the big-int XOR was used before).
_TRANSLATE_MIN = 768
_IDENTITY = int.from_bytes(bytes(range(256)), "little")
_ONES = int.from_bytes(b"\x01" * 256, "little")
_XOR_TABLES: _Memo[bytes] = _Memo(lambda k: (_IDENTITY ^ _ONES * k).to_bytes(256, "little"))

# Above 64 KiB, data is masked 64 KiB at a time: a copy of the whole payload
# next to the result made the allocator give memory back and fault it in
# again on every call (480 page faults a call at 1 MiB, none in 64 KiB
# pieces: 1 MiB 1317 -> 867 us, 16 MiB 1805 -> 960 us). 16 and 32 KiB
# pieces are 5% slower; 256 KiB ones fault again.
_CHUNK = 64 << 10


def _mask_lanes(src: bytearray, mask: bytes, dst: bytearray, offset: int, /) -> None:
    """Write ``src`` XORed with ``mask`` to ``dst[offset:]``, lane by lane.

    ``src`` is at least 4 bytes long (see :func:`_spans`). ``dst`` may be
    ``src`` itself at offset 0, but no other buffer sharing its memory: lane 0
    is written before lanes 1 to 3 are read.
    """
    end = offset + len(src)
    tables = _XOR_TABLES
    dst[offset:end:4] = src[0::4].translate(tables[mask[0]])
    dst[offset + 1 : end : 4] = src[1::4].translate(tables[mask[1]])
    dst[offset + 2 : end : 4] = src[2::4].translate(tables[mask[2]])
    dst[offset + 3 : end : 4] = src[3::4].translate(tables[mask[3]])


def _spans(n: int, step: int, /) -> Iterator[tuple[int, int]]:
    """Cut ``range(n)`` in spans of ``step`` bytes, the last one 4 to ``step + 3`` long.

    No span is shorter than 4 bytes (given ``n >= 4``): an empty lane would be
    an empty strided slice assignment, which resizes a bytearray (BufferError
    while it is exported).
    """
    start = 0
    while start < n:
        stop = start + step
        if stop > n - 4:
            stop = n
        yield start, stop
        start = stop


def _flat(data: BytesLike, mask: bytes, /) -> tuple[BytesLike, int]:
    """Check the mask; return the data as single bytes, and its length."""
    if len(mask) != 4:
        raise ValueError(f"mask must be 4 bytes long, got {len(mask)}")
    n = len(data)
    if type(data) is memoryview and data.nbytes != n:
        # Another format or shape: len() does not count bytes.
        data = data.cast("B")
        n = len(data)
    return data, n


def apply_mask_python(data: BytesLike, mask: bytes, /) -> bytes:
    """Return ``data`` XORed with the 4-byte masking key ``mask``.

    The pure-Python version of :func:`apply_mask`; the result is a new
    :class:`bytes` object of the same length (``b""`` for empty data).

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes long.
    """
    if type(data) is bytes and len(mask) == 4:
        n = len(data)  # a frame's payload, as usual: no call of _flat (see MaskerPython.frame)
    else:
        data, n = _flat(data, mask)
    if n <= _SMALL:
        key = int.from_bytes(mask, "little") * _REPEAT[n] & _LOW_BITS[n]
        return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")
    if n < _TRANSLATE_MIN:
        words = (n + 3) >> 2
        key = int.from_bytes(mask, "little") * _REPEAT_WORDS[words]
        masked = (int.from_bytes(data, "little") ^ key).to_bytes(4 * words, "little")
        return masked[:n] if n & 3 else masked
    if n <= _CHUNK:
        # _mask_lanes inline: 120 ns less a call (768 B: 1.59 -> 1.46 us).
        out = bytearray(data)
        tables = _XOR_TABLES
        out[0::4] = out[0::4].translate(tables[mask[0]])
        out[1::4] = out[1::4].translate(tables[mask[1]])
        out[2::4] = out[2::4].translate(tables[mask[2]])
        out[3::4] = out[3::4].translate(tables[mask[3]])
        return bytes(out)
    # Masked 64 KiB at a time into the bytes object returned (see
    # PayloadBufferPython): where its pieces were joined, the payload was
    # held twice and the allocator faulted the pages of one copy in again
    # at many calls (1 MiB: 3.0-3.3 -> 1.7 ms in some processes, the same
    # in others; 16 MiB: 4000 page faults a call -> none).
    buffer = io.BytesIO(bytes(n))
    with buffer.getbuffer() as view, memoryview(data) as source:
        _mask_by_pieces(source, mask, view)
    return buffer.getvalue()


def _mask_by_pieces(source: memoryview, mask: bytes, target: memoryview, /) -> None:
    """Write ``source`` XORed with ``mask`` to the start of ``target``, 64 KiB at a time.

    ``source`` is at least 4 bytes long. Each piece is read from it before it
    is written: ``target`` may be ``source`` itself (masking in place).
    """
    for start, stop in _spans(len(source), _CHUNK):
        piece = bytearray(source[start:stop])
        _mask_lanes(piece, mask, piece, 0)
        target[start:stop] = piece


def apply_mask_into_python(
    data: BytesLike, mask: bytes, out: bytearray | memoryview, offset: int = 0, /
) -> None:
    """Write ``data`` XORed with ``mask`` into ``out[offset:offset + len(data)]``.

    The pure-Python version of :func:`apply_mask_into`. ``out`` is a writable
    buffer with room for the data from ``offset``; it is never resized. It
    may overlap ``data``: the result is as if the data were read in full
    before ``out`` is written.

    Raises:
        ValueError: ``mask`` is not 4 bytes long, ``offset`` is negative or
            ``out`` has too little room.
        TypeError: ``out`` is read-only.
    """
    data, n = _flat(data, mask)
    if type(out) is not bytearray:
        with memoryview(out) as view, view.cast("B") as flat:
            if flat.readonly:
                raise TypeError("out must be a writable bytes-like object")
            _check_room(len(flat), offset, n)
            if n > _CHUNK and _unshared(data):
                # 64 KiB at a time, never the whole payload masked beside it.
                with memoryview(data) as source, flat[offset : offset + n] as target:
                    _mask_by_pieces(source, mask, target)
            else:
                flat[offset : offset + n] = apply_mask_python(data, mask)
        return
    # A bytearray is written to directly, without a memoryview (16 B: 803 ->
    # 622 ns) and, from 768 bytes, lane by lane from a copy of the data
    # instead of masking the copy in place and copying it again (1 MiB:
    # 1383 -> 800 us, 16 MiB: 1981 -> 860 us, 4 KiB: 5.9 -> 4.0 us).
    _check_room(len(out), offset, n)
    if n < _TRANSLATE_MIN:
        out[offset : offset + n] = apply_mask_python(data, mask)
    elif n > _CHUNK and _unshared(data):
        # Bytes cannot share memory with out: copied a chunk at a time.
        with memoryview(data) as source:
            for start, stop in _spans(n, _CHUNK):
                _mask_lanes(bytearray(source[start:stop]), mask, out, offset + start)
    else:
        # One copy of the data, which is also the snapshot that keeps any
        # overlap with out correct.
        _mask_lanes(bytearray(data), mask, out, offset)


def _unshared(data: BytesLike, /) -> bool:
    """Whether ``data`` is, or views, a bytes object: no writable buffer shares its memory."""
    return type(data) is bytes or (type(data) is memoryview and type(data.obj) is bytes)


def _check_room(size: int, offset: int, n: int, /) -> None:
    """Raise ValueError unless ``n`` bytes fit at ``offset`` in a buffer of ``size``."""
    if offset < 0:
        raise ValueError("offset must not be negative")
    if offset + n > size:
        room = max(size - offset, 0)
        raise ValueError(f"out has room for {room} bytes at offset {offset}, need {n}")


class PayloadBufferPython:
    """A payload of known size, filled by :meth:`write`, handed over by :meth:`take`.

    The pure-Python version of ``_speedups.PayloadBuffer``. Like it, it fills
    the very bytes object it hands over: an :class:`io.BytesIO` made on
    ``bytes(size)`` writes into that object, and ``getvalue()`` returns it
    uncopied once no view of it is held. ``bytes(size)`` is calloc'ed, so its
    fresh pages are committed only as data arrives, not for a header that
    may never be followed by data. Where a list of parts was joined, the
    message was held twice at its end and the allocator gave that memory
    back and faulted it in again for every message (no accelerator, bench
    "large1m": client 4.5-4.7 -> 2.8-3.2 ms a MiB, 480 faults a message ->
    none; server 4.3-4.6 -> 2.9-3.7).
    """

    __slots__ = ("_buffer", "_size")

    def __init__(self, size: int) -> None:
        self._buffer: io.BytesIO | None = io.BytesIO(bytes(size))
        self._size = size

    def _open(self) -> io.BytesIO:
        buffer = self._buffer
        if buffer is None:
            raise ValueError("the payload was already taken")
        return buffer

    def write(self, offset: int, data: BytesLike, mask: bytes | None = None, /) -> None:
        """Copy ``data`` to ``offset``, XORed with ``mask`` when one is given.

        Raises:
            ValueError: it does not fit, or the payload was already taken.
        """
        buffer = self._open()
        if offset < 0 or offset + len(data) > self._size:
            raise ValueError("write past the end of the payload")
        # Through a view, not BytesIO.write(), which refuses while the
        # transport still holds the view that view() handed out.
        with buffer.getbuffer() as view:
            if mask is None:
                view[offset : offset + len(data)] = data
            else:
                apply_mask_into(data, mask, view, offset)

    def view(self) -> memoryview:
        """Return a writable view of the whole payload, to read into.

        Raises:
            ValueError: the payload was already taken.
        """
        return self._open().getbuffer()

    def unmask(self, offset: int, length: int, mask: bytes, /) -> None:
        """XOR ``length`` bytes from ``offset`` in place with ``mask``.

        Raises:
            ValueError: the range is not inside the payload, or it was taken.
        """
        buffer = self._open()
        if offset < 0 or length < 0 or offset + length > self._size:
            raise ValueError("unmask past the end of the payload")
        with buffer.getbuffer() as view, view[offset : offset + length] as data:
            if length < _TRANSLATE_MIN:
                data[:] = apply_mask_python(data, mask)
            else:
                _mask_by_pieces(data, mask, data)  # in place, 64 KiB at a time

    def take(self) -> bytes:
        """Return the payload as bytes and let go of it.

        Raises:
            ValueError: the payload was already taken.
        """
        buffer = self._open()
        self._buffer = None
        # A copy only if a view of it is still held (say, by the event loop).
        return buffer.getvalue()


def speedups_allowed() -> bool:
    """Return whether ``AIRSOCKET_NO_SPEEDUPS`` leaves the C versions on."""
    return os.environ.get("AIRSOCKET_NO_SPEEDUPS", "") in ("", "0")


#: True when :func:`apply_mask` and :func:`apply_mask_into` are the C ones.
SPEEDUPS = False
apply_mask = apply_mask_python
apply_mask_into = apply_mask_into_python
PayloadBuffer: type[PayloadBufferPython] = PayloadBufferPython

if speedups_allowed():
    try:
        from airsocket._speedups import PayloadBuffer as _CPayloadBuffer
        from airsocket._speedups import apply_mask as _c_apply_mask
        from airsocket._speedups import apply_mask_into as _c_apply_mask_into
    except ImportError:
        pass
    else:
        # C: ~24 GB/s at 1 MiB against ~1.2 GB/s pure (bench/micro_mask.py).
        apply_mask = _c_apply_mask
        apply_mask_into = _c_apply_mask_into
        # Large payloads unmasked straight into the message's own bytes:
        # see connection.py, "_continue_frame", for the figure.
        PayloadBuffer = _CPayloadBuffer  # type: ignore[assignment]
        SPEEDUPS = True

#: ``_speedups.scan_frames`` and ``_speedups.frame`` for connection.py's hot
#: path when the C versions are on, else None (also for an extension built
#: before they existed). Imported here, the one module allowed to import the
#: extension besides http.py for ``split_head`` (pyproject.toml, import-linter
#: contracts).
scan_frames: Callable[..., int] | None = None
frame: Callable[[int, BytesLike, bytes | None, bool], bytes] | None = None
#: ``_speedups.Masker`` under the same condition, else None (see frames.Masker).
Masker: type | None = None

if SPEEDUPS:
    try:
        from airsocket._speedups import frame as _c_frame
        from airsocket._speedups import scan_frames as _c_scan_frames
    except ImportError:
        pass
    else:
        scan_frames = _c_scan_frames
        frame = _c_frame
    try:
        from airsocket._speedups import Masker as _CMasker
    except ImportError:
        pass
    else:
        Masker = _CMasker
