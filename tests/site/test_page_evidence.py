"""The page's verdict states in Chromium: credentials, generator metadata, unsure with its note, broken manifests.

Files are made at test time (tests/credentials.py) and every state is compared
with what `POST /api/predict` says about the same bytes. Screenshots of each
state go to test-artifacts/; with IMAGEAUTH_UPDATE_DOCS_SCREENSHOT=1 the light
1280 px one replaces docs/img/evidence.png.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
from pathlib import Path

import httpx
import pytest
from credentials import A1111_PARAMETERS, encode, jpeg_with_app11, photo, png_with_text, sign
from playwright.sync_api import Page, expect
from test_page import VERDICT_TEXT, api_result, assert_row_matches_api, result_row

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "evidence.png"


@pytest.fixture(scope="module")
def evidence_images(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("evidence-images")
    signed = sign(encode(photo(640, 480, 4), "JPEG", quality=90), "image/jpeg", "trainedAlgorithmicMedia")
    start = signed.index(b"\xff\xeb")
    manifest = signed[start + 6 : start + 2 + struct.unpack_from(">H", signed, start + 2)[0]]
    files = {
        "credentials": ("generated-with-credentials.jpg", signed),
        "metadata": ("a1111-output.png", png_with_text(photo(512, 512, 5), {"parameters": A1111_PARAMETERS})),
        "large_photo": ("holiday-photo.jpg", encode(photo(1600, 1200, 6), "JPEG", quality=90)),
        "broken": ("broken-credentials.jpg", jpeg_with_app11(photo(48, 48, 7), manifest[: len(manifest) // 3])),
    }
    paths = {}
    for key, (name, data) in files.items():
        paths[key] = folder / name
        paths[key].write_bytes(data)
    return paths


def test_each_state_matches_the_api(site: Page, server, evidence_images: dict[str, Path]) -> None:
    paths = list(evidence_images.values())
    site.set_input_files("#file-input", paths)
    expected = {path.name: api_result(server, path) for path in paths}
    for path in paths:
        assert_row_matches_api(result_row(site, path.name), expected[path.name])

    credentials = result_row(site, evidence_images["credentials"].name)
    assert expected[evidence_images["credentials"].name]["verdict"] == "ai_generated_by_credentials"
    # The evidence leads: it comes before the verdict in the cell.
    first = credentials.locator(".cell-verdict > *").first
    expect(first).to_have_class("evidence")
    expect(credentials.locator(".evidence-item")).to_have_text(
        "Content Credentials say this was made with an AI generator (Test Image Generator 2) — "
        "signer not verified: imageauth test signer"
    )
    expect(credentials.locator(".verdict")).to_have_class("verdict verdict-credentials")

    metadata = result_row(site, evidence_images["metadata"].name)
    expect(metadata.locator(".evidence-item")).to_have_text(
        "Unsigned generator settings found in the file (AUTOMATIC1111)"
    )
    expect(metadata.locator(".verdict-text")).to_have_text(VERDICT_TEXT["likely_ai"])

    broken = result_row(site, evidence_images["broken"].name)
    expect(broken.locator(".evidence-item")).to_have_text(
        "Content Credentials found but unreadable — they prove nothing"
    )


def test_a_composite_is_not_called_a_generated_image(site: Page, server, tmp_path) -> None:
    """Credentials saying AI content was combined with other material are worded as such, in red."""
    path = tmp_path / "generative-fill.jpg"
    source_type = "compositeWithTrainedAlgorithmicMedia"
    path.write_bytes(sign(encode(photo(640, 480, 8), "JPEG", quality=90), "image/jpeg", source_type, "Fill 3"))
    site.set_input_files("#file-input", [path])
    expected = api_result(server, path)
    assert expected["evidence"][0]["source_type"] == source_type
    row = result_row(site, path.name)
    assert_row_matches_api(row, expected)
    expect(row.locator(".evidence-item")).to_have_text(
        "Content Credentials say this includes AI-generated content (Fill 3) — "
        "signer not verified: imageauth test signer"
    )
    expect(row.locator(".verdict")).to_have_class("verdict verdict-credentials")


def test_an_out_of_scope_photo_is_amber_unsure_never_red(site: Page, server, evidence_images) -> None:
    path = evidence_images["large_photo"]
    expected = api_result(server, path)
    assert expected["verdict"] == "unsure" and expected["evidence"] == []
    site.set_input_files("#file-input", path)
    row = result_row(site, path.name)
    assert_row_matches_api(row, expected)
    expect(row.locator(".verdict")).to_have_class("verdict verdict-unsure")
    expect(row.locator(".verdict-note")).to_contain_text("not a verdict here")
    expect(row.locator(".verdict-fake, .verdict-credentials, .is-fake")).to_have_count(0)
    colour = row.locator(".verdict").evaluate("node => getComputedStyle(node).color")
    fake = site.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--fake').trim()")
    assert colour != fake
    expect(site.locator("#summary")).to_contain_text("1 unsure")
    expect(site.locator("#announcer")).to_contain_text(f"{path.name}: Unsure")
    # The honesty note names the scope the model is validated for, and why: the card's real-photo figure.
    expect(site.locator("#model-note")).to_contain_text("Validated on")
    photos = httpx.get(f"{server.base_url}/api/model", timeout=10).json()["card"]["robustness"]["real_photos"]
    expect(site.locator("#model-note")).to_contain_text(
        f"the score alone calls {photos['called_fake']} of {photos['count']} real camera photos"
    )
    expect(site.locator("#model-note")).to_contain_text("real test images called AI-generated")


def test_downloads_carry_verdict_note_and_evidence(site: Page, server, evidence_images) -> None:
    paths = [evidence_images["credentials"], evidence_images["metadata"], evidence_images["large_photo"]]
    site.set_input_files("#file-input", paths)
    expect(site.locator("tr.result-row[data-status=done]")).to_have_count(3)
    expected = {path.name: api_result(server, path) for path in paths}
    with site.expect_download() as download_info:
        site.get_by_role("button", name="Download CSV").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = {row["filename"]: row for row in csv.DictReader(io.StringIO(text))}
    for path in paths:
        row, item = rows[path.name], expected[path.name]
        assert row["verdict"] == item["verdict"] and row["verdict_text"] == VERDICT_TEXT[item["verdict"]]
        assert row["note"] == (item["note"] or "")
    assert rows[evidence_images["credentials"].name]["evidence"].startswith("Content Credentials say this was made")
    metadata = rows[evidence_images["metadata"].name]["evidence"]
    assert metadata == "Unsigned generator settings found in the file (AUTOMATIC1111)"
    assert rows[evidence_images["large_photo"].name]["evidence"] == ""
    with site.expect_download() as download_info:
        site.get_by_role("button", name="Download JSON").click()
    document = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    by_name = {item["filename"]: item for item in document["results"]}
    for path in paths:
        assert by_name[path.name]["evidence_entries"] == expected[path.name]["evidence"]
        assert by_name[path.name]["verdict"] == expected[path.name]["verdict"]


@pytest.mark.parametrize(("width", "color_scheme"), [(360, "light"), (1280, "light"), (1280, "dark")])
def test_evidence_screenshots(open_site, server, evidence_images, artifacts_dir: Path, width, color_scheme) -> None:
    context, page, watch = open_site(server.base_url, width=width, color_scheme=color_scheme)
    page.set_input_files("#file-input", list(evidence_images.values()))
    expect(page.locator("tr.result-row[data-status=done]")).to_have_count(len(evidence_images))
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"horizontal scroll at {width} px: {scroll_width} > {inner_width}"
    name = f"evidence-{width}{'-dark' if color_scheme == 'dark' else ''}.png"
    page.screenshot(path=artifacts_dir / name, full_page=True)
    if width == 1280 and color_scheme == "light" and os.environ.get("IMAGEAUTH_UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(artifacts_dir / name, DOCS_SCREENSHOT)
    context.close()
    assert watch.page_errors == [] and watch.unexpected_console_errors() == []


def test_a_score_inside_the_unsure_band_is_unsure_with_its_note(new_server, open_site, images, monkeypatch) -> None:
    # A band over the whole range makes every in-scope score "unsure": the state a card's band produces.
    monkeypatch.setenv("IMAGEAUTH_UNSURE_LOW", "0")
    monkeypatch.setenv("IMAGEAUTH_UNSURE_HIGH", "1")
    own = new_server().start()
    try:
        context, page, watch = open_site(own.base_url)
        expected = api_result(own, images["small_png"])
        assert expected["verdict"] == "unsure" and "unsure band 0.00–1.00" in expected["note"]
        page.set_input_files("#file-input", images["small_png"])
        row = result_row(page, images["small_png"].name)
        assert_row_matches_api(row, expected)
        expect(row.locator(".verdict")).to_have_class("verdict verdict-unsure")
        expect(row.locator(".close-call")).to_have_count(0)
        expect(page.locator("#model-note")).to_contain_text('scores from 0.0% to under 100.0% give "Unsure"')
        context.close()
        assert watch.page_errors == [] and watch.unexpected_console_errors() == []
    finally:
        own.stop()
