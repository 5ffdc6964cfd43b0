"""The byte stream under a blocking connection: a TCP socket, TLS in memory.

TLS runs on an :class:`ssl.SSLObject` over memory BIOs rather than on an
:class:`ssl.SSLSocket`, for two reasons:

- an OpenSSL connection object must not be used by two threads at once, and
  a blocking connection reads in one thread while others write. Here
  encryption and decryption happen under the connection's lock, and only
  ciphertext crosses the socket outside it;
- a reader that waits with ``select`` and then calls ``SSLSocket.recv``
  blocks on half a TLS record, out of reach of its keepalive and close
  timers. A raw ``recv`` after ``select`` never blocks.

The socket stays in blocking mode once the handshake is done, so that
``sendall`` blocks while the peer does not read (TCP backpressure), and the
reader waits for input with a selector and a timeout instead of a socket
timeout (a socket timeout would also cut ``sendall`` short in other threads).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from typing import Any

from ..protocol.states import Chunk
from ..tls import ENCRYPT_SIZE, plaintext_pieces

__all__ = ["Output", "Transport", "remaining"]

#: Bytes asked of the socket per read.
READ_SIZE = 65536

#: Runs of chunks up to this size are joined into one write: a system call
#: costs more than copying a few small frames, but not more than copying a
#: large payload.
JOIN_LIMIT = 64 * 1024

#: Linux's "more is coming": a send held for the FIN right behind it.
_MSG_MORE = getattr(socket, "MSG_MORE", 0)

# poll() needs no file descriptor of its own, unlike epoll; select() cannot
# watch descriptors above FD_SETSIZE, which a busy server reaches.
_Selector: type[selectors.BaseSelector] = getattr(
    selectors, "PollSelector", selectors.SelectSelector
)


class Transport:
    """A connected socket, with TLS done in memory when ``context`` is given.

    Args:
        sock: the connected TCP socket (the transport owns it from now on).
        context: the TLS context, or None for plain TCP.
        server_side: True for the server end of a TLS connection.
        server_hostname: the name a TLS client checks the certificate
            against (and sends as SNI).

    Raises:
        OSError: the socket is not connected (any more).
    """

    def __init__(
        self,
        sock: socket.socket,
        context: ssl.SSLContext | None = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        self.sock = sock
        #: The peer's address, read once: a socket reset by the peer forgets it.
        self.remote_address: Any = sock.getpeername()
        #: Our address.
        self.local_address: Any = sock.getsockname()
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None
        if context is not None:
            self._tls = context.wrap_bio(
                self._incoming,
                self._outgoing,
                server_side=server_side,
                server_hostname=server_hostname,
            )
        self._selector = _Selector()
        self._selector.register(sock, selectors.EVENT_READ)

    def handshake_tls(self, deadline: float | None) -> bytes:
        """Run the TLS handshake (a no-op for plain TCP).

        Args:
            deadline: when ``open_timeout`` passes (``time.monotonic``), or None.

        Returns:
            Plaintext that arrived with the peer's last handshake message
            (a client may send its upgrade request right behind it).

        Raises:
            ssl.SSLError: TLS failed (``ssl.SSLCertVerificationError`` included).
            ConnectionError: the peer closed the connection during the handshake.
            TimeoutError: ``deadline`` passed.
        """
        tls = self._tls
        if tls is None:
            return b""
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sendall(self._outgoing.read())
            self.sock.settimeout(remaining(deadline, "TLS handshake"))
            data = self.sock.recv(READ_SIZE)
            if not data:
                raise ConnectionResetError("connection closed during the TLS handshake")
            self._incoming.write(data)
        self.sendall(self._outgoing.read())
        return self._read_tls(tls, eof=False)[0]

    def wait_readable(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (None: no limit) until ``recv`` will not block."""
        return bool(self._selector.select(timeout))

    def recv(self) -> bytes:
        """Read what the socket holds (b"" at the end of the stream)."""
        return self.sock.recv(READ_SIZE)

    @property
    def reads_in_place(self) -> bool:
        """Whether :meth:`recv_into` may be used: plain TCP, where what is read is plaintext."""
        return self._tls is None

    def recv_into(self, view: memoryview) -> int:
        """Read what the socket holds into ``view``; 0 at the end of the stream.

        Only when :attr:`reads_in_place`: with TLS, what is read is ciphertext.
        """
        return self.sock.recv_into(view)

    def decode(self, data: bytes) -> tuple[bytes, bool]:
        """Turn bytes read from the socket into plaintext; call it under the lock.

        Args:
            data: what ``recv`` returned; b"" is the end of the stream.

        Returns:
            ``(plaintext, eof)``: the plaintext may be empty (half a TLS
            record); ``eof`` tells that the peer ended its stream.

        Raises:
            ssl.SSLError: the TLS stream is corrupt.
        """
        tls = self._tls
        if tls is None:
            return data, not data
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
        return self._read_tls(tls, eof=not data)

    @staticmethod
    def _read_tls(tls: ssl.SSLObject, eof: bool) -> tuple[bytes, bool]:
        # Read until OpenSSL wants more input, so that no plaintext is left
        # behind where select() cannot see it.
        parts: list[bytes] = []
        try:
            while True:
                part = tls.read(READ_SIZE)
                if not part:
                    return b"".join(parts), True
                parts.append(part)
        except ssl.SSLWantReadError:
            return b"".join(parts), eof
        except ssl.SSLZeroReturnError:
            return b"".join(parts), True  # the peer's close_notify
        except ssl.SSLError:
            if eof:  # a TCP end without close_notify: a message carries its own length
                return b"".join(parts), True
            raise

    def encode(self, chunks: list[Chunk]) -> list[Chunk]:
        """Return what to write to send ``chunks``; call it under the lock.

        TLS records are numbered: the ciphertext must reach the socket in the
        order this method made it.
        """
        tls = self._tls
        if tls is None:
            return chunks
        # A large chunk a piece at a time, its ciphertext taken out after
        # each (see ENCRYPT_SIZE).
        output: list[Chunk] = []
        for chunk in chunks:
            if len(chunk) <= ENCRYPT_SIZE:
                tls.write(chunk)
                continue
            for piece in plaintext_pieces(chunk):
                tls.write(piece)
                output += self._take_output()
        return output + self._take_output()

    def encode_end(self) -> list[Chunk]:
        """Return what to write before ending the stream (TLS close_notify)."""
        tls = self._tls
        if tls is None:
            return []
        # SSLWantReadError: the peer's close_notify has not come; ours is queued all the same.
        with contextlib.suppress(ssl.SSLError):
            tls.unwrap()
        return self._take_output()

    def pending_output(self) -> list[Chunk]:
        """Return what TLS produced while reading (e.g. a key update); call it under the lock."""
        return [] if self._tls is None else self._take_output()

    def _take_output(self) -> list[Chunk]:
        # Never an empty chunk: b"" is the connection's end-of-stream marker.
        data = self._outgoing.read()
        return [data] if data else []

    def sendall(self, data: Chunk, end_follows: bool = False) -> None:
        """Write ``data``, blocking while the peer does not read.

        With ``end_follows``, :meth:`end` comes right after: the data is
        sent with ``MSG_MORE``, so that the FIN of ``end()`` rides in its
        last segment (one segment fewer a closing handshake).
        """
        if data:
            self.sock.sendall(data, _MSG_MORE if end_follows else 0)

    def end(self) -> None:
        """Half-close: send FIN and keep reading (closing would reset unread input)."""
        with contextlib.suppress(OSError):  # already gone: nothing to end
            self.sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """Stop both directions now: wakes threads blocked in recv, select or sendall."""
        with contextlib.suppress(OSError):  # not connected any more: nothing to wake
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Release the socket; no other thread may be using it."""
        self._selector.close()
        self.sock.close()


class Output:
    """What waits to be written to a transport, and who writes it.

    Chunks are queued under the connection's lock, in the order the core
    made them (encrypted there, which fixes the order of TLS records).
    Whoever holds the write lock writes everything queued, including what
    other threads queued meanwhile, so a thread that finds the write lock
    taken may leave its output to the holder instead of waiting behind a
    ``sendall`` that waits for the peer.

    Args:
        transport: where to write.
        lock: the connection's lock, which guards the queue.
    """

    def __init__(self, transport: Transport, lock: threading.Lock) -> None:
        self.transport = transport
        self._lock = lock
        self._write_lock = threading.Lock()
        self._pending: list[Chunk] = []
        #: Set (under the lock) once nothing more may be written.
        self.stopped = False
        #: The error that made a write fail, if any.
        self.error: OSError | None = None

    def queue(self, out: list[Chunk]) -> None:
        """Queue the core's ``data_to_send()``; call it under the lock.

        Args:
            out: byte strings to write, with ``b""`` (the core's
                ``END_OF_STREAM``) where the stream is to end.
        """
        if self.error is not None:
            return  # the stream is broken: nothing more goes out
        transport = self.transport
        try:
            if not out:
                self._pending += transport.pending_output()
                return
            start = 0
            for index, chunk in enumerate(out):
                if not chunk:  # END_OF_STREAM
                    self._pending += transport.encode(out[start:index]) + transport.encode_end()
                    self._pending.append(b"")
                    start = index + 1
            if start < len(out):
                self._pending += transport.encode(out[start:])
        except ssl.SSLError as exc:
            # The TLS session is over (the peer's stream ended without
            # close_notify, or broke) and encrypts nothing more: a failed
            # write, reported by flush(), where it raised out of send() and
            # close().
            self.error = exc

    def flush(self, wait: bool) -> bool:
        """Write what is queued; False if the socket or TLS failed. Call it without the lock.

        Args:
            wait: wait for the thread writing now (and so until this thread's
                output is written); without it, leave the output to that thread.
        """
        if self.error is not None:
            return False
        if not wait and not self._pending:
            return True  # whoever queues output flushes next: nothing is stranded
        while self._write_lock.acquire(blocking=wait):
            try:
                self._write_pending()
            except OSError as exc:
                self.error = exc
                return False
            finally:
                self._write_lock.release()
            with self._lock:
                if not self._pending:
                    return True
        return True

    def _write_pending(self) -> None:
        transport = self.transport
        while True:
            with self._lock:
                chunks, self._pending = self._pending, []
                if self.stopped:
                    return
            if not chunks:
                return
            pieces = coalesce(chunks)
            for index, data in enumerate(pieces, 1):
                if data:
                    transport.sendall(data, index < len(pieces) and not pieces[index])
                else:
                    transport.end()

    def close(self) -> None:
        """Close the transport once no thread is writing to it."""
        with self._write_lock:
            self.transport.close()


def coalesce(chunks: list[Chunk]) -> list[Chunk]:
    """Join runs of small chunks so that they leave in one system call.

    ``b""`` markers (end of stream) stay where they are, alone.
    """
    out: list[Chunk] = []
    run: list[Chunk] = []
    size = 0
    for chunk in chunks:
        small = 0 < len(chunk) < JOIN_LIMIT
        if small and size + len(chunk) <= JOIN_LIMIT:
            run.append(chunk)
            size += len(chunk)
            continue
        if run:
            out.append(b"".join(run))
        run, size = ([chunk], len(chunk)) if small else ([], 0)
        if not small:
            out.append(chunk)
    if run:
        out.append(b"".join(run))
    return out


def remaining(deadline: float | None, what: str) -> float | None:
    """Seconds left until ``deadline`` (``time.monotonic``; None: no limit).

    Raises:
        TimeoutError: the deadline has passed.
    """
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"timed out: {what}")
    return left
