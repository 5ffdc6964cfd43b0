"""picows benchmark client (callback style); see _clientlib.py.  No permessage-deflate."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
import _clientlib as C
from picows import WSListener, WSMsgType, ws_connect


class Conn(WSListener):
    def __init__(self, hook):
        self.hook = hook

    def on_ws_connected(self, transport):
        self.t = transport

    def on_ws_frame(self, transport, frame):
        if frame.msg_type in (WSMsgType.BINARY, WSMsgType.TEXT):
            self.hook(frame)
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()

    def send(self, payload):
        if isinstance(payload, str):
            self.t.send(WSMsgType.TEXT, payload.encode())
        else:
            self.t.send(WSMsgType.BINARY, payload)


class Adapter:
    callback = True

    async def connect(self, url, deflate, hook):
        if deflate:
            raise C.NA("n/a: picows has no permessage-deflate")
        _t, listener = await ws_connect(
            lambda: Conn(hook), url, max_frame_size=B.MAX_SIZE, websocket_handshake_timeout=30
        )
        return listener

    def data(self, frame):
        if frame.msg_type == WSMsgType.TEXT:
            return frame.get_payload_as_utf8_text()
        return frame.get_payload_as_bytes()

    async def close(self, conn):
        conn.t.send_close()
        conn.t.disconnect()
        await conn.t.wait_disconnected()


C.main(Adapter)
