"""An echo server written with the AIR API: a ServerSocket hands each TCP
connection to a new WebSocket, which echoes every message back.

    python examples/air_server.py [PORT]      (default 4200; 0 picks a free port)

Stop it with Ctrl-C: every open WebSocket is closed with 1001 (going away).
"""

from __future__ import annotations

import sys

import airsocket
from airsocket import Event, ServerSocket, ServerSocketConnectEvent, WebSocket, WebSocketEvent


def serve_connection(event: ServerSocketConnectEvent) -> None:
    ws = WebSocket()
    ws.protocol = "chat"  # accepted when the client offers it

    def on_connect(e: Event) -> None:
        print(f"client {ws.remote_address[0]} connected to {ws.request_path}", flush=True)

    def on_data(e: WebSocketEvent) -> None:
        if e.format == WebSocket.fmtTEXT:
            ws.send_message(WebSocket.fmtTEXT, e.string_data)
        elif e.format == WebSocket.fmtBINARY:
            ws.send_message(WebSocket.fmtBINARY, e.data)
        # PINGs were answered already; PONGs need nothing.

    def on_close(e: Event) -> None:
        print(f"client left with code {ws.close_reason}", flush=True)

    ws.add_event_listener(Event.CONNECT, on_connect)
    ws.add_event_listener(WebSocketEvent.DATA, on_data)
    ws.add_event_listener(Event.CLOSE, on_close)
    ws.start_server(event.socket)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4200
    server = ServerSocket()
    server.add_event_listener(ServerSocketConnectEvent.CONNECT, serve_connection)
    server.bind(port, "127.0.0.1")
    server.listen()
    print(f"listening on ws://127.0.0.1:{server.local_port}/", flush=True)


airsocket.run(main)  # returns once everything is closed (Ctrl-C closes it all)
print("server stopped", flush=True)
