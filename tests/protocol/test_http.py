"""Tests of airsocket.protocol.http: bounded HTTP/1.1 heads."""

from __future__ import annotations

from sys import intern

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airsocket.protocol import http
from airsocket.protocol.exceptions import ArgumentError, InvalidHandshake, InvalidHeader
from airsocket.protocol.http import (
    Headers,
    Request,
    Response,
    find_head_end,
    parse_request,
    parse_response,
    serialize_request,
    serialize_response,
)
from airsocket.protocol.options import Options

OPTIONS = Options()

# request line, Host, Upgrade; blank line
REQUEST = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n"

tokens = st.text("!#$%&'*+-.^_`|~0123456789abcXYZ", min_size=1, max_size=12)
# Field values: visible ISO-8859-1 characters with inner SP/HTAB, no edge whitespace.
values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF).filter(
        lambda c: not "\x7f" <= c <= "\x9f"
    )
    | st.just("\t"),
    max_size=20,
).map(lambda s: s.strip(" \t"))


# Pieces of header lines, valid and not, for the property test of parsing.
LINE_PIECES = [b"X-Name", b":", b": ", b" ", b"\t", b"\r\n", b"\r", b"\n", b"\x00", b"\xe9", b"a b"]


def reference_field(line: str) -> tuple[str, str] | None:
    """RFC 7230 3.2, one line: ``(name, value)``, or None if it is no header field."""
    name, colon, value = line.partition(":")
    value = value.strip(" \t")
    valid_name = all(c in "!#$%&'*+-.^_`|~" or (c.isascii() and c.isalnum()) for c in name)
    valid_value = all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in value)
    return (name, value) if colon and name and valid_name and valid_value else None


def feed_whole(data: bytes, options: Options) -> int:
    """find_head_end on the whole input: the end index, or -status on error."""
    try:
        return find_head_end(data, options)
    except InvalidHandshake as exc:
        return -exc.http_status


def feed_bytewise(data: bytes, options: Options) -> int:
    """find_head_end on each prefix, as if data arrived one byte at a time."""
    buffer = bytearray()
    for byte in data:
        buffer.append(byte)
        result = feed_whole(bytes(buffer), options)
        if result != -1:
            return result
    return -1


def assert_same_end(data: bytes, options: Options) -> int:
    whole = feed_whole(data, options)
    assert feed_bytewise(data, options) == whole
    return whole


class TestHeaders:
    def test_lookup_ignores_case_and_keeps_order_and_case(self) -> None:
        headers = Headers([("X-One", "1"), ("x-two", "2"), ("X-ONE", "3")])
        assert headers.get("x-one") == "1"
        assert headers["X-TWO"] == "2"
        assert headers.get_all("X-One") == ["1", "3"]
        assert headers.get_all("missing") == []
        assert headers.get("missing") is None
        assert headers.get("missing", "d") == "d"
        assert list(headers) == [("X-One", "1"), ("x-two", "2"), ("X-ONE", "3")]
        assert headers.items() == list(headers)
        assert len(headers) == 3
        assert "X-TWO" in headers
        assert "nope" not in headers
        assert 42 not in headers

    def test_get_all_of_one_value_and_of_several(self) -> None:
        headers = Headers([("A", "1"), ("B", "2"), ("b", "3")])
        assert headers.get_all("a") == ["1"]
        assert headers.get_all("B") == ["2", "3"]

    def test_append_checked_adds_without_checking(self) -> None:
        # for fields airsocket built itself: the caller vouches for them
        headers = Headers([("A", "1")])
        accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        headers.append_checked("Sec-WebSocket-Accept", accept)
        assert headers.get_all("sec-websocket-accept") == [accept]
        assert list(headers) == [("A", "1"), ("Sec-WebSocket-Accept", accept)]

    def test_constructors(self) -> None:
        assert list(Headers({"A": "1", "B": "2"})) == [("A", "1"), ("B", "2")]
        assert len(Headers()) == 0
        original = Headers([("A", "1")])
        assert Headers(original) == original

    def test_getitem_missing_raises_key_error(self) -> None:
        with pytest.raises(KeyError):
            Headers()["Host"]

    def test_setitem_replaces_all_values_in_place(self) -> None:
        headers = Headers([("A", "1"), ("B", "2"), ("a", "3"), ("C", "4")])
        headers["A"] = "x"
        assert list(headers) == [("A", "x"), ("B", "2"), ("C", "4")]
        headers["D"] = "y"
        assert list(headers)[-1] == ("D", "y")

    def test_delitem(self) -> None:
        headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])
        del headers["a"]
        assert list(headers) == [("B", "2")]
        with pytest.raises(KeyError):
            del headers["a"]

    def test_copy_is_independent(self) -> None:
        headers = Headers([("A", "1")])
        clone = headers.copy()
        clone.add("B", "2")
        assert list(headers) == [("A", "1")]
        assert len(clone) == 2

    def test_equality_ignores_name_case(self) -> None:
        assert Headers([("a", "1")]) == Headers([("A", "1")])
        assert Headers([("a", "1")]) != Headers([("a", "2")])
        assert Headers() != [("a", "1")]
        assert repr(Headers([("A", "1")])) == "Headers([('A', '1')])"

    def test_serialize(self) -> None:
        headers = Headers([("Host", "h"), ("X-Latin", "caf\xe9")])
        # Host line, X-Latin line (é as one ISO-8859-1 byte); no blank line
        assert headers.serialize() == b"Host: h\r\nX-Latin: caf\xe9\r\n"

    @pytest.mark.parametrize("name", ["", "Bad Name", "Bad:Name", "Ä", 42, None])
    def test_invalid_names(self, name: object) -> None:
        with pytest.raises(ArgumentError):
            Headers().add(name, "v")  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\x00b", "\x7f", "\u0100", b"v", None])
    def test_invalid_values(self, value: object) -> None:
        with pytest.raises(ArgumentError):
            Headers().add("X", value)  # type: ignore[arg-type]
        with pytest.raises(ArgumentError):
            Headers()["X"] = value  # type: ignore[assignment]

    def test_tab_and_latin1_are_valid(self) -> None:
        assert Headers([("X", "a\tb \xff")])["x"] == "a\tb \xff"

    @given(st.lists(st.tuples(tokens, values), max_size=10))
    def test_serialize_parse_round_trip(self, items: list[tuple[str, str]]) -> None:
        headers = Headers(items)
        head = b"HTTP/1.1 200 OK\r\n" + headers.serialize() + b"\r\n"
        assert list(parse_response(head, OPTIONS).headers) == items


class TestMessages:
    def test_request_defaults_and_repr(self) -> None:
        request = Request()
        assert (request.method, request.path, request.version) == ("GET", "/", "HTTP/1.1")
        assert len(request.headers) == 0
        assert repr(request) == "Request('GET', '/', Headers([]), 'HTTP/1.1')"

    def test_response_defaults_and_repr(self) -> None:
        response = Response(404)
        assert (response.reason, response.body, len(response.headers)) == ("", b"", 0)
        assert repr(response) == "Response(404, '', Headers([]), b'')"


class TestFindHeadEnd:
    def test_complete_head(self) -> None:
        assert assert_same_end(REQUEST, OPTIONS) == len(REQUEST)

    def test_bytes_after_the_head_are_left(self) -> None:
        data = REQUEST + b"\x81\x00"  # a frame right behind the head
        assert find_head_end(data, OPTIONS) == len(REQUEST)
        assert find_head_end(bytearray(data), OPTIONS) == len(REQUEST)

    def test_incomplete_head(self) -> None:
        assert assert_same_end(REQUEST[:-1], OPTIONS) == -1
        assert find_head_end(b"", OPTIONS) == -1

    def test_head_size_at_the_limit(self) -> None:
        options = Options(max_head_size=len(REQUEST))
        assert assert_same_end(REQUEST, options) == len(REQUEST)

    def test_head_size_one_over(self) -> None:
        options = Options(max_head_size=len(REQUEST) - 1)
        assert assert_same_end(REQUEST, options) == -431
        with pytest.raises(InvalidHandshake, match="head is longer"):
            find_head_end(REQUEST, options)

    def test_line_size_at_the_limit(self) -> None:
        options = Options(max_line_size=len("Upgrade: websocket"))
        assert assert_same_end(REQUEST, options) == len(REQUEST)

    def test_line_size_one_over(self) -> None:
        options = Options(max_line_size=len("Upgrade: websocket") - 1)
        assert assert_same_end(REQUEST, options) == -431
        with pytest.raises(InvalidHandshake, match="line is longer"):
            find_head_end(REQUEST, options)

    def test_long_line_in_an_incomplete_head(self) -> None:
        options = Options(max_line_size=4)
        assert assert_same_end(b"GET\r\n12345\r\n", options) == -431
        assert assert_same_end(b"GET\r\n12345", options) == -431
        assert assert_same_end(b"GET\r\n1234\r", options) == -1  # CR may start CRLF

    def test_never_ending_line(self) -> None:
        options = Options(max_head_size=64, max_line_size=1000)
        assert assert_same_end(b"x" * 100, options) == -431

    @given(
        st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"a", b"bcd", b"\r\n\r\n"]), max_size=30),
        st.integers(0, 40),
        st.integers(0, 12),
    )
    def test_whole_and_bytewise_agree(self, chunks: list[bytes], head: int, line: int) -> None:
        options = Options(max_head_size=head, max_line_size=line)
        assert_same_end(b"".join(chunks), options)


class TestParseRequest:
    def test_valid(self) -> None:
        request = parse_request(REQUEST, OPTIONS)
        assert (request.method, request.path, request.version) == ("GET", "/chat", "HTTP/1.1")
        assert list(request.headers) == [("Host", "example.com"), ("Upgrade", "websocket")]

    def test_any_method_is_parsed(self) -> None:
        # request line only, POST
        assert parse_request(b"POST / HTTP/1.1\r\n\r\n", OPTIONS).method == "POST"

    def test_optional_whitespace_is_stripped(self) -> None:
        # request line; X with OWS around the value; Y empty
        request = parse_request(b"GET / HTTP/1.1\r\nX: \t a b \t\r\nY:\r\n\r\n", OPTIONS)
        assert list(request.headers) == [("X", "a b"), ("Y", "")]

    @pytest.mark.parametrize(
        "line",
        [
            b"GET /",  # no version
            b"GET  / HTTP/1.1",  # two spaces
            b"GET / http/1.1",  # lower-case version
            b"GET /\xe9 HTTP/1.1",  # non-ASCII target
            b"G(T / HTTP/1.1",  # method is not a token
            b"",  # empty
            b"GET / HTTP/1.1 ",  # trailing space
        ],
    )
    def test_bad_request_lines(self, line: bytes) -> None:
        with pytest.raises(InvalidHandshake, match="request line") as info:
            parse_request(line + b"\r\n\r\n", OPTIONS)
        assert info.value.http_status == 400

    @pytest.mark.parametrize("version", [b"HTTP/1.0", b"HTTP/2.0"])
    def test_other_versions_get_505(self, version: bytes) -> None:
        with pytest.raises(InvalidHandshake, match="version") as info:
            parse_request(b"GET / " + version + b"\r\n\r\n", OPTIONS)
        assert info.value.http_status == 505

    @pytest.mark.parametrize(
        ("line", "match"),
        [
            (b" folded", "folding"),  # obs-fold (RFC 7230 3.2.4)
            (b"\tfolded", "folding"),
            (b"Host : x", "header line"),  # space before colon
            (b"No colon", "header line"),
            (b": empty name", "header line"),
            (b"X: a\x00b", "value"),  # NUL
            (b"X: a\rb", "value"),  # bare CR
            (b"X: a\nb", "value"),  # bare LF
        ],
    )
    def test_bad_header_lines(self, line: bytes, match: str) -> None:
        head = b"GET / HTTP/1.1\r\nHost: h\r\n" + line + b"\r\n\r\n"
        with pytest.raises(InvalidHeader, match=match) as info:
            parse_request(head, OPTIONS)
        assert info.value.http_status == 400

    @given(st.lists(st.binary(max_size=12) | st.sampled_from(LINE_PIECES), max_size=12))
    def test_header_lines_checked_as_each_line_would_be(self, pieces: list[bytes]) -> None:
        # The head's fields are checked in one match; this is the rule line
        # by line (RFC 7230 3.2): what one accepts, the other must.
        lines = [line for line in b"".join(pieces).split(b"\r\n") if line]  # "": the head's end
        head = b"GET / HTTP/1.1\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"
        expected = [reference_field(line.decode("latin-1")) for line in lines]
        try:
            request = parse_request(head, Options(max_header_count=100))
        except InvalidHeader as exc:
            assert None in expected, exc
            assert exc.http_status == 400
        else:
            assert request.headers.items() == expected

    @pytest.mark.parametrize(
        "head",
        [
            b"GET / HTTP/1.1\r\n",  # no blank line
            b"GET / HTTP/1.1\r\n\r\nX: y\r\n\r\n",  # two heads
            b"abc",  # shorter than a blank line: the search for one found "at" -1
            b"",
        ],
    )
    def test_not_one_complete_head(self, head: bytes) -> None:
        with pytest.raises(InvalidHandshake, match="one complete HTTP head"):
            parse_request(head, OPTIONS)

    def test_header_count_at_the_limit_and_one_over(self) -> None:
        head = b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 3 + b"\r\n"  # three fields
        assert len(parse_request(head, Options(max_header_count=3)).headers) == 3
        with pytest.raises(InvalidHandshake, match="more than 2") as info:
            parse_request(head, Options(max_header_count=2))
        assert info.value.http_status == 431

    def test_line_size_at_the_limit_and_one_over(self) -> None:
        size = len("Upgrade: websocket")
        assert parse_request(REQUEST, Options(max_line_size=size)).path == "/chat"
        with pytest.raises(InvalidHandshake, match="line is longer") as info:
            parse_request(REQUEST, Options(max_line_size=size - 1))
        assert info.value.http_status == 431

    def test_head_size_at_the_limit_and_one_over(self) -> None:
        assert parse_request(REQUEST, Options(max_head_size=len(REQUEST))).path == "/chat"
        with pytest.raises(InvalidHandshake, match="head is longer") as info:
            parse_request(REQUEST, Options(max_head_size=len(REQUEST) - 1))
        assert info.value.http_status == 431


class TestParseResponse:
    def test_valid(self) -> None:
        # status line; Upgrade; blank line
        response = parse_response(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", OPTIONS
        )
        assert (response.status, response.reason, response.body) == (
            101,
            "Switching Protocols",
            b"",
        )
        assert response.headers["upgrade"] == "x"

    @pytest.mark.parametrize("line", [b"HTTP/1.1 404 ", b"HTTP/1.1 404", b"HTTP/1.0 404"])
    def test_empty_reason_and_http_1_0(self, line: bytes) -> None:
        response = parse_response(line + b"\r\n\r\n", OPTIONS)
        assert (response.status, response.reason) == (404, "")

    @pytest.mark.parametrize(
        "line",
        [
            b"HTTP/1.1 99 Low",  # two digits
            b"HTTP/1.1 1000 High",  # four digits
            b"HTTP/1.1 abc Letters",
            b"HTTP/2 200 OK",  # other version
            b"HTTP/1.1 200 O\x01K",  # control character in the reason
            b"ICY 200 OK",
        ],
    )
    def test_bad_status_lines(self, line: bytes) -> None:
        with pytest.raises(InvalidHandshake, match="status line"):
            parse_response(line + b"\r\n\r\n", OPTIONS)

    def test_bad_header(self) -> None:
        with pytest.raises(InvalidHeader):
            parse_response(b"HTTP/1.1 200 OK\r\n folded\r\n\r\n", OPTIONS)


class TestSerialize:
    def test_request(self) -> None:
        request = Request("GET", "/a?b=c", Headers([("Host", "h")]))
        # request line; Host; blank line
        assert serialize_request(request) == b"GET /a?b=c HTTP/1.1\r\nHost: h\r\n\r\n"
        parsed = parse_request(serialize_request(request), OPTIONS)
        assert (parsed.path, parsed.headers) == ("/a?b=c", request.headers)

    @pytest.mark.parametrize(
        "request_",
        [Request("G T"), Request(path=""), Request(path="/a b"), Request(path="/\xe9")],
    )
    def test_bad_request(self, request_: Request) -> None:
        with pytest.raises(ArgumentError):
            serialize_request(request_)

    def test_response_with_default_reason(self) -> None:
        # status line with the standard phrase; blank line
        assert serialize_response(Response(101)) == b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
        # an unregistered status keeps an empty reason after its SP
        assert serialize_response(Response(599)) == b"HTTP/1.1 599 \r\n\r\n"

    def test_response_body_adds_content_length(self) -> None:
        response = Response(404, "Nope", Headers([("X", "1")]), b"gone")
        # status line; X; Content-Length added; blank line; body
        expected = b"HTTP/1.1 404 Nope\r\nX: 1\r\nContent-Length: 4\r\n\r\ngone"
        assert serialize_response(response) == expected
        assert "Content-Length" not in response.headers  # not modified

    def test_response_keeps_given_content_length(self) -> None:
        response = Response(200, "OK", Headers([("content-length", "4")]), b"body")
        assert serialize_response(response) == b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"

    @pytest.mark.parametrize("response", [Response(99), Response(1000), Response("200")])  # type: ignore[arg-type]
    def test_bad_status(self, response: Response) -> None:
        with pytest.raises(ArgumentError, match="status"):
            serialize_response(response)

    def test_bad_reason(self) -> None:
        with pytest.raises(ArgumentError, match="reason"):
            serialize_response(Response(200, "O\r\nK"))

    def test_status_lines_are_remembered_apart(self) -> None:
        # Each (status, reason) keeps its own line; an invalid one is never kept.
        for _ in range(2):
            assert serialize_response(Response(101, "Custom")).startswith(
                b"HTTP/1.1 101 Custom\r\n"
            )
            assert serialize_response(Response(101)).startswith(
                b"HTTP/1.1 101 Switching Protocols\r\n"
            )
            for status in (True, 101.0, 99):
                with pytest.raises(ArgumentError, match="status"):
                    serialize_response(Response(status, "Switching Protocols"))  # type: ignore[arg-type]
            with pytest.raises(ArgumentError, match="reason"):
                serialize_response(Response(200, "O\r\nK"))


def python_split(head: bytes, options: Options) -> tuple[str, list, list] | None:
    """The Python path of head parsing, None where it raises."""
    try:
        first, fields = http._split_head(head, options)
        headers = http._parse_headers(fields)
    except InvalidHandshake:
        return None
    return first, headers._items, headers._keys


# Pieces for the C split: the line pieces, and each edge of the value characters.
C_PIECES = [*LINE_PIECES, b"\x7f", b"\x1f", b"\x20", b"\x80", b"\xff", b"X-Y:Z"]
# Header lines, CRLF included, mostly valid: a name, a colon, a value with
# spaces around it, any of them possibly one of the pieces above.
field_lines = st.builds(
    lambda name, colon, value: name + colon + value + b"\r\n",
    tokens.map(str.encode) | st.sampled_from(C_PIECES),
    st.sampled_from([b":", b": ", b":\t", b" :", b""]),  # one in five bad
    values.map(lambda v: f" {v}\t ".encode("latin-1")) | st.sampled_from(C_PIECES),
)
junk_lines = field_lines | st.binary(max_size=12) | st.sampled_from(C_PIECES)
FIRST_LINES = [b"GET / HTTP/1.1", b"HTTP/1.1 101 Switching Protocols", b"", b"G\rT", b"\xff"]


@pytest.mark.skipif(http._c_split_head is None, reason="C accelerator not built or disabled")
class TestSplitHeadInC:
    """The C split of a head takes exactly the heads the Python path takes."""

    @settings(max_examples=300)
    @given(
        st.sampled_from(FIRST_LINES) | st.binary(max_size=8),
        st.lists(field_lines, max_size=8) | st.lists(junk_lines, max_size=10),
        st.sampled_from([b"\r\n", b"", b"\r\n\r\n", b"\n\r\n"]),
        st.tuples(st.integers(-1, 1), st.integers(-1, 1), st.integers(-1, 1)),
    )
    def test_agrees_with_the_python_path(
        self, first: bytes, pieces: list[bytes], end: bytes, deltas: tuple[int, int, int]
    ) -> None:
        head = first + b"\r\n" + b"".join(pieces) + end
        # Each limit at, just under or just over what this head needs.
        lines = head[:-2].split(b"\r\n")
        head_size = max(0, len(head) + deltas[0])
        line = max(0, max(map(len, lines)) + deltas[1])
        count = max(0, len(lines) - 2 + deltas[2])
        options = Options(max_head_size=head_size, max_line_size=line, max_header_count=count)
        split = http._c_split_head(head, head_size, line, count)
        assert split == python_split(head, options)
        if split is not None:
            assert all(key is intern(key) for key in split[2])

    @pytest.mark.parametrize(
        "head",
        [
            REQUEST,
            b"\r\n\r\n",  # an empty first line is the request line's regex's to refuse
            b"GET / HTTP/1.1\r\nX:\r\nY: \t a \t b\t \r\nZ:\xe9\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: y\r\n\r\nZ: w\r\n\r\n",  # two heads
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            b"abc",
        ],
    )
    def test_examples(self, head: bytes) -> None:
        split = http._c_split_head(head, 16384, 8192, 128)
        assert split == python_split(head, OPTIONS)
        assert split == python_split(bytearray(head), OPTIONS)  # any bytes-like

    def test_every_byte_in_a_name_and_in_a_value(self) -> None:
        for byte in map(bytes.fromhex, (f"{c:02x}" for c in range(256))):
            for head in (
                b"GET / HTTP/1.1\r\nX: a" + byte + b"b\r\n\r\n",
                b"GET / HTTP/1.1\r\nX" + byte + b"Y: z\r\n\r\n",
            ):
                limits = (OPTIONS.max_head_size, OPTIONS.max_line_size, OPTIONS.max_header_count)
                assert http._c_split_head(head, *limits) == python_split(head, OPTIONS), head


@pytest.mark.skipif(http._c_serialize_fields is None, reason="C accelerator not built or disabled")
class TestSerializeFieldsInC:
    """The C serialization of header fields is the Python one, or None where that raises."""

    @settings(max_examples=200)
    @given(st.lists(st.tuples(tokens, st.text(max_size=12)), max_size=8))
    def test_agrees_with_the_python_path(self, items: list[tuple[str, str]]) -> None:
        lines = http._c_serialize_fields(items)
        text = "".join(f"{name}: {value}\r\n" for name, value in items)
        try:
            expected = text.encode("latin-1")
        except UnicodeEncodeError:
            assert lines is None
        else:
            assert lines == expected

    def test_anything_but_pairs_of_str_goes_the_python_way(self) -> None:
        class Text(str):
            pass

        for items in ([("a", 1)], [("a", "b", "c")], [["a", "b"]], [(Text("a"), "b")]):
            assert http._c_serialize_fields(items) is None  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            http._c_serialize_fields(("a", "b"))  # type: ignore[arg-type]


# Names for the lookups: a few, so that they repeat; any case.
lookup_names = st.sampled_from(["Host", "host", "HOST", "Origin", "X-A", "x-a", "Upgrade"])


class TestValuesOf:
    """``Headers.values_of``: ``get_all`` of several lowercased names at once."""

    @settings(max_examples=200)
    @given(
        st.lists(st.tuples(lookup_names, values), max_size=8),
        st.lists(lookup_names.map(str.lower), max_size=5).map(tuple),
    )
    def test_is_get_all_of_each(
        self, fields: list[tuple[str, str]], wanted: tuple[str, ...]
    ) -> None:
        headers = Headers(fields)
        assert headers.values_of(wanted) == [headers.get_all(name) for name in wanted]

    def test_examples(self) -> None:
        headers = Headers([("Host", "a"), ("X-A", "1"), ("x-a", "2"), ("Origin", "o")])
        assert headers.values_of(("x-a", "host", "absent", "x-a")) == [
            ["1", "2"],
            ["a"],
            [],
            ["1", "2"],
        ]
        assert headers.values_of(()) == []

    def test_keys_need_not_be_interned(self) -> None:
        headers = Headers([("X-Long-Name", "v")])
        made = "".join(["x-long", "-name"])  # equal, another object
        assert made is not headers._keys[0]
        assert headers.values_of((made,)) == [["v"]]


@pytest.mark.skipif(http._c_values_of is None, reason="C accelerator not built or disabled")
class TestValuesOfInC:
    """The C ``values_of`` returns what the Python lookups return."""

    @settings(max_examples=300)
    @given(
        st.lists(st.tuples(lookup_names, values), max_size=10),
        st.lists(lookup_names.map(str.lower), max_size=6).map(tuple),
    )
    def test_agrees_with_python(
        self, fields: list[tuple[str, str]], wanted: tuple[str, ...]
    ) -> None:
        headers = Headers(fields)
        expected = [headers._values(name) for name in wanted]
        assert http._c_values_of(headers._keys, headers._items, wanted) == expected

    def test_lists_changed_while_comparing(self) -> None:
        # A str subclass's __eq__ runs Python code in the middle of the C loop:
        # emptying the lists there must not make it read past their end.
        keys, items = ["a", "b", "c"], [("a", "1"), ("b", "2"), ("c", "3")]

        class Emptying(str):
            __hash__ = str.__hash__

            def __eq__(self, other: object) -> bool:
                keys.clear()
                items.clear()
                return False

        assert http._c_values_of(keys, items, (Emptying("b"),)) == [[]]

    def test_refuses_what_is_not_headers(self) -> None:
        with pytest.raises(TypeError):
            http._c_values_of(["a"], [("a", "1")], ["a"])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="length"):
            http._c_values_of(["a", "b"], [("a", "1")], ("a",))
        with pytest.raises(TypeError, match="tuple"):
            http._c_values_of(["a"], [["a", "1"]], ("a",))  # type: ignore[list-item]
