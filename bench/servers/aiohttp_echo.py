"""aiohttp echo server.

python bench/servers/aiohttp_echo.py PORT [--uvloop] [--deflate] [--broadcast]
aiohttp compresses at zlib level 1 (Z_BEST_SPEED, hard-coded) with a 15-bit window.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
from aiohttp import WSMsgType, web

args = B.server_args()
conns = set()


async def handler(request):
    ws = web.WebSocketResponse(
        compress=B.DEFLATE_WBITS if args.deflate else False, max_msg_size=B.MAX_SIZE, autoping=True
    )
    await ws.prepare(request)
    conns.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                targets = conns if args.broadcast else (ws,)
                for w in targets:
                    await w.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                targets = conns if args.broadcast else (ws,)
                for w in targets:
                    await w.send_str(msg.data)
    finally:
        conns.discard(ws)
    return ws


async def main():
    B.raise_nofile()
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
    await site.start()
    B.ready(args.port)
    await B.serve_until_stopped()


B.run_loop(main, args.uvloop)
