"""One validated options object, shared by every layer.

Every API (asyncio, AIR, blocking) accepts these names as keyword arguments
and builds one :class:`Options` with :meth:`Options.build`; it is validated
once, here, and passed down unchanged. Sizes are in bytes, times in seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .exceptions import ArgumentError
from .memo import keep

__all__ = ["MAX_MESSAGE_SIZE_LIMIT", "Options"]

KiB = 1024
MiB = 1024 * KiB

#: The largest payload length a frame header can carry (RFC 6455 5.2).
MAX_MESSAGE_SIZE_LIMIT = 2**63 - 1

HeadersLike = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """Limits, timeouts and negotiation settings of a connection.

    Attributes:
        max_message_size: largest message accepted, refused with 1009 from
            the frame header, before anything is buffered.
        max_queue: messages received but not yet read before reading pauses.
        write_limit: bytes buffered for writing before ``send`` waits.
        open_timeout: seconds for TCP, TLS and the opening handshake.
        close_timeout: seconds to wait for the closing handshake and EOF.
        ping_interval: seconds between keepalive pings (None: no keepalive).
        ping_timeout: seconds a keepalive ping may wait for its pong.
        max_head_size: bytes of the HTTP handshake head.
        max_line_size: bytes of one HTTP head line.
        max_header_count: header fields in the HTTP handshake head.
        compression: "deflate" for permessage-deflate, or None.
        compression_level: zlib level for outgoing messages (0-9).
        compression_window_bits: LZ77 window of our compressor, offered and
            requested for our direction (9-15; RFC 7692 7.1.2).
        compression_mem_level: zlib memLevel of our compressor (1-9).
        compression_context_takeover: keep the compression context between
            messages (False asks for no_context_takeover in our direction).
        compression_min_size: messages shorter than this are sent uncompressed.
        subprotocols: subprotocols offered (client) or accepted (server).
        extra_headers: extra handshake headers to send.
        origins: server only: accepted Origin values (None: any; include None
            in the list to accept requests without Origin).
        select_subprotocol: server only: ``f(offered, supported) -> str|None``.
        process_request: server only: hook that may answer plain HTTP.
        ssl: an ``ssl.SSLContext`` (opaque to the core).
        user_agent: value of User-Agent (client) or Server (server); None
            leaves it out.
    """

    max_message_size: int = 64 * MiB
    max_queue: int = 16
    write_limit: int = 64 * KiB
    open_timeout: float | None = 10.0
    close_timeout: float | None = 10.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    max_head_size: int = 16 * KiB
    max_line_size: int = 8 * KiB
    max_header_count: int = 128
    compression: str | None = "deflate"
    compression_level: int = 6
    compression_window_bits: int = 12
    compression_mem_level: int = 5
    compression_context_takeover: bool = True
    compression_min_size: int = 32
    subprotocols: Sequence[str] | None = None
    extra_headers: HeadersLike | None = None
    origins: Sequence[str | None] | None = None
    select_subprotocol: Callable[..., Any] | None = None
    process_request: Callable[..., Any] | None = None
    ssl: Any = None
    user_agent: str | None = "airsocket/0.1"

    def __post_init__(self) -> None:
        for name in (
            "max_queue",
            "write_limit",
            "max_head_size",
            "max_line_size",
            "max_header_count",
            "compression_min_size",
        ):
            _check_int(name, getattr(self, name), 0, MAX_MESSAGE_SIZE_LIMIT)
        _check_int("max_message_size", self.max_message_size, 0, MAX_MESSAGE_SIZE_LIMIT)
        for name in ("open_timeout", "close_timeout", "ping_interval", "ping_timeout"):
            _check_time(name, getattr(self, name))
        if self.compression not in (None, "deflate"):
            raise ArgumentError(f"compression must be 'deflate' or None, not {self.compression!r}")
        _check_int("compression_level", self.compression_level, -1, 9)
        _check_int("compression_window_bits", self.compression_window_bits, 9, 15)
        _check_int("compression_mem_level", self.compression_mem_level, 1, 9)
        if isinstance(self.subprotocols, str):
            raise ArgumentError("subprotocols must be a sequence of names, not a str")
        for name in self.subprotocols or ():
            if not isinstance(name, str) or not name:
                raise ArgumentError(f"invalid subprotocol {name!r}")

    @classmethod
    def build(cls, options: Options | None = None, **changes: Any) -> Options:
        """Return ``options`` (or the defaults) with ``changes`` applied, validated.

        Raises:
            ArgumentError: an unknown option name or an invalid value.
        """
        if options is not None or not changes:
            return cls._built(options or _DEFAULTS, changes)
        # A client opening many connections asks for the same options each
        # time: building and validating them was 10 us a handshake (bench
        # "hs_conc", client role). Kept when every value is hashable; by type
        # too, so that True (refused) is not taken for 1 (accepted).
        key = tuple((name, type(value), value) for name, value in sorted(changes.items()))
        try:
            return _BUILT[key]
        except TypeError:  # an unhashable value, e.g. a list of subprotocols
            return cls._built(_DEFAULTS, changes)
        except KeyError:
            return keep(_BUILT, 64, key, cls._built(_DEFAULTS, changes))

    @classmethod
    def _built(cls, base: Options, changes: dict[str, Any]) -> Options:
        unknown = set(changes) - _FIELD_NAMES
        if unknown:
            raise ArgumentError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(base, **changes) if changes else base


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ArgumentError(f"{name} must be an int from {low} to {high}, not {value!r}")


def _check_time(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ArgumentError(f"{name} must be a positive number of seconds or None, not {value!r}")


_DEFAULTS = Options()
_FIELD_NAMES = frozenset(field.name for field in dataclasses.fields(Options))
#: Options built from the defaults, by their changes (see Options.build).
_BUILT: dict[tuple[tuple[str, type, Any], ...], Options] = {}
