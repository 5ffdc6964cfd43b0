"""Raw DEFLATE streams as permessage-deflate uses them: whole messages out, frames in.

:class:`Deflater` compresses one whole message per call and strips the
``00 00 ff ff`` its flush ends with (RFC 7692 7.2.1); :class:`Inflater`
inflates one frame's payload per call, appending ``00 00 ff ff`` after the
last frame of a message (7.2.2), and never returns more than a limit.
:mod:`airsocket.protocol.deflate` decides when and with what window; this
module only runs zlib.

The names are the C versions from ``airsocket._deflate_speedups`` when that
extension was built (it needs zlib's headers) and ``AIRSOCKET_NO_SPEEDUPS``
does not disable it, and the pure-Python ones below otherwise. Both give the
same bytes: they drive the same zlib. The C ones make one zlib call per
message each way where Python's zlib objects take two and a join (4 KiB of
JSON-like text at level 1, in process: compressing 8.35 -> 7.77 us,
inflating 3.70 -> 3.53 us).

Errors are :class:`zlib.error` from both.
"""

from __future__ import annotations

import zlib

from .masking import BytesLike, speedups_allowed

__all__ = ["SPEEDUPS", "Deflater", "DeflaterPython", "Inflater", "InflaterPython"]

# Z_SYNC_FLUSH and Z_FULL_FLUSH end the output with an empty stored block,
# whose last four octets these are (RFC 7692 7.2.1, 7.2.2).
_TAIL = b"\x00\x00\xff\xff"


def _check_wbits(wbits: int) -> None:
    # Raw DEFLATE windows zlib accepts both ways (8 is refused to compress).
    if not 9 <= wbits <= 15:
        raise ValueError(f"wbits must be 9 to 15, not {wbits}")


class DeflaterPython:
    """A raw DEFLATE compressor that takes one whole message per call.

    Args:
        level: zlib compression level (-1 to 9).
        wbits: window bits (9 to 15).
        memlevel: zlib memLevel (1 to 9).
    """

    __slots__ = ("_zlib",)

    def __init__(self, level: int, wbits: int, memlevel: int) -> None:
        _check_wbits(wbits)
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, -wbits, memlevel)

    def compress(self, data: BytesLike, full_flush: bool, /) -> bytes:
        """Compress ``data`` and flush; return it without the final ``00 00 ff ff``.

        ``full_flush`` flushes with Z_FULL_FLUSH, so the next message starts
        with an empty window; Z_SYNC_FLUSH otherwise. The result is never
        empty: ``b""`` is no valid compressed message.
        """
        head = self._zlib.compress(data)
        # compress() usually returns b"" and flush() everything, the tail
        # included: then the slice is the one copy (b"" + x is x).
        rest = self._zlib.flush(zlib.Z_FULL_FLUSH if full_flush else zlib.Z_SYNC_FLUSH)
        if rest[-4:] != _TAIL:
            raise zlib.error("the flush did not end with 00 00 ff ff")
        return head + rest[:-4]


class InflaterPython:
    """A raw DEFLATE decompressor fed one frame's payload per call.

    Args:
        wbits: window bits (9 to 15).
    """

    __slots__ = ("_zlib",)

    def __init__(self, wbits: int) -> None:
        _check_wbits(wbits)
        self._zlib = zlib.decompressobj(-wbits)

    @property
    def eof(self) -> bool:
        """True once a final (BFINAL) block was inflated."""
        return self._zlib.eof

    def inflate(self, data: BytesLike, fin: bool, limit: int, /) -> bytes:
        """Inflate ``data``, then ``00 00 ff ff`` when ``fin``; at most ``limit`` bytes.

        Returning ``limit`` bytes means there may be more. After a final
        block (:attr:`eof`) the input is skipped and ``b""`` returned.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if self._zlib.eof:
            return b""
        if fin:
            # Joined to the input, not inflated by a second call: copying the
            # compressed bytes is cheaper than joining two outputs (bench
            # "deflate": 15.0 -> 14.5 us a 4 KiB message, in process).
            data = (data if type(data) is bytes else bytes(data)) + _TAIL
        return self._zlib.decompress(data, limit)


#: True when :class:`Deflater` and :class:`Inflater` are the C versions.
SPEEDUPS = False
Deflater: type[DeflaterPython] = DeflaterPython
Inflater: type[InflaterPython] = InflaterPython

if speedups_allowed():
    try:
        from airsocket._deflate_speedups import Deflater as _CDeflater
        from airsocket._deflate_speedups import Inflater as _CInflater
    except ImportError:
        pass
    else:
        Deflater = _CDeflater  # type: ignore[assignment]
        Inflater = _CInflater  # type: ignore[assignment]
        SPEEDUPS = True
