"""airsocket.tls: the client's TLS context, shared by every I/O layer."""

from __future__ import annotations

import ssl

import pytest

import airsocket
from airsocket.protocol.options import Options
from airsocket.protocol.uri import parse_uri
from airsocket.tls import ENCRYPT_SIZE, client_ssl_context, plaintext_pieces


def test_ws_url_has_no_context_and_refuses_one() -> None:
    assert client_ssl_context(parse_uri("ws://localhost/"), Options()) is None
    given = Options.build(ssl=ssl.create_default_context())
    with pytest.raises(airsocket.ArgumentError, match="wss://"):
        client_ssl_context(parse_uri("ws://localhost/"), given)


def test_ssl_must_be_a_context() -> None:
    with pytest.raises(airsocket.ArgumentError, match="SSLContext"):
        client_ssl_context(parse_uri("wss://localhost/"), Options.build(ssl=True))


def test_a_given_context_is_used_and_the_default_verifies() -> None:
    given = ssl.create_default_context()
    assert client_ssl_context(parse_uri("wss://localhost/"), Options.build(ssl=given)) is given
    default = client_ssl_context(parse_uri("wss://localhost/"), Options())
    assert isinstance(default, ssl.SSLContext)
    assert default.verify_mode is ssl.CERT_REQUIRED
    assert default.check_hostname


class TestPlaintextPieces:
    def test_small_data_is_one_piece_as_it_is(self) -> None:
        data = b"x" * ENCRYPT_SIZE
        assert list(plaintext_pieces(data)) == [data]
        assert next(plaintext_pieces(data)) is data

    @pytest.mark.parametrize("size", [ENCRYPT_SIZE + 1, 3 * ENCRYPT_SIZE, 3 * ENCRYPT_SIZE + 7])
    def test_large_data_is_cut_into_views(self, size: int) -> None:
        data = bytes(range(256)) * (size // 256) + b"\x07" * (size % 256)
        pieces = list(plaintext_pieces(data))
        assert all(type(piece) is memoryview for piece in pieces)
        assert [len(piece) for piece in pieces[:-1]] == [ENCRYPT_SIZE] * (len(pieces) - 1)
        assert 0 < len(pieces[-1]) <= ENCRYPT_SIZE
        assert b"".join(pieces) == data
