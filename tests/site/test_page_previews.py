"""Previews of many large images: decoded a few at a time, straight to thumbnail size.

Thirty 2 MP JPEGs stand in for a folder of phone photos (a hundred 12 MP ones would hold
about 4.8 GB of decoded pixels if all were decoded at once and at full size).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from crafted import answer_by_name, result, upload
from PIL import Image
from playwright.sync_api import Page, expect
from test_page import result_row

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)

COUNT = 30
# Counts createImageBitmap calls in flight and keeps the options of each.
WATCH_DECODES = """() => {
    const original = window.createImageBitmap.bind(window);
    const stats = { active: 0, max: 0, options: [] };
    window.decodeStats = stats;
    window.createImageBitmap = async (...args) => {
        stats.active += 1;
        stats.max = Math.max(stats.max, stats.active);
        stats.options.push(args.length > 1 ? args[args.length - 1] : null);
        try {
            return await original(...args);
        } finally {
            stats.active -= 1;
        }
    };
}"""


def jpeg(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), (20 + 7 * index, 90, 200 - 5 * index)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def test_many_previews_are_decoded_a_few_at_a_time_at_thumbnail_size(site: Page, images: dict[str, Path]) -> None:
    files = [upload(f"photo-{index:02}.jpg", jpeg(index), "image/jpeg") for index in range(COUNT)]
    files.append(upload(images["heic"].name, images["heic"].read_bytes(), "image/heic"))
    answer_by_name(site, {file["name"]: result(width=1600, height=1200) for file in files})
    site.evaluate(WATCH_DECODES)

    site.set_input_files("#file-input", files)
    # The page answers at once while the previews decode.
    started = time.monotonic()
    site.evaluate("document.querySelectorAll('tr.result-row').length")
    assert time.monotonic() - started < 2

    expect(site.locator("canvas.thumbnail")).to_have_count(COUNT)
    # Chromium cannot decode HEIC: that row says so and did not hold up the others.
    expect(result_row(site, images["heic"].name).locator(".no-preview")).to_have_text("No preview")
    stats = site.evaluate("window.decodeStats")
    assert 1 <= stats["max"] <= 3, f"{stats['max']} decodes at once"
    density = site.evaluate("Math.min(window.devicePixelRatio || 1, 3)")
    for options in stats["options"]:
        assert options and 0 < options["resizeWidth"] <= 64 * density, options
    sizes = site.locator("canvas.thumbnail").evaluate_all("nodes => nodes.map((c) => [c.width, c.height])")
    assert all(max(size) <= 64 * density for size in sizes), sizes


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 60, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_previews_keep_their_shape_and_never_grow(site: Page) -> None:
    """Decoded to the image's own shape fitted in the thumbnail box: a strip one pixel wide would
    be over six million pixels tall if it were asked for by width alone."""
    shapes = {"strip.png": (1, 20000), "band.png": (20000, 1), "portrait.png": (600, 1600), "tiny.png": (8, 4)}
    files = [upload(name, png(*size), "image/png") for name, size in shapes.items()]
    answer_by_name(site, {name: result(width=w, height=h) for name, (w, h) in shapes.items()})
    site.evaluate(WATCH_DECODES)
    site.set_input_files("#file-input", files)
    expect(site.locator("canvas.thumbnail")).to_have_count(len(shapes))
    density = site.evaluate("Math.min(window.devicePixelRatio || 1, 3)")
    box = round(64 * density)
    for options in site.evaluate("window.decodeStats")["options"]:
        assert 0 < options["resizeWidth"] <= box and 0 < options["resizeHeight"] <= box, options
    for name in shapes:
        canvas = result_row(site, name).locator("canvas.thumbnail")
        drawn = canvas.evaluate("(c) => [c.width, c.height]")
        assert max(drawn) <= box, (name, drawn)
        if name == "tiny.png":
            assert drawn == [8, 4]  # never enlarged
        elif name == "portrait.png":
            assert drawn[1] == box and abs(drawn[0] - round(box * 600 / 1600)) <= 1
