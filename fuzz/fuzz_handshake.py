"""Atheris target: the opening handshake, both roles, through a Connection.

Byte 0: bit 0 makes the core a client (the input is then the server's
response to RFC 6455 1.3's key), bit 1 turns on compression, bit 2 sets
subprotocols and process_request. A handshake failure must be an event
(HandshakeFailed) with the RFC answer queued, never an exception; an
accepted request must yield a 101 response. With the C accelerator, a
request head its parse_upgrade takes must parse and check the same the
Python way (parse_request, then check_request).
"""

from __future__ import annotations

import contextlib

import atheris
from _common import REQUEST, RESPONSE, fixed_random, fuzz

with atheris.instrument_imports(include=["airsocket"]):
    from airsocket.protocol import handshake
    from airsocket.protocol.connection import END_OF_STREAM, Connection, Role, State
    from airsocket.protocol.events import HandshakeFailed, Opened, RequestReceived
    from airsocket.protocol.exceptions import InvalidHandshake
    from airsocket.protocol.http import find_head_end, parse_request
    from airsocket.protocol.options import Options

SEEDS = [
    b"\x00" + REQUEST,
    b"\x02" + REQUEST,
    b"\x04" + REQUEST.replace(b"Upgrade: websocket", b"Upgrade: h2c"),
    b"\x01" + RESPONSE,
    b"\x03" + RESPONSE[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    b"\x05" + RESPONSE[:-2] + b"Sec-WebSocket-Protocol: chat\r\n\r\n",
]


def options_for(flags: int) -> Options:
    extra = flags & 4
    return Options(
        compression="deflate" if flags & 2 else None,
        subprotocols=["chat", "superchat"] if extra else None,
        process_request=(lambda *args: None) if extra else None,
    )


def check_c_upgrade(body: bytes, options: Options) -> None:
    try:
        end = find_head_end(body, options)
    except InvalidHandshake:
        return
    parsed = handshake.parse_upgrade(body[:end], options) if end > 0 else None
    if parsed is None:
        return
    request, checked = parsed
    expected = parse_request(body[:end], options)  # must not raise
    assert (request.path, request.headers.items()) == (expected.path, expected.headers.items())
    outcomes = []
    for args in ((request, options, checked), (expected, options)):
        try:
            offer = handshake.check_request(*args)
        except InvalidHandshake as exc:
            outcomes.append((type(exc), str(exc)))
        else:
            outcomes.append((offer.key, offer.subprotocols, offer.extensions, offer.origin))
    assert outcomes[0] == outcomes[1], outcomes


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flags, body = data[0], data[1:]
    options = options_for(flags)
    if flags & 1:
        conn = Connection(Role.CLIENT, options, random_bytes=fixed_random)
        conn.connect("ws://server.example.com/chat")
        conn.data_to_send()
    else:
        check_c_upgrade(body, options)
        conn = Connection(Role.SERVER, options)
    events = conn.receive_data(body)
    for event in list(events):
        if isinstance(event, RequestReceived):
            try:
                events += conn.accept()
            except InvalidHandshake:  # select_subprotocol may refuse
                conn.reject(400)
    events += conn.receive_eof()
    out = conn.data_to_send()
    assert END_OF_STREAM not in out[:-1]
    for event in events:
        if isinstance(event, HandshakeFailed):
            assert conn.state is State.CLOSED
            if conn.role is Role.SERVER:
                assert conn.response is not None and 300 <= conn.response.status <= 599
        if isinstance(event, Opened) and conn.role is Role.SERVER:
            assert out[0].startswith(b"HTTP/1.1 101 ")
    # The header parsers on their own, fed the same text.
    text = body.decode("latin-1")
    for parse in (handshake.parse_extension_header, handshake.parse_subprotocol_header):
        with contextlib.suppress(InvalidHandshake):
            parse([text])


if __name__ == "__main__":
    fuzz(SEEDS, test_one_input)
