"""Micro-benchmark: pure-Python against C payload masking.

Run from the project root after ``pip install -e .``::

    python bench/micro_mask.py [--seconds 0.5]

Prints ns per call and GB/s for each implementation at 64 B, 1 KiB, 1 MiB
and 16 MiB, best of several repeats (timeit).
"""

from __future__ import annotations

import argparse
import os
import timeit
from collections.abc import Callable

from airsocket.protocol.masking import apply_mask_python

SIZES = [("64 B", 64), ("1 KiB", 1024), ("1 MiB", 1 << 20), ("16 MiB", 16 << 20)]
MASK = b"\x37\xfa\x21\x3d"
REPEATS = 5


def time_per_call(func: Callable[[bytes, bytes], bytes], data: bytes, seconds: float) -> float:
    """Return the best seconds per call of ``func(data, MASK)``."""
    timer = timeit.Timer(lambda: func(data, MASK))
    number, elapsed = timer.autorange()
    number = max(1, int(number * seconds / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=REPEATS, number=number)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="time per repeat")
    args = parser.parse_args()

    implementations: list[tuple[str, Callable[[bytes, bytes], bytes]]] = [
        ("pure", apply_mask_python)
    ]
    try:
        from airsocket import _speedups
    except ImportError:
        print("airsocket._speedups is not built: timing the pure version only")
    else:
        implementations.append(("C", _speedups.apply_mask))

    header = f"{'size':>7}" + "".join(
        f"  {name + ' ns/op':>15} {name + ' GB/s':>9}" for name, _ in implementations
    )
    if len(implementations) == 2:
        header += f"  {'C/pure':>8}"
    print(header)
    print("-" * len(header))
    for label, size in SIZES:
        data = os.urandom(size)
        expected = apply_mask_python(data, MASK)
        row = f"{label:>7}"
        times = []
        for _, func in implementations:
            assert func(data, MASK) == expected
            t = time_per_call(func, data, args.seconds)
            times.append(t)
            row += f"  {t * 1e9:>15,.0f} {size / t / 1e9:>9.2f}"
        if len(times) == 2:
            row += f"  {times[0] / times[1]:>7.0f}x"
        print(row)


if __name__ == "__main__":
    main()
