"""The Autobahn client testee: the usual fuzzingserver loop on :func:`airsocket.connect`.

Usage: ``python -m tests.conformance.testee_client URL AGENT`` (or run the file).
"""

from __future__ import annotations

import asyncio
import sys

import airsocket


async def echo_case(url: str) -> None:
    """Echo every message of one case until the server closes."""
    try:
        async with airsocket.connect(url, max_message_size=2**63 - 1) as ws:
            async for message in ws:
                await ws.send(message)
    except airsocket.WebSocketError:
        pass  # failing cases are the suite's business; the next case runs


async def run(base: str, agent: str) -> None:
    """Run every case, then ask the server to write its reports."""
    async with airsocket.connect(f"{base}/getCaseCount") as ws:
        count = int(await ws.recv())
    for case in range(1, count + 1):
        await echo_case(f"{base}/runCase?case={case}&agent={agent}")
    async with airsocket.connect(f"{base}/updateReports?agent={agent}") as ws:
        await ws.wait_closed()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2]))
