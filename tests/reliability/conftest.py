"""Fixtures for the reliability tests: the local server and Azurite as real processes on 127.0.0.1.

The API runs as `python -m imageauth.serve`, the way a user starts it, so the
tests can read the server process's memory from /proc and see what a client
sees over real sockets. Azurite runs from npm with a temporary folder.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from types import ModuleType

import pytest
from badinputs import Case, bad_inputs
from function_app_loader import functions_by_name, load_function_app
from loopback import free_port, wait_for_port
from reliability_helpers import AZURITE_BLOB, LIMITED_ENV, Server, start_server, stop


@pytest.fixture(scope="session")
def corpus() -> tuple[Case, ...]:
    return bad_inputs()


@pytest.fixture(scope="session")
def api_server() -> Iterator[Server]:
    """The local server with its default limits."""
    server = start_server()
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="session")
def limited_server() -> Iterator[Server]:
    server = start_server(LIMITED_ENV)
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="session")
def function_module() -> ModuleType:
    """`function_app/function_app.py`, imported the way the Functions worker imports it."""
    return load_function_app("reliability_function_app")


@pytest.fixture(scope="session")
def functions(function_module: ModuleType) -> dict:
    """The registered functions by name; `get_functions()` may be called only once per app."""
    return functions_by_name(function_module)


@pytest.fixture(scope="session")
def process_image(functions: dict):
    """The blob trigger's user function, as the worker calls it."""
    return functions["process_image"].get_user_function()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A fresh Azurite blob service on loopback with a temporary folder; yields its port."""
    if not AZURITE_BLOB.exists():
        pytest.fail("Azurite is not installed: run `npm ci` in the repository root.", pytrace=False)
    port = free_port()
    command = [
        str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--location", str(tmp_path_factory.mktemp("azurite")), "--skipApiVersionCheck", "--silent",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        stop(process)
