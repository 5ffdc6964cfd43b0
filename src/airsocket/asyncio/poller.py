"""One epoll for the connections of a server on asyncio's own event loop.

asyncio's selector loop keeps, for each descriptor it watches, a key in a
Python mapping, a handle per callback and a check that no transport owns
the descriptor: ``add_reader`` and ``remove_reader`` cost 13.3 us a
connection, where registering with an epoll object costs 2.6. A
:class:`Poller` watches the connections in an epoll of its own, which the
loop watches as one descriptor, and calls the transports' callbacks itself
when it is readable. The loop's methods for the same jobs have the same
names, so a transport takes either (:class:`Reactor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Poller", "Reactor", "new_poller"]

Callback = Callable[[], object]

_HAS_EPOLL = hasattr(select, "epoll")
# As the selectors module reads epoll's events: an error or a hang-up wakes
# both the reader and the writer, which then learn it from the socket.
_READ_EVENTS = ~getattr(select, "EPOLLOUT", 0)
_WRITE_EVENTS = ~getattr(select, "EPOLLIN", 0)
# Where an entry of Poller._watched keeps each callback; the events watched are at 0.
_READER = 1
_WRITER = 2


class Reactor(Protocol):
    """What a transport asks of whoever watches its socket: an event loop or a :class:`Poller`."""

    def add_reader(self, fd: int, callback: Callback, /) -> None:
        """Call ``callback()`` whenever ``fd`` is readable."""

    def remove_reader(self, fd: int, /) -> bool:
        """Stop watching ``fd`` for reading; return whether it was."""

    def add_writer(self, fd: int, callback: Callback, /) -> None:
        """Call ``callback()`` whenever ``fd`` is writable."""

    def remove_writer(self, fd: int, /) -> bool:
        """Stop watching ``fd`` for writing; return whether it was."""


class Poller:
    """Watches descriptors in one epoll, itself watched by ``loop``; Linux only.

    Callbacks run from the loop's callback for the epoll, one after the
    other for every descriptor that is ready; an exception from one is
    reported to the loop's exception handler, as the loop reports its own
    callbacks', and the others still run. The epoll is closed by
    :meth:`close` once nothing is watched.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if not _HAS_EPOLL:
            raise RuntimeError("Poller needs select.epoll")
        self._loop = loop
        # fd -> [events watched, reader or None, writer or None]
        self._watched: dict[int, list[Any]] = {}
        self._closing = False
        self._epoll: select.epoll | None = None
        self._open()

    def _open(self) -> select.epoll:
        self._epoll = epoll = select.epoll()
        self._loop.add_reader(epoll.fileno(), self._poll)
        return epoll

    def add_reader(self, fd: int, callback: Callback, /) -> None:
        """Call ``callback()`` whenever ``fd`` is readable (replacing any reader)."""
        self._set(fd, _READER, callback)

    def add_writer(self, fd: int, callback: Callback, /) -> None:
        """Call ``callback()`` whenever ``fd`` is writable (replacing any writer)."""
        self._set(fd, _WRITER, callback)

    def remove_reader(self, fd: int, /) -> bool:
        """Stop watching ``fd`` for reading; return whether it was."""
        return self._set(fd, _READER, None)

    def remove_writer(self, fd: int, /) -> bool:
        """Stop watching ``fd`` for writing; return whether it was."""
        return self._set(fd, _WRITER, None)

    def _set(self, fd: int, slot: int, callback: Callback | None) -> bool:
        """Put ``callback`` in ``slot`` of ``fd``'s entry and watch what it needs.

        Returns whether the slot held a callback before.
        """
        entry = self._watched.get(fd)
        if entry is None:
            if callback is None:
                return False
            entry = self._watched[fd] = [0, None, None]
        had = entry[slot] is not None
        entry[slot] = callback
        events = (select.EPOLLIN if entry[_READER] else 0) | (
            select.EPOLLOUT if entry[_WRITER] else 0
        )
        if events == entry[0]:
            return had
        epoll = self._epoll or self._open()
        if not events:
            del self._watched[fd]
            with contextlib.suppress(OSError):  # closed already, which unregistered it
                epoll.unregister(fd)
            if self._closing and not self._watched:
                self._close_now()
        elif entry[0]:
            epoll.modify(fd, events)
        else:
            try:
                epoll.register(fd, events)
            except BaseException:  # not a descriptor epoll can watch: not watched
                del self._watched[fd]
                raise
        entry[0] = events
        return had

    def __len__(self) -> int:
        """How many descriptors are watched."""
        return len(self._watched)

    @property
    def closed(self) -> bool:
        """Whether no epoll is open (after :meth:`close`, once nothing is watched)."""
        return self._epoll is None

    def close(self) -> None:
        """Close the epoll now if no descriptor is watched, else when the last one is removed.

        A connection that stopped reading for a while is not watched, yet
        it may want to be again: a later ``add_reader`` or ``add_writer``
        opens a new epoll, which closes in its turn when it has nothing to
        watch.
        """
        self._closing = True
        if not self._watched:
            self._close_now()

    def _close_now(self) -> None:
        epoll, self._epoll = self._epoll, None
        if epoll is not None:
            self._loop.remove_reader(epoll.fileno())
            epoll.close()

    def _poll(self) -> None:
        watched = self._watched
        epoll = self._epoll
        if epoll is None:  # closed by a callback before this one in the loop's iteration
            return
        for fd, events in epoll.poll(0):
            entry = watched.get(fd)
            # Gone, or replaced, since the poll: a callback before this one
            # closed it. A spurious call is harmless (the socket would block).
            if entry is None:
                continue
            reader = entry[_READER]
            if reader is not None and events & _READ_EVENTS:
                self._run(reader)
            writer = entry[_WRITER]  # the reader may have removed it
            if writer is not None and events & _WRITE_EVENTS:
                self._run(writer)

    def _run(self, callback: Callback) -> None:
        try:
            callback()
        except Exception as exc:  # one connection's bug is not the others'
            self._loop.call_exception_handler(
                {"message": f"Exception in callback {callback!r}", "exception": exc}
            )


def new_poller(loop: asyncio.AbstractEventLoop) -> Poller | None:
    """Return a :class:`Poller` on ``loop``, or None where there is no epoll."""
    return Poller(loop) if _HAS_EPOLL else None
