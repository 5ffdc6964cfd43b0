"""Fixed load generator for the server role: raw sockets, frames pre-built once.

Every function takes the server port and a `probe()` callable that returns the server's
own CPU seconds (and RSS); it returns a dict with the CPU delta of the measured window,
the wall time and the number of units (messages, MiB, handshakes...).
The generator avoids per-message work where it can: for fixed-size echoes it only counts
bytes (the exact echoed bytes are verified once during warm-up).
"""

from __future__ import annotations

import asyncio
import base64
import os
import select
import socket
import struct
import time
import zlib

import _benchlib as B

MASK = b"\x37\xfa\x21\x3d"
KEY = base64.b64encode(b"airsocket-bench!").decode()
DEADLINE = 120.0  # no single measured loop may run longer than this (seconds)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- frames
def apply_mask(payload: bytes, mask: bytes = MASK) -> bytes:
    n = len(payload)
    if n == 0:
        return b""
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(m, "little")).to_bytes(n, "little")


def header(opcode: int, n: int, masked: bool, rsv1: bool = False, fin: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mbit = 0x80 if masked else 0
    if n < 126:
        return struct.pack("!BB", b0, mbit | n)
    if n < 65536:
        return struct.pack("!BBH", b0, mbit | 126, n)
    return struct.pack("!BBQ", b0, mbit | 127, n)


def client_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    return header(opcode, len(payload), True, rsv1) + MASK + apply_mask(payload)


def server_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    return header(opcode, len(payload), False, rsv1) + payload


CLOSE_FRAME = client_frame(8, struct.pack("!H", 1000))


def compress_independent(data: bytes, wbits: int = 15) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, -wbits, 8)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class FrameCounter:
    """Streaming parser of server frames: counts complete data messages, keeps payloads
    only when asked (for verification)."""

    def __init__(self, keep: bool = False):
        self.pending = b""
        self.remaining = 0  # payload bytes still to skip in the current frame
        self.cur_fin = False
        self.messages = 0
        self.keep = keep
        self.kept: list[tuple[int, bool, bytes]] = []
        self._cur = bytearray()
        self._cur_head = (0, False)
        self.closed = False

    def feed(self, data) -> None:
        mv = memoryview(data)
        i, n = 0, len(mv)
        while i < n:
            if self.remaining:
                take = min(self.remaining, n - i)
                if self.keep:
                    self._cur += mv[i : i + take]
                self.remaining -= take
                i += take
                if not self.remaining:
                    self._frame_done()
                continue
            buf = self.pending + bytes(mv[i : i + 14])
            if len(buf) < 2:
                self.pending = buf
                return
            b0, b1 = buf[0], buf[1]
            ln = b1 & 0x7F
            hl = 2 + (2 if ln == 126 else 8 if ln == 127 else 0) + (4 if b1 & 0x80 else 0)
            if len(buf) < hl:
                self.pending = buf
                return
            if ln == 126:
                ln = struct.unpack_from("!H", buf, 2)[0]
            elif ln == 127:
                ln = struct.unpack_from("!Q", buf, 2)[0]
            i += hl - len(self.pending)
            self.pending = b""
            self.cur_fin = bool(b0 & 0x80)
            opcode = b0 & 0x0F
            if opcode == 8:
                self.closed = True
            self._cur_head = (opcode, bool(b0 & 0x40))
            self.remaining = ln
            if ln == 0:
                self._frame_done()

    def _frame_done(self) -> None:
        opcode, rsv1 = self._cur_head
        if opcode >= 8:
            self._cur = bytearray()
            return
        if self.keep:
            self.kept.append((opcode, rsv1, bytes(self._cur)))
            self._cur = bytearray()
        if self.cur_fin:
            self.messages += 1


# ---------------------------------------------------------------- connections
def request_bytes(port: int, deflate: bool = False, path: str = "/") -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
    ]
    if deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(port: int, deflate: bool = False, timeout: float = 10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(request_bytes(port, deflate))
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise BenchError("server closed during handshake")
        buf += d
        if len(buf) > 65536:
            raise BenchError("handshake response too large")
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise BenchError("handshake refused: " + head.split(b"\r\n")[0].decode(errors="replace"))
    return s, head.decode(errors="replace").lower(), rest


def recv_exact_count(s: socket.socket, nbytes: int, into: bytearray | None = None) -> None:
    got = 0
    end = time.monotonic() + DEADLINE
    while got < nbytes:
        d = s.recv(min(1 << 20, nbytes - got))
        if not d:
            raise BenchError("server closed the connection")
        if into is not None:
            into += d
        got += len(d)
        if time.monotonic() > end:
            raise BenchError("timeout")


def close(s: socket.socket) -> None:
    try:
        s.sendall(CLOSE_FRAME)
        s.settimeout(2)
        s.recv(64)
    except OSError:
        pass
    s.close()


def measured(probe, fn):
    c0, _ = probe()
    t0 = time.perf_counter()
    extra = fn() or {}
    wall = time.perf_counter() - t0
    c1, rss = probe()
    return dict(cpu=c1 - c0, wall=wall, rss=rss, **extra)


# ---------------------------------------------------------------- workloads
def _verify_fixed(s, frame: bytes, echo: bytes, count: int = 8) -> None:
    s.sendall(frame * count)
    got = bytearray()
    recv_exact_count(s, len(echo) * count, got)
    if bytes(got) != echo * count:
        raise BenchError(f"unexpected echo bytes (got {bytes(got[:16])!r}...)")


def pipelined(port, probe, n, size=64, window=256):
    payload = os.urandom(size)
    frame, echo = client_frame(2, payload), server_frame(2, payload)
    fl, el = len(frame), len(echo)
    big = frame * window
    s, _, rest = connect(port)
    if rest:
        raise BenchError("unexpected data after handshake")
    _verify_fixed(s, frame, echo)

    def run_n(count):
        sent = min(window, count)
        s.sendall(big[: sent * fl])
        done = got = 0
        end = time.monotonic() + DEADLINE
        while done < count:
            d = s.recv(1 << 18)
            if not d:
                raise BenchError("server closed the connection")
            got += len(d)
            nd = got // el
            delta, done = nd - done, nd
            more = min(count - sent, delta)
            if more > 0:
                s.sendall(big[: more * fl])
                sent += more
            if time.monotonic() > end:
                raise BenchError("timeout")
        if got != count * el:
            raise BenchError("echo length mismatch")

    run_n(max(window * 4, n // 10))  # warm-up
    r = measured(probe, lambda: run_n(n))
    close(s)
    return dict(r, units=n)


def burst(port, probe, n, size=64, per_burst=256):
    payload = os.urandom(size)
    frame, echo = client_frame(2, payload), server_frame(2, payload)
    big, el = frame * per_burst, len(echo) * per_burst
    s, _, _ = connect(port)
    _verify_fixed(s, frame, echo)

    def run_b(bursts):
        for _ in range(bursts):
            s.sendall(big)  # one write of 256 frames
            recv_exact_count(s, el)

    bursts = max(1, n // per_burst)
    run_b(max(2, bursts // 10))
    r = measured(probe, lambda: run_b(bursts))
    close(s)
    return dict(r, units=bursts * per_burst)


def roundtrip(port, probe, n, size=32):
    payload = os.urandom(size)
    frame, echo = client_frame(2, payload), server_frame(2, payload)
    el = len(echo)
    s, _, _ = connect(port)
    _verify_fixed(s, frame, echo, 1)
    lat = []
    pc = time.perf_counter_ns

    def run_r(count, record):
        end = time.monotonic() + DEADLINE
        for _ in range(count):
            t0 = pc()
            s.sendall(frame)
            got = 0
            while got < el:
                d = s.recv(4096)
                if not d:
                    raise BenchError("server closed the connection")
                got += len(d)
            if record:
                lat.append(pc() - t0)
            if time.monotonic() > end:
                raise BenchError("timeout")

    run_r(max(100, n // 10), False)
    r = measured(probe, lambda: run_r(n, True))
    close(s)
    lat.sort()
    return dict(r, units=n, p50_us=lat[len(lat) // 2] / 1e3, p99_us=lat[int(len(lat) * 0.99)] / 1e3)


def _pump(s: socket.socket, out: bytes, counter: FrameCounter, want_msgs: int) -> None:
    """Send `out` while reading, until `want_msgs` messages have been counted."""
    s.setblocking(False)
    mv = memoryview(out)
    off = 0
    rbuf = bytearray(1 << 20)
    p = select.poll()
    p.register(s, select.POLLIN | select.POLLOUT)
    end = time.monotonic() + DEADLINE
    try:
        while counter.messages < want_msgs:
            for _, ev in p.poll(1000):
                if ev & select.POLLIN:
                    try:
                        k = s.recv_into(rbuf)
                    except BlockingIOError:
                        k = -1
                    if k == 0:
                        raise BenchError("server closed the connection")
                    if k > 0:
                        counter.feed(memoryview(rbuf)[:k])
                if ev & (select.POLLERR | select.POLLHUP):
                    raise BenchError("connection error")
                if off < len(out) and ev & select.POLLOUT:
                    try:
                        off += s.send(mv[off : off + (1 << 20)])
                    except BlockingIOError:
                        pass
                    if off >= len(out):
                        p.modify(s, select.POLLIN)
            if time.monotonic() > end:
                raise BenchError("timeout")
    finally:
        s.setblocking(True)


def large(port, probe, n, size=1 << 20):
    payload = os.urandom(size)
    frame = client_frame(2, payload)
    s, _, _ = connect(port, timeout=60)
    check = FrameCounter(keep=True)
    _pump(s, frame, check, 1)
    if b"".join(p for _, _, p in check.kept) != payload:
        raise BenchError("large echo mismatch")
    c = FrameCounter()

    def run_l(count):
        for _ in range(count):
            c.messages = 0
            _pump(s, frame, c, 1)

    run_l(B.LARGE_WARMUP - 1)  # the checked echo was the first

    r = measured(probe, lambda: run_l(n))
    close(s)
    return dict(r, units=n * size / (1 << 20))  # units: MiB echoed


def deflate(port, probe, n, text: str, window=16):
    data = text.encode()
    frame = client_frame(1, compress_independent(data), rsv1=True)
    s, head, _ = connect(port, deflate=True)
    if "permessage-deflate" not in head:
        raise BenchError("n/a: permessage-deflate not negotiated")
    check = FrameCounter(keep=True)
    _pump(s, frame * 4, check, 4)
    d = zlib.decompressobj(-15)
    for opcode, rsv1, p in check.kept:
        out = d.decompress(p + b"\x00\x00\xff\xff") if rsv1 else p
        if opcode != 1 or out != data:
            raise BenchError("deflate echo mismatch")
    if not any(r for _, r, _ in check.kept):
        raise BenchError("n/a: server does not compress")
    c = FrameCounter()
    big = frame * window
    fl = len(frame)

    def run_d(count):
        c.messages = 0
        sent = min(window, count)
        s.sendall(big[: sent * fl])
        rbuf = bytearray(1 << 18)
        end = time.monotonic() + DEADLINE
        while c.messages < count:
            k = s.recv_into(rbuf)
            if not k:
                raise BenchError("server closed the connection")
            before = c.messages
            c.feed(memoryview(rbuf)[:k])
            more = min(count - sent, c.messages - before)
            if more > 0:
                s.sendall(big[: more * fl])
                sent += more
            if time.monotonic() > end:
                raise BenchError("timeout")

    run_d(max(window * 2, n // 10))
    r = measured(probe, lambda: run_d(n))
    close(s)
    return dict(r, units=n)


# ---- multi-connection workloads (asyncio on the runner's core)
class _Conn(asyncio.Protocol):
    def __init__(self, req: bytes):
        self.req = req
        self.buf = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.got = 0
        self.eof = asyncio.get_running_loop().create_future()
        self.waiter = None
        self.want = 0

    def connection_made(self, t):
        self.t = t
        t.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t.write(self.req)

    def data_received(self, data):
        if not self.upgraded.done():
            self.buf += data
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                ok = self.buf.startswith(b"HTTP/1.1 101")
                self.got = len(self.buf) - i - 4
                self.buf = bytearray()
                if ok:
                    self.upgraded.set_result(True)
                else:
                    self.upgraded.set_exception(BenchError("handshake refused"))
            return
        self.got += len(data)
        if self.waiter is not None and self.got >= self.want and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc):
        if not self.upgraded.done():
            self.upgraded.set_exception(BenchError("closed during handshake"))
        if not self.eof.done():
            self.eof.set_result(None)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(BenchError("connection lost"))


async def _open(port, req):
    loop = asyncio.get_running_loop()
    _, p = await loop.create_connection(lambda: _Conn(req), "127.0.0.1", port)
    await asyncio.wait_for(p.upgraded, 30)
    return p


async def _handshake_close(port, req):
    p = await _open(port, req)
    p.t.write(CLOSE_FRAME)
    try:
        await asyncio.wait_for(p.eof, 5)  # the server closes TCP after the closing handshake
    except asyncio.TimeoutError:
        pass
    p.t.close()


def _arun(coro):
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def handshakes(port, probe, n, concurrency=1):
    req = request_bytes(port)

    async def batch(count):
        end = time.monotonic() + DEADLINE
        done = 0
        while done < count:
            k = min(concurrency, count - done)
            await asyncio.gather(*[_handshake_close(port, req) for _ in range(k)])
            done += k
            if time.monotonic() > end:
                raise BenchError("timeout")

    _arun(batch(max(concurrency, n // 10)))
    r = measured(probe, lambda: _arun(batch(n)))
    return dict(r, units=n)


def _flood(port, req, n, window):
    """Complete n handshakes (opening and closing), ``window`` always in flight.

    Raw blocking connects and an epoll loop: a few system calls a connection and
    no event loop, so the generator outruns every server and the server never
    waits on it. A finished connection is replaced at once (no batch barrier).
    """
    ep = select.epoll()
    live = {}  # fd -> [socket, upgraded, head bytes so far]
    started = done = 0
    end = time.monotonic() + DEADLINE

    def start():
        nonlocal started
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        s.send(req)  # 154 bytes into an empty send buffer: never partial
        live[s.fileno()] = [s, False, b""]
        ep.register(s.fileno(), select.EPOLLIN)
        started += 1

    try:
        for _ in range(min(window, n)):
            start()
        while done < n:
            events = ep.poll(5)
            if not events or time.monotonic() > end:
                raise BenchError("timeout")
            for fd, _ in events:
                conn = live[fd]
                s = conn[0]
                data = s.recv(65536)
                if not conn[1]:
                    head = conn[2] + data
                    if b"\r\n\r\n" not in head:
                        if not data:
                            raise BenchError("closed during handshake")
                        conn[2] = head
                        continue
                    if not head.startswith(b"HTTP/1.1 101"):
                        raise BenchError("handshake refused")
                    conn[1] = True
                    s.send(CLOSE_FRAME)
                elif not data:  # the server closed TCP after the closing handshake
                    ep.unregister(fd)
                    s.close()
                    del live[fd]
                    done += 1
                    if started < n:
                        start()
    finally:
        for conn in live.values():
            conn[0].close()
        ep.close()


def handshake_flood(port, probe, n, window=50):
    req = request_bytes(port)
    _flood(port, req, max(window, n // 10), window)
    r = measured(probe, lambda: _flood(port, req, n, window))
    return dict(r, units=n)


async def _open_many(port, count, par=100):
    req = request_bytes(port)
    conns = []
    while len(conns) < count:
        k = min(par, count - len(conns))
        conns += await asyncio.gather(*[_open(port, req) for _ in range(k)])
    return conns


def rss(port, probe, n):
    async def go():
        warm = await _open_many(port, 10)
        for c in warm:
            c.t.abort()
        await asyncio.sleep(0.3)
        _, r0 = probe()
        t0 = time.perf_counter()
        conns = await _open_many(port, n)
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.5)
        _, r1 = probe()
        for c in conns:
            c.t.abort()
        return dict(cpu=0.0, wall=wall, rss=r1, units=n, rss_per_conn=(r1 - r0) / n)

    return _arun(go())


def broadcast(port, probe, sizes, reps, size=64):
    payload = os.urandom(size)
    frame, el = client_frame(2, payload), len(server_frame(2, payload))

    async def go():
        out = {}
        conns = []
        for n in sizes:
            conns += await _open_many(port, n - len(conns))
            await asyncio.sleep(0.2)
            loop = asyncio.get_running_loop()

            async def one_round(k, conns=conns, loop=loop):
                for c in conns:
                    c.want = c.got + el
                    c.waiter = loop.create_future()
                conns[0].t.write(frame)
                await asyncio.wait_for(asyncio.gather(*[c.waiter for c in conns]), 30)

            for k in range(10):  # warm-up (lets Node's JIT settle too)
                await one_round(k)
            c0, _ = probe()
            t0 = time.perf_counter()
            for k in range(reps):
                await one_round(k)
            wall = time.perf_counter() - t0
            c1, r = probe()
            out[n] = dict(cpu=c1 - c0, wall=wall, units=reps * n, rss=r)
        for c in conns:
            c.t.abort()
        return out

    return _arun(go())
