"""The package's public surface: explicit, documented, as API.md names it."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import airsocket

ROOT = Path(__file__).resolve().parents[1]

# Names API.md promises at the top level of the package.
PROMISED = {
    "connect",
    "serve",
    "WebSocketError",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
    "InvalidURI",
    "InvalidHandshake",
    "InvalidStatus",
    "ProtocolError",
    "PayloadTooBig",
    "ArgumentError",
    "Opcode",
    "CloseCode",
}

MODULES = [
    "airsocket",
    "airsocket.asyncio",
    "airsocket.protocol.connection",
    "airsocket.protocol.opening",
    "airsocket.protocol.states",
    "airsocket.protocol.events",
    "airsocket.protocol.exceptions",
    "airsocket.protocol.frames",
    "airsocket.protocol.handshake",
    "airsocket.protocol.http",
    "airsocket.protocol.options",
    "airsocket.protocol.deflate",
    "airsocket.protocol.uri",
    "airsocket.protocol.keepalive",
    "airsocket.air",
    "airsocket.air.dispatcher",
    "airsocket.air.events",
    "airsocket.air.websocket",
    "airsocket.air.server_socket",
    "airsocket.air.runtime",
    "airsocket.sync",
    "airsocket.tls",
    "airsocket.logs",
    "airsocket.chat",
]


def test_all_is_explicit_and_complete() -> None:
    assert set(airsocket.__all__) >= PROMISED
    for name in airsocket.__all__:
        assert hasattr(airsocket, name), name
    public = {name for name in vars(airsocket) if not name.startswith("_")} - {"annotations"}
    modules = {name for name, value in vars(airsocket).items() if inspect.ismodule(value)}
    assert public - modules <= set(airsocket.__all__)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__, module_name
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{module_name}.{name}"
        if inspect.isclass(value):
            for attr, member in vars(value).items():
                if not attr.startswith("_") and (
                    inspect.isfunction(member) or isinstance(member, property)
                ):
                    assert member.__doc__, f"{module_name}.{name}.{attr}"


def test_argument_error_is_type_and_value_error() -> None:
    assert issubclass(airsocket.ArgumentError, TypeError)
    assert issubclass(airsocket.ArgumentError, ValueError)
    assert issubclass(airsocket.ArgumentError, airsocket.WebSocketError)


def test_layer_contracts_hold() -> None:
    """The import-linter contracts of pyproject.toml (protocol imports no I/O, ...)."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command;"
            " sys.exit(lint_imports_command())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
