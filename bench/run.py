#!/usr/bin/env python3
"""airsocket benchmark suite: airsocket side by side with picows, aiohttp, websockets and
Node's ws, in one run.  See bench/README.md.

    python bench/run.py --quick
    python bench/run.py --workloads pipelined,burst \
        --impls airsocket,picows,aiohttp,websockets,node --rounds 3 \
        --loop asyncio,uvloop --role server,client

The process under test is pinned to core 0, the load generator (or the fixed peer) to
core 1.  CPU figures are the process under test's own CPU clock (time.process_time() /
process.cpuUsage()) over the measured window: servers print it on SIGUSR2, clients at exit.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import platform
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _benchlib as B
import loadgen as L

IMPLS = ["airsocket", "airsocket-air", "picows", "aiohttp", "websockets", "node"]
# Run only when named: servers/floor_echo.py, no WebSocket library (handshakes, server role).
EXTRA_IMPLS = ["floor"]
FLOOR_WORKLOADS = ("hs_seq", "hs_conc", "hs_flood")
PY = sys.executable
# --no-accel: the environment that switches accelerators off. aiohttp reads its own variable;
# _benchlib makes websockets' C masking unimportable under BENCH_WEBSOCKETS_NO_SPEEDUPS.
NO_ACCEL_ENV = {
    "airsocket": {"AIRSOCKET_NO_SPEEDUPS": "1"},
    "all": {
        "AIRSOCKET_NO_SPEEDUPS": "1",
        "AIOHTTP_NO_EXTENSIONS": "1",
        B.WEBSOCKETS_NO_SPEEDUPS: "1",
    },
}
ALL_NO_ACCEL = NO_ACCEL_ENV["all"]
TUT_CORE, LOAD_CORE = 0, 1  # core of the process under test / of the load generator


def server_cmd(
    impl: str,
    port: int,
    uvloop: bool,
    deflate: bool,
    bcast: bool,
    passthrough: bool = False,
    coalesce: bool = False,
) -> list[str]:
    if impl == "node":
        cmd = ["node", os.path.join(HERE, "servers", "node_echo.js"), str(port)]
    else:
        name = impl.replace("-", "_") + "_echo.py"
        cmd = [PY, os.path.join(HERE, "servers", name), str(port)]
        if uvloop:
            cmd.append("--uvloop")
    if deflate:
        cmd.append("--deflate")
    if bcast:
        cmd.append("--broadcast")
    if passthrough:
        cmd.append("--deflate-passthrough")
    if coalesce:
        cmd.append("--coalesce")
    return cmd


def client_cmd(impl: str) -> list[str]:
    if impl == "node":
        return ["node", os.path.join(HERE, "clients", "node_client.js")]
    return [PY, os.path.join(HERE, "clients", impl.replace("-", "_") + "_client.py")]


# ------------------------------------------------------------------ workloads
# name: (unit, description, full params, quick params)
WORKLOADS = {
    "pipelined": (
        "msg",
        "64 B binary, 256 in flight, one connection",
        dict(n=100_000),
        dict(n=10_000),
    ),
    "burst": (
        "msg",
        "64 B binary, 256 frames in one write, wait for the 256 echoes",
        dict(n=102_400),
        dict(n=10_240),
    ),
    "roundtrip": (
        "msg",
        "32 B sequential round trips (latency as seen by the fixed peer)",
        dict(n=10_000),
        dict(n=2_000),
    ),
    "large1m": (
        "MiB",
        "1 MiB binary messages echoed, one at a time",
        dict(n=100, size=1 << 20),
        dict(n=20, size=1 << 20),
    ),
    "large16m": (
        "MiB",
        "16 MiB binary messages echoed, one at a time",
        dict(n=16, size=16 << 20),
        dict(n=2, size=16 << 20),
    ),
    "deflate": (
        "msg",
        "4 KiB JSON-like text, permessage-deflate (level 1, 15-bit window), 16 in flight",
        dict(n=20_000),
        dict(n=2_000),
    ),
    "hs_seq": (
        "handshake",
        "opening handshake + closing handshake, one at a time",
        dict(n=1_000),
        dict(n=200),
    ),
    "hs_conc": (
        "handshake",
        "opening + closing handshakes, 50 at once",
        dict(n=2_000),
        dict(n=300),
    ),
    "hs_flood": (
        "handshake",
        "opening + closing handshakes, 50 always in flight, from a raw-socket generator"
        " that never waits on a batch (server role only)",
        dict(n=5_000),
        dict(n=1_000),
    ),
    "rss": ("conn", "RSS per idle connection (KiB)", dict(n=5_000), dict(n=1_000)),
    "broadcast": (
        "conn",
        "one 64 B message sent to every connection (cost per connection)",
        dict(sizes=[100, 300, 1000], reps=50),
        dict(sizes=[100, 250, 500], reps=10),
    ),
}
CLIENT_ROLE_NA = {"broadcast": "server role only"}


# ------------------------------------------------------------------ processes
_procs: list[Proc] = []


class Unavailable(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, cmd: list[str], core: int):
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 — lives as long as the process
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (B.SRC, HERE, env.get("PYTHONPATH")) if p)
        full = (["taskset", "-c", str(core)] if shutil.which("taskset") else []) + cmd
        self.p = subprocess.Popen(
            full,
            stdout=subprocess.PIPE,
            stderr=self.err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=HERE,
        )
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        _procs.append(self)

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line.decode(errors="replace").strip())
        self.q.put(None)

    def stderr_tail(self) -> str:
        self.err.seek(0)
        lines = [ln for ln in self.err.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1][:200] if lines else f"exit code {self.p.poll()}"

    def expect(self, prefix: str, timeout: float) -> str:
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise L.BenchError(f"timeout waiting for {prefix}")
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                try:
                    self.p.wait(2)
                except subprocess.TimeoutExpired:
                    pass
                tail = self.stderr_tail()
                # an import that fails means the impl is not there (yet): skip it for the run
                if (
                    any(
                        k in tail
                        for k in ("ImportError", "ModuleNotFoundError", "Cannot find module")
                    )
                    or "AttributeError: module" in tail
                ):
                    raise Unavailable(tail)
                raise L.BenchError(f"exited before {prefix}: {tail}")
            if line.startswith(prefix):
                return line

    def probe(self):
        os.kill(self.p.pid, signal.SIGUSR2)
        parts = self.expect("CPU", 10).split()
        return float(parts[1]), int(parts[2])

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(3)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait(5)
        if self in _procs:
            _procs.remove(self)


def _cleanup(*_):
    for p in list(_procs):
        try:
            p.stop()
        except Exception:
            pass


atexit.register(_cleanup)


def _on_signal(signum, frame):
    _cleanup()
    sys.exit(128 + signum)


# ------------------------------------------------------------------ one measurement
def run_server_role(impl, wl, loop, params, text):
    if impl == "floor" and wl not in FLOOR_WORKLOADS:
        raise L.BenchError("n/a: the floor answers handshakes only")
    port = free_port()
    proc = Proc(
        server_cmd(impl, port, loop == "uvloop", wl == "deflate", wl == "broadcast"), TUT_CORE
    )
    try:
        proc.expect("READY", 30)
        probe = proc.probe
        if wl == "pipelined":
            return L.pipelined(port, probe, params["n"])
        if wl == "burst":
            return L.burst(port, probe, params["n"])
        if wl == "roundtrip":
            return L.roundtrip(port, probe, params["n"])
        if wl.startswith("large"):
            return L.large(port, probe, params["n"], params["size"])
        if wl == "deflate":
            return L.deflate(port, probe, params["n"], text)
        if wl == "hs_seq":
            return L.handshakes(port, probe, params["n"], 1)
        if wl == "hs_conc":
            return L.handshakes(port, probe, params["n"], 50)
        if wl == "hs_flood":
            return L.handshake_flood(port, probe, params["n"], 50)
        if wl == "rss":
            return L.rss(port, probe, params["n"])
        if wl == "broadcast":
            per = L.broadcast(port, probe, params["sizes"], params["reps"])
            top = per[max(per)]
            # CPU per broadcast at each connection count, to show the cost is linear in N
            return dict(top, per_bcast={str(k): v["cpu"] / params["reps"] for k, v in per.items()})
        raise ValueError(wl)
    finally:
        proc.stop()


def run_client_role(impl, wl, loop, params, text, fixed_server="coalescing"):
    if impl == "floor":
        raise L.BenchError("n/a: the floor is a server")
    if wl == "hs_flood":
        raise L.BenchError("n/a: a flood is the load of the server role")
    port = free_port()
    cmd = server_cmd(
        "picows",
        port,
        True,
        False,
        False,
        passthrough=wl == "deflate",
        coalesce=fixed_server == "coalescing",
    )
    fixed = Proc(cmd, LOAD_CORE)
    try:
        try:
            fixed.expect("READY", 30)
        except Unavailable as e:
            raise L.BenchError(f"fixed picows server failed: {e}") from None
        cmd = [*client_cmd(impl), f"ws://127.0.0.1:{port}/", "--workload", wl]
        for k, v in params.items():
            cmd += [f"--{k}", str(v)]
        if loop == "uvloop" and impl != "node":
            cmd.append("--uvloop")
        cli = Proc(cmd, TUT_CORE)
        try:
            line = cli.expect("RESULT", L.DEADLINE * 2)
        finally:
            cli.stop()
        return json.loads(line[len("RESULT ") :])
    finally:
        fixed.stop()


# ------------------------------------------------------------------ reporting
def per_unit(wl: str, r: dict) -> float:
    if wl == "rss":
        return r["rss_per_conn"] / 1024  # KiB per connection
    return r["cpu"] / r["units"] * 1e6  # CPU µs per unit


def rate(wl: str, r: dict) -> float | None:
    if wl == "rss" or not r.get("wall"):
        return None
    if wl.startswith("large"):
        return r["units"] * (1 << 20) / r["wall"] / 1e6  # MB/s
    return r["units"] / r["wall"]


def fmt(x, digits=3):
    if x is None:
        return "-"
    if abs(x) >= 100_000:
        return f"{x / 1000:.0f}k"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def linear_fit(xs, ys):
    """Least squares y = a + b*x; b is the marginal CPU µs per connection, r2 how linear."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / sxx if sxx else 0.0
    a = my - b * mx
    ss = sum((y - my) ** 2 for y in ys)
    r2 = 1 - sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=False)) / ss if ss else 1.0
    return dict(slope_us=b, intercept_us=a, r2=r2)


def summarize(results, impls, rounds):
    """results[(wl, role, loop)][impl] = list over rounds of dict | str(error)."""
    out = {}
    for key, by_impl in results.items():
        wl = key[0]
        rows = {}
        for impl in impls:
            per_round = by_impl.get(impl, [])
            vals = [per_unit(wl, r) if isinstance(r, dict) else None for r in per_round]
            ok = [v for v in vals if v is not None]
            errs = [r for r in per_round if isinstance(r, str)]
            row = dict(rounds=vals, error=errs[0] if errs and not ok else None)
            if ok:
                good = [r for r in per_round if isinstance(r, dict)]
                row.update(
                    median=statistics.median(ok),
                    min=min(ok),
                    max=max(ok),
                    rate=statistics.median([rate(wl, r) or 0 for r in good]) or None,
                )
                for extra in ("p50_us", "p99_us"):
                    if extra in good[0]:
                        row[extra] = statistics.median([r[extra] for r in good])
                if "per_bcast" in good[0]:
                    sizes = sorted(good[0]["per_bcast"], key=int)
                    cost = {
                        s: statistics.median([r["per_bcast"][s] * 1e6 for r in good]) for s in sizes
                    }
                    row["per_bcast_us"] = cost
                    row["per_conn_us"] = {s: cost[s] / int(s) for s in sizes}
                    row.update(linear_fit([int(s) for s in sizes], [cost[s] for s in sizes]))
            rows[impl] = row
        # ratios: within a round only, then the median over rounds
        for impl in impls:
            ratios = {}
            for peer in impls:
                if peer == impl:
                    continue
                a, b = rows[impl]["rounds"], rows[peer]["rounds"]
                rs = [
                    x / y
                    for x, y in zip(a, b, strict=False)
                    if x is not None and y is not None and y > 0
                ]
                if rs:
                    ratios[peer] = statistics.median(rs)
            rows[impl]["ratios"] = ratios
        out[key] = rows
    return out


def print_tables(summary, impls, rounds, quick):
    for (wl, role, loop), rows in summary.items():
        unit, desc, *_ = WORKLOADS[wl]
        cost = "RSS KiB/conn" if wl == "rss" else f"CPU µs/{unit}"
        ratel = "MB/s" if wl.startswith("large") else ("" if wl == "rss" else f"{unit}s/s")
        print(f"\n== {wl} — {role} role — {loop} — {desc}")
        hdr = f"{'impl':<14}{cost:>14}  {'min–max':<16}{ratel:>10}"
        if wl == "roundtrip":
            hdr += f"{'p50 µs':>9}{'p99 µs':>9}"
        if wl == "broadcast":
            hdr += f"{'µs/conn at N=':>30}{'slope':>7}{'fixed':>7}{'R²':>6}"
        peers = [p for p in impls if any(r.get("median") for r in [rows[p]])]
        for p in peers:
            hdr += f"{'÷' + p:>{max(14, len(p) + 3)}}"
        print(hdr)
        for impl in impls:
            r = rows[impl]
            if r.get("median") is None:
                print(f"{impl:<14}  {r.get('error') or 'no result'}")
                continue
            line = (
                f"{impl:<14}{fmt(r['median']):>14}  {fmt(r['min']) + '–' + fmt(r['max']):<16}"
                f"{fmt(r.get('rate')):>10}"
            )
            if wl == "roundtrip":
                line += f"{fmt(r.get('p50_us')):>9}{fmt(r.get('p99_us')):>9}"
            if wl == "broadcast":
                ps = " ".join(f"{k}:{fmt(v)}" for k, v in r["per_conn_us"].items())
                line += f"{ps:>30}{fmt(r['slope_us']):>7}{fmt(r['intercept_us']):>7}{r['r2']:>6.3f}"
            for p in peers:
                cell = "" if p == impl else fmt(r["ratios"].get(p))
                line += f"{cell:>{max(14, len(p) + 3)}}"
            print(line)
    print(
        f"\n(rounds={rounds}{', QUICK run: small counts, indicative only' if quick else ''}; "
        "cost = median over rounds of the process under test's own CPU per unit; "
        "÷peer = median over rounds of (this impl's cost / peer's cost) in the same round, "
        "<1 means cheaper than that peer)"
    )


# ------------------------------------------------------------------ main
def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--rounds", type=int, default=None, help="default 3 (1 with --quick)")
    ap.add_argument(
        "--loop", default=None, help="asyncio,uvloop (default both; asyncio with --quick)"
    )
    ap.add_argument("--role", default="server,client")
    ap.add_argument(
        "--quick", action="store_true", help="small counts: a smoke test of about a minute"
    )
    ap.add_argument(
        "--fixed-server",
        choices=("coalescing", "picows"),
        default="coalescing",
        help="the client role's peer: picows on uvloop, writing the echoes of one read in "
        "one write (default), or writing each echo on its own (bench/README.md, Method)",
    )
    ap.add_argument(
        "--no-accel",
        choices=("airsocket", "all"),
        default=None,
        help="run airsocket without its C accelerator (AIRSOCKET_NO_SPEEDUPS=1); 'all' also "
        "runs aiohttp and websockets without theirs (picows, Cython only, and the load side "
        "keep theirs)",
    )
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args(argv)
    accel_off = NO_ACCEL_ENV.get(a.no_accel, {})
    os.environ.update(accel_off)  # inherited by every process started below

    workloads = [w for w in a.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    impls = [i for i in a.impls.split(",") if i]
    for i in impls:
        if i not in IMPLS + EXTRA_IMPLS:
            ap.error(f"unknown impl {i!r}; choose from {', '.join(IMPLS + EXTRA_IMPLS)}")
    rounds = a.rounds or (1 if a.quick else 3)
    loops = (a.loop or ("asyncio" if a.quick else "asyncio,uvloop")).split(",")
    roles = a.role.split(",")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    B.raise_nofile(40000)
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {LOAD_CORE})  # the load generator runs in this process
    else:
        print("warning: fewer than 2 cores, no pinning", file=sys.stderr)

    unavailable: dict[tuple[str, str], str] = {}
    if "node" in impls and not (
        shutil.which("node") and os.path.isdir(os.path.join(HERE, "node_modules", "ws"))
    ):
        unavailable[("node", "server")] = unavailable[("node", "client")] = (
            "unavailable: node or bench/node_modules/ws missing (cd bench && npm install)"
        )
    text = B.json_text(4096)
    results: dict = {}
    t_start = time.monotonic()
    for rnd in range(rounds):
        order = impls[rnd % len(impls) :] + impls[: rnd % len(impls)]  # rotate: no fixed position
        for wl in workloads:
            params = WORKLOADS[wl][3 if a.quick else 2]
            for loop in loops:
                for role in roles:
                    if role == "client" and wl in CLIENT_ROLE_NA:
                        continue
                    key = (wl, role, loop)
                    by_impl = results.setdefault(key, {})
                    for impl in order:
                        slot = by_impl.setdefault(impl, [])

                        if (impl, role) in unavailable:
                            slot.append(unavailable[(impl, role)])
                            continue
                        t0 = time.monotonic()
                        try:
                            if role == "server":
                                r = run_server_role(impl, wl, loop, params, text)
                            else:
                                r = run_client_role(impl, wl, loop, params, text, a.fixed_server)
                            if isinstance(r, dict) and r.get("error"):
                                raise L.BenchError(r["error"])
                            slot.append(r)
                            u = "KiB/conn" if wl == "rss" else "µs/" + WORKLOADS[wl][0]
                            status = f"{per_unit(wl, r):.3g} {u}"
                        except Unavailable as e:
                            unavailable[(impl, role)] = f"unavailable: {e}"
                            slot.append(unavailable[(impl, role)])
                            status = slot[-1]
                        except Exception as e:
                            msg = str(e) or type(e).__name__
                            slot.append(msg if msg.startswith("n/a") else f"failed: {msg}")
                            status = slot[-1]
                        print(
                            f"[round {rnd + 1}/{rounds}] {wl:<10} {role:<6} {loop:<7} {impl:<14} "
                            f"{status}  ({time.monotonic() - t0:.1f}s)",
                            file=sys.stderr,
                            flush=True,
                        )

    summary = summarize(results, impls, rounds)
    print_tables(summary, impls, rounds, a.quick)
    os.makedirs(a.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(a.out, f"bench-{stamp}{'-quick' if a.quick else ''}.json")
    doc = dict(
        started=stamp,
        elapsed_s=time.monotonic() - t_start,
        quick=a.quick,
        rounds=rounds,
        loops=loops,
        roles=roles,
        impls=impls,
        workloads=workloads,
        machine=dict(
            python=platform.python_version(), platform=platform.platform(), cpus=os.cpu_count()
        ),
        params={w: WORKLOADS[w][3 if a.quick else 2] for w in workloads},
        fixed_server=a.fixed_server,
        # Which accelerators were switched off, and how (also set by hand in the environment).
        accelerators_off={k: os.environ[k] for k in sorted(ALL_NO_ACCEL) if os.environ.get(k)},
        raw=[
            dict(workload=k[0], role=k[1], loop=k[2], impl=i, rounds=v)
            for k, by in results.items()
            for i, v in by.items()
        ],
        summary=[
            dict(workload=k[0], role=k[1], loop=k[2], impl=i, **dict(row.items()))
            for k, rows in summary.items()
            for i, row in rows.items()
        ],
    )
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
    print(f"\nresults written to {os.path.relpath(path)}  ({time.monotonic() - t_start:.0f}s)")


if __name__ == "__main__":
    main()
