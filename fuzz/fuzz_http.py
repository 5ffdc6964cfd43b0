"""Atheris target: the bounded HTTP/1.1 head parser (find_head_end,
parse_request, parse_response).

Byte 0 picks small or default limits, so that the limit checks are reached
as well as the grammar. Only InvalidHandshake (and its subclasses) may come
out; a request that parses must serialize back to one that parses the same.
With the C accelerator, its split of the head must equal the Python path's
(None where that raises), on the head and on the raw input, and its lookups
(values_of) the Python lookups, for the names a handshake checks and each
name the request has.
"""

from __future__ import annotations

import contextlib

import atheris
from _common import REQUEST, RESPONSE, fuzz

with atheris.instrument_imports(include=["airsocket"]):
    from airsocket.protocol import http
    from airsocket.protocol.exceptions import InvalidHandshake
    from airsocket.protocol.http import (
        find_head_end,
        parse_request,
        parse_response,
        serialize_request,
    )
    from airsocket.protocol.options import Options

SMALL = Options(max_head_size=256, max_line_size=64, max_header_count=4)
DEFAULT = Options()
SEEDS = [
    b"\x00" + REQUEST,
    b"\x00" + RESPONSE,
    b"\x01" + REQUEST,
    b"\x00HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    b"\x00GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
]


def python_split(head: bytes, options: Options) -> tuple[str, list, list] | None:
    try:
        first, fields = http._split_head(head, options)
        headers = http._parse_headers(fields)
    except InvalidHandshake:
        return None
    return first, headers._items, headers._keys


def check_c_split(head: bytes, options: Options) -> None:
    if http._c_split_head is not None:
        limits = (options.max_head_size, options.max_line_size, options.max_header_count)
        assert http._c_split_head(head, *limits) == python_split(head, options)


def check_c_values_of(headers: http.Headers) -> None:
    if http._c_values_of is not None:
        names = (*HANDSHAKE_NAMES, *headers._keys)
        expected = [headers._values(name) for name in names]
        assert http._c_values_of(headers._keys, headers._items, names) == expected


HANDSHAKE_NAMES = ("host", "upgrade", "connection", "sec-websocket-key", "origin")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    options = SMALL if data[0] & 1 else DEFAULT
    buffer = data[1:]
    check_c_split(buffer, options)
    try:
        end = find_head_end(buffer, options)
    except InvalidHandshake:
        return
    if end < 0:
        return
    assert buffer[end - 4 : end] == b"\r\n\r\n"
    head = buffer[:end]
    check_c_split(head, options)
    try:
        request = parse_request(head, options)
    except InvalidHandshake:
        pass
    else:
        check_c_values_of(request.headers)
        again = parse_request(serialize_request(request), DEFAULT)
        assert (again.method, again.path, again.headers) == (
            request.method,
            request.path,
            request.headers,
        )
    with contextlib.suppress(InvalidHandshake):
        parse_response(head, options)


if __name__ == "__main__":
    fuzz(SEEDS, test_one_input)
