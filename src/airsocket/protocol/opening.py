"""The opening handshake half of the connection state machine (RFC 6455 4).

:class:`OpeningHandshake` is a base class of :class:`.connection.Connection`
and holds the methods that drive the handshake, client and server: sending
the request, taking the head of the answer, accepting, refusing. The state
they share (the attributes annotated below) is set by ``Connection``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import deflate, handshake
from .events import Event, HandshakeFailed, Opened, RequestReceived
from .exceptions import InvalidHandshake, InvalidState, NegotiationError
from .http import (
    Request,
    Response,
    find_head_end,
    parse_request,
    parse_response,
    serialize_request,
    serialize_response,
)
from .options import Options
from .states import END_OF_STREAM, Chunk, Role, State
from .uri import WebSocketURI, parse_uri

if TYPE_CHECKING:
    from .exceptions import ProtocolError

__all__ = ["OpeningHandshake"]


class OpeningHandshake:
    """The methods of :class:`.connection.Connection` for the opening handshake."""

    # The attributes of the handshake; Connection adds the rest (slots, so
    # that a connection has no instance dict).
    __slots__ = (
        "_awaiting_answer",
        "_deflate",
        "_head",
        "_key",
        "_offer",
        "_random",
        "_request_error",
        "_tail",
        "failure",
        "options",
        "outgoing",
        "request",
        "response",
        "role",
        "select_subprotocol",
        "state",
        "subprotocol",
    )

    # Set by Connection.__init__; see its attributes.
    role: Role
    options: Options
    state: State
    request: Request | None
    response: Response | None
    subprotocol: str | None
    select_subprotocol: Callable[..., Any] | None
    failure: ProtocolError | InvalidHandshake | None
    outgoing: list[Chunk]
    _random: Callable[[int], bytes]
    _deflate: deflate.PerMessageDeflate | None
    _key: str
    _offer: handshake.ClientOffer | None
    _awaiting_answer: bool
    _request_error: InvalidHandshake | None
    _head: bytearray
    _tail: bytes

    if TYPE_CHECKING:

        def receive_data(self, data: bytes) -> list[Event]:
            """Connection's: frames that arrived with the head are parsed next."""

    def connect(self, uri: str | WebSocketURI) -> Request:
        """Client: queue the upgrade request for ``uri``; then write ``data_to_send()``.

        Raises:
            InvalidURI: ``uri`` is not a ws:// or wss:// URL.
            InvalidState: not a fresh client connection.
        """
        if self.role is not Role.CLIENT or self.request is not None:
            raise InvalidState("connect() is for a new client connection")
        if isinstance(uri, str):
            uri = parse_uri(uri)
        self._key = handshake.generate_key(self._random)
        offer = deflate.client_offer(self.options) if self.options.compression else None
        self.request = handshake.build_request(uri, self._key, self.options, offer)
        self.outgoing.append(serialize_request(self.request))
        return self.request

    def accept(self) -> list[Event]:
        """Server: accept the request of :class:`RequestReceived`; returns events.

        Chooses the subprotocol and the extensions, queues the 101 response,
        and parses any frames that arrived with the request. A request that
        is not a valid upgrade is answered with its HTTP error instead, and
        :class:`HandshakeFailed` is returned.

        Raises:
            InvalidState: no request is waiting for an answer.
            NegotiationError: ``select_subprotocol`` chose badly.
        """
        if not self._awaiting_answer or self.state is not State.CONNECTING:
            raise InvalidState("no upgrade request is waiting for an answer")
        self._awaiting_answer = False
        offer = self._offer
        if offer is None:
            # Not a valid upgrade and nobody answered it as plain HTTP:
            # the RFC answer (400, 403, 405, 426) goes out instead.
            assert self._request_error is not None, "a request without an offer failed"
            return self._handshake_failed(self._request_error)
        self.subprotocol = handshake.select_subprotocol(
            offer, self.options, self.select_subprotocol
        )
        answer = None
        if self.options.compression:
            accepted = deflate.server_accept(offer.extensions, self.options)
            if accepted is not None:
                answer, self._deflate = accepted
        self.response = handshake.build_accept(offer, self.options, self.subprotocol, answer)
        self.outgoing.append(serialize_response(self.response))
        self.state = State.OPEN
        self._offer = None
        events: list[Event] = [Opened(self.subprotocol, self.response)]
        early, self._tail = self._tail, b""
        if early:
            events.extend(self.receive_data(early))
        return events

    def answer_request(self, answer: Response | BaseException | None) -> list[Event]:
        """Server: answer the request with what a ``process_request`` hook gave.

        A :class:`Response` is sent as it is (the request is refused); an
        exception refuses it with its ``http_status`` if it is an
        ``InvalidHandshake``, else with 500; None accepts it. When accepting
        fails in ``select_subprotocol`` the request is refused the same way,
        so the server keeps serving. Returns the events, as :meth:`accept`.
        """
        failed = "process_request failed"
        if answer is None:
            try:
                return self.accept()
            except Exception as exc:  # raised by the select_subprotocol callback
                answer, failed = exc, "accepting the upgrade failed"
        if isinstance(answer, Response):
            error = InvalidHandshake(f"refused by process_request: HTTP {answer.status}")
            return [HandshakeFailed(error, self.reject(answer))]
        if not isinstance(answer, InvalidHandshake):
            # A server error (500): the layers log it with its cause.
            error = InvalidHandshake(f"{failed}: {answer!r}")
            error.http_status = 500
            error.__cause__ = answer
            answer = error
        return [HandshakeFailed(answer, self.reject(answer.http_status))]

    def reject(self, answer: int | Response, body: str | None = None) -> Response:
        """Server: refuse the upgrade with an HTTP status (or a whole response).

        Queues the response and the end of the stream; the state becomes CLOSED.
        """
        if self.role is not Role.SERVER or self.state is not State.CONNECTING:
            raise InvalidState("reject() answers an upgrade request")
        if isinstance(answer, int):
            answer = handshake.reject(answer, self.options, body)
        self.response = answer
        self._awaiting_answer = False
        self.outgoing += (serialize_response(answer), END_OF_STREAM)
        self.state = State.CLOSED
        self._offer = None
        return answer

    def _receive_head(self, data: bytes) -> list[Event]:
        head = self._head
        if self._awaiting_answer:  # a server waiting for accept(): keep early frames
            self._tail += data
            return []
        try:
            if head or type(data) is not bytes:
                head += data
                end = find_head_end(head, self.options)
                if end < 0:
                    return []
                self._tail = bytes(head[end:])
                raw = bytes(head[:end])
                self._head = bytearray()
            else:
                # The usual head, whole in one read: looked at where it is,
                # not copied into the buffer and out again.
                end = find_head_end(data, self.options)
                if end < 0:
                    head += data
                    return []
                raw = data[:end] if end < len(data) else data
                self._tail = data[end:]
            if self.role is Role.CLIENT:
                return self._receive_response(raw)
            return self._receive_request(raw)
        except InvalidHandshake as exc:
            return self._handshake_failed(exc)

    def _receive_request(self, raw: bytes) -> list[Event]:
        parsed = handshake.parse_upgrade(raw, self.options)
        checked = None
        if parsed is None:  # not the usual request, or no accelerator
            self.request = parse_request(raw, self.options)
        else:
            self.request, checked = parsed
        try:
            self._offer = handshake.check_request(self.request, self.options, checked)
        except InvalidHandshake as exc:
            if self.options.process_request is None:
                raise
            # Handed up all the same: process_request may answer it as plain
            # HTTP; accept() answers with the RFC error otherwise.
            self._request_error = exc
        self._awaiting_answer = True
        return [RequestReceived(self.request)]

    def _receive_response(self, raw: bytes) -> list[Event]:
        self.response = response = parse_response(raw, self.options)
        if response.status != 101:
            response.body = self._tail  # what arrived of the body, for the caller's diagnosis
            self._tail = b""
        self.subprotocol, extensions = handshake.check_response(response, self._key, self.options)
        if extensions:
            if not self.options.compression:
                raise NegotiationError("the server accepted an extension that was not offered")
            self._deflate = deflate.client_accept(extensions, self.options)
        self.state = State.OPEN
        events: list[Event] = [Opened(self.subprotocol, response)]
        early, self._tail = self._tail, b""
        if early:
            events.extend(self.receive_data(early))
        return events

    def _handshake_failed(self, error: InvalidHandshake) -> list[Event]:
        self.failure = error
        if self.role is Role.SERVER:
            self.reject(handshake.reject(error, self.options))
        else:
            self.outgoing.append(END_OF_STREAM)
            self.state = State.CLOSED
        return [HandshakeFailed(error, self.response)]
