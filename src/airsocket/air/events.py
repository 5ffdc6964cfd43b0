"""The AIR event classes: :class:`Event` and the events a WebSocket dispatches.

Each class keeps the ActionScript constructor order (``type, bubbles,
cancelable``, then its own fields) so that ported code reads the same, and
names its type strings as class constants (``Event.CLOSE == "close"``).
There is no display list here, so ``bubbles`` is kept as data only: an event
is delivered to the listeners of the object that dispatches it.
"""

from __future__ import annotations

import socket as socket_module
from typing import Any

from ..asyncio.engine import Opcode

__all__ = [
    "ErrorEvent",
    "Event",
    "IOErrorEvent",
    "SecurityErrorEvent",
    "ServerSocketConnectEvent",
    "WebSocketEvent",
]


class Event:
    """The base event: a type string, its target, and a cancelable default.

    Args:
        type: the event type, e.g. :attr:`Event.CONNECT`.
        bubbles: kept as data; events are delivered to their target only.
        cancelable: whether :meth:`prevent_default` has an effect.

    Attributes:
        type: the event type.
        target: the object that dispatched the event (set by ``dispatch_event``).
        current_target: the object whose listeners are running.
        bubbles: as given.
        cancelable: as given.
    """

    __slots__ = ("_default_prevented", "bubbles", "cancelable", "current_target", "target", "type")

    #: Dispatched when a connection is established.
    CONNECT = "connect"
    #: Dispatched when the other party closed the connection, or it dropped.
    CLOSE = "close"

    def __init__(self, type: str, bubbles: bool = False, cancelable: bool = False) -> None:
        self.type = type
        self.bubbles = bubbles
        self.cancelable = cancelable
        self.target: Any = None
        self.current_target: Any = None
        self._default_prevented = False

    def prevent_default(self) -> None:
        """Cancel the default behaviour of a cancelable event (else do nothing)."""
        if self.cancelable:
            self._default_prevented = True

    def is_default_prevented(self) -> bool:
        """Whether :meth:`prevent_default` was called on this cancelable event."""
        return self._default_prevented

    def _fields(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} type={self.type!r}{self._fields()}>"


class WebSocketEvent(Event):
    """A message or control frame received by a WebSocket (``websocketData``).

    Args:
        type: :attr:`WebSocketEvent.DATA`.
        bubbles: kept as data.
        cancelable: kept as data.
        format: TEXT, BINARY, PING or PONG (an :class:`airsocket.Opcode`).
        data: the payload bytes (for TEXT, the UTF-8 bytes of ``string_data``).
        string_data: the text of a TEXT message, else None.

    Attributes:
        format: the :class:`airsocket.Opcode` of what arrived; compare it
            with ``WebSocket.fmtTEXT``... or read ``format.name``.
        string_data: the text of a TEXT message, else None.
    """

    __slots__ = ("_data", "format", "string_data")

    #: Dispatched for each message, PING and PONG received.
    DATA = "websocketData"

    def __init__(
        self,
        type: str = DATA,
        bubbles: bool = False,
        cancelable: bool = False,
        format: Opcode = Opcode.BINARY,
        data: bytes | None = None,
        string_data: str | None = None,
    ) -> None:
        super().__init__(type, bubbles, cancelable)
        self.format = format
        self.string_data = string_data
        self._data = data

    @property
    def data(self) -> bytes:
        """The payload as bytes; for TEXT, the UTF-8 encoding of ``string_data``."""
        data = self._data
        if data is None:
            # Encoded on first use: most text handlers only read string_data.
            data = self._data = self.string_data.encode() if self.string_data is not None else b""
        return data

    def _fields(self) -> str:
        shown = self.string_data if self.string_data is not None else self.data
        if len(shown) > 40:
            shown = shown[:40]
        return f" format={self.format.name} data={shown!r}"


class ErrorEvent(Event):
    """An event that reports an error: its ``text`` and ``error_id``.

    Args:
        type: the event type.
        bubbles: kept as data.
        cancelable: whether :meth:`prevent_default` has an effect.
        text: the error message.
        error_id: a number for the error (an ``errno`` value where there is one), else 0.
    """

    __slots__ = ("error_id", "text")

    #: Dispatched for an error that has no more specific type.
    ERROR = "error"

    def __init__(
        self,
        type: str = ERROR,
        bubbles: bool = False,
        cancelable: bool = False,
        text: str = "",
        error_id: int = 0,
    ) -> None:
        super().__init__(type, bubbles, cancelable)
        self.text = text
        self.error_id = error_id

    def _fields(self) -> str:
        return f" text={self.text!r} error_id={self.error_id}"


class IOErrorEvent(ErrorEvent):
    """A connection could not be made: refused, unreachable, DNS failure, timeout."""

    __slots__ = ()

    #: Dispatched when connecting fails at the network level.
    IO_ERROR = "ioError"

    def __init__(
        self,
        type: str = IO_ERROR,
        bubbles: bool = False,
        cancelable: bool = False,
        text: str = "",
        error_id: int = 0,
    ) -> None:
        super().__init__(type, bubbles, cancelable, text, error_id)


class SecurityErrorEvent(ErrorEvent):
    """TLS failed (``securityError``) or a certificate did not verify (``certificateError``).

    A ``certificateError`` is cancelable: a listener that calls
    :meth:`prevent_default` allows the connection.
    """

    __slots__ = ()

    #: Dispatched when TLS cannot be set up.
    SECURITY_ERROR = "securityError"
    #: Dispatched (cancelable) when the server's certificate does not verify.
    CERTIFICATE_ERROR = "certificateError"

    def __init__(
        self,
        type: str = SECURITY_ERROR,
        bubbles: bool = False,
        cancelable: bool = False,
        text: str = "",
        error_id: int = 0,
    ) -> None:
        super().__init__(type, bubbles, cancelable, text, error_id)


class ServerSocketConnectEvent(Event):
    """A :class:`airsocket.ServerSocket` accepted a connection.

    Args:
        type: :attr:`ServerSocketConnectEvent.CONNECT`.
        bubbles: kept as data.
        cancelable: kept as data.
        socket: the accepted socket (an ``ssl.SSLSocket``, its handshake not
            yet done, when the ServerSocket has ``ssl=``); hand it to
            :meth:`airsocket.WebSocket.start_server`.

    Attributes:
        socket: the accepted socket.
    """

    __slots__ = ("socket",)

    #: Dispatched for each accepted connection.
    CONNECT = "connect"

    def __init__(
        self,
        type: str = CONNECT,
        bubbles: bool = False,
        cancelable: bool = False,
        socket: socket_module.socket | None = None,
    ) -> None:
        super().__init__(type, bubbles, cancelable)
        self.socket = socket

    def _fields(self) -> str:
        return f" socket={self.socket!r}"
