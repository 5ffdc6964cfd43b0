"""What every public connection class tells about its connection, read from the core."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Connection, State
    from .http import Request, Response

__all__ = ["ConnectionInfo"]


class ConnectionInfo:
    """Read-only facts of a connection; subclasses say where the core is and when it ended."""

    __slots__ = ()

    @property
    def _core(self) -> Connection:
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    @property
    def _ended(self) -> bool:
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    @property
    def state(self) -> State:
        """CONNECTING, OPEN, CLOSING or CLOSED."""
        return self._core.state

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or None."""
        return self._core.subprotocol

    @property
    def request(self) -> Request | None:
        """The upgrade request."""
        return self._core.request

    @property
    def response(self) -> Response | None:
        """The upgrade response."""
        return self._core.response

    @property
    def close_code(self) -> int | None:
        """The peer's close code once closed (1005: its frame had none; 1006: none came)."""
        return self._core.close_code if self._ended else None

    @property
    def close_reason(self) -> str | None:
        """The peer's close reason once closed."""
        return self._core.close_reason if self._ended else None
