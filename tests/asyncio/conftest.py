"""Fixtures of the asyncio tests; the helpers themselves are in aio_helpers.py."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from aio_helpers import make_tls, run_bounded


def _cancelled_error_is_consistent() -> bool:
    """Whether the C futures raise the CancelledError that ``asyncio`` exports.

    ``coverage run --source=airsocket.asyncio`` imports the package (and so
    asyncio) to find it, then unloads what it imported; on Python 3.11 the C
    ``_asyncio`` module keeps the first CancelledError class while a fresh
    ``asyncio`` defines another one. ``except asyncio.CancelledError`` then
    misses real cancellations (inside asyncio.wait_for too), and tests fail
    for no fault of the code under test.
    """
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        future.cancel()
        try:
            future.result()
        except asyncio.CancelledError:
            return True
        except BaseException:
            return False
        return False
    finally:
        loop.close()


def pytest_configure(config: pytest.Config) -> None:
    if not _cancelled_error_is_consistent():
        raise pytest.UsageError(
            "asyncio was imported twice, so asyncio.CancelledError is not the class "
            "that futures raise (coverage's --source=<dotted module> does this). "
            "Measure with --include='src/airsocket/asyncio/*,src/airsocket/cli.py' "
            "(or --source=src/airsocket) instead."
        )


@pytest.fixture
def run() -> Callable[..., Any]:
    """``run(coro)``: run it in a debug loop, bounded, failing on loop errors."""
    return run_bounded


@pytest.fixture(scope="session")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) trusting a throwaway CA for localhost."""
    return make_tls()
