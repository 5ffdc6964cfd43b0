"""TLS settings shared by the I/O layers (asyncio, AIR, blocking)."""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Iterator

from .protocol.exceptions import ArgumentError
from .protocol.options import Options
from .protocol.uri import WebSocketURI

__all__ = ["ENCRYPT_SIZE", "client_ssl_context", "plaintext_pieces"]

#: Plaintext handed to TLS at a time. Each piece's ciphertext is taken from
#: OpenSSL's memory BIO before the next piece goes in: the BIO never grows
#: past a piece, and the ciphertext comes in heap blocks the allocator
#: reuses. A whole megabyte went into a BIO grown by reallocation and came
#: out as a fresh megabyte, both faulted in afresh for every message (1 MiB
#: echo over TLS, client, 550-565 -> 55-65 page faults a message: blocking
#: 4.9-5.5 -> 3.3-3.8 ms a MiB, asyncio 4.0-4.2 -> 2.1-2.4, uvloop 3.7 ->
#: 2.85-2.9).
ENCRYPT_SIZE = 64 * 1024


def client_ssl_context(uri: WebSocketURI, options: Options) -> ssl_module.SSLContext | None:
    """The TLS context for ``uri``: the given one, a verifying default, or None.

    Raises:
        ArgumentError: an ``ssl`` context was given for a ws:// URL, or
            ``ssl`` is not an ``ssl.SSLContext``.
    """
    if not uri.secure:
        if options.ssl is not None:
            raise ArgumentError("ssl= was given for a ws:// URL; use wss://")
        return None
    if options.ssl is None:
        return ssl_module.create_default_context()
    if not isinstance(options.ssl, ssl_module.SSLContext):
        raise ArgumentError("ssl must be an ssl.SSLContext")
    return options.ssl


def plaintext_pieces(
    data: bytes | bytearray | memoryview,
) -> Iterator[bytes | bytearray | memoryview]:
    """Cut ``data`` into views of :data:`ENCRYPT_SIZE` bytes to encrypt one by one.

    Data no longer than that is yielded whole, as it is.
    """
    if len(data) <= ENCRYPT_SIZE:
        yield data
        return
    with memoryview(data) as view:
        for start in range(0, len(view), ENCRYPT_SIZE):
            yield view[start : start + ENCRYPT_SIZE]
