"""Tasks waiting for one event of a connection, each on a future of its own."""

from __future__ import annotations

import asyncio

__all__ = ["Waiters"]


class Waiters:
    """The tasks that wait for one event (the close, the buffer drained).

    Each waits on a future of its own, which :meth:`wake_all` sets at once:
    a waiter that is cancelled (a timeout around ``close()`` or ``send()``)
    cancels no other, as ``asyncio.shield`` around one shared future would
    also ensure, but with no loop iteration between the event and the
    task's wake-up (shield passes through two done callbacks; a client's
    ``close()``: 12 -> 10 loop iterations a handshake).
    """

    __slots__ = ("_futures", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make an empty set of waiters on ``loop``."""
        self._loop = loop
        self._futures: list[asyncio.Future[None]] = []

    async def wait(self) -> None:
        """Wait until the next :meth:`wake_all`."""
        future = self._loop.create_future()
        self._futures.append(future)
        try:
            await future
        except BaseException:  # cancelled: not woken, so still listed
            if future in self._futures:
                self._futures.remove(future)
            raise

    def wake_all(self) -> None:
        """Wake every task waiting now."""
        futures, self._futures = self._futures, []
        for future in futures:
            if not future.done():
                future.set_result(None)
