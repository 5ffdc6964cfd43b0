"""The chat room of ``airsocket serve --chat``: a broadcast room and its browser page.

Everyone connected is in one room. Each member gets a name, ``guest-N``;
every text message a member sends goes to every member, the sender
included, as ``"guest-N: text"``. The room's own notices start with ``"* "``
(a member's line always starts with its name, so a member cannot forge one):
``"* guest-N joined (M online)"``, ``"* guest-N left (M online)"``.

Limits, so that one bad client cannot hurt the room:

- a text message is at most ``max_message_size`` bytes (4 KiB by default);
  a longer one is refused with close 1009 before it is buffered;
- binary messages are not chat: the sender is closed with 1003 (unsupported
  data), rather than ignored, so that a client sending them learns why
  nothing happens;
- a slow reader does not stall the room: messages go out through
  :func:`airsocket.broadcast`, which never waits for a peer, and a member
  still more than ``write_limit`` bytes behind when the next message comes is
  dropped from the room and closed with 1008 (policy violation), so what the
  server buffers for it stays bounded.

A plain HTTP ``GET /`` on the same port answers the page (:meth:`ChatRoom.page`),
which opens a WebSocket back to the host that served it; other paths get 404.
"""

from __future__ import annotations

import itertools
from importlib import resources
from typing import Any

from ._serving import serve_and_announce
from .asyncio import Connection, broadcast
from .protocol.frames import CloseCode
from .protocol.http import Headers, Request, Response

__all__ = ["MAX_MESSAGE_SIZE", "ChatRoom", "run_chat_server"]

#: Largest chat message, in bytes of UTF-8: a screenful of text, small
#: enough that a flood of them costs the server little.
MAX_MESSAGE_SIZE = 4 * 1024

# Where the page reads the limit from, to refuse a long message before sending it.
_LIMIT_PLACEHOLDER = "__MAX_MESSAGE_SIZE__"


class ChatRoom:
    """One chat room: serve it with ``airsocket.serve(room.handler, host, port,
    **room.server_options())``.

    Args:
        max_message_size: largest message a member may send, in bytes.
    """

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_message_size = max_message_size
        #: The members, in the order they joined, with their names.
        self.members: dict[Connection, str] = {}
        self._numbers = itertools.count(1)
        # Read once per room: the page is small and does not change while serving.
        template = resources.files("airsocket").joinpath("chat.html").read_text("utf-8")
        self.page = template.replace(_LIMIT_PLACEHOLDER, str(max_message_size)).encode()

    def server_options(self) -> dict[str, Any]:
        """The options of :func:`airsocket.serve` the room needs: the page and the limit."""
        return {"process_request": self.process_request, "max_message_size": self.max_message_size}

    async def handler(self, connection: Connection) -> None:
        """Run one member: join, repeat its text messages to the room, leave."""
        name = f"guest-{next(self._numbers)}"
        self.members[connection] = name
        self.say(f"* {name} joined ({len(self.members)} online)")
        try:
            async for message in connection:
                if not isinstance(message, str):
                    await connection.close(CloseCode.UNSUPPORTED_DATA, "text messages only")
                    return
                if connection in self.members:  # one dropped as too slow is no longer heard
                    self.say(f"{name}: {message}")
        finally:
            if self.members.pop(connection, None) is not None:
                self.say(f"* {name} left ({len(self.members)} online)")

    def say(self, text: str) -> None:
        """Send ``text`` to every member, without waiting for any of them.

        Members whose unsent data is over their ``write_limit`` are dropped
        first (closed with 1008): broadcast does not wait for them, so without
        this a client that never reads would make the server buffer every
        message of the room for it.
        """
        slow = [member for member in self.members if member.engine.write_paused]
        notices = []
        for member in slow:
            name = self.members.pop(member)
            # The close frame queues behind what the member has not read, so it
            # may never get there: close_timeout then drops the TCP connection.
            member.engine.close(CloseCode.POLICY_VIOLATION, "too slow to read the room")
            notices.append(f"* {name} was dropped: too slow ({len(self.members)} online)")
        for line in (*notices, text):
            broadcast(self.members, line)

    def process_request(self, connection: Connection, request: Request) -> Response | None:
        """Answer plain HTTP: the page at ``/``, 404 elsewhere; upgrades go on to the room.

        Only GET is answered here; other methods without ``Upgrade`` get the
        handshake's own refusal (405).
        """
        if "Upgrade" in request.headers or request.method != "GET":
            return None  # the WebSocket handshake checks and answers it
        if request.path.partition("?")[0] == "/":
            return _response(200, "text/html; charset=utf-8", self.page)
        return _response(404, "text/plain; charset=utf-8", b"not found: the chat is at /\n")


def _response(status: int, content_type: str, body: bytes) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            # Revalidate: the page carries the limit of the server that served
            # it, which the next server on this port may set otherwise.
            ("Cache-Control", "no-cache"),
            # The server ends the stream after answering plain HTTP.
            ("Connection", "close"),
        ]
    )
    return Response(status, "", headers, body)


async def run_chat_server(host: str, port: int, compression: str | None) -> None:
    """Serve a chat room until cancelled, printing
    ``airsocket: chat room on http://HOST:PORT/`` once listening."""
    room = ChatRoom()
    options = room.server_options()
    await serve_and_announce(
        room.handler, host, port, "chat room", "http", compression=compression, **options
    )
