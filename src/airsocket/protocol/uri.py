"""Parsing of ws:// and wss:// URLs (RFC 6455 3).

:func:`parse_uri` checks a URL and normalizes it for the handshake: the host
is lower-cased and IDNA-encoded when it is not ASCII, the path and query are
percent-encoded where they are not ASCII, and an empty path becomes ``/``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote, urlsplit

from .exceptions import InvalidURI
from .memo import keep

__all__ = ["WebSocketURI", "parse_uri"]

DEFAULT_PORTS = {False: 80, True: 443}

# Whitespace and control characters are never part of a URI (RFC 3986 2), and
# urlsplit would silently drop some of them.
_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f-\x9f\s]")
# reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 3.2.2)
_REG_NAME_RE = re.compile(r"[-A-Za-z0-9._~%!$&'()*+,;=]+")
# Characters left as they are when percent-encoding a path (RFC 3986 3.3) or
# a query (3.4); "%" keeps existing escapes.
_PATH_SAFE = "!$&'()*+,;=:@/%"
_QUERY_SAFE = _PATH_SAFE + "?"


class WebSocketURI:
    """A parsed ws:// or wss:// URL.

    Attributes:
        secure: True for wss://.
        host: the host, lower-cased, IDNA-encoded, IPv6 without brackets.
        port: the port, the scheme's default (80 or 443) when not given.
        resource_name: path and query, e.g. ``"/chat?room=1"``; ``"/"`` at least.
        user_info: ``(user, password)`` percent-decoded, or None.
    """

    __slots__ = ("host", "port", "resource_name", "secure", "user_info")

    def __init__(
        self,
        secure: bool,
        host: str,
        port: int,
        resource_name: str = "/",
        user_info: tuple[str, str] | None = None,
    ) -> None:
        self.secure = secure
        self.host = host
        self.port = port
        self.resource_name = resource_name
        self.user_info = user_info

    @property
    def host_header(self) -> str:
        """The value of the Host header: ``host[:port]``, the default port omitted."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.secure]:
            return host
        return f"{host}:{self.port}"

    def __repr__(self) -> str:
        return (
            f"WebSocketURI(secure={self.secure!r}, host={self.host!r}, port={self.port!r}, "
            f"resource_name={self.resource_name!r}, user_info={self.user_info!r})"
        )


def parse_uri(uri: str) -> WebSocketURI:
    """Parse and normalize a ws:// or wss:// URL.

    Args:
        uri: the URL.

    Returns:
        The parsed URL.

    Raises:
        InvalidURI: ``uri`` is not a str, its scheme is not ws or wss (in any
            case), it has no host, a fragment, an invalid port, whitespace or
            control characters, or user info without a valid user name.
    """
    if not isinstance(uri, str):
        raise InvalidURI(repr(uri), f"expected a str, got {type(uri).__name__}")
    # A client opening many connections parses the same few URLs: the fields
    # are kept (a URL that fails is never kept), and each call gets its own
    # object (parse_uri 2.5 -> 0.23 us, bench "hs_conc", client role).
    fields = _PARSED.get(uri) if type(uri) is str else None
    if fields is None:
        fields = _parse_fields(uri)
        if type(uri) is str:
            keep(_PARSED, 128, uri, fields)
    return WebSocketURI(*fields)


#: The fields of URLs parsed before (see parse_uri).
_PARSED: dict[str, tuple[bool, str, int, str, tuple[str, str] | None]] = {}


def _parse_fields(uri: str) -> tuple[bool, str, int, str, tuple[str, str] | None]:
    """Check and normalize ``uri``; return the fields of its WebSocketURI."""
    if _FORBIDDEN_RE.search(uri):
        raise InvalidURI(uri, "whitespace or control characters are not allowed")
    if "#" in uri:
        # RFC 6455 3: fragment identifiers MUST NOT be used; "#" MUST be escaped.
        raise InvalidURI(uri, "a fragment is not allowed (escape '#' as %23)")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(uri, str(exc)) from exc
    if parts.scheme not in ("ws", "wss"):
        raise InvalidURI(uri, "the scheme must be ws or wss")
    secure = parts.scheme == "wss"
    if port is None:
        port = DEFAULT_PORTS[secure]
    elif port == 0:
        raise InvalidURI(uri, "port 0 is not a port one can connect to")
    return (
        secure,
        _parse_host(uri, parts.netloc, parts.hostname),
        port,
        _resource_name(parts.path, parts.query),
        _user_info(uri, parts.username, parts.password),
    )


def _parse_host(uri: str, netloc: str, hostname: str | None) -> str:
    if not hostname:
        raise InvalidURI(uri, "the host is missing")
    if "[" in netloc:
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise InvalidURI(uri, f"invalid IPv6 address {hostname!r}") from exc
        return hostname
    if not hostname.isascii():
        try:
            hostname = hostname.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidURI(uri, f"invalid international host name: {exc}") from exc
    if not _REG_NAME_RE.fullmatch(hostname):
        raise InvalidURI(uri, f"invalid host {hostname!r}")
    return hostname


def _resource_name(path: str, query: str) -> str:
    # RFC 6455 3: resource-name is path (or "/") plus "?" and the query if any.
    resource = quote(path, safe=_PATH_SAFE) or "/"
    if query:
        resource += "?" + quote(query, safe=_QUERY_SAFE)
    return resource


def _user_info(uri: str, user: str | None, password: str | None) -> tuple[str, str] | None:
    if user is None:
        return None
    user, password = unquote(user), unquote(password or "")
    if not user or ":" in user:
        # RFC 7617 2: a Basic user-id is not empty in practice and has no colon.
        raise InvalidURI(uri, "the user name is empty or contains ':'")
    return user, password
