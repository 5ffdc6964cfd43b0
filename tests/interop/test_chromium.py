"""airsocket's server against headless Chromium's WebSocket (the browser as client).

The page is about:blank with a script of helpers set as its content: it
connects to our server cross-origin (``Origin: null``), as a page from
anywhere would. about:blank is no secure context, so no ``crypto.subtle``:
messages are compared by length and CRC-32 (and byte for byte in the page).
One browser serves the whole module; our server runs on an event loop
thread because Playwright's sync API owns the main thread's loop.
"""

from __future__ import annotations

import base64
import contextlib
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import (
    BIG,
    COMPRESSIBLE,
    TEXT,
    ConnectionRecord,
    LoopThread,
    OurServer,
    assert_same,
    extension_names,
)

pytestmark = [pytest.mark.interop, pytest.mark.browser]

# What the tests call through page.evaluate. Every wait is bounded so that a
# silent server fails the test instead of hanging page.evaluate.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>airsocket interop</title>
<!-- An inline icon: no /favicon.ico request, which would be a second plain GET. -->
<link rel="icon" href="data:,">
<script>
"use strict";
const LIMIT_MS = 30000;

function bounded(promise, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`timed out: ${what}`)), LIMIT_MS)),
  ]);
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

// The CRC-32 of zlib.crc32, for a digest Python can compute in C.
function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Opens a WebSocket and queues what it receives; resolves once it is open
// or closed (a refused connection never opens).
function connect(url, protocols) {
  const state = { queue: [], waiters: [], closed: null, errored: false };
  state.ws = new WebSocket(url, protocols);
  state.ws.binaryType = "arraybuffer";
  state.ws.onmessage = (event) => {
    state.queue.push(event.data);
    state.waiters.splice(0).forEach((wake) => wake());
  };
  state.ws.onerror = () => { state.errored = true; };
  return bounded(new Promise((resolve) => {
    state.ws.onopen = () => resolve(state);
    state.ws.onclose = (event) => {
      state.closed = { code: event.code, reason: event.reason, wasClean: event.wasClean };
      state.waiters.splice(0).forEach((wake) => wake());
      resolve(state);
    };
  }), "open");
}

// The next message, or null once the connection is closed.
async function next(state) {
  while (state.queue.length === 0 && state.closed === null) {
    await bounded(new Promise((wake) => state.waiters.push(wake)), "message");
  }
  return state.queue.length ? state.queue.shift() : null;
}

async function closed(state) {
  while (state.closed === null) {
    await bounded(new Promise((wake) => state.waiters.push(wake)), "close");
  }
  return state.closed;
}

function randomBytes(length) {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) {  // getRandomValues' limit per call
    crypto.getRandomValues(bytes.subarray(i, Math.min(i + 65536, length)));
  }
  return bytes;
}

function makeMessage(spec) {
  switch (spec.kind) {
    case "text": return spec.text;
    case "binary": return Uint8Array.from(atob(spec.base64), (c) => c.charCodeAt(0));
    case "random-binary": return randomBytes(spec.length);
    case "random-text": {
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const bytes = randomBytes(spec.length);
      const chars = new Array(spec.length);
      for (let i = 0; i < spec.length; i++) chars[i] = alphabet[bytes[i] & 63];
      return chars.join("");
    }
  }
  throw new Error(`unknown kind ${spec.kind}`);
}

function asBytes(message) {
  return typeof message === "string"
    ? new TextEncoder().encode(message) : new Uint8Array(message);
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Sends one message to an echo URL and checks what comes back.
async function roundTrip(url, spec) {
  const state = await connect(url);
  if (state.closed) return { closed: state.closed };
  const sent = makeMessage(spec);
  state.ws.send(sent);
  const echo = await next(state);
  const result = {
    extensions: state.ws.extensions,
    type: typeof echo === "string" ? "text" : echo === null ? "none" : "binary",
    length: echo === null ? -1 : asBytes(echo).length,
    crc32: echo === null ? -1 : crc32(asBytes(echo)),
    sentType: typeof sent === "string" ? "text" : "binary",
    sentLength: asBytes(sent).length,
    sentCrc32: crc32(asBytes(sent)),
    same: echo !== null && typeof echo === typeof sent
      && (typeof sent === "string" ? echo === sent : sameBytes(asBytes(echo), sent)),
  };
  state.ws.close(1000);
  result.closed = await closed(state);
  return result;
}
</script>
"""


def text_spec(text: str) -> dict[str, Any]:
    return {"kind": "text", "text": text}


def binary_spec(data: bytes) -> dict[str, Any]:
    return {"kind": "binary", "base64": base64.b64encode(data).decode()}


# (id, what the page sends, the exact message when Python knows it)
MESSAGES: list[tuple[str, dict[str, Any], str | bytes | None]] = [
    ("text", text_spec(TEXT), TEXT),
    ("binary", binary_spec(bytes(range(256)) * 4), bytes(range(256)) * 4),
    ("empty-text", text_spec(""), ""),
    ("empty-binary", binary_spec(b""), b""),
    ("compressible-text", text_spec(COMPRESSIBLE), COMPRESSIBLE),
    ("big-binary", {"kind": "random-binary", "length": BIG}, None),
    ("big-text", {"kind": "random-text", "length": BIG}, None),
]


@contextlib.contextmanager
def our_server(loop_thread: LoopThread, **options: Any) -> Iterator[OurServer]:
    """Our server on the loop thread for the block; it also serves PAGE at ``/``."""

    async def start() -> OurServer:
        server = OurServer(page=PAGE, **options)
        return await server.__aenter__()

    server = loop_thread.run(start())
    try:
        yield server
    finally:
        loop_thread.run(server.__aexit__())


def load_helpers(page: Any) -> None:
    """Put PAGE's script in the about:blank page."""
    page.set_content(PAGE)
    assert page.url == "about:blank"
    assert page.evaluate("typeof roundTrip") == "function"


def finished(loop_thread: LoopThread, server: OurServer) -> ConnectionRecord:
    """The record of the next connection to ``server``, once it is over."""

    async def wait() -> ConnectionRecord:
        return await (await server.next_connection()).finished()

    return loop_thread.run(wait())


def crc32(message: str | bytes) -> int:
    return zlib.crc32(message.encode() if isinstance(message, str) else message)


def byte_length(message: str | bytes) -> int:
    return len(message.encode() if isinstance(message, str) else message)


# ----------------------------------------------------------------------
# Messages


@pytest.mark.parametrize(
    ("spec", "exact"), [(spec, exact) for _, spec, exact in MESSAGES], ids=[m[0] for m in MESSAGES]
)
def test_browser_round_trip(
    loop_thread: LoopThread, page: Any, spec: dict[str, Any], exact: str | bytes | None
) -> None:
    load_helpers(page)
    with our_server(loop_thread) as server:
        result = page.evaluate("([url, spec]) => roundTrip(url, spec)", [server.url(), spec])
        record = finished(loop_thread, server)
    assert result["same"] is True, result
    assert result["type"] == result["sentType"]
    assert result["closed"] == {"code": 1000, "reason": "", "wasClean": True}
    assert len(record.received) == 1
    received = record.received[0]
    assert isinstance(received, str) is (result["sentType"] == "text")
    assert byte_length(received) == result["sentLength"] == result["length"]
    assert crc32(received) == result["sentCrc32"] == result["crc32"]
    if exact is not None:
        assert_same(received, exact)
    else:
        assert byte_length(received) == BIG
    assert record.close_code == 1000
    # about:blank has an opaque origin.
    assert record.request_headers.get("Origin") == "null"


# ----------------------------------------------------------------------
# Ping and pong


def test_our_server_ping_the_browser(loop_thread: LoopThread, page: Any) -> None:
    script = """async (url) => {
        const state = await connect(url);
        const message = await next(state);
        state.ws.close(1000);
        return message;
    }"""
    load_helpers(page)
    with our_server(loop_thread) as server:
        assert page.evaluate(script, server.url("/ping")) == "pong received"
        record = finished(loop_thread, server)
    assert isinstance(record.latency, float)
    assert 0 < record.latency < 30


# ----------------------------------------------------------------------
# Subprotocols

SUBPROTOCOL_SCRIPT = """async ([url, protocols]) => {
    const state = await connect(url, protocols);
    if (state.closed) return { closed: state.closed };
    const protocol = state.ws.protocol;
    state.ws.send("still works");
    const echo = await next(state);
    state.ws.close(1000);
    return { protocol, echo, closed: await closed(state) };
}"""


def test_browser_subprotocol_chosen_by_our_server(loop_thread: LoopThread, page: Any) -> None:
    load_helpers(page)
    with our_server(loop_thread, subprotocols=["superchat", "chat"]) as server:
        result = page.evaluate(SUBPROTOCOL_SCRIPT, [server.url(), ["chat", "superchat"]])
        record = finished(loop_thread, server)
    # We take the client's first choice that we support.
    assert result["protocol"] == "chat"
    assert result["echo"] == "still works"
    assert record.subprotocol == "chat"
    assert record.request_headers.get("Sec-WebSocket-Protocol") == "chat, superchat"


def test_browser_no_common_subprotocol(loop_thread: LoopThread, page: Any) -> None:
    # We accept without a subprotocol, as RFC 6455 allows; Chromium then
    # fails the connection itself ("Sent non-empty 'Sec-WebSocket-Protocol'
    # header but no response was received"), as Node's ws does.
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    load_helpers(page)
    with our_server(loop_thread, subprotocols=["superchat"]) as server:
        result = page.evaluate(SUBPROTOCOL_SCRIPT, [server.url(), ["chat"]])
        record = finished(loop_thread, server)
    assert result == {"closed": {"code": 1006, "reason": "", "wasClean": False}}
    assert any("Sec-WebSocket-Protocol" in text for text in console), console
    assert record.subprotocol is None
    assert "Sec-WebSocket-Protocol" not in record.response_headers
    assert record.close_code == 1006


def test_browser_without_subprotocol_to_server_with_some(
    loop_thread: LoopThread, page: Any
) -> None:
    load_helpers(page)
    with our_server(loop_thread, subprotocols=["superchat"]) as server:
        result = page.evaluate(SUBPROTOCOL_SCRIPT, [server.url(), []])
        record = finished(loop_thread, server)
    assert result["protocol"] == ""
    assert result["echo"] == "still works"
    assert record.subprotocol is None
    assert "Sec-WebSocket-Protocol" not in record.request_headers


# ----------------------------------------------------------------------
# Close codes and reasons


def test_browser_close_code_reaches_our_server(loop_thread: LoopThread, page: Any) -> None:
    script = """async (url) => {
        const state = await connect(url);
        state.ws.close(4000, "bye");
        return await closed(state);
    }"""
    load_helpers(page)
    with our_server(loop_thread) as server:
        closed = page.evaluate(script, server.url())
        record = finished(loop_thread, server)
    assert (record.close_code, record.close_reason) == (4000, "bye")
    # We echo the browser's code back in our close frame.
    assert closed["code"] == 4000
    assert closed["wasClean"] is True


def test_our_server_close_code_reaches_the_browser(loop_thread: LoopThread, page: Any) -> None:
    script = """async (url) => closed(await connect(url))"""
    load_helpers(page)
    with our_server(loop_thread) as server:
        closed = page.evaluate(script, server.url("/close/4001/later"))
    assert closed == {"code": 4001, "reason": "later", "wasClean": True}


# ----------------------------------------------------------------------
# permessage-deflate: Chromium always offers it


@pytest.mark.parametrize(
    ("compression", "negotiated"), [("deflate", True), (None, False)], ids=["deflate", "off"]
)
def test_browser_compression(
    loop_thread: LoopThread, page: Any, compression: str | None, negotiated: bool
) -> None:
    load_helpers(page)
    with our_server(loop_thread, compression=compression) as server:
        for spec in (text_spec(COMPRESSIBLE), binary_spec(COMPRESSIBLE.encode())):
            result = page.evaluate("([url, spec]) => roundTrip(url, spec)", [server.url(), spec])
            assert result["same"] is True, result
            if negotiated:
                assert result["extensions"].startswith("permessage-deflate")
            else:
                assert result["extensions"] == ""
            record = finished(loop_thread, server)
            assert len(record.received) == 1
            assert crc32(record.received[0]) == crc32(COMPRESSIBLE)
            offered = record.request_headers["Sec-WebSocket-Extensions"]
            assert extension_names(offered) == ["permessage-deflate"]
            header = record.response_headers.get("Sec-WebSocket-Extensions")
            assert extension_names(header) == (["permessage-deflate"] if negotiated else [])


# ----------------------------------------------------------------------
# process_request: a page and its WebSocket on one port


def test_process_request_serves_a_page_on_the_same_port(loop_thread: LoopThread, page: Any) -> None:
    with our_server(loop_thread) as server:
        response = page.goto(f"http://127.0.0.1:{server.port}/")
        assert response is not None
        assert response.status == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert page.title() == "airsocket interop"
        # Same origin this time: the page's own host.
        result = page.evaluate(
            "(spec) => roundTrip(`ws://${location.host}/echo`, spec)", text_spec(TEXT)
        )
        record = finished(loop_thread, server)
    assert result["same"] is True
    assert record.received == [TEXT]
    assert record.request_headers.get("Origin") == f"http://127.0.0.1:{server.port}"
