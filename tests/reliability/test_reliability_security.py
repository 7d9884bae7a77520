"""Security checks that run with the tests: bandit, detect-secrets, limits before decoding, no leaks.

Static checks (bandit, detect-secrets) run the installed tools on the
project's files; the dynamic ones measure the real server process and a
fresh Python process, so "rejected without allocating" is a number, not a
belief.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from badinputs import case_by_name, png_bomb, small_jpeg
from reliability_helpers import REPO, start_server, stop

pytestmark = pytest.mark.timeout(180)
BIN = Path(sys.executable).parent
BOMBS = [
    "png_bomb_30000x30000", "gif_bomb_65535x65535", "tiff_bomb_100000x100000",
    "jpeg_header_65000x65000", "webp_canvas_16384x16384",
]  # fmt: skip
MEBIBYTE_KIB = 1024


def project_files() -> list[str]:
    """What a clone holds: tracked files plus new files that git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True, timeout=60,
    ).stdout.decode()  # fmt: skip
    return sorted(name for name in listed.split("\0") if name and (REPO / name).is_file())


def test_bandit_finds_nothing_of_high_severity():
    completed = subprocess.run(
        [str(BIN / "bandit"), "-r", "training", "function_app", "bench", "-f", "json", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    report = json.loads(completed.stdout)
    assert report["errors"] == [], report["errors"]  # a file bandit could not parse is not checked
    high = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in report["results"]
        if r["issue_severity"] == "HIGH"
    ]
    assert high == []
    assert report["metrics"]["_totals"]["loc"] > 1000  # it really scanned the code


def test_detect_secrets_finds_nothing_outside_the_baseline():
    baseline = json.loads((REPO / ".secrets.baseline").read_text())
    options = []
    for used in baseline["filters_used"]:
        if used["path"].endswith("regex.should_exclude_file"):
            options += [arg for pattern in used["pattern"] for arg in ("--exclude-files", pattern)]
        if used["path"].endswith("regex.should_exclude_line"):
            options += [arg for pattern in used["pattern"] for arg in ("--exclude-lines", pattern)]
    completed = subprocess.run(
        [str(BIN / "detect-secrets"), "scan", *options, *project_files()],
        cwd=REPO, capture_output=True, text=True, timeout=150, check=True,
    )  # fmt: skip
    found = {
        (filename, secret["hashed_secret"])
        for filename, secrets in json.loads(completed.stdout)["results"].items()
        for secret in secrets
    }
    allowed = {
        (filename, secret["hashed_secret"]) for filename, secrets in baseline["results"].items() for secret in secrets
    }
    assert found - allowed == set(), "new secrets; audit them or add them to .secrets.baseline"


def test_a_planted_secret_would_be_found(tmp_path):
    """The scan above can fail: the same tool flags an AWS key in a file like ours."""
    planted = tmp_path / "settings.py"
    example_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"  # pragma: allowlist secret
    planted.write_text(f'AWS_SECRET_ACCESS_KEY = "{example_key}"\n')
    completed = subprocess.run(
        [str(BIN / "detect-secrets"), "scan", planted.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(completed.stdout)["results"], completed.stdout


# Peak memory is read from /proc/self/status (VmHWM, this process's own
# address space): getrusage's ru_maxrss would start at the parent's size,
# because Linux carries it across fork and exec, and hide the growth.
MEMORY_PROBE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from imageauth.preprocess import ImageError, load_image

    def peak_kib():
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

    files = [Path(name).read_bytes() for name in sys.argv[1:]]
    before = peak_kib()
    started = time.perf_counter()
    outcomes = []
    for data in files:
        try:
            load_image(data, 32)
            outcomes.append("verdict")
        except ImageError as error:
            outcomes.append(error.code)
    seconds = time.perf_counter() - started
    print(json.dumps({"outcomes": outcomes, "seconds": seconds, "growth_kib": peak_kib() - before}))
    """
)


def probe_memory(files: list[Path]) -> dict:
    """Peak-memory growth of a fresh process while it loads `files` (nothing else runs there)."""
    completed = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, *map(str, files)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(completed.stdout)


def test_bombs_are_rejected_before_any_pixel_is_allocated(tmp_path):
    bombs = []
    for name in BOMBS:
        bombs.append(tmp_path / name)
        bombs[-1].write_bytes(case_by_name(name).data)
    control = tmp_path / "control.png"
    # 36 megapixels: under the limits, so really decoded (one byte a pixel, converted in bands).
    control.write_bytes(png_bomb(6000))

    rejected = probe_memory(bombs)
    decoded = probe_memory([control])

    assert rejected["outcomes"] == ["too_many_pixels"] * len(BOMBS)
    # 900 million pixels and up would be gigabytes; a header read is kilobytes.
    assert rejected["growth_kib"] < 8 * MEBIBYTE_KIB, rejected
    assert rejected["seconds"] < 1.0, rejected
    # The measurement can see an allocation: the decoded control image shows up.
    assert decoded["outcomes"] == ["verdict"]
    assert decoded["growth_kib"] > 30 * MEBIBYTE_KIB, decoded


def test_the_server_rejects_bombs_without_growing():
    server = start_server()
    try:
        with httpx.Client(timeout=30) as client:
            client.post(f"{server.base_url}/api/predict", files={"file": ("warm.jpg", small_jpeg(), "image/jpeg")})
            peak_before = server.memory_kib("VmHWM")
            started = time.perf_counter()
            for name in BOMBS:
                case = case_by_name(name)
                response = client.post(
                    f"{server.base_url}/api/predict", files={"file": (case.filename, case.data, "image/png")}
                )
                assert (response.status_code, response.json()["error"]["code"]) == (413, "too_many_pixels")
            elapsed = time.perf_counter() - started
            peak_after = server.memory_kib("VmHWM")
    finally:
        stop(server.process)
    assert peak_after - peak_before < 16 * MEBIBYTE_KIB, (peak_before, peak_after)
    assert elapsed < 10, elapsed


def test_uploaded_bytes_are_never_echoed(api_server):
    canary = "CANARY-5f1d8c0e-not-an-image <script>alert('x')</script>"
    data = (canary + "\n") * 20
    responses = [
        httpx.post(f"{api_server.base_url}/api/predict", files={"file": ("c.jpg", data, "image/jpeg")}),
        httpx.post(f"{api_server.base_url}/api/predict", content=data, headers={"Content-Type": "image/png"}),
        httpx.post(
            f"{api_server.base_url}/api/predict",
            files=[("file", ("ok.jpg", small_jpeg(), "image/jpeg")), ("file", ("c.txt", data, "text/plain"))],
        ),
    ]
    for response in responses:
        assert response.status_code in (200, 415)
        assert "CANARY" not in response.text
        assert response.headers["content-type"].startswith("application/json")


def test_a_server_fault_answers_without_details(tmp_path):
    """A broken model file: health says so, predict answers a bare 500; neither shows a trace."""
    (tmp_path / "model.tflite").write_bytes(b"TFL3 this is not a flatbuffer")
    (tmp_path / "model.json").write_text('{"version": "broken"}')
    server = start_server({"IMAGEAUTH_MODEL_DIR": str(tmp_path)})
    try:
        health = httpx.get(f"{server.base_url}/api/health", timeout=30)
        predict = httpx.post(
            f"{server.base_url}/api/predict", files={"file": ("a.jpg", small_jpeg(), "image/jpeg")}, timeout=30
        )
    finally:
        stop(server.process)
    assert health.status_code == 503
    assert health.json()["error"]["code"] == "model_unavailable"
    assert predict.status_code == 500
    assert predict.json() == {
        "error": {"code": "internal_error", "message": "The server failed to process the request."}
    }
    for response in (health, predict):
        assert "Traceback" not in response.text and str(tmp_path) not in response.text


KEY_PATTERNS = re.compile(
    r"x-functions-key|[?&]code=|AccountKey=|SharedAccessSignature|[?&]sig=|subscription-key|api[_-]?key",
    re.IGNORECASE,
)


def test_the_page_needs_no_key():
    files = [path for path in (REPO / "static_site").rglob("*") if path.is_file()]
    assert files, "static_site is empty"
    offenders = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path in files
        for match in KEY_PATTERNS.finditer(path.read_text(errors="replace"))
    ]
    assert offenders == []


def test_the_api_needs_no_key(api_server, functions):
    response = httpx.post(
        f"{api_server.base_url}/api/predict", files={"file": ("a.jpg", small_jpeg(), "image/jpeg")}, timeout=30
    )
    assert response.status_code == 200
    # In Azure too: the HTTP trigger is anonymous, so the page never holds a function key.
    for function in functions.values():
        for binding in json.loads(function.get_function_json())["bindings"]:
            if binding["type"] == "httpTrigger":
                assert binding["authLevel"].lower() == "anonymous", binding
