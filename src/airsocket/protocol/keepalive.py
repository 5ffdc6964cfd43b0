"""Ping bookkeeping and keepalive timing: decisions as pure functions of ``now``.

Nothing here waits or reads a clock: each I/O layer passes ``now`` (the
asyncio engine ``loop.time()``, the blocking reader ``time.monotonic()``),
tests pass the times they choose, and the layer keeps its own kind of
waiter (a future, a thread event) in :class:`Pings`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

from .exceptions import InvalidState

__all__ = ["Keepalive", "Pings"]

W = TypeVar("W")


class Keepalive:
    """When to send a keepalive PING and when the peer is overdue with a PONG.

    A keepalive PING leaves every ``interval`` seconds, answered or not (the
    traffic itself keeps idle intermediaries from dropping the connection).
    The peer is overdue when the oldest PING still unanswered was sent more
    than ``timeout`` seconds ago; any PONG for one of our PINGs answers it.

    Args:
        interval: seconds between pings (None: no keepalive).
        timeout: seconds a ping may wait for its pong (None: no limit).
        now: when the connection opened.
    """

    def __init__(self, interval: float | None, timeout: float | None, now: float) -> None:
        self.interval = interval
        self.timeout = timeout
        #: When the next ping is due (None: never).
        self.next_ping = None if interval is None else now + interval
        #: When the oldest unanswered ping becomes overdue (None: nothing waits).
        self.expires: float | None = None

    def ping_due(self, now: float) -> bool:
        """Whether to send a keepalive ping at ``now``."""
        return self.next_ping is not None and now >= self.next_ping

    def ping_sent(self, now: float) -> None:
        """Record that a keepalive ping left at ``now``."""
        if self.interval is not None:
            self.next_ping = now + self.interval
        if self.timeout is not None and self.expires is None:
            self.expires = now + self.timeout

    def pong_received(self) -> None:
        """Record that the peer answered one of our pings."""
        self.expires = None

    def overdue(self, now: float) -> bool:
        """Whether the oldest unanswered ping went unanswered too long at ``now``."""
        return self.expires is not None and now >= self.expires

    def deadline(self) -> float | None:
        """The next time something is due (None: nothing)."""
        next_ping, expires = self.next_ping, self.expires
        if next_ping is None or expires is None:
            return expires if next_ping is None else next_ping
        return min(next_ping, expires)


class Pings(Generic[W]):
    """The pings waiting for their pong, oldest first, each with its waiter.

    Args:
        random_bytes: the source of payloads for pings sent without one.
    """

    def __init__(self, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._waiting: dict[bytes, tuple[float, W]] = {}
        self._random = random_bytes

    def payload(self, data: bytes | None) -> bytes:
        """Return ``data``, or a fresh payload if None, checked to be unambiguous.

        Raises:
            InvalidState: a ping with this payload is already waiting.
        """
        if data is None:
            data = self._random(4)
            while data in self._waiting:
                data = self._random(4)
        elif data in self._waiting:
            raise InvalidState("a ping with this payload is already waiting")
        return data

    def add(self, data: bytes, now: float, waiter: W) -> None:
        """Record a ping sent at ``now`` with the payload ``data``."""
        self._waiting[data] = (now, waiter)

    def settle(self, data: bytes, now: float) -> list[tuple[W, float]]:
        """A PONG with ``data`` came at ``now``: the waiters it answers, with their rtt.

        A PONG answers its PING and every PING sent before it (RFC 6455 5.5.3:
        a peer may answer only the most recent one); the PING it matches comes
        last. A PONG nobody asked for answers none.
        """
        if data not in self._waiting:
            return []
        settled = []
        for key in list(self._waiting):
            sent, waiter = self._waiting.pop(key)
            settled.append((waiter, now - sent))
            if key == data:
                break
        return settled

    def discard(self, waiter: W) -> None:
        """Forget the ping of ``waiter`` (its caller stopped waiting)."""
        for key, (_, waiting) in list(self._waiting.items()):
            if waiting is waiter:
                del self._waiting[key]

    def cancel_all(self) -> list[W]:
        """The connection closed: forget every ping and return their waiters."""
        waiters = [waiter for _, waiter in self._waiting.values()]
        self._waiting.clear()
        return waiters
