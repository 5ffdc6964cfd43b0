"""Send one message to many connections: :func:`broadcast`."""

from __future__ import annotations

from collections.abc import Iterable

from ..protocol.connection import State
from ..protocol.frames import Opcode, serialize_frame
from .connection import Connection

__all__ = ["broadcast"]


def broadcast(connections: Iterable[Connection], message: str | bytes) -> int:
    """Send ``message`` to every open connection, without waiting.

    The frame is built once and the same bytes are written to every server
    connection that does not compress; others (clients, which mask each
    frame, and permessage-deflate connections, whose compression context is
    their own) get a send of their own. Connections that are not open are
    skipped. Writes do not wait for slow readers: a connection whose buffer
    is over ``write_limit`` keeps buffering (bounded by the peer's close or
    its ``close_timeout``), so a slow client cannot stall the others.

    Returns:
        How many connections the message was sent to.
    """
    if isinstance(message, str):
        opcode, payload = Opcode.TEXT, message.encode()
    else:
        opcode, payload = Opcode.BINARY, bytes(message)
    frame: bytes | None = None
    sent = 0
    for connection in connections:
        engine = connection.engine
        core = engine.core
        if core.takes_prepared:
            if frame is None:
                frame = serialize_frame(opcode, payload)  # once, for all of them
            engine.send_prepared(frame)
        elif core.state is State.OPEN:
            engine.send(message)
        else:
            continue
        sent += 1
    return sent
