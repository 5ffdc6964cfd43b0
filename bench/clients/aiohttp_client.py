"""aiohttp benchmark client; see _clientlib.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
import _clientlib as C
import aiohttp


class Adapter:
    def __init__(self):
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def connect(self, url, deflate):
        return await self.session.ws_connect(
            url, compress=B.DEFLATE_WBITS if deflate else 0, max_msg_size=B.MAX_SIZE, autoping=True
        )

    def sender(self, conn, payload):
        return conn.send_str if isinstance(payload, str) else conn.send_bytes

    def receiver(self, conn):
        return conn.receive

    def data(self, m):
        return m.data

    async def close(self, conn):
        await conn.close()

    async def shutdown(self):
        await self.session.close()


C.main(Adapter)
