"""Tests of airsocket.cli: ``airsocket serve`` and ``airsocket connect URL``.

The commands run as real subprocesses (``python -m airsocket``) against real
sockets on 127.0.0.1; the same functions also run in-process, where the
coverage of cli.py is measured. Nothing waits for time to pass: every wait is
for an event (a line printed, a message received, a process ending) under a
bound that only a hang would reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest

import airsocket
from airsocket import _serving, cli
from raw_wire import free_port

T = TypeVar("T")
#: Bound of one wait; only a hang reaches it.
STEP = 10.0
AIRSOCKET = (sys.executable, "-m", "airsocket")
URL_LINE = re.compile(r"airsocket: echo server on (ws://\S+)")

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pipes")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` in a debug loop, bounded."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, 60)

    return asyncio.run(bounded(), debug=True)


async def step(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, STEP)


def _default_sigint() -> None:
    # A shell that starts the tests in the background may ignore SIGINT, and
    # an ignored signal stays ignored across exec: restore the default so the
    # child's Python turns SIGINT into KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.asynccontextmanager
async def cli_process(*args: str, stdin: int | None = None) -> AsyncIterator[Any]:
    """Start ``python -m airsocket *args``; make sure it is gone afterwards."""
    proc = await asyncio.create_subprocess_exec(
        *AIRSOCKET,
        *args,
        stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_default_sigint if sys.platform != "win32" else None,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def first_line(proc: Any) -> str:
    line: bytes = await step(proc.stdout.readline())
    return line.decode()


async def interrupt(proc: Any, ws: airsocket.Connection) -> None:
    """Ctrl-C a served ``airsocket serve``: it must close ``ws`` with 1001
    (going away) and exit with status 0, without a traceback."""
    proc.send_signal(signal.SIGINT)
    with pytest.raises(airsocket.ConnectionClosedOK) as info:
        await step(ws.recv())
    assert info.value.code == 1001
    _, err = await step(proc.communicate())
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


async def printed(capsys: pytest.CaptureFixture[str], pattern: re.Pattern[str]) -> re.Match[str]:
    """Wait until this process printed a line matching ``pattern`` (bounded)."""
    out = ""
    while (match := pattern.search(out)) is None:
        await step(asyncio.sleep(0.01))
        out += capsys.readouterr().out
    return match


async def cancel_serving(serving: asyncio.Future[None], ws: airsocket.Connection) -> None:
    """Cancel an in-process server: ``ws`` must see a normal close, ``serving`` end cancelled."""
    serving.cancel()
    with pytest.raises(airsocket.ConnectionClosedOK):
        await step(ws.recv())
    with pytest.raises(asyncio.CancelledError):
        await serving


# ----------------------------------------------------------------------
# --help


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ["serve", "connect", "--verbose"]),
        (("serve",), ["--host", "--port", "--no-compression", "--chat"]),
        (("connect",), ["url"]),
    ],
)
def test_help(args, expected):
    async def main():
        async with cli_process(*args, "--help") as proc:
            out, err = await step(proc.communicate())
            return proc.returncode, out.decode(), err

    status, out, err = run(main())
    assert status == 0, err
    assert out.startswith("usage: airsocket")
    for word in expected:
        assert word in out


def test_console_script_help():
    script = shutil.which("airsocket")
    if script is None:
        pytest.skip("the airsocket console script is not on PATH")

    async def main():
        proc = await asyncio.create_subprocess_exec(
            script, "--help", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await step(proc.communicate())
        return proc.returncode, out.decode()

    status, out = run(main())
    assert status == 0
    assert "usage: airsocket" in out


def test_missing_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    assert "usage: airsocket" in capsys.readouterr().err


# ----------------------------------------------------------------------
# airsocket serve


@posix_only
def test_serve_echoes_then_stops_on_sigint():
    port = free_port()

    async def main():
        async with cli_process("serve", "--host", "127.0.0.1", "--port", str(port)) as proc:
            line = await first_line(proc)
            assert URL_LINE.match(line).group(1) == f"ws://127.0.0.1:{port}/"
            async with airsocket.connect(f"ws://127.0.0.1:{port}/") as ws:
                assert ws.response.headers.get("Sec-WebSocket-Extensions")  # deflate by default
                await ws.send("hello")
                assert await step(ws.recv()) == "hello"
                await ws.send(b"\x00\x01")
                assert await step(ws.recv()) == b"\x00\x01"
                await interrupt(proc, ws)

    run(main())


@posix_only
def test_serve_without_compression_then_terminate():
    port = free_port()

    async def main():
        async with cli_process("serve", "--port", str(port), "--no-compression") as proc:
            assert URL_LINE.match(await first_line(proc))
            async with airsocket.connect(f"ws://127.0.0.1:{port}/") as ws:
                assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
                await ws.send("plain")
                assert await step(ws.recv()) == "plain"
            proc.terminate()
            await step(proc.wait())
            assert proc.returncode == -signal.SIGTERM

    run(main())


def test_serve_refuses_a_busy_port():
    async def main():
        with socket.create_server(("127.0.0.1", 0)) as busy:
            port = busy.getsockname()[1]
            async with cli_process("serve", "--port", str(port)) as proc:
                out, err = await step(proc.communicate())
                assert proc.returncode != 0
                assert b"address already in use" in err.lower()
                assert out == b""

    run(main())


# ----------------------------------------------------------------------
# airsocket connect


@contextlib.asynccontextmanager
async def serving(handler: Any) -> AsyncIterator[str]:
    """An airsocket server in this loop; yields its URL."""
    async with airsocket.serve(handler, "127.0.0.1", 0) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


@contextlib.contextmanager
def serving_in_thread(handler: Any) -> Any:
    """An airsocket server on its own loop in a thread, for code that runs
    asyncio.run() itself (cli.main); yields its URL."""
    started: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], str]] = []
    ready = threading.Event()

    async def serve() -> None:
        stop = asyncio.get_running_loop().create_future()
        async with serving(handler) as url:
            started.append((asyncio.get_running_loop(), stop, url))
            ready.set()
            await stop

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(STEP), "the server thread did not start"
        yield started[0][2]
    finally:
        loop, stop, _ = started[0]
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(STEP)
        assert not thread.is_alive()


def test_connect_sends_stdin_lines():
    received: list[str] = []

    async def handler(ws):
        async for message in ws:
            received.append(message)

    async def main():
        async with (
            serving(handler) as url,
            cli_process("connect", url, stdin=asyncio.subprocess.PIPE) as proc,
        ):
            _, err = await step(proc.communicate("hello\nwörld\nno newline".encode()))
            assert proc.returncode == 0, err

    run(main())
    assert received == ["hello", "wörld", "no newline"]


def test_connect_prints_what_comes_back():
    async def main():
        async with (
            serving(cli.echo) as url,
            cli_process("connect", url, stdin=asyncio.subprocess.PIPE) as proc,
        ):
            for text in ("hello", "wörld"):
                proc.stdin.write(f"{text}\n".encode())
                assert await step(proc.stdout.readline()) == f"< {text}\n".encode()
            proc.stdin.close()  # end of input: the client closes and exits
            _, err = await step(proc.communicate())
            assert proc.returncode == 0, err

    run(main())


def test_connect_ends_when_the_server_closes():
    async def handler(ws):
        await ws.send("bye")
        await ws.send(b"\x00raw")

    async def main():
        async with (
            serving(handler) as url,
            cli_process("connect", url, stdin=asyncio.subprocess.PIPE) as proc,
        ):
            # stdin stays open: the client must not wait for it
            out = await step(proc.stdout.read())
            await step(proc.wait())
            assert proc.returncode == 0
            assert out.decode().splitlines() == ["< bye", "< b'\\x00raw'"]

    run(main())


def test_connect_reports_an_error_close():
    async def handler(ws):
        raise RuntimeError("server bug")

    async def main():
        async with (
            serving(handler) as url,
            cli_process("connect", url, stdin=asyncio.subprocess.PIPE) as proc,
        ):
            _, err = await step(proc.communicate())
            assert proc.returncode == 1
            assert "1011" in err.decode()
            assert "Traceback" not in err.decode()

    run(main())


def test_connect_to_nothing_fails():
    async def main():
        url = f"ws://127.0.0.1:{free_port()}/"
        async with cli_process("connect", url) as proc:
            _, err = await step(proc.communicate())
            assert proc.returncode == 1
            assert b"refused" in err.lower()

    run(main())


# ----------------------------------------------------------------------
# In-process: the same code paths, where coverage sees them


class PipeStdin:
    """Replace sys.stdin with a pipe the test writes to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        read_fd, self.write_fd = os.pipe()
        self.file = os.fdopen(read_fd, "r")
        monkeypatch.setattr(sys, "stdin", self.file)

    def write(self, text: str) -> None:
        os.write(self.write_fd, text.encode())

    def close(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1


def reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if "_read_lines" in thread.name]


def test_run_server_in_process(capsys):
    async def main():
        serving = asyncio.ensure_future(cli.run_server("127.0.0.1", 0, "deflate"))
        url = (await printed(capsys, URL_LINE)).group(1)
        async with airsocket.connect(url) as ws:
            await ws.send("in process")
            assert await step(ws.recv()) == "in process"
            await cancel_serving(serving, ws)

    run(main())


def test_address_formats_ipv6():
    assert _serving.address(("::1", 8765, 0, 0)) == "[::1]:8765"
    assert _serving.address(("127.0.0.1", 8765)) == "127.0.0.1:8765"


def test_main_serve_passes_options_and_exits_cleanly_on_ctrl_c(monkeypatch):
    calls = []

    async def fake_run_server(host, port, compression):
        calls.append((host, port, compression))
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_server", fake_run_server)
    assert cli.main(["serve", "--host", "::1", "--port", "9", "--no-compression"]) == 0
    assert cli.main(["-v", "serve"]) == 0
    assert calls == [("::1", 9, None), ("127.0.0.1", 8765, "deflate")]


@posix_only
def test_run_client_in_process(monkeypatch, capsys):
    stdin = PipeStdin(monkeypatch)

    async def main():
        async with serving(cli.echo) as url:
            client = asyncio.ensure_future(cli.run_client(url))
            for text in ("one", "two"):
                stdin.write(f"{text}\n")
                printed = ""
                while f"< {text}\n" not in printed:
                    await step(asyncio.sleep(0.01))
                    printed += capsys.readouterr().out
            stdin.write("tail without newline")
            stdin.close()
            assert await step(client) == 0

    try:
        run(main())
    finally:
        stdin.close()
    for thread in reader_threads():
        thread.join(STEP)
    assert not reader_threads(), "the stdin thread ends at the end of input"


@posix_only
def test_main_connect_in_process_server_closes_first(monkeypatch, capsys):
    """The server closes while stdin is still open; stdin ends later."""
    stdin = PipeStdin(monkeypatch)

    async def handler(ws):
        await ws.send("only this")

    try:
        with serving_in_thread(handler) as url:
            assert cli.main(["connect", url]) == 0
        assert capsys.readouterr().out == "< only this\n"
        # The client is gone; input arriving now must end the stdin thread
        # quietly (its loop is closed).
        stdin.write("late line\n")
        stdin.close()
        for reader in reader_threads():
            reader.join(STEP)
        assert not reader_threads()
    finally:
        stdin.close()


@posix_only
def test_main_connect_in_process_error_close(monkeypatch, capsys):
    stdin = PipeStdin(monkeypatch)

    async def handler(ws):
        raise RuntimeError("server bug")

    try:
        with serving_in_thread(handler) as url:
            assert cli.main(["connect", url]) == 1
        assert "1011" in capsys.readouterr().err
    finally:
        stdin.close()
