"""The opening handshake of RFC 6455 section 4, for both roles.

Client::

    key = generate_key()
    request = build_request(uri, key, options, extensions_offer)
    ... send serialize_request(request); read the head (http.find_head_end)
    subprotocol, extensions = check_response(parse_response(head, options), key, options)

Server::

    offer = check_request(parse_request(head, options), options)
    subprotocol = select_subprotocol(offer, options)
    response = build_accept(offer, options, subprotocol, extensions_response)
    # on InvalidHandshake as error: response = reject(error, options)

Extensions are only parsed here; permessage-deflate (``deflate.py``) decides
what to offer and accept.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from sys import intern
from typing import Any

from .exceptions import (
    ArgumentError,
    InvalidHandshake,
    InvalidHeader,
    InvalidOrigin,
    InvalidStatus,
    InvalidVersion,
    NegotiationError,
)
from .http import TOKEN_RE, Headers, Request, Response
from .masking import speedups_allowed
from .options import Options
from .uri import WebSocketURI

#: ``_speedups.parse_upgrade`` when the C versions are on, else None.
_c_parse_upgrade: (
    Callable[
        [bytes, int, int, int],
        tuple[str, list[tuple[str, str]], list[str], str, list[str], list[str], list[str]] | None,
    ]
    | None
) = None
#: ``_speedups.accept_key`` when the C versions are on, else None.
_c_accept_key: Callable[[str], str | None] | None = None
if speedups_allowed():
    with contextlib.suppress(ImportError):  # not built, or built before it existed
        from airsocket._speedups import parse_upgrade as _c_parse_upgrade
    with contextlib.suppress(ImportError):
        from airsocket._speedups import accept_key as _c_accept_key

__all__ = [
    "GUID",
    "CheckedFields",
    "ClientOffer",
    "ExtensionList",
    "ExtensionParams",
    "accept_key",
    "build_accept",
    "build_request",
    "check_request",
    "check_response",
    "generate_key",
    "parse_extension_header",
    "parse_subprotocol_header",
    "parse_upgrade",
    "reject",
    "select_subprotocol",
    "serialize_extension",
]

#: The GUID concatenated with Sec-WebSocket-Key (RFC 6455 1.3).
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: The only protocol version this library speaks (RFC 6455 4.1).
VERSION = "13"

#: Parameters of one extension: ``(name, value or None)`` pairs.
ExtensionParams = list[tuple[str, str | None]]
#: A parsed Sec-WebSocket-Extensions header: ``(extension name, params)``.
ExtensionList = list[tuple[str, ExtensionParams]]

# protocol = protocol-name ["/" protocol-version] (RFC 7230 6.7)
_PROTOCOL_RE = re.compile(rf"{TOKEN_RE.pattern}(?:/{TOKEN_RE.pattern})?")
# quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230 3.2.6)
_QUOTED_RE = re.compile(r'"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*)"')
_QUOTED_PAIR_RE = re.compile(r"\\(.)")


def accept_key(key: str) -> str:
    """Return the Sec-WebSocket-Accept value for ``key`` (RFC 6455 4.2.2 item 5.4).

    In C when it is built: among a server's other work, hashlib's SHA-1
    costs several times what it does in a tight loop (see bench/README.md).
    """
    if _c_accept_key is not None:
        accept = _c_accept_key(key)
        if accept is not None:  # None: not ASCII, which the encoding below refuses
            return accept
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    # binascii itself: base64's wrapper was 0.08 of this function's 0.53 us.
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


def generate_key(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """Return a new Sec-WebSocket-Key: 16 random bytes in base64.

    Args:
        random_bytes: ``f(n) -> n random bytes``; tests inject a fixed source.

    Raises:
        ArgumentError: ``random_bytes`` did not return 16 bytes.
    """
    nonce = random_bytes(16)
    # RFC 6455 4.1: the nonce MUST be 16 bytes, randomly selected for each connection.
    if not isinstance(nonce, bytes) or len(nonce) != 16:
        raise ArgumentError(f"random_bytes(16) returned {nonce!r}, not 16 bytes")
    return base64.b64encode(nonce).decode("ascii")


def _split_list(values: list[str]) -> list[str]:
    # RFC 7230 7: a #list is comma-separated; recipients MUST accept (skip)
    # empty elements. Splitting at every comma is exact here, because a quoted
    # extension value must unquote to a token, which holds no comma or ";".
    if not values:
        return []  # the usual Sec-WebSocket-Protocol and -Extensions: 0.5 us a handshake
    elements = (element.strip(" \t") for value in values for element in value.split(","))
    return [element for element in elements if element]


def _tokens(header: str, values: list[str], pattern: re.Pattern[str] = TOKEN_RE) -> list[str]:
    elements = _split_list(values)
    for element in elements:
        if not pattern.fullmatch(element):
            raise InvalidHeader(f"invalid {header} header: {element!r} is not a token")
    return elements


def _extension(element: str) -> tuple[str, ExtensionParams]:
    # extension = extension-token *( ";" extension-param ) (RFC 6455 9.1)
    name, *parts = (part.strip(" \t") for part in element.split(";"))
    params: ExtensionParams = []
    for part in parts:
        # extension-param = token [ "=" (token | quoted-string) ]
        param, equals, value = (piece.strip(" \t") for piece in part.partition("="))
        quoted = _QUOTED_RE.fullmatch(value)
        if quoted:
            value = _QUOTED_PAIR_RE.sub(r"\1", quoted[1])
        # RFC 6455 9.1: an unescaped quoted value MUST conform to the token ABNF.
        if not TOKEN_RE.fullmatch(param) or (equals and not TOKEN_RE.fullmatch(value)):
            raise InvalidHeader(f"invalid Sec-WebSocket-Extensions parameter {part!r}")
        params.append((param, value if equals else None))
    if not TOKEN_RE.fullmatch(name):
        raise InvalidHeader(f"invalid Sec-WebSocket-Extensions name {name!r}")
    return name, params


def parse_extension_header(values: list[str]) -> ExtensionList:
    """Parse the values of Sec-WebSocket-Extensions headers (RFC 6455 9.1).

    Args:
        values: every value of the header, e.g. ``headers.get_all(...)``.

    Returns:
        ``[(extension, [(param, value or None), ...]), ...]`` in order, with
        quoted values unquoted.

    Raises:
        InvalidHeader: the syntax is wrong, or a quoted value is not a token.
    """
    if not values:
        return []  # the usual request: no call below (0.15 -> 0.05 us)
    return [_extension(element) for element in _split_list(values)]


def serialize_extension(name: str, params: Sequence[tuple[str, str | None]]) -> str:
    """Return one Sec-WebSocket-Extensions element, e.g. ``"x; a=1; b"``.

    Join several with ``", "`` for a header value.

    Raises:
        ArgumentError: a name or value is not a token.
    """
    parts = [name]
    for param, value in params:
        parts.append(param if value is None else f"{param}={value}")
    for part in [name, *(p for param in params for p in param if p is not None)]:
        if not isinstance(part, str) or not TOKEN_RE.fullmatch(part):
            raise ArgumentError(f"invalid extension name or value {part!r}: must be a token")
    return "; ".join(parts)


def parse_subprotocol_header(values: list[str]) -> list[str]:
    """Parse the values of Sec-WebSocket-Protocol headers (RFC 6455 4.1).

    Raises:
        InvalidHeader: an element is not a token.
    """
    if not values:
        return []  # the usual request and response: no call below (0.11 -> 0.05 us)
    return _tokens("Sec-WebSocket-Protocol", values)


def _has_token(values: list[str], name: str, token: str, pattern: re.Pattern[str]) -> bool:
    if len(values) == 1 and values[0].lower() == token:
        return True  # the usual value, a token itself: nothing more to parse
    return token in (value.lower() for value in _tokens(name, values, pattern))


def _single(values: list[str], name: str) -> str:
    if len(values) != 1:
        raise InvalidHeader(f"expected one {name} header, got {len(values)}")
    return values[0]


def _check_upgrade(upgrade: list[str], connection: list[str]) -> None:
    # RFC 6455 4.1 (client) and 4.2.1 (server): Upgrade MUST hold "websocket"
    # and Connection MUST hold "Upgrade", both ASCII case-insensitive.
    if not _has_token(upgrade, "Upgrade", "websocket", _PROTOCOL_RE):
        raise InvalidHeader("missing 'websocket' in the Upgrade header")
    if not _has_token(connection, "Connection", "upgrade", TOKEN_RE):
        raise InvalidHeader("missing 'Upgrade' in the Connection header")


def _add_extra_headers(headers: Headers, options: Options) -> None:
    extra = options.extra_headers
    if extra is None:
        return  # isinstance() of an ABC costs 0.2 us even for None
    if isinstance(extra, Mapping):
        extra = list(extra.items())
    for name, value in extra or ():
        headers.add(name, value)


def build_request(
    uri: WebSocketURI, key: str, options: Options, extensions_offer: str | None
) -> Request:
    """Build the client's opening handshake request (RFC 6455 4.1).

    Args:
        uri: where to connect.
        key: from :func:`generate_key`.
        options: ``subprotocols``, ``user_agent`` and ``extra_headers`` are used.
        extensions_offer: the Sec-WebSocket-Extensions value, or None.

    Returns:
        The request; ``options.extra_headers`` come last, as given.

    Raises:
        ArgumentError: a subprotocol is not a token or is repeated, or an
            extra header is invalid.
    """
    headers = Headers()
    # RFC 6455 4.1: the request MUST contain Host, Upgrade, Connection,
    # Sec-WebSocket-Key and Sec-WebSocket-Version 13. A host parse_uri()
    # checked, constants, base64, tokens _subprotocol_offer() checked and a
    # permessage-deflate offer of names and numbers: appended without checks.
    append = headers.append_checked
    append("Host", uri.host_header)
    append("Upgrade", "websocket")
    append("Connection", "Upgrade")
    append("Sec-WebSocket-Key", key)
    append("Sec-WebSocket-Version", VERSION)
    if options.subprotocols:
        append("Sec-WebSocket-Protocol", _subprotocol_offer(options.subprotocols))
    if extensions_offer:
        append("Sec-WebSocket-Extensions", extensions_offer)
    if options.user_agent is not None:
        headers.add_option("User-Agent", options.user_agent)
    if uri.user_info is not None:
        credentials = ":".join(uri.user_info).encode("utf-8")  # RFC 7617 2.1 charset
        append("Authorization", "Basic " + base64.b64encode(credentials).decode("ascii"))
    _add_extra_headers(headers, options)
    return Request("GET", uri.resource_name, headers)


def _subprotocol_offer(subprotocols: Sequence[str]) -> str:
    # RFC 6455 4.1: subprotocols MUST be tokens and MUST all be unique.
    for name in subprotocols:
        if not TOKEN_RE.fullmatch(name):
            raise ArgumentError(f"invalid subprotocol {name!r}: must be a token")
    if len(set(subprotocols)) != len(subprotocols):
        raise ArgumentError(f"subprotocols must be unique: {list(subprotocols)!r}")
    return ", ".join(subprotocols)


def check_response(
    response: Response, key: str, options: Options
) -> tuple[str | None, ExtensionList]:
    """Check the server's answer to our handshake request (RFC 6455 4.1).

    Args:
        response: the parsed response.
        key: the Sec-WebSocket-Key we sent.
        options: ``subprotocols`` gives what we offered.

    Returns:
        ``(subprotocol or None, extensions the server accepted)``; the caller
        checks the extensions against its offer.

    Raises:
        InvalidStatus: the status is not 101.
        InvalidHeader: Upgrade, Connection or Sec-WebSocket-Accept is wrong,
            or a Sec-WebSocket-Extensions or -Protocol header is malformed.
        NegotiationError: more than one subprotocol, or one not offered.
    """
    # RFC 6455 4.1: a status other than 101 is handled as plain HTTP.
    if response.status != 101:
        raise InvalidStatus(response)
    upgrade, connection, accept, extensions, protocols = response.headers.values_of(
        _RESPONSE_FIELDS
    )
    _check_upgrade(upgrade, connection)
    # RFC 6455 4.1: the client MUST fail the connection unless
    # Sec-WebSocket-Accept is the base64 SHA-1 of key + GUID.
    if _single(accept, "Sec-WebSocket-Accept") != accept_key(key):
        raise InvalidHeader("Sec-WebSocket-Accept does not match Sec-WebSocket-Key")
    return _accepted_subprotocol(protocols, options), parse_extension_header(extensions)


# The fields check_response reads, looked up in one call; interned, as the
# keys of Headers are, so that each comparison is one of identity.
_RESPONSE_FIELDS = tuple(
    map(
        intern,
        (
            "upgrade",
            "connection",
            "sec-websocket-accept",
            "sec-websocket-extensions",
            "sec-websocket-protocol",
        ),
    )
)


def _accepted_subprotocol(protocols: list[str], options: Options) -> str | None:
    chosen = parse_subprotocol_header(protocols)
    if not chosen:
        return None
    # RFC 6455 4.1: a subprotocol that was not offered MUST fail the connection.
    if len(chosen) > 1:
        raise NegotiationError(f"server chose several subprotocols: {chosen!r}")
    if chosen[0] not in (options.subprotocols or ()):
        raise NegotiationError(f"server chose a subprotocol we did not offer: {chosen[0]!r}")
    return chosen[0]


class ClientOffer:
    """What a valid client handshake request asks for.

    Attributes:
        key: the Sec-WebSocket-Key.
        subprotocols: the subprotocols offered, in the client's order.
        extensions: the parsed Sec-WebSocket-Extensions offers.
        origin: the Origin header, or None.
        request: the request itself.
    """

    __slots__ = ("extensions", "key", "origin", "request", "subprotocols")

    def __init__(
        self,
        key: str,
        subprotocols: list[str],
        extensions: ExtensionList,
        origin: str | None,
        request: Request,
    ) -> None:
        self.key = key
        self.subprotocols = subprotocols
        self.extensions = extensions
        self.origin = origin
        self.request = request

    def __repr__(self) -> str:
        return (
            f"ClientOffer(key={self.key!r}, subprotocols={self.subprotocols!r}, "
            f"extensions={self.extensions!r}, origin={self.origin!r})"
        )


#: What :func:`parse_upgrade` checked of a request: the Sec-WebSocket-Key,
#: then the values of Origin, Sec-WebSocket-Protocol and -Extensions.
CheckedFields = tuple[str, list[str], list[str], list[str]]


def parse_upgrade(head: bytes, options: Options) -> tuple[Request, CheckedFields] | None:
    """Parse the usual upgrade request, and check what :func:`check_request` checks first.

    In C, in one call: the request and the fields to hand to
    ``check_request(request, options, checked)``, which then checks the
    rest. None for anything but the plainest valid request (or without the
    accelerator): :func:`.http.parse_request` and :func:`check_request`
    then parse and check it, and name what is wrong. The core's server
    handshake: 17.3 -> 12.4 us; a server on uvloop under bench "hs_flood":
    0.91x (10 interleaved runs).
    """
    if _c_parse_upgrade is None:
        return None
    parsed = _c_parse_upgrade(
        head, options.max_head_size, options.max_line_size, options.max_header_count
    )
    if parsed is None:
        return None
    target, items, keys, key, origins, protocols, extensions = parsed
    request = Request("GET", target, Headers.of_checked(items, keys), "HTTP/1.1")
    return request, (key, origins, protocols, extensions)


def check_request(
    request: Request, options: Options, checked: CheckedFields | None = None
) -> ClientOffer:
    """Check a client's opening handshake request (RFC 6455 4.2.1).

    The checks run in this order, so the status says the most useful thing:
    method GET (else 405), no body (400), one Host (400), Upgrade and
    Connection (400), one valid Sec-WebSocket-Key (400), Sec-WebSocket-Version
    13 (426, also when it is missing), Origin when ``options.origins`` is set
    (403), then the syntax of Sec-WebSocket-Protocol and -Extensions (400).
    ``Origin`` must equal one of ``options.origins`` exactly; None in the list
    admits a request without Origin.

    Args:
        request: from :func:`.http.parse_request` (which checked HTTP/1.1).
        options: ``origins`` is used.
        checked: from :func:`parse_upgrade`, which did the checks up to the
            version's; the rest are done here.

    Returns:
        The client's offer.

    Raises:
        InvalidHandshake: with ``http_status`` 405 (not GET) or 400 (a body).
        InvalidHeader: a missing, repeated or malformed header.
        InvalidVersion: Sec-WebSocket-Version is not 13.
        InvalidOrigin: the Origin is not allowed.
    """
    if checked is not None:
        return _offer(*checked, request, options)
    # RFC 6455 4.1: the method MUST be GET and the version at least HTTP/1.1.
    if request.method != "GET":
        raise _http_error(405, f"method {request.method} is not allowed, only GET")
    if request.version != "HTTP/1.1":
        raise _http_error(505, f"unsupported HTTP version: {request.version}")
    (
        transfer_encoding,
        content_length,
        host,
        upgrade,
        connection,
        key,
        version,
        origin,
        protocols,
        extensions,
    ) = request.headers.values_of(_REQUEST_FIELDS)
    if transfer_encoding or (content_length[0] if content_length else "0") != "0":
        # Bytes after the head are WebSocket frames; a body would be read as frames.
        raise InvalidHandshake("a WebSocket handshake request must not have a body")
    # RFC 7230 5.4: a server MUST answer 400 to no Host or several; RFC 6455 4.1.
    if not _single(host, "Host"):
        raise InvalidHeader("the Host header is empty")
    _check_upgrade(upgrade, connection)
    checked_key = _check_key(key)
    _check_version(version)
    return _offer(checked_key, origin, protocols, extensions, request, options)


def _offer(
    key: str,
    origin: list[str],
    protocols: list[str],
    extensions: list[str],
    request: Request,
    options: Options,
) -> ClientOffer:
    """The offer of a request whose fields up to Sec-WebSocket-Version are checked."""
    checked_origin = _check_origin(origin, options)  # 403 before the 400s of the syntax
    return ClientOffer(
        key,
        parse_subprotocol_header(protocols),
        parse_extension_header(extensions),
        checked_origin,
        request,
    )


# The fields check_request reads, in the order it checks them, looked up in
# one call: ten get_all() calls were 1.2 us of its 2.4 (2.4 -> 1.7 us with
# values_of in C; bench "hs_conc").
_REQUEST_FIELDS = tuple(
    map(
        intern,
        (
            "transfer-encoding",
            "content-length",
            "host",
            "upgrade",
            "connection",
            "sec-websocket-key",
            "sec-websocket-version",
            "origin",
            "sec-websocket-protocol",
            "sec-websocket-extensions",
        ),
    )
)


def _http_error(status: int, message: str) -> InvalidHandshake:
    error = InvalidHandshake(message)
    error.http_status = status
    return error


def _check_key(values: list[str]) -> str:
    # RFC 6455 4.2.1 item 5: one Sec-WebSocket-Key, base64 of 16 bytes.
    key = _single(values, "Sec-WebSocket-Key")
    try:
        nonce = base64.b64decode(key, validate=True)
    except ValueError as exc:  # binascii.Error, or a non-ASCII str (found by fuzzing)
        raise InvalidHeader(f"Sec-WebSocket-Key is not base64: {key!r}") from exc
    if len(nonce) != 16:
        raise InvalidHeader(f"Sec-WebSocket-Key does not encode 16 bytes: {key!r}")
    return key


def _check_version(versions: list[str]) -> None:
    # RFC 6455 4.2.2: for any version but 13 the server MUST answer with an
    # error (426) carrying Sec-WebSocket-Version; see reject().
    if versions != [VERSION]:
        raise InvalidVersion(f"unsupported Sec-WebSocket-Version {versions!r}, expected 13")


def _check_origin(origins: list[str], options: Options) -> str | None:
    if len(origins) > 1:
        raise InvalidHeader(f"expected at most one Origin header, got {len(origins)}")
    origin = origins[0] if origins else None
    if options.origins is not None and origin not in options.origins:
        raise InvalidOrigin(f"origin not allowed: {origin!r}")
    return origin


def select_subprotocol(
    offer: ClientOffer, options: Options, chooser: Callable[..., Any] | None = None
) -> str | None:
    """Choose the subprotocol to accept.

    With a ``chooser`` (by default ``options.select_subprotocol``), return what
    it returns when called as ``f(offered, supported)`` (copies of the client's
    offers and of ``options.subprotocols``); it may raise
    :class:`NegotiationError` to refuse the handshake. Otherwise return the
    first subprotocol in the *client's* order that ``options.subprotocols``
    contains, or None.

    Raises:
        ArgumentError: the callback returned something the client did not offer.
    """
    if chooser is None:
        chooser = options.select_subprotocol
    if chooser is None:
        supported = options.subprotocols or ()
        for name in offer.subprotocols:  # a loop: no generator for the usual empty offer
            if name in supported:
                return name
        return None
    supported = list(options.subprotocols or ())
    chosen = chooser(list(offer.subprotocols), supported)
    if chosen is None:
        return None
    if not isinstance(chosen, str) or chosen not in offer.subprotocols:
        raise ArgumentError(f"select_subprotocol returned {chosen!r}, which was not offered")
    return chosen


_ACCEPT_NAMES = ("Upgrade", "Connection", "Sec-WebSocket-Accept")
_ACCEPT_KEYS = [intern(name.lower()) for name in _ACCEPT_NAMES]


def build_accept(
    offer: ClientOffer, options: Options, subprotocol: str | None, extensions_response: str | None
) -> Response:
    """Build the server's 101 Switching Protocols response (RFC 6455 4.2.2).

    Args:
        offer: from :func:`check_request`.
        options: ``user_agent`` (sent as Server) and ``extra_headers`` are used.
        subprotocol: from :func:`select_subprotocol`, or None.
        extensions_response: the Sec-WebSocket-Extensions value, or None.

    Raises:
        ArgumentError: ``subprotocol`` was not offered, or an extra header is invalid.
    """
    # RFC 6455 4.2.2 item 5.4: the subprotocol MUST be one the client offered.
    if subprotocol is not None and subprotocol not in offer.subprotocols:
        raise ArgumentError(f"subprotocol {subprotocol!r} was not offered by the client")
    # RFC 6455 4.2.2 item 5: 101 with Upgrade, Connection and Sec-WebSocket-Accept.
    # Constants, base64, a token the client offered and a permessage-deflate
    # answer of names and numbers: appended without checks (bench "hs_seq");
    # the first three in one list, their keys made once (1.58 -> 1.44 us).
    headers = Headers.of_checked(
        [
            (_ACCEPT_NAMES[0], "websocket"),
            (_ACCEPT_NAMES[1], "Upgrade"),
            (_ACCEPT_NAMES[2], accept_key(offer.key)),
        ],
        _ACCEPT_KEYS.copy(),
    )
    if subprotocol is not None:
        headers.append_checked("Sec-WebSocket-Protocol", subprotocol)
    if extensions_response:
        headers.append_checked("Sec-WebSocket-Extensions", extensions_response)
    if options.user_agent is not None:
        headers.add_option("Server", options.user_agent)
    _add_extra_headers(headers, options)
    return Response(101, "Switching Protocols", headers)


def reject(error: InvalidHandshake | int, options: Options, body: str | None = None) -> Response:
    """Build an HTTP error response refusing a handshake.

    The body is ``body``, else the error's message, else the status phrase,
    sent as UTF-8 ``text/plain`` with ``Content-Length`` and ``Connection:
    close``. A 426 also carries ``Upgrade: websocket`` and
    ``Sec-WebSocket-Version: 13``; a 405 carries ``Allow: GET``.
    ``options.extra_headers`` are not sent.

    Args:
        error: the handshake error (its ``http_status`` is used) or a status.
        options: ``user_agent`` is sent as Server.
        body: the text of the body, instead of the default.

    Raises:
        ArgumentError: the status is not from 300 to 599.
    """
    status = error if isinstance(error, int) else error.http_status
    if not 300 <= status <= 599:
        raise ArgumentError(f"a rejection needs a status from 300 to 599, not {status}")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    if body is None:
        message = "" if isinstance(error, int) else str(error)
        body = message or f"{status} {reason}".rstrip()
    response = Response(status, reason, body=(body + "\n").encode("utf-8"))
    headers = response.headers
    headers.add("Content-Type", "text/plain; charset=utf-8")
    headers.add("Content-Length", str(len(response.body)))
    if status == 426:
        # RFC 7230 6.7: Upgrade MUST be listed in Connection when sent.
        headers.add("Connection", "Upgrade, close")
        headers.add("Upgrade", "websocket")
        # RFC 6455 4.4: the server MUST say which versions it supports.
        headers.add("Sec-WebSocket-Version", VERSION)
    else:
        headers.add("Connection", "close")
    if status == 405:
        headers.add("Allow", "GET")  # RFC 7231 6.5.5: a 405 MUST carry Allow
    if options.user_agent is not None:
        headers.add_option("Server", options.user_agent)
    return response
