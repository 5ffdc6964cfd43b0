"""Atheris target: the C inflater against the pure-Python one, on arbitrary input.

Byte 0 chooses the window (9 + its low 3 bits, at most 15) and the output
limit (1 << its high 5 bits, at most 2**24); byte 1 where the input is cut
into two frames of one message. Both inflaters must agree byte for byte:
the same output and the same eof, or both a failure (zlib.error, or output
reaching the limit, after which the codec fails the connection). Skipped (nothing to
compare) when the extension was not built.
"""

from __future__ import annotations

import zlib

import atheris
from _common import fuzz

with atheris.instrument_imports(include=["airsocket"]):
    from airsocket.protocol.zlib_streams import InflaterPython

try:
    from airsocket._deflate_speedups import Inflater as CInflater
except ImportError:  # pragma: no cover - the C build is optional
    CInflater = None


def _compressed(text: bytes) -> bytes:
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    return (compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


SEEDS = [
    b"\x36\x05" + _compressed(b"Hello, Hello, Hello"),
    b"\x07\x00" + _compressed(bytes(100_000)),  # a small bomb against a small limit
    b"\x3f\x02\x00",  # an empty stored block
    b"\x3f\x01\xff\xff\xff",  # invalid data
]


_FAILURES = ("zlib.error", "limit")


def run(inflater: object, frames: list[bytes], limit: int) -> tuple[object, ...]:
    out = []
    for index, frame in enumerate(frames):
        try:
            out.append(inflater.inflate(frame, index == len(frames) - 1, limit))  # type: ignore[attr-defined]
        except zlib.error:
            return (*out, "zlib.error")
        if len(out[-1]) >= limit:
            # The codec fails the connection here (PayloadTooBig): how much
            # input each stopped at is not part of the contract.
            return (*out, "limit")
    return (*out, inflater.eof)  # type: ignore[attr-defined]


def test_one_input(data: bytes) -> None:
    if CInflater is None or len(data) < 2:
        return
    wbits = min(9 + (data[0] & 7), 15)
    limit = 1 << min(data[0] >> 3, 24)
    body = data[2:]
    cut = data[1] % (len(body) + 1)
    frames = [body[:cut], body[cut:]]
    c_result = run(CInflater(wbits), frames, limit)
    python_result = run(InflaterPython(wbits), frames, limit)
    if c_result[-1] in _FAILURES and python_result[-1] in _FAILURES:
        # Over the limit and invalid too: which one is found first depends
        # on how far zlib read (the pure-Python one joins 00 00 ff ff to the
        # last frame, the C one feeds it apart). Both fail the message.
        count = min(len(c_result), len(python_result)) - 2
        assert c_result[:count] == python_result[:count], (c_result, python_result)
    else:
        assert c_result == python_result, (c_result, python_result)


if __name__ == "__main__":
    fuzz(SEEDS, test_one_input)
