"""The floor of a server's handshake on an asyncio loop: no WebSocket library at all.

python bench/servers/floor_echo.py PORT [--uvloop]   (run.py: --impls floor)

It answers the load generator's upgrade request with a constant 101 and its close
frame with a constant close frame and a half-close, from ``loop.add_reader``
callbacks on raw non-blocking sockets: the accept, reads and writes that any server
makes, driven by the loop's own selector, and nothing parsed, checked or allocated
per connection beyond the socket and one closure. What it spends per handshake is
the least a server whose socket I/O runs in Python callbacks on that loop can spend;
a library's server is compared with it in the same run. It serves only the
handshake workloads (hs_seq, hs_conc): frames of any other workload get no echo.
"""

import asyncio
import base64
import hashlib
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _benchlib as B
import loadgen

args = B.server_args()
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ACCEPT = base64.b64encode(hashlib.sha1((loadgen.KEY + GUID).encode()).digest()).decode()
RESPONSE = (
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
).encode()
CLOSE = loadgen.server_frame(8, (1000).to_bytes(2, "big"))
BUFFER = bytearray(65536)  # every read lands here: nothing is kept


async def main():
    B.raise_nofile()
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(4096)
    listener.setblocking(False)

    def serve(conn: socket.socket) -> None:
        fd = conn.fileno()
        reads = 0

        def readable() -> None:
            nonlocal reads
            try:
                n = conn.recv_into(BUFFER)
            except BlockingIOError:
                return
            except OSError:
                n = 0
            if n == 0:  # the client's FIN after our close: done
                loop.remove_reader(fd)
                conn.close()
                return
            reads += 1
            if reads == 1:
                conn.send(RESPONSE)  # the upgrade request
            else:
                conn.send(CLOSE)  # its close frame: answer, then half-close
                conn.shutdown(socket.SHUT_WR)

        loop.add_reader(fd, readable)

    def acceptable() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            serve(conn)

    loop.add_reader(listener.fileno(), acceptable)
    B.ready(args.port)
    await B.serve_until_stopped()


B.run_loop(main, args.uvloop)
