"""Bounded memos: results the core computed once and may hand out again.

The core keeps a few results that each handshake would otherwise compute
again (built options, checked header values, status lines, parsed URLs) in
plain dicts, looked up with the dict's own ``get``, ``in`` or ``[]`` (a dict
subclass made each lookup 8 ns slower). What an application passes decides
the keys, so every memo is bounded: :func:`keep` is the one way in.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["keep"]

K = TypeVar("K")
V = TypeVar("V")


def keep(memo: dict[K, V], limit: int, key: K, value: V) -> V:
    """Store ``value`` under ``key`` in ``memo``; return ``value``.

    A memo that already holds ``limit`` entries is emptied first, all at
    once: no thread can see it half cleared, and the few keys a program
    really uses come back at once.
    """
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
