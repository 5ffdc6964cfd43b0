"""Tests of airsocket.protocol.uri: ws:// and wss:// URLs (RFC 6455 3)."""

from __future__ import annotations

import pytest

from airsocket.protocol.exceptions import InvalidURI
from airsocket.protocol.uri import WebSocketURI, parse_uri

VALID = [
    # uri, secure, host, port, resource_name, user_info
    ("ws://example.com", False, "example.com", 80, "/", None),
    ("wss://example.com", True, "example.com", 443, "/", None),
    ("WS://Example.COM/Chat", False, "example.com", 80, "/Chat", None),
    ("wss://h:8443/a/b?x=1&y=2", True, "h", 8443, "/a/b?x=1&y=2", None),
    ("ws://h:/", False, "h", 80, "/", None),  # empty port: the default
    ("ws://h/p?", False, "h", 80, "/p", None),  # empty query dropped
    ("ws://h?q", False, "h", 80, "/?q", None),
    ("ws://[::1]:9000/", False, "::1", 9000, "/", None),
    ("ws://127.0.0.1", False, "127.0.0.1", 80, "/", None),
    ("ws://h/%41%zz", False, "h", 80, "/%41%zz", None),  # escapes kept as they are
    ("ws://h/a%23b", False, "h", 80, "/a%23b", None),  # an escaped '#' is fine
    ("ws://b\xfccher.example/", False, "xn--bcher-kva.example", 80, "/", None),
    ("ws://h/caf\xe9?q=\xe9", False, "h", 80, "/caf%C3%A9?q=%C3%A9", None),
    ("ws://h/a|b", False, "h", 80, "/a%7Cb", None),  # not allowed in a path
    ("ws://user:pass@h", False, "h", 80, "/", ("user", "pass")),
    ("ws://us%40er:p%3Ass@h", False, "h", 80, "/", ("us@er", "p:ss")),
    ("ws://user@h", False, "h", 80, "/", ("user", "")),
]


class TestSection3URIs:
    @pytest.mark.parametrize(("uri", "secure", "host", "port", "resource", "user_info"), VALID)
    def test_valid(
        self,
        uri: str,
        secure: bool,
        host: str,
        port: int,
        resource: str,
        user_info: tuple[str, str] | None,
    ) -> None:
        parsed = parse_uri(uri)
        assert parsed.secure is secure
        assert (parsed.host, parsed.port, parsed.resource_name) == (host, port, resource)
        assert parsed.user_info == user_info

    @pytest.mark.parametrize(
        ("uri", "why"),
        [
            ("http://h/", "scheme"),
            ("h/path", "scheme"),
            ("ws:///path", "host is missing"),
            ("ws://user@/", "host is missing"),
            ("ws://h/#frag", "fragment"),  # RFC 6455 3: MUST NOT
            ("ws://h/#", "fragment"),
            ("ws://h:0/", "port 0"),
            ("ws://h:x/", "Port"),
            ("ws://h:99999/", "Port"),
            ("ws://h /", "whitespace"),
            ("ws://h/a\tb", "whitespace"),
            ("ws://h/\x00", "control"),
            ("ws://h/\u3000", "whitespace"),  # ideographic space
            ("ws://[::1/", "IPv6"),
            ("ws://[v1.x]/", "IPv6"),
            ("ws://h\u00fc..x/", "international"),
            ("ws://h<x>/", "invalid host"),
            ("ws://:pass@h/", "user name"),
            ("ws://a%3Ab:c@h/", "user name"),
        ],
    )
    def test_invalid(self, uri: str, why: str) -> None:
        with pytest.raises(InvalidURI, match=why) as info:
            parse_uri(uri)
        assert info.value.uri == uri
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize("uri", [b"ws://h/", None, 42])
    def test_not_a_str(self, uri: object) -> None:
        with pytest.raises(InvalidURI, match="expected a str"):
            parse_uri(uri)  # type: ignore[arg-type]


class TestParsedAgain:
    def test_each_call_gets_its_own_object(self) -> None:
        first = parse_uri("ws://User:pw@Example.com:8080/a%20b?q=1")
        first.resource_name = "/changed"  # a caller's change stays its own
        second = parse_uri("ws://User:pw@Example.com:8080/a%20b?q=1")
        assert second is not first
        assert repr(second) == repr(
            WebSocketURI(False, "example.com", 8080, "/a%20b?q=1", ("User", "pw"))
        )

    def test_a_bad_url_fails_every_time(self) -> None:
        for _ in range(2):
            with pytest.raises(InvalidURI, match="scheme"):
                parse_uri("http://example.com/")

    def test_a_str_subclass_is_parsed_too(self) -> None:
        class Url(str):
            pass

        assert parse_uri(Url("wss://h/")).secure


class TestHostHeader:
    @pytest.mark.parametrize(
        ("uri", "host_header"),
        [
            ("ws://h", "h"),
            ("ws://h:80", "h"),
            ("ws://h:443", "h:443"),
            ("wss://h:443", "h"),
            ("wss://h:80", "h:80"),
            ("ws://[::1]", "[::1]"),
            ("wss://[::1]:8443", "[::1]:8443"),
        ],
    )
    def test_host_header(self, uri: str, host_header: str) -> None:
        assert parse_uri(uri).host_header == host_header

    def test_constructor_and_repr(self) -> None:
        uri = WebSocketURI(True, "h", 443)
        assert (uri.resource_name, uri.user_info) == ("/", None)
        assert repr(uri) == (
            "WebSocketURI(secure=True, host='h', port=443, resource_name='/', user_info=None)"
        )
