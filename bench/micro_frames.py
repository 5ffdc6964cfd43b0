"""Micro-benchmark: the small-message hot path, pure Python against C.

Run from the project root after ``pip install -e .``::

    python bench/micro_frames.py [--seconds 0.3] [--size 64] [--frames 256]

Receiving: ns per frame for a buffer of 256 masked 64-byte frames (binary,
then ASCII text, then non-ASCII text) fed to a server ``Connection`` by
``receive_data`` (whatever connection.py does: the pure loop, or the loop
with ``_speedups.scan_frames`` once it is wired in), and for
``_speedups.scan_frames`` alone on the same buffer.

Sending: ns per frame of ``_speedups.frame`` against
``frames.serialize_frame`` (and, unmasked, the ``SHORT_HEADERS`` lookup plus
concatenation that a server uses for small messages), masked and not.

Best of several repeats (timeit). Set ``AIRSOCKET_NO_SPEEDUPS=1`` to time the
receive loop with pure-Python masking too.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from airsocket.protocol import masking
from airsocket.protocol.connection import Connection, Role, State
from airsocket.protocol.events import BinaryMessage, Event, TextMessage
from airsocket.protocol.frames import SHORT_HEADERS, serialize_frame
from airsocket.protocol.options import Options

MASK = b"\x37\xfa\x21\x3d"
REPEATS = 7


def best(func: Callable[[], object], seconds: float) -> float:
    """Return the best seconds per call of ``func()``."""
    timer = timeit.Timer(func)
    number, elapsed = timer.autorange()
    number = max(1, int(number * seconds / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=REPEATS, number=number)) / number


def open_server() -> Connection:
    conn = Connection(Role.SERVER, Options(compression=None))
    conn.state = State.OPEN
    return conn


def payloads(size: int) -> list[tuple[str, int, bytes]]:
    ascii_text = bytes(0x20 + (i * 7) % 95 for i in range(size))
    accented = ("é" + "a" * 9) * (size // 11 + 1)
    non_ascii = accented.encode()[:size].decode("utf-8", "ignore").encode()
    return [
        ("binary", 2, bytes((i * 31) & 0xFF for i in range(size))),
        ("text ASCII", 1, ascii_text),
        ("text non-ASCII", 1, non_ascii),
    ]


ScanFrames = Callable[..., int]
Frame = Callable[..., bytes]


def load() -> tuple[ScanFrames | None, Frame | None]:
    """The C functions, or None when the extension is missing or predates them."""
    try:
        from airsocket._speedups import frame, scan_frames
    except ImportError:
        return None, None
    return scan_frames, frame


def receive(args: argparse.Namespace, scan: ScanFrames | None) -> None:
    print(f"receive: {args.frames} masked frames of {args.size} B in one buffer, ns per frame")
    header = f"{'payload':>15}  {'receive_data':>12}"
    if scan is not None:
        header += f"  {'scan_frames':>11}  {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for label, opcode, payload in payloads(args.size):
        buf = serialize_frame(opcode, payload, mask=MASK) * args.frames
        conn = open_server()
        expected = conn.receive_data(buf)
        assert len(expected) == args.frames and conn.failure is None

        def feed(conn: Connection = conn, buf: bytes = buf) -> list[Event]:
            return conn.receive_data(buf)

        per_frame = best(feed, args.seconds)
        row = f"{label:>15}  {per_frame / args.frames * 1e9:>12,.0f}"
        if scan is not None:
            max_size = conn.options.max_message_size
            events: list[Event] = []
            assert scan(buf, 0, True, max_size, events, TextMessage, BinaryMessage) == len(buf)
            assert events == expected

            def run(buf: bytes = buf, max_size: int = max_size, scan: ScanFrames = scan) -> int:
                return scan(buf, 0, True, max_size, [], TextMessage, BinaryMessage)

            scanned = best(run, args.seconds)
            row += f"  {scanned / args.frames * 1e9:>11,.0f}  {per_frame / scanned:>5.1f}x"
        print(row)


def send(args: argparse.Namespace, frame: Frame | None) -> None:
    print()
    print(f"send: one {args.size} B binary frame, ns per frame")
    payload = bytes(args.size)
    rows: list[tuple[str, Callable[[], bytes]]] = [
        ("serialize_frame masked", lambda: serialize_frame(2, payload, mask=MASK)),
        ("serialize_frame unmasked", lambda: serialize_frame(2, payload)),
    ]
    if args.size < 126:
        heads = SHORT_HEADERS[2]
        rows.append(("SHORT_HEADERS + payload", lambda: heads[len(payload)] + payload))
    if frame is not None:
        assert frame(2, payload, MASK, False) == serialize_frame(2, payload, mask=MASK)
        assert frame(2, payload, None, False) == serialize_frame(2, payload)
        rows += [
            ("frame masked", lambda: frame(2, payload, MASK, False)),
            ("frame unmasked", lambda: frame(2, payload, None, False)),
        ]
    for label, func in rows:
        print(f"{label:>26}  {best(func, args.seconds) * 1e9:>8,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="time per repeat")
    parser.add_argument("--size", type=int, default=64, help="payload bytes per frame")
    parser.add_argument("--frames", type=int, default=256, help="frames per buffer")
    args = parser.parse_args()

    scan, frame = load()
    if scan is None:
        print("airsocket._speedups is not built (or is stale): timing the pure versions only")
    print(f"masking: {'C' if masking.SPEEDUPS else 'pure Python'} (masking.SPEEDUPS)")
    print()
    receive(args, scan)
    send(args, frame)


if __name__ == "__main__":
    main()
