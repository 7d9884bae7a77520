"""Blob faults against Azurite: many blobs, bad ones, odd names, reruns and a storage that fails.

Each stored blob is handed to the real `process_image` trigger function (from
`function_app.py`) as the worker hands it with the SDK-type binding: a
`BlobClient` built by the binding extension's own converter from the host's
message (tests/blob_trigger.py); the function reads the blob and writes its
result in Azurite through `IMAGEAUTH_STORAGE`, as in Azure.
"""

from __future__ import annotations

import base64
import json
import random

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient
from badinputs import bad_inputs, case_by_name, small_jpeg
from blob_trigger import blob_client, trigger, upload_and_trigger
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
    for name in uploaded:
        trigger(process_image, name)
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
    for name in list(uploaded)[::10]:
        trigger(process_image, name)
    assert etags(storage, "results") == before  # nothing rewritten
    assert results(storage) == processed


def test_dot_segment_names_are_not_read(storage, uploaded, processed, process_image):
    """A trigger event may carry a name no blob can have. Reading it would read another blob (the
    client resolves `images/a/../../images/loop.jpg` to `images/loop.jpg`), so nothing is read or
    written, and nothing raises (a raise would be retried)."""
    storage.get_blob_client("images", "loop.jpg").upload_blob(small_jpeg(7), overwrite=True)
    containers_before = {c.name for c in storage.list_containers()}
    images_before = etags(storage, "images")
    results_before = etags(storage, "results")

    for name in DOT_NAMES:
        process_image(blob_client(name))

    assert {c.name for c in storage.list_containers()} == containers_before
    assert etags(storage, "images") == images_before
    assert etags(storage, "results") == results_before  # no result, for another blob or any


@pytest.mark.parametrize("case", bad_inputs(), ids=lambda case: case.name)
def test_the_blob_core_gives_each_corpus_file_its_documented_result(case):
    result = process_blob(case.data, case.filename)
    if case.is_verdict:
        assert result["label"] in ("real", "fake")
    else:
        assert result["error"]["code"] == case.code


def test_a_result_that_cannot_be_written_fails_the_invocation(storage, azurite, process_image, monkeypatch):
    wrong_key = base64.b64encode(b"not the account key" * 3).decode()
    good_connection = azurite_connection_string(azurite)
    # A good image and a bad one alike: the platform must retry a lost result.
    for name, data in (("write-fails/good.jpg", small_jpeg(3)), ("write-fails/bad.jpg", b"garbage")):
        storage.get_blob_client("images", name).upload_blob(data, overwrite=True)
        readable = BlobClient.from_connection_string(good_connection, "images", name)  # the read works...
        with monkeypatch.context() as patch:
            patch.setenv("IMAGEAUTH_STORAGE", azurite_connection_string(azurite, key=wrong_key))  # ...the write not
            with pytest.raises(HttpResponseError):
                process_image(readable)
    assert not any(name.startswith("write-fails/") for name in etags(storage, "results"))


def test_a_blob_that_cannot_be_read_fails_the_invocation(storage, azurite, process_image, monkeypatch):
    storage.get_blob_client("images", "read-fails/good.jpg").upload_blob(small_jpeg(5), overwrite=True)
    wrong_key = base64.b64encode(b"not the account key" * 3).decode()
    monkeypatch.setenv("IMAGEAUTH_STORAGE", azurite_connection_string(azurite, key=wrong_key))
    with pytest.raises(HttpResponseError):  # retried by the platform, not answered as a bad image
        process_image(blob_client("read-fails/good.jpg"))
    assert not any(name.startswith("read-fails/") for name in etags(storage, "results"))


def test_a_missing_results_container_fails_the_invocation(storage, process_image):
    storage.delete_container("results")
    try:
        with pytest.raises(ResourceNotFoundError):
            upload_and_trigger(process_image, storage, "no-container/good.jpg", small_jpeg(4))
    finally:
        # Azurite deletes containers at once, so the name can be reused straight away.
        storage.create_container("results")
