"""The chat room's page in headless Chromium, with an airsocket client in the same room.

The page is loaded from the room's own port (``process_request``) and opens
its WebSocket back to ``location.host``. Our server and the airsocket member
run on an event loop thread, because Playwright's sync API owns the main
thread's loop. Every wait is bounded: Playwright's by :data:`WAIT_MS`, ours by
:data:`helpers.TIMEOUT`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

import airsocket
from airsocket.chat import MAX_MESSAGE_SIZE, ChatRoom

from .helpers import TEXT, LoopThread, bounded

pytestmark = [pytest.mark.interop, pytest.mark.browser]

#: Bound of one of Playwright's waits for the page to show something.
WAIT_MS = 30_000


@contextlib.contextmanager
def chat_room(loop_thread: LoopThread) -> Iterator[tuple[int, airsocket.Connection]]:
    """A chat room on the loop thread and a member in it (guest-1); yields
    the room's port and that member, once its join notice came."""

    async def start() -> tuple[airsocket.Server, airsocket.Connection]:
        room = ChatRoom()
        server = await airsocket.serve(room.handler, "127.0.0.1", 0, **room.server_options())
        port = server.sockets[0].getsockname()[1]
        ws = await airsocket.connect(f"ws://127.0.0.1:{port}/")
        assert await bounded(ws.recv()) == "* guest-1 joined (1 online)"
        return server, ws

    async def stop(server: airsocket.Server, ws: airsocket.Connection) -> None:
        await bounded(ws.close())
        server.close()
        await bounded(server.wait_closed())

    server, ws = loop_thread.run(start())
    try:
        yield server.sockets[0].getsockname()[1], ws
    finally:
        loop_thread.run(stop(server, ws))


def receive(loop_thread: LoopThread, ws: airsocket.Connection) -> Any:
    """The member's next message (bounded)."""
    return loop_thread.run(bounded(ws.recv()))


def open_page(page: Any, port: int) -> Any:
    """Load the room's page from its port; return its message list once connected."""
    response = page.goto(f"http://127.0.0.1:{port}/")
    assert response is not None
    assert response.status == 200
    assert page.title() == "airsocket chat"
    expect(page.locator("#status")).to_have_text("connected", timeout=WAIT_MS)
    return page.locator("#log li")


def test_a_message_sent_from_the_page_reaches_the_room(loop_thread: LoopThread, page: Any) -> None:
    with chat_room(loop_thread) as (port, member):
        lines = open_page(page, port)
        expect(lines.last).to_have_text("* guest-2 joined (2 online)", timeout=WAIT_MS)
        assert receive(loop_thread, member) == "* guest-2 joined (2 online)"

        page.fill("#message", TEXT)
        page.click("#send")
        expect(lines.last).to_have_text(f"guest-2: {TEXT}", timeout=WAIT_MS)
        expect(page.locator("#message")).to_have_value("", timeout=WAIT_MS)
        assert receive(loop_thread, member) == f"guest-2: {TEXT}"

        # The other way; markup from others is shown as text, never run.
        loop_thread.run(member.send("<b>hello</b>, browser"))
        expect(lines.last).to_have_text("guest-1: <b>hello</b>, browser", timeout=WAIT_MS)
        assert page.locator("#log b").count() == 0
        assert receive(loop_thread, member) == "guest-1: <b>hello</b>, browser"

        page.close()  # the browser leaves the room
        assert receive(loop_thread, member) == "* guest-2 left (1 online)"


def test_the_page_refuses_a_message_over_the_limit(loop_thread: LoopThread, page: Any) -> None:
    with chat_room(loop_thread) as (port, member):
        lines = open_page(page, port)
        assert receive(loop_thread, member) == "* guest-2 joined (2 online)"

        # Within the limit in characters, over it in UTF-8 bytes.
        page.fill("#message", "é" * (MAX_MESSAGE_SIZE // 2 + 1))
        page.click("#send")
        expect(lines.last).to_have_text(
            f"* not sent: longer than {MAX_MESSAGE_SIZE} bytes", timeout=WAIT_MS
        )
        page.fill("#message", "short")
        page.click("#send")
        # The page stayed connected, and the long one never left it: the
        # member's next message is the short one.
        assert receive(loop_thread, member) == "guest-2: short"
        expect(page.locator("#status")).to_have_text("connected", timeout=WAIT_MS)
