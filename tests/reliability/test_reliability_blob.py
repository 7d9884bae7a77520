"""Blob faults against Azurite: many blobs, bad ones, odd names, reruns and a storage that fails.

Each blob's content is handed to the real `process_image` trigger function
(from `function_app.py`) as an `azure.functions.InputStream`, as the worker
hands it; results go to Azurite through `IMAGEAUTH_STORAGE`, as in Azure.
"""

from __future__ import annotations

import base64
import json
import random

import azure.functions as func
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from badinputs import bad_inputs, case_by_name, small_jpeg
from reliability_helpers import azurite_connection_string

from imageauth.blob import process_blob, result_blob_name

pytestmark = pytest.mark.timeout(180)

CORRUPT = [
    "truncated_jpeg", "truncated_png", "truncated_header_png", "png_bad_crc_ihdr", "jpeg_corrupt_huffman",
    "text_as_jpg", "html_as_jpg", "svg", "pdf",
]  # fmt: skip
BOMBS = ["png_bomb_30000x30000", "gif_bomb_65535x65535", "tiff_bomb_100000x100000"]
FOLDERS = [
    "plain",
    "with spaces/and more spaces",
    "ünïcødé/фотографии",
    "日本語/写真",
    "emoji 📷",
    "a/b/c/d/e/f/g/h/i/j/k/l",
    "dots.in.folder/v1.2",
    "trailing dot.",
    "double//slash",
]
# Names that a trigger event may carry but the SDK cannot create (it resolves dot segments).
DOT_NAMES = [
    "../escape.jpg",
    "../results/hijack.jpg",
    "deep/../../../../../etc/passwd.jpg",
    "a/../../images/loop.jpg",
    "..",
    "./.",
    "x/..",
    "..\\..\\windows.jpg",
]


def two_hundred_blobs() -> dict[str, tuple[bytes, str | None]]:
    """name -> (bytes, expected error code or None): 5 % corrupt, 4 zero-byte, 3 bombs, the rest valid."""
    rng = random.Random(20240601)
    contents: list[tuple[bytes, str | None]] = [(case_by_name(name).data, case_by_name(name).code) for name in CORRUPT]
    contents.append((bytes(rng.randrange(256) for _ in range(3000)), "unsupported_media_type"))
    contents += [(b"", "empty_file")] * 4
    contents += [(case_by_name(name).data, "too_many_pixels") for name in BOMBS]
    contents += [(case.data, None) for case in bad_inputs() if case.is_verdict]
    seed = 0
    while len(contents) < 200:
        seed += 1
        contents.append((small_jpeg(seed, 40 + seed % 50, 30 + seed % 40), None))
    rng.shuffle(contents)
    suffixes = [".jpg", ".png", ".JPEG", "", ".bin", ".webp"]
    return {
        f"{FOLDERS[index % len(FOLDERS)]}/{index:03d} blob{suffixes[index % len(suffixes)]}": content
        for index, content in enumerate(contents)
    }


@pytest.fixture(scope="module")
def storage(azurite):
    """Azurite with `images` and `results`, and IMAGEAUTH_STORAGE pointing at it."""
    connection = azurite_connection_string(azurite)
    service = BlobServiceClient.from_connection_string(connection)
    for container in ("images", "results"):
        service.create_container(container)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMAGEAUTH_STORAGE", connection)
        yield service


def trigger(process_image, name: str, data: bytes) -> None:
    process_image(func.blob.InputStream(data=data, name=f"images/{name}", length=len(data)))


def results(service: BlobServiceClient) -> dict[str, dict]:
    container = service.get_container_client("results")
    return {blob.name: json.loads(container.download_blob(blob.name).readall()) for blob in container.list_blobs()}


def etags(service: BlobServiceClient, container: str) -> dict[str, str]:
    return {blob.name: blob.etag for blob in service.get_container_client(container).list_blobs()}


@pytest.fixture(scope="module")
def uploaded(storage):
    """The 200 blobs in `images`, as Azurite stored them."""
    blobs = two_hundred_blobs()
    images = storage.get_container_client("images")
    for name, (data, _) in blobs.items():
        images.upload_blob(name, data, overwrite=True)
    stored = {blob.name for blob in images.list_blobs()}
    assert stored == set(blobs), set(blobs) ^ stored
    return blobs


@pytest.fixture(scope="module")
def processed(storage, uploaded, process_image):
    """Every stored blob run through the trigger once; a bad image must not raise."""
    images = storage.get_container_client("images")
    for name in uploaded:
        trigger(process_image, name, images.download_blob(name).readall())
    return results(storage)


def test_every_blob_gets_exactly_one_result(uploaded, processed):
    assert len(uploaded) == 200
    expected_names = {result_blob_name(name) for name in uploaded}
    assert len(expected_names) == 200  # no two blobs share a result
    assert set(processed) == expected_names


def test_each_result_is_the_verdict_or_the_documented_error(uploaded, processed):
    for name, (_, code) in uploaded.items():
        result = processed[result_blob_name(name)]
        assert result["filename"] == name
        assert result["model_version"] and result["processed_at"]
        if code is None:
            assert result["label"] in ("real", "fake"), (name, result)
            assert "error" not in result
        else:
            assert result["error"]["code"] == code, (name, result)
            assert "label" not in result


def test_reprocessing_is_idempotent(storage, uploaded, processed, process_image):
    before = etags(storage, "results")
    images = storage.get_container_client("images")
    for name in list(uploaded)[::10]:
        trigger(process_image, name, images.download_blob(name).readall())
    assert etags(storage, "results") == before  # nothing rewritten
    assert results(storage) == processed


def test_dot_segment_names_stay_inside_results(storage, uploaded, processed, process_image):
    containers_before = {c.name for c in storage.list_containers()}
    images_before = etags(storage, "images")
    results_before = etags(storage, "results")

    for name in DOT_NAMES:
        trigger(process_image, name, small_jpeg(7))

    assert {c.name for c in storage.list_containers()} == containers_before
    assert etags(storage, "images") == images_before  # nothing written next to the images
    after = results(storage)
    new = set(after) - set(results_before)
    assert {name: after[name]["filename"] for name in new} == {result_blob_name(n): n for n in DOT_NAMES}
    assert len(new) == len(DOT_NAMES)
    for name in new:
        assert ".." not in name.split("/") and "." not in name.split("/"), name
    results_after = etags(storage, "results")
    assert {name: results_after[name] for name in results_before} == results_before


@pytest.mark.parametrize("case", bad_inputs(), ids=lambda case: case.name)
def test_the_blob_core_gives_each_corpus_file_its_documented_result(case):
    result = process_blob(case.data, case.filename)
    if case.is_verdict:
        assert result["label"] in ("real", "fake")
    else:
        assert result["error"]["code"] == case.code


def test_a_result_that_cannot_be_written_fails_the_invocation(storage, azurite, process_image, monkeypatch):
    wrong_key = base64.b64encode(b"not the account key" * 3).decode()
    monkeypatch.setenv("IMAGEAUTH_STORAGE", azurite_connection_string(azurite, key=wrong_key))
    # A good image and a bad one alike: the platform must retry a lost result.
    for name, data in (("write-fails/good.jpg", small_jpeg(3)), ("write-fails/bad.jpg", b"garbage")):
        with pytest.raises(HttpResponseError):
            trigger(process_image, name, data)
    assert not any(name.startswith("write-fails/") for name in etags(storage, "results"))


def test_a_missing_results_container_fails_the_invocation(storage, process_image):
    storage.delete_container("results")
    try:
        with pytest.raises(ResourceNotFoundError):
            trigger(process_image, "no-container/good.jpg", small_jpeg(4))
    finally:
        # Azurite deletes containers at once, so the name can be reused straight away.
        storage.create_container("results")
