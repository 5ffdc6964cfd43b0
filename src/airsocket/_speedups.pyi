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
