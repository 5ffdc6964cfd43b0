"""The floor of the client role: a raw-socket client, no WebSocket library at all.

It plays the client of the "burst" or "pipelined" workload against a running
echo server (``bench/servers/picows_echo.py PORT --uvloop --coalesce`` is the
fixed peer of the client role; without ``--coalesce``, the plain picows server
of ``bench/run.py --fixed-server picows``): frames built once, one ``sendall``
per batch, echoes only counted. What it spends per message is the least any
client can, since it does no per-message work; a library client is compared
with it in the same conditions (pinned to core 0, the server on core 1)::

    taskset -c 1 python bench/servers/picows_echo.py 9301 --uvloop --coalesce &
    taskset -c 0 python bench/floor_client.py 9301 --workload burst
    taskset -c 0 python bench/clients/picows_client.py ws://127.0.0.1:9301/ \\
        --workload burst --n 102400

Prints the CPU per message (user and system) of this process.
"""

from __future__ import annotations

import argparse
import os
import time

import loadgen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--workload", choices=("burst", "pipelined"), default="burst")
    parser.add_argument("--n", type=int, default=400_000, help="messages")
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    sock, _, rest = loadgen.connect(args.port)
    frame = loadgen.client_frame(2, os.urandom(args.size))
    echo_size = len(loadgen.server_frame(2, bytes(args.size)))
    batch = 256
    out = frame * batch
    pending = len(rest)  # echoes are counted in bytes; a run leaves none pending

    def run(messages: int) -> None:
        nonlocal pending
        if args.workload == "burst":
            for _ in range(messages // batch):
                sock.sendall(out)
                want = batch * echo_size
                while pending < want:
                    pending += len(sock.recv(1 << 20))
                pending -= want
        else:  # 256 in flight: as echoes come back, as many frames go out
            sock.sendall(out)
            sent = received = batch
            while received < messages + batch:
                pending += len(sock.recv(1 << 20))
                done, pending = divmod(pending, echo_size)
                received += done
                more = min(done, messages + batch - sent)
                if more:
                    sock.sendall(frame * more)
                    sent += more

    run(batch * 40)  # warm-up
    before = os.times()
    started = time.process_time()
    run(args.n)
    cpu = time.process_time() - started
    after = os.times()
    per = 1e6 / args.n
    user = (after.user - before.user) * per
    system = (after.system - before.system) * per
    print(f"raw client, {args.workload}: {cpu * per:.2f} us/msg", end=" ")
    print(f"(user {user:.2f}, system {system:.2f})")
    loadgen.close(sock)


if __name__ == "__main__":
    main()
