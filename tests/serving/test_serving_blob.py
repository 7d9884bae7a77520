"""The blob flow against a real Azurite: images in `images`, results in `results`.

Each blob is handed to `process_image` as the worker would hand it with the
SDK-type binding (a `BlobClient` built by the binding extension's converter
from the host's message, tests/blob_trigger.py); the function reads the blob
and writes its result in Azurite through `IMAGEAUTH_STORAGE`, and the test
reads it back.
"""

from __future__ import annotations

import json
import typing

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob_sdk
import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient
from azurefunctions.extensions.bindings.blob.blobClientConverter import BlobClientConverter
from blob_trigger import blob_client, upload_and_trigger

from imageauth.blob import names_no_storable_blob, result_blob_name
from imageauth.predict import default_settings, get_detector, predict_bytes
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
    """What the Functions host does on a BlobCreated event for an existing blob: call the function."""
    process_image(blob_client(name))


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
    storable = [name for name in TRICKY_NAMES if not names_no_storable_blob(name)]
    assert len(storable) == 3 and len(TRICKY_NAMES) - len(storable) == 3
    for name in storable:
        upload_and_trigger(process_image, storage, name, images["cifake.png"])
    # A dot-segment name cannot be stored (clients resolve the segments), yet an event may carry
    # one: reading it would read another blob, so nothing is read and nothing written.
    for name in set(TRICKY_NAMES) - set(storable):
        process_image(blob_client(name))
    assert {container.name for container in storage.list_containers()} == {"images", "results"}
    written = {blob.name for blob in storage.get_container_client("results").list_blobs()}
    assert {result_blob_name(name) for name in storable} <= written
    assert not {result_blob_name(name) for name in TRICKY_NAMES if name not in storable} & written
    for name in storable:
        assert read_result(storage, name)["filename"] == name


def test_only_the_head_of_an_oversized_blob_is_read(storage, process_image, monkeypatch, request, images):
    """The trigger reads IMAGEAUTH_MAX_BYTES + 1 bytes: an oversized blob's answer costs no more memory."""
    monkeypatch.setenv("IMAGEAUTH_MAX_BYTES", "4096")
    default_settings.cache_clear()  # the trigger reads its settings once per process
    request.addfinalizer(default_settings.cache_clear)  # after monkeypatch restores the environment
    large = images["photo.jpg"] + bytes(64 * 1024)
    storage.get_blob_client("images", "large/photo.jpg").upload_blob(large, overwrite=True)
    client = blob_client("large/photo.jpg")
    read = []
    original = client.download_blob

    def download_blob(*args, **kwargs):
        downloader = original(*args, **kwargs)
        read.append(downloader.size)  # the bytes this download fetches, as the service answered
        return downloader

    client.download_blob = download_blob
    process_image(client)
    assert read == [4097]
    assert read_result(storage, "large/photo.jpg")["error"]["code"] == "file_too_large"


def test_a_blob_deleted_before_it_is_read_gets_no_result_and_no_retry(storage, process_image):
    process_image(blob_client("gone/never-stored.jpg"))  # no raise: nothing to retry
    assert not storage.get_blob_client("results", result_blob_name("gone/never-stored.jpg")).exists()


def test_a_failed_result_write_fails_the_function(storage, process_image, images):
    # A leased blob refuses writes without the lease: a real storage error, not a mocked one.
    target = storage.get_blob_client("results", "leased.png.json")
    target.upload_blob(b"{}", overwrite=True)
    lease = target.acquire_lease()
    storage.get_blob_client("images", "leased.png").upload_blob(images["cifake.png"], overwrite=True)
    try:
        with pytest.raises(HttpResponseError):
            process_image(blob_client("leased.png"))
    finally:
        lease.release()
    process_image(blob_client("leased.png"))
    assert read_result(storage, "leased.png")["label"] in ("real", "fake")


@pytest.fixture
def record_failed_blob(functions):
    return functions["record_failed_blob"].get_user_function()


def poison_message(name: str, container: str = "images") -> func.QueueMessage:
    """What the host puts in `webjobs-blobtrigger-poison` once every try of a blob has failed."""
    body = {"Type": "BlobTrigger", "FunctionId": "Host.Functions.process_image", "BlobType": "BlockBlob"}
    body |= {"ContainerName": container, "BlobName": name, "ETag": '"0x8DC0FFEE"'}
    return func.QueueMessage(id="1", body=json.dumps(body).encode())


def test_a_blob_whose_every_try_failed_gets_a_result_saying_so(storage, record_failed_blob):
    record_failed_blob(poison_message("failed/photo.jpg"))
    result = read_result(storage, "failed/photo.jpg")
    assert result["filename"] == "failed/photo.jpg" and result["error"]["code"] == "internal_error"
    assert "upload it again" in result["error"]["message"] and result["model_version"] is None
    assert "label" not in result and "verdict" not in result
    etag = storage.get_blob_client("results", result_blob_name("failed/photo.jpg")).get_blob_properties().etag
    record_failed_blob(poison_message("failed/photo.jpg"))  # delivered again: left as it is
    assert storage.get_blob_client("results", result_blob_name("failed/photo.jpg")).get_blob_properties().etag == etag


def test_a_verdict_is_never_replaced_by_a_failure_notice(storage, process_image, record_failed_blob, images):
    # Event Grid delivers at least once: one delivery may have succeeded while another failed.
    upload_and_trigger(process_image, storage, "twice/photo.jpg", images["photo.jpg"])
    before = read_result(storage, "twice/photo.jpg")
    record_failed_blob(poison_message("twice/photo.jpg"))
    assert read_result(storage, "twice/photo.jpg") == before and before["label"] in ("real", "fake")


@pytest.mark.parametrize("stored_before", ["nothing", "an older failure notice"])
def test_a_verdict_written_between_the_read_and_the_write_is_kept(
    storage, process_image, record_failed_blob, images, monkeypatch, stored_before
):
    # Another delivery writes its verdict just after the failure recorder looked: real storage
    # refuses the recorder's conditional write (If-None-Match: * when nothing was there, If-Match
    # the ETag it read otherwise), and it looks again instead of overwriting.
    import imageauth.storage as storage_module

    name = f"race-{stored_before.split()[-1]}/photo.jpg"
    if stored_before != "nothing":
        older = {"filename": name, "error": {"code": "internal_error", "message": "an earlier run"}}
        target = storage.get_blob_client("results", result_blob_name(name))
        target.upload_blob(json.dumps(older).encode(), overwrite=True)
    storage.get_blob_client("images", name).upload_blob(images["photo.jpg"], overwrite=True)
    read_existing = storage_module._read_existing
    reads = []

    def read_then_race(blob):
        seen = read_existing(blob)
        reads.append(seen)
        if len(reads) == 1:
            monkeypatch.setattr(storage_module, "_read_existing", read_existing)
            process_image(blob_client(name))  # the other delivery, finishing now
            monkeypatch.setattr(storage_module, "_read_existing", read_then_race)
        return seen

    monkeypatch.setattr(storage_module, "_read_existing", read_then_race)
    record_failed_blob(poison_message(name))
    assert (reads[0][1] is None) == (stored_before == "nothing")
    assert len(reads) == 2 and reads[1][0]["label"] in ("real", "fake")
    assert read_result(storage, name)["verdict"] in (
        "likely_ai",
        "likely_real",
        "unsure",
        "ai_generated_by_credentials",
    )


def test_other_poison_messages_are_left_alone(storage, record_failed_blob):
    results = storage.get_container_client("results")
    before = {blob.name for blob in results.list_blobs()}
    record_failed_blob(poison_message("x.jpg", container="elsewhere"))
    record_failed_blob(func.QueueMessage(id="2", body=b"not json"))
    assert {blob.name for blob in results.list_blobs()} == before


def test_the_worker_sees_the_sdk_type_annotation(functions):
    """The worker resolves annotations with `typing.get_type_hints` (function_app.py postpones them)
    and asks the extension whether the type is one of its own: only then does the host send the
    blob's reference instead of its bytes."""
    hints = typing.get_type_hints(functions["process_image"].get_user_function())
    assert hints["client"] is blob_sdk.BlobClient
    assert BlobClientConverter.check_input_type_annotation(hints["client"])


def racing_client(storage, name: str, change) -> blob_sdk.BlobClient:
    """The trigger's client for `name`, with `change(blob)` applied to the stored blob right after the
    function has read it: another upload (or a delete) landing while the image is judged."""
    client = blob_client(name)
    original = client.download_blob

    def download_blob(*args, **kwargs):
        downloader = original(*args, **kwargs)
        change(storage.get_blob_client("images", name))
        return downloader

    client.download_blob = download_blob
    return client


def test_a_blob_overwritten_while_it_is_judged_leaves_the_result_to_its_newer_version(storage, process_image, images):
    name = "race/photo.png"
    storage.get_blob_client("images", name).upload_blob(images["photo.jpg"], overwrite=True)
    newer = images["cifake.png"]
    process_image(racing_client(storage, name, lambda blob: blob.upload_blob(newer, overwrite=True)))
    assert not storage.get_blob_client("results", result_blob_name(name)).exists()  # the old verdict is not written
    process_image(blob_client(name))  # the newer version's own event
    assert read_result(storage, name)["sha256"] == predict_bytes(newer)["sha256"]


def test_a_blob_deleted_while_it_is_judged_gets_no_result(storage, process_image, images):
    name = "race/deleted.jpg"
    storage.get_blob_client("images", name).upload_blob(images["photo.jpg"], overwrite=True)
    process_image(racing_client(storage, name, lambda blob: blob.delete_blob()))  # no raise
    assert not storage.get_blob_client("results", result_blob_name(name)).exists()
