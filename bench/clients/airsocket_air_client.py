"""airsocket AIR-API benchmark client (API.md section 1), impl "airsocket-air":
WebSocket().connect(url) and a websocketData listener; see _clientlib.py (callback style)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import asyncio

import _benchlib as B
import _clientlib as C


class Adapter:
    callback = True

    def __init__(self):
        B.add_src_to_path()
        import airsocket

        self.airsocket = airsocket
        from airsocket import Event, IOErrorEvent, WebSocket, WebSocketEvent

        self.Event, self.IOErrorEvent, self.WebSocket, self.WebSocketEvent = (
            Event,
            IOErrorEvent,
            WebSocket,
            WebSocketEvent,
        )

    async def connect(self, url, deflate, hook):
        WebSocket = self.WebSocket
        ws = WebSocket(**B.airsocket_options(self.airsocket, deflate))
        opened = asyncio.get_running_loop().create_future()

        def on_data(e):
            if e.format == WebSocket.fmtBINARY or e.format == WebSocket.fmtTEXT:
                hook(e)

        def fail(e):
            if not opened.done():
                opened.set_exception(RuntimeError(f"connect failed: {e.type}"))

        ws.add_event_listener(self.WebSocketEvent.DATA, on_data)
        ws.add_event_listener(
            self.Event.CONNECT, lambda e: opened.done() or opened.set_result(None)
        )
        ws.add_event_listener(self.IOErrorEvent.IO_ERROR, fail)
        ws.add_event_listener(self.Event.CLOSE, fail)
        ws.connect(url)
        await asyncio.wait_for(opened, 30)

        binary, text = WebSocket.fmtBINARY, WebSocket.fmtTEXT
        send_message = ws.send_message

        class Conn:
            def send(self, payload):
                send_message(text if isinstance(payload, str) else binary, payload)

        conn = Conn()
        conn.ws = ws
        return conn

    def data(self, e):
        return e.string_data if e.format == self.WebSocket.fmtTEXT else e.data

    async def close(self, conn):
        conn.ws.close(1000)  # no event for a local close; the TCP end follows in the background


C.main(Adapter)
