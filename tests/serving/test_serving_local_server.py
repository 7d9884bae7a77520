"""`python -m imageauth.serve`: the same API on 127.0.0.1, plus the page at `/` when it exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
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


@pytest.mark.parametrize(
    ("env", "named"),
    [
        # Checked against the model's card (its high is 0.955): known only once the model is loaded.
        ({"IMAGEAUTH_UNSURE_LOW": "0.99"}, "IMAGEAUTH_UNSURE_LOW"),
        ({"IMAGEAUTH_REQUEST_DEADLINE_S": "inf"}, "IMAGEAUTH_REQUEST_DEADLINE_S"),
        ({"IMAGEAUTH_THRESHOLD": "abc"}, "IMAGEAUTH_THRESHOLD"),
    ],
    ids=["band-against-the-card", "infinite-deadline", "threshold"],
)
def test_settings_that_would_fail_every_request_stop_the_server_at_startup(tmp_path, env, named):
    """The server used to start, answer /api/health "ok", and 500 every prediction."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IMAGEAUTH_")} | env
    command = [sys.executable, "-m", "imageauth.serve", "--port", str(port), "--static-dir", str(tmp_path)]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            with pytest.raises(RuntimeError, match="exited"):
                wait_for_port(port, process, START_TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=10)
    assert process.returncode != 0
    assert named in log_path.read_text()


def test_the_local_page_carries_the_headers_of_its_static_web_app_config(tmp_path):
    """The page's responses get `staticwebapp.config.json`'s headers, read from the file itself."""
    import json
    import shutil

    from serving_helpers import ServerThread

    from imageauth.serve import build_app

    site = tmp_path / "static_site"
    shutil.copytree(REPO_ROOT / "static_site", site)
    config_path = site / "staticwebapp.config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    committed = dict(config["globalHeaders"])
    # A header only this copy has: it can only arrive if the server reads the file.
    config["globalHeaders"]["X-Imageauth-Test"] = "read from the file"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    csp = committed["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and committed["X-Content-Type-Options"] == "nosniff"

    with ServerThread(build_app(static_dir=site)) as running:
        for path in ("/", "/app.js", "/style.css", "/config.js", "/missing.html"):
            response = httpx.get(f"{running.base_url}{path}")
            assert response.status_code == (404 if path == "/missing.html" else 200)
            for name, value in {**committed, "X-Imageauth-Test": "read from the file"}.items():
                assert response.headers.get(name) == value, (path, name)
        # The config's per-route headers too: config.js must not be cached across a redeploy.
        assert httpx.get(f"{running.base_url}/config.js").headers["Cache-Control"] == "no-cache"
        assert "Cache-Control" not in httpx.get(f"{running.base_url}/app.js").headers
        # The API answers as before: the page's headers belong to the page's responses.
        health = httpx.get(f"{running.base_url}/api/health")
        assert health.status_code == 200 and "X-Imageauth-Test" not in health.headers
