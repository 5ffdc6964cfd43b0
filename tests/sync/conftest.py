"""Fixtures of the blocking API's tests; the helpers are in helpers.py."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator

import pytest

from .helpers import tls_contexts


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every thread a test started (readers, handlers, servers) has ended after it.

    ``close()`` joins a connection's reader and ``shutdown()`` a server's
    handlers, so a thread still alive when the test returns is a leak.
    """
    before = set(threading.enumerate())
    yield
    alive = [thread.name for thread in threading.enumerate() if thread not in before]
    assert not alive, f"threads left running: {alive}"


@pytest.fixture(scope="session")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) trusting a throwaway CA for 127.0.0.1."""
    return tls_contexts()
