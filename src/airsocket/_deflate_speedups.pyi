"""Optional C accelerator of airsocket's permessage-deflate.

Import :mod:`airsocket.protocol.zlib_streams` instead; it falls back to
pure Python when this extension is missing or disabled.
"""

class Deflater:
    """A raw DEFLATE compressor whose ``compress`` takes one whole message."""

    def __init__(self, level: int, wbits: int, memlevel: int) -> None: ...
    def compress(self, data: bytes | bytearray | memoryview, full_flush: bool, /) -> bytes:
        """Compress and flush; return the output without its final 00 00 ff ff."""

class Inflater:
    """A raw DEFLATE decompressor fed one frame's payload per ``inflate``."""

    def __init__(self, wbits: int) -> None: ...
    @property
    def eof(self) -> bool:
        """True once a final (BFINAL) block was inflated."""
    def inflate(self, data: bytes | bytearray | memoryview, fin: bool, limit: int, /) -> bytes:
        """Inflate, then 00 00 ff ff when ``fin``; return at most ``limit`` bytes."""
