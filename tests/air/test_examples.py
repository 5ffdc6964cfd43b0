"""The AIR examples run as a newcomer would run them: the server, then the client against it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from air_helpers import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Bound of each wait for a line or an exit; far above what the examples need.
TIMEOUT = 20.0


class Lines:
    """Reads a process's output lines in a thread, so that waits can be bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next(self) -> str:
        line = self._lines.get(timeout=TIMEOUT)
        assert line is not None, "the process ended"
        return line


def python(script: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / script), *args]


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], Lines, str]]:
    process = subprocess.Popen(
        python("air_server.py", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = Lines(process)
        first = lines.next()
        assert first.startswith("listening on ws://127.0.0.1:"), first
        yield process, lines, first.removeprefix("listening on ")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(TIMEOUT)
        assert process.stdout is not None
        process.stdout.close()


def test_the_client_example_talks_to_the_server_example(
    server: tuple[subprocess.Popen[str], Lines, str],
) -> None:
    _process, lines, url = server
    client = subprocess.run(
        python("air_client.py", url), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert client.returncode == 0, client.stderr
    assert client.stdout.splitlines() == ["connected, protocol chat", "received TEXT: hello"]
    assert lines.next() == "client 127.0.0.1 connected to /"
    assert lines.next() == "client left with code 1000"


@pytest.mark.skipif(os.name == "nt", reason="Ctrl-C is a signal here")
def test_ctrl_c_stops_the_server_example(
    server: tuple[subprocess.Popen[str], Lines, str],
) -> None:
    process, lines, _ = server
    process.send_signal(signal.SIGINT)
    assert process.wait(TIMEOUT) == 0
    assert lines.next() == "server stopped"


def test_the_client_example_reports_a_refused_connection() -> None:
    client = subprocess.run(
        python("air_client.py", f"ws://127.0.0.1:{free_port()}/"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert client.returncode == 0, client.stderr
    assert client.stdout.startswith("cannot connect: ")
