"""Running a test's coroutine: a debug event loop, a hard timeout, loop errors as failures.

Shared by the asyncio and AIR tests (``pythonpath = ["tests"]`` in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_bounded(
    coro: Coroutine[Any, Any, T],
    timeout: float,
    ignore: tuple[str, ...] = (),
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> T:
    """Run ``coro`` in a debug event loop; fail on loop errors or a timeout.

    ``ignore`` lists loop error messages a test expects (asyncio itself
    reports, for example, a TLS handshake that an incoming client aborted).
    ``loop_factory`` makes another loop than asyncio's (uvloop's).
    """
    errors: list[dict[str, Any]] = []

    def collect(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") not in ignore:
            errors.append(context)

    async def bounded() -> T:
        asyncio.get_running_loop().set_exception_handler(collect)
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            # Collect now, while the loop is alive, so that a future whose
            # exception was never retrieved is reported to our handler.
            gc.collect()

    if loop_factory is None:
        result = asyncio.run(bounded(), debug=True)
    else:  # asyncio.Runner: Python 3.11+
        with asyncio.Runner(debug=True, loop_factory=loop_factory) as runner:
            result = runner.run(bounded())
    assert not errors, f"the event loop reported errors: {errors!r}"
    return result
