"""Micro-benchmark: pure-Python against C payload masking.

Run from the project root after ``pip install -e .``, pinned to one core::

    taskset -c 0 python bench/micro_mask.py [--seconds 0.3] [--source FILE]

Prints, at 16 B to 16 MiB, ns per call, µs per MiB and GB/s of the pure
``apply_mask_python`` (a new bytes object) and ``apply_mask_into_python``
(into a preallocated bytearray), then GB/s of the C ``apply_mask`` and how
many times faster it is than the pure version; best of several repeats
(timeit). ``--source`` times the pure functions of another copy of
masking.py instead (say, the previous version, for a before/after).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import timeit
from collections.abc import Callable
from types import ModuleType
from typing import Any

from airsocket.protocol import masking

SIZES = [
    ("16 B", 16),
    ("64 B", 64),
    ("256 B", 256),
    ("1 KiB", 1024),
    ("4 KiB", 4096),
    ("64 KiB", 64 << 10),
    ("1 MiB", 1 << 20),
    ("16 MiB", 16 << 20),
]
MASK = b"\x37\xfa\x21\x3d"
REPEATS = 5
MIB = 1 << 20


def time_per_call(seconds: float, func: Callable[..., Any], *args: Any) -> float:
    """Return the best seconds per call of ``func(*args)``."""
    timer = timeit.Timer(functools.partial(func, *args))
    number, elapsed = timer.autorange()
    number = max(1, int(number * seconds / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=REPEATS, number=number)) / number


def load(path: str) -> ModuleType:
    """Import the masking.py at ``path`` under another name."""
    spec = importlib.util.spec_from_file_location("masking_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="time per repeat")
    parser.add_argument("--source", help="time the pure functions of this masking.py")
    args = parser.parse_args()

    pure = load(args.source) if args.source else masking
    c_apply_mask: Callable[[bytes, bytes], bytes] | None
    try:
        from airsocket import _speedups
    except ImportError:
        print("airsocket._speedups is not built: timing the pure versions only")
        c_apply_mask = None
    else:
        c_apply_mask = _speedups.apply_mask

    header = (
        f"{'size':>7}  {'apply ns/op':>12} {'µs/MiB':>7} {'GB/s':>5}"
        f"  {'into ns/op':>12} {'µs/MiB':>7} {'GB/s':>5}"
    )
    if c_apply_mask is not None:
        header += f"  {'C GB/s':>7} {'C/pure':>7}"
    print(header)
    print("-" * len(header))
    for label, size in SIZES:
        data = os.urandom(size)
        expected = masking.apply_mask_python(data, MASK)
        out = bytearray(size)
        assert pure.apply_mask_python(data, MASK) == expected
        pure.apply_mask_into_python(data, MASK, out)
        assert out == expected
        apply_time = time_per_call(args.seconds, pure.apply_mask_python, data, MASK)
        into_time = time_per_call(args.seconds, pure.apply_mask_into_python, data, MASK, out)
        row = f"{label:>7}"
        for t in (apply_time, into_time):
            row += f"  {t * 1e9:>12,.0f} {t * 1e6 * MIB / size:>7,.0f} {size / t / 1e9:>5.2f}"
        if c_apply_mask is not None:
            assert c_apply_mask(data, MASK) == expected
            t = time_per_call(args.seconds, c_apply_mask, data, MASK)
            row += f"  {size / t / 1e9:>7.2f} {apply_time / t:>6.0f}x"
        print(row)


if __name__ == "__main__":
    main()
