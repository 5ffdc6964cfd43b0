"""The opening handshake through the connection core (RFC 6455 4), in both
roles, fed whole and byte by byte."""

from __future__ import annotations

import pytest

from airsocket.protocol.connection import Connection, Role, State
from airsocket.protocol.events import (
    CloseReceived,
    HandshakeFailed,
    Opened,
    RequestReceived,
    TextMessage,
)
from airsocket.protocol.exceptions import (
    ArgumentError,
    InvalidHandshake,
    InvalidHeader,
    InvalidOrigin,
    InvalidState,
    InvalidStatus,
    InvalidURI,
    InvalidVersion,
    NegotiationError,
    ProtocolError,
)
from airsocket.protocol.http import Headers, Response
from airsocket.protocol.uri import parse_uri

from .helpers import (
    CLIENT_REQUEST,
    MASK,
    REQUEST,
    RESPONSE,
    URI,
    Wire,
    accept_requests,
    describe,
    drain,
    feed,
    make_options,
    open_pair,
    receive,
    rfc_random,
    wire_frame,
)

# RFC 6455 5.7's masked "Hello": FIN + text, MASK + length 5, key 37fa213d
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
# FIN + text, length 5, "Hello"
HELLO = bytes.fromhex("81 05 48 65 6c 6c 6f")


def client(**changes: object) -> Connection:
    """A client that sent its request for URI (drained)."""
    conn = Connection(Role.CLIENT, make_options(**changes), random_bytes=rfc_random)
    conn.connect(URI)
    drain(conn)
    return conn


def server(**changes: object) -> Connection:
    return Connection(Role.SERVER, make_options(**changes))


def response(*headers: bytes, status: bytes = b"101 Switching Protocols") -> bytes:
    """RESPONSE with another status line or extra header lines."""
    head = RESPONSE.replace(b"101 Switching Protocols", status)
    return head[:-2] + b"".join(line + b"\r\n" for line in headers) + b"\r\n"


def request(*, drop: bytes = b"", add: bytes = b"", first: bytes | None = None) -> bytes:
    """REQUEST without the header line starting with ``drop``, plus ``add``."""
    lines = REQUEST[:-4].split(b"\r\n")
    if first is not None:
        lines[0] = first
    lines = [line for line in lines if not (drop and line.startswith(drop))]
    if add:
        lines.append(add)
    return b"\r\n".join(lines) + b"\r\n\r\n"


class TestRFC6455Section4_1ClientHandshake:
    def test_connect_queues_the_request(self) -> None:
        conn = Connection(Role.CLIENT, make_options(), random_bytes=rfc_random)
        sent = conn.connect(URI)
        assert conn.request is sent
        assert (sent.method, sent.path) == ("GET", "/chat")
        assert drain(conn) == Wire(CLIENT_REQUEST)
        assert conn.state is State.CONNECTING

    def test_connect_takes_a_parsed_uri(self) -> None:
        conn = Connection(Role.CLIENT, make_options(), random_bytes=rfc_random)
        conn.connect(parse_uri(URI))
        assert drain(conn) == Wire(CLIENT_REQUEST)

    def test_connect_offers_compression_when_configured(self) -> None:
        conn = Connection(Role.CLIENT, make_options(compression="deflate"), random_bytes=rfc_random)
        conn.connect(URI)
        assert b"\r\nSec-WebSocket-Extensions: permessage-deflate" in drain(conn).data

    def test_connect_refuses_a_bad_uri(self) -> None:
        conn = Connection(Role.CLIENT, make_options(), random_bytes=rfc_random)
        with pytest.raises(InvalidURI):
            conn.connect("http://example.com/")
        assert conn.request is None
        assert not conn.wants_write

    def test_connect_only_once_and_only_for_clients(self) -> None:
        conn = client()
        with pytest.raises(InvalidState):
            conn.connect(URI)
        with pytest.raises(InvalidState):
            Connection(Role.SERVER).connect(URI)

    def test_101_opens(self) -> None:
        fed = feed(client, RESPONSE)
        [event] = fed.events
        assert isinstance(event, Opened)
        assert event.subprotocol is None
        assert event.response is fed.conn.response
        assert event.response.status == 101
        assert fed.conn.state is State.OPEN
        assert fed.wire == Wire()
        assert fed.at == [len(RESPONSE) - 1]

    def test_incomplete_head_waits(self) -> None:
        conn = client()
        assert conn.receive_data(RESPONSE[:-1]) == []
        assert conn.state is State.CONNECTING

    def test_frames_arriving_with_the_101(self) -> None:
        # The server may send frames right after its response, in the same read.
        fed = feed(client, RESPONSE + HELLO + bytes.fromhex("88 02 03 e8"))
        assert [describe(e) for e in fed.events][1:] == [
            TextMessage("Hello"),
            CloseReceived(1000, ""),
        ]
        assert fed.wire == Wire(wire_frame(0x8, b"\x03\xe8", mask=MASK))

    def test_a_violation_arriving_with_the_101(self) -> None:
        # No message precedes the violation, so it fails at once, after Opened.
        fed = feed(client, RESPONSE + MASKED_HELLO)  # a server must not mask
        assert [describe(e) for e in fed.events][1:] == [("ConnectionFailed", ProtocolError, 1002)]
        assert isinstance(fed.events[0], Opened)
        assert fed.wire == Wire(wire_frame(0x8, b"\x03\xea", mask=MASK))

    def test_subprotocol(self) -> None:
        fed = feed(
            lambda: client(subprotocols=["chat", "superchat"]),
            response(b"Sec-WebSocket-Protocol: chat"),
        )
        [event] = fed.events
        assert isinstance(event, Opened)
        assert event.subprotocol == "chat"
        assert fed.conn.subprotocol == "chat"

    def test_compression_accepted_by_the_server(self) -> None:
        conn = client(compression="deflate")
        events = conn.receive_data(
            response(b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12")
        )
        assert isinstance(events[0], Opened)
        assert conn.compression is not None
        assert conn.compression.receive_window_bits == 12

    def test_compression_declined_by_the_server(self) -> None:
        conn = client(compression="deflate")
        assert isinstance(conn.receive_data(RESPONSE)[0], Opened)
        assert conn.compression is None

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            (response(status=b"403 Forbidden"), InvalidStatus),
            (response(status=b"200 OK"), InvalidStatus),
            (RESPONSE.replace(b"s3pP", b"AAAA"), InvalidHeader),
            (RESPONSE.replace(b"Upgrade: websocket", b"Upgrade: h2c"), InvalidHeader),
            (response(b"Sec-WebSocket-Extensions: permessage-deflate"), NegotiationError),
            (response(b"Sec-WebSocket-Protocol: chat"), NegotiationError),
            (b"HTTP/1.1 1O1 Switching\r\n\r\n", InvalidHandshake),
            (b"HTTP/1.1 101 OK\r\n" + b"X: y\r\n" * 200 + b"\r\n", InvalidHandshake),
        ],
        ids=[
            "403",
            "200",
            "wrong-accept",
            "wrong-upgrade",
            "extension-not-offered",
            "subprotocol-not-offered",
            "bad-status-line",
            "too-many-headers",
        ],
    )
    def test_failures(self, data: bytes, error: type[Exception]) -> None:
        fed = feed(client, data)
        [event] = fed.events
        assert isinstance(event, HandshakeFailed)
        assert type(event.error) is error
        assert fed.conn.failure is event.error
        # The client ends the stream; nothing else is read or written.
        assert fed.wire == Wire(eof=True)
        assert fed.conn.state is State.CLOSED
        assert fed.conn.receive_data(HELLO) == []
        assert fed.conn.receive_eof() == []
        assert drain(fed.conn) == Wire()

    def test_refusal_carries_the_response_and_what_came_of_its_body(self) -> None:
        conn = client()
        data = response(b"Content-Length: 11", status=b"403 Forbidden") + b"go away now"
        [event] = conn.receive_data(data)
        assert isinstance(event, HandshakeFailed)
        assert isinstance(event.error, InvalidStatus)
        assert event.response is event.error.response is conn.response
        assert (event.response.status, event.response.body) == (403, b"go away now")
        assert event.error.http_status == 400


class TestRFC6455Section4_2ServerHandshake:
    def test_request_then_accept(self) -> None:
        fed = feed(server, REQUEST)
        [event] = fed.events
        assert isinstance(event, RequestReceived)
        assert event.request is fed.conn.request
        assert event.request.headers["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ=="
        assert fed.at == [len(REQUEST) - 1]
        assert fed.wire == Wire()
        conn = fed.conn
        assert conn.state is State.CONNECTING
        [opened] = conn.accept()
        assert isinstance(opened, Opened)
        assert opened.response is conn.response
        assert conn.state is State.OPEN
        # RFC 6455 1.3's answer: status line, Upgrade, Connection,
        # Sec-WebSocket-Accept (no subprotocol: none is configured)
        assert drain(conn) == Wire(RESPONSE)

    def test_accept_chooses_the_subprotocol(self) -> None:
        conn = server(subprotocols=["superchat", "chat"])
        conn.receive_data(REQUEST)
        [opened] = conn.accept()
        # The first of the client's offers that the server supports.
        assert isinstance(opened, Opened)
        assert opened.subprotocol == conn.subprotocol == "chat"
        assert drain(conn) == Wire(response(b"Sec-WebSocket-Protocol: chat"))

    def test_accept_negotiates_compression(self) -> None:
        conn = server(compression="deflate")
        conn.receive_data(request(add=b"Sec-WebSocket-Extensions: permessage-deflate"))
        conn.accept()
        assert conn.compression is not None
        assert b"\r\nSec-WebSocket-Extensions: permessage-deflate" in drain(conn).data

    def test_no_compression_unless_offered(self) -> None:
        conn = server(compression="deflate")
        conn.receive_data(REQUEST)
        conn.accept()
        assert conn.compression is None

    def test_frames_arriving_with_the_request(self) -> None:
        fed = feed(server, REQUEST + MASKED_HELLO, respond=accept_requests)
        assert [type(e) for e in fed.events] == [RequestReceived, Opened, TextMessage]
        assert fed.events[2] == TextMessage("Hello")
        assert fed.wire == Wire(RESPONSE)

    def test_frames_arriving_before_accept_wait_for_it(self) -> None:
        conn = server()
        assert [type(e) for e in conn.receive_data(REQUEST + MASKED_HELLO[:4])] == [RequestReceived]
        assert conn.receive_data(MASKED_HELLO[4:]) == []
        assert conn.receive_data(b"") == []
        assert not conn.wants_write
        events = conn.accept()
        assert [describe(e) for e in events][1:] == [TextMessage("Hello")]

    def test_accept_without_a_request(self) -> None:
        conn = server()
        with pytest.raises(InvalidState):
            conn.accept()
        conn.receive_data(REQUEST)
        conn.accept()
        with pytest.raises(InvalidState):
            conn.accept()
        with pytest.raises(InvalidState):
            client().accept()

    def test_a_failing_subprotocol_choice_leaves_the_request_waiting(self) -> None:
        def refuse(offered: list[str], supported: list[str]) -> str:
            raise NegotiationError("no thanks")

        conn = server(subprotocols=["chat"], select_subprotocol=refuse)
        conn.receive_data(REQUEST)
        with pytest.raises(NegotiationError):
            conn.accept()
        assert conn.state is State.CONNECTING
        assert not conn.wants_write
        conn.reject(400)
        assert conn.state is State.CLOSED

    def test_a_connection_may_have_its_own_subprotocol_choice(self) -> None:
        # The options' chooser by default; one set on the connection before
        # the answer replaces it, for that connection only.
        def by_options(offered: list[str], supported: list[str]) -> str:
            return "chat"

        calls = []

        def own(offered: list[str], supported: list[str]) -> str:
            calls.append((offered, supported))
            return "superchat"

        conn = server(subprotocols=["chat", "superchat"], select_subprotocol=by_options)
        assert conn.select_subprotocol is by_options
        conn.receive_data(REQUEST)  # offers chat, superchat
        conn.accept()
        assert conn.subprotocol == "chat"
        other = server(subprotocols=["chat", "superchat"], select_subprotocol=by_options)
        other.select_subprotocol = own
        other.receive_data(REQUEST)
        other.accept()
        assert other.subprotocol == "superchat"
        assert calls == [(["chat", "superchat"], ["chat", "superchat"])]

    def test_a_bad_subprotocol_choice_raises(self) -> None:
        conn = server(select_subprotocol=lambda offered, supported: "unoffered")
        conn.receive_data(REQUEST)
        with pytest.raises(ArgumentError):
            conn.accept()

    def test_reject_with_a_status(self) -> None:
        conn = server()
        conn.receive_data(REQUEST)
        sent = conn.reject(403, "go away")
        assert conn.response is sent
        # status line, Content-Type, Content-Length, Connection, blank line, body
        assert drain(conn) == Wire(
            b"HTTP/1.1 403 Forbidden\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 8\r\n"
            b"Connection: close\r\n"
            b"\r\n"
            b"go away\n",
            eof=True,
        )
        assert conn.state is State.CLOSED
        assert conn.receive_data(MASKED_HELLO) == []
        with pytest.raises(InvalidState):
            conn.accept()

    def test_reject_with_a_whole_response(self) -> None:
        conn = server()
        conn.receive_data(REQUEST)
        answer = Response(302, headers=Headers([("Location", "/elsewhere")]))
        assert conn.reject(answer) is answer
        assert drain(conn) == Wire(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n", eof=True)

    def test_reject_only_while_connecting_and_only_for_servers(self) -> None:
        with pytest.raises(InvalidState):
            client().reject(403)
        conn = server()
        conn.receive_data(REQUEST)
        conn.accept()
        with pytest.raises(InvalidState):
            conn.reject(403)

    @pytest.mark.parametrize(
        ("data", "error", "status"),
        [
            (request(drop=b"Upgrade"), InvalidHeader, 400),
            (request(drop=b"Sec-WebSocket-Key"), InvalidHeader, 400),
            (request(drop=b"Sec-WebSocket-Version"), InvalidVersion, 426),
            (request(first=b"POST /chat HTTP/1.1"), InvalidHandshake, 405),
            (request(first=b"GET /chat HTTP/1.0"), InvalidHandshake, 505),
            (request(first=b"GET /chat"), InvalidHandshake, 400),
            (request(add=b"X-Long: " + b"x" * 9000), InvalidHandshake, 431),
        ],
        ids=["no-upgrade", "no-key", "no-version", "post", "http-1.0", "bad-line", "long-line"],
    )
    def test_a_bad_request_is_answered_and_the_stream_ended(
        self, data: bytes, error: type[Exception], status: int
    ) -> None:
        fed = feed(server, data + MASKED_HELLO)
        [event] = fed.events
        assert isinstance(event, HandshakeFailed)
        assert type(event.error) is error
        assert event.response is fed.conn.response
        assert event.response is not None
        assert event.response.status == status
        assert fed.wire.data.startswith(b"HTTP/1.1 %d " % status)
        assert fed.wire.eof
        assert fed.conn.state is State.CLOSED
        if status == 426:  # RFC 6455 4.4: say which version we speak
            assert b"\r\nSec-WebSocket-Version: 13\r\n" in fed.wire.data

    def test_with_process_request_an_invalid_upgrade_is_handed_up(self) -> None:
        # The hook may answer plain HTTP (e.g. a health check); accept()
        # answers with the RFC error otherwise.
        make = lambda: server(process_request=lambda *args: None)  # noqa: E731
        fed = feed(make, request(drop=b"Upgrade"))
        [event] = fed.events
        assert isinstance(event, RequestReceived)
        assert fed.wire == Wire()
        [failed] = fed.conn.accept()
        assert isinstance(failed, HandshakeFailed)
        assert isinstance(failed.error, InvalidHeader)
        wire = drain(fed.conn)
        assert wire.data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert wire.eof
        assert fed.conn.state is State.CLOSED

    def test_with_process_request_a_plain_http_answer(self) -> None:
        conn = server(process_request=lambda *args: None)
        conn.receive_data(b"GET /health HTTP/1.1\r\nHost: example.com\r\n\r\n")
        conn.reject(Response(200, body=b"OK\n"))
        # status line, Content-Length added for the body, blank line, body
        assert drain(conn) == Wire(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK\n", eof=True)
        with pytest.raises(InvalidState):
            conn.accept()

    def test_with_process_request_a_valid_upgrade_opens(self) -> None:
        conn = server(process_request=lambda *args: None)
        conn.receive_data(REQUEST)
        assert isinstance(conn.accept()[0], Opened)

    def test_a_non_ascii_key_is_answered_400(self) -> None:
        data = REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhlIHNhbXBsZSBub25jZQ\xe9=")
        [event] = server().receive_data(data)
        assert isinstance(event, HandshakeFailed)
        assert isinstance(event.error, InvalidHeader)

    def test_origin_not_allowed(self) -> None:
        fed = feed(lambda: server(origins=["https://example.org"]), REQUEST)
        [event] = fed.events
        assert isinstance(event, HandshakeFailed)
        assert isinstance(event.error, InvalidOrigin)
        assert fed.wire.data.startswith(b"HTTP/1.1 403 Forbidden\r\n")

    def test_a_head_that_never_ends(self) -> None:
        conn = server(max_head_size=64)
        [event] = conn.receive_data(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20)
        assert isinstance(event, HandshakeFailed)
        assert event.error.http_status == 431


class TestBackToBack:
    """Both cores' handshakes, with each other."""

    def test_open_pair(self) -> None:
        client_conn, server_conn = open_pair()
        assert client_conn.state is server_conn.state is State.OPEN
        client_conn.send_text("ping?")
        assert receive(server_conn, drain(client_conn).data) == [TextMessage("ping?")]

    def test_subprotocol_and_compression_agreed(self) -> None:
        client_conn, server_conn = open_pair(
            make_options(subprotocols=["v2", "v1"], compression="deflate"),
            make_options(subprotocols=["v1", "v2"], compression="deflate"),
        )
        assert client_conn.subprotocol == server_conn.subprotocol == "v2"
        assert client_conn.compression is not None
        assert server_conn.compression is not None


class TestAnswerRequest:
    """answer_request(): what a process_request hook gave, turned into the answer."""

    def test_none_accepts(self) -> None:
        conn = server()
        conn.receive_data(REQUEST)
        [event] = conn.answer_request(None)
        assert isinstance(event, Opened)
        assert conn.state is State.OPEN

    def test_a_response_is_sent_as_it_is(self) -> None:
        conn = server()
        conn.receive_data(REQUEST)
        answer = Response(200, "OK", body=b"plain page")
        [event] = conn.answer_request(answer)
        assert isinstance(event, HandshakeFailed)
        assert event.response is answer
        assert "HTTP 200" in str(event.error)
        assert drain(conn).eof

    def test_an_invalid_handshake_keeps_its_status(self) -> None:
        conn = server()
        conn.receive_data(REQUEST)
        [event] = conn.answer_request(InvalidOrigin("not from here"))
        assert isinstance(event, HandshakeFailed)
        assert event.response is not None and event.response.status == 403

    def test_any_other_exception_is_a_500_with_its_cause(self) -> None:
        conn = server()
        conn.receive_data(REQUEST)
        cause = RuntimeError("hook broke")
        [event] = conn.answer_request(cause)
        assert isinstance(event, HandshakeFailed)
        assert event.error.http_status == 500
        assert event.error.__cause__ is cause
        assert str(event.error).startswith("process_request failed")
        assert conn.state is State.CLOSED

    def test_select_subprotocol_failing_is_a_500(self) -> None:
        def select(offered: list[str], supported: list[str]) -> str:
            raise RuntimeError("select broke")

        conn = server(select_subprotocol=select, subprotocols=["chat"])
        conn.receive_data(REQUEST)
        [event] = conn.answer_request(None)
        assert isinstance(event, HandshakeFailed)
        assert event.error.http_status == 500
        assert str(event.error).startswith("accepting the upgrade failed")

    def test_select_subprotocol_refusing_keeps_its_4xx(self) -> None:
        def select(offered: list[str], supported: list[str]) -> str:
            raise NegotiationError("no common subprotocol")

        conn = server(select_subprotocol=select)
        conn.receive_data(REQUEST)
        [event] = conn.answer_request(None)
        assert isinstance(event, HandshakeFailed)
        assert isinstance(event.error, NegotiationError)
        assert event.response is not None and event.response.status == 400
