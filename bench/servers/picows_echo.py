"""picows echo server: python bench/servers/picows_echo.py PORT [--uvloop] [--broadcast]

picows has no permessage-deflate, so --deflate is ignored (the runner reports n/a).
With --deflate-passthrough it acts as the *fixed server* of the
client-role compressed workload: it answers the offer with
"permessage-deflate; client_no_context_takeover" and echoes each compressed frame
verbatim (RSV1 kept). Because the client must then compress every message on its
own, the echoed payload is a valid compressed message for the client to inflate.

With --coalesce it is the fixed server of the client role (bench/README.md): the
echoes of the frames of one read leave in one write, the mirror of the load generator
of the server role, which writes a burst in one write. Plain picows writes each echo
on its own, so a client then receives a burst as 256 segments, and what the kernel
spends waking it up and reading them outweighs any client's own work.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
import loadgen
from picows import (
    WSListener,
    WSMsgType,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

args = B.server_args()
conns = set()


class Echo(WSListener):
    def on_ws_connected(self, transport):
        self.t = transport
        conns.add(transport)

    def on_ws_disconnected(self, transport):
        conns.discard(transport)

    def on_ws_frame(self, transport, frame):
        mt = frame.msg_type
        if mt == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
            return
        if mt == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
            return
        if args.broadcast:
            payload = frame.get_payload_as_bytes()
            for t in conns:
                t.send(mt, payload, frame.fin, frame.rsv1)
        else:
            transport.send(mt, frame.get_payload_as_memoryview(), frame.fin, frame.rsv1)


class CoalescingEcho(Echo):
    """Echoes every data frame of one read in one write (at the end of the iteration)."""

    def on_ws_connected(self, transport):
        super().on_ws_connected(transport)
        self.out = []
        self.loop = asyncio.get_running_loop()

    def flush(self):
        out, self.out = self.out, []
        if out and not self.t.is_disconnected:
            self.t.underlying_transport.writelines(out)  # uvloop: one writev

    def on_ws_frame(self, transport, frame):
        mt = frame.msg_type
        if mt in (WSMsgType.CLOSE, WSMsgType.PING):
            self.flush()  # what came before goes first
            super().on_ws_frame(transport, frame)
            return
        if not self.out:
            self.loop.call_soon(self.flush)
        payload = frame.get_payload_as_bytes()
        self.out += (loadgen.header(int(mt), len(payload), False, frame.rsv1), payload)


Listener = CoalescingEcho if args.coalesce else Echo


def factory(request):
    if args.deflate_passthrough:
        ext = request.headers.get("sec-websocket-extensions", "")
        if "permessage-deflate" in ext:
            resp = WSUpgradeResponse.create_101_response(
                extra_headers={
                    "Sec-WebSocket-Extensions": "permessage-deflate; client_no_context_takeover"
                }
            )
            return WSUpgradeResponseWithListener(resp, Listener())
    return Listener()


async def main():
    B.raise_nofile()
    server = await ws_create_server(
        factory,
        "127.0.0.1",
        args.port,
        max_frame_size=B.MAX_SIZE,
        backlog=4096,
        websocket_handshake_timeout=30,
    )
    B.ready(args.port)
    await B.serve_until_stopped()
    server.close()


B.run_loop(main, args.uvloop)
