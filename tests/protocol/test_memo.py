"""keep(), the one way into the core's bounded memos, and the memos themselves."""

from __future__ import annotations

import pytest

from airsocket.protocol import http, uri
from airsocket.protocol.exceptions import InvalidURI
from airsocket.protocol.http import Headers, Response, serialize_response
from airsocket.protocol.memo import keep


class TestKeep:
    def test_it_stores_and_returns_the_value(self) -> None:
        memo: dict[str, int] = {}
        assert keep(memo, 3, "a", 1) == 1
        assert memo == {"a": 1}

    def test_a_full_memo_forgets_everything_then_keeps_the_new_key(self) -> None:
        memo: dict[int, int] = {}
        for key in range(3):
            keep(memo, 3, key, key * 10)
        assert memo == {0: 0, 1: 10, 2: 20}
        keep(memo, 3, 3, 30)
        assert memo == {3: 30}

    def test_it_never_holds_more_than_its_limit(self) -> None:
        memo: dict[int, int] = {}
        for key in range(100):
            keep(memo, 5, key, key)
            assert len(memo) <= 5

    def test_a_key_kept_again_replaces_its_value(self) -> None:
        memo: dict[str, int] = {}
        keep(memo, 2, "a", 1)
        keep(memo, 2, "a", 2)
        assert memo == {"a": 2}


class TestTheCoresMemosAreBounded:
    def test_parsed_urls(self) -> None:
        for port in range(1, 500):
            assert uri.parse_uri(f"ws://h:{port}/").port == port
            assert len(uri._PARSED) <= 128
        with pytest.raises(InvalidURI):
            uri.parse_uri("ws://h:99999/")
        assert "ws://h:99999/" not in uri._PARSED

    def test_status_lines(self) -> None:
        for number in range(500):
            line = serialize_response(Response(200, f"R{number}"))
            assert line.startswith(f"HTTP/1.1 200 R{number}\r\n".encode())
            assert len(http._STATUS_LINES) <= 64

    def test_checked_option_fields(self) -> None:
        for number in range(500):
            headers = Headers()
            headers.add_option("Server", f"s{number}")
            assert headers.serialize() == f"Server: s{number}\r\n".encode()
            assert len(http._CHECKED_OPTION_FIELDS) <= 64
