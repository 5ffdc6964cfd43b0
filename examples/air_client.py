"""A client written with the AIR API: connect, send a message, print the
answer, close.

    python examples/air_client.py [URL]      (default ws://127.0.0.1:4200/)

Try it against examples/air_server.py.
"""

from __future__ import annotations

import sys

import airsocket
from airsocket import Event, IOErrorEvent, WebSocket, WebSocketEvent


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:4200/"
    ws = WebSocket()

    def on_connect(e: Event) -> None:
        print(f"connected, protocol {ws.protocol}", flush=True)
        ws.send_message(WebSocket.fmtTEXT, "hello")

    def on_data(e: WebSocketEvent) -> None:
        print(f"received {e.format.name}: {e.string_data}", flush=True)
        ws.close()  # a local close dispatches no close event

    def on_close(e: Event) -> None:
        print(f"closed by the server with code {ws.close_reason}", flush=True)

    def on_error(e: IOErrorEvent) -> None:
        print(f"cannot connect: {e.text}", flush=True)

    ws.add_event_listener(Event.CONNECT, on_connect)
    ws.add_event_listener(WebSocketEvent.DATA, on_data)
    ws.add_event_listener(Event.CLOSE, on_close)
    ws.add_event_listener(IOErrorEvent.IO_ERROR, on_error)
    ws.connect(url, ["chat"])


airsocket.run(main)  # returns when the WebSocket is closed
