"""airsocket asyncio-API benchmark client (API.md section 2); see _clientlib.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
import _clientlib as C


class Adapter:
    def __init__(self):
        B.add_src_to_path()
        import airsocket

        self.airsocket = airsocket

    async def connect(self, url, deflate):
        c = self.airsocket.connect(url, **B.airsocket_options(self.airsocket, deflate))
        if hasattr(c, "__await__"):
            return await c
        return await c.__aenter__()

    def sender(self, conn, payload):
        return conn.send

    def receiver(self, conn):
        return conn.recv

    def data(self, m):
        return m

    async def close(self, conn):
        await conn.close()


C.main(Adapter)
