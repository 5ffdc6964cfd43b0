"""Helpers shared by the benchmark servers, clients and the runner.

Kept dependency-free (stdlib only) so that every peer program can import it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

# permessage-deflate settings used by every implementation that can be configured:
# aiohttp hard-codes Z_BEST_SPEED, so everyone uses level 1, a 15-bit window, memLevel 8.
DEFLATE_LEVEL = 1
DEFLATE_WBITS = 15
DEFLATE_MEMLEVEL = 8

# Set (run.py --no-accel all): websockets runs without its C masking, as it does where its
# extension is not built; None in sys.modules makes "from .speedups import" fail, and
# websockets falls back to its pure-Python apply_mask. aiohttp has its own switch,
# AIOHTTP_NO_EXTENSIONS. Done on importing this module, which every peer does first.
WEBSOCKETS_NO_SPEEDUPS = "BENCH_WEBSOCKETS_NO_SPEEDUPS"
if os.environ.get(WEBSOCKETS_NO_SPEEDUPS):
    sys.modules["websockets.speedups"] = None  # type: ignore[assignment]

MAX_SIZE = 64 * 1024 * 1024  # every peer is configured to accept at least 16 MiB messages

# Large-message echoes measured after this many unmeasured ones. The allocator settles
# only once a process has held two messages at once (the one being echoed and the next
# arriving): glibc serves the first blocks of a new size with mmap, then raises its mmap
# threshold and grows the heap, so the first 3 echoes of 16 MiB touch about 48 MiB of
# fresh pages. With one warm-up message those 12,000 page faults fell inside an 8-message
# window: airsocket's server measured 480-560 us/MiB there, 376-395 after them (picows
# 371-390, with fewer faults as it reuses one buffer). The same for every implementation.
LARGE_WARMUP = 4


def add_src_to_path() -> None:
    """Make the in-tree airsocket importable without installing it.

    AIRSOCKET_SRC overrides the directory (empty: use whatever airsocket is installed)."""
    src = os.environ.get("AIRSOCKET_SRC", SRC)
    if src and src not in sys.path:
        sys.path.insert(0, src)


def raise_nofile(want: int = 20000) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_line() -> str:
    # process_time() = user + system CPU of this process (all threads).
    return f"CPU {time.process_time():.9f} {rss_bytes()}\n"


def report_cpu() -> None:
    os.write(1, cpu_line().encode())


def install_cpu_reporter(loop: asyncio.AbstractEventLoop) -> None:
    """On SIGUSR2 print 'CPU <process seconds> <rss bytes>' on stdout.

    The runner reads this line before and after a measured window; the difference
    is the CPU time that this process spent on the workload, from its own clock.
    """
    loop.add_signal_handler(signal.SIGUSR2, report_cpu)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)


def ready(port: int) -> None:
    os.write(1, f"READY {port}\n".encode())


def server_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--uvloop", action="store_true")
    p.add_argument("--deflate", action="store_true", help="accept permessage-deflate")
    p.add_argument(
        "--deflate-passthrough",
        action="store_true",
        help="(picows only) fixed server of the client-role deflate workload",
    )
    p.add_argument(
        "--coalesce",
        action="store_true",
        help="(picows only) fixed server of the client role: one write per read's echoes",
    )
    p.add_argument(
        "--broadcast",
        action="store_true",
        help="every received message is sent to every open connection",
    )
    return p.parse_args(argv)


def run_loop(main, use_uvloop: bool) -> None:
    """Run coroutine function main() on the default asyncio loop or uvloop."""
    if use_uvloop:
        import uvloop

        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            runner.run(main())
        except (KeyboardInterrupt, RuntimeError, asyncio.CancelledError):
            # RuntimeError: loop stopped by SIGTERM before main() completed.
            pass


async def serve_until_stopped() -> None:
    """Park the main coroutine; SIGTERM stops the loop."""
    loop = asyncio.get_running_loop()
    install_cpu_reporter(loop)
    await loop.create_future()


def json_text(size: int = 4096) -> str:
    """Deterministic JSON-like ASCII text of exactly `size` bytes (realistic compressibility)."""
    items: list = []
    i = 0

    def dump(pad: str) -> str:
        return json.dumps({"items": items, "pad": pad}, separators=(",", ":"))

    while True:
        item = {
            "id": i,
            "name": f"user{i * 7919 % 10007}",
            "active": i % 3 == 0,
            "score": i * 37 % 1000,
            "tags": ["red", "green", "blue"][: i % 3 + 1],
        }
        items.append(item)
        if len(dump("")) > size - 40:
            items.pop()
            break
        i += 1
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    need = size - len(dump(""))
    pad = "".join(alphabet[(k * k * 31 + 7) % len(alphabet)] for k in range(need))
    out = dump(pad)
    assert len(out) == size, len(out)
    return out


def result_line(d: dict) -> None:
    os.write(1, ("RESULT " + json.dumps(d) + "\n").encode())


def airsocket_options(airsocket, deflate: bool) -> dict:
    """Keyword options for airsocket: the same compression settings as the peers when the
    library exposes them (Options.compression_level & co. are not in API.md, so probe)."""
    opts: dict = {"compression": "deflate" if deflate else None, "max_message_size": MAX_SIZE}
    fields = set(getattr(getattr(airsocket, "Options", None), "__dataclass_fields__", {}) or {})
    if deflate:
        wanted = {
            "compression_level": DEFLATE_LEVEL,
            "compression_window_bits": DEFLATE_WBITS,
            "compression_mem_level": DEFLATE_MEMLEVEL,
            "compression_min_size": 0,
        }
        opts.update({k: v for k, v in wanted.items() if k in fields})
    if "ping_interval" in fields:
        opts["ping_interval"] = None
    return opts
