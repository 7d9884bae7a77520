"""The page against API answers the real server cannot give: unknown verdicts, forged-looking
evidence, misconfigured or busy services, and results the page cannot draw.

`/api/predict` is answered with `page.route` (tests/site/crafted.py); the page, its model card
and everything else come from the real local server.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from crafted import PREDICT, answer_by_name, result, upload
from playwright.sync_api import Page, expect
from test_page import result_row

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

RED = ".verdict-fake, .verdict-credentials, .is-fake, .tone-ai"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


def test_a_result_without_a_known_verdict_is_amber_unsure(site: Page) -> None:
    """An old label, a null or unknown verdict, or one that names an Object property: never red."""
    answers = {
        "null-verdict.png": result(label="fake", probability_fake=0.51, verdict=None),
        "no-verdict.png": {k: v for k, v in result(label="fake", probability_fake=0.9).items() if k != "verdict"},
        "future-verdict.png": result(label="fake", probability_fake=0.97, verdict="certainly_ai_v2"),
        "constructor.png": result(label="fake", probability_fake=0.97, verdict="constructor"),
    }
    answer_by_name(site, answers)
    site.set_input_files("#file-input", [upload(name) for name in answers])
    expect(site.locator("tr.result-row[data-status=done]")).to_have_count(len(answers))
    for name in answers:
        row = result_row(site, name)
        expect(row.locator(".verdict")).to_have_class("verdict verdict-unsure")
        expect(row.locator(".verdict-text")).to_have_text("Unsure")
        expect(row.locator(".probability-bar")).to_have_class("probability-bar is-unsure")
        expect(row.locator(RED)).to_have_count(0)
        expect(row.locator(".verdict-note")).to_contain_text("no verdict this page knows")
    expect(site.locator("#summary")).to_have_text(f"{len(answers)} images: {len(answers)} unsure.")


def test_only_trusted_valid_capture_credentials_get_the_capture_tone(site: Page) -> None:
    capture = {"kind": "c2pa", "status": "valid", "ai_generated": False, "signer": "Camera Maker"}
    evidence = [
        {**capture, "trusted": True},
        {**capture, "trusted": False},
        capture,  # no `trusted` at all
        {"kind": "metadata", "ai_generated": False, "generator": None, "source": "exif:Make"},
        {"kind": "c2pa", "status": "invalid", "ai_generated": True, "trusted": True, "signer": "X"},
        {"kind": "c2pa", "status": "unreadable", "ai_generated": None, "trusted": False},
    ]
    answer_by_name(site, {"capture.png": result(evidence=evidence)})
    site.set_input_files("#file-input", [upload("capture.png")])
    items = result_row(site, "capture.png").locator(".evidence-item")
    expect(items).to_have_count(len(evidence))
    tones = [item.get_attribute("class").split()[-1] for item in items.all()]
    assert tones == ["tone-capture", "tone-none", "tone-none", "tone-none", "tone-none", "tone-none"]
    # A signature that does not validate gets no shield-with-tick: it proves nothing.
    icons = [item.locator("svg").get_attribute("class") for item in items.all()]
    assert icons[:3] == ["icon icon-credentials"] * 3
    assert icons[3] == "icon icon-metadata"
    assert icons[4:] == ["icon icon-credentials-unverified"] * 2


def test_names_from_the_file_cannot_reorder_or_fake_the_sentence(site: Page) -> None:
    signer = "Nikon (verified by imageauth)\u202e"
    generator = "\u2067Gen\u200f 2\u2069"
    file_name = "photo\u202egnp.exe.png"
    evidence = [
        {
            "kind": "c2pa",
            "status": "valid",
            "trusted": False,
            "ai_generated": True,
            "signer": signer,
            "generator": generator,
            "claim_generator": "Tool\u202a 1",
        },
        {"kind": "metadata", "ai_generated": True, "generator": "Comfy\u202dUI\u0007", "source": "png:prompt"},
    ]
    answer_by_name(site, {file_name: result(evidence=evidence)})
    site.set_input_files("#file-input", [upload(file_name)])
    row = site.locator("tr.result-row")
    expect(row).to_have_attribute("data-status", "done")
    # The file name is shown without its controls, isolated in its own <bdi>.
    expect(row.locator("bdi.file-name")).to_have_text("photognp.exe.png")
    texts = row.locator(".evidence-text")
    expect(texts.nth(0)).to_have_text(
        "Content Credentials say this was made with an AI generator (Gen 2) — "
        "signer not verified: Nikon (verified by imageauth)"
    )
    expect(texts.nth(1)).to_have_text("Unsigned generator settings found in the file (ComfyUI)")
    # Each name from the file sits in a <bdi> of its own, after the qualifier.
    expect(texts.nth(0).locator("bdi")).to_have_text(["Gen 2", "Nikon (verified by imageauth)"])
    expect(texts.nth(1).locator("bdi")).to_have_text(["ComfyUI"])
    shown = row.evaluate("node => node.textContent") + site.locator("#announcer").evaluate("n => n.textContent")
    assert not any(control in shown for control in BIDI_CONTROLS + "\u0007")


def test_a_busy_detector_is_retried_after_retry_after(site: Page, server, images: dict[str, Path]) -> None:
    calls = []

    def busy_twice(route) -> None:
        calls.append(route.request.url)
        if len(calls) <= 2:
            error = {"error": {"code": "overloaded", "message": "The worker is busy; retry later."}}
            route.fulfill(status=503, json=error, headers={"Retry-After": "0"})
        else:
            route.continue_()

    site.route(PREDICT, busy_twice)
    site.evaluate("""() => {
        window.seenStates = [];
        new MutationObserver(() => document.querySelectorAll("#result-rows .state")
            .forEach((state) => window.seenStates.push(state.textContent)))
            .observe(document.getElementById("result-rows"), { subtree: true, childList: true });
    }""")
    site.set_input_files("#file-input", images["small_png"])
    row = result_row(site, images["small_png"].name)
    expect(row).to_have_attribute("data-status", "done")
    assert len(calls) == 3
    assert "Busy, retrying…" in site.evaluate("window.seenStates")
    expected = server.predict(images["small_png"]).json()["results"][0]
    assert float(row.locator("data.probability").get_attribute("value")) == expected["probability_fake"]


def test_a_detector_that_stays_busy_shows_the_error_with_retry(site: Page) -> None:
    calls = []

    def always_busy(route) -> None:
        calls.append(route.request.url)
        route.fulfill(status=429, body="slow down", headers={"Retry-After": "0"})

    site.route(PREDICT, always_busy)
    site.set_input_files("#file-input", [upload("busy.png")])
    row = result_row(site, "busy.png")
    expect(row).to_have_attribute("data-status", "error")
    assert len(calls) == 3  # the first try and two automatic retries
    expect(row.locator(".error-title")).to_have_text("The detector is busy")
    site.unroute(PREDICT)
    answer_by_name(site, {"busy.png": result()})
    row.get_by_role("button", name="Retry busy.png").click()
    expect(row).to_have_attribute("data-status", "done")


def test_retry_after_is_read_and_capped(site: Page) -> None:
    delays = site.evaluate("""async () => {
        const { retryDelayMs } = await import("/api.js");
        const inThreeSeconds = new Date(Date.now() + 3000).toUTCString();
        return [retryDelayMs("0"), retryDelayMs("2"), retryDelayMs("3600"), retryDelayMs(null),
                retryDelayMs("soon"), retryDelayMs(inThreeSeconds)];
    }""")
    assert delays[:5] == [0, 2000, 10000, 1000, 1000]
    assert 1000 <= delays[5] <= 3000


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (404, {"json": {"error": {"code": "not_found", "message": "No such route."}}}),
        (405, {"json": {"error": {"code": "method_not_allowed", "message": "Not with this method."}}}),
        (403, {"body": "<html>Forbidden</html>", "content_type": "text/html"}),
        (401, {"body": "", "content_type": "text/plain"}),
    ],
    ids=["404", "405", "403-html", "401"],
)
def test_a_misconfigured_service_is_not_blamed_on_the_file(site: Page, status: int, answer: dict) -> None:
    site.route(PREDICT, lambda route: route.fulfill(status=status, **answer))
    site.set_input_files("#file-input", [upload("fine.png")])
    row = result_row(site, "fine.png")
    expect(row).to_have_attribute("data-status", "error")
    title = row.locator(".error-title")
    expect(title).to_contain_text("detector service")
    expect(title).not_to_contain_text("this file")
    expect(row.locator(".error-message")).not_to_contain_text("this file")
    expect(row.get_by_role("button", name="Retry fine.png")).to_be_visible()


def test_a_result_the_page_cannot_draw_does_not_stall_the_queue(site: Page) -> None:
    # Valid JSON whose `threshold` cannot be turned into a number throws inside the rendering code.
    poisoned = result(threshold={"valueOf": 0, "toString": 0})
    answers = {f"poisoned-{index}.png": poisoned for index in range(4)}
    answers["good-1.png"] = answers["good-2.png"] = result()
    # Junk evidence entries are skipped; the one real entry is shown.
    junk = [None, 7, "text", ["list"], {"kind": "metadata", "ai_generated": True, "generator": "ComfyUI"}]
    answers["junk-evidence.png"] = result(verdict="likely_ai", label="fake", probability_fake=0.9, evidence=junk)
    answer_by_name(site, answers)
    site.set_input_files("#file-input", [upload(name) for name in answers])
    expect(site.locator("tr.result-row[data-status=done]")).to_have_count(3)
    expect(site.locator("tr.result-row[data-status=error]")).to_have_count(4)
    poisoned_row = result_row(site, "poisoned-0.png")
    expect(poisoned_row.locator(".error-title")).to_have_text("This page could not show the result")
    expect(result_row(site, "junk-evidence.png").locator(".evidence-item")).to_have_text(
        "Unsigned generator settings found in the file (ComfyUI)"
    )
    with site.expect_download() as download_info:
        site.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == len(answers)


def test_csv_starts_with_a_bom_and_keeps_formulas_inert(site: Page) -> None:
    names = ["café-Ünïcødé-写真.png", "=HYPERLINK(1).png"]
    answer_by_name(site, {name: result() for name in names})
    site.set_input_files("#file-input", [upload(name) for name in names])
    expect(site.locator("tr.result-row[data-status=done]")).to_have_count(2)
    with site.expect_download() as download_info:
        site.get_by_role("button", name="Download CSV").click()
    raw = Path(download_info.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the byte-order mark
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [row["filename"] for row in rows] == ["café-Ünïcødé-写真.png", "'=HYPERLINK(1).png"]


def test_a_verdict_decided_by_evidence_is_not_called_a_close_call(site: Page) -> None:
    """Near the threshold the score is a coin toss, but a verdict the evidence decided is not the score's."""
    trusted_capture = {"kind": "c2pa", "status": "valid", "ai_generated": False, "trusted": True, "signer": "Cam"}
    untrusted_capture = {**trusted_capture, "trusted": False}
    answers = {
        "trusted-capture.png": result(probability_fake=0.55, verdict="likely_real", evidence=[trusted_capture]),
        "score-only.png": result(probability_fake=0.45, verdict="likely_real"),
        "untrusted-capture.png": result(probability_fake=0.45, verdict="likely_real", evidence=[untrusted_capture]),
    }
    answer_by_name(site, answers)
    site.set_input_files("#file-input", [upload(name) for name in answers])
    expect(site.locator("tr.result-row[data-status=done]")).to_have_count(len(answers))
    expect(result_row(site, "trusted-capture.png").locator(".close-call")).to_have_count(0)
    expect(result_row(site, "score-only.png").locator(".close-call")).to_have_count(1)
    expect(result_row(site, "untrusted-capture.png").locator(".close-call")).to_have_count(1)
