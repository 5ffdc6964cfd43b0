"""The connection's role and states, and the end-of-stream marker.

Apart from :mod:`.connection` so that :mod:`.opening`, its opening-handshake
half, can use them too; both are re-exported by :mod:`.connection`.
"""

from __future__ import annotations

import enum
from typing import TypeAlias

__all__ = ["END_OF_STREAM", "Chunk", "Role", "State"]

#: A piece of ``data_to_send()``: bytes, or a bytearray the core made for that
#: output alone and never touches again (a large masked payload, in pieces).
#: Only END_OF_STREAM is ever empty.
Chunk: TypeAlias = bytes | bytearray

#: The marker in ``data_to_send()`` that asks the I/O layer to end the stream.
END_OF_STREAM = b""


class Role(enum.Enum):
    """Which end of the connection this is."""

    CLIENT = "client"
    SERVER = "server"


class State(enum.IntEnum):
    """The connection's state (RFC 6455 4 and 7)."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3
