"""Optional C accelerator of airsocket: WebSocket payload masking.

Import :mod:`airsocket.protocol.masking` instead; it falls back to pure
Python when this extension is missing or disabled.
"""

def apply_mask(data: bytes | bytearray | memoryview, mask: bytes, /) -> bytes:
    """Return ``data`` XORed with the 4-byte masking key (RFC 6455 5.3)."""

def apply_mask_into(
    data: bytes | bytearray | memoryview,
    mask: bytes,
    out: bytearray | memoryview,
    offset: int = 0,
    /,
) -> None:
    """Write ``data`` XORed with ``mask`` into ``out[offset:offset + len(data)]``."""

class PayloadBuffer:
    """A payload of known size, filled by ``write`` and handed over by ``take``."""

    def __init__(self, size: int) -> None: ...
    def write(
        self, offset: int, data: bytes | bytearray | memoryview, mask: bytes | None = None, /
    ) -> None:
        """Copy ``data`` to ``offset``, XORed with ``mask`` when one is given."""

    def take(self) -> bytes:
        """Return the bytes object and let go of it."""
