"""``airsocket.run(main)``: the AIR runtime's event loop, in Python.

An AIR application does not end while it has open sockets. :func:`run` gives
a Python program the same life cycle: it makes an event loop, calls
``main``, and returns once no WebSocket or ServerSocket is open and no
coroutine listener is still running. What keeps the loop going is recorded
per loop by :func:`track` and :func:`untrack`, called by the AIR classes.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

from ..protocol.exceptions import ArgumentError

__all__ = ["run", "track", "untrack"]

Interrupt = Callable[[], object]


class _Tracker:
    """What is open on one loop, each with what Ctrl-C does to it."""

    def __init__(self) -> None:
        self.items: dict[object, Interrupt] = {}
        self.idle: asyncio.Future[None] | None = None

    def add(self, key: object, interrupt: Interrupt) -> None:
        self.items[key] = interrupt

    def discard(self, key: object) -> None:
        if self.items.pop(key, None) is not None and not self.items and self.idle is not None:
            # Checked on the next iteration, not now: a close listener that
            # reconnects at once keeps the program alive.
            asyncio.get_running_loop().call_soon(self._check_idle)

    def _check_idle(self) -> None:
        if not self.items and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    async def wait_idle(self) -> None:
        while self.items:
            self.idle = asyncio.get_running_loop().create_future()
            try:
                await self.idle
            finally:
                self.idle = None

    def interrupt_all(self) -> None:
        for interrupt in list(self.items.values()):
            interrupt()


# Weak keys: a loop that is closed and dropped takes its tracker with it.
_trackers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Tracker] = (
    weakref.WeakKeyDictionary()
)


def _tracker() -> _Tracker:
    loop = asyncio.get_running_loop()
    tracker = _trackers.get(loop)
    if tracker is None:
        tracker = _trackers[loop] = _Tracker()
    return tracker


def track(key: object, interrupt: Interrupt) -> None:
    """Record that ``key`` keeps :func:`run` going; Ctrl-C calls ``interrupt()``.

    Call it on the thread running the event loop.
    """
    _tracker().add(key, interrupt)


def untrack(key: object) -> None:
    """Record that ``key`` is done (a no-op if it was not tracked).

    Outside a running loop (a socket closed after its loop ended), ``key`` is
    only forgotten: nothing can be waiting for it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        for tracker in list(_trackers.values()):
            tracker.items.pop(key, None)
        return
    _tracker().discard(key)


def run(main: Callable[[], Any] | None = None) -> None:
    """Run an AIR-style program: make a loop, call ``main``, run until all is closed.

    ``main`` is a function or a coroutine function, called with no argument
    on the new event loop, so it may create sockets and connect them. The
    loop runs until no WebSocket or ServerSocket is open and no coroutine
    (``main``'s or a listener's) is running. Ctrl-C closes every WebSocket
    with 1001 (going away), closes every ServerSocket and cancels those
    coroutines; :func:`run` then returns once the closing handshakes are
    done (each bounded by ``close_timeout``). A second Ctrl-C raises
    ``KeyboardInterrupt`` at once.

    Args:
        main: what to call first; None runs until what is already open closes.

    Raises:
        ArgumentError: ``main`` is not callable.
        RuntimeError: called while an event loop is running in this thread.
        Exception: what ``main`` raised, once everything open is closed.
    """
    if main is not None and not callable(main):
        raise ArgumentError(f"main must be a function or None, not {type(main).__name__}")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run(main))
    else:
        raise RuntimeError("airsocket.run() cannot be called from a running event loop")


async def _run(main: Callable[[], Any] | None) -> None:
    tracker = _tracker()
    restore = _catch_interrupt(asyncio.get_running_loop(), tracker)
    try:
        error = await _call_main(main, tracker)
        if error is not None:
            tracker.interrupt_all()
        await tracker.wait_idle()
        if error is not None:
            raise error
    finally:
        restore()


async def _call_main(main: Callable[[], Any] | None, tracker: _Tracker) -> BaseException | None:
    """Call ``main`` and return what it raised (None if nothing)."""
    if main is None:
        return None
    try:
        result = main()
    except Exception as exc:
        return exc
    if not inspect.isawaitable(result):
        return None
    # As a tracked task, so that Ctrl-C cancels it like a listener's coroutine.
    task = asyncio.ensure_future(result)
    tracker.add(task, task.cancel)
    task.add_done_callback(tracker.discard)
    await asyncio.wait([task])
    if task.cancelled():
        return None
    return task.exception()


def _catch_interrupt(loop: asyncio.AbstractEventLoop, tracker: _Tracker) -> Callable[[], None]:
    """Make the first Ctrl-C close everything; return what undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread receives signals
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:
        previous = signal.default_int_handler  # installed from C: restore the default

    def interrupted(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C stops at once
        loop.call_soon_threadsafe(tracker.interrupt_all)

    signal.signal(signal.SIGINT, interrupted)

    def restore() -> None:
        if signal.getsignal(signal.SIGINT) is interrupted:
            signal.signal(signal.SIGINT, previous)

    return restore
