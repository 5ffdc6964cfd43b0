"""airsocket AIR-API echo server (API.md section 1): ServerSocket + WebSocket.start_server,
a websocketData listener that calls send_message.  Impl name: "airsocket-air".

python bench/servers/airsocket_air_echo.py PORT [--uvloop] [--deflate] [--broadcast]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B

B.add_src_to_path()
import airsocket
from airsocket import Event, ServerSocket, ServerSocketConnectEvent, WebSocket, WebSocketEvent

args = B.server_args()
sockets = set()


def on_accept(e):
    ws = WebSocket(**B.airsocket_options(airsocket, args.deflate))

    def on_data(ev):
        fmt = ev.format
        if fmt != WebSocket.fmtTEXT and fmt != WebSocket.fmtBINARY:
            return  # PING/PONG/CLOSE are handled by the library
        if args.broadcast:
            for w in list(sockets):
                w.send_message(fmt, ev.data)
        else:
            ws.send_message(fmt, ev.data)

    ws.add_event_listener(WebSocketEvent.DATA, on_data)
    ws.add_event_listener(Event.CONNECT, lambda ev: sockets.add(ws))
    ws.add_event_listener(Event.CLOSE, lambda ev: sockets.discard(ws))
    ws.start_server(e.socket)


async def main():
    B.raise_nofile()
    server = ServerSocket()
    server.add_event_listener(ServerSocketConnectEvent.CONNECT, on_accept)
    server.bind(args.port, "127.0.0.1")
    server.listen(4096)
    B.ready(args.port)
    try:
        await B.serve_until_stopped()
    finally:
        server.close()


B.run_loop(main, args.uvloop)
