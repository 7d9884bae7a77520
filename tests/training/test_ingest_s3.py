"""The ingest stage against a real S3 API: a moto server process on 127.0.0.1.

Faults are injected by a small HTTP proxy, also on 127.0.0.1, that sits
between boto3 and moto and, for the requests a test names, answers 503
SlowDown, closes the connection before answering, cuts a response body in
half, or stalls mid-body so that the test can kill the downloading process.
Nothing in boto3, botocore or `training.sources` is patched: the retries seen
here are the ones botocore's standard retry mode (and the transfer manager,
for bodies cut mid-stream) really make.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import numpy as np
import pytest
from loopback import free_port, stop, wait_for_port
from PIL import Image

from training.ingest import ingest
from training.sources import S3FetchError, fetch

REPO = Path(__file__).resolve().parents[2]
MOTO_SERVER = Path(sys.executable).with_name("moto_server")
LABELS = ["real", "fake"]
SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)

pytestmark = pytest.mark.timeout(120)


# ---------------------------------------------------------------- moto server


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto server process of its own on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch, tmp_path):
    """Credentials for moto and no shared config that could point elsewhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bucket(moto_endpoint):
    """A fresh bucket per test, created directly on moto (not through the proxy)."""
    name = f"imageauth-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return name


def direct_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


# ---------------------------------------------------------------- fault proxy


class FaultProxy:
    """Forwards HTTP/1.1 requests to moto; injects the faults its rules ask for.

    A rule is (method, path fragment, fault, times). Faults: "slowdown" (503
    SlowDown), "reset" (close before answering), "cut" (send the headers and
    half of the body, then close) and "stall" (send half of the body, then
    wait until `release` is set or 30 s pass).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream_port = int(upstream.rsplit(":", 1)[1])
        self.rules: list[dict] = []
        self.log: list[tuple[str, str, str | None]] = []
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

            def _handle(self) -> None:
                proxy.handle(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, method: str, fragment: str, fault: str, times: int) -> None:
        with self._lock:
            self.rules.append({"method": method, "fragment": fragment, "fault": fault, "left": times})

    def requests(self, method: str | None = None, fragment: str = "") -> list[tuple[str, str, str | None]]:
        return [entry for entry in self.log if (method is None or entry[0] == method) and fragment in entry[1]]

    def _take_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            for rule in self.rules:
                if rule["left"] > 0 and rule["method"] == method and rule["fragment"] in path:
                    rule["left"] -= 1
                    fault = rule["fault"]
                    break
            else:
                fault = None
            self.log.append((method, path, fault))
        return fault

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        fault = self._take_fault(request.command, request.path)
        if fault == "reset":
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slowdown":
            self._send(request, 503, [("Content-Type", "application/xml")], SLOWDOWN_BODY)
            return
        status, headers, payload = self._forward(request, body)
        if fault in ("cut", "stall") and payload:
            self._send_head(request, status, headers, len(payload))
            request.wfile.write(payload[: len(payload) // 2])
            request.wfile.flush()
            if fault == "stall":
                self.stalled.set()
                self.release.wait(timeout=30)
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(request, status, headers, payload)

    def _forward(self, request, body: bytes):
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("connection",)}
            upstream.request(request.command, request.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "content-length"}
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in hop_by_hop]
            if request.command == "HEAD":
                kept.append(("Content-Length", response.getheader("Content-Length", "0")))
            return response.status, kept, payload
        finally:
            upstream.close()

    @staticmethod
    def _send_head(request, status: int, headers, length: int | None) -> None:
        request.send_response_only(status)
        for key, value in headers:
            request.send_header(key, value)
        if length is not None:
            request.send_header("Content-Length", str(length))
        request.end_headers()

    def _send(self, request, status: int, headers, payload: bytes) -> None:
        is_head = request.command == "HEAD"
        self._send_head(request, status, headers, None if is_head else len(payload))
        if not is_head:
            request.wfile.write(payload)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(moto_endpoint):
    with FaultProxy(moto_endpoint) as running:
        yield running


# ---------------------------------------------------------------- dataset


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def kaggle_files(per_class: int = 6, corrupt: bool = True) -> dict[str, bytes]:
    """A tiny dataset in the Kaggle layout, plus one corrupt file in train/FAKE."""
    files = {}
    seed = 0
    for split, count in (("train", per_class), ("test", per_class // 2)):
        for folder in ("REAL", "FAKE"):
            for index in range(count):
                seed += 1
                files[f"{split}/{folder}/{index:04d}.jpg"] = _jpeg(seed)
    if corrupt:
        files["train/FAKE/broken.jpg"] = b"\xff\xd8\xff\xe0 this JPEG stops here"
    return files


def zipped(files: dict[str, bytes], root: str = "cifake") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            # A fixed timestamp makes the archive, and so its ETag, a function of the files.
            archive.writestr(zipfile.ZipInfo(f"{root}/{name}", date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def run_ingest(source: str, tmp_path: Path, endpoint: str, name: str = "prepared") -> dict:
    return ingest(
        source=source,
        output_dir=tmp_path / name,
        image_size=32,
        labels=LABELS,
        val_fraction=0.2,
        seed=1,
        endpoint_url=endpoint,
        cache_dir=tmp_path / "cache",
    )


def assert_complete_dataset(output_dir: Path, report: dict, expected_images: int) -> None:
    arrays = {split: np.load(output_dir / f"{split}_images.npy") for split in ("train", "val", "test")}
    assert sum(len(images) for images in arrays.values()) == expected_images
    assert all(images.shape[1:] == (32, 32, 3) for images in arrays.values())
    assert json.loads((output_dir / "report.json").read_text()) == report


def assert_nothing_left(tmp_path: Path) -> None:
    """No dataset, no cached copy and no half-written download after a failed run."""
    assert not (tmp_path / "prepared").exists()
    cache = tmp_path / "cache"
    leftovers = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
    assert leftovers == [], leftovers


# ---------------------------------------------------------------- issue 3: layouts


def test_zip_object_is_ingested_and_the_corrupt_image_reported(bucket, moto_endpoint, proxy, tmp_path):
    files = kaggle_files()
    direct_client(moto_endpoint).put_object(Bucket=bucket, Key="datasets/cifake.zip", Body=zipped(files))

    report = run_ingest(f"s3://{bucket}/datasets/cifake.zip", tmp_path, proxy.endpoint)

    assert [(item["path"], item["code"]) for item in report["rejected"]] == [
        ("cifake/train/FAKE/broken.jpg", "undecodable_image")
    ]
    assert_complete_dataset(tmp_path / "prepared", report, expected_images=len(files) - 1)
    manifest = (tmp_path / "prepared" / "manifest.csv").read_text()
    assert "broken.jpg" not in manifest
    assert (tmp_path / "cache" / "cifake.zip").read_bytes() == zipped(files)


def test_prefix_layout_is_ingested(bucket, moto_endpoint, proxy, tmp_path):
    files = kaggle_files()
    client = direct_client(moto_endpoint)
    for name, data in files.items():
        client.put_object(Bucket=bucket, Key=f"cifake/{name}", Body=data)

    report = run_ingest(f"s3://{bucket}/cifake/", tmp_path, proxy.endpoint)

    assert [item["path"] for item in report["rejected"]] == ["train/FAKE/broken.jpg"]
    assert_complete_dataset(tmp_path / "prepared", report, expected_images=len(files) - 1)
    assert len(proxy.requests("GET", "/cifake/")) == len(files)


def test_a_missing_class_names_the_path(bucket, moto_endpoint, proxy, tmp_path):
    files = {name: data for name, data in kaggle_files().items() if "test/FAKE" not in name}
    direct_client(moto_endpoint).put_object(Bucket=bucket, Key="no-test-fake.zip", Body=zipped(files))

    with pytest.raises(ValueError, match=r"'FAKE'.*test/"):
        run_ingest(f"s3://{bucket}/no-test-fake.zip", tmp_path, proxy.endpoint)
    assert not (tmp_path / "prepared").exists()


def test_matching_etag_skips_the_download_and_a_changed_one_fetches_again(bucket, moto_endpoint, proxy, tmp_path):
    client = direct_client(moto_endpoint)
    first, second = zipped(kaggle_files()), zipped(kaggle_files(per_class=8))
    client.put_object(Bucket=bucket, Key="data.zip", Body=first)
    source = f"s3://{bucket}/data.zip"

    run_ingest(source, tmp_path, proxy.endpoint)
    run_ingest(source, tmp_path, proxy.endpoint, name="again")
    assert len(proxy.requests("GET", "/data.zip")) == 1, proxy.log

    client.put_object(Bucket=bucket, Key="data.zip", Body=second)
    report = run_ingest(source, tmp_path, proxy.endpoint, name="changed")
    assert len(proxy.requests("GET", "/data.zip")) == 2, proxy.log
    assert (tmp_path / "cache" / "data.zip").read_bytes() == second
    stamp = json.loads((tmp_path / "cache" / "data.zip.source.json").read_text())
    assert stamp["etag"] == client.head_object(Bucket=bucket, Key="data.zip")["ETag"]
    assert sum(sum(counts.values()) for counts in report["counts"].values()) == 8 * 2 + 4 * 2


def test_a_changed_object_under_a_prefix_fetches_the_prefix_again(bucket, moto_endpoint, proxy, tmp_path):
    client = direct_client(moto_endpoint)
    for name, data in kaggle_files(corrupt=False).items():
        client.put_object(Bucket=bucket, Key=f"set/{name}", Body=data)
    source = f"s3://{bucket}/set/"
    first = fetch(source, tmp_path / "cache", proxy.endpoint)
    assert fetch(source, tmp_path / "cache", proxy.endpoint) == first
    gets_before = len(proxy.requests("GET", "/set/train"))

    client.put_object(Bucket=bucket, Key="set/train/REAL/0000.jpg", Body=_jpeg(999))
    again = fetch(source, tmp_path / "cache", proxy.endpoint)
    assert (again / "train/REAL/0000.jpg").read_bytes() == _jpeg(999)
    assert len(proxy.requests("GET", "/set/train")) > gets_before


def test_an_object_key_cannot_escape_the_dataset_folder(bucket, moto_endpoint, tmp_path):
    client = direct_client(moto_endpoint)
    client.put_object(Bucket=bucket, Key="evil/train/REAL/a.jpg", Body=_jpeg(1))
    client.put_object(Bucket=bucket, Key="evil/../../outside.jpg", Body=_jpeg(2))
    with pytest.raises(ValueError, match="escapes the dataset folder"):
        fetch(f"s3://{bucket}/evil/", tmp_path / "cache", moto_endpoint)
    assert not (tmp_path / "outside.jpg").exists()
    assert list((tmp_path / "cache").iterdir()) == []


# ---------------------------------------------------------------- issue 6: faults


def test_connection_cut_mid_download_is_retried(bucket, moto_endpoint, proxy, tmp_path):
    files = kaggle_files()
    direct_client(moto_endpoint).put_object(Bucket=bucket, Key="cut.zip", Body=zipped(files))
    proxy.add("GET", "/cut.zip", "cut", times=2)

    report = run_ingest(f"s3://{bucket}/cut.zip", tmp_path, proxy.endpoint)

    gets = proxy.requests("GET", "/cut.zip")
    assert [fault for _, _, fault in gets] == ["cut", "cut", None]
    assert_complete_dataset(tmp_path / "prepared", report, expected_images=len(files) - 1)
    assert (tmp_path / "cache" / "cut.zip").read_bytes() == zipped(files)


def test_connection_reset_before_the_answer_is_retried(bucket, moto_endpoint, proxy, tmp_path):
    direct_client(moto_endpoint).put_object(Bucket=bucket, Key="reset.zip", Body=zipped(kaggle_files()))
    proxy.add("HEAD", "/reset.zip", "reset", times=1)
    proxy.add("GET", "/reset.zip", "reset", times=1)

    path = fetch(f"s3://{bucket}/reset.zip", tmp_path / "cache", proxy.endpoint)

    assert path.read_bytes() == zipped(kaggle_files())
    assert [fault for _, _, fault in proxy.requests("GET", "/reset.zip")] == ["reset", None]


def test_throttling_is_retried_with_backoff(bucket, moto_endpoint, proxy, tmp_path):
    files = kaggle_files()
    client = direct_client(moto_endpoint)
    for name, data in files.items():
        client.put_object(Bucket=bucket, Key=f"slow/{name}", Body=data)
    proxy.add("GET", "list-type=2", "slowdown", times=2)
    proxy.add("GET", "/slow/train/REAL/0000.jpg", "slowdown", times=2)

    report = run_ingest(f"s3://{bucket}/slow/", tmp_path, proxy.endpoint)

    assert [fault for _, _, fault in proxy.requests("GET", "list-type=2")] == ["slowdown", "slowdown", None]
    assert [fault for _, _, fault in proxy.requests("GET", "/slow/train/REAL/0000.jpg")][:3] == [
        "slowdown",
        "slowdown",
        None,
    ]
    assert_complete_dataset(tmp_path / "prepared", report, expected_images=len(files) - 1)


@pytest.mark.parametrize(
    ("method", "key", "fault"),
    [("HEAD", "busy.zip", "slowdown"), ("GET", "broken.zip", "cut")],
    ids=["throttling-that-never-ends", "a-download-that-keeps-breaking"],
)
def test_a_fault_that_never_ends_fails_clearly_after_the_configured_attempts(
    bucket, moto_endpoint, proxy, tmp_path, monkeypatch, method, key, fault
):
    direct_client(moto_endpoint).put_object(Bucket=bucket, Key=key, Body=zipped(kaggle_files()))
    proxy.add(method, f"/{key}", fault, times=1000)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")

    with pytest.raises(S3FetchError) as caught:
        run_ingest(f"s3://{bucket}/{key}", tmp_path, proxy.endpoint)

    message = str(caught.value)
    assert f"s3://{bucket}/{key}" in message, message
    assert "3 attempts" in message, message
    assert len(proxy.requests(method, f"/{key}")) == 3
    assert_nothing_left(tmp_path)


def test_a_prefix_download_that_fails_part_way_leaves_nothing(bucket, moto_endpoint, proxy, tmp_path, monkeypatch):
    client = direct_client(moto_endpoint)
    for name, data in kaggle_files().items():
        client.put_object(Bucket=bucket, Key=f"part/{name}", Body=data)
    proxy.add("GET", "/part/train/FAKE/0003.jpg", "cut", times=1000)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")

    with pytest.raises(S3FetchError, match=f"s3://{bucket}/part/train/FAKE/0003.jpg"):
        run_ingest(f"s3://{bucket}/part/", tmp_path, proxy.endpoint)
    assert len(proxy.requests("GET", "/part/test/")) > 0  # it had got that far (keys go in order)
    assert_nothing_left(tmp_path)


def test_a_killed_download_leaves_no_dataset_and_the_next_run_succeeds(bucket, moto_endpoint, proxy, tmp_path):
    """SIGKILL mid-body: no `finally` runs, so only the temp-name-and-rename design protects the cache."""
    files = kaggle_files()
    direct_client(moto_endpoint).put_object(Bucket=bucket, Key="killed.zip", Body=zipped(files))
    proxy.add("GET", "/killed.zip", "stall", times=1)
    source = f"s3://{bucket}/killed.zip"
    script = (
        "import sys; from pathlib import Path; from training.ingest import ingest; "
        "ingest(sys.argv[1], Path(sys.argv[2]) / 'prepared', 32, ['real', 'fake'], 0.2, 1, "
        "endpoint_url=sys.argv[3], cache_dir=Path(sys.argv[2]) / 'cache')"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, source, str(tmp_path), proxy.endpoint],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proxy.stalled.wait(timeout=60), "the download never started"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    proxy.release.set()

    cache = tmp_path / "cache"
    assert not (tmp_path / "prepared").exists()
    assert not (cache / "killed.zip").exists()
    assert not (cache / "killed.zip.source.json").exists()

    report = run_ingest(source, tmp_path, proxy.endpoint)
    assert_complete_dataset(tmp_path / "prepared", report, expected_images=len(files) - 1)
    assert (cache / "killed.zip").read_bytes() == zipped(files)
    assert sorted(p.name for p in cache.iterdir()) == ["killed.zip", "killed.zip.source.json"]


def test_the_object_replaced_during_the_download_is_not_trusted(bucket, moto_endpoint, proxy, tmp_path):
    client = direct_client(moto_endpoint)
    client.put_object(Bucket=bucket, Key="moving.zip", Body=zipped(kaggle_files()))
    proxy.add("GET", "/moving.zip", "stall", times=1)
    source = f"s3://{bucket}/moving.zip"
    outcome: dict = {}

    def download() -> None:
        try:
            outcome["path"] = fetch(source, tmp_path / "cache", proxy.endpoint)
        except Exception as error:  # reported to the test thread below
            outcome["error"] = error

    worker = threading.Thread(target=download)
    worker.start()
    assert proxy.stalled.wait(timeout=60)
    client.put_object(Bucket=bucket, Key="moving.zip", Body=zipped(kaggle_files(per_class=8)))
    proxy.release.set()
    worker.join(timeout=60)

    assert not worker.is_alive()
    # The cut body is retried and fetches the new version; the ETag check after
    # the download sees that it is not the version the run started with.
    assert isinstance(outcome.get("error"), S3FetchError), outcome
    assert "changed during the download" in str(outcome["error"])
    assert list((tmp_path / "cache").iterdir()) == []


def test_sha256_of_cached_zip_matches_the_object(bucket, moto_endpoint, tmp_path):
    body = zipped(kaggle_files())
    direct_client(moto_endpoint).put_object(Bucket=bucket, Key="hash.zip", Body=body)
    path = fetch(f"s3://{bucket}/hash.zip", tmp_path / "cache", moto_endpoint)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(body).hexdigest()


def test_botocore_is_configured_for_standard_retries(monkeypatch):
    from training.sources import S3_MAX_ATTEMPTS, s3_client

    assert s3_client("http://127.0.0.1:9").meta.config.retries == {
        "mode": "standard",
        "total_max_attempts": S3_MAX_ATTEMPTS,
    }
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    assert s3_client("http://127.0.0.1:9").meta.config.retries["total_max_attempts"] == 7


def test_a_missing_object_fails_at_once_with_its_name(bucket, moto_endpoint, proxy, tmp_path):
    with pytest.raises(S3FetchError, match=rf"s3://{bucket}/absent.zip \(1 attempts\).*404"):
        fetch(f"s3://{bucket}/absent.zip", tmp_path / "cache", proxy.endpoint)
    assert len(proxy.requests("HEAD", "/absent.zip")) == 1
