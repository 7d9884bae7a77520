"""The upload page in headless Chromium against the real local server and the bundled model.

No probability is hard-coded: each test asks `POST /api/predict` about the same file the page
uploaded and compares. The model is a placeholder until the trained one is exported, so the
tests check agreement with the API, not what the verdict is.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "page.png"


def format_percent(probability: float) -> str:
    """The page's own rounding (static_site/dom.js: formatPercent)."""
    if 0 < probability < 0.0005:
        return "<0.1%"
    if 0.9995 <= probability < 1:
        return ">99.9%"
    # JavaScript's toFixed rounds an exact tie up (6.25 -> "6.3"); Python's format would round it to even.
    return f"{Decimal(probability * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def result_row(page: Page, filename: str) -> Locator:
    return page.locator("tr.result-row").filter(has=page.get_by_text(filename, exact=True))


def api_result(server, path: Path) -> dict:
    response = server.predict(path)
    assert response.status_code == 200, response.text
    body = response.json()
    return {**body["results"][0], "model_version": body["model_version"]}


# The page's words for the API's verdicts (static_site/rows.js: VERDICT_TEXT).
VERDICT_TEXT = {
    "ai_generated_by_credentials": "AI-generated, say its Content Credentials",
    "likely_ai": "Likely AI-generated",
    "unsure": "Unsure",
    "likely_real": "Likely real",
}


def assert_row_matches_api(row: Locator, expected: dict) -> None:
    expect(row).to_have_attribute("data-status", "done")
    shown = row.locator("data.probability")
    assert float(shown.get_attribute("value")) == expected["probability_fake"]
    expect(shown).to_have_text(format_percent(expected["probability_fake"]))
    expect(row.locator(".verdict-text")).to_have_text(VERDICT_TEXT[expected["verdict"]])
    if expected["note"]:
        expect(row.locator(".verdict-note")).to_have_text(expected["note"])
    else:
        expect(row.locator(".verdict-note")).to_have_count(0)
    expect(row.locator(".evidence-item")).to_have_count(len(expected["evidence"]))
    expect(row.locator(".threshold")).to_have_text(format_percent(expected["threshold"]))
    expect(row.locator(".row-model")).to_have_text(f"Model {expected['model_version']}")
    expect(row.locator(".file-meta")).to_contain_text(f"{expected['width']} × {expected['height']} px")


def test_uploaded_image_shows_the_api_verdict(site: Page, server, images: dict[str, Path]) -> None:
    site.set_input_files("#file-input", images["portrait"])
    row = result_row(site, images["portrait"].name)
    expected = api_result(server, images["portrait"])
    assert_row_matches_api(row, expected)
    expect(site.locator("#announcer")).to_contain_text(
        f"{images['portrait'].name}: {VERDICT_TEXT[expected['verdict']]}"
    )
    # The preview is decoded in the browser with EXIF orientation applied: stored 600x400
    # sideways, it shows upright as a portrait, as the API (400x600) sees it.
    width, height = row.locator("canvas.thumbnail").evaluate("canvas => [canvas.width, canvas.height]")
    assert height > width
    # The honesty note (from /api/model) is always on the page and says how small the model's view is.
    expect(site.locator(".honesty")).to_be_visible()
    size = httpx.get(f"{server.base_url}/api/model", timeout=10).json()["image_size"]
    expect(site.locator("#model-note")).to_contain_text(f"{size} × {size} pixels")


def test_a_heic_the_browser_cannot_preview_still_gets_its_verdict(site: Page, server, images: dict[str, Path]) -> None:
    site.set_input_files("#file-input", images["heic"])
    row = result_row(site, images["heic"].name)
    expected = api_result(server, images["heic"])
    assert (expected["width"], expected["height"]) == (480, 360)
    assert_row_matches_api(row, expected)
    expect(row.locator("canvas.thumbnail")).to_have_count(0)  # Chromium has no HEIC decoder


def test_three_images_three_rows_and_downloads(site: Page, server, images: dict[str, Path]) -> None:
    paths = [images["portrait"], images["landscape"], images["small_png"]]
    site.set_input_files("#file-input", paths)
    expected = {path.name: api_result(server, path) for path in paths}
    expect(site.locator("tr.result-row")).to_have_count(3)
    for path in paths:
        assert_row_matches_api(result_row(site, path.name), expected[path.name])
    expect(site.locator("#summary")).to_contain_text("3 images")

    with site.expect_download() as download_info:
        site.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8-sig"))))
    assert [row["filename"] for row in rows] == [path.name for path in paths]
    for row, path in zip(rows, paths, strict=True):
        assert float(row["probability_fake"]) == expected[path.name]["probability_fake"]
        assert row["label"] == expected[path.name]["label"]
        assert row["verdict"] == expected[path.name]["verdict"]
        assert row["note"] == (expected[path.name]["note"] or "")
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    with site.expect_download() as download_info:
        site.get_by_role("button", name="Download JSON").click()
    document = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert [item["probability_fake"] for item in document["results"]] == [
        expected[path.name]["probability_fake"] for path in paths
    ]

    site.get_by_role("button", name="Clear list").click()
    expect(site.locator("tr.result-row")).to_have_count(0)
    expect(site.get_by_role("button", name="Download CSV")).to_be_disabled()


def test_not_an_image_shows_the_api_error_and_the_page_keeps_working(
    site: Page, server, images: dict[str, Path]
) -> None:
    response = server.predict(images["not_an_image"])
    assert response.status_code == 415
    message = response.json()["error"]["message"]

    site.set_input_files("#file-input", images["not_an_image"])
    bad_row = result_row(site, images["not_an_image"].name)
    expect(bad_row).to_have_attribute("data-status", "error")
    expect(bad_row.locator(".error-message")).to_have_text(message)
    expect(bad_row.locator(".error-title")).to_have_text("Not an image the detector can read")
    # Retrying cannot change the API's mind about the same bytes, so no Retry is offered.
    expect(bad_row.get_by_role("button", name="Retry")).to_have_count(0)
    expect(site.locator("#announcer")).to_contain_text(message)

    site.set_input_files("#file-input", images["landscape"])
    assert_row_matches_api(result_row(site, images["landscape"].name), api_result(server, images["landscape"]))


def test_stopped_api_shows_a_network_error_and_retry_recovers(new_server, open_site, images: dict[str, Path]) -> None:
    own = new_server().start()
    try:
        context, page, watch = open_site(own.base_url)
        expected = api_result(own, images["landscape"])
        own.stop()

        page.set_input_files("#file-input", images["landscape"])
        row = result_row(page, images["landscape"].name)
        expect(row).to_have_attribute("data-status", "error")
        expect(row.locator(".error-title")).to_have_text("Could not reach the detector")
        expect(row.locator(".error-message")).to_contain_text("try again")
        retry = row.get_by_role("button", name=f"Retry {images['landscape'].name}")
        expect(retry).to_be_visible()

        own.start()
        retry.click()
        assert_row_matches_api(row, expected)
        context.close()
        assert watch.page_errors == []
        assert watch.unexpected_console_errors() == []
    finally:
        own.stop()


def test_keyboard_only(site: Page, server, images: dict[str, Path]) -> None:
    # Playwright turns on file-chooser interception without waiting for it; subscribing now, before
    # the round trips below, keeps Enter from racing it (the picker would then open unseen).
    site.on("filechooser", lambda chooser: None)
    for _ in range(5):
        site.keyboard.press("Tab")
        if site.evaluate("document.activeElement.id") == "drop-zone":
            break
    else:
        pytest.fail("the drop zone is not among the first tab stops")
    # page.evaluate, not locator.evaluate: the latter stops Chromium from opening the picker below.
    outline = site.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused drop zone shows no focus ring"

    with site.expect_file_chooser() as chooser_info:
        site.keyboard.press("Enter")
    assert chooser_info.value.is_multiple()
    chooser_info.value.set_files(images["small_png"])

    expected = api_result(server, images["small_png"])
    live_region = site.locator("[aria-live]")
    verdict = VERDICT_TEXT[expected["verdict"]]
    expect(live_region).to_contain_text(
        f"{images['small_png'].name}: {verdict}, {format_percent(expected['probability_fake'])} probability"
    )


def test_paste_and_drop(site: Page, server, images: dict[str, Path]) -> None:
    expected = api_result(server, images["small_png"])
    payload = base64.b64encode(images["small_png"].read_bytes()).decode()
    make_transfer = """([payload, name]) => {
        const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: "image/png" }));
        return transfer;
    }"""
    transfer = site.evaluate_handle(make_transfer, [payload, "image.png"])
    site.evaluate(
        "transfer => document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer }))", transfer
    )
    assert_row_matches_api(result_row(site, "pasted-image-1.png"), expected)

    transfer = site.evaluate_handle(make_transfer, [payload, "dropped.png"])
    site.locator("#drop-zone").dispatch_event("drop", {"dataTransfer": transfer})
    assert_row_matches_api(result_row(site, "dropped.png"), expected)


def test_requests_stay_on_the_site_and_api_origins(open_site, server, images: dict[str, Path]) -> None:
    context, page, watch = open_site(server.base_url)
    page.set_input_files("#file-input", [images["landscape"], images["not_an_image"]])
    expect(page.locator("tr.result-row[data-status=done]")).to_have_count(1)
    expect(page.locator("tr.result-row[data-status=error]")).to_have_count(1)
    with page.expect_download():
        page.get_by_role("button", name="Download JSON").click()
    context.close()
    paths = {urlsplit(url).path for url in watch.request_urls if url.startswith(server.base_url)}
    assert {"/", "/app.js", "/config.js", "/api/model", "/api/predict"} <= paths
    # Served from the same origin as the API here, so that origin is the only one allowed.
    assert watch.foreign_requests({server.base_url}) == []
    assert watch.unexpected_console_errors() == []


@pytest.mark.parametrize(
    ("width", "color_scheme"), [(360, "light"), (1280, "light"), (1280, "dark")], ids=["360", "1280", "1280-dark"]
)
def test_layout_and_screenshots(
    open_site, server, images: dict[str, Path], artifacts_dir: Path, width: int, color_scheme: str
) -> None:
    context, page, watch = open_site(server.base_url, width=width, color_scheme=color_scheme)
    page.set_input_files("#file-input", [images["portrait"], images["landscape"], images["not_an_image"]])
    expect(page.locator("tr.result-row[data-status=done]")).to_have_count(2)
    expect(page.locator("tr.result-row[data-status=error]")).to_have_count(1)
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"horizontal scroll at {width} px: {scroll_width} > {inner_width}"

    name = f"site-{width}{'-dark' if color_scheme == 'dark' else ''}.png"
    page.screenshot(path=artifacts_dir / name, full_page=True)
    if width == 1280 and color_scheme == "light" and os.environ.get("IMAGEAUTH_UPDATE_DOCS_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts_dir / name, DOCS_SCREENSHOT)
    context.close()
    assert watch.page_errors == []
    assert watch.unexpected_console_errors() == []
    assert watch.foreign_requests({server.base_url}) == []
