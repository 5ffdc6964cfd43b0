"""Helpers of :mod:`.websocket`, kept apart to keep that module small.

What an opening failure becomes (an event, a close code), how an accepted
socket is adopted, the context used when a listener accepts a server
certificate that did not verify, the checks of ``send_message``'s
arguments, and the listener an engine gets after a local close.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

from ..asyncio.engine import CloseCode, Opcode
from ..protocol.exceptions import (
    ArgumentError,
    InvalidHandshake,
    InvalidHeader,
    InvalidState,
    InvalidStatus,
    NegotiationError,
    ProtocolError,
)
from .events import ErrorEvent, IOErrorEvent, SecurityErrorEvent

__all__ = [
    "adopt",
    "check_opcode",
    "close_code",
    "error_event",
    "handshake_close_code",
    "offered_protocols",
    "payload",
    "running_loop",
    "unverified_context",
    "wanted_protocols",
]


def running_loop(what: str) -> asyncio.AbstractEventLoop:
    """The running loop; ``what`` names the caller in the error.

    Raises:
        InvalidState: no event loop runs in this thread.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise InvalidState(
            f"{what} must be called on a running event loop: from airsocket.run(main), "
            "a listener, or a coroutine"
        ) from None


def error_event(error: BaseException) -> ErrorEvent:
    """The event reporting that opening failed with ``error``.

    TLS failures are a ``securityError``; everything else (refused,
    unreachable, DNS, timeouts, resets) an ``ioError`` with the errno.
    """
    code = getattr(error, "errno", None)
    if isinstance(error, ssl.SSLError):
        return SecurityErrorEvent(SecurityErrorEvent.SECURITY_ERROR, text=str(error), error_id=0)
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        text = str(error) or "timed out while connecting"
        return IOErrorEvent(IOErrorEvent.IO_ERROR, text=text, error_id=code or errno.ETIMEDOUT)
    text = str(error) or type(error).__name__
    return IOErrorEvent(IOErrorEvent.IO_ERROR, text=text, error_id=code or 0)


def handshake_close_code(error: BaseException | None, head: object) -> int:
    """``close_reason`` for an upgrade that failed with ``error``.

    1002 when the peer's HTTP head broke RFC 6455 (a bad Sec-WebSocket-Accept,
    an unoffered subprotocol or extension, a request that is no upgrade);
    1006 when the server refused with an HTTP status, or the connection
    ended before a complete head. ``head`` is the peer's parsed head, or None.
    """
    if isinstance(error, InvalidStatus):
        return CloseCode.ABNORMAL_CLOSURE  # an HTTP refusal, not a violation
    if isinstance(error, (InvalidHeader, NegotiationError)):
        return CloseCode.PROTOCOL_ERROR
    if isinstance(error, InvalidHandshake) and head is not None:
        return CloseCode.PROTOCOL_ERROR
    return CloseCode.ABNORMAL_CLOSURE


def close_code(failure: BaseException | None, peer_code: int) -> int:
    """``close_reason`` after an open connection ended.

    The code we failed the connection with (1002, 1007, 1009, 1011...) when
    we did, else the peer's (1005 when its frame had none, 1006 when none came).
    """
    if isinstance(failure, ProtocolError):
        return failure.close_code
    return peer_code


def unverified_context() -> ssl.SSLContext:
    """A client context that accepts any certificate and host name.

    Used only after a ``certificateError`` listener called ``prevent_default()``.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def adopt(sock: Any, ssl_option: Any) -> tuple[socket.socket, ssl.SSLContext | None, Any]:
    """The plain socket and TLS context to hand to asyncio for an accepted ``sock``, and its peer.

    asyncio runs TLS itself and cannot take an ``ssl.SSLSocket``: one whose
    handshake has not started is unwrapped to its file descriptor and its
    context. This is the last check of ``start_server``: it consumes an SSLSocket.

    Raises:
        ArgumentError: ``sock`` is None, not a connected stream socket, or a
            TLS socket whose handshake already ran; ``ssl_option`` is not an
            ``ssl.SSLContext``.
    """
    if sock is None:
        raise ArgumentError("start_server needs the accepted socket, not None")
    if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_STREAM:
        raise ArgumentError(f"start_server needs a connected stream socket, not {sock!r}")
    try:
        peername = sock.getpeername()
    except OSError as exc:
        raise ArgumentError(f"start_server needs a connected socket: {exc}") from exc
    if not isinstance(sock, ssl.SSLSocket):
        if ssl_option is not None and not isinstance(ssl_option, ssl.SSLContext):
            raise ArgumentError("the ssl option must be an ssl.SSLContext")
        return sock, ssl_option, peername
    if sock.version() is not None:
        raise ArgumentError(
            "the TLS handshake of this socket already ran; wrap it with "
            "do_handshake_on_connect=False, or pass the plain socket with ssl="
        )
    context = sock.context
    plain = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    return plain, context, peername


def offered_protocols(protocols: Iterable[str] | None) -> dict[str, Any]:
    """The option change that offers ``protocols`` (none when None).

    Raises:
        ArgumentError: ``protocols`` is a single str or not iterable.
    """
    if protocols is None:
        return {}
    if isinstance(protocols, (str, bytes)) or not isinstance(protocols, Iterable):
        raise ArgumentError(f"protocols must be a list of str, not {protocols!r}")
    return {"subprotocols": list(protocols)}


def wanted_protocols(value: object) -> str | list[str] | None:
    """Check a value given to ``WebSocket.protocol`` (a name or names).

    Raises:
        ArgumentError: not None, a non-empty str, or a sequence of them.
    """
    if value is None or (isinstance(value, str) and value):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        names = list(value)
        if all(isinstance(name, str) and name for name in names):
            return names
    raise ArgumentError(f"protocol must be a name or a list of names, not {value!r}")


_SENDABLE = (Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG)


def check_opcode(opcode: object) -> Opcode:
    """The opcode ``send_message`` was given, checked.

    Raises:
        ArgumentError: not TEXT, BINARY, PING or PONG (CLOSE included).
    """
    if isinstance(opcode, int) and not isinstance(opcode, bool) and opcode in _SENDABLE:
        return Opcode(opcode)
    if opcode == Opcode.CLOSE:
        raise ArgumentError("send_message does not send CLOSE: call close(reason_code)")
    raise ArgumentError(f"unknown opcode {opcode!r}: use TEXT, BINARY, PING or PONG")


def payload(kind: Opcode, data: object) -> str | bytes | bytearray | memoryview:
    """What to hand the engine for ``data``: str for TEXT, bytes-like otherwise.

    Raises:
        ArgumentError: ``data`` is not a str or bytes-like, or not UTF-8 for TEXT.
    """
    if isinstance(data, str):
        return data if kind is Opcode.TEXT else data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        if kind is Opcode.TEXT:
            try:
                return bytes(data).decode()
            except UnicodeDecodeError as exc:
                raise ArgumentError(f"a TEXT message must be UTF-8: {exc}") from exc
        return data if kind is Opcode.BINARY else bytes(data)
    raise ArgumentError(f"data must be a str or bytes-like object, not {type(data).__name__}")
