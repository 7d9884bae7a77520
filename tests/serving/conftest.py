"""Fixtures for the serving tests: real servers, a real Azurite, real Azure Functions objects.

Nothing under test is mocked: the API runs in uvicorn on a loopback port, the
Functions entry points are the decorated functions of `function_app.py`, and
blob results go to an Azurite started here with a temporary folder.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from types import ModuleType

import pytest
from function_app_loader import functions_by_name, load_function_app
from loopback import free_port, wait_for_port
from serving_helpers import REPO_ROOT, START_TIMEOUT_S, ServerThread, encode, noise_image

AZURITE_BLOB = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
# Azurite's published development account: a well-known, non-secret value.
AZURITE_ACCOUNT = "devstoreaccount1"
# pragma: allowlist nextline secret
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="session")
def images() -> dict[str, bytes]:
    """Small valid images of several formats and two unusable files, generated (never committed)."""
    valid = {
        "cifake.png": encode(noise_image(32, 32, 1), "PNG"),
        "photo.jpg": encode(noise_image(320, 240, 2), "JPEG", quality=90),
        "wide.webp": encode(noise_image(300, 100, 3), "WEBP"),
        "palette.gif": encode(noise_image(64, 64, 4).convert("P"), "GIF"),
        "grey.bmp": encode(noise_image(50, 70, 5).convert("L"), "BMP"),
        "scan.tiff": encode(noise_image(90, 60, 6), "TIFF"),
        "phone.avif": encode(noise_image(80, 60, 7), "AVIF"),
        "iphone.heic": encode(noise_image(120, 90, 8), "HEIF", quality=80),
    }
    jpeg = valid["photo.jpg"]
    return {**valid, "corrupt.jpg": jpeg[: len(jpeg) // 3], "notes.txt": b"plain text, not an image\n"}


@pytest.fixture(scope="session")
def valid_names(images: dict[str, bytes]) -> list[str]:
    return [name for name in images if name not in ("corrupt.jpg", "notes.txt")]


@pytest.fixture(scope="session")
def server() -> Iterator[ServerThread]:
    """The API with default settings, as the local server runs it."""
    from imageauth.api import create_app
    from imageauth.settings import Settings

    with ServerThread(create_app(Settings())) as running:
        yield running


@pytest.fixture(scope="session")
def small_limits():
    from imageauth.settings import Settings

    return Settings(max_bytes=40_000, max_files=3, max_pixels=1_000_000, max_request_bytes=100_000)


@pytest.fixture(scope="session")
def limited_server(small_limits) -> Iterator[ServerThread]:
    """The API with small limits, so that limit tests move kilobytes, not megabytes."""
    from imageauth.api import create_app

    with ServerThread(create_app(small_limits)) as running:
        yield running


@pytest.fixture(scope="session")
def function_module() -> ModuleType:
    """`function_app/function_app.py`, imported the way the Functions worker imports it."""
    return load_function_app("imageauth_function_app")


@pytest.fixture(scope="session")
def functions(function_module: ModuleType) -> dict:
    """The app's registered functions by name, as the worker's indexer sees them."""
    return functions_by_name(function_module)


@pytest.fixture(scope="session")
def functions_loop(function_module: ModuleType) -> Iterator[asyncio.Runner]:
    """One event loop for every HTTP invocation, as the worker keeps one; shuts the ASGI app down after."""
    with asyncio.Runner() as runner:
        yield runner
        app = function_module.app
        if app.startup_task_done:
            runner.run(app.middleware.notify_shutdown())
            app.startup_task_done = False  # Nothing left for the app's __del__ to shut down.


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh Azurite blob service on loopback; yields its connection string."""
    if not AZURITE_BLOB.exists():
        pytest.fail("Azurite is not installed: run `npm ci` in the repository root.", pytrace=False)
    port = free_port()
    location = tmp_path_factory.mktemp("azurite")
    command = [
        str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--location", str(location), "--skipApiVersionCheck", "--silent",
    ]  # fmt: skip
    log = (location / "azurite.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, START_TIMEOUT_S)
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
        )
    finally:
        # Azurite's graceful stop waits for idle keep-alive connections; a temporary one need not.
        process.kill()
        process.wait(timeout=10)
        log.close()
