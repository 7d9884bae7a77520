"""Connections, client aborts, HEAD/405, and the worker's decode budget (issue 15, items 3 to 6).

The connection tests run `python -m imageauth.serve` with short timeouts and
talk to it over raw sockets, the way a slow or vanishing client does; the
admission tests call the app in-process, holding the budget themselves.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from loopback import free_port, stop, wait_for_port
from serving_helpers import REPO_ROOT, START_TIMEOUT_S

from imageauth.admission import DecodeBudget, Overloaded, worker_budget
from imageauth.api import create_app
from imageauth.blob import process_blob
from imageauth.settings import Settings

TIMEOUT_S = 1.0


@contextmanager
def local_server(folder: Path, *options: str) -> Iterator[tuple[str, int, Path]]:
    """`python -m imageauth.serve` at log level info with these options; yields (base, port, log)."""
    log_path = folder / "serve.log"
    port = free_port()
    command = [sys.executable, "-m", "imageauth.serve", "--port", str(port), "--log-level", "info", *options]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, START_TIMEOUT_S)
            yield f"http://127.0.0.1:{port}", port, log_path
        finally:
            stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """The local server with 1-second header and body timeouts."""
    timeouts = ("--header-timeout", str(TIMEOUT_S), "--body-timeout", str(TIMEOUT_S))
    with local_server(tmp_path_factory.mktemp("serve"), *timeouts) as running:
        yield running


def closed_by_server(sock: socket.socket, within_s: float) -> float | None:
    """Seconds until the server closed `sock` (reading EOF), or None if it stayed open."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < within_s:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def test_head_answers_on_health_and_model_without_a_body(server):
    base, _, _ = server
    for path in ("/api/health", "/api/model"):
        response = httpx.head(base + path)
        assert response.status_code == 200, path
        assert response.content == b""
    operations = httpx.get(base + "/api/openapi.json").json()["paths"]["/api/health"]
    assert set(operations) == {"get"}  # HEAD is served but not listed twice


def test_405_answers_carry_allow(server):
    base, _, _ = server
    response = httpx.post(base + "/api/health")
    assert response.status_code == 405
    assert {method.strip() for method in response.headers["allow"].split(",")} == {"GET", "HEAD"}
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert httpx.get(base + "/api/predict").headers["allow"] == "POST"


def test_model_reports_the_budgets(server):
    base, _, _ = server
    limits = httpx.get(base + "/api/model").json()["limits"]
    for key in ("max_decode_bytes", "decode_budget_bytes", "admission_wait_s", "request_deadline_s", "max_jpeg_scans"):
        assert limits[key] > 0, key
    assert limits["decode_budget_bytes"] >= limits["max_decode_bytes"]


def test_dribbled_headers_are_cut_at_the_header_deadline(server):
    _, port, _ = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed_after = None
        # One header byte every 0.2 s keeps the connection busy but never finishes the headers.
        while time.monotonic() - start < 5 * TIMEOUT_S and closed_after is None:
            try:
                sock.sendall(b"X")
            except OSError:
                closed_after = time.monotonic() - start
                break
            closed_after = closed_by_server(sock, 0.2)
            if closed_after is not None:
                closed_after = time.monotonic() - start
    assert closed_after is not None and closed_after < 3 * TIMEOUT_S


def test_a_stalled_body_is_cut_and_logged_once_at_info(server):
    base, port, log_path = server
    before = log_path.read_text(errors="replace")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
            + b"\x89PNG\r\n\x1a\n" * 10
        )
        assert closed_by_server(sock, 5 * TIMEOUT_S) is not None
    assert httpx.get(base + "/api/health").status_code == 200  # the server is fine
    new = wait_for_log(log_path, len(before), "client disconnected")
    assert new.count("client disconnected") == 1
    assert "ERROR" not in new and "Traceback" not in new


def test_an_aborted_upload_is_logged_once_at_info_without_a_traceback(server):
    base, port, log_path = server
    before = log_path.read_text(errors="replace")
    boundary = b"xyz"
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + b"\xff\xd8\xff" + b"\0" * 5000
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary="
            + boundary
            + b"\r\nContent-Length: 1000000\r\n\r\n"
            + head
        )
        time.sleep(0.3)
    new = wait_for_log(log_path, len(before), "client disconnected")
    assert new.count("client disconnected") == 1
    assert "ERROR" not in new and "Traceback" not in new and " 500" not in new
    assert httpx.get(base + "/api/health").status_code == 200


def raw_response(sock: socket.socket, within_s: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one response the server sends before closing `sock`."""
    sock.settimeout(within_s)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    "writes",
    [
        [b"NOT HTTP AT ALL\r\n\r\n"],
        [b"GET /api/health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"],
        # A header block over the 16 KiB limit, arriving in pieces: h11 refuses it before it ends.
        [b"GET /api/health HTTP/1.1\r\nHost: x\r\n"] + [b"X-Filler: " + b"a" * 3990 + b"\r\n"] * 8,
    ],
    ids=["not-http", "bad-header-line", "header-block-over-limit"],
)
def test_requests_that_are_not_http_get_the_json_error_body(server, writes):
    """uvicorn answers these itself, above the app: the body must still be the app's error shape."""
    _, port, _ = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for write in writes:
            try:
                sock.sendall(write)
            except OSError:  # the server may answer and close before the last piece
                break
            time.sleep(0.01)
        status, headers, body = raw_response(sock)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "malformed_request"


def test_a_request_past_the_connection_cap_gets_a_json_503_with_retry_after(tmp_path):
    with local_server(tmp_path, "--max-connections", "3") as (base, port, _):
        assert httpx.get(base + "/api/health").status_code == 200  # under the cap
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            time.sleep(0.2)  # the server has accepted them
            response = httpx.get(base + "/api/health")
        finally:
            for sock in idle:
                sock.close()
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["access-control-expose-headers"] == "Retry-After"
        assert response.json()["error"]["code"] == "overloaded"
        deadline = time.monotonic() + 5
        while httpx.get(base + "/api/health").status_code != 200:  # the idle ones are gone: served again
            assert time.monotonic() < deadline
            time.sleep(0.1)


def wait_for_log(log_path: Path, offset: int, needle: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")[offset:]
        if needle in text:
            time.sleep(0.3)  # anything logged right after the line
            return log_path.read_text(errors="replace")[offset:]
        time.sleep(0.1)
    return log_path.read_text(errors="replace")[offset:]


# --- admission and deadline, in-process ----------------------------------------------------------


def test_over_budget_a_request_waits_briefly_then_gets_503_with_retry_after(images):
    settings = replace(Settings(), decode_budget_bytes=123_456_789, admission_wait_s=0.2)
    budget = worker_budget(settings.budget_bytes())
    with TestClient(create_app(settings)) as client, budget.reserve(budget.capacity, None):
        start = time.monotonic()
        response = client.post("/api/predict", files={"file": ("a.jpg", images["photo.jpg"])})
        waited = time.monotonic() - start
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"
    assert response.headers["retry-after"] == "1"
    # A page on another origin (the static web app) may read it: browsers hide unlisted headers.
    assert response.headers["access-control-expose-headers"] == "Retry-After"
    assert waited >= 0.2
    with TestClient(create_app(settings)) as client:  # room again: served
        assert client.post("/api/predict", files={"file": ("a.jpg", images["photo.jpg"])}).status_code == 200


def test_past_the_deadline_a_request_gets_503_deadline_exceeded(images):
    settings = replace(Settings(), decode_budget_bytes=123_456_790, admission_wait_s=5.0, request_deadline_s=0.2)
    budget = worker_budget(settings.budget_bytes())
    with TestClient(create_app(settings)) as client, budget.reserve(budget.capacity, None):
        response = client.post("/api/predict", files={"file": ("a.jpg", images["photo.jpg"])})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "deadline_exceeded"
    assert response.headers["retry-after"] == "1"


def test_the_budget_admits_up_to_its_capacity_and_the_largest_decode_alone():
    budget = DecodeBudget(100)
    with budget.reserve(60, 0), budget.reserve(40, 0), pytest.raises(Overloaded), budget.reserve(1, 0.05):
        pass
    assert budget.in_use == 0
    with budget.reserve(10**9, 0):  # larger than the budget: clamped, runs alone
        assert budget.in_use == 100
    assert budget.in_use == 0


def test_the_budget_setting_is_the_instances_shared_by_worker_processes(monkeypatch):
    for name in ("IMAGEAUTH_DECODE_BUDGET_BYTES", "FUNCTIONS_WORKER_PROCESS_COUNT"):
        monkeypatch.delenv(name, raising=False)
    default = Settings.from_env()
    assert default.budget_bytes() >= default.max_decode_bytes + default.max_bytes
    monkeypatch.setenv("IMAGEAUTH_DECODE_BUDGET_BYTES", "1_000_000_000")
    assert Settings.from_env().budget_bytes() == 1_000_000_000
    monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", "4")
    assert Settings.from_env().budget_bytes() == 250_000_000
    monkeypatch.setenv("IMAGEAUTH_ADMISSION_WAIT_S", "0.5")
    monkeypatch.setenv("IMAGEAUTH_REQUEST_DEADLINE_S", "12")
    settings = Settings.from_env()
    assert (settings.admission_wait_s, settings.request_deadline_s) == (0.5, 12.0)
    monkeypatch.setenv("IMAGEAUTH_REQUEST_DEADLINE_S", "-1")
    with pytest.raises(ValueError, match="IMAGEAUTH_REQUEST_DEADLINE_S"):
        Settings.from_env()


def test_the_blob_core_waits_for_room_instead_of_failing(images):
    settings = replace(Settings(), decode_budget_bytes=123_456_791)
    budget = worker_budget(settings.budget_bytes())
    holder = budget.reserve(budget.capacity, None)
    holder.__enter__()
    threading.Timer(0.5, holder.__exit__, (None, None, None)).start()
    start = time.monotonic()
    result = process_blob(images["photo.jpg"], "waits.jpg", settings)
    assert time.monotonic() - start >= 0.4  # it waited for the budget ...
    assert result["label"] in ("real", "fake")  # ... and then got its verdict, not an error
    assert budget.in_use == 0
