"""aiohttp benchmark client; see _clientlib.py."""
import _clientlib as C

import aiohttp

import _benchlib as B


class Adapter:
    def __init__(self):
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def connect(self, url, deflate):
        return await self.session.ws_connect(url, compress=B.DEFLATE_WBITS if deflate else 0,
                                             max_msg_size=B.MAX_SIZE, autoping=True)

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
