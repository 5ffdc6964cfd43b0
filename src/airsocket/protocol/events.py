"""What the protocol core emits: whole messages and connection milestones.

Plain ``__slots__`` classes (no dataclass machinery): one is built per
message on the hot path. The core never emits frames: fragments are
reassembled, text is decoded and validated, PONGs and close echoes are
queued, all before an event leaves the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .exceptions import InvalidHandshake, ProtocolError
    from .http import Request, Response

__all__ = [
    "BinaryMessage",
    "CloseReceived",
    "ConnectionFailed",
    "Event",
    "HandshakeFailed",
    "Opened",
    "Ping",
    "Pong",
    "RequestReceived",
    "TextMessage",
]


class Event:
    """Base class of every event the core emits."""

    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    __hash__ = None  # type: ignore[assignment]


class TextMessage(Event):
    """A complete text message, decoded from valid UTF-8."""

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data


class BinaryMessage(Event):
    """A complete binary message."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Ping(Event):
    """A PING arrived; its PONG is already queued in ``data_to_send()``."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Pong(Event):
    """A PONG arrived."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class CloseReceived(Event):
    """The peer's close frame arrived; the echo (if owed) is already queued.

    ``code`` is 1005 when the frame carried no code.
    """

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class ConnectionFailed(Event):
    """We failed the connection: a close frame with ``error.close_code`` is queued."""

    __slots__ = ("error",)

    def __init__(self, error: ProtocolError) -> None:
        self.error = error


class RequestReceived(Event):
    """Server: an upgrade request arrived; call ``accept()`` or ``reject()``.

    Only valid upgrades are handed up, unless ``options.process_request`` is
    set: then every well-formed HTTP request is, so that the hook can answer
    plain HTTP, and ``accept()`` answers an invalid one with its RFC error.
    """

    __slots__ = ("request",)

    def __init__(self, request: Request) -> None:
        self.request = request


class Opened(Event):
    """The opening handshake succeeded; the connection is OPEN."""

    __slots__ = ("response", "subprotocol")

    def __init__(self, subprotocol: str | None, response: Response) -> None:
        self.subprotocol = subprotocol
        self.response = response


class HandshakeFailed(Event):
    """The opening handshake failed; the connection is CLOSED.

    A server has queued its HTTP error response; ``response`` is the answer
    sent (server) or received (client), when there is one.
    """

    __slots__ = ("error", "response")

    def __init__(self, error: InvalidHandshake, response: Response | None) -> None:
        self.error = error
        self.response = response
