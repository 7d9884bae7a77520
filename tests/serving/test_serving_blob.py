"""The blob flow against a real Azurite: images in `images`, results in `results`.

Each blob's content is handed to `process_image` as the worker would hand it
(an `InputStream` named `images/{name}`); the function writes its result to
Azurite through `IMAGEAUTH_STORAGE`, and the test reads it back.
"""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient

from imageauth.blob import result_blob_name
from imageauth.predict import get_detector, predict_bytes
from imageauth.settings import Settings

TRICKY_NAMES = [
    "deep/1/2/3/photo.jpg",
    "with space/ünïcödé 画像.jpg",
    "../escape.jpg",
    "a/../../b.jpg",
    "./dot.jpg",
    "trailing.",
]


@pytest.fixture
def storage(azurite, monkeypatch) -> BlobServiceClient:
    monkeypatch.setenv("IMAGEAUTH_STORAGE", azurite)
    service = BlobServiceClient.from_connection_string(azurite)
    for container in ("images", "results"):
        if not service.get_container_client(container).exists():
            service.create_container(container)
    return service


@pytest.fixture
def process_image(functions):
    return functions["process_image"].get_user_function()


def trigger(process_image, service: BlobServiceClient, name: str) -> None:
    """What the Functions host does on a BlobCreated event: read the blob, call the function."""
    data = service.get_blob_client("images", name).download_blob().readall()
    process_image(func.blob.InputStream(data=data, name=f"images/{name}", length=len(data)))


def read_result(service: BlobServiceClient, name: str) -> dict:
    return json.loads(service.get_blob_client("results", result_blob_name(name)).download_blob().readall())


def test_a_good_image_and_a_corrupt_file(storage, process_image, images):
    storage.get_blob_client("images", "good/photo.jpg").upload_blob(images["photo.jpg"], overwrite=True)
    storage.get_blob_client("images", "bad/corrupt.jpg").upload_blob(images["corrupt.jpg"], overwrite=True)
    for name in ("good/photo.jpg", "bad/corrupt.jpg"):
        trigger(process_image, storage, name)  # Neither raises: a bad image is answered, not retried.
    good = read_result(storage, "good/photo.jpg")
    version = get_detector(Settings()).version
    expected = predict_bytes(images["photo.jpg"], "good/photo.jpg", Settings())
    assert {key: good[key] for key in expected} == expected
    assert good["model_version"] == version and good["processed_at"]
    bad = read_result(storage, "bad/corrupt.jpg")
    assert bad["error"]["code"] == "undecodable_image" and "label" not in bad
    assert bad["model_version"] == version and bad["filename"] == "bad/corrupt.jpg"
    properties = storage.get_blob_client("results", "good/photo.jpg.json").get_blob_properties()
    assert properties.content_settings.content_type.startswith("application/json")


def test_reprocessing_the_same_content_leaves_the_result_untouched(storage, process_image, images):
    blob = storage.get_blob_client("images", "again.png")
    blob.upload_blob(images["cifake.png"], overwrite=True)
    trigger(process_image, storage, "again.png")
    result = storage.get_blob_client("results", "again.png.json")
    first = result.get_blob_properties().etag
    trigger(process_image, storage, "again.png")
    assert result.get_blob_properties().etag == first
    blob.upload_blob(images["photo.jpg"], overwrite=True)  # New content under the same name.
    trigger(process_image, storage, "again.png")
    assert result.get_blob_properties().etag != first
    assert read_result(storage, "again.png")["sha256"] == predict_bytes(images["photo.jpg"])["sha256"]


def test_result_paths_stay_inside_the_results_container(storage, process_image, images):
    for name in TRICKY_NAMES:
        data = images["cifake.png"]
        # Called with the trigger's name directly: a client could not even upload some of these.
        process_image(func.blob.InputStream(data=data, name=f"images/{name}", length=len(data)))
    assert {container.name for container in storage.list_containers()} == {"images", "results"}
    written = {blob.name for blob in storage.get_container_client("results").list_blobs()}
    assert {result_blob_name(name) for name in TRICKY_NAMES} <= written
    for name in TRICKY_NAMES:
        assert read_result(storage, name)["filename"] == name


def test_a_failed_result_write_fails_the_function(storage, process_image, images):
    # A leased blob refuses writes without the lease: a real storage error, not a mocked one.
    target = storage.get_blob_client("results", "leased.png.json")
    target.upload_blob(b"{}", overwrite=True)
    lease = target.acquire_lease()
    data = images["cifake.png"]
    try:
        with pytest.raises(HttpResponseError):
            process_image(func.blob.InputStream(data=data, name="images/leased.png", length=len(data)))
    finally:
        lease.release()
    process_image(func.blob.InputStream(data=data, name="images/leased.png", length=len(data)))
    assert read_result(storage, "leased.png")["label"] in ("real", "fake")
