"""Workload drivers shared by the Python benchmark clients (the implementation under
test is the *client*; the fixed peer is a picows echo server on the other core).

A client program supplies an adapter and calls main(adapter).  Two adapter styles:

* stream (websockets, aiohttp, airsocket asyncio API):
    conn = await adapter.connect(url, deflate)
    send = adapter.sender(conn, payload)  -> async callable(payload)
    recv = adapter.receiver(conn)         -> async callable() -> message
    adapter.data(message) -> bytes | str ; await adapter.close(conn)
* callback (picows, airsocket AIR API):  adapter.callback = True
    conn = await adapter.connect(url, deflate, on_message)   # on_message(msg) called per message
    conn.send(payload)  (synchronous) ; adapter.data(msg) ; await adapter.close(conn)

The program measures its own CPU (time.process_time) around the measured window, after a
warm-up, and prints one line "RESULT {json}".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B

DEADLINE = 120.0


class NA(Exception):
    """The implementation cannot run this workload (reported as n/a)."""


def parse(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--workload", required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--uvloop", action="store_true")
    return p.parse_args(argv)


def _lat(lat):
    lat.sort()
    return dict(p50_us=lat[len(lat) // 2] / 1e3, p99_us=lat[int(len(lat) * 0.99)] / 1e3)


async def _measure(fn, n, warmup=None):
    await fn(warmup or max(1, n // 10), warm=True)
    c0, t0 = time.process_time(), time.perf_counter()
    extra = await fn(n, warm=False) or {}
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dict(cpu=cpu, wall=wall, rss=B.rss_bytes(), **extra)


# ------------------------------------------------------------------ stream style
async def stream_workload(ad, a):
    wl, n = a.workload, a.n
    deflate = wl == "deflate"
    if wl in ("hs_seq", "hs_conc"):
        conc = 1 if wl == "hs_seq" else 50

        async def one():
            c = await ad.connect(a.url, False)
            await ad.close(c)

        async def hs(count, warm):
            done = 0
            while done < count:
                k = min(conc, count - done)
                await asyncio.gather(*[one() for _ in range(k)])
                done += k

        return dict(await _measure(hs, n), units=n)
    if wl == "rss":
        return await _rss(lambda: ad.connect(a.url, False), ad.close, n)

    conn = await ad.connect(a.url, deflate)
    if deflate:
        payload = B.json_text(4096)
    elif wl.startswith("large"):
        payload = os.urandom(a.size)
    else:
        payload = os.urandom(32 if wl == "roundtrip" else 64)
    send, recv = ad.sender(conn, payload), ad.receiver(conn)
    await send(payload)
    if ad.data(await recv()) != payload:
        raise RuntimeError("echo mismatch")

    if wl in ("pipelined", "deflate"):
        window = 16 if deflate else 256

        async def run(count, warm):
            sem = asyncio.Semaphore(window)

            async def sender():
                for _ in range(count):
                    await sem.acquire()
                    await send(payload)

            task = asyncio.ensure_future(sender())
            for _ in range(count):
                await recv()
                sem.release()
            await task

        r = dict(await _measure(run, n), units=n)
    elif wl == "burst":
        bursts = max(1, n // 256)

        async def run(count, warm):
            for _ in range(count):
                for _ in range(256):
                    await send(payload)
                for _ in range(256):
                    await recv()

        r = dict(await _measure(run, bursts), units=bursts * 256)
    elif wl == "roundtrip":
        lat = []
        pc = time.perf_counter_ns

        async def run(count, warm):
            for _ in range(count):
                t0 = pc()
                await send(payload)
                await recv()
                if not warm:
                    lat.append(pc() - t0)

        r = dict(await _measure(run, n), units=n)
        r.update(_lat(lat))
    elif wl.startswith("large"):

        async def run(count, warm):
            for _ in range(count):
                await send(payload)
                await recv()

        r = dict(await _measure(run, n, B.LARGE_WARMUP), units=n * a.size / (1 << 20))
    else:
        raise NA(f"n/a: unknown workload {wl}")
    await ad.close(conn)
    return r


async def _rss(open_one, close_one, n):
    warm = [await open_one() for _ in range(10)]
    for c in warm:
        await close_one(c)
    await asyncio.sleep(0.3)
    r0 = B.rss_bytes()
    conns = []
    c0, t0 = time.process_time(), time.perf_counter()
    while len(conns) < n:
        conns += await asyncio.gather(*[open_one() for _ in range(min(50, n - len(conns)))])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await asyncio.sleep(0.5)
    r1 = B.rss_bytes()
    return dict(cpu=cpu, wall=wall, rss=r1, units=n, rss_per_conn=(r1 - r0) / n)


# ------------------------------------------------------------------ callback style
class _Cb:
    """Per-connection message hook, swapped by the drivers."""

    def __init__(self):
        self.fn = lambda m: None

    def __call__(self, m):
        self.fn(m)


async def callback_workload(ad, a):
    wl, n = a.workload, a.n
    loop = asyncio.get_running_loop()
    deflate = wl == "deflate"
    if wl in ("hs_seq", "hs_conc"):
        conc = 1 if wl == "hs_seq" else 50

        async def one():
            c = await ad.connect(a.url, False, _Cb())
            await ad.close(c)

        async def hs(count, warm):
            done = 0
            while done < count:
                k = min(conc, count - done)
                await asyncio.gather(*[one() for _ in range(k)])
                done += k

        return dict(await _measure(hs, n), units=n)
    if wl == "rss":
        return await _rss(lambda: ad.connect(a.url, False, _Cb()), ad.close, n)

    hook = _Cb()
    conn = await ad.connect(a.url, deflate, hook)
    if deflate:
        payload = B.json_text(4096)
    elif wl.startswith("large"):
        payload = os.urandom(a.size)
    else:
        payload = os.urandom(32 if wl == "roundtrip" else 64)
    send = conn.send
    first = loop.create_future()
    hook.fn = lambda m: first.done() or first.set_result(ad.data(m))
    send(payload)
    if await asyncio.wait_for(first, 30) != payload:
        raise RuntimeError("echo mismatch")

    def runner(start, on_msg):
        async def run(count, warm):
            st = dict(sent=0, recv=0, count=count, done=loop.create_future())
            hook.fn = lambda m: on_msg(st)
            start(st)
            await asyncio.wait_for(st["done"], DEADLINE)

        return run

    def finish(st):
        if st["recv"] >= st["count"] and not st["done"].done():
            st["done"].set_result(None)

    if wl in ("pipelined", "deflate"):
        window = 16 if deflate else 256

        def start(st):
            k = min(window, st["count"])
            for _ in range(k):
                send(payload)
            st["sent"] = k

        def on_msg(st):
            st["recv"] += 1
            if st["sent"] < st["count"]:
                st["sent"] += 1
                send(payload)
            finish(st)

        r = dict(await _measure(runner(start, on_msg), n), units=n)
    elif wl == "burst":
        bursts = max(1, n // 256)

        def start(st):
            for _ in range(256):
                send(payload)
            st["sent"] = 1

        def on_msg(st):
            st["recv"] += 1
            if st["recv"] % 256 == 0:
                if st["sent"] < st["count"]:
                    st["sent"] += 1
                    for _ in range(256):
                        send(payload)
                else:
                    st["done"].done() or st["done"].set_result(None)

        r = dict(await _measure(runner(start, on_msg), bursts), units=bursts * 256)
    elif wl in ("roundtrip",) or wl.startswith("large"):
        lat = []
        pc = time.perf_counter_ns
        t = [0]
        record = wl == "roundtrip"

        def start(st):
            t[0] = pc()
            send(payload)

        def on_msg(st):
            st["recv"] += 1
            if record:
                lat.append(pc() - t[0])
            if st["recv"] < st["count"]:
                t[0] = pc()
                send(payload)
            finish(st)

        run = runner(start, on_msg)
        if record:
            r = dict(await _measure(run, n), units=n)
            del lat[: max(1, n // 10)]  # the warm-up's samples
            r.update(_lat(lat))
        else:
            r = dict(await _measure(run, n, B.LARGE_WARMUP), units=n * a.size / (1 << 20))
    else:
        raise NA(f"n/a: unknown workload {wl}")
    await ad.close(conn)
    return r


def main(make_adapter):
    """make_adapter() is called inside the running loop (imports may fail: reported)."""
    a = parse()
    B.raise_nofile()
    out = {}

    async def go():
        try:
            ad = make_adapter()
            if asyncio.iscoroutine(ad):
                ad = await ad
            fn = callback_workload if getattr(ad, "callback", False) else stream_workload
            out.update(await asyncio.wait_for(fn(ad, a), DEADLINE * 1.5))
            if hasattr(ad, "shutdown"):
                await ad.shutdown()
        except NA as e:
            out["error"] = str(e)

    B.run_loop(go, a.uvloop)
    if not out:
        sys.exit("no result")
    B.result_line(out)
