"""The connection core's ending: the closing handshake, close codes, failing
the connection, end of stream, and misuse of the calls (RFC 6455 7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airsocket.protocol.connection import Connection, Role, State
from airsocket.protocol.events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    HandshakeFailed,
    Ping,
    TextMessage,
)
from airsocket.protocol.exceptions import (
    ArgumentError,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidPayload,
    InvalidState,
    ProtocolError,
)

from .helpers import (
    MASK,
    REQUEST,
    ROLES,
    URI,
    Wire,
    describe,
    drain,
    feed,
    frame_to,
    make_options,
    open_pair,
    opened,
    opener,
    pump,
    receive,
    rfc_random,
    wire_frame,
)


def failed(code: int, kind: type[ProtocolError] = ProtocolError) -> object:
    return ("ConnectionFailed", kind, code)


def close_from(role: Role, payload: bytes) -> bytes:
    """A close frame as a core of ``role`` writes it (masked from a client)."""
    return wire_frame(0x8, payload, mask=MASK if role is Role.CLIENT else None)


def peer_of(role: Role) -> Role:
    return Role.SERVER if role is Role.CLIENT else Role.CLIENT


def pair_by_role(role: Role) -> tuple[Connection, Connection]:
    """(the core of ``role``, its peer), opened with each other."""
    client, server = open_pair()
    return (client, server) if role is Role.CLIENT else (server, client)


class TestRFC6455Section7ClosingHandshake:
    def test_client_starts_and_the_server_closes_tcp(self) -> None:
        client, server = open_pair()
        client.send_close(1000, "bye")
        assert client.state is State.CLOSING
        # FIN + close, MASK + length 5, key 37fa213d, code 1000 + "bye" masked
        assert client.data_to_send() == [bytes.fromhex("88 85 37 fa 21 3d 34 12 43 44 52")]
        assert receive(server, bytes.fromhex("88 85 37 fa 21 3d 34 12 43 44 52")) == [
            CloseReceived(1000, "bye")
        ]
        # RFC 6455 5.5.1: the echo carries the code; RFC 6455 7.1.1: the
        # server then closes TCP first. FIN + close, length 2, code 1000
        assert drain(server) == Wire(bytes.fromhex("88 02 03 e8"), eof=True)
        assert server.state is State.CLOSING
        assert receive(client, bytes.fromhex("88 02 03 e8")) == [CloseReceived(1000, "")]
        assert drain(client) == Wire()  # the client waits for the server's EOF
        assert client.receive_eof() == []
        assert client.state is State.CLOSED
        assert isinstance(client.closed_error(), ConnectionClosedOK)
        assert isinstance(server.closed_error(), ConnectionClosedOK)
        assert (server.close_code, server.close_reason) == (1000, "bye")

    def test_server_starts_and_closes_tcp_on_the_echo(self) -> None:
        client, server = open_pair()
        server.send_close(1001, "restart")
        # FIN + close, length 9, code 1001 + "restart"; no END_OF_STREAM yet
        assert drain(server) == Wire(bytes.fromhex("88 09 03 e9") + b"restart")
        events = receive(client, bytes.fromhex("88 09 03 e9") + b"restart")
        assert events == [CloseReceived(1001, "restart")]
        echo = drain(client)
        assert echo == Wire(close_from(Role.CLIENT, b"\x03\xe9"))  # and no END_OF_STREAM
        assert receive(server, echo.data) == [CloseReceived(1001, "")]
        assert drain(server) == Wire(eof=True)  # RFC 6455 7.1.1
        assert client.receive_eof() == []
        assert client.close_code == 1001

    @ROLES
    def test_the_handshake_through_pump(self, role: Role) -> None:
        conn, peer = pair_by_role(role)
        conn.send_close(3000, "done")
        mine, theirs = pump(conn, peer)
        assert theirs == [CloseReceived(3000, "done")]
        assert mine == [CloseReceived(3000, "")]
        client = conn if role is Role.CLIENT else peer
        assert client.state is State.CLOSED  # the server's END_OF_STREAM arrived
        assert conn.close_sent == (3000, "done")
        assert peer.close_sent == (3000, "")

    @ROLES
    def test_close_without_a_code(self, role: Role) -> None:
        conn, peer = pair_by_role(role)
        conn.send_close(None)
        # FIN + close, length 0 (masked by a client)
        [frame] = conn.data_to_send()
        assert frame == close_from(role, b"")
        assert receive(peer, frame) == [CloseReceived(1005, "")]
        # RFC 6455 5.5.1: an empty close is echoed empty, not with 1005.
        assert drain(peer).data == close_from(peer_of(role), b"")
        assert peer.close_sent == (1005, "")
        assert isinstance(peer.closed_error(), ConnectionClosedOK)

    @ROLES
    def test_both_start_at_once(self, role: Role) -> None:
        conn, peer = pair_by_role(role)
        conn.send_close(1000)
        peer.send_close(1001)
        mine, theirs = pump(conn, peer)
        assert mine == [CloseReceived(1001, "")]
        assert theirs == [CloseReceived(1000, "")]
        # No second echo: each had already sent its close frame.
        assert conn.close_sent == (1000, "")
        assert peer.close_sent == (1001, "")
        client = conn if role is Role.CLIENT else peer
        assert client.state is State.CLOSED

    @ROLES
    def test_nothing_is_read_after_a_close_frame(self, role: Role) -> None:
        data = (
            frame_to(role, 0x8, b"\x03\xe8")
            + frame_to(role, 0x1, b"late")
            + frame_to(role, 0x9, b"late")
            + b"\xff\xff garbage"
        )
        fed = feed(opener(role), data)
        assert fed.events == [CloseReceived(1000, "")]
        assert fed.wire == Wire(close_from(role, b"\x03\xe8"), role is Role.SERVER)

    @ROLES
    def test_messages_still_arrive_after_we_sent_close(self, role: Role) -> None:
        conn = opened(role)
        conn.send_close()
        drain(conn)
        data = frame_to(role, 0x1, b"in flight") + frame_to(role, 0x9, b"ping")
        assert receive(conn, data) == [TextMessage("in flight"), Ping(b"ping")]
        assert drain(conn) == Wire()  # no PONG after our close frame
        assert conn.state is State.CLOSING

    @ROLES
    def test_close_split_across_reads(self, role: Role) -> None:
        fed = feed(opener(role), frame_to(role, 0x8, b"\x0f\xa0" + "ошибка".encode()))
        assert fed.events == [CloseReceived(4000, "ошибка")]


class TestRFC6455Section7_4StatusCodes:
    @ROLES
    @pytest.mark.parametrize(
        "code",
        [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999],
    )
    def test_valid_codes_are_received_and_echoed(self, role: Role, code: int) -> None:
        fed = feed(opener(role), frame_to(role, 0x8, code.to_bytes(2, "big") + b"why"))
        assert fed.events == [CloseReceived(code, "why")]
        assert fed.wire.data == close_from(role, code.to_bytes(2, "big"))

    @ROLES
    @pytest.mark.parametrize(
        "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    )
    def test_invalid_codes_fail_with_1002(self, role: Role, code: int) -> None:
        # RFC 6455 7.4.1: 1004-1006 and 1015 are reserved, 0-999 unused;
        # 1016-2999 are for the RFC's extensions, none registered here.
        fed = feed(opener(role), frame_to(role, 0x8, code.to_bytes(2, "big")))
        assert [describe(e) for e in fed.events] == [failed(1002)]
        assert fed.wire == Wire(close_from(role, b"\x03\xea"), role is Role.SERVER)
        assert fed.conn.close_received is None

    @ROLES
    def test_one_byte_payload_fails_with_1002(self, role: Role) -> None:
        # RFC 6455 5.5.1: a body, if any, starts with a two-byte code.
        fed = feed(opener(role), frame_to(role, 0x8, b"\x03"))
        assert [describe(e) for e in fed.events] == [failed(1002)]

    @ROLES
    def test_invalid_utf8_reason_fails_with_1007(self, role: Role) -> None:
        fed = feed(opener(role), frame_to(role, 0x8, b"\x03\xe8bad \xff"))
        assert [describe(e) for e in fed.events] == [failed(1007, InvalidPayload)]
        assert fed.wire.data == close_from(role, b"\x03\xef")

    @ROLES
    def test_longest_reason(self, role: Role) -> None:
        fed = feed(opener(role), frame_to(role, 0x8, b"\x03\xe8" + b"r" * 123))
        assert fed.events == [CloseReceived(1000, "r" * 123)]


class TestRFC6455Section7_1_7FailTheConnection:
    @ROLES
    def test_failing_queues_a_close_and_the_server_ends_the_stream(self, role: Role) -> None:
        conn = opened(role)
        events = receive(conn, frame_to(role, 0x3, b""))
        [event] = events
        assert isinstance(event, ConnectionFailed)
        assert event.error is conn.failure
        assert conn.failure.close_code == 1002
        assert drain(conn) == Wire(close_from(role, b"\x03\xea"), role is Role.SERVER)
        assert conn.state is State.CLOSING
        assert conn.close_sent == (1002, "")
        # The rest of the input is not parsed any more.
        assert receive(conn, frame_to(role, 0x1, b"ignored")) == []
        assert drain(conn) == Wire()
        with pytest.raises(InvalidState):
            conn.send_text("no")
        error = conn.closed_error()
        assert isinstance(error, ConnectionClosedError)
        assert (error.code, error.sent_code, error.cause) == (1006, 1002, conn.failure)

    @ROLES
    def test_messages_before_a_violation_come_first(self, role: Role) -> None:
        conn = opened(role)
        data = frame_to(role, 0x1, b"first") + frame_to(role, 0x9, b"p") + frame_to(role, 0x3)
        assert conn.receive_data(data) == [TextMessage("first"), Ping(b"p")]
        assert conn.input_pending
        pong = wire_frame(0xA, b"p", mask=MASK if role is Role.CLIENT else None)
        assert drain(conn) == Wire(pong)  # no close frame yet
        assert conn.state is State.OPEN
        conn.send_text("an answer precedes our close frame")
        drain(conn)
        [event] = conn.receive_data(b"")
        assert isinstance(event, ConnectionFailed)
        assert not conn.input_pending
        assert drain(conn) == Wire(close_from(role, b"\x03\xea"), role is Role.SERVER)

    @ROLES
    def test_more_input_does_not_apply_a_pending_failure(self, role: Role) -> None:
        # The application may not have answered yet: only receive_data(b"")
        # (the layer's "answered") applies it; what follows is never read.
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"ok") + b"\x83\x00")
        assert conn.input_pending
        assert conn.receive_data(frame_to(role, 0x1, b"not parsed")) == []
        assert conn.input_pending
        assert drain(conn) == Wire()
        events = conn.receive_data(b"")
        assert [describe(e) for e in events] == [failed(1002)]

    @ROLES
    def test_more_input_does_not_release_a_held_close(self, role: Role) -> None:
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"ok") + frame_to(role, 0x8, b"\x03\xe8"))
        assert conn.receive_data(frame_to(role, 0x9, b"late ping")) == []
        assert drain(conn) == Wire()
        assert conn.receive_data(b"") == [CloseReceived(1000, "")]

    @ROLES
    def test_hold_input_makes_a_violation_wait(self, role: Role) -> None:
        conn = opened(role)
        conn.hold_input = True  # the application still holds messages
        assert conn.receive_data(frame_to(role, 0x2, b"\xff", rsv=0b010)) == []
        assert conn.input_pending
        assert drain(conn) == Wire()
        assert [describe(e) for e in conn.receive_data(b"")] == [failed(1002)]

    @ROLES
    def test_fail_from_our_side(self, role: Role) -> None:
        conn = opened(role)
        conn.fail(1011, "keepalive ping timeout")
        # FIN + close, length 2, code 1011 (the reason stays local)
        assert drain(conn) == Wire(close_from(role, b"\x03\xf3"), role is Role.SERVER)
        assert conn.failure is not None
        assert conn.failure.close_code == 1011
        assert str(conn.failure) == "keepalive ping timeout"
        assert conn.state is State.CLOSING
        conn.fail(1011)  # already closing: nothing more
        assert drain(conn) == Wire()

    def test_fail_without_a_reason_names_the_code(self) -> None:
        conn = opened(Role.SERVER)
        conn.fail(1008)
        assert str(conn.failure) == "failed with code 1008"

    @ROLES
    def test_fail_does_nothing_unless_open(self, role: Role) -> None:
        conn = Connection(role, make_options())
        conn.fail(1011)
        assert (conn.state, conn.failure, conn.wants_write) == (State.CONNECTING, None, False)
        conn = opened(role)
        conn.send_close()
        drain(conn)
        conn.fail(1011)
        assert conn.failure is None
        assert drain(conn) == Wire()

    @ROLES
    @pytest.mark.parametrize("code", [1005, 1006, 999, 5000])
    def test_fail_with_an_unsendable_code_raises_and_changes_nothing(
        self, role: Role, code: int
    ) -> None:
        conn = opened(role)
        with pytest.raises(ArgumentError):
            conn.fail(code)
        assert conn.failure is None
        assert conn.state is State.OPEN
        assert conn.close_sent is None
        assert drain(conn) == Wire()
        # Still working: messages are received and the close is ours to send.
        assert receive(conn, frame_to(role, 0x1, b"alive")) == [TextMessage("alive")]
        conn.fail(1011)
        assert conn.failure is not None

    @ROLES
    def test_fail_while_a_violation_waits_fails_once(self, role: Role) -> None:
        # E.g. a keepalive timeout while the application still reads the
        # messages that came before a violation: one close frame, one end
        # of stream, one failure.
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"ok") + b"\x83\x00")
        assert conn.input_pending
        conn.fail(1011, "keepalive ping timeout")
        assert drain(conn) == Wire(close_from(role, b"\x03\xf3"), role is Role.SERVER)
        assert not conn.input_pending
        assert conn.receive_data(b"") == []
        assert drain(conn) == Wire()
        assert conn.failure is not None
        assert conn.failure.close_code == 1011

    @ROLES
    def test_close_while_a_violation_waits(self, role: Role) -> None:
        # The application answered the last messages with a close of its own;
        # the violation still fails the connection, without a second close.
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"ok") + b"\x83\x00")
        conn.send_close(1000)
        assert drain(conn) == Wire(close_from(role, b"\x03\xe8"))
        assert [describe(e) for e in conn.receive_data(b"")] == [failed(1002)]
        assert drain(conn) == Wire(eof=role is Role.SERVER)
        assert conn.close_sent == (1000, "")

    @ROLES
    def test_the_peer_gets_the_code(self, role: Role) -> None:
        conn, peer = pair_by_role(role)
        conn.send_binary(b"before")
        peer_frame = frame_to(role, 0x1, b"\xff")
        assert [describe(e) for e in receive(conn, peer_frame)] == [failed(1007, InvalidPayload)]
        _mine, theirs = pump(conn, peer)
        assert theirs == [BinaryMessage(b"before"), CloseReceived(1007, "")]


class TestRFC6455Section7_1_5EndOfStream:
    """receive_eof() in each state; no close frame received means 1006."""

    def test_client_connecting(self) -> None:
        client = Connection(Role.CLIENT, make_options(), random_bytes=rfc_random)
        client.connect(URI)
        drain(client)
        [event] = client.receive_eof()
        assert isinstance(event, HandshakeFailed)
        assert type(event.error) is InvalidHandshake
        assert event.response is None
        assert client.failure is event.error
        assert drain(client) == Wire(eof=True)
        assert client.state is State.CLOSED

    @pytest.mark.parametrize("received", [b"", REQUEST[:20]])
    def test_server_connecting(self, received: bytes) -> None:
        server = Connection(Role.SERVER, make_options())
        assert server.receive_data(received) == []
        [event] = server.receive_eof()
        assert isinstance(event, HandshakeFailed)
        assert event.response is not None
        assert event.response.status == 400
        wire = drain(server)
        assert wire.data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert wire.eof
        assert server.state is State.CLOSED

    def test_server_waiting_for_accept(self) -> None:
        server = Connection(Role.SERVER, make_options())
        server.receive_data(REQUEST)
        [event] = server.receive_eof()
        assert isinstance(event, HandshakeFailed)
        with pytest.raises(InvalidState):
            server.accept()

    @ROLES
    def test_open(self, role: Role) -> None:
        conn = opened(role)
        assert conn.receive_eof() == []
        assert conn.state is State.CLOSED
        assert (conn.close_code, conn.close_reason) == (1006, "")
        error = conn.closed_error()
        assert isinstance(error, ConnectionClosedError)
        assert (error.code, error.sent_code, error.cause) == (1006, None, None)
        # After the end nothing is read, nothing is written.
        assert conn.receive_data(frame_to(role, 0x1, b"x")) == []
        assert conn.receive_eof() == []
        assert drain(conn) == Wire()

    @ROLES
    def test_mid_frame(self, role: Role) -> None:
        conn = opened(role)
        assert conn.receive_data(frame_to(role, 0x1, b"partial")[:-3]) == []
        assert conn.receive_eof() == []
        assert conn.receive_data(b"ial") == []

    @ROLES
    def test_closing(self, role: Role) -> None:
        conn = opened(role)
        conn.send_close(1000, "bye")
        assert conn.receive_eof() == []
        assert conn.state is State.CLOSED
        assert conn.close_code == 1006
        assert isinstance(conn.closed_error(), ConnectionClosedError)

    @ROLES
    def test_a_pending_failure_is_dropped(self, role: Role) -> None:
        # The peer left: failing now would queue a close frame after the end
        # and move a CLOSED connection back to CLOSING.
        conn = opened(role)
        assert conn.receive_data(frame_to(role, 0x1, b"ok") + b"\x83\x00") == [TextMessage("ok")]
        assert conn.input_pending
        assert conn.receive_eof() == []
        assert not conn.input_pending
        assert conn.receive_data(b"") == []
        assert conn.state is State.CLOSED
        assert drain(conn) == Wire()


class TestClosedError:
    @pytest.mark.parametrize(
        ("sent", "received", "kind"),
        [
            (1000, 1000, ConnectionClosedOK),
            (1001, 1001, ConnectionClosedOK),
            (1000, 1001, ConnectionClosedOK),
            (None, None, ConnectionClosedOK),  # empty close frames: 1005 both ways
            (None, 1000, ConnectionClosedOK),
            (1000, 1002, ConnectionClosedError),
            (3000, 3000, ConnectionClosedError),
            (1011, 1000, ConnectionClosedError),
        ],
    )
    def test_kind_by_codes(
        self, sent: int | None, received: int | None, kind: type[Exception]
    ) -> None:
        server = opened(Role.SERVER)
        server.send_close(sent)
        payload = b"" if received is None else received.to_bytes(2, "big")
        receive(server, frame_to(Role.SERVER, 0x8, payload))
        error = server.closed_error()
        assert type(error) is kind
        assert server.closed_normally is (kind is ConnectionClosedOK)
        assert error.code == (1005 if received is None else received)
        assert error.sent_code == (1005 if sent is None else sent)
        assert error.cause is None

    def test_reason_is_carried(self) -> None:
        client = opened(Role.CLIENT)
        receive(client, frame_to(Role.CLIENT, 0x8, b"\x03\xe9going"))
        error = client.closed_error()
        assert (error.code, error.reason, error.sent_code) == (1001, "going", 1001)
        assert str(error) == "connection closed: 1001 'going'"

    def test_no_close_frame_back_is_not_normal(self) -> None:
        sent_only = opened(Role.SERVER)
        sent_only.send_close(1000)
        for conn in (sent_only, opened(Role.CLIENT), Connection(Role.CLIENT)):
            assert not conn.closed_normally
            assert type(conn.closed_error()) is ConnectionClosedError

    def test_no_close_frame_at_all(self) -> None:
        error = Connection(Role.CLIENT).closed_error()
        assert type(error) is ConnectionClosedError
        assert (error.code, error.sent_code) == (1006, None)


class TestCloseExchanged:
    @ROLES
    def test_ours_first_then_theirs(self, role: Role) -> None:
        conn = opened(role)
        assert not conn.close_exchanged
        conn.send_close(1000)
        assert not conn.close_exchanged  # the peer may still be sending
        receive(conn, frame_to(role, 0x8, b"\x03\xe8"))
        assert conn.close_exchanged

    @ROLES
    def test_theirs_echoed(self, role: Role) -> None:
        conn = opened(role)
        receive(conn, frame_to(role, 0x8, b"\x03\xe9"))
        assert conn.close_exchanged
        assert conn.close_sent == (1001, "")

    def test_not_after_a_failure(self) -> None:
        server = opened(Role.SERVER)
        receive(server, frame_to(Role.SERVER, 0x3, b""))  # reserved opcode: 1002 sent
        assert server.close_sent is not None
        assert not server.close_exchanged

    def test_not_before_opening(self) -> None:
        assert not Connection(Role.CLIENT).close_exchanged


Call = Callable[[Connection], object]
SENDS: list[Call] = [
    lambda c: c.send_text("x"),
    lambda c: c.send_binary(b"x"),
    lambda c: c.send_ping(b"x"),
    lambda c: c.send_pong(b"x"),
    lambda c: c.send_close(1000),
]
SEND_IDS = ["text", "binary", "ping", "pong", "close"]


class TestLocalMisuse:
    """Local misuse raises at once (DESIGN.md, "Errors") and changes nothing."""

    @ROLES
    @pytest.mark.parametrize("send", SENDS, ids=SEND_IDS)
    def test_sending_while_connecting(self, role: Role, send: Call) -> None:
        conn = Connection(role, make_options(), random_bytes=rfc_random)
        with pytest.raises(InvalidState):
            send(conn)
        if role is Role.CLIENT:
            conn.connect(URI)
            drain(conn)
        else:
            conn.receive_data(REQUEST)
        with pytest.raises(InvalidState):
            send(conn)
        assert not conn.wants_write

    @ROLES
    @pytest.mark.parametrize("send", SENDS, ids=SEND_IDS)
    def test_sending_after_close(self, role: Role, send: Call) -> None:
        conn = opened(role)
        conn.send_close()
        drain(conn)
        with pytest.raises(InvalidState):
            send(conn)
        conn.receive_eof()
        with pytest.raises(InvalidState):
            send(conn)
        assert not conn.wants_write

    @ROLES
    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            (1005, ""),  # reserved: "no status received"
            (1006, ""),  # reserved: "abnormal closure"
            (1015, ""),  # reserved: TLS failure
            (999, ""),
            (2999, ""),
            (5000, ""),
            ("1000", ""),
            (1000.0, ""),
            (None, "a reason needs a code"),
            (1000, "r" * 124),  # 126 bytes of payload: more than a control frame holds
            (1000, "é" * 62),  # 124 bytes of UTF-8
            (1000, b"bytes"),
            (1000, "lone \udc80"),  # not encodable as UTF-8
        ],
    )
    def test_send_close_arguments(self, role: Role, code: object, reason: object) -> None:
        conn = opened(role)
        with pytest.raises(ArgumentError):
            conn.send_close(code, reason)  # type: ignore[arg-type]
        assert conn.state is State.OPEN
        assert conn.close_sent is None
        assert drain(conn) == Wire()

    @ROLES
    def test_send_close_with_the_longest_reason(self, role: Role) -> None:
        conn = opened(role)
        conn.send_close(4999, "é" * 61 + "x")  # 123 bytes of UTF-8
        assert conn.close_sent == (4999, "é" * 61 + "x")
        [frame] = conn.data_to_send()
        assert frame == close_from(role, b"\x13\x87" + ("é" * 61 + "x").encode())


class TestRFC6455Section5_5_1HeldClose:
    """A close frame behind messages waits until they are answered (input_pending)."""

    @staticmethod
    def own_frame(role: Role, opcode: int, payload: bytes) -> bytes:
        """A frame as ``role`` itself sends it (a client masks with MASK)."""
        return wire_frame(opcode, payload, mask=MASK if role is Role.CLIENT else None)

    @ROLES
    def test_answers_to_earlier_messages_precede_the_echo(self, role: Role) -> None:
        conn = opened(role)
        close = frame_to(role, 0x8, b"\x03\xe8bye")  # code 1000, reason "bye"
        events = conn.receive_data(frame_to(role, 0x1, b"question") + close)
        assert events == [TextMessage("question")]
        assert conn.input_pending
        assert drain(conn) == Wire(b"")  # no echo yet
        conn.send_text("answer")  # the application answers
        assert conn.receive_data(b"") == [CloseReceived(1000, "bye")]
        assert not conn.input_pending
        echo = Wire(self.own_frame(role, 0x8, b"\x03\xe8"), eof=role is Role.SERVER)
        assert drain(conn) == Wire(self.own_frame(role, 0x1, b"answer")).then(echo)

    @ROLES
    def test_a_close_alone_waits_while_the_application_holds_messages(self, role: Role) -> None:
        conn = opened(role)
        conn.hold_input = True
        assert conn.receive_data(frame_to(role, 0x8, b"\x03\xe9")) == []
        assert conn.input_pending
        assert conn.receive_data(b"") == [CloseReceived(1001, "")]

    @ROLES
    def test_a_close_alone_is_taken_at_once(self, role: Role) -> None:
        conn = opened(role)
        assert conn.receive_data(frame_to(role, 0x8, b"\x03\xe8")) == [CloseReceived(1000, "")]
        assert not conn.input_pending

    @ROLES
    def test_after_our_close_the_peers_is_not_held(self, role: Role) -> None:
        conn = opened(role)
        conn.send_close(1000)
        drain(conn)
        events = conn.receive_data(frame_to(role, 0x1, b"late") + frame_to(role, 0x8, b"\x03\xe8"))
        assert events == [TextMessage("late"), CloseReceived(1000, "")]

    @ROLES
    def test_a_held_invalid_close_fails_when_released(self, role: Role) -> None:
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"x") + frame_to(role, 0x8, b"\x03\xed"))  # 1005
        [event] = conn.receive_data(b"")
        assert isinstance(event, ConnectionFailed)
        assert event.error.close_code == 1002

    @ROLES
    def test_eof_while_held_still_reports_the_peers_code(self, role: Role) -> None:
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"x") + frame_to(role, 0x8, b"\x0f\xa0"))  # 4000
        conn.receive_eof()
        assert not conn.input_pending
        assert conn.close_code == 4000

    @ROLES
    def test_eof_while_an_invalid_close_is_held_reports_1006(self, role: Role) -> None:
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"x") + frame_to(role, 0x8, b"\x03"))
        conn.receive_eof()
        assert conn.close_code == 1006

    @ROLES
    def test_fail_drops_a_held_close(self, role: Role) -> None:
        conn = opened(role)
        conn.receive_data(frame_to(role, 0x1, b"x") + frame_to(role, 0x8, b"\x03\xe8"))
        conn.fail(1011, "going down")
        assert not conn.input_pending
        assert conn.close_sent is not None and conn.close_sent[0] == 1011
