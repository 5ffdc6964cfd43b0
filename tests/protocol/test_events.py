"""Tests of airsocket.protocol.events: value semantics of the core's events."""

from __future__ import annotations

import pytest

from airsocket.protocol.events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    HandshakeFailed,
    Opened,
    Ping,
    Pong,
    RequestReceived,
    TextMessage,
)
from airsocket.protocol.exceptions import InvalidHandshake, ProtocolError
from airsocket.protocol.http import Request, Response

ERROR = ProtocolError("boom")
HANDSHAKE_ERROR = InvalidHandshake("nope")
REQUEST = Request("GET", "/chat")
RESPONSE = Response(101, "Switching Protocols")

ALL = [
    TextMessage("hé"),
    BinaryMessage(b"\x00"),
    Ping(b"p"),
    Pong(b"q"),
    CloseReceived(1000, "bye"),
    ConnectionFailed(ERROR),
    RequestReceived(REQUEST),
    Opened("chat", RESPONSE),
    HandshakeFailed(HANDSHAKE_ERROR, None),
]


class TestEvents:
    def test_fields(self) -> None:
        assert TextMessage("hé").data == "hé"
        assert BinaryMessage(b"\x00").data == b"\x00"
        assert (Ping(b"p").data, Pong(b"q").data) == (b"p", b"q")
        close = CloseReceived(1005, "")
        assert (close.code, close.reason) == (1005, "")
        assert ConnectionFailed(ERROR).error is ERROR
        assert RequestReceived(REQUEST).request is REQUEST
        opened = Opened(None, RESPONSE)
        assert (opened.subprotocol, opened.response) == (None, RESPONSE)
        failed = HandshakeFailed(HANDSHAKE_ERROR, RESPONSE)
        assert (failed.error, failed.response) == (HANDSHAKE_ERROR, RESPONSE)

    @pytest.mark.parametrize("event", ALL, ids=lambda e: type(e).__name__)
    def test_slots_and_base(self, event: Event) -> None:
        assert isinstance(event, Event)
        # __slots__ classes: no per-event __dict__ on the hot path.
        assert not hasattr(event, "__dict__")
        with pytest.raises(AttributeError):
            event.extra = 1  # type: ignore[attr-defined]

    def test_equality_by_type_and_fields(self) -> None:
        assert TextMessage("a") == TextMessage("a")
        assert TextMessage("a") != TextMessage("b")
        assert Ping(b"x") != Pong(b"x")  # same fields, other type
        assert BinaryMessage(b"a") != b"a"
        assert CloseReceived(1000, "") != CloseReceived(1000, "x")
        assert ConnectionFailed(ERROR) == ConnectionFailed(ERROR)
        assert Opened("chat", RESPONSE) != Opened(None, RESPONSE)
        assert Event() == Event()

    @pytest.mark.parametrize("event", ALL, ids=lambda e: type(e).__name__)
    def test_unhashable(self, event: Event) -> None:
        # Equality is by value over mutable fields: no hash.
        with pytest.raises(TypeError):
            hash(event)

    def test_repr(self) -> None:
        assert repr(TextMessage("hé")) == "TextMessage(data='hé')"
        assert repr(CloseReceived(1000, "bye")) == "CloseReceived(code=1000, reason='bye')"
        assert repr(Opened(None, RESPONSE)) == f"Opened(response={RESPONSE!r}, subprotocol=None)"
        assert repr(Event()) == "Event()"
