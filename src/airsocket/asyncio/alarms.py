"""One loop timer for the deadlines of every connection on an event loop.

A connection has a deadline for most of its life (the opening handshake's,
the keepalive's, the close's), and almost none is ever reached: it moves
later, or goes with the connection. An asyncio ``call_at`` and its
``cancel`` for each cost 3-4 us a connection (uvloop makes a libuv timer
for each); an entry in one heap per loop costs a fraction of that, and a
single loop timer stays armed for the earliest entry (bench/README.md,
"What each optimization bought").
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Alarm", "AlarmClock", "alarm_clock"]

#: An entry of the heap: ``[when, sequence number, callback]``. Lists
#: compare item by item, and the unique sequence number settles ties before
#: the callback is ever compared. The callback is None once it ran or was
#: cancelled: the entry stays in the heap until it comes first or the heap
#: is compacted.
Alarm = list[Any]

#: Compact the heap when more than this many of its entries are cancelled
#: and they are more than half of it (as asyncio does with its timers).
_COMPACT_AFTER = 64


class AlarmClock:
    """Calls each callback once its time has come, on ``loop``, from one loop timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weakly: the clock is the value of a weak-keyed mapping from its loop.
        self._loop = weakref.ref(loop)
        self._heap: list[Alarm] = []
        self._sequence = itertools.count()
        self._cancelled = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def set(self, when: float, callback: Callable[[float], object]) -> Alarm:
        """Call ``callback(now)`` at loop time ``when``; return the alarm, for :meth:`cancel`.

        ``now`` is the loop time the alarm rang at, never earlier than ``when``.
        """
        alarm = [when, next(self._sequence), callback]
        heapq.heappush(self._heap, alarm)
        if when < self._timer_at:
            self._arm(when)
        return alarm

    def cancel(self, alarm: Alarm) -> None:
        """Forget ``alarm`` (and let go of its callback) unless it already ran."""
        if alarm[2] is None:
            return
        alarm[2] = None
        self._cancelled += 1
        heap = self._heap
        if self._cancelled == len(heap):
            # Nothing is left to wait for: no loop timer outlives the last connection.
            heap.clear()
            self._cancelled = 0
            self._disarm()
        elif self._cancelled > _COMPACT_AFTER and self._cancelled * 2 > len(heap):
            heap[:] = [entry for entry in heap if entry[2] is not None]
            heapq.heapify(heap)
            self._cancelled = 0

    def __len__(self) -> int:
        """How many alarms wait."""
        return len(self._heap) - self._cancelled

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the clock keeps time on."""
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop is gone")
        return loop

    def _arm(self, when: float) -> None:
        self._disarm()
        self._timer_at = when
        self._timer = self.loop.call_at(when, self._ring)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = math.inf

    def _ring(self) -> None:
        # What the timer was armed for is due, even if the clock reads a hair
        # earlier (uvloop's timers count whole milliseconds).
        now = max(self.loop.time(), self._timer_at)
        self._timer = None
        self._timer_at = math.inf
        heap = self._heap
        # Alarms set by the callbacks wait for the next ring, even if due.
        first_unseen = next(self._sequence)
        try:
            while heap and heap[0][0] <= now and heap[0][1] < first_unseen:
                alarm = heapq.heappop(heap)
                callback = alarm[2]
                if callback is None:
                    self._cancelled -= 1
                    continue
                alarm[2] = None  # ran: a later cancel() does nothing
                try:
                    callback(now)
                except Exception as exc:  # one connection's failure is not the others'
                    self.loop.call_exception_handler(
                        {"message": "Exception in a connection's deadline", "exception": exc}
                    )
        finally:
            # A KeyboardInterrupt leaves the rest in the heap: arm for what comes first.
            while heap and heap[0][2] is None:
                heapq.heappop(heap)
                self._cancelled -= 1
            if heap and heap[0][0] < self._timer_at:
                self._arm(heap[0][0])


_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AlarmClock] = (
    weakref.WeakKeyDictionary()
)


def alarm_clock(loop: asyncio.AbstractEventLoop) -> AlarmClock:
    """The alarm clock of ``loop``, made at the first call."""
    clock = _clocks.get(loop)
    if clock is None:
        clock = _clocks[loop] = AlarmClock(loop)
    return clock
