"""Evidence, verdict and note through every entry point: HTTP API, Functions HTTP, blob trigger, CLI.

The same files (signed at test time, tagged by a generator, with a broken
manifest, and plain) must give the same item everywhere, equal to the core's.
"""

from __future__ import annotations

import csv
import io
import json
import struct

import azure.functions as func
import httpx
import pytest
from azure.storage.blob import BlobServiceClient
from blob_trigger import upload_and_trigger
from credentials import A1111_PARAMETERS, encode, jpeg_with_app11, photo, png_with_text, sign
from urllib3 import encode_multipart_formdata

from imageauth.blob import result_blob_name
from imageauth.cli import main
from imageauth.predict import predict_bytes
from imageauth.settings import Settings


@pytest.fixture(scope="module")
def provenance_files() -> dict[str, bytes]:
    signed = sign(encode(photo(160, 120), "JPEG"), "image/jpeg", "trainedAlgorithmicMedia")
    start = signed.index(b"\xff\xeb")
    manifest = signed[start + 6 : start + 2 + struct.unpack_from(">H", signed, start + 2)[0]]
    return {
        "credentials.jpg": signed,
        "a1111.png": png_with_text(photo(48, 48, 1), {"parameters": A1111_PARAMETERS}),
        "broken-manifest.jpg": jpeg_with_app11(photo(48, 48, 2), manifest[: len(manifest) // 3]),
        "plain.jpg": encode(photo(400, 300, 3), "JPEG", quality=90),
    }


EXPECTED_VERDICTS = {
    "credentials.jpg": "ai_generated_by_credentials",
    "a1111.png": "likely_ai",
    "plain.jpg": "unsure",  # 400x300 is outside the scope of a 32-px model
}


def check_items(items: dict[str, dict], files: dict[str, bytes]) -> None:
    for name, data in files.items():
        assert items[name] == {**predict_bytes(data, name, Settings()), "filename": items[name]["filename"]}
        if name in EXPECTED_VERDICTS:
            assert items[name]["verdict"] == EXPECTED_VERDICTS[name], name
    assert items["credentials.jpg"]["evidence"][0]["status"] == "valid"
    assert items["a1111.png"]["evidence"][0]["source"] == "png:parameters"
    assert items["broken-manifest.jpg"]["evidence"][0]["status"] == "unreadable"
    assert items["plain.jpg"]["evidence"] == [] and "not a verdict here" in items["plain.jpg"]["note"]


def test_http_api(server, provenance_files):
    parts = [("file", (name, data, "application/octet-stream")) for name, data in provenance_files.items()]
    response = httpx.post(f"{server.base_url}/api/predict", files=parts, timeout=60)
    assert response.status_code == 200, response.text
    check_items({item["filename"]: item for item in response.json()["results"]}, provenance_files)
    model = httpx.get(f"{server.base_url}/api/model").json()
    assert set(model["unsure_band"]) >= {"low", "high", "source"}
    assert model["scope"]["max_short_side"] > 0 and model["scope"]["source"]
    predict_schema = httpx.get(f"{server.base_url}/api/openapi.json").json()["components"]["schemas"]
    assert {"verdict", "note", "evidence"} <= set(predict_schema["Prediction"]["properties"])


def test_model_reports_a_band_from_settings(provenance_files):
    from serving_helpers import ServerThread

    from imageauth.api import create_app

    with ServerThread(create_app(Settings(unsure_low=0.1, unsure_high=0.9))) as running:
        band = httpx.get(f"{running.base_url}/api/model").json()["unsure_band"]
    assert (band["low"], band["high"], band["source"]) == (0.1, 0.9, "settings")


def test_functions_http_entry_point(functions, functions_loop, provenance_files):
    handler = functions["http_app_func"].get_user_function()
    fields = [("file", (name, data, "image/*")) for name, data in provenance_files.items()]
    body, content_type = encode_multipart_formdata(fields)
    request = func.HttpRequest(
        method="POST", url="http://localhost:7071/api/predict", headers={"Content-Type": content_type}, body=body
    )
    response = functions_loop.run(handler(request, None))
    assert response.status_code == 200, response.get_body()
    results = json.loads(response.get_body())["results"]
    check_items({item["filename"]: item for item in results}, provenance_files)


def test_blob_flow(azurite, monkeypatch, functions, provenance_files):
    monkeypatch.setenv("IMAGEAUTH_STORAGE", azurite)
    service = BlobServiceClient.from_connection_string(azurite)
    for container in ("images", "results"):
        if not service.get_container_client(container).exists():
            service.create_container(container)
    process_image = functions["process_image"].get_user_function()
    items = {}
    for name, data in provenance_files.items():
        blob_name = f"provenance/{name}"
        upload_and_trigger(process_image, service, blob_name, data)
        result = json.loads(service.get_blob_client("results", result_blob_name(blob_name)).download_blob().readall())
        assert result["model_version"] and result["processed_at"]
        items[name] = {key: value for key, value in result.items() if key not in ("model_version", "processed_at")}
    check_items(items, provenance_files)


def test_cli(tmp_path, provenance_files):
    for name, data in provenance_files.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / name) for name in provenance_files]
    out = io.StringIO()
    assert main(["predict", "--no-progress", "--format", "json", *paths], out=out) == 0
    check_items(
        {item["filename"].rsplit("/", 1)[-1]: item for item in json.loads(out.getvalue())["results"]},
        {name: data for name, data in provenance_files.items()},
    )
    out = io.StringIO()
    main(["predict", "--no-progress", "--format", "csv", *paths], out=out)
    rows = {row["filename"].rsplit("/", 1)[-1]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert rows["credentials.jpg"]["verdict"] == "ai_generated_by_credentials"
    assert rows["credentials.jpg"]["evidence"].startswith("C2PA valid, says AI, signed by imageauth test signer")
    assert rows["a1111.png"]["evidence"] == "png:parameters: AUTOMATIC1111 (unsigned)"
    assert rows["broken-manifest.jpg"]["evidence"] == "C2PA unreadable"
    assert rows["plain.jpg"]["evidence"] == "" and "not a verdict here" in rows["plain.jpg"]["note"]
    out = io.StringIO()
    main(["predict", "--no-progress", *paths], out=out)
    table = {line.split()[0].rsplit("/", 1)[-1]: line for line in out.getvalue().splitlines()[1:]}
    assert "ai_generated_by_credentials" in table["credentials.jpg"] and "C2PA valid" in table["credentials.jpg"]
    assert "likely_ai" in table["a1111.png"] and table["plain.jpg"].rstrip().endswith("-")
