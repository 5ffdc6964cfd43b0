"""websockets (asyncio implementation) echo server.

python bench/servers/websockets_echo.py PORT [--uvloop] [--deflate] [--broadcast]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
import websockets
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

args = B.server_args()
conns = set()


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def broadcast(ws):
    conns.add(ws)
    try:
        async for message in ws:
            websockets.broadcast(conns, message)
    finally:
        conns.discard(ws)


async def main():
    B.raise_nofile()
    extensions = None
    if args.deflate:
        extensions = [
            ServerPerMessageDeflateFactory(
                server_max_window_bits=B.DEFLATE_WBITS,
                compress_settings={"level": B.DEFLATE_LEVEL, "memLevel": B.DEFLATE_MEMLEVEL},
            )
        ]
    async with serve(
        broadcast if args.broadcast else echo,
        "127.0.0.1",
        args.port,
        compression=None,
        extensions=extensions,
        max_size=B.MAX_SIZE,
        max_queue=None,
        ping_interval=None,
        backlog=4096,
        open_timeout=30,
    ):
        B.ready(args.port)
        await B.serve_until_stopped()


B.run_loop(main, args.uvloop)
