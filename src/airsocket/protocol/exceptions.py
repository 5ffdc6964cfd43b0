"""The one exception hierarchy of airsocket.

Exceptions carry their wire meaning as data: a protocol error knows the close
code it is answered with, a handshake error the HTTP status. Turning one into
a response is an attribute lookup, not an ``except`` chain::

    WebSocketError
    ├── ArgumentError (also TypeError, ValueError)   local misuse
    ├── InvalidState                                  wrong moment for a call
    ├── InvalidURI (also ValueError)                  bad ws:// or wss:// URL
    ├── InvalidHandshake                  .http_status (400 unless stated)
    │   ├── InvalidHeader                 a missing or malformed header
    │   ├── InvalidVersion                .http_status 426
    │   ├── InvalidOrigin                 .http_status 403
    │   ├── NegotiationError              subprotocol or extension refused
    │   └── InvalidStatus                 .response: the server said no
    ├── ProtocolError                     .close_code 1002
    │   ├── InvalidPayload                .close_code 1007 (bad UTF-8, ...)
    │   └── PayloadTooBig                 .close_code 1009
    ├── ConnectionClosed                  .code, .reason, .rcvd, .sent
    │   ├── ConnectionClosedOK            1000 or 1001 (or 1005) both ways
    │   └── ConnectionClosedError         anything else
    └── SecurityError                     TLS or certificate failure
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .http import Response

__all__ = [
    "ArgumentError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidOrigin",
    "InvalidPayload",
    "InvalidState",
    "InvalidStatus",
    "InvalidURI",
    "InvalidVersion",
    "NegotiationError",
    "PayloadTooBig",
    "ProtocolError",
    "SecurityError",
    "WebSocketError",
]


class WebSocketError(Exception):
    """The root of every exception airsocket raises on purpose."""


class ArgumentError(WebSocketError, TypeError, ValueError):
    """A method was called with an argument it cannot accept (the AIR ArgumentError)."""


class InvalidState(WebSocketError):
    """The call does not fit the connection's state (e.g. sending after close)."""


class InvalidURI(WebSocketError, ValueError):
    """The URL is not a valid ws:// or wss:// URL."""

    def __init__(self, uri: str, why: str) -> None:
        super().__init__(f"{uri!r} is not a valid WebSocket URI: {why}")
        self.uri = uri


class InvalidHandshake(WebSocketError):
    """The opening handshake failed; ``http_status`` is what a server answers."""

    http_status: int = 400


class InvalidHeader(InvalidHandshake):
    """A header of the handshake is missing or malformed."""


class InvalidVersion(InvalidHandshake):
    """The client asked for a WebSocket version other than 13 (RFC 6455 4.4)."""

    http_status = 426


class InvalidOrigin(InvalidHandshake):
    """The Origin header is not one the server accepts."""

    http_status = 403


class NegotiationError(InvalidHandshake):
    """A subprotocol or extension was refused or was never offered."""


class InvalidStatus(InvalidHandshake):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"server rejected WebSocket connection: HTTP {response.status}")
        self.response = response


class ProtocolError(WebSocketError):
    """The peer broke RFC 6455 after the handshake; answered with ``close_code``."""

    close_code: int = 1002


class InvalidPayload(ProtocolError):
    """A payload is not valid for its type, such as text that is not UTF-8 (1007)."""

    close_code = 1007


class PayloadTooBig(ProtocolError):
    """A message is larger than ``max_message_size`` (1009)."""

    close_code = 1009


class SecurityError(WebSocketError):
    """TLS could not be set up, or the peer's certificate did not verify."""


class ConnectionClosed(WebSocketError):
    """The connection is closed; ``code`` and ``reason`` say how.

    Attributes:
        code: the close code received from the peer (1005 if its frame had
            none, 1006 if no close frame arrived).
        reason: the reason text received from the peer.
        sent_code: the close code we sent, or None.
        cause: the exception that made us close, if any.
    """

    def __init__(
        self,
        code: int,
        reason: str = "",
        sent_code: int | None = None,
        cause: BaseException | None = None,
    ) -> None:
        detail = f"{code} {reason!r}" if reason else str(code)
        super().__init__(f"connection closed: {detail}")
        self.code = code
        self.reason = reason
        self.sent_code = sent_code
        self.cause = cause


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed normally (1000, 1001, or 1005 without a code)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed with an error code or without a closing handshake."""
