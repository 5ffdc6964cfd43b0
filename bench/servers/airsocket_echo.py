"""airsocket asyncio-API echo server (API.md section 2).

python bench/servers/airsocket_echo.py PORT [--uvloop] [--deflate] [--broadcast]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B

B.add_src_to_path()
import airsocket

args = B.server_args()
conns = set()


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def broadcast(ws):
    conns.add(ws)
    try:
        async for message in ws:
            airsocket.broadcast(conns, message)
    finally:
        conns.discard(ws)


async def main():
    B.raise_nofile()
    async with airsocket.serve(
        broadcast if args.broadcast else echo,
        "127.0.0.1",
        args.port,
        **B.airsocket_options(airsocket, args.deflate),
    ):
        B.ready(args.port)
        await B.serve_until_stopped()


B.run_loop(main, args.uvloop)
