"""Fixtures for the browser tests: the real local server, headless Chromium, and test images.

The page is tested against `python -m imageauth.serve` with the bundled model, and every number
the page shows is compared with what the API returns for the same bytes; only answers the real API
cannot give are crafted, with `page.route` (crafted.py).
Chromium comes from the distribution (`apt-get install -y chromium`): Playwright's own browser
download is not reachable from the machines this project runs on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from credentials import encode
from loopback import free_port
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60


def chromium_path() -> str:
    """The Chromium binary: `IMAGEAUTH_CHROMIUM`, else the Debian package's, else whatever is on PATH."""
    configured = os.environ.get("IMAGEAUTH_CHROMIUM")
    candidates = [configured] if configured else ["/usr/bin/chromium", "chromium", "chromium-browser"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        f"Chromium not found (looked for {', '.join(candidates)}). The browser tests drive the "
        "distribution's Chromium, not Playwright's download: install it with "
        "`apt-get install -y chromium`, or set IMAGEAUTH_CHROMIUM to a Chromium binary.",
        pytrace=False,
    )


class LocalServer:
    """`python -m imageauth.serve` in a subprocess, on a loopback port of its own."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> LocalServer:
        command = [sys.executable, "-m", "imageauth.serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the local server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"the local server did not answer /api/health in {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def predict(self, path: Path) -> httpx.Response:
        """What the API says about the same bytes the page uploads, asked directly."""
        with path.open("rb") as handle:
            return httpx.post(f"{self.base_url}/api/predict", files={"file": (path.name, handle)}, timeout=30)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    local = LocalServer(free_port(), tmp_path_factory.mktemp("server") / "serve.log").start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class PageWatch:
    """What a page did that the tests check after the fact."""

    request_urls: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def foreign_requests(self, allowed_origins: set[str]) -> list[str]:
        def origin(url: str) -> str:
            parts = urlsplit(url)
            return f"{parts.scheme}://{parts.netloc}"

        local_schemes = ("blob", "data")
        return [
            url
            for url in self.request_urls
            if urlsplit(url).scheme not in local_schemes and origin(url) not in allowed_origins
        ]

    def unexpected_console_errors(self) -> list[str]:
        # Chromium logs every 4xx/5xx and refused connection as "Failed to load resource"; the tests
        # provoke those on purpose. Anything else (a CSP violation, a script error) is a bug.
        return [text for text in self.console_errors if not text.startswith("Failed to load resource")]


def open_page(browser, base_url: str, width: int = 1280, height: int = 900, color_scheme: str = "light"):
    """A fresh context and page at `base_url`, watched; returns (context, page, watch)."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, color_scheme=color_scheme, accept_downloads=True
    )
    page = context.new_page()
    watch = PageWatch()
    page.on("request", lambda request: watch.request_urls.append(request.url))
    page.on("console", lambda message: message.type == "error" and watch.console_errors.append(message.text))
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.goto(f"{base_url}/")
    # The honesty note is rewritten from /api/model once it arrives.
    page.locator("#model-version").filter(has_text="Model version").wait_for()
    return context, page, watch


@pytest.fixture
def new_server(tmp_path: Path):
    """Make a server of the test's own (not yet started), for tests that stop and start it."""
    return lambda: LocalServer(free_port(), tmp_path / "serve.log")


@pytest.fixture
def open_site(browser):
    """`open_site(base_url, width=..., color_scheme=...)` -> (context, page, watch)."""
    return lambda base_url, **options: open_page(browser, base_url, **options)


@pytest.fixture
def site(browser, server: LocalServer) -> Iterator:
    """The page from the shared server; afterwards, no foreign request and no script or CSP error."""
    context, page, watch = open_page(browser, server.base_url)
    yield page
    context.close()
    assert watch.page_errors == []
    assert watch.unexpected_console_errors() == []
    assert watch.foreign_requests({server.base_url}) == []


def _photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A small synthetic picture (sky, sun, hills), so screenshots look like a photo page."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = y / height
        draw.line([(0, y), (width, y)], fill=(int(90 + 120 * shade), int(150 + 70 * shade), int(230 - 40 * shade)))
    radius = height // 7
    sun_x = width * (0.25 + 0.15 * seed)
    draw.ellipse((sun_x - radius, height * 0.2, sun_x + radius, height * 0.2 + 2 * radius), fill=(255, 214, 90))
    hills = [(0, 0.65), (0.4, 0.5), (0.75, 0.7), (1, 0.55)]
    outline = [(0, height)] + [(width * x, height * y) for x, y in hills] + [(width, height)]
    draw.polygon(outline, fill=(50 + 20 * seed, 120, 60))
    return image


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Test files: three images (one a portrait phone photo stored sideways) and a text file posing as a JPEG."""
    folder = tmp_path_factory.mktemp("images")
    paths = {}
    # Stored 600x400 with EXIF orientation 6 ("rotate 90° clockwise"): upright it is 400x600.
    exif = Image.Exif()
    exif[0x0112] = 6
    paths["portrait"] = folder / "portrait-phone-photo.jpg"
    _photo_like(600, 400, 0).save(paths["portrait"], quality=90, exif=exif)
    paths["landscape"] = folder / "landscape.jpg"
    _photo_like(640, 420, 1).save(paths["landscape"], quality=90)
    paths["small_png"] = folder / "small-square.png"
    _photo_like(48, 48, 2).save(paths["small_png"])
    # An iPhone's format, which Chromium cannot decode for a preview; the API reads it (pi-heif).
    paths["heic"] = folder / "iphone-photo.heic"
    paths["heic"].write_bytes(encode(_photo_like(480, 360, 3), "HEIF", quality=80))
    paths["not_an_image"] = folder / "notes.jpg"
    paths["not_an_image"].write_text("These are meeting notes, not a photograph.\n", encoding="utf-8")
    return paths


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR
