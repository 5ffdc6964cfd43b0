"""The loop's one clock for every connection's deadlines (airsocket.asyncio.alarms)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from airsocket.asyncio.alarms import AlarmClock, alarm_clock


def ringer(log: list[Any], name: Any, done: asyncio.Future[None] | None = None) -> Any:
    def ring(now: float) -> None:
        log.append(name)
        if done is not None and not done.done():
            done.set_result(None)

    return ring


def a_clock() -> tuple[asyncio.AbstractEventLoop, AlarmClock, list[Any], asyncio.Future[None]]:
    """The running loop, a clock of its own, a log for ringers, and a future to await."""
    loop = asyncio.get_running_loop()
    return loop, AlarmClock(loop), [], loop.create_future()


class TestAlarmClock:
    def test_alarms_ring_in_the_order_of_their_times_and_once(self, run):
        async def main():
            loop, clock, log, done = a_clock()
            now = loop.time()
            clock.set(now + 0.003, ringer(log, "c", done))
            first = clock.set(now + 0.001, ringer(log, "a"))
            clock.set(now + 0.002, ringer(log, "b"))
            rang_at: list[float] = []
            clock.set(now + 0.002, rang_at.append)
            await done
            assert log == ["a", "b", "c"]
            assert rang_at[0] >= now + 0.002  # the time it rang, never before its own
            clock.cancel(first)  # it rang: nothing to cancel
            assert len(clock) == 0
            assert clock._timer is None  # nothing left to wait for

        run(main())

    def test_a_cancelled_alarm_never_rings(self, run):
        async def main():
            loop, clock, log, done = a_clock()
            now = loop.time()
            cancelled = clock.set(now + 0.001, ringer(log, "cancelled"))
            clock.set(now + 0.002, ringer(log, "kept", done))
            clock.cancel(cancelled)
            clock.cancel(cancelled)  # twice: the count of cancelled alarms holds
            assert cancelled[2] is None  # its callback (a connection) is let go
            await done
            assert log == ["kept"]
            assert len(clock) == 0 and clock._cancelled == 0

        run(main())

    def test_the_last_cancel_disarms_the_loop_timer(self, run):
        async def main():
            loop = asyncio.get_running_loop()
            clock = AlarmClock(loop)
            alarms = [clock.set(loop.time() + 60 + i, ringer([], i)) for i in range(3)]
            timer = clock._timer
            assert timer is not None and timer.when() == alarms[0][0]
            for alarm in alarms:
                clock.cancel(alarm)
            assert timer.cancelled() and clock._timer is None
            assert clock._heap == []

        run(main())

    def test_only_an_earlier_alarm_rearms_the_loop_timer(self, run):
        async def main():
            loop = asyncio.get_running_loop()
            clock = AlarmClock(loop)
            now = loop.time()
            later = clock.set(now + 60, ringer([], "later"))
            timer = clock._timer
            clock.set(now + 90, ringer([], "latest"))
            assert clock._timer is timer  # the usual case: each deadline later than the last
            earliest = clock.set(now + 30, ringer([], "earliest"))
            assert timer.cancelled() and clock._timer.when() == now + 30
            for alarm in (later, earliest):
                clock.cancel(alarm)
            assert len(clock) == 1

        run(main())

    def test_cancelled_alarms_are_compacted_away(self, run):
        async def main():
            loop = asyncio.get_running_loop()
            clock = AlarmClock(loop)
            keep = clock.set(loop.time() + 3600, ringer([], "keep"))
            for i in range(1000):  # connections come and go, one lives on
                clock.cancel(clock.set(loop.time() + 60 + i, ringer([], i)))
            assert len(clock) == 1
            assert len(clock._heap) < 200  # not 1001 entries
            clock.cancel(keep)
            assert clock._heap == []

        run(main())

    def test_a_failing_callback_is_reported_and_the_others_ring(self, run):
        async def main():
            loop = asyncio.get_running_loop()
            reported: list[dict[str, Any]] = []
            loop.set_exception_handler(lambda loop, context: reported.append(context))
            clock = AlarmClock(loop)
            log: list[Any] = []
            done = loop.create_future()

            def fail(now: float) -> None:
                raise ValueError("boom")

            when = loop.time() + 0.001
            clock.set(when, fail)
            clock.set(when, ringer(log, "after", done))
            await done
            assert log == ["after"]
            # Reported by the clock, which went on ringing: not by the loop.
            assert [(c["message"], type(c["exception"])) for c in reported] == [
                ("Exception in a connection's deadline", ValueError)
            ]

        run(main())

    def test_an_alarm_set_while_ringing_waits_for_the_next_ring(self, run):
        async def main():
            loop, clock, log, done = a_clock()

            def again(now: float) -> None:
                log.append("first")
                loop.call_soon(log.append, "next iteration")
                # Due at once: it still rings from the loop, not inside this ring.
                clock.set(loop.time() - 1, ringer(log, "second", done))

            clock.set(loop.time() + 0.001, again)
            await done
            assert log == ["first", "next iteration", "second"]

        run(main())

    def test_one_clock_per_loop_and_it_does_not_keep_the_loop(self):
        loop = asyncio.new_event_loop()
        other = asyncio.new_event_loop()
        try:
            clock = alarm_clock(loop)
            assert alarm_clock(loop) is clock
            assert alarm_clock(other) is not clock
        finally:
            loop.close()
            other.close()
        del loop
        gc.collect()
        try:
            clock.loop  # noqa: B018 - the property raises once the loop is gone
        except RuntimeError:
            pass
        else:
            raise AssertionError("the clock kept its loop alive")
