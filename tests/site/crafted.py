"""Crafted API answers for the browser tests, served with Playwright's `page.route`.

The real API cannot produce every case the page must handle (a verdict it does not know, a
trusted signer, a 403 from a misconfigured front end, a result it would never send), so these
tests answer `/api/predict` themselves. Everything else still comes from the real local server.
"""

from __future__ import annotations

import io
import re

from PIL import Image

PREDICT = "**/api/predict"
_FILENAME = re.compile(rb'filename="([^"]*)"')


def png(width: int = 24, height: int = 16, colour: tuple[int, int, int] = (90, 140, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def upload(name: str, data: bytes | None = None, mime_type: str = "image/png") -> dict:
    """A file for `set_input_files`, made in memory."""
    return {"name": name, "mimeType": mime_type, "buffer": data if data is not None else png()}


def result(**overrides) -> dict:
    """One item of `results`, shaped as docs/api.md says; `overrides` replace or add fields."""
    item = {
        "filename": "crafted.png",
        "sha256": "0" * 64,
        "label": "real",
        "probability_fake": 0.2,
        "threshold": 0.5,
        "verdict": "likely_real",
        "note": None,
        "evidence": [],
        "width": 24,
        "height": 16,
    }
    item.update(overrides)
    return item


def body(item: dict) -> dict:
    return {"model_version": "crafted-1", "results": [item]}


def uploaded_name(route) -> str:
    """The file name of the one file in a routed /api/predict request."""
    found = _FILENAME.search(route.request.post_data_buffer or b"")
    return found.group(1).decode("utf-8") if found else ""


def answer_by_name(page, answers: dict[str, dict]) -> None:
    """Answer /api/predict with `answers[file name]` (a result item) as a 200."""
    page.route(PREDICT, lambda route: route.fulfill(status=200, json=body(answers[uploaded_name(route)])))
