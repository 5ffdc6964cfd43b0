"""Tests of airsocket.chat: the room of ``airsocket serve --chat`` and its page.

Real sockets on 127.0.0.1, port 0. Every wait is for an event (a message, a
close, the end of an HTTP answer, a printed line) under a bound that only a
hang reaches; the room's notices are what tells a test that a member joined
or left, so nothing waits for time to pass. The page in a browser is tested
in tests/interop/test_chromium_chat.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

import airsocket
from airsocket import chat, cli
from airsocket.chat import MAX_MESSAGE_SIZE, ChatRoom
from test_cli import (
    cancel_serving,
    cli_process,
    first_line,
    interrupt,
    posix_only,
    printed,
    run,
    step,
)

URL_LINE = re.compile(r"airsocket: chat room on http://127\.0\.0\.1:(\d+)/")


@contextlib.asynccontextmanager
async def chat_server(**options: Any) -> AsyncIterator[tuple[ChatRoom, int]]:
    """A chat room served in this loop; yields it and its port."""
    room = ChatRoom()
    options = {**room.server_options(), **options}
    async with airsocket.serve(room.handler, "127.0.0.1", 0, **options) as server:
        yield room, server.sockets[0].getsockname()[1]


@contextlib.asynccontextmanager
async def member(port: int, number: int, **options: Any) -> AsyncIterator[airsocket.Connection]:
    """A client in the room, once its own join notice (so the room counts it) came."""
    async with airsocket.connect(f"ws://127.0.0.1:{port}/", **options) as ws:
        assert await step(ws.recv()) == f"* guest-{number} joined ({number} online)"
        yield ws


@contextlib.asynccontextmanager
async def second_member(
    port: int, first: airsocket.Connection
) -> AsyncIterator[airsocket.Connection]:
    """guest-2 in the room with ``first`` (guest-1); announces its leaving to it."""
    async with member(port, 2) as ws:
        assert await step(first.recv()) == "* guest-2 joined (2 online)"
        yield ws
    assert await step(first.recv()) == "* guest-2 left (1 online)"


async def http(port: int, request: str) -> tuple[int, dict[str, str], bytes]:
    """Send a raw HTTP request head; return the status, headers and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"{request}\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer = await step(reader.read())  # the server ends its stream after answering
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    assert int(headers["content-length"]) == len(body)
    return int(status_line.split()[1]), headers, body


def fetch(request: str) -> tuple[int, dict[str, str], bytes]:
    """Start a room, send it one plain HTTP request; its answer, as :func:`http`."""

    async def main() -> tuple[int, dict[str, str], bytes]:
        async with chat_server() as (_, port):
            return await http(port, request)

    return run(main())


# ----------------------------------------------------------------------
# The room


def test_every_member_hears_every_message_sender_included():
    async def main():
        async with chat_server() as (room, port), member(port, 1) as alice:
            async with second_member(port, alice) as bob:
                assert list(room.members.values()) == ["guest-1", "guest-2"]
                await alice.send("hello")
                for ws in (alice, bob):
                    assert await step(ws.recv()) == "guest-1: hello"
                await bob.send("héllo ✓ <b>")
                for ws in (alice, bob):
                    assert await step(ws.recv()) == "guest-2: héllo ✓ <b>"
            assert list(room.members.values()) == ["guest-1"]

    run(main())


def test_names_are_not_reused_and_the_count_is_current():
    async def main():
        async with chat_server() as (room, port), member(port, 1) as alice:
            async with second_member(port, alice):
                pass  # it says when guest-2 is gone
            async with airsocket.connect(f"ws://127.0.0.1:{port}/") as carol:
                for ws in (alice, carol):
                    assert await step(ws.recv()) == "* guest-3 joined (2 online)"
                assert list(room.members.values()) == ["guest-1", "guest-3"]

    run(main())


def test_a_binary_message_closes_its_sender_with_1003():
    async def main():
        async with chat_server() as (room, port), member(port, 1) as alice:
            async with second_member(port, alice) as bob:
                await bob.send(b"\x00\x01")
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    await step(bob.recv())
                assert (info.value.code, info.value.reason) == (1003, "text messages only")
            assert len(room.members) == 1

    run(main())


def test_a_message_over_the_limit_closes_its_sender_with_1009():
    async def main():
        async with chat_server() as (room, port), member(port, 1) as alice:
            async with second_member(port, alice) as bob:
                longest = "é" * (MAX_MESSAGE_SIZE // 2)  # exactly the limit in UTF-8
                await bob.send(longest)
                assert await step(alice.recv()) == f"guest-2: {longest}"
                await bob.send("x" * (MAX_MESSAGE_SIZE + 1))
                with pytest.raises(airsocket.ConnectionClosedError) as info:
                    while True:  # first its own copy of the longest message
                        await step(bob.recv())
                assert info.value.code == 1009
            assert len(room.members) == 1

    run(main())


def test_a_slow_reader_is_dropped_and_does_not_stall_the_room():
    chunk = "x" * (MAX_MESSAGE_SIZE - 16)

    async def main():
        # No compression, so that every message costs its size in buffers (and
        # broadcast writes one prepared frame to all). close_timeout bounds
        # how long the dropped member's connection lingers at the end.
        async with (
            chat_server(compression=None, close_timeout=2) as (room, port),
            member(port, 1) as fast,
        ):
            # The slow member never reads past its join notice: after
            # max_queue messages its client stops reading the socket.
            async with member(port, 2, close_timeout=2) as slow:
                assert await step(fast.recv()) == "* guest-2 joined (2 online)"
                notices = []
                # Each message waits for its own copy to come back: the
                # room keeps serving the fast member while the slow one's
                # buffers fill. The kernel's buffers take some MB at most.
                for _ in range(100_000):
                    await fast.send(chunk)
                    while (message := await step(fast.recv())) != f"guest-1: {chunk}":
                        notices.append(message)
                    if notices:
                        break
                assert notices == ["* guest-2 was dropped: too slow (1 online)"]
                assert list(room.members.values()) == ["guest-1"]
                await fast.send("still here")
                assert await step(fast.recv()) == "guest-1: still here"
            # Its 1008 waited behind all it had not read: the server dropped
            # the TCP connection after close_timeout (1006), unless the client
            # read its way to the close frame first.
            assert slow.close_code in (1006, 1008)

    run(main())


def test_say_reaches_every_member():
    async def main():
        async with chat_server() as (room, port), member(port, 1) as alice:
            room.say("* the server speaks")
            assert await step(alice.recv()) == "* the server speaks"

    run(main())


# ----------------------------------------------------------------------
# The page, on the same port


def test_get_root_answers_the_page():
    status, headers, body = fetch("GET / HTTP/1.1")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    page = body.decode()
    assert "<title>airsocket chat</title>" in page
    assert "new WebSocket(`${scheme}//${location.host}/`)" in page
    assert f'data-max-message-size="{MAX_MESSAGE_SIZE}"' in page
    # Self-contained: nothing loaded from elsewhere.
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page)
    assert not re.search(r"@import|url\(", page)


def test_the_page_carries_the_rooms_limit():
    room = ChatRoom(max_message_size=100)
    assert b'data-max-message-size="100"' in room.page
    assert room.server_options()["max_message_size"] == 100


@pytest.mark.parametrize("path", ["/nope", "/index.html", "/chat.html"])
def test_get_of_another_path_is_404(path):
    status, headers, body = fetch(f"GET {path} HTTP/1.1")
    assert status == 404
    assert headers["content-type"].startswith("text/plain")
    assert body == b"not found: the chat is at /\n"


def test_get_root_with_a_query_answers_the_page():
    status, _, _ = fetch("GET /?room=1 HTTP/1.1")
    assert status == 200


def test_other_methods_get_the_handshakes_405():
    status, headers, _ = fetch("POST / HTTP/1.1\r\nContent-Length: 0")
    assert status == 405
    assert headers["allow"] == "GET"


# ----------------------------------------------------------------------
# airsocket serve --chat


@posix_only
def test_serve_chat_prints_its_url_serves_the_page_and_the_room():
    async def main():
        async with cli_process("serve", "--chat", "--port", "0") as proc:
            match = URL_LINE.fullmatch((await first_line(proc)).strip())
            assert match, "the first line gives the URL"
            port = int(match.group(1))
            status, _, body = await http(port, "GET / HTTP/1.1")
            assert status == 200
            assert b"<title>airsocket chat</title>" in body
            async with member(port, 1) as ws:
                assert ws.response.headers.get("Sec-WebSocket-Extensions")  # deflate by default
                await ws.send("hi")
                assert await step(ws.recv()) == "guest-1: hi"
                await interrupt(proc, ws)

    run(main())


def test_run_chat_server_in_process(capsys):
    async def main():
        serving = asyncio.ensure_future(chat.run_chat_server("127.0.0.1", 0, None))
        port = int((await printed(capsys, URL_LINE)).group(1))
        async with member(port, 1) as ws:
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
            await cancel_serving(serving, ws)

    run(main())


def test_main_serve_chat_runs_the_room(monkeypatch):
    calls = []

    async def fake(name, host, port, compression):
        calls.append((name, host, port, compression))
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_server", lambda *args: fake("echo", *args))
    monkeypatch.setattr(cli, "run_chat_server", lambda *args: fake("chat", *args))
    assert cli.main(["serve", "--chat", "--port", "9", "--no-compression"]) == 0
    assert cli.main(["serve", "--chat"]) == 0
    assert cli.main(["serve"]) == 0
    assert calls == [
        ("chat", "127.0.0.1", 9, None),
        ("chat", "127.0.0.1", 8765, "deflate"),
        ("echo", "127.0.0.1", 8765, "deflate"),
    ]
