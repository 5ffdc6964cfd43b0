"""Ping bookkeeping and keepalive timing: decisions as pure functions of ``now``.

Nothing here waits or reads a clock: the reader thread passes ``now``
(``time.monotonic()``) and tests pass the times they choose.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from ..protocol.exceptions import InvalidState

__all__ = ["Keepalive", "Ping", "Pings"]


class Keepalive:
    """When to send a keepalive PING and when its PONG is overdue.

    One keepalive ping is outstanding at a time: the next one is sent once
    the previous one was answered and ``interval`` has passed since it left.

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
        #: When the outstanding ping's pong is overdue (None: no limit or no ping).
        self.expires: float | None = None
        #: Whether a keepalive ping waits for its pong.
        self.waiting = False

    def ping_due(self, now: float) -> bool:
        """Whether to send a keepalive ping at ``now``."""
        return not self.waiting and self.next_ping is not None and now >= self.next_ping

    def ping_sent(self, now: float) -> None:
        """Record that a keepalive ping left at ``now``."""
        self.waiting = True
        if self.interval is not None:
            self.next_ping = now + self.interval
        if self.timeout is not None:
            self.expires = now + self.timeout

    def pong_received(self) -> None:
        """Record that the outstanding ping was answered."""
        self.waiting = False
        self.expires = None

    def overdue(self, now: float) -> bool:
        """Whether the outstanding ping went unanswered for too long at ``now``."""
        return self.waiting and self.expires is not None and now >= self.expires

    def deadline(self) -> float | None:
        """The next time something is due (None: nothing until a pong comes)."""
        return self.expires if self.waiting else self.next_ping


class Ping:
    """A ping waiting for its pong.

    Attributes:
        sent: when it left.
        rtt: seconds until its pong came; None while waiting, and for good
            if the connection closed first.
        done: set when the pong came or the connection closed.
    """

    __slots__ = ("done", "rtt", "sent")

    def __init__(self, sent: float) -> None:
        self.sent = sent
        self.rtt: float | None = None
        self.done = threading.Event()


class Pings:
    """The pings waiting for their pong, oldest first.

    Args:
        random_bytes: the source of payloads for pings sent without one.
    """

    def __init__(self, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._waiting: dict[bytes, Ping] = {}
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

    def add(self, data: bytes, now: float) -> Ping:
        """Record a ping sent at ``now`` with the payload ``data``."""
        ping = self._waiting[data] = Ping(now)
        return ping

    def settle(self, data: bytes, now: float) -> list[Ping]:
        """A PONG with ``data`` came at ``now``: return the pings it answers, settled.

        A PONG answers its PING and every PING sent before it (RFC 6455 5.5.3:
        a peer may answer only the most recent one). A PONG nobody asked for
        answers none.
        """
        if data not in self._waiting:
            return []
        settled = []
        for key in list(self._waiting):
            ping = self._waiting.pop(key)
            ping.rtt = now - ping.sent
            ping.done.set()
            settled.append(ping)
            if key == data:
                break
        return settled

    def discard(self, ping: Ping) -> None:
        """Forget ``ping`` (its caller stopped waiting)."""
        for key, waiting in list(self._waiting.items()):
            if waiting is ping:
                del self._waiting[key]

    def cancel_all(self) -> None:
        """The connection closed: wake every waiter, without an rtt."""
        for ping in self._waiting.values():
            ping.done.set()
        self._waiting.clear()
