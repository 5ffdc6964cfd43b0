"""The AIR ``WebSocket`` (air.net.WebSocket): one listener of the asyncio engine.

Every protocol rule lives in the engine and the core below it; this class
turns calls into engine calls and engine reports into AIR events. Methods
never block: ``connect`` and ``start_server`` return at once and the outcome
arrives as events on the event loop (see :func:`airsocket.run`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

from ..asyncio.client import open_transport
from ..asyncio.engine import (
    CloseCode,
    Engine,
    NullListener,
    Opcode,
    State,
    client_engine,
    is_sendable_close_code,
    server_engine,
)
from ..asyncio.transport import SocketTransport, lean_loop, prepare_socket
from ..protocol.exceptions import ArgumentError, InvalidState, InvalidURI
from ..protocol.http import Headers, Request, Response
from ..protocol.options import Options
from ..protocol.uri import WebSocketURI, parse_uri
from ..tls import client_ssl_context
from . import _support, runtime
from .dispatcher import EventDispatcher
from .events import Event, SecurityErrorEvent, WebSocketEvent

__all__ = ["WebSocket"]

_DATA = WebSocketEvent.DATA

#: ``send_message`` refuses while more than this many times ``write_limit``
#: bytes wait to be written: it cannot wait, like ``await send()`` does.
UNSENT_LIMIT_FACTOR = 16


class WebSocket(EventDispatcher):
    """A WebSocket client (:meth:`connect`) or server connection (:meth:`start_server`).

    Events: ``connect`` (:class:`Event`, the handshake succeeded),
    ``websocketData`` (:class:`WebSocketEvent`, a message, PING or PONG
    arrived; PINGs are answered before they are dispatched), ``close``
    (:class:`Event`, the peer closed, the connection dropped or the upgrade
    failed; never after a local :meth:`close`), ``ioError``
    (:class:`IOErrorEvent`), ``securityError`` and the cancelable
    ``certificateError`` (:class:`SecurityErrorEvent`).

    Args:
        **options: any :class:`airsocket.Options` field, as in the asyncio API
            (``max_message_size``, ``ssl``, ``compression``, ``open_timeout``,
            ``close_timeout``, ``ping_interval``...). One default differs:
            ``ping_interval`` is None, because in AIR "it is up to the
            developer to implement any outgoing PING messages"; set it to
            have keepalive PINGs sent (their PONGs are dispatched as well).

    Raises:
        ArgumentError: an unknown option or an invalid value.
    """

    #: Format of a text message.
    fmtTEXT = Opcode.TEXT
    #: Format of a binary message.
    fmtBINARY = Opcode.BINARY
    #: Format of a close frame (never sent with send_message: use close()).
    fmtCLOSE = Opcode.CLOSE
    #: Format of a PING.
    fmtPING = Opcode.PING
    #: Format of a PONG.
    fmtPONG = Opcode.PONG
    FMT_TEXT = Opcode.TEXT
    FMT_BINARY = Opcode.BINARY
    FMT_CLOSE = Opcode.CLOSE
    FMT_PING = Opcode.PING
    FMT_PONG = Opcode.PONG

    def __init__(self, **options: Any) -> None:
        super().__init__()
        options.setdefault("ping_interval", None)  # AIR sends no PING of its own
        #: The validated options (an :class:`airsocket.Options`).
        self.options = Options.build(**options)
        self._engine: Engine | None = None
        self._task: asyncio.Task[None] | None = None
        # The engine close() gave up on while it connected: if the connection
        # completes all the same (a cancel can lose that race), it is dropped.
        self._abandoned: Engine | None = None
        self._server = False
        self._busy = False  # a connection is being made or is open
        self._opened = False  # the current connection's handshake succeeded
        self._negotiated = False  # protocol is read-only until the next connection
        self._protocol: str | list[str] | None = None
        self._close_reason = 0
        self._remote_address: Any = None

    # ------------------------------------------------------------------
    # Client

    def connect(self, url: str, protocols: Iterable[str] | None = None) -> None:
        """Connect to ``url`` (``ws://`` plain, ``wss://`` TLS, verified by default).

        Returns at once; the outcome arrives as an event: ``connect``,
        ``ioError`` (refused, unreachable, DNS, timeouts), ``securityError``,
        ``certificateError`` (cancelable: ``prevent_default()`` accepts the
        certificate and the connection proceeds; otherwise ``close`` follows
        with ``close_reason`` 1015), or ``close`` when the server's answer is not
        a valid upgrade (``close_reason`` 1002 for a protocol violation, 1006
        otherwise; :attr:`response` keeps the HTTP answer).

        Python's ``ssl`` cannot resume a handshake that failed verification,
        so an accepted certificate is used over a second TLS connection made
        with a context that verifies nothing (``CERT_NONE``, no host name
        check); a client certificate of the ``ssl`` option is not presented
        on that second connection.

        Args:
            url: e.g. ``"ws://localhost:4200/testing"``.
            protocols: subprotocols to offer; read the chosen one from :attr:`protocol`.

        Raises:
            ArgumentError: a connection is open or being made, the URL or its
                scheme is invalid, or a protocol is not a valid token.
            InvalidState: no event loop is running.
        """
        if self._busy:
            raise ArgumentError("this WebSocket is already connected; close() it first")
        try:
            uri = parse_uri(url)
        except InvalidURI as exc:
            raise ArgumentError(str(exc)) from exc
        options = Options.build(self.options, **_support.offered_protocols(protocols))
        context = client_ssl_context(uri, options)
        loop = _support.running_loop("connect()")
        engine = client_engine(uri, options, loop)
        self._protocol = None
        self._begin(engine, server=False, remote_address=None)
        self._task = loop.create_task(self._open_client(engine, uri, context))

    async def _open_client(
        self, engine: Engine, uri: WebSocketURI, context: ssl.SSLContext | None
    ) -> None:
        try:
            try:
                await self._create_connection(engine, uri, context)
            except ssl.SSLCertVerificationError as exc:
                if not self._certificate_accepted(engine, exc):
                    self._opening_failed(engine, Event(Event.CLOSE), CloseCode.TLS_HANDSHAKE)
                    return
                await self._create_connection(engine, uri, _support.unverified_context())
            self._drop_if_abandoned(engine)
        except asyncio.CancelledError:
            self._opening_cancelled(engine)
            raise
        except Exception as exc:
            self._opening_failed(engine, _support.error_event(exc))

    @staticmethod
    async def _create_connection(
        engine: Engine, uri: WebSocketURI, context: ssl.SSLContext | None
    ) -> None:
        # TCP and TLS; the engine's own timer bounds the HTTP handshake after.
        connecting = open_transport(engine, uri.host, uri.port, context)
        await asyncio.wait_for(connecting, engine.options.open_timeout)

    def _certificate_accepted(self, engine: Engine, error: ssl.SSLCertVerificationError) -> bool:
        event = SecurityErrorEvent(
            SecurityErrorEvent.CERTIFICATE_ERROR,
            cancelable=True,
            text=str(error),
            error_id=error.verify_code or 0,
        )
        allowed = not self.dispatch_event(event)
        return allowed and self._engine is engine and self._busy

    # ------------------------------------------------------------------
    # Server

    def start_server(self, s: Any) -> None:
        """Take over the accepted socket ``s`` and answer its upgrade request.

        ``s`` is a ``socket.socket`` accepted by a :class:`airsocket.ServerSocket`
        (or any listening socket); for TLS, an ``ssl.SSLSocket`` whose
        handshake has not run yet (as a ServerSocket with ``ssl=`` hands out),
        or a plain socket with the ``ssl`` option. Returns at once. A valid
        upgrade dispatches ``connect``; anything else is answered with 400
        (426 for a wrong version), the socket is closed and ``close`` is
        dispatched. Set :attr:`protocol` first to accept a subprotocol.

        Args:
            s: the accepted socket; this WebSocket owns it from now on.

        Raises:
            ArgumentError: ``s`` is None or not a connected stream socket, the
                handshake of an SSLSocket already ran, or a connection is open.
            InvalidState: no event loop is running.
        """
        if self._busy:
            raise ArgumentError("this WebSocket is already connected; close() it first")
        loop = _support.running_loop("start_server()")
        sock, context, peername = _support.adopt(s, self.options.ssl)
        engine = server_engine(self.options, loop)
        # This WebSocket's own choice (see protocol): on the connection, not
        # in options built for each one (5.8 us a start_server).
        engine.core.select_subprotocol = self._select_subprotocol
        self._begin(engine, server=True, remote_address=peername)
        if context is None and lean_loop(loop):
            # Plain TCP on asyncio's own loop: our transport, started at once
            # (see asyncio/transport.py): AIR server on the default loop,
            # hs_conc 1.58 -> 1.43x picows, hs_seq 1.37 -> 1.03x.
            try:
                prepare_socket(sock)
            except OSError:
                pass  # reset meanwhile: the loop's own way below reports it
            else:
                self._task = None
                SocketTransport(loop, sock, engine, peername).start()
                return
        self._task = loop.create_task(self._open_server(engine, sock, context))

    async def _open_server(self, engine: Engine, sock: Any, context: ssl.SSLContext | None) -> None:
        timeout = engine.options.open_timeout if context is not None else None
        try:
            await engine.loop.connect_accepted_socket(
                lambda: engine, sock, ssl=context, ssl_handshake_timeout=timeout
            )
            self._drop_if_abandoned(engine)
        except asyncio.CancelledError:
            self._opening_cancelled(engine)
            raise
        except Exception as exc:
            self._opening_failed(engine, _support.error_event(exc))

    def _select_subprotocol(self, offered: list[str], supported: list[str]) -> str | None:
        wanted = self._protocol
        if wanted is None:
            chooser = self.options.select_subprotocol
            if chooser is not None:
                return chooser(offered, supported)  # type: ignore[no-any-return]
            wanted = supported
        elif isinstance(wanted, str):
            wanted = [wanted]
        # The first one the client offered (RFC 6455 4.2.2 leaves the choice to us).
        return next((name for name in offered if name in wanted), None)

    # ------------------------------------------------------------------
    # Both roles

    def _begin(self, engine: Engine, *, server: bool, remote_address: Any) -> None:
        engine.listener = self
        self._engine = engine
        self._server = server
        self._busy = True
        self._opened = False
        self._negotiated = False
        self._remote_address = remote_address
        runtime.track(engine, lambda: self._interrupt(engine))
        engine.closed.add_done_callback(lambda _: runtime.untrack(engine))

    def _opening_failed(self, engine: Engine, event: Event, reason: int = 0) -> None:
        runtime.untrack(engine)
        if self._engine is not engine or not self._busy:
            return  # closed locally meanwhile: no event
        self._busy = False
        if reason:
            self._close_reason = reason
        self.dispatch_event(event)

    def _drop_if_abandoned(self, engine: Engine) -> None:
        if self._abandoned is engine:
            self._abandoned = None
            engine.abort()

    def _opening_cancelled(self, engine: Engine) -> None:
        if self._abandoned is engine:
            self._abandoned = None
        engine.abort()  # the transport may exist if the cancel raced the connection
        runtime.untrack(engine)

    def _interrupt(self, engine: Engine) -> None:
        """Ctrl-C in :func:`airsocket.run`: going away (1001)."""
        if self._engine is engine and self._busy:
            self.close(CloseCode.GOING_AWAY)
        else:
            engine.close(CloseCode.GOING_AWAY)

    def send_message(self, opcode: int, data: Any) -> None:
        """Send a message (TEXT, BINARY) or a control frame (PING, PONG).

        Args:
            opcode: ``WebSocket.fmtTEXT``, ``fmtBINARY``, ``fmtPING`` or ``fmtPONG``.
            data: a str (sent as UTF-8) or bytes-like object. For TEXT, bytes
                must be valid UTF-8. A PING or PONG carries at most 125 bytes.

        Raises:
            ArgumentError: ``data`` is None or of another type, not UTF-8 for
                TEXT, too long; the opcode is unknown or CLOSE (use
                :meth:`close`); the WebSocket is not open; or the peer is
                not reading: more than ``UNSENT_LIMIT_FACTOR`` times
                ``write_limit`` bytes (1 MiB by default) wait to be written.
                The message is then not sent; send it again later.
        """
        kind = _support.check_opcode(opcode)
        payload = _support.payload(kind, data)
        engine = self._engine
        if engine is None or not self._busy or not self._opened:
            raise ArgumentError("the WebSocket is not open")
        unsent = engine.unsent_bytes()
        limit = UNSENT_LIMIT_FACTOR * engine.options.write_limit
        if unsent > limit:
            # sendMessage cannot wait for a peer that does not read: refusing,
            # loudly, is what keeps the buffer bounded without losing data.
            raise ArgumentError(
                f"the peer is not reading: {unsent} bytes wait to be written"
                f" (more than {UNSENT_LIMIT_FACTOR} x write_limit)"
            )
        try:
            if kind is Opcode.TEXT or kind is Opcode.BINARY:
                engine.send(payload)
            else:
                engine.send_frame_control(kind, payload)  # type: ignore[arg-type]
        except InvalidState as exc:
            raise ArgumentError(f"the WebSocket is not open: {exc}") from exc

    def close(self, reason_code: int = CloseCode.NORMAL_CLOSURE) -> None:
        """Start the closing handshake with ``reason_code``; no ``close`` event follows.

        The TCP connection ends after the peer's close frame, or after
        ``close_timeout``. While connecting, the attempt is abandoned. A
        WebSocket that is not connected is left as it is.

        Args:
            reason_code: 1000-1003, 1007-1014 or 3000-4999.

        Raises:
            ArgumentError: ``reason_code`` may not be sent.
        """
        valid = isinstance(reason_code, int) and not isinstance(reason_code, bool)
        if not valid or not is_sendable_close_code(reason_code):
            raise ArgumentError(f"invalid close code {reason_code!r}")
        engine = self._engine
        if engine is None or not self._busy:
            return
        self._busy = False
        engine.listener = NullListener()  # AIR: a local close dispatches no close event
        if engine.transport is None:  # still connecting TCP or TLS: give up
            self._abandoned = engine
            if self._task is not None:
                self._task.cancel()
        else:
            engine.close(reason_code)
        sent = engine.core.close_sent
        self._close_reason = sent[0] if sent is not None else reason_code

    # ------------------------------------------------------------------
    # Engine listener

    def on_open(self) -> None:
        """The handshake succeeded: dispatch ``connect``."""
        self._opened = True
        self._negotiated = True
        self.dispatch_event(Event(Event.CONNECT))

    def on_message(self, data: str | bytes) -> None:
        """Dispatch a message as ``websocketData``."""
        if type(data) is str:
            event = WebSocketEvent(_DATA, False, False, Opcode.TEXT, None, data)
        else:
            event = WebSocketEvent(_DATA, False, False, Opcode.BINARY, data)  # type: ignore[arg-type]
        self.dispatch_event(event)

    def on_ping(self, data: bytes) -> None:
        """Dispatch a PING (its PONG is already on the wire) as ``websocketData``."""
        self.dispatch_event(WebSocketEvent(_DATA, False, False, Opcode.PING, data))

    def on_pong(self, data: bytes) -> None:
        """Dispatch a PONG as ``websocketData``."""
        self.dispatch_event(WebSocketEvent(_DATA, False, False, Opcode.PONG, data))

    def backlog(self) -> int:
        """Nothing is held: every message is dispatched as it arrives."""
        return 0

    def on_close(self, error: BaseException | None) -> None:
        """The connection ended without a local close: dispatch ``close`` or ``ioError``."""
        engine = self._engine
        assert engine is not None, "the engine reports to the WebSocket it belongs to"
        self._busy = False
        if not self._opened:
            if isinstance(error, OSError):
                self.dispatch_event(_support.error_event(error))
                return
            core = engine.core
            head = core.request if self._server else core.response
            self._close_reason = _support.handshake_close_code(error, head)
        else:
            self._close_reason = _support.close_code(engine.core.failure, engine.core.close_code)
        self.dispatch_event(Event(Event.CLOSE))

    # ------------------------------------------------------------------
    # Properties

    @property
    def close_reason(self) -> int:
        """The close code, once closed (0 before).

        The peer's code; 1005 when its close frame had none; 1006 when the
        connection dropped without one or the upgrade failed (1002 when the
        upgrade broke the protocol); the code we failed with for a bad frame
        (1002, 1007, 1009); 1015 when the certificate was refused; the code
        sent after a local :meth:`close`.
        """
        return self._close_reason

    @property
    def protocol(self) -> str | list[str] | None:
        """The subprotocol.

        Client: the one the server chose (None if none). Server: set it
        before the handshake to a name, or a list of names, to accept; the
        first one the client offered is chosen. Once the handshake is done
        it reads as the chosen one and is read-only until the next
        ``connect`` or ``start_server``.

        Raises:
            ArgumentError: on setting, after the handshake or an invalid value.
        """
        if self._negotiated and self._engine is not None:
            return self._engine.core.subprotocol
        return self._protocol

    @protocol.setter
    def protocol(self, value: str | list[str] | None) -> None:
        if self._negotiated:
            raise ArgumentError("protocol is read-only once the handshake is done")
        self._protocol = _support.wanted_protocols(value)

    @property
    def connected(self) -> bool:
        """Whether the connection is open (handshake done, no close started)."""
        engine = self._engine
        return engine is not None and self._busy and engine.core.state is State.OPEN

    @property
    def request(self) -> Request | None:
        """The HTTP upgrade request (sent by a client, received by a server)."""
        return self._engine.core.request if self._engine is not None else None

    @property
    def response(self) -> Response | None:
        """The HTTP answer to the upgrade (received by a client, sent by a server).

        Stays readable after a refused upgrade: ``ws.response.status``.
        """
        return self._engine.core.response if self._engine is not None else None

    @property
    def request_path(self) -> str | None:
        """Server: the path (and query) of the upgrade request, once it arrived."""
        request = self.request
        return request.path if request is not None else None

    @property
    def request_headers(self) -> Headers | None:
        """Server: the headers of the upgrade request, once it arrived."""
        request = self.request
        return request.headers if request is not None else None

    @property
    def remote_address(self) -> Any:
        """The peer's address as the socket reports it, e.g. ``("127.0.0.1", 50123)``."""
        if self._remote_address is not None:
            return self._remote_address
        transport = self._engine.transport if self._engine is not None else None
        return transport.get_extra_info("peername") if transport is not None else None

    def __repr__(self) -> str:
        state = "open" if self.connected else "busy" if self._busy else "idle"
        return f"<airsocket.WebSocket {state} close_reason={self._close_reason}>"
