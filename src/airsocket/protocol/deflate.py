"""permessage-deflate (RFC 7692): negotiation and the per-connection codec.

The handshake calls :func:`client_offer` and :func:`client_accept` (client) or
:func:`server_accept` (server); each accepting function returns the
:class:`PerMessageDeflate` codec the connection then uses for every data
message: :meth:`~PerMessageDeflate.compress` on the way out (None means "send
this one uncompressed, RSV1 clear") and :meth:`~PerMessageDeflate.decompress`
for each frame of a message that arrived with RSV1 set.

Extension lists come parsed by the handshake as
``[(name, [(param, value or None), ...]), ...]``, quoted values unquoted.

Window bits
    ``Options.compression_window_bits`` (W, default 12) bounds both directions
    where the protocol lets us: we compress with a window of at most 2**W and
    ask the peer to do the same (a client offers ``server_max_window_bits=W``;
    a server answers ``client_max_window_bits=W`` when the client allows it).
    A peer may still impose a smaller window on us. zlib refuses a 256-byte
    window (8) for raw deflate (since zlib 1.2.9), so with 8 we compress with
    9: zlib never emits a distance beyond the window minus MIN_LOOKAHEAD (262
    bytes), that is 250 bytes with 9 bits, which a 256-byte window decodes
    (the tests inflate such output with 8 bits). We inflate with at least 9
    bits, so a peer that does use a 512-byte window when 8 was agreed still
    decodes; it costs 256 bytes. (zlib checks distances against the window
    only across calls: within one call any distance into its output passes.)

Memory per connection (tracemalloc over 1000 codecs that each compressed
and inflated one message; zlib allocates through Python's raw allocator)::

    no compression negotiated                       0
    codec negotiated, no message yet (lazy zlib)    0.13 KiB
    defaults: W=12, memLevel 5, both directions    49 KiB  (38 send + 11 receive)
    W=15, memLevel 8 (zlib's defaults)            301 KiB  (262 send + 39 receive)
    W=12, memLevel 5, no_context_takeover both      0.11 KiB between messages

A server receives with 15 bits (39 KiB) from a client that did not offer
``client_max_window_bits``; every browser offers it.

With no_context_takeover our compressor is emptied with Z_FULL_FLUSH after
each message and handed back to a pool the whole process shares (one per
kind while one thread compresses at a time), so an idle connection holds
none and no message makes a new one; the peer's direction drops its
decompressor after each message.

Small messages: see :meth:`PerMessageDeflate.compress` for what is sent
uncompressed and the figures behind it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import ClassVar, TypeAlias

from .exceptions import ArgumentError, InvalidPayload, NegotiationError, PayloadTooBig
from .options import Options
from .zlib_streams import Deflater, DeflaterPython, Inflater, InflaterPython

__all__ = [
    "ExtensionList",
    "PerMessageDeflate",
    "client_accept",
    "client_offer",
    "server_accept",
]

#: Sec-WebSocket-Extensions, parsed: ``[(name, [(param, value or None)])]``.
ExtensionList: TypeAlias = Sequence[tuple[str, Sequence[tuple[str, str | None]]]]

_NAME = "permessage-deflate"
# zlib takes max_length as a C ssize_t: 2**62 bytes is beyond any real output.
_OUTPUT_CAP = 2**62
# Window bits are "a decimal integer value without leading zeroes between 8
# to 15, inclusive" (RFC 7692 7.1.2.1, 7.1.2.2): an exact-string lookup.
_WINDOW_VALUES = {str(bits): bits for bits in range(8, 16)}
_SERVER_NCT = "server_no_context_takeover"
_CLIENT_NCT = "client_no_context_takeover"
_SERVER_MWB = "server_max_window_bits"
_CLIENT_MWB = "client_max_window_bits"


#: Compressors emptied by Z_FULL_FLUSH, by (level, window bits, memLevel), for
#: messages without context takeover. list.pop() and append() are atomic, so
#: threads (the blocking API) may share them.
_IDLE_COMPRESSORS: dict[tuple[int, int, int], list[DeflaterPython]] = {}


class PerMessageDeflate:
    """The negotiated permessage-deflate codec of one connection.

    "Send" is our direction (our compressor), "receive" the peer's (our
    decompressor). The constructor's defaults are RFC 7692's defaults for a
    bare ``permessage-deflate`` with zlib's level and memLevel; the
    negotiation functions pass every argument. zlib objects are created on
    first use, so an idle codec costs about 0.1 KiB.

    After :meth:`decompress` raised, the codec is out of step with the peer:
    the connection must fail (the exception carries the close code).

    Attributes:
        send_window_bits: LZ77 window (8-15) we compress with.
        send_no_context_takeover: start each outgoing message afresh.
        receive_window_bits: window (8-15) the peer compresses with.
        receive_no_context_takeover: the peer starts each message afresh.
        level: zlib compression level (-1 to 9).
        mem_level: zlib memLevel (1-9) of our compressor.
        min_size: messages shorter than this are sent uncompressed.
    """

    __slots__ = (
        "_compressor",
        "_decompressor",
        "_idle",
        "_receiving",
        "level",
        "mem_level",
        "min_size",
        "receive_no_context_takeover",
        "receive_window_bits",
        "send_no_context_takeover",
        "send_window_bits",
    )

    #: The extension token of Sec-WebSocket-Extensions.
    extension_name: ClassVar[str] = _NAME

    def __init__(
        self,
        *,
        send_window_bits: int = 15,
        send_no_context_takeover: bool = False,
        receive_window_bits: int = 15,
        receive_no_context_takeover: bool = False,
        level: int = 6,
        mem_level: int = 8,
        min_size: int = 0,
    ) -> None:
        """Build a codec from negotiated parameters.

        Args:
            send_window_bits: window bits of our compressor (8-15).
            send_no_context_takeover: reset our compressor after each message.
            receive_window_bits: window bits the peer compresses with (8-15).
            receive_no_context_takeover: the peer resets after each message.
            level: zlib compression level (-1 to 9).
            mem_level: zlib memLevel (1-9).
            min_size: payloads shorter than this are sent uncompressed.

        Raises:
            ArgumentError: a value is out of range.
        """
        for name, value, low, high in (
            ("send_window_bits", send_window_bits, 8, 15),
            ("receive_window_bits", receive_window_bits, 8, 15),
            ("level", level, -1, 9),
            ("mem_level", mem_level, 1, 9),
            ("min_size", min_size, 0, 2**63 - 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ArgumentError(f"{name} must be an int from {low} to {high}, not {value!r}")
        self.send_window_bits = send_window_bits
        self.send_no_context_takeover = send_no_context_takeover
        self.receive_window_bits = receive_window_bits
        self.receive_no_context_takeover = receive_no_context_takeover
        self.level = level
        self.mem_level = mem_level
        self.min_size = min_size
        # Typed as the pure-Python streams; the C ones have the same methods.
        self._compressor: DeflaterPython | None = None
        self._decompressor: InflaterPython | None = None
        #: Without context takeover: the shared idle compressors of our kind.
        self._idle: list[DeflaterPython] | None = None
        self._receiving = False  # some compressed bytes of this message were fed

    def compress(self, payload: bytes | bytearray | memoryview) -> bytes | None:
        """Compress one whole outgoing message (RFC 7692 7.2.1).

        Returns None when the message should go uncompressed (RSV1 clear):
        when it is shorter than ``min_size`` and, with
        ``send_no_context_takeover``, when compressing did not shrink it.

        With context takeover, the peer's decompressor mirrors our compressor,
        so a message we compressed must be sent compressed; the decision is
        taken before compressing, by size only. Snapshotting the compressor
        with ``copy()`` to undo a non-shrinking message would cost 0.9 us a
        message at W=12/memLevel 5 and 40 us at 15/8, against 1.0 us to
        compress a 50-byte message, while an incompressible message grows by
        at most 6 bytes per block (measured on random 16 B to 4 KiB payloads:
        +2 to +6 bytes up to 1 KiB, +12 at 4 KiB with W=12). Without context
        takeover nothing carries over, so we compress, compare, and may
        discard: that saves the peer about 0.5 us of inflating and the bytes.
        Below ``min_size`` (32 by default) we skip zlib altogether: 0.04 us
        to return None against 1.85 us to compress and inflate a random
        16-byte message, which comes out 2 to 4 bytes larger (W=12, memLevel
        5). The discard path without context takeover costs 3.5 us for a
        random 64-byte message, compressor re-creation included.

        Args:
            payload: the whole message.

        Returns:
            The frame payload for a message with RSV1 set, or None.
        """
        if len(payload) < self.min_size:
            return None
        if self.send_no_context_takeover:
            # RFC 7692 7.1.1.1/7.1.1.2: with no_context_takeover the sender
            # MUST start each message with an empty LZ77 window. Z_FULL_FLUSH
            # empties it (its output is byte for byte a fresh compressor's), so
            # one idle compressor serves every connection of the process in
            # turn: no 38-262 KiB made and freed per message (bench "deflate",
            # client role: 12.7 -> 11.0 us to compress 4 KiB at W=15/memLevel
            # 8), and none held by an idle connection.
            # The pool is looked up once per codec, not per message with a
            # key made each time (4 KiB, in process: 8.69 -> 8.23 us).
            idle = self._idle
            if idle is None:
                idle = self._idle = _IDLE_COMPRESSORS.setdefault(self._kind(), [])
            try:
                compressor = idle.pop()
            except IndexError:  # none idle: another thread may be using it
                compressor = Deflater(*self._kind())
            # RFC 7692 7.2.1 step 3: compress() strips the 00 00 ff ff.
            data = compressor.compress(payload, True)
            idle.append(compressor)
            if len(data) >= len(payload):
                return None  # nothing carries over: it may go uncompressed
            return data
        if self._compressor is None:
            self._compressor = Deflater(*self._kind())
        return self._compressor.compress(payload, False)

    def _kind(self) -> tuple[int, int, int]:
        # RFC 7692 7.1.2: the sender MUST NOT use a larger window than
        # agreed. 9 for 8: see the module docstring.
        return (self.level, max(self.send_window_bits, 9), self.mem_level)

    def decompress(self, data: bytes | bytearray | memoryview, fin: bool, max_size: int) -> bytes:
        """Inflate one frame's payload of a compressed message (RFC 7692 7.2.2).

        Feed the frames of one message in order; the connection joins the
        results. Inflating stops as soon as the output would exceed
        ``max_size``, so a small frame that inflates to gigabytes costs about
        twice ``max_size`` at most (zlib's output blocks, then one bytes):
        a 100 KiB frame of a 100 MiB bomb with ``max_size`` 1 MiB peaks at
        2.1 MiB and is refused in 1.6 ms.

        A compressed message with no payload bytes at all inflates to b"" and
        leaves the decompressor untouched: appending 00 00 ff ff alone would
        leave zlib inside an unfinished stored block and break the next
        message. Data after a final (BFINAL) block is padding and is skipped
        (RFC 7692 7.2.3.4); the next message then starts a new stream.

        Args:
            data: the frame's payload.
            fin: True for the last frame of the message.
            max_size: how many more bytes this message may still inflate to.

        Returns:
            The inflated bytes of this frame.

        Raises:
            PayloadTooBig: the message inflates to more than ``max_size``.
            InvalidPayload: ``data`` is not valid DEFLATE data.
        """
        if not data and not self._receiving:
            return b""  # nothing of this message fed yet: nothing changes
        decompressor = self._decompressor
        if decompressor is None:
            # Never below 9 bits; see the module docstring.
            decompressor = Inflater(max(self.receive_window_bits, 9))
            self._decompressor = decompressor
        self._receiving = not fin
        # max_length 0 means "unlimited" to zlib, hence the + 1; reaching
        # limit proves the message too big without inflating the rest.
        # The usual size is tested first, and bytes are not passed through
        # bytes(): 4.06 -> 3.81 us to inflate a 4 KiB message, in process.
        if 0 <= max_size < _OUTPUT_CAP:
            limit = max_size + 1
        else:
            limit = min(max(max_size, 0), _OUTPUT_CAP) + 1
        try:
            # RFC 7692 7.2.2 step 1: inflate() appends 00 00 ff ff when fin.
            out = decompressor.inflate(data, fin, limit)
        except zlib.error as exc:
            raise InvalidPayload(f"invalid compressed data: {exc}") from exc
        if len(out) >= limit:
            raise PayloadTooBig(f"message inflates to more than {max_size} more bytes")
        if fin and (self.receive_no_context_takeover or decompressor.eof):
            # RFC 7692 7.2.2: without context takeover the next message is
            # inflated with an empty window; dropping the object frees it.
            self._decompressor = None
        return out


def client_offer(options: Options) -> str:
    """Return the Sec-WebSocket-Extensions value a client sends (RFC 7692 7.1).

    With the defaults: ``permessage-deflate; server_max_window_bits=12;
    client_max_window_bits=12``. ``client_max_window_bits`` is always offered
    (bare at W=15) so the server may limit our window; ``server_max_window_bits``
    asks the server to keep its window, hence our receive memory, within W;
    ``client_no_context_takeover`` is added when
    ``options.compression_context_takeover`` is False.

    Args:
        options: the connection's options.

    Returns:
        The header value, or "" (send no header) when compression is None.
    """
    if options.compression != "deflate":
        return ""
    bits = options.compression_window_bits
    parts = [_NAME]
    if not options.compression_context_takeover:
        parts.append(_CLIENT_NCT)
    if bits < 15:
        parts += [f"{_SERVER_MWB}={bits}", f"{_CLIENT_MWB}={bits}"]
    else:
        parts.append(_CLIENT_MWB)
    return "; ".join(parts)


def client_accept(extensions: ExtensionList, options: Options) -> PerMessageDeflate | None:
    """Validate the server's Sec-WebSocket-Extensions and build the codec.

    Args:
        extensions: the response header, parsed (empty: no extension).
        options: the options the offer was built from.

    Returns:
        The codec, or None when the server accepted no extension.

    Raises:
        NegotiationError: the response is not one our offer allows.
    """
    if not extensions:
        return None
    # RFC 6455 9.1: the server MUST NOT answer with an extension the client
    # did not offer; we offered permessage-deflate once (or nothing).
    if options.compression != "deflate" or len(extensions) > 1:
        raise NegotiationError(f"server accepted extensions that were not offered: {extensions}")
    name, params = extensions[0]
    if name.lower() != _NAME:
        raise NegotiationError(f"server accepted extension {name!r}, which was not offered")
    # RFC 7692 7: the client MUST fail the connection on an undefined,
    # duplicate or invalid parameter in the response.
    agreed = _parse_params(params, offer=False)
    bits = options.compression_window_bits
    server_bits = agreed.get(_SERVER_MWB) or 15
    if _SERVER_MWB in agreed and server_bits > bits:
        # RFC 7692 7.1.2.1: the server accepts our server_max_window_bits
        # "with the same or smaller value". Its absence we tolerate: 15 is a
        # configuration we support.
        raise NegotiationError(f"server_max_window_bits={server_bits} exceeds the offered {bits}")
    # RFC 7692 7.1.2.2: the client MUST NOT use a window larger than the
    # server's client_max_window_bits (we offered it, so it may come).
    client_bits = min(bits, agreed.get(_CLIENT_MWB) or 15)
    return _codec(
        options,
        send_bits=client_bits,
        send_nct=_CLIENT_NCT in agreed or not options.compression_context_takeover,
        receive_bits=server_bits,
        receive_nct=_SERVER_NCT in agreed,
    )


def server_accept(offers: ExtensionList, options: Options) -> tuple[str, PerMessageDeflate] | None:
    """Accept the first acceptable permessage-deflate offer of a client.

    Other extensions are skipped; an offer with an unknown, duplicate or
    invalid parameter is declined and the next one tried (RFC 7692 5, 7).

    Args:
        offers: the request header, parsed, in the client's preference order.
        options: the server's options.

    Returns:
        (the response's Sec-WebSocket-Extensions value, the codec), or None.
    """
    if options.compression != "deflate":
        return None
    for name, params in offers:
        if name.lower() != _NAME:
            continue
        try:
            offered = _parse_params(params, offer=True)
        except NegotiationError:
            # RFC 7692 7: the server MUST decline such an offer.
            continue
        return _answer(offered, options)
    return None


def _answer(offered: dict[str, int | None], options: Options) -> tuple[str, PerMessageDeflate]:
    bits = options.compression_window_bits
    parts = [_NAME]
    # RFC 7692 7.1.1.1: accept server_no_context_takeover by echoing it; we
    # may also add it unasked when our options say so.
    send_nct = _SERVER_NCT in offered or not options.compression_context_takeover
    if send_nct:
        parts.append(_SERVER_NCT)
    # RFC 7692 7.1.1.2: echoing the client's hint makes it binding.
    receive_nct = _CLIENT_NCT in offered
    if receive_nct:
        parts.append(_CLIENT_NCT)
    # RFC 7692 7.1.2.1: accept server_max_window_bits with the same or a
    # smaller value; we may state ours unasked.
    send_bits = min(bits, offered.get(_SERVER_MWB) or 15)
    if send_bits < 15 or _SERVER_MWB in offered:
        parts.append(f"{_SERVER_MWB}={send_bits}")
    receive_bits = 15
    if _CLIENT_MWB in offered:
        # RFC 7692 7.1.2.2: the response MUST NOT carry client_max_window_bits
        # unless offered; the client promised at most its value, if any.
        receive_bits = min(bits, offered[_CLIENT_MWB] or 15)
        parts.append(f"{_CLIENT_MWB}={receive_bits}")
    codec = _codec(
        options,
        send_bits=send_bits,
        send_nct=send_nct,
        receive_bits=receive_bits,
        receive_nct=receive_nct,
    )
    return "; ".join(parts), codec


def _parse_params(
    params: Sequence[tuple[str, str | None]], *, offer: bool
) -> dict[str, int | None]:
    """Map each parameter to its window bits (None: no value); raise if invalid."""
    agreed: dict[str, int | None] = {}
    for raw_name, value in params:
        name = raw_name.lower()
        if name in agreed:
            raise NegotiationError(f"duplicate parameter {name}")
        if name in (_SERVER_NCT, _CLIENT_NCT):
            if value is not None:
                raise NegotiationError(f"{name} takes no value, got {value!r}")
            agreed[name] = None
        elif name in (_SERVER_MWB, _CLIENT_MWB):
            if value is None and offer and name == _CLIENT_MWB:
                agreed[name] = None  # RFC 7692 7.1.2.2: may come without value
            elif value in _WINDOW_VALUES:
                agreed[name] = _WINDOW_VALUES[value]
            else:
                raise NegotiationError(f"invalid {name} value {value!r}")
        else:
            raise NegotiationError(f"unknown parameter {raw_name!r}")
    return agreed


def _codec(
    options: Options, *, send_bits: int, send_nct: bool, receive_bits: int, receive_nct: bool
) -> PerMessageDeflate:
    return PerMessageDeflate(
        send_window_bits=send_bits,
        send_no_context_takeover=send_nct,
        receive_window_bits=receive_bits,
        receive_no_context_takeover=receive_nct,
        level=options.compression_level,
        mem_level=options.compression_mem_level,
        min_size=options.compression_min_size,
    )
