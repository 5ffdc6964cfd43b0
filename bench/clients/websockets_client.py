"""websockets (asyncio implementation) benchmark client; see _clientlib.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
import _clientlib as C
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


class Adapter:
    async def connect(self, url, deflate):
        ext = None
        if deflate:
            ext = [
                ClientPerMessageDeflateFactory(
                    client_max_window_bits=B.DEFLATE_WBITS,
                    compress_settings={"level": B.DEFLATE_LEVEL, "memLevel": B.DEFLATE_MEMLEVEL},
                )
            ]
        return await connect(
            url,
            compression=None,
            extensions=ext,
            max_size=B.MAX_SIZE,
            max_queue=None,
            ping_interval=None,
            open_timeout=30,
        )

    def sender(self, conn, payload):
        return conn.send

    def receiver(self, conn):
        return conn.recv

    def data(self, m):
        return m

    async def close(self, conn):
        await conn.close()


C.main(Adapter)
