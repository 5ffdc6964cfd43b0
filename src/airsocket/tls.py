"""TLS settings shared by the I/O layers (asyncio, AIR, blocking)."""

from __future__ import annotations

import ssl as ssl_module

from .protocol.exceptions import ArgumentError
from .protocol.options import Options
from .protocol.uri import WebSocketURI

__all__ = ["client_ssl_context"]


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
