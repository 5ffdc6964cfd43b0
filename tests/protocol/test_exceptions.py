"""Tests of airsocket.protocol.exceptions: one tree, wire meaning as data."""

from __future__ import annotations

import pytest

from airsocket.protocol import exceptions
from airsocket.protocol.exceptions import (
    ArgumentError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidHeader,
    InvalidOrigin,
    InvalidPayload,
    InvalidState,
    InvalidStatus,
    InvalidURI,
    InvalidVersion,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
    SecurityError,
    WebSocketError,
)
from airsocket.protocol.http import Response

# Each exception and its parent, as the module docstring draws the tree.
TREE = {
    ArgumentError: WebSocketError,
    InvalidState: WebSocketError,
    InvalidURI: WebSocketError,
    InvalidHandshake: WebSocketError,
    InvalidHeader: InvalidHandshake,
    InvalidVersion: InvalidHandshake,
    InvalidOrigin: InvalidHandshake,
    NegotiationError: InvalidHandshake,
    InvalidStatus: InvalidHandshake,
    ProtocolError: WebSocketError,
    InvalidPayload: ProtocolError,
    PayloadTooBig: ProtocolError,
    ConnectionClosed: WebSocketError,
    ConnectionClosedOK: ConnectionClosed,
    ConnectionClosedError: ConnectionClosed,
    SecurityError: WebSocketError,
}


class TestHierarchy:
    @pytest.mark.parametrize(("kind", "parent"), TREE.items(), ids=lambda k: k.__name__)
    def test_parent(self, kind: type[Exception], parent: type[Exception]) -> None:
        assert kind.__bases__[0] is parent

    def test_every_public_exception_is_in_the_tree(self) -> None:
        names = set(exceptions.__all__) - {"WebSocketError"}
        assert names == {kind.__name__ for kind in TREE}
        assert issubclass(WebSocketError, Exception)

    def test_the_docstring_names_them_all(self) -> None:
        assert exceptions.__doc__ is not None
        for name in exceptions.__all__:
            assert name in exceptions.__doc__

    def test_argument_error_is_type_and_value_error(self) -> None:
        assert issubclass(ArgumentError, TypeError)
        assert issubclass(ArgumentError, ValueError)
        with pytest.raises(ValueError):
            raise ArgumentError("bad")
        with pytest.raises(TypeError):
            raise ArgumentError("bad")

    def test_invalid_uri_is_a_value_error(self) -> None:
        error = InvalidURI("http://x", "scheme isn't ws or wss")
        assert isinstance(error, ValueError)
        assert error.uri == "http://x"
        assert str(error) == "'http://x' is not a valid WebSocket URI: scheme isn't ws or wss"


class TestWireMeaning:
    @pytest.mark.parametrize(
        ("kind", "status"),
        [
            (InvalidHandshake, 400),
            (InvalidHeader, 400),
            (NegotiationError, 400),
            (InvalidVersion, 426),
            (InvalidOrigin, 403),
        ],
    )
    def test_http_status(self, kind: type[InvalidHandshake], status: int) -> None:
        assert kind.http_status == status
        assert kind("x").http_status == status

    def test_invalid_status_carries_the_response(self) -> None:
        response = Response(403, "Forbidden")
        error = InvalidStatus(response)
        assert error.response is response
        assert str(error) == "server rejected WebSocket connection: HTTP 403"
        assert error.http_status == 400

    @pytest.mark.parametrize(
        ("kind", "code"), [(ProtocolError, 1002), (InvalidPayload, 1007), (PayloadTooBig, 1009)]
    )
    def test_close_code(self, kind: type[ProtocolError], code: int) -> None:
        assert kind.close_code == code
        assert kind("x").close_code == code

    def test_a_status_or_code_set_on_one_error_stays_there(self) -> None:
        error = InvalidHandshake("too large")
        error.http_status = 431
        failure = ProtocolError("timeout")
        failure.close_code = 1011
        assert (InvalidHandshake.http_status, ProtocolError.close_code) == (400, 1002)


class TestConnectionClosed:
    def test_fields_and_message(self) -> None:
        cause = ProtocolError("bad frame")
        error = ConnectionClosedError(1006, "", 1002, cause)
        assert (error.code, error.reason, error.sent_code, error.cause) == (1006, "", 1002, cause)
        assert str(error) == "connection closed: 1006"

    def test_reason_in_the_message(self) -> None:
        error = ConnectionClosedOK(1000, "bye")
        assert (error.sent_code, error.cause) == (None, None)
        assert str(error) == "connection closed: 1000 'bye'"
