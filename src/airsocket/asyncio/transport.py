"""A lean transport for plain TCP on asyncio's own (selector) event loop.

asyncio's selector transports are written in Python and do more per
connection than an engine needs (a ``call_soon`` for ``connection_made`` and
another for the reader, the peer and local addresses read at once, a weak
registry of transports). :class:`SocketTransport` drives a non-blocking
socket from ``add_reader``/``add_writer`` callbacks (the loop's, or those
of a server's :class:`~.poller.Poller`) with what the engine uses:
buffered writes with flow control, gathered writes, half-close, pausing
reads, close and abort. :class:`Acceptor` gives it to a server's
connections, :func:`connect_socket` to a client's. A server's handshake on
the default loop: 99.9 -> 78.3 us (bench "hs_conc", 5 interleaved runs); a
server whose socket work runs in such callbacks and does nothing else
spends 43 (bench ``--impls floor``). uvloop's transports are in C and TLS
needs asyncio's: those keep theirs (see :func:`lean_loop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
from collections.abc import Iterable
from typing import Any, cast

from ..logs import logger
from .poller import Reactor, new_poller

__all__ = [
    "Acceptor",
    "SocketTransport",
    "connect_socket",
    "lean_loop",
    "pending_connections",
    "prepare_socket",
]

# How long accepting pauses when the process is out of file descriptors or
# memory (asyncio waits the same): the pending connections wait in the
# listen backlog instead of spinning the loop.
_ACCEPT_PAUSE = 1.0
_RESOURCE_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
#: Linux's "more is coming": hold a short send for the next one (or the FIN).
_MSG_MORE = getattr(socket, "MSG_MORE", 0)
#: Linux's TCP_INFO, and where its ``tcpi_unacked`` is: for a listening
#: socket, the number of connections waiting to be accepted.
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_UNACKED = struct.Struct("=24xI")
#: Connections accepted in one callback at most: other callbacks get their turn.
ACCEPT_BATCH = 100


def lean_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Return whether ``loop`` is asyncio's selector loop, where the lean transport runs."""
    return isinstance(loop, asyncio.SelectorEventLoop)


async def connect_socket(
    loop: asyncio.AbstractEventLoop, host: str, port: int
) -> tuple[socket.socket, Any]:
    """Return a connected non-blocking TCP socket to ``host``:``port``, and its peer's address.

    An IP address is used as it is; a name is resolved and its addresses
    are tried in order, as ``loop.create_connection`` does.

    Raises:
        OSError: resolving failed, or no address accepted the connection
            (the error itself for one address, all of them for several).
    """
    infos = _ip_address(host, port) or await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    errors: list[OSError] = []
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            prepare_socket(sock)
            await _connect(loop, sock, address)
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        except BaseException:  # cancelled or timed out: the socket is ours to close
            sock.close()
            raise
        return sock, address
    if len(errors) == 1:
        raise errors[0]
    raise OSError(f"could not connect to {host}:{port}: " + "; ".join(map(str, errors)))


async def _connect(loop: asyncio.AbstractEventLoop, sock: socket.socket, address: Any) -> None:
    # loop.sock_connect without what a fresh socket of ours does not need
    # (the check that no transport owns it, a done callback, a partial).
    try:
        sock.connect(address)
        return
    except (BlockingIOError, InterruptedError):
        pass
    # On loopback the TCP handshake is over by the time connect() says it is
    # in progress: asking again tells, with no writer registered and no loop
    # iteration to wait (client "hs_conc" on asyncio: 0.88-0.975x in three
    # interleaved runs). A remote peer answers EALREADY, and we wait.
    error = sock.connect_ex(address)
    if error in (0, errno.EISCONN):
        return
    if error not in (errno.EALREADY, errno.EINPROGRESS, errno.EINTR):
        raise OSError(error, f"Connect call failed {address}")
    connected = loop.create_future()
    loop.add_writer(sock.fileno(), _writable, loop, sock, address, connected)
    try:
        await connected
    except BaseException:
        loop.remove_writer(sock.fileno())
        raise


def _writable(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    address: Any,
    connected: asyncio.Future[None],
) -> None:
    loop.remove_writer(sock.fileno())
    if connected.done():  # cancelled
        return
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:  # an OSError subclass by its errno, e.g. ConnectionRefusedError
        connected.set_exception(OSError(error, f"Connect call failed {address}"))
    else:
        connected.set_result(None)


def pending_connections(listener: socket.socket) -> int:
    """Return how many connections wait in ``listener``'s accept queue (0: unknown).

    Linux tells it in TCP_INFO (0.8 us to ask); elsewhere, or on an error, 0.
    """
    if _TCP_INFO is None:
        return 0
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _UNACKED.size)
    except OSError:
        return 0
    return _UNACKED.unpack_from(info)[0] if len(info) == _UNACKED.size else 0


def prepare_socket(sock: socket.socket) -> None:
    """Make a TCP socket ready for :class:`SocketTransport`: non-blocking, no Nagle delay.

    Raises:
        OSError: the socket failed (say, was reset) before it could be set up.
    """
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _ip_address(host: str, port: int) -> list[tuple[Any, ...]]:
    # No resolver for an address: loop.getaddrinfo() would run in a thread.
    for family, address in ((socket.AF_INET, (host, port)), (socket.AF_INET6, (host, port, 0, 0))):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)]
    return []


class SocketTransport(asyncio.Transport):
    """Drives ``sock`` (connected, non-blocking) for ``protocol``, a BufferedProtocol.

    ``reactor`` watches the socket: ``loop`` itself by default, or a
    :class:`~.poller.Poller`. Call :meth:`start` to tell the protocol and
    begin reading. The protocol's ``connection_lost`` is called once, from a
    loop callback (never from inside a call of the protocol's own), after
    the socket stops being used; the socket is closed right after it.
    ``peername`` is the peer's address (read from the socket if None); it
    stays known after the close, as asyncio's transports keep it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: asyncio.BufferedProtocol,
        peername: Any = None,
        reactor: Reactor | None = None,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._reactor: Reactor = reactor if reactor is not None else loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._extra: dict[str, Any] = {"socket": sock}
        if peername is None:
            with contextlib.suppress(OSError):
                peername = sock.getpeername()
        if peername is not None:
            self._extra["peername"] = peername
        self._buffer = bytearray()
        self._high = 64 * 1024
        self._low = 16 * 1024
        self._writing_paused = False
        self._reading = False  # the protocol wants data (not paused, not done)
        self._watching = False  # the reactor watches the socket for us
        self._eof_wanted = False  # write_eof() waits for the buffer
        self._eof_received = False
        self._eof_expected = False  # see expect_eof
        self._closing = False
        self._lost = False

    def start(self, read_now: bool = False) -> None:
        """Tell the protocol it is connected, then read (unless it closed already).

        Args:
            read_now: read at once, not from the loop's next poll: a server's
                freshly accepted connection usually holds its request already.
        """
        self._protocol.connection_made(self)
        if not self._closing:
            self._reading = True
            self._watch()
            if read_now:
                self._read_ready()

    # ------------------------------------------------------------------
    # Reading

    def _read_ready(self) -> None:
        if not self._reading:
            # Paused since the reactor last looked: stop watching only now
            # that data came (see pause_reading).
            self._unwatch()
            return
        protocol = self._protocol
        try:
            n = self._sock.recv_into(protocol.get_buffer(-1))
        except (BlockingIOError, InterruptedError):
            return
        except Exception as exc:  # the socket's error, or the protocol's
            self._fail(exc)
            return
        try:
            if n:
                protocol.buffer_updated(n)
                if self._eof_expected and self._reading:
                    self._eof_expected = False
                    self._read_ready()  # once: the end may be there already
                return
            self._stop_reading()
            self._eof_received = True
            keep_open = protocol.eof_received()
        except Exception as exc:  # a bug in the protocol fails its connection only
            self._fail(exc)
            return
        if not keep_open:
            self._close_from_callback()

    def expect_eof(self) -> None:
        """The protocol reads nothing more but the end of the stream, which may be here.

        The read that told it tries once more before the loop waits again: a
        client that receives the server's close frame has the server's end
        of TCP right behind it (client "hs_seq": one loop iteration fewer).
        """
        self._eof_expected = True

    def pause_reading(self) -> None:
        """Stop reading until :meth:`resume_reading`.

        The reactor keeps watching the socket until data comes while paused:
        an application that drains its queue before any does (bench "burst":
        a pause and a resume for each burst of 256 echoes) costs no
        ``remove_reader`` + ``add_reader`` pair (13.3 us on the default loop).
        """
        if self._reading and not self._closing:
            self._reading = False

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading`."""
        if not self._reading and not self._closing and not self._eof_received:
            self._reading = True
            self._watch()

    def is_reading(self) -> bool:
        """Whether the transport is reading."""
        return self._reading

    def _stop_reading(self) -> None:
        self._reading = False
        self._unwatch()

    def _watch(self) -> None:
        if not self._watching:
            self._watching = True
            self._reactor.add_reader(self._fd, self._read_ready)

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            self._reactor.remove_reader(self._fd)

    # ------------------------------------------------------------------
    # Writing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` now as far as the socket takes it; buffer the rest."""
        if self._closing or self._eof_wanted or not data:
            return
        if not self._buffer:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._reactor.add_writer(self._fd, self._write_ready)
        self._buffer += data
        self._check_limit()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        """Send the chunks in one system call when nothing waits; buffer the rest."""
        chunks = list(list_of_data)
        if self._buffer or self._closing or self._eof_wanted:
            for chunk in chunks:
                self.write(chunk)
            return
        try:
            sent = self._sock.sendmsg(chunks)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:  # EMSGSIZE past IOV_MAX chunks, or the connection failed
            if exc.errno != errno.EMSGSIZE:
                self._fail(exc)
                return
            sent = 0
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
            if sent >= view.nbytes:
                sent -= view.nbytes
                continue
            self.write(view[sent:])
            sent = 0

    def _check_limit(self) -> None:
        if not self._writing_paused and len(self._buffer) > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    def _write_ready(self) -> None:
        try:
            sent = self._sock.send(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        del self._buffer[:sent]
        if self._writing_paused and len(self._buffer) <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()
        if self._buffer:
            return
        self._reactor.remove_writer(self._fd)
        if self._closing:
            self._connection_lost(None)  # from the loop's own callback (see _close_from_callback)
        elif self._eof_wanted:
            self._shutdown()

    def write_eof(self) -> None:
        """Half-close once everything buffered is sent."""
        if self._closing or self._eof_wanted:
            return
        self._eof_wanted = True
        if not self._buffer:
            self._shutdown()

    def write_with_eof(self, data: bytes) -> None:
        """``write(data)``, then ``write_eof()``: the FIN rides in the data's last segment.

        Sent apart, a close frame and the FIN behind it are two segments;
        sent with ``MSG_MORE`` the data waits in the kernel until the
        ``shutdown`` right after, which sends both in one. One segment fewer
        a closing handshake: the peer's kernel receives one, and wakes its
        reader once (bench/README.md, "What each optimization bought").
        """
        if self._buffer or self._closing or self._eof_wanted or not data:
            self.write(data)
            self.write_eof()
            return
        try:
            sent = self._sock.send(data, _MSG_MORE)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._fail(exc)
            return
        if sent < len(data):  # the rest waits for the socket, the FIN behind it
            self.write(memoryview(data)[sent:])
            self.write_eof()
            return
        self._eof_wanted = True
        self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._fail(exc)

    def can_write_eof(self) -> bool:
        """A TCP socket can half-close."""
        return True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Pause the protocol's writing above ``high`` buffered bytes, resume at ``low``."""
        self._high = 64 * 1024 if high is None else high
        self._low = self._high // 4 if low is None else low

    def get_write_buffer_size(self) -> int:
        """Bytes waiting to be sent."""
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """``(low, high)``."""
        return self._low, self._high

    # ------------------------------------------------------------------
    # Closing

    def is_closing(self) -> bool:
        """Whether close() or abort() was called, or the connection failed."""
        return self._closing

    def close(self) -> None:
        """Stop reading, send what is buffered, then close."""
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self._buffer:
            self._loop.call_soon(self._connection_lost, None)

    def _close_from_callback(self) -> None:
        # close(), from one of the loop's callbacks, outside any call into the
        # protocol: connection_lost may run now, not one loop iteration later
        # (a client's handshake and close: 8 -> 7 iterations).
        if self._closing or self._buffer:
            self.close()
            return
        self._closing = True
        self._stop_reading()
        self._connection_lost(None)

    def abort(self) -> None:
        """Close at once, dropping what is buffered."""
        self._fail(None)

    def _fail(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        if self._closing and not self._buffer:
            return  # connection_lost is already scheduled
        if isinstance(exc, OSError):
            logger.debug("connection failed: %r", exc)
        elif exc is not None:
            logger.error("connection failed: %r", exc, exc_info=exc)
        self._closing = True
        self._stop_reading()
        if self._buffer:
            self._buffer.clear()
            self._reactor.remove_writer(self._fd)
        self._loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        protocol, self._protocol = self._protocol, cast(Any, None)
        try:
            protocol.connection_lost(exc)  # type: ignore[arg-type]
        finally:
            # Let go: the protocol refers to us, and a finished connection
            # is freed by reference counting, not by the cyclic GC.
            self._sock.close()

    # ------------------------------------------------------------------
    # Information

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``socket``, ``peername``, ``sockname`` (read when first asked), else ``default``."""
        extra = self._extra
        if name == "sockname" and name not in extra:
            with contextlib.suppress(OSError):  # closed: unknown
                extra[name] = self._sock.getsockname()
        return extra.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The protocol."""
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Not supported: the engine is the protocol for the transport's life."""
        raise NotImplementedError("SocketTransport keeps its protocol")


class Acceptor:
    """Accepts on listening sockets and gives each connection a :class:`SocketTransport`.

    The connections are watched by a :class:`~.poller.Poller` of the
    acceptor's own where there is epoll; it closes once the acceptor is
    closed and its last connection is done.

    Args:
        loop: asyncio's selector loop.
        listeners: bound sockets (e.g. an unstarted asyncio.Server's); they listen.
        protocol_factory: makes the protocol of each connection.
        backlog: of each listening socket (asyncio's default).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        listeners: list[socket.socket],
        protocol_factory: Any,
        backlog: int = 100,
    ) -> None:
        self._loop = loop
        self._listeners = listeners
        self._factory = protocol_factory
        # The connections' sockets in one epoll of the server's own: see poller.py.
        self._poller = new_poller(loop)
        for listener in listeners:
            listener.listen(backlog)  # an unstarted asyncio.Server has not listened yet
            listener.setblocking(False)
            loop.add_reader(listener.fileno(), self._accept, listener)

    def _accept(self, listener: socket.socket) -> None:
        # As many accepts as connections wait, where the kernel says how many:
        # the accept that fails with EAGAIN to end a batch costs 5.5 us
        # (a raised BlockingIOError), one accepted connection in sequential
        # handshakes.
        for _ in range(min(pending_connections(listener), ACCEPT_BATCH) or ACCEPT_BATCH):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRNOS:
                    logger.error("accepting paused for %.0f s: %s", _ACCEPT_PAUSE, exc)
                    self._loop.remove_reader(listener.fileno())
                    self._loop.call_later(_ACCEPT_PAUSE, self._resume, listener)
                    return
                raise
            try:
                prepare_socket(sock)
            except OSError:  # reset before we could set it up
                sock.close()
                continue
            try:
                transport = SocketTransport(
                    self._loop, sock, self._factory(), address, self._poller
                )
                transport.start(read_now=True)
            except Exception:  # a failing protocol must not stop the server
                logger.exception("could not start a connection")
                sock.close()

    def _resume(self, listener: socket.socket) -> None:
        if listener in self._listeners and listener.fileno() >= 0:
            self._loop.add_reader(listener.fileno(), self._accept, listener)

    def close(self) -> None:
        """Stop accepting (the listening sockets are their owner's to close)."""
        for listener in self._listeners:
            if listener.fileno() >= 0:
                self._loop.remove_reader(listener.fileno())
        self._listeners = []
        if self._poller is not None:
            self._poller.close()  # once the last connection is done
