"""Atheris target: arbitrary bytes after the handshake, into a Connection.

Byte 0 chooses the setup: bit 0 negotiates permessage-deflate, bit 1 makes
the core a client instead of a server, bits 2-7 the size of the reads (0:
the whole input at once). The rest is what the peer sends, fed to a core
with a 64 KiB message limit and to one with none (``MAX_MESSAGE_SIZE_LIMIT``,
where a header may announce up to 2**63 - 1 bytes). Peer input must
never raise out of the core (DESIGN.md, "Errors"), and what the core writes
must keep the contract: bytes, END_OF_STREAM at most once and last.
"""

from __future__ import annotations

import atheris
from _common import REQUEST, RESPONSE, fixed_random, fuzz

with atheris.instrument_imports(include=["airsocket"]):
    from airsocket.protocol.connection import END_OF_STREAM, Connection, Role
    from airsocket.protocol.events import ConnectionFailed, Event, HandshakeFailed
    from airsocket.protocol.options import MAX_MESSAGE_SIZE_LIMIT, Options

SEEDS = [
    b"\x00" + bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),  # masked "Hello"
    b"\x02" + bytes.fromhex("01 03 48 65 6c 80 02 6c 6f"),  # fragmented "Hello"
    b"\x01" + bytes.fromhex("c1 80 00 00 00 00"),  # empty compressed text
    b"\x06" + bytes.fromhex("89 05 48 65 6c 6c 6f 88 02 03 e8"),  # ping, close
]


def open_core(flags: int, max_message_size: int) -> Connection:
    options = Options(
        compression="deflate" if flags & 1 else None, max_message_size=max_message_size
    )
    if flags & 2:
        conn = Connection(Role.CLIENT, options, random_bytes=fixed_random)
        conn.connect("ws://server.example.com/chat")
        ext = b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n" if flags & 1 else b"\r\n"
        events = conn.receive_data(RESPONSE[:-2] + ext)
    else:
        conn = Connection(Role.SERVER, options)
        conn.receive_data(REQUEST)
        events = conn.accept()
    assert events, "the handshake opens"
    conn.data_to_send()
    return conn


def check_output(conn: Connection, ended: bool) -> bool:
    for index, chunk in enumerate(out := conn.data_to_send()):
        assert isinstance(chunk, bytes)
        if chunk == END_OF_STREAM:
            assert not ended and index == len(out) - 1, "END_OF_STREAM once, last"
            ended = True
    return ended


def test_one_input(data: bytes) -> None:
    if not data:
        return
    for max_message_size in (1 << 16, MAX_MESSAGE_SIZE_LIMIT):
        feed_core(open_core(data[0], max_message_size), (data[0] >> 2) or len(data), data[1:])


def feed_core(conn: Connection, size: int, body: bytes) -> None:
    events: list[Event] = []
    ended = False
    for start in range(0, len(body), size):
        events += conn.receive_data(body[start : start + size])
        if conn.input_pending:
            events += conn.receive_data(b"")
        ended = check_output(conn, ended)
    events += conn.receive_eof()
    check_output(conn, ended)
    assert all(isinstance(event, Event) for event in events)
    endings = [e for e in events if isinstance(e, (ConnectionFailed, HandshakeFailed))]
    assert len(endings) <= 1 and (not endings or events[-1] is endings[0])


if __name__ == "__main__":
    fuzz(SEEDS, test_one_input)
