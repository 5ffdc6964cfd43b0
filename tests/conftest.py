"""Fixtures shared by the tests of every API."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import pytest

from airsocket.protocol.connection import Connection


def _record_sizes(
    monkeypatch: pytest.MonkeyPatch, owner: type, name: str, size_of: Callable[[Any], int]
) -> list[int]:
    """Wrap the method ``owner.name(self, arg)`` for the test: append ``size_of(arg)`` a call."""
    sizes: list[int] = []
    original = getattr(owner, name)

    def recorded(self: Any, arg: Any) -> Any:
        sizes.append(size_of(arg))
        return original(self, arg)

    monkeypatch.setattr(owner, name, recorded)
    return sizes


@pytest.fixture
def reads_in_place(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every read made straight into a large message during the test.

    Each call of ``Connection.receive_into`` (the core's side of reading in
    place, see ``receive_buffer``) appends its size.
    """
    return _record_sizes(monkeypatch, Connection, "receive_into", int)


@pytest.fixture
def tls_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every piece of plaintext handed to TLS during the test.

    Each call of ``ssl.SSLObject.write`` appends its size: asyncio's TLS,
    uvloop's and the blocking API's all encrypt through an SSLObject.
    """
    return _record_sizes(monkeypatch, ssl.SSLObject, "write", len)
