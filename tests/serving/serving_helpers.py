"""Helpers shared by the serving tests and their fixtures (a module, so that tests can import them)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from credentials import encode  # noqa: F401 - the serving tests' file writer, re-exported
from fastapi import FastAPI
from loopback import free_port
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    """A smooth random picture: distinct per seed, so different files get different probabilities."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)


class ServerThread:
    """An ASGI app in uvicorn on a free loopback port, in a daemon thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def model_only_verdict(item: dict) -> str:
    """What the score alone says under the default settings' policy (no evidence)."""
    from imageauth.predict import get_policy
    from imageauth.settings import Settings

    policy = get_policy(Settings())
    if policy.max_short_side is not None and min(item["width"], item["height"]) > policy.max_short_side:
        return "unsure"
    if item["probability_fake"] >= policy.high:
        return "likely_ai"
    return "likely_real" if item["probability_fake"] < policy.low else "unsure"
