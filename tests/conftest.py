"""Fixtures shared by the tests of every API."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from airsocket.protocol.connection import Connection


@pytest.fixture
def reads_in_place(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every read made straight into a large message during the test.

    Each call of ``Connection.receive_into`` (the core's side of reading in
    place, see ``receive_buffer``) appends its size.
    """
    sizes: list[int] = []
    original = Connection.receive_into

    def counted(self: Connection, size: int) -> None:
        sizes.append(size)
        original(self, size)

    monkeypatch.setattr(Connection, "receive_into", counted)
    return sizes


@pytest.fixture
def tls_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every piece of plaintext handed to TLS during the test.

    Each call of ``ssl.SSLObject.write`` appends its size: asyncio's TLS,
    uvloop's and the blocking API's all encrypt through an SSLObject.
    """
    sizes: list[int] = []
    original = ssl.SSLObject.write

    def write(self: ssl.SSLObject, data: Any) -> int:
        sizes.append(len(data))
        return original(self, data)

    monkeypatch.setattr(ssl.SSLObject, "write", write)
    return sizes
