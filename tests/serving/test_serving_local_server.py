"""`python -m imageauth.serve`: the same API on 127.0.0.1, plus the page at `/` when it exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from loopback import free_port, wait_for_port
from serving_helpers import START_TIMEOUT_S

from imageauth.predict import predict_bytes
from imageauth.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_local_server_serves_the_api_and_the_page(tmp_path, images):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>imageauth</title>")
    port = free_port()
    command = [sys.executable, "-m", "imageauth.serve", "--port", str(port), "--static-dir", str(site)]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, START_TIMEOUT_S)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/health").json()["status"] == "ok"
        response = httpx.post(f"{base}/api/predict", files={"file": ("photo.jpg", images["photo.jpg"])})
        assert response.json()["results"] == [predict_bytes(images["photo.jpg"], "photo.jpg", Settings())]
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "<title>imageauth</title>" in page.text
        # The page's mount must not swallow the API's own errors.
        assert httpx.get(f"{base}/api/nothing").json()["error"]["code"] == "not_found"
        assert httpx.get(f"{base}/api/predict").json()["error"]["code"] == "method_not_allowed"
        assert httpx.get(f"{base}/missing.html").status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
