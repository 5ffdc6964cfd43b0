"""A server on uvloop: the connections libuv leaves in the backlog, accepted at once.

libuv accepts one connection per loop iteration (since libuv PR 3696; so
does the libuv in uvloop 0.23, seen under strace). When clients connect
faster than that, the rest wait in the listen backlog, and the server
handles their handshakes a few at a time, an iteration each, waking its
peers for every answer. So, each time libuv accepts a connection, a
:class:`BacklogDrain` accepts the others waiting (Linux says how many) and
hands each to uvloop's own transport, which is in C. Bench "hs_flood" (50
handshakes always in flight), server on uvloop, 9 interleaved runs: 171 ->
138-145 us a handshake (0.81x); "hs_seq" 0.97-1.02x and "hs_conc"
1.02-1.03x, level.
Accepting every connection this way, libuv's own accept left unused, bought
more in "hs_flood" (0.74x) but cost "hs_seq" and "hs_conc" 7 % each.
"""

from __future__ import annotations

import _socket
import asyncio
import functools
import os
import socket
from collections.abc import Coroutine
from typing import Any

from ..logs import logger
from .transport import ACCEPT_BATCH, pending_connections

__all__ = ["BacklogDrain", "PlainSocket", "adopt_socket", "adopts_sockets"]


def adopts_sockets(loop: asyncio.AbstractEventLoop) -> bool:
    """Return whether a server on ``loop`` drains its backlog with a :class:`BacklogDrain`.

    Only uvloop's loop: its ``connect_accepted_socket`` is known to finish
    its work before its one wait, which :func:`adopt_socket` relies on.
    """
    return type(loop).__module__.partition(".")[0] == "uvloop"


class PlainSocket(socket.socket):
    """A ``socket.socket`` whose ``family`` and ``type`` read as plain numbers.

    ``socket.socket`` makes an enum of each at every read (0.7 us), and
    accepting and ``connect_accepted_socket`` read them five times a connection.
    """

    __slots__ = ()
    family = _socket.socket.family  # type: ignore[assignment]
    type = _socket.socket.type  # type: ignore[assignment]


def adopt_socket(
    loop: asyncio.AbstractEventLoop, protocol_factory: Any, sock: socket.socket
) -> None:
    """Give the accepted ``sock`` to ``loop``'s own transport, with no task.

    ``connect_accepted_socket`` is a coroutine so that a caller can wait for
    ``connection_made``; an acceptor has nothing to wait for. Its first step
    runs here (the transport is made and ``connection_made`` scheduled) and
    the last one from its waiter's callback: a task for it cost more than
    accepting at once saved (bench "hs_conc" on uvloop, 4 runs: 148 -> 164 us).

    Raises:
        Exception: what making the transport or the protocol raised (the
            socket is then still the caller's to close).
    """
    steps = loop.connect_accepted_socket(protocol_factory, sock)
    try:
        waiter = steps.send(None)
    except StopIteration:
        return
    waiter.add_done_callback(functools.partial(_finish, steps))


def _finish(steps: Coroutine[Any, Any, Any], _waiter: asyncio.Future[Any]) -> None:
    try:
        steps.send(None)
    except StopIteration:
        pass
    except Exception as exc:  # closed before it opened: the transport is gone, nothing to do
        logger.debug("connection closed before it opened: %r", exc)


class BacklogDrain:
    """Accepts the connections waiting on a server's listening sockets, on the loop's transport.

    Args:
        loop: uvloop's loop (see :func:`adopts_sockets`).
        sockets: the server's listening (pseudo-)sockets; the drain works on
            duplicates of their descriptors, closed by :meth:`close`.
        protocol_factory: makes the protocol of each connection.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sockets: Any, protocol_factory: Any
    ) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._listeners = [
            PlainSocket(s.family, s.type, s.proto, os.dup(s.fileno())) for s in sockets
        ]
        for listener in self._listeners:
            listener.setblocking(False)

    def drain(self) -> None:
        """Accept and start what waits now (at most a batch a listening socket)."""
        for listener in self._listeners:
            for _ in range(min(pending_connections(listener), ACCEPT_BATCH)):
                try:
                    # listener.accept() would make a socket.socket, reading
                    # the listener's family and type as enums to make it.
                    fd, _address = listener._accept()  # type: ignore[attr-defined]
                except OSError:  # gone, or out of descriptors: libuv's accepting goes on
                    break
                sock = PlainSocket(listener.family, listener.type, listener.proto, fd)
                try:
                    adopt_socket(self._loop, self._factory, sock)
                except Exception:  # a failing protocol must not stop the server
                    logger.exception("could not start a connection")
                    sock.close()

    def close(self) -> None:
        """Close the duplicated listening sockets."""
        for listener in self._listeners:
            listener.close()
        self._listeners = []
