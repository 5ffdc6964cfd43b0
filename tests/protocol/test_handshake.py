"""Tests of airsocket.protocol.handshake: the opening handshake (RFC 6455 4)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airsocket.protocol import handshake as handshake_module
from airsocket.protocol.exceptions import (
    ArgumentError,
    InvalidHandshake,
    InvalidHeader,
    InvalidOrigin,
    InvalidStatus,
    InvalidVersion,
    NegotiationError,
)
from airsocket.protocol.handshake import (
    GUID,
    ClientOffer,
    accept_key,
    build_accept,
    build_request,
    check_request,
    check_response,
    generate_key,
    parse_extension_header,
    parse_subprotocol_header,
    parse_upgrade,
    reject,
    select_subprotocol,
    serialize_extension,
)
from airsocket.protocol.http import (
    Headers,
    Request,
    Response,
    parse_request,
    parse_response,
    serialize_request,
    serialize_response,
)
from airsocket.protocol.options import Options
from airsocket.protocol.uri import parse_uri

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # base64 of b"the sample nonce" (RFC 6455 1.3)
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
OPTIONS = Options()
CHAT = Options(subprotocols=["chat", "superchat"], user_agent=None)

# The client handshake of RFC 6455 1.3: request line, Host, Upgrade,
# Connection, Sec-WebSocket-Key, Origin, Sec-WebSocket-Protocol,
# Sec-WebSocket-Version; blank line.
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
# The server handshake of RFC 6455 1.3: status line, Upgrade, Connection,
# Sec-WebSocket-Accept, Sec-WebSocket-Protocol; blank line.
RFC_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"\r\n"
)

tokens = st.text("!#$%&'*+-.^_`|~0123456789abcXYZ", min_size=1, max_size=10)
extensions = st.tuples(tokens, st.lists(st.tuples(tokens, st.none() | tokens), max_size=4))


def rfc_request() -> Request:
    return parse_request(RFC_REQUEST, OPTIONS)


def rfc_response() -> Response:
    return parse_response(RFC_RESPONSE, OPTIONS)


def edited(headers: Headers, name: str, *values: str) -> Headers:
    """A copy of headers with every ``name`` field replaced by ``values``."""
    result = headers.copy()
    if name in result:
        del result[name]
    for value in values:
        result.add(name, value)
    return result


class TestSection1_3Keys:
    def test_accept_key_of_the_rfc_example(self) -> None:
        assert accept_key(KEY) == ACCEPT
        assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    @pytest.mark.skipif(handshake_module._c_accept_key is None, reason="C accelerator off")
    @settings(max_examples=300)
    @given(st.text(max_size=300))
    def test_the_c_accept_key_is_hashlib_s(self, key: str) -> None:
        # SHA-1 written from FIPS 180-4, against OpenSSL's: every length
        # around the one- and two-block edges, and keys that are not ASCII
        # (None: the Python path's to refuse).
        c_accept = handshake_module._c_accept_key(key)
        if not key.isascii():
            assert c_accept is None
            return
        digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
        assert c_accept == base64.b64encode(digest).decode("ascii")

    @pytest.mark.skipif(handshake_module._c_accept_key is None, reason="C accelerator off")
    def test_the_c_accept_key_at_every_length_to_three_blocks(self) -> None:
        for length in range(200):
            key = ("dGhlIHNhbXBsZSBub25jZQ==" * 9)[:length]
            digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
            assert handshake_module._c_accept_key(key) == base64.b64encode(digest).decode()

    def test_a_key_that_is_not_ascii_is_refused(self) -> None:
        with pytest.raises(UnicodeEncodeError):
            accept_key("dGhlIHNhbXBsZSBub25jZQ\xe9=")

    def test_generate_key_from_an_injected_source(self) -> None:
        assert generate_key(lambda n: b"the sample nonce"[:n]) == KEY

    def test_generate_key_default_source(self) -> None:
        assert len(generate_key()) == 24
        assert generate_key() != generate_key()

    @pytest.mark.parametrize("source", [lambda n: b"short", lambda n: "x" * n])
    def test_generate_key_rejects_a_bad_source(self, source: Callable[[int], bytes]) -> None:
        with pytest.raises(ArgumentError):
            generate_key(source)


class TestSection9_1Extensions:
    @pytest.mark.parametrize(
        ("values", "expected"),
        [
            ([], []),
            ([""], []),
            ([" , ,"], []),  # empty list elements are skipped (RFC 7230 7)
            (["foo"], [("foo", [])]),
            (
                ["permessage-deflate; client_max_window_bits; server_max_window_bits=10"],
                [
                    (
                        "permessage-deflate",
                        [("client_max_window_bits", None), ("server_max_window_bits", "10")],
                    )
                ],
            ),
            (['a ;b = "1" ; c,d', "e"], [("a", [("b", "1"), ("c", None)]), ("d", []), ("e", [])]),
            (['x; y="\\a\\b"'], [("x", [("y", "ab")])]),  # quoted-pairs unescaped
            (["x\t;\ty=z\t,\t"], [("x", [("y", "z")])]),
        ],
    )
    def test_parse(self, values: list[str], expected: object) -> None:
        assert parse_extension_header(values) == expected

    @pytest.mark.parametrize(
        "value",
        [
            "a b",  # two tokens without a comma
            "a;",  # parameter missing
            "a; =1",
            "a; b=",  # value missing
            'a; b="1',  # unterminated quoted string
            'a; b="1 2"',  # quoted value that is not a token
            'a; b=""',
            "(a)",
            "a; b=1=2",
        ],
    )
    def test_parse_rejects(self, value: str) -> None:
        with pytest.raises(InvalidHeader, match="Sec-WebSocket-Extensions"):
            parse_extension_header([value])

    def test_serialize(self) -> None:
        assert serialize_extension("x", []) == "x"
        assert serialize_extension("x", [("a", None), ("b", "1")]) == "x; a; b=1"

    @pytest.mark.parametrize(
        ("name", "params"),
        [("", []), ("a b", []), ("x", [("a b", None)]), ("x", [("a", "1 2")]), ("x", [("a", "")])],
    )
    def test_serialize_rejects(self, name: str, params: list[tuple[str, str | None]]) -> None:
        with pytest.raises(ArgumentError):
            serialize_extension(name, params)

    @given(st.lists(extensions, max_size=5))
    def test_round_trip(self, items: list[tuple[str, list[tuple[str, str | None]]]]) -> None:
        value = ", ".join(serialize_extension(name, params) for name, params in items)
        assert parse_extension_header([value]) == items


class TestSection4_1Subprotocols:
    def test_parse(self) -> None:
        assert parse_subprotocol_header(["chat, superchat", "v2.x"]) == [
            "chat",
            "superchat",
            "v2.x",
        ]

    @pytest.mark.parametrize("value", ["a b", "a;b", '"a"', "a/b"])
    def test_parse_rejects(self, value: str) -> None:
        with pytest.raises(InvalidHeader, match="Sec-WebSocket-Protocol"):
            parse_subprotocol_header([value])


class TestSection4_1ClientRequest:
    def test_rfc_example(self) -> None:
        request = build_request(parse_uri("ws://server.example.com/chat"), KEY, CHAT, None)
        # The RFC 6455 1.3 request in our order, without Origin (a browser's
        # header): request line, Host, Upgrade, Connection, Sec-WebSocket-Key,
        # Sec-WebSocket-Version, Sec-WebSocket-Protocol; blank line.
        assert serialize_request(request) == (
            b"GET /chat HTTP/1.1\r\n"
            b"Host: server.example.com\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: chat, superchat\r\n"
            b"\r\n"
        )

    def test_all_optional_headers(self) -> None:
        options = Options(subprotocols=["v1"], extra_headers=[("X-A", "1"), ("X-A", "2")])
        uri = parse_uri("wss://al:pw@h:8443/p?q")
        request = build_request(uri, KEY, options, "permessage-deflate")
        # request line; Host (non-default port); Upgrade; Connection; Key;
        # Version; Protocol; Extensions; User-Agent; Authorization (al:pw);
        # extra headers in order; blank line
        assert serialize_request(request) == (
            b"GET /p?q HTTP/1.1\r\n"
            b"Host: h:8443\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: v1\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
            b"User-Agent: airsocket/0.1\r\n"
            b"Authorization: Basic YWw6cHc=\r\n"
            b"X-A: 1\r\n"
            b"X-A: 2\r\n"
            b"\r\n"
        )

    def test_extra_headers_as_a_mapping(self) -> None:
        options = Options(extra_headers={"X-B": "b"}, user_agent=None)
        request = build_request(parse_uri("ws://h"), KEY, options, "")
        assert list(request.headers)[-1] == ("X-B", "b")
        assert "Sec-WebSocket-Extensions" not in request.headers
        assert "User-Agent" not in request.headers

    @pytest.mark.parametrize("subprotocols", [["a b"], ["chat", "chat"]])
    def test_bad_subprotocols(self, subprotocols: list[str]) -> None:
        options = Options(subprotocols=subprotocols)
        with pytest.raises(ArgumentError, match="subprotocol"):
            build_request(parse_uri("ws://h"), KEY, options, None)

    def test_bad_extra_header(self) -> None:
        options = Options(extra_headers={"Bad Name": "x"})
        with pytest.raises(ArgumentError):
            build_request(parse_uri("ws://h"), KEY, options, None)

    @pytest.mark.parametrize("agent", ["evil\r\nX-Injected: 1", "tab\x7f", 42])
    def test_bad_user_agent_fails_every_handshake(self, agent: object) -> None:
        # A valid value is checked once and remembered; an invalid one never is.
        options = Options(user_agent=agent)  # type: ignore[arg-type]
        for _ in range(2):
            with pytest.raises(ArgumentError, match="User-Agent"):
                build_request(parse_uri("ws://h"), KEY, options, None)
        offer = check_request(parse_request(RFC_REQUEST, Options()), Options())
        for _ in range(2):
            with pytest.raises(ArgumentError, match="Server"):
                build_accept(offer, options, None, None)

    def test_user_agent_is_sent_each_time(self) -> None:
        options = Options(user_agent="agent/1")
        for _ in range(2):
            request = build_request(parse_uri("ws://h"), KEY, options, None)
            assert request.headers.get_all("User-Agent") == ["agent/1"]


class TestSection4_1CheckResponse:
    def test_rfc_example(self) -> None:
        assert check_response(rfc_response(), KEY, CHAT) == ("chat", [])

    def test_tokens_are_case_insensitive_lists(self) -> None:
        response = rfc_response()
        headers = edited(response.headers, "Upgrade", "h2c, WebSocket")
        headers = edited(headers, "Connection", "keep-alive", "UPGRADE")
        headers = edited(headers, "Sec-WebSocket-Protocol")
        headers.add("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover")
        result = check_response(Response(101, headers=headers), KEY, OPTIONS)
        assert result == (None, [("permessage-deflate", [("server_no_context_takeover", None)])])

    @pytest.mark.parametrize("status", [200, 301, 403, 404, 426])
    def test_status_other_than_101(self, status: int) -> None:
        response = Response(status, headers=rfc_response().headers)
        with pytest.raises(InvalidStatus) as info:
            check_response(response, KEY, CHAT)
        assert info.value.response is response

    @pytest.mark.parametrize(
        ("name", "values", "match"),
        [
            ("Upgrade", (), "Upgrade"),
            ("Upgrade", ("websocket/13",), "Upgrade"),
            ("Upgrade", ("h2c",), "Upgrade"),
            ("Upgrade", ("websocket/",), "Upgrade header"),  # malformed
            ("Connection", (), "Connection"),
            ("Connection", ("keep-alive",), "Connection"),
            ("Connection", ("upgrade;",), "Connection header"),  # malformed
            ("Sec-WebSocket-Accept", (), "one Sec-WebSocket-Accept"),
            ("Sec-WebSocket-Accept", (ACCEPT, ACCEPT), "one Sec-WebSocket-Accept"),
            ("Sec-WebSocket-Accept", (accept_key("other"),), "does not match"),
            ("Sec-WebSocket-Extensions", ("x;",), "Sec-WebSocket-Extensions"),
            ("Sec-WebSocket-Protocol", ("chat superchat",), "Sec-WebSocket-Protocol"),
        ],
    )
    def test_invalid_headers(self, name: str, values: tuple[str, ...], match: str) -> None:
        response = Response(101, headers=edited(rfc_response().headers, name, *values))
        with pytest.raises(InvalidHeader, match=match):
            check_response(response, KEY, CHAT)

    @pytest.mark.parametrize(
        ("values", "options"),
        [
            (("chat, superchat",), CHAT),  # more than one
            (("chat", "superchat"), CHAT),
            (("other",), CHAT),  # not offered
            (("chat",), OPTIONS),  # nothing offered
        ],
    )
    def test_subprotocol_negotiation(self, values: tuple[str, ...], options: Options) -> None:
        headers = edited(rfc_response().headers, "Sec-WebSocket-Protocol", *values)
        with pytest.raises(NegotiationError):
            check_response(Response(101, headers=headers), KEY, options)


class TestSection4_2_1CheckRequest:
    def test_rfc_example(self) -> None:
        offer = check_request(rfc_request(), OPTIONS)
        assert offer.key == KEY
        assert offer.subprotocols == ["chat", "superchat"]
        assert offer.extensions == []
        assert offer.origin == "http://example.com"
        assert offer.request.path == "/chat"
        assert repr(offer).startswith("ClientOffer(key='dGhlIHNhbXBsZSBub25jZQ==',")

    def test_lists_extensions_and_zero_content_length(self) -> None:
        request = rfc_request()
        request.headers = edited(request.headers, "Connection", "keep-alive, Upgrade")
        request.headers.add("Sec-WebSocket-Extensions", "permessage-deflate")
        request.headers.add("Content-Length", "0")
        offer = check_request(request, OPTIONS)
        assert offer.extensions == [("permessage-deflate", [])]

    def test_method_other_than_get(self) -> None:
        request = rfc_request()
        request.method = "POST"
        with pytest.raises(InvalidHandshake, match="POST") as info:
            check_request(request, OPTIONS)
        assert info.value.http_status == 405

    def test_version_other_than_1_1(self) -> None:
        request = Request("GET", "/", rfc_request().headers, "HTTP/1.0")
        with pytest.raises(InvalidHandshake, match="version") as info:
            check_request(request, OPTIONS)
        assert info.value.http_status == 505

    @pytest.mark.parametrize(
        ("name", "value"), [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
    )
    def test_body(self, name: str, value: str) -> None:
        request = rfc_request()
        request.headers.add(name, value)
        with pytest.raises(InvalidHandshake, match="body") as info:
            check_request(request, OPTIONS)
        assert info.value.http_status == 400

    @pytest.mark.parametrize(
        ("name", "values", "match"),
        [
            ("Host", (), "one Host"),
            ("Host", ("a", "b"), "one Host"),
            ("Host", ("",), "Host header is empty"),
            ("Upgrade", (), "Upgrade"),
            ("Upgrade", ("HTTP/2.0",), "Upgrade"),
            ("Connection", (), "Connection"),
            ("Connection", ("close",), "Connection"),
            ("Sec-WebSocket-Key", (), "one Sec-WebSocket-Key"),
            ("Sec-WebSocket-Key", (KEY, KEY), "one Sec-WebSocket-Key"),
            ("Sec-WebSocket-Key", ("not base64!",), "not base64"),
            ("Sec-WebSocket-Key", ("dGhlIHNhbXBsZSBub25jZQ",), "not base64"),  # no padding
            ("Sec-WebSocket-Key", ("c2hvcnQ=",), "16 bytes"),  # b"short"
            ("Origin", ("http://a", "http://b"), "Origin"),
            ("Sec-WebSocket-Protocol", ("a b",), "Sec-WebSocket-Protocol"),
            ("Sec-WebSocket-Extensions", ("a;;",), "Sec-WebSocket-Extensions"),
        ],
    )
    def test_invalid_headers(self, name: str, values: tuple[str, ...], match: str) -> None:
        request = rfc_request()
        request.headers = edited(request.headers, name, *values)
        with pytest.raises(InvalidHeader, match=match) as info:
            check_request(request, OPTIONS)
        assert info.value.http_status == 400

    @pytest.mark.parametrize("values", [(), ("8",), ("13, 8",), ("13", "13"), ("14",)])
    def test_version_other_than_13(self, values: tuple[str, ...]) -> None:
        request = rfc_request()
        request.headers = edited(request.headers, "Sec-WebSocket-Version", *values)
        with pytest.raises(InvalidVersion) as info:
            check_request(request, OPTIONS)
        assert info.value.http_status == 426

    @pytest.mark.parametrize(
        ("origins", "origin", "allowed"),
        [
            (None, None, True),
            (["http://example.com"], "http://example.com", True),
            (["http://example.com"], "http://evil.com", False),
            (["http://example.com"], "HTTP://EXAMPLE.COM", False),  # exact match
            (["http://example.com"], None, False),
            (["http://example.com", None], None, True),
            ([], "http://example.com", False),
        ],
    )
    def test_origin(
        self, origins: list[str | None] | None, origin: str | None, allowed: bool
    ) -> None:
        request = rfc_request()
        request.headers = edited(request.headers, "Origin", *([origin] if origin else []))
        options = Options(origins=origins)
        if allowed:
            assert check_request(request, options).origin == origin
        else:
            with pytest.raises(InvalidOrigin) as info:
                check_request(request, options)
            assert info.value.http_status == 403


class TestSection4_2_2ServerResponse:
    def offer(self, *subprotocols: str) -> ClientOffer:
        return ClientOffer(KEY, list(subprotocols), [], None, rfc_request())

    @pytest.mark.parametrize(
        ("offered", "supported", "chosen"),
        [
            (["chat", "superchat"], ["superchat", "chat"], "chat"),  # the client's order
            (["a", "b"], ["b"], "b"),
            (["a"], ["b"], None),
            ([], ["b"], None),
            (["a"], None, None),
        ],
    )
    def test_select_subprotocol_default(
        self, offered: list[str], supported: list[str] | None, chosen: str | None
    ) -> None:
        options = Options(subprotocols=supported)
        assert select_subprotocol(self.offer(*offered), options) == chosen

    def test_select_subprotocol_callback(self) -> None:
        calls = []

        def choose(offered: list[str], supported: list[str]) -> str | None:
            calls.append((offered, supported))
            return offered[-1] if offered[-1] != "none" else None

        options = Options(subprotocols=["x"], select_subprotocol=choose)
        assert select_subprotocol(self.offer("a", "b"), options) == "b"
        assert calls == [(["a", "b"], ["x"])]
        assert select_subprotocol(self.offer("none"), options) is None

    @pytest.mark.parametrize("result", ["c", 42])
    def test_select_subprotocol_callback_must_pick_an_offer(self, result: object) -> None:
        options = Options(select_subprotocol=lambda offered, supported: result)
        with pytest.raises(ArgumentError, match="not offered"):
            select_subprotocol(self.offer("a"), options)

    def test_rfc_example(self) -> None:
        offer = check_request(rfc_request(), CHAT)
        response = build_accept(offer, CHAT, select_subprotocol(offer, CHAT), None)
        assert serialize_response(response) == RFC_RESPONSE

    def test_all_optional_headers(self) -> None:
        options = Options(extra_headers=[("X-A", "1")])
        response = build_accept(self.offer(), options, None, "permessage-deflate")
        # status line; Upgrade; Connection; Accept; Extensions; Server; extra; blank line
        assert serialize_response(response) == (
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
            b"Server: airsocket/0.1\r\n"
            b"X-A: 1\r\n"
            b"\r\n"
        )

    def test_subprotocol_must_be_offered(self) -> None:
        with pytest.raises(ArgumentError, match="not offered"):
            build_accept(self.offer("a"), OPTIONS, "b", None)


class TestSection4_4Reject:
    def test_invalid_version_gets_426_with_the_version(self) -> None:
        response = reject(InvalidVersion("unsupported version"), OPTIONS)
        # status line; Content-Type; Content-Length; Connection; Upgrade;
        # Sec-WebSocket-Version (RFC 6455 4.4); Server; blank line; body
        assert serialize_response(response) == (
            b"HTTP/1.1 426 Upgrade Required\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 20\r\n"
            b"Connection: Upgrade, close\r\n"
            b"Upgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Server: airsocket/0.1\r\n"
            b"\r\n"
            b"unsupported version\n"
        )

    def test_status_as_int(self) -> None:
        response = reject(404, CHAT)
        assert (response.status, response.reason, response.body) == (
            404,
            "Not Found",
            b"404 Not Found\n",
        )
        assert list(response.headers) == [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", "14"),
            ("Connection", "close"),
        ]

    def test_method_not_allowed_carries_allow(self) -> None:
        response = reject(405, OPTIONS)
        assert response.headers["Allow"] == "GET"

    @pytest.mark.parametrize(
        ("error", "status"),
        [(InvalidOrigin("no"), 403), (InvalidHeader("bad"), 400), (InvalidHandshake("x"), 400)],
    )
    def test_status_from_the_error(self, error: InvalidHandshake, status: int) -> None:
        response = reject(error, OPTIONS)
        assert response.status == status
        assert response.body == str(error).encode() + b"\n"
        assert "Sec-WebSocket-Version" not in response.headers

    def test_body_text(self) -> None:
        assert reject(InvalidHeader("secret"), OPTIONS, "Bad request \u2713").body == (
            "Bad request \u2713\n".encode()
        )
        assert reject(InvalidHeader(), OPTIONS).body == b"400 Bad Request\n"
        assert reject(599, OPTIONS).body == b"599\n"

    @pytest.mark.parametrize("status", [101, 200, 299, 600])
    def test_not_an_error_status(self, status: int) -> None:
        with pytest.raises(ArgumentError):
            reject(status, OPTIONS)


class TestRoundTrip:
    def test_client_and_server_agree(self) -> None:
        client = Options(subprotocols=["v2", "v1"])
        server = Options(subprotocols=["v1", "v2"], extra_headers={"X-Server": "yes"})
        key = generate_key(lambda n: bytes(range(n)))
        request = build_request(parse_uri("ws://h/p"), key, client, "x; a=1")
        offer = check_request(parse_request(serialize_request(request), server), server)
        assert offer.extensions == [("x", [("a", "1")])]
        subprotocol = select_subprotocol(offer, server)
        response = build_accept(offer, server, subprotocol, "x")
        parsed = parse_response(serialize_response(response), client)
        assert check_response(parsed, key, client) == ("v2", [("x", [])])


# Pieces of upgrade requests for the C parse: mostly what check_request
# accepts, each field possibly in a form it refuses, or takes the long way.
_FIELD_FORMS: dict[str, list[str]] = {
    "Host": ["example.com", "", "a b"],
    "Upgrade": ["websocket", "WebSocket", "websocket, h2c", "h2c", "web socket", "websocket\xe9"],
    "Connection": ["Upgrade", "upgrade", "keep-alive, Upgrade", "close", "Upgrade,"],
    "Sec-WebSocket-Key": [
        KEY,
        KEY.lower(),
        "dGhlIHNhbXBsZSBub25jZR==",  # spare bits set: b64decode takes it
        KEY[:-1],
        KEY[:-2] + "A=",
        KEY + "=",
        "dGhlIHNhbXBsZSBub25j-Q==",
        "dGhlIHNhbXBsZSBub25jZQ",
        "x" * 24,
    ],
    "Sec-WebSocket-Version": ["13", "8", "13, 8", "013", " 13"],
    "Origin": ["https://example.com", "null", "https://evil.example"],
    "Sec-WebSocket-Protocol": ["chat", "chat, superchat", "ch at", ""],
    "Sec-WebSocket-Extensions": ["permessage-deflate; client_max_window_bits", 'x; y="z"', ";"],
    "Content-Length": ["0", "5"],
    "Transfer-Encoding": ["chunked"],
    "X-Other": ["anything"],
}
_REQUIRED = ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]
_request_lines = st.just("GET /chat HTTP/1.1") | st.sampled_from(
    ["GET / HTTP/1.1", "POST / HTTP/1.1", "GET / HTTP/1.0",
     "get / HTTP/1.1", "GET /a\xe9 HTTP/1.1", "GET  / HTTP/1.1", "GET /?x=1&y HTTP/1.1",
     "GET / HTTP/1.1 ", "GETS / HTTP/1.1", "GEX / HTTP/1.1", "GET / HTTP/1.11", "GET / XTTP/1.1",
     "GET /", "GET HTTP/1.1", " GET / HTTP/1.1"]
)  # fmt: skip
_case = st.sampled_from([str, str.lower, str.upper])


@st.composite
def upgrade_heads(draw: st.DrawFn) -> bytes:
    """A request head: the required fields mostly present, once, in usual forms."""
    names = [name for name in _REQUIRED if draw(st.integers(0, 19))]  # each absent 1 in 20
    names += draw(st.lists(st.sampled_from(list(_FIELD_FORMS)), max_size=3))
    names = draw(st.permutations(names))
    lines = [draw(_request_lines)]
    for name in names:
        forms = _FIELD_FORMS[name]
        value = forms[0] if draw(st.integers(0, 5)) else draw(st.sampled_from(forms))
        lines.append(f"{draw(_case)(name)}:{draw(st.sampled_from(['', ' ', chr(9)]))}{value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def python_check(head: bytes, options: Options) -> tuple[Request, ClientOffer | Exception]:
    """The Python path: the request, and its offer or what checking it raised."""
    request = parse_request(head, options)
    try:
        return request, check_request(request, options)
    except InvalidHandshake as exc:
        return request, exc


ORIGINS = Options(origins=["https://example.com"])


@pytest.mark.skipif(handshake_module._c_parse_upgrade is None, reason="C accelerator off")
class TestParseUpgradeInC:
    """The C parse of the usual request agrees with parse_request and check_request."""

    @settings(max_examples=500)
    @given(upgrade_heads(), st.sampled_from([OPTIONS, ORIGINS]))
    def test_agrees_with_the_python_path(self, head: bytes, options: Options) -> None:
        parsed = parse_upgrade(head, options)
        if parsed is None:
            return  # the Python path alone, as without the accelerator
        request, checked = parsed
        expected_request, expected = python_check(head, options)
        assert (request.method, request.path, request.version) == (
            expected_request.method,
            expected_request.path,
            expected_request.version,
        )
        assert request.headers._items == expected_request.headers._items
        assert request.headers._keys == expected_request.headers._keys
        try:
            offer: ClientOffer | Exception = check_request(request, options, checked)
        except InvalidHandshake as exc:
            offer = exc
        if isinstance(expected, Exception):
            assert type(offer) is type(expected) and str(offer) == str(expected)
        else:
            assert isinstance(offer, ClientOffer) and offer.request is request
            assert (offer.key, offer.subprotocols, offer.extensions, offer.origin) == (
                expected.key,
                expected.subprotocols,
                expected.extensions,
                expected.origin,
            )

    def test_the_usual_requests_are_taken(self) -> None:
        # The RFC's own, and a browser's with an extension offer: not refused.
        browser = RFC_REQUEST.replace(
            b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )
        for head in (RFC_REQUEST, browser):
            parsed = parse_upgrade(head, OPTIONS)
            assert parsed is not None
            assert check_request(parsed[0], OPTIONS, parsed[1]).key == KEY

    @pytest.mark.parametrize(
        "field",
        [b"Content-Length: 0", b"Connection: keep-alive", b"Host: again", b"Upgrade: websocket"],
    )
    def test_what_takes_the_long_way_is_refused(self, field: bytes) -> None:
        # Valid or not, anything but the plainest form is for the Python path.
        head = RFC_REQUEST.replace(b"\r\n\r\n", b"\r\n" + field + b"\r\n\r\n")
        assert parse_upgrade(head, OPTIONS) is None

    @pytest.mark.parametrize(
        "line",
        [
            b"GET /chat HTTP/1.1",
            b"GET /?a=1&b=%20#f HTTP/1.1",
            b"GET * HTTP/1.1",
            b"GEX /chat HTTP/1.1",
            b"GETS /chat HTTP/1.1",
            b"POST /chat HTTP/1.1",
            b"get /chat HTTP/1.1",
            b" GET /chat HTTP/1.1",
            b"GET  /chat HTTP/1.1",
            b"GET /chat  HTTP/1.1",
            b"GET /ch\x7fat HTTP/1.1",
            b"GET /ch\xe9t HTTP/1.1",
            b"GET /chat HTTP/1.0",
            b"GET /chat HTTP/1.11",
            b"GET /chat XTTP/1.1",
            b"GET HTTP/1.1",
            b"GET /chat",
        ],
    )
    def test_request_lines(self, line: bytes) -> None:
        # Taken exactly when the Python path accepts the request, with its target.
        head = line + RFC_REQUEST[RFC_REQUEST.index(b"\r\n") :]
        parsed = parse_upgrade(head, OPTIONS)
        try:
            request, offer = python_check(head, OPTIONS)
        except InvalidHandshake:
            accepted = None
        else:
            accepted = None if isinstance(offer, Exception) else request.path
        assert (parsed[0].path if parsed is not None else None) == accepted

    def test_the_limits_hold(self) -> None:
        tight = Options(max_header_count=3)
        assert parse_upgrade(RFC_REQUEST, tight) is None
        with pytest.raises(InvalidHandshake, match="more than 3"):
            parse_request(RFC_REQUEST, tight)
