"""What the atheris targets share: handshake literals and the seed writer.

The targets run as scripts (``python fuzz/fuzz_frames.py CORPUS ...``);
``fuzz/run.sh`` runs each one for a bounded time.
"""

from __future__ import annotations

import hashlib
import pathlib
import sys
from collections.abc import Callable, Iterable

# RFC 6455 1.3's opening handshake, with a permessage-deflate offer so that
# the frames target can reach the inflating path too: request line, Host,
# Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version,
# Sec-WebSocket-Extensions, blank line.
REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"\r\n"
)
# The answer to that key: status line, Upgrade, Connection,
# Sec-WebSocket-Accept, blank line.
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)
NONCE = b"the sample nonce"  # base64: dGhlIHNhbXBsZSBub25jZQ==


def fixed_random(n: int) -> bytes:
    """The key of RFC 6455 1.3 and a constant mask: runs are reproducible."""
    return NONCE if n == 16 else bytes(n)


def write_seeds_if_asked(seeds: Iterable[bytes]) -> None:
    """``--write-seeds DIR``: store the target's seed inputs and exit."""
    if len(sys.argv) == 3 and sys.argv[1] == "--write-seeds":
        folder = pathlib.Path(sys.argv[2])
        folder.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            (folder / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        sys.exit(0)


def fuzz(seeds: Iterable[bytes], test_one_input: Callable[[bytes], None]) -> None:
    """A target's entry point: write its seeds when asked, else fuzz it."""
    import atheris

    write_seeds_if_asked(seeds)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
